/* model_io.c — model files in the safetensors format, so that a trained
 * network can be read by other tools (Python's safetensors, numpy) and a
 * training run can be resumed exactly from what __metadata__ records
 * (model_meta.c).
 *
 * Layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * (padded with spaces to a multiple of 8 so the data stays 8-aligned), then
 * the raw little-endian F32 data: the parameter block in layer order (each
 * layer's weight, then its bias: cnn_model.h names them), then any extra
 * blocks. The reader accepts the tensors in any buffer order, as long as
 * they tile the buffer exactly, since other writers are free to reorder. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "cnn_atomic_file.h"
#include "model_internal.h"
#include "../util/open_regular.h"

/* A sane bound: a header lists a few tensors and keys and stays under a few
 * KiB; the bound keeps a hostile length from turning into a huge allocation. */
#define MAX_HEADER ((uint64_t)1 << 20)

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
static int tensor_list(const cnn_model_meta *m, tensor_desc *t, uint64_t *floats)
{
    const cnn_arch *a = &m->arch;
    int n = 0;
    uint64_t off = 0;
    for (int i = 0; i < a->n; i++) {
        const cnn_layer *l = &a->layer[i];
        if (!l->w_count)
            continue;
        tensor_desc *w = &t[n++], *b = &t[n++];
        memset(w, 0, 2 * sizeof *w);
        snprintf(w->name, sizeof w->name, "%s.weight", l->name);
        snprintf(b->name, sizeof b->name, "%s.bias", l->name);
        if (l->kind == CNN_LAYER_CONV) {
            w->ndim = 4;
            w->shape[0] = (uint64_t)l->size;
            w->shape[1] = (uint64_t)l->in_c;
            w->shape[2] = w->shape[3] = (uint64_t)l->k;
        } else {
            w->ndim = 2;
            w->shape[0] = (uint64_t)l->size;
            w->shape[1] = (uint64_t)l->in_size;
        }
        b->ndim = 1;
        b->shape[0] = (uint64_t)l->size;
        w->first = (uint64_t)l->w_off;
        w->count = (uint64_t)l->w_count;
        b->first = (uint64_t)l->b_off;
        b->count = (uint64_t)l->b_count;
        w->block = b->block = -1;
        off = (uint64_t)a->param_count;
    }
    for (int k = 0; k < m->nblocks; k++) {
        tensor_desc *d = &t[n++];
        memset(d, 0, sizeof *d);
        snprintf(d->name, sizeof d->name, "%s", m->block[k].name);
        d->ndim = 1;
        d->shape[0] = d->count = (uint64_t)m->block[k].count;
        d->first = off;
        d->block = k;
        off += d->count;
    }
    *floats = off;
    return n;
}

/* ---- writing ---------------------------------------------------------- */

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

/* The JSON header, padded with spaces to a multiple of 8 bytes. */
static cnn_status build_header(const char *path, const cnn_model_meta *m, const tensor_desc *t,
                               int nt, strbuf *b, cnn_err *err)
{
    sb_printf(b, "{");
    cnn_status st = model_meta_write(path, m, b, err);
    if (st != CNN_OK)
        return st;
    for (int i = 0; i < nt; i++) {
        sb_printf(b, ",");
        sb_json_string(b, t[i].name);
        sb_printf(b, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int k = 0; k < t[i].ndim; k++)
            sb_printf(b, "%s%" PRIu64, k ? "," : "", t[i].shape[k]);
        sb_printf(b, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", 4 * t[i].first,
                  4 * (t[i].first + t[i].count));
    }
    sb_printf(b, "}");
    while (!b->overflow && b->len % 8)
        sb_printf(b, " ");
    if (b->overflow)
        return cnn_fail(err, CNN_ERR_ARG, "%s: model header does not fit %zu bytes", path,
                        b->cap);
    return CNN_OK;
}

static int write_floats(FILE *f, const float *v, uint64_t n)
{
    unsigned char buf[4096 * 4];
    for (uint64_t i = 0; i < n;) {
        size_t m = 0;
        for (; m < 4096 && i < n; m++, i++) {
            uint32_t u;
            memcpy(&u, &v[i], 4);
            put_u32le(buf + 4 * m, u);
        }
        if (fwrite(buf, 4, m, f) != m)
            return -1;
    }
    return 0;
}

typedef struct {
    const strbuf *hdr;
    const float *params;
    const cnn_model_meta *meta;
} model_body;

