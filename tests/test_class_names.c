/* test_class_names.c — class names in model files and training runs:
 * cnn_model_check_class_names' rules and exact messages; a round trip
 * through a file (the "class_names" metadata, absent when there are none,
 * so older readers and files are unaffected); save and load refusing bad
 * names with the same line; cnn_train writing the names given, keeping a
 * checkpoint's on resume, announcing new ones; and CNN_EVENT_START
 * reporting the options in force, a resumed run's from its checkpoint. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cnn_model.h"
#include "cnn_train.h"
#include "model_files.h"
#include "synthetic.h"

#define TEN "zero\none\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine"

static void expect_names_check(const char *names, int classes, const char *msg)
{
    cnn_err err = {{0}};
    cnn_status st = cnn_model_check_class_names(names, classes, &err);
    if (!msg) {
        assert_int_equal(st, CNN_OK);
        return;
    }
    assert_int_equal(st, CNN_ERR_ARG);
    assert_string_equal(err.msg, msg);
}

static void test_check_rules(void **state)
{
    (void)state;
    expect_names_check(TEN, 10, NULL);
    expect_names_check(CNN_FASHION_MNIST_CLASS_NAMES, 10, NULL);
    expect_names_check("only", 1, NULL);
    expect_names_check("Größe\nサイズ\nsize 3", 3, NULL);
    expect_names_check("a\nb", 3, "2 class names for 3 classes");
    expect_names_check("a\nb\nc", 2, "3 class names for 2 classes");
    expect_names_check("a", 2, "1 class name for 2 classes");
    expect_names_check("a\nb\n", 2, "3 class names for 2 classes");
    expect_names_check("a\n\nc", 3, "the name of class 1 is empty");
    expect_names_check("a\nb\n  ", 3, "the name of class 2 is empty");
    expect_names_check("", 1, "the name of class 0 is empty");
    expect_names_check("Coat\nBag\nCoat", 3, "classes 0 and 2 are both named 'Coat'");
    expect_names_check("a\tb", 1, "the name of class 0 holds a control character");
    expect_names_check("ok\nx\x7f", 2, "the name of class 1 holds a control character");
    expect_names_check("ok\n\xff", 2, "the name of class 1 is not valid UTF-8");
    expect_names_check("\xc0\x80", 1, "the name of class 0 is not valid UTF-8");
    char *big = malloc(CNN_MODEL_CLASS_NAMES + 1);
    assert_non_null(big);
    memset(big, 'x', CNN_MODEL_CLASS_NAMES);
    big[CNN_MODEL_CLASS_NAMES] = '\0';
    expect_names_check(big, 1, "class names longer than 4095 bytes");
    big[CNN_MODEL_CLASS_NAMES - 1] = '\0';
    expect_names_check(big, 1, NULL);
    free(big);
}

static void test_round_trip(void **state)
{
    char path[128];
    in_dir(state, "named.safetensors", path, sizeof path);
    cnn_arch a = seed_arch();
    float *p = new_params(&a);
    fill_params_bits(&a, p, 3);
    static cnn_model_meta m, back;
    fill_meta(&m, &a);
    snprintf(m.class_names, sizeof m.class_names, "%s", CNN_FASHION_MNIST_CLASS_NAMES);
    round_trip(path, p, &m, &back);
    assert_string_equal(back.class_names, CNN_FASHION_MNIST_CLASS_NAMES);
    char *h = header_of(path);
    assert_non_null(strstr(h, "\"class_names\":\"T-shirt/top\\nTrouser\\nPullover\\nDress"));
    free(h);

    /* None: no key at all, and "" back. */
    m.class_names[0] = '\0';
    round_trip(path, p, &m, &back);
    assert_string_equal(back.class_names, "");
    h = header_of(path);
    assert_null(strstr(h, "class_names"));
    free(h);
    free(p);
}

