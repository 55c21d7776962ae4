/* cnn_layers.h — the layer kernels, each as forward/backward pairs, in two
 * implementations: *_ref are direct loops transcribing the maths
 * (docs/maths.md); *_blas lower the same maths onto SGEMM. Tests and
 * bench/layers compare every *_blas kernel against its *_ref twin.
 *
 * Conventions (after llm.c): outputs first, then inputs, then shapes.
 * Backward kernels ADD into parameter gradients (dw, db) and WRITE input
 * gradients (din).
 *
 * Two map layouts:
 *   channels last, "NC": a batch of N maps of H×W×C is [N][H][W][C], so the
 *     seed's flatten k = i·(W·C) + j·C + c is the identity on memory. The
 *     ref path uses it everywhere, the blas path for dense layers.
 *   channel-major, "CN" (Caffe's): [C][N·H·W], channel c of sample n at
 *     c·N·H·W + n·H·W, so that one SGEMM convolves N samples side by side.
 *     The blas path's convolutions read and write it.
 * For one channel the two are the same memory. An NC kernel over (N·C maps
 * of H×W×1) works on a CN map unchanged: that is how the pools serve both.
 */
#ifndef CNN_LAYERS_H
#define CNN_LAYERS_H

#include <stdint.h>

/* ---- convolution shapes ----
 * Input C×H×W; F filters of C×K×K; zero padding P on every side; stride S.
 * Output F×OH×OW with OH = (H + 2P − K)/S + 1, OW likewise (the caller
 * guarantees H + 2P ≥ K). Weights are w[F][C][K][K] (PyTorch's OIHW), so
 * filter f, channel c, tap (k,l) is w[((f·C + c)·K + k)·K + l]. */
typedef struct {
    int C, H, W;     /* input channels, height, width */
    int F, K, P, S;  /* filters, kernel size, padding, stride */
    int OH, OW;      /* output height, width */
} cnn_conv_shape;

/* A shape with OH, OW computed from the rest. */
cnn_conv_shape cnn_conv_shape_make(int C, int H, int W, int F, int K, int P, int S);

/* ---- convolution, ref: in[N][H][W][C] (NC) -> out[N][OH][OW][F] (NC) ----
 * out[n][i][j][f] = b[f] + Σ_{c,k,l} w[f][c][k][l]·x[n][i·S+k−P][j·S+l−P][c],
 * x read as 0 outside the map (the padding). */
void cnn_conv_forward_ref(float *out, const float *in, const float *w, const float *b, int N,
                          const cnn_conv_shape *s);
/* dw[f][c][k][l] += Σ_{n,i,j} x[n][i·S+k−P][j·S+l−P][c]·dout[n][i][j][f];
 * db[f] += Σ_{n,i,j} dout[n][i][j][f] */
void cnn_conv_backward_weights_ref(float *dw, float *db, const float *dout, const float *in,
                                   int N, const cnn_conv_shape *s);
/* din[n][y][x][c] = Σ over (f,k,l,i,j) with i·S+k−P = y, j·S+l−P = x of
 * w[f][c][k][l]·dout[n][i][j][f] (docs/maths.md §3.6: channels, padding, stride) */
void cnn_conv_backward_input_ref(float *din, const float *dout, const float *w, int N,
                                 const cnn_conv_shape *s);

/* ---- convolution, blas (Caffe's im2col + SGEMM), CN maps ----
 * im2col of one sample: img holds its C planes of H·W floats, plane c at
 * img + c·plane (plane = N·H·W inside a CN map of N samples). col is
 * [C·K·K][ld]: row (c·K + k)·K + l, column p = i·OW + j holds
 * x[c][i·S+k−P][j·S+l−P], or 0 where that falls in the padding.
 * col2im is its adjoint: it WRITES img's C planes (zeroing them first) with,
 * at each pixel, the sum of every col entry that im2col copied from it. */
void cnn_im2col(float *col, long ld, const float *img, long plane, const cnn_conv_shape *s);
void cnn_col2im(float *img, long plane, const float *col, long ld, const cnn_conv_shape *s);

/* out[rows][N·OH·OW] = w·col (+ b[f] on row f when b is not NULL); in is a
 * CN map [C][N·H·W]; col: workspace [C·K·K][N·OH·OW] that on return holds
 * im2col of the N samples, which cnn_conv_backward_weights_blas takes.
 * w is [rows][C·K·K] with rows ≥ F: the caller may pad the filters with
 * zero rows to suit the SGEMM kernel's blocking (see the net's blas plan);
 * b has F entries (rows beyond F get no bias). */
