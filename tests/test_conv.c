/* test_conv.c — the convolution kernels of cnn_layers.h.
 * The ref convolution is checked against an independent double-precision
 * formulation (the input copied into an explicitly zero-padded map, then
 * plain strided loops), and, for the seed's shape, against the one-channel
 * loops it replaced, bit for bit (the ref path's results must not change).
 * Every blas kernel is checked against its ref twin on shapes chosen to
 * break index arithmetic: odd filter counts (1, 3, 15, 16, 17, 33), several
 * input channels, padding, strides 2 and 3, kernels as large as the
 * (padded) map, batch sizes that are not multiples of 4 or 16, and padded
 * filter rows (rows > F) whose weights are not zero; the CN maps of the
 * blas path are built and read through cnn_nc_to_cn / cnn_cn_to_nc. The
 * conventions are checked too: backward ADDS into dw/db, WRITES din, and
 * touches no db entry beyond F. Finally, for the seed's shape the blas
 * forward and weight gradient must be exactly one SGEMM each with the
 * shapes they always had (bitwise equal to it). Gradients are checked by
 * finite differences in test_gradcheck.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cblas.h>
#include <stdio.h>

#include "cnn.h"
#include "cnn_layers.h"
#include "cnn_rng.h"
#include "seed_shapes.h"
#include "testutil.h"

typedef struct {
    int C, H, W, F, K, P, S; /* the convolution */
    int N, rows;             /* batch; blas filter rows (≥ F) */
} conv_case;

enum { NSEED = 3 };
static conv_case cases[] = {
    {0}, {0}, {0}, /* the seed's convolution: NSEED cases, made by setup() */
    {3, 9, 7, 1, 3, 0, 1, 5, 1},    /* one filter, non-square */
    {2, 8, 8, 3, 3, 1, 1, 3, 4},    /* "same" padding, rows > F */
    {6, 12, 12, 16, 5, 0, 1, 2, 16}, /* LeNet's second convolution, smaller */
    {6, 14, 14, 16, 5, 2, 1, 17, 16},
    {3, 10, 9, 17, 3, 1, 2, 3, 32}, /* stride 2, padding, 17 filters padded to 32 */
    {4, 7, 7, 33, 3, 2, 2, 1, 33},
    {2, 11, 11, 15, 3, 2, 3, 5, 16}, /* stride 3, a column left over */
    {3, 8, 8, 5, 2, 0, 2, 7, 8},    /* stride = kernel: no overlap */
    {2, 5, 5, 3, 5, 0, 1, 7, 4},    /* kernel as large as the map: 1×1 out */
    {2, 3, 3, 4, 5, 1, 1, 2, 4},    /* kernel as large as the padded map */
    {1, 2, 3, 15, 5, 2, 2, 3, 16},  /* kernel larger than the map */
    {5, 6, 6, 16, 1, 0, 1, 3, 16},  /* 1×1 kernel */
};
enum { NCASES = sizeof cases / sizeof cases[0] };

/* The seed's convolution at its padded rows (4 and 3 samples) and at its
 * own F rows (1 sample), from the parsed arch and the blas plan. */
static int setup(void **state)
{
    (void)state;
    const seed_shapes sd = seed_shapes_get();
    const cnn_conv_shape *s = &sd.conv;
    const conv_case seed[NSEED] = {
        {s->C, s->H, s->W, s->F, s->K, s->P, s->S, 4, sd.rows},
        {s->C, s->H, s->W, s->F, s->K, s->P, s->S, 3, sd.rows},
        {s->C, s->H, s->W, s->F, s->K, s->P, s->S, 1, s->F},
    };
    memcpy(cases, seed, sizeof seed);
    return 0;
}

static cnn_conv_shape shape_of(const conv_case *c)
{
    return cnn_conv_shape_make(c->C, c->H, c->W, c->F, c->K, c->P, c->S);
}

static void print_case(const char *what, const conv_case *c)
{
    printf("%s C=%d %dx%d F=%d K=%d P=%d S=%d N=%d rows=%d\n", what, c->C, c->H, c->W, c->F,
           c->K, c->P, c->S, c->N, c->rows);
}

/* ---- shapes ---- */

