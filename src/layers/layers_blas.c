/* layers_blas.c — the fast kernels: convolution by im2col + SGEMM, the dense
 * layer by SGEMM (or SGEMV for a single sample), with Caffe's shapes:
 *   conv:  out = w·col,   dw += dout·colᵀ,  dcol = wᵀ·dout then col2im
 *   dense: out = in·wᵀ,   dw += doutᵀ·in,   din = dout·w
 * All matrices are row-major. These run inside OpenMP regions: the caller
 * must keep BLAS single-threaded (see cnn_blas_single_thread). */
#include <cblas.h>

#include "cnn_layers.h"

/* C[M][N] = alpha·op(A)·op(B) + beta·C, row-major, with tight leading dims. */
static void gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A,
                 const float *B, float beta, float *C)
{
    int lda = ta ? M : K, ldb = tb ? K : N;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, lda, B, ldb, beta, C, N);
}

static void fill_rows(float *out, const float *b, long rows, int cols)
{
    for (long r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            out[r * cols + c] = b[c];
}

static void add_column_sums(float *db, const float *m, long rows, int cols)
{
    for (long r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            db[c] += m[r * cols + c];
}

void cnn_conv_forward_blas(float *out, float *col, const float *in, const float *w,
                           const float *b, int N, int H, int W, int K, int C)
{
    long P = (long)(H - K + 1) * (W - K + 1), NP = N * P, KK = (long)K * K;
    for (int n = 0; n < N; n++)
        cnn_im2col(col + n * P, NP, in + (long)n * H * W, H, W, K);
    if (b)
        for (int c = 0; c < C; c++)
            for (long p = 0; p < NP; p++)
                out[c * NP + p] = b[c];
    gemm(0, 0, C, (int)NP, (int)KK, 1.0f, w, col, b ? 1.0f : 0.0f, out);
}

void cnn_conv_backward_weights_blas(float *dw, float *db, const float *dout,
                                    const float *col, int N, int H, int W, int K, int C)
{
    long P = (long)(H - K + 1) * (W - K + 1), NP = N * P, KK = (long)K * K;
    gemm(0, 1, C, (int)KK, (int)NP, 1.0f, dout, col, 1.0f, dw);
    if (db)
        for (int c = 0; c < C; c++) {
            float s = 0.0f;
            for (long p = 0; p < NP; p++)
                s += dout[c * NP + p];
            db[c] += s;
        }
}

void cnn_conv_backward_input_blas(float *din, float *dcol, const float *dout, const float *w,
                                  int N, int H, int W, int K, int C)
{
    long P = (long)(H - K + 1) * (W - K + 1), NP = N * P, KK = (long)K * K;
    gemm(1, 0, (int)KK, (int)NP, C, 1.0f, w, dout, 0.0f, dcol);
    for (int n = 0; n < N; n++)
        cnn_col2im(din + (long)n * H * W, dcol + n * P, NP, H, W, K);
}

void cnn_dense_forward_blas(float *out, const float *in, const float *w, const float *b,
                            int N, int IN, int OUT)
{
    fill_rows(out, b, N, OUT);
    if (N == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, OUT, IN, 1.0f, w, IN, in, 1, 1.0f, out, 1);
    else
        gemm(0, 1, N, OUT, IN, 1.0f, in, w, 1.0f, out);
}

void cnn_dense_backward_weights_blas(float *dw, float *db, const float *dout, const float *in,
                                     int N, int IN, int OUT)
{
    if (N == 1)
        cblas_sger(CblasRowMajor, OUT, IN, 1.0f, dout, 1, in, 1, dw, IN);
    else
        gemm(1, 0, OUT, IN, N, 1.0f, dout, in, 1.0f, dw);
    add_column_sums(db, dout, N, OUT);
}

void cnn_dense_backward_input_blas(float *din, const float *dout, const float *w,
                                   int N, int IN, int OUT)
{
    if (N == 1)
        cblas_sgemv(CblasRowMajor, CblasTrans, OUT, IN, 1.0f, w, IN, dout, 1, 0.0f, din, 1);
    else
        gemm(0, 0, N, IN, OUT, 1.0f, dout, w, 0.0f, din);
}
