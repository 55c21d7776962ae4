/* test_layers.c — the layer kernels of cnn_layers.h.
 * Every *_blas kernel must agree with its *_ref twin (the direct transcription
 * of the seed's equations) on random inputs, at the seed network's shapes
 * (N = 1, 3, 16; N = 1 takes the dense SGEMV/SGER branches) and at a small odd
 * shape, and must honour the conventions: backward ADDS into dw/db and WRITES
 * din. The kernels without a twin (avgpool, ReLU, softmax) and the
 * channels-last layout that makes the seed's flatten the identity are checked
 * against values worked out by hand. Gradients proper are in test_gradcheck. */
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
#include "cnn_rng.h"
#include "layout.h"

/* A value no kernel computes here: a WRITE kernel that skips an element
 * leaves it behind and the comparison catches it. */
#define GARBAGE 777.0f

/* The one comparison: max|a − ref| ≤ 1e-4·max(1, max|ref|). */
static void assert_close(const char *what, const float *a, const float *ref, long n)
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

static float *alloc(long n)
{
    float *p = malloc((size_t)n * sizeof *p);
    assert_non_null(p);
    return p;
}

static float *random_array(cnn_rng *r, long n)
{
    float *p = alloc(n);
    for (long i = 0; i < n; i++)
        p[i] = cnn_rng_uniform(r, -1.0f, 1.0f);
    return p;
}

static float *filled(long n, float v)
{
    float *p = alloc(n);
    for (long i = 0; i < n; i++)
        p[i] = v;
    return p;
}

static float *copy_of(const float *a, long n)
{
    float *p = alloc(n);
    memcpy(p, a, (size_t)n * sizeof *p);
    return p;
}

/* ---- convolution: blas against ref ---- */

typedef struct {
    int N, H, W, K, C;
} conv_shape;

static const conv_shape conv_shapes[] = {
    {1, CNN_IN_H, CNN_IN_W, CNN_KSIZE, CNN_FILTERS},
    {3, CNN_IN_H, CNN_IN_W, CNN_KSIZE, CNN_FILTERS},
    {16, CNN_IN_H, CNN_IN_W, CNN_KSIZE, CNN_FILTERS},
    {2, 9, 7, 3, 4}, /* odd, non-square */
};

