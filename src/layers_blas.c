/* layers_blas.c — the fast kernels: convolution by im2col + SGEMM, the dense
 * layer by SGEMM (or SGEMV for a single sample), with Caffe's shapes:
 *   conv:  out = col·wᵀ,  dw += doutᵀ·col,  dcol = dout·w then col2im
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
    long P = (long)(H - K + 1) * (W - K + 1), KK = (long)K * K;
    for (int n = 0; n < N; n++)
        cnn_im2col(col + n * P * KK, in + (long)n * H * W, H, W, K);
    if (b)
        fill_rows(out, b, N * P, C);
    gemm(0, 1, (int)(N * P), C, (int)KK, 1.0f, col, w, b ? 1.0f : 0.0f, out);
}

void cnn_conv_backward_weights_blas(float *dw, float *db, const float *dout,
                                    const float *col, int N, int H, int W, int K, int C)
{
    long P = (long)(H - K + 1) * (W - K + 1), KK = (long)K * K;
    gemm(1, 0, C, (int)KK, (int)(N * P), 1.0f, dout, col, 1.0f, dw);
    if (db)
        add_column_sums(db, dout, N * P, C);
}

void cnn_conv_backward_input_blas(float *din, float *dcol, const float *dout, const float *w,
                                  int N, int H, int W, int K, int C)
{
    long P = (long)(H - K + 1) * (W - K + 1), KK = (long)K * K;
    gemm(0, 0, (int)(N * P), (int)KK, C, 1.0f, dout, w, 0.0f, dcol);
    for (int n = 0; n < N; n++)
        cnn_col2im(din + (long)n * H * W, dcol + n * P * KK, H, W, K);
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
