/* layers.c — bench/layers: times every kernel of the seed network, ref
 * against blas, the way the trainer runs them (OpenMP over chunks of
 * CNN_CHUNK samples, one workspace per thread, BLAS single-threaded), after
 * checking that each blas kernel agrees with its ref twin; then the whole
 * training step and inference, to set the sum of the parts against the
 * whole. `--epoch` instead times whole Fashion-MNIST epochs. See
 * bench/README.md for what each row measures. */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cnn.h"
#include "cnn_blas.h"
#include "cnn_data.h"
#include "cnn_layers.h"
#include "cnn_rng.h"
#include "cnn_train.h"

#define PROG "layers"
#define DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

/* Shapes, short. P output positions, KK taps per filter. */
enum {
    H = CNN_IN_H, W = CNN_IN_W, K = CNN_KSIZE, C = CNN_FILTERS,
    CH = CNN_CONV_H, CW = CNN_CONV_W,
    P = CNN_CONV_H * CNN_CONV_W, KK = CNN_KSIZE * CNN_KSIZE,
    COL = P * KK,                 /* im2col floats per sample: 14400 */
    CONV = CNN_CONV_SIZE,         /* 8640 */
    FLAT = CNN_FLAT,              /* 2160 */
    OUT = CNN_CLASSES,            /* 10 */
    IMG = CNN_IN_SIZE,            /* 784 */
};

/* The seed's convolution as a cnn_conv_shape (1 channel, no padding,
 * stride 1), and the same with the padding filter counted as a 16th real
 * one, for conv dX blas, which runs on the padded filters. */
static const cnn_conv_shape CS = {1, H, W, C, K, 0, 1, CH, CW};
static const cnn_conv_shape CS16 = {1, H, W, CNN_CONV_ROWS, K, 0, 1, CH, CW};

/* ---- FLOP counts per sample ----
 * Counted from the maths, not from an implementation, so ref and blas rows
 * of a layer share one count (GFLOP/s are comparable). One multiply-add is
 * 2 FLOPs; comparisons, max, exp and log count 1 each.
 *   conv forward   2·P·C·K² + P·C        = 432,000 + 8,640 (bias)   = 440,640
 *   conv dW (+db)  2·P·C·K² + P·C        = 432,000 + 8,640 (db sums) = 440,640
 *   conv dX        2·P·C·K² + P·K²       = 432,000 + 14,400 (col2im adds) = 446,400
 *   relu fwd       1 per element (max)   = 8,640
 *   relu bwd       1 per element (select)= 8,640
 *   avgpool fwd    3 adds + 1 scale per output = 4·2,160 = 8,640
 *   avgpool bwd    1 scale per input     = 8,640
 *   bias+relu+avgpool  relu + avgpool: fwd 17,280, bwd 17,280 (its bias add
 *                  and db sum are counted in conv, where the ref path does them)
 *   dense forward  2·2160·10 + 10 (bias) = 43,210
 *   dense dW (+db) 2·2160·10 + 10 (db)   = 43,210
 *   dense dX       2·2160·10             = 43,200
 *   softmax+xent   fwd 5 per class (max, subtract, exp, sum, divide) + 3 for
 *                  the loss (log, 2 subtracts) = 53; bwd 2 per class = 20
 * P = 24·24 = 576 output positions, C = 15 filters, K² = 25 taps. The blas
 * path's padding filter (16 rows, see SLICE below) is not counted: useless
 * work is not throughput. im2col and col2im move data: no count, no GFLOP/s.
 * GFLOP/s of the elementwise layers say little (they are bound by memory
 * traffic); they are there so every row has one. */
#define FL_CONV_FWD (2.0 * P * C * KK + (double)P * C)
#define FL_CONV_DW (2.0 * P * C * KK + (double)P * C)
#define FL_CONV_DX (2.0 * P * C * KK + (double)P * KK)
#define FL_RELU ((double)CONV)
#define FL_POOL_FWD (4.0 * FLAT)
#define FL_POOL_BWD ((double)CONV)
#define FL_FUSED (FL_RELU + FL_POOL_FWD)
#define FL_DENSE_FWD (2.0 * FLAT * OUT + OUT)
#define FL_DENSE_DW (2.0 * FLAT * OUT + OUT)
#define FL_DENSE_DX (2.0 * FLAT * OUT)
#define FL_SOFTMAX_FWD (5.0 * OUT + 3)
#define FL_SOFTMAX_BWD (2.0 * OUT)

/* Timing policy. The machine is shared and noisy: the median is the
 * number, the p10–p90 range shows how noisy the run was. */
#define WARMUP_S 0.05       /* and at least 2 runs: page faults, thread pool, clocks */
#define MIN_SAMPLE_S 0.002  /* shorter runs are repeated inside one sample */
#define ROW_BUDGET_S 0.4    /* adaptive repeats: about this long per row */
#define MIN_REPEATS 5
#define MAX_REPEATS 51
#define STEP_BUDGET_S 1.0   /* --epoch's ref-vs-blas step comparison */
#define TRAIN_LR 0.01f      /* small, so timing runs on random data stay finite */
#define EPOCH_LR 0.05f      /* the trainer's default */
#define INFER_PASSES 5      /* test-set passes after each timed epoch */
#define MAX_BATCHES 16
#define MAX_BATCH 4096      /* buffers at 4096 are over 1 GB; keeps a typo from swapping */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *falloc(long n)
{
    /* 64-byte aligned and padded to whole cache lines, like net.c, so that
     * threads' buffers never share a line. */
    size_t bytes = ((size_t)n * sizeof(float) + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes ? bytes : 64);
    if (!p) {
        fprintf(stderr, PROG ": out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    memset(p, 0, bytes);
    return p;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, PROG ": out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

/* ------------------------------------------------------------------------ */
/* Options and output                                                        */

typedef enum { FMT_TABLE, FMT_CSV, FMT_JSON } format;

typedef struct {
    int batches[MAX_BATCHES], nbatches;
    int threads;
    int repeats;            /* 0: adaptive */
    format fmt;
    int epoch;              /* --epoch mode */
    const char *data_dir;
} options;

typedef struct {
    double med, p10, p90, min, max;
    int repeats, inner;
} timing;

typedef struct {
    const char *layer, *dir, *impl;
    int batch, threads;
    timing t;
    int has_spread;          /* sums have no spread of their own */
    double samples;          /* samples per timed run (batch, or an epoch's count) */
    double flops;            /* per sample */
    double speedup;          /* ≤ 0: none */
    double whole_over_parts; /* sum-of-parts rows only; ≤ 0: none */
} row;

typedef struct {
    char what[96];
    int batch;
    double diff, tol;
} mismatch;

static options opt;
static int json_rows;                 /* rows printed so far (JSON commas) */
static mismatch mismatches[64];
static int nmismatches;
static int failures;                  /* → exit status 1 */

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

/* JSON has no NaN or infinity: print null for those and for "none". */
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

static void print_table_head(void)
{
    printf("%-18s %-12s %-6s %5s %3s %4s %11s %23s %11s %8s %8s\n", "layer", "direction",
           "impl", "batch", "thr", "reps", "us/batch", "p10 - p90 (us)", "samples/s",
           "GFLOP/s", "speed-up");
}

static void emit_row(const row *r)
{
    const timing *t = &r->t;
    double sps = r->samples / t->med;
    double gflops = r->flops > 0 ? r->flops * sps * 1e-9 : NAN;
    if (opt.fmt == FMT_TABLE) {
        char spread[48] = "-", reps[16] = "-", gf[16] = "-", sp[16] = "-";
        if (r->has_spread) {
            snprintf(spread, sizeof spread, "%.1f - %.1f", t->p10 * 1e6, t->p90 * 1e6);
            snprintf(reps, sizeof reps, "%d", t->repeats);
        }
        if (isfinite(gflops))
            snprintf(gf, sizeof gf, "%.2f", gflops);
        if (r->speedup > 0)
            snprintf(sp, sizeof sp, "%.1fx", r->speedup);
        printf("%-18s %-12s %-6s %5d %3d %4s %11.1f %23s %11.0f %8s %8s\n", r->layer, r->dir,
               r->impl, r->batch, r->threads, reps, t->med * 1e6, spread, sps, gf, sp);
    } else if (opt.fmt == FMT_CSV) {
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
        putchar('\n');
    } else {
        printf("%s\n    {\"layer\": ", json_rows++ ? "," : "");
        json_string(stdout, r->layer);
        printf(", \"direction\": ");
        json_string(stdout, r->dir);
        printf(", \"impl\": ");
        json_string(stdout, r->impl);
        printf(", \"batch\": %d, \"threads\": %d, \"repeats\": ", r->batch, r->threads);
        json_num(stdout, t->repeats, !r->has_spread);
        printf(", \"inner\": ");
        json_num(stdout, t->inner, !r->has_spread);
        printf(", \"median_s\": ");
        json_num(stdout, t->med, 0);
        printf(", \"p10_s\": ");
        json_num(stdout, t->p10, !r->has_spread);
        printf(", \"p90_s\": ");
        json_num(stdout, t->p90, !r->has_spread);
        printf(", \"min_s\": ");
        json_num(stdout, t->min, !r->has_spread);
        printf(", \"max_s\": ");
        json_num(stdout, t->max, !r->has_spread);
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
        printf("}");
    }
    fflush(stdout);
}

static void note_mismatch(const char *what, int batch, double diff, double tol)
{
    fprintf(stderr,
            PROG ": MISMATCH %s at batch %d: max|blas - ref| = %.3g > tolerance %.3g; "
                 "not reported\n",
            what, batch, diff, tol);
    if (nmismatches < (int)(sizeof mismatches / sizeof mismatches[0])) {
        mismatch *m = &mismatches[nmismatches++];
        snprintf(m->what, sizeof m->what, "%s", what);
        m->batch = batch;
        m->diff = diff;
        m->tol = tol;
    }
    failures++;
}

/* The project's one comparison (as in tests/test_layers.c):
 * max|a − ref| ≤ 1e-4·max(1, max|ref|). NaN anywhere fails. Returns 1 if close. */
static int close_enough(const float *a, const float *ref, long n, double *diff, double *tol)
{
    double maxref = 0.0, maxdiff = 0.0;
    int nan = 0;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)ref[i]);
        if (fabs((double)ref[i]) > maxref)
            maxref = fabs((double)ref[i]);
        if (d > maxdiff)
            maxdiff = d;
        if (d != d)
            nan = 1;
    }
    *diff = nan ? NAN : maxdiff;
    *tol = 1e-4 * (maxref > 1.0 ? maxref : 1.0);
    return !nan && maxdiff <= *tol;
}