static void test_conv_shape_make(void **state)
{
    (void)state;
    cnn_conv_shape s = cnn_conv_shape_make(1, 28, 28, 15, 5, 0, 1); /* the seed: 28 − 5 + 1 */
    assert_int_equal(s.OH, 24);
    assert_int_equal(s.OW, 24);
    assert_int_equal(s.C, 1);
    assert_int_equal(s.F, 15);
    s = cnn_conv_shape_make(1, 28, 28, 6, 5, 2, 1); /* LeNet's "same" convolution */
    assert_int_equal(s.OH, 28);
    s = cnn_conv_shape_make(3, 10, 9, 4, 3, 1, 2); /* (10 + 2 − 3)/2 + 1, (9 + 2 − 3)/2 + 1 */
    assert_int_equal(s.OH, 5);
    assert_int_equal(s.OW, 5);
    s = cnn_conv_shape_make(2, 11, 12, 4, 3, 0, 3); /* floor: the last rows are unused */
    assert_int_equal(s.OH, 3);
    assert_int_equal(s.OW, 4);
    s = cnn_conv_shape_make(2, 3, 3, 4, 5, 1, 1); /* kernel = padded map */
    assert_int_equal(s.OH, 1);
    assert_int_equal(s.OW, 1);
}

/* ---- ref against an independent double formulation ---- */

/* Pad x (NC, one sample) into xp[(H+2P)][(W+2P)][C] with zeros, then
 * z[i][j][f] = b[f] + Σ w[f][c][k][l]·xp[i·S+k][j·S+l][c]. */
static void oracle_conv(double *z, const float *x, const float *w, const float *b, int N,
                        const cnn_conv_shape *s)
{
    const int HP = s->H + 2 * s->P, WP = s->W + 2 * s->P, C = s->C, K = s->K;
    double *xp = calloc((size_t)HP * WP * C, sizeof *xp);
    assert_non_null(xp);
    for (int n = 0; n < N; n++) {
        for (int y = 0; y < s->H; y++)
            for (int xx = 0; xx < s->W; xx++)
                for (int c = 0; c < C; c++)
                    xp[((long)(y + s->P) * WP + xx + s->P) * C + c] =
                        x[(((long)n * s->H + y) * s->W + xx) * C + c];
        for (int i = 0; i < s->OH; i++)
            for (int j = 0; j < s->OW; j++)
                for (int f = 0; f < s->F; f++) {
                    double acc = b[f];
                    for (int c = 0; c < C; c++)
                        for (int k = 0; k < K; k++)
                            for (int l = 0; l < K; l++)
                                acc += (double)w[((f * C + c) * K + k) * K + l] *
                                       xp[((long)(i * s->S + k) * WP + j * s->S + l) * C + c];
                    z[(((long)n * s->OH + i) * s->OW + j) * s->F + f] = acc;
                }
    }
    free(xp);
}

static void test_conv_ref_matches_oracle(void **state)
{
    (void)state;
    cnn_rng r;
    cnn_rng_seed(&r, 30);
    for (int t = 0; t < NCASES; t++) {
        const conv_case *c = &cases[t];
        const cnn_conv_shape s = shape_of(c);
        const long nin = (long)c->N * s.H * s.W * s.C, nout = (long)c->N * s.OH * s.OW * s.F;
        float *x = random_array(&r, nin), *w = random_array(&r, (long)s.F * s.C * s.K * s.K);
        float *b = random_array(&r, s.F), *out = filled(nout, GARBAGE), *od = alloc(nout);
        double *z = malloc((size_t)nout * sizeof *z);
        assert_non_null(z);
        oracle_conv(z, x, w, b, c->N, &s);
        cnn_conv_forward_ref(out, x, w, b, c->N, &s);
        for (long i = 0; i < nout; i++)
            od[i] = (float)z[i];
        print_case("conv ref vs oracle", c);
        assert_close("conv forward ref vs double oracle", out, od, nout);
        FREE_ALL(x, w, b, out, od, z);
    }
}

/* ---- the seed's shape: the ref sums in the order it always did ---- */

/* The seed's convolution has one channel, no padding and stride 1: what the
 * loops below and the im2col of test_conv_blas_seed_is_one_sgemm assume. */
static void assert_plain(const cnn_conv_shape *s)
{
    assert_int_equal(s->C, 1);
    assert_int_equal(s->P, 0);
    assert_int_equal(s->S, 1);
}

/* The one-channel loops that cnn_conv_*_ref replaced (ebfca53), in float
 * (C here is the filter count, as it was then). */
