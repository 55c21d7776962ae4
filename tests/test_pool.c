/* test_pool.c — pooling and the fused bias+ReLU+avgpool pass (cnn_layers.h).
 * Average and max pooling, forward and backward, by hand for Z = 2 and 3
 * with two channels (so a mix-up between channels or windows shows); the
 * max-pooling tie rule (first maximum in row-major order takes the whole
 * gradient) and its NaN rule by hand; every pool on a channel-major map
 * through the (N·C, H, W, 1) trick, which must give bit for bit the NC
 * result; and the fused pass, in both output layouts, against the
 * composition of the three ref steps it replaces, on the seed's shape and
 * on odd channel counts. Gradients proper are in test_gradcheck.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>

#include "cnn.h"
#include "cnn_layers.h"
#include "cnn_rng.h"
#include "seed_shapes.h"
#include "testutil.h"

/* ---- average pooling, by hand ---- */

/* A 4×4 map with 2 channels, written as two 4×4 grids and interleaved into
 * channels-last [i][j][c]. Channel 1 has one nonzero per window. */
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

    /* Z = 3 on a 6×3 map: channel 0 holds 0..17 row by row, so the windows
     * average 0..8 and 9..17; channel 1 has 9 in the first, 18 in the second. */
    float in3[6][3][2], out3[2][1][2];
    for (int t = 0; t < 18; t++) {
        in3[t / 3][t % 3][0] = (float)t;
        in3[t / 3][t % 3][1] = 0.0f;
    }
    in3[1][1][1] = 9.0f;
    in3[4][2][1] = 18.0f;
    cnn_avgpool_forward(&out3[0][0][0], &in3[0][0][0], 1, 6, 3, 2, 3);
    assert_true(out3[0][0][0] == 4.0f && out3[1][0][0] == 13.0f);
    assert_true(out3[0][0][1] == 1.0f && out3[1][0][1] == 2.0f);
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

    /* Z = 3, 6×3, 2 channels: each input gets its window's dout / 9 */
    static const float dout3[2][1][2] = {{{9.0f, -18.0f}}, {{27.0f, 4.5f}}};
    float din3[6][3][2];
    for (int i = 0; i < 36; i++)
        (&din3[0][0][0])[i] = GARBAGE;
    cnn_avgpool_backward(&din3[0][0][0], &dout3[0][0][0], 1, 6, 3, 2, 3);
    for (int y = 0; y < 6; y++)
        for (int x = 0; x < 3; x++) {
            assert_true(din3[y][x][0] == (y < 3 ? 1.0f : 3.0f));
            assert_true(din3[y][x][1] == (y < 3 ? -2.0f : 0.5f));
        }
}

/* ---- max pooling, by hand ---- */

/* 4×4, two channels, Z = 2. Channel 0 has one clear maximum per window
 * except the last (all 6); channel 1 is made of ties. */
static const float max_c0[4][4] = {{1, 5, 2, 0}, {3, 4, 8, 7}, {-1, -2, 6, 6}, {-3, -4, 6, 6}};
static const float max_c1[4][4] = {{7, 7, 0, 1}, {7, 7, 1, 0}, {-5, -5, 2, 9}, {-5, -2, 9, 9}};

