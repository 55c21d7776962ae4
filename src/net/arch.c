/* arch.c — the architecture spec parser: from "conv15x5,relu,avgpool2,dense10"
 * to the table of layers (cnn_arch.h) with every shape and parameter offset
 * worked out, or one line naming the layer that is wrong. Everything is
 * checked here, before anything is allocated, so the network, the model
 * file and the bench can trust the table. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cnn_arch.h"

/* The presets, with the plain-SGD rate and batch that train each well in
 * a few epochs (measured on Fashion-MNIST, see README): LeNet-5 at lr 0.05
 * reached 88.98 % after 8 epochs, at 0.1 it reached 89.67 % after 10. */
static const struct {
    const char *name, *spec;
    float lr;
    int batch;
} presets[] = {
    {"seed", CNN_ARCH_SEED, 0.05f, 32},
    {"lenet5", CNN_ARCH_LENET5, 0.1f, 32},
};
enum { NPRESETS = sizeof presets / sizeof presets[0] };

const char *cnn_layer_kind_name(cnn_layer_kind kind)
{
    switch (kind) {
    case CNN_LAYER_CONV: return "conv";
    case CNN_LAYER_RELU: return "relu";
    case CNN_LAYER_AVGPOOL: return "avgpool";
    case CNN_LAYER_MAXPOOL: return "maxpool";
    case CNN_LAYER_DENSE: return "dense";
    }
    return "?";
}

int cnn_arch_preset_defaults(const char *spec, float *lr, int *batch)
{
    for (int i = 0; i < NPRESETS; i++)
        if (strcmp(spec, presets[i].name) == 0 || strcmp(spec, presets[i].spec) == 0) {
            *lr = presets[i].lr;
            *batch = presets[i].batch;
            return 1;
        }
    return 0;
}

const char *cnn_arch_preset_name(const cnn_arch *a)
{
    for (int i = 0; i < NPRESETS; i++)
        if (strcmp(a->spec, presets[i].spec) == 0)
            return presets[i].name;
    return NULL;
}

/* A decimal number of at most 12 digits at *p (no sign, no spaces), advancing
 * *p; -1 if there are no digits or too many. Ranges are the caller's. */
static long number(const char **p)
{
    const char *s = *p;
    long v = 0;
    int digits = 0;
    while (isdigit((unsigned char)*s)) {
        if (++digits > 12)
            return -1;
        v = v * 10 + (*s++ - '0');
    }
    if (!digits)
        return -1;
    *p = s;
    return v;
}