static cnn_status write_model(FILE *f, void *ctx)
{
    const model_body *b = ctx;
    unsigned char len[8];
    uint64_t n = b->hdr->len;
    for (int k = 0; k < 8; k++)
        len[k] = (unsigned char)(n >> (8 * k));
    if (fwrite(len, 1, 8, f) != 8 || fwrite(b->hdr->p, 1, b->hdr->len, f) != b->hdr->len)
        return CNN_ERR_IO;
    /* The parameter block is already in file order (see tensor_list). */
    if (write_floats(f, b->params, (uint64_t)b->meta->arch.param_count))
        return CNN_ERR_IO;
    for (int k = 0; k < b->meta->nblocks; k++)
        if (write_floats(f, b->meta->block[k].data, (uint64_t)b->meta->block[k].count))
            return CNN_ERR_IO;
    return CNN_OK;
}

void cnn_model_meta_init(cnn_model_meta *meta, const cnn_arch *arch)
{
    memset(meta, 0, sizeof *meta);
    meta->format_version = CNN_MODEL_FORMAT_VERSION;
    /* A zero RNG has an even increment, which PCG32 (and the reader) refuse. */
    cnn_rng_seed(&meta->rng, 0);
    if (arch) {
        meta->arch = *arch;
        meta->rows = arch->in_h;
        meta->cols = arch->in_w;
        meta->classes = arch->classes;
    }
}

void cnn_model_meta_free(cnn_model_meta *meta)
{
    for (int k = 0; k < meta->nblocks; k++) {
        free(meta->block[k].data);
        meta->block[k].data = NULL;
    }
    meta->nblocks = 0;
}

static cnn_status check_loadable(const char *path, const strbuf *hdr, const float *params,
                                 const cnn_model_meta *meta, const tensor_desc *t, int nt,
                                 cnn_err *err);

/* What the header cannot be built without: the blocks' names and sizes,
 * and the image shape the spec is parsed with on load. */
static cnn_status check_save_args(const char *path, const cnn_model_meta *meta, cnn_err *err)
{
    const cnn_arch *a = &meta->arch;
    if (meta->rows != a->in_h || meta->cols != a->in_w || meta->classes != a->classes ||
        a->in_c != 1)
        return cnn_fail(err, CNN_ERR_ARG,
                        "%s: meta says %dx%d images and %d classes, the architecture %dx%dx%d "
                        "and %d",
                        path, meta->rows, meta->cols, meta->classes, a->in_h, a->in_w, a->in_c,
                        a->classes);
    for (int k = 0; k < meta->nblocks; k++) {
        const cnn_model_block *b = &meta->block[k];
        const char *nul = memchr(b->name, '\0', sizeof b->name);
        if (!nul || jp_utf8_check(b->name, (size_t)(nul - b->name)) != (size_t)(nul - b->name))
            return cnn_fail(err, CNN_ERR_ARG,
                            "%s: meta.block[%d].name is not a NUL-terminated UTF-8 string", path,
                            k);
        char nb[72];
        if (b->count < 0 || b->count > CNN_MAX_PARAMS || (b->count && !b->data))
            return cnn_fail(err, CNN_ERR_ARG, "%s: meta.block[%d] (%s) has count %ld and %s data",
                            path, k, model_printable(nb, b->name), b->count,
                            b->data ? "some" : "no");
    }
    return CNN_OK;
}

cnn_status cnn_model_save(const char *path, const float *params, const cnn_model_meta *meta,
                          cnn_err *err)
{
    if (!path || !params || !meta || meta->arch.n < 1 || meta->nblocks < 0 ||
        meta->nblocks > CNN_MODEL_MAX_BLOCKS)
        return cnn_fail(err, CNN_ERR_ARG, "cnn_model_save: bad argument");
    cnn_status st = check_save_args(path, meta, err);
    if (st != CNN_OK)
        return st;
    tensor_desc t[MAX_TENSORS];
    uint64_t floats;
    int nt = tensor_list(meta, t, &floats);
    char hdr_mem[16384];
    strbuf hdr = {hdr_mem, 0, sizeof hdr_mem, 0};
    if ((st = build_header(path, meta, t, nt, &hdr, err)) != CNN_OK ||
        (st = check_loadable(path, &hdr, params, meta, t, nt, err)) != CNN_OK)
        return st;
    model_body body = {&hdr, params, meta};
    return cnn_atomic_write(path, write_model, &body, err);
}

/* ---- reading the header ------------------------------------------------ */

typedef struct {
    const char *name;
    char *dtype;
    uint64_t shape[MAX_DIMS];
    int ndim;
    uint64_t off[2];
} tensor_info;

