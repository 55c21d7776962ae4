/* batch.c — bench/layers at one batch size: the ref-vs-blas check
 * (check.c), then every stage of the network's plan timed through
 * cnn_net_run_stage, ref and blas, then the whole training step
 * (cnn_net_train_step) and inference (cnn_net_infer), and the sum of the
 * stages set against the whole.
 *
 * Rows follow the blas plan's stages (cnn_net_stage_name): a layer, or a
 * convolution fused with the ReLU and 2×2 average pooling after it. The ref
 * plan runs every layer as a stage of its own, so a blas stage's ref row
 * runs the ref stages of the same layers back to back. The fused blas stage
 * divides its backward work thus (src/net/stages.c): pass 1 does the
 * ReLU's and the pooling's backward (it needs the gradient at the
 * convolution's output for the weight gradient) and then the weight and
 * bias gradients; pass 2 only the convolution's input gradient. Its ref
 * rows are cut the same way, so each row pair does the same work and
 * shares one FLOP count (the sum over the layers and passes it covers, from
 * cnn_layer_flops). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cnn_optim.h"

#define TRAIN_LR 0.01f   /* small, so that timing steps on random data stay finite */

typedef struct {
    int stage, pass;
} step;

/* One row's work: the steps one impl runs, in order. */
typedef struct {
    step s[CNN_MAX_LAYERS + 1];
    int n;
    double flops;        /* per sample */
} work;

typedef struct {
    cnn_net *net;
    const work *w;
    const uint8_t *y;
    int n;
} stage_run;

static void stage_body(void *p)
{
    stage_run *r = p;
    for (int i = 0; i < r->w->n; i++)
        cnn_net_run_stage(r->net, r->w->s[i].stage, r->w->s[i].pass, r->y, r->n);
}

/* FLOPs per sample of one pass of one stage of `net` (softmax included). */
static double stage_flops(const cnn_net *net, int stage, int pass)
{
    const cnn_arch *a = cnn_net_arch(net);
    char buf[8];
    int first, count;
    cnn_net_stage_name(net, stage, buf, sizeof buf, &first, &count);
    if (stage >= cnn_net_stage_count(net))
        return softmax_flops(a->classes, pass);
    double f = 0;
    for (int i = first; i < first + count; i++)
        f += cnn_layer_flops(&a->layer[i], pass);
    return f;
}

static void add(work *w, const cnn_net *net, int stage, int pass)
{
    w->s[w->n++] = (step){stage, pass};
    w->flops += stage_flops(net, stage, pass);
}

/* The ref stage that runs layer i (the softmax: layer a->n). */
static int ref_stage_of(const cnn_net *ref, int layer)
{
    const int n = cnn_net_stage_count(ref);
    char buf[8];
    for (int s = 0; s < n; s++) {
        int first, count;
        cnn_net_stage_name(ref, s, buf, sizeof buf, &first, &count);
        if (layer >= first && layer < first + count)
            return s;
    }
    return n;
}

/* The work of blas stage s, pass `pass`, in each impl; 0 when the row does
 * not exist (no parameters: no pass 1; the first stage: no pass 2, as
 * training skips it; the softmax: pass 0 and 2 only). */
static int row_work(const bench_nets *b, int s, int pass, work *ref, work *blas)
{
    const cnn_net *rn = b->net[CNN_IMPL_REF], *bn = b->net[CNN_IMPL_BLAS];
    const cnn_arch *a = cnn_net_arch(bn);
    const int nst = cnn_net_stage_count(bn);
    memset(ref, 0, sizeof *ref);
    memset(blas, 0, sizeof *blas);
    if (s == nst) {
        if (pass == 1)
            return 0;
        add(ref, rn, cnn_net_stage_count(rn), pass);
        add(blas, bn, nst, pass);
        return 1;
    }
    char buf[8];
    int first, count, p = -1;
    cnn_net_stage_name(bn, s, buf, sizeof buf, &first, &count);
    for (int i = first; i < first + count && p < 0; i++)
        if (a->layer[i].w_count)
            p = i;
    if ((pass == 1 && p < 0) || (pass == 2 && s == 0))
        return 0;
    int lo = ref_stage_of(rn, first), hi = ref_stage_of(rn, first + count - 1) + 1;
    int rp = p >= 0 ? ref_stage_of(rn, p) : hi;
    if (pass == 0)
        for (int r = lo; r < hi; r++)
            add(ref, rn, r, 0);
    else if (pass == 1) {
        for (int r = hi - 1; r > rp; r--)
            add(ref, rn, r, 2);
        add(ref, rn, rp, 1);
    } else {
        for (int r = (p >= 0 ? rp : hi - 1); r >= lo; r--)
            add(ref, rn, r, 2);
    }
    add(blas, bn, s, pass);
    blas->flops = ref->flops; /* the same layers' work: one count */
    return 1;
}

