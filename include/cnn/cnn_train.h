/* cnn_train.h — the training loop: epochs of shuffled mini-batches, the
 * gradient from the network and the update from an optimizer (cnn_optim.h)
 * at the schedule's rate, evaluation on a held-out validation split and a
 * test set after each epoch, early stopping, checkpoints, exact resume.
 * It reports through a callback and never prints or exits itself. */
#ifndef CNN_TRAIN_H
#define CNN_TRAIN_H

#include <signal.h>
#include <stdint.h>

#include "cnn.h"
#include "cnn_data.h"
#include "cnn_model.h"
#include "cnn_optim.h"

/* Which options the user gave (cnn_train_opts.given): on --resume the
 * others are taken from the checkpoint, and a given one that differs from
 * the checkpoint's is applied and announced (CNN_EVENT_NOTE). */
enum {
    CNN_GIVEN_EPOCHS = 1u << 0, CNN_GIVEN_BATCH = 1u << 1, CNN_GIVEN_LR = 1u << 2,
    CNN_GIVEN_SEED = 1u << 3, CNN_GIVEN_ARCH = 1u << 4, CNN_GIVEN_IMPL = 1u << 5,
    CNN_GIVEN_OPTIMIZER = 1u << 6, CNN_GIVEN_MOMENTUM = 1u << 7, CNN_GIVEN_NESTEROV = 1u << 8,
    CNN_GIVEN_BETA1 = 1u << 9, CNN_GIVEN_BETA2 = 1u << 10, CNN_GIVEN_EPS = 1u << 11,
    CNN_GIVEN_WEIGHT_DECAY = 1u << 12, CNN_GIVEN_CLIP_NORM = 1u << 13,
    CNN_GIVEN_SCHEDULE = 1u << 14, CNN_GIVEN_LR_MIN = 1u << 15, CNN_GIVEN_GAMMA = 1u << 16,
    CNN_GIVEN_STEP_EPOCHS = 1u << 17, CNN_GIVEN_WARMUP = 1u << 18, CNN_GIVEN_VAL = 1u << 19,
    CNN_GIVEN_PATIENCE = 1u << 20,
};

typedef struct {
    int epochs;              /* total epochs, counting those a resumed run already did */
    int batch;               /* samples per step */
    float lr;                /* base learning rate α of docs/maths.md §4 */
    uint64_t seed;           /* seeds the one RNG: split, initialisation, shuffling */
    int threads;             /* OpenMP threads; 0 = OpenMP's default */
    cnn_impl impl;
    const char *arch;        /* architecture spec or preset; NULL: "seed" (resume: the file's) */
    int classes;             /* classes of the data set (labels below it); 0: 10 */
    cnn_optim_opts optim;    /* the update rule (default: the seed's plain SGD) */
    cnn_sched_kind schedule; /* learning-rate schedule, per step (cnn_optim.h) */
    float lr_min, gamma;     /* cosine: final rate; step: factor */
    double step_epochs;      /* step: period */
    double warmup_epochs;    /* linear warm-up from 0; fractions allowed */
    int val;                 /* hold out this many training samples for validation */
    int patience;            /* stop after this many epochs without a better
                                validation accuracy; 0 = never */
    int save_every;          /* also checkpoint every this many steps; 0 = per epoch */
    unsigned given;          /* CNN_GIVEN_* */
    const char *save_path;   /* checkpoint after each epoch and on stop; NULL = none */
    const char *save_best;   /* the model with the best validation accuracy; NULL = none */
    const char *resume_path; /* continue from this checkpoint; NULL = start fresh */
    /* Set (e.g. from a SIGINT handler) to stop after the current step. */
    volatile sig_atomic_t *stop;
    /* How a batch's gradient is computed: NULL = cnn_net_gradient in this
     * process; cnn_dist_gradient_fn (cnn_dist.h) with its cnn_dist as ctx to
     * share the chunks among MPI processes. It also agrees on *stop. */
    cnn_status (*gradient)(void *ctx, cnn_net *net, const uint8_t *x, const uint8_t *y, int n,
                           double *loss_sum, int *correct, volatile sig_atomic_t *stop);
    void *gradient_ctx;
    /* Names of the classes, label 0 first, joined by '\n' (see
     * cnn_model_check_class_names), written into every model file saved;
     * NULL: none, or on resume the checkpoint's. */
    const char *class_names;
} cnn_train_opts;

