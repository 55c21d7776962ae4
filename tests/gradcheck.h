/* gradcheck.h — finite-difference checking shared by test_gradcheck.c and
 * test_gradcheck_dense.c. For a layer f and a fixed random r, the scalar
 * L = Σ r ⊙ f(x), computed by a double-precision oracle written in the test,
 * has ∂L/∂x = backward(dout = r); check_grad compares the library's float
 * gradient with central differences of L. The tolerance is tight enough that
 * a gradient off by a factor 2, or read with a transposed index, fails; a
 * gradient that is zero at every checked coordinate fails too, so no check
 * passes vacuously. Include after <cmocka.h>. */
#ifndef CNN_TESTS_GRADCHECK_H
#define CNN_TESTS_GRADCHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_rng.h"

enum { SAMPLES = 30 }; /* coordinates checked per gradient, unless all are */

static inline void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    assert_non_null(p);
    return p;
}

static inline float *random_floats(cnn_rng *r, long n, float lo, float hi)
{
    float *p = xmalloc((size_t)n * sizeof *p);
    for (long i = 0; i < n; i++)
        p[i] = cnn_rng_uniform(r, lo, hi);
    return p;
}

static inline float *zeros(long n)
{
    float *p = xmalloc((size_t)n * sizeof *p);
    memset(p, 0, (size_t)n * sizeof *p);
    return p;
}

static inline double *to_double(const float *a, long n)
{
    double *d = xmalloc((size_t)n * sizeof *d);
    for (long i = 0; i < n; i++)
        d[i] = a[i];
    return d;
}

static inline double dot(const double *a, const double *b, long n)
{
    double s = 0.0;
    for (long i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* The one comparison of an analytic value with a finite difference. */
static inline int grad_ok(double analytic, double fd)
{
    return fabs(analytic - fd) <= 1e-3 * fmax(1e-2, fabs(fd)) + 1e-5;
}

typedef double (*loss_fn)(const void *ctx);

/* Compare analytic[] (float, from the library) with central differences of
 * L(ctx) in `param` at `count` coordinates (all of them when count ≥ n): the
 * first and the last (edges are where index bugs live) and random ones
 * between. */
static inline void check_grad_at(const char *what, double *param, long n, const float *analytic,
                                 loss_fn L, const void *ctx, double eps, long count,
                                 cnn_rng *rng)
{
    if (count > n)
        count = n;
    double max_g = 0.0, max_fd = 0.0, max_err = 0.0;
    for (long s = 0; s < count; s++) {
        long idx = count == n ? s : s == 0 ? 0 : s == 1 ? n - 1 : cnn_rng_below(rng, (uint32_t)n);
        double saved = param[idx];
        param[idx] = saved + eps;
        double lp = L(ctx);
        param[idx] = saved - eps;
        double lm = L(ctx);
        param[idx] = saved;
        double fd = (lp - lm) / (2.0 * eps), a = analytic[idx];
        if (!grad_ok(a, fd))
            fail_msg("%s: at [%ld] analytic %.8g, finite difference %.8g", what, idx, a, fd);
        max_g = fmax(max_g, fabs(a));
        max_fd = fmax(max_fd, fabs(fd));
        max_err = fmax(max_err, fabs(a - fd) / fmax(1e-2, fabs(fd)));
    }
    printf("  %-34s %4ld coords, max|g| %.3g, max rel err %.2g\n", what, count, max_g, max_err);
    if (!(max_g > 1e-6 && max_fd > 1e-6))
        fail_msg("%s: gradient is zero at every checked coordinate (max|g| %g, max|fd| %g)",
                 what, max_g, max_fd);
}

static inline void check_grad(const char *what, double *param, long n, const float *analytic,
                              loss_fn L, const void *ctx, double eps, cnn_rng *rng)
{
    check_grad_at(what, param, n, analytic, L, ctx, eps, SAMPLES, rng);
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
