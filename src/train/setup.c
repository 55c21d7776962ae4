/* setup.c — the start of a training run (cnn_train): the options' defaults
 * and checks, the network chosen (--arch, or the checkpoint's), the
 * validation split drawn, and either fresh weights from the seed or, on
 * --resume, the checkpoint's weights, optimizer state, RNG state and
 * position; then the schedule. Apart from the loop (train.c): all of it
 * is about where a run starts, fresh or resumed, and none of it runs per
 * step. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The optimizer for this architecture: weight decay on weights, not biases. */
static cnn_status make_optimizer(train_run *r)
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
static cnn_status restore_optimizer(train_run *r, const cnn_model_meta *m, long optim_step,
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
                train_note("optimizer state starts afresh: the checkpoint has none", r);
            continue;
        }
        if (b->count != s.len)
            return cnn_fail(r->err, CNN_ERR_FORMAT, "%s: tensor %s has %ld values, expected %ld",
                            path, b->name, b->count, s.len);
        memcpy(s.data, b->data, (size_t)s.len * sizeof(float));
    }
    return cnn_optim_set_step_count(r->opt, optim_step);
}

static cnn_status check_position(train_run *r, const cnn_model_meta *m, const char *path)
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
static cnn_status choose_arch(train_run *r, const cnn_train_opts *o, int classes,
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
static cnn_status split(train_run *r)
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

/* The epoch's order, and one batch's images and labels. */
static cnn_status alloc_batches(train_run *r)
{
    const long in = (long)r->arch.in_h * r->arch.in_w * r->arch.in_c;
    r->order = malloc((size_t)r->ntrain * sizeof *r->order);
    r->bx = malloc((size_t)r->o.batch * (size_t)in);
    r->by = malloc((size_t)r->o.batch);
    if (!r->order || !r->bx || !r->by)
        return cnn_fail(r->err, CNN_ERR_NOMEM, "out of memory for the training batches");
    return CNN_OK;
}

/* Start fresh, or pick up a checkpoint (train_internal.h). */
cnn_status train_setup(train_run *r, const cnn_train_opts *o, int classes)
{
    cnn_status st;
    cnn_model_meta *m = calloc(1, sizeof *m);
    float *loaded = NULL;
    long optim_step = 0;
    /* A local, so that gcc -fanalyzer sees it cannot change on the way. */
    const char *resume = o->resume_path;
    if (!m)
        return cnn_fail(r->err, CNN_ERR_NOMEM, "out of memory");
    r->o = *o;
    if (resume) {
        st = cnn_model_load(resume, &loaded, m, r->err);
        if (st == CNN_OK)
            st = ckpt_resume_options(resume, m, o, &r->o, &optim_step, &r->best, train_note, r,
                                     r->err);
        if (st != CNN_OK)
            goto out;
    }
    if ((st = check_opts(&r->o, r->train, r->err)) != CNN_OK ||
        (st = choose_arch(r, o, classes, resume ? m : NULL)) != CNN_OK ||
        (st = split(r)) != CNN_OK)
        goto out;
    /* Class names: the ones given, else a resumed run's checkpoint's. */
    const char *names = o->class_names ? o->class_names : resume ? m->class_names : "";
    if (names[0] && (st = cnn_model_check_class_names(names, r->arch.classes, r->err)) != CNN_OK)
        goto out;
    if (o->class_names && resume && strcmp(names, m->class_names) != 0)
        train_note(m->class_names[0]
                       ? "class names differ from the checkpoint's: the new ones are saved"
                       : "class names added: the checkpoint had none",
                   r);
    snprintf(r->class_names, sizeof r->class_names, "%s", names);
    r->batches = (r->ntrain + r->o.batch - 1) / r->o.batch;
    if (resume && (st = check_position(r, m, resume)) != CNN_OK)
        goto out;
    st = cnn_net_create(&r->net, &r->arch, r->o.impl, r->o.batch, r->o.threads);
    if (st != CNN_OK) {
        st = cnn_fail(r->err, st, "cannot create the network: %s", cnn_status_str(st));
        goto out;
    }
    if ((st = make_optimizer(r)) != CNN_OK)
        goto out;
    tuner_init(&r->tuner, o->threads == 0, cnn_net_max_threads(r->net));
    if (resume) {
        memcpy(cnn_net_params(r->net), loaded, (size_t)r->arch.param_count * sizeof(float));
        if ((st = restore_optimizer(r, m, optim_step, resume)) != CNN_OK)
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
    if ((st = cnn_schedule_check(&r->sched, r->err)) == CNN_OK)
        st = alloc_batches(r);
out:
    free(loaded);
    cnn_model_meta_free(m);
    free(m);
    return st;
}
