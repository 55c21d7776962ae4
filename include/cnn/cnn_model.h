/* cnn_model.h — model files: the parameters in the safetensors format
 * (8-byte little-endian header length, JSON header, raw little-endian F32
 * data), with the architecture and what exact resumption needs in its
 * __metadata__.
 *
 * Tensors (row-major, F32), one weight and one bias per layer that has
 * parameters, named after the layer (cnn_layer.name: "conv" and "fc" when a
 * network has one of a kind, else "conv1", "conv2", …, "fc1", …):
 *   NAME.weight [F, C, K, K]   convolution: filter f, channel c, tap (k,l)
 *   NAME.weight [OUT, IN]      dense: column k = i·(W·C) + j·C + c, the
 *                              channels-last flatten of its H×W×C input
 *                              (PyTorch flattens channels first, c·H·W + i·W + j)
 *   NAME.bias   [F] or [OUT]
 * For the seed network that is today's conv.weight [15,1,5,5], conv.bias,
 * fc.weight [10,2160], fc.bias. Extra 1-D blocks (an optimizer's state)
 * are stored as further tensors under their own names.
 */
#ifndef CNN_MODEL_H
#define CNN_MODEL_H

#include <stdint.h>

#include "cnn.h"

/* 1: the seed network only (arch "conv15x5x5-relu-avgpool2-fc10");
 * 2: the architecture spec in "arch". Both are read. */
enum { CNN_MODEL_FORMAT_VERSION = 2 };

enum { CNN_MODEL_MAX_BLOCKS = 4 };

/* Room for a model's class names (cnn_model_meta.class_names), with the NUL. */
enum { CNN_MODEL_CLASS_NAMES = 4096 };

/* The classes of Fashion-MNIST, labels 0 to 9, in class_names form. */
#define CNN_FASHION_MNIST_CLASS_NAMES                                                          \
    "T-shirt/top\nTrouser\nPullover\nDress\nCoat\nSandal\nShirt\nSneaker\nBag\nAnkle boot"

/* An extra tensor beside the parameters, 1-D, F32 (e.g. "optim.exp_avg"). */
typedef struct {
    char name[40];
    long count;
    float *data;    /* save: the caller's; load: allocated, cnn_model_meta_free */
} cnn_model_block;

/* Everything a model file carries besides the weights. Strings are
 * NUL-terminated and fit their arrays. */
typedef struct {
    int format_version;     /* CNN_MODEL_FORMAT_VERSION when written */
    cnn_arch arch;          /* the network; arch.spec is what the file says */
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
    /* further string key/values carried through unchanged (the optimizer's
     * settings): "key=value" lines, at most this long */
    char extra[1024];
    int nblocks;
    cnn_model_block block[CNN_MODEL_MAX_BLOCKS];
    /* The names of the classes, label 0 first, joined by '\n' (no newline
     * after the last); "" when the file names none (files written before
     * names existed, or by a run given none). Stored as the "class_names"
     * metadata string; checked by cnn_model_check_class_names on save and
     * load. */
    char class_names[CNN_MODEL_CLASS_NAMES];
} cnn_model_meta;

/* Fill meta with this architecture, the format version, the architecture's
 * rows, cols and classes, and the RNG as seeded with 0 (a valid PCG32
 * state); zero the rest. Such a meta can be saved as it is. */
void cnn_model_meta_init(cnn_model_meta *meta, const cnn_arch *arch);

/* Whether `names` (joined by '\n') can name `classes` classes: exactly
 * that many names, each valid UTF-8, not empty or only spaces, without
 * control characters, no two alike, all in CNN_MODEL_CLASS_NAMES - 1
 * bytes. CNN_OK, or CNN_ERR_ARG with one line in err naming classes by
 * label (from 0): "9 class names for 10 classes", "the name of class 3 is
 * empty", "classes 2 and 5 are both named 'Coat'", "the name of class 4
 * holds a control character", "the name of class 4 is not valid UTF-8",
 * "class names longer than 4095 bytes". */
cnn_status cnn_model_check_class_names(const char *names, int classes, cnn_err *err);

/* Free the blocks a load allocated. */
void cnn_model_meta_free(cnn_model_meta *meta);

/* Write params (meta->arch.param_count floats), meta's blocks and meta to
 * path atomically: into a temporary file in the same directory, flushed and
 * fsync'd, then renamed over path. On any failure path is untouched and the
 * temporary removed. Whatever is written loads: anything cnn_model_load
 * would refuse (a number out of range, rows/cols/classes that do not match
 * the architecture, a block not named "optim.*", a NaN or an infinity) is
 * refused here first with the same line and CNN_ERR_ARG, before the disk
 * is touched. */
cnn_status cnn_model_save(const char *path, const float *params, const cnn_model_meta *meta,
                          cnn_err *err);

/* Read a model file, checking header, architecture, dtypes, shapes, offsets,
 * file length, format version, and that every value is finite. On success
 * *params is a new block of meta->arch.param_count floats (free()), meta
 * is filled (its blocks allocated: cnn_model_meta_free); on failure nothing
 * is allocated. */
cnn_status cnn_model_load(const char *path, float **params, cnn_model_meta *meta, cnn_err *err);

#endif
