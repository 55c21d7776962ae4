/* test_model_io.c — model files: bitwise round trip, atomic replacement,
 * refusal of damaged or foreign files (with the caller's buffers left alone),
 * and a cross-check against an independent Python reader. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cnn_model.h"

#ifndef CNN_TESTS_DIR
#error "CNN_TESTS_DIR must name the tests source directory"
#endif

#define ARCH "conv15x5x5-relu-avgpool2-fc10"
#define DATA_BYTES (4 * (size_t)CNN_PARAM_COUNT)

typedef struct {
    char dir[64];
} fixture;

/* ---- helpers ---------------------------------------------------------- */

static const char *in_dir(void **state, const char *name, char *out, size_t cap)
{
    const fixture *fx = *state;
    snprintf(out, cap, "%s/%s", fx->dir, name);
    return out;
}

static float bits_to_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Random bit patterns (every exponent, NaNs included) plus the awkward
 * values placed at tensor boundaries, so the round trip covers all bits. */
static void fill_params_bits(float *p, uint64_t seed)
{
    cnn_rng r;
    cnn_rng_seed(&r, seed);
    for (int i = 0; i < CNN_PARAM_COUNT; i++)
        p[i] = bits_to_float(cnn_rng_u32(&r));
    cnn_params v = cnn_params_view(p);
    v.conv_w[0] = -0.0f;
    v.conv_w[CNN_CONV_W_SIZE - 1] = FLT_TRUE_MIN;      /* smallest denormal */
    v.conv_b[0] = bits_to_float(0x00400001u);          /* another denormal */
    v.conv_b[CNN_CONV_B_SIZE - 1] = FLT_MAX;
    v.fc_w[0] = -FLT_MAX;
    v.fc_w[1] = INFINITY;
    v.fc_w[2] = -INFINITY;
    v.fc_w[3] = bits_to_float(0x7fa12345u);            /* signalling NaN, payload */
    v.fc_w[CNN_FC_W_SIZE - 1] = bits_to_float(0xffc00001u);
    v.fc_b[0] = 1.0f;
    v.fc_b[CNN_FC_B_SIZE - 1] = -0.0f;
}

/* Finite, modest values, for comparing sums with another reader. */
static void fill_params_finite(float *p, uint64_t seed)
{
    cnn_rng r;
    cnn_rng_seed(&r, seed);
    for (int i = 0; i < CNN_PARAM_COUNT; i++)
        p[i] = cnn_rng_uniform(&r, -1.0f, 1.0f);
}

static void fill_meta(cnn_model_meta *m)
{
    cnn_model_meta_init(m);
    m->epochs = 12;
    m->batch = 64;
    m->lr = 0.0123456789f;
    m->seed = UINT64_MAX;
    snprintf(m->impl, sizeof m->impl, "blas");
    m->epoch = 3;
    m->batch_in_epoch = 917;
    m->step = 2000000123L;
    cnn_rng_seed(&m->rng, 42);
    m->rng.state |= 1ull << 63;  /* exercise the top bit */
    m->train_count = 60000;
    m->rows = 28;
    m->cols = 28;
    m->classes = 10;
}

static void assert_meta_equal(const cnn_model_meta *a, const cnn_model_meta *b)
{
    assert_int_equal(a->format_version, b->format_version);
    assert_string_equal(a->arch, b->arch);
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
}

static unsigned char *read_all(const char *path, size_t *len)
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

static void write_all(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static uint64_t get_u64le(const unsigned char *p)
{
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--)
        v = v << 8 | p[k];
    return v;
}

static void put_u64le(unsigned char *p, uint64_t v)
{
    for (int k = 0; k < 8; k++)
        p[k] = (unsigned char)(v >> (8 * k));
}

