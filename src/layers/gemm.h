/* gemm.h — the one SGEMM call shape of the blas kernels (conv_blas.c,
 * dense.c): row-major, tight leading dimensions, so that each kernel reads
 * as the matrix product it computes. Private to src/layers/. The callers
 * run inside OpenMP regions: BLAS must be single-threaded there (see
 * cnn_blas_single_thread). */
#ifndef CNN_LAYERS_GEMM_H
#define CNN_LAYERS_GEMM_H

#include <cblas.h>

/* C[M][N] = alpha·op(A)·op(B) + beta·C, row-major, with tight leading dims:
 * op(A) is M×K, op(B) is K×N. */
static inline void gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A,
                        const float *B, float beta, float *C)
{
    int lda = ta ? M : K, ldb = tb ? K : N;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, lda, B, ldb, beta, C, N);
}

#endif
