/* model_files.c — helpers shared by the model file tests (model_files.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model_files.h"

int model_group_setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof fx->dir, "/tmp/test_model.XXXXXX");
    if (!mkdtemp(fx->dir)) {
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

int model_group_teardown(void **state)
{
    fixture *fx = *state;
    DIR *d = opendir(fx->dir);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof p, "%s/%s", fx->dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    int rc = rmdir(fx->dir);
    free(fx);
    return rc;
}

const char *in_dir(void **state, const char *name, char *out, size_t cap)
{
    const fixture *fx = *state;
    snprintf(out, cap, "%s/%s", fx->dir, name);
    return out;
}

int count_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp."))
            n++;
    closedir(d);
    return n;
}

cnn_arch arch_of(const char *spec, int rows, int cols, int classes)
{
    cnn_arch a;
    cnn_err err = {{0}};
    cnn_status st = cnn_arch_parse(&a, spec, rows, cols, 1, classes, &err);
    if (st != CNN_OK)
        fail_msg("%s: %s", spec, err.msg);
    return a;
}

cnn_arch seed_arch(void)
{
    return arch_of("seed", 28, 28, 10);
}

float bits_to_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

void fill_params_bits(const cnn_arch *a, float *p, uint64_t seed)
{
    cnn_rng r;
    cnn_rng_seed(&r, seed);
    for (long i = 0; i < a->param_count; i++) {
        uint32_t u = cnn_rng_u32(&r);
        if ((u & 0x7f800000u) == 0x7f800000u)
            u &= ~0x40000000u; /* NaN or Inf: exponent 0xff -> 0x7f */
        p[i] = bits_to_float(u);
    }
    static const uint32_t awkward[] = {0x80000000u /* -0 */, 0x00000001u /* FLT_TRUE_MIN */,
                                       0x00400001u /* a denormal */, 0x7f7fffffu /* FLT_MAX */,
                                       0xff7fffffu /* -FLT_MAX */, 0x3f800000u /* 1 */};
    int k = 0;
    for (int i = 0; i < a->n; i++) {
        const cnn_layer *l = &a->layer[i];
        if (!l->w_count)
            continue;
        const long place[4] = {l->w_off, l->w_off + l->w_count - 1, l->b_off,
                               l->b_off + l->b_count - 1};
        for (int j = 0; j < 4; j++, k++)
            p[place[j]] = bits_to_float(awkward[k % 6]);
    }
}

void fill_params_finite(const cnn_arch *a, float *p, uint64_t seed)
{
    cnn_rng r;
    cnn_rng_seed(&r, seed);
    for (long i = 0; i < a->param_count; i++)
        p[i] = cnn_rng_uniform(&r, -1.0f, 1.0f);
}

float *new_params(const cnn_arch *a)
{
    float *p = malloc((size_t)a->param_count * sizeof *p);
    assert_non_null(p);
    return p;
}

void fill_meta(cnn_model_meta *m, const cnn_arch *a)
{
    cnn_model_meta_init(m, a);
    m->epochs = 12;
    m->batch = 64;
    m->lr = 0.0123456789f;
    m->seed = UINT64_MAX;
    snprintf(m->impl, sizeof m->impl, "blas");
    m->epoch = 3;
    m->batch_in_epoch = 917;
    m->step = 2000000123L;
    cnn_rng_seed(&m->rng, 42);
    m->rng.state |= 1ull << 63; /* exercise the top bit */
    m->train_count = 60000;
    m->rows = a->in_h;
    m->cols = a->in_w;
    m->classes = a->classes;
}

void assert_meta_equal(const cnn_model_meta *a, const cnn_model_meta *b)
{
    assert_int_equal(a->format_version, b->format_version);
    assert_string_equal(a->arch.spec, b->arch.spec);
    assert_int_equal(a->arch.n, b->arch.n);
    assert_int_equal(a->arch.param_count, b->arch.param_count);
    assert_int_equal(a->epochs, b->epochs);
    assert_int_equal(a->batch, b->batch);
    assert_memory_equal(&a->lr, &b->lr, sizeof a->lr);
    assert_true(a->seed == b->seed);
    assert_string_equal(a->impl, b->impl);
    assert_int_equal(a->epoch, b->epoch);
    assert_int_equal(a->batch_in_epoch, b->batch_in_epoch);
    assert_true(a->step == b->step);
    assert_true(a->rng.state == b->rng.state);
    assert_true(a->rng.inc == b->rng.inc);
    assert_int_equal(a->train_count, b->train_count);
    assert_int_equal(a->rows, b->rows);
    assert_int_equal(a->cols, b->cols);
    assert_int_equal(a->classes, b->classes);
    assert_string_equal(a->extra, b->extra);
    assert_string_equal(a->class_names, b->class_names);
    assert_int_equal(a->nblocks, b->nblocks);
}

unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

void write_all(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

uint64_t get_u64le(const unsigned char *p)
{
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--)
        v = v << 8 | p[k];
    return v;
}

void put_u64le(unsigned char *p, uint64_t v)
{
    for (int k = 0; k < 8; k++)
        p[k] = (unsigned char)(v >> (8 * k));
}

void write_parts(const char *path, uint64_t n, const char *hdr, size_t hlen,
                 const unsigned char *data, size_t dlen)
{
    unsigned char *buf = malloc(8 + hlen + dlen);
    assert_non_null(buf);
    put_u64le(buf, n);
    memcpy(buf + 8, hdr, hlen);
    if (dlen)
        memcpy(buf + 8 + hlen, data, dlen);
    write_all(path, buf, 8 + hlen + dlen);
    free(buf);
}

void rewrite_header(const char *src, const char *dst, const char *from, const char *to)
{
    size_t len;
    unsigned char *file = read_all(src, &len);
    uint64_t n = get_u64le(file);
    char *hdr = malloc(n + 1);
    assert_non_null(hdr);
    memcpy(hdr, file + 8, n);
    hdr[n] = '\0';
    char *at = strstr(hdr, from);
    if (!at)
        fail_msg("\"%s\" not in header %s", from, hdr);
    size_t cap = n + strlen(to) + 16;
    char *out = malloc(cap);
    assert_non_null(out);
    size_t pre = (size_t)(at - hdr);
    memcpy(out, hdr, pre);
    size_t m = pre + (size_t)snprintf(out + pre, cap - pre, "%s%s", to, at + strlen(from));
    while (m > 0 && out[m - 1] == ' ')
        m--;
    while (m % 8)
        out[m++] = ' ';
    write_parts(dst, m, out, m, file + 8 + n, len - 8 - n);
    free(out);
    free(hdr);
    free(file);
}

/* Save p and m to path, load it back, compare bit for bit; the loaded
 * meta goes to *back (its blocks, if any, for the caller to free). */
void round_trip(const char *path, const float *p, const cnn_model_meta *m,
                       cnn_model_meta *back)
{
    cnn_err err = {{0}};
    cnn_status st = cnn_model_save(path, p, m, &err);
    if (st != CNN_OK)
        fail_msg("save: %s", err.msg);
    float *q = NULL;
    memset(back, 0x33, sizeof *back);
    st = cnn_model_load(path, &q, back, &err);
    if (st != CNN_OK)
        fail_msg("load: %s", err.msg);
    assert_non_null(q);
    assert_memory_equal(p, q, (size_t)m->arch.param_count * sizeof *p);
    assert_meta_equal(m, back);
    free(q);
}

char *header_of(const char *path)
{
    size_t len;
    unsigned char *file = read_all(path, &len);
    assert_true(len >= 8);
    uint64_t n = get_u64le(file);
    assert_true(n <= len - 8);
    char *hdr = malloc(n + 1);
    assert_non_null(hdr);
    memcpy(hdr, file + 8, n);
    hdr[n] = '\0';
    free(file);
    return hdr;
}

void save_model(const char *path, const cnn_arch *a, uint64_t seed)
{
    float *p = new_params(a);
    fill_params_bits(a, p, seed);
    cnn_model_meta m;
    fill_meta(&m, a);
    cnn_err err = {{0}};
    cnn_status st = cnn_model_save(path, p, &m, &err);
    if (st != CNN_OK)
        fail_msg("save: %s", err.msg);
    free(p);
}

/* The load, the status, the untouched outputs; returns the message. */
static const char *refused(const char *path, cnn_status want, cnn_err *err)
{
    static float not_null;
    float *p = &not_null;
    cnn_model_meta *m = malloc(sizeof *m), *msent = malloc(sizeof *msent);
    assert_non_null(m);
    assert_non_null(msent);
    memset(msent, 0x5a, sizeof *msent);
    memcpy(m, msent, sizeof *m);
    cnn_status st = cnn_model_load(path, &p, m, err);
    print_message("    refused: %s\n", err->msg);
    if (st != want)
        fail_msg("status %d (%s), expected %d; message: %s", st, cnn_status_str(st), want,
                 err->msg);
    assert_null(p);
    assert_memory_equal(m, msent, sizeof *m);
    assert_null(strchr(err->msg, '\n'));
    free(m);
    free(msent);
    return err->msg;
}

