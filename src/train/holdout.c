/* holdout.c — the validation split: which training samples are held out.
 * A function of (seed, count, val) alone, so a resumed run, another thread
 * count or another machine picks the same samples, and none of them is
 * ever trained on. */
#include <stdlib.h>
#include <string.h>

#include "train_internal.h"

/* The split's own stream: the run's seed, mixed with a constant, so that
 * its draws are not the initialisation's. */
#define HOLDOUT_STREAM 0x9e3779b97f4a7c15ull

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

void holdout_split(uint64_t seed, int count, int val, int *idx, int *vidx)
{
    for (int i = 0; i < count; i++)
        idx[i] = i;
    if (val <= 0)
        return;
    cnn_rng r;
    cnn_rng_seed(&r, seed ^ HOLDOUT_STREAM);
    cnn_rng_shuffle(&r, idx, count);
    memcpy(vidx, idx, (size_t)val * sizeof *idx);
    qsort(vidx, (size_t)val, sizeof *vidx, cmp_int);
    /* the rest, in increasing order: mark the held-out ones, then sweep */
    unsigned char *out = calloc((size_t)count, 1);
    if (!out) { /* cannot happen for the sizes checked by the caller; keep it safe */
        memmove(idx, idx + val, (size_t)(count - val) * sizeof *idx);
        qsort(idx, (size_t)(count - val), sizeof *idx, cmp_int);
        return;
    }
    for (int i = 0; i < val; i++)
        out[vidx[i]] = 1;
    int k = 0;
    for (int i = 0; i < count; i++)
        if (!out[i])
            idx[k++] = i;
    free(out);
}
