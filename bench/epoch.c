/* epoch.c — bench/layers --epoch: the network of --arch trained on the
 * real data set as a user trains it, and the test set inferred:
 *   1. ref against blas training steps (cnn_net_train_step) on the same
 *      real, shuffled batches, gathering included: the blas/ref ratio;
 *   2. --repeats whole epochs (default 3) of blas training through
 *      cnn_train itself (shuffle, gather, step, and its test-set
 *      evaluation after each epoch), timed by its progress events;
 *   3. INFER_PASSES more test-set passes of cnn_evaluate on the trained
 *      parameters; the inference row is the median over these and the
 *      evaluations of step 2.
 * Rows are per batch like the others (time ÷ batches), so samples/s is
 * exactly samples per epoch ÷ epoch time. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cnn_rng.h"
#include "cnn_train.h"

#define STEP_BUDGET_S 1.0 /* the ref-vs-blas step comparison */
#define INFER_PASSES 5

/* Cycles through the batches of one shuffled order. */
typedef struct {
    cnn_net *net;
    const cnn_dataset *ds;
    const int *order;
    uint8_t *bx, *by;
    int batch, batches, next;
    float lr;
    cnn_status st;
} real_steps;

static void real_step_body(void *p)
{
    real_steps *s = p;
    const long in = (long)s->ds->rows * s->ds->cols;
    int lo = s->next * s->batch;
    int n = s->ds->count - lo < s->batch ? s->ds->count - lo : s->batch;
    for (int i = 0; i < n; i++) { /* gathered as train.c gathers */
        memcpy(s->bx + i * in, s->ds->images + s->order[lo + i] * in, (size_t)in);
        s->by[i] = s->ds->labels[s->order[lo + i]];
    }
    cnn_status st = cnn_net_train_step(s->net, s->bx, s->by, n, s->lr, NULL, NULL);
    if (st != CNN_OK)
        s->st = st;
    s->next = (s->next + 1) % s->batches;
}

/* What cnn_train reports after each epoch. */
typedef struct {
    double *train_s, *test_s;
    int n;
} epoch_log;

static void on_progress(const cnn_progress *p, void *ctx)
{
    epoch_log *log = ctx;
    if (p->event != CNN_EVENT_EPOCH)
        return;
    log->train_s[log->n] = p->seconds;
    log->test_s[log->n] = p->test_seconds;
    log->n++;
    if (opt.fmt == FMT_TABLE)
        printf("epoch %d/%d: %.3f s, %.0f samples/s; train loss %.4f, accuracy %.2f%%; "
               "test accuracy %.2f%% (%.3f s)\n",
               p->epoch, p->epochs, p->seconds, p->seen / p->seconds, p->loss_sum / p->seen,
               100.0 * p->correct / p->seen, 100.0 * p->test_accuracy, p->test_seconds);
    fflush(stdout);
}

static void target_line(const char *what, double got, double want, const char *unit)
{
    report_line("  %-52s %12.2f%s  target >= %.2f%s  %s", what, got, unit, want, unit,
                got >= want ? "met" : "NOT met");
}

static void step_rows(int B, const cnn_dataset *train, cnn_train_opts *o, timing step[2])
{
    const cnn_arch *a = &opt.arch;
    const int batches = (train->count + B - 1) / B;
    int *order = xmalloc((size_t)train->count * sizeof *order);
    const long in = (long)train->rows * train->cols;
    uint8_t *bx = xmalloc((size_t)(B * in)), *by = xmalloc((size_t)B);
    float *params = falloc(a->param_count);
    cnn_rng rng;
    cnn_rng_seed(&rng, o->seed);
    cnn_params_init(a, params, &rng);
    for (int i = 0; i < train->count; i++)
        order[i] = i;
    cnn_rng_shuffle(&rng, order, train->count);
    for (int i = 0; i < 2; i++) {
        cnn_net *net = NULL;
        if (cnn_net_create(&net, a, (cnn_impl)i, B, opt.threads) != CNN_OK) {
            fprintf(stderr, PROG ": cannot create the %s network\n", cnn_impl_name((cnn_impl)i));
            exit(1);
        }
        memcpy(cnn_net_params(net), params, (size_t)a->param_count * sizeof(float));
        real_steps s = {net, train, order, bx, by, B, batches, 0, o->lr, CNN_OK};
        measure(real_step_body, &s, 0, opt.quick ? 0.0 : STEP_BUDGET_S, &step[i]);
        cnn_net_free(net);
        if (s.st != CNN_OK) {
            fprintf(stderr, PROG ": %s train step failed: %s\n", cnn_impl_name((cnn_impl)i),
                    cnn_status_str(s.st));
            failures++;
        }
    }
    free(params);
    free(order);
    free(bx);
    free(by);
}

