/* train.c — the training loop (docs/maths.md §4): each epoch visits the
 * training samples in an order drawn from the one RNG; each mini-batch
 * gives the network's gradient (cnn_net_gradient) and the optimizer's
 * update at the schedule's rate (cnn_optim.h); then the validation split
 * and the test set are evaluated. Checkpoints carry the RNG state at the
 * start of the epoch, the position in it, the optimizer's state and the
 * options (checkpoint.c), so a resumed run regenerates the same order and
 * continues bit for bit where the first one stopped. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "train_internal.h"

void cnn_train_opts_default(cnn_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->epochs = 5;
    o->batch = 32;
    o->lr = 0.05f;
    o->seed = 1;
    o->threads = 0;
    o->impl = CNN_IMPL_BLAS;
    o->arch = NULL;
    cnn_optim_opts_default(&o->optim);
    o->schedule = CNN_SCHED_CONSTANT;
    o->lr_min = 0.0f;
    o->gamma = 0.1f;
    o->step_epochs = 1.0;
    o->warmup_epochs = 0.0;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

cnn_status cnn_evaluate(cnn_net *net, const cnn_dataset *ds, int batch, double *mean_loss,
                        double *accuracy, int *predictions)
{
    const cnn_arch *a = cnn_net_arch(net);
    const int classes = a->classes;
    const long in = (long)a->in_h * a->in_w * a->in_c;
    if (ds->rows != a->in_h || ds->cols != a->in_w || batch < 1 || ds->count < 1)
        return CNN_ERR_ARG;
    float *probs = malloc((size_t)batch * classes * sizeof *probs);
    if (!probs)
        return CNN_ERR_NOMEM;
    double loss = 0.0;
    long right = 0;
    cnn_status st = CNN_OK;
    for (int lo = 0; lo < ds->count && st == CNN_OK; lo += batch) {
        int n = ds->count - lo < batch ? ds->count - lo : batch;
        double l = 0.0;
        int c = 0;
        st = cnn_net_infer(net, ds->images + lo * in, ds->labels + lo, n, probs, &l, &c);
        loss += l;
        right += c;
        for (int i = 0; predictions && i < n; i++) {
            int best = 0;
            for (int k = 1; k < classes; k++)
                if (probs[i * classes + k] > probs[i * classes + best])
                    best = k;
            predictions[lo + i] = best;
        }
    }
    free(probs);
    if (mean_loss)
        *mean_loss = loss / ds->count;
    if (accuracy)
        *accuracy = (double)right / ds->count;
    return st;
}

/* One training run's state. */
typedef struct {
    cnn_train_opts o;          /* the options in force (a resumed run's from its file) */
    const cnn_dataset *train, *test;
    cnn_dataset val;           /* the held-out samples, copied out */
    int *idx, ntrain;          /* the samples trained on */
    cnn_arch arch;
    cnn_net *net;
    cnn_optim *opt;
    cnn_schedule sched;
    cnn_rng rng;
    int first_epoch, first_batch, batches;
    long step;
    train_best best;
    int *order;
    uint8_t *bx, *by;
    cnn_model_meta meta;       /* scratch for saving */
    thread_tuner tuner;        /* threads per step when --threads was not given */
    char class_names[CNN_MODEL_CLASS_NAMES]; /* written into every save; "" = none */
    cnn_progress p;
    cnn_progress_fn fn;
    void *ctx;
    cnn_err *err;
} run;

static void emit(run *r, cnn_event ev)
{
    if (r->fn) {
        r->p.event = ev;
        r->fn(&r->p, r->ctx);
    }
}

static void note(const char *line, void *ctx)
{
    run *r = ctx;
    r->p.note = line;
    emit(r, CNN_EVENT_NOTE);
    r->p.note = NULL;
}

