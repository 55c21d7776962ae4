/* test_im2col.c — the lowering behind the blas convolution (cnn_layers.h),
 * with channels, zero padding and stride. im2col must lay out column
 * p = i·OW + j as the C×K×K patch at (i, j), rows in (c, k, l) order, with
 * 0 in the padding: checked on hand-made images (square and not, so that H
 * and W cannot be swapped unnoticed; padded; strided; two channels whose
 * planes are not adjacent, so the plane stride is honoured). col2im must be
 * its exact adjoint, ⟨im2col(x), y⟩ = ⟨x, col2im(y)⟩, which is what makes the
 * blas input gradient equal §3.6; and col2im of all ones must count the
 * patches covering each pixel. Both must write exactly their own block:
 * all of it, nothing outside (cols side by side with ld > P, planes with
 * gaps between them). */
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

typedef struct {
    int C, H, W, K, P, S;
} lowering;

static lowering shapes[] = {
    {0},                                      /* the seed network's: setup() */
    {1, 9, 7, 3, 0, 1},                       /* odd, non-square */
    {1, 5, 8, 5, 0, 1},                       /* a single row of patches */
    {1, 6, 4, 1, 0, 1},                       /* 1×1: im2col is a copy */
    {3, 9, 7, 3, 1, 1},                       /* channels, "same" padding */
    {2, 10, 9, 3, 1, 2},                      /* stride 2 with padding */
    {2, 11, 11, 3, 2, 3},                     /* stride 3: pixels no patch reads */
    {4, 8, 8, 2, 0, 2},                       /* stride = kernel */
    {2, 3, 3, 5, 1, 1},                       /* kernel = padded map */
    {1, 2, 3, 5, 2, 2},                       /* kernel larger than the map */
};
enum { NSHAPES = sizeof shapes / sizeof shapes[0] };

/* The seed's convolution, from the parsed arch. */
static int setup(void **state)
{
    (void)state;
    const cnn_conv_shape s = seed_shapes_get().conv;
    const lowering seed = {s.C, s.H, s.W, s.K, s.P, s.S};
    shapes[0] = seed;
    return 0;
}

static cnn_conv_shape conv_of(const lowering *l)
{
    return cnn_conv_shape_make(l->C, l->H, l->W, 1, l->K, l->P, l->S);
}

/* ---- by hand ---- */

/* img: C planes of H×W, `plane` floats apart, pixel t of plane c holding
 * vals(c, t) (0 never, so that 0 in col means padding). `expect` is written
 * one patch per line (patch p, tap r = (c·K + k)·K + l at expect[p·CKK + r]),
 * which is col read column by column: col[r][p]. */
static void check_patches(const cnn_conv_shape *s, long plane, const float *img,
                          const float *expect)
{
    const long P = (long)s->OH * s->OW, CKK = (long)s->C * s->K * s->K;
    float *col = filled(CKK * P, GARBAGE);
    cnn_im2col(col, P, img, plane, s);
    for (long p = 0; p < P; p++)
        for (long r = 0; r < CKK; r++)
            if (col[r * P + p] != expect[p * CKK + r])
                fail_msg("C=%d %dx%d K=%d P=%d S=%d: patch %ld, tap %ld is %g, expected %g",
                         s->C, s->H, s->W, s->K, s->P, s->S, p, r, (double)col[r * P + p],
                         (double)expect[p * CKK + r]);
    free(col);
}

/* One channel, pixel t = t + base. */
static void check_one(int H, int W, int K, int P, int S, float base, const float *expect)
{
    const cnn_conv_shape s = cnn_conv_shape_make(1, H, W, 1, K, P, S);
    float *img = alloc((long)H * W);
    for (int t = 0; t < H * W; t++)
        img[t] = (float)t + base;
    check_patches(&s, (long)H * W, img, expect);
    free(img);
}

