/* test_model_refuse.c — model files that must not load: damaged, foreign,
 * poisoned (NaN, Inf) or inconsistent (tensors that do not match the file's
 * own spec, metadata out of range). Each is refused with one line naming
 * the file, *params left NULL and the caller's meta untouched. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_files.h"

static void test_refuse_missing_file(void **state)
{
    char path[128];
    in_dir(state, "no-such.safetensors", path, sizeof path);
    expect_line(path, CNN_ERR_IO, "cannot open: No such file or directory");
}

static void test_refuse_truncated(void **state)
{
    char base[128], bad[128];
    in_dir(state, "base.safetensors", base, sizeof base);
    in_dir(state, "cut.safetensors", bad, sizeof bad);
    cnn_arch a = seed_arch();
    save_model(base, &a, 5);
    size_t len;
    unsigned char *file = read_all(base, &len);
    uint64_t n = get_u64le(file);
    size_t cuts[] = {0, 4, 7, 8, 8 + n / 2, 8 + n - 1, 8 + n, 8 + n + 100, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_all(bad, file, cuts[i]);
        expect_refusal(bad, CNN_ERR_FORMAT, "truncated");
    }
    write_all(bad, file, len - 1);
    char rest[128];
    snprintf(rest, sizeof rest, "truncated: file is %zu bytes, expected %zu", len - 1, len);
    expect_line(bad, CNN_ERR_FORMAT, rest);
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
    cnn_arch a = seed_arch();
    save_model(base, &a, 5);
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
        {"\"__metadata__\":{", "\"__metadata__\"{"},      /* missing ':' */
        {"\"__metadata__\":{", "'__metadata__':{"},       /* single quotes */
        {"88000]}}", "88000]},}"},                        /* trailing comma */
        {"88000]}}", "88000]}}x"},                        /* garbage after */
        {"88000]}}", "88000]}"},                          /* unclosed object */
        {"\"impl\":\"blas\"", "\"impl\":\"bl\tas\""},     /* raw control char */
        {"\"impl\":\"blas\"", "\"impl\":\"bl\\xas\""},    /* bad escape */
        {"\"impl\":\"blas\"", "\"impl\":\"bl\\u00g1\""},  /* bad \u */
        {"\"impl\":\"blas\"", "\"impl\":\"bl\\u0000\""},  /* NUL */
        {"\"impl\":\"blas\"", "\"impl\":\"\\ud83d\""},    /* lone surrogate */
        {"\"impl\":\"blas\"", "\"impl\":\"bl\xff\""},     /* not UTF-8 */
        {"\"impl\":\"blas\"", "\"impl\":\"bl\xc0\xaf\""}, /* overlong UTF-8 */
        {"[0,1500]", "[00,1500]"},                        /* leading zero */
        {"[0,1500]", "[0,1500.0]"},                       /* fraction */
        {"[0,1500]", "[0,15e2]"},                         /* exponent */
        {"[0,1500]", "[-0,1500]"},                        /* sign */
        {"[0,1500]", "[0,1500,]"},                        /* trailing comma */
        {"[0,1500]", "[0,99999999999999999999999]"},      /* overflow */
        {"\"shape\":[15]", "\"shape\":15"},               /* not an array */
        {"\"dtype\":\"F32\"", "\"dtype\":null"},          /* not a string */
    };
    cnn_arch a = seed_arch();
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++)
        expect_header_refusal(state, &a, edits[i][0], edits[i][1], "JSON");

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
    cnn_arch a = seed_arch();
    expect_header_line(state, &a, "\"conv.bias\":{\"dtype\":\"F32\"",
                       "\"conv.bias\":{\"dtype\":\"F16\"",
                       "tensor conv.bias has dtype F16, expected F32");
    expect_header_refusal(state, &a, "\"fc.weight\":{\"dtype\":\"F32\"",
                          "\"fc.weight\":{\"dtype\":\"f32\"", "dtype f32");
}

static void test_refuse_shape(void **state)
{
    cnn_arch a = seed_arch();
    expect_header_line(state, &a, "[10,2160]", "[10,2161]",
                       "tensor fc.weight has shape [10,2161], expected [10,2160]");
    expect_header_refusal(state, &a, "[10,2160]", "[2160,10]", "fc.weight has shape [2160,10]");
    expect_header_refusal(state, &a, "[10,2160]", "[21600]", "fc.weight has shape [21600]");
    expect_header_refusal(state, &a, "[15,1,5,5]", "[15,25]", "conv.weight has shape [15,25]");
    expect_header_refusal(state, &a, "\"shape\":[10]", "\"shape\":[10,1,1,1,1,1,1,1,1]",
                          "JSON");
}

