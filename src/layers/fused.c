/* fused.c — bias + ReLU + 2×2 average pooling as one pass over the blas
 * convolution's output, forward and backward. Three separate passes would
 * read and write the largest activation of the network (24×24×15 per
 * sample) three times; this reads it once, and writes the pooled map
 * either channels last ([N][H/2][W/2][C], the seed's flatten, for a dense
 * layer next: out_cn = 0) or channel-major like its input ([C][N·(H/2)·(W/2)],
 * for a convolution next: out_cn = 1). The two differ only in where each
 * pooled value goes: a base pointer per (c, n) plane and a stride `ps`
 * between pooled positions (C or 1); the arithmetic is the same, and for
 * out_cn = 0 it is exactly the seed's (§2.2, §2.3; backward §3.4, §3.5).
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

/* Where pooled plane (c, n) starts in a map laid out as the forward's out;
 * its pooled positions are then ps = (out_cn ? 1 : C) floats apart. */
static inline long pooled_base(long c, long n, int N, long PP, int C, int out_cn)
{
    return out_cn ? c * N * PP + n * PP : n * PP * C + c;
}

/* The forward pass is written once and inlined twice with out_cn a
 * constant: GCC otherwise versions its store loop on ps at run time, and the
 * seed's out_cn = 0 path is no longer the loop it always was (2% more
 * instructions). */

/* §2.2, §2.3: out = avgpool2(relu(z + b)) */
static inline void forward(float *restrict out, const float *restrict z,
                           const float *restrict b, int N, int H, int W, int C, int out_cn)
{
    const int PH = H / 2, PW = W / 2;
    const long P = (long)H * W, NP = N * P, PP = (long)PH * PW, ps = out_cn ? 1 : C;
    float sum[W];
    for (int c = 0; c < C; c++) {
        const float bc = b[c];
        for (long n = 0; n < N; n++) {
            const float *plane = z + c * NP + n * P;
            float *o = out + pooled_base(c, n, N, PP, C, out_cn);
            for (int i = 0; i < PH; i++) {
                const float *top = plane + 2L * i * W, *bot = top + W;
                for (int t = 0; t < W; t++) {
                    float u = top[t] + bc, v = bot[t] + bc;
                    sum[t] = (u > 0.0f ? u : 0.0f) + (v > 0.0f ? v : 0.0f);
                }
                for (int j = 0; j < PW; j++)
                    o[(i * PW + j) * ps] = 0.25f * (sum[2L * j] + sum[2L * j + 1]);
            }
        }
    }
}

CNN_CLONES void cnn_bias_relu_avgpool_forward(float *restrict out, const float *restrict z,
                                              const float *restrict b, int N, int H, int W,
                                              int C, int out_cn)
{
    if (out_cn)
        forward(out, z, b, N, H, W, C, 1);
    else
        forward(out, z, b, N, H, W, C, 0);
}

/* §3.4, §3.5: dz = relu'(z + b) ⊙ (dout spread over its 2×2 window, /4);
 * db += Σ dz. (Here the compiler does not version a loop on ps: one body.) */
CNN_CLONES void cnn_bias_relu_avgpool_backward(float *restrict dz, float *restrict db,
                                               const float *restrict dout,
                                               const float *restrict z,
                                               const float *restrict b, int N, int H, int W,
                                               int C, int out_cn)
{
    const int PH = H / 2, PW = W / 2;
    const long P = (long)H * W, NP = N * P, PP = (long)PH * PW, ps = out_cn ? 1 : C;
    float up[W], acc[W];
    for (int c = 0; c < C; c++) {
        const float bc = b[c];
        for (int t = 0; t < W; t++)
            acc[t] = 0.0f;
        for (long n = 0; n < N; n++) {
            const float *d = dout + pooled_base(c, n, N, PP, C, out_cn);
            for (int pi = 0; pi < PH; pi++) {
                /* pooled row pi spread over the pixel pairs it averaged, /4 */
                for (int j = 0; j < PW; j++)
                    up[2L * j] = up[2L * j + 1] = 0.25f * d[(pi * PW + j) * ps];
                for (int i = 2 * pi; i < 2 * pi + 2; i++) {
                    const float *zr = z + c * NP + n * P + (long)i * W;
                    float *dr = dz + c * NP + n * P + (long)i * W;
                    for (int t = 0; t < W; t++) {
                        /* W is even (cnn_arch_parse refuses a pooling window that does
                         * not divide the map), so up[] is set for every t < W. */
                        /* NOLINTNEXTLINE(clang-analyzer-core.uninitialized.Assign) */
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
