/* im2col.c — lowering a convolution to a matrix product (after Caffe's
 * util/im2col.cpp, for one input channel, stride 1, no padding).
 * Row p = i·OW + j of col holds the K×K input patch whose top-left corner is
 * (i, j), so that conv = col·wᵀ and the output comes out channels last. */
#include <string.h>

#include "cnn_layers.h"

void cnn_im2col(float *col, const float *img, int H, int W, int K)
{
    int OH = H - K + 1, OW = W - K + 1;
    for (int i = 0; i < OH; i++)
        for (int j = 0; j < OW; j++) {
            float *row = col + ((long)i * OW + j) * K * K;
            for (int k = 0; k < K; k++)
                memcpy(row + k * K, img + (i + k) * W + j, (size_t)K * sizeof *row);
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
