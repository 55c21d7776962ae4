/* test_resume.c — checkpoints resume exactly: training 4 epochs in one go,
 * or 2 epochs and then 2 more from the saved file, or stopped (as by
 * Ctrl-C) part-way through an epoch and resumed, gives bit-for-bit the same
 * weights. This holds only if the checkpoint stores the RNG state from
 * *before* the interrupted epoch's shuffle, the position in it and the
 * weights, so each of those being wrong fails a test here. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cnn.h"
#include "cnn_model.h"
#include "cnn_train.h"
#include "synthetic.h"

/* 200 samples in batches of 32: 7 steps per epoch, the last one ragged. */
enum { COUNT = 200, BATCH = 32, STEPS_PER_EPOCH = 7, EPOCHS = 4 };

typedef struct {
    char dir[64];
    cnn_dataset train;
    float *full; /* 4 epochs in one run */
    long nparams;
} fixture;

static const char *in_dir(const fixture *fx, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", fx->dir, name);
    return out;
}

static void opts(cnn_train_opts *o, int epochs)
{
    cnn_train_opts_default(o);
    o->epochs = epochs;
    o->batch = BATCH;
    o->lr = 0.05f;
    o->seed = 42;
    o->threads = 2;
}

/* The trained parameters (free them). */
static float *train_ok(const cnn_train_opts *o, const cnn_dataset *train, cnn_progress_fn fn,
                       void *ctx)
{
    cnn_err err = {{0}};
    float *params = NULL;
    cnn_status st = cnn_train(o, train, NULL, fn, ctx, &params, &err);
    if (st != CNN_OK)
        print_error("cnn_train: %s\n", err.msg);
    assert_int_equal(st, CNN_OK);
    return params;
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof fx->dir, "/tmp/test_resume.XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    synthetic_dataset(&fx->train, COUNT, 21);
    cnn_train_opts o;
    opts(&o, EPOCHS);
    char path[128];
    o.save_path = in_dir(fx, "full.safetensors", path, sizeof path);
    cnn_err err = {{0}};
    cnn_arch a;
    cnn_arch_parse(&a, "seed", SYN_H, SYN_W, 1, SYN_CLASSES, NULL);
    fx->nparams = a.param_count;
    if (cnn_train(&o, &fx->train, NULL, NULL, NULL, &fx->full, &err) != CNN_OK) {
        fprintf(stderr, "setup: cnn_train: %s\n", err.msg);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    static const char *const names[] = {"full.safetensors", "half.safetensors",
                                        "stop.safetensors", "edge.safetensors"};
    char path[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(in_dir(fx, names[i], path, sizeof path));
    rmdir(fx->dir);
    cnn_dataset_free(&fx->train);
    free(fx->full);
    free(fx);
    return 0;
}

/* The one-run result is what was saved, and it is not the starting point:
 * otherwise "identical after resuming" below would prove nothing. */
static void test_full_run_saved(void **state)
{
    fixture *fx = *state;
    const size_t bytes = (size_t)fx->nparams * sizeof(float);
    float *loaded = NULL, *init = malloc(bytes);
    char path[128];
    cnn_model_meta m;
    cnn_err err = {{0}};
    assert_int_equal(cnn_model_load(in_dir(fx, "full.safetensors", path, sizeof path), &loaded,
                                    &m, &err),
                     CNN_OK);
    assert_memory_equal(loaded, fx->full, bytes);
    assert_int_equal(m.epoch, EPOCHS);
    assert_int_equal(m.batch_in_epoch, 0);
    assert_int_equal(m.step, EPOCHS * STEPS_PER_EPOCH);
    assert_int_equal(m.batch, BATCH);
    cnn_rng r;
    cnn_rng_seed(&r, 42);
    cnn_params_init(&m.arch, init, &r);
    assert_true(memcmp(init, fx->full, bytes) != 0);
    free(loaded);
    free(init);
}

static void test_resume_after_epochs(void **state)
{
    fixture *fx = *state;
    const size_t bytes = (size_t)fx->nparams * sizeof(float);
    char path[128];
    in_dir(fx, "half.safetensors", path, sizeof path);
    cnn_train_opts o;
    opts(&o, 2);
    o.save_path = path;
    float *half = train_ok(&o, &fx->train, NULL, NULL);
    assert_true(memcmp(half, fx->full, bytes) != 0);

    opts(&o, EPOCHS);
    o.given = CNN_GIVEN_EPOCHS; /* the rest comes from the checkpoint */
    o.resume_path = path;
    o.save_path = path;
    float *resumed = train_ok(&o, &fx->train, NULL, NULL);
    assert_memory_equal(resumed, fx->full, bytes);
    free(half);
    free(resumed);
}

typedef struct {
    long stop_after;                /* set the stop flag once this step is done */
    volatile sig_atomic_t *flag;
    long last_step;
} stopper;

static void stop_at(const cnn_progress *p, void *ctx)
{
    stopper *s = ctx;
    if (p->event != CNN_EVENT_STEP)
        return;
    s->last_step = p->step;
    if (p->step == s->stop_after)
        *s->flag = 1;
}

/* Stop after `step`, check what was saved, resume, compare with one run. */
static void stop_and_resume(const fixture *fx, const char *name, long step, int want_epoch,
                            int want_batch_in_epoch)
{
    const size_t bytes = (size_t)fx->nparams * sizeof(float);
    float *resumed = NULL;
    char path[128];
    in_dir(fx, name, path, sizeof path);
    volatile sig_atomic_t flag = 0;
    stopper s = {step, &flag, 0};
    cnn_train_opts o;
    opts(&o, EPOCHS);
    o.save_path = path;
    o.stop = &flag;
    cnn_err err = {{0}};
    cnn_status st = cnn_train(&o, &fx->train, NULL, stop_at, &s, NULL, &err);
    assert_int_equal(st, CNN_ERR_INTERRUPTED);
    assert_int_equal(s.last_step, step); /* stopped after that very step */
    assert_non_null(strstr(err.msg, "interrupted"));
    assert_non_null(strstr(err.msg, path)); /* says where the checkpoint is */

    cnn_model_meta m;
    assert_int_equal(cnn_model_load(path, &resumed, &m, &err), CNN_OK);
    free(resumed);
    assert_int_equal(m.epoch, want_epoch);
    assert_int_equal(m.batch_in_epoch, want_batch_in_epoch);
    assert_int_equal(m.step, step);

    opts(&o, EPOCHS);
    o.resume_path = path;
    o.save_path = path;
    flag = 0;
    o.stop = &flag;
    s.stop_after = -1;
    resumed = train_ok(&o, &fx->train, stop_at, &s);
    assert_int_equal(s.last_step, EPOCHS * STEPS_PER_EPOCH); /* step count carried on */
    assert_memory_equal(resumed, fx->full, bytes);
    free(resumed);
}

/* Mid-epoch: epoch 2, after its 3rd batch. */
static void test_resume_after_interrupt(void **state)
{
    stop_and_resume(*state, "stop.safetensors", STEPS_PER_EPOCH + 3, 1, 3);
}

/* On an epoch's last step the epoch is finished (test set, checkpoint)
 * before stopping, so the checkpoint is an end-of-epoch one. */
static void test_resume_after_interrupt_at_epoch_end(void **state)
{
    stop_and_resume(*state, "edge.safetensors", 2 * STEPS_PER_EPOCH, 2, 0);
}

/* In mid-epoch, another batch size would visit the rest of the epoch in
 * other batches: refused, with the file and the flag named, and nothing
 * trained. A finished run resumed for no more epochs is refused too. */
static void test_resume_mismatch_refused(void **state)
{
    fixture *fx = *state;
    char path[128];
    in_dir(fx, "mid.safetensors", path, sizeof path);
    volatile sig_atomic_t flag = 0;
    stopper s = {3, &flag, 0};
    cnn_train_opts o;
    opts(&o, EPOCHS);
    o.save_path = path;
    o.stop = &flag;
    cnn_err err = {{0}};
    assert_int_equal(cnn_train(&o, &fx->train, NULL, stop_at, &s, NULL, &err),
                     CNN_ERR_INTERRUPTED);

    opts(&o, EPOCHS);
    o.batch = BATCH / 2;
    o.given = CNN_GIVEN_BATCH;
    o.resume_path = path;
    assert_int_equal(cnn_train(&o, &fx->train, NULL, NULL, NULL, NULL, &err), CNN_ERR_ARG);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "--batch 32"));
    assert_non_null(strstr(err.msg, "mid-epoch"));
    assert_null(strchr(err.msg, '\n'));
    unlink(path);

    in_dir(fx, "full.safetensors", path, sizeof path);
    opts(&o, EPOCHS - 1);
    o.given = CNN_GIVEN_EPOCHS;
    o.resume_path = path;
    assert_int_equal(cnn_train(&o, &fx->train, NULL, NULL, NULL, NULL, &err), CNN_ERR_ARG);
    assert_non_null(strstr(err.msg, "already past epoch 3"));
    opts(&o, EPOCHS);
    o.resume_path = path; /* nothing given: the file's 4 epochs are all done */
    assert_int_equal(cnn_train(&o, &fx->train, NULL, NULL, NULL, NULL, &err), CNN_ERR_ARG);
    assert_non_null(strstr(err.msg, "give --epochs N"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_run_saved),
        cmocka_unit_test(test_resume_after_epochs),
        cmocka_unit_test(test_resume_after_interrupt),
        cmocka_unit_test(test_resume_after_interrupt_at_epoch_end),
        cmocka_unit_test(test_resume_mismatch_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
