/* train.c — the training loop (docs/maths.md §4): each epoch visits the training set
 * in an order drawn from the one RNG, one SGD step per mini-batch, then
 * evaluates on the test set. Checkpoints carry the RNG state at the start of
 * the epoch and the position in it, so a resumed run regenerates the same
 * order and continues bit for bit where the first one stopped. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cnn_train.h"

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
    if (ds->rows != a->in_h || ds->cols != a->in_w || batch < 1)
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
        st = cnn_net_infer(net, ds->images + lo * in, ds->labels + lo, n,
                           probs, &l, &c);
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

static void fill_meta(cnn_model_meta *m, const cnn_arch *arch, const cnn_train_opts *o,
                      const cnn_dataset *train, int epoch, int batch_in_epoch, long step,
                      const cnn_rng *epoch_rng)
{
    cnn_model_meta_init(m, arch);
    m->epochs = o->epochs;
    m->batch = o->batch;
    m->lr = o->lr;
    m->seed = o->seed;
    snprintf(m->impl, sizeof m->impl, "%s", cnn_impl_name(o->impl));
    m->epoch = epoch;
    m->batch_in_epoch = batch_in_epoch;
    m->step = step;
    m->rng = *epoch_rng;
    m->train_count = train->count;
    m->rows = train->rows;
    m->cols = train->cols;
    m->classes = arch->classes;
}

/* A checkpoint only resumes exactly on the run that made it: same data set
 * size, batch size and learning rate. */
static cnn_status check_resumable(const cnn_model_meta *m, const cnn_train_opts *o,
                                  const cnn_dataset *train, cnn_err *err)
{
    const char *p = o->resume_path;
    if (m->train_count != train->count)
        return cnn_fail(err, CNN_ERR_ARG,
                        "%s: checkpoint was trained on %d samples, this data set has %d", p,
                        m->train_count, train->count);
    if (m->batch != o->batch)
        return cnn_fail(err, CNN_ERR_ARG, "%s: checkpoint used --batch %d, not %d", p,
                        m->batch, o->batch);
    if (m->lr != o->lr)
        return cnn_fail(err, CNN_ERR_ARG, "%s: checkpoint used --lr %g, not %g", p,
                        (double)m->lr, (double)o->lr);
    const long batches = ((long)train->count + o->batch - 1) / o->batch;
    if (m->batch_in_epoch < 0 || m->batch_in_epoch >= batches || m->epoch < 0 || m->step < 0)
        return cnn_fail(err, CNN_ERR_FORMAT,
                        "%s: checkpoint position (epoch %d, batch %d, step %ld) is outside the "
                        "run (%ld batches per epoch)",
                        p, m->epoch, m->batch_in_epoch, m->step, batches);
    if (m->epoch > o->epochs || (m->epoch == o->epochs && m->batch_in_epoch > 0))
        return cnn_fail(err, CNN_ERR_ARG,
                        "%s: checkpoint is already past epoch %d (--epochs counts all epochs)",
                        p, o->epochs);
    return CNN_OK;
}

static void emit(cnn_progress_fn fn, void *ctx, cnn_progress *p, cnn_event ev)
{
    if (fn) {
        p->event = ev;
        fn(p, ctx);
    }
}

/* Which network: the checkpoint's when resuming (a different --arch is
 * refused), else opts->arch (default: the seed network). */