/* ------------------------------------------------------------------------ */
/* Timing                                                                    */

typedef void (*body_fn)(void *ctx);

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Linear interpolation between order statistics; q = 0.5 is the median. */
static double quantile(const double *sorted, int n, double q)
{
    double pos = q * (n - 1);
    int lo = (int)pos;
    int hi = lo + 1 < n ? lo + 1 : lo;
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/* Warm up, then time `repeats` samples of f (0: as many as fit in
 * `budget` seconds, MIN_REPEATS..MAX_REPEATS). Runs shorter than
 * MIN_SAMPLE_S are repeated `inner` times per sample, so that clock reads
 * and the loop cost nothing measurable; a sample is then their mean. */
static void measure(body_fn f, void *ctx, int repeats, double budget, timing *t)
{
    double start = now_s(), best = INFINITY;
    for (int runs = 0; runs < 2 || now_s() - start < WARMUP_S; runs++) {
        double a = now_s();
        f(ctx);
        double d = now_s() - a;
        if (d < best)
            best = d;
    }
    if (best <= 0)
        best = 1e-9;
    int inner = best >= MIN_SAMPLE_S ? 1 : (int)ceil(MIN_SAMPLE_S / best);
    int r = repeats;
    if (r <= 0) {
        double fit = budget / (inner * best);
        r = fit < MIN_REPEATS ? MIN_REPEATS : fit > MAX_REPEATS ? MAX_REPEATS : (int)fit;
    }
    double *s = xmalloc((size_t)r * sizeof *s);
    for (int i = 0; i < r; i++) {
        double a = now_s();
        for (int j = 0; j < inner; j++)
            f(ctx);
        s[i] = (now_s() - a) / inner;
    }
    qsort(s, (size_t)r, sizeof *s, cmp_double);
    t->med = quantile(s, r, 0.5);
    t->p10 = quantile(s, r, 0.1);
    t->p90 = quantile(s, r, 0.9);
    t->min = s[0];
    t->max = s[r - 1];
    t->repeats = r;
    t->inner = inner;
    free(s);
}

/* ------------------------------------------------------------------------ */
/* Kernel inputs and runners                                                 */

/* How src/net.c's blas path calls the convolution (CNN_SLICE and
 * CNN_CONV_ROWS in cnn.h): each chunk is cut into slices of SLICE samples,
 * one SGEMM per slice, with the 15 filters padded to CONV_ROWS = 16 by a
 * zero filter, on channel-major maps [16][len·P]; the fused pass works slice
 * by slice too. The ref path is per chunk, channels last. */
enum {
    SLICE = CNN_SLICE,
    CONV_ROWS = CNN_CONV_ROWS,
    ROWS_P = CONV_ROWS * P,       /* floats of a padded channel-major map per sample */
};

static int slice_len(int m, int s) { return m - s < SLICE ? m - s : SLICE; }

/* Whole-batch inputs, read-only while timing. They are one real forward and
 * backward pass of the network (ref kernels, random pixels and labels), so
 * each kernel sees the kind of values it sees in training: ReLU's zeros,
 * gradients at their real scale. The blas path's copies (suffix _cm) are in
 * its slice layout: the slice of samples [g, g+len) at offset g·(size per
 * sample), exactly as net.c lays them out in its workspace. */
typedef struct {
    int batch;
    float *params;               /* CNN_PARAM_COUNT */
    cnn_params p;
    float *w16;                  /* [16][25]: conv_w and a zero filter */
    uint8_t *xu8, *labels;       /* [B][784], [B] */
    float *x;                    /* [B][784] standardised as in net.c */
    float *col_cm;               /* per slice [25][len·576]: im2col(x) */
    float *z;                    /* [B][576][15] conv output without bias */
    float *z_cm;                 /* per slice [16][len·576], the same (plane 15 zero) */
    float *zb;                   /* [B][576][15] z + bias: the pre-activation */
    float *act;                  /* [B][8640] relu(zb) */
    float *flat;                 /* [B][2160] avgpool(act) */
    float *logits, *probs;       /* [B][10] */
    float *dlogits;              /* [B][10] */
    float *dpool;                /* [B][2160] */
    float *dact;                 /* [B][8640] */
    float *dz;                   /* [B][576][15] gradient at the pre-activation */
    float *dz_cm;                /* per slice [16][len·576], the same (plane 15 zero) */
} inputs;

/* One thread's buffers, allocated once before any timing. `out` receives
 * whatever a runner produces for its chunk (an activation, or a gradient
 * block zeroed per chunk as net.c does); `scratch` is the im2col/col2im
 * workspace, an intermediate map, or a small gradient. */
typedef struct {
    float *out, *scratch;
} tbuf;

enum {
    OUT_FLOATS = CNN_CHUNK * ROWS_P,
    SCRATCH_FLOATS = CNN_CHUNK * COL,
};
_Static_assert(OUT_FLOATS >= CNN_CHUNK * CONV, "out holds a chunk's conv map");
_Static_assert(OUT_FLOATS >= CNN_FC_W_SIZE + CNN_FC_B_SIZE, "out holds a dense gradient");
_Static_assert(SCRATCH_FLOATS >= CNN_CHUNK * CONV, "scratch holds a chunk's ReLU output");

/* Run samples [lo, lo+m) of the batch through one kernel. */
typedef void (*run_fn)(const inputs *in, float *out, float *scratch, int lo, int m);
/* Checking only: copy a chunk's output from `out` into dst in the ref
 * layout (NULL: it already is; a plain copy). */
typedef void (*export_fn)(const inputs *in, const float *out, float *dst, int m);

/* Channel-major slices (m samples from `src`) to channels last [m][P][C],
 * adding bias when not NULL. */
static void cm_to_cl(float *dst, const float *src, int m, const float *bias)
{
    for (int s = 0; s < m; s += SLICE) {
        long np = (long)slice_len(m, s) * P;
        const float *blk = src + (long)s * ROWS_P;
        for (int c = 0; c < C; c++)
            for (long q = 0; q < np; q++) /* q = n·P + p */
                dst[((long)s * P + q) * C + c] = blk[c * np + q] + (bias ? bias[c] : 0.0f);
    }
}

/* The inverse, for preparing the blas path's inputs; plane 15 is zero. */
static void cl_to_cm(float *dst, const float *src, int m)
{
    for (int s = 0; s < m; s += SLICE) {
        long np = (long)slice_len(m, s) * P;
        float *blk = dst + (long)s * ROWS_P;
        for (int c = 0; c < CONV_ROWS; c++)
            for (long q = 0; q < np; q++)
                blk[c * np + q] = c < C ? src[((long)s * P + q) * C + c] : 0.0f;
    }
}

static void conv_fwd_ref(const inputs *in, float *out, float *s, int lo, int m)
{
    (void)s;
    cnn_conv_forward_ref(out, in->x + (long)lo * IMG, in->p.conv_w, in->p.conv_b, m, &CS);
}

/* As net.c's blas path: per slice, 16 filters, no bias (the fused pass adds
 * it); each slice's im2col stays in scratch for the weight gradient. */
static void conv_fwd_blas(const inputs *in, float *out, float *s, int lo, int m)
{
    for (int sl = 0; sl < m; sl += SLICE)
        cnn_conv_forward_blas(out + (long)sl * ROWS_P, s + (long)sl * COL,
                              in->x + (long)(lo + sl) * IMG, in->w16, NULL, slice_len(m, sl),
                              CONV_ROWS, &CS);
}

static void conv_fwd_blas_export(const inputs *in, const float *out, float *dst, int m)
{
    cm_to_cl(dst, out, m, in->p.conv_b);
}

/* The first step of conv_fwd_blas alone, as cnn_conv_forward_blas does it. */
static void im2col_only(const inputs *in, float *out, float *s, int lo, int m)
{
    (void)out;
    for (int sl = 0; sl < m; sl += SLICE) {
        int len = slice_len(m, sl);
        for (int n = 0; n < len; n++)
            cnn_im2col(s + (long)sl * COL + (long)n * P, (long)len * P,
                       in->x + (long)(lo + sl + n) * IMG, (long)len * IMG, &CS);
    }
}

/* dw[375] then db[15]; only dw is compared (the blas path sums db in the
 * fused backward pass; the whole-step check covers it). */
static void conv_dw_ref(const inputs *in, float *out, float *s, int lo, int m)
{
    (void)s;
    memset(out, 0, (CNN_CONV_W_SIZE + CNN_CONV_B_SIZE) * sizeof *out);
    cnn_conv_backward_weights_ref(out, out + CNN_CONV_W_SIZE, in->dz + (long)lo * CONV,
                                  in->x + (long)lo * IMG, m, &CS);
}

/* Into the padded [16][25] block, per slice, db NULL; its first 375 floats
 * are conv_w's gradient. */
static void conv_dw_blas(const inputs *in, float *out, float *s, int lo, int m)
{
    (void)s;
    memset(out, 0, CONV_ROWS * KK * sizeof *out);
    for (int sl = 0; sl < m; sl += SLICE)
        cnn_conv_backward_weights_blas(out, NULL, in->dz_cm + (long)(lo + sl) * ROWS_P,
                                       in->col_cm + (long)(lo + sl) * COL, slice_len(m, sl),
                                       CONV_ROWS, &CS);
}

static void conv_dx_ref(const inputs *in, float *out, float *s, int lo, int m)
{
    (void)s;
    cnn_conv_backward_input_ref(out, in->dz + (long)lo * CONV, in->p.conv_w, m, &CS);
}

/* Not in net.c (the conv's input is the data); run in the blas path's
 * layout all the same. */
static void conv_dx_blas(const inputs *in, float *out, float *s, int lo, int m)
{
    for (int sl = 0; sl < m; sl += SLICE)
        cnn_conv_backward_input_blas(out + (long)sl * IMG, s + (long)sl * COL,
                                     in->dz_cm + (long)(lo + sl) * ROWS_P, in->w16,
                                     slice_len(m, sl), &CS16);
}

/* The last step of conv_dx_blas alone (the im2col of x stands in for dcol). */
static void col2im_only(const inputs *in, float *out, float *s, int lo, int m)
{
    (void)s;
    for (int sl = 0; sl < m; sl += SLICE) {
        int len = slice_len(m, sl);
        for (int n = 0; n < len; n++)
            cnn_col2im(out + (long)(sl + n) * IMG, (long)len * IMG,
                       in->col_cm + (long)(lo + sl) * COL + (long)n * P, (long)len * P, &CS);
    }
}

static void relu_fwd(const inputs *in, float *out, float *s, int lo, int m)
{
    (void)s;
    cnn_relu_forward(out, in->zb + (long)lo * CONV, (long)m * CONV);
}

static void relu_bwd(const inputs *in, float *out, float *s, int lo, int m)
{
    (void)s;
    cnn_relu_backward(out, in->dact + (long)lo * CONV, in->zb + (long)lo * CONV,
                      (long)m * CONV);
}

static void pool_fwd(const inputs *in, float *out, float *s, int lo, int m)
{
    (void)s;
    cnn_avgpool_forward(out, in->act + (long)lo * CONV, m, CH, CW, C, 2);
}

static void pool_bwd(const inputs *in, float *out, float *s, int lo, int m)
{
    (void)s;
    cnn_avgpool_backward(out, in->dpool + (long)lo * FLAT, m, CH, CW, C, 2);
}

/* Fused bias+ReLU+avgpool. Its ref is what net.c's ref path runs: ReLU then
 * avgpool on the pre-activation zb (cnn_conv_forward_ref already added the
 * bias, so the ref side pays nothing for it here). */
static void fused_fwd_ref(const inputs *in, float *out, float *s, int lo, int m)
{
    cnn_relu_forward(s, in->zb + (long)lo * CONV, (long)m * CONV);
    cnn_avgpool_forward(out, s, m, CH, CW, C, 2);
}

static void fused_fwd_blas(const inputs *in, float *out, float *s, int lo, int m)
{
    (void)s;
    for (int sl = 0; sl < m; sl += SLICE)
        cnn_bias_relu_avgpool_forward(out + (long)sl * FLAT, in->z_cm + (long)(lo + sl) * ROWS_P,
                                      in->p.conv_b, slice_len(m, sl), CH, CW, C, 0);
}

/* Backward: dz is compared; the fused kernel's db (into a per-chunk block
 * at the start of scratch) is covered by the whole-step check. */
static void fused_bwd_ref(const inputs *in, float *out, float *s, int lo, int m)
{
    cnn_avgpool_backward(s, in->dpool + (long)lo * FLAT, m, CH, CW, C, 2);
    cnn_relu_backward(out, s, in->zb + (long)lo * CONV, (long)m * CONV);
}

/* As net.c: per slice, then zero the padding filter's plane of dz. */
static void fused_bwd_blas(const inputs *in, float *out, float *s, int lo, int m)
{
    memset(s, 0, C * sizeof *s);
    for (int sl = 0; sl < m; sl += SLICE) {
        long np = (long)slice_len(m, sl) * P;
        float *dz = out + (long)sl * ROWS_P;
        cnn_bias_relu_avgpool_backward(dz, s, in->dpool + (long)(lo + sl) * FLAT,
                                       in->z_cm + (long)(lo + sl) * ROWS_P, in->p.conv_b,
                                       slice_len(m, sl), CH, CW, C, 0);
        memset(dz + C * np, 0, (size_t)np * sizeof *dz);
    }
}

static void fused_bwd_blas_export(const inputs *in, const float *out, float *dst, int m)
{
    (void)in;
    cm_to_cl(dst, out, m, NULL);
}

static void dense_fwd_ref(const inputs *in, float *out, float *s, int lo, int m)
{
    (void)s;
    cnn_dense_forward_ref(out, in->flat + (long)lo * FLAT, in->p.fc_w, in->p.fc_b, m, FLAT,
                          OUT);
}

static void dense_fwd_blas(const inputs *in, float *out, float *s, int lo, int m)
{
    (void)s;
    cnn_dense_forward_blas(out, in->flat + (long)lo * FLAT, in->p.fc_w, in->p.fc_b, m, FLAT,
                           OUT);
}

/* dw[21600] then db[10], zeroed per chunk like net.c's chunk gradients. */
static void dense_dw_ref(const inputs *in, float *out, float *s, int lo, int m)
{
    (void)s;
    memset(out, 0, (CNN_FC_W_SIZE + CNN_FC_B_SIZE) * sizeof *out);
    cnn_dense_backward_weights_ref(out, out + CNN_FC_W_SIZE, in->dlogits + (long)lo * OUT,
                                   in->flat + (long)lo * FLAT, m, FLAT, OUT);
}

static void dense_dw_blas(const inputs *in, float *out, float *s, int lo, int m)
{
    (void)s;
    memset(out, 0, (CNN_FC_W_SIZE + CNN_FC_B_SIZE) * sizeof *out);
    cnn_dense_backward_weights_blas(out, out + CNN_FC_W_SIZE, in->dlogits + (long)lo * OUT,
                                    in->flat + (long)lo * FLAT, m, FLAT, OUT);
}

static void dense_dx_ref(const inputs *in, float *out, float *s, int lo, int m)
{
    (void)s;
    cnn_dense_backward_input_ref(out, in->dlogits + (long)lo * OUT, in->p.fc_w, m, FLAT, OUT);
}

static void dense_dx_blas(const inputs *in, float *out, float *s, int lo, int m)
{
    (void)s;
    cnn_dense_backward_input_blas(out, in->dlogits + (long)lo * OUT, in->p.fc_w, m, FLAT, OUT);
}

static void softmax_fwd(const inputs *in, float *out, float *s, int lo, int m)
{
    s[0] = (float)cnn_softmax_xent_forward(out, in->logits + (long)lo * OUT, in->labels + lo,
                                           m, OUT);
}

static void softmax_bwd(const inputs *in, float *out, float *s, int lo, int m)
{
    (void)s;
    cnn_softmax_xent_backward(out, in->probs + (long)lo * OUT, in->labels + lo, m, OUT,
                              1.0f / (float)in->batch);
}

/* Where a kernel sits in the trainer's step (as src/net.c calls them). */
enum {
    NOT_IN_STEP = 0, /* measured for the table only */
    IN_FWD = 1,      /* forward: part of inference and of the training step */
    IN_BWD = 2,      /* backward: part of the training step */
};

/* One row pair of the table. To add a kernel, add an entry. */
typedef struct {
    const char *layer, *dir;
    double flops;            /* per sample, see the FLOP block above */
    run_fn ref, blas;        /* blas NULL: one implementation, run once */
    const char *single;      /* its impl label then: "shared", or "blas" for blas-only steps */
    long out_fixed, out_per; /* floats compared per chunk: out_fixed + out_per·m */
    export_fn blas_export;   /* NULL, or bring blas output into ref's layout */
    int step;                /* IN_FWD, IN_BWD or NOT_IN_STEP */
} entry;

static const entry entries[] = {
    {"conv", "forward", FL_CONV_FWD, conv_fwd_ref, conv_fwd_blas, NULL, 0, CONV,
     conv_fwd_blas_export, IN_FWD},
    /* Part of conv forward blas (and of its time), shown alone. */
    {"conv", "im2col", 0, im2col_only, NULL, "blas", 0, 0, NULL, NOT_IN_STEP},
    {"conv", "backward-dW", FL_CONV_DW, conv_dw_ref, conv_dw_blas, NULL, CNN_CONV_W_SIZE, 0,
     NULL, IN_BWD},
    /* net.c skips the conv's input gradient (its input is the data). */
    {"conv", "backward-dX", FL_CONV_DX, conv_dx_ref, conv_dx_blas, NULL, 0, IMG, NULL,
     NOT_IN_STEP},
    {"conv", "col2im", 0, col2im_only, NULL, "blas", 0, 0, NULL, NOT_IN_STEP},
    /* ReLU and avgpool alone: one implementation each. In the step they are
     * counted through the fused row below, whose ref is exactly these two. */
    {"relu", "forward", FL_RELU, relu_fwd, NULL, "shared", 0, 0, NULL, NOT_IN_STEP},
    {"relu", "backward", FL_RELU, relu_bwd, NULL, "shared", 0, 0, NULL, NOT_IN_STEP},
    {"avgpool", "forward", FL_POOL_FWD, pool_fwd, NULL, "shared", 0, 0, NULL, NOT_IN_STEP},
    {"avgpool", "backward", FL_POOL_BWD, pool_bwd, NULL, "shared", 0, 0, NULL, NOT_IN_STEP},
    /* ref = cnn_relu_* and cnn_avgpool_* composed; blas = the fused
     * cnn_bias_relu_avgpool_* of cnn_layers.h (blas path only). */
    {"bias+relu+avgpool", "forward", FL_FUSED, fused_fwd_ref, fused_fwd_blas, NULL, 0, FLAT,
     NULL, IN_FWD},
    {"bias+relu+avgpool", "backward", FL_FUSED, fused_bwd_ref, fused_bwd_blas, NULL, 0, CONV,
     fused_bwd_blas_export, IN_BWD},
    {"dense", "forward", FL_DENSE_FWD, dense_fwd_ref, dense_fwd_blas, NULL, 0, OUT, NULL,
     IN_FWD},
    {"dense", "backward-dW", FL_DENSE_DW, dense_dw_ref, dense_dw_blas, NULL,
     CNN_FC_W_SIZE + CNN_FC_B_SIZE, 0, NULL, IN_BWD},
    {"dense", "backward-dX", FL_DENSE_DX, dense_dx_ref, dense_dx_blas, NULL, 0, FLAT, NULL,
     IN_BWD},
    {"softmax+xent", "forward", FL_SOFTMAX_FWD, softmax_fwd, NULL, "shared", 0, 0, NULL,
     IN_FWD},
    {"softmax+xent", "backward", FL_SOFTMAX_BWD, softmax_bwd, NULL, "shared", 0, 0, NULL,
     IN_BWD},
};
enum { NENTRIES = sizeof entries / sizeof entries[0] };

static void inputs_init(inputs *in, int B, uint64_t seed)
{
    cnn_rng r;
    cnn_rng_seed(&r, seed);
    in->batch = B;
    in->params = falloc(CNN_PARAM_COUNT);
    cnn_params_init(in->params, &r);
    in->p = cnn_params_view(in->params);
    /* Init leaves biases at zero, which would hide any bias bug. */
    for (int c = 0; c < C; c++)
        in->p.conv_b[c] = cnn_rng_uniform(&r, -0.2f, 0.2f);
    for (int o = 0; o < OUT; o++)
        in->p.fc_b[o] = cnn_rng_uniform(&r, -0.2f, 0.2f);
    in->w16 = falloc(CONV_ROWS * KK);
    memcpy(in->w16, in->p.conv_w, CNN_CONV_W_SIZE * sizeof(float));

    in->xu8 = xmalloc((size_t)B * IMG);
    in->labels = xmalloc((size_t)B);
    for (long i = 0; i < (long)B * IMG; i++)
        in->xu8[i] = (uint8_t)cnn_rng_below(&r, 256);
    for (int n = 0; n < B; n++)
        in->labels[n] = (uint8_t)cnn_rng_below(&r, OUT);

    in->x = falloc((long)B * IMG);
    in->col_cm = falloc((long)B * COL);
    in->z = falloc((long)B * CONV);
    in->z_cm = falloc((long)B * ROWS_P);
    in->zb = falloc((long)B * CONV);
    in->act = falloc((long)B * CONV);
    in->flat = falloc((long)B * FLAT);
    in->logits = falloc((long)B * OUT);
    in->probs = falloc((long)B * OUT);
    in->dlogits = falloc((long)B * OUT);
    in->dpool = falloc((long)B * FLAT);
    in->dact = falloc((long)B * CONV);
    in->dz = falloc((long)B * CONV);
    in->dz_cm = falloc((long)B * ROWS_P);

    const float scale = 1.0f / (255.0f * CNN_INPUT_STD), shift = CNN_INPUT_MEAN / CNN_INPUT_STD;
    for (long i = 0; i < (long)B * IMG; i++)
        in->x[i] = (float)in->xu8[i] * scale - shift;
    /* Chunks start at multiples of CNN_CHUNK, itself a multiple of SLICE,
     * so slicing the whole batch from 0 gives every chunk's slices. */
    im2col_only(in, NULL, in->col_cm, 0, B);
    float zero_b[C] = {0};
    cnn_conv_forward_ref(in->z, in->x, in->p.conv_w, zero_b, B, &CS);
    cl_to_cm(in->z_cm, in->z, B);
    /* zb = z + b with the very expression the fused kernel uses, so ReLU's
     * decisions agree exactly on both sides of the fused-row comparison. */
    for (long rr = 0; rr < (long)B * P; rr++)
        for (int c = 0; c < C; c++)
            in->zb[rr * C + c] = in->z[rr * C + c] + in->p.conv_b[c];
    cnn_relu_forward(in->act, in->zb, (long)B * CONV);
    cnn_avgpool_forward(in->flat, in->act, B, CH, CW, C, 2);
    cnn_dense_forward_ref(in->logits, in->flat, in->p.fc_w, in->p.fc_b, B, FLAT, OUT);
    cnn_softmax_xent_forward(in->probs, in->logits, in->labels, B, OUT);
    cnn_softmax_xent_backward(in->dlogits, in->probs, in->labels, B, OUT, 1.0f / (float)B);
    cnn_dense_backward_input_ref(in->dpool, in->dlogits, in->p.fc_w, B, FLAT, OUT);
    cnn_avgpool_backward(in->dact, in->dpool, B, CH, CW, C, 2);
    cnn_relu_backward(in->dz, in->dact, in->zb, (long)B * CONV);
    cl_to_cm(in->dz_cm, in->dz, B);
}

static void inputs_free(inputs *in)
{
    float *f[] = {in->params, in->w16, in->x, in->col_cm, in->z, in->z_cm, in->zb, in->act,
                  in->flat, in->logits, in->probs, in->dlogits, in->dpool, in->dact, in->dz,
                  in->dz_cm};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        free(f[i]);
    free(in->xu8);
    free(in->labels);
}

/* One timed run of a kernel over the whole batch, exactly as net.c runs
 * its chunks: a static schedule over chunks, each thread in its own
 * buffers. With `save`, each chunk's output is also copied out in the ref
 * layout (checking only; never while timing). */
typedef struct {
    run_fn f;
    export_fn export;
    const inputs *in;
    tbuf *tb;
    int batch, threads;
    float *save;
    long out_fixed, out_per;
} kernel_run;

static void kernel_body(void *p)
{
    const kernel_run *k = p;
    const int nchunks = (k->batch + CNN_CHUNK - 1) / CNN_CHUNK;
#pragma omp parallel for num_threads(k->threads) schedule(static)
    for (int c = 0; c < nchunks; c++) {
        tbuf *b = &k->tb[omp_get_thread_num()];
        int lo = c * CNN_CHUNK, m = k->batch - lo < CNN_CHUNK ? k->batch - lo : CNN_CHUNK;
        k->f(k->in, b->out, b->scratch, lo, m);
        if (k->save) {
            float *dst = k->save + c * (k->out_fixed + k->out_per * CNN_CHUNK);
            if (k->export)
                k->export(k->in, b->out, dst, m);
            else
                memcpy(dst, b->out, (size_t)(k->out_fixed + k->out_per * m) * sizeof(float));
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Whole step and inference                                                  */

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

static cnn_net *make_net(cnn_impl impl, int batch, const float *params)
{
    cnn_net *net = NULL;
    cnn_status st = cnn_net_create(&net, impl, batch, opt.threads);
    if (st != CNN_OK) {
        fprintf(stderr, PROG ": cannot create the %s network: %s\n", cnn_impl_name(impl),
                cnn_status_str(st));
        exit(1);
    }
    memcpy(cnn_net_params(net), params, CNN_PARAM_COUNT * sizeof(float));
    return net;
}

/* ------------------------------------------------------------------------ */
/* Layers mode                                                               */

static row make_row(const char *layer, const char *dir, const char *impl, int batch,
                    const timing *t, double flops)
{
    row r = {layer, dir, impl, batch, opt.threads, *t, 1, (double)batch, flops, 0, 0};
    return r;
}

static void bench_batch(int B)
{
    inputs in;
    inputs_init(&in, B, 1);
    const int nchunks = (B + CNN_CHUNK - 1) / CNN_CHUNK;
    tbuf *tb = xmalloc((size_t)opt.threads * sizeof *tb);
    for (int t = 0; t < opt.threads; t++) {
        tb[t].out = falloc(OUT_FLOATS);
        tb[t].scratch = falloc(SCRATCH_FLOATS);
    }
    long save_floats = (long)nchunks * (CNN_FC_W_SIZE + CNN_FC_B_SIZE);
    if ((long)nchunks * OUT_FLOATS > save_floats)
        save_floats = (long)nchunks * OUT_FLOATS;
    float *save_ref = falloc(save_floats), *save_blas = falloc(save_floats);

    /* Sums of medians for "sum of parts": [impl][0 = infer, 1 = train]. */
    double parts[2][2] = {{0, 0}, {0, 0}}, part_flops[2] = {0, 0};
    int parts_ok = 1;

    for (int e = 0; e < NENTRIES; e++) {
        const entry *en = &entries[e];
        kernel_run k = {en->ref, NULL, &in, tb, B, opt.threads, NULL, en->out_fixed,
                        en->out_per};
        char what[96];
        snprintf(what, sizeof what, "%s %s", en->layer, en->dir);
        if (en->blas) {
            /* The gate: same inputs, same threading, every chunk's output. */
            k.save = save_ref;
            kernel_body(&k);
            k.f = en->blas;
            k.export = en->blas_export;
            k.save = save_blas;
            kernel_body(&k);
            long n = (long)nchunks * (en->out_fixed + en->out_per * CNN_CHUNK);
            if (en->out_fixed == 0)
                n = (long)B * en->out_per; /* per-sample outputs are contiguous */
            double diff, tol;
            if (!close_enough(save_blas, save_ref, n, &diff, &tol)) {
                note_mismatch(what, B, diff, tol);
                if (en->step)
                    parts_ok = 0;
                continue;
            }
            k.save = NULL;
            k.export = NULL;
        }
        timing tr, tbl;
        k.f = en->ref;
        measure(kernel_body, &k, opt.repeats, ROW_BUDGET_S, &tr);
        if (!en->blas) {
            row r = make_row(en->layer, en->dir, en->single, B, &tr, en->flops);
            emit_row(&r);
            tbl = tr;
        } else {
            k.f = en->blas;
            measure(kernel_body, &k, opt.repeats, ROW_BUDGET_S, &tbl);
            row r = make_row(en->layer, en->dir, "ref", B, &tr, en->flops);
            emit_row(&r);
            r = make_row(en->layer, en->dir, "blas", B, &tbl, en->flops);
            r.speedup = tr.med / tbl.med;
            emit_row(&r);
        }
        /* A blas-only step (no ref twin, not shared) is in the blas path only. */
        int blas_only = !en->blas && strcmp(en->single, "blas") == 0;
        if (en->step) {
            for (int pass = (en->step == IN_FWD ? 0 : 1); pass < 2; pass++) {
                if (!blas_only)
                    parts[CNN_IMPL_REF][pass] += tr.med;
                parts[CNN_IMPL_BLAS][pass] += tbl.med;
                part_flops[pass] += en->flops;
            }
        }
    }

    /* Whole training step and inference, behind the same kind of gate:
     * ref and blas networks with equal parameters must agree on the
     * probabilities and on every gradient (this is where the conv bias
     * gradient, which the kernel rows split differently, is checked). */
    cnn_net *net[2] = {make_net(CNN_IMPL_REF, B, in.params),
                       make_net(CNN_IMPL_BLAS, B, in.params)};
    float *probs[2] = {falloc((long)B * OUT), falloc((long)B * OUT)};
    int ok_infer = 1, ok_train = 1;
    for (int i = 0; i < 2; i++) {
        if (cnn_net_infer(net[i], in.xu8, NULL, B, probs[i], NULL, NULL) != CNN_OK ||
            cnn_net_train_step(net[i], in.xu8, in.labels, B, TRAIN_LR, NULL, NULL) != CNN_OK) {
            fprintf(stderr, PROG ": %s network failed its first step\n",
                    cnn_impl_name((cnn_impl)i));
            exit(1);
        }
    }
    double diff, tol;
    if (!close_enough(probs[1], probs[0], (long)B * OUT, &diff, &tol)) {
        note_mismatch("inference probabilities", B, diff, tol);
        ok_infer = 0;
    }
    if (!close_enough(cnn_net_grads(net[1]), cnn_net_grads(net[0]), CNN_PARAM_COUNT, &diff,
                      &tol)) {
        note_mismatch("train-step gradients", B, diff, tol);
        ok_train = 0;
    }

    timing whole[2][2]; /* [impl][0 = infer, 1 = train] */
    for (int pass = 1; pass >= 0; pass--) {
        if (!(pass ? ok_train : ok_infer))
            continue;
        for (int i = 0; i < 2; i++) {
            step_run s = {net[i], in.xu8, in.labels, B, probs[i], CNN_OK};
            measure(pass ? train_body : infer_body, &s, opt.repeats, ROW_BUDGET_S,
                    &whole[i][pass]);
            if (s.st != CNN_OK) {
                fprintf(stderr, PROG ": %s %s failed while timing: %s\n",
                        cnn_impl_name((cnn_impl)i), pass ? "train step" : "inference",
                        cnn_status_str(s.st));
                failures++;
            }
            row r = make_row(pass ? "train-step" : "inference",
                             pass ? "fwd+bwd+update" : "forward", cnn_impl_name((cnn_impl)i), B,
                             &whole[i][pass], part_flops[pass]);
            if (i == CNN_IMPL_BLAS)
                r.speedup = whole[0][pass].med / whole[1][pass].med;
            emit_row(&r);
        }
    }

    /* The parts were each timed in a parallel region of their own; the
     * whole runs them back to back in one, adds the uint8→float input
     * scaling, and (training) the gradient reduction and SGD update. */
    for (int pass = 1; pass >= 0; pass--) {
        if (!parts_ok)
            break;
        for (int i = 0; i < 2; i++) {
            timing t = {parts[i][pass], 0, 0, 0, 0, 0, 0};
            row r = make_row("sum-of-parts", pass ? "train" : "infer",
                             cnn_impl_name((cnn_impl)i), B, &t, part_flops[pass]);
            r.has_spread = 0;
            if (i == CNN_IMPL_BLAS)
                r.speedup = parts[0][pass] / parts[1][pass];
            if (pass ? ok_train : ok_infer)
                r.whole_over_parts = whole[i][pass].med / parts[i][pass];
            emit_row(&r);
        }
    }
    if (!parts_ok)
        fprintf(stderr, PROG ": batch %d: no sum of parts (a kernel of the step failed)\n", B);
    else if (opt.fmt == FMT_TABLE && ok_train && ok_infer) {
        printf("whole / sum of parts (batch %d):", B);
        for (int pass = 1; pass >= 0; pass--)
            for (int i = 0; i < 2; i++)
                printf("  %s %s %.2f", pass ? "train" : "infer", cnn_impl_name((cnn_impl)i),
                       whole[i][pass].med / parts[i][pass]);
        printf("\n");
    }

    for (int i = 0; i < 2; i++) {
        cnn_net_free(net[i]);
        free(probs[i]);
    }
    for (int t = 0; t < opt.threads; t++) {
        free(tb[t].out);
        free(tb[t].scratch);
    }
    free(tb);
    free(save_ref);
    free(save_blas);
    inputs_free(&in);
}

/* ------------------------------------------------------------------------ */
/* Epoch mode                                                                */

/* Gather a batch the way train.c does: copy the shuffled samples into
 * contiguous buffers. */
static void gather(const cnn_dataset *ds, const int *order, int lo, int n, uint8_t *bx,
                   uint8_t *by)
{
    for (int i = 0; i < n; i++) {
        memcpy(bx + (long)i * IMG, ds->images + (long)order[lo + i] * IMG, IMG);
        by[i] = ds->labels[order[lo + i]];
    }
}

/* Cycles through the batches of one shuffled order, for the step timing. */
typedef struct {
    cnn_net *net;
    const cnn_dataset *ds;
    const int *order;
    uint8_t *bx, *by;
    int batch, batches, next;
    cnn_status st;
} real_steps;

static void real_step_body(void *p)
{
    real_steps *s = p;
    int lo = s->next * s->batch;
    int n = s->ds->count - lo < s->batch ? s->ds->count - lo : s->batch;
    gather(s->ds, s->order, lo, n, s->bx, s->by);
    cnn_status st = cnn_net_train_step(s->net, s->bx, s->by, n, EPOCH_LR, NULL, NULL);
    if (st != CNN_OK)
        s->st = st;
    s->next = (s->next + 1) % s->batches;
}

/* Statistics of n run times, each divided by `per` (batches per run). */
static void summarize(double *s, int n, timing *t, int per)
{
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    t->med = quantile(s, n, 0.5) / per;
    t->p10 = quantile(s, n, 0.1) / per;
    t->p90 = quantile(s, n, 0.9) / per;
    t->min = s[0] / per;
    t->max = s[n - 1] / per;
    t->repeats = n;
    t->inner = 1;
}

static void target_line(const char *what, double got, double want, const char *unit)
{
    printf("  %-44s %12.1f%s  target >= %.0f%s  %s\n", what, got, unit, want, unit,
           got >= want ? "met" : "NOT met");
}

static double flops_of(int pass)
{
    double f = 0;
    for (int e = 0; e < NENTRIES; e++)
        if (entries[e].step == IN_FWD || (pass && entries[e].step == IN_BWD))
            f += entries[e].flops;
    return f;
}

static void bench_epochs(int B, const cnn_dataset *train, const cnn_dataset *test)
{
    const int epochs = opt.repeats > 0 ? opt.repeats : 3;
    const int batches = (train->count + B - 1) / B;
    int *order = xmalloc((size_t)train->count * sizeof *order);
    uint8_t *bx = xmalloc((size_t)B * IMG), *by = xmalloc((size_t)B);
    cnn_rng rng;
    cnn_rng_seed(&rng, 1);
    float *params = falloc(CNN_PARAM_COUNT);
    cnn_params_init(params, &rng);

    /* ref against blas on the same real batches: the step speed-up target. */
    for (int i = 0; i < train->count; i++)
        order[i] = i;
    cnn_rng_shuffle(&rng, order, train->count);
    timing step[2];
    for (int i = 0; i < 2; i++) {
        cnn_net *net = make_net((cnn_impl)i, B, params);
        real_steps s = {net, train, order, bx, by, B, batches, 0, CNN_OK};
        measure(real_step_body, &s, 0, STEP_BUDGET_S, &step[i]);
        cnn_net_free(net);
        if (s.st != CNN_OK) {
            fprintf(stderr, PROG ": %s train step failed: %s\n", cnn_impl_name((cnn_impl)i),
                    cnn_status_str(s.st));
            failures++;
        }
    }

    /* Whole epochs with the blas trainer, as train.c runs them (shuffle,
     * gather, step), without the test evaluation; then test-set passes
     * through cnn_evaluate, the trainer's evaluation. */
    cnn_net *net = make_net(CNN_IMPL_BLAS, B, params);
    double *ep = xmalloc((size_t)epochs * sizeof *ep);
    double *inf = xmalloc((size_t)epochs * INFER_PASSES * sizeof *inf);
    int ninf = 0;
    for (int e = 0; e < epochs; e++) {
        double t0 = now_s(), loss_sum = 0;
        long right = 0;
        for (int i = 0; i < train->count; i++)
            order[i] = i;
        cnn_rng_shuffle(&rng, order, train->count);
        for (int b = 0; b < batches; b++) {
            int lo = b * B, n = train->count - lo < B ? train->count - lo : B;
            gather(train, order, lo, n, bx, by);
            double l = 0;
            int c = 0;
            cnn_status st = cnn_net_train_step(net, bx, by, n, EPOCH_LR, &l, &c);
            if (st != CNN_OK) {
                fprintf(stderr, PROG ": epoch %d, batch %d: %s\n", e + 1, b + 1,
                        cnn_status_str(st));
                exit(1);
            }
            loss_sum += l;
            right += c;
        }
        ep[e] = now_s() - t0;
        double test_loss = 0, acc = 0;
        for (int k = 0; k < INFER_PASSES; k++) {
            double a = now_s();
            if (cnn_evaluate(net, test, B, &test_loss, &acc, NULL) != CNN_OK) {
                fprintf(stderr, PROG ": test-set inference failed\n");
                exit(1);
            }
            inf[ninf++] = now_s() - a;
        }
        if (opt.fmt == FMT_TABLE)
            printf("epoch %d/%d: %.3f s, %.0f samples/s; train loss %.4f, accuracy %.2f%%; "
                   "test accuracy %.2f%%\n",
                   e + 1, epochs, ep[e], train->count / ep[e], loss_sum / train->count,
                   100.0 * right / train->count, 100.0 * acc);
    }
    cnn_net_free(net);

    /* Rows are per batch like every other row: an epoch's times divided
     * by its number of batches (so the samples per "batch" is the mean,
     * count/batches, and samples/s is exactly count / epoch time). */
    timing te, ti;
    const int test_batches = (test->count + B - 1) / B;
    summarize(ep, epochs, &te, batches);
    summarize(inf, ninf, &ti, test_batches);
    if (opt.fmt == FMT_TABLE)
        print_table_head();
    row r = make_row("epoch", "train", "blas", B, &te, flops_of(1));
    r.samples = (double)train->count / batches;
    emit_row(&r);
    r = make_row("test-set", "inference", "blas", B, &ti, flops_of(0));
    r.samples = (double)test->count / test_batches;
    emit_row(&r);
    for (int i = 0; i < 2; i++) {
        r = make_row("train-step", "real-data", cnn_impl_name((cnn_impl)i), B, &step[i],
                     flops_of(1));
        if (i == CNN_IMPL_BLAS)
            r.speedup = step[0].med / step[1].med;
        emit_row(&r);
    }
    if (opt.fmt == FMT_TABLE) {
        printf("targets at batch %d, %d threads (medians):\n", B, opt.threads);
        target_line("training through an epoch (samples/s)", train->count / (te.med * batches),
                    60000, "");
        target_line("test-set inference (samples/s)", test->count / (ti.med * test_batches),
                    250000, "");
        target_line("training step, blas over ref (x)", step[0].med / step[1].med, 20, "x");
    }
    free(ep);
    free(inf);
    free(params);
    free(order);
    free(bx);
    free(by);
}

/* ------------------------------------------------------------------------ */
/* Command line                                                              */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: layers [OPTIONS]\n"
            "\n"
            "Time every kernel of the seed network (conv, ReLU, avgpool, the fused\n"
            "bias+ReLU+avgpool, dense, softmax+cross-entropy), forward and backward, in\n"
            "the ref and blas implementations, run as the trainer runs them (OpenMP over\n"
            "chunks of %d samples). Each blas kernel is first checked against its ref\n"
            "twin (max|blas-ref| <= 1e-4*max(1,max|ref|)); one that disagrees is not\n"
            "reported and the exit status is 1. Then the whole training step and\n"
            "inference, and the sum of their parts. Times are medians; the spread is\n"
            "p10-p90 of the repeats. See bench/README.md.\n"
            "\n"
            "options:\n"
            "  --batch N[,N...]  batch sizes, 1..%d (default 64)\n"
            "  --threads N       OpenMP threads (default: all cores, here %d)\n"
            "  --repeats N       timed repeats per row (default: adaptive, %d..%d, about\n"
            "                    %.1f s per row); with --epoch: epochs (default 3)\n"
            "  --csv             machine-readable CSV on stdout (header line first)\n"
            "  --json            machine-readable JSON on stdout\n"
            "  --epoch [DIR]     instead: time whole epochs of blas training on\n"
            "                    Fashion-MNIST from DIR (default " DEFAULT_DATA "),\n"
            "                    whole test-set inference (%d passes per epoch), and\n"
            "                    ref vs blas training steps on real batches; checks the\n"
            "                    targets (>= 60000 samples/s training, >= 250000\n"
            "                    inference, blas >= 20x ref per step)\n"
            "  -h, --help        show this help\n"
            "\n"
            "exit status: 0 ok, 1 a kernel failed its check or a run failed, 2 bad usage\n",
            CNN_CHUNK, MAX_BATCH, opt.threads, MIN_REPEATS, MAX_REPEATS, ROW_BUDGET_S,
            INFER_PASSES);
}

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One line on stderr, "layers: ..."; returns -1 for the caller to pass up. */
static int bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, PROG ": ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see --help)\n");
    va_end(ap);
    return -1;
}

