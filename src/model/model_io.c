/* model_io.c — model files in the safetensors format, so that a trained
 * network can be read by other tools (Python's safetensors, numpy) and a
 * training run can be resumed exactly from what __metadata__ records.
 *
 * Layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * (padded with spaces to a multiple of 8 so the data stays 8-aligned), then
 * the raw little-endian F32 data of conv.weight, conv.bias, fc.weight,
 * fc.bias. The reader accepts the tensors in any buffer order, as long as
 * they tile the buffer exactly, since other writers are free to reorder. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "cnn_atomic_file.h"
#include "cnn_model.h"
#include "json_reader.h"
#include "../util/open_regular.h"

#define MODEL_ARCH "conv15x5x5-relu-avgpool2-fc10"

/* A sane bound: our own header is under 2 KiB; anything near this limit is
 * not a model of this network, and the bound keeps a hostile length from
 * turning into a huge allocation. */
#define MAX_HEADER ((uint64_t)1 << 20)

enum { NTENSORS = 4, MAX_DIMS = 8, DATA_BYTES = 4 * CNN_PARAM_COUNT };

typedef struct {
    const char *name;
    int ndim;
    uint64_t shape[4];
    size_t first;   /* offset in the parameter block, in floats */
    size_t count;
} tensor_desc;

static const tensor_desc tensors[NTENSORS] = {
    {"conv.weight", 4, {CNN_FILTERS, 1, CNN_KSIZE, CNN_KSIZE}, 0, CNN_CONV_W_SIZE},
    {"conv.bias", 1, {CNN_FILTERS}, CNN_CONV_W_SIZE, CNN_CONV_B_SIZE},
    {"fc.weight", 2, {CNN_CLASSES, CNN_FLAT}, CNN_CONV_W_SIZE + CNN_CONV_B_SIZE, CNN_FC_W_SIZE},
    {"fc.bias", 1, {CNN_CLASSES}, CNN_CONV_W_SIZE + CNN_CONV_B_SIZE + CNN_FC_W_SIZE,
     CNN_FC_B_SIZE},
};

enum {
    M_FORMAT_VERSION, M_ARCH, M_EPOCHS, M_BATCH, M_LR, M_SEED, M_IMPL,
    M_EPOCH, M_BATCH_IN_EPOCH, M_STEP, M_RNG_STATE, M_RNG_INC, M_TRAIN_COUNT,
    M_ROWS, M_COLS, M_CLASSES, M_INPUT, M_COUNT
};

static const char *const meta_keys[M_COUNT] = {
    "format_version", "arch", "epochs", "batch", "lr", "seed", "impl",
    "epoch", "batch_in_epoch", "step", "rng_state", "rng_inc", "train_count",
    "rows", "cols", "classes", "input",
};

/* How pixels enter the network (cnn.h): part of the model like its weights,
 * so written out for readers in other tools and checked on load. */
static void input_rule(char *out, size_t cap)
{
    snprintf(out, cap, "(pixel/255 - %.4f) / %.4f", (double)CNN_INPUT_MEAN,
             (double)CNN_INPUT_STD);
}

void cnn_model_meta_init(cnn_model_meta *meta)
{
    memset(meta, 0, sizeof *meta);
    meta->format_version = CNN_MODEL_FORMAT_VERSION;
    snprintf(meta->arch, sizeof meta->arch, "%s", MODEL_ARCH);
}

/* Explicit byte order: the file is little-endian whatever the host is. */
static void put_u32le(unsigned char *p, uint32_t u)
{
    p[0] = (unsigned char)u;
    p[1] = (unsigned char)(u >> 8);
    p[2] = (unsigned char)(u >> 16);
    p[3] = (unsigned char)(u >> 24);
}

