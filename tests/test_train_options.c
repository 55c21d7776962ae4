/* test_train_options.c — optimizers, schedules and the validation split in
 * whole training runs: resuming continues bit for bit for momentum + cosine
 * + warm-up and for AdamW + clipping (4 epochs ≡ 2 + resumed 2); a resume
 * with nothing given takes every option from the file; a changed rate is
 * applied and announced; another optimizer kind is refused; the held-out
 * split is disjoint from training, the same across runs and thread counts;
 * --save-best keeps the best epoch; patience stops early, saying so. */
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
#include "../src/train/train_internal.h"

enum { COUNT = 200, BATCH = 32 };

static cnn_dataset ds;
static char dir[64];

static int setup(void **state)
{
    (void)state;
    synthetic_dataset(&ds, COUNT, 21);
    snprintf(dir, sizeof dir, "/tmp/test_train_options.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return -1;
    cnn_dataset_free(&ds);
    return 0;
}

static const char *path_of(const char *name)
{
    static char buf[4][128];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

typedef struct {
    int notes;
    char last_note[256];
    int epochs_seen, best_epoch, stopped;
    double val_acc[16];
    float lr[16];
} recorder;

static void record(const cnn_progress *p, void *ctx)
{
    recorder *r = ctx;
    if (p->event == CNN_EVENT_NOTE) {
        r->notes++;
        snprintf(r->last_note, sizeof r->last_note, "%s", p->note);
        print_message("note: %s\n", p->note);
    } else if (p->event == CNN_EVENT_EPOCH) {
        if (r->epochs_seen < 16) {
            r->val_acc[r->epochs_seen] = p->val_accuracy;
            r->lr[r->epochs_seen] = p->lr;
        }
        r->epochs_seen++;
        r->best_epoch = p->best_epoch;
        r->stopped |= p->stopping;
    }
}

static float *run(const cnn_train_opts *o, recorder *rec, cnn_status want)
{
    cnn_err err = {{0}};
    float *params = NULL;
    cnn_status st = cnn_train(o, &ds, NULL, record, rec, &params, &err);
    if (st != want)
        print_error("cnn_train: %s\n", err.msg);
    assert_int_equal(st, want);
    return params;
}

static long nparams(const char *spec)
{
    cnn_arch a;
    assert_int_equal(cnn_arch_parse(&a, spec, SYN_H, SYN_W, 1, SYN_CLASSES, NULL), CNN_OK);
    return a.param_count;
}

static void momentum_cosine(cnn_train_opts *o)
{
    cnn_train_opts_default(o);
    o->batch = BATCH;
    o->threads = 2;
    o->seed = 7;
    o->optim.momentum = 0.9;
    o->schedule = CNN_SCHED_COSINE;
    o->warmup_epochs = 0.5;
    o->lr = 0.02f;
}

static void adamw_clip(cnn_train_opts *o)
{
    cnn_train_opts_default(o);
    o->batch = BATCH;
    o->threads = 2;
    o->seed = 8;
    o->arch = "lenet5";
    o->optim.kind = CNN_OPT_ADAMW;
    o->optim.weight_decay = 0.01;
    o->optim.clip_norm = 0.5;
    o->lr = 0.002f;
}

/* Sets the stop flag (as Ctrl-C does) once `at` steps are done. */
typedef struct {
    long at;
    volatile sig_atomic_t flag;
} stopper;

static void stop_at(const cnn_progress *p, void *ctx)
{
    stopper *s = ctx;
    if (p->event == CNN_EVENT_STEP && p->step == s->at)
        s->flag = 1;
}

/* 4 epochs in one run ≡ the same run stopped after 2 epochs (the cosine
 * schedule spans all 4), then --resume with nothing else given. */
static void exact_resume(void (*make)(cnn_train_opts *), const char *spec, const char *name)
{
    cnn_train_opts o;
    recorder rec = {0};
    make(&o);
    o.epochs = 4;
    float *full = run(&o, &rec, CNN_OK);

    make(&o);
    o.epochs = 4;
    o.save_path = path_of(name);
    stopper s = {2 * ((COUNT + BATCH - 1) / BATCH), 0};
    o.stop = &s.flag;
    cnn_err err = {{0}};
    float *half = NULL;
    assert_int_equal(cnn_train(&o, &ds, NULL, stop_at, &s, &half, &err), CNN_ERR_INTERRUPTED);
    assert_non_null(strstr(err.msg, "after epoch 2"));
    cnn_model_meta m;
    assert_int_equal(cnn_model_load(path_of(name), &half, &m, &err), CNN_OK);
    assert_int_equal(m.epoch, 2);
    cnn_model_meta_free(&m);
    size_t bytes = (size_t)nparams(spec) * sizeof(float);
    assert_true(memcmp(half, full, bytes) != 0);

    /* the options come from the file: give only the total epochs */
    cnn_train_opts r;
    cnn_train_opts_default(&r);
    r.threads = 1; /* another thread count, too */
    r.epochs = 4;
    r.given = CNN_GIVEN_EPOCHS;
    r.resume_path = path_of(name);
    recorder rr = {0};
    float *resumed = run(&r, &rr, CNN_OK);
    assert_int_equal(rr.notes, 0); /* an exact continuation: nothing to announce */
    assert_memory_equal(resumed, full, bytes);
    free(full);
    free(half);
    free(resumed);
}

static void test_resume_momentum_cosine_warmup(void **state)
{
    (void)state;
    exact_resume(momentum_cosine, "seed", "mc.safetensors");
}

static void test_resume_adamw_clip(void **state)
{
    (void)state;
    exact_resume(adamw_clip, "lenet5", "aw.safetensors");
}

/* The cosine schedule reaches lr_min at the end; warm-up starts small. */
static void test_schedule_in_run(void **state)
{
    (void)state;
    cnn_train_opts o;
    momentum_cosine(&o);
    o.epochs = 3;
    o.lr_min = 0.001f;
    recorder rec = {0};
    free(run(&o, &rec, CNN_OK));
    assert_int_equal(rec.epochs_seen, 3);
    assert_true(rec.lr[0] < o.lr && rec.lr[0] > rec.lr[2]);
    assert_true(rec.lr[2] >= 0.001f && rec.lr[2] < 0.0012f); /* one step before the end */
}

static void test_resume_changes(void **state)
{
    (void)state;
    cnn_train_opts o;
    momentum_cosine(&o);
    o.epochs = 2;
    o.save_path = path_of("ch.safetensors");
    recorder rec = {0};
    free(run(&o, &rec, CNN_OK));

    /* a changed rate is applied and announced */
    cnn_train_opts r;
    cnn_train_opts_default(&r);
    r.epochs = 3;
    r.lr = 0.01f;
    r.given = CNN_GIVEN_EPOCHS | CNN_GIVEN_LR;
    r.resume_path = path_of("ch.safetensors");
    r.save_path = path_of("ch2.safetensors");
    recorder rr = {0};
    free(run(&r, &rr, CNN_OK));
    /* two notes: the longer run stretches the cosine schedule, and the rate */
    assert_int_equal(rr.notes, 2);
    assert_string_equal(rr.last_note, "--lr 0.02 -> 0.01: no longer an exact continuation");

    /* another optimizer kind is refused, naming both */
    r.optim.kind = CNN_OPT_ADAM;
    r.given = CNN_GIVEN_EPOCHS | CNN_GIVEN_OPTIMIZER;
    r.save_path = NULL;
    cnn_err err = {{0}};
    assert_int_equal(cnn_train(&r, &ds, NULL, NULL, NULL, NULL, &err), CNN_ERR_ARG);
    assert_non_null(strstr(err.msg, "--optimizer sgd"));
    assert_non_null(strstr(err.msg, "--optimizer adam"));

    /* a finished run with nothing given says how to go on */
    cnn_train_opts_default(&r);
    r.resume_path = path_of("ch.safetensors");
    assert_int_equal(cnn_train(&r, &ds, NULL, NULL, NULL, NULL, &err), CNN_ERR_ARG);
    assert_non_null(strstr(err.msg, "--epochs"));
}

/* The split: disjoint, every sample once, a function of the seed alone. */
static void test_holdout_split(void **state)
{
    (void)state;
    int idx[COUNT], vidx[40], idx2[COUNT], vidx2[40];
    holdout_split(5, COUNT, 40, idx, vidx);
    holdout_split(5, COUNT, 40, idx2, vidx2);
    assert_memory_equal(idx, idx2, sizeof(int) * (COUNT - 40));
    assert_memory_equal(vidx, vidx2, sizeof vidx);
    int seen[COUNT] = {0};
    for (int i = 0; i < COUNT - 40; i++)
        seen[idx[i]]++;
    for (int i = 0; i < 40; i++)
        seen[vidx[i]] += 2;
    for (int i = 0; i < COUNT; i++)
        assert_true(seen[i] == 1 || seen[i] == 2); /* once, in one of the two */
    for (int i = 1; i < 40; i++)
        assert_true(vidx[i - 1] < vidx[i]);
    holdout_split(6, COUNT, 40, idx2, vidx2); /* another seed, another split */
    assert_true(memcmp(vidx, vidx2, sizeof vidx) != 0);
    holdout_split(5, COUNT, 0, idx2, vidx2);
    for (int i = 0; i < COUNT; i++)
        assert_int_equal(idx2[i], i);
}

/* With --val: the same validation accuracies on 1 and 3 threads; the
 * weights differ from a run without the split (it trains on fewer). */
static void test_val_runs(void **state)
{
    (void)state;
    cnn_train_opts o;
    cnn_train_opts_default(&o);
    o.epochs = 3;
    o.batch = BATCH;
    o.val = 50;
    o.lr = 0.02f;
    o.threads = 1;
    o.save_best = path_of("best.safetensors");
    recorder a = {0}, b = {0}, c = {0};
    float *pa = run(&o, &a, CNN_OK);
    o.threads = 3;
    float *pb = run(&o, &b, CNN_OK);
    size_t bytes = (size_t)nparams("seed") * sizeof(float);
    assert_memory_equal(pa, pb, bytes);
    assert_memory_equal(a.val_acc, b.val_acc, 3 * sizeof(double));
    assert_true(a.val_acc[0] > 0.0);
    o.val = 0;
    o.save_best = NULL;
    float *pc = run(&o, &c, CNN_OK);
    assert_true(memcmp(pa, pc, bytes) != 0);

    /* the best model file is the best epoch's */
    float *best = NULL;
    cnn_model_meta m;
    cnn_err err = {{0}};
    assert_int_equal(cnn_model_load(path_of("best.safetensors"), &best, &m, &err), CNN_OK);
    assert_int_equal(m.epoch, a.best_epoch);
    double top = 0.0;
    for (int e = 0; e < 3; e++)
        top = a.val_acc[e] > top ? a.val_acc[e] : top;
    assert_true(a.val_acc[a.best_epoch - 1] == top);
    if (a.best_epoch == 3)
        assert_memory_equal(best, pa, bytes);
    free(best);
    cnn_model_meta_free(&m);
    free(pa);
    free(pb);
    free(pc);
}

/* Patience 1 with a rate so small nothing improves after epoch 1 stops the
 * run early and says so. */
static void test_patience(void **state)
{
    (void)state;
    cnn_train_opts o;
    cnn_train_opts_default(&o);
    o.epochs = 6;
    o.batch = BATCH;
    o.val = 50;
    o.patience = 1;
    o.lr = 1e-9f;
    recorder rec = {0};
    free(run(&o, &rec, CNN_OK));
    assert_true(rec.epochs_seen < 6);
    assert_true(rec.stopped);
    assert_non_null(strstr(rec.last_note, "early stop"));
    /* patience without a split is refused */
    o.val = 0;
    cnn_err err = {{0}};
    assert_int_equal(cnn_train(&o, &ds, NULL, NULL, NULL, NULL, &err), CNN_ERR_ARG);
    assert_non_null(strstr(err.msg, "--val"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_momentum_cosine_warmup),
        cmocka_unit_test(test_resume_adamw_clip),
        cmocka_unit_test(test_schedule_in_run),
        cmocka_unit_test(test_resume_changes),
        cmocka_unit_test(test_holdout_split),
        cmocka_unit_test(test_val_runs),
        cmocka_unit_test(test_patience),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