/* Write a file: length field `n`, then `hdr` (hlen bytes), then `data`. */
static void write_parts(const char *path, uint64_t n, const char *hdr, size_t hlen,
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

static void save_model(const char *path, uint64_t seed)
{
    float *p = malloc(sizeof(float) * CNN_PARAM_COUNT);
    assert_non_null(p);
    fill_params_bits(p, seed);
    cnn_model_meta m;
    fill_meta(&m);
    cnn_err err = {""};
    assert_int_equal(cnn_model_save(path, p, &m, &err), CNN_OK);
    free(p);
}

/* Copy the model at src to dst with the first `from` in its header replaced
 * by `to` (the header re-padded, the data unchanged). */
static void rewrite_header(const char *src, const char *dst, const char *from, const char *to)
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

/* Load must refuse `path` with status `want`, a message naming the file
 * and containing `kw`, and leave the output buffers exactly as they were. */
static void expect_refusal(const char *path, cnn_status want, const char *kw)
{
    float *p = malloc(sizeof(float) * CNN_PARAM_COUNT);
    float *sentinel = malloc(sizeof(float) * CNN_PARAM_COUNT);
    assert_non_null(p);
    assert_non_null(sentinel);
    memset(sentinel, 0xa5, sizeof(float) * CNN_PARAM_COUNT);
    memcpy(p, sentinel, sizeof(float) * CNN_PARAM_COUNT);
    cnn_model_meta m, msent;
    memset(&msent, 0x5a, sizeof msent);
    memcpy(&m, &msent, sizeof m);
    cnn_err err = {""};

    cnn_status st = cnn_model_load(path, p, &m, &err);
    print_message("    refused: %s\n", err.msg);
    if (st != want)
        fail_msg("status %d (%s), expected %d; message: %s", st, cnn_status_str(st), want,
                 err.msg);
    if (!strstr(err.msg, kw))
        fail_msg("message lacks \"%s\": %s", kw, err.msg);
    assert_non_null(strstr(err.msg, path));
    assert_null(strchr(err.msg, '\n'));
    assert_memory_equal(p, sentinel, sizeof(float) * CNN_PARAM_COUNT);
    assert_memory_equal(&m, &msent, sizeof m);
    free(p);
    free(sentinel);
}

static void expect_header_refusal(void **state, const char *from, const char *to, const char *kw)
{
    char base[128], bad[128];
    in_dir(state, "base.safetensors", base, sizeof base);
    in_dir(state, "bad.safetensors", bad, sizeof bad);
    save_model(base, 7);
    rewrite_header(base, bad, from, to);
    expect_refusal(bad, CNN_ERR_FORMAT, kw);
}

static int count_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".cnn-tmp-"))
            n++;
    closedir(d);
    return n;
}

/* ---- fixtures --------------------------------------------------------- */

