/* fuzz_model_header.c — libFuzzer target: the safetensors model loader
 * (cnn_model_load) with the input as the JSON header alone, so that every
 * mutation lands in the header: metadata, tensor table, dtypes, shapes and
 * data_offsets. The file loaded is an honest frame around it: the 8-byte
 * little-endian length of the input, the input, then D zero bytes of data,
 * where D is the largest integer outside strings in the input (at most
 * 1 MiB). In a valid header that is the end of the last tensor's
 * data_offsets, so a valid header gives a valid file, whatever tensors the
 * loader expects; the fuzzer can change D by editing numbers.
 * Checks: see model_load.h. */
#include <stdint.h>

#include "harness.h"
#include "model_load.h"

enum { MAX_DATA = 1 << 20 };

static size_t data_size(const uint8_t *h, size_t n)
{
    size_t best = 0;
    int in_string = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = h[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c >= '0' && c <= '9') {
            uint64_t v = 0;
            for (; i < n && h[i] >= '0' && h[i] <= '9'; i++)
                if (v <= MAX_DATA)
                    v = v * 10 + (uint64_t)(h[i] - '0');
            i--;
            if (v <= MAX_DATA && v > best)
                best = (size_t)v;
        }
    }
    return best;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t zeros[MAX_DATA];
    uint8_t len[8];
    for (int k = 0; k < 8; k++)
        len[k] = (uint8_t)((uint64_t)size >> (8 * k));
    const uint8_t *parts[3] = {len, data, zeros};
    size_t sizes[3] = {8, size, data_size(data, size)};
    fuzz_model_load(fuzz_file_parts(parts, sizes, 3));
    return 0;
}