static void test_conv_blas_matches_ref(void **state)
{
    (void)state;
    cnn_rng r;
    cnn_rng_seed(&r, 1);
    for (size_t s = 0; s < sizeof conv_shapes / sizeof conv_shapes[0]; s++) {
        const conv_shape sh = conv_shapes[s];
        const int N = sh.N, H = sh.H, W = sh.W, K = sh.K, C = sh.C;
        long P = (long)(H - K + 1) * (W - K + 1), KK = (long)K * K;
        long nin = (long)N * H * W, nout = N * P * C, nw = C * KK, ncol = N * P * KK;
        char what[96];
        const cnn_conv_shape cs = cnn_conv_shape_make(1, H, W, C, K, 0, 1);
        printf("conv N=%d H=%d W=%d K=%d C=%d\n", N, H, W, K, C);

        float *in = random_array(&r, nin), *w = random_array(&r, nw);
        float *b = random_array(&r, C), *dout = random_array(&r, nout);
        /* the blas maps are channel-major [C][N·P]: the same values, moved */
        float *dout_cm = alloc(nout), *out_ref_cm = alloc(nout);
        to_channel_major(dout_cm, dout, N, P, C);

        /* forward; the blas path also leaves im2col(in) in col */
        float *out_ref = filled(nout, GARBAGE), *out_blas = filled(nout, -GARBAGE);
        float *col = filled(ncol, GARBAGE), *col1 = alloc(P * KK);
        cnn_conv_forward_ref(out_ref, in, w, b, N, &cs);
        cnn_conv_forward_blas(out_blas, col, in, w, b, N, C, &cs);
        to_channel_major(out_ref_cm, out_ref, N, P, C);
        snprintf(what, sizeof what, "conv forward N=%d %dx%d K=%d C=%d", N, H, W, K, C);
        assert_close(what, out_blas, out_ref_cm, nout);
        for (int n = 0; n < N; n++) { /* sample n's block of every col row */
            cnn_im2col(col1, P, in + (long)n * H * W, (long)H * W, &cs);
            for (long row = 0; row < KK; row++)
                assert_memory_equal(col + row * N * P + n * P, col1 + row * P,
                                    (size_t)P * sizeof *col1);
        }

        /* backward weights: both ADD to the same nonzero start */
        float *dw0 = random_array(&r, nw), *db0 = random_array(&r, C);
        float *dw_ref = copy_of(dw0, nw), *db_ref = copy_of(db0, C);
        float *dw_blas = copy_of(dw0, nw), *db_blas = copy_of(db0, C);
        float *dw_fresh = filled(nw, 0.0f), *db_fresh = filled(C, 0.0f);
        cnn_conv_backward_weights_ref(dw_fresh, db_fresh, dout, in, N, &cs);
        cnn_conv_backward_weights_ref(dw_ref, db_ref, dout, in, N, &cs);
        cnn_conv_backward_weights_blas(dw_blas, db_blas, dout_cm, col, N, C, &cs);
        for (long i = 0; i < nw; i++)
            dw_fresh[i] += dw0[i]; /* what "added to dw0" must give */
        for (int i = 0; i < C; i++)
            db_fresh[i] += db0[i];
        snprintf(what, sizeof what, "conv dw ref N=%d %dx%d", N, H, W);
        assert_close(what, dw_ref, dw_fresh, nw);
        snprintf(what, sizeof what, "conv dw blas N=%d %dx%d", N, H, W);
        assert_close(what, dw_blas, dw_fresh, nw);
        snprintf(what, sizeof what, "conv db ref N=%d %dx%d", N, H, W);
        assert_close(what, db_ref, db_fresh, C);
        snprintf(what, sizeof what, "conv db blas N=%d %dx%d", N, H, W);
        assert_close(what, db_blas, db_fresh, C);

        /* backward input: both WRITE over different garbage */
        float *din_ref = filled(nin, GARBAGE), *din_blas = filled(nin, -GARBAGE);
        float *dcol = filled(ncol, GARBAGE);
        cnn_conv_backward_input_ref(din_ref, dout, w, N, &cs);
        cnn_conv_backward_input_blas(din_blas, dcol, dout_cm, w, N, &cs);
        snprintf(what, sizeof what, "conv din N=%d %dx%d K=%d C=%d", N, H, W, K, C);
        assert_close(what, din_blas, din_ref, nin);

        float *bufs[] = {in, w, b, dout, dout_cm, out_ref_cm, out_ref, out_blas, col, col1, dw0, db0, dw_ref,
                         db_ref, dw_blas, db_blas, dw_fresh, db_fresh, din_ref, din_blas, dcol};
        for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
            free(bufs[i]);
    }
}

/* ---- dense: blas against ref ---- */

typedef struct {
    int N, IN, OUT;
} dense_shape;

static const dense_shape dense_shapes[] = {
    {1, CNN_FLAT, CNN_CLASSES}, /* SGEMV / SGER branches */
    {3, CNN_FLAT, CNN_CLASSES},
    {16, CNN_FLAT, CNN_CLASSES},
    {1, 37, 5},
    {5, 37, 3},
};