/* The token after `prefix` is one number and nothing else. */
static long sole_number(const char *tok, const char *prefix)
{
    const char *p = tok + strlen(prefix);
    long v = number(&p);
    return *p ? -1 : v;
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Parse one token into l->kind and its sizes. Returns NULL or the problem. */
static const char *parse_token(const char *tok, cnn_layer *l)
{
    static const char syntax[] =
        "unknown layer (expected convFxK[pP][sS], relu, avgpoolN, maxpoolN or denseN)";
    l->k = 0;
    l->pad = 0;
    l->stride = 1;
    if (strcmp(tok, "relu") == 0) {
        l->kind = CNN_LAYER_RELU;
        l->size = 0;
        return NULL;
    }
    if (starts_with(tok, "avgpool") || starts_with(tok, "maxpool")) {
        l->kind = tok[0] == 'a' ? CNN_LAYER_AVGPOOL : CNN_LAYER_MAXPOOL;
        long z = sole_number(tok, "avgpool");
        if (z < 0)
            return "expected a window size, e.g. avgpool2";
        if (z < 1 || z > CNN_MAX_SIDE)
            return "the window must be from 1 to 4096";
        l->size = (int)z;
        return NULL;
    }
    if (starts_with(tok, "dense")) {
        l->kind = CNN_LAYER_DENSE;
        long n = sole_number(tok, "dense");
        if (n < 0)
            return "expected a number of outputs, e.g. dense10";
        if (n < 1 || n > CNN_MAX_DENSE)
            return "the number of outputs must be from 1 to 1048576";
        l->size = (int)n;
        return NULL;
    }
    if (!starts_with(tok, "conv"))
        return syntax;
    l->kind = CNN_LAYER_CONV;
    const char *p = tok + 4;
    long f = number(&p), k = -1;
    if (f >= 0 && *p == 'x') {
        p++;
        k = number(&p);
    }
    if (f < 0 || k < 0)
        return "expected convFxK, e.g. conv6x5 (F filters of KxK)";
    long pad = -1, stride = -1;
    while (*p) {
        char c = *p++;
        long *slot = c == 'p' ? &pad : c == 's' ? &stride : NULL;
        if (!slot)
            return "after convFxK only the suffixes pP (padding) and sS (stride) may follow";
        if (*slot >= 0)
            return c == 'p' ? "padding given twice" : "stride given twice";
        if ((*slot = number(&p)) < 0)
            return c == 'p' ? "expected a padding after 'p', e.g. conv6x5p2"
                            : "expected a stride after 's', e.g. conv32x3s2";
    }
    if (f < 1 || f > CNN_MAX_FILTERS)
        return "the number of filters must be from 1 to 4096";
    if (k < 1 || k > CNN_MAX_KERNEL)
        return "the kernel size must be from 1 to 64";
    if (pad >= k)
        return "the padding must be smaller than the kernel";
    if (stride == 0 || stride > CNN_MAX_KERNEL)
        return "the stride must be from 1 to 64";
    l->size = (int)f;
    l->k = (int)k;
    l->pad = pad < 0 ? 0 : (int)pad;
    l->stride = stride < 0 ? 1 : (int)stride;
    return NULL;
}

/* The token as an error message may show it: at most 48 bytes, anything
 * outside printable ASCII as '?', so that a hostile spec cannot break the
 * one-line message (fuzz_arch found "see\f\t\n\rl"). */
static const char *shown(char out[56], const char *tok)
{
    size_t i = 0;
    for (; tok[i] && i < 48; i++) {
        out[i] = tok[i];
        if (tok[i] < 0x20 || tok[i] >= 0x7f)
            out[i] = '?';
    }
    if (tok[i]) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}

/* Shapes of l from its input map; NULL or the problem (written into buf). */
static const char *place(cnn_layer *l, int h, int w, int c, char *buf, size_t cap)
{
    l->in_h = h;
    l->in_w = w;
    l->in_c = c;
    l->in_size = (long)h * w * c;
    l->out_h = h;
    l->out_w = w;
    l->out_c = c;
    switch (l->kind) {
    case CNN_LAYER_CONV: {
        long ph = (long)h + 2L * l->pad, pw = (long)w + 2L * l->pad;
        if (ph < l->k || pw < l->k) {
            snprintf(buf, cap, "the %dx%d kernel does not fit the %dx%d map%s", l->k, l->k,
                     h, w, l->pad ? " with its padding" : "");
            return buf;
        }
        l->out_h = (int)((ph - l->k) / l->stride + 1);
        l->out_w = (int)((pw - l->k) / l->stride + 1);
        l->out_c = l->size;
        l->fan_in = c * l->k * l->k;
        l->w_count = (long)l->size * l->fan_in;
        l->b_count = l->size;
        break;
    }
    case CNN_LAYER_AVGPOOL:
    case CNN_LAYER_MAXPOOL:
        if (h % l->size || w % l->size) {
            snprintf(buf, cap, "window %d does not divide the %dx%d map", l->size, h, w);
            return buf;
        }
        l->out_h = h / l->size;
        l->out_w = w / l->size;
        break;
    case CNN_LAYER_DENSE:
        l->out_h = l->out_w = 1;
        l->out_c = l->size;
        l->fan_in = (int)(l->in_size > 0x7fffffff ? 0x7fffffff : l->in_size);
        l->w_count = (long)l->size * l->in_size;
        l->b_count = l->size;
        break;
    case CNN_LAYER_RELU:
        break;
    }
    l->out_size = (long)l->out_h * l->out_w * l->out_c;
    return NULL;
}

/* Canonical text of a layer: defaults dropped. */
static void layer_text(const cnn_layer *l, char *out, size_t cap)
{
    switch (l->kind) {
    case CNN_LAYER_CONV: {
        int n = snprintf(out, cap, "conv%dx%d", l->size, l->k);
        if (l->pad)
            n += snprintf(out + n, cap - (size_t)n, "p%d", l->pad);
        if (l->stride != 1)
            snprintf(out + n, cap - (size_t)n, "s%d", l->stride);
        break;
    }
    case CNN_LAYER_RELU: snprintf(out, cap, "relu"); break;
    case CNN_LAYER_AVGPOOL: snprintf(out, cap, "avgpool%d", l->size); break;
    case CNN_LAYER_MAXPOOL: snprintf(out, cap, "maxpool%d", l->size); break;
    case CNN_LAYER_DENSE: snprintf(out, cap, "dense%d", l->size); break;
    }
}

/* Parameters may take at most a quarter of physical memory. */
static long param_limit(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || page <= 0)
        return CNN_MAX_PARAMS;
    double floats = (double)pages * (double)page / 4.0 / 4.0;
    return floats < (double)CNN_MAX_PARAMS ? (long)floats : CNN_MAX_PARAMS;
}

