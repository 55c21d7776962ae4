/* synthetic.h — a small, learnable data set made from the project's RNG, so
 * training tests need no files: class k is a bright horizontal bar at a
 * class-specific height and a vertical bar at a class-specific column, on
 * noise. */
#ifndef CNN_TESTS_SYNTHETIC_H
#define CNN_TESTS_SYNTHETIC_H

#include <stdlib.h>

#include "cnn.h"
#include "cnn_data.h"

/* The synthetic images are the default data set's shape. */
enum { SYN_H = 28, SYN_W = 28, SYN_IN = SYN_H * SYN_W, SYN_CLASSES = 10 };

static inline void synthetic_dataset(cnn_dataset *ds, int count, uint64_t seed)
{
    cnn_rng r;
    cnn_rng_seed(&r, seed);
    ds->count = count;
    ds->rows = SYN_H;
    ds->cols = SYN_W;
    ds->images = malloc((size_t)count * SYN_IN);
    ds->labels = malloc((size_t)count);
    for (int n = 0; n < count; n++) {
        int k = (int)cnn_rng_below(&r, SYN_CLASSES);
        uint8_t *img = ds->images + (long)n * SYN_IN;
        for (int i = 0; i < SYN_IN; i++)
            img[i] = (uint8_t)cnn_rng_below(&r, 60);
        int row = 2 + 2 * k, col = 25 - 2 * k;
        for (int j = 4; j < 24; j++) {
            img[row * SYN_W + j] = 255;
            img[j * SYN_W + col] = 200;
        }
        ds->labels[n] = (uint8_t)k;
    }
}

#endif
