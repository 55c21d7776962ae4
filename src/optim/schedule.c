/* schedule.c — learning-rate schedules (constant, step decay, cosine) with
 * linear warm-up, as defined in cnn_optim.h. Periods are rounded to whole
 * steps once and the rate is computed in double and rounded to float once,
 * so a resumed run or another machine gets the same rate for the same step. */
#include <math.h>
#include <string.h>

#include "cnn_optim.h"

const char *cnn_sched_kind_name(cnn_sched_kind k)
{
    switch (k) {
    case CNN_SCHED_CONSTANT: return "constant";
    case CNN_SCHED_STEP: return "step";
    case CNN_SCHED_COSINE: return "cosine";
    }
    return "?";
}

cnn_status cnn_sched_kind_parse(const char *s, cnn_sched_kind *out)
{
    static const cnn_sched_kind all[] = {CNN_SCHED_CONSTANT, CNN_SCHED_STEP, CNN_SCHED_COSINE};
    for (size_t i = 0; s && i < sizeof all / sizeof all[0]; i++)
        if (strcmp(s, cnn_sched_kind_name(all[i])) == 0) {
            *out = all[i];
            return CNN_OK;
        }
    return CNN_ERR_ARG;
}

void cnn_schedule_default(cnn_schedule *s)
{
    memset(s, 0, sizeof *s);
    s->kind = CNN_SCHED_CONSTANT;
    s->lr = 0.05f;
    s->gamma = 0.1f;
    s->step_epochs = 1.0;
    s->steps_per_epoch = 1;
    s->total_steps = 1;
}

/* epochs · steps_per_epoch to the nearest whole step (halves away from 0). */
static long epochs_to_steps(double epochs, long steps_per_epoch)
{
    return (long)llround(epochs * (double)steps_per_epoch);
}

cnn_status cnn_schedule_check(const cnn_schedule *s, cnn_err *err)
{
    if (s->kind != CNN_SCHED_CONSTANT && s->kind != CNN_SCHED_STEP && s->kind != CNN_SCHED_COSINE)
        return cnn_fail(err, CNN_ERR_ARG, "unknown schedule kind %d", (int)s->kind);
    if (!(s->lr > 0.0f) || !isfinite(s->lr))
        return cnn_fail(err, CNN_ERR_ARG, "learning rate %g must be finite and > 0",
                        (double)s->lr);
    if (s->steps_per_epoch < 1)
        return cnn_fail(err, CNN_ERR_ARG, "%ld steps per epoch", s->steps_per_epoch);
    /* Bound the epoch counts so that epochs_to_steps cannot overflow. */
    if (!(s->warmup_epochs >= 0.0) || !(s->warmup_epochs <= 1e9))
        return cnn_fail(err, CNN_ERR_ARG, "warm-up of %g epochs must be in [0, 1e9]",
                        s->warmup_epochs);
    if (s->warmup_epochs * (double)s->steps_per_epoch > 9e15)
        return cnn_fail(err, CNN_ERR_ARG, "warm-up of %g epochs is too long", s->warmup_epochs);
    if (s->kind == CNN_SCHED_STEP) {
        if (!(s->gamma > 0.0f) || !isfinite(s->gamma))
            return cnn_fail(err, CNN_ERR_ARG, "step decay factor %g must be finite and > 0",
                            (double)s->gamma);
        if (!(s->step_epochs > 0.0) || !(s->step_epochs * (double)s->steps_per_epoch <= 9e15))
            return cnn_fail(err, CNN_ERR_ARG, "step decay period of %g epochs must be > 0",
                            s->step_epochs);
    }
    if (s->kind == CNN_SCHED_COSINE) {
        if (!(s->lr_min >= 0.0f && s->lr_min <= s->lr))
            return cnn_fail(err, CNN_ERR_ARG, "final rate %g must be in [0, lr = %g]",
                            (double)s->lr_min, (double)s->lr);
        if (s->total_steps < 1)
            return cnn_fail(err, CNN_ERR_ARG, "cosine schedule over %ld steps", s->total_steps);
    }
    return CNN_OK;
}

float cnn_schedule_lr(const cnn_schedule *s, long step)
{
    if (step < 0)
        step = 0;
    const double lr = s->lr;
    double base = lr;
    if (s->kind == CNN_SCHED_STEP) {
        long period = epochs_to_steps(s->step_epochs, s->steps_per_epoch);
        if (period < 1)
            period = 1;
        const long decays = step / period; /* whole periods done: StepLR's floor */
        base = lr * pow((double)s->gamma, (double)decays);
    } else if (s->kind == CNN_SCHED_COSINE) {
        const double pi = 3.14159265358979323846;
        long total = s->total_steps < 1 ? 1 : s->total_steps;
        long t = step < total ? step : total;
        double lo = s->lr_min;
        base = lo + (lr - lo) * (1.0 + cos(pi * (double)t / (double)total)) / 2.0;
    }
    long warm = epochs_to_steps(s->warmup_epochs, s->steps_per_epoch);
    if (step < warm)
        base *= (double)(step + 1) / (double)warm;
    return (float)base;
}