typedef struct {
    int have_meta;
    meta_values mv;
    tensor_info t[MAX_TENSORS];
    int nt;
} header_info;

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
                                model_printable(nb, name));
        } else {
            char kb[72];
            return cnn_fail(p->err, CNN_ERR_FORMAT, "%s: tensor %s: %s field \"%s\"", p->path,
                            model_printable(nb, name),
                            (strcmp(key, "dtype") != 0 && strcmp(key, "shape") != 0 &&
                             strcmp(key, "data_offsets") != 0) ? "unknown" : "duplicate",
                            model_printable(kb, key));
        }
        if (st == CNN_OK)
            st = jp_obj_next(p, &more, &key);
    }
    if (st != CNN_OK)
        return st;
    if (!have_dtype || !have_shape || !have_off)
        return cnn_fail(p->err, CNN_ERR_FORMAT, "%s: tensor %s: missing %s", p->path,
                        model_printable(nb, name),
                        !have_dtype ? "dtype" : !have_shape ? "shape" : "data_offsets");
    return CNN_OK;
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
            st = model_meta_parse(p, &h->mv);
        } else {
            for (int t = 0; t < h->nt; t++)
                if (strcmp(h->t[t].name, key) == 0)
                    return cnn_fail(p->err, CNN_ERR_FORMAT, "%s: duplicate tensor %s", p->path,
                                    model_printable(nb, key));
            if (h->nt == MAX_TENSORS)
                return cnn_fail(p->err, CNN_ERR_FORMAT, "%s: more than %d tensors", p->path,
                                MAX_TENSORS);
            tensor_info *ti = &h->t[h->nt++];
            ti->name = key;
            st = parse_tensor_info(p, key, ti);
        }
        if (st == CNN_OK)
            st = jp_obj_next(p, &more, &key);
    }
    if (st != CNN_OK)
        return st;
    return jp_end(p);
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

/* The header's tensors against the list the architecture calls for: same
 * set, F32, same shapes, offsets that tile the data exactly. map[i] is the
 * header's entry for want[i]. */
static cnn_status check_tensors(const char *path, const header_info *h, const tensor_desc *want,
                                int nw, uint64_t bytes, int *map, cnn_err *err)
{
    char nb[72];
    for (int i = 0; i < h->nt; i++) {
        int found = 0;
        for (int k = 0; k < nw && !found; k++)
            found = strcmp(h->t[i].name, want[k].name) == 0;
        if (!found)
            return cnn_fail(err, CNN_ERR_FORMAT, "%s: unknown tensor %s", path,
                            model_printable(nb, h->t[i].name));
    }
    for (int k = 0; k < nw; k++) {
        const tensor_desc *d = &want[k];
        int i = 0;
        while (i < h->nt && strcmp(h->t[i].name, d->name) != 0)
            i++;
        if (i == h->nt)
            return cnn_fail(err, CNN_ERR_FORMAT, "%s: missing tensor %s", path, d->name);
        const tensor_info *ti = &h->t[i];
        map[k] = i;
        if (strcmp(ti->dtype, "F32") != 0)
            return cnn_fail(err, CNN_ERR_FORMAT, "%s: tensor %s has dtype %s, expected F32",
                            path, d->name, model_printable(nb, ti->dtype));
        int same = ti->ndim == d->ndim;
        for (int j = 0; same && j < d->ndim; j++)
            same = ti->shape[j] == d->shape[j];
        if (!same) {
            char got[200], want_s[96];
            shape_str(got, sizeof got, ti->shape, ti->ndim);
            shape_str(want_s, sizeof want_s, d->shape, d->ndim);
            return cnn_fail(err, CNN_ERR_FORMAT, "%s: tensor %s has shape %s, expected %s",
                            path, d->name, got, want_s);
        }
        uint64_t a = ti->off[0], b = ti->off[1];
        if (b < a || b > bytes)
            return cnn_fail(err, CNN_ERR_FORMAT,
                            "%s: tensor %s data_offsets [%" PRIu64 ",%" PRIu64
                            "] outside the data buffer (%" PRIu64 " bytes)",
                            path, d->name, a, b, bytes);
        if (b - a != 4 * d->count)
            return cnn_fail(err, CNN_ERR_FORMAT,
                            "%s: tensor %s data_offsets [%" PRIu64 ",%" PRIu64 "] span %" PRIu64
                            " bytes, expected %" PRIu64,
                            path, d->name, a, b, b - a, 4 * d->count);
    }
    for (int k = 0; k < nw; k++)
        for (int j = k + 1; j < nw; j++) {
            const tensor_info *s = &h->t[map[k]], *u = &h->t[map[j]];
            if (s->off[0] < u->off[1] && u->off[0] < s->off[1])
                return cnn_fail(err, CNN_ERR_FORMAT, "%s: tensors %s and %s overlap", path,
                                want[k].name, want[j].name);
        }
    /* The sizes add up to the data's length and none overlap or leave the
     * buffer, so they tile it exactly: no gaps are possible. */
    return CNN_OK;
}