/* A whole decimal integer in [lo, hi], nothing else (no sign, no spaces). */
static int parse_int(const char *flag, const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = (*s >= '0' && *s <= '9') ? strtol(s, &end, 10) : -1;
    if (v < 0 || *end != '\0' || errno == ERANGE || v < lo || v > hi)
        return bad("%s: '%s' is not a whole number in %ld..%ld", flag, s, lo, hi);
    *out = (int)v;
    return 0;
}

static int parse_batches(const char *s)
{
    char buf[256];
    if (strlen(s) >= sizeof buf)
        return bad("--batch: '%s' is too long", s);
    strcpy(buf, s);
    opt.nbatches = 0;
    char *p = buf;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (opt.nbatches == MAX_BATCHES)
            return bad("--batch: more than %d batch sizes", MAX_BATCHES);
        if (parse_int("--batch", p, 1, MAX_BATCH, &opt.batches[opt.nbatches]) != 0)
            return -1;
        opt.nbatches++;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

/* The value of a flag: "--flag=V" or "--flag V". */
static const char *value_of(int argc, char **argv, int *i, const char *arg, const char *flag)
{
    size_t n = strlen(flag);
    if (arg[n] == '=')
        return arg + n + 1;
    if (*i + 1 >= argc) {
        bad("%s needs a value", flag);
        return NULL;
    }
    return argv[++*i];
}

static int flag_is(const char *arg, const char *flag)
{
    size_t n = strlen(flag);
    return strncmp(arg, flag, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

static int parse_args(int argc, char **argv)
{
    int have_csv = 0, have_json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (flag_is(a, "--batch")) {
            if (!(v = value_of(argc, argv, &i, a, "--batch")) || parse_batches(v) != 0)
                return -1;
        } else if (flag_is(a, "--threads")) {
            if (!(v = value_of(argc, argv, &i, a, "--threads")) ||
                parse_int("--threads", v, 1, 256, &opt.threads) != 0)
                return -1;
        } else if (flag_is(a, "--repeats")) {
            if (!(v = value_of(argc, argv, &i, a, "--repeats")) ||
                parse_int("--repeats", v, 1, 100000, &opt.repeats) != 0)
                return -1;
        } else if (strcmp(a, "--csv") == 0) {
            have_csv = 1;
            opt.fmt = FMT_CSV;
        } else if (strcmp(a, "--json") == 0) {
            have_json = 1;
            opt.fmt = FMT_JSON;
        } else if (flag_is(a, "--epoch")) {
            opt.epoch = 1;
            /* DIR is optional: take the next word unless it is a flag. */
            if (a[strlen("--epoch")] == '=')
                opt.data_dir = a + strlen("--epoch=");
            else if (i + 1 < argc && argv[i + 1][0] != '-')
                opt.data_dir = argv[++i];
            if (!*opt.data_dir)
                return bad("--epoch: empty directory");
        } else {
            return bad("unknown option '%s'", a);
        }
    }
    if (have_csv && have_json)
        return bad("--csv and --json exclude each other");
    return 0;
}

/* The 1-minute load average from /proc/loadavg (Linux), or -1. Other
 * processes on the cores stall the OpenMP barriers that every timed run
 * ends with, so a load above the core count means slow, noisy numbers. */
static double load_average(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

/* The run's description: on stdout for the table and inside the JSON; on
 * stderr with --csv, so that stdout stays one CSV table. */
static void print_header(FILE *f, double load_s, const cnn_dataset *train,
                         const cnn_dataset *test)
{
    const char *coretype = getenv("OPENBLAS_CORETYPE");
    fprintf(f, "bench/layers%s; BLAS: %s%s%s\n",
            opt.epoch ? " --epoch: blas training epochs and test-set inference"
                      : ": cnn kernels, ref vs blas",
            cnn_blas_config(), coretype ? "; OPENBLAS_CORETYPE=" : "",
            coretype ? coretype : "");
    double load = load_average();
    fprintf(f, "%d cores, load average %.2f; ", omp_get_num_procs(), load);
    fprintf(f, "threads %d (OpenMP over chunks of %d samples; BLAS single-threaded), batch",
            opt.threads, CNN_CHUNK);
    for (int b = 0; b < opt.nbatches; b++)
        fprintf(f, "%s%d", b ? "," : " ", opt.batches[b]);
    if (opt.epoch)
        fprintf(f, ", epochs %d\ndata %s: %d training, %d test samples (loaded in %.2f s)\n",
                opt.repeats > 0 ? opt.repeats : 3, opt.data_dir, train->count, test->count,
                load_s);
    else if (opt.repeats > 0)
        fprintf(f, ", repeats per row %d; median and p10-p90 per batch\n", opt.repeats);
    else
        fprintf(f, ", repeats adaptive (%d..%d, ~%.1f s a row); median and p10-p90 per batch\n",
                MIN_REPEATS, MAX_REPEATS, ROW_BUDGET_S);
    if (load > omp_get_num_procs() && opt.threads > 1)
        fprintf(f, "warning: the load average exceeds the core count: other processes compete,\n"
                   "and multi-threaded runs stall at OpenMP barriers (often for whole scheduler\n"
                   "slices of a few ms); expect inflated, noisy times\n");
}

static const char *CSV_HEAD =
    "layer,direction,impl,batch,threads,repeats,inner,median_s,p10_s,p90_s,min_s,max_s,"
    "samples_per_s,flops_per_sample,gflops,speedup,whole_over_parts\n";

int main(int argc, char **argv)
{
    /* Before anything else touches BLAS or OpenMP: the trainer's setting. */
    opt.threads = cnn_blas_single_thread();
    opt.batches[0] = 64;
    opt.nbatches = 1;
    opt.data_dir = DEFAULT_DATA;
    if (parse_args(argc, argv) != 0)
        return 2;
    double t_start = now_s(), load_start = load_average();

    cnn_dataset train = {0}, test = {0};
    double load_s = 0;
    if (opt.epoch) {
        cnn_err err = {{0}};
        double a = now_s();
        if (cnn_dataset_load(opt.data_dir, "train", H, W, OUT, &train, &err) != CNN_OK ||
            cnn_dataset_load(opt.data_dir, "t10k", H, W, OUT, &test, &err) != CNN_OK) {
            fprintf(stderr, PROG ": %s\n", err.msg);
            cnn_dataset_free(&train);
            return 1;
        }
        load_s = now_s() - a;
    }

    if (opt.fmt == FMT_JSON) {
        printf("{\n  \"tool\": \"bench/layers\", \"mode\": ");
        json_string(stdout, opt.epoch ? "epoch" : "layers");
        printf(",\n  \"blas_config\": ");
        json_string(stdout, cnn_blas_config());
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
        printf(", \"spread\": \"p10-p90\",\n  \"rows\": [");
    } else {
        print_header(opt.fmt == FMT_CSV ? stderr : stdout, load_s, &train, &test);
        if (opt.fmt == FMT_CSV)
            fputs(CSV_HEAD, stdout);
    }

    for (int b = 0; b < opt.nbatches; b++) {
        if (opt.fmt == FMT_TABLE)
            printf("\n");
        if (opt.epoch) {
            bench_epochs(opt.batches[b], &train, &test);
        } else {
            if (opt.fmt == FMT_TABLE)
                print_table_head();
            bench_batch(opt.batches[b]);
        }
    }
    cnn_dataset_free(&train);
    cnn_dataset_free(&test);

    double elapsed = now_s() - t_start;
    if (opt.fmt == FMT_JSON) {
        printf("\n  ],\n  \"mismatches\": [");
        for (int i = 0; i < nmismatches; i++) {
            printf("%s\n    {\"kernel\": ", i ? "," : "");
            json_string(stdout, mismatches[i].what);
            printf(", \"batch\": %d, \"max_abs_diff\": ", mismatches[i].batch);
            json_num(stdout, mismatches[i].diff, 0);
            printf(", \"tolerance\": ");
            json_num(stdout, mismatches[i].tol, 0);
            printf("}");
        }
        printf("%s],\n  \"failures\": %d, \"elapsed_s\": %.3f, \"cores\": %d, "
               "\"load_average_start\": ",
               nmismatches ? "\n  " : "", failures, elapsed, omp_get_num_procs());
        json_num(stdout, load_start, load_start < 0);
        printf(", \"load_average_end\": ");
        json_num(stdout, load_average(), load_average() < 0);
        printf("\n}\n");
    } else if (opt.fmt == FMT_TABLE) {
        printf("\n%s in %.1f s (load average now %.2f)\n", failures ? "FAILED" : "done", elapsed,
               load_average());
    }
    if (failures)
        fprintf(stderr, PROG ": %d check(s) or run(s) failed\n", failures);
    return failures ? 1 : 0;
}
