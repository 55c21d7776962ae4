/* test_gradcheck.c — every backward kernel against finite differences.
 * The forward maths is re-written here in DOUBLE as small "oracles", each a
 * direct transcription of a formula of docs/maths.md §2 (the seed's network),
 * independent of the library's float kernels. For a layer f, the scalar
 * L = Σ r ⊙ f(x) with a fixed random r has ∂L/∂x = backward(dout = r), so the
 * library's analytic gradients (ref and blas) are compared with central
 * differences of the double oracle at a sample of coordinates. Also: the
 * softmax Jacobian of §3.1 entry by entry, its chain with ∂L/∂σ giving §3.2's
 * σ − y, and one whole network (conv→ReLU→pool→flatten→dense→softmax-xent)
 * against the gradient obtained by chaining the ref kernels.
 * The tolerance is tight enough that a gradient off by a factor 2, or read
 * with a transposed index, fails; a check where the gradient is all zero
 * fails too, so it cannot pass vacuously. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn.h"
#include "cnn_layers.h"
#include "layout.h"
#include "cnn_rng.h"

enum { SAMPLES = 30 }; /* coordinates checked per gradient */

/* ---- the double oracles (§2) ---- */

/* §2.1, channels last: z[n][i][j][f] = Σ_k Σ_l w[f][k][l]·x[n][i+k][j+l] + b[f] */
static void oracle_conv(double *z, const double *x, const double *w, const double *b, int N,
                        int H, int W, int K, int C)
{
    int OH = H - K + 1, OW = W - K + 1;
    for (int n = 0; n < N; n++)
        for (int i = 0; i < OH; i++)
            for (int j = 0; j < OW; j++)
                for (int f = 0; f < C; f++) {
                    double s = b[f];
                    for (int k = 0; k < K; k++)
                        for (int l = 0; l < K; l++)
                            s += w[(f * K + k) * K + l] *
                                 x[((long)n * H + i + k) * W + j + l];
                    z[(((long)n * OH + i) * OW + j) * C + f] = s;
                }
}

/* §2.2 */
static void oracle_relu(double *y, const double *x, long n)
{
    for (long i = 0; i < n; i++)
        y[i] = x[i] > 0.0 ? x[i] : 0.0;
}

/* §2.3: p[i][j] = ¼ Σ_{k,l∈{0,1}} x[2i+k][2j+l], per channel, channels last */
static void oracle_pool(double *p, const double *x, int N, int H, int W, int C)
{
    int PH = H / 2, PW = W / 2;
    for (int n = 0; n < N; n++)
        for (int i = 0; i < PH; i++)
            for (int j = 0; j < PW; j++)
                for (int c = 0; c < C; c++) {
                    double s = 0.0;
                    for (int k = 0; k < 2; k++)
                        for (int l = 0; l < 2; l++)
                            s += x[(((long)n * H + 2 * i + k) * W + 2 * j + l) * C + c];
                    p[(((long)n * PH + i) * PW + j) * C + c] = 0.25 * s;
                }
}

/* §2.5: y = W·x + b, W[OUT][IN] */
static void oracle_dense(double *y, const double *x, const double *w, const double *b, int N,
                         int IN, int OUT)
{
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OUT; o++) {
            double s = b[o];
            for (int i = 0; i < IN; i++)
                s += w[(long)o * IN + i] * x[(long)n * IN + i];
            y[(long)n * OUT + o] = s;
        }
}

/* §2.6 */
static void oracle_softmax(double *sigma, const double *z, int OUT)
{
    double sum = 0.0;
    for (int j = 0; j < OUT; j++)
        sum += exp(z[j]);
    for (int i = 0; i < OUT; i++)
        sigma[i] = exp(z[i]) / sum;
}

/* §3.2's L = −Σ_i y_i log σ_i with one-hot y, summed over samples */
static double oracle_xent(const double *z, const uint8_t *labels, int N, int OUT)
{
    double sigma[64], loss = 0.0;
    assert_true(OUT <= 64);
    for (int n = 0; n < N; n++) {
        oracle_softmax(sigma, z + (long)n * OUT, OUT);
        loss -= log(sigma[labels[n]]);
    }
    return loss;
}

