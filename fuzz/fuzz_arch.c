/* fuzz_arch.c — libFuzzer target: the --arch spec parser (src/net/arch.c).
 * The first two bytes pick the input map (1..64 square) and the classes
 * (1..256); the rest is the spec, as a C string. Checks: a refusal is one
 * line and leaves the table untouched; an accepted spec has positive
 * shapes that chain layer to layer, parameter offsets that tile the block,
 * a last dense layer with one output per class, and a canonical text that
 * parses again to the same table. */
#include <stdlib.h>
#include <string.h>

#include "cnn_arch.h"
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 4096)
        return 0;
    const int side = 1 + data[0] % 64, classes = 1 + data[1];
    char *spec = malloc(size - 1);
    if (!spec)
        return 0;
    memcpy(spec, data + 2, size - 2);
    spec[size - 2] = '\0';

    static cnn_arch a, b;
    memset(&a, 0xa5, sizeof a);
    cnn_arch before = a;
    cnn_err err = {{0}};
    cnn_status st = cnn_arch_parse(&a, spec, side, side, 1, classes, &err);
    if (st != CNN_OK) {
        FUZZ_ASSERT(st == CNN_ERR_ARG);
        FUZZ_ASSERT(err.msg[0] != '\0' && !strchr(err.msg, '\n'));
        FUZZ_ASSERT(memcmp(&a, &before, sizeof a) == 0);
        free(spec);
        return 0;
    }
    FUZZ_ASSERT(a.n >= 1 && a.n <= CNN_MAX_LAYERS);
    long params = 0;
    int h = side, w = side, c = 1;
    for (int i = 0; i < a.n; i++) {
        const cnn_layer *l = &a.layer[i];
        FUZZ_ASSERT(l->in_h == h && l->in_w == w && l->in_c == c);
        FUZZ_ASSERT(l->out_h >= 1 && l->out_w >= 1 && l->out_c >= 1);
        FUZZ_ASSERT(l->out_size == (long)l->out_h * l->out_w * l->out_c);
        FUZZ_ASSERT(l->w_off == params && l->b_off == l->w_off + l->w_count);
        params += l->w_count + l->b_count;
        h = l->out_h;
        w = l->out_w;
        c = l->out_c;
    }
    FUZZ_ASSERT(params == a.param_count && params <= CNN_MAX_PARAMS);
    const cnn_layer *last = &a.layer[a.n - 1];
    FUZZ_ASSERT(last->kind == CNN_LAYER_DENSE && last->size == classes);
    /* the canonical text is a spec of the same network */
    FUZZ_ASSERT(cnn_arch_parse(&b, a.spec, side, side, 1, classes, &err) == CNN_OK);
    FUZZ_ASSERT(strcmp(a.spec, b.spec) == 0 && b.param_count == a.param_count && b.n == a.n);
    free(spec);
    return 0;
}