static cnn_status choose_arch(const cnn_train_opts *o, const cnn_dataset *train, int classes,
                              const cnn_model_meta *resumed, cnn_arch *arch, cnn_err *err)
{
    cnn_err aerr = {{0}};
    if (resumed) {
        *arch = resumed->arch;
        if (o->arch) {
            cnn_arch want;
            if (cnn_arch_parse(&want, o->arch, train->rows, train->cols, 1, classes, &aerr) ==
                    CNN_OK &&
                strcmp(want.spec, arch->spec) != 0)
                return cnn_fail(err, CNN_ERR_ARG, "%s: checkpoint is --arch %s, not %s",
                                o->resume_path, arch->spec, want.spec);
        }
        if (arch->in_h != train->rows || arch->in_w != train->cols || arch->classes != classes)
            return cnn_fail(err, CNN_ERR_ARG,
                            "%s: checkpoint takes %dx%d images in %d classes; the data set has "
                            "%dx%d in %d",
                            o->resume_path, arch->in_h, arch->in_w, arch->classes, train->rows,
                            train->cols, classes);
        return CNN_OK;
    }
    if (cnn_arch_parse(arch, o->arch ? o->arch : "seed", train->rows, train->cols, 1, classes,
                       &aerr) != CNN_OK)
        return cnn_fail(err, CNN_ERR_ARG, "--arch: %s", aerr.msg);
    return CNN_OK;
}