static void test_refuse_offsets(void **state)
{
    cnn_arch a = seed_arch();
    /* overlapping: fc.bias placed on top of conv.bias */
    expect_header_line(state, &a, "[87960,88000]", "[1500,1540]",
                       "tensors conv.bias and fc.bias overlap");
    expect_header_refusal(state, &a, "[87960,88000]", "[87970,88010]", "outside");
    expect_header_refusal(state, &a, "[87960,88000]", "[88000,87960]", "outside");
    expect_header_refusal(state, &a, "[87960,88000]", "[18446744073709551615,40]", "outside");
    expect_header_refusal(state, &a, "[1500,1560]", "[1500,1564]", "span");
    expect_header_refusal(state, &a, "[1500,1560]", "[1500]", "2 entries");
    expect_header_refusal(state, &a, "[1500,1560]", "[1500,1560,1560]", "JSON");
    /* other writers may order the buffer differently: moving every tensor
     * is a valid file (though the values are then shuffled between
     * tensors, which is why only the status is checked) */
    char base[128], swapped[128];
    in_dir(state, "base.safetensors", base, sizeof base);
    in_dir(state, "swap.safetensors", swapped, sizeof swapped);
    save_model(base, &a, 7);
    rewrite_header(base, swapped, "[0,1500]", "[40,1540]");
    rewrite_header(swapped, swapped, "[1500,1560]", "[1540,1600]");
    rewrite_header(swapped, swapped, "[1560,87960]", "[1600,88000]");
    rewrite_header(swapped, swapped, "[87960,88000]", "[0,40]");
    float *p = NULL;
    cnn_model_meta m;
    cnn_err err = {{0}};
    cnn_status st = cnn_model_load(swapped, &p, &m, &err);
    if (st != CNN_OK)
        fail_msg("reordered buffer refused: %s", err.msg);
    free(p);
    cnn_model_meta_free(&m);
}

static void test_refuse_tensor_set(void **state)
{
    cnn_arch a = seed_arch();
    expect_header_line(state, &a,
                       ",\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[10],"
                       "\"data_offsets\":[87960,88000]}",
                       "", "missing tensor fc.bias");
    expect_header_line(state, &a, "\"fc.bias\":", "\"fc.bias2\":", "unknown tensor fc.bias2");
    expect_header_line(state, &a, "\"fc.bias\":",
                       "\"conv.bias\":{\"dtype\":\"F32\",\"shape\":[15],"
                       "\"data_offsets\":[1500,1560]},\"fc.bias\":",
                       "duplicate tensor conv.bias");
    expect_header_line(state, &a, "\"dtype\":\"F32\",\"shape\":[15]",
                       "\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[15]",
                       "tensor conv.bias: duplicate field \"dtype\"");
    expect_header_line(state, &a, "\"dtype\":\"F32\",\"shape\":[15]",
                       "\"dtype\":\"F32\",\"extra\":\"x\",\"shape\":[15]",
                       "tensor conv.bias: unknown field \"extra\"");
    expect_header_line(state, &a, "\"dtype\":\"F32\",\"shape\":[15],", "\"dtype\":\"F32\",",
                       "tensor conv.bias: missing shape");
    /* optimizer blocks are 1-D */
    expect_header_line(state, &a, "{\"__metadata__\"",
                       "{\"optim.m\":{\"dtype\":\"F32\",\"shape\":[1,1],"
                       "\"data_offsets\":[88000,88004]},\"__metadata__\"",
                       "unexpected tensor optim.m");
}

