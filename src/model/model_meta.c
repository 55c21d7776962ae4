/* model_meta.c — a model file's __metadata__: the architecture spec, the
 * training options, the position in the run, the RNG state and the class
 * names (optional), written as
 * JSON strings (safetensors allows nothing else) and read back strictly:
 * every number whole and in range, the architecture one this build can
 * run, the input scaling the one this build applies. */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"
#include "../util/decimal.h"

const char *const model_meta_keys[M_COUNT] = {
    "format_version", "arch", "epochs", "batch", "lr", "seed", "impl",
    "epoch", "batch_in_epoch", "step", "rng_state", "rng_inc", "train_count",
    "rows", "cols", "classes", "input", "class_names",
};

/* How pixels enter the network (cnn.h): part of the model like its weights,
 * so written out for readers in other tools and checked on load. */
static void input_rule(char *out, size_t cap)
{
    snprintf(out, cap, "(pixel/255 - %.4f) / %.4f", (double)CNN_INPUT_MEAN,
             (double)CNN_INPUT_STD);
}

void sb_printf(strbuf *b, const char *fmt, ...)
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

void sb_json_mem(strbuf *b, const char *s, size_t n)
{
    sb_printf(b, "\"");
    for (const char *e = s + n; s < e; s++) {
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

void sb_json_string(strbuf *b, const char *s)
{
    sb_json_mem(b, s, strlen(s));
}

const char *model_printable(char out[72], const char *s)
{
    size_t i = 0;
    for (; s[i] && i < 64; i++) {
        out[i] = s[i];
        if (s[i] < 0x20 || s[i] >= 0x7f)
            out[i] = '?';
    }
    if (s[i]) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
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

/* The n bytes at s hold a space only: an empty name to a reader. */
static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ')
            return 0;
    return 1;
}

cnn_status cnn_model_check_class_names(const char *names, int classes, cnn_err *err)
{
    char pb[72], nb[72];
    size_t total = strlen(names);
    if (total >= CNN_MODEL_CLASS_NAMES)
        return cnn_fail(err, CNN_ERR_ARG, "class names longer than %d bytes",
                        CNN_MODEL_CLASS_NAMES - 1);
    const char *start[CNN_MAX_CLASSES];
    size_t len[CNN_MAX_CLASSES];
    int n = 0;
    for (const char *p = names;; n++) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        if (n < CNN_MAX_CLASSES) {
            start[n] = p;
            len[n] = l;
        }
        if (!nl) {
            n++;
            break;
        }
        p = nl + 1;
    }
    if (n != classes)
        return cnn_fail(err, CNN_ERR_ARG, "%d class name%s for %d class%s", n, n == 1 ? "" : "s",
                        classes, classes == 1 ? "" : "es");
    for (int k = 0; k < n; k++) {
        if (blank(start[k], len[k]))
            return cnn_fail(err, CNN_ERR_ARG, "the name of class %d is empty", k);
        if (jp_utf8_check(start[k], len[k]) != len[k])
            return cnn_fail(err, CNN_ERR_ARG, "the name of class %d is not valid UTF-8", k);
        for (size_t i = 0; i < len[k]; i++)
            if ((unsigned char)start[k][i] < 0x20 || start[k][i] == 0x7f)
                return cnn_fail(err, CNN_ERR_ARG,
                                "the name of class %d holds a control character", k);
        for (int j = 0; j < k; j++)
            if (len[j] == len[k] && memcmp(start[j], start[k], len[k]) == 0) {
                snprintf(nb, sizeof nb, "%.*s", (int)(len[k] < 64 ? len[k] : 64), start[k]);
                return cnn_fail(err, CNN_ERR_ARG, "classes %d and %d are both named '%s'", j, k,
                                model_printable(pb, nb));
            }
    }
    return CNN_OK;
}

/* The extra "train.KEY=VALUE" lines, each written as "train.KEY":"VALUE"
 * (both JSON strings: either may hold quotes or backslashes). */
static cnn_status write_extra(const char *path, const char *extra, strbuf *b, cnn_err *err)
{
    for (const char *p = extra; *p;) {
        const char *nl = strchr(p, '\n'), *eq = strchr(p, '=');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (!eq || eq >= p + len || strncmp(p, "train.", 6) != 0)
            return cnn_fail(err, CNN_ERR_ARG, "%s: meta.extra line is not train.KEY=VALUE",
                            path);
        sb_printf(b, ",");
        sb_json_mem(b, p, (size_t)(eq - p));
        sb_printf(b, ":");
        sb_json_mem(b, eq + 1, (size_t)(p + len - eq - 1));
        p += len + (nl != NULL);
    }
    return CNN_OK;
}

cnn_status model_meta_write(const char *path, const cnn_model_meta *m, strbuf *b, cnn_err *err)
{
    cnn_status st = check_meta_string(path, "arch", m->arch.spec, sizeof m->arch.spec, err);
    if (st == CNN_OK)
        st = check_meta_string(path, "impl", m->impl, sizeof m->impl, err);
    if (st == CNN_OK)
        st = check_meta_string(path, "extra", m->extra, sizeof m->extra, err);
    if (st == CNN_OK)
        st = check_meta_string(path, "class_names", m->class_names, sizeof m->class_names, err);
    if (st != CNN_OK)
        return st;

    sb_printf(b, "\"__metadata__\":{\"format_version\":\"%d\"", CNN_MODEL_FORMAT_VERSION);
    sb_meta_str(b, "arch", m->arch.spec);
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
    if (m->class_names[0]) /* the count and the rest: model_meta_check, as on load */
        sb_meta_str(b, "class_names", m->class_names);
    if ((st = write_extra(path, m->extra, b, err)) != CNN_OK)
        return st;
    sb_printf(b, "}");
    return CNN_OK;
}

cnn_status model_meta_parse(jparser *p, meta_values *v)
{
    int more;
    char *key, *val, kb[72];
    cnn_status st = jp_obj_open(p, &more, &key);
    while (st == CNN_OK && more) {
        if (jp_peek(p) != '"')
            return cnn_fail(p->err, CNN_ERR_FORMAT,
                            "%s: __metadata__ value of \"%s\" is not a string", p->path,
                            model_printable(kb, key));
        if ((st = jp_string(p, &val)) != CNN_OK)
            return st;
        int known = 0;
        for (int k = 0; k < M_COUNT; k++) {
            if (strcmp(key, model_meta_keys[k]) != 0)
                continue;
            known = 1;
            if (v->mval[k])
                return cnn_fail(p->err, CNN_ERR_FORMAT,
                                "%s: duplicate __metadata__ key \"%s\"", p->path, key);
            v->mval[k] = val;
        }
        if (!known && strncmp(key, "train.", 6) == 0) {
            /* carried as "KEY=VALUE\n" lines (cnn_model_meta.extra) */
            if (strchr(key, '=') || strchr(key, '\n') || strchr(val, '\n'))
                return cnn_fail(p->err, CNN_ERR_FORMAT,
                                "%s: __metadata__ key \"%s\": a train.* key may not hold '=' "
                                "or a newline, nor its value a newline",
                                p->path, model_printable(kb, key));
            for (int k = 0; k < v->nextra; k++)
                if (strcmp(v->xkey[k], key) == 0)
                    return cnn_fail(p->err, CNN_ERR_FORMAT,
                                    "%s: duplicate __metadata__ key \"%s\"", p->path,
                                    model_printable(kb, key));
            if (v->nextra == MAX_EXTRA_KEYS)
                return cnn_fail(p->err, CNN_ERR_FORMAT, "%s: more than %d train.* keys",
                                p->path, MAX_EXTRA_KEYS);
            v->xkey[v->nextra] = key;
            v->xval[v->nextra++] = val;
        }
        /* Other keys other tools add (e.g. "format":"pt") are ignored. */
        st = jp_obj_next(p, &more, &key);
    }
    return st;
}

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
                    path, key, model_printable(vb, val));
}

