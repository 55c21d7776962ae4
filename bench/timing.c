/* timing.c — bench/layers' timing policy and statistics. The machine is
 * shared and noisy: every row is a median, and its p10–p90 range shows how
 * noisy the run was.
 *   warm-up   at least 2 runs and WARMUP_S (page faults, the thread pool,
 *             clock frequency);
 *   samples   a run shorter than MIN_SAMPLE_S is repeated `inner` times
 *             inside one sample (the sample is their mean), so that clock
 *             reads cost nothing measurable;
 *   repeats   as many samples as fit in ROW_BUDGET_S, MIN_REPEATS..
 *             MAX_REPEATS (slow rows get fewer), or exactly --repeats N;
 *             adaptive sampling stops after ten budgets once 3 samples are
 *             in (the plan comes from the best warm-up run, and on a loaded
 *             machine most runs are much slower).
 * --quick (the smoke test) keeps one warm-up run and no inner repetition:
 * it checks that everything runs, its times mean little. */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"

#define WARMUP_S 0.05
#define MIN_SAMPLE_S 0.002
#define ROW_CAP 10.0   /* adaptive: stop sampling after ROW_CAP budgets… */
#define MIN_CAPPED 3   /* …once this many samples are in */
const double ROW_BUDGET_S = 0.4;
const int MIN_REPEATS = 5, MAX_REPEATS = 51;

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double row_budget(void) { return opt.quick ? 0.0 : ROW_BUDGET_S; }

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

void summarize(double *s, int n, timing *t, double per)
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

void measure(body_fn f, void *ctx, int repeats, double budget, timing *t)
{
    const int warm_runs = opt.quick ? 1 : 2;
    const double warm_s = opt.quick ? 0.0 : WARMUP_S;
    double start = now_s(), best = INFINITY;
    for (int runs = 0; runs < warm_runs || now_s() - start < warm_s; runs++) {
        double a = now_s();
        f(ctx);
        double d = now_s() - a;
        if (d < best)
            best = d;
    }
    if (best <= 0)
        best = 1e-9;
    int inner = opt.quick || best >= MIN_SAMPLE_S ? 1 : (int)ceil(MIN_SAMPLE_S / best);
    int r = repeats;
    if (r <= 0) {
        double fit = budget / (inner * best);
        r = opt.quick ? 1
            : fit < MIN_REPEATS ? MIN_REPEATS
            : fit > MAX_REPEATS ? MAX_REPEATS
                                : (int)fit;
    }
    double *s = xmalloc((size_t)r * sizeof *s);
    const double t0 = now_s();
    int done = 0;
    while (done < r) {
        double a = now_s();
        for (int j = 0; j < inner; j++)
            f(ctx);
        s[done++] = (now_s() - a) / inner;
        /* Adaptive repeats were planned from the best warm-up run; on a
         * loaded machine most runs are far slower, so stop at the cap. */
        if (repeats <= 0 && done >= MIN_CAPPED && now_s() - t0 > ROW_CAP * budget)
            break;
    }
    summarize(s, done, t, 1.0);
    t->inner = inner;
    free(s);
}
