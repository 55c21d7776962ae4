/* testutil.h — what the kernel tests share (test_conv.c, test_layers.c,
 * test_pool.c, test_im2col.c): buffers that fail the test when malloc does,
 * random and constant fills, and the one float comparison of a fast kernel
 * with its reference. Include after <cmocka.h>. */
#ifndef CNN_TESTS_TESTUTIL_H
#define CNN_TESTS_TESTUTIL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_rng.h"

/* A value no kernel computes here: a WRITE kernel that skips an element
 * leaves it behind and the comparison catches it. */
#define GARBAGE 777.0f

static inline float *alloc(long n)
{
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    assert_non_null(p);
    return p;
}

static inline float *random_array(cnn_rng *r, long n)
{
    float *p = alloc(n);
    for (long i = 0; i < n; i++)
        p[i] = cnn_rng_uniform(r, -1.0f, 1.0f);
    return p;
}

static inline float *filled(long n, float v)
{
    float *p = alloc(n);
    for (long i = 0; i < n; i++)
        p[i] = v;
    return p;
}

static inline float *copy_of(const float *a, long n)
{
    float *p = alloc(n);
    memcpy(p, a, (size_t)n * sizeof *p);
    return p;
}

/* The one comparison: max|a − ref| ≤ 1e-4·max(1, max|ref|); NaN fails. */
static inline void assert_close(const char *what, const float *a, const float *ref, long n)
{
    double maxref = 0.0, maxdiff = 0.0;
    long worst = 0;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)ref[i]);
        if (fabs((double)ref[i]) > maxref)
            maxref = fabs((double)ref[i]);
        if (d > maxdiff || d != d) {
            maxdiff = d;
            worst = i;
        }
    }
    double tol = 1e-4 * (maxref > 1.0 ? maxref : 1.0);
    if (!(maxdiff <= tol))
        fail_msg("%s: max|diff| = %g at [%ld] (%g vs ref %g), tolerance %g", what, maxdiff,
                 worst, (double)a[worst], (double)ref[worst], tol);
}

/* Free a list of buffers: FREE_ALL(a, b, c). */
static inline void free_all(void **p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(p[i]);
}
#define FREE_ALL(...)                                                                          \
    free_all((void *[]){__VA_ARGS__}, sizeof((void *[]){__VA_ARGS__}) / sizeof(void *))

#endif
