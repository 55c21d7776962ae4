/* model_load.c — reading a model file (cnn_model_load; the format:
 * model_internal.h): the header's length checked against the file's size
 * before anything is allocated for it, the header parsed and checked
 * (model_tensors.c, model_meta.c), then the data read into place, every
 * value finite. A refusal leaves the caller's parameters and metadata
 * untouched and says why in one line. cnn_model_meta_free frees the
 * blocks a load allocates. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "model_internal.h"
#include "../util/open_regular.h"

/* A sane bound: a header lists a few tensors and keys and stays under a few
 * KiB; the bound keeps a hostile length from turning into a huge allocation. */
#define MAX_HEADER ((uint64_t)1 << 20)

static uint32_t get_u32le(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void cnn_model_meta_free(cnn_model_meta *meta)
{
    for (int k = 0; k < meta->nblocks; k++) {
        free(meta->block[k].data);
        meta->block[k].data = NULL;
    }
    meta->nblocks = 0;
}

/* Room for the blocks' data, once the header has passed every check;
 * freed by cnn_model_meta_free(m). */
static int alloc_blocks(cnn_model_meta *m)
{
    for (int k = 0; k < m->nblocks; k++) {
        long c = m->block[k].count;
        if (!(m->block[k].data = malloc((size_t)(c ? c : 1) * sizeof(float))))
            return -1;
    }
    return 0;
}

static cnn_status read_fail(cnn_err *err, const char *path, FILE *f)
{
    return cnn_fail(err, CNN_ERR_IO, "%s: read failed: %s", path,
                    ferror(f) ? strerror(errno) : "unexpected end of file");
}

/* The data: each tensor from its offsets into its place (h: as checked by
 * model_read_header), every value checked finite (a poisoned model must
 * not load silently). */
static cnn_status read_data(const char *path, FILE *f, const header_info *h, float *params,
                            cnn_model_meta *m, cnn_err *err)
{
    const uint64_t bytes = 4 * h->floats;
    unsigned char *data = malloc(bytes ? (size_t)bytes : 1);
    if (!data)
        return cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", path);
    if (fread(data, 1, (size_t)bytes, f) != (size_t)bytes) {
        free(data);
        return read_fail(err, path, f); /* the file shrank after fstat */
    }
    cnn_status st = CNN_OK;
    for (int k = 0; k < h->nw && st == CNN_OK; k++) {
        const tensor_desc *d = &h->want[k];
        const unsigned char *src = data + h->t[h->map[k]].off[0];
        float *dst = d->block < 0 ? params + d->first : m->block[d->block].data;
        for (uint64_t i = 0; i < d->count; i++) {
            uint32_t u = get_u32le(src + 4 * i);
            memcpy(&dst[i], &u, 4);
        }
        st = model_check_finite(path, d->name, dst, d->count, err);
    }
    free(data);
    return st;
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

    if ((st = model_read_header(path, hdr, (size_t)n, h, m, err)) != CNN_OK)
        goto out;
    uint64_t expect = 8 + n + 4 * h->floats;
    if (size != expect) {
        st = cnn_fail(err, CNN_ERR_FORMAT,
                      size < expect ? "%s: truncated: file is %" PRIu64 " bytes, expected %" PRIu64
                                    : "%s: file is %" PRIu64 " bytes, expected %" PRIu64
                                      " (trailing bytes after the data)",
                      path, size, expect);
        goto out;
    }
    params = malloc((size_t)m->arch.param_count * sizeof(float));
    if (!params || alloc_blocks(m) != 0) {
        st = cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    st = read_data(path, f, h, params, m, err);
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
