/* filter_grid.c — a picture of what a convolution layer learned: its
 * filters side by side (the seed's 15 in rows of 5), enlarged so that each
 * tap is visible; a filter over several channels shows one cell a channel. */
#include <math.h>

#include "cnn.h"
#include "cnn_image.h"

enum { GAP_SHADE = 255 };

cnn_status cnn_filter_grid(const float *conv_w, int filters, int channels, int K, int scale,
                           int gap, cnn_gray *out, cnn_err *err)
{
    if (scale < 1 || scale > 256 || gap < 0 || gap > 256 || filters < 1 || channels < 1 ||
        K < 1 || (long)filters * channels > 65536)
        return cnn_fail(err, CNN_ERR_ARG, "filter grid: scale must be 1..256, gap 0..256");
    const int cells = filters * channels;
    const int cols = channels > 1 ? channels : CNN_FILTER_GRID_COLS;
    const int rows = (cells + cols - 1) / cols;
    const int cell = K * scale;
    int w = cols * cell + (cols + 1) * gap, h = rows * cell + (rows + 1) * gap;
    cnn_status st = cnn_gray_alloc(out, w, h, GAP_SHADE);
    if (st != CNN_OK)
        return cnn_fail(err, st, "filter grid: cannot make a %dx%d image", w, h);

    for (int f = 0; f < cells; f++) {
        const float *k = conv_w + (long)f * K * K;
        float lo = k[0], hi = k[0];
        for (int t = 1; t < K * K; t++) {
            lo = fminf(lo, k[t]);
            hi = fmaxf(hi, k[t]);
        }
        int x0 = gap + (f % cols) * (cell + gap), y0 = gap + (f / cols) * (cell + gap);
        for (int i = 0; i < K; i++)
            for (int j = 0; j < K; j++) {
                /* In double, so that hi - lo cannot overflow; NaN and
                 * infinite weights (a diverged model) end up black or white
                 * instead of undefined. Rounding to nearest puts min and max
                 * exactly on 0 and 255. */
                double t = hi > lo ? ((double)k[i * K + j] - lo) / ((double)hi - lo) : 0.5;
                if (!(t >= 0.0))
                    t = 0.0;
                if (t > 1.0)
                    t = 1.0;
                int shade = (int)lrint(255.0 * t);
                for (int y = 0; y < scale; y++)
                    for (int x = 0; x < scale; x++)
                        out->pixels[(long)(y0 + i * scale + y) * w + x0 + (long)j * scale + x] =
                            (uint8_t)shade;
            }
    }
    return CNN_OK;
}
