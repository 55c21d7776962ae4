/* train_internal.h — what the training loop's files share: train.c (the
 * loop), setup.c (a run's start, fresh or from a checkpoint), checkpoint.c
 * (what a checkpoint records beyond the weights, and reading it back on
 * --resume), holdout.c (the validation split), threads.c (the adaptive
 * thread count). */
#ifndef CNN_TRAIN_INTERNAL_H
#define CNN_TRAIN_INTERNAL_H

#include "cnn_train.h"

/* Early stopping's memory, carried in checkpoints. */
typedef struct {
    int best_epoch;       /* 0: none yet */
    double best_accuracy;
    int bad_epochs;       /* epochs since the best */
} train_best;

/* Write the options that shape the run (optimizer, schedule, split,
 * patience), the optimizer's step count and the early-stopping state as
 * "train.KEY=VALUE" lines (cnn_model_meta.extra). */
void ckpt_write_options(char *extra, size_t cap, const cnn_train_opts *o, long optim_step,
                        const train_best *b);

typedef void (*ckpt_note_fn)(const char *line, void *ctx);

/* On --resume: the options in force. Those the user gave (o->given) are
 * kept; the rest come from the checkpoint m (or, for files that predate an
 * option, its default). A given option that differs from the checkpoint's
 * is announced through note ("lr 0.05 -> 0.01: no longer an exact
 * continuation"); one that cannot change (optimizer kind, validation split,
 * batch size in mid-epoch) is refused naming the flag. */
cnn_status ckpt_resume_options(const char *path, const cnn_model_meta *m,
                               const cnn_train_opts *o, cnn_train_opts *eff, long *optim_step,
                               train_best *b, ckpt_note_fn note, void *ctx, cnn_err *err);

/* The training samples left after holding out `val` of `count` for
 * validation: idx[0..count-val) in increasing order, and the held-out ones
 * into vidx[0..val) in increasing order. The choice is a function of
 * (seed, count, val) alone, drawn from its own stream of the project's RNG
 * (cnn_rng_seed(seed) then a shuffle), so a resumed run regenerates it and
 * it does not depend on threads. val = 0: idx is the identity. */
void holdout_split(uint64_t seed, int count, int val, int *idx, int *vidx);

/* The thread count that adapts to a busy machine (threads.c). */
/* Steps timed per window, at the current count and at a probe. */
enum { CNN_TUNER_WINDOW = 8 };
typedef struct {
    int enabled, max, cur, probe, dir, changes;
    long next_probe, interval;
    double tcur[CNN_TUNER_WINDOW], tprobe[CNN_TUNER_WINDOW];
    int ncur, nprobe;
} thread_tuner;
void tuner_init(thread_tuner *t, int enabled, int max);
/* The threads to use for the step numbered `step`. */
int tuner_threads(thread_tuner *t, long step);
/* That step's wall time. */
void tuner_record(thread_tuner *t, long step, double seconds);

/* One training run's state. */
typedef struct {
    cnn_train_opts o;          /* the options in force (a resumed run's from its file) */
    const cnn_dataset *train, *test;
    cnn_dataset val;           /* the held-out samples, copied out */
    int *idx, ntrain;          /* the samples trained on */
    cnn_arch arch;
    cnn_net *net;
    cnn_optim *opt;
    cnn_schedule sched;
    cnn_rng rng;
    int first_epoch, first_batch, batches;
    long step;
    train_best best;
    int *order;
    uint8_t *bx, *by;
    cnn_model_meta meta;       /* scratch for saving */
    thread_tuner tuner;        /* threads per step when --threads was not given */
    char class_names[CNN_MODEL_CLASS_NAMES]; /* written into every save; "" = none */
    cnn_progress p;
    cnn_progress_fn fn;
    void *ctx;
    cnn_err *err;
} train_run;

/* A line for the caller (CNN_EVENT_NOTE); ctx is the train_run (train.c). */
void train_note(const char *line, void *ctx);

/* Start fresh, or pick up o->resume_path: the options in force, the
 * network (r->arch, r->net), the validation split, the weights, the
 * optimizer and its state, the schedule, the position, the batch buffers
 * (setup.c). r->train, r->test, r->fn, r->ctx and r->err are set by the
 * caller; whatever is made is freed by cnn_train, success or not. */
cnn_status train_setup(train_run *r, const cnn_train_opts *o, int classes);

#endif
