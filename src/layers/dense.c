/* dense.c — the fully connected layer, forward and backward, in its two
 * implementations: *_ref direct loops (docs/maths.md §2.5, §3.3) and *_blas
 * the same products as one SGEMM per call (SGEMV/SGER for one sample):
 *   out = in·wᵀ + b,   dw += doutᵀ·in,   din = dout·w
 * on in[N][IN], w[OUT][IN] (PyTorch's layout), row-major. The blas kernels
 * run inside OpenMP regions: BLAS must be single-threaded there. */
#include "cnn_layers.h"
#include "gemm.h"

/* ---- ref ---- */

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

/* ---- blas ---- */

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
