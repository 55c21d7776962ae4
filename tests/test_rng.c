/* test_rng.c — the project's one RNG (PCG32, cnn_rng.h). Everything random
 * (initialisation, shuffling, test data) and every resumed checkpoint relies
 * on it, so it must be: the published PCG32; reproducible from a seed (and
 * different for another seed); in range and roughly uniform; and resumable
 * from a copy of its two-integer state. The statistical bounds are loose (a
 * fixed seed makes them deterministic) but a biased generator fails them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cnn_rng.h"

enum { SEQ = 1000, DRAWS = 100000, BUCKETS = 10 };

/* chi² statistic of counts[BUCKETS] against a uniform expectation. */
static double chi_square(const long *counts, long total)
{
    double expect = (double)total / BUCKETS, chi2 = 0.0;
    for (int b = 0; b < BUCKETS; b++) {
        double d = (double)counts[b] - expect;
        chi2 += d * d / expect;
    }
    return chi2;
}

/* 9 degrees of freedom: P(chi² > 27.9) = 0.001 for a uniform source. A
 * generator that favours one bucket by 5% at 1e5 draws scores > 25 there
 * alone, so this is loose but not toothless. */
#define CHI2_LIMIT 27.9

/* pcg32-demo from pcg-c-basic seeds stream 54 with 42 and prints these; the
 * state struct is public, so set it up the way pcg32_srandom_r does. */
static void test_matches_published_pcg32(void **state)
{
    (void)state;
    static const uint32_t expect[] = {0xa15c02b7u, 0x7b47f409u, 0xba1d3330u,
                                      0x83d2f293u, 0xbfa4784bu, 0xcbed606eu};
    cnn_rng r = {0, (54u << 1u) | 1u};
    cnn_rng_u32(&r);
    r.state += 42u;
    cnn_rng_u32(&r);
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++)
        assert_int_equal(cnn_rng_u32(&r), expect[i]);
}

static void test_same_seed_same_sequence(void **state)
{
    (void)state;
    cnn_rng a, b;
    cnn_rng_seed(&a, 12345);
    cnn_rng_seed(&b, 12345);
    for (int i = 0; i < SEQ; i++)
        assert_int_equal(cnn_rng_u32(&a), cnn_rng_u32(&b));
}

static void test_different_seeds_differ(void **state)
{
    (void)state;
    /* Neighbouring seeds, seeds of equal parity, and seeds that differ only
     * in the high 32 bits (a seed truncated to 32 bits would collide). */
    static const uint64_t seeds[][2] = {{0, 1},          {1, 2},
                                        {1, 3},          {42, 44},
                                        {0, 1ull << 32}, {5, 5 + (1ull << 63)}};
    for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
        cnn_rng a, b;
        cnn_rng_seed(&a, seeds[s][0]);
        cnn_rng_seed(&b, seeds[s][1]);
        int same = 0;
        for (int i = 0; i < SEQ; i++)
            same += cnn_rng_u32(&a) == cnn_rng_u32(&b);
        /* Two independent 32-bit streams agree by chance ~never. */
        assert_true(same <= 1);
    }
}

static void test_below_in_range(void **state)
{
    (void)state;
    static const uint32_t bounds[] = {1, 2, 3, 7, 10, 1000, 0x80000001u, 0xffffffffu};
    cnn_rng r;
    cnn_rng_seed(&r, 99);
    for (size_t b = 0; b < sizeof bounds / sizeof bounds[0]; b++)
        for (int i = 0; i < SEQ; i++)
            assert_true(cnn_rng_below(&r, bounds[b]) < bounds[b]);
    for (int i = 0; i < 100; i++)
        assert_int_equal(cnn_rng_below(&r, 1), 0);
}

static void test_below_uniform_small_bound(void **state)
{
    (void)state;
    cnn_rng r;
    cnn_rng_seed(&r, 2024);
    long counts[BUCKETS] = {0};
    for (long i = 0; i < DRAWS; i++)
        counts[cnn_rng_below(&r, BUCKETS)]++;
    double chi2 = chi_square(counts, DRAWS);
    printf("below(10): chi2 = %.2f (limit %.1f)\n", chi2, CHI2_LIMIT);
    assert_true(chi2 < CHI2_LIMIT);
}

/* With bound = 3·2^30 a plain `u32 % bound` maps 2^32 values onto 3·2^30
 * and makes [0, 2^30) twice as likely as the rest; the rejection step in
 * cnn_rng_below must remove that, and ten equal-width buckets see it. */
static void test_below_uniform_large_bound(void **state)
{
    (void)state;
    const uint32_t bound = 3u << 30;
    cnn_rng r;
    cnn_rng_seed(&r, 77);
    long counts[BUCKETS] = {0};
    for (long i = 0; i < DRAWS; i++)
        counts[(uint64_t)cnn_rng_below(&r, bound) * BUCKETS / bound]++;
    double chi2 = chi_square(counts, DRAWS);
    printf("below(3*2^30): chi2 = %.2f (limit %.1f)\n", chi2, CHI2_LIMIT);
    assert_true(chi2 < CHI2_LIMIT);
}