static void test_im2col_by_hand(void **state)
{
    (void)state;
    /*  0  1  2  3
     *  4  5  6  7
     *  8  9 10 11
     * 12 13 14 15   K = 3: four patches, p = i·2 + j */
    static const float e_4x4[4 * 9] = {
        0, 1, 2, 4, 5, 6, 8, 9, 10,     /* (0,0) */
        1, 2, 3, 5, 6, 7, 9, 10, 11,    /* (0,1) */
        4, 5, 6, 8, 9, 10, 12, 13, 14,  /* (1,0) */
        5, 6, 7, 9, 10, 11, 13, 14, 15, /* (1,1) */
    };
    check_one(4, 4, 3, 0, 1, 0.0f, e_4x4);

    /* 0  1  2  3
     * 4  5  6  7
     * 8  9 10 11   H = 3, W = 4, K = 2: OH = 2, OW = 3 */
    static const float e_3x4[6 * 4] = {
        0, 1, 4, 5,  1, 2, 5, 6,  2, 3, 6, 7,    /* (0,0) (0,1) (0,2) */
        4, 5, 8, 9,  5, 6, 9, 10, 6, 7, 10, 11,  /* (1,0) (1,1) (1,2) */
    };
    check_one(3, 4, 2, 0, 1, 0.0f, e_3x4);

    /* 1 2 3
     * 4 5 6
     * 7 8 9   K = 3, P = 1: nine patches, 0 where they hang over the edge */
    static const float e_pad[9 * 9] = {
        0, 0, 0, 0, 1, 2, 0, 4, 5,  0, 0, 0, 1, 2, 3, 4, 5, 6,  0, 0, 0, 2, 3, 0, 5, 6, 0,
        0, 1, 2, 0, 4, 5, 0, 7, 8,  1, 2, 3, 4, 5, 6, 7, 8, 9,  2, 3, 0, 5, 6, 0, 8, 9, 0,
        0, 4, 5, 0, 7, 8, 0, 0, 0,  4, 5, 6, 7, 8, 9, 0, 0, 0,  5, 6, 0, 8, 9, 0, 0, 0, 0,
    };
    check_one(3, 3, 3, 1, 1, 1.0f, e_pad);

    /*  0  1  2  3  4
     *  5  6  7  8  9
     * 10 11 12 13 14
     * 15 16 17 18 19
     * 20 21 22 23 24   K = 3, S = 2: patches start at rows and columns 0, 2 */
    static const float e_stride[4 * 9] = {
        0, 1, 2, 5, 6, 7, 10, 11, 12,       2, 3, 4, 7, 8, 9, 12, 13, 14,
        10, 11, 12, 15, 16, 17, 20, 21, 22, 12, 13, 14, 17, 18, 19, 22, 23, 24,
    };
    check_one(5, 5, 3, 0, 2, 0.0f, e_stride);

    /*  1  2  3  4
     *  5  6  7  8
     *  9 10 11 12
     * 13 14 15 16   K = 3, P = 1, S = 2: OH = (4 + 2 − 3)/2 + 1 = 2; patch
     * (i, j) reads rows 2i−1 .. 2i+1 and columns 2j−1 .. 2j+1 */
    static const float e_pad_stride[4 * 9] = {
        0, 0, 0, 0, 1, 2, 0, 5, 6,       0, 0, 0, 2, 3, 4, 6, 7, 8,
        0, 5, 6, 0, 9, 10, 0, 13, 14,    6, 7, 8, 10, 11, 12, 14, 15, 16,
    };
    check_one(4, 4, 3, 1, 2, 1.0f, e_pad_stride);

    /* Two channels of 2×3, planes 9 floats apart (3 of gap, holding −1,
     * which must never show), K = 2: two patches of 2·4 taps, (c, k, l).
     *   c0:  1  2  3    c1: 11 12 13
     *        4  5  6        14 15 16 */
    static const float e_chan[2 * 8] = {
        1, 2, 4, 5, 11, 12, 14, 15, /* (0,0) */
        2, 3, 5, 6, 12, 13, 15, 16, /* (0,1) */
    };
    float img[18];
    for (int t = 0; t < 18; t++)
        img[t] = -1.0f;
    for (int t = 0; t < 6; t++) {
        img[t] = (float)(t + 1);
        img[9 + t] = (float)(t + 11);
    }
    const cnn_conv_shape s = cnn_conv_shape_make(2, 2, 3, 1, 2, 0, 1);
    check_patches(&s, 9, img, e_chan);
}

/* ---- adjoint ---- */

/* Several samples side by side as the blas convolution lays them out: N
 * samples' planes interleaved (plane = N·H·W plus a gap), cols ld = N·P + 3
 * apart. Checks ⟨im2col x, y⟩ = ⟨x, col2im y⟩, and that each call wrote all
 * of its own block and nothing else. */