static void test_refuse_metadata(void **state)
{
    cnn_arch a = seed_arch();
    expect_header_line(state, &a, "\"format_version\":\"2\"", "\"format_version\":\"7\"",
                       "unknown format version 7 (this build reads 1 to 2)");
    expect_header_refusal(state, &a, "\"format_version\":\"2\"", "\"format_version\":\"0\"",
                          "unknown format version 0");
    expect_header_refusal(state, &a, "\"format_version\":\"2\"", "\"format_version\":\"2.0\"",
                          "format_version");
    expect_header_line(state, &a, "\"format_version\":\"2\",", "",
                       "__metadata__ has no format_version");
    expect_header_refusal(state, &a, "\"format_version\":\"2\"", "\"format_version\":2",
                          "not a string");
    expect_header_line(state, &a, "\"arch\":\"" CNN_ARCH_SEED "\",", "",
                       "__metadata__ has no arch");
    /* the input scaling is part of the model: a model trained on other
     * scaling would silently misclassify */
    expect_header_line(state, &a, "(pixel/255 - 0.2860)", "(pixel/255 - 0.1307)",
                       "input scaling \"(pixel/255 - 0.1307) / 0.3530\" does not match this "
                       "build's \"(pixel/255 - 0.2860) / 0.3530\"");
    expect_header_refusal(state, &a, ",\"input\":\"(pixel/255 - 0.2860) / 0.3530\"", "",
                          "no input");
    expect_header_line(state, &a, "\"epochs\":\"12\"", "\"epochs\":\"12x\"",
                       "__metadata__ epochs \"12x\" is not a valid number");
    expect_header_refusal(state, &a, "\"epochs\":\"12\"", "\"epochs\":\"\"", "epochs");
    expect_header_refusal(state, &a, "\"epochs\":\"12\"", "\"epochs\":\"2147483648\"",
                          "epochs");
    expect_header_refusal(state, &a, "\"epochs\":\"12\"", "\"epochs\":\" 12\"", "epochs");
    expect_header_refusal(state, &a, "\"seed\":\"", "\"seed\":\"-", "seed");
    expect_header_refusal(state, &a, "\"seed\":\"18446744073709551615\"",
                          "\"seed\":\"18446744073709551616\"", "seed");
    expect_header_refusal(state, &a, "\"lr\":\"", "\"lr\":\"x", "lr");
    expect_header_refusal(state, &a, "\"impl\":\"blas\"", "\"impl\":\"blasblas\"", "impl");
    expect_header_refusal(state, &a, "\"impl\":\"blas\"", "\"impl\":{}", "not a string");
    expect_header_line(state, &a, "\"epochs\":\"12\"", "\"epochs\":\"12\",\"epochs\":\"12\"",
                       "duplicate __metadata__ key \"epochs\"");
    /* train.* keys are carried as KEY=VALUE lines: neither may break one */
    expect_header_line(state, &a, "\"epochs\"", "\"train.a=b\":\"1\",\"epochs\"",
                       "__metadata__ key \"train.a=b\": a train.* key may not hold '=' or a "
                       "newline, nor its value a newline");
    expect_header_line(state, &a, "\"epochs\"", "\"train.a\":\"x\\ny\",\"epochs\"",
                       "__metadata__ key \"train.a\": a train.* key may not hold '=' or a "
                       "newline, nor its value a newline");
    expect_header_line(state, &a, "\"epochs\"", "\"train.a\":\"1\",\"train.a\":\"1\",\"epochs\"",
                       "duplicate __metadata__ key \"train.a\"");
    /* no __metadata__ at all */
    char base[128];
    in_dir(state, "base.safetensors", base, sizeof base);
    save_model(base, &a, 7);
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
    expect_header_line(state, &a, needle, "{", "header has no __metadata__");
}

