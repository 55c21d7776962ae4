/* rng.c — PCG32 (O'Neill, pcg-random.org, "pcg32_random_r"): small,
 * fast, statistically sound, and its whole state is two integers. */
#include "cnn_rng.h"

void cnn_rng_seed(cnn_rng *r, uint64_t seed)
{
    /* pcg32_srandom_r with a fixed stream: one seed names one sequence. */
    r->state = 0;
    r->inc = (0xda3e39cb94b95bdbULL << 1u) | 1u;
    cnn_rng_u32(r);
    r->state += seed;
    cnn_rng_u32(r);
}

uint32_t cnn_rng_u32(cnn_rng *r)
{
    uint64_t old = r->state;
    r->state = old * 6364136223846793005ULL + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31u));
}

uint32_t cnn_rng_below(cnn_rng *r, uint32_t bound)
{
    /* Reject the low values that would make the modulo biased. */
    uint32_t threshold = (0u - bound) % bound;
    for (;;) {
        uint32_t v = cnn_rng_u32(r);
        if (v >= threshold)
            return v % bound;
    }
}

float cnn_rng_float(cnn_rng *r)
{
    /* 24 random bits: every value exactly representable, never 1.0. */
    return (float)(cnn_rng_u32(r) >> 8) * (1.0f / 16777216.0f);
}

float cnn_rng_uniform(cnn_rng *r, float lo, float hi)
{
    return lo + (hi - lo) * cnn_rng_float(r);
}

void cnn_rng_shuffle(cnn_rng *r, int *idx, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)cnn_rng_below(r, (uint32_t)i + 1u);
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}