static int group_setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof fx->dir, "/tmp/test_model_io.XXXXXX");
    if (!mkdtemp(fx->dir)) {
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int group_teardown(void **state)
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

/* ---- tests: writing and reading back ---------------------------------- */

static void test_meta_init(void **state)
{
    (void)state;
    cnn_model_meta m;
    memset(&m, 0x77, sizeof m);
    cnn_model_meta_init(&m);
    assert_int_equal(m.format_version, CNN_MODEL_FORMAT_VERSION);
    assert_string_equal(m.arch, ARCH);
    assert_int_equal(m.epochs, 0);
    assert_true(m.lr == 0.0f);
    assert_true(m.seed == 0 && m.rng.state == 0 && m.rng.inc == 0 && m.step == 0);
    assert_string_equal(m.impl, "");
}

static void test_round_trip(void **state)
{
    char path[128];
    in_dir(state, "rt.safetensors", path, sizeof path);
    float *p = malloc(sizeof(float) * CNN_PARAM_COUNT);
    float *q = malloc(sizeof(float) * CNN_PARAM_COUNT);
    assert_non_null(p);
    assert_non_null(q);
    fill_params_bits(p, 1);
    cnn_model_meta m, back;
    fill_meta(&m);
    cnn_err err = {""};
    assert_int_equal(cnn_model_save(path, p, &m, &err), CNN_OK);

    memset(q, 0, sizeof(float) * CNN_PARAM_COUNT);
    memset(&back, 0x33, sizeof back);
    cnn_status st = cnn_model_load(path, q, &back, &err);
    if (st != CNN_OK)
        fail_msg("load: %s", err.msg);
    assert_memory_equal(p, q, sizeof(float) * CNN_PARAM_COUNT);
    assert_meta_equal(&m, &back);

    /* meta is optional */
    memset(q, 0, sizeof(float) * CNN_PARAM_COUNT);
    assert_int_equal(cnn_model_load(path, q, NULL, &err), CNN_OK);
    assert_memory_equal(p, q, sizeof(float) * CNN_PARAM_COUNT);

    /* a second meta: zero/negative values and a denormal learning rate */
    cnn_model_meta_init(&m);
    m.lr = FLT_TRUE_MIN;
    m.epoch = -1;
    m.step = -9000000000L;
    assert_int_equal(cnn_model_save(path, p, &m, &err), CNN_OK);
    assert_int_equal(cnn_model_load(path, q, &back, &err), CNN_OK);
    assert_meta_equal(&m, &back);

    assert_int_equal(count_temp_files(((fixture *)*state)->dir), 0);
    free(p);
    free(q);
}

static void test_string_escapes(void **state)
{
    char path[128];
    in_dir(state, "esc.safetensors", path, sizeof path);
    float *p = calloc(CNN_PARAM_COUNT, sizeof(float));
    assert_non_null(p);
    cnn_model_meta m, back;
    cnn_model_meta_init(&m);
    snprintf(m.impl, sizeof m.impl, "\"\\\n\t\x01/");
    cnn_err err = {""};
    assert_int_equal(cnn_model_save(path, p, &m, &err), CNN_OK);
    assert_int_equal(cnn_model_load(path, p, &back, &err), CNN_OK);
    assert_string_equal(back.impl, m.impl);

    /* Escapes our writer never produces but other JSON writers do. */
    char other[128];
    in_dir(state, "esc2.safetensors", other, sizeof other);
    snprintf(m.impl, sizeof m.impl, "blas");
    assert_int_equal(cnn_model_save(path, p, &m, &err), CNN_OK);
    rewrite_header(path, other, "\"impl\":\"blas\"", "\"impl\":\"\\u0062\\/\\u00e9\"");
    assert_int_equal(cnn_model_load(other, p, &back, &err), CNN_OK);
    assert_string_equal(back.impl, "b/\xc3\xa9");
    rewrite_header(path, other, "\"impl\":\"blas\"", "\"impl\":\"\\uD83D\\uDE00\"");
    assert_int_equal(cnn_model_load(other, p, &back, &err), CNN_OK);
    assert_string_equal(back.impl, "\xf0\x9f\x98\x80");
    /* whitespace between tokens and keys we do not know are fine */
    rewrite_header(path, other, "{\"__metadata__\":{",
                   " {\n\t\"__metadata__\" : {\"format\":\"pt\", ");
    assert_int_equal(cnn_model_load(other, p, &back, &err), CNN_OK);

    /* Strings that cannot be written as UTF-8 JSON are refused on save. */
    snprintf(m.impl, sizeof m.impl, "\xff");
    assert_int_equal(cnn_model_save(path, p, &m, &err), CNN_ERR_ARG);
    assert_non_null(strstr(err.msg, "UTF-8"));
    free(p);
}

static void test_save_replaces(void **state)
{
    char path[128];
    in_dir(state, "replace.safetensors", path, sizeof path);
    save_model(path, 100);
    assert_int_equal(chmod(path, 0640), 0);

    float *p = malloc(sizeof(float) * CNN_PARAM_COUNT);
    float *q = malloc(sizeof(float) * CNN_PARAM_COUNT);
    assert_non_null(p);
    assert_non_null(q);
    fill_params_bits(p, 200);
    cnn_model_meta m, back;
    fill_meta(&m);
    m.epoch = 4;
    cnn_err err = {""};
    assert_int_equal(cnn_model_save(path, p, &m, &err), CNN_OK);
    assert_int_equal(cnn_model_load(path, q, &back, &err), CNN_OK);
    assert_memory_equal(p, q, sizeof(float) * CNN_PARAM_COUNT);
    assert_int_equal(back.epoch, 4);

    /* Replacing a file keeps its permissions. */
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640);
    assert_int_equal(count_temp_files(((fixture *)*state)->dir), 0);
    free(p);
    free(q);
}

