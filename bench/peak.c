/* peak.c — the machine's own SGEMM rate, measured in the same run at the
 * same thread count, so that every row's GFLOP/s can be read as a fraction
 * of what this machine's BLAS does at its best, and results from different
 * machines compare. The trainer runs BLAS single-threaded inside its OpenMP
 * threads (cnn_blas_single_thread); so does this: each of the T threads
 * multiplies its own n×n matrices (n = 1024 by default: large enough for
 * OpenBLAS's blocking to reach its steady rate, small enough that a run
 * takes a fraction of a second) at the same time, and the peak is
 * T·2n³ / (median time of the whole parallel region). */
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>

#include "bench.h"
#include "cnn_rng.h"

typedef struct {
    int threads, n, got_threads;
    float **a, **b, **c;
} peak_run;

static void peak_body(void *p)
{
    peak_run *r = p;
#pragma omp parallel num_threads(r->threads)
    {
        int t = omp_get_thread_num(), n = r->n;
        if (t == 0)
            r->got_threads = omp_get_num_threads();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, r->a[t], n,
                    r->b[t], n, 0.0f, r->c[t], n);
    }
}

double measure_peak(int threads, int n, timing *t)
{
    peak_run r = {threads, n, 0, NULL, NULL, NULL};
    const long nn = (long)n * n;
    r.a = xmalloc((size_t)threads * sizeof *r.a);
    r.b = xmalloc((size_t)threads * sizeof *r.b);
    r.c = xmalloc((size_t)threads * sizeof *r.c);
    /* Each thread allocates and fills its own matrices (first touch). */
#pragma omp parallel num_threads(threads)
    {
        int k = omp_get_thread_num();
        cnn_rng rng;
        cnn_rng_seed(&rng, 1000 + (uint64_t)k);
        float *a = falloc(nn), *b = falloc(nn), *c = falloc(nn);
        for (long i = 0; i < nn; i++) {
            a[i] = cnn_rng_uniform(&rng, -1.0f, 1.0f);
            b[i] = cnn_rng_uniform(&rng, -1.0f, 1.0f);
        }
        r.a[k] = a;
        r.b[k] = b;
        r.c[k] = c;
    }
    /* --repeats counts epochs in --epoch mode: the peak stays adaptive there */
    measure(peak_body, &r, opt.epoch ? 0 : opt.repeats, 2 * row_budget(), t);
    if (r.got_threads != threads) {
        fprintf(stderr, PROG ": the peak ran on %d threads, not %d\n", r.got_threads, threads);
        failures++;
    }
    for (int k = 0; k < threads; k++) {
        free(r.a[k]);
        free(r.b[k]);
        free(r.c[k]);
    }
    free(r.a);
    free(r.b);
    free(r.c);
    return (double)threads * 2.0 * (double)n * n * n / t->med * 1e-9;
}
