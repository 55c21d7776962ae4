/* test_gradcheck.c — the backward kernels of the map layers against finite
 * differences: convolution (weights, bias, input; ref and blas, with
 * channels, padding and strides 2 and 3), ReLU, average pooling (Z = 2, 3),
 * max pooling (Z = 2, 3, away from ties) and the fused bias+ReLU+avgpool
 * pass in both output layouts. The forward maths is re-written here in
 * DOUBLE as small oracles, each a direct transcription of a formula (docs/maths.md
 * §2.1–2.3, with channels, padding and stride), independent of the library's float kernels; see
 * gradcheck.h for the method. The dense layer and softmax are in
 * test_gradcheck_dense.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cnn.h"
#include "cnn_layers.h"
#include "cnn_rng.h"
#include "gradcheck.h"
#include "seed_shapes.h"

/* ---- the double oracles ---- */

/* §2.1 with channels, padding P and stride S, channels last:
 * z[n][i][j][f] = b[f] + Σ_{c,k,l} w[f][c][k][l]·x[n][i·S+k−P][j·S+l−P][c],
 * x = 0 outside the map. */
static void oracle_conv(double *z, const double *x, const double *w, const double *b, int N,
                        const cnn_conv_shape *s)
{
    const int C = s->C, H = s->H, W = s->W, K = s->K;
    for (int n = 0; n < N; n++)
        for (int i = 0; i < s->OH; i++)
            for (int j = 0; j < s->OW; j++)
                for (int f = 0; f < s->F; f++) {
                    double acc = b[f];
                    for (int c = 0; c < C; c++)
                        for (int k = 0; k < K; k++)
                            for (int l = 0; l < K; l++) {
                                int y = i * s->S + k - s->P, xx = j * s->S + l - s->P;
                                if (y < 0 || y >= H || xx < 0 || xx >= W)
                                    continue;
                                acc += w[((f * C + c) * K + k) * K + l] *
                                       x[(((long)n * H + y) * W + xx) * C + c];
                            }
                    z[(((long)n * s->OH + i) * s->OW + j) * s->F + f] = acc;
                }
}

/* §2.2 */
static void oracle_relu(double *y, const double *x, long n)
{
    for (long i = 0; i < n; i++)
        y[i] = x[i] > 0.0 ? x[i] : 0.0;
}

/* §2.3 for a Z×Z window (max = 0: the mean; max = 1: the maximum), per
 * channel, channels last */
static void oracle_pool(double *p, const double *x, int N, int H, int W, int C, int Z, int max)
{
    const int PH = H / Z, PW = W / Z;
    for (int n = 0; n < N; n++)
        for (int i = 0; i < PH; i++)
            for (int j = 0; j < PW; j++)
                for (int c = 0; c < C; c++) {
                    double s = 0.0, m = -INFINITY;
                    for (int k = 0; k < Z; k++)
                        for (int l = 0; l < Z; l++) {
                            double v = x[(((long)n * H + Z * i + k) * W + Z * j + l) * C + c];
                            s += v;
                            m = v > m ? v : m;
                        }
                    p[(((long)n * PH + i) * PW + j) * C + c] = max ? m : s / (Z * Z);
                }
}

/* ---- convolution ---- */

typedef struct {
    int N;
    cnn_conv_shape s;
    double *x, *w, *b, *r;
} conv_problem;

static double conv_loss(const void *ctx)
{
    const conv_problem *p = ctx;
    long nz = (long)p->N * p->s.OH * p->s.OW * p->s.F;
    double *z = xmalloc((size_t)nz * sizeof *z);
    oracle_conv(z, p->x, p->w, p->b, p->N, &p->s);
    double L = dot(p->r, z, nz);
    free(z);
    return L;
}

/* One convolution, ref and blas; the blas one with `rows` filter rows, the
 * padding rows zero as the net keeps them. */