static void test_maxpool_by_hand(void **state)
{
    (void)state;
    float in[4][4][2], out[2][2][2], din[4][4][2];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            in[i][j][0] = max_c0[i][j];
            in[i][j][1] = max_c1[i][j];
        }
    static const float expect[2][2][2] = {{{5, 7}, {8, 1}}, {{-1, -2}, {6, 9}}};
    for (int i = 0; i < 8; i++)
        (&out[0][0][0])[i] = GARBAGE;
    cnn_maxpool_forward(&out[0][0][0], &in[0][0][0], 1, 4, 4, 2, 2);
    assert_memory_equal(out, expect, sizeof out);

    /* The gradient goes to the arg-max: channel 0 to (0,1) (1,2) (2,0) and,
     * in the window of 6s, to its first element (2,2); channel 1 (all ties
     * but one) to (0,0), to (0,3) before (1,2), to (3,1), and to (2,3)
     * before (3,2) and (3,3). */
    static const float dout[2][2][2] = {{{10, -1}, {20, -2}}, {{30, -3}, {40, -4}}};
    static const float expect_c0[4][4] = {{0, 10, 0, 0}, {0, 0, 20, 0}, {30, 0, 40, 0}, {0}};
    static const float expect_c1[4][4] = {{-1, 0, 0, -2}, {0, 0, 0, 0}, {0, 0, 0, -4},
                                          {0, -3, 0, 0}};
    for (int i = 0; i < 32; i++)
        (&din[0][0][0])[i] = GARBAGE; /* WRITE convention */
    cnn_maxpool_backward(&din[0][0][0], &dout[0][0][0], &in[0][0][0], 1, 4, 4, 2, 2);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            if (din[i][j][0] != expect_c0[i][j] || din[i][j][1] != expect_c1[i][j])
                fail_msg("maxpool din at (%d,%d): %g %g, expected %g %g", i, j,
                         (double)din[i][j][0], (double)din[i][j][1], (double)expect_c0[i][j],
                         (double)expect_c1[i][j]);
        }
}

/* The documented tie rule, window by window: the first maximum in row-major
 * order (smallest row, then smallest column) takes all of the gradient.
 * One channel, 3×3 windows side by side in a 3×12 map; in each, the two
 * tying maxima are placed so that "smallest column first" or "last wins"
 * would pick the other one. Then the NaN rule. */
static void test_maxpool_tie_rule(void **state)
{
    (void)state;
    enum { Z = 3, NW = 4, W = Z * NW };
    /* window w, row k, column l */
    static const float win[NW][Z][Z] = {
        {{1, 1, 1}, {1, 1, 1}, {1, 1, 1}}, /* all equal: (0,0) */
        {{0, 0, 5}, {5, 0, 0}, {0, 0, 5}}, /* (0,2) before (1,0): the row decides */
        {{0, 0, 0}, {0, 4, 4}, {4, 0, 0}}, /* (1,1) before (1,2) and (2,0) */
        {{-3, -1, -2}, {-1, -5, -1}, {-9, -9, -1}}, /* negatives: (0,1) */
    };
    static const int first[NW][2] = {{0, 0}, {0, 2}, {1, 1}, {0, 1}};
    float in[Z][W], din[Z][W], out[NW], dout[NW] = {1, 2, 3, 4};
    for (int w = 0; w < NW; w++)
        for (int k = 0; k < Z; k++)
            for (int l = 0; l < Z; l++)
                in[k][w * Z + l] = win[w][k][l];
    cnn_maxpool_forward(out, &in[0][0], 1, Z, W, 1, Z);
    cnn_maxpool_backward(&din[0][0], dout, &in[0][0], 1, Z, W, 1, Z);
    for (int w = 0; w < NW; w++) {
        assert_true(out[w] == win[w][first[w][0]][first[w][1]]);
        for (int k = 0; k < Z; k++)
            for (int l = 0; l < Z; l++) {
                float expect = k == first[w][0] && l == first[w][1] ? dout[w] : 0.0f;
                if (din[k][w * Z + l] != expect)
                    fail_msg("tie rule, window %d: din(%d,%d) = %g, expected %g", w, k, l,
                             (double)din[k][w * Z + l], (double)expect);
            }
    }

    /* −0 and +0 tie: the first (−0) is the max, bit for bit */
    float zeros[4] = {-0.0f, 0.0f, -1.0f, -1.0f}, zout, zdin[4], one = 1.0f;
    cnn_maxpool_forward(&zout, zeros, 1, 2, 2, 1, 2);
    assert_true(zout == 0.0f && signbit(zout));
    cnn_maxpool_backward(zdin, &one, zeros, 1, 2, 2, 1, 2);
    assert_true(zdin[0] == 1.0f && zdin[1] == 0.0f);

    /* NaN: never taken over a number; a window of NaNs gives its first */
    const float nan = NAN;
    /* 2×4 map, Z = 2: windows {NaN, 1, NaN, 3} and {0.5, NaN, 2, NaN} */
    float nin[2][4] = {{nan, 1.0f, 0.5f, nan}, {nan, 3.0f, 2.0f, nan}};
    float nout[2], ndin[2][4], nd[2] = {5.0f, 6.0f};
    cnn_maxpool_forward(nout, &nin[0][0], 1, 2, 4, 1, 2);
    assert_true(nout[0] == 3.0f && nout[1] == 2.0f);
    cnn_maxpool_backward(&ndin[0][0], nd, &nin[0][0], 1, 2, 4, 1, 2);
    static const float nexpect[2][4] = {{0, 0, 0, 0}, {0, 5, 6, 0}};
    assert_memory_equal(ndin, nexpect, sizeof ndin);
    float all_nan[4] = {nan, nan, nan, nan}, an_out, an_din[4];
    cnn_maxpool_forward(&an_out, all_nan, 1, 2, 2, 1, 2);
    assert_true(isnan(an_out));
    cnn_maxpool_backward(an_din, &one, all_nan, 1, 2, 2, 1, 2);
    assert_true(an_din[0] == 1.0f && an_din[1] == 0.0f && an_din[2] == 0.0f &&
                an_din[3] == 0.0f);
}