static void test_header_layout(void **state)
{
    char path[128];
    in_dir(state, "layout.safetensors", path, sizeof path);
    save_model(path, 3);
    size_t len;
    unsigned char *file = read_all(path, &len);
    assert_true(len >= 8);
    uint64_t n = get_u64le(file);
    assert_int_equal(n % 8, 0);
    assert_int_equal(len, 8 + n + DATA_BYTES);
    char *hdr = malloc(n + 1);
    assert_non_null(hdr);
    memcpy(hdr, file + 8, n);
    hdr[n] = '\0';
    assert_int_equal(hdr[0], '{');
    static const char *const want[] = {
        "{\"__metadata__\":{\"format_version\":\"1\"",
        "\"arch\":\"" ARCH "\"",
        "\"epochs\":\"12\"",
        "\"lr\":\"0.0123456791\"",  /* %.9g of 0.0123456789f */
        "\"seed\":\"18446744073709551615\"",
        "\"impl\":\"blas\"",
        "\"step\":\"2000000123\"",
        "\"conv.weight\":{\"dtype\":\"F32\",\"shape\":[15,1,5,5],\"data_offsets\":[0,1500]}",
        "\"conv.bias\":{\"dtype\":\"F32\",\"shape\":[15],\"data_offsets\":[1500,1560]}",
        "\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[10,2160],\"data_offsets\":[1560,87960]}",
        "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[10],\"data_offsets\":[87960,88000]}",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(hdr, want[i]))
            fail_msg("header lacks %s:\n%s", want[i], hdr);
    /* every metadata value is a string: no ":<digit>" inside __metadata__ */
    char *end = strchr(hdr, '}');
    assert_non_null(end);
    for (char *c = hdr; c < end; c++)
        assert_false(c[0] == ':' && c[1] >= '0' && c[1] <= '9');
    /* data little-endian: conv.weight[0] is -0.0f */
    static const unsigned char negzero[4] = {0, 0, 0, 0x80};
    assert_memory_equal(file + 8 + n, negzero, 4);
    free(hdr);
    free(file);
}

/* ---- tests: refusals -------------------------------------------------- */

static void test_refuse_missing_file(void **state)
{
    char path[128];
    in_dir(state, "no-such.safetensors", path, sizeof path);
    expect_refusal(path, CNN_ERR_IO, "No such file");
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "cnn_model_load blocked on a FIFO (no writer)\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
        /* the exit status says it */
    }
    _exit(1);
}

/* A FIFO with no writer would block a plain open() forever: it is refused
 * instead (the alarm turns a regression into a failure, not a hang). */
static void test_refuse_fifo(void **state)
{
    char path[128];
    in_dir(state, "fifo.safetensors", path, sizeof path);
    unlink(path);
    assert_int_equal(mkfifo(path, 0600), 0);
    signal(SIGALRM, on_alarm);
    alarm(10);
    expect_refusal(path, CNN_ERR_IO, "not a regular file");
    alarm(0);
    signal(SIGALRM, SIG_DFL);
    unlink(path);
}

static void test_refuse_truncated(void **state)
{
    char base[128], bad[128];
    in_dir(state, "base.safetensors", base, sizeof base);
    in_dir(state, "cut.safetensors", bad, sizeof bad);
    save_model(base, 5);
    size_t len;
    unsigned char *file = read_all(base, &len);
    uint64_t n = get_u64le(file);
    size_t cuts[] = {0, 4, 7, 8, 8 + n / 2, 8 + n - 1, 8 + n, 8 + n + 100, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_all(bad, file, cuts[i]);
        expect_refusal(bad, CNN_ERR_FORMAT, "truncated");
    }
    /* one byte too many is refused as well */
    unsigned char *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, file, len);
    longer[len] = 0;
    write_all(bad, longer, len + 1);
    expect_refusal(bad, CNN_ERR_FORMAT, "trailing");
    free(longer);
    free(file);
}

