/* test_im2col.c — the lowering behind the BLAS convolution (cnn_layers.h).
 * im2col must lay out row p = i·OW + j as the K×K patch at (i, j), checked on
 * hand-made images (square and non-square, so H and W cannot be swapped
 * unnoticed); col2im must be its exact adjoint, ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩,
 * which is what makes the BLAS input gradient equal §3.6; and col2im of all
 * ones must count the patches covering each pixel. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cnn.h"
#include "cnn_layers.h"
#include "cnn_rng.h"

typedef struct {
    int H, W, K;
} shape;

static const shape shapes[] = {
    {CNN_IN_H, CNN_IN_W, CNN_KSIZE}, /* the seed network */
    {9, 7, 3},                       /* odd, non-square */
    {5, 8, 5},                       /* a single row of patches */
    {6, 4, 1},                       /* 1×1: im2col is a copy */
};

static float *alloc(long n)
{
    float *p = malloc((size_t)n * sizeof *p);
    assert_non_null(p);
    return p;
}

static void test_adjoint_identity(void **state)
{
    (void)state;
    cnn_rng r;
    cnn_rng_seed(&r, 21);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int H = shapes[s].H, W = shapes[s].W, K = shapes[s].K;
        long n = (long)H * W, P = (long)(H - K + 1) * (W - K + 1), m = P * K * K;
        const cnn_conv_shape cs = cnn_conv_shape_make(1, H, W, 1, K, 0, 1);
        float *x = alloc(n), *c = alloc(m), *col = alloc(m), *img = alloc(n);
        for (long i = 0; i < n; i++)
            x[i] = cnn_rng_uniform(&r, -1.0f, 1.0f);
        for (long i = 0; i < m; i++)
            c[i] = cnn_rng_uniform(&r, -1.0f, 1.0f);
        cnn_im2col(col, P, x, n, &cs);
        cnn_col2im(img, n, c, P, &cs);
        double lhs = 0.0, rhs = 0.0, mag = 0.0;
        for (long i = 0; i < m; i++) {
            lhs += (double)col[i] * c[i];
            mag += fabs((double)col[i] * c[i]);
        }
        for (long i = 0; i < n; i++)
            rhs += (double)x[i] * img[i];
        /* col2im sums up to K² floats per pixel: allow that rounding only */
        printf("%dx%d K=%d: <im2col x, c> = %.9g, <x, col2im c> = %.9g\n", H, W, K, lhs, rhs);
        assert_true(fabs(lhs - rhs) <= 1e-6 * mag);
        free(x);
        free(c);
        free(col);
        free(img);
    }
}

/* img[i][j] = i·W + j, so col lists pixel numbers. `expect` is written one
 * patch per line (patch p, tap r at expect[p·K² + r]), which is col read
 * column by column: col[r][p]. */
static void check_rows(int H, int W, int K, const float *expect)
{
    long P = (long)(H - K + 1) * (W - K + 1);
    float *img = alloc((long)H * W), *col = alloc(P * K * K);
    for (int i = 0; i < H * W; i++)
        img[i] = (float)i;
    const cnn_conv_shape cs = cnn_conv_shape_make(1, H, W, 1, K, 0, 1);
    cnn_im2col(col, P, img, (long)H * W, &cs);
    for (long p = 0; p < P; p++)
        for (long r = 0; r < K * K; r++)
            if (col[r * P + p] != expect[p * K * K + r])
                fail_msg("%dx%d K=%d: patch %ld, tap %ld is %g, expected %g", H, W, K, p, r,
                         (double)col[r * P + p], (double)expect[p * K * K + r]);
    free(img);
    free(col);
}

static void test_im2col_by_hand(void **state)
{
    (void)state;
    /*  0  1  2  3
     *  4  5  6  7
     *  8  9 10 11
     * 12 13 14 15   K = 3: four patches, row p = i·2 + j */
    static const float expect_4x4[4 * 9] = {
        0, 1, 2, 4, 5, 6, 8, 9, 10,     /* (0,0) */
        1, 2, 3, 5, 6, 7, 9, 10, 11,    /* (0,1) */
        4, 5, 6, 8, 9, 10, 12, 13, 14,  /* (1,0) */
        5, 6, 7, 9, 10, 11, 13, 14, 15, /* (1,1) */
    };
    check_rows(4, 4, 3, expect_4x4);

    /* 0  1  2  3
     * 4  5  6  7
     * 8  9 10 11   H = 3, W = 4, K = 2: OH = 2, OW = 3 */
    static const float expect_3x4[6 * 4] = {
        0, 1, 4, 5,  1, 2, 5, 6,  2, 3, 6, 7,    /* (0,0) (0,1) (0,2) */
        4, 5, 8, 9,  5, 6, 9, 10, 6, 7, 10, 11,  /* (1,0) (1,1) (1,2) */
    };
    check_rows(3, 4, 2, expect_3x4);
}

/* Patches covering pixel (i, j): the k in [0, K) with 0 ≤ i − k < OH, times
 * the same along j. */
static int cover(int i, int H, int K)
{
    int OH = H - K + 1, n = 0;
    for (int k = 0; k < K; k++)
        n += i - k >= 0 && i - k < OH;
    return n;
}

static void test_col2im_counts_patches(void **state)
{
    (void)state;
    static const float expect_4x4[16] = {1, 2, 2, 1, 2, 4, 4, 2, 2, 4, 4, 2, 1, 2, 2, 1};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int H = shapes[s].H, W = shapes[s].W, K = shapes[s].K;
        long n = (long)H * W, m = (long)(H - K + 1) * (W - K + 1) * K * K;
        float *ones = alloc(m), *img = alloc(n);
        for (long i = 0; i < m; i++)
            ones[i] = 1.0f;
        for (long i = 0; i < n; i++)
            img[i] = 777.0f; /* col2im writes, it does not add */
        const cnn_conv_shape cs = cnn_conv_shape_make(1, H, W, 1, K, 0, 1);
        cnn_col2im(img, n, ones, (long)(H - K + 1) * (W - K + 1), &cs);
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++)
                if (img[i * W + j] != (float)(cover(i, H, K) * cover(j, W, K)))
                    fail_msg("%dx%d K=%d: pixel (%d,%d) covered %g times, expected %d", H, W,
                             K, i, j, (double)img[i * W + j], cover(i, H, K) * cover(j, W, K));
        assert_true(img[0] == 1.0f && img[n - 1] == 1.0f); /* corners: one patch */
        if (H >= 2 * K - 1 && W >= 2 * K - 1) /* the centre is covered by every tap */
            assert_true(img[(H / 2) * W + W / 2] == (float)(K * K));
        free(ones);
        free(img);
    }

    float ones[4 * 9], img[16];
    for (int i = 0; i < 4 * 9; i++)
        ones[i] = 1.0f;
    const cnn_conv_shape cs = cnn_conv_shape_make(1, 4, 4, 1, 3, 0, 1);
    cnn_col2im(img, 16, ones, 4, &cs);
    assert_memory_equal(img, expect_4x4, sizeof img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adjoint_identity),
        cmocka_unit_test(test_im2col_by_hand),
        cmocka_unit_test(test_col2im_counts_patches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
