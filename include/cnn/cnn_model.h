/* cnn_model.h — model files: the parameters in the safetensors format
 * (8-byte little-endian header length, JSON header, raw little-endian F32
 * data), with what exact resumption needs in its __metadata__.
 *
 * Tensors (row-major, F32):
 *   conv.weight [15, 1, 5, 5]   filter f, tap (k,l)
 *   conv.bias   [15]
 *   fc.weight   [10, 2160]      column k = i·(12·15) + j·15 + c (channels
 *                               last: the seed's flatten, not PyTorch's c·144+i·12+j)
 *   fc.bias     [10]
 */
#ifndef CNN_MODEL_H
#define CNN_MODEL_H

#include <stdint.h>

#include "cnn.h"

enum { CNN_MODEL_FORMAT_VERSION = 1 };

/* Everything a model file carries besides the weights. Strings are
 * NUL-terminated and fit their arrays. */
typedef struct {
    int format_version;     /* CNN_MODEL_FORMAT_VERSION when written */
    char arch[64];          /* "conv15x5x5-relu-avgpool2-fc10" */
    /* training options (not the thread count: it does not change the result,
     * and leaving it out keeps the files of equal runs byte-identical) */
    int epochs, batch;
    float lr;
    uint64_t seed;
    char impl[8];           /* "ref" or "blas" */
    /* position: `epoch` epochs complete, then `batch_in_epoch` batches of the
     * next one; `step` SGD steps in all */
    int epoch, batch_in_epoch;
    long step;
    /* RNG state at the start of the current epoch's shuffle: the epoch's order
     * is regenerated from it on resume */
    cnn_rng rng;
    /* data set shape */
    int train_count, rows, cols, classes;
} cnn_model_meta;

/* Fill meta with this network's architecture and format version; zero the rest. */
void cnn_model_meta_init(cnn_model_meta *meta);

/* Write params (CNN_PARAM_COUNT floats) and meta to path atomically: into a
 * temporary file in the same directory, flushed and fsync'd, then renamed
 * over path. On any failure path is untouched and the temporary removed. */
cnn_status cnn_model_save(const char *path, const float *params, const cnn_model_meta *meta,
                          cnn_err *err);

/* Read a model file, checking header, dtypes, shapes, offsets, file length and
 * format version. params (CNN_PARAM_COUNT floats) and meta are written only
 * when the whole file is valid. meta may be NULL. */
cnn_status cnn_model_load(const char *path, float *params, cnn_model_meta *meta, cnn_err *err);

#endif