/* ---- NC and CN: a CN map is N·C one-channel maps ---- */

static void test_pools_nc_and_cn(void **state)
{
    (void)state;
    static const int shapes[][5] = {/* N, H, W, C, Z */
                                    {3, 24, 24, 15, 2}, {2, 6, 9, 3, 3}, {5, 4, 4, 16, 2},
                                    {1, 8, 8, 17, 2},   {3, 6, 6, 1, 3}, {2, 12, 12, 6, 4}};
    cnn_rng r;
    cnn_rng_seed(&r, 40);
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        const int N = shapes[t][0], H = shapes[t][1], W = shapes[t][2], C = shapes[t][3];
        const int Z = shapes[t][4];
        const long HW = (long)H * W, PP = (long)(H / Z) * (W / Z), nin = N * HW * C;
        const long nout = N * PP * C;
        printf("pools NC vs CN N=%d %dx%d C=%d Z=%d\n", N, H, W, C, Z);
        float *x = random_array(&r, nin), *x_cn = alloc(nin), *d = random_array(&r, nout);
        float *d_cn = alloc(nout), *o_nc = alloc(nout), *o_cn = alloc(nout), *o = alloc(nout);
        float *g_nc = alloc(nin), *g_cn = alloc(nin), *g = alloc(nin);
        cnn_nc_to_cn(x_cn, x, N, HW, C);
        cnn_nc_to_cn(d_cn, d, N, PP, C);
        for (int kind = 0; kind < 2; kind++) {
            if (kind == 0) {
                cnn_avgpool_forward(o_nc, x, N, H, W, C, Z);
                cnn_avgpool_forward(o_cn, x_cn, N * C, H, W, 1, Z);
                cnn_avgpool_backward(g_nc, d, N, H, W, C, Z);
                cnn_avgpool_backward(g_cn, d_cn, N * C, H, W, 1, Z);
            } else {
                cnn_maxpool_forward(o_nc, x, N, H, W, C, Z);
                cnn_maxpool_forward(o_cn, x_cn, N * C, H, W, 1, Z);
                cnn_maxpool_backward(g_nc, d, x, N, H, W, C, Z);
                cnn_maxpool_backward(g_cn, d_cn, x_cn, N * C, H, W, 1, Z);
            }
            cnn_cn_to_nc(o, o_cn, N, PP, C);
            cnn_cn_to_nc(g, g_cn, N, HW, C);
            assert_memory_equal(o, o_nc, (size_t)nout * sizeof *o);
            assert_memory_equal(g, g_nc, (size_t)nin * sizeof *g);
        }
        FREE_ALL(x, x_cn, d, d_cn, o_nc, o_cn, o, g_nc, g_cn, g);
    }
}

/* ---- fused bias + ReLU + avgpool against the three ref steps ---- */