static void test_refuse_header_length(void **state)
{
    char base[128], bad[128];
    in_dir(state, "base.safetensors", base, sizeof base);
    in_dir(state, "hlen.safetensors", bad, sizeof bad);
    save_model(base, 5);
    size_t len;
    unsigned char *file = read_all(base, &len);
    const uint64_t lens[] = {UINT64_MAX, (uint64_t)1 << 63, (uint64_t)1 << 32,
                             ((uint64_t)1 << 20) + 8};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        put_u64le(file, lens[i]);
        write_all(bad, file, len);
        expect_refusal(bad, CNN_ERR_FORMAT, "header length");
    }
    /* Within the limit but beyond the file's end. */
    put_u64le(file, (uint64_t)1 << 20);
    write_all(bad, file, len);
    expect_refusal(bad, CNN_ERR_FORMAT, "truncated");
    /* Larger than the real header: the JSON then runs into the data. */
    put_u64le(file, 4096);
    write_all(bad, file, len);
    expect_refusal(bad, CNN_ERR_FORMAT, "JSON");
    free(file);
}

static void test_refuse_bad_json(void **state)
{
    static const char *const edits[][2] = {
        {"\"__metadata__\":{", "\"__metadata__\"{"},           /* missing ':' */
        {"\"__metadata__\":{", "'__metadata__':{"},            /* single quotes */
        {"88000]}}", "88000]},}"},                             /* trailing comma */
        {"88000]}}", "88000]}}x"},                             /* garbage after */
        {"88000]}}", "88000]}"},                               /* unclosed object */
        {"\"impl\":\"blas\"", "\"impl\":\"bl\tas\""},          /* raw control char */
        {"\"impl\":\"blas\"", "\"impl\":\"bl\\xas\""},         /* bad escape */
        {"\"impl\":\"blas\"", "\"impl\":\"bl\\u00g1\""},       /* bad \u */
        {"\"impl\":\"blas\"", "\"impl\":\"bl\\u0000\""},       /* NUL */
        {"\"impl\":\"blas\"", "\"impl\":\"\\ud83d\""},         /* lone surrogate */
        {"\"impl\":\"blas\"", "\"impl\":\"bl\xff\""},          /* not UTF-8 */
        {"\"impl\":\"blas\"", "\"impl\":\"bl\xc0\xaf\""},      /* overlong UTF-8 */
        {"[0,1500]", "[00,1500]"},                             /* leading zero */
        {"[0,1500]", "[0,1500.0]"},                            /* fraction */
        {"[0,1500]", "[0,15e2]"},                              /* exponent */
        {"[0,1500]", "[-0,1500]"},                             /* sign */
        {"[0,1500]", "[0,1500,]"},                             /* trailing comma */
        {"[0,1500]", "[0,99999999999999999999999]"},           /* overflow */
        {"\"shape\":[15]", "\"shape\":15"},                    /* not an array */
        {"\"dtype\":\"F32\"", "\"dtype\":null"},               /* not a string */
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++)
        expect_header_refusal(state, edits[i][0], edits[i][1], "JSON");

    /* Headers written from scratch: empty, unterminated, not an object. */
    char bad[128];
    in_dir(state, "raw.safetensors", bad, sizeof bad);
    static const char *const raw[] = {"", "        ", "{\"__metadata__\":{\"a\":\"b",
                                      "[]      ", "\"x\"    "};
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
        size_t hl = strlen(raw[i]);
        write_parts(bad, hl, raw[i], hl, NULL, 0);
        expect_refusal(bad, CNN_ERR_FORMAT, "JSON");
    }
}

static void test_refuse_dtype(void **state)
{
    expect_header_refusal(state, "\"conv.bias\":{\"dtype\":\"F32\"",
                          "\"conv.bias\":{\"dtype\":\"F16\"", "dtype F16");
    expect_header_refusal(state, "\"fc.weight\":{\"dtype\":\"F32\"",
                          "\"fc.weight\":{\"dtype\":\"f32\"", "dtype");
}

static void test_refuse_shape(void **state)
{
    expect_header_refusal(state, "[10,2160]", "[10,2161]",
                          "fc.weight has shape [10,2161], expected [10,2160]");
    expect_header_refusal(state, "[10,2160]", "[2160,10]", "fc.weight has shape [2160,10]");
    expect_header_refusal(state, "[10,2160]", "[21600]", "fc.weight has shape [21600]");
    expect_header_refusal(state, "[15,1,5,5]", "[15,25]", "conv.weight");
    expect_header_refusal(state, "\"shape\":[10]", "\"shape\":[10,1,1,1,1,1,1,1,1]", "JSON");
}