/* Largest map a layer may produce per sample: 2^24 floats (64 MiB); the
 * workspace holds a chunk of them, forward and backward. */
#define MAX_MAP (1L << 24)

cnn_status cnn_arch_parse(cnn_arch *out, const char *spec, int in_h, int in_w, int in_c,
                          int classes, cnn_err *err)
{
    if (!out || !spec)
        return cnn_fail(err, CNN_ERR_ARG, "cnn_arch_parse: NULL argument");
    if (in_h < 1 || in_w < 1 || in_c < 1 || in_h > CNN_MAX_SIDE || in_w > CNN_MAX_SIDE ||
        in_c > CNN_MAX_FILTERS || classes < 1 || classes > CNN_MAX_CLASSES)
        return cnn_fail(err, CNN_ERR_ARG, "inputs of %dx%dx%d with %d classes are not supported",
                        in_h, in_w, in_c, classes);
    for (int i = 0; i < NPRESETS; i++)
        if (strcmp(spec, presets[i].name) == 0)
            spec = presets[i].spec;
    if (strlen(spec) >= CNN_ARCH_TEXT)
        return cnn_fail(err, CNN_ERR_ARG, "the spec is longer than %d characters",
                        CNN_ARCH_TEXT - 1);

    /* Built in a local table (11 KB) and copied out only when all is well. */
    cnn_arch a;
    memset(&a, 0, sizeof a);
    a.in_h = in_h;
    a.in_w = in_w;
    a.in_c = in_c;
    a.classes = classes;
    const long limit = param_limit();
    int h = in_h, w = in_w, c = in_c, nconv = 0, ndense = 0;
    char tok[CNN_ARCH_TEXT], why[128];
    const char *p = spec;
    for (int i = 0;; i++) {
        /* the next token, blanks around it dropped */
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && isspace((unsigned char)*p)) {
            p++;
            len--;
        }
        while (len && isspace((unsigned char)p[len - 1]))
            len--;
        memcpy(tok, p, len);
        tok[len] = '\0';
        if (!len)
            return cnn_fail(err, CNN_ERR_ARG, "layer %d is empty%s", i + 1,
                            a.n || end ? " (two commas in a row?)" : ": the spec is empty");
        char tb[56];
        if (i == CNN_MAX_LAYERS)
            return cnn_fail(err, CNN_ERR_ARG, "layer %d '%s': more than %d layers", i + 1,
                            shown(tb, tok), CNN_MAX_LAYERS);
        cnn_layer *l = &a.layer[i];
        const char *bad = parse_token(tok, l);
        if (!bad)
            bad = place(l, h, w, c, why, sizeof why);
        if (!bad && l->out_size > MAX_MAP) {
            snprintf(why, sizeof why, "its %dx%dx%d output map is larger than %ld floats",
                     l->out_h, l->out_w, l->out_c, MAX_MAP);
            bad = why;
        }
        if (!bad && l->w_count + l->b_count > limit - a.param_count) {
            snprintf(why, sizeof why, "the parameters would exceed the limit of %ld floats (%.1f GiB)",
                     limit, (double)limit * 4.0 / (1 << 30));
            bad = why;
        }
        if (bad)
            return cnn_fail(err, CNN_ERR_ARG, "layer %d '%s': %s", i + 1, shown(tb, tok), bad);
        l->w_off = a.param_count;
        l->b_off = l->w_off + l->w_count;
        a.param_count += l->w_count + l->b_count;
        layer_text(l, l->text, sizeof l->text);
        nconv += l->kind == CNN_LAYER_CONV;
        ndense += l->kind == CNN_LAYER_DENSE;
        h = l->out_h;
        w = l->out_w;
        c = l->out_c;
        a.n = i + 1;
        if (!end)
            break;
        p = end + 1;
    }
    const cnn_layer *last = &a.layer[a.n - 1];
    if (last->kind != CNN_LAYER_DENSE || last->size != classes)
        return cnn_fail(err, CNN_ERR_ARG,
                        "layer %d '%s': the last layer must be dense%d (the data set has %d "
                        "classes)",
                        a.n, last->text, classes, classes);

    /* Tensor names, and the canonical spec. */
    int iconv = 0, idense = 0;
    size_t len = 0;
    for (int i = 0; i < a.n; i++) {
        cnn_layer *l = &a.layer[i];
        if (l->kind == CNN_LAYER_CONV)
            snprintf(l->name, sizeof l->name, nconv == 1 ? "conv" : "conv%d", ++iconv);
        else if (l->kind == CNN_LAYER_DENSE)
            snprintf(l->name, sizeof l->name, ndense == 1 ? "fc" : "fc%d", ++idense);
        /* appended by hand: the texts are short and always fit (the input
         * spec was longer), and snprintf from one member of `a` into another
         * trips GCC's -Wrestrict */
        size_t t = strlen(l->text);
        if (len + t + 2 > sizeof a.spec)
            return cnn_fail(err, CNN_ERR_ARG, "the spec is longer than %d characters",
                            CNN_ARCH_TEXT - 1);
        if (i)
            a.spec[len++] = ',';
        memcpy(a.spec + len, l->text, t);
        len += t;
    }
    a.spec[len] = '\0';
    *out = a;
    return CNN_OK;
}

double cnn_layer_flops(const cnn_layer *l, int pass)
{
    double in = (double)l->in_size, out = (double)l->out_size;
    switch (l->kind) {
    case CNN_LAYER_CONV: {
        /* P positions · F filters · C·K² taps; the bias / its sum once per
         * output; col2im's adds once per col entry (P · C·K²). */
        double P = (double)l->out_h * l->out_w, taps = (double)l->fan_in;
        double mac = 2.0 * P * l->size * taps;
        return pass == 2 ? mac + P * taps : mac + out;
    }
    case CNN_LAYER_DENSE: {
        double mac = 2.0 * in * l->size;
        return pass == 2 ? mac : mac + l->size;
    }
    case CNN_LAYER_RELU:
        return pass == 1 ? 0.0 : out;         /* a max, a select */
    case CNN_LAYER_AVGPOOL:                   /* Z²−1 adds and a scale; a scale */
        return pass == 0 ? out * l->size * l->size : pass == 2 ? in : 0.0;
    case CNN_LAYER_MAXPOOL:                   /* Z²−1 comparisons, again backward */
        return pass == 1 ? 0.0 : out * (l->size * l->size - 1);
    }
    return 0.0;
}