static void test_dense_blas_matches_ref(void **state)
{
    (void)state;
    cnn_rng r;
    cnn_rng_seed(&r, 2);
    for (size_t s = 0; s < sizeof dense_shapes / sizeof dense_shapes[0]; s++) {
        const int N = dense_shapes[s].N, IN = dense_shapes[s].IN, OUT = dense_shapes[s].OUT;
        long nin = (long)N * IN, nout = (long)N * OUT, nw = (long)OUT * IN;
        char what[96];
        printf("dense N=%d IN=%d OUT=%d\n", N, IN, OUT);

        float *in = random_array(&r, nin), *w = random_array(&r, nw);
        float *b = random_array(&r, OUT), *dout = random_array(&r, nout);

        float *out_ref = filled(nout, GARBAGE), *out_blas = filled(nout, -GARBAGE);
        cnn_dense_forward_ref(out_ref, in, w, b, N, IN, OUT);
        cnn_dense_forward_blas(out_blas, in, w, b, N, IN, OUT);
        snprintf(what, sizeof what, "dense forward N=%d IN=%d OUT=%d", N, IN, OUT);
        assert_close(what, out_blas, out_ref, nout);

        float *dw0 = random_array(&r, nw), *db0 = random_array(&r, OUT);
        float *dw_ref = copy_of(dw0, nw), *db_ref = copy_of(db0, OUT);
        float *dw_blas = copy_of(dw0, nw), *db_blas = copy_of(db0, OUT);
        float *dw_fresh = filled(nw, 0.0f), *db_fresh = filled(OUT, 0.0f);
        cnn_dense_backward_weights_ref(dw_fresh, db_fresh, dout, in, N, IN, OUT);
        cnn_dense_backward_weights_ref(dw_ref, db_ref, dout, in, N, IN, OUT);
        cnn_dense_backward_weights_blas(dw_blas, db_blas, dout, in, N, IN, OUT);
        for (long i = 0; i < nw; i++)
            dw_fresh[i] += dw0[i];
        for (int i = 0; i < OUT; i++)
            db_fresh[i] += db0[i];
        snprintf(what, sizeof what, "dense dw ref N=%d IN=%d", N, IN);
        assert_close(what, dw_ref, dw_fresh, nw);
        snprintf(what, sizeof what, "dense dw blas N=%d IN=%d", N, IN);
        assert_close(what, dw_blas, dw_fresh, nw);
        snprintf(what, sizeof what, "dense db ref N=%d IN=%d", N, IN);
        assert_close(what, db_ref, db_fresh, OUT);
        snprintf(what, sizeof what, "dense db blas N=%d IN=%d", N, IN);
        assert_close(what, db_blas, db_fresh, OUT);

        float *din_ref = filled(nin, GARBAGE), *din_blas = filled(nin, -GARBAGE);
        cnn_dense_backward_input_ref(din_ref, dout, w, N, IN, OUT);
        cnn_dense_backward_input_blas(din_blas, dout, w, N, IN, OUT);
        snprintf(what, sizeof what, "dense din N=%d IN=%d OUT=%d", N, IN, OUT);
        assert_close(what, din_blas, din_ref, nin);

        float *bufs[] = {in, w, b, dout, out_ref, out_blas, dw0, db0, dw_ref, db_ref,
                         dw_blas, db_blas, dw_fresh, db_fresh, din_ref, din_blas};
        for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
            free(bufs[i]);
    }
}

/* ---- average pooling, by hand ---- */

/* A 4×4 map with 2 channels, written as two 4×4 grids and interleaved into
 * channels-last [i][j][c]. Channel 1 has one nonzero per window so that a
 * mix-up between channels or windows shows. */
static const float pool_c0[4][4] = {
    {0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 10, 11}, {12, 13, 14, 15}};
static const float pool_c1[4][4] = {
    {0, 0, 0, 0}, {4, 0, 8, 0}, {0, 0, 0, 0}, {12, 0, 16, 0}};

static void test_avgpool_forward_by_hand(void **state)
{
    (void)state;
    /* Two samples: the second is the first negated. */
    float in[2][4][4][2], out[2][2][2][2];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            in[0][i][j][0] = pool_c0[i][j];
            in[0][i][j][1] = pool_c1[i][j];
            in[1][i][j][0] = -pool_c0[i][j];
            in[1][i][j][1] = -pool_c1[i][j];
        }
    /* c0: (0+1+4+5)/4 = 2.5, (2+3+6+7)/4 = 4.5, (8+9+12+13)/4 = 10.5, 12.5;
     * c1: 4/4, 8/4, 12/4, 16/4. */
    static const float expect[2][2][2] = {{{2.5f, 1.0f}, {4.5f, 2.0f}},
                                          {{10.5f, 3.0f}, {12.5f, 4.0f}}};
    for (int i = 0; i < 16; i++)
        (&out[0][0][0][0])[i] = GARBAGE;
    cnn_avgpool_forward(&out[0][0][0][0], &in[0][0][0][0], 2, 4, 4, 2, 2);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            for (int c = 0; c < 2; c++) {
                assert_true(out[0][i][j][c] == expect[i][j][c]);
                assert_true(out[1][i][j][c] == -expect[i][j][c]);
            }
}