/* An integer in [lo, hi]; 0 when absent. */
static cnn_status meta_int(const char *path, const meta_values *v, int k, long long lo,
                           long long hi, long long *out, cnn_err *err)
{
    long long x = 0;
    if (v->mval[k] && parse_ll(v->mval[k], LLONG_MIN, LLONG_MAX, &x))
        return bad_number(path, model_meta_keys[k], v->mval[k], err);
    if (x < lo || x > hi)
        return cnn_fail(err, CNN_ERR_FORMAT, "%s: __metadata__ %s %lld is out of range [%lld, %lld]",
                        path, model_meta_keys[k], x, lo, hi);
    *out = x;
    return CNN_OK;
}

static cnn_status meta_u64(const char *path, const meta_values *v, int k, uint64_t *out,
                           cnn_err *err)
{
    uint64_t x = 0;
    if (v->mval[k] && parse_u64(v->mval[k], &x))
        return bad_number(path, model_meta_keys[k], v->mval[k], err);
    *out = x;
    return CNN_OK;
}

cnn_status model_meta_check(const char *path, const meta_values *v, cnn_model_meta *m,
                            cnn_err *err)
{
    char vb[72];
    /* The version comes first: a newer format may legitimately differ in
     * everything else, and "unknown format version" is the useful message. */
    const char *fv = v->mval[M_FORMAT_VERSION];
    long long ver;
    if (!fv)
        return cnn_fail(err, CNN_ERR_FORMAT, "%s: __metadata__ has no format_version", path);
    if (parse_ll(fv, INT_MIN, INT_MAX, &ver))
        return bad_number(path, "format_version", fv, err);
    if (ver < 1 || ver > CNN_MODEL_FORMAT_VERSION)
        return cnn_fail(err, CNN_ERR_FORMAT,
                        "%s: unknown format version %lld (this build reads 1 to %d)", path, ver,
                        CNN_MODEL_FORMAT_VERSION);
    m->format_version = (int)ver;

    char rule[64];
    input_rule(rule, sizeof rule);
    const char *in = v->mval[M_INPUT];
    if (!in)
        return cnn_fail(err, CNN_ERR_FORMAT, "%s: __metadata__ has no input", path);
    if (strcmp(in, rule) != 0)
        return cnn_fail(err, CNN_ERR_FORMAT,
                        "%s: input scaling \"%s\" does not match this build's \"%s\"", path,
                        model_printable(vb, in), rule);

    const char *impl = v->mval[M_IMPL];
    if (impl) {
        if (strlen(impl) >= sizeof m->impl)
            return cnn_fail(err, CNN_ERR_FORMAT, "%s: __metadata__ impl \"%s\" is too long",
                            path, model_printable(vb, impl));
        snprintf(m->impl, sizeof m->impl, "%s", impl);
    }

    const char *lr = v->mval[M_LR];
    if (lr) {
        /* the command line's syntax (no blanks, hex, inf or nan); strtof
         * still overflows to inf: a learning rate is neither that nor
         * negative */
        if (!cnn_decimal_syntax(lr))
            return bad_number(path, "lr", lr, err);
        float f = strtof(lr, NULL);
        if (!isfinite(f) || f < 0.0f)
            return cnn_fail(err, CNN_ERR_FORMAT,
                            "%s: __metadata__ lr \"%s\" is not a finite number of at least 0",
                            path, model_printable(vb, lr));
        m->lr = f;
    }

    long long epochs, batch, epoch, bie, step, count, rows, cols, classes;
    cnn_status st;
    if ((st = meta_int(path, v, M_EPOCHS, 0, INT_MAX, &epochs, err)) ||
        (st = meta_int(path, v, M_BATCH, 0, INT_MAX, &batch, err)) ||
        (st = meta_int(path, v, M_EPOCH, 0, INT_MAX, &epoch, err)) ||
        (st = meta_int(path, v, M_BATCH_IN_EPOCH, 0, INT_MAX, &bie, err)) ||
        (st = meta_int(path, v, M_STEP, 0, LONG_MAX, &step, err)) ||
        (st = meta_int(path, v, M_TRAIN_COUNT, 0, INT_MAX, &count, err)) ||
        (st = meta_int(path, v, M_ROWS, 0, CNN_MAX_SIDE, &rows, err)) ||
        (st = meta_int(path, v, M_COLS, 0, CNN_MAX_SIDE, &cols, err)) ||
        (st = meta_int(path, v, M_CLASSES, 0, 256, &classes, err)) ||
        (st = meta_u64(path, v, M_SEED, &m->seed, err)) ||
        (st = meta_u64(path, v, M_RNG_STATE, &m->rng.state, err)) ||
        (st = meta_u64(path, v, M_RNG_INC, &m->rng.inc, err)))
        return st;
    m->epochs = (int)epochs;
    m->batch = (int)batch;
    m->epoch = (int)epoch;
    m->batch_in_epoch = (int)bie;
    m->step = (long)step;
    m->train_count = (int)count;
    m->rows = (int)rows;
    m->cols = (int)cols;
    m->classes = (int)classes;
    if (v->mval[M_RNG_INC] && !(m->rng.inc & 1))
        return cnn_fail(err, CNN_ERR_FORMAT,
                        "%s: __metadata__ rng_inc %" PRIu64 " is even (PCG32 needs it odd)", path,
                        m->rng.inc);

    /* The architecture, for the image shape and classes the file records
     * (files of version 1 recorded only the seed network, on 28x28, 10 classes). */
    const char *arch = v->mval[M_ARCH];
    if (!arch)
        return cnn_fail(err, CNN_ERR_FORMAT, "%s: __metadata__ has no arch", path);
    const char *spec = arch;
    if (ver == 1) {
        if (strcmp(arch, CNN_MODEL_V1_ARCH) != 0)
            return cnn_fail(err, CNN_ERR_FORMAT,
                            "%s: architecture \"%s\" does not match this build's \"%s\"", path,
                            model_printable(vb, arch), CNN_MODEL_V1_ARCH);
        spec = CNN_ARCH_SEED;
        if (!v->mval[M_ROWS])
            m->rows = m->cols = 28;
        if (!v->mval[M_CLASSES])
            m->classes = 10;
    }
    if (m->rows < 1 || m->cols < 1 || m->classes < 1)
        return cnn_fail(err, CNN_ERR_FORMAT,
                        "%s: __metadata__ needs rows, cols and classes of at least 1", path);
    cnn_err aerr = {{0}};
    if (cnn_arch_parse(&m->arch, spec, m->rows, m->cols, 1, m->classes, &aerr) != CNN_OK)
        return cnn_fail(err, CNN_ERR_FORMAT, "%s: architecture \"%s\": %s", path,
                        model_printable(vb, arch), aerr.msg);

    /* Class names: optional (files before them have none). */
    const char *names = v->mval[M_CLASS_NAMES];
    if (names) {
        cnn_err nerr = {{0}};
        if (strlen(names) >= sizeof m->class_names ||
            cnn_model_check_class_names(names, m->classes, &nerr) != CNN_OK)
            return cnn_fail(err, CNN_ERR_FORMAT, "%s: __metadata__ class_names: %s", path,
                            nerr.msg[0] ? nerr.msg : "longer than the names a model can hold");
        snprintf(m->class_names, sizeof m->class_names, "%s", names);
    }

    size_t len = 0;
    for (int k = 0; k < v->nextra; k++) {
        int n = snprintf(m->extra + len, sizeof m->extra - len, "%s=%s\n", v->xkey[k],
                         v->xval[k]);
        if (n < 0 || (size_t)n >= sizeof m->extra - len)
            return cnn_fail(err, CNN_ERR_FORMAT, "%s: train.* metadata longer than %zu bytes",
                            path, sizeof m->extra - 1);
        len += (size_t)n;
    }
    return CNN_OK;
}
