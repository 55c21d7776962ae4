/* test_model_io.c — model files that must load: bitwise round trips of the
 * seed, LeNet-5 and a padded/strided/max-pooled network with their
 * documented tensor names and shapes, optimizer blocks and train.* keys,
 * string escapes, the header's layout, version-1 files of the previous
 * release, and a cross-check against an independent Python reader.
 * Saves that fail or are refused: test_model_save.c; files that must not
 * load: test_model_refuse.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_files.h"

#ifndef CNN_TESTS_DIR
#error "CNN_TESTS_DIR must name the tests source directory"
#endif

/* meta_init gives a meta that can be saved as it is. */
static void test_meta_init(void **state)
{
    cnn_arch a = arch_of(SPEC_OTHER, 20, 20, 7);
    cnn_model_meta m, back;
    memset(&m, 0x77, sizeof m);
    cnn_model_meta_init(&m, &a);
    assert_int_equal(m.format_version, CNN_MODEL_FORMAT_VERSION);
    assert_int_equal(CNN_MODEL_FORMAT_VERSION, 2);
    assert_memory_equal(&m.arch, &a, sizeof a);
    assert_int_equal(m.rows, 20);
    assert_int_equal(m.cols, 20);
    assert_int_equal(m.classes, 7);
    cnn_rng r;
    cnn_rng_seed(&r, 0);
    assert_true(m.rng.state == r.state && m.rng.inc == r.inc);
    assert_int_equal(m.epochs, 0);
    assert_true(m.lr == 0.0f);
    assert_true(m.seed == 0 && m.step == 0 && m.epoch == 0 && m.batch_in_epoch == 0);
    assert_string_equal(m.impl, "");
    assert_string_equal(m.extra, "");
    assert_int_equal(m.nblocks, 0);

    char path[128];
    in_dir(state, "init.safetensors", path, sizeof path);
    float *p = new_params(&a);
    fill_params_finite(&a, p, 8);
    round_trip(path, p, &m, &back);
    free(p);
}

/* The seed network, every finite bit pattern: bit for bit both ways. */
static void test_round_trip(void **state)
{
    char path[128];
    in_dir(state, "rt.safetensors", path, sizeof path);
    cnn_arch a = seed_arch();
    float *p = new_params(&a);
    fill_params_bits(&a, p, 1);
    cnn_model_meta m, back;
    fill_meta(&m, &a);
    round_trip(path, p, &m, &back);
    assert_string_equal(cnn_arch_preset_name(&back.arch), "seed");

    /* a second meta: zeros where zero is allowed, a denormal learning rate */
    cnn_model_meta_init(&m, &a);
    m.lr = FLT_TRUE_MIN;
    round_trip(path, p, &m, &back);
    assert_int_equal(count_temp_files(((fixture *)*state)->dir), 0);
    free(p);
}

/* LeNet-5 and a network with padding, stride and max-pooling: their tensors
 * under the names and shapes the README documents, in layer order. */
