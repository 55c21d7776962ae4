/* test_layers.c — the kernels of cnn_layers.h other than convolution and
 * pooling (test_conv.c, test_pool.c, test_im2col.c): the dense layer, blas
 * against ref at the seed's shapes (N = 1 takes the SGEMV/SGER branches)
 * and at small odd ones, with the conventions (backward ADDS into dw/db,
 * WRITES din); ReLU and softmax + cross-entropy against values worked out
 * by hand; the two layout changes between CN and NC by hand; and the
 * channels-last layout that makes the seed's flatten the identity.
 * Gradients proper are in test_gradcheck.c and test_gradcheck_dense.c. */
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
#include "seed_shapes.h"
#include "testutil.h"

/* ---- dense: blas against ref ---- */

typedef struct {
    int N, IN, OUT;
} dense_shape;

static void test_dense_blas_matches_ref(void **state)
{
    (void)state;
    const seed_shapes sd = seed_shapes_get();
    const dense_shape dense_shapes[] = {
        {1, sd.flat, sd.classes}, /* the seed's; N = 1: SGEMV / SGER branches */
        {3, sd.flat, sd.classes},
        {16, sd.flat, sd.classes},
        {1, 37, 5},
        {5, 37, 3},
        {17, 400, 120}, /* LeNet-5's dense stack */
        {7, 120, 84},
        {1, 84, 10},
    };
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

/* The seed's flatten is k = i·(W·C) + j·C + c on the pooled map (12×12×15).
 * Build the pooled map through the real kernels — a conv whose filters only
 * pass tap (0,0) with bias f, on an input x[y][x] = 10000·⌊y/2⌋ + 100·⌊x/2⌋,
 * then the 2×2 pool — so pooled(i,j,c) = 10000i + 100j + c, a different
 * value at each (i, j, c) (all exact in float). Then read it as a flat
 * vector, directly and through the dense layer with one-hot weight rows. */
static void test_flatten_is_channels_last(void **state)
{
    (void)state;
    const seed_shapes sd = seed_shapes_get();
    const cnn_conv_shape cs = sd.conv;
    const int W = cs.W, K = cs.K, C = cs.F, PH = sd.pool_h, PW = sd.pool_w, FLAT = sd.flat;
    /* what the construction assumes: one channel, valid, stride 1, 2×2 pool */
    assert_int_equal(cs.C, 1);
    assert_int_equal(cs.P, 0);
    assert_int_equal(cs.S, 1);
    assert_int_equal(2 * PH, cs.OH);
    assert_int_equal(2 * PW, cs.OW);
    assert_int_equal(FLAT, PH * PW * C);
    float *x = filled(sd.in_size, 0.0f), *w = filled(sd.conv_w_size, 0.0f);
    float *b = alloc(C), *conv = alloc(sd.conv_size), *flat = alloc(FLAT);
    for (int y = 0; y < cs.OH; y++)
        for (int xx = 0; xx < cs.OW; xx++)
            x[y * W + xx] = (float)(10000 * (y / 2) + 100 * (xx / 2));
    for (int f = 0; f < C; f++) {
        w[f * K * K] = 1.0f;
        b[f] = (float)f;
    }
    cnn_conv_forward_ref(conv, x, w, b, 1, &cs);
    cnn_avgpool_forward(flat, conv, 1, cs.OH, cs.OW, C, 2);

    /* corners, the last channel, and a few inside */
    const int ijc[][3] = {{0, 0, 0},      {0, 0, C - 1},  {0, 1, 0},
                          {1, 0, 0},      {3, 7, 5},      {PH - 1, 0, 9},
                          {0, PW - 1, 2}, {PH - 1, PW - 1, C - 1}, {6, 6, 6}};
    enum { S = sizeof ijc / sizeof ijc[0] };
    float *fc_w = filled((long)S * FLAT, 0.0f), *fc_b = filled(S, 0.0f), y[S];
    for (int s = 0; s < S; s++) {
        int i = ijc[s][0], j = ijc[s][1], c = ijc[s][2];
        int k = i * (PW * C) + j * C + c;
        float expect = (float)(10000 * i + 100 * j + c);
        assert_true(flat[k] == expect);
        fc_w[(long)s * FLAT + k] = 1.0f;
    }
    cnn_dense_forward_ref(y, flat, fc_w, fc_b, 1, FLAT, S);
    for (int s = 0; s < S; s++)
        assert_true(y[s] == (float)(10000 * ijc[s][0] + 100 * ijc[s][1] + ijc[s][2]));

    float *bufs[] = {x, w, b, conv, flat, fc_w, fc_b};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
}

/* ---- softmax + cross-entropy ---- */

/* ten outputs, as the worked values below take (labels up to 9, p = 1/10) */
enum { SM_N = 4, SM_OUT = 10 };

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

/* ---- layout changes, by hand ---- */

/* N = 2 samples of P = 2 positions and C = 3 channels, each value naming
 * itself: 100·n + 10·p + c. */
static void test_layout_by_hand(void **state)
{
    (void)state;
    static const float nc[12] = {0, 1, 2, 10, 11, 12, 100, 101, 102, 110, 111, 112};
    static const float cn[12] = {0, 10, 100, 110, 1, 11, 101, 111, 2, 12, 102, 112};
    float out[12];
    for (int i = 0; i < 12; i++)
        out[i] = GARBAGE;
    cnn_nc_to_cn(out, nc, 2, 2, 3);
    assert_memory_equal(out, cn, sizeof out);
    for (int i = 0; i < 12; i++)
        out[i] = GARBAGE;
    cnn_cn_to_nc(out, cn, 2, 2, 3);
    assert_memory_equal(out, nc, sizeof out);

    /* a larger round trip, odd sizes: the two are each other's inverse */
    cnn_rng r;
    cnn_rng_seed(&r, 5);
    const int N = 3, C = 17;
    const long P = 25, n = N * P * C;
    float *a = random_array(&r, n), *b = filled(n, GARBAGE), *c = filled(n, GARBAGE);
    cnn_nc_to_cn(b, a, N, P, C);
    cnn_cn_to_nc(c, b, N, P, C);
    assert_memory_equal(c, a, (size_t)n * sizeof *a);
    assert_true(b[5 * N * P + 2 * P + 7] == a[(2 * P + 7) * C + 5]); /* c 5, n 2, p 7 */
    FREE_ALL(a, b, c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_blas_matches_ref),
        cmocka_unit_test(test_layout_by_hand),
        cmocka_unit_test(test_relu_by_hand),
        cmocka_unit_test(test_flatten_is_channels_last),
        cmocka_unit_test(test_softmax_sums_to_one_and_matches_loss),
        cmocka_unit_test(test_softmax_shift_invariant),
        cmocka_unit_test(test_softmax_huge_logits_finite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
