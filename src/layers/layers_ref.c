/* layers_ref.c — the reference kernels: direct loops that read like the
 * seed's equations (cnn-math.md §2 and §3). Clarity over speed: these are
 * what the BLAS path is tested and benchmarked against. */
#include <math.h>
#include <string.h>

#include "cnn_layers.h"

/* §2.1: z[i][j] = Σ_k Σ_l w[k][l]·x[i+k][j+l] + b, for each filter f. */
void cnn_conv_forward_ref(float *out, const float *in, const float *w, const float *b,
                          int N, int H, int W, int K, int C)
{
    int OH = H - K + 1, OW = W - K + 1;
    for (int n = 0; n < N; n++) {
        const float *x = in + (long)n * H * W;
        float *z = out + (long)n * OH * OW * C;
        for (int i = 0; i < OH; i++)
            for (int j = 0; j < OW; j++)
                for (int f = 0; f < C; f++) {
                    float s = b[f];
                    for (int k = 0; k < K; k++)
                        for (int l = 0; l < K; l++)
                            s += w[(f * K + k) * K + l] * x[(i + k) * W + (j + l)];
                    z[(i * OW + j) * C + f] = s;
                }
    }
}

/* §3.6: ∂L/∂w[k][l] = Σ_{i,j} x[i+k][j+l]·∂L/∂z[i][j]; ∂L/∂b = Σ_{i,j} ∂L/∂z[i][j]. */
void cnn_conv_backward_weights_ref(float *dw, float *db, const float *dout, const float *in,
                                   int N, int H, int W, int K, int C)
{
    int OH = H - K + 1, OW = W - K + 1;
    for (int n = 0; n < N; n++) {
        const float *x = in + (long)n * H * W;
        const float *dz = dout + (long)n * OH * OW * C;
        for (int f = 0; f < C; f++) {
            for (int k = 0; k < K; k++)
                for (int l = 0; l < K; l++) {
                    float s = 0.0f;
                    for (int i = 0; i < OH; i++)
                        for (int j = 0; j < OW; j++)
                            s += x[(i + k) * W + (j + l)] * dz[(i * OW + j) * C + f];
                    dw[(f * K + k) * K + l] += s;
                }
            float s = 0.0f;
            for (int i = 0; i < OH; i++)
                for (int j = 0; j < OW; j++)
                    s += dz[(i * OW + j) * C + f];
            db[f] += s;
        }
    }
}

/* §3.6: ∂L/∂x[i][j] = Σ_{k,l} w[k][l]·∂L/∂z[i−k][j−l], over the (i−k, j−l)
 * that are inside the output, summed over filters. */
void cnn_conv_backward_input_ref(float *din, const float *dout, const float *w,
                                 int N, int H, int W, int K, int C)
{
    int OH = H - K + 1, OW = W - K + 1;
    for (int n = 0; n < N; n++) {
        float *dx = din + (long)n * H * W;
        const float *dz = dout + (long)n * OH * OW * C;
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) {
                float s = 0.0f;
                for (int f = 0; f < C; f++)
                    for (int k = 0; k < K; k++)
                        for (int l = 0; l < K; l++) {
                            int zi = i - k, zj = j - l;
                            if (zi < 0 || zi >= OH || zj < 0 || zj >= OW)
                                continue;
                            s += w[(f * K + k) * K + l] * dz[(zi * OW + zj) * C + f];
                        }
                dx[i * W + j] = s;
            }
    }
}

