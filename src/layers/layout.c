/* layout.c — moving maps between the two layouts of cnn_layers.h: channels
 * last (NC, [N][P][C], the ref path's and the dense layers') and
 * channel-major (CN, [C][N·P], the blas convolution's). The blas path needs
 * them where a convolution meets a layer of the other layout and no fused
 * pass does the conversion on the way (e.g. conv → relu → maxpool → dense).
 * Pure copies: no arithmetic, so values pass through bit for bit. */
#include "cnn_layers.h"

/* out[n][p][c] = in[c][n·P + p]: each channel's run read contiguously */
void cnn_cn_to_nc(float *out, const float *in, int N, long P, int C)
{
    const long NP = N * P;
    for (int c = 0; c < C; c++)
        for (long q = 0; q < NP; q++) /* q = n·P + p */
            out[q * C + c] = in[c * NP + q];
}

/* out[c][n·P + p] = in[n][p][c]: each channel's run written contiguously */
void cnn_nc_to_cn(float *out, const float *in, int N, long P, int C)
{
    const long NP = N * P;
    for (int c = 0; c < C; c++)
        for (long q = 0; q < NP; q++)
            out[c * NP + q] = in[q * C + c];
}