/* Numbers that parse but cannot describe a run (issue 7's resume needs them). */
static void test_refuse_metadata_range(void **state)
{
    cnn_arch a = seed_arch();
    expect_header_line(state, &a, "\"epoch\":\"3\"", "\"epoch\":\"-1\"",
                       "__metadata__ epoch -1 is out of range [0, 2147483647]");
    expect_header_line(state, &a, "\"batch_in_epoch\":\"917\"", "\"batch_in_epoch\":\"-1\"",
                       "__metadata__ batch_in_epoch -1 is out of range [0, 2147483647]");
    expect_header_line(state, &a, "\"step\":\"2000000123\"", "\"step\":\"-1\"",
                       "__metadata__ step -1 is out of range [0, 9223372036854775807]");
    expect_header_line(state, &a, "\"rng_inc\":\"13005396917011789751\"", "\"rng_inc\":\"12\"",
                       "__metadata__ rng_inc 12 is even (PCG32 needs it odd)");
    expect_header_line(state, &a, "\"rows\":\"28\"", "\"rows\":\"0\"",
                       "__metadata__ needs rows, cols and classes of at least 1");
    expect_header_line(state, &a, "\"classes\":\"10\"", "\"classes\":\"300\"",
                       "__metadata__ classes 300 is out of range [0, 256]");
    expect_header_line(state, &a, "\"cols\":\"28\"", "\"cols\":\"4097\"",
                       "__metadata__ cols 4097 is out of range [0, 4096]");
    expect_header_line(state, &a, "\"lr\":\"0.0123456791\"", "\"lr\":\"nan\"",
                       "__metadata__ lr \"nan\" is not a valid number");
    expect_header_line(state, &a, "\"lr\":\"0.0123456791\"", "\"lr\":\"0x10\"",
                       "__metadata__ lr \"0x10\" is not a valid number");
    expect_header_line(state, &a, "\"lr\":\"0.0123456791\"", "\"lr\":\" 0.5\"",
                       "__metadata__ lr \" 0.5\" is not a valid number");
    expect_header_line(state, &a, "\"lr\":\"0.0123456791\"", "\"lr\":\"1e999\"",
                       "__metadata__ lr \"1e999\" is not a finite number of at least 0");
    expect_header_line(state, &a, "\"lr\":\"0.0123456791\"", "\"lr\":\"-0.5\"",
                       "__metadata__ lr \"-0.5\" is not a finite number of at least 0");
}

/* A NaN or an infinity anywhere (first, middle or last value of any tensor,
 * an optimizer block included) is refused with the tensor's name. */
static void test_refuse_non_finite(void **state)
{
    cnn_arch a = arch_of("lenet5", 28, 28, 10);
    char path[128], bad[128];
    in_dir(state, "finite.safetensors", path, sizeof path);
    in_dir(state, "poisoned.safetensors", bad, sizeof bad);
    float *p = new_params(&a);
    fill_params_finite(&a, p, 3);
    float extra[5] = {1, 2, 3, 4, 5};
    cnn_model_meta m;
    fill_meta(&m, &a);
    m.nblocks = 1;
    m.block[0] = (cnn_model_block){"optim.m", 5, extra};
    cnn_err err = {{0}};
    assert_int_equal(cnn_model_save(path, p, &m, &err), CNN_OK);
    size_t len;
    unsigned char *file = read_all(path, &len);
    const size_t data = 8 + (size_t)get_u64le(file);
    assert_int_equal(len, data + 4 * (size_t)(a.param_count + 5));

    static const struct {
        uint32_t bits;
        const char *text;
    } poison[] = {{0x7fc00000u, "nan"}, {0x7f800000u, "inf"}, {0xff800000u, "-inf"},
                  {0x7f800001u, "nan"}};
    int tried = 0;
    for (int i = 0; i <= a.n; i++) {
        for (int wb = 0; wb < 2; wb++) {
            const char *name;
            char nb[48];
            long first, count;
            if (i < a.n) {
                const cnn_layer *l = &a.layer[i];
                if (!l->w_count)
                    break;
                snprintf(nb, sizeof nb, "%s.%s", l->name, wb ? "bias" : "weight");
                name = nb;
                first = wb ? l->b_off : l->w_off;
                count = wb ? l->b_count : l->w_count;
            } else {
                if (wb)
                    break;
                name = "optim.m";
                first = a.param_count;
                count = 5;
            }
            const long at[3] = {0, count / 2, count - 1};
            for (int j = 0; j < 3; j++, tried++) {
                unsigned char *copy = malloc(len);
                assert_non_null(copy);
                memcpy(copy, file, len);
                uint32_t u = poison[tried % 4].bits;
                for (int b = 0; b < 4; b++)
                    copy[data + 4 * (size_t)(first + at[j]) + (size_t)b] =
                        (unsigned char)(u >> (8 * b));
                write_all(bad, copy, len);
                free(copy);
                char rest[160];
                snprintf(rest, sizeof rest,
                         "tensor %s holds a non-finite value (%s at index %ld)", name,
                         poison[tried % 4].text, at[j]);
                expect_line(bad, CNN_ERR_FORMAT, rest);
            }
        }
    }
    assert_int_equal(tried, 3 * 11); /* ten tensors and the block */
    free(file);
    free(p);
}

