/* report.c — bench/layers' output: the run's header, the rows as a table,
 * CSV or JSON, the check's items, and free text. With --csv stdout is one
 * CSV table (header line first; columns stable, new ones only appended,
 * since tools parse it) and everything else goes to stderr; with --json
 * stdout is one JSON document. bench/README.md says what each column
 * means. */
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static int json_rows;           /* rows printed so far (JSON commas) */
static int layer_width = 18;
static double peak_gflops;

typedef struct {
    char what[96];
    int batch;
    double rel, maxref, tol;
} check_item;

static check_item checks[4 * CNN_MAX_LAYERS];
static int nchecks;

static const char *CSV_HEAD =
    "layer,direction,impl,batch,threads,repeats,inner,median_s,p10_s,p90_s,min_s,max_s,"
    "samples_per_s,flops_per_sample,gflops,speedup,whole_over_parts,"
    "peak_fraction,stage,pass\n";

FILE *report_text(void) { return opt.fmt == FMT_TABLE ? stdout : stderr; }

void report_set_peak(double gflops) { peak_gflops = gflops; }
double report_peak(void) { return peak_gflops; }

void report_layer_width(int w)
{
    if (w > layer_width)
        layer_width = w;
}

row make_row(const char *layer, const char *dir, const char *impl, int batch, const timing *t,
             double flops)
{
    row r = {layer, dir, impl, batch, opt.threads, *t, 1, (double)batch, flops, 0, 0, -1, -1};
    return r;
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* JSON has no NaN or infinity: null for those and for "none". */
static void json_num(FILE *f, double v, int none)
{
    if (none || !isfinite(v))
        fputs("null", f);
    else
        fprintf(f, "%.6g", v);
}

static void csv_num(double v, int none)
{
    if (!none && isfinite(v))
        printf("%.6g", v);
}

void report_line(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(report_text(), fmt, ap);
    fputc('\n', report_text());
    va_end(ap);
    fflush(report_text());
}

void report_check(const char *what, int batch, double rel, double maxref, double tol)
{
    int ok = rel <= tol;
    fprintf(report_text(), "  check %-40s max|ref| %-9.3g max|blas-ref|/max|ref| %-9.2g %s%s\n",
            what, maxref, rel, ok ? "ok" : "MISMATCH", maxref == 0.0 ? " (all zero)" : "");
    if (!ok) {
        fprintf(stderr, PROG ": MISMATCH %s at batch %d: max|blas - ref|/max|ref| = %.3g > %.3g\n",
                what, batch, rel, tol);
        failures++;
    }
    if (nchecks < (int)(sizeof checks / sizeof checks[0])) {
        check_item *c = &checks[nchecks++];
        snprintf(c->what, sizeof c->what, "%s", what);
        c->batch = batch;
        c->rel = rel;
        c->maxref = maxref;
        c->tol = tol;
    }
}

void report_table_head(void)
{
    printf("%-*s %-14s %-6s %5s %3s %4s %11s %23s %11s %8s %6s %8s\n", layer_width, "layer",
           "direction", "impl", "batch", "thr", "reps", "us/batch", "p10 - p90 (us)",
           "samples/s", "GFLOP/s", "%peak", "speed-up");
}

static void emit_csv(const row *r, double sps, double gflops, double frac)
{
    const timing *t = &r->t;
    printf("%s,%s,%s,%d,%d,", r->layer, r->dir, r->impl, r->batch, r->threads);
    if (r->has_spread)
        printf("%d,%d", t->repeats, t->inner);
    else
        printf(",");
    printf(",%.6g,", t->med);
    csv_num(t->p10, !r->has_spread);
    putchar(',');
    csv_num(t->p90, !r->has_spread);
    putchar(',');
    csv_num(t->min, !r->has_spread);
    putchar(',');
    csv_num(t->max, !r->has_spread);
    printf(",%.6g,", sps);
    csv_num(r->flops, r->flops <= 0);
    putchar(',');
    csv_num(gflops, 0);
    putchar(',');
    csv_num(r->speedup, r->speedup <= 0);
    putchar(',');
    csv_num(r->whole_over_parts, r->whole_over_parts <= 0);
    putchar(',');
    csv_num(frac, 0);
    putchar(',');
    if (r->stage >= 0)
        printf("%d,%d", r->stage, r->pass);
    else
        putchar(',');
    putchar('\n');
}

static void emit_json(const row *r, double sps, double gflops, double frac)
{
    const timing *t = &r->t;
    const int ns = !r->has_spread;
    printf("%s\n    {\"layer\": ", json_rows++ ? "," : "");
    json_string(stdout, r->layer);
    printf(", \"direction\": ");
    json_string(stdout, r->dir);
    printf(", \"impl\": ");
    json_string(stdout, r->impl);
    printf(", \"batch\": %d, \"threads\": %d, \"repeats\": ", r->batch, r->threads);
    json_num(stdout, t->repeats, ns);
    printf(", \"inner\": ");
    json_num(stdout, t->inner, ns);
    printf(", \"median_s\": ");
    json_num(stdout, t->med, 0);
    printf(", \"p10_s\": ");
    json_num(stdout, t->p10, ns);
    printf(", \"p90_s\": ");
    json_num(stdout, t->p90, ns);
    printf(", \"min_s\": ");
    json_num(stdout, t->min, ns);
    printf(", \"max_s\": ");
    json_num(stdout, t->max, ns);
    printf(", \"samples_per_s\": ");
    json_num(stdout, sps, 0);
    printf(", \"flops_per_sample\": ");
    json_num(stdout, r->flops, r->flops <= 0);
    printf(", \"gflops\": ");
    json_num(stdout, gflops, 0);
    printf(", \"speedup\": ");
    json_num(stdout, r->speedup, r->speedup <= 0);
    printf(", \"whole_over_parts\": ");
    json_num(stdout, r->whole_over_parts, r->whole_over_parts <= 0);
    printf(", \"peak_fraction\": ");
    json_num(stdout, frac, 0);
    printf(", \"stage\": ");
    json_num(stdout, r->stage, r->stage < 0);
    printf(", \"pass\": ");
    json_num(stdout, r->pass, r->stage < 0);
    printf("}");
}

void emit_row(const row *r)
{
    const timing *t = &r->t;
    double sps = r->samples / t->med;
    double gflops = r->flops > 0 ? r->flops * sps * 1e-9 : NAN;
    double frac = peak_gflops > 0 ? gflops / peak_gflops : NAN;
    if (opt.fmt == FMT_CSV) {
        emit_csv(r, sps, gflops, frac);
    } else if (opt.fmt == FMT_JSON) {
        emit_json(r, sps, gflops, frac);
    } else {
        char spread[48] = "-", reps[16] = "-", gf[16] = "-", pk[16] = "-", sp[16] = "-";
        if (r->has_spread) {
            snprintf(spread, sizeof spread, "%.1f - %.1f", t->p10 * 1e6, t->p90 * 1e6);
            snprintf(reps, sizeof reps, "%d", t->repeats);
        }
        if (isfinite(gflops))
            snprintf(gf, sizeof gf, "%.2f", gflops);
        if (isfinite(frac))
            snprintf(pk, sizeof pk, "%.1f", 100.0 * frac);
        if (r->speedup > 0)
            snprintf(sp, sizeof sp, "%.1fx", r->speedup);
        printf("%-*s %-14s %-6s %5d %3d %4s %11.1f %23s %11.0f %8s %6s %8s\n", layer_width,
               r->layer, r->dir, r->impl, r->batch, r->threads, reps, t->med * 1e6, spread, sps,
               gf, pk, sp);
    }
    fflush(stdout);
}

static void print_header(FILE *f, double load_start, const cnn_dataset *train,
                         const cnn_dataset *test, double load_s)
{
    const cnn_arch *a = &opt.arch;
    const char *coretype = getenv("OPENBLAS_CORETYPE"), *preset = cnn_arch_preset_name(a);
    fprintf(f, "bench/layers%s\n",
            opt.epoch ? " --epoch: blas training epochs and test-set inference"
                      : ": the network's stages, ref vs blas, the step, inference");
    fprintf(f, "CPU: %s; %d cores, load average %.2f\n", cpu_model(), omp_get_num_procs(),
            load_start);
    fprintf(f, "BLAS: %s%s%s\n", blas_name(), coretype ? "; OPENBLAS_CORETYPE=" : "",
            coretype ? coretype : "");
    fprintf(f, "arch: %s%s%s%s; %ld parameters; input %dx%dx%d, %d classes\n", a->spec,
            preset ? " (" : "", preset ? preset : "", preset ? ")" : "", a->param_count,
            a->in_h, a->in_w, a->in_c, a->classes);
    double f0 = arch_flops(a, 0, 0), f1 = arch_flops(a, 1, 0), f2 = arch_flops(a, 2, 1);
    double sm0 = softmax_flops(a->classes, 0), sm2 = softmax_flops(a->classes, 2);
    fprintf(f, "FLOPs per sample: forward %.0f, parameter gradients %.0f, input gradients %.0f "
               "(layers 2..%d), softmax+xent %.0f + %.0f; training step %.0f, inference %.0f\n",
            f0, f1, f2, a->n, sm0, sm2, f0 + f1 + f2 + sm0 + sm2, f0 + sm0);
    fprintf(f, "threads %d (OpenMP over chunks of %d samples; BLAS single-threaded), batch",
            opt.threads, CNN_CHUNK);
    for (int b = 0; b < opt.nbatches; b++)
        fprintf(f, "%s%d", b ? "," : " ", opt.batches[b]);
    if (opt.epoch)
        fprintf(f, ", epochs %d\ndata %s: %d training, %d test samples (loaded in %.2f s)\n",
                opt.repeats > 0 ? opt.repeats : 3, opt.data_dir, train->count, test->count,
                load_s);
    else if (opt.quick)
        fprintf(f, "; --quick: 1 warm-up run, %d timed; times mean little\n",
                opt.repeats > 0 ? opt.repeats : 1);
    else if (opt.repeats > 0)
        fprintf(f, ", repeats per row %d; median and p10-p90 per batch\n", opt.repeats);
    else
        fprintf(f, ", repeats adaptive (%d..%d, ~%.1f s a row); median and p10-p90 per batch\n",
                MIN_REPEATS, MAX_REPEATS, ROW_BUDGET_S);
    if (load_start > omp_get_num_procs() && opt.threads > 1)
        fprintf(f, "warning: the load average exceeds the core count: other processes compete,\n"
                   "and multi-threaded runs stall at OpenMP barriers (often for whole scheduler\n"
                   "slices of a few ms); expect inflated, noisy times\n");
}

void report_begin(double load_start, const cnn_dataset *train, const cnn_dataset *test,
                  double load_s)
{
    const cnn_arch *a = &opt.arch;
    if (opt.fmt != FMT_JSON) {
        print_header(report_text(), load_start, train, test, load_s);
        if (opt.fmt == FMT_CSV)
            fputs(CSV_HEAD, stdout);
        return;
    }
    const char *preset = cnn_arch_preset_name(a);
    printf("{\n  \"tool\": \"bench/layers\", \"mode\": ");
    json_string(stdout, opt.epoch ? "epoch" : "layers");
    printf(",\n  \"arch\": ");
    json_string(stdout, a->spec);
    printf(", \"arch_preset\": ");
    if (preset)
        json_string(stdout, preset);
    else
        printf("null");
    printf(", \"params\": %ld,\n  \"flops_per_sample\": {\"forward\": %.0f, \"param_grad\": "
           "%.0f, \"input_grad\": %.0f, \"softmax_forward\": %.0f, \"softmax_backward\": %.0f},",
           a->param_count, arch_flops(a, 0, 0), arch_flops(a, 1, 0), arch_flops(a, 2, 1),
           softmax_flops(a->classes, 0), softmax_flops(a->classes, 2));
    printf("\n  \"cpu\": ");
    json_string(stdout, cpu_model());
    printf(", \"cores\": %d,\n  \"blas_config\": ", omp_get_num_procs());
    json_string(stdout, blas_name());
    printf(",\n  \"openblas_coretype\": ");
    if (getenv("OPENBLAS_CORETYPE"))
        json_string(stdout, getenv("OPENBLAS_CORETYPE"));
    else
        printf("null");
    printf(",\n  \"threads\": %d, \"chunk\": %d, \"batches\": [", opt.threads, CNN_CHUNK);
    for (int b = 0; b < opt.nbatches; b++)
        printf("%s%d", b ? ", " : "", opt.batches[b]);
    printf("], \"repeats\": ");
    json_num(stdout, opt.repeats, opt.repeats <= 0);
    printf(", \"quick\": %s, \"spread\": \"p10-p90\",\n  \"load_average_start\": ",
           opt.quick ? "true" : "false");
    json_num(stdout, load_start, load_start < 0);
    if (opt.epoch)
        printf(", \"train_count\": %d, \"test_count\": %d, \"load_s\": %.3f", train->count,
               test->count, load_s);
    printf(",\n  \"rows\": [");
}

void report_end(double elapsed, double load_start)
{
    double load_end = load_average();
    if (opt.fmt == FMT_JSON) {
        printf("\n  ],\n  \"peak_gflops\": ");
        json_num(stdout, peak_gflops, peak_gflops <= 0);
        printf(",\n  \"check\": [");
        for (int i = 0; i < nchecks; i++) {
            printf("%s\n    {\"what\": ", i ? "," : "");
            json_string(stdout, checks[i].what);
            printf(", \"batch\": %d, \"max_abs_ref\": ", checks[i].batch);
            json_num(stdout, checks[i].maxref, 0);
            printf(", \"rel_error\": ");
            json_num(stdout, checks[i].rel, 0);
            printf(", \"tolerance\": %g, \"ok\": %s}", checks[i].tol,
                   checks[i].rel <= checks[i].tol ? "true" : "false");
        }
        printf("%s],\n  \"failures\": %d, \"elapsed_s\": %.3f, \"load_average_end\": ",
               nchecks ? "\n  " : "", failures, elapsed);
        json_num(stdout, load_end, load_end < 0);
        printf("\n}\n");
    } else {
        fprintf(report_text(), "\n%s in %.1f s (load average %.2f before, %.2f after)\n",
                failures ? "FAILED" : "done", elapsed, load_start, load_end);
        if (load_end > omp_get_num_procs() && opt.threads > 1 &&
            !(load_start > omp_get_num_procs()))
            fprintf(report_text(), "warning: the load average rose above the core count "
                                   "during the run; expect inflated, noisy times\n");
    }
    if (failures)
        fprintf(stderr, PROG ": %d check(s) or run(s) failed\n", failures);
}