static void conv_case(int N, cnn_conv_shape s, int rows, cnn_rng *rng)
{
    const int F = s.F;
    const long HW = (long)s.H * s.W, P = (long)s.OH * s.OW, CKK = (long)s.C * s.K * s.K;
    const long nx = N * HW * s.C, nw = F * CKK, nz = N * P * F;
    printf("conv N=%d C=%d %dx%d F=%d K=%d P=%d S=%d rows=%d\n", N, s.C, s.H, s.W, F, s.K, s.P,
           s.S, rows);
    float *x = random_floats(rng, nx, -1, 1), *w = random_floats(rng, nw, -1, 1);
    float *b = random_floats(rng, F, -1, 1), *r = random_floats(rng, nz, -1, 1);
    conv_problem p = {N, s, to_double(x, nx), to_double(w, nw), to_double(b, F),
                      to_double(r, nz)};

    float *dw_ref = zeros(nw), *db_ref = zeros(F), *dx_ref = zeros(nx);
    cnn_conv_backward_weights_ref(dw_ref, db_ref, r, x, N, &s);
    cnn_conv_backward_input_ref(dx_ref, r, w, N, &s);

    /* blas: CN maps through the library's transposes; padded filter rows */
    float *x_cn = zeros(nx), *w_rows = zeros(rows * CKK), *r_cn = zeros(rows * N * P);
    float *z = zeros(rows * N * P), *col = zeros(CKK * N * P), *dcol = zeros(CKK * N * P);
    float *dw_rows = zeros(rows * CKK), *db_blas = zeros(F), *dx_cn = zeros(nx);
    float *dx_blas = zeros(nx);
    memcpy(w_rows, w, (size_t)nw * sizeof *w);
    cnn_nc_to_cn(x_cn, x, N, HW, s.C);
    cnn_nc_to_cn(r_cn, r, N, P, F); /* rows beyond F stay zero */
    cnn_conv_forward_blas(z, col, x_cn, w_rows, b, N, rows, &s);
    cnn_conv_backward_weights_blas(dw_rows, db_blas, r_cn, col, N, rows, &s);
    cnn_conv_backward_input_blas(dx_cn, dcol, r_cn, w_rows, N, &s);
    cnn_cn_to_nc(dx_blas, dx_cn, N, HW, s.C);

    check_grad("conv weights (ref)", p.w, nw, dw_ref, conv_loss, &p, 1e-3, rng);
    check_grad("conv weights (blas)", p.w, nw, dw_rows, conv_loss, &p, 1e-3, rng);
    check_grad("conv bias (ref)", p.b, F, db_ref, conv_loss, &p, 1e-3, rng);
    check_grad("conv bias (blas)", p.b, F, db_blas, conv_loss, &p, 1e-3, rng);
    check_grad("conv input (ref)", p.x, nx, dx_ref, conv_loss, &p, 1e-3, rng);
    check_grad("conv input (blas)", p.x, nx, dx_blas, conv_loss, &p, 1e-3, rng);
    for (long i = nw; i < rows * CKK; i++) /* zero dout rows: zero gradient rows */
        assert_true(dw_rows[i] == 0.0f);

    FREE_ALL(x, w, b, r, p.x, p.w, p.b, p.r, dw_ref, db_ref, dx_ref, x_cn, w_rows, r_cn, z, col,
             dcol, dw_rows, db_blas, dx_cn, dx_blas);
}

static void test_conv_gradients(void **state)
{
    (void)state;
    cnn_rng rng;
    cnn_rng_seed(&rng, 10);
    /* the seed, at the rows of the blas plan */
    const seed_shapes sd = seed_shapes_get();
    conv_case(2, sd.conv, sd.rows, &rng);
    /* several channels, padding, stride 2: the input gradient a second
     * convolution needs */
    conv_case(2, cnn_conv_shape_make(3, 9, 8, 4, 3, 1, 2), 4, &rng);
    /* stride 3 with padding 2 and K = 4: taps in the padding on both sides */
    conv_case(1, cnn_conv_shape_make(2, 7, 7, 3, 4, 2, 3), 8, &rng);
    /* LeNet's second convolution, smaller: 6 channels, 16 filters */
    conv_case(3, cnn_conv_shape_make(6, 8, 8, 16, 5, 0, 1), 16, &rng);
}

