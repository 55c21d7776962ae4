/* train.c — the training loop (docs/maths.md §4): each epoch visits the
 * training samples in an order drawn from the one RNG; each mini-batch
 * gives the network's gradient (cnn_net_gradient) and the optimizer's
 * update at the schedule's rate (cnn_optim.h); then the validation split
 * and the test set are evaluated (evaluate.c). Checkpoints carry the RNG
 * state at the start of the epoch, the position in it, the optimizer's
 * state and the options (checkpoint.c), so a resumed run (setup.c)
 * regenerates the same order and continues bit for bit where the first one
 * stopped. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "train_internal.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void emit(train_run *r, cnn_event ev)
{
    if (r->fn) {
        r->p.event = ev;
        r->fn(&r->p, r->ctx);
    }
}

void train_note(const char *line, void *ctx)
{
    train_run *r = ctx;
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
static cnn_status save(train_run *r, const char *path, int epoch, int batch_in_epoch,
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

/* Name the first layer whose gradient is not finite. */
static void bad_gradient(train_run *r, int epoch, int b)
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
static cnn_status step(train_run *r, int epoch, int b)
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
static cnn_status evaluate_epoch(train_run *r, int epoch)
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

static cnn_status interrupted(train_run *r, int epoch, int b, const cnn_rng *epoch_rng)
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

static cnn_status train_epochs(train_run *r)
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
            train_note(line, r);
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
    train_run *r = calloc(1, sizeof *r);
    if (!r)
        return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    r->train = train;
    r->test = test;
    r->fn = fn;
    r->ctx = ctx;
    r->err = err;
    cnn_status st = train_setup(r, o, o->classes > 0 ? o->classes : 10);
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
