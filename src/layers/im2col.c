/* im2col.c — lowering a convolution to a matrix product, in Caffe's layout
 * (util/im2col.cpp), with input channels, zero padding and stride.
 * Row r = (c·K + k)·K + l of col holds, for every output position
 * p = i·OW + j, the input pixel x[c][i·S+k−P][j·S+l−P] (0 in the padding):
 * so conv = w[F][C·K·K]·col[C·K·K][P] (§2.1). `ld` is the row stride of col,
 * so that the cols of several samples sit side by side and one SGEMM
 * convolves them all; `plane` is the stride between the C input planes
 * (N·H·W inside a channel-major map of N samples).
 *
 * The padding never costs a test per element: for each (c, k, l) the output
 * rows i whose input row falls outside the map, and the output columns j
 * whose input column does, are computed once; those parts of col are
 * zero-filled and the rest is copied. With stride 1 each row's inside part
 * is a contiguous run of input pixels and copies at memory speed (memcpy);
 * for the seed (P = 0, S = 1) that is all there is, as before. */
#include <string.h>

#include "cnn_layers.h"

static int imin(int a, int b) { return a < b ? a : b; }

/* ⌈a/S⌉ for a > 0, and 0 for a ≤ 0. */
static int ceil_pos(int a, int S) { return a <= 0 ? 0 : (a + S - 1) / S; }

/* The outputs i in [*lo, *hi) whose tap k reads inside the map:
 * 0 ≤ i·S + k − P < H, 0 ≤ i < OH. */
static void inside(int k, int P, int S, int H, int OH, int *lo, int *hi)
{
    *lo = imin(OH, ceil_pos(P - k, S));
    *hi = imin(OH, ceil_pos(H + P - k, S));
    if (*hi < *lo)
        *hi = *lo;
}

/* No padding, stride 1 (the seed's case): every row is OH runs of OW
 * contiguous pixels, copied with nothing to decide. The general path below
 * does the same copies but costs 3x the instructions here (callgrind,
 * seed training step: 12.8 M against 4.2 M), about 3 % of the step. */
static void im2col_valid(float *col, long ld, const float *img, long plane,
                         const cnn_conv_shape *s)
{
    const int W = s->W, K = s->K, OH = s->OH, OW = s->OW;
    for (int c = 0; c < s->C; c++)
        for (int k = 0; k < K; k++)
            for (int l = 0; l < K; l++) {
                float *row = col + (long)((c * K + k) * K + l) * ld;
                const float *x = img + c * plane + (long)k * W + l;
                for (int i = 0; i < OH; i++)
                    memcpy(row + (long)i * OW, x + (long)i * W, (size_t)OW * sizeof *row);
            }
}

void cnn_im2col(float *col, long ld, const float *img, long plane, const cnn_conv_shape *s)
{
    const int H = s->H, W = s->W, K = s->K, P = s->P, S = s->S, OH = s->OH, OW = s->OW;
    if (P == 0 && S == 1) {
        im2col_valid(col, ld, img, plane, s);
        return;
    }
    for (int c = 0; c < s->C; c++) {
        const float *x = img + c * plane;
        for (int k = 0; k < K; k++) {
            int ilo, ihi;
            inside(k, P, S, H, OH, &ilo, &ihi);
            for (int l = 0; l < K; l++) {
                int jlo, jhi;
                inside(l, P, S, W, OW, &jlo, &jhi);
                float *row = col + (long)((c * K + k) * K + l) * ld;
                if (ilo > 0) /* top padding */
                    memset(row, 0, (size_t)ilo * OW * sizeof *row);
                for (int i = ilo; i < ihi; i++) {
                    float *dst = row + (long)i * OW;
                    if (jlo > 0)
                        memset(dst, 0, (size_t)jlo * sizeof *dst);
                    if (jhi > jlo) {
                        /* input pixel of output (i, jlo) */
                        const float *src = x + (long)(i * S + k - P) * W + (jlo * S + l - P);
                        if (S == 1)
                            memcpy(dst + jlo, src, (size_t)(jhi - jlo) * sizeof *dst);
                        else
                            for (int j = jlo; j < jhi; j++)
                                dst[j] = src[(long)(j - jlo) * S];
                    }
                    if (jhi < OW)
                        memset(dst + jhi, 0, (size_t)(OW - jhi) * sizeof *dst);
                }
                if (ihi < OH) /* bottom padding */
                    memset(row + (long)ihi * OW, 0, (size_t)(OH - ihi) * OW * sizeof *row);
            }
        }
    }
}

/* The adjoint of im2col: every pixel receives the sum of the col entries
 * that were copied from it, in (k, l, i, j) order; entries that im2col set
 * to 0 for the padding belong to no pixel and are dropped. */
/* Add n floats of src into dst: a separate function with restrict so that
 * the compiler vectorises it without a runtime overlap check (callgrind,
 * LeNet-5 training step: col2im 71.7 M -> see git log). */
static void add_run(float *restrict dst, const float *restrict src, int n)
{
    for (int j = 0; j < n; j++)
        dst[j] += src[j];
}

void cnn_col2im(float *img, long plane, const float *col, long ld, const cnn_conv_shape *s)
{
    const int H = s->H, W = s->W, K = s->K, P = s->P, S = s->S, OH = s->OH, OW = s->OW;
    for (int c = 0; c < s->C; c++)
        memset(img + c * plane, 0, (size_t)H * W * sizeof *img);
    if (P == 0 && S == 1) {
        for (int c = 0; c < s->C; c++)
            for (int k = 0; k < K; k++)
                for (int l = 0; l < K; l++) {
                    const float *row = col + (long)((c * K + k) * K + l) * ld;
                    float *x = img + c * plane + (long)k * W + l;
                    for (int i = 0; i < OH; i++)
                        add_run(x + (long)i * W, row + (long)i * OW, OW);
                }
        return;
    }
    for (int c = 0; c < s->C; c++) {
        float *x = img + c * plane;
        for (int k = 0; k < K; k++) {
            int ilo, ihi;
            inside(k, P, S, H, OH, &ilo, &ihi);
            for (int l = 0; l < K; l++) {
                int jlo, jhi;
                inside(l, P, S, W, OW, &jlo, &jhi);
                const float *row = col + (long)((c * K + k) * K + l) * ld;
                if (jhi <= jlo)
                    continue;
                for (int i = ilo; i < ihi; i++) {
                    /* input pixel of output (i, jlo) */
                    float *dst = x + (long)(i * S + k - P) * W + (jlo * S + l - P);
                    const float *src = row + (long)i * OW;
                    if (S == 1) /* unit stride: a plain vector add */
                        add_run(dst, src + jlo, jhi - jlo);
                    else
                        for (int j = jlo; j < jhi; j++)
                            dst[(long)(j - jlo) * S] += src[j];
                }
            }
        }
    }
}