static void seed_forward(float *out, const float *in, const float *w, const float *b, int N,
                         const cnn_conv_shape *s)
{
    const int H = s->H, W = s->W, K = s->K, C = s->F;
    const int OH = H - K + 1, OW = W - K + 1;
    for (int n = 0; n < N; n++)
        for (int i = 0; i < OH; i++)
            for (int j = 0; j < OW; j++)
                for (int f = 0; f < C; f++) {
                    float s = b[f];
                    for (int k = 0; k < K; k++)
                        for (int l = 0; l < K; l++)
                            s += w[(f * K + k) * K + l] * in[n * H * W + (i + k) * W + j + l];
                    out[((n * OH + i) * OW + j) * C + f] = s;
                }
}

static void seed_weights(float *dw, float *db, const float *dout, const float *in, int N,
                         const cnn_conv_shape *s)
{
    const int H = s->H, W = s->W, K = s->K, C = s->F;
    const int OH = H - K + 1, OW = W - K + 1;
    for (int n = 0; n < N; n++)
        for (int f = 0; f < C; f++) {
            const float *x = in + n * H * W, *dz = dout + n * OH * OW * C;
            for (int k = 0; k < K; k++)
                for (int l = 0; l < K; l++) {
                    float s = 0.0f;
                    for (int i = 0; i < OH; i++)
                        for (int j = 0; j < OW; j++)
                            s += x[(i + k) * W + (j + l)] * dz[(i * OW + j) * C + f];
                    dw[(f * K + k) * K + l] += s;
                }
            float s = 0.0f;
            for (int i = 0; i < OH * OW; i++)
                s += dz[i * C + f];
            db[f] += s;
        }
}

static void seed_input(float *din, const float *dout, const float *w, int N,
                       const cnn_conv_shape *s)
{
    const int H = s->H, W = s->W, K = s->K, C = s->F;
    const int OH = H - K + 1, OW = W - K + 1;
    for (int n = 0; n < N; n++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) {
                float s = 0.0f;
                for (int f = 0; f < C; f++)
                    for (int k = 0; k < K; k++)
                        for (int l = 0; l < K; l++) {
                            int zi = i - k, zj = j - l;
                            if (zi < 0 || zi >= OH || zj < 0 || zj >= OW)
                                continue;
                            s += w[(f * K + k) * K + l] * dout[((n * OH + zi) * OW + zj) * C + f];
                        }
                din[n * H * W + i * W + j] = s;
            }
}

static void test_conv_ref_seed_bitwise(void **state)
{
    (void)state;
    enum { N = 3 };
    const seed_shapes sd = seed_shapes_get();
    const cnn_conv_shape s = sd.conv;
    assert_plain(&s);
    const long nin = N * sd.in_size, nout = N * sd.conv_size, nw = sd.conv_w_size;
    cnn_rng r;
    cnn_rng_seed(&r, 31);
    float *x = random_array(&r, nin), *w = random_array(&r, nw);
    float *b = random_array(&r, s.F), *dout = random_array(&r, nout);
    float *o1 = alloc(nout), *o2 = alloc(nout);
    float *dw1 = random_array(&r, nw), *dw2 = copy_of(dw1, nw);
    float *db1 = random_array(&r, s.F), *db2 = copy_of(db1, s.F);
    float *dx1 = alloc(nin), *dx2 = alloc(nin);
    seed_forward(o1, x, w, b, N, &s);
    cnn_conv_forward_ref(o2, x, w, b, N, &s);
    assert_memory_equal(o1, o2, (size_t)nout * sizeof *o1);
    seed_weights(dw1, db1, dout, x, N, &s);
    cnn_conv_backward_weights_ref(dw2, db2, dout, x, N, &s);
    assert_memory_equal(dw1, dw2, (size_t)nw * sizeof *dw1);
    assert_memory_equal(db1, db2, (size_t)s.F * sizeof *db1);
    seed_input(dx1, dout, w, N, &s);
    cnn_conv_backward_input_ref(dx2, dout, w, N, &s);
    assert_memory_equal(dx1, dx2, (size_t)nin * sizeof *dx1);
    FREE_ALL(x, w, b, dout, o1, o2, dw1, dw2, db1, db2, dx1, dx2);
}

/* ---- blas against ref ---- */

/* The `rows` filters as a ref convolution sees them: the F real ones with
 * their bias, the padding rows with bias 0. */
static cnn_conv_shape with_rows(const cnn_conv_shape *s, int rows)
{
    cnn_conv_shape e = *s;
    e.F = rows;
    return e;
}