static void test_float_in_unit_interval(void **state)
{
    (void)state;
    cnn_rng r;
    cnn_rng_seed(&r, 5);
    long counts[BUCKETS] = {0};
    float lo = 1.0f, hi = 0.0f;
    double sum = 0.0;
    for (long i = 0; i < DRAWS; i++) {
        float v = cnn_rng_float(&r);
        assert_true(v >= 0.0f && v < 1.0f);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        sum += v;
        counts[(int)(v * BUCKETS)]++;
    }
    assert_true(lo < 0.001f && hi > 0.999f); /* covers the interval */
    assert_true(sum / DRAWS > 0.49 && sum / DRAWS < 0.51);
    assert_true(chi_square(counts, DRAWS) < CHI2_LIMIT);

    for (long i = 0; i < SEQ; i++) {
        float v = cnn_rng_uniform(&r, -2.0f, 3.0f);
        assert_true(v >= -2.0f && v < 3.0f);
    }
}

enum { PERM = 100 };

static void shuffled(int *idx, uint64_t seed)
{
    cnn_rng r;
    cnn_rng_seed(&r, seed);
    for (int i = 0; i < PERM; i++)
        idx[i] = i;
    cnn_rng_shuffle(&r, idx, PERM);
}

static void test_shuffle_is_seeded_permutation(void **state)
{
    (void)state;
    int a[PERM], b[PERM], c[PERM], seen[PERM] = {0};
    shuffled(a, 1);
    shuffled(b, 1);
    shuffled(c, 2);
    int moved = 0;
    for (int i = 0; i < PERM; i++) {
        assert_true(a[i] >= 0 && a[i] < PERM);
        seen[a[i]]++;
        moved += a[i] != i;
    }
    for (int i = 0; i < PERM; i++)
        assert_int_equal(seen[i], 1);
    assert_true(moved > PERM / 2); /* it actually shuffles */
    assert_memory_equal(a, b, sizeof a); /* same seed, same order */
    assert_memory_not_equal(a, c, sizeof a); /* another seed, another order */

    /* Degenerate sizes must not touch anything or crash. */
    int one = 7;
    cnn_rng r;
    cnn_rng_seed(&r, 3);
    cnn_rng_shuffle(&r, &one, 1);
    assert_int_equal(one, 7);
    cnn_rng_shuffle(&r, NULL, 0);
}

/* Fisher–Yates puts each element at each position with probability 1/n.
 * Off-by-one variants do not: j < i (Sattolo) never leaves an element in
 * place, j < n every step favours some positions. */
static void test_shuffle_uniform_positions(void **state)
{
    (void)state;
    enum { TRIALS = DRAWS / 5 };
    cnn_rng r;
    cnn_rng_seed(&r, 8);
    long first[BUCKETS] = {0}, last[BUCKETS] = {0};
    int idx[BUCKETS];
    for (long t = 0; t < TRIALS; t++) {
        for (int i = 0; i < BUCKETS; i++)
            idx[i] = i;
        cnn_rng_shuffle(&r, idx, BUCKETS);
        for (int i = 0; i < BUCKETS; i++) {
            if (idx[i] == 0)
                first[i]++;
            if (idx[i] == BUCKETS - 1)
                last[i]++;
        }
    }
    double c1 = chi_square(first, TRIALS), c2 = chi_square(last, TRIALS);
    printf("shuffle positions: chi2 = %.2f, %.2f (limit %.1f)\n", c1, c2, CHI2_LIMIT);
    assert_true(c1 < CHI2_LIMIT && c2 < CHI2_LIMIT);
}

/* A checkpoint stores the struct; restoring it must continue the sequence
 * exactly, across every kind of draw. */
static void test_state_copy_resumes(void **state)
{
    (void)state;
    cnn_rng r;
    cnn_rng_seed(&r, 31337);
    for (int i = 0; i < 17; i++)
        cnn_rng_u32(&r);
    cnn_rng saved;
    memcpy(&saved, &r, sizeof r);

    uint32_t u[SEQ];
    float f[SEQ];
    int p[PERM], q[PERM];
    for (int i = 0; i < SEQ; i++) {
        u[i] = cnn_rng_below(&r, 1000);
        f[i] = cnn_rng_float(&r);
    }
    for (int i = 0; i < PERM; i++)
        p[i] = q[i] = i;
    cnn_rng_shuffle(&r, p, PERM);

    cnn_rng resumed = saved;
    for (int i = 0; i < SEQ; i++) {
        assert_int_equal(cnn_rng_below(&resumed, 1000), u[i]);
        assert_true(cnn_rng_float(&resumed) == f[i]);
    }
    cnn_rng_shuffle(&resumed, q, PERM);
    assert_memory_equal(p, q, sizeof p);
    assert_memory_equal(&resumed, &r, sizeof r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_published_pcg32),
        cmocka_unit_test(test_same_seed_same_sequence),
        cmocka_unit_test(test_different_seeds_differ),
        cmocka_unit_test(test_below_in_range),
        cmocka_unit_test(test_below_uniform_small_bound),
        cmocka_unit_test(test_below_uniform_large_bound),
        cmocka_unit_test(test_float_in_unit_interval),
        cmocka_unit_test(test_shuffle_is_seeded_permutation),
        cmocka_unit_test(test_shuffle_uniform_positions),
        cmocka_unit_test(test_state_copy_resumes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