static void test_save_refuses(void **state)
{
    char path[128], msg[256];
    in_dir(state, "refused.safetensors", path, sizeof path);
    unlink(path);
    cnn_arch a = seed_arch();
    float *p = new_params(&a);
    fill_params_bits(&a, p, 4);
    static cnn_model_meta m;
    fill_meta(&m, &a);
    const struct {
        const char *names, *msg;
    } bad[] = {
        {"a\nb\nc\nd\ne\nf\ng\nh\ni", "9 class names for 10 classes"},
        {"a\nb\nc\nd\ne\nf\ng\nh\ni\nb", "classes 1 and 9 are both named 'b'"},
        {"a\nb\nc\nd\n\nf\ng\nh\ni\nj", "the name of class 4 is empty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(m.class_names, sizeof m.class_names, "%s", bad[i].names);
        cnn_err err = {{0}};
        assert_int_equal(cnn_model_save(path, p, &m, &err), CNN_ERR_ARG);
        snprintf(msg, sizeof msg, "%s: __metadata__ class_names: %s", path, bad[i].msg);
        assert_string_equal(err.msg, msg);
        assert_int_equal(access(path, F_OK), -1);
    }
    /* Not NUL-terminated within its array. */
    memset(m.class_names, 'x', sizeof m.class_names);
    cnn_err err = {{0}};
    assert_int_equal(cnn_model_save(path, p, &m, &err), CNN_ERR_ARG);
    snprintf(msg, sizeof msg, "%s: meta.class_names is not NUL-terminated", path);
    assert_string_equal(err.msg, msg);
    free(p);
}

static void test_load_refuses(void **state)
{
    cnn_arch a = seed_arch();
    char base[128];
    in_dir(state, "base.safetensors", base, sizeof base);
    float *p = new_params(&a);
    fill_params_bits(&a, p, 5);
    static cnn_model_meta m;
    fill_meta(&m, &a);
    snprintf(m.class_names, sizeof m.class_names, "%s", TEN);
    cnn_err err = {{0}};
    assert_int_equal(cnn_model_save(base, p, &m, &err), CNN_OK);
    free(p);
    char bad[128];
    in_dir(state, "bad.safetensors", bad, sizeof bad);
    rewrite_header(base, bad, "\\nnine\"", "\\nzero\"");
    expect_line(bad, CNN_ERR_FORMAT,
                "__metadata__ class_names: classes 0 and 9 are both named 'zero'");
    rewrite_header(base, bad, "\\nnine\"", "\"");
    expect_line(bad, CNN_ERR_FORMAT, "__metadata__ class_names: 9 class names for 10 classes");
    rewrite_header(base, bad, "\\nnine\"", "\\n\\tnine\"");
    expect_line(bad, CNN_ERR_FORMAT,
                "__metadata__ class_names: the name of class 9 holds a control character");
}

/* ---- training ---------------------------------------------------------- */

typedef struct {
    int starts, steps_before_start, notes_after_start, notes;
    char note[8][256];
    cnn_train_opts seen; /* at START */
    char arch[CNN_ARCH_TEXT], names[CNN_MODEL_CLASS_NAMES];
    int epoch, batch;
    long step;
} events;

static void on_event(const cnn_progress *p, void *ctx)
{
    events *e = ctx;
    switch (p->event) {
    case CNN_EVENT_START:
        e->starts++;
        e->seen = *p->opts;
        snprintf(e->arch, sizeof e->arch, "%s", p->opts->arch);
        snprintf(e->names, sizeof e->names, "%s",
                 p->opts->class_names ? p->opts->class_names : "(none)");
        e->epoch = p->epoch;
        e->batch = p->batch;
        e->step = p->step;
        break;
    case CNN_EVENT_STEP:
        e->steps_before_start += e->starts == 0;
        break;
    case CNN_EVENT_NOTE:
        if (e->notes < 8)
            snprintf(e->note[e->notes], sizeof e->note[0], "%s", p->note);
        e->notes++;
        e->notes_after_start += e->starts > 0;
        break;
    default:
        break;
    }
}

static void train_opts(cnn_train_opts *o, const char *save, int epochs)
{
    cnn_train_opts_default(o);
    o->epochs = epochs;
    o->batch = 32;
    o->lr = 0.02f;
    o->seed = 9;
    o->threads = 2;
    o->save_path = save;
}

static cnn_status train(const cnn_train_opts *o, const cnn_dataset *ds, events *e, cnn_err *err)
{
    memset(e, 0, sizeof *e);
    return cnn_train(o, ds, NULL, on_event, e, NULL, err);
}

static void expect_names_in(const char *path, const char *names)
{
    float *p = NULL;
    static cnn_model_meta m;
    cnn_err err = {{0}};
    assert_int_equal(cnn_model_load(path, &p, &m, &err), CNN_OK);
    assert_string_equal(m.class_names, names);
    cnn_model_meta_free(&m);
    free(p);
}

static void test_train_names_and_start(void **state)
{
    char ck[128], ck2[128];
    in_dir(state, "ck.safetensors", ck, sizeof ck);
    in_dir(state, "ck2.safetensors", ck2, sizeof ck2);
    cnn_dataset ds;
    synthetic_dataset(&ds, 96, 4);
    static events e;
    cnn_err err = {{0}};
    cnn_train_opts o;

    /* Bad names: refused before any step, nothing written. */
    train_opts(&o, ck, 1);
    o.class_names = "a\nb\nc";
    assert_int_equal(train(&o, &ds, &e, &err), CNN_ERR_ARG);
    assert_string_equal(err.msg, "3 class names for 10 classes");
    assert_int_equal(e.starts, 0);
    assert_int_equal(access(ck, F_OK), -1);

    /* A fresh run: START once, first, with the options as given. */
    train_opts(&o, ck, 1);
    o.class_names = TEN;
    assert_int_equal(train(&o, &ds, &e, &err), CNN_OK);
    assert_int_equal(e.starts, 1);
    assert_int_equal(e.steps_before_start, 0);
    assert_string_equal(e.arch, CNN_ARCH_SEED);
    assert_string_equal(e.names, TEN);
    assert_int_equal(e.epoch, 0);
    assert_int_equal(e.step, 0);
    assert_true(e.seen.lr == 0.02f);
    assert_int_equal(e.seen.batch, 32);
    expect_names_in(ck, TEN);

    /* Resumed with nothing but --epochs: the checkpoint's options and names
     * are in force, and START says where the run picks up. */
    train_opts(&o, ck2, 2);
    o.lr = 0.5f;      /* not given: the checkpoint's 0.02 is used */
    o.batch = 16;     /* likewise */
    o.given = CNN_GIVEN_EPOCHS;
    o.resume_path = ck;
    assert_int_equal(train(&o, &ds, &e, &err), CNN_OK);
    assert_int_equal(e.starts, 1);
    assert_true(e.seen.lr == 0.02f);
    assert_int_equal(e.seen.batch, 32);
    assert_int_equal(e.seen.epochs, 2);
    assert_int_equal(e.epoch, 1);
    assert_int_equal(e.batch, 0);
    assert_int_equal(e.step, 3);
    assert_string_equal(e.names, TEN);
    assert_int_equal(e.notes, 0);
    expect_names_in(ck2, TEN);

    /* Resumed with a changed lr and new names: both in force, both
     * announced, before START. */
    o.given = CNN_GIVEN_EPOCHS | CNN_GIVEN_LR;
    o.lr = 0.01f;
    o.class_names = CNN_FASHION_MNIST_CLASS_NAMES;
    assert_int_equal(train(&o, &ds, &e, &err), CNN_OK);
    assert_true(e.seen.lr == 0.01f);
    assert_string_equal(e.names, CNN_FASHION_MNIST_CLASS_NAMES);
    assert_int_equal(e.notes, 2);
    assert_int_equal(e.notes_after_start, 0);
    assert_string_equal(e.note[0], "--lr 0.02 -> 0.01: no longer an exact continuation");
    assert_string_equal(e.note[1],
                        "class names differ from the checkpoint's: the new ones are saved");
    expect_names_in(ck2, CNN_FASHION_MNIST_CLASS_NAMES);

    /* No names anywhere: START says none, the file has none. */
    train_opts(&o, ck, 1);
    assert_int_equal(train(&o, &ds, &e, &err), CNN_OK);
    assert_string_equal(e.names, "(none)");
    expect_names_in(ck, "");
    cnn_dataset_free(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_rules),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_save_refuses),
        cmocka_unit_test(test_load_refuses),
        cmocka_unit_test(test_train_names_and_start),
    };
    return cmocka_run_group_tests(tests, model_group_setup, model_group_teardown);
}
