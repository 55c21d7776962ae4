/* conv_blas.c — the fast convolution: Caffe's im2col + SGEMM on
 * channel-major (CN) maps, N samples side by side in one product:
 *   forward   out[rows][N·P] = w[rows][C·K·K] · col[C·K·K][N·P]     (§2.1)
 *   weights   dw[rows][C·K·K] += dout[rows][N·P] · colᵀ             (§3.6)
 *        or   dwᵀ[C·K·K][rows] += col · doutᵀ (the same sums, another rounding)
 *   input     dcol[C·K·K][N·P] = w[F][C·K·K]ᵀ · dout[F][N·P], col2im (§3.6)
 * with P = OH·OW. `rows` ≥ F lets the caller pad the filters with zero rows:
 * OpenBLAS's SGEMM kernels work in blocks of 4, 8 and 16 rows, and 15
 * filters leave a ragged block that costs more than a 16th zero filter.
 * For the seed's shape these are the very calls (same M, N, K and leading
 * dimensions) the one-channel version made, so results are bitwise the
 * same. These run inside OpenMP regions: BLAS must be single-threaded. */
#include "cnn_layers.h"
#include "gemm.h"

void cnn_conv_forward_blas(float *out, float *col, const float *in, const float *w,
                           const float *b, int N, int rows, const cnn_conv_shape *s)
{
    const long P = (long)s->OH * s->OW, NP = N * P, CKK = (long)s->C * s->K * s->K;
    const long img = (long)s->H * s->W, plane = N * img;
    for (int n = 0; n < N; n++)
        cnn_im2col(col + n * P, NP, in + n * img, plane, s);
    if (b)
        for (int f = 0; f < rows; f++) {
            const float v = f < s->F ? b[f] : 0.0f; /* padding rows: no bias */
            for (long p = 0; p < NP; p++)
                out[f * NP + p] = v;
        }
    gemm(0, 0, rows, (int)NP, (int)CKK, 1.0f, w, col, b ? 1.0f : 0.0f, out);
}

/* db[f] += Σ of dout's row f (NP entries), f < F */
static void bias_gradient(float *db, const float *dout, long NP, int F)
{
    for (int f = 0; f < F; f++) {
        float sum = 0.0f;
        for (long p = 0; p < NP; p++)
            sum += dout[f * NP + p];
        db[f] += sum;
    }
}

void cnn_conv_backward_weights_blas(float *dw, float *db, const float *dout, const float *col,
                                    int N, int rows, const cnn_conv_shape *s)
{
    const long P = (long)s->OH * s->OW, NP = N * P, CKK = (long)s->C * s->K * s->K;
    gemm(0, 1, rows, (int)CKK, (int)NP, 1.0f, dout, col, 1.0f, dw);
    if (db)
        bias_gradient(db, dout, NP, s->F);
}

/* The same sums as dwᵀ: dwt[C·K·K][rows] += col·doutᵀ. OpenBLAS's kernels
 * then take the filter rows as the product's short side and C·K·K as the
 * long one, which suits them better here (AMD EPYC family 26, Haswell
 * kernels, one thread, batch 64: LeNet-5's weight gradients 660 -> 510 µs
 * and 570 -> 470 µs, the seed's 735 -> 700 µs). The rounding differs from
 * the other orientation's, so the net chooses one per stage (stages.c). */
void cnn_conv_backward_weights_t_blas(float *dwt, float *db, const float *dout,
                                      const float *col, int N, int rows,
                                      const cnn_conv_shape *s)
{
    const long P = (long)s->OH * s->OW, NP = N * P, CKK = (long)s->C * s->K * s->K;
    gemm(0, 1, (int)CKK, rows, (int)NP, 1.0f, col, dout, 1.0f, dwt);
    if (db)
        bias_gradient(db, dout, NP, s->F);
}

void cnn_conv_backward_input_blas(float *din, float *dcol, const float *dout, const float *w,
                                  int N, const cnn_conv_shape *s)
{
    const long P = (long)s->OH * s->OW, NP = N * P, CKK = (long)s->C * s->K * s->K;
    const long img = (long)s->H * s->W, plane = N * img;
    gemm(1, 0, (int)CKK, (int)NP, s->F, 1.0f, w, dout, 0.0f, dcol);
    for (int n = 0; n < N; n++)
        cnn_col2im(din + n * img, plane, dcol + n * P, NP, s);
}
