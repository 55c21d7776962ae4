/* fused.c — bias + ReLU + 2×2 average pooling as one pass over the blas
 * convolution's output, forward and backward. Three separate passes would
 * read and write the largest activation of the network (24×24×15 per
 * sample) three times; this reads it once, and turns the channel-major map
 * of the SGEMM ([C][N·H·W]) into the channels-last map of the seed's flatten.
 *
 * Inside a plane (one channel of one sample) rows are contiguous, so the
 * elementwise work (bias, ReLU, its mask) runs over whole rows and
 * vectorises without branches. Two lessons from the profile: a ternary whose
 * chosen operand is a load (`m ? a[i] : 0`) compiles to a branch, so loads
 * are made unconditional; and a data-dependent branch per element costs more
 * than all the arithmetic. */
#include "cnn_layers.h"

/* These loops are memory-bound and short (rows of 24 floats); 8-wide AVX2
 * does them ~4% faster per training step than the baseline SSE2 build. The
 * compiler emits both and the loader picks one for the CPU it runs on, so
 * the binary stays portable. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__)
#define CNN_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CNN_CLONES
#endif

CNN_CLONES void cnn_bias_relu_avgpool_forward(float *restrict out, const float *restrict z,
                                   const float *restrict b, int N, int H, int W, int C)
{
    const int PH = H / 2, PW = W / 2;
    const long P = (long)H * W, NP = N * P;
    float sum[W];
    for (int c = 0; c < C; c++) {
        const float bc = b[c];
        for (long n = 0; n < N; n++) {
            const float *plane = z + c * NP + n * P;
            float *o = out + n * PH * PW * C + c;
            for (int i = 0; i < PH; i++) {
                const float *top = plane + 2 * i * W, *bot = top + W;
                for (int t = 0; t < W; t++) {
                    float u = top[t] + bc, v = bot[t] + bc;
                    sum[t] = (u > 0.0f ? u : 0.0f) + (v > 0.0f ? v : 0.0f);
                }
                for (int j = 0; j < PW; j++)
                    o[(i * PW + j) * C] = 0.25f * (sum[2 * j] + sum[2 * j + 1]);
            }
        }
    }
}

CNN_CLONES void cnn_bias_relu_avgpool_backward(float *restrict dz, float *restrict db,
                                    const float *restrict dout, const float *restrict z,
                                    const float *restrict b, int N, int H, int W, int C)
{
    const int PH = H / 2, PW = W / 2;
    const long P = (long)H * W, NP = N * P;
    float up[W], acc[W];
    for (int c = 0; c < C; c++) {
        const float bc = b[c];
        for (int t = 0; t < W; t++)
            acc[t] = 0.0f;
        for (long n = 0; n < N; n++) {
            const float *d = dout + n * PH * PW * C + c;
            for (int pi = 0; pi < PH; pi++) {
                /* pooled row pi spread over the pixel pairs it averaged, /4 */
                for (int j = 0; j < PW; j++)
                    up[2 * j] = up[2 * j + 1] = 0.25f * d[(pi * PW + j) * C];
                for (int i = 2 * pi; i < 2 * pi + 2; i++) {
                    const float *zr = z + c * NP + n * P + (long)i * W;
                    float *dr = dz + c * NP + n * P + (long)i * W;
                    for (int t = 0; t < W; t++) {
                        float u = up[t];
                        float g = zr[t] + bc > 0.0f ? u : 0.0f;
                        dr[t] = g;
                        acc[t] += g;
                    }
                }
            }
        }
        float s = 0.0f;
        for (int t = 0; t < W; t++)
            s += acc[t];
        db[c] += s;
    }
}
