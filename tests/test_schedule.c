/* test_schedule.c — the learning-rate schedules of cnn_optim.h against
 * values worked out by hand: step decay at whole and fractional periods,
 * cosine from lr to lr_min over the run, the warm-up ramp (step + 1)/W and
 * its product with the others, rounding to float once, and the checks on
 * bad settings. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "cnn_optim.h"

static cnn_schedule sched(cnn_sched_kind kind, float lr, long steps_per_epoch)
{
    cnn_schedule s;
    cnn_schedule_default(&s);
    s.kind = kind;
    s.lr = lr;
    s.steps_per_epoch = steps_per_epoch;
    return s;
}

static void expect_rate(const cnn_schedule *s, long step, double want)
{
    float got = cnn_schedule_lr(s, step);
    if (got != (float)want)
        fail_msg("%s schedule, step %ld: rate %.9g, expected %.9g", cnn_sched_kind_name(s->kind),
                 step, (double)got, want);
}

static void test_constant(void **state)
{
    (void)state;
    cnn_schedule s = sched(CNN_SCHED_CONSTANT, 0.05f, 100);
    assert_int_equal(cnn_schedule_check(&s, NULL), CNN_OK);
    for (long step = 0; step < 1000; step += 37)
        assert_true(cnn_schedule_lr(&s, step) == 0.05f); /* the trainer's fixed rate */
    assert_true(cnn_schedule_lr(&s, -5) == 0.05f);
}

/* lr 0.1, gamma 0.5, every 2 epochs of 10 steps: 0.1 for steps 0..19,
 * 0.05 for 20..39, 0.025 from 40. Every 0.3 epochs of 10 steps is every 3
 * steps: the drop falls on step 3 exactly, though 0.3·10 is not 3 in
 * binary. */
static void test_step(void **state)
{
    (void)state;
    cnn_schedule s = sched(CNN_SCHED_STEP, 0.1f, 10);
    s.gamma = 0.5f;
    s.step_epochs = 2.0;
    assert_int_equal(cnn_schedule_check(&s, NULL), CNN_OK);
    const long steps[] = {0, 19, 20, 39, 40, 59, 60};
    const double want[] = {0.1f, 0.1f, 0.05f, 0.05f, 0.025f, 0.025f, 0.0125f};
    for (int i = 0; i < 7; i++)
        expect_rate(&s, steps[i], want[i]);

    s.step_epochs = 0.3;
    expect_rate(&s, 2, 0.1f);
    expect_rate(&s, 3, 0.05f);
    expect_rate(&s, 5, 0.05f);
    expect_rate(&s, 6, 0.025f);
    s.step_epochs = 0.01; /* less than a step: every step */
    expect_rate(&s, 1, 0.05f);
}

/* lr 1, lr_min 0, 4 steps: (1 + cos(πt/4))/2 = 1, (2 + √2)/4, 1/2,
 * (2 − √2)/4, 0, then 0 for ever. With lr_min 0.5: 0.5 + half of that. */
static void test_cosine(void **state)
{
    (void)state;
    cnn_schedule s = sched(CNN_SCHED_COSINE, 1.0f, 2);
    s.total_steps = 4;
    assert_int_equal(cnn_schedule_check(&s, NULL), CNN_OK);
    const double r2 = sqrt(2.0);
    const double want[] = {1.0, (2 + r2) / 4, 0.5, (2 - r2) / 4};
    for (int t = 0; t < 4; t++)
        assert_true(fabs(cnn_schedule_lr(&s, t) - want[t]) < 1e-7);
    expect_rate(&s, 0, 1.0);
    expect_rate(&s, 2, 0.5);
    assert_true(fabs(cnn_schedule_lr(&s, 4)) < 1e-7);
    assert_true(cnn_schedule_lr(&s, 4) == cnn_schedule_lr(&s, 1000));
    s.lr_min = 0.5f;
    for (int t = 0; t < 4; t++)
        assert_true(fabs(cnn_schedule_lr(&s, t) - (0.5 + 0.5 * want[t])) < 1e-7);
    expect_rate(&s, 99, 0.5);
}

/* Warm-up 0.5 epochs of 10 steps = 5 steps: lr·1/5, 2/5, ..., 5/5 on steps
 * 0..4, then lr. Multiplies the schedule: with step decay every 4 steps
 * (γ = 0.5), step 4 gets 0.5·lr·5/5; with cosine over 10 steps, step 2 gets
 * (1 + cos(π/5))/2 · 3/5. */