static void test_round_trip_archs(void **state)
{
    static const struct {
        const char *spec;
        int rows, cols, classes;
        const char *tensors[10];
    } cases[] = {
        {"lenet5", 28, 28, 10,
         {"\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[6,1,5,5],\"data_offsets\":[0,600]}",
          "\"conv1.bias\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[600,624]}",
          "\"conv2.weight\":{\"dtype\":\"F32\",\"shape\":[16,6,5,5],\"data_offsets\":[624,10224]}",
          "\"conv2.bias\":{\"dtype\":\"F32\",\"shape\":[16],\"data_offsets\":[10224,10288]}",
          "\"fc1.weight\":{\"dtype\":\"F32\",\"shape\":[120,400],\"data_offsets\":[10288,202288]}",
          "\"fc1.bias\":{\"dtype\":\"F32\",\"shape\":[120],\"data_offsets\":[202288,202768]}",
          "\"fc2.weight\":{\"dtype\":\"F32\",\"shape\":[84,120],\"data_offsets\":[202768,243088]}",
          "\"fc2.bias\":{\"dtype\":\"F32\",\"shape\":[84],\"data_offsets\":[243088,243424]}",
          "\"fc3.weight\":{\"dtype\":\"F32\",\"shape\":[10,84],\"data_offsets\":[243424,246784]}",
          "\"fc3.bias\":{\"dtype\":\"F32\",\"shape\":[10],\"data_offsets\":[246784,246824]}}"}},
        /* 20x20: conv 20x20x8, pool 10x10x8, conv stride 2 5x5x17 = 425 */
        {SPEC_OTHER, 20, 20, 7,
         {"\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[8,1,3,3],\"data_offsets\":[0,288]}",
          "\"conv1.bias\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[288,320]}",
          "\"conv2.weight\":{\"dtype\":\"F32\",\"shape\":[17,8,3,3],\"data_offsets\":[320,5216]}",
          "\"conv2.bias\":{\"dtype\":\"F32\",\"shape\":[17],\"data_offsets\":[5216,5284]}",
          "\"fc1.weight\":{\"dtype\":\"F32\",\"shape\":[24,425],\"data_offsets\":[5284,46084]}",
          "\"fc1.bias\":{\"dtype\":\"F32\",\"shape\":[24],\"data_offsets\":[46084,46180]}",
          "\"fc2.weight\":{\"dtype\":\"F32\",\"shape\":[7,24],\"data_offsets\":[46180,46852]}",
          "\"fc2.bias\":{\"dtype\":\"F32\",\"shape\":[7],\"data_offsets\":[46852,46880]}}"}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char path[128];
        in_dir(state, "arch.safetensors", path, sizeof path);
        cnn_arch a = arch_of(cases[c].spec, cases[c].rows, cases[c].cols, cases[c].classes);
        float *p = new_params(&a);
        fill_params_bits(&a, p, 10 + c);
        cnn_model_meta m, back;
        fill_meta(&m, &a);
        round_trip(path, p, &m, &back);
        assert_memory_equal(&back.arch, &a, sizeof a);

        char *hdr = header_of(path);
        char want[1200];
        snprintf(want, sizeof want, "\"arch\":\"%s\"", a.spec);
        if (!strstr(hdr, want))
            fail_msg("header lacks %s:\n%s", want, hdr);
        /* each tensor follows the one before it */
        const char *at = strstr(hdr, "},\"") + 2;
        for (int t = 0; t < 10 && cases[c].tensors[t]; t++) {
            const char *e = cases[c].tensors[t];
            if (strncmp(at, e, strlen(e)) != 0)
                fail_msg("expected %s\n     at %s", e, at);
            at += strlen(e) + 1;
        }
        size_t len;
        free(read_all(path, &len));
        assert_int_equal(len, 8 + strlen(hdr) + 4 * (size_t)a.param_count);
        free(hdr);
        free(p);
    }
}

/* Optimizer blocks and train.* keys come back as they went in. */
static void test_blocks_and_train_keys(void **state)
{
    char path[128];
    in_dir(state, "optim.safetensors", path, sizeof path);
    cnn_arch a = arch_of(SPEC_OTHER, 20, 20, 7);
    float *p = new_params(&a), *avg = new_params(&a);
    fill_params_bits(&a, p, 5);
    fill_params_bits(&a, avg, 6);
    float step[3] = {1.0f, -0.0f, FLT_TRUE_MIN};
    cnn_model_meta m, back;
    char *hdr;
    fill_meta(&m, &a);
    m.nblocks = 2;
    m.block[0] = (cnn_model_block){"optim.exp_avg", a.param_count, avg};
    m.block[1] = (cnn_model_block){"optim.step", 3, step};
    snprintf(m.extra, sizeof m.extra, "train.optimizer=adam\ntrain.betas=0.9,0.999 \"q\"\\\n");
    round_trip(path, p, &m, &back);
    assert_int_equal(back.nblocks, 2);
    for (int k = 0; k < 2; k++) {
        assert_string_equal(back.block[k].name, m.block[k].name);
        assert_int_equal(back.block[k].count, m.block[k].count);
        assert_memory_equal(back.block[k].data, m.block[k].data,
                            (size_t)m.block[k].count * sizeof(float));
    }
    cnn_model_meta_free(&back);
    assert_int_equal(back.nblocks, 0);

    /* in the file: the keys in __metadata__, the blocks after the parameters */
    hdr = header_of(path);
    static const char *const want[] = {
        "\"train.optimizer\":\"adam\",\"train.betas\":\"0.9,0.999 \\\"q\\\"\\\\\"}",
        "\"optim.exp_avg\":{\"dtype\":\"F32\",\"shape\":[11720],"
        "\"data_offsets\":[46880,93760]}",
        "\"optim.step\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[93760,93772]}}",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(hdr, want[i]))
            fail_msg("header lacks %s:\n%s", want[i], hdr);
    free(hdr);

    /* keys hold quotes and backslashes too; values may be long */
    m.nblocks = 0;
    int n = snprintf(m.extra, sizeof m.extra, "train.\"k\\ey\"=\\\ntrain.long=");
    memset(m.extra + n, 'v', 900);
    m.extra[n + 900] = '\n';
    m.extra[n + 901] = '\0';
    round_trip(path, p, &m, &back);
    hdr = header_of(path);
    if (!strstr(hdr, "\"train.\\\"k\\\\ey\\\"\":\"\\\\\""))
        fail_msg("key not escaped:\n%s", hdr);
    free(hdr);

    /* the last line may go without its newline; it comes back with one */
    snprintf(m.extra, sizeof m.extra, "train.a=1\ntrain.b=");
    cnn_err err = {{0}};
    assert_int_equal(cnn_model_save(path, p, &m, &err), CNN_OK);
    float *q = NULL;
    assert_int_equal(cnn_model_load(path, &q, &back, &err), CNN_OK);
    assert_string_equal(back.extra, "train.a=1\ntrain.b=\n");
    assert_int_equal(back.nblocks, 0);
    free(q);
    free(p);
    free(avg);
}

static void test_string_escapes(void **state)
{
    char path[128];
    in_dir(state, "esc.safetensors", path, sizeof path);
    cnn_arch a = seed_arch();
    float *p = new_params(&a), *q = NULL;
    fill_params_finite(&a, p, 2);
    cnn_model_meta m, back;
    fill_meta(&m, &a);
    snprintf(m.impl, sizeof m.impl, "\"\\\n\t\x01/");
    cnn_err err = {{0}};
    round_trip(path, p, &m, &back);
    assert_string_equal(back.impl, m.impl);

    /* Escapes our writer never produces but other JSON writers do. */
    char other[128];
    in_dir(state, "esc2.safetensors", other, sizeof other);
    snprintf(m.impl, sizeof m.impl, "blas");
    assert_int_equal(cnn_model_save(path, p, &m, &err), CNN_OK);
    rewrite_header(path, other, "\"impl\":\"blas\"", "\"impl\":\"\\u0062\\/\\u00e9\"");
    assert_int_equal(cnn_model_load(other, &q, &back, &err), CNN_OK);
    assert_string_equal(back.impl, "b/\xc3\xa9");
    free(q);
    rewrite_header(path, other, "\"impl\":\"blas\"", "\"impl\":\"\\uD83D\\uDE00\"");
    assert_int_equal(cnn_model_load(other, &q, &back, &err), CNN_OK);
    assert_string_equal(back.impl, "\xf0\x9f\x98\x80");
    free(q);
    /* whitespace between tokens, and keys we do not know, are fine */
    rewrite_header(path, other, "{\"__metadata__\":{",
                   " {\n\t\"__metadata__\" : {\"format\":\"pt\", ");
    assert_int_equal(cnn_model_load(other, &q, &back, &err), CNN_OK);
    free(q);

    /* Strings that cannot be written as UTF-8 JSON are refused on save. */
    snprintf(m.impl, sizeof m.impl, "\xff");
    assert_int_equal(cnn_model_save(path, p, &m, &err), CNN_ERR_ARG);
    char line[256];
    snprintf(line, sizeof line, "%s: meta.impl is not valid UTF-8", path);
    assert_string_equal(err.msg, line);
    free(p);
}

static void test_header_layout(void **state)
{
    char path[128];
    in_dir(state, "layout.safetensors", path, sizeof path);
    cnn_arch a = seed_arch();
    save_model(path, &a, 3);
    size_t len;
    unsigned char *file = read_all(path, &len);
    uint64_t n = get_u64le(file);
    assert_int_equal(n % 8, 0);
    assert_int_equal(len, 8 + n + 4 * 22000);
    char *hdr = header_of(path);
    assert_int_equal(strlen(hdr), n);
    /* the seed's tensors keep the previous release's names and layout */
    static const char *const want[] = {
        "{\"__metadata__\":{\"format_version\":\"2\",\"arch\":\"conv15x5,relu,avgpool2,dense10\"",
        "\"epochs\":\"12\"",
        "\"lr\":\"0.0123456791\"", /* %.9g of 0.0123456789f */
        "\"seed\":\"18446744073709551615\"",
        "\"impl\":\"blas\"",
        "\"step\":\"2000000123\"",
        "\"rows\":\"28\",\"cols\":\"28\",\"classes\":\"10\"",
        "\"input\":\"(pixel/255 - 0.2860) / 0.3530\"},"
        "\"conv.weight\":{\"dtype\":\"F32\",\"shape\":[15,1,5,5],\"data_offsets\":[0,1500]},"
        "\"conv.bias\":{\"dtype\":\"F32\",\"shape\":[15],\"data_offsets\":[1500,1560]},"
        "\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[10,2160],\"data_offsets\":[1560,87960]},"
        "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[10],\"data_offsets\":[87960,88000]}}",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(hdr, want[i]))
            fail_msg("header lacks %s:\n%s", want[i], hdr);
    /* every metadata value is a string: no ":<digit>" inside __metadata__ */
    char *end = strchr(hdr, '}');
    assert_non_null(end);
    for (char *c = hdr; c < end; c++)
        assert_false(c[0] == ':' && c[1] >= '0' && c[1] <= '9');
    /* padding is spaces after the closing brace */
    assert_non_null(strstr(hdr, "88000]}}"));
    for (char *c = strstr(hdr, "88000]}}") + 8; *c; c++)
        assert_int_equal(*c, ' ');
    /* data little-endian: conv.weight[0] is -0.0f, conv.weight[374] 2^-149 */
    static const unsigned char negzero[4] = {0, 0, 0, 0x80}, tiny[4] = {1, 0, 0, 0};
    assert_memory_equal(file + 8 + n, negzero, 4);
    assert_memory_equal(file + 8 + n + 4 * 374, tiny, 4);
    free(hdr);
    free(file);
}

/* A version-1 file, as the previous release wrote it, loads as the seed
 * network; saved again it becomes version 2 with the same tensors, the
 * same entries and the same data bytes. */
static void test_v1_loads_as_seed(void **state)
{
    char v1[128], v2[128];
    in_dir(state, "v1.safetensors", v1, sizeof v1);
    in_dir(state, "v2.safetensors", v2, sizeof v2);
    cnn_arch a = seed_arch();
    float *p = new_params(&a), *q = NULL;
    fill_params_bits(&a, p, 21);
    cnn_model_meta m, back;
    fill_meta(&m, &a);
    write_v1_model(v1, p, &m);
    cnn_err err = {{0}};
    cnn_status st = cnn_model_load(v1, &q, &back, &err);
    if (st != CNN_OK)
        fail_msg("load: %s", err.msg);
    assert_memory_equal(p, q, 22000 * sizeof *p);
    assert_int_equal(back.format_version, 1);
    assert_string_equal(back.arch.spec, CNN_ARCH_SEED);
    assert_string_equal(cnn_arch_preset_name(&back.arch), "seed");
    back.format_version = 2;
    assert_meta_equal(&m, &back);
    free(q);

    assert_int_equal(cnn_model_save(v2, p, &back, &err), CNN_OK);
    size_t l1, l2;
    unsigned char *f1 = read_all(v1, &l1), *f2 = read_all(v2, &l2);
    uint64_t n1 = get_u64le(f1), n2 = get_u64le(f2);
    assert_int_equal(l1 - 8 - n1, 4 * 22000);
    assert_int_equal(l2 - 8 - n2, 4 * 22000);
    assert_memory_equal(f1 + 8 + n1, f2 + 8 + n2, 4 * 22000);
    const char *t1 = strstr((char *)f1 + 8, "},\"conv.weight\"");
    const char *t2 = strstr((char *)f2 + 8, "},\"conv.weight\"");
    assert_non_null(t1);
    assert_non_null(t2);
    const char *e1 = strstr(t1, "88000]}}"); /* the padding differs */
    assert_non_null(e1);
    assert_memory_equal(t1, t2, (size_t)(e1 + 8 - t1));
    free(f1);
    free(f2);

    /* rows, cols and classes were optional in version 1: 28, 28 and 10 */
    char bare[128];
    in_dir(state, "v1bare.safetensors", bare, sizeof bare);
    rewrite_header(v1, bare, ",\"rows\":\"28\",\"cols\":\"28\",\"classes\":\"10\"", "");
    assert_int_equal(cnn_model_load(bare, &q, &back, &err), CNN_OK);
    assert_int_equal(back.rows, 28);
    assert_int_equal(back.cols, 28);
    assert_int_equal(back.classes, 10);
    assert_int_equal(back.arch.param_count, 22000);
    free(q);
    free(p);
}

/* ---- an independent reader -------------------------------------------- */

/* read_safetensors.py derives the tensor list from the file's arch on its
 * own; every tensor it prints must match ours: dims, sum, first, last. */
static void python_check(const char *path, const cnn_model_meta *m, const float *p)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "python3 '%s/read_safetensors.py' '%s'", CNN_TESTS_DIR, path);
    FILE *pp = popen(cmd, "r");
    assert_non_null(pp);
    struct {
        char name[48], dims[48];
        const float *x;
        long n;
        int seen;
    } want[2 * CNN_MAX_LAYERS + CNN_MODEL_MAX_BLOCKS];
    int nw = 0;
    for (int i = 0; i < m->arch.n; i++) {
        const cnn_layer *l = &m->arch.layer[i];
        if (!l->w_count)
            continue;
        snprintf(want[nw].name, sizeof want[nw].name, "%s.weight", l->name);
        if (l->kind == CNN_LAYER_CONV)
            snprintf(want[nw].dims, sizeof want[nw].dims, "%dx%dx%dx%d", l->size, l->in_c,
                     l->k, l->k);
        else
            snprintf(want[nw].dims, sizeof want[nw].dims, "%dx%ld", l->size, l->in_size);
        want[nw].x = p + l->w_off;
        want[nw++].n = l->w_count;
        snprintf(want[nw].name, sizeof want[nw].name, "%s.bias", l->name);
        snprintf(want[nw].dims, sizeof want[nw].dims, "%d", l->size);
        want[nw].x = p + l->b_off;
        want[nw++].n = l->b_count;
    }
    for (int k = 0; k < m->nblocks; k++, nw++) {
        snprintf(want[nw].name, sizeof want[nw].name, "%s", m->block[k].name);
        snprintf(want[nw].dims, sizeof want[nw].dims, "%ld", m->block[k].count);
        want[nw].x = m->block[k].data;
        want[nw].n = m->block[k].count;
    }
    for (int t = 0; t < nw; t++)
        want[t].seen = 0;
    char arch_line[1100];
    snprintf(arch_line, sizeof arch_line, "meta arch %s\n", m->arch.spec);
    int meta_ok = 0, lines = 0;
    char line[1200];
    while (fgets(line, sizeof line, pp)) {
        char name[64], dims[64];
        double sum, first, last;
        lines++;
        if (strcmp(line, arch_line) == 0 || strcmp(line, "meta format_version 2\n") == 0 ||
            strcmp(line, "meta lr 0.0123456791\n") == 0 ||
            strcmp(line, "meta rng_inc 13005396917011789751\n") == 0) /* PCG's fixed stream */
            meta_ok++;
        if (sscanf(line, "tensor %63s %63s %lf %lf %lf", name, dims, &sum, &first, &last) != 5)
            continue;
        int t = 0;
        while (t < nw && strcmp(name, want[t].name) != 0)
            t++;
        if (t == nw)
            fail_msg("python reader saw tensor %s, which we did not write", name);
        want[t].seen++;
        assert_string_equal(dims, want[t].dims);
        double s = 0;
        for (long i = 0; i < want[t].n; i++)
            s += want[t].x[i];
        if (fabs(sum - s) > 1e-4 * fmax(fabs(s), 1.0))
            fail_msg("%s: python sum %.9g, ours %.9g", name, sum, s);
        assert_true(first == (double)want[t].x[0]);
        assert_true(last == (double)want[t].x[want[t].n - 1]);
    }
    int rc = pclose(pp);
    if (rc != 0)
        fail_msg("read_safetensors.py %s exited with %d", path, rc);
    for (int t = 0; t < nw; t++)
        if (want[t].seen != 1)
            fail_msg("python reader printed %s %d times", want[t].name, want[t].seen);
    assert_int_equal(meta_ok, 4);
    assert_true(lines > nw);
}