typedef struct {
    cnn_net *net;
    const uint8_t *x, *y;
    int n;
    float *probs;
    cnn_status st;
} step_run;

static void train_body(void *p)
{
    step_run *s = p;
    cnn_status st = cnn_net_train_step(s->net, s->x, s->y, s->n, TRAIN_LR, NULL, NULL);
    if (st != CNN_OK)
        s->st = st;
}

static void infer_body(void *p)
{
    step_run *s = p;
    cnn_status st = cnn_net_infer(s->net, s->x, NULL, s->n, s->probs, NULL, NULL);
    if (st != CNN_OK)
        s->st = st;
}

/* The optimizer's update on its own, per rule (issue 8: under 5 % of a
 * training step), on scratch copies of a parameter block and a gradient of
 * the architecture's size, with its weight-decay ranges, at the thread
 * count the trainer gives it. */
typedef struct {
    cnn_optim *opt;
    float *p, *g;
    long n;
} update_run;

static void update_body(void *ctx)
{
    update_run *u = ctx;
    cnn_optim_step(u->opt, u->p, u->g, u->n, 1e-6f, NULL);
}

static void bench_updates(const cnn_arch *a, int B, double step_s)
{
    static const struct {
        const char *name;
        cnn_opt_kind kind;
        double momentum, wd;
    } rules[] = {{"sgd", CNN_OPT_SGD, 0.0, 0.0},
                 {"sgd-momentum", CNN_OPT_SGD, 0.9, 5e-4},
                 {"adam", CNN_OPT_ADAM, 0.0, 0.0},
                 {"adamw", CNN_OPT_ADAMW, 0.0, 0.01}};
    cnn_range decay[CNN_MAX_LAYERS];
    int nd = 0;
    for (int i = 0; i < a->n; i++)
        if (a->layer[i].w_count)
            decay[nd++] = (cnn_range){a->layer[i].w_off, a->layer[i].w_count};
    update_run u = {NULL, falloc(a->param_count), falloc(a->param_count), a->param_count};
    for (long i = 0; i < u.n; i++) {
        u.p[i] = 0.01f * (float)((i * 7919) % 201 - 100);
        u.g[i] = 1e-4f * (float)((i * 104729) % 201 - 100);
    }
    for (size_t k = 0; k < sizeof rules / sizeof rules[0]; k++) {
        cnn_optim_opts oo;
        cnn_optim_opts_default(&oo);
        oo.kind = rules[k].kind;
        oo.momentum = rules[k].momentum;
        oo.weight_decay = rules[k].wd;
        oo.threads = opt.threads;
        cnn_err err = {{0}};
        if (cnn_optim_create(&u.opt, &oo, u.n, decay, nd, &err) != CNN_OK) {
            fprintf(stderr, PROG ": %s\n", err.msg);
            failures++;
            break;
        }
        timing t;
        measure(update_body, &u, opt.repeats, row_budget(), &t);
        row r = make_row("update", rules[k].name, "blas", B, &t, 0.0);
        emit_row(&r);
        report_line("update %-12s %8.1f us per step = %.2f%% of the blas training step\n",
                    rules[k].name, 1e6 * t.med, 100.0 * t.med / step_s);
        cnn_optim_free(u.opt);
    }
    free(u.p);
    free(u.g);
}

static const char *DIRS[2][3] = {{"forward", "backward-dW", "backward-dX"},
                                 {"forward", "backward", "backward"}};

