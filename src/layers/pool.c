/* pool.c — average and max pooling over Z×Z windows with stride Z, forward
 * and backward, on channels-last (NC) maps [N][H][W][C] (docs/maths.md §2.3
 * and §3.4, average and max, with the tie rule). Z divides H and W, so
 * the windows tile the map. A channel-major (CN) map [C][N·H·W] is the NC
 * map of N·C one-channel samples, so the same kernels serve both layouts.
 * There is one implementation of each, shared by the ref and blas paths
 * (the blas path's seed network uses fused.c instead). */
#include "cnn_layers.h"

/* §2.3: p[i][j] = (1/Z²) Σ_{k,l<Z} x[Z·i+k][Z·j+l], per channel; summed in
 * (k, l) order then scaled, so Z = 2 gives 0.25f·(x00 + x01 + x10 + x11).
 * Inlined twice below: with Z = 2 a constant, the window loops unroll (the
 * seed's ref path runs this on its largest map: 5× fewer instructions). */
static inline void avgpool_forward(float *out, const float *in, int N, int H, int W, int C,
                                   int Z)
{
    const int PH = H / Z, PW = W / Z;
    const float scale = 1.0f / (float)(Z * Z);
    for (int n = 0; n < N; n++) {
        const float *x = in + (long)n * H * W * C;
        float *p = out + (long)n * PH * PW * C;
        for (int i = 0; i < PH; i++)
            for (int j = 0; j < PW; j++)
                for (int c = 0; c < C; c++) {
                    float s = 0.0f;
                    for (int k = 0; k < Z; k++)
                        for (int l = 0; l < Z; l++)
                            s += x[((long)(Z * i + k) * W + (Z * j + l)) * C + c];
                    p[((long)i * PW + j) * C + c] = scale * s;
                }
    }
}

void cnn_avgpool_forward(float *out, const float *in, int N, int H, int W, int C, int Z)
{
    if (Z == 2)
        avgpool_forward(out, in, N, H, W, C, 2);
    else
        avgpool_forward(out, in, N, H, W, C, Z);
}

/* §3.4: ∂L/∂x[y][x] = (1/Z²)·∂L/∂p[⌊y/Z⌋][⌊x/Z⌋]. Inlined with Z = 2 a
 * constant, as the forward (the divisions become shifts). */
static inline void avgpool_backward(float *din, const float *dout, int N, int H, int W, int C,
                                    int Z)
{
    const int PH = H / Z, PW = W / Z;
    const float scale = 1.0f / (float)(Z * Z);
    for (int n = 0; n < N; n++) {
        float *dx = din + (long)n * H * W * C;
        const float *dp = dout + (long)n * PH * PW * C;
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++)
                for (int c = 0; c < C; c++)
                    dx[((long)i * W + j) * C + c] =
                        scale * dp[((long)(i / Z) * PW + j / Z) * C + c];
    }
}

void cnn_avgpool_backward(float *din, const float *dout, int N, int H, int W, int C, int Z)
{
    if (Z == 2)
        avgpool_backward(din, dout, N, H, W, C, 2);
    else
        avgpool_backward(din, dout, N, H, W, C, Z);
}

/* The arg-max of the Z×Z window at x (rows `row` floats apart, columns `cs`
 * apart), as an offset from x. Ties: the first maximum in row-major order
 * wins (strict >), PyTorch's rule. A NaN is never taken over a number; a
 * window of NaNs gives its first element. */
static long window_argmax(const float *x, long row, long cs, int Z)
{
    long best = 0;
    float m = x[0];
    for (int k = 0; k < Z; k++)
        for (int l = 0; l < Z; l++) {
            long o = k * row + l * cs;
            float v = x[o];
            if (v > m || (m != m && v == v)) {
                m = v;
                best = o;
            }
        }
    return best;
}

/* p[i][j] = max_{k,l<Z} x[Z·i+k][Z·j+l], per channel */
void cnn_maxpool_forward(float *out, const float *in, int N, int H, int W, int C, int Z)
{
    const int PH = H / Z, PW = W / Z;
    const long row = (long)W * C;
    for (int n = 0; n < N; n++) {
        const float *x = in + (long)n * H * W * C;
        float *p = out + (long)n * PH * PW * C;
        for (int i = 0; i < PH; i++)
            for (int j = 0; j < PW; j++)
                for (int c = 0; c < C; c++) {
                    const float *win = x + (long)Z * i * row + (long)Z * j * C + c;
                    p[((long)i * PW + j) * C + c] = win[window_argmax(win, row, C, Z)];
                }
    }
}

/* ∂L/∂x = ∂L/∂p at each window's arg-max (found again from `in`, with the
 * forward's rule), 0 elsewhere in the window. */
void cnn_maxpool_backward(float *din, const float *dout, const float *in, int N, int H, int W,
                          int C, int Z)
{
    const int PH = H / Z, PW = W / Z;
    const long row = (long)W * C;
    for (int n = 0; n < N; n++) {
        const float *x = in + (long)n * H * W * C;
        float *dx = din + (long)n * H * W * C;
        const float *dp = dout + (long)n * PH * PW * C;
        for (int i = 0; i < PH; i++)
            for (int j = 0; j < PW; j++)
                for (int c = 0; c < C; c++) {
                    const long o = (long)Z * i * row + (long)Z * j * C + c;
                    for (int k = 0; k < Z; k++)
                        for (int l = 0; l < Z; l++)
                            dx[o + k * row + (long)l * C] = 0.0f;
                    dx[o + window_argmax(x + o, row, C, Z)] = dp[((long)i * PW + j) * C + c];
                }
    }
}
