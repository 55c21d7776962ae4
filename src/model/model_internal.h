/* model_internal.h — what the model file's parts share: model_save.c
 * (writing a file), model_load.c (reading one), model_tensors.c (the
 * tensors both expect, and the header checked against them) and
 * model_meta.c (the __metadata__: writing it, and reading it back
 * strictly). Private.
 *
 * Model files are in the safetensors format, so that a trained network can
 * be read by other tools (Python's safetensors, numpy), and a training run
 * can be resumed exactly from what __metadata__ records. Layout: 8-byte
 * little-endian header length N, N bytes of UTF-8 JSON (padded with spaces
 * to a multiple of 8 so the data stays 8-aligned), then the raw
 * little-endian F32 data: the parameter block in layer order (each layer's
 * weight, then its bias: cnn_model.h names them), then any extra blocks.
 * The reader accepts the tensors in any buffer order, as long as they tile
 * the buffer exactly, since other writers are free to reorder. */
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

/* ---- the tensors (model_tensors.c) ---- */
enum { MAX_DIMS = 8, MAX_TENSORS = 2 * CNN_MAX_LAYERS + CNN_MODEL_MAX_BLOCKS };

/* A tensor the architecture (and the extra blocks) call for. */
typedef struct {
    char name[48];
    int ndim;
    uint64_t shape[4];
    uint64_t first;  /* offset in the data, in floats */
    uint64_t count;
    int block;       /* -1: the parameter block, else meta->block[block] */
} tensor_desc;

/* The tensor list, in file order: each layer's weight then bias, then the
 * blocks. Returns the count; *floats gets the data's length in floats. */
int model_tensor_list(const cnn_model_meta *m, tensor_desc *t, uint64_t *floats);

/* A tensor's entry in a header, as read. */
typedef struct {
    const char *name;
    char *dtype;
    uint64_t shape[MAX_DIMS];
    int ndim;
    uint64_t off[2];
} tensor_info;

/* A header as read, and the tensors its metadata calls for, matched. */
typedef struct {
    int have_meta;
    meta_values mv;
    tensor_info t[MAX_TENSORS];    /* the header's entries, in its order */
    int nt;
    tensor_desc want[MAX_TENSORS]; /* model_tensor_list of the metadata */
    int map[MAX_TENSORS];          /* want[k] is t[map[k]] */
    int nw;
    uint64_t floats;               /* the data's length, in floats */
} header_info;

/* Parse the header text (n bytes, NUL-terminated; strings are decoded in
 * place) into h, zeroed by the caller, and check it: __metadata__ present
 * and valid (into m), the optim.* blocks named and sized in m (their data
 * left NULL), and the tensors exactly those m calls for, F32, of their
 * shapes, tiling the data. Any refusal is one line in err. */
cnn_status model_read_header(const char *path, char *text, size_t n, header_info *h,
                             cnn_model_meta *m, cnn_err *err);

/* Every one of the count values at v finite, else CNN_ERR_FORMAT naming
 * tensor `name` and the first bad index: a poisoned model is neither
 * written nor loaded. */
cnn_status model_check_finite(const char *path, const char *name, const float *v, uint64_t count,
                              cnn_err *err);

#endif