static void test_refuse_offsets(void **state)
{
    /* overlapping: fc.bias placed on top of conv.bias */
    expect_header_refusal(state, "[87960,88000]", "[1500,1540]", "overlap");
    expect_header_refusal(state, "[87960,88000]", "[87970,88010]", "outside");
    expect_header_refusal(state, "[87960,88000]", "[88000,87960]", "outside");
    expect_header_refusal(state, "[87960,88000]", "[18446744073709551615,40]", "outside");
    expect_header_refusal(state, "[1500,1560]", "[1500,1564]", "span");
    expect_header_refusal(state, "[1500,1560]", "[1500]", "2 entries");
    expect_header_refusal(state, "[1500,1560]", "[1500,1560,1560]", "JSON");
    /* other writers may order the buffer differently: swapping the two
     * biases' places in the data is a valid file (though its values are
     * then each other's, which is why only the status is checked) */
    char base[128], swapped[128];
    in_dir(state, "base.safetensors", base, sizeof base);
    in_dir(state, "swap.safetensors", swapped, sizeof swapped);
    save_model(base, 7);
    rewrite_header(base, swapped, "[0,1500]", "[40,1540]");
    rewrite_header(swapped, swapped, "[1500,1560]", "[1540,1600]");
    rewrite_header(swapped, swapped, "[1560,87960]", "[1600,88000]");
    rewrite_header(swapped, swapped, "[87960,88000]", "[0,40]");
    float *p = malloc(sizeof(float) * CNN_PARAM_COUNT);
    assert_non_null(p);
    cnn_err err = {""};
    cnn_status st = cnn_model_load(swapped, p, NULL, &err);
    if (st != CNN_OK)
        fail_msg("reordered buffer refused: %s", err.msg);
    free(p);
}

static void test_refuse_tensor_set(void **state)
{
    expect_header_refusal(state,
                          ",\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[10],"
                          "\"data_offsets\":[87960,88000]}",
                          "", "missing tensor fc.bias");
    expect_header_refusal(state, "\"fc.bias\":", "\"fc.bias2\":", "unknown tensor fc.bias2");
    expect_header_refusal(state, "\"fc.bias\":",
                          "\"conv.bias\":{\"dtype\":\"F32\",\"shape\":[15],"
                          "\"data_offsets\":[1500,1560]},\"fc.bias\":",
                          "duplicate tensor conv.bias");
    expect_header_refusal(state, "\"dtype\":\"F32\",\"shape\":[15]",
                          "\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[15]", "duplicate");
    expect_header_refusal(state, "\"dtype\":\"F32\",\"shape\":[15]",
                          "\"dtype\":\"F32\",\"extra\":\"x\",\"shape\":[15]", "unknown field");
    expect_header_refusal(state, "\"dtype\":\"F32\",\"shape\":[15],", "\"dtype\":\"F32\",",
                          "missing shape");
}