/* ---- reading the file -------------------------------------------------- */

static cnn_status read_fail(cnn_err *err, const char *path, FILE *f)
{
    return cnn_fail(err, CNN_ERR_IO, "%s: read failed: %s", path,
                    ferror(f) ? strerror(errno) : "unexpected end of file");
}

/* The data: each tensor from its offsets into its place, every value
 * checked finite (a poisoned model must not load silently). */
static cnn_status read_data(const char *path, FILE *f, uint64_t bytes, const header_info *h,
                            const tensor_desc *want, int nw, const int *map, float *params,
                            cnn_model_meta *m, cnn_err *err)
{
    unsigned char *data = malloc(bytes ? (size_t)bytes : 1);
    if (!data)
        return cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", path);
    if (fread(data, 1, (size_t)bytes, f) != (size_t)bytes) {
        free(data);
        return read_fail(err, path, f); /* the file shrank after fstat */
    }
    cnn_status st = CNN_OK;
    for (int k = 0; k < nw && st == CNN_OK; k++) {
        const unsigned char *src = data + h->t[map[k]].off[0];
        float *dst = want[k].block < 0 ? params + want[k].first : m->block[want[k].block].data;
        for (uint64_t i = 0; i < want[k].count; i++) {
            uint32_t u = get_u32le(src + 4 * i);
            memcpy(&dst[i], &u, 4);
            if (!isfinite(dst[i])) {
                st = cnn_fail(err, CNN_ERR_FORMAT,
                              "%s: tensor %s holds a non-finite value (%g at index %" PRIu64 ")",
                              path, want[k].name, (double)dst[i], i);
                break;
            }
        }
    }
    free(data);
    return st;
}

/* Optimizer state blocks: the tensors beyond the architecture's, 1-D.
 * Their data is allocated when alloc is set. */
static cnn_status take_blocks(const char *path, const header_info *h, cnn_model_meta *m,
                              int alloc, cnn_err *err)
{
    char nb[72];
    for (int i = 0; i < h->nt; i++) {
        const char *name = h->t[i].name;
        if (strncmp(name, "optim.", 6) != 0)
            continue;
        if (m->nblocks == CNN_MODEL_MAX_BLOCKS || strlen(name) >= sizeof m->block[0].name ||
            h->t[i].ndim != 1 || h->t[i].shape[0] > (uint64_t)CNN_MAX_PARAMS)
            return cnn_fail(err, CNN_ERR_FORMAT, "%s: unexpected tensor %s", path,
                            model_printable(nb, name));
        cnn_model_block *b = &m->block[m->nblocks++];
        snprintf(b->name, sizeof b->name, "%s", name);
        b->count = (long)h->t[i].shape[0];
        if (!alloc)
            continue;
        float *data = malloc((size_t)(b->count ? b->count : 1) * sizeof(float));
        if (!data)
            return cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", path);
        b->data = data; /* freed by cnn_model_meta_free(m) */
    }
    return CNN_OK;
}

