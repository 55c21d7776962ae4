/* im2col.c — lowering a convolution to a matrix product (after Caffe's
 * util/im2col.cpp, for one input channel, stride 1, no padding).
 * Row p = i·OW + j of col holds the K×K input patch whose top-left corner is
 * (i, j), so that conv = col·wᵀ and the output comes out channels last. */
#include <string.h>

#include "cnn_layers.h"

/* The seed network's 5×5 case with constant bounds, which the compiler
 * unrolls into straight-line vector code; other K take the general loop. */
static void im2col_k5(float *restrict col, const float *restrict img, int H, int W)
{
    int OH = H - 5 + 1, OW = W - 5 + 1;
    for (int i = 0; i < OH; i++)
        for (int j = 0; j < OW; j++) {
            float *row = col + ((long)i * OW + j) * 25;
            const float *src = img + i * W + j;
            for (int k = 0; k < 5; k++)
                for (int l = 0; l < 5; l++)
                    row[k * 5 + l] = src[k * W + l];
        }
}

void cnn_im2col(float *col, const float *img, int H, int W, int K)
{
    if (K == 5) {
        im2col_k5(col, img, H, W);
        return;
    }
    int OH = H - K + 1, OW = W - K + 1;
    for (int i = 0; i < OH; i++)
        for (int j = 0; j < OW; j++) {
            float *row = col + ((long)i * OW + j) * K * K;
            for (int k = 0; k < K; k++)
                for (int l = 0; l < K; l++)
                    row[k * K + l] = img[(i + k) * W + j + l];
        }
}

/* The adjoint of im2col: every pixel receives the sum of the col entries
 * that were copied from it. */
void cnn_col2im(float *img, const float *col, int H, int W, int K)
{
    int OH = H - K + 1, OW = W - K + 1;
    memset(img, 0, (size_t)H * W * sizeof *img);
    for (int i = 0; i < OH; i++)
        for (int j = 0; j < OW; j++) {
            const float *row = col + ((long)i * OW + j) * K * K;
            for (int k = 0; k < K; k++)
                for (int l = 0; l < K; l++)
                    img[(i + k) * W + j + l] += row[k * K + l];
        }
}