/* §2.2 */
void cnn_relu_forward(float *out, const float *in, long n)
{
    for (long i = 0; i < n; i++)
        out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

/* §3.5 */
void cnn_relu_backward(float *din, const float *dout, const float *in, long n)
{
    for (long i = 0; i < n; i++) {
        float d = dout[i]; /* loaded unconditionally so the loop has no branch */
        din[i] = in[i] > 0.0f ? d : 0.0f;
    }
}

/* §2.3: p[i][j] = ¼ Σ_{k,l∈{0,1}} x[2i+k][2j+l], per channel. */
void cnn_avgpool_forward(float *out, const float *in, int N, int H, int W, int C)
{
    int PH = H / 2, PW = W / 2;
    for (int n = 0; n < N; n++) {
        const float *x = in + (long)n * H * W * C;
        float *p = out + (long)n * PH * PW * C;
        for (int i = 0; i < PH; i++)
            for (int j = 0; j < PW; j++)
                for (int c = 0; c < C; c++) {
                    float s = 0.0f;
                    for (int k = 0; k < 2; k++)
                        for (int l = 0; l < 2; l++)
                            s += x[((2 * i + k) * W + (2 * j + l)) * C + c];
                    p[(i * PW + j) * C + c] = 0.25f * s;
                }
    }
}

/* §3.4: ∂L/∂x[i][j] = ¼ ∂L/∂p[⌊i/2⌋][⌊j/2⌋]. */
void cnn_avgpool_backward(float *din, const float *dout, int N, int H, int W, int C)
{
    int PH = H / 2, PW = W / 2;
    for (int n = 0; n < N; n++) {
        float *dx = din + (long)n * H * W * C;
        const float *dp = dout + (long)n * PH * PW * C;
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++)
                for (int c = 0; c < C; c++)
                    dx[(i * W + j) * C + c] = 0.25f * dp[((i / 2) * PW + (j / 2)) * C + c];
    }
}

/* §2.5: y = W·x + b. */
void cnn_dense_forward_ref(float *out, const float *in, const float *w, const float *b,
                           int N, int IN, int OUT)
{
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OUT; o++) {
            float s = b[o];
            for (int i = 0; i < IN; i++)
                s += w[(long)o * IN + i] * in[(long)n * IN + i];
            out[(long)n * OUT + o] = s;
        }
}

/* §3.3: ∂L/∂W[o][i] = δ[o]·x[i]; ∂L/∂b[o] = δ[o]. */
void cnn_dense_backward_weights_ref(float *dw, float *db, const float *dout, const float *in,
                                    int N, int IN, int OUT)
{
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OUT; o++) {
            float d = dout[(long)n * OUT + o];
            for (int i = 0; i < IN; i++)
                dw[(long)o * IN + i] += d * in[(long)n * IN + i];
            db[o] += d;
        }
}

/* ∂L/∂x[i] = Σ_o W[o][i]·δ[o]: the error passed back to the pooled map. */
void cnn_dense_backward_input_ref(float *din, const float *dout, const float *w,
                                  int N, int IN, int OUT)
{
    for (int n = 0; n < N; n++)
        for (int i = 0; i < IN; i++) {
            float s = 0.0f;
            for (int o = 0; o < OUT; o++)
                s += w[(long)o * IN + i] * dout[(long)n * OUT + o];
            din[(long)n * IN + i] = s;
        }
}

/* §2.6 with the max subtracted first: softmax is unchanged by a shift, and
 * exp never overflows. */
double cnn_softmax_xent_forward(float *probs, const float *logits, const uint8_t *labels,
                                int N, int OUT)
{
    double loss = 0.0;
    for (int n = 0; n < N; n++) {
        const float *z = logits + (long)n * OUT;
        float *p = probs + (long)n * OUT;
        float zmax = z[0];
        for (int o = 1; o < OUT; o++)
            if (z[o] > zmax)
                zmax = z[o];
        float sum = 0.0f;
        for (int o = 0; o < OUT; o++) {
            p[o] = expf(z[o] - zmax);
            sum += p[o];
        }
        for (int o = 0; o < OUT; o++)
            p[o] /= sum;
        if (labels)
            loss += (double)logf(sum) - (double)(z[labels[n]] - zmax);
    }
    return loss;
}

/* §3.2: ∂L/∂z = σ − y, scaled for the batch mean. */
void cnn_softmax_xent_backward(float *dlogits, const float *probs, const uint8_t *labels,
                               int N, int OUT, float scale)
{
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OUT; o++) {
            float y = (o == labels[n]) ? 1.0f : 0.0f;
            dlogits[(long)n * OUT + o] = scale * (probs[(long)n * OUT + o] - y);
        }
}

/* §3.1: ∂σi/∂zi = σi(1−σi); ∂σi/∂zj = −σiσj. */
void cnn_softmax_jacobian(float *J, const float *probs, int OUT)
{
    for (int i = 0; i < OUT; i++)
        for (int j = 0; j < OUT; j++)
            J[i * OUT + j] = (i == j) ? probs[i] * (1.0f - probs[i]) : -probs[i] * probs[j];
}
