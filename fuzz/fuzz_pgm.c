/* fuzz_pgm.c — libFuzzer target: the binary PGM reader (cnn_pgm_read in
 * src/image/pgm.c) on the input as a file. Checks: a refusal zeroes the
 * output and explains itself; an accepted image has sides in
 * 1..CNN_IMAGE_MAX_SIDE and maxval in 1..255, its pixels are the input's
 * last width·height bytes exactly, and none is above maxval. */
#include <string.h>

#include "cnn_image.h"
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    cnn_gray im;
    memset(&im, 0xab, sizeof im);
    cnn_err err = {""};
    cnn_status st = cnn_pgm_read(path, &im, &err);
    if (st == CNN_OK) {
        FUZZ_ASSERT(im.width >= 1 && im.width <= CNN_IMAGE_MAX_SIDE);
        FUZZ_ASSERT(im.height >= 1 && im.height <= CNN_IMAGE_MAX_SIDE);
        FUZZ_ASSERT(im.maxval >= 1 && im.maxval <= 255 && im.pixels);
        size_t n = (size_t)im.width * (size_t)im.height;
        FUZZ_ASSERT(n < size && memcmp(im.pixels, data + size - n, n) == 0);
        for (size_t i = 0; i < n; i++)
            FUZZ_ASSERT(im.pixels[i] <= im.maxval);
        cnn_gray_free(&im);
    } else {
        fuzz_check_err(st, &err, path);
        FUZZ_ASSERT(im.pixels == NULL && im.width == 0 && im.height == 0);
    }
    return 0;
}
