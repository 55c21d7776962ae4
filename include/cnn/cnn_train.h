/* cnn_train.h — the training loop: epochs of shuffled mini-batches of SGD,
 * evaluation on a test set after each epoch, checkpoints, exact resume.
 * It reports through a callback and never prints or exits itself. */
#ifndef CNN_TRAIN_H
#define CNN_TRAIN_H

#include <signal.h>
#include <stdint.h>

#include "cnn.h"
#include "cnn_data.h"
#include "cnn_model.h"

typedef struct {
    int epochs;              /* total epochs, counting those a resumed run already did */
    int batch;               /* samples per SGD step */
    float lr;                /* learning rate α of docs/maths.md §4 */
    uint64_t seed;           /* seeds the one RNG: initialisation and shuffling */
    int threads;             /* OpenMP threads; 0 = OpenMP's default */
    cnn_impl impl;
    const char *arch;        /* architecture spec or preset; NULL: "seed" (resume: the file's) */
    int classes;             /* classes of the data set (labels below it); 0: 10 */
    const char *save_path;   /* checkpoint after each epoch and on stop; NULL = none */
    const char *resume_path; /* continue from this checkpoint; NULL = start fresh */
    /* Set (e.g. from a SIGINT handler) to stop after the current step. */
    volatile sig_atomic_t *stop;
} cnn_train_opts;

/* Defaults: 5 epochs, batch 32, lr 0.05, seed 1, all threads, blas. */
void cnn_train_opts_default(cnn_train_opts *o);

typedef enum {
    CNN_EVENT_STEP,      /* after each SGD step */
    CNN_EVENT_EPOCH,     /* after an epoch and its test-set evaluation */
    CNN_EVENT_SAVED,     /* after a checkpoint was written */
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
    /* CNN_EVENT_EPOCH only: */
    double test_loss, test_accuracy; /* mean loss, fraction correct; test_count 0: none */
    long test_count;
    double test_seconds;
    const char *path;           /* CNN_EVENT_SAVED: where */
} cnn_progress;

typedef void (*cnn_progress_fn)(const cnn_progress *p, void *ctx);

/* Train on `train`, evaluating on `test` (may be NULL) after each epoch.
 * On success, when params_out is not NULL, *params_out is a new copy of the
 * trained parameters (the architecture's param_count floats; free()). Returns CNN_ERR_DIVERGED if the loss became non-finite,
 * CNN_ERR_INTERRUPTED if stopped through opts->stop, after saving a
 * checkpoint when save_path is set (the message names it); CNN_ERR_ARG if
 * resume_path is a checkpoint of a different run (data set size, --batch,
 * --lr, architecture) or already past opts->epochs. */
cnn_status cnn_train(const cnn_train_opts *opts, const cnn_dataset *train,
                     const cnn_dataset *test, cnn_progress_fn fn, void *ctx,
                     float **params_out, cnn_err *err);

/* Mean loss and accuracy of params on ds, in batches of `batch`. */
cnn_status cnn_evaluate(cnn_net *net, const cnn_dataset *ds, int batch, double *mean_loss,
                        double *accuracy, int *predictions);

#endif