static void test_warmup(void **state)
{
    (void)state;
    cnn_schedule s = sched(CNN_SCHED_CONSTANT, 0.1f, 10);
    s.warmup_epochs = 0.5;
    assert_int_equal(cnn_schedule_check(&s, NULL), CNN_OK);
    for (long t = 0; t < 5; t++)
        expect_rate(&s, t, (double)0.1f * ((double)(t + 1) / 5.0));
    expect_rate(&s, 4, 0.1f); /* the last warm-up step reaches the full rate */
    expect_rate(&s, 5, 0.1f);
    expect_rate(&s, 500, 0.1f);

    s.kind = CNN_SCHED_STEP;
    s.gamma = 0.5f;
    s.step_epochs = 0.4;
    expect_rate(&s, 3, (double)0.1f * (4.0 / 5.0));
    expect_rate(&s, 4, (double)0.1f * 0.5);

    s.kind = CNN_SCHED_COSINE;
    s.lr = 1.0f;
    s.total_steps = 10;
    const double pi = 3.14159265358979323846;
    expect_rate(&s, 2, (1.0 + cos(pi * 2.0 / 10.0)) / 2.0 * (3.0 / 5.0));

    s.warmup_epochs = 0.04; /* 0.4 steps round to none */
    expect_rate(&s, 0, 1.0);
    s.warmup_epochs = 0.06; /* 0.6 steps round to one: factor 1/1 */
    expect_rate(&s, 0, 1.0);
}

static void test_names_and_checks(void **state)
{
    (void)state;
    for (int k = 0; k < 3; k++) {
        cnn_sched_kind back;
        assert_int_equal(cnn_sched_kind_parse(cnn_sched_kind_name((cnn_sched_kind)k), &back),
                         CNN_OK);
        assert_int_equal(back, k);
    }
    assert_string_equal(cnn_sched_kind_name(CNN_SCHED_COSINE), "cosine");
    cnn_sched_kind kind;
    assert_int_equal(cnn_sched_kind_parse("linear", &kind), CNN_ERR_ARG);

    cnn_schedule ok = sched(CNN_SCHED_STEP, 0.1f, 10), s;
    cnn_err err;
    assert_int_equal(cnn_schedule_check(&ok, &err), CNN_OK);
    s = ok, s.lr = 0.0f;
    assert_int_equal(cnn_schedule_check(&s, &err), CNN_ERR_ARG);
    s = ok, s.lr = INFINITY;
    assert_int_equal(cnn_schedule_check(&s, &err), CNN_ERR_ARG);
    s = ok, s.steps_per_epoch = 0;
    assert_int_equal(cnn_schedule_check(&s, &err), CNN_ERR_ARG);
    s = ok, s.warmup_epochs = -1.0;
    assert_int_equal(cnn_schedule_check(&s, &err), CNN_ERR_ARG);
    s = ok, s.warmup_epochs = NAN;
    assert_int_equal(cnn_schedule_check(&s, &err), CNN_ERR_ARG);
    s = ok, s.gamma = 0.0f;
    assert_int_equal(cnn_schedule_check(&s, &err), CNN_ERR_ARG);
    s = ok, s.step_epochs = 0.0;
    assert_int_equal(cnn_schedule_check(&s, &err), CNN_ERR_ARG);
    s = ok, s.kind = CNN_SCHED_COSINE, s.lr_min = 0.2f;
    assert_int_equal(cnn_schedule_check(&s, &err), CNN_ERR_ARG);
    print_message("    e.g. \"%s\"\n", err.msg);
    s = ok, s.kind = CNN_SCHED_COSINE, s.total_steps = 0;
    assert_int_equal(cnn_schedule_check(&s, &err), CNN_ERR_ARG);
    s = ok, s.kind = CNN_SCHED_CONSTANT, s.step_epochs = 0.0; /* unused: fine */
    assert_int_equal(cnn_schedule_check(&s, &err), CNN_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constant),
        cmocka_unit_test(test_step),
        cmocka_unit_test(test_cosine),
        cmocka_unit_test(test_warmup),
        cmocka_unit_test(test_names_and_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