void expect_refusal(const char *path, cnn_status want, const char *kw)
{
    cnn_err err = {{0}};
    const char *msg = refused(path, want, &err);
    if (!strstr(msg, kw))
        fail_msg("message lacks \"%s\": %s", kw, msg);
    if (strncmp(msg, path, strlen(path)) != 0)
        fail_msg("message does not start with the file's name: %s", msg);
}

void expect_line(const char *path, cnn_status want, const char *rest)
{
    cnn_err err = {{0}};
    const char *msg = refused(path, want, &err);
    char line[1024];
    snprintf(line, sizeof line, "%s: %s", path, rest);
    if (strcmp(msg, line) != 0)
        fail_msg("\n got: %s\nwant: %s", msg, line);
}

static void make_bad(void **state, const cnn_arch *a, const char *from, const char *to,
                     char *bad, size_t cap)
{
    char base[128];
    in_dir(state, "base.safetensors", base, sizeof base);
    in_dir(state, "bad.safetensors", bad, cap);
    save_model(base, a, 7);
    rewrite_header(base, bad, from, to);
}

void expect_header_refusal(void **state, const cnn_arch *a, const char *from, const char *to,
                           const char *kw)
{
    char bad[128];
    make_bad(state, a, from, to, bad, sizeof bad);
    expect_refusal(bad, CNN_ERR_FORMAT, kw);
}

void expect_header_line(void **state, const cnn_arch *a, const char *from, const char *to,
                        const char *rest)
{
    char bad[128];
    make_bad(state, a, from, to, bad, sizeof bad);
    expect_line(bad, CNN_ERR_FORMAT, rest);
}

void write_v1_model(const char *path, const float *params, const cnn_model_meta *m)
{
    static const struct {
        const char *name, *shape;
        long count;
    } t[] = {{"conv.weight", "15,1,5,5", 375}, {"conv.bias", "15", 15},
             {"fc.weight", "10,2160", 21600}, {"fc.bias", "10", 10}};
    char hdr[2048];
    int n = snprintf(hdr, sizeof hdr,
                     "{\"__metadata__\":{\"format_version\":\"1\","
                     "\"arch\":\"conv15x5x5-relu-avgpool2-fc10\",\"epochs\":\"%d\","
                     "\"batch\":\"%d\",\"lr\":\"%.9g\",\"seed\":\"%" PRIu64 "\",\"impl\":\"%s\","
                     "\"epoch\":\"%d\",\"batch_in_epoch\":\"%d\",\"step\":\"%ld\","
                     "\"rng_state\":\"%" PRIu64 "\",\"rng_inc\":\"%" PRIu64 "\","
                     "\"train_count\":\"%d\",\"rows\":\"%d\",\"cols\":\"%d\",\"classes\":\"%d\","
                     "\"input\":\"(pixel/255 - 0.2860) / 0.3530\"}",
                     m->epochs, m->batch, (double)m->lr, m->seed, m->impl, m->epoch,
                     m->batch_in_epoch, m->step, m->rng.state, m->rng.inc, m->train_count,
                     m->rows, m->cols, m->classes);
    long off = 0;
    for (int i = 0; i < 4; i++) {
        n += snprintf(hdr + n, sizeof hdr - (size_t)n,
                      ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%s],\"data_offsets\":[%ld,%ld]}",
                      t[i].name, t[i].shape, 4 * off, 4 * (off + t[i].count));
        off += t[i].count;
    }
    n += snprintf(hdr + n, sizeof hdr - (size_t)n, "}");
    while (n % 8)
        hdr[n++] = ' ';
    assert_true((size_t)n < sizeof hdr);
    assert_int_equal(off, 22000);
    unsigned char *data = malloc(4 * (size_t)off);
    assert_non_null(data);
    for (long i = 0; i < off; i++) {
        uint32_t u;
        memcpy(&u, &params[i], 4);
        for (int b = 0; b < 4; b++)
            data[4 * i + b] = (unsigned char)(u >> (8 * b));
    }
    write_parts(path, (uint64_t)n, hdr, (size_t)n, data, 4 * (size_t)off);
    free(data);
}
