/* cnn_rng.h — the project's one random number generator (PCG32).
 * Everything random (initialisation, shuffling, synthetic test data) draws
 * from a cnn_rng seeded explicitly; its state is two integers, so a
 * checkpoint can store it and resume the exact sequence. */
#ifndef CNN_RNG_H
#define CNN_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t state, inc;
} cnn_rng;

void cnn_rng_seed(cnn_rng *r, uint64_t seed);
uint32_t cnn_rng_u32(cnn_rng *r);
/* Uniform in [0, bound), without modulo bias. bound > 0. */
uint32_t cnn_rng_below(cnn_rng *r, uint32_t bound);
/* Uniform float in [0, 1). */
float cnn_rng_float(cnn_rng *r);
/* Uniform float in [lo, hi). */
float cnn_rng_uniform(cnn_rng *r, float lo, float hi);
/* Fisher–Yates shuffle of idx[0..n). */
void cnn_rng_shuffle(cnn_rng *r, int *idx, int n);

#endif