static void test_refuse_metadata(void **state)
{
    expect_header_refusal(state, "\"format_version\":\"1\"", "\"format_version\":\"7\"",
                          "unknown format version 7 (this build reads 1)");
    expect_header_refusal(state, "\"format_version\":\"1\"", "\"format_version\":\"1.0\"",
                          "format_version");
    expect_header_refusal(state, "\"format_version\":\"1\",", "", "no format_version");
    expect_header_refusal(state, "\"format_version\":\"1\"", "\"format_version\":1",
                          "not a string");
    expect_header_refusal(state, "\"arch\":\"" ARCH "\"", "\"arch\":\"conv32x3x3-fc10\"",
                          "architecture \"conv32x3x3-fc10\" does not match");
    expect_header_refusal(state, "\"arch\":\"" ARCH "\",", "", "no arch");
    /* the input scaling is part of the model: a model trained on other
     * scaling would silently misclassify */
    expect_header_refusal(state, "(pixel/255 - 0.2860)", "(pixel/255 - 0.1307)",
                          "input scaling \"(pixel/255 - 0.1307) / 0.3530\" does not match");
    expect_header_refusal(state, ",\"input\":\"(pixel/255 - 0.2860) / 0.3530\"", "",
                          "no input");
    expect_header_refusal(state, "\"epochs\":\"12\"", "\"epochs\":\"12x\"", "epochs");
    expect_header_refusal(state, "\"epochs\":\"12\"", "\"epochs\":\"\"", "epochs");
    expect_header_refusal(state, "\"epochs\":\"12\"", "\"epochs\":\"2147483648\"", "epochs");
    expect_header_refusal(state, "\"epochs\":\"12\"", "\"epochs\":\" 12\"", "epochs");
    expect_header_refusal(state, "\"seed\":\"", "\"seed\":\"-", "seed");
    expect_header_refusal(state, "\"seed\":\"18446744073709551615\"",
                          "\"seed\":\"18446744073709551616\"", "seed");
    expect_header_refusal(state, "\"lr\":\"", "\"lr\":\"x", "lr");
    expect_header_refusal(state, "\"impl\":\"blas\"", "\"impl\":\"blasblas\"", "impl");
    expect_header_refusal(state, "\"impl\":\"blas\"", "\"impl\":{}", "not a string");
    expect_header_refusal(state, "\"epochs\":\"12\"", "\"epochs\":\"12\",\"epochs\":\"12\"",
                          "duplicate");
    /* no __metadata__ at all */
    char base[128], bad[128];
    in_dir(state, "base.safetensors", base, sizeof base);
    in_dir(state, "nometa.safetensors", bad, sizeof bad);
    save_model(base, 7);
    size_t len;
    unsigned char *file = read_all(base, &len);
    char *hdr = (char *)file + 8;
    char *from = strstr(hdr, "{\"__metadata__\":{");
    char *to = strstr(hdr, "},\"conv.weight\"");
    assert_non_null(from);
    assert_non_null(to);
    char needle[1024];
    assert_true((size_t)(to + 2 - from) < sizeof needle);
    snprintf(needle, sizeof needle, "%.*s", (int)(to + 2 - from), from);
    free(file);
    expect_header_refusal(state, needle, "{", "no __metadata__");
}

/* ---- tests: failed saves ---------------------------------------------- */

static void test_save_missing_dir(void **state)
{
    char path[128];
    in_dir(state, "no-such-dir/model.safetensors", path, sizeof path);
    float *p = calloc(CNN_PARAM_COUNT, sizeof(float));
    assert_non_null(p);
    cnn_model_meta m;
    cnn_model_meta_init(&m);
    cnn_err err = {""};
    assert_int_equal(cnn_model_save(path, p, &m, &err), CNN_ERR_IO);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "No such file or directory"));
    assert_null(strchr(err.msg, '\n'));
    free(p);
}

/* A save that runs out of room part-way must leave the old model intact
 * and no temporary behind. RLIMIT_FSIZE makes write() fail with EFBIG (we
 * run as root, so permission tricks would not work). */
static void test_save_interrupted(void **state)
{
    const fixture *fx = *state;
    char path[128];
    in_dir(state, "keep.safetensors", path, sizeof path);
    float *old = malloc(sizeof(float) * CNN_PARAM_COUNT);
    float *q = malloc(sizeof(float) * CNN_PARAM_COUNT);
    assert_non_null(old);
    assert_non_null(q);
    fill_params_bits(old, 11);
    cnn_model_meta m, back;
    fill_meta(&m);
    cnn_err err = {""};
    assert_int_equal(cnn_model_save(path, old, &m, &err), CNN_OK);

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {16384, 16384};  /* header fits, data does not */
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(2);
        fill_params_bits(q, 12);
        m.epoch = 99;
        cnn_err cerr = {""};
        cnn_status st = cnn_model_save(path, q, &m, &cerr);
        ssize_t w = write(fds[1], cerr.msg, strlen(cerr.msg));
        (void)w;
        _exit(st == CNN_ERR_IO ? 0 : 1);
    }
    close(fds[1]);
    char msg[600] = "";
    size_t got = 0;
    ssize_t r;
    while ((r = read(fds[0], msg + got, sizeof msg - 1 - got)) > 0)
        got += (size_t)r;
    msg[got] = '\0';
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    print_message("    child's save: %s\n", msg);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_non_null(strstr(msg, path));
    assert_non_null(strstr(msg, "write failed: File too large"));

    assert_int_equal(cnn_model_load(path, q, &back, &err), CNN_OK);
    assert_memory_equal(old, q, sizeof(float) * CNN_PARAM_COUNT);
    assert_meta_equal(&m, &back);
    assert_int_equal(count_temp_files(fx->dir), 0);
    free(old);
    free(q);
}