static void test_adjoint_identity(void **state)
{
    (void)state;
    enum { N = 3, GAP = 5 };
    cnn_rng r;
    cnn_rng_seed(&r, 21);
    for (int t = 0; t < NSHAPES; t++) {
        const cnn_conv_shape s = conv_of(&shapes[t]);
        const long HW = (long)s.H * s.W, P = (long)s.OH * s.OW, CKK = (long)s.C * s.K * s.K;
        const long plane = N * HW + GAP, nimg = s.C * plane, ld = N * P + 3, ncol = CKK * ld;
        float *x = random_array(&r, nimg), *y = random_array(&r, ncol);
        float *col = filled(ncol, GARBAGE), *img = filled(nimg, GARBAGE);
        for (int n = 0; n < N; n++) {
            cnn_im2col(col + n * P, ld, x + n * HW, plane, &s);
            cnn_col2im(img + n * HW, plane, y + n * P, ld, &s);
        }
        double lhs = 0.0, rhs = 0.0, mag = 0.0;
        for (long row = 0; row < CKK; row++)
            for (long q = 0; q < ld; q++) {
                float v = col[row * ld + q];
                if (q >= N * P) { /* the 3 spare columns: untouched */
                    assert_true(v == GARBAGE);
                    continue;
                }
                assert_true(v != GARBAGE); /* written */
                lhs += (double)v * y[row * ld + q];
                mag += fabs((double)v * y[row * ld + q]);
            }
        for (int c = 0; c < s.C; c++)
            for (long q = 0; q < plane; q++) {
                float v = img[c * plane + q];
                if (q >= N * HW) { /* the gap between planes: untouched */
                    assert_true(v == GARBAGE);
                    continue;
                }
                assert_true(v != GARBAGE);
                rhs += (double)x[c * plane + q] * v;
            }
        /* col2im sums up to C·K² floats per pixel: allow that rounding only */
        printf("C=%d %dx%d K=%d P=%d S=%d: <im2col x, y> = %.9g, <x, col2im y> = %.9g\n", s.C,
               s.H, s.W, s.K, s.P, s.S, lhs, rhs);
        assert_true(mag > 0.0);
        assert_true(fabs(lhs - rhs) <= 1e-6 * mag);
        FREE_ALL(x, y, col, img);
    }
}

/* ---- col2im counts patches ---- */

/* Patches covering row y: the (i, k) with i·S + k − P = y, 0 ≤ i < OH,
 * 0 ≤ k < K; a pixel's count is that of its row times that of its column. */
static int cover(int y, int OH, int K, int P, int S)
{
    int n = 0;
    for (int i = 0; i < OH; i++)
        for (int k = 0; k < K; k++)
            n += i * S + k - P == y;
    return n;
}

static void test_col2im_counts_patches(void **state)
{
    (void)state;
    for (int t = 0; t < NSHAPES; t++) {
        const cnn_conv_shape s = conv_of(&shapes[t]);
        const long HW = (long)s.H * s.W, P = (long)s.OH * s.OW, CKK = (long)s.C * s.K * s.K;
        float *ones = filled(CKK * P, 1.0f), *img = filled(s.C * HW, GARBAGE);
        cnn_col2im(img, HW, ones, P, &s); /* it writes, it does not add */
        for (int c = 0; c < s.C; c++)
            for (int y = 0; y < s.H; y++)
                for (int x = 0; x < s.W; x++) {
                    int expect = cover(y, s.OH, s.K, s.P, s.S) * cover(x, s.OW, s.K, s.P, s.S);
                    if (img[c * HW + y * s.W + x] != (float)expect)
                        fail_msg("C=%d %dx%d K=%d P=%d S=%d: pixel (%d,%d,%d) covered %g times, "
                                 "expected %d", s.C, s.H, s.W, s.K, s.P, s.S, c, y, x,
                                 (double)img[c * HW + y * s.W + x], expect);
                }
        if (s.P == 0 && s.S == 1) {
            assert_true(img[0] == 1.0f && img[HW - 1] == 1.0f); /* corners: one patch */
            if (s.H >= 2 * s.K - 1 && s.W >= 2 * s.K - 1) /* the centre: every tap */
                assert_true(img[(s.H / 2) * s.W + s.W / 2] == (float)(s.K * s.K));
        }
        FREE_ALL(ones, img);
    }

    /* by hand: 4×4, K = 3 (valid: 2×2 patches) */
    static const float e_valid[16] = {1, 2, 2, 1, 2, 4, 4, 2, 2, 4, 4, 2, 1, 2, 2, 1};
    /* 4×4, K = 3, P = 1, S = 2: rows are covered 1, 2, 1, 1 times (y = 2i + k − 1) */
    static const float e_pad_stride[16] = {1, 2, 1, 1, 2, 4, 2, 2, 1, 2, 1, 1, 1, 2, 1, 1};
    float ones[9 * 4], img[16];
    for (int i = 0; i < 9 * 4; i++)
        ones[i] = 1.0f;
    cnn_conv_shape s = cnn_conv_shape_make(1, 4, 4, 1, 3, 0, 1);
    cnn_col2im(img, 16, ones, 4, &s);
    assert_memory_equal(img, e_valid, sizeof img);
    s = cnn_conv_shape_make(1, 4, 4, 1, 3, 1, 2);
    cnn_col2im(img, 16, ones, 4, &s);
    assert_memory_equal(img, e_pad_stride, sizeof img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_im2col_by_hand),
        cmocka_unit_test(test_adjoint_identity),
        cmocka_unit_test(test_col2im_counts_patches),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
