/* train_internal.h — what the training loop's files share: train.c (the
 * loop), checkpoint.c (what a checkpoint records beyond the weights, and
 * reading it back on --resume), holdout.c (the validation split). */
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

#endif