static void fused_case(int N, int H, int W, int C, int out_cn, cnn_rng *r)
{
    const long HW = (long)H * W, PP = HW / 4, nz = N * HW * C, np = N * PP * C;
    printf("fused N=%d %dx%d C=%d out_cn=%d\n", N, H, W, C, out_cn);
    float *z = random_array(r, nz), *b = random_array(r, C), *dout = random_array(r, np);
    float *z_cn = alloc(nz), *zb = alloc(nz), *act = alloc(nz), *dact = alloc(nz);
    cnn_nc_to_cn(z_cn, z, N, HW, C); /* the fused pass's input layout */
    for (long i = 0; i < nz; i++)
        zb[i] = z[i] + b[i % C]; /* as cnn_conv_forward_ref adds it */

    /* forward: ref NC, fused in the layout asked for */
    float *p_ref = filled(np, GARBAGE), *p_fused = filled(np, -GARBAGE), *p = alloc(np);
    cnn_relu_forward(act, zb, nz);
    cnn_avgpool_forward(p_ref, act, N, H, W, C, 2);
    cnn_bias_relu_avgpool_forward(p_fused, z_cn, b, N, H, W, C, out_cn);
    if (out_cn)
        cnn_cn_to_nc(p, p_fused, N, PP, C);
    else
        memcpy(p, p_fused, (size_t)np * sizeof *p);
    assert_close("fused forward", p, p_ref, np);

    /* backward: dout in the forward's output layout; dz written (CN), db added */
    float *dout_in = alloc(np), *dz_ref = filled(nz, GARBAGE), *dz_fused = filled(nz, -GARBAGE);
    float *dz = alloc(nz), *db_start = random_array(r, C), *db_ref = copy_of(db_start, C);
    float *db_fused = copy_of(db_start, C);
    if (out_cn)
        cnn_nc_to_cn(dout_in, dout, N, PP, C);
    else
        memcpy(dout_in, dout, (size_t)np * sizeof *dout);
    cnn_avgpool_backward(dact, dout, N, H, W, C, 2);
    cnn_relu_backward(dz_ref, dact, zb, nz);
    for (long i = 0; i < nz; i++)
        db_ref[i % C] += dz_ref[i];
    cnn_bias_relu_avgpool_backward(dz_fused, db_fused, dout_in, z_cn, b, N, H, W, C, out_cn);
    cnn_cn_to_nc(dz, dz_fused, N, HW, C);
    assert_close("fused backward dz", dz, dz_ref, nz);
    assert_close("fused backward db", db_fused, db_ref, C);
    double moved = 0.0;
    for (int c = 0; c < C; c++)
        moved += fabs((double)db_fused[c] - db_start[c]);
    assert_true(moved > 1e-3); /* it added something */
    FREE_ALL(z, b, dout, z_cn, zb, act, dact, p_ref, p_fused, p, dout_in, dz_ref, dz_fused, dz,
             db_start, db_ref, db_fused);
}

static void test_fused_matches_ref(void **state)
{
    (void)state;
    const cnn_conv_shape seed = seed_shapes_get().conv; /* its output is the map pooled */
    const int shapes[][4] = {/* N, H, W, C */
                             {CNN_SLICE, seed.OH, seed.OW, seed.F},
                             {3, seed.OH, seed.OW, seed.F},
                             {2, 6, 4, 5}, {1, 8, 8, 1}, {5, 10, 6, 3},
                             {3, 4, 4, 16}, {2, 8, 8, 17}, {1, 2, 2, 33}};
    cnn_rng r;
    cnn_rng_seed(&r, 21);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int out_cn = 0; out_cn < 2; out_cn++)
            fused_case(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], out_cn, &r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_avgpool_forward_by_hand),
        cmocka_unit_test(test_avgpool_backward_by_hand),
        cmocka_unit_test(test_maxpool_by_hand),
        cmocka_unit_test(test_maxpool_tie_rule),
        cmocka_unit_test(test_pools_nc_and_cn),
        cmocka_unit_test(test_fused_matches_ref),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