/* ---- ReLU and pooling ---- */

typedef struct {
    int N, H, W, C, Z, max; /* pool shape; relu uses n = N·H·W·C */
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
    long n = (long)p->N * (p->H / p->Z) * (p->W / p->Z) * p->C;
    double *y = xmalloc((size_t)n * sizeof *y);
    oracle_pool(y, p->x, p->N, p->H, p->W, p->C, p->Z, p->max);
    double L = dot(p->r, y, n);
    free(y);
    return L;
}

static void test_relu_gradient(void **state)
{
    (void)state;
    cnn_rng rng;
    cnn_rng_seed(&rng, 11);
    const seed_shapes sd = seed_shapes_get();
    const cnn_conv_shape seed = sd.conv; /* its output map */
    const long n = sd.conv_size;
    /* |x| ≥ 0.05, far from the kink compared with eps */
    float *x = xmalloc((size_t)n * sizeof *x), *r = random_floats(&rng, n, -1, 1);
    for (long i = 0; i < n; i++)
        x[i] = (cnn_rng_below(&rng, 2) ? 1.0f : -1.0f) * cnn_rng_uniform(&rng, 0.05f, 1.0f);
    map_problem p = {1, seed.OH, seed.OW, seed.F, 1, 0, to_double(x, n), to_double(r, n)};
    float *dx = zeros(n);
    cnn_relu_backward(dx, r, x, n);
    check_grad("relu input", p.x, n, dx, relu_loss, &p, 1e-3, &rng);
    FREE_ALL(x, r, p.x, p.r, dx);
}

static void avgpool_case(int N, int H, int W, int C, int Z, cnn_rng *rng)
{
    const long nx = (long)N * H * W * C, np = nx / (Z * Z);
    printf("avgpool N=%d %dx%d C=%d Z=%d\n", N, H, W, C, Z);
    float *x = random_floats(rng, nx, -1, 1), *r = random_floats(rng, np, -1, 1);
    map_problem p = {N, H, W, C, Z, 0, to_double(x, nx), to_double(r, np)};
    float *dx = zeros(nx);
    cnn_avgpool_backward(dx, r, N, H, W, C, Z);
    check_grad("avgpool input", p.x, nx, dx, pool_loss, &p, 1e-3, rng);
    FREE_ALL(x, r, p.x, p.r, dx);
}

static void test_avgpool_gradient(void **state)
{
    (void)state;
    cnn_rng rng;
    cnn_rng_seed(&rng, 12);
    const cnn_conv_shape seed = seed_shapes_get().conv; /* its output map */
    avgpool_case(2, seed.OH, seed.OW, seed.F, 2, &rng);
    avgpool_case(2, 9, 6, 4, 3, &rng);
}

/* Max pooling is differentiable away from ties: every value of the map is
 * distinct, 0.01 apart (a shuffled ramp), so a step of eps = 1e-3 never
 * changes a window's arg-max. Every coordinate is checked, so both the
 * arg-max (gradient dout) and the rest (0) are. */