static void test_avgpool_backward_by_hand(void **state)
{
    (void)state;
    /* dout[2][2][2]: channel 0 = 4, 8, 12, 16; channel 1 = −1, −2, −3, −4. */
    static const float dout[2][2][2] = {{{4, -1}, {8, -2}}, {{12, -3}, {16, -4}}};
    static const float expect_c0[4][4] = {
        {1, 1, 2, 2}, {1, 1, 2, 2}, {3, 3, 4, 4}, {3, 3, 4, 4}};
    static const float expect_c1[4][4] = {{-0.25f, -0.25f, -0.5f, -0.5f},
                                          {-0.25f, -0.25f, -0.5f, -0.5f},
                                          {-0.75f, -0.75f, -1.0f, -1.0f},
                                          {-0.75f, -0.75f, -1.0f, -1.0f}};
    float din[4][4][2];
    for (int i = 0; i < 32; i++)
        (&din[0][0][0])[i] = GARBAGE; /* WRITE convention */
    cnn_avgpool_backward(&din[0][0][0], &dout[0][0][0], 1, 4, 4, 2, 2);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            assert_true(din[i][j][0] == expect_c0[i][j]);
            assert_true(din[i][j][1] == expect_c1[i][j]);
        }
}

/* ---- ReLU, by hand, including the kink ---- */

static void test_relu_by_hand(void **state)
{
    (void)state;
    static const float in[] = {-2.0f, -0.0f, 0.0f, 1e-30f, 3.0f, -1e-30f, 0.5f};
    static const float fwd[] = {0.0f, 0.0f, 0.0f, 1e-30f, 3.0f, 0.0f, 0.5f};
    static const float dout[] = {5.0f, 5.0f, 5.0f, 5.0f, -7.0f, 5.0f, 2.0f};
    static const float bwd[] = {0.0f, 0.0f, 0.0f, 5.0f, -7.0f, 0.0f, 2.0f};
    enum { n = sizeof in / sizeof in[0] };
    float out[n], din[n];
    for (int i = 0; i < n; i++)
        out[i] = din[i] = GARBAGE;
    cnn_relu_forward(out, in, n);
    cnn_relu_backward(din, dout, in, n);
    for (int i = 0; i < n; i++) {
        assert_true(out[i] == fwd[i]);
        assert_true(din[i] == bwd[i]); /* exactly 0 at x = 0 (§3.5) */
    }
}

/* ---- flatten ---- */

/* The seed's flatten is k = i·(W·C) + j·C + c on the pooled 12×12×15 map.
 * Build the pooled map through the real kernels — a conv whose filters only
 * pass tap (0,0) with bias f, on an input x[y][x] = 1000·⌊y/2⌋ + 10·⌊x/2⌋,
 * then the 2×2 pool — so pooled(i,j,c) = 1000i + 10j + c (all exact in
 * float). Then read it as a flat vector, directly and through the dense
 * layer with one-hot weight rows. */
static void test_flatten_is_channels_last(void **state)
{
    (void)state;
    const int H = CNN_IN_H, W = CNN_IN_W, K = CNN_KSIZE, C = CNN_FILTERS;
    float *x = filled(CNN_IN_SIZE, 0.0f), *w = filled(CNN_CONV_W_SIZE, 0.0f);
    float *b = alloc(C), *conv = alloc(CNN_CONV_SIZE), *flat = alloc(CNN_FLAT);
    for (int y = 0; y < CNN_CONV_H; y++)
        for (int xx = 0; xx < CNN_CONV_W; xx++)
            x[y * W + xx] = (float)(1000 * (y / 2) + 10 * (xx / 2));
    for (int f = 0; f < C; f++) {
        w[f * K * K] = 1.0f;
        b[f] = (float)f;
    }
    const cnn_conv_shape cs = cnn_conv_shape_make(1, H, W, C, K, 0, 1);
    cnn_conv_forward_ref(conv, x, w, b, 1, &cs);
    cnn_avgpool_forward(flat, conv, 1, CNN_CONV_H, CNN_CONV_W, C, 2);

    static const int ijc[][3] = {{0, 0, 0}, {0, 0, 14}, {0, 1, 0}, {1, 0, 0}, {3, 7, 5},
                                 {11, 0, 9}, {0, 11, 2}, {11, 11, 14}, {6, 6, 6}};
    enum { S = sizeof ijc / sizeof ijc[0] };
    float *fc_w = filled((long)S * CNN_FLAT, 0.0f), *fc_b = filled(S, 0.0f), y[S];
    for (int s = 0; s < S; s++) {
        int i = ijc[s][0], j = ijc[s][1], c = ijc[s][2];
        int k = i * (CNN_POOL_W * C) + j * C + c;
        float expect = (float)(1000 * i + 10 * j + c);
        assert_true(flat[k] == expect);
        fc_w[(long)s * CNN_FLAT + k] = 1.0f;
    }
    cnn_dense_forward_ref(y, flat, fc_w, fc_b, 1, CNN_FLAT, S);
    for (int s = 0; s < S; s++)
        assert_true(y[s] == (float)(1000 * ijc[s][0] + 10 * ijc[s][1] + ijc[s][2]));

    float *bufs[] = {x, w, b, conv, flat, fc_w, fc_b};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
}

