/* im2col.c — lowering a convolution to a matrix product, in Caffe's layout
 * (util/im2col.cpp), with input channels, zero padding and stride.
 * Row r = (c·K + k)·K + l of col holds, for every output position
 * p = i·OW + j, the input pixel x[c][i·S+k−P][j·S+l−P] (0 in the padding):
 * so conv = w[F][C·K·K]·col[C·K·K][P] (§2.1). `ld` is the row stride of col,
 * so that the cols of several samples sit side by side and one SGEMM
 * convolves them all; `plane` is the stride between the C input planes
 * (N·H·W inside a channel-major map of N samples).
 *
 * Without padding and with stride 1 (the seed) every row of col is OH runs
 * of OW contiguous pixels: one memcpy each, the loop as it always was (this
 * copy is about a sixth of the seed's forward convolution; a few cycles more per
 * tap showed in its time). Otherwise the padding never costs a test per
 * element: for each (c, k, l) the output rows i whose input row falls
 * outside the map, and the output columns j whose input column does, are
 * computed once; those parts of col are zero-filled and the rest is copied,
 * by memcpy for stride 1, element by element for a larger stride. */
#include <string.h>

#include "cnn_layers.h"

static int imin(int a, int b) { return a < b ? a : b; }

/* ⌈a/S⌉ for a > 0, and 0 for a ≤ 0 (no division for S = 1: this runs per
 * tap, and a division costs as much as copying a short row). */
static int ceil_pos(int a, int S) { return a <= 0 ? 0 : S == 1 ? a : (a + S - 1) / S; }

/* The outputs i in [*lo, *hi) whose tap k reads inside the map:
 * 0 ≤ i·S + k − P < H, 0 ≤ i < OH. */
static void inside(int k, int P, int S, int H, int OH, int *lo, int *hi)
{
    *lo = imin(OH, ceil_pos(P - k, S));
    *hi = imin(OH, ceil_pos(H + P - k, S));
    if (*hi < *lo)
        *hi = *lo;
}

void cnn_im2col(float *col, long ld, const float *img, long plane, const cnn_conv_shape *s)
{
    const int H = s->H, W = s->W, K = s->K, P = s->P, S = s->S, OH = s->OH, OW = s->OW;
    if (P == 0 && S == 1) {
        /* no padding, unit stride (the seed): each row of col is OH runs of
         * OW contiguous pixels, x[c][i + k][l .. l + OW), nothing else */
        for (int c = 0; c < s->C; c++)
            for (int k = 0; k < K; k++)
                for (int l = 0; l < K; l++) {
                    float *row = col + (long)((c * K + k) * K + l) * ld;
                    const float *src = img + c * plane + (long)k * W + l;
                    for (int i = 0; i < OH; i++)
                        memcpy(row + (long)i * OW, src + (long)i * W, (size_t)OW * sizeof *row);
                }
        return;
    }
    const long step = (long)S * W; /* input floats between output rows */
    int jlos[K], jhis[K];              /* the columns inside the map, per tap l */
    for (int l = 0; l < K; l++)
        inside(l, P, S, W, OW, &jlos[l], &jhis[l]);
    for (int c = 0; c < s->C; c++) {
        const float *x = img + c * plane;
        for (int k = 0; k < K; k++) {
            int ilo, ihi;
            inside(k, P, S, H, OH, &ilo, &ihi);
            for (int l = 0; l < K; l++) {
                const int jlo = jlos[l], jhi = jhis[l];
                float *row = col + (long)((c * K + k) * K + l) * ld;
                if (ilo > 0) /* top padding */
                    memset(row, 0, (size_t)ilo * OW * sizeof *row);
                if (ihi < OH) /* bottom padding */
                    memset(row + (long)ihi * OW, 0, (size_t)(OH - ihi) * OW * sizeof *row);
                if (jhi <= jlo || ihi <= ilo) { /* every column (or row) in the padding */
                    memset(row + (long)ilo * OW, 0, (size_t)(ihi - ilo) * OW * sizeof *row);
                    continue;
                }
                /* src: the input pixel of output (ilo, jlo), then `step` floats
                 * further per output row; dst: output row ilo of col */
                const float *src = x + (long)(ilo * S + k - P) * W + (jlo * S + l - P);
                float *dst = row + (long)ilo * OW;
                const int n = jhi - jlo;
                if (S == 1 && n == OW) {
                    /* whole rows inside the map (the seed's only case): a copy */
                    for (int i = 0; i < ihi - ilo; i++)
                        memcpy(dst + (long)i * OW, src + i * step, (size_t)OW * sizeof *dst);
                    continue;
                }
                for (int i = 0; i < ihi - ilo; i++) {
                    float *d = dst + (long)i * OW;
                    const float *x0 = src + i * step;
                    if (jlo > 0) /* left padding */
                        memset(d, 0, (size_t)jlo * sizeof *d);
                    if (S == 1)
                        memcpy(d + jlo, x0, (size_t)n * sizeof *d);
                    else
                        for (int j = 0; j < n; j++)
                            d[jlo + j] = x0[(long)j * S];
                    if (jhi < OW) /* right padding */
                        memset(d + jhi, 0, (size_t)(OW - jhi) * sizeof *d);
                }
            }
        }
    }
}

/* Add n floats of src into dst: a function of its own with restrict, so
 * the compiler vectorises it without a runtime overlap check (callgrind,
 * LeNet-5 training step: col2im 71.7 M -> 45.2 M instructions). */
static void add_run(float *restrict dst, const float *restrict src, int n)
{
    for (int j = 0; j < n; j++)
        dst[j] += src[j];
}

/* The adjoint of im2col: every pixel receives the sum of the col entries
 * that were copied from it, in (k, l, i, j) order; entries that im2col set
 * to 0 for the padding belong to no pixel and are dropped. Without padding
 * and with stride 1, the old loop (the general one was 4% more instructions). */
void cnn_col2im(float *img, long plane, const float *col, long ld, const cnn_conv_shape *s)
{
    const int H = s->H, W = s->W, K = s->K, P = s->P, S = s->S, OH = s->OH, OW = s->OW;
    for (int c = 0; c < s->C; c++)
        memset(img + c * plane, 0, (size_t)H * W * sizeof *img);
    if (P == 0 && S == 1) { /* as im2col: the loop as it always was */
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