/* A file whose tensors do not match its own spec (issue 7, item 4). */
static void test_refuse_spec_mismatch(void **state)
{
    cnn_arch a = arch_of("lenet5", 28, 28, 10);
    expect_header_line(state, &a, "\"shape\":[16,6,5,5]", "\"shape\":[16,6,5,4]",
                       "tensor conv2.weight has shape [16,6,5,4], expected [16,6,5,5]");
    expect_header_line(state, &a,
                       ",\"conv2.bias\":{\"dtype\":\"F32\",\"shape\":[16],"
                       "\"data_offsets\":[10224,10288]}",
                       "", "missing tensor conv2.bias");
    expect_header_line(state, &a, "\"conv1.weight\":",
                       "\"conv3.weight\":{\"dtype\":\"F32\",\"shape\":[1],"
                       "\"data_offsets\":[0,4]},\"conv1.weight\":",
                       "unknown tensor conv3.weight");
    /* a spec of different layers but the same tensor names */
    expect_header_line(state, &a, "conv16x5,", "conv16x3p1,",
                       "tensor conv2.weight has shape [16,6,5,5], expected [16,6,3,3]");
    /* the arch is shown cut at 64 bytes */
    expect_header_line(state, &a, "\"arch\":\"conv6x5p2,relu,", "\"arch\":\"conv6x5p2,rleu,",
                       "architecture \"conv6x5p2,rleu,avgpool2,conv16x5,relu,avgpool2,dense120,"
                       "relu,den...\": layer 2 'rleu': unknown layer (expected convFxK[pP][sS], "
                       "relu, avgpoolN, maxpoolN or denseN)");
    cnn_arch s = seed_arch();
    expect_header_line(state, &s, "avgpool2,dense10\"", "avgpool2,dense12\"",
                       "architecture \"conv15x5,relu,avgpool2,dense12\": layer 4 'dense12': the "
                       "last layer must be dense10 (the data set has 10 classes)");
    expect_header_line(state, &s, "\"classes\":\"10\"", "\"classes\":\"9\"",
                       "architecture \"conv15x5,relu,avgpool2,dense10\": layer 4 'dense10': the "
                       "last layer must be dense9 (the data set has 9 classes)");
    /* the image size is the spec's input: 32x32 makes fc.weight [10,2940] */
    expect_header_line(state, &s, "\"rows\":\"28\",\"cols\":\"28\"",
                       "\"rows\":\"32\",\"cols\":\"32\"",
                       "tensor fc.weight has shape [10,2160], expected [10,2940]");
}

/* Version 1 meant the seed network and nothing else. */
static void test_refuse_v1_other_arch(void **state)
{
    char path[128];
    in_dir(state, "v1.safetensors", path, sizeof path);
    cnn_arch a = seed_arch();
    float *p = new_params(&a);
    fill_params_finite(&a, p, 1);
    cnn_model_meta m;
    fill_meta(&m, &a);
    write_v1_model(path, p, &m);
    char bad[128];
    in_dir(state, "v1bad.safetensors", bad, sizeof bad);
    rewrite_header(path, bad, "conv15x5x5-relu-avgpool2-fc10", "conv32x3x3-fc10");
    expect_line(bad, CNN_ERR_FORMAT,
                "architecture \"conv32x3x3-fc10\" does not match this build's "
                "\"conv15x5x5-relu-avgpool2-fc10\"");
    /* nor is a version-2 spec accepted under version 1 */
    rewrite_header(path, bad, "conv15x5x5-relu-avgpool2-fc10", CNN_ARCH_SEED);
    expect_refusal(bad, CNN_ERR_FORMAT, "does not match this build's");
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refuse_missing_file),
        cmocka_unit_test(test_refuse_truncated),
        cmocka_unit_test(test_refuse_header_length),
        cmocka_unit_test(test_refuse_bad_json),
        cmocka_unit_test(test_refuse_dtype),
        cmocka_unit_test(test_refuse_shape),
        cmocka_unit_test(test_refuse_offsets),
        cmocka_unit_test(test_refuse_tensor_set),
        cmocka_unit_test(test_refuse_metadata),
        cmocka_unit_test(test_refuse_metadata_range),
        cmocka_unit_test(test_refuse_non_finite),
        cmocka_unit_test(test_refuse_spec_mismatch),
        cmocka_unit_test(test_refuse_v1_other_arch),
    };
    return cmocka_run_group_tests(tests, model_group_setup, model_group_teardown);
}
