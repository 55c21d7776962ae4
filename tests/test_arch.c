/* test_arch.c — the architecture spec: presets, canonical text, shapes and
 * parameter offsets worked out by hand, tensor names, the exact one-line
 * refusal of every kind of bad spec, and a spec's round trip through a
 * model file (with the tensors it implies). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cnn.h"
#include "cnn_model.h"

static cnn_arch parse_ok(const char *spec, int h, int w, int classes)
{
    cnn_arch a;
    cnn_err err = {{0}};
    cnn_status st = cnn_arch_parse(&a, spec, h, w, 1, classes, &err);
    if (st != CNN_OK)
        print_error("%s: %s\n", spec, err.msg);
    assert_int_equal(st, CNN_OK);
    return a;
}

static void test_seed_preset(void **state)
{
    (void)state;
    cnn_arch a = parse_ok("seed", 28, 28, 10);
    assert_string_equal(a.spec, CNN_ARCH_SEED);
    assert_string_equal(cnn_arch_preset_name(&a), "seed");
    assert_int_equal(a.n, 4);
    /* conv 15x5: 24x24x15; pool: 12x12x15; dense 2160 -> 10 */
    const cnn_layer *c = &a.layer[0], *p = &a.layer[2], *d = &a.layer[3];
    assert_int_equal(c->out_h, 24);
    assert_int_equal(c->out_c, 15);
    assert_int_equal(p->out_h, 12);
    assert_int_equal(d->in_size, 2160);
    assert_int_equal(c->w_off, 0);
    assert_int_equal(c->w_count, 375);
    assert_int_equal(c->b_off, 375);
    assert_int_equal(d->w_off, 390);
    assert_int_equal(d->w_count, 21600);
    assert_int_equal(d->b_off, 21990);
    assert_int_equal(a.param_count, 22000);
    assert_string_equal(c->name, "conv");
    assert_string_equal(d->name, "fc");
    assert_string_equal(a.layer[1].name, "");
    /* FLOPs of the seed's conv forward: 2·576·15·25 + 576·15 */
    assert_true(cnn_layer_flops(c, 0) == 2.0 * 576 * 15 * 25 + 576 * 15);
}

static void test_lenet5_preset(void **state)
{
    (void)state;
    cnn_arch a = parse_ok("lenet5", 28, 28, 10);
    assert_string_equal(a.spec, CNN_ARCH_LENET5);
    assert_int_equal(a.n, 11);
    /* conv6x5p2 keeps 28x28; pool 14; conv16x5 10x10; pool 5; 400 -> 120 -> 84 -> 10 */
    assert_int_equal(a.layer[0].out_h, 28);
    assert_int_equal(a.layer[3].in_c, 6);
    assert_int_equal(a.layer[3].out_h, 10);
    assert_int_equal(a.layer[6].in_size, 400);
    assert_int_equal(a.param_count, 156 + 2416 + 48120 + 10164 + 850);
    assert_string_equal(a.layer[0].name, "conv1");
    assert_string_equal(a.layer[3].name, "conv2");
    assert_string_equal(a.layer[6].name, "fc1");
    assert_string_equal(a.layer[10].name, "fc3");
    double train = 0.0;
    for (int i = 0; i < a.n; i++)
        train += cnn_layer_flops(&a.layer[i], 0) + cnn_layer_flops(&a.layer[i], 1) +
                 (i ? cnn_layer_flops(&a.layer[i], 2) : 0.0);
    print_message("lenet5: %.3g FLOP per training sample\n", train);
    assert_true(train > 2.0e6 && train < 2.6e6); /* ≈ 2.3 MFLOP (issue 7) */
}

static void test_canonical_text(void **state)
{
    (void)state;
    cnn_arch a = parse_ok(" conv32x3p1s2 , relu,maxpool2, conv8x3s1p0 ,dense10", 28, 28, 10);
    assert_string_equal(a.spec, "conv32x3p1s2,relu,maxpool2,conv8x3,dense10");
    assert_null(cnn_arch_preset_name(&a));
    assert_int_equal(a.layer[0].out_h, 14); /* (28 + 2 - 3)/2 + 1 */
    assert_int_equal(a.layer[2].out_h, 7);
    assert_int_equal(a.layer[3].out_h, 5);
    assert_int_equal(a.layer[3].in_c, 32);
    /* a network may start with a dense layer */
    cnn_arch b = parse_ok("dense10", 28, 28, 10);
    assert_int_equal(b.param_count, 7850);
    cnn_arch c = parse_ok("conv3x5,relu,dense10", 5, 5, 10); /* kernel as large as the map */
    assert_int_equal(c.layer[0].out_h, 1);
}

static void expect_error(const char *spec, int h, int classes, const char *msg)
{
    cnn_arch a;
    memset(&a, 0x5a, sizeof a);
    cnn_arch before = a;
    cnn_err err = {{0}};
    assert_int_equal(cnn_arch_parse(&a, spec, h, h, 1, classes, &err), CNN_ERR_ARG);
    if (strcmp(err.msg, msg) != 0)
        print_error("spec '%s'\n got: %s\nwant: %s\n", spec, err.msg, msg);
    assert_string_equal(err.msg, msg);
    assert_memory_equal(&a, &before, sizeof a); /* untouched on failure */
}

