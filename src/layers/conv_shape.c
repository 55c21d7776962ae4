/* conv_shape.c — the one place where a convolution's output size is derived
 * from its input, filter, padding and stride (docs/maths.md §2.1; the
 * seed's layer is P = 0, S = 1: 28 − 5 + 1). */
#include "cnn_layers.h"

cnn_conv_shape cnn_conv_shape_make(int C, int H, int W, int F, int K, int P, int S)
{
    cnn_conv_shape s = {C, H, W, F, K, P, S, 0, 0};
    s.OH = (H + 2 * P - K) / S + 1;
    s.OW = (W + 2 * P - K) / S + 1;
    return s;
}
