/* net.c — the network object: parameters and gradients in flat blocks,
 * per-thread workspaces, and the mini-batch gradient run across OpenMP
 * threads as a loop over the plan's stages (stages.c), forward then back.
 *
 * Determinism: a batch is cut into chunks of CNN_CHUNK samples, a cut that
 * does not depend on the thread count. Each chunk writes its own partial
 * gradient; the partials are then summed in chunk order. Whichever thread
 * runs a chunk, the arithmetic is the same, so 1, 2 or 8 threads give
 * bitwise identical weights, for every architecture.
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_blas.h"
#include "net_internal.h"

static float *alloc_floats(long n)
{
    float *p = aligned_alloc(64, (size_t)cnn_padded(n > 0 ? n : 1) * sizeof(float));
    if (p)
        memset(p, 0, (size_t)cnn_padded(n > 0 ? n : 1) * sizeof(float));
    return p;
}

static int chunk_count(int n) { return (n + CNN_CHUNK - 1) / CNN_CHUNK; }

cnn_status cnn_net_create(cnn_net **out, const cnn_arch *arch, cnn_impl impl, int max_batch,
                          int threads)
{
    *out = NULL;
    if (!arch || arch->n < 1 || max_batch < 1 || threads < 0 ||
        (impl != CNN_IMPL_REF && impl != CNN_IMPL_BLAS))
        return CNN_ERR_ARG;
    int default_threads = cnn_blas_single_thread();
    cnn_net *net = calloc(1, sizeof *net);
    if (!net)
        return CNN_ERR_NOMEM;
    net->arch = *arch;
    net->impl = impl;
    net->max_batch = max_batch;
    net->threads = threads > 0 ? threads : default_threads;
    net->max_chunks = chunk_count(max_batch);
    /* No more workspaces than chunks can run at once: memory follows the
     * work, not --threads. */
    net->nws = net->threads < net->max_chunks ? net->threads : net->max_chunks;
    net->active = net->nws;
    net->nparams = arch->param_count;
    net->stride = cnn_padded(net->nparams);
    cnn_plan(net);
    net->params = alloc_floats(net->nparams);
    net->grads = alloc_floats(net->nparams);
    net->wpad = alloc_floats(cnn_plan_wpad_size(net));
    /* chunk_grads: made by the first gradient, not here — a network only
     * for inference (eval of a model trained at batch 65536) never needs
     * max_chunks copies of the parameters. */
    net->chunk_loss = calloc((size_t)net->max_chunks, sizeof *net->chunk_loss);
    net->chunk_correct = calloc((size_t)net->max_chunks, sizeof *net->chunk_correct);
    net->ws = calloc((size_t)net->nws, sizeof *net->ws);
    int ok = net->params && net->grads && net->wpad && net->chunk_loss &&
             net->chunk_correct && net->ws;
    const long wsize = cnn_workspace_size(net);
    for (int t = 0; ok && t < net->nws; t++) {
        float *base = alloc_floats(wsize);
        ok = base != NULL;
        if (ok)
            cnn_workspace_carve(net, &net->ws[t], base);
    }
    if (!ok) {
        cnn_net_free(net);
        return CNN_ERR_NOMEM;
    }
    *out = net;
    return CNN_OK;
}

void cnn_net_free(cnn_net *net)
{
    if (!net)
        return;
    for (int t = 0; net->ws && t < net->nws; t++)
        free(net->ws[t].base);
    free(net->ws);
    cnn_optim_free(net->sgd);
    free(net->chunk_correct);
    free(net->chunk_loss);
    free(net->chunk_grads);
    free(net->wpad);
    free(net->grads);
    free(net->params);
    free(net);
}

const cnn_arch *cnn_net_arch(const cnn_net *net) { return &net->arch; }
long cnn_net_param_count(const cnn_net *net) { return net->nparams; }
float *cnn_net_params(cnn_net *net) { return net->params; }
const float *cnn_net_grads(const cnn_net *net) { return net->grads; }
float *cnn_net_grads_mutable(cnn_net *net) { return net->grads; }
cnn_impl cnn_net_impl(const cnn_net *net) { return net->impl; }
int cnn_net_threads(const cnn_net *net) { return net->threads; }
int cnn_net_active_threads(const cnn_net *net) { return net->active; }
int cnn_net_max_threads(const cnn_net *net) { return net->nws; }

void cnn_net_set_active_threads(cnn_net *net, int t)
{
    net->active = t < 1 ? 1 : t > net->nws ? net->nws : t;
}

int cnn_impl_parse(const char *s, cnn_impl *out)
{
    if (strcmp(s, "ref") == 0)
        *out = CNN_IMPL_REF;
    else if (strcmp(s, "blas") == 0)
        *out = CNN_IMPL_BLAS;
    else
        return -1;
    return 0;
}

const char *cnn_impl_name(cnn_impl impl) { return impl == CNN_IMPL_REF ? "ref" : "blas"; }

