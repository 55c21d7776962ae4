/* softmax.c — softmax with cross-entropy over the logits of N samples,
 * forward and backward (docs/maths.md §2.6, §3.2), and the softmax Jacobian
 * of §3.1 that the tests check §3.2 against. One implementation, shared by
 * the ref and blas paths: it is a few dozen flops per sample. */
#include <math.h>

#include "cnn_layers.h"

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