static void test_python_reader(void **state)
{
    if (system("command -v python3 >/dev/null 2>&1") != 0) {
        print_message("    python3 not found\n");
        skip();
    }
    static const struct {
        const char *spec;
        int side, classes, blocks;
    } cases[] = {{"seed", 28, 10, 0}, {"lenet5", 28, 10, 0}, {SPEC_OTHER, 20, 7, 2}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char path[128];
        in_dir(state, "py.safetensors", path, sizeof path);
        cnn_arch a = arch_of(cases[c].spec, cases[c].side, cases[c].side, cases[c].classes);
        float *p = new_params(&a), *b = new_params(&a);
        fill_params_finite(&a, p, 77 + c);
        fill_params_finite(&a, b, 99);
        cnn_model_meta m;
        fill_meta(&m, &a);
        m.nblocks = cases[c].blocks;
        m.block[0] = (cnn_model_block){"optim.exp_avg", a.param_count, b};
        m.block[1] = (cnn_model_block){"optim.step", 7, b + 3};
        cnn_err err = {{0}};
        assert_int_equal(cnn_model_save(path, p, &m, &err), CNN_OK);
        python_check(path, &m, p);
        free(p);
        free(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meta_init),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_round_trip_archs),
        cmocka_unit_test(test_blocks_and_train_keys),
        cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_header_layout),
        cmocka_unit_test(test_v1_loads_as_seed),
        cmocka_unit_test(test_python_reader),
    };
    return cmocka_run_group_tests(tests, model_group_setup, model_group_teardown);
}