static uint32_t get_u32le(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Up to 64 bytes of s with anything outside printable ASCII as '?', so a
 * hostile name cannot break the one-line error message. */
static const char *printable(char out[72], const char *s)
{
    size_t i = 0;
    for (; s[i] && i < 64; i++)
        out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (s[i]) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}

/* ---- writing ---------------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
    int overflow;
} strbuf;

static void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(strbuf *b, const char *fmt, ...)
{
    if (b->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len)
        b->overflow = 1;
    else
        b->len += (size_t)n;
}

static void sb_json_string(strbuf *b, const char *s)
{
    sb_printf(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '"': sb_printf(b, "\\\""); break;
        case '\\': sb_printf(b, "\\\\"); break;
        case '\n': sb_printf(b, "\\n"); break;
        case '\t': sb_printf(b, "\\t"); break;
        case '\r': sb_printf(b, "\\r"); break;
        default:
            if (c < 0x20)
                sb_printf(b, "\\u%04x", c);
            else
                sb_printf(b, "%c", c);
        }
    }
    sb_printf(b, "\"");
}

static void sb_meta_str(strbuf *b, const char *key, const char *val)
{
    sb_printf(b, ",\"%s\":", key);
    sb_json_string(b, val);
}

static void sb_meta_int(strbuf *b, const char *key, long long v)
{
    sb_printf(b, ",\"%s\":\"%lld\"", key, v);
}

static void sb_meta_u64(strbuf *b, const char *key, uint64_t v)
{
    sb_printf(b, ",\"%s\":\"%" PRIu64 "\"", key, v);
}

/* Check that a fixed-size meta string is terminated and valid UTF-8: the
 * header must be UTF-8 JSON, and a reader could not load it otherwise. The
 * check is the reader's own, so whatever we write, we can load. */
static cnn_status check_meta_string(const char *path, const char *field, const char *s,
                                    size_t cap, cnn_err *err)
{
    const char *nul = memchr(s, '\0', cap);
    if (!nul)
        return cnn_fail(err, CNN_ERR_ARG, "%s: meta.%s is not NUL-terminated", path, field);
    size_t n = (size_t)(nul - s);
    if (jp_utf8_check(s, n) != n)
        return cnn_fail(err, CNN_ERR_ARG, "%s: meta.%s is not valid UTF-8", path, field);
    return CNN_OK;
}

/* The JSON header, padded with spaces to a multiple of 8 bytes. */
static cnn_status build_header(const char *path, const cnn_model_meta *m, strbuf *b,
                               cnn_err *err)
{
    cnn_status st = check_meta_string(path, "arch", m->arch, sizeof m->arch, err);
    if (st == CNN_OK)
        st = check_meta_string(path, "impl", m->impl, sizeof m->impl, err);
    if (st != CNN_OK)
        return st;

    sb_printf(b, "{\"__metadata__\":{\"format_version\":\"%d\"", m->format_version);
    sb_meta_str(b, "arch", m->arch);
    sb_meta_int(b, "epochs", m->epochs);
    sb_meta_int(b, "batch", m->batch);
    /* 9 significant digits are enough for any float to read back exactly. */
    sb_printf(b, ",\"lr\":\"%.9g\"", (double)m->lr);
    sb_meta_u64(b, "seed", m->seed);
    sb_meta_str(b, "impl", m->impl);
    sb_meta_int(b, "epoch", m->epoch);
    sb_meta_int(b, "batch_in_epoch", m->batch_in_epoch);
    sb_meta_int(b, "step", m->step);
    sb_meta_u64(b, "rng_state", m->rng.state);
    sb_meta_u64(b, "rng_inc", m->rng.inc);
    sb_meta_int(b, "train_count", m->train_count);
    sb_meta_int(b, "rows", m->rows);
    sb_meta_int(b, "cols", m->cols);
    sb_meta_int(b, "classes", m->classes);
    char rule[64];
    input_rule(rule, sizeof rule);
    sb_meta_str(b, "input", rule);
    sb_printf(b, "}");

    for (int t = 0; t < NTENSORS; t++) {
        const tensor_desc *d = &tensors[t];
        sb_printf(b, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[", d->name);
        for (int k = 0; k < d->ndim; k++)
            sb_printf(b, "%s%" PRIu64, k ? "," : "", d->shape[k]);
        sb_printf(b, "],\"data_offsets\":[%zu,%zu]}", 4 * d->first, 4 * (d->first + d->count));
    }
    sb_printf(b, "}");
    while (!b->overflow && b->len % 8)
        sb_printf(b, " ");
    if (b->overflow)
        return cnn_fail(err, CNN_ERR_ARG, "%s: model header does not fit %zu bytes", path,
                        b->cap);
    return CNN_OK;
}

static cnn_status write_body(FILE *f, const strbuf *hdr, const float *params)
{
    unsigned char len[8];
    uint64_t n = hdr->len;
    for (int k = 0; k < 8; k++)
        len[k] = (unsigned char)(n >> (8 * k));
    if (fwrite(len, 1, 8, f) != 8 || fwrite(hdr->p, 1, hdr->len, f) != hdr->len)
        return CNN_ERR_IO;
    /* The parameter block is already in file order (see tensors[]). */
    unsigned char buf[4096 * 4];
    for (size_t i = 0; i < CNN_PARAM_COUNT;) {
        size_t m = 0;
        for (; m < 4096 && i < CNN_PARAM_COUNT; m++, i++) {
            uint32_t u;
            memcpy(&u, &params[i], 4);
            put_u32le(buf + 4 * m, u);
        }
        if (fwrite(buf, 4, m, f) != m)
            return CNN_ERR_IO;
    }
    return CNN_OK;
}

typedef struct {
    const strbuf *hdr;
    const float *params;
} model_body;

static cnn_status write_model(FILE *f, void *ctx)
{
    const model_body *b = ctx;
    return write_body(f, b->hdr, b->params);
}

cnn_status cnn_model_save(const char *path, const float *params, const cnn_model_meta *meta,
                          cnn_err *err)
{
    if (!path || !params || !meta)
        return cnn_fail(err, CNN_ERR_ARG, "cnn_model_save: NULL argument");

    char hdr_mem[4096];
    strbuf hdr = {hdr_mem, 0, sizeof hdr_mem, 0};
    cnn_status st = build_header(path, meta, &hdr, err);
    if (st != CNN_OK)
        return st;
    model_body body = {&hdr, params};
    return cnn_atomic_write(path, write_model, &body, err);
}

/* ---- reading: the header's fields, through json_reader.h -------------- */

typedef struct {
    int seen;
    char *dtype;
    uint64_t shape[MAX_DIMS];
    int ndim;
    uint64_t off[2];
} tensor_info;

static cnn_status parse_tensor_info(jparser *p, const char *name, tensor_info *ti)
{
    char nb[72];
    int more, have_dtype = 0, have_shape = 0, have_off = 0;
    char *key;
    cnn_status st = jp_obj_open(p, &more, &key);
    while (st == CNN_OK && more) {
        if (strcmp(key, "dtype") == 0 && !have_dtype) {
            have_dtype = 1;
            st = jp_string(p, &ti->dtype);
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            have_shape = 1;
            st = jp_uint_array(p, ti->shape, MAX_DIMS, &ti->ndim);
        } else if (strcmp(key, "data_offsets") == 0 && !have_off) {
            int n;
            have_off = 1;
            st = jp_uint_array(p, ti->off, 2, &n);
            if (st == CNN_OK && n != 2)
                return cnn_fail(p->err, CNN_ERR_FORMAT,
                                "%s: tensor %s: data_offsets must have 2 entries", p->path,
                                printable(nb, name));
        } else {
            char kb[72];
            return cnn_fail(p->err, CNN_ERR_FORMAT, "%s: tensor %s: %s field \"%s\"", p->path,
                            printable(nb, name),
                            (strcmp(key, "dtype") && strcmp(key, "shape") &&
                             strcmp(key, "data_offsets")) ? "unknown" : "duplicate",
                            printable(kb, key));
        }
        if (st == CNN_OK)
            st = jp_obj_next(p, &more, &key);
    }
    if (st != CNN_OK)
        return st;
    if (!have_dtype || !have_shape || !have_off)
        return cnn_fail(p->err, CNN_ERR_FORMAT, "%s: tensor %s: missing %s", p->path,
                        printable(nb, name),
                        !have_dtype ? "dtype" : !have_shape ? "shape" : "data_offsets");
    return CNN_OK;
}

typedef struct {
    int have_meta;
    const char *mval[M_COUNT];
    tensor_info t[NTENSORS];
    char *unknown;  /* first tensor name we do not know, if any */
} header_info;

static cnn_status parse_metadata(jparser *p, header_info *h)
{
    int more;
    char *key, *val, kb[72];
    cnn_status st = jp_obj_open(p, &more, &key);
    while (st == CNN_OK && more) {
        if (jp_peek(p) != '"')
            return cnn_fail(p->err, CNN_ERR_FORMAT,
                            "%s: __metadata__ value of \"%s\" is not a string", p->path,
                            printable(kb, key));
        if ((st = jp_string(p, &val)) != CNN_OK)
            return st;
        /* Keys other tools add (e.g. "format":"pt") are ignored. */
        for (int k = 0; k < M_COUNT; k++) {
            if (strcmp(key, meta_keys[k]) != 0)
                continue;
            if (h->mval[k])
                return cnn_fail(p->err, CNN_ERR_FORMAT,
                                "%s: duplicate __metadata__ key \"%s\"", p->path, key);
            h->mval[k] = val;
        }
        st = jp_obj_next(p, &more, &key);
    }
    return st;
}

static cnn_status parse_header(jparser *p, header_info *h)
{
    int more;
    char *key, nb[72];
    cnn_status st = jp_obj_open(p, &more, &key);
    while (st == CNN_OK && more) {
        if (strcmp(key, "__metadata__") == 0) {
            if (h->have_meta)
                return cnn_fail(p->err, CNN_ERR_FORMAT, "%s: duplicate __metadata__", p->path);
            h->have_meta = 1;
            st = parse_metadata(p, h);
        } else {
            int t = 0;
            while (t < NTENSORS && strcmp(key, tensors[t].name) != 0)
                t++;
            tensor_info scratch = {0};
            tensor_info *ti = t < NTENSORS ? &h->t[t] : &scratch;
            if (ti->seen)
                return cnn_fail(p->err, CNN_ERR_FORMAT, "%s: duplicate tensor %s", p->path,
                                printable(nb, key));
            ti->seen = 1;
            if (t == NTENSORS && !h->unknown)
                h->unknown = key;
            st = parse_tensor_info(p, key, ti);
        }
        if (st == CNN_OK)
            st = jp_obj_next(p, &more, &key);
    }
    if (st != CNN_OK)
        return st;
    return jp_end(p);
}

/* ---- reading: checking what the header says --------------------------- */

/* Decimal integer in [lo, hi]: optional '-', digits, nothing else. */
static int parse_ll(const char *s, long long lo, long long hi, long long *out)
{
    int neg = *s == '-';
    s += neg;
    if (!*s)
        return -1;
    unsigned long long v = 0, lim = neg ? (unsigned long long)-(lo + 1) + 1 : (unsigned long long)hi;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (lim - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = neg ? (v == 0 ? 0 : -(long long)(v - 1) - 1) : (long long)v;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (!*s)
        return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static cnn_status bad_number(const char *path, const char *key, const char *val, cnn_err *err)
{
    char vb[72];
    return cnn_fail(err, CNN_ERR_FORMAT, "%s: __metadata__ %s \"%s\" is not a valid number",
                    path, key, printable(vb, val));
}

static cnn_status meta_int(const char *path, const header_info *h, int k, int *out, cnn_err *err)
{
    long long v = 0;
    if (h->mval[k] && parse_ll(h->mval[k], INT_MIN, INT_MAX, &v))
        return bad_number(path, meta_keys[k], h->mval[k], err);
    *out = (int)v;
    return CNN_OK;
}

static cnn_status meta_u64(const char *path, const header_info *h, int k, uint64_t *out,
                           cnn_err *err)
{
    uint64_t v = 0;
    if (h->mval[k] && parse_u64(h->mval[k], &v))
        return bad_number(path, meta_keys[k], h->mval[k], err);
    *out = v;
    return CNN_OK;
}

/* A metadata string that must be present and equal what this build expects:
 * a model of another shape or input scaling would load and silently
 * misclassify. */
static cnn_status require_meta(const char *path, const header_info *h, int k, const char *what,
                               const char *expected, cnn_err *err)
{
    char vb[72];
    const char *v = h->mval[k];
    if (!v)
        return cnn_fail(err, CNN_ERR_FORMAT, "%s: __metadata__ has no %s", path, meta_keys[k]);
    if (strcmp(v, expected) != 0)
        return cnn_fail(err, CNN_ERR_FORMAT, "%s: %s \"%s\" does not match this build's \"%s\"",
                        path, what, printable(vb, v), expected);
    return CNN_OK;
}

static cnn_status check_metadata(const char *path, const header_info *h, cnn_model_meta *m,
                                 cnn_err *err)
{
    char vb[72];
    if (!h->have_meta)
        return cnn_fail(err, CNN_ERR_FORMAT, "%s: header has no __metadata__", path);
    /* The version comes first: a newer format may legitimately differ in
     * everything else, and "unknown format version" is the useful message. */
    const char *fv = h->mval[M_FORMAT_VERSION];
    long long v;
    if (!fv)
        return cnn_fail(err, CNN_ERR_FORMAT, "%s: __metadata__ has no format_version", path);
    if (parse_ll(fv, INT_MIN, INT_MAX, &v))
        return bad_number(path, "format_version", fv, err);
    if (v != CNN_MODEL_FORMAT_VERSION)
        return cnn_fail(err, CNN_ERR_FORMAT, "%s: unknown format version %lld (this build reads %d)",
                        path, v, CNN_MODEL_FORMAT_VERSION);
    m->format_version = (int)v;

    cnn_status st0 = require_meta(path, h, M_ARCH, "architecture", MODEL_ARCH, err);
    if (st0 != CNN_OK)
        return st0;
    snprintf(m->arch, sizeof m->arch, "%s", h->mval[M_ARCH]);
    char rule[64];
    input_rule(rule, sizeof rule);
    if ((st0 = require_meta(path, h, M_INPUT, "input scaling", rule, err)) != CNN_OK)
        return st0;

    const char *impl = h->mval[M_IMPL];
    if (impl) {
        if (strlen(impl) >= sizeof m->impl)
            return cnn_fail(err, CNN_ERR_FORMAT, "%s: __metadata__ impl \"%s\" is too long",
                            path, printable(vb, impl));
        snprintf(m->impl, sizeof m->impl, "%s", impl);
    }

    const char *lr = h->mval[M_LR];
    if (lr) {
        /* strtof skips leading blanks; the writer never emits them. */
        char *end;
        float f = strtof(lr, &end);
        if (!*lr || *lr == ' ' || *lr == '\t' || *lr == '\n' || *end)
            return bad_number(path, "lr", lr, err);
        m->lr = f;
    }

    long long step = 0;
    if (h->mval[M_STEP] && parse_ll(h->mval[M_STEP], LONG_MIN, LONG_MAX, &step))
        return bad_number(path, "step", h->mval[M_STEP], err);
    m->step = (long)step;

    cnn_status st;
    if ((st = meta_int(path, h, M_EPOCHS, &m->epochs, err)) ||
        (st = meta_int(path, h, M_BATCH, &m->batch, err)) ||
        (st = meta_int(path, h, M_EPOCH, &m->epoch, err)) ||
        (st = meta_int(path, h, M_BATCH_IN_EPOCH, &m->batch_in_epoch, err)) ||
        (st = meta_int(path, h, M_TRAIN_COUNT, &m->train_count, err)) ||
        (st = meta_int(path, h, M_ROWS, &m->rows, err)) ||
        (st = meta_int(path, h, M_COLS, &m->cols, err)) ||
        (st = meta_int(path, h, M_CLASSES, &m->classes, err)) ||
        (st = meta_u64(path, h, M_SEED, &m->seed, err)) ||
        (st = meta_u64(path, h, M_RNG_STATE, &m->rng.state, err)) ||
        (st = meta_u64(path, h, M_RNG_INC, &m->rng.inc, err)))
        return st;
    return CNN_OK;
}

static void shape_str(char *out, size_t cap, const uint64_t *shape, int ndim)
{
    size_t len = 0;
    out[0] = '\0';
    len += (size_t)snprintf(out, cap, "[");
    for (int k = 0; k < ndim && len < cap; k++)
        len += (size_t)snprintf(out + len, cap - len, "%s%" PRIu64, k ? "," : "", shape[k]);
    if (len < cap)
        snprintf(out + len, cap - len, "]");
}

static cnn_status check_tensors(const char *path, const header_info *h, cnn_err *err)
{
    char nb[72];
    if (h->unknown)
        return cnn_fail(err, CNN_ERR_FORMAT, "%s: unknown tensor %s", path,
                        printable(nb, h->unknown));
    for (int t = 0; t < NTENSORS; t++) {
        const tensor_desc *d = &tensors[t];
        const tensor_info *ti = &h->t[t];
        if (!ti->seen)
            return cnn_fail(err, CNN_ERR_FORMAT, "%s: missing tensor %s", path, d->name);
        if (strcmp(ti->dtype, "F32") != 0)
            return cnn_fail(err, CNN_ERR_FORMAT, "%s: tensor %s has dtype %s, expected F32",
                            path, d->name, printable(nb, ti->dtype));
        int same = ti->ndim == d->ndim;
        for (int k = 0; same && k < d->ndim; k++)
            same = ti->shape[k] == d->shape[k];
        if (!same) {
            char got[200], want[64];
            shape_str(got, sizeof got, ti->shape, ti->ndim);
            shape_str(want, sizeof want, d->shape, d->ndim);
            return cnn_fail(err, CNN_ERR_FORMAT, "%s: tensor %s has shape %s, expected %s",
                            path, d->name, got, want);
        }
        uint64_t a = ti->off[0], b = ti->off[1];
        if (b < a || b > DATA_BYTES)
            return cnn_fail(err, CNN_ERR_FORMAT,
                            "%s: tensor %s data_offsets [%" PRIu64 ",%" PRIu64
                            "] outside the data buffer (%d bytes)",
                            path, d->name, a, b, DATA_BYTES);
        if (b - a != 4 * (uint64_t)d->count)
            return cnn_fail(err, CNN_ERR_FORMAT,
                            "%s: tensor %s data_offsets [%" PRIu64 ",%" PRIu64
                            "] span %" PRIu64 " bytes, expected %zu",
                            path, d->name, a, b, b - a, 4 * d->count);
    }
    for (int t = 0; t < NTENSORS; t++)
        for (int u = t + 1; u < NTENSORS; u++)
            if (h->t[t].off[0] < h->t[u].off[1] && h->t[u].off[0] < h->t[t].off[1])
                return cnn_fail(err, CNN_ERR_FORMAT, "%s: tensors %s and %s overlap", path,
                                tensors[t].name, tensors[u].name);
    /* The tensors' sizes add up to DATA_BYTES and none overlap or leave the
     * buffer, so they tile it exactly: no gaps are possible. */
    return CNN_OK;
}

cnn_status cnn_model_load(const char *path, float *params, cnn_model_meta *meta, cnn_err *err)
{
    if (!path || !params)
        return cnn_fail(err, CNN_ERR_ARG, "cnn_model_load: NULL argument");

    FILE *f = cnn_fopen_read(path);
    if (!f)
        return cnn_fail(err, CNN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));

    cnn_status st = CNN_OK;
    char *hdr = NULL;
    unsigned char *data = NULL;
    float *tmp = NULL;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) {
        st = cnn_fail(err, CNN_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = cnn_fail(err, CNN_ERR_IO, "%s: not a regular file", path);
        goto out;
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (size < 8) {
        st = cnn_fail(err, CNN_ERR_FORMAT,
                      "%s: truncated: %" PRIu64 " bytes, too short for a safetensors header",
                      path, size);
        goto out;
    }
    unsigned char lenb[8];
    if (fread(lenb, 1, 8, f) != 8) {
        st = cnn_fail(err, CNN_ERR_IO, "%s: read failed: %s", path,
                      ferror(f) ? strerror(errno) : "unexpected end of file");
        goto out;
    }
    uint64_t n = 0;
    for (int k = 7; k >= 0; k--)
        n = n << 8 | lenb[k];
    if (n > MAX_HEADER) {
        st = cnn_fail(err, CNN_ERR_FORMAT,
                      "%s: header length %" PRIu64 " too large (limit %" PRIu64 ")", path, n,
                      MAX_HEADER);
        goto out;
    }
    if (n > size - 8) {
        st = cnn_fail(err, CNN_ERR_FORMAT,
                      "%s: truncated: header length %" PRIu64 " but only %" PRIu64
                      " bytes follow",
                      path, n, size - 8);
        goto out;
    }
    hdr = malloc((size_t)n + 1);
    data = malloc(DATA_BYTES);
    tmp = malloc(sizeof(float) * CNN_PARAM_COUNT);
    if (!hdr || !data || !tmp) {
        st = cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    if (fread(hdr, 1, (size_t)n, f) != (size_t)n) {
        st = cnn_fail(err, CNN_ERR_IO, "%s: read failed: %s", path,
                      ferror(f) ? strerror(errno) : "unexpected end of file");
        goto out;
    }
    hdr[n] = '\0';

    header_info h;
    memset(&h, 0, sizeof h);
    jparser p;
    cnn_model_meta m;
    memset(&m, 0, sizeof m);
    if ((st = jp_init(&p, hdr, (size_t)n, path, err)) != CNN_OK ||
        (st = parse_header(&p, &h)) || (st = check_metadata(path, &h, &m, err)) ||
        (st = check_tensors(path, &h, err)))
        goto out;

    uint64_t want = 8 + n + DATA_BYTES;
    if (size != want) {
        st = cnn_fail(err, CNN_ERR_FORMAT,
                      size < want ? "%s: truncated: file is %" PRIu64 " bytes, expected %" PRIu64
                                  : "%s: file is %" PRIu64 " bytes, expected %" PRIu64
                                    " (trailing bytes after the data)",
                      path, size, want);
        goto out;
    }
    if (fread(data, 1, DATA_BYTES, f) != DATA_BYTES) {
        /* The file shrank after fstat. */
        st = cnn_fail(err, CNN_ERR_IO, "%s: read failed: %s", path,
                      ferror(f) ? strerror(errno) : "unexpected end of file");
        goto out;
    }
    for (int t = 0; t < NTENSORS; t++) {
        const unsigned char *src = data + h.t[t].off[0];
        float *dst = tmp + tensors[t].first;
        for (size_t i = 0; i < tensors[t].count; i++) {
            uint32_t u = get_u32le(src + 4 * i);
            memcpy(&dst[i], &u, 4);
        }
    }

    memcpy(params, tmp, sizeof(float) * CNN_PARAM_COUNT);
    if (meta)
        *meta = m;
out:
    fclose(f);
    free(hdr);
    free(data);
    free(tmp);
    return st;
}
