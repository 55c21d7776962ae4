/* params.c — initialisation of the parameter block, layer by layer from the
 * architecture's table (cnn_arch.h gives each layer's offsets). */
#include <math.h>
#include <string.h>

#include "cnn.h"

/* He-uniform keeps ReLU layers' activations at unit-ish scale; the same rule
 * on a dense layer gives logits of order one at the start. */
static void he_uniform(float *w, long n, int fan_in, cnn_rng *rng)
{
    float a = sqrtf(6.0f / (float)fan_in);
    for (long i = 0; i < n; i++)
        w[i] = cnn_rng_uniform(rng, -a, a);
}

void cnn_params_init(const cnn_arch *arch, float *block, cnn_rng *rng)
{
    for (int i = 0; i < arch->n; i++) {
        const cnn_layer *l = &arch->layer[i];
        if (!l->w_count)
            continue;
        he_uniform(block + l->w_off, l->w_count, l->fan_in, rng);
        memset(block + l->b_off, 0, (size_t)l->b_count * sizeof(float));
    }
}