static int all_finite(const float *v, long n)
{
    for (long i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

/* Write a checkpoint at this position; a poisoned model is never written. */
static cnn_status save(run *r, const char *path, int epoch, int batch_in_epoch,
                       const cnn_rng *epoch_rng)
{
    const float *params = cnn_net_params(r->net);
    if (!all_finite(params, r->arch.param_count))
        return cnn_fail(r->err, CNN_ERR_DIVERGED,
                        "training diverged: the weights are not finite; %s not written", path);
    cnn_model_meta *m = &r->meta;
    cnn_model_meta_init(m, &r->arch);
    m->epochs = r->o.epochs;
    m->batch = r->o.batch;
    m->lr = r->o.lr;
    m->seed = r->o.seed;
    snprintf(m->impl, sizeof m->impl, "%s", cnn_impl_name(r->o.impl));
    m->epoch = epoch;
    m->batch_in_epoch = batch_in_epoch;
    m->step = r->step;
    m->rng = *epoch_rng;
    m->train_count = r->train->count;
    m->rows = r->train->rows;
    m->cols = r->train->cols;
    m->classes = r->arch.classes;
    memcpy(m->class_names, r->class_names, sizeof m->class_names);
    ckpt_write_options(m->extra, sizeof m->extra, &r->o, cnn_optim_step_count(r->opt), &r->best);
    m->nblocks = cnn_optim_state_count(r->opt);
    for (int k = 0; k < m->nblocks; k++) {
        cnn_optim_state s;
        cnn_optim_state_get(r->opt, k, &s);
        snprintf(m->block[k].name, sizeof m->block[k].name, "optim.%s", s.name);
        m->block[k].count = s.len;
        m->block[k].data = s.data;
    }
    cnn_status st = cnn_model_save(path, params, m, r->err);
    m->nblocks = 0; /* the blocks are the optimizer's, not ours to free */
    if (st == CNN_OK) {
        r->p.path = path;
        emit(r, CNN_EVENT_SAVED);
    }
    return st;
}

/* The optimizer for this architecture: weight decay on weights, not biases. */
static cnn_status make_optimizer(run *r)
{
    cnn_range decay[CNN_MAX_LAYERS];
    int nd = 0;
    for (int i = 0; i < r->arch.n; i++)
        if (r->arch.layer[i].w_count)
            decay[nd++] = (cnn_range){r->arch.layer[i].w_off, r->arch.layer[i].w_count};
    cnn_optim_opts oo = r->o.optim;
    oo.threads = cnn_net_threads(r->net);
    return cnn_optim_create(&r->opt, &oo, r->arch.param_count, decay, nd, r->err);
}

/* The optimizer's state from a checkpoint's blocks, by name. */
static cnn_status restore_optimizer(run *r, const cnn_model_meta *m, long optim_step,
                                    const char *path)
{
    for (int k = 0; k < cnn_optim_state_count(r->opt); k++) {
        cnn_optim_state s;
        cnn_optim_state_get(r->opt, k, &s);
        const cnn_model_block *b = NULL;
        for (int j = 0; j < m->nblocks && !b; j++)
            if (strncmp(m->block[j].name, "optim.", 6) == 0 &&
                strcmp(m->block[j].name + 6, s.name) == 0)
                b = &m->block[j];
        if (!b) {
            /* momentum turned on where the checkpoint had none: it starts
             * from zero, as at the first step */
            if (optim_step > 0)
                note("optimizer state starts afresh: the checkpoint has none", r);
            continue;
        }
        if (b->count != s.len)
            return cnn_fail(r->err, CNN_ERR_FORMAT, "%s: tensor %s has %ld values, expected %ld",
                            path, b->name, b->count, s.len);
        memcpy(s.data, b->data, (size_t)s.len * sizeof(float));
    }
    return cnn_optim_set_step_count(r->opt, optim_step);
}

static cnn_status check_position(run *r, const cnn_model_meta *m, const char *path)
{
    if (m->train_count != r->train->count)
        return cnn_fail(r->err, CNN_ERR_ARG,
                        "%s: checkpoint was trained on %d samples, this data set has %d", path,
                        m->train_count, r->train->count);
    if (m->batch_in_epoch >= r->batches)
        return cnn_fail(r->err, CNN_ERR_FORMAT,
                        "%s: checkpoint position (epoch %d, batch %d) is outside the run (%d "
                        "batches per epoch)",
                        path, m->epoch, m->batch_in_epoch, r->batches);
    if (m->epoch >= r->o.epochs && !(r->o.given & CNN_GIVEN_EPOCHS))
        return cnn_fail(r->err, CNN_ERR_ARG,
                        "%s: checkpoint has done all its %d epochs; give --epochs N (N > %d, "
                        "counting the done ones) to train on",
                        path, m->epoch, m->epoch);
    if (m->epoch > r->o.epochs || (m->epoch == r->o.epochs && m->batch_in_epoch > 0))
        return cnn_fail(r->err, CNN_ERR_ARG,
                        "%s: checkpoint is already past epoch %d (--epochs counts all epochs, "
                        "the done ones too)",
                        path, r->o.epochs);
    return CNN_OK;
}

/* The network the run trains: the checkpoint's when resuming (a different
 * --arch is refused), else opts->arch (default: the seed network). */
static cnn_status choose_arch(run *r, const cnn_train_opts *o, int classes,
                              const cnn_model_meta *resumed)
{
    cnn_err aerr = {{0}};
    const cnn_dataset *t = r->train;
    if (resumed) {
        r->arch = resumed->arch;
        cnn_arch want;
        if (o->arch && cnn_arch_parse(&want, o->arch, t->rows, t->cols, 1, classes, &aerr) ==
                           CNN_OK &&
            strcmp(want.spec, r->arch.spec) != 0)
            return cnn_fail(r->err, CNN_ERR_ARG, "%s: checkpoint is --arch %s, not %s",
                            o->resume_path, r->arch.spec, want.spec);
        if (r->arch.in_h != t->rows || r->arch.in_w != t->cols || r->arch.classes != classes)
            return cnn_fail(r->err, CNN_ERR_ARG,
                            "%s: checkpoint takes %dx%d images in %d classes; the data set "
                            "has %dx%d in %d",
                            o->resume_path, r->arch.in_h, r->arch.in_w, r->arch.classes,
                            t->rows, t->cols, classes);
        return CNN_OK;
    }
    if (cnn_arch_parse(&r->arch, o->arch ? o->arch : "seed", t->rows, t->cols, 1, classes,
                       &aerr) != CNN_OK)
        return cnn_fail(r->err, CNN_ERR_ARG, "--arch: %s", aerr.msg);
    return CNN_OK;
}

/* The held-out samples into r->val, the rest into r->idx. */
static cnn_status split(run *r)
{
    const cnn_dataset *t = r->train;
    const long in = (long)t->rows * t->cols;
    r->ntrain = t->count - r->o.val;
    r->idx = malloc((size_t)t->count * sizeof *r->idx);
    int *vidx = malloc((size_t)(r->o.val ? r->o.val : 1) * sizeof *vidx);
    r->val = (cnn_dataset){0};
    r->val.count = r->o.val;
    r->val.rows = t->rows;
    r->val.cols = t->cols;
    r->val.images = malloc((size_t)(r->o.val ? r->o.val : 1) * (size_t)in);
    r->val.labels = malloc((size_t)(r->o.val ? r->o.val : 1));
    if (!r->idx || !vidx || !r->val.images || !r->val.labels) {
        free(vidx);
        return cnn_fail(r->err, CNN_ERR_NOMEM, "out of memory for the validation split");
    }
    holdout_split(r->o.seed, t->count, r->o.val, r->idx, vidx);
    for (int i = 0; i < r->o.val; i++) {
        memcpy(r->val.images + i * in, t->images + vidx[i] * in, (size_t)in);
        r->val.labels[i] = t->labels[vidx[i]];
    }
    free(vidx);
    return CNN_OK;
}

static cnn_status check_opts(const cnn_train_opts *o, const cnn_dataset *train, cnn_err *err)
{
    if (o->epochs < 1 || o->batch < 1 || !(o->lr > 0.0f) || !isfinite(o->lr))
        return cnn_fail(err, CNN_ERR_ARG, "invalid training options (epochs, batch, lr)");
    if (o->val < 0 || o->val >= train->count)
        return cnn_fail(err, CNN_ERR_ARG,
                        "--val %d: must leave training samples (the data set has %d)", o->val,
                        train->count);
    if ((o->patience > 0 || o->save_best) && o->val == 0)
        return cnn_fail(err, CNN_ERR_ARG, "--%s needs a validation split (--val N)",
                        o->patience > 0 ? "patience" : "save-best");
    if (o->patience < 0 || o->save_every < 0)
        return cnn_fail(err, CNN_ERR_ARG, "--patience and --save-every must not be negative");
    return cnn_optim_opts_check(&o->optim, err);
}

/* Start fresh, or pick up a checkpoint: options, network, weights,
 * optimizer state, position. */
static cnn_status setup(run *r, const cnn_train_opts *o, int classes)
{
    cnn_status st;
    cnn_model_meta *m = calloc(1, sizeof *m);
    float *loaded = NULL;
    long optim_step = 0;
    if (!m)
        return cnn_fail(r->err, CNN_ERR_NOMEM, "out of memory");
    r->o = *o;
    if (o->resume_path) {
        st = cnn_model_load(o->resume_path, &loaded, m, r->err);
        if (st == CNN_OK)
            st = ckpt_resume_options(o->resume_path, m, o, &r->o, &optim_step, &r->best, note, r,
                                     r->err);
        if (st != CNN_OK)
            goto out;
    }
    if ((st = check_opts(&r->o, r->train, r->err)) != CNN_OK ||
        (st = choose_arch(r, o, classes, o->resume_path ? m : NULL)) != CNN_OK ||
        (st = split(r)) != CNN_OK)
        goto out;
    /* Class names: the ones given, else a resumed run's checkpoint's. */
    const char *names = o->class_names ? o->class_names : o->resume_path ? m->class_names : "";
    if (names[0] && (st = cnn_model_check_class_names(names, r->arch.classes, r->err)) != CNN_OK)
        goto out;
    if (o->class_names && o->resume_path && strcmp(names, m->class_names) != 0)
        note(m->class_names[0] ? "class names differ from the checkpoint's: the new ones are saved"
                               : "class names added: the checkpoint had none",
             r);
    snprintf(r->class_names, sizeof r->class_names, "%s", names);
    r->batches = (r->ntrain + r->o.batch - 1) / r->o.batch;
    if (o->resume_path && (st = check_position(r, m, o->resume_path)) != CNN_OK)
        goto out;
    st = cnn_net_create(&r->net, &r->arch, r->o.impl, r->o.batch, r->o.threads);
    if (st != CNN_OK) {
        st = cnn_fail(r->err, st, "cannot create the network: %s", cnn_status_str(st));
        goto out;
    }
    if ((st = make_optimizer(r)) != CNN_OK)
        goto out;
    tuner_init(&r->tuner, o->threads == 0, cnn_net_max_threads(r->net));
    if (o->resume_path) {
        memcpy(cnn_net_params(r->net), loaded, (size_t)r->arch.param_count * sizeof(float));
        if ((st = restore_optimizer(r, m, optim_step, o->resume_path)) != CNN_OK)
            goto out;
        r->rng = m->rng;
        r->first_epoch = m->epoch;
        r->first_batch = m->batch_in_epoch;
        r->step = m->step;
    } else {
        cnn_rng_seed(&r->rng, r->o.seed);
        cnn_params_init(&r->arch, cnn_net_params(r->net), &r->rng);
    }
    cnn_schedule_default(&r->sched);
    r->sched.kind = r->o.schedule;
    r->sched.lr = r->o.lr;
    r->sched.lr_min = r->o.lr_min;
    r->sched.gamma = r->o.gamma;
    r->sched.step_epochs = r->o.step_epochs;
    r->sched.warmup_epochs = r->o.warmup_epochs;
    r->sched.steps_per_epoch = r->batches;
    r->sched.total_steps = (long)r->batches * r->o.epochs;
    st = cnn_schedule_check(&r->sched, r->err);
out:
    free(loaded);
    cnn_model_meta_free(m);
    free(m);
    return st;
}

/* Name the first layer whose gradient is not finite. */
static void bad_gradient(run *r, int epoch, int b)
{
    const float *g = cnn_net_grads(r->net);
    for (int i = 0; i < r->arch.n; i++) {
        const cnn_layer *l = &r->arch.layer[i];
        if (l->w_count && (!all_finite(g + l->w_off, l->w_count) ||
                           !all_finite(g + l->b_off, l->b_count))) {
            cnn_fail(r->err, CNN_ERR_DIVERGED,
                     "training diverged at epoch %d, batch %d: the gradient of layer %d (%s) "
                     "is not finite; try a smaller --lr or --clip-norm",
                     epoch + 1, b + 1, i + 1, l->text);
            return;
        }
    }
    cnn_fail(r->err, CNN_ERR_DIVERGED,
             "training diverged at epoch %d, batch %d: the gradient norm is not finite", epoch + 1,
             b + 1);
}

/* Batch b of the epoch: gradient, then the update at the schedule's rate. */
static cnn_status step(run *r, int epoch, int b)
{
    const long in = (long)r->arch.in_h * r->arch.in_w * r->arch.in_c;
    int lo = b * r->o.batch;
    int n = r->ntrain - lo < r->o.batch ? r->ntrain - lo : r->o.batch;
    for (int i = 0; i < n; i++) {
        int s = r->idx[r->order[lo + i]];
        memcpy(r->bx + i * in, r->train->images + s * in, (size_t)in);
        r->by[i] = r->train->labels[s];
    }
    double loss = 0.0;
    int correct = 0;
    cnn_net_set_active_threads(r->net, tuner_threads(&r->tuner, r->step));
    cnn_optim_set_threads(r->opt, cnn_net_active_threads(r->net));
    double t0 = now_seconds();
    cnn_status st = r->o.gradient ? r->o.gradient(r->o.gradient_ctx, r->net, r->bx, r->by, n,
                                                  &loss, &correct, r->o.stop)
                                  : cnn_net_gradient(r->net, r->bx, r->by, n, &loss, &correct);
    if (st == CNN_ERR_DIVERGED)
        return cnn_fail(r->err, st,
                        "training diverged at epoch %d, batch %d (loss %g); try a smaller --lr",
                        epoch + 1, b + 1, loss / n);
    if (st != CNN_OK)
        return cnn_fail(r->err, st, "training step failed: %s", cnn_status_str(st));
    float lr = cnn_schedule_lr(&r->sched, cnn_optim_step_count(r->opt));
    double norm = 0.0;
    st = cnn_optim_step(r->opt, cnn_net_params(r->net), cnn_net_grads_mutable(r->net),
                        r->arch.param_count, lr, &norm);
    if (st == CNN_ERR_DIVERGED) {
        bad_gradient(r, epoch, b);
        return st;
    }
    if (st != CNN_OK)
        return cnn_fail(r->err, st, "optimizer step failed: %s", cnn_status_str(st));
    if (n == r->o.batch) /* a ragged last batch is not comparable */
        tuner_record(&r->tuner, r->step, now_seconds() - t0);
    r->step++;
    r->p.batch = b + 1;
    r->p.step = r->step;
    r->p.seen += n;
    r->p.loss_sum += loss;
    r->p.correct += correct;
    r->p.lr = lr;
    r->p.grad_norm = norm;
    return CNN_OK;
}

/* After an epoch: validation and test sets, early stopping's bookkeeping. */
static cnn_status evaluate_epoch(run *r, int epoch)
{
    cnn_progress *p = &r->p;
    emit(r, CNN_EVENT_EVALUATING);
    p->val_count = p->test_count = 0;
    cnn_status st;
    if (r->o.val > 0) {
        st = cnn_evaluate(r->net, &r->val, r->o.batch, &p->val_loss, &p->val_accuracy, NULL);
        if (st != CNN_OK)
            return cnn_fail(r->err, st, "validation failed: %s", cnn_status_str(st));
        p->val_count = r->o.val;
        if (!isfinite(p->val_loss))
            return cnn_fail(r->err, CNN_ERR_DIVERGED,
                            "training diverged in epoch %d: the validation loss is not finite; "
                            "no checkpoint written",
                            epoch + 1);
        if (r->best.best_epoch == 0 || p->val_accuracy > r->best.best_accuracy) {
            r->best.best_epoch = epoch + 1;
            r->best.best_accuracy = p->val_accuracy;
            r->best.bad_epochs = 0;
        } else {
            r->best.bad_epochs++;
        }
    }
    if (r->test && r->test->count > 0) {
        double t1 = now_seconds();
        st = cnn_evaluate(r->net, r->test, r->o.batch, &p->test_loss, &p->test_accuracy, NULL);
        if (st != CNN_OK)
            return cnn_fail(r->err, st, "evaluation failed: %s", cnn_status_str(st));
        p->test_count = r->test->count;
        p->test_seconds = now_seconds() - t1;
        if (!isfinite(p->test_loss))
            return cnn_fail(r->err, CNN_ERR_DIVERGED,
                            "training diverged in epoch %d: the test loss is not finite; no "
                            "checkpoint written",
                            epoch + 1);
    }
    p->best_epoch = r->best.best_epoch;
    p->stopping = r->o.val > 0 && r->o.patience > 0 && r->best.bad_epochs >= r->o.patience &&
                  epoch + 1 < r->o.epochs;
    return CNN_OK;
}

static cnn_status interrupted(run *r, int epoch, int b, const cnn_rng *epoch_rng)
{
    if (!r->o.save_path)
        return cnn_fail(r->err, CNN_ERR_INTERRUPTED,
                        "interrupted at epoch %d, batch %d; nothing saved (no --save)", epoch + 1,
                        b + 1);
    cnn_status st = save(r, r->o.save_path, epoch, b + 1, epoch_rng);
    if (st != CNN_OK)
        return st;
    return cnn_fail(r->err, CNN_ERR_INTERRUPTED,
                    "interrupted at epoch %d, batch %d; checkpoint saved to %s", epoch + 1, b + 1,
                    r->o.save_path);
}

static cnn_status train_epochs(run *r)
{
    cnn_status st = CNN_OK;
    cnn_progress *p = &r->p;
    p->epochs = r->o.epochs;
    p->batches = r->batches;
    for (int epoch = r->first_epoch; epoch < r->o.epochs; epoch++) {
        /* The epoch's order is a function of the RNG state alone. */
        cnn_rng epoch_rng = r->rng;
        for (int i = 0; i < r->ntrain; i++)
            r->order[i] = i;
        cnn_rng_shuffle(&r->rng, r->order, r->ntrain);

        int b0 = epoch == r->first_epoch ? r->first_batch : 0;
        p->epoch = epoch + 1;
        p->seen = 0;
        p->loss_sum = 0.0;
        p->correct = 0;
        double t0 = now_seconds();
        for (int b = b0; b < r->batches; b++) {
            if ((st = step(r, epoch, b)) != CNN_OK)
                return st;
            p->seconds = now_seconds() - t0;
            emit(r, CNN_EVENT_STEP);
            if (b + 1 < r->batches) {
                if (r->o.stop && *r->o.stop)
                    return interrupted(r, epoch, b, &epoch_rng);
                if (r->o.save_every && r->o.save_path && r->step % r->o.save_every == 0 &&
                    (st = save(r, r->o.save_path, epoch, b + 1, &epoch_rng)) != CNN_OK)
                    return st;
            }
        }
        p->seconds = now_seconds() - t0;
        if ((st = evaluate_epoch(r, epoch)) != CNN_OK)
            return st;
        emit(r, CNN_EVENT_EPOCH);
        if (r->o.save_path && (st = save(r, r->o.save_path, epoch + 1, 0, &r->rng)) != CNN_OK)
            return st;
        if (r->o.save_best && r->best.best_epoch == epoch + 1 &&
            (st = save(r, r->o.save_best, epoch + 1, 0, &r->rng)) != CNN_OK)
            return st;
        if (p->stopping) {
            char line[160];
            snprintf(line, sizeof line,
                     "early stop: no better validation accuracy for %d epoch%s (best: epoch %d, "
                     "%.2f%%)",
                     r->o.patience, r->o.patience == 1 ? "" : "s", r->best.best_epoch,
                     100.0 * r->best.best_accuracy);
            note(line, r);
            return CNN_OK;
        }
        if (r->o.stop && *r->o.stop && epoch + 1 < r->o.epochs)
            return cnn_fail(r->err, CNN_ERR_INTERRUPTED, "interrupted after epoch %d%s%s",
                            epoch + 1,
                            r->o.save_path ? "; checkpoint saved to " : "; nothing saved (no --save)",
                            r->o.save_path ? r->o.save_path : "");
    }
    return CNN_OK;
}

cnn_status cnn_train(const cnn_train_opts *o, const cnn_dataset *train,
                     const cnn_dataset *test, cnn_progress_fn fn, void *ctx,
                     float **params_out, cnn_err *err)
{
    if (params_out)
        *params_out = NULL;
    if (test && test->count > 0 && (test->rows != train->rows || test->cols != train->cols))
        return cnn_fail(err, CNN_ERR_ARG, "test images are %dx%d, training images %dx%d",
                        test->rows, test->cols, train->rows, train->cols);
    run *r = calloc(1, sizeof *r);
    if (!r)
        return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    r->train = train;
    r->test = test;
    r->fn = fn;
    r->ctx = ctx;
    r->err = err;
    cnn_status st = setup(r, o, o->classes > 0 ? o->classes : 10);
    if (st == CNN_OK) {
        const long in = (long)r->arch.in_h * r->arch.in_w * r->arch.in_c;
        r->order = malloc((size_t)r->ntrain * sizeof *r->order);
        r->bx = malloc((size_t)r->o.batch * (size_t)in);
        r->by = malloc((size_t)r->o.batch);
        if (!r->order || !r->bx || !r->by)
            st = cnn_fail(err, CNN_ERR_NOMEM, "out of memory for the training batches");
    }
    if (st == CNN_OK) {
        /* The options in force, for the caller to show. */
        r->o.arch = r->arch.spec;
        r->o.class_names = r->class_names[0] ? r->class_names : NULL;
        r->p.opts = &r->o;
        r->p.epoch = r->first_epoch;
        r->p.epochs = r->o.epochs;
        r->p.batch = r->first_batch;
        r->p.batches = r->batches;
        r->p.step = r->step;
        emit(r, CNN_EVENT_START);
        r->p.opts = NULL;
        st = train_epochs(r);
    }
    if (st == CNN_OK && params_out) {
        size_t bytes = (size_t)r->arch.param_count * sizeof(float);
        *params_out = malloc(bytes);
        if (!*params_out)
            st = cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
        else
            memcpy(*params_out, cnn_net_params(r->net), bytes);
    }
    free(r->by);
    free(r->bx);
    free(r->order);
    free(r->idx);
    cnn_dataset_free(&r->val);
    cnn_optim_free(r->opt);
    cnn_net_free(r->net);
    free(r);
    return st;
}
