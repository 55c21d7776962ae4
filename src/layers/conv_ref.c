/* conv_ref.c — the reference convolution: direct loops over channels-last
 * (NC) maps that read like the equations (docs/maths.md §2.1 and §3.6, with
 * input channels, zero padding and stride). These
 * are what the blas convolution (conv_blas.c) is tested and benchmarked
 * against, so clarity comes first; but the padding is handled by clipping
 * each loop's range, not by a test per tap, and for the seed's shape
 * (C = 1, P = 0, S = 1) every sum runs in the same order as it always did,
 * so the ref path's results do not change. */
#include "cnn_layers.h"

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

/* ⌈a/S⌉ for a > 0, and 0 for a ≤ 0 (only ever used as a lower bound ≥ 0). */
static int ceil_pos(int a, int S) { return a <= 0 ? 0 : (a + S - 1) / S; }

/* The outputs i in [*lo, *hi) whose tap k lands inside the map:
 * 0 ≤ i·S + k − P < H, and 0 ≤ i < OH. */
static void outputs_hit(int k, int P, int S, int H, int OH, int *lo, int *hi)
{
    *lo = ceil_pos(P - k, S);
    *hi = imin(OH, ceil_pos(H + P - k, S));
    if (*hi < *lo)
        *hi = *lo;
}

/* §2.1 with channels, padding, stride:
 * z[n][i][j][f] = b[f] + Σ_c Σ_k Σ_l w[f][c][k][l]·x[n][i·S+k−P][j·S+l−P][c],
 * the taps that fall in the padding left out of the sum (x = 0 there). */
static inline void conv_forward(float *out, const float *in, const float *w, const float *b,
                                int N, const cnn_conv_shape *sh, int C)
{
    const int H = sh->H, W = sh->W, F = sh->F, K = sh->K, P = sh->P, S = sh->S;
    const int OH = sh->OH, OW = sh->OW;
    for (int n = 0; n < N; n++) {
        const float *x = in + (long)n * H * W * C;
        float *z = out + (long)n * OH * OW * F;
        for (int i = 0; i < OH; i++) {
            const int y0 = i * S - P, klo = imax(0, -y0), khi = imin(K, H - y0);
            for (int j = 0; j < OW; j++) {
                const int x0 = j * S - P, llo = imax(0, -x0), nl = imin(K, W - x0) - llo;
                for (int f = 0; f < F; f++) {
                    float s = b[f];
                    for (int c = 0; c < C; c++)
                        for (int k = klo; k < khi; k++) {
                            /* taps llo.. of row k of filter (f, c), the input under them */
                            const float *wr = w + ((long)(f * C + c) * K + k) * K + llo;
                            const float *xr = x + ((long)(y0 + k) * W + (x0 + llo)) * C + c;
                            for (int t = 0; t < nl; t++)
                                s += wr[t] * xr[(long)t * C];
                        }
                    z[((long)i * OW + j) * F + f] = s;
                }
            }
        }
    }
}

/* Inlined twice: with C = 1 (the seed, one grey channel) a constant, the
 * input is read with unit stride (on the seed, 1.4× faster than the general
 * loop; still ~15% slower than the one-channel loop it replaced). */
void cnn_conv_forward_ref(float *out, const float *in, const float *w, const float *b, int N,
                          const cnn_conv_shape *sh)
{
    if (sh->C == 1)
        conv_forward(out, in, w, b, N, sh, 1);
    else
        conv_forward(out, in, w, b, N, sh, sh->C);
}

/* §3.6 with channels, padding, stride:
 * ∂L/∂w[f][c][k][l] = Σ_{n,i,j} x[n][i·S+k−P][j·S+l−P][c]·∂L/∂z[n][i][j][f],
 * ∂L/∂b[f] = Σ_{n,i,j} ∂L/∂z[n][i][j][f]; one partial sum per sample. */
void cnn_conv_backward_weights_ref(float *dw, float *db, const float *dout, const float *in,
                                   int N, const cnn_conv_shape *sh)
{
    const int C = sh->C, H = sh->H, W = sh->W, F = sh->F, K = sh->K, P = sh->P, S = sh->S;
    const int OH = sh->OH, OW = sh->OW;
    for (int n = 0; n < N; n++) {
        const float *x = in + (long)n * H * W * C;
        const float *dz = dout + (long)n * OH * OW * F;
        for (int f = 0; f < F; f++) {
            for (int c = 0; c < C; c++)
                for (int k = 0; k < K; k++) {
                    int ilo, ihi;
                    outputs_hit(k, P, S, H, OH, &ilo, &ihi);
                    for (int l = 0; l < K; l++) {
                        int jlo, jhi;
                        outputs_hit(l, P, S, W, OW, &jlo, &jhi);
                        float s = 0.0f;
                        for (int i = ilo; i < ihi; i++) {
                            /* the input under tap (k, l) of output (i, jlo), and dz there */
                            const float *xr =
                                x + ((long)(i * S + k - P) * W + (jlo * S + l - P)) * C + c;
                            const float *dr = dz + ((long)i * OW + jlo) * F + f;
                            for (int j = 0; j < jhi - jlo; j++)
                                s += xr[(long)j * S * C] * dr[(long)j * F];
                        }
                        dw[((f * C + c) * K + k) * K + l] += s;
                    }
                }
            float s = 0.0f;
            for (int i = 0; i < OH; i++)
                for (int j = 0; j < OW; j++)
                    s += dz[((long)i * OW + j) * F + f];
            db[f] += s;
        }
    }
}

/* §3.6's input gradient with channels, padding, stride:
 * ∂L/∂x[n][y][x][c] = Σ_f Σ_k Σ_l w[f][c][k][l]·∂L/∂z[n][i][j][f] over the
 * taps with i·S + k − P = y and j·S + l − P = x for a whole output (i, j).
 * For input row y the outputs are i = (y + P − k)/S where that divides;
 * walking i downwards walks k = y + P − i·S upwards, the order of §3.6. */
void cnn_conv_backward_input_ref(float *din, const float *dout, const float *w, int N,
                                 const cnn_conv_shape *sh)
{
    const int C = sh->C, H = sh->H, W = sh->W, F = sh->F, K = sh->K, P = sh->P, S = sh->S;
    const int OH = sh->OH, OW = sh->OW;
    for (int n = 0; n < N; n++) {
        float *dx = din + (long)n * H * W * C;
        const float *dz = dout + (long)n * OH * OW * F;
        for (int y = 0; y < H; y++) {
            /* outputs i with 0 ≤ k = ty − i·S < K */
            const int ty = y + P, ihi = imin(OH - 1, ty / S), ilo = ceil_pos(ty - K + 1, S);
            for (int xx = 0; xx < W; xx++) {
                const int tx = xx + P, jhi = imin(OW - 1, tx / S), jlo = ceil_pos(tx - K + 1, S);
                for (int c = 0; c < C; c++) {
                    float s = 0.0f;
                    for (int f = 0; f < F; f++)
                        for (int i = ihi; i >= ilo; i--) {
                            const int k = ty - i * S;
                            for (int j = jhi; j >= jlo; j--) {
                                const int l = tx - j * S;
                                s += w[((f * C + c) * K + k) * K + l] *
                                     dz[((long)i * OW + j) * F + f];
                            }
                        }
                    dx[((long)y * W + xx) * C + c] = s;
                }
            }
        }
    }
}