static void blas_case(const conv_case *c, cnn_rng *r)
{
    const cnn_conv_shape s = shape_of(c), se = with_rows(&s, c->rows);
    const int N = c->N, F = s.F, rows = c->rows;
    const long HW = (long)s.H * s.W, P = (long)s.OH * s.OW, CKK = (long)s.C * s.K * s.K;
    const long nin = N * HW * s.C, nout = N * P * rows, ncol = CKK * N * P;
    char what[128];
    print_case("conv blas vs ref", c);

    /* inputs: NC for ref, CN for blas; padding rows of w and dout NOT zero,
     * so that a kernel using them where it must not shows */
    float *x = random_array(r, nin), *x_cn = alloc(nin);
    float *w = random_array(r, rows * CKK), *b = random_array(r, F), *be = filled(rows, 0.0f);
    float *dout = random_array(r, nout), *dout_cn = alloc(nout);
    memcpy(be, b, (size_t)F * sizeof *b);
    cnn_nc_to_cn(x_cn, x, N, HW, s.C);
    cnn_nc_to_cn(dout_cn, dout, N, P, rows);

    /* forward, with bias and without: out[rows][N·P] = w·col (+ b on f < F) */
    float *out_ref = alloc(nout), *out_cn = filled(nout, GARBAGE), *out = alloc(nout);
    float *col = filled(ncol, GARBAGE), *zero_b = filled(rows, 0.0f);
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        cnn_conv_forward_ref(out_ref, x, w, with_bias ? be : zero_b, N, &se);
        cnn_conv_forward_blas(out_cn, col, x_cn, w, with_bias ? b : NULL, N, rows, &s);
        cnn_cn_to_nc(out, out_cn, N, P, rows);
        snprintf(what, sizeof what, "conv forward blas, bias %d", with_bias);
        assert_close(what, out, out_ref, nout);
    }
    /* col holds every sample's im2col, side by side */
    float *col1 = alloc(CKK * P);
    for (int n = 0; n < N; n++) {
        cnn_im2col(col1, P, x_cn + n * HW, N * HW, &s);
        for (long row = 0; row < CKK; row++)
            assert_memory_equal(col + row * N * P + n * P, col1 + row * P,
                                (size_t)P * sizeof *col1);
    }

    /* weight gradient: every row of dw, db only for f < F; both ADD */
    float *dw0 = random_array(r, rows * CKK), *db0 = random_array(r, rows);
    float *dw_fresh = filled(rows * CKK, 0.0f), *db_fresh = filled(rows, 0.0f);
    float *dw_ref = copy_of(dw0, rows * CKK), *db_ref = copy_of(db0, rows);
    float *dw_blas = copy_of(dw0, rows * CKK), *db_blas = copy_of(db0, rows);
    cnn_conv_backward_weights_ref(dw_fresh, db_fresh, dout, x, N, &se);
    cnn_conv_backward_weights_ref(dw_ref, db_ref, dout, x, N, &se);
    cnn_conv_backward_weights_blas(dw_blas, db_blas, dout_cn, col, N, rows, &s);
    for (long i = 0; i < rows * CKK; i++)
        dw_fresh[i] += dw0[i]; /* what "added to dw0" must give */
    for (int f = 0; f < rows; f++)
        db_fresh[f] += db0[f];
    assert_close("conv dw ref adds", dw_ref, dw_fresh, rows * CKK);
    assert_close("conv db ref adds", db_ref, db_fresh, rows);
    assert_close("conv dw blas", dw_blas, dw_fresh, rows * CKK);
    assert_close("conv db blas", db_blas, db_fresh, F);
    assert_memory_equal(db_blas + F, db0 + F, (size_t)(rows - F) * sizeof *db0);
    cnn_conv_backward_weights_blas(dw_blas, NULL, dout_cn, col, N, rows, &s); /* db NULL */

    /* the same gradient transposed: dwt[C·K·K][rows] += col·doutᵀ, adding */
    float *dwt = alloc(rows * CKK), *dwt_want = alloc(rows * CKK), *db_t = copy_of(db0, rows);
    for (int f = 0; f < rows; f++)
        for (long k = 0; k < CKK; k++) {
            dwt[k * rows + f] = dw0[f * CKK + k];
            dwt_want[k * rows + f] = dw_fresh[f * CKK + k];
        }
    cnn_conv_backward_weights_t_blas(dwt, db_t, dout_cn, col, N, rows, &s);
    assert_close("conv dwt blas", dwt, dwt_want, rows * CKK);
    assert_close("conv db blas, transposed dw", db_t, db_fresh, F);
    assert_memory_equal(db_t + F, db0 + F, (size_t)(rows - F) * sizeof *db0);

    /* input gradient: the F real filters only (w's and dout's padding rows
     * are not zero here and must be ignored); both WRITE */
    float *dout_f = alloc(N * P * F);
    for (long q = 0; q < N * P; q++)
        memcpy(dout_f + q * F, dout + q * rows, (size_t)F * sizeof *dout);
    float *din_ref = filled(nin, GARBAGE), *din_cn = filled(nin, -GARBAGE);
    float *din = alloc(nin), *dcol = filled(ncol, GARBAGE);
    cnn_conv_backward_input_ref(din_ref, dout_f, w, N, &s);
    cnn_conv_backward_input_blas(din_cn, dcol, dout_cn, w, N, &s);
    cnn_cn_to_nc(din, din_cn, N, HW, s.C);
    assert_close("conv din blas", din, din_ref, nin);

    FREE_ALL(x, x_cn, w, b, be, dout, dout_cn, out_ref, out_cn, out, col, zero_b, col1, dw0,
             db0, dw_fresh, db_fresh, dw_ref, db_ref, dw_blas, db_blas, dwt, dwt_want, db_t,
             dout_f, din_ref, din_cn, din, dcol);
}

