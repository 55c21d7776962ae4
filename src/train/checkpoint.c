/* checkpoint.c — what a checkpoint records beyond the weights and position
 * (model_meta.c has those): the optimizer, its hyper-parameters and step
 * count, the schedule, the validation split and early stopping's memory, as
 * "train.*" metadata; and on --resume, the options in force: the user's
 * where given, the checkpoint's otherwise, every difference announced. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train_internal.h"
#include "../util/decimal.h"

/* Append "train.KEY=VALUE\n" to extra (len used of cap); returns the new
 * length, cap once it no longer fits. */
static size_t put(char *extra, size_t len, size_t cap, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static size_t put(char *extra, size_t len, size_t cap, const char *key, const char *fmt, ...)
{
    if (len >= cap)
        return len;
    int n = snprintf(extra + len, cap - len, "train.%s=", key);
    if (n < 0 || (size_t)n >= cap - len)
        return cap;
    len += (size_t)n;
    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(extra + len, cap - len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n + 1 >= cap - len)
        return cap;
    len += (size_t)n;
    extra[len++] = '\n';
    extra[len] = '\0';
    return len;
}

void ckpt_write_options(char *extra, size_t cap, const cnn_train_opts *o, long optim_step,
                        const train_best *b)
{
    size_t n = 0;
    extra[0] = '\0';
    /* %.17g: every double reads back exactly; %.9g: every float. */
    n = put(extra, n, cap, "optimizer", "%s", cnn_opt_kind_name(o->optim.kind));
    n = put(extra, n, cap, "momentum", "%.17g", o->optim.momentum);
    n = put(extra, n, cap, "nesterov", "%d", o->optim.nesterov);
    n = put(extra, n, cap, "beta1", "%.17g", o->optim.beta1);
    n = put(extra, n, cap, "beta2", "%.17g", o->optim.beta2);
    n = put(extra, n, cap, "eps", "%.17g", o->optim.eps);
    n = put(extra, n, cap, "weight_decay", "%.17g", o->optim.weight_decay);
    n = put(extra, n, cap, "clip_norm", "%.17g", o->optim.clip_norm);
    n = put(extra, n, cap, "schedule", "%s", cnn_sched_kind_name(o->schedule));
    n = put(extra, n, cap, "lr_min", "%.9g", (double)o->lr_min);
    n = put(extra, n, cap, "gamma", "%.9g", (double)o->gamma);
    n = put(extra, n, cap, "step_epochs", "%.17g", o->step_epochs);
    n = put(extra, n, cap, "warmup_epochs", "%.17g", o->warmup_epochs);
    n = put(extra, n, cap, "val", "%d", o->val);
    n = put(extra, n, cap, "patience", "%d", o->patience);
    n = put(extra, n, cap, "optim_step", "%ld", optim_step);
    n = put(extra, n, cap, "best_epoch", "%d", b->best_epoch);
    n = put(extra, n, cap, "best_accuracy", "%.17g", b->best_accuracy);
    (void)put(extra, n, cap, "bad_epochs", "%d", b->bad_epochs);
}

/* The value of train.KEY in the checkpoint's lines, or NULL. */
static const char *get(const cnn_model_meta *m, const char *key, char *buf, size_t cap)
{
    size_t klen = strlen(key);
    for (const char *p = m->extra; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len > 6 + klen && strncmp(p, "train.", 6) == 0 && strncmp(p + 6, key, klen) == 0 &&
            p[6 + klen] == '=') {
            snprintf(buf, cap, "%.*s", (int)(len - 7 - klen), p + 7 + klen);
            return buf;
        }
        p += len + (nl != NULL);
    }
    return NULL;
}

typedef struct {
    const char *path;
    const cnn_model_meta *m;
    const cnn_train_opts *o;
    unsigned given;
    ckpt_note_fn note;
    void *ctx;
    cnn_err *err;
    int bad;
} resumer;