cnn_status cnn_train(const cnn_train_opts *o, const cnn_dataset *train,
                     const cnn_dataset *test, cnn_progress_fn fn, void *ctx,
                     float **params_out, cnn_err *err)
{
    if (o->epochs < 1 || o->batch < 1 || !(o->lr > 0.0f) || !isfinite(o->lr))
        return cnn_fail(err, CNN_ERR_ARG, "invalid training options");
    if (params_out)
        *params_out = NULL;
    const int classes = o->classes > 0 ? o->classes : 10;
    if (test && test->count > 0 && (test->rows != train->rows || test->cols != train->cols))
        return cnn_fail(err, CNN_ERR_ARG, "test images are %dx%d, training images %dx%d",
                        test->rows, test->cols, train->rows, train->cols);

    cnn_net *net = NULL;
    int *order = NULL;
    uint8_t *bx = NULL, *by = NULL;
    float *loaded = NULL;
    cnn_status st = CNN_OK;
    cnn_model_meta *m = calloc(1, sizeof *m), *meta = calloc(1, sizeof *meta);
    cnn_arch *arch = calloc(1, sizeof *arch);
    if (!m || !meta || !arch) {
        st = cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (o->resume_path) {
        st = cnn_model_load(o->resume_path, &loaded, m, err);
        if (st == CNN_OK)
            st = check_resumable(m, o, train, err);
        if (st != CNN_OK)
            goto done;
    }
    if ((st = choose_arch(o, train, classes, o->resume_path ? m : NULL, arch, err)) != CNN_OK)
        goto done;

    st = cnn_net_create(&net, arch, o->impl, o->batch, o->threads);
    if (st != CNN_OK) {
        st = cnn_fail(err, st, "cannot create the network: %s", cnn_status_str(st));
        goto done;
    }
    const long in = (long)arch->in_h * arch->in_w * arch->in_c;
    order = malloc((size_t)train->count * sizeof *order);
    bx = malloc((size_t)o->batch * (size_t)in);
    by = malloc((size_t)o->batch);
    if (!order || !bx || !by) {
        st = cnn_fail(err, CNN_ERR_NOMEM, "out of memory for the training batches");
        goto done;
    }

    cnn_rng rng;
    int first_epoch = 0, first_batch = 0;
    long step = 0;
    if (o->resume_path) {
        memcpy(cnn_net_params(net), loaded, (size_t)arch->param_count * sizeof(float));
        rng = m->rng;
        first_epoch = m->epoch;
        first_batch = m->batch_in_epoch;
        step = m->step;
    } else {
        cnn_rng_seed(&rng, o->seed);
        cnn_params_init(arch, cnn_net_params(net), &rng);
    }

    const int batches = (train->count + o->batch - 1) / o->batch;
    cnn_progress p = {0};
    p.epochs = o->epochs;
    p.batches = batches;
    for (int epoch = first_epoch; epoch < o->epochs; epoch++) {
        /* The epoch's order is a function of the RNG state alone. */
        cnn_rng epoch_rng = rng;
        for (int i = 0; i < train->count; i++)
            order[i] = i;
        cnn_rng_shuffle(&rng, order, train->count);

        int b0 = epoch == first_epoch ? first_batch : 0;
        p.epoch = epoch + 1;
        p.seen = 0;
        p.loss_sum = 0.0;
        p.correct = 0;
        double t0 = now_seconds();
        for (int b = b0; b < batches; b++) {
            int lo = b * o->batch;
            int n = train->count - lo < o->batch ? train->count - lo : o->batch;
            for (int i = 0; i < n; i++) {
                memcpy(bx + i * in, train->images + order[lo + i] * in, (size_t)in);
                by[i] = train->labels[order[lo + i]];
            }
            double loss = 0.0;
            int correct = 0;
            st = cnn_net_train_step(net, bx, by, n, o->lr, &loss, &correct);
            if (st == CNN_ERR_DIVERGED) {
                cnn_fail(err, st,
                         "training diverged at epoch %d, batch %d (loss %g); try a smaller --lr",
                         epoch + 1, b + 1, loss / n);
                goto done;
            }
            if (st != CNN_OK)
                goto done;
            step++;
            p.batch = b + 1;
            p.step = step;
            p.seen += n;
            p.loss_sum += loss;
            p.correct += correct;
            p.seconds = now_seconds() - t0;
            emit(fn, ctx, &p, CNN_EVENT_STEP);
            if (o->stop && *o->stop && b + 1 < batches) {
                st = CNN_ERR_INTERRUPTED;
                if (o->save_path) {
                    fill_meta(meta, arch, o, train, epoch, b + 1, step,
                              &epoch_rng);
                    cnn_status s2 = cnn_model_save(o->save_path, cnn_net_params(net), meta, err);
                    if (s2 != CNN_OK) {
                        st = s2;
                        goto done;
                    }
                    cnn_fail(err, st, "interrupted at epoch %d, batch %d; checkpoint saved to %s",
                             epoch + 1, b + 1, o->save_path);
                } else {
                    cnn_fail(err, st, "interrupted at epoch %d, batch %d; nothing saved (no --save)",
                             epoch + 1, b + 1);
                }
                goto done;
            }
        }
        p.seconds = now_seconds() - t0;
        p.test_count = 0;
        if (test && test->count > 0) {
            double t1 = now_seconds();
            st = cnn_evaluate(net, test, o->batch, &p.test_loss, &p.test_accuracy, NULL);
            if (st != CNN_OK)
                goto done;
            p.test_count = test->count;
            p.test_seconds = now_seconds() - t1;
        }
        emit(fn, ctx, &p, CNN_EVENT_EPOCH);
        if (o->save_path) {
            fill_meta(meta, arch, o, train, epoch + 1, 0, step, &rng);
            st = cnn_model_save(o->save_path, cnn_net_params(net), meta, err);
            if (st != CNN_OK)
                goto done;
            p.path = o->save_path;
            emit(fn, ctx, &p, CNN_EVENT_SAVED);
        }
        if (o->stop && *o->stop && epoch + 1 < o->epochs) {
            st = cnn_fail(err, CNN_ERR_INTERRUPTED, "interrupted after epoch %d%s%s", epoch + 1,
                          o->save_path ? "; checkpoint saved to " : "; nothing saved (no --save)",
                          o->save_path ? o->save_path : "");
            goto done;
        }
    }
    if (params_out) {
        *params_out = malloc((size_t)arch->param_count * sizeof(float));
        if (!*params_out) {
            st = cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
            goto done;
        }
        memcpy(*params_out, cnn_net_params(net), (size_t)arch->param_count * sizeof(float));
    }
done:
    free(arch);
    free(loaded);
    if (m)
        cnn_model_meta_free(m);
    free(m);
    free(meta);
    free(by);
    free(bx);
    free(order);
    cnn_net_free(net);
    return st;
}
