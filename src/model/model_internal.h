/* model_internal.h — what the model file's two halves share: model_io.c
 * (the file: header length, tensors, data) and model_meta.c (the
 * __metadata__: writing it, and reading it back strictly). Private. */
#ifndef CNN_MODEL_INTERNAL_H
#define CNN_MODEL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cnn_model.h"
#include "json_reader.h"

/* The architecture string of format version 1, the seed network's only. */
#define CNN_MODEL_V1_ARCH "conv15x5x5-relu-avgpool2-fc10"

/* A growing string for the JSON header; overflow is sticky. */
typedef struct {
    char *p;
    size_t len, cap;
    int overflow;
} strbuf;

void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_json_string(strbuf *b, const char *s);
void sb_json_mem(strbuf *b, const char *s, size_t n); /* n bytes of s */

/* Up to 64 bytes of s with anything outside printable ASCII as '?', so a
 * hostile name cannot break the one-line error message. */
const char *model_printable(char out[72], const char *s);

/* ---- __metadata__ ---- */
enum {
    M_FORMAT_VERSION, M_ARCH, M_EPOCHS, M_BATCH, M_LR, M_SEED, M_IMPL,
    M_EPOCH, M_BATCH_IN_EPOCH, M_STEP, M_RNG_STATE, M_RNG_INC, M_TRAIN_COUNT,
    M_ROWS, M_COLS, M_CLASSES, M_INPUT, M_CLASS_NAMES, M_COUNT
};
extern const char *const model_meta_keys[M_COUNT];

/* Metadata as read: the value of each known key (NULL: absent), and the
 * "train.*" keys in file order. */
enum { MAX_EXTRA_KEYS = 64 };
typedef struct {
    const char *mval[M_COUNT];
    const char *xkey[MAX_EXTRA_KEYS], *xval[MAX_EXTRA_KEYS];
    int nextra;
} meta_values;

/* Append ,"__metadata__":{…} (without the leading comma: it comes first). */
cnn_status model_meta_write(const char *path, const cnn_model_meta *m, strbuf *b, cnn_err *err);
/* Read one __metadata__ object's values (strings only). */
cnn_status model_meta_parse(jparser *p, meta_values *v);
/* Check and convert them into m, parsing the architecture. */
cnn_status model_meta_check(const char *path, const meta_values *v, cnn_model_meta *m,
                            cnn_err *err);

#endif
