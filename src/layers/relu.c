/* relu.c — ReLU, forward and backward, elementwise over any layout
 * (docs/maths.md §2.2 and §3.5). The ref and the blas paths share it; the
 * blas path mostly runs it inside fused.c's single pass instead. */
#include "cnn_layers.h"

/* §2.2: y = max(0, x) */
void cnn_relu_forward(float *out, const float *in, long n)
{
    for (long i = 0; i < n; i++)
        out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

/* §3.5: ∂L/∂x = ∂L/∂y where x > 0, else 0 (the kink at 0 gets 0) */
void cnn_relu_backward(float *din, const float *dout, const float *in, long n)
{
    for (long i = 0; i < n; i++) {
        float d = dout[i]; /* loaded unconditionally so the loop has no branch */
        din[i] = in[i] > 0.0f ? d : 0.0f;
    }
}