void bench_batch(int B)
{
    bench_nets b;
    nets_make(&b, &opt.arch, B);
    if (!nets_check(&b)) {
        report_line("check FAILED at batch %d: blas disagrees with ref; nothing timed", B);
        nets_free(&b);
        return;
    }
    report_line("check passed at batch %d: blas agrees with ref (max|blas-ref|/max|ref| <= %g)",
                B, CHECK_TOL);
    const cnn_arch *a = &opt.arch;
    const int nst = cnn_net_stage_count(b.net[CNN_IMPL_BLAS]);

    if (opt.fmt == FMT_TABLE)
        report_table_head();
    /* Sums of medians for "sum of parts": [impl][0 = infer, 1 = train]. */
    double parts[2][2] = {{0, 0}, {0, 0}}, part_flops[2] = {0, 0};
    char names[CNN_MAX_LAYERS + 1][160];
    for (int s = 0; s <= nst; s++) {
        int first, count;
        cnn_net_stage_name(b.net[CNN_IMPL_BLAS], s, names[s], sizeof names[s], &first, &count);
        for (int pass = 0; pass < 3; pass++) {
            work w[2];
            if (!row_work(&b, s, pass, &w[0], &w[1]))
                continue;
            timing t[2];
            for (int i = 0; i < 2; i++) {
                stage_run r = {b.net[i], &w[i], b.y, B};
                measure(stage_body, &r, opt.repeats, row_budget(), &t[i]);
                row rw = make_row(names[s], DIRS[s == nst][pass], cnn_impl_name((cnn_impl)i),
                                  B, &t[i], w[i].flops);
                rw.stage = s;
                rw.pass = pass;
                if (i == CNN_IMPL_BLAS)
                    rw.speedup = t[0].med / t[1].med;
                emit_row(&rw);
                parts[i][1] += t[i].med;
                if (pass == 0)
                    parts[i][0] += t[i].med;
            }
            part_flops[1] += w[0].flops;
            if (pass == 0)
                part_flops[0] += w[0].flops;
        }
    }
    /* The rows must cover exactly the step's work (cnn_layer_flops). */
    const double want[2] = {arch_flops(a, 0, 0) + softmax_flops(a->classes, 0),
                            arch_flops(a, 0, 0) + arch_flops(a, 1, 0) + arch_flops(a, 2, 1) +
                                softmax_flops(a->classes, 0) + softmax_flops(a->classes, 2)};
    for (int k = 0; k < 2; k++)
        if (fabs(part_flops[k] - want[k]) > 1e-9 * want[k]) {
            fprintf(stderr, PROG ": the stage rows count %.0f FLOPs per sample for %s, the "
                            "layers %.0f: a bench bug\n",
                    part_flops[k], k ? "training" : "inference", want[k]);
            failures++;
        }

    /* The whole: one parallel region per step, with what no stage row has
     * (uint8→float input scaling, padded filters, gradient reduction, SGD). */
    timing whole[2][2]; /* [impl][0 = infer, 1 = train] */
    float *probs = falloc((long)B * a->classes);
    for (int pass = 1; pass >= 0; pass--)
        for (int i = 0; i < 2; i++) {
            step_run s = {b.net[i], b.x, b.y, B, probs, CNN_OK};
            measure(pass ? train_body : infer_body, &s, opt.repeats, row_budget(),
                    &whole[i][pass]);
            if (s.st != CNN_OK) {
                fprintf(stderr, PROG ": %s %s failed while timing: %s\n",
                        cnn_impl_name((cnn_impl)i), pass ? "train step" : "inference",
                        cnn_status_str(s.st));
                failures++;
            }
            row r = make_row(pass ? "train-step" : "inference",
                             pass ? "fwd+bwd+update" : "forward", cnn_impl_name((cnn_impl)i), B,
                             &whole[i][pass], want[pass]);
            if (i == CNN_IMPL_BLAS)
                r.speedup = whole[0][pass].med / whole[1][pass].med;
            emit_row(&r);
        }
    free(probs);
    bench_updates(a, B, whole[CNN_IMPL_BLAS][1].med);
    for (int pass = 1; pass >= 0; pass--)
        for (int i = 0; i < 2; i++) {
            timing t = {parts[i][pass], 0, 0, 0, 0, 0, 0};
            row r = make_row("sum-of-parts", pass ? "train" : "infer",
                             cnn_impl_name((cnn_impl)i), B, &t, part_flops[pass]);
            r.has_spread = 0;
            if (i == CNN_IMPL_BLAS)
                r.speedup = parts[0][pass] / parts[1][pass];
            r.whole_over_parts = whole[i][pass].med / parts[i][pass];
            emit_row(&r);
        }
    if (opt.fmt == FMT_TABLE) {
        printf("whole / sum of parts (batch %d):", B);
        for (int pass = 1; pass >= 0; pass--)
            for (int i = 0; i < 2; i++)
                printf("  %s %s %.2f", pass ? "train" : "infer", cnn_impl_name((cnn_impl)i),
                       whole[i][pass].med / parts[i][pass]);
        printf("\n");
    }
    const double step_gf = want[1] * B / whole[CNN_IMPL_BLAS][1].med * 1e-9;
    if (report_peak() > 0) {
        const char *preset = cnn_arch_preset_name(a);
        int lenet = preset && strcmp(preset, "lenet5") == 0;
        report_line("training step, blas, batch %d: %.2f GFLOP/s = %.1f%% of the SGEMM peak "
                    "%.2f GFLOP/s%s",
                    B, step_gf, 100.0 * step_gf / report_peak(), report_peak(),
                    lenet ? (100.0 * step_gf / report_peak() >= 50.0
                                 ? " (issue 7 target for lenet5: >= 50%: met)"
                                 : " (issue 7 target for lenet5: >= 50%: NOT met)")
                          : "");
    }
    nets_free(&b);
}