static void say(resumer *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(resumer *r, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (r->note)
        r->note(line, r->ctx);
}

/* A number as the command line takes it (decimal.h), and finite. */
static int number(const char *s, double *out)
{
    if (!s || !cnn_decimal_syntax(s))
        return -1;
    *out = strtod(s, NULL);
    return isfinite(*out) ? 0 : -1;
}

/* A double option: the checkpoint's unless given; a given value that
 * differs is announced. */
static void dbl(resumer *r, unsigned bit, const char *key, const char *flag, double given,
                double fallback, double *out)
{
    char buf[64];
    double file = fallback;
    const char *s = get(r->m, key, buf, sizeof buf);
    if (s && number(s, &file)) {
        r->bad = 1;
        cnn_fail(r->err, CNN_ERR_FORMAT, "%s: __metadata__ train.%s \"%s\" is not a number",
                 r->path, key, s);
        return;
    }
    if (!(r->given & bit)) {
        *out = file;
        return;
    }
    *out = given;
    if (given != file)
        say(r, "%s %g -> %g: no longer an exact continuation", flag, file, given);
}

cnn_status ckpt_resume_options(const char *path, const cnn_model_meta *m,
                               const cnn_train_opts *o, cnn_train_opts *eff, long *optim_step,
                               train_best *b, ckpt_note_fn note, void *ctx, cnn_err *err)
{
    resumer r = {path, m, o, o->given, note, ctx, err, 0};
    char buf[64];
    *eff = *o;
    double v = 0.0; /* dbl() leaves it unset when the file's value is bad */

    /* Options a checkpoint has always recorded. */
    if (!(o->given & CNN_GIVEN_EPOCHS))
        eff->epochs = m->epochs;
    else if (o->epochs != m->epochs && m->epochs > 0 && get(m, "schedule", buf, sizeof buf) &&
             strcmp(buf, "cosine") == 0)
        say(&r, "--epochs %d -> %d stretches the cosine schedule: no longer an exact "
                "continuation",
            m->epochs, o->epochs);
    if (!(o->given & CNN_GIVEN_BATCH)) {
        eff->batch = m->batch;
    } else if (o->batch != m->batch) {
        if (m->batch_in_epoch > 0)
            return cnn_fail(err, CNN_ERR_ARG,
                            "%s: checkpoint stopped in mid-epoch with --batch %d; --batch %d "
                            "can only take over at an epoch's end",
                            path, m->batch, o->batch);
        say(&r, "--batch %d -> %d: no longer an exact continuation", m->batch, o->batch);
    }
    if (!(o->given & CNN_GIVEN_LR))
        eff->lr = m->lr;
    else if (o->lr != m->lr)
        say(&r, "--lr %g -> %g: no longer an exact continuation", (double)m->lr, (double)o->lr);
    if ((o->given & CNN_GIVEN_SEED) && o->seed != m->seed)
        say(&r, "--seed %" PRIu64 " ignored: a resumed run continues from the checkpoint's "
                "random state (seed %" PRIu64 ")",
            o->seed, m->seed);
    eff->seed = m->seed;
    cnn_impl file_impl = CNN_IMPL_BLAS;
    if (m->impl[0] && cnn_impl_parse(m->impl, &file_impl) != 0)
        return cnn_fail(err, CNN_ERR_FORMAT, "%s: __metadata__ impl is not ref or blas", path);
    if (!(o->given & CNN_GIVEN_IMPL))
        eff->impl = file_impl;
    else if (o->impl != file_impl)
        say(&r, "--impl %s -> %s: rounding differs, no longer an exact continuation",
            cnn_impl_name(file_impl), cnn_impl_name(o->impl));

    /* The optimizer: its kind cannot change (its state would not carry over). */
    const char *kind = get(m, "optimizer", buf, sizeof buf);
    cnn_opt_kind fk = CNN_OPT_SGD;
    if (kind && cnn_opt_kind_parse(kind, &fk) != CNN_OK)
        return cnn_fail(err, CNN_ERR_FORMAT, "%s: unknown optimizer \"%s\"", path, kind);
    if ((o->given & CNN_GIVEN_OPTIMIZER) && o->optim.kind != fk)
        return cnn_fail(err, CNN_ERR_ARG,
                        "%s: checkpoint was trained with --optimizer %s; its state does not "
                        "carry over to --optimizer %s",
                        path, cnn_opt_kind_name(fk), cnn_opt_kind_name(o->optim.kind));
    eff->optim.kind = fk;
    cnn_optim_opts d;
    cnn_optim_opts_default(&d);
    dbl(&r, CNN_GIVEN_MOMENTUM, "momentum", "--momentum", o->optim.momentum, d.momentum,
        &eff->optim.momentum);
    dbl(&r, CNN_GIVEN_NESTEROV, "nesterov", "--nesterov", o->optim.nesterov, 0, &v);
    eff->optim.nesterov = v != 0.0;
    dbl(&r, CNN_GIVEN_BETA1, "beta1", "--beta1", o->optim.beta1, d.beta1, &eff->optim.beta1);
    dbl(&r, CNN_GIVEN_BETA2, "beta2", "--beta2", o->optim.beta2, d.beta2, &eff->optim.beta2);
    dbl(&r, CNN_GIVEN_EPS, "eps", "--eps", o->optim.eps, d.eps, &eff->optim.eps);
    dbl(&r, CNN_GIVEN_WEIGHT_DECAY, "weight_decay", "--weight-decay", o->optim.weight_decay,
        d.weight_decay, &eff->optim.weight_decay);
    dbl(&r, CNN_GIVEN_CLIP_NORM, "clip_norm", "--clip-norm", o->optim.clip_norm, d.clip_norm,
        &eff->optim.clip_norm);

    /* The schedule. */
    const char *sk = get(m, "schedule", buf, sizeof buf);
    cnn_sched_kind fs = CNN_SCHED_CONSTANT;
    if (sk && cnn_sched_kind_parse(sk, &fs) != CNN_OK)
        return cnn_fail(err, CNN_ERR_FORMAT, "%s: unknown schedule \"%s\"", path, sk);
    if (!(o->given & CNN_GIVEN_SCHEDULE))
        eff->schedule = fs;
    else if (o->schedule != fs)
        say(&r, "--schedule %s -> %s: no longer an exact continuation", cnn_sched_kind_name(fs),
            cnn_sched_kind_name(o->schedule));
    dbl(&r, CNN_GIVEN_LR_MIN, "lr_min", "--lr-min", o->lr_min, 0.0, &v);
    eff->lr_min = (float)v;
    dbl(&r, CNN_GIVEN_GAMMA, "gamma", "--gamma", o->gamma, 0.1, &v);
    eff->gamma = (float)v;
    dbl(&r, CNN_GIVEN_STEP_EPOCHS, "step_epochs", "--step-epochs", o->step_epochs, 1.0,
        &eff->step_epochs);
    dbl(&r, CNN_GIVEN_WARMUP, "warmup_epochs", "--warmup-epochs", o->warmup_epochs, 0.0,
        &eff->warmup_epochs);
    dbl(&r, CNN_GIVEN_PATIENCE, "patience", "--patience", o->patience, 0.0, &v);
    eff->patience = (int)v;

    /* The validation split decides which samples are trained on. */
    double fv = 0.0;
    if (number(get(m, "val", buf, sizeof buf), &fv) != 0)
        fv = 0.0;
    if ((o->given & CNN_GIVEN_VAL) && o->val != (int)fv)
        return cnn_fail(err, CNN_ERR_ARG,
                        "%s: checkpoint holds out --val %d samples, not %d (the split decides "
                        "what is trained on)",
                        path, (int)fv, o->val);
    eff->val = (int)fv;
    if (r.bad)
        return CNN_ERR_FORMAT;

    double step = (double)m->step, be = 0.0, ba = 0.0, bad = 0.0;
    number(get(m, "optim_step", buf, sizeof buf), &step);
    number(get(m, "best_epoch", buf, sizeof buf), &be);
    number(get(m, "best_accuracy", buf, sizeof buf), &ba);
    number(get(m, "bad_epochs", buf, sizeof buf), &bad);
    if (step < 0 || step > 1e15 || be < 0 || be > 1e9 || bad < 0 || bad > 1e9)
        return cnn_fail(err, CNN_ERR_FORMAT, "%s: __metadata__ train.* counts out of range",
                        path);
    *optim_step = (long)step;
    b->best_epoch = (int)be;
    b->best_accuracy = ba;
    b->bad_epochs = (int)bad;
    return CNN_OK;
}
