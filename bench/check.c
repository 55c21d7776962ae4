/* check.c — the ref and blas networks bench/layers times, and the check
 * that must pass before any of their times mean anything: with the same
 * parameters (cnn_params_init) and the same synthetic batch, one inference
 * and one training step's gradient (cnn_net_infer, cnn_net_gradient) in
 * both, then the loss, every layer's weight and bias gradient and the
 * probabilities compared, each as max|blas − ref| / max|ref| ≤ CHECK_TOL.
 * The layers' own kernel tests are in tests/; this checks the network as
 * the trainer runs it, layer by layer, for the architecture given. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cnn_rng.h"

static cnn_net *make_net(const cnn_arch *a, cnn_impl impl, int batch, const float *params)
{
    cnn_net *net = NULL;
    cnn_status st = cnn_net_create(&net, a, impl, batch, opt.threads);
    if (st != CNN_OK) {
        fprintf(stderr, PROG ": cannot create the %s network: %s\n", cnn_impl_name(impl),
                cnn_status_str(st));
        exit(1);
    }
    memcpy(cnn_net_params(net), params, (size_t)a->param_count * sizeof(float));
    return net;
}

void nets_make(bench_nets *b, const cnn_arch *a, int batch)
{
    const long in = (long)a->in_h * a->in_w * a->in_c;
    cnn_rng rng;
    b->batch = batch;
    b->params = falloc(a->param_count);
    cnn_rng_seed(&rng, 1);
    cnn_params_init(a, b->params, &rng);
    /* Random pixels and labels: realistic enough for timing (ReLU's zeros,
     * gradients at their real scale), and the same in both networks. */
    cnn_rng_seed(&rng, 2);
    b->x = xmalloc((size_t)(batch * in));
    b->y = xmalloc((size_t)batch);
    for (long i = 0; i < batch * in; i++)
        b->x[i] = (uint8_t)cnn_rng_below(&rng, 256);
    for (int i = 0; i < batch; i++)
        b->y[i] = (uint8_t)cnn_rng_below(&rng, (uint32_t)a->classes);
    for (int i = 0; i < 2; i++)
        b->net[i] = make_net(a, (cnn_impl)i, batch, b->params);
}

void nets_free(bench_nets *b)
{
    for (int i = 0; i < 2; i++)
        cnn_net_free(b->net[i]);
    free(b->params);
    free(b->x);
    free(b->y);
    memset(b, 0, sizeof *b);
}

/* max|a − ref| / max|ref|; 0 when both are all zero, infinity when only
 * ref is, NaN when anything is NaN. *maxref_out: max|ref|. */
static double rel_error(const float *a, const float *ref, long n, double *maxref_out)
{
    double maxref = 0.0, maxdiff = 0.0;
    *maxref_out = NAN;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)ref[i]);
        if (isnan(d))
            return NAN;
        if (fabs((double)ref[i]) > maxref)
            maxref = fabs((double)ref[i]);
        if (d > maxdiff)
            maxdiff = d;
    }
    *maxref_out = maxref;
    if (maxref == 0.0)
        return maxdiff == 0.0 ? 0.0 : INFINITY;
    return maxdiff / maxref;
}

static int item(const char *what, int batch, double rel, double maxref)
{
    report_check(what, batch, rel, maxref, CHECK_TOL);
    return rel <= CHECK_TOL; /* false for NaN */
}

int nets_check(bench_nets *b)
{
    const cnn_arch *a = cnn_net_arch(b->net[0]);
    const int B = b->batch;
    float *probs[2] = {falloc((long)B * a->classes), falloc((long)B * a->classes)};
    double loss[2], maxref;
    for (int i = 0; i < 2; i++) {
        /* inference first, so that the nets' buffers end as a step leaves them */
        cnn_status st = cnn_net_infer(b->net[i], b->x, NULL, B, probs[i], NULL, NULL);
        if (st == CNN_OK)
            st = cnn_net_gradient(b->net[i], b->x, b->y, B, &loss[i], NULL);
        if (st != CNN_OK) {
            fprintf(stderr, PROG ": the %s network failed its first step: %s\n",
                    cnn_impl_name((cnn_impl)i), cnn_status_str(st));
            exit(1);
        }
    }
    int ok = 1;
    double rel = fabs(loss[1] - loss[0]) / (loss[0] != 0.0 ? fabs(loss[0]) : 1.0);
    ok &= item("loss", B, rel, fabs(loss[0]));
    const float *g[2] = {cnn_net_grads(b->net[0]), cnn_net_grads(b->net[1])};
    char what[96];
    for (int i = 0; i < a->n; i++) {
        const cnn_layer *l = &a->layer[i];
        if (!l->w_count)
            continue;
        snprintf(what, sizeof what, "layer %d %s: weight gradient", i + 1, l->text);
        rel = rel_error(g[1] + l->w_off, g[0] + l->w_off, l->w_count, &maxref);
        ok &= item(what, B, rel, maxref);
        snprintf(what, sizeof what, "layer %d %s: bias gradient", i + 1, l->text);
        rel = rel_error(g[1] + l->b_off, g[0] + l->b_off, l->b_count, &maxref);
        ok &= item(what, B, rel, maxref);
    }
    rel = rel_error(probs[1], probs[0], (long)B * a->classes, &maxref);
    ok &= item("inference probabilities", B, rel, maxref);
    free(probs[0]);
    free(probs[1]);
    return ok;
}
