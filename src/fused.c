/* fused.c — bias + ReLU + 2×2 average pooling as one pass over the
 * convolution output, forward and backward. Three separate passes would read
 * and write the largest activation of the network (24×24×15 per sample)
 * three times; this reads it once.
 *
 * Maps are channels last, so one image row is W·C contiguous floats. The
 * elementwise work (bias, ReLU, its mask) runs over whole rows, where it
 * vectorises without branches; only the cheap pairing of neighbouring pixels
 * walks the C channels of one pixel at a time. (A data-dependent branch per
 * element, which a loop over 15 channels leaves in its scalar tail, costs
 * more than all the arithmetic.) */
#include "cnn_layers.h"

/* The bias repeated for every pixel of a row: brow[j·C + c] = b[c]. */
static void bias_row(float *brow, const float *b, int W, int C)
{
    for (int j = 0; j < W; j++)
        for (int c = 0; c < C; c++)
            brow[j * C + c] = b[c];
}

void cnn_bias_relu_avgpool_forward(float *restrict out, const float *restrict z,
                                   const float *restrict b, int N, int H, int W, int C)
{
    const int PH = H / 2, PW = W / 2, RW = W * C;
    float brow[RW], sum[RW];
    bias_row(brow, b, W, C);
    for (long n = 0; n < N; n++)
        for (int i = 0; i < PH; i++) {
            const float *top = z + (n * H + 2 * i) * RW, *bot = top + RW;
            for (int t = 0; t < RW; t++) {
                float u = top[t] + brow[t], v = bot[t] + brow[t];
                sum[t] = (u > 0.0f ? u : 0.0f) + (v > 0.0f ? v : 0.0f);
            }
            float *p = out + (n * PH + i) * PW * C;
            for (int j = 0; j < PW; j++)
                for (int c = 0; c < C; c++)
                    p[j * C + c] = 0.25f * (sum[2 * j * C + c] + sum[(2 * j + 1) * C + c]);
        }
}

void cnn_bias_relu_avgpool_backward(float *restrict dz, float *restrict db,
                                    const float *restrict dout, const float *restrict z,
                                    const float *restrict b, int N, int H, int W, int C)
{
    const int PH = H / 2, PW = W / 2, RW = W * C;
    float brow[RW], up[RW], dbrow[RW];
    bias_row(brow, b, W, C);
    for (int t = 0; t < RW; t++)
        dbrow[t] = 0.0f;
    for (long n = 0; n < N; n++)
        for (int pi = 0; pi < PH; pi++) {
            /* pooled row pi, spread over the two pixels of each pair, /4 */
            const float *pr = dout + (n * PH + pi) * PW * C;
            for (int j = 0; j < PW; j++)
                for (int c = 0; c < C; c++)
                    up[2 * j * C + c] = up[(2 * j + 1) * C + c] = 0.25f * pr[j * C + c];
            for (int i = 2 * pi; i < 2 * pi + 2; i++) {
                const float *zr = z + (n * H + i) * RW;
                float *dr = dz + (n * H + i) * RW;
                for (int t = 0; t < RW; t++) {
                    float u = up[t]; /* loaded unconditionally: no branch */
                    float d = zr[t] + brow[t] > 0.0f ? u : 0.0f;
                    dr[t] = d;
                    dbrow[t] += d;
                }
            }
        }
    for (int j = 0; j < W; j++)
        for (int c = 0; c < C; c++)
            db[c] += dbrow[j * C + c];
}