static int argmax(const float *v, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

static cnn_workspace *my_workspace(const cnn_net *net)
{
    return &net->ws[omp_get_thread_num()];
}

/* Forward m samples through every stage; returns the summed loss and
 * counts correct predictions when labels are given. */
static double forward_chunk(const cnn_net *net, cnn_workspace *w, const uint8_t *x,
                            const uint8_t *y, int m, int *correct)
{
    const cnn_arch *a = &net->arch;
    const long in = (long)a->in_h * a->in_w * a->in_c;
    const float scale = 1.0f / (255.0f * CNN_INPUT_STD), shift = CNN_INPUT_MEAN / CNN_INPUT_STD;
    for (long i = 0; i < (long)m * in; i++)
        w->x[i] = (float)x[i] * scale - shift;
    for (int s = 0; s < net->nstages; s++)
        cnn_stage_forward(net, w, s, m);
    double loss = cnn_softmax_xent_forward(w->probs, cnn_stage_logits(net, w), y, m, a->classes);
    if (y && correct) {
        *correct = 0;
        for (int n = 0; n < m; n++)
            *correct += argmax(w->probs + (long)n * a->classes, a->classes) == y[n];
    }
    return loss;
}

/* Backward m samples, adding their gradient (scaled by `scale`) into g. The
 * first stage's input gradient is not computed: its input is the data. */
static void backward_chunk(const cnn_net *net, cnn_workspace *w, float *g, const uint8_t *y,
                           int m, float scale)
{
    cnn_softmax_xent_backward(w->dcur, w->probs, y, m, net->arch.classes, scale);
    for (int s = net->nstages - 1; s >= 0; s--) {
        cnn_stage_backward(net, w, g, s, 1, m);
        if (s > 0) {
            cnn_stage_backward(net, w, g, s, 2, m);
            float *t = w->dcur;
            w->dcur = w->dnext;
            w->dnext = t;
        }
    }
}

/* Sum the chunk totals in chunk order (the order is what makes it reproducible). */
static void gather_totals(const cnn_net *net, int nchunks, double *loss_sum, int *correct)
{
    double loss = 0.0;
    int right = 0;
    for (int c = 0; c < nchunks; c++) {
        loss += net->chunk_loss[c];
        right += net->chunk_correct[c];
    }
    if (loss_sum)
        *loss_sum = loss;
    if (correct)
        *correct = right;
}

static int labels_ok(const cnn_net *net, const uint8_t *y, int n)
{
    for (int i = 0; i < n; i++)
        if (y[i] >= net->arch.classes)
            return 0;
    return 1;
}

/* The per-chunk partial gradients, made when first needed. */
static int ensure_chunk_grads(cnn_net *net)
{
    if (!net->chunk_grads)
        net->chunk_grads = alloc_floats(net->max_chunks * net->stride);
    return net->chunk_grads != NULL;
}

cnn_status cnn_net_chunks(cnn_net *net, const uint8_t *x, const uint8_t *y, int n, int lo,
                          int hi)
{
    const int nchunks = chunk_count(n);
    if (n < 1 || n > net->max_batch || !x || !y || lo < 0 || hi > nchunks || lo > hi ||
        !labels_ok(net, y, n))
        return CNN_ERR_ARG;
    if (!ensure_chunk_grads(net))
        return CNN_ERR_NOMEM;
    const long stride = net->stride, in = (long)net->arch.in_h * net->arch.in_w * net->arch.in_c;
    const long nparams = net->nparams;
    const float scale = 1.0f / (float)n;
    cnn_plan_pad_weights(net);

#pragma omp parallel for num_threads(net->active) schedule(static)
    for (int c = lo; c < hi; c++) {
        cnn_workspace *w = my_workspace(net);
        int first = c * CNN_CHUNK, m = n - first < CNN_CHUNK ? n - first : CNN_CHUNK;
        float *g = net->chunk_grads + c * stride;
        memset(g, 0, (size_t)nparams * sizeof *g);
        net->chunk_loss[c] = forward_chunk(net, w, x + first * in, y + first, m,
                                           &net->chunk_correct[c]);
        backward_chunk(net, w, g, y + first, m, scale);
    }
    return CNN_OK;
}

void cnn_net_fold(const cnn_net *net, int lo, int hi, float *acc, long off, long len)
{
    const long stride = net->stride;
    const float *cg = net->chunk_grads;
#pragma omp parallel for num_threads(net->active) schedule(static)
    for (long i = off; i < off + len; i++) {
        float s = acc[i - off];
        for (int c = lo; c < hi; c++)
            s += cg[c * stride + i];
        acc[i - off] = s;
    }
}

const double *cnn_net_chunk_loss(const cnn_net *net) { return net->chunk_loss; }
const int *cnn_net_chunk_correct(const cnn_net *net) { return net->chunk_correct; }
int cnn_net_chunk_count(int n) { return chunk_count(n); }

cnn_status cnn_net_gradient(cnn_net *net, const uint8_t *x, const uint8_t *y, int n,
                            double *loss_sum, int *correct)
{
    const int nchunks = chunk_count(n);
    cnn_status st = cnn_net_chunks(net, x, y, n, 0, nchunks);
    if (st != CNN_OK)
        return st;
    gather_totals(net, nchunks, loss_sum, correct);
    for (int c = 0; c < nchunks; c++)
        if (!isfinite(net->chunk_loss[c]))
            return CNN_ERR_DIVERGED;
    /* 0 + c0 + c1 + … in chunk order: what a chain of processes computes
     * too (cnn_dist.h), so the bits do not depend on the process count. */
    memset(net->grads, 0, (size_t)net->nparams * sizeof *net->grads);
    cnn_net_fold(net, 0, nchunks, net->grads, 0, net->nparams);
    return CNN_OK;
}

/* The update is src/optim's SGD with its defaults (no momentum, decay or
 * clipping), the rule `cnn train` runs; made by the first step, so that a
 * network that never trains carries no optimizer. */
cnn_status cnn_net_train_step(cnn_net *net, const uint8_t *x, const uint8_t *y, int n,
                              float lr, double *loss_sum, int *correct)
{
    cnn_status st;
    if (!net->sgd) {
        cnn_optim_opts o;
        cnn_optim_opts_default(&o);
        if ((st = cnn_optim_create(&net->sgd, &o, net->nparams, NULL, 0, NULL)) != CNN_OK)
            return st;
    }
    if ((st = cnn_net_gradient(net, x, y, n, loss_sum, correct)) != CNN_OK)
        return st; /* the weights stay at their last finite values */
    cnn_optim_set_threads(net->sgd, net->active);
    return cnn_optim_step(net->sgd, net->params, net->grads, net->nparams, lr, NULL);
}

cnn_status cnn_net_infer(cnn_net *net, const uint8_t *x, const uint8_t *y, int n, float *probs,
                         double *loss_sum, int *correct)
{
    if (n < 1 || n > net->max_batch || !x || (y && !labels_ok(net, y, n)))
        return CNN_ERR_ARG;
    const int nchunks = chunk_count(n), classes = net->arch.classes;
    const long in = (long)net->arch.in_h * net->arch.in_w * net->arch.in_c;
    cnn_plan_pad_weights(net);
#pragma omp parallel for num_threads(net->active) schedule(static)
    for (int c = 0; c < nchunks; c++) {
        cnn_workspace *w = my_workspace(net);
        int lo = c * CNN_CHUNK, m = n - lo < CNN_CHUNK ? n - lo : CNN_CHUNK;
        net->chunk_loss[c] = forward_chunk(net, w, x + lo * in, y ? y + lo : NULL, m,
                                           &net->chunk_correct[c]);
        if (probs)
            memcpy(probs + (long)lo * classes, w->probs, (size_t)m * classes * sizeof *probs);
    }
    gather_totals(net, nchunks, loss_sum, correct);
    return CNN_OK;
}

/* ---- stages, for bench/layers ---- */

int cnn_net_stage_count(const cnn_net *net) { return net->nstages; }

const char *cnn_net_stage_name(const cnn_net *net, int stage, char *buf, int cap, int *first,
                               int *count)
{
    if (stage >= net->nstages) {
        snprintf(buf, (size_t)cap, "softmax+xent");
        *first = net->arch.n;
        *count = 0;
        return buf;
    }
    const cnn_stage *st = &net->stage[stage];
    int len = 0;
    buf[0] = '\0';
    for (int i = st->first; i < st->first + st->count && len < cap; i++)
        len += snprintf(buf + len, (size_t)(cap - len), "%s%s", i > st->first ? "+" : "",
                        net->arch.layer[i].text);
    *first = st->first;
    *count = st->count;
    return buf;
}

void cnn_net_run_stage(cnn_net *net, int stage, int pass, const uint8_t *y, int n)
{
    const int nchunks = chunk_count(n < net->max_batch ? n : net->max_batch);
    const long stride = net->stride;
    const int classes = net->arch.classes;
    cnn_plan_pad_weights(net);
    if (!ensure_chunk_grads(net))
        return;
#pragma omp parallel for num_threads(net->active) schedule(static)
    for (int c = 0; c < nchunks; c++) {
        cnn_workspace *w = my_workspace(net);
        int lo = c * CNN_CHUNK, m = n - lo < CNN_CHUNK ? n - lo : CNN_CHUNK;
        float *g = net->chunk_grads + c * stride;
        if (stage >= net->nstages) {
            if (pass == 0)
                net->chunk_loss[c] = cnn_softmax_xent_forward(w->probs, cnn_stage_logits(net, w),
                                                              y + lo, m, classes);
            else
                cnn_softmax_xent_backward(w->dcur, w->probs, y + lo, m, classes, 1.0f / (float)n);
        } else if (pass == 0) {
            cnn_stage_forward(net, w, stage, m);
        } else {
            cnn_stage_backward(net, w, g, stage, pass, m);
        }
    }
}