static void test_conv_blas_matches_ref(void **state)
{
    (void)state;
    cnn_rng r;
    cnn_rng_seed(&r, 1);
    for (int t = 0; t < NCASES; t++)
        blas_case(&cases[t], &r);
}

/* ---- the seed's shape: one SGEMM each, as before ---- */

/* For the seed (at its padded rows, 16, and CNN_SLICE = 4 samples) the blas
 * forward must be exactly out = w16·col with M = 16, N = 4·576, K = 25 and
 * tight leading dimensions, and the weight gradient dw += dout·colᵀ
 * likewise: the same call, so the same bits, as the version before
 * channels, padding and stride. The col built here is the seed's im2col
 * (one channel, no padding, stride 1), row by row memcpy. */
static void test_conv_blas_seed_is_one_sgemm(void **state)
{
    (void)state;
    const seed_shapes sd = seed_shapes_get();
    const cnn_conv_shape s = sd.conv;
    assert_plain(&s);
    const int N = CNN_SLICE, ROWS = sd.rows, H = s.H, W = s.W, K = s.K;
    const int OH = s.OH, OW = s.OW, P = OH * OW, NP = N * P, KK = K * K;
    cnn_rng r;
    cnn_rng_seed(&r, 32);
    float *x = random_array(&r, N * H * W), *w = random_array(&r, ROWS * KK);
    float *col = alloc(KK * NP), *col_blas = alloc(KK * NP);
    float *out = alloc(ROWS * NP), *out_blas = alloc(ROWS * NP);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
            for (int l = 0; l < K; l++)
                for (int i = 0; i < OH; i++)
                    memcpy(col + (long)(k * K + l) * NP + n * P + i * OW,
                           x + n * H * W + (i + k) * W + l, OW * sizeof *x);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ROWS, NP, KK, 1.0f, w, KK, col, NP,
                0.0f, out, NP);
    cnn_conv_forward_blas(out_blas, col_blas, x, w, NULL, N, ROWS, &s);
    assert_memory_equal(col_blas, col, (size_t)KK * NP * sizeof *col);
    assert_memory_equal(out_blas, out, (size_t)ROWS * NP * sizeof *out);

    float *dw = random_array(&r, ROWS * KK), *dw_blas = copy_of(dw, ROWS * KK);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ROWS, KK, NP, 1.0f, out, NP, col, NP,
                1.0f, dw, KK);
    cnn_conv_backward_weights_blas(dw_blas, NULL, out, col, N, ROWS, &s);
    assert_memory_equal(dw_blas, dw, (size_t)ROWS * KK * sizeof *dw);
    FREE_ALL(x, w, col, col_blas, out, out_blas, dw, dw_blas);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_shape_make),
        cmocka_unit_test(test_conv_ref_matches_oracle),
        cmocka_unit_test(test_conv_ref_seed_bitwise),
        cmocka_unit_test(test_conv_blas_matches_ref),
        cmocka_unit_test(test_conv_blas_seed_is_one_sgemm),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
