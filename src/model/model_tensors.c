/* model_tensors.c — the tensors of a model file (the format:
 * model_internal.h): the table the architecture and the extra blocks call
 * for (names, shapes, offsets), the header's entries parsed, the two checked
 * against each other, and every value finite. Shared by the reader
 * (model_load.c) and the writer (model_save.c), which runs the header it
 * built through these same checks, so that whatever is written loads. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model_internal.h"

/* model_internal.h. */
int model_tensor_list(const cnn_model_meta *m, tensor_desc *t, uint64_t *floats)
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

/* The header's tensors against the list the architecture calls for
 * (h->want): same set, F32, same shapes, offsets that tile the data
 * exactly. Fills h->map. */
static cnn_status check_tensors(const char *path, header_info *h, cnn_err *err)
{
    const tensor_desc *want = h->want;
    const int nw = h->nw;
    const uint64_t bytes = 4 * h->floats;
    int *map = h->map;
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

/* Optimizer state blocks: the tensors beyond the architecture's, 1-D,
 * named and sized in m (their data is the caller's to allocate). */
static cnn_status take_blocks(const char *path, const header_info *h, cnn_model_meta *m,
                              cnn_err *err)
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
    }
    return CNN_OK;
}

/* model_internal.h. */
cnn_status model_read_header(const char *path, char *text, size_t n, header_info *h,
                             cnn_model_meta *m, cnn_err *err)
{
    jparser p;
    cnn_status st;
    if ((st = jp_init(&p, text, n, path, err)) != CNN_OK || (st = parse_header(&p, h)) != CNN_OK)
        return st;
    if (!h->have_meta)
        return cnn_fail(err, CNN_ERR_FORMAT, "%s: header has no __metadata__", path);
    if ((st = model_meta_check(path, &h->mv, m, err)) != CNN_OK ||
        (st = take_blocks(path, h, m, err)) != CNN_OK)
        return st;
    h->nw = model_tensor_list(m, h->want, &h->floats);
    return check_tensors(path, h, err);
}

/* model_internal.h. */
cnn_status model_check_finite(const char *path, const char *name, const float *v, uint64_t count,
                              cnn_err *err)
{
    for (uint64_t i = 0; i < count; i++)
        if (!isfinite(v[i]))
            return cnn_fail(err, CNN_ERR_FORMAT,
                            "%s: tensor %s holds a non-finite value (%g at index %" PRIu64 ")",
                            path, name, (double)v[i], i);
    return CNN_OK;
}