void bench_epochs(int B, const cnn_dataset *train, const cnn_dataset *test)
{
    const cnn_arch *a = &opt.arch;
    const int epochs = opt.repeats > 0 ? opt.repeats : 3;
    const int batches = (train->count + B - 1) / B, test_batches = (test->count + B - 1) / B;
    cnn_train_opts o;
    cnn_train_opts_default(&o);
    o.epochs = epochs;
    o.batch = B;
    o.threads = opt.threads;
    o.impl = CNN_IMPL_BLAS;
    o.arch = a->spec;
    o.classes = a->classes;

    timing step[2];
    step_rows(B, train, &o, step);

    epoch_log log = {xmalloc((size_t)epochs * sizeof(double)),
                     xmalloc((size_t)(epochs + INFER_PASSES) * sizeof(double)), 0};
    float *params = NULL;
    cnn_err err = {{0}};
    cnn_status st = cnn_train(&o, train, test, on_progress, &log, &params, &err);
    if (st != CNN_OK || log.n != epochs) {
        fprintf(stderr, PROG ": training failed: %s\n", err.msg[0] ? err.msg : cnn_status_str(st));
        exit(1);
    }
    cnn_net *net = NULL;
    if (cnn_net_create(&net, a, CNN_IMPL_BLAS, B, opt.threads) != CNN_OK) {
        fprintf(stderr, PROG ": cannot create the blas network\n");
        exit(1);
    }
    memcpy(cnn_net_params(net), params, (size_t)a->param_count * sizeof(float));
    int ninf = epochs;
    for (int k = 0; k < INFER_PASSES; k++) {
        double loss, acc, t0 = now_s();
        if (cnn_evaluate(net, test, B, &loss, &acc, NULL) != CNN_OK) {
            fprintf(stderr, PROG ": test-set inference failed\n");
            exit(1);
        }
        log.test_s[ninf++] = now_s() - t0;
    }
    cnn_net_free(net);
    free(params);

    const double f_train = arch_flops(a, 0, 0) + arch_flops(a, 1, 0) + arch_flops(a, 2, 1) +
                           softmax_flops(a->classes, 0) + softmax_flops(a->classes, 2);
    const double f_infer = arch_flops(a, 0, 0) + softmax_flops(a->classes, 0);
    timing te, ti;
    summarize(log.train_s, epochs, &te, batches);
    summarize(log.test_s, ninf, &ti, test_batches);
    if (opt.fmt == FMT_TABLE)
        report_table_head();
    row r = make_row("epoch", "train", "blas", B, &te, f_train);
    r.samples = (double)train->count / batches;
    emit_row(&r);
    r = make_row("test-set", "inference", "blas", B, &ti, f_infer);
    r.samples = (double)test->count / test_batches;
    emit_row(&r);
    for (int i = 0; i < 2; i++) {
        r = make_row("train-step", "real-data", cnn_impl_name((cnn_impl)i), B, &step[i],
                     f_train);
        if (i == CNN_IMPL_BLAS)
            r.speedup = step[0].med / step[1].med;
        emit_row(&r);
    }

    const double train_sps = train->count / (te.med * batches);
    const double infer_sps = test->count / (ti.med * test_batches);
    const char *preset = cnn_arch_preset_name(a);
    report_line("targets at batch %d, %d threads (medians):", B, opt.threads);
    if (preset && strcmp(preset, "seed") == 0) {
        target_line("training through an epoch (samples/s)", train_sps, 60000, "");
        target_line("test-set inference (samples/s)", infer_sps, 250000, "");
        target_line("training step, blas over ref (x)", step[0].med / step[1].med, 20, "x");
    } else if (preset && strcmp(preset, "lenet5") == 0) {
        target_line("inference over training samples/s (x)", infer_sps / train_sps, 2.5, "x");
        if (report_peak() > 0)
            target_line("training through an epoch, % of SGEMM peak",
                        100.0 * train_sps * f_train * 1e-9 / report_peak(), 50, "%");
    } else {
        report_line("  (none for this architecture)");
    }
    free(log.train_s);
    free(log.test_s);
}