static void test_bad_specs(void **state)
{
    (void)state;
    expect_error("", 28, 10, "layer 1 is empty: the spec is empty");
    expect_error("conv6x5,,dense10", 28, 10, "layer 2 is empty (two commas in a row?)");
    expect_error("conv6x5,rleu,dense10", 28, 10,
                 "layer 2 'rleu': unknown layer (expected convFxK[pP][sS], relu, avgpoolN, "
                 "maxpoolN or denseN)");
    /* control characters never reach the message (found by fuzz_arch) */
    expect_error("see\f\t\n\rl,dense10", 28, 10,
                 "layer 1 'see????l': unknown layer (expected convFxK[pP][sS], relu, avgpoolN, "
                 "maxpoolN or denseN)");
    expect_error("Conv6x5,dense10", 28, 10,
                 "layer 1 'Conv6x5': unknown layer (expected convFxK[pP][sS], relu, avgpoolN, "
                 "maxpoolN or denseN)");
    expect_error("conv0x5,dense10", 28, 10,
                 "layer 1 'conv0x5': the number of filters must be from 1 to 4096");
    expect_error("conv6x0,dense10", 28, 10,
                 "layer 1 'conv6x0': the kernel size must be from 1 to 64");
    expect_error("conv6,dense10", 28, 10,
                 "layer 1 'conv6': expected convFxK, e.g. conv6x5 (F filters of KxK)");
    expect_error("conv6x5p5,dense10", 28, 10,
                 "layer 1 'conv6x5p5': the padding must be smaller than the kernel");
    expect_error("conv6x5s0,dense10", 28, 10,
                 "layer 1 'conv6x5s0': the stride must be from 1 to 64");
    expect_error("conv6x5q1,dense10", 28, 10,
                 "layer 1 'conv6x5q1': after convFxK only the suffixes pP (padding) and sS "
                 "(stride) may follow");
    expect_error("conv6x5p1p1,dense10", 28, 10, "layer 1 'conv6x5p1p1': padding given twice");
    expect_error("conv6x5,relu,avgpool5,dense10", 28, 10,
                 "layer 3 'avgpool5': window 5 does not divide the 24x24 map");
    expect_error("maxpool0,dense10", 28, 10,
                 "layer 1 'maxpool0': the window must be from 1 to 4096");
    expect_error("avgpool,dense10", 28, 10,
                 "layer 1 'avgpool': expected a window size, e.g. avgpool2");
    expect_error("dense0,dense10", 28, 10,
                 "layer 1 'dense0': the number of outputs must be from 1 to 1048576");
    expect_error("conv6x5,avgpool2,conv16x5,avgpool2,conv16x5,dense10", 28, 10,
                 "layer 5 'conv16x5': the 5x5 kernel does not fit the 4x4 map");
    expect_error("conv6x5,relu", 28, 10,
                 "layer 2 'relu': the last layer must be dense10 (the data set has 10 classes)");
    expect_error("conv6x5,dense12", 28, 10,
                 "layer 2 'dense12': the last layer must be dense10 (the data set has 10 "
                 "classes)");
    expect_error("conv6x5,dense1000000000", 28, 10,
                 "layer 2 'dense1000000000': the number of outputs must be from 1 to 1048576");
    expect_error("dense100000,dense10000,dense10", 28, 10,
                 "layer 2 'dense10000': the parameters would exceed the limit of 268435456 "
                 "floats (1.0 GiB)");
    expect_error("conv2000x1,dense10", 100, 10,
                 "layer 1 'conv2000x1': its 100x100x2000 output map is larger than 16777216 "
                 "floats");
    /* more than 64 layers */
    char many[1024] = "";
    for (int i = 0; i < 65; i++)
        strcat(many, "relu,");
    strcat(many, "dense10");
    expect_error(many, 28, 10, "layer 65 'relu': more than 64 layers");
}

/* The spec, shapes and tensors go through a model file and come back. */
static void test_spec_round_trip(void **state)
{
    (void)state;
    cnn_arch a = parse_ok("conv8x3p1,relu,maxpool2,conv17x3p1s2,relu,dense24,relu,dense7", 20,
                          20, 7);
    float *p = malloc((size_t)a.param_count * sizeof *p);
    cnn_rng r;
    cnn_rng_seed(&r, 4);
    cnn_params_init(&a, p, &r);
    cnn_model_meta m;
    cnn_model_meta_init(&m, &a);
    m.rows = 20;
    m.cols = 20;
    m.classes = 7;
    m.batch = 16;
    m.lr = 0.01f;
    m.rng = r;
    char path[] = "/tmp/test_arch_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    cnn_err err = {{0}};
    assert_int_equal(cnn_model_save(path, p, &m, &err), CNN_OK);
    float *q = NULL;
    cnn_model_meta back;
    cnn_status st = cnn_model_load(path, &q, &back, &err);
    if (st != CNN_OK)
        print_error("%s\n", err.msg);
    assert_int_equal(st, CNN_OK);
    assert_string_equal(back.arch.spec, a.spec);
    assert_int_equal(back.arch.param_count, a.param_count);
    assert_memory_equal(p, q, (size_t)a.param_count * sizeof *p);
    assert_string_equal(back.arch.layer[5].name, "fc1");
    unlink(path);
    free(p);
    free(q);
    cnn_model_meta_free(&back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_preset),
        cmocka_unit_test(test_lenet5_preset),
        cmocka_unit_test(test_canonical_text),
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_spec_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