static void maxpool_case(int N, int H, int W, int C, int Z, cnn_rng *rng)
{
    const long nx = (long)N * H * W * C, np = nx / (Z * Z);
    printf("maxpool N=%d %dx%d C=%d Z=%d\n", N, H, W, C, Z);
    float *x = xmalloc((size_t)nx * sizeof *x), *r = random_floats(rng, np, -1, 1);
    for (long i = 0; i < nx; i++)
        x[i] = 0.01f * (float)(i - nx / 2);
    for (long i = nx - 1; i > 0; i--) { /* Fisher–Yates */
        long j = cnn_rng_below(rng, (uint32_t)(i + 1));
        float t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
    map_problem p = {N, H, W, C, Z, 1, to_double(x, nx), to_double(r, np)};
    float *dx = zeros(nx);
    cnn_maxpool_backward(dx, r, x, N, H, W, C, Z);
    check_grad_at("maxpool input", p.x, nx, dx, pool_loss, &p, 1e-3, nx, rng);
    long nonzero = 0;
    for (long i = 0; i < nx; i++)
        nonzero += dx[i] != 0.0f;
    assert_int_equal(nonzero, np); /* one arg-max per window */
    FREE_ALL(x, r, p.x, p.r, dx);
}

static void test_maxpool_gradient(void **state)
{
    (void)state;
    cnn_rng rng;
    cnn_rng_seed(&rng, 17);
    maxpool_case(2, 6, 6, 2, 2, &rng);
    maxpool_case(2, 6, 9, 3, 3, &rng);
}

/* ---- fused bias + ReLU + avgpool (the blas path's single pass) ---- */

typedef struct {
    int N, H, W, C;
    double *z, *b, *r; /* z and r channels last */
} fused_problem;

static double fused_loss(const void *ctx)
{
    const fused_problem *p = ctx;
    long nz = (long)p->N * p->H * p->W * p->C, np = nz / 4;
    double *a = xmalloc((size_t)nz * sizeof *a), *y = xmalloc((size_t)np * sizeof *y);
    for (long i = 0; i < nz; i++)
        a[i] = p->z[i] + p->b[i % p->C];
    oracle_relu(a, a, nz);
    oracle_pool(y, a, p->N, p->H, p->W, p->C, 2, 0);
    double L = dot(p->r, y, np);
    free(a);
    free(y);
    return L;
}

static void fused_case(int N, int H, int W, int C, int out_cn, cnn_rng *rng)
{
    const long HW = (long)H * W, nz = N * HW * C, np = nz / 4;
    printf("fused N=%d %dx%d C=%d out_cn=%d\n", N, H, W, C, out_cn);
    float *b = random_floats(rng, C, -0.5f, 0.5f), *r = random_floats(rng, np, -1, 1);
    float *z = xmalloc((size_t)nz * sizeof *z);
    /* z + b at least 0.05 from the ReLU kink */
    for (long i = 0; i < nz; i++)
        z[i] = (cnn_rng_below(rng, 2) ? 1.0f : -1.0f) * cnn_rng_uniform(rng, 0.05f, 1.0f) -
               b[i % C];
    fused_problem p = {N, H, W, C, to_double(z, nz), to_double(b, C), to_double(r, np)};
    float *dz = zeros(nz), *db = zeros(C), *z_cn = zeros(nz), *dz_cn = zeros(nz);
    float *r_in = zeros(np); /* dout in the forward's output layout */
    cnn_nc_to_cn(z_cn, z, N, HW, C);
    if (out_cn)
        cnn_nc_to_cn(r_in, r, N, HW / 4, C);
    else
        memcpy(r_in, r, (size_t)np * sizeof *r);
    cnn_bias_relu_avgpool_backward(dz_cn, db, r_in, z_cn, b, N, H, W, C, out_cn);
    cnn_cn_to_nc(dz, dz_cn, N, HW, C);
    check_grad("fused relu+pool input", p.z, nz, dz, fused_loss, &p, 1e-3, rng);
    check_grad("fused relu+pool bias", p.b, C, db, fused_loss, &p, 1e-3, rng);
    FREE_ALL(b, r, z, p.z, p.b, p.r, dz, db, z_cn, dz_cn, r_in);
}

static void test_fused_gradient(void **state)
{
    (void)state;
    cnn_rng rng;
    cnn_rng_seed(&rng, 16);
    const cnn_conv_shape seed = seed_shapes_get().conv; /* its output map */
    for (int out_cn = 0; out_cn < 2; out_cn++) {
        fused_case(2, seed.OH, seed.OW, seed.F, out_cn, &rng);
        fused_case(3, 6, 4, 5, out_cn, &rng);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_gradients),
        cmocka_unit_test(test_relu_gradient),
        cmocka_unit_test(test_avgpool_gradient),
        cmocka_unit_test(test_maxpool_gradient),
        cmocka_unit_test(test_fused_gradient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
