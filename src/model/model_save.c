/* model_save.c — writing a model file (cnn_model_save; the format:
 * model_internal.h): the JSON header built (model_meta.c writes its
 * __metadata__), read back through the reader's own checks, then written
 * with the raw data through cnn_atomic_write, so that a save is whole or
 * absent, and never one the reader would refuse. A save's metadata starts
 * from cnn_model_meta_init. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_atomic_file.h"
#include "model_internal.h"

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

static void put_u32le(unsigned char *p, uint32_t u)
{
    p[0] = (unsigned char)u;
    p[1] = (unsigned char)(u >> 8);
    p[2] = (unsigned char)(u >> 16);
    p[3] = (unsigned char)(u >> 24);
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
    /* The parameter block is already in file order (see model_tensor_list). */
    if (write_floats(f, b->params, (uint64_t)b->meta->arch.param_count))
        return CNN_ERR_IO;
    for (int k = 0; k < b->meta->nblocks; k++)
        if (write_floats(f, b->meta->block[k].data, (uint64_t)b->meta->block[k].count))
            return CNN_ERR_IO;
    return CNN_OK;
}

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
    if (!text || !h || !m) {
        st = cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    memcpy(text, hdr->p, hdr->len); /* the parser decodes strings in place */
    text[hdr->len] = '\0';
    st = model_read_header(path, text, hdr->len, h, m, err);
    for (int k = 0; k < nt && st == CNN_OK; k++)
        st = model_check_finite(path, t[k].name,
                                t[k].block < 0 ? params + t[k].first : meta->block[t[k].block].data,
                                t[k].count, err);
out:
    free(text);
    free(h);
    free(m);
    return st == CNN_OK || st == CNN_ERR_NOMEM ? st : CNN_ERR_ARG;
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
    int nt = model_tensor_list(meta, t, &floats);
    char hdr_mem[16384];
    strbuf hdr = {hdr_mem, 0, sizeof hdr_mem, 0};
    if ((st = build_header(path, meta, t, nt, &hdr, err)) != CNN_OK ||
        (st = check_loadable(path, &hdr, params, meta, t, nt, err)) != CNN_OK)
        return st;
    model_body body = {&hdr, params, meta};
    return cnn_atomic_write(path, write_model, &body, err);
}