/* Defaults: 5 epochs, batch 32, lr 0.05, seed 1, all threads, blas, plain
 * SGD at a constant rate, no validation split. */
void cnn_train_opts_default(cnn_train_opts *o);

typedef enum {
    CNN_EVENT_STEP,      /* after each step */
    CNN_EVENT_EVALUATING,/* the epoch's training is done; evaluation starts */
    CNN_EVENT_EPOCH,     /* after an epoch and its evaluations */
    CNN_EVENT_SAVED,     /* after a checkpoint (or the best model) was written */
    CNN_EVENT_NOTE,      /* something the user should read: `note` */
    CNN_EVENT_START,     /* once, before the first step: the options in force, `opts` */
} cnn_event;

typedef struct {
    cnn_event event;
    int epoch, epochs;          /* epoch is 1-based */
    int batch, batches;         /* steps done in this epoch / per epoch */
    long step;                  /* steps done in all */
    long seen;                  /* samples seen this epoch (this run) */
    double loss_sum;            /* summed loss over those samples */
    long correct;               /* correct predictions over those samples */
    double seconds;             /* wall time of this epoch so far (training only) */
    float lr;                   /* the rate of the last step */
    double grad_norm;           /* global L2 norm of the last step's gradient (pre-clip) */
    /* CNN_EVENT_EPOCH only: */
    double test_loss, test_accuracy; /* mean loss, fraction correct; test_count 0: none */
    long test_count;
    double test_seconds;
    double val_loss, val_accuracy;   /* val_count 0: no validation split */
    long val_count;
    int best_epoch;             /* the epoch of the best validation accuracy so far */
    int stopping;               /* early stop after this epoch (patience ran out) */
    const char *path;           /* CNN_EVENT_SAVED: where */
    const char *note;           /* CNN_EVENT_NOTE: one line */
    /* CNN_EVENT_START only: the options the run uses: those given, and on
     * resume the checkpoint's for the others (opts->arch is the canonical
     * spec, opts->class_names NULL when there are none); `epoch` epochs
     * and then `batch` batches of the next one are done already, `step`
     * steps in all (0 unless resuming). Notes about the options (what a
     * given option changed) come before it. */
    const cnn_train_opts *opts;
} cnn_progress;

typedef void (*cnn_progress_fn)(const cnn_progress *p, void *ctx);

/* Train on `train`, evaluating on `test` (may be NULL) after each epoch.
 * On success, when params_out is not NULL, *params_out is a new copy of the
 * trained parameters (the architecture's param_count floats; free()).
 * Returns CNN_ERR_DIVERGED if the loss or the gradient became non-finite
 * (the message names the epoch, batch and, for a gradient, the layer; no
 * checkpoint is written then), CNN_ERR_INTERRUPTED if stopped through
 * opts->stop, after saving a checkpoint when save_path is set (the message
 * names it); CNN_ERR_ARG if resume_path is a checkpoint this run cannot
 * continue (data set size, architecture, optimizer kind, validation split,
 * batch size mid-epoch) or already past opts->epochs. */
cnn_status cnn_train(const cnn_train_opts *opts, const cnn_dataset *train,
                     const cnn_dataset *test, cnn_progress_fn fn, void *ctx,
                     float **params_out, cnn_err *err);

/* Mean loss and accuracy of params on ds, in batches of `batch`. */
cnn_status cnn_evaluate(cnn_net *net, const cnn_dataset *ds, int batch, double *mean_loss,
                        double *accuracy, int *predictions);

#endif