/* ---- softmax + cross-entropy ---- */

enum { SM_N = 4, SM_OUT = CNN_CLASSES };

static void test_softmax_sums_to_one_and_matches_loss(void **state)
{
    (void)state;
    cnn_rng r;
    cnn_rng_seed(&r, 3);
    float z[SM_N * SM_OUT], p[SM_N * SM_OUT], d[SM_N * SM_OUT];
    uint8_t labels[SM_N] = {0, 9, 3, 3};
    for (int i = 0; i < SM_N * SM_OUT; i++)
        z[i] = cnn_rng_uniform(&r, -5.0f, 5.0f);
    double loss = cnn_softmax_xent_forward(p, z, labels, SM_N, SM_OUT);
    double expect_loss = 0.0;
    for (int n = 0; n < SM_N; n++) {
        double sum = 0.0;
        for (int o = 0; o < SM_OUT; o++) {
            assert_true(p[n * SM_OUT + o] > 0.0f && p[n * SM_OUT + o] < 1.0f);
            sum += p[n * SM_OUT + o];
        }
        assert_true(fabs(sum - 1.0) < 1e-6);
        expect_loss -= log((double)p[n * SM_OUT + labels[n]]);
    }
    assert_true(fabs(loss - expect_loss) < 1e-5 * expect_loss);

    /* dlogits = scale·(σ − y): rows sum to 0, and scale scales */
    float d1[SM_N * SM_OUT];
    cnn_softmax_xent_backward(d1, p, labels, SM_N, SM_OUT, 1.0f);
    cnn_softmax_xent_backward(d, p, labels, SM_N, SM_OUT, 0.25f);
    for (int n = 0; n < SM_N; n++) {
        double sum = 0.0;
        for (int o = 0; o < SM_OUT; o++) {
            int i = n * SM_OUT + o;
            sum += d1[i];
            assert_true(fabsf(d1[i] - (p[i] - (o == labels[n] ? 1.0f : 0.0f))) < 1e-7f);
            assert_true(fabsf(d[i] - 0.25f * d1[i]) < 1e-7f);
        }
        assert_true(fabs(sum) < 1e-6);
    }
}

static void test_softmax_shift_invariant(void **state)
{
    (void)state;
    cnn_rng r;
    cnn_rng_seed(&r, 4);
    static const float shifts[] = {50.0f, -30.0f, 1000.0f};
    float z[SM_N * SM_OUT], zs[SM_N * SM_OUT], p[SM_N * SM_OUT], ps[SM_N * SM_OUT];
    uint8_t labels[SM_N] = {1, 2, 5, 8};
    for (int i = 0; i < SM_N * SM_OUT; i++)
        z[i] = cnn_rng_uniform(&r, -3.0f, 3.0f);
    double loss = cnn_softmax_xent_forward(p, z, labels, SM_N, SM_OUT);
    for (size_t s = 0; s < sizeof shifts / sizeof shifts[0]; s++) {
        for (int i = 0; i < SM_N * SM_OUT; i++)
            zs[i] = z[i] + shifts[s];
        double loss_s = cnn_softmax_xent_forward(ps, zs, labels, SM_N, SM_OUT);
        /* float(z + shift) rounds z by up to ulp(shift)/2 ≈ 3e-5 at 1000 */
        float tol = shifts[s] > 100.0f ? 1e-4f : 1e-5f;
        for (int i = 0; i < SM_N * SM_OUT; i++)
            assert_true(fabsf(ps[i] - p[i]) < tol);
        assert_true(fabs(loss_s - loss) < 10.0 * tol * SM_N);
    }
}