cnn_status cnn_model_load(const char *path, float **params_out, cnn_model_meta *meta,
                          cnn_err *err)
{
    if (!path || !params_out || !meta)
        return cnn_fail(err, CNN_ERR_ARG, "cnn_model_load: NULL argument");
    *params_out = NULL;
    FILE *f = cnn_fopen_read(path); /* never blocks on a FIFO */
    if (!f)
        return cnn_fail(err, CNN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));

    cnn_status st = CNN_OK;
    char *hdr = NULL;
    float *params = NULL;
    header_info *h = NULL;
    cnn_model_meta *m = calloc(1, sizeof *m);
    struct stat sb;
    unsigned char lenb[8];
    uint64_t size, n = 0;
    if (!m) {
        st = cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    if (fstat(fileno(f), &sb) != 0) {
        st = cnn_fail(err, CNN_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = cnn_fail(err, CNN_ERR_IO, "%s: not a regular file", path);
        goto out;
    }
    size = (uint64_t)sb.st_size;
    if (size < 8) {
        st = cnn_fail(err, CNN_ERR_FORMAT,
                      "%s: truncated: %" PRIu64 " bytes, too short for a safetensors header",
                      path, size);
        goto out;
    }
    if (fread(lenb, 1, 8, f) != 8) {
        st = read_fail(err, path, f);
        goto out;
    }
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
    h = calloc(1, sizeof *h);
    if (!hdr || !h) {
        st = cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    if (fread(hdr, 1, (size_t)n, f) != (size_t)n) {
        st = read_fail(err, path, f);
        goto out;
    }
    hdr[n] = '\0';

    jparser p;
    if ((st = jp_init(&p, hdr, (size_t)n, path, err)) != CNN_OK ||
        (st = parse_header(&p, h)) != CNN_OK)
        goto out;
    if (!h->have_meta) {
        st = cnn_fail(err, CNN_ERR_FORMAT, "%s: header has no __metadata__", path);
        goto out;
    }
    if ((st = model_meta_check(path, &h->mv, m, err)) != CNN_OK ||
        (st = take_blocks(path, h, m, 1, err)) != CNN_OK)
        goto out;

    tensor_desc want[MAX_TENSORS];
    int map[MAX_TENSORS];
    uint64_t floats;
    int nw = tensor_list(m, want, &floats);
    if ((st = check_tensors(path, h, want, nw, 4 * floats, map, err)) != CNN_OK)
        goto out;
    uint64_t expect = 8 + n + 4 * floats;
    if (size != expect) {
        st = cnn_fail(err, CNN_ERR_FORMAT,
                      size < expect ? "%s: truncated: file is %" PRIu64 " bytes, expected %" PRIu64
                                    : "%s: file is %" PRIu64 " bytes, expected %" PRIu64
                                      " (trailing bytes after the data)",
                      path, size, expect);
        goto out;
    }
    params = malloc((size_t)m->arch.param_count * sizeof(float));
    if (!params) {
        st = cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    st = read_data(path, f, 4 * floats, h, want, nw, map, params, m, err);
out:
    fclose(f);
    free(hdr);
    free(h);
    if (st == CNN_OK) {
        *params_out = params;
        *meta = *m;
    } else {
        free(params);
        if (m)
            cnn_model_meta_free(m);
    }
    free(m);
    return st;
}

/* ---- whatever we write, we can load ------------------------------------ */

/* The header just built goes through the reader's own checks (metadata
 * ranges, the spec against rows, cols and classes, the blocks' names, the
 * tensor set, shapes and offsets), and every value must be finite, before
 * anything touches the disk: a save the reader would refuse fails here,
 * with the reader's message, and leaves the previous file in place. */
static cnn_status check_loadable(const char *path, const strbuf *hdr, const float *params,
                                 const cnn_model_meta *meta, const tensor_desc *t, int nt,
                                 cnn_err *err)
{
    cnn_status st = CNN_OK;
    char *text = malloc(hdr->len + 1);
    header_info *h = calloc(1, sizeof *h);
    cnn_model_meta *m = calloc(1, sizeof *m);
    tensor_desc *want = malloc(MAX_TENSORS * sizeof *want);
    if (!text || !h || !m || !want) {
        st = cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    memcpy(text, hdr->p, hdr->len); /* the parser decodes strings in place */
    text[hdr->len] = '\0';
    jparser p;
    int map[MAX_TENSORS];
    if ((st = jp_init(&p, text, hdr->len, path, err)) != CNN_OK ||
        (st = parse_header(&p, h)) != CNN_OK ||
        (st = model_meta_check(path, &h->mv, m, err)) != CNN_OK ||
        (st = take_blocks(path, h, m, 0, err)) != CNN_OK)
        goto out;
    uint64_t floats;
    int nw = tensor_list(m, want, &floats);
    if ((st = check_tensors(path, h, want, nw, 4 * floats, map, err)) != CNN_OK)
        goto out;
    for (int k = 0; k < nt; k++) {
        const float *v = t[k].block < 0 ? params + t[k].first : meta->block[t[k].block].data;
        for (uint64_t i = 0; i < t[k].count; i++)
            if (!isfinite(v[i])) {
                st = cnn_fail(err, CNN_ERR_FORMAT,
                              "%s: tensor %s holds a non-finite value (%g at index %" PRIu64 ")",
                              path, t[k].name, (double)v[i], i);
                goto out;
            }
    }
out:
    free(text);
    free(h);
    free(m);
    free(want);
    return st == CNN_OK || st == CNN_ERR_NOMEM ? st : CNN_ERR_ARG;
}
