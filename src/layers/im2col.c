/* im2col.c — lowering a convolution to a matrix product, in Caffe's layout
 * (util/im2col.cpp; one input channel, stride 1, no padding).
 * Row r = k·K + l of col holds, for every output position p = i·OW + j,
 * the input pixel x[i+k][j+l]: so conv = w[C][K·K]·col[K·K][P], and each
 * row is OH runs of OW contiguous pixels, which copy at memory speed.
 * `ld` is the row stride of col, so that the cols of several samples can sit
 * side by side and one SGEMM convolves them all. */
#include <string.h>

#include "cnn_layers.h"

void cnn_im2col(float *col, long ld, const float *img, int H, int W, int K)
{
    int OH = H - K + 1, OW = W - K + 1;
    for (int k = 0; k < K; k++)
        for (int l = 0; l < K; l++) {
            float *row = col + (long)(k * K + l) * ld;
            for (int i = 0; i < OH; i++)
                memcpy(row + (long)i * OW, img + (i + k) * W + l, (size_t)OW * sizeof *row);
        }
}

/* The adjoint of im2col: every pixel receives the sum of the col entries
 * that were copied from it. */
void cnn_col2im(float *img, const float *col, long ld, int H, int W, int K)
{
    int OH = H - K + 1, OW = W - K + 1;
    memset(img, 0, (size_t)H * W * sizeof *img);
    for (int k = 0; k < K; k++)
        for (int l = 0; l < K; l++) {
            const float *row = col + (long)(k * K + l) * ld;
            for (int i = 0; i < OH; i++)
                for (int j = 0; j < OW; j++)
                    img[(i + k) * W + j + l] += row[(long)i * OW + j];
        }
}