void cnn_conv_forward_blas(float *out, float *col, const float *in, const float *w,
                           const float *b, int N, int rows, const cnn_conv_shape *s);
/* dw[rows][C·K·K] += dout·colᵀ; db[f] += Σ of dout's row f for f < F (db may
 * be NULL); dout[rows][N·OH·OW] (rows beyond F must be zero or the caller
 * ignores their dw). */
void cnn_conv_backward_weights_blas(float *dw, float *db, const float *dout, const float *col,
                                    int N, int rows, const cnn_conv_shape *s);
/* The same with the weight gradient transposed: dwt[C·K·K][rows] += col·doutᵀ
 * (the same sums, rounded differently: faster with OpenBLAS here, see
 * conv_blas.c); db as above. */
void cnn_conv_backward_weights_t_blas(float *dwt, float *db, const float *dout,
                                      const float *col, int N, int rows,
                                      const cnn_conv_shape *s);
/* dcol = wᵀ·dout over the F real filters (w[F][C·K·K], dout's first F rows
 * of N·OH·OW), then din (CN, [C][N·H·W]) = col2im(dcol), written.
 * dcol: workspace [C·K·K][N·OH·OW]. */
void cnn_conv_backward_input_blas(float *din, float *dcol, const float *dout, const float *w,
                                  int N, const cnn_conv_shape *s);

/* ---- ReLU, elementwise over n values (any layout) ---- */
void cnn_relu_forward(float *out, const float *in, long n);
/* din = dout where in > 0, else 0 (§3.5; the kink at 0 gets 0) */
void cnn_relu_backward(float *din, const float *dout, const float *in, long n);

/* ---- pooling, window Z×Z with stride Z: in[N][H][W][C] -> out[N][H/Z][W/Z][C]
 * (Z divides H and W). On a CN map call them with (N·C, H, W, 1). ---- */
/* out = (1/Z²)·Σ of the window (docs/maths.md §2.3) */
void cnn_avgpool_forward(float *out, const float *in, int N, int H, int W, int C, int Z);
/* din[n][y][x][c] = dout[n][y/Z][x/Z][c] / Z², written (§3.4) */
void cnn_avgpool_backward(float *din, const float *dout, int N, int H, int W, int C, int Z);
/* out = max of the window (§2.3) */
void cnn_maxpool_forward(float *out, const float *in, int N, int H, int W, int C, int Z);
/* din (written) is zero except at each window's arg-max, which receives that
 * window's dout. Ties: the first maximum in row-major order inside the
 * window (smallest row, then smallest column) takes the whole gradient —
 * PyTorch's rule. The arg-max is found again from `in`, so no index map is
 * kept between the passes. NaN inputs: never selected unless the whole
 * window is NaN (then the first element). */
void cnn_maxpool_backward(float *din, const float *dout, const float *in, int N, int H, int W,
                          int C, int Z);

/* ---- fused bias + ReLU + 2×2 average pooling: the blas path's single pass
 * over a convolution's output, in place of three. z[C][N·H·W] is the blas
 * convolution's output without bias (CN), b[C] the bias. The output is NC
 * ([N][H/2][W/2][C], for a dense layer next) when out_cn is 0, CN
 * ([C][N·(H/2)·(W/2)], for a convolution next) when 1. The reference is the
 * composition of the three ref steps above (bias in cnn_conv_forward_ref). */
/* out = avgpool2(relu(z + b)) */
void cnn_bias_relu_avgpool_forward(float *out, const float *z, const float *b, int N, int H,
                                   int W, int C, int out_cn);
/* dz[C][N·H·W] = relu'(z + b) ⊙ (dout[n][i/2][j/2][c] / 4), written;
 * db[C] += Σ dz; dout laid out as the forward's out (out_cn) */
void cnn_bias_relu_avgpool_backward(float *dz, float *db, const float *dout, const float *z,
                                    const float *b, int N, int H, int W, int C, int out_cn);

/* ---- layout changes between CN and NC, P positions per map ---- */
/* out[n][p][c] = in[c][n·P + p] */
void cnn_cn_to_nc(float *out, const float *in, int N, long P, int C);
/* out[c][n·P + p] = in[n][p][c] */
void cnn_nc_to_cn(float *out, const float *in, int N, long P, int C);

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
