/* params.c — the parameter block: its layout and its initialisation. */
#include <math.h>
#include <string.h>

#include "cnn.h"

cnn_params cnn_params_view(float *block)
{
    cnn_params p;
    p.conv_w = block;
    p.conv_b = p.conv_w + CNN_CONV_W_SIZE;
    p.fc_w = p.conv_b + CNN_CONV_B_SIZE;
    p.fc_b = p.fc_w + CNN_FC_W_SIZE;
    return p;
}

/* He-uniform keeps the ReLU layer's activations at unit-ish scale; the same
 * rule on the dense layer gives logits of order one at the start. */
static void he_uniform(float *w, long n, int fan_in, cnn_rng *rng)
{
    float a = sqrtf(6.0f / (float)fan_in);
    for (long i = 0; i < n; i++)
        w[i] = cnn_rng_uniform(rng, -a, a);
}

void cnn_params_init(float *block, cnn_rng *rng)
{
    cnn_params p = cnn_params_view(block);
    he_uniform(p.conv_w, CNN_CONV_W_SIZE, CNN_KSIZE * CNN_KSIZE, rng);
    memset(p.conv_b, 0, CNN_CONV_B_SIZE * sizeof(float));
    he_uniform(p.fc_w, CNN_FC_W_SIZE, CNN_FLAT, rng);
    memset(p.fc_b, 0, CNN_FC_B_SIZE * sizeof(float));
}
