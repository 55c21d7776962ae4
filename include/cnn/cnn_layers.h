/* cnn_layers.h — the layer kernels, each as forward/backward pairs, in two
 * implementations: *_ref are direct loops transcribing the seed's equations
 * (shared/seed/cnn-math.md); *_blas lower the same maths onto SGEMM.
 * Tests and bench/layers compare every *_blas kernel against its *_ref twin.
 *
 * Conventions (after llm.c): outputs first, then inputs, then shapes.
 * Backward kernels ADD into parameter gradients (dw, db) and WRITE input
 * gradients (din). Feature maps are channels last: a map of H×W×C is stored
 * [H][W][C], so the seed's flatten k = i·(W·C) + j·C + c is the identity on
 * memory — except inside the blas path's convolution, which works channel-
 * major like Caffe (see below). The convolution has one input channel,
 * stride 1, no padding.
 *
 * Shapes: N samples; input H×W; K×K filters; C filters;
 *         OH = H-K+1, OW = W-K+1; P = OH·OW output positions per sample.
 */
#ifndef CNN_LAYERS_H
#define CNN_LAYERS_H

#include <stdint.h>

/* ---- convolution: in[N][H][W], w[C][K*K], b[C] -> out[N][OH][OW][C] ---- */
void cnn_conv_forward_ref(float *out, const float *in, const float *w, const float *b,
                          int N, int H, int W, int K, int C);
/* dw[C][K*K] += Σ x·dout (§3.6), db[C] += Σ dout */
void cnn_conv_backward_weights_ref(float *dw, float *db, const float *dout, const float *in,
                                   int N, int H, int W, int K, int C);
/* din[N][H][W] = Σ_{f,k,l} w[f][k][l]·dout[i-k][j-l][f] (§3.6) */
void cnn_conv_backward_input_ref(float *din, const float *dout, const float *w,
                                 int N, int H, int W, int K, int C);

/* ---- the blas path's convolution (Caffe's im2col + SGEMM) ----
 * Its maps are channel-major with the N samples side by side: a map is
 * [C][N·P], element (c, n, p) at c·N·P + n·P + p, so that one SGEMM covers
 * N samples: out = w·col. (The fused pass below turns it channels last.)
 *
 * im2col of one sample into a column block of col[K·K][ld]: row k·K+l,
 * column p = i·OW + j holds img[i+k][j+l]. col2im is its adjoint: it writes
 * img[H][W] = the sum of every col entry that im2col copied from that pixel. */
void cnn_im2col(float *col, long ld, const float *img, int H, int W, int K);
void cnn_col2im(float *img, const float *col, long ld, int H, int W, int K);

/* out[C][N·P] = w·col + b; col: workspace [K·K][N·P] that on return holds
 * im2col of the N samples, which cnn_conv_backward_weights_blas takes as its
 * input. b may be NULL: no bias (the trainer adds it in the fused pass). */
void cnn_conv_forward_blas(float *out, float *col, const float *in, const float *w,
                           const float *b, int N, int H, int W, int K, int C);
/* dw[C][K·K] += dout·colᵀ, db[C] += row sums of dout (db may be NULL);
 * dout[C][N·P]; col as left by cnn_conv_forward_blas. */
void cnn_conv_backward_weights_blas(float *dw, float *db, const float *dout,
                                    const float *col, int N, int H, int W, int K, int C);
/* dcol = wᵀ·dout, then din[N][H][W] = col2im(dcol); dcol: workspace [K·K][N·P]. */
void cnn_conv_backward_input_blas(float *din, float *dcol, const float *dout, const float *w,
                                  int N, int H, int W, int K, int C);

/* ---- ReLU, elementwise over n values ---- */
void cnn_relu_forward(float *out, const float *in, long n);
/* din = dout where in > 0, else 0 (§3.5; the kink at 0 gets 0) */
void cnn_relu_backward(float *din, const float *dout, const float *in, long n);

/* ---- 2×2 average pooling: in[N][H][W][C] -> out[N][H/2][W/2][C] (H, W even) ---- */
void cnn_avgpool_forward(float *out, const float *in, int N, int H, int W, int C);
/* din[N][H][W][C] = dout[i/2][j/2][c] / 4 (§3.4) */
void cnn_avgpool_backward(float *din, const float *dout, int N, int H, int W, int C);

/* ---- fused bias + ReLU + 2×2 average pooling: the blas path's single pass
 * over the convolution output, in place of three, which also turns the map
 * channels last for the dense layer. z[C][N·H·W] is the blas convolution's
 * output without bias, b[C] the bias. The reference is the composition of
 * the three ref steps above (bias in cnn_conv_forward_ref). */
/* out[N][H/2][W/2][C] = avgpool(relu(z + b)) */
void cnn_bias_relu_avgpool_forward(float *out, const float *z, const float *b,
                                   int N, int H, int W, int C);
/* dz[C][N·H·W] = relu'(z + b) ⊙ (dout[n][i/2][j/2][c] / 4), written;
 * db[C] += Σ dz; dout[N][H/2][W/2][C] */
void cnn_bias_relu_avgpool_backward(float *dz, float *db, const float *dout, const float *z,
                                    const float *b, int N, int H, int W, int C);

/* ---- fully connected: in[N][IN], w[OUT][IN], b[OUT] -> out[N][OUT] = in·wᵀ + b ---- */
void cnn_dense_forward_ref(float *out, const float *in, const float *w, const float *b,
                           int N, int IN, int OUT);
/* dw[OUT][IN] += Σ_n dout[n]ᵀ·in[n] (§3.3), db[OUT] += Σ_n dout[n] */
void cnn_dense_backward_weights_ref(float *dw, float *db, const float *dout, const float *in,
                                    int N, int IN, int OUT);
/* din[N][IN] = dout·w */
void cnn_dense_backward_input_ref(float *din, const float *dout, const float *w,
                                  int N, int IN, int OUT);
void cnn_dense_forward_blas(float *out, const float *in, const float *w, const float *b,
                            int N, int IN, int OUT);
void cnn_dense_backward_weights_blas(float *dw, float *db, const float *dout, const float *in,
                                     int N, int IN, int OUT);
void cnn_dense_backward_input_blas(float *din, const float *dout, const float *w,
                                   int N, int IN, int OUT);

/* ---- softmax + cross-entropy over OUT classes ---- */
/* probs[N][OUT] = softmax(logits) (§2.6); returns Σ_n −log probs[n][labels[n]],
 * computed as logsumexp − logit so that it stays finite for large logits. */
double cnn_softmax_xent_forward(float *probs, const float *logits, const uint8_t *labels,
                                int N, int OUT);
/* dlogits = scale·(probs − onehot(labels)) (§3.2); scale = 1/batch for a mean. */
void cnn_softmax_xent_backward(float *dlogits, const float *probs, const uint8_t *labels,
                               int N, int OUT, float scale);
/* The softmax Jacobian of §3.1 for one sample: J[i][j] = σi(δij − σj). */
void cnn_softmax_jacobian(float *J, const float *probs, int OUT);

#endif