static void test_softmax_huge_logits_finite(void **state)
{
    (void)state;
    /* Sample 0: a confident right answer; sample 1: a confident wrong one
     * (loss 2e4); sample 2: all huge and equal (loss log 10). */
    float z[3 * SM_OUT], p[3 * SM_OUT];
    for (int o = 0; o < SM_OUT; o++) {
        z[o] = o == 0 ? 1e4f : -1e4f;
        z[SM_OUT + o] = o == 0 ? 1e4f : -1e4f;
        z[2 * SM_OUT + o] = 1e4f;
    }
    uint8_t labels[3] = {0, 7, 4};
    double loss = cnn_softmax_xent_forward(p, z, labels, 3, SM_OUT);
    assert_true(isfinite(loss));
    for (int i = 0; i < 3 * SM_OUT; i++)
        assert_true(isfinite(p[i]) && p[i] >= 0.0f && p[i] <= 1.0f);
    assert_true(p[0] == 1.0f && p[SM_OUT] == 1.0f);
    assert_true(fabs(p[2 * SM_OUT] - 0.1) < 1e-6);
    assert_true(fabs(loss - (2e4 + log(10.0))) < 1e-2);
}

/* ---- fused bias + ReLU + avgpool (blas path) against the three ref steps ---- */

static void test_fused_matches_ref(void **state)
{
    (void)state;
    static const int shapes[][4] = {{3, CNN_CONV_H, CNN_CONV_W, CNN_FILTERS}, {2, 6, 4, 5}};
    cnn_rng r;
    cnn_rng_seed(&r, 21);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int N = shapes[s][0], H = shapes[s][1], W = shapes[s][2], C = shapes[s][3];
        const long nz = (long)N * H * W * C, np = nz / 4;
        printf("fused N=%d H=%d W=%d C=%d\n", N, H, W, C);
        float *z = random_array(&r, nz), *b = random_array(&r, C), *dout = random_array(&r, np);
        float *zb = alloc(nz), *act = alloc(nz), *dact = alloc(nz);
        float *z_cm = alloc(nz), *dz_ref_cm = alloc(nz); /* the fused pass's layout */
        to_channel_major(z_cm, z, N, (long)H * W, C);
        for (long i = 0; i < nz; i++)
            zb[i] = z[i] + b[i % C];

        float *p_ref = filled(np, GARBAGE), *p_fused = filled(np, -GARBAGE);
        cnn_relu_forward(act, zb, nz);
        cnn_avgpool_forward(p_ref, act, N, H, W, C, 2);
        cnn_bias_relu_avgpool_forward(p_fused, z_cm, b, N, H, W, C, 0);
        assert_close("fused forward", p_fused, p_ref, np);

        /* backward: dz written, db added to a non-zero start */
        float *dz_ref = filled(nz, GARBAGE), *dz_fused = filled(nz, -GARBAGE);
        float *db_start = random_array(&r, C), *db_ref = copy_of(db_start, C);
        float *db_fused = copy_of(db_start, C);
        cnn_avgpool_backward(dact, dout, N, H, W, C, 2);
        cnn_relu_backward(dz_ref, dact, zb, nz);
        for (long i = 0; i < nz; i++)
            db_ref[i % C] += dz_ref[i];
        cnn_bias_relu_avgpool_backward(dz_fused, db_fused, dout, z_cm, b, N, H, W, C, 0);
        to_channel_major(dz_ref_cm, dz_ref, N, (long)H * W, C);
        assert_close("fused backward dz", dz_fused, dz_ref_cm, nz);
        assert_close("fused backward db", db_fused, db_ref, C);
        double moved = 0.0;
        for (int c = 0; c < C; c++)
            moved += fabs((double)db_fused[c] - db_start[c]);
        assert_true(moved > 1e-3); /* it added something */

        void *bufs[] = {z, z_cm, dz_ref_cm, b, dout, zb, act, dact, p_ref, p_fused, dz_ref, dz_fused,
                        db_start, db_ref, db_fused};
        for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
            free(bufs[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_blas_matches_ref),
        cmocka_unit_test(test_dense_blas_matches_ref),
        cmocka_unit_test(test_fused_matches_ref),
        cmocka_unit_test(test_avgpool_forward_by_hand),
        cmocka_unit_test(test_avgpool_backward_by_hand),
        cmocka_unit_test(test_relu_by_hand),
        cmocka_unit_test(test_flatten_is_channels_last),
        cmocka_unit_test(test_softmax_sums_to_one_and_matches_loss),
        cmocka_unit_test(test_softmax_shift_invariant),
        cmocka_unit_test(test_softmax_huge_logits_finite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