/* ---- test: an independent reader -------------------------------------- */

static void test_python_reader(void **state)
{
    if (system("command -v python3 >/dev/null 2>&1") != 0) {
        print_message("    python3 not found\n");
        skip();
    }
    char path[128];
    in_dir(state, "py.safetensors", path, sizeof path);
    float *p = malloc(sizeof(float) * CNN_PARAM_COUNT);
    assert_non_null(p);
    fill_params_finite(p, 77);
    cnn_model_meta m;
    fill_meta(&m);
    cnn_err err = {""};
    assert_int_equal(cnn_model_save(path, p, &m, &err), CNN_OK);

    char cmd[512];
    snprintf(cmd, sizeof cmd, "python3 '%s/read_safetensors.py' '%s'", CNN_TESTS_DIR, path);
    FILE *pp = popen(cmd, "r");
    assert_non_null(pp);
    cnn_params v = cnn_params_view(p);
    const struct {
        const char *name, *dims;
        const float *x;
        int n;
    } want[] = {
        {"conv.weight", "15x1x5x5", v.conv_w, CNN_CONV_W_SIZE},
        {"conv.bias", "15", v.conv_b, CNN_CONV_B_SIZE},
        {"fc.weight", "10x2160", v.fc_w, CNN_FC_W_SIZE},
        {"fc.bias", "10", v.fc_b, CNN_FC_B_SIZE},
    };
    int seen[4] = {0}, meta_ok = 0;
    char line[512];
    while (fgets(line, sizeof line, pp)) {
        char name[64], dims[64];
        double sum, first, last;
        if (strcmp(line, "meta arch " ARCH "\n") == 0 ||
            strcmp(line, "meta format_version 1\n") == 0 ||
            strcmp(line, "meta lr 0.0123456791\n") == 0 ||
            strcmp(line, "meta rng_inc 13005396917011789751\n") == 0)  /* PCG's fixed stream */
            meta_ok++;
        if (sscanf(line, "tensor %63s %63s %lf %lf %lf", name, dims, &sum, &first, &last) != 5)
            continue;
        for (int t = 0; t < 4; t++) {
            if (strcmp(name, want[t].name) != 0)
                continue;
            seen[t]++;
            assert_string_equal(dims, want[t].dims);
            double s = 0;
            for (int i = 0; i < want[t].n; i++)
                s += want[t].x[i];
            if (fabs(sum - s) > 1e-4 * fmax(fabs(s), 1.0))
                fail_msg("%s: python sum %.9g, ours %.9g", name, sum, s);
            assert_true(first == (double)want[t].x[0]);
            assert_true(last == (double)want[t].x[want[t].n - 1]);
        }
    }
    int rc = pclose(pp);
    assert_int_equal(rc, 0);
    for (int t = 0; t < 4; t++)
        assert_int_equal(seen[t], 1);
    assert_int_equal(meta_ok, 4);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meta_init),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_save_replaces),
        cmocka_unit_test(test_header_layout),
        cmocka_unit_test(test_refuse_missing_file),
        cmocka_unit_test(test_refuse_fifo),
        cmocka_unit_test(test_refuse_truncated),
        cmocka_unit_test(test_refuse_header_length),
        cmocka_unit_test(test_refuse_bad_json),
        cmocka_unit_test(test_refuse_dtype),
        cmocka_unit_test(test_refuse_shape),
        cmocka_unit_test(test_refuse_offsets),
        cmocka_unit_test(test_refuse_tensor_set),
        cmocka_unit_test(test_refuse_metadata),
        cmocka_unit_test(test_save_missing_dir),
        cmocka_unit_test(test_save_interrupted),
        cmocka_unit_test(test_python_reader),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
