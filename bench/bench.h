/* bench.h — what the files of bench/layers share: the options, the timing
 * policy (timing.c), the rows and their output (report.c), the host's
 * description (host.c), the SGEMM peak (peak.c), the ref-vs-blas check
 * (check.c), the per-batch stage rows (batch.c) and epoch mode (epoch.c).
 * The program calls only the network's own entry points (cnn.h): it builds
 * networks from an architecture spec, runs training steps, inference and
 * the plan's stages; it chains no kernels itself. */
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>
#include <stdio.h>

#include "cnn.h"
#include "cnn_arch.h"
#include "cnn_data.h"

#define PROG "layers"
#define DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

/* The synthetic data's shape, that of Fashion-MNIST: --arch is parsed for it. */
enum { IN_H = 28, IN_W = 28, IN_C = 1, CLASSES = 10 };

enum { MAX_BATCHES = 16, MAX_BATCH = 4096 /* buffers at 4096 can pass 1 GB */ };

/* ---- options (layers.c) ---- */
typedef enum { FMT_TABLE, FMT_CSV, FMT_JSON } format;

typedef struct {
    const char *arch_text;      /* --arch as given (default "seed") */
    cnn_arch arch;              /* parsed for IN_H×IN_W×IN_C, CLASSES */
    int batches[MAX_BATCHES], nbatches;
    int threads;
    int repeats;                /* 0: adaptive; --epoch: epochs (0: 3) */
    format fmt;
    int epoch;                  /* --epoch mode */
    const char *data_dir;
    int quick;                  /* --quick: smoke-test budget, no timing value */
    int peak_n;                 /* SGEMM size of the peak measurement */
} options;

extern options opt;
extern int failures;            /* checks or runs that failed: exit status 1 */

void *xmalloc(size_t n);
float *falloc(long n);          /* 64-byte aligned, zeroed */

/* ---- timing policy (timing.c) ---- */
typedef struct {
    double med, p10, p90, min, max;
    int repeats, inner;
} timing;

typedef void (*body_fn)(void *ctx);

double now_s(void);
/* Warm up, then time `repeats` samples of f (0: adaptive, about `budget`
 * seconds). A sample shorter than MIN_SAMPLE_S repeats f inside it. */
void measure(body_fn f, void *ctx, int repeats, double budget, timing *t);
/* Statistics of n run times (sorted in place), each divided by `per`. */
void summarize(double *s, int n, timing *t, double per);
double row_budget(void);        /* seconds per row under the current options */
extern const int MIN_REPEATS, MAX_REPEATS;
extern const double ROW_BUDGET_S;

/* ---- host (host.c) ---- */
double load_average(void);      /* 1-minute load average, or -1 */
const char *cpu_model(void);    /* "model name" of /proc/cpuinfo, or "unknown" */
const char *blas_name(void);    /* the BLAS in use (the one hook to repoint) */

/* ---- rows and output (report.c) ---- */
typedef struct {
    const char *layer, *dir, *impl;
    int batch, threads;
    timing t;
    int has_spread;             /* sums have no spread of their own */
    double samples;             /* samples per timed run (batch, or an epoch's mean) */
    double flops;               /* per sample; <= 0: none */
    double speedup;             /* <= 0: none */
    double whole_over_parts;    /* sum-of-parts rows only; <= 0: none */
    int stage, pass;            /* the plan's stage and pass; -1: not a stage row */
} row;

row make_row(const char *layer, const char *dir, const char *impl, int batch, const timing *t,
             double flops);
void report_set_peak(double gflops);  /* 0: no peak, no %peak column values */
double report_peak(void);
void report_layer_width(int w);       /* widest layer name, for the table */
void report_begin(double load_start, const cnn_dataset *train, const cnn_dataset *test,
                  double load_s);
void report_table_head(void);
void emit_row(const row *r);
void report_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* One item of the ref-vs-blas check: relative error against tol; maxref,
 * max|ref|, shows that the item was not vacuous (an all-zero gradient). */
void report_check(const char *what, int batch, double rel, double maxref, double tol);
void report_end(double elapsed, double load_start);
FILE *report_text(void);        /* where free text goes: stdout, stderr with --csv/--json */

/* FLOPs per sample of the softmax + cross-entropy (not a layer of
 * cnn_arch, so counted here): forward 5 per class + 3, backward 2 per class. */
double softmax_flops(int classes, int pass);
/* Per sample over the layers (flops.c): pass 0, 1 or 2; for pass 2 only
 * from layer index from_layer on (training skips the first layer's input
 * gradient: from_layer 1). */
double arch_flops(const cnn_arch *a, int pass, int from_layer);
/* --flops: the per-layer table on stdout. */
void print_flops(const cnn_arch *a);

/* ---- SGEMM peak (peak.c) ---- */
/* T threads, each its own single-threaded n³ SGEMM at once; GFLOP/s of all. */
double measure_peak(int threads, int n, timing *t);

/* ---- check and nets (check.c) ---- */
typedef struct {
    int batch;
    uint8_t *x, *y;             /* synthetic pixels and labels */
    float *params;              /* the one initialisation both nets share */
    cnn_net *net[2];            /* [CNN_IMPL_REF], [CNN_IMPL_BLAS] */
} bench_nets;

/* Build both nets for `batch` with the same parameters and synthetic data;
 * exits on failure (nothing to time). */
void nets_make(bench_nets *b, const cnn_arch *a, int batch);
void nets_free(bench_nets *b);
/* One training step's gradient in both and inference probabilities;
 * compares loss, each layer's parameter gradients and the probabilities.
 * Returns 1 if all agree. Leaves both nets' buffers as a step leaves them. */
int nets_check(bench_nets *b);
#define CHECK_TOL 1e-4

/* ---- one batch size: every stage, the step, inference (batch.c) ---- */
void bench_batch(int batch);

/* ---- --epoch (epoch.c) ---- */
void bench_epochs(int batch, const cnn_dataset *train, const cnn_dataset *test);

#endif