/* ---- helpers ---- */

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes);
    assert_non_null(p);
    return p;
}

static float *random_floats(cnn_rng *r, long n, float lo, float hi)
{
    float *p = xmalloc((size_t)n * sizeof *p);
    for (long i = 0; i < n; i++)
        p[i] = cnn_rng_uniform(r, lo, hi);
    return p;
}

static float *zeros(long n)
{
    float *p = xmalloc((size_t)n * sizeof *p);
    memset(p, 0, (size_t)n * sizeof *p);
    return p;
}

static double *to_double(const float *a, long n)
{
    double *d = xmalloc((size_t)n * sizeof *d);
    for (long i = 0; i < n; i++)
        d[i] = a[i];
    return d;
}

static double dot(const double *a, const double *b, long n)
{
    double s = 0.0;
    for (long i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* The one comparison of an analytic value with a finite difference. */
static int grad_ok(double analytic, double fd)
{
    return fabs(analytic - fd) <= 1e-3 * fmax(1e-2, fabs(fd)) + 1e-5;
}

typedef double (*loss_fn)(const void *ctx);

/* Compare analytic[] (float, from the library) with central differences of
 * L(ctx) in `param`, at SAMPLES coordinates: the first and the last (edges
 * are where index bugs live) and random ones between. */
static void check_grad(const char *what, double *param, long n, const float *analytic,
                       loss_fn L, const void *ctx, double eps, cnn_rng *rng)
{
    long count = n < SAMPLES ? n : SAMPLES;
    double max_g = 0.0, max_fd = 0.0, max_err = 0.0;
    for (long s = 0; s < count; s++) {
        long idx = n <= SAMPLES ? s : s == 0 ? 0 : s == 1 ? n - 1 : cnn_rng_below(rng, (uint32_t)n);
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
    printf("  %-28s %2ld coords, max|g| %.3g, max rel err %.2g\n", what, count, max_g, max_err);
    if (!(max_g > 1e-6 && max_fd > 1e-6))
        fail_msg("%s: gradient is zero at every checked coordinate (max|g| %g, max|fd| %g)",
                 what, max_g, max_fd);
}

/* ---- convolution ---- */

typedef struct {
    int N, H, W, K, C;
    double *x, *w, *b, *r;
} conv_problem;

static double conv_loss(const void *ctx)
{
    const conv_problem *p = ctx;
    long nz = (long)p->N * (p->H - p->K + 1) * (p->W - p->K + 1) * p->C;
    double *z = xmalloc((size_t)nz * sizeof *z);
    oracle_conv(z, p->x, p->w, p->b, p->N, p->H, p->W, p->K, p->C);
    double L = dot(p->r, z, nz);
    free(z);
    return L;
}

static void conv_case(int N, int H, int W, int K, int C, cnn_rng *rng)
{
    long P = (long)(H - K + 1) * (W - K + 1), KK = (long)K * K;
    long nx = (long)N * H * W, nw = C * KK, nz = N * P * C;
    printf("conv N=%d %dx%d K=%d C=%d\n", N, H, W, K, C);
    float *x = random_floats(rng, nx, -1, 1), *w = random_floats(rng, nw, -1, 1);
    float *b = random_floats(rng, C, -1, 1), *r = random_floats(rng, nz, -1, 1);
    conv_problem p = {N, H, W, K, C, to_double(x, nx), to_double(w, nw), to_double(b, C),
                      to_double(r, nz)};

    float *dw_ref = zeros(nw), *db_ref = zeros(C), *dx_ref = zeros(nx);
    float *dw_blas = zeros(nw), *db_blas = zeros(C), *dx_blas = zeros(nx);
    float *z = zeros(nz), *col = zeros(N * P * KK), *dcol = zeros(N * P * KK);
    float *r_cm = zeros(nz); /* dL/dz in the blas convolution's layout */
    to_channel_major(r_cm, r, N, P, C);
    const cnn_conv_shape cs = cnn_conv_shape_make(1, H, W, C, K, 0, 1);
    cnn_conv_backward_weights_ref(dw_ref, db_ref, r, x, N, &cs);
    cnn_conv_backward_input_ref(dx_ref, r, w, N, &cs);
    cnn_conv_forward_blas(z, col, x, w, b, N, C, &cs);
    cnn_conv_backward_weights_blas(dw_blas, db_blas, r_cm, col, N, C, &cs);
    cnn_conv_backward_input_blas(dx_blas, dcol, r_cm, w, N, &cs);

    check_grad("conv weights (ref)", p.w, nw, dw_ref, conv_loss, &p, 1e-3, rng);
    check_grad("conv weights (blas)", p.w, nw, dw_blas, conv_loss, &p, 1e-3, rng);
    check_grad("conv bias (ref)", p.b, C, db_ref, conv_loss, &p, 1e-3, rng);
    check_grad("conv bias (blas)", p.b, C, db_blas, conv_loss, &p, 1e-3, rng);
    check_grad("conv input (ref)", p.x, nx, dx_ref, conv_loss, &p, 1e-3, rng);
    check_grad("conv input (blas)", p.x, nx, dx_blas, conv_loss, &p, 1e-3, rng);

    void *bufs[] = {x, w, b, r, p.x, p.w, p.b, p.r, dw_ref, db_ref, dx_ref,
                    dw_blas, db_blas, dx_blas, z, col, dcol, r_cm};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
}

static void test_conv_gradients(void **state)
{
    (void)state;
    cnn_rng rng;
    cnn_rng_seed(&rng, 10);
    conv_case(2, CNN_IN_H, CNN_IN_W, CNN_KSIZE, CNN_FILTERS, &rng);
    conv_case(2, 9, 7, 3, 4, &rng);
}

/* ---- ReLU and average pooling ---- */

typedef struct {
    int N, H, W, C; /* pool shape; relu uses n = N·H·W·C */
    double *x, *r;
} map_problem;

static double relu_loss(const void *ctx)
{
    const map_problem *p = ctx;
    long n = (long)p->N * p->H * p->W * p->C;
    double *y = xmalloc((size_t)n * sizeof *y);
    oracle_relu(y, p->x, n);
    double L = dot(p->r, y, n);
    free(y);
    return L;
}

static double pool_loss(const void *ctx)
{
    const map_problem *p = ctx;
    long n = (long)p->N * (p->H / 2) * (p->W / 2) * p->C;
    double *y = xmalloc((size_t)n * sizeof *y);
    oracle_pool(y, p->x, p->N, p->H, p->W, p->C);
    double L = dot(p->r, y, n);
    free(y);
    return L;
}

static void test_relu_gradient(void **state)
{
    (void)state;
    cnn_rng rng;
    cnn_rng_seed(&rng, 11);
    const long n = CNN_CONV_SIZE;
    /* |x| ≥ 0.05, far from the kink compared with eps */
    float *x = xmalloc((size_t)n * sizeof *x), *r = random_floats(&rng, n, -1, 1);
    for (long i = 0; i < n; i++)
        x[i] = (cnn_rng_below(&rng, 2) ? 1.0f : -1.0f) * cnn_rng_uniform(&rng, 0.05f, 1.0f);
    map_problem p = {1, CNN_CONV_H, CNN_CONV_W, CNN_FILTERS, to_double(x, n), to_double(r, n)};
    float *dx = zeros(n);
    cnn_relu_backward(dx, r, x, n);
    check_grad("relu input", p.x, n, dx, relu_loss, &p, 1e-3, &rng);
    void *bufs[] = {x, r, p.x, p.r, dx};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
}

static void test_avgpool_gradient(void **state)
{
    (void)state;
    cnn_rng rng;
    cnn_rng_seed(&rng, 12);
    const int N = 2, H = CNN_CONV_H, W = CNN_CONV_W, C = CNN_FILTERS;
    long nx = (long)N * H * W * C, np = nx / 4;
    float *x = random_floats(&rng, nx, -1, 1), *r = random_floats(&rng, np, -1, 1);
    map_problem p = {N, H, W, C, to_double(x, nx), to_double(r, np)};
    float *dx = zeros(nx);
    cnn_avgpool_backward(dx, r, N, H, W, C, 2);
    check_grad("avgpool input", p.x, nx, dx, pool_loss, &p, 1e-3, &rng);
    void *bufs[] = {x, r, p.x, p.r, dx};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
}

/* ---- dense ---- */

typedef struct {
    int N, IN, OUT;
    double *x, *w, *b, *r;
} dense_problem;

/* ---- fused bias + ReLU + avgpool (the blas path's single pass) ---- */

typedef struct {
    int N, H, W, C;
    double *z, *b, *r;
} fused_problem;

static double fused_loss(const void *ctx)
{
    const fused_problem *p = ctx;
    long nz = (long)p->N * p->H * p->W * p->C, np = nz / 4;
    double *a = xmalloc((size_t)nz * sizeof *a), *y = xmalloc((size_t)np * sizeof *y);
    for (long i = 0; i < nz; i++)
        a[i] = p->z[i] + p->b[i % p->C];
    oracle_relu(a, a, nz);
    oracle_pool(y, a, p->N, p->H, p->W, p->C);
    double L = dot(p->r, y, np);
    free(a);
    free(y);
    return L;
}

static void test_fused_gradient(void **state)
{
    (void)state;
    cnn_rng rng;
    cnn_rng_seed(&rng, 16);
    const int N = 2, H = CNN_CONV_H, W = CNN_CONV_W, C = CNN_FILTERS;
    const long nz = (long)N * H * W * C, np = nz / 4;
    float *b = random_floats(&rng, C, -0.5f, 0.5f), *r = random_floats(&rng, np, -1, 1);
    float *z = xmalloc((size_t)nz * sizeof *z);
    /* z + b at least 0.05 from the ReLU kink */
    for (long i = 0; i < nz; i++)
        z[i] = (cnn_rng_below(&rng, 2) ? 1.0f : -1.0f) * cnn_rng_uniform(&rng, 0.05f, 1.0f) -
               b[i % C];
    fused_problem p = {N, H, W, C, to_double(z, nz), to_double(b, C), to_double(r, np)};
    float *dz = zeros(nz), *db = zeros(C), *z_cm = zeros(nz), *dz_cm = zeros(nz);
    to_channel_major(z_cm, z, N, (long)H * W, C); /* the fused pass's layout */
    cnn_bias_relu_avgpool_backward(dz_cm, db, r, z_cm, b, N, H, W, C, 0);
    to_channels_last(dz, dz_cm, N, (long)H * W, C);
    check_grad("fused relu+pool input", p.z, nz, dz, fused_loss, &p, 1e-3, &rng);
    check_grad("fused relu+pool bias", p.b, C, db, fused_loss, &p, 1e-3, &rng);
    void *bufs[] = {b, r, z, p.z, p.b, p.r, dz, db, z_cm, dz_cm};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
}

static double dense_loss(const void *ctx)
{
    const dense_problem *p = ctx;
    long ny = (long)p->N * p->OUT;
    double *y = xmalloc((size_t)ny * sizeof *y);
    oracle_dense(y, p->x, p->w, p->b, p->N, p->IN, p->OUT);
    double L = dot(p->r, y, ny);
    free(y);
    return L;
}

static void dense_case(int N, int IN, int OUT, cnn_rng *rng)
{
    long nx = (long)N * IN, nw = (long)OUT * IN, ny = (long)N * OUT;
    printf("dense N=%d IN=%d OUT=%d\n", N, IN, OUT);
    float *x = random_floats(rng, nx, -1, 1), *w = random_floats(rng, nw, -1, 1);
    float *b = random_floats(rng, OUT, -1, 1), *r = random_floats(rng, ny, -1, 1);
    dense_problem p = {N, IN, OUT, to_double(x, nx), to_double(w, nw), to_double(b, OUT),
                       to_double(r, ny)};
    float *dw_ref = zeros(nw), *db_ref = zeros(OUT), *dx_ref = zeros(nx);
    float *dw_blas = zeros(nw), *db_blas = zeros(OUT), *dx_blas = zeros(nx);
    cnn_dense_backward_weights_ref(dw_ref, db_ref, r, x, N, IN, OUT);
    cnn_dense_backward_input_ref(dx_ref, r, w, N, IN, OUT);
    cnn_dense_backward_weights_blas(dw_blas, db_blas, r, x, N, IN, OUT);
    cnn_dense_backward_input_blas(dx_blas, r, w, N, IN, OUT);

    check_grad("dense weights (ref)", p.w, nw, dw_ref, dense_loss, &p, 1e-3, rng);
    check_grad("dense weights (blas)", p.w, nw, dw_blas, dense_loss, &p, 1e-3, rng);
    check_grad("dense bias (ref)", p.b, OUT, db_ref, dense_loss, &p, 1e-3, rng);
    check_grad("dense bias (blas)", p.b, OUT, db_blas, dense_loss, &p, 1e-3, rng);
    check_grad("dense input (ref)", p.x, nx, dx_ref, dense_loss, &p, 1e-3, rng);
    check_grad("dense input (blas)", p.x, nx, dx_blas, dense_loss, &p, 1e-3, rng);

    void *bufs[] = {x, w, b, r, p.x, p.w, p.b, p.r,
                    dw_ref, db_ref, dx_ref, dw_blas, db_blas, dx_blas};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
}

static void test_dense_gradients(void **state)
{
    (void)state;
    cnn_rng rng;
    cnn_rng_seed(&rng, 13);
    dense_case(1, CNN_FLAT, CNN_CLASSES, &rng); /* blas: SGER / SGEMV */
    dense_case(2, CNN_FLAT, CNN_CLASSES, &rng); /* blas: SGEMM */
    dense_case(3, 7, 5, &rng);
}

/* ---- softmax + cross-entropy ---- */

enum { XN = 3, XOUT = CNN_CLASSES };

typedef struct {
    double *z;
    const uint8_t *labels;
} xent_problem;

static double xent_loss(const void *ctx)
{
    const xent_problem *p = ctx;
    return oracle_xent(p->z, p->labels, XN, XOUT);
}

static void test_softmax_xent_gradient(void **state)
{
    (void)state;
    cnn_rng rng;
    cnn_rng_seed(&rng, 14);
    static const uint8_t labels[XN] = {0, 4, 9};
    float *z = random_floats(&rng, XN * XOUT, -3, 3);
    float probs[XN * XOUT], dz[XN * XOUT];
    xent_problem p = {to_double(z, XN * XOUT), labels};
    double loss = cnn_softmax_xent_forward(probs, z, labels, XN, XOUT);
    assert_true(fabs(loss - xent_loss(&p)) < 1e-5 * loss);
    cnn_softmax_xent_backward(dz, probs, labels, XN, XOUT, 1.0f);
    check_grad("softmax-xent logits", p.z, XN * XOUT, dz, xent_loss, &p, 1e-4, &rng);
    free(z);
    free(p.z);
}

/* §3.1 entry by entry against central differences of the double softmax,
 * then §3.2 as its chain: Jᵀ·(∂L/∂σ) with ∂L/∂σ_i = −y_i/σ_i is σ − y. */
static void test_softmax_jacobian(void **state)
{
    (void)state;
    cnn_rng rng;
    cnn_rng_seed(&rng, 15);
    const int label = 6;
    const double eps = 1e-5;
    float z[XOUT], probs[XOUT], J[XOUT * XOUT], dz[XOUT];
    uint8_t lab = (uint8_t)label;
    for (int i = 0; i < XOUT; i++)
        z[i] = cnn_rng_uniform(&rng, -2.0f, 2.0f);
    cnn_softmax_xent_forward(probs, z, &lab, 1, XOUT);
    cnn_softmax_jacobian(J, probs, XOUT);

    int diag = 0, offdiag = 0;
    double max_j = 0.0;
    for (int j = 0; j < XOUT; j++) {
        double zp[XOUT], zm[XOUT], sp[XOUT], sm[XOUT];
        for (int k = 0; k < XOUT; k++)
            zp[k] = zm[k] = z[k];
        zp[j] += eps;
        zm[j] -= eps;
        oracle_softmax(sp, zp, XOUT);
        oracle_softmax(sm, zm, XOUT);
        for (int i = 0; i < XOUT; i++) {
            double fd = (sp[i] - sm[i]) / (2.0 * eps), a = J[i * XOUT + j];
            if (!grad_ok(a, fd))
                fail_msg("softmax jacobian: dsigma_%d/dz_%d = %.8g, finite difference %.8g", i,
                         j, a, fd);
            max_j = fmax(max_j, fabs(a));
            if (i == j)
                diag++;
            else
                offdiag++;
        }
    }
    assert_int_equal(diag, XOUT);
    assert_int_equal(offdiag, XOUT * (XOUT - 1));
    assert_true(max_j > 1e-6);

    cnn_softmax_xent_backward(dz, probs, &lab, 1, XOUT, 1.0f);
    for (int j = 0; j < XOUT; j++) {
        double s = 0.0; /* (Jᵀ g)_j = Σ_i J[i][j]·g_i, g_i = −y_i/σ_i */
        for (int i = 0; i < XOUT; i++) {
            double g = i == label ? -1.0 / probs[i] : 0.0;
            s += J[i * XOUT + j] * g;
        }
        if (!(fabs(s - dz[j]) < 1e-6))
            fail_msg("J^T dL/dsigma at %d: %.8g, softmax_xent_backward %.8g", j, s, dz[j]);
    }
}

/* ---- the whole network ---- */

enum {
    NET_N = 2,
    NET_X = NET_N * CNN_IN_SIZE,
    NET_Z = NET_N * CNN_CONV_SIZE,
    NET_P = NET_N * CNN_FLAT,
    NET_Y = NET_N * CNN_CLASSES,
};

typedef struct {
    double *x, *conv_w, *conv_b, *fc_w, *fc_b;
    const uint8_t *labels;
} net_problem;

/* Batch-mean loss of conv→ReLU→pool→flatten→dense→softmax-xent, in double,
 * with the flatten written out as §2.4 has it. */
static double net_loss(const void *ctx)
{
    const net_problem *p = ctx;
    const int PH = CNN_POOL_H, PW = CNN_POOL_W, C = CNN_FILTERS;
    double *z = xmalloc(NET_Z * sizeof *z), *a = xmalloc(NET_Z * sizeof *a);
    double *pool = xmalloc(NET_P * sizeof *pool), *flat = xmalloc(NET_P * sizeof *flat);
    double y[NET_Y];
    oracle_conv(z, p->x, p->conv_w, p->conv_b, NET_N, CNN_IN_H, CNN_IN_W, CNN_KSIZE, C);
    oracle_relu(a, z, NET_Z);
    oracle_pool(pool, a, NET_N, CNN_CONV_H, CNN_CONV_W, C);
    for (int n = 0; n < NET_N; n++)
        for (int i = 0; i < PH; i++)
            for (int j = 0; j < PW; j++)
                for (int c = 0; c < C; c++)
                    flat[n * CNN_FLAT + i * (PW * C) + j * C + c] =
                        pool[n * CNN_FLAT + (i * PW + j) * C + c];
    oracle_dense(y, flat, p->fc_w, p->fc_b, NET_N, CNN_FLAT, CNN_CLASSES);
    double L = oracle_xent(y, p->labels, NET_N, CNN_CLASSES) / NET_N;
    free(z);
    free(a);
    free(pool);
    free(flat);
    return L;
}

static void test_whole_network(void **state)
{
    (void)state;
    cnn_rng rng;
    cnn_rng_seed(&rng, 16);
    static const uint8_t labels[NET_N] = {3, 7};
    const float cw = sqrtf(6.0f / 25.0f), fw = sqrtf(6.0f / CNN_FLAT); /* He-uniform */
    float *x = random_floats(&rng, NET_X, 0, 1);
    float *conv_w = random_floats(&rng, CNN_CONV_W_SIZE, -cw, cw);
    float *conv_b = random_floats(&rng, CNN_CONV_B_SIZE, -0.1f, 0.1f);
    float *fc_w = random_floats(&rng, CNN_FC_W_SIZE, -fw, fw);
    float *fc_b = random_floats(&rng, CNN_FC_B_SIZE, -0.1f, 0.1f);
    net_problem p = {to_double(x, NET_X), to_double(conv_w, CNN_CONV_W_SIZE),
                     to_double(conv_b, CNN_CONV_B_SIZE), to_double(fc_w, CNN_FC_W_SIZE),
                     to_double(fc_b, CNN_FC_B_SIZE), labels};

    /* What net-level code does, with the ref kernels. */
    float *z = zeros(NET_Z), *a = zeros(NET_Z), *pool = zeros(NET_P), *dpool = zeros(NET_P);
    float *da = zeros(NET_Z), *dz = zeros(NET_Z);
    float *g_conv_w = zeros(CNN_CONV_W_SIZE), *g_conv_b = zeros(CNN_CONV_B_SIZE);
    float *g_fc_w = zeros(CNN_FC_W_SIZE), *g_fc_b = zeros(CNN_FC_B_SIZE);
    float y[NET_Y], probs[NET_Y], dy[NET_Y];
    const cnn_conv_shape cs = cnn_conv_shape_make(1, CNN_IN_H, CNN_IN_W, CNN_FILTERS, CNN_KSIZE, 0, 1);
    cnn_conv_forward_ref(z, x, conv_w, conv_b, NET_N, &cs);
    cnn_relu_forward(a, z, NET_Z);
    cnn_avgpool_forward(pool, a, NET_N, CNN_CONV_H, CNN_CONV_W, CNN_FILTERS, 2);
    cnn_dense_forward_ref(y, pool, fc_w, fc_b, NET_N, CNN_FLAT, CNN_CLASSES);
    double loss = cnn_softmax_xent_forward(probs, y, labels, NET_N, CNN_CLASSES) / NET_N;
    assert_true(fabs(loss - net_loss(&p)) < 1e-5 * loss);
    cnn_softmax_xent_backward(dy, probs, labels, NET_N, CNN_CLASSES, 1.0f / NET_N);
    cnn_dense_backward_weights_ref(g_fc_w, g_fc_b, dy, pool, NET_N, CNN_FLAT, CNN_CLASSES);
    cnn_dense_backward_input_ref(dpool, dy, fc_w, NET_N, CNN_FLAT, CNN_CLASSES);
    cnn_avgpool_backward(da, dpool, NET_N, CNN_CONV_H, CNN_CONV_W, CNN_FILTERS, 2);
    cnn_relu_backward(dz, da, z, NET_Z);
    cnn_conv_backward_weights_ref(g_conv_w, g_conv_b, dz, x, NET_N, &cs);

    /* Small eps: a conv output crossing the ReLU kink would spoil the
     * difference, and eps bounds how far any of them moves. */
    const double eps = 1e-6;
    check_grad("net conv weights", p.conv_w, CNN_CONV_W_SIZE, g_conv_w, net_loss, &p, eps, &rng);
    check_grad("net conv bias", p.conv_b, CNN_CONV_B_SIZE, g_conv_b, net_loss, &p, eps, &rng);
    check_grad("net dense weights", p.fc_w, CNN_FC_W_SIZE, g_fc_w, net_loss, &p, eps, &rng);
    check_grad("net dense bias", p.fc_b, CNN_FC_B_SIZE, g_fc_b, net_loss, &p, eps, &rng);

    void *bufs[] = {x, conv_w, conv_b, fc_w, fc_b, p.x, p.conv_w, p.conv_b, p.fc_w, p.fc_b,
                    z, a, pool, dpool, da, dz, g_conv_w, g_conv_b, g_fc_w, g_fc_b};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_gradients),
        cmocka_unit_test(test_relu_gradient),
        cmocka_unit_test(test_avgpool_gradient),
        cmocka_unit_test(test_fused_gradient),
        cmocka_unit_test(test_dense_gradients),
        cmocka_unit_test(test_softmax_xent_gradient),
        cmocka_unit_test(test_softmax_jacobian),
        cmocka_unit_test(test_whole_network),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
