/* optim.c — bench/optim: how long one optimizer update (cnn_optim_step:
 * gradient norm, optional clipping, the update) takes, for each optimizer,
 * on a LeNet-5-sized block of parameters (61,706: its five weight tensors
 * decayed, its biases not). Prints the median over many single updates, in
 * µs, to set against a training step (a LeNet-5 step at batch 64 is 3–4 ms
 * on the 2-core reference machine). Run by hand; not a test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>

#include "cnn_optim.h"
#include "cnn_rng.h"

#define PROG "optim"

/* LeNet-5 (6 and 16 5×5 filters, 120-84-10 dense) as weight/bias pairs. */
static const long lenet5[][2] = {
    {6 * 1 * 25, 6}, {16 * 6 * 25, 16}, {400 * 120, 120}, {120 * 84, 84}, {84 * 10, 10},
};
enum { LENET5_PARAMS = 61706, NLAYERS = 5 };

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e6 * (double)ts.tv_sec + 1e-3 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [--n N] [--repeats R] [--threads T]\n"
            "Times one cnn_optim_step per optimizer on N parameters (default %d, LeNet-5:\n"
            "weights decayed, biases not; another N decays its first 90%%), median of R\n"
            "single updates (default 301) after 20 untimed ones, on T threads (default\n"
            "OpenMP's, i.e. all cores); prints µs per update.\n",
            PROG, LENET5_PARAMS);
}

int main(int argc, char **argv)
{
    long n = LENET5_PARAMS;
    int repeats = 301, threads = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc) {
            n = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--repeats") == 0 && i + 1 < argc) {
            repeats = (int)strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = (int)strtol(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "%s: unknown option %s (try --help)\n", PROG, argv[i]);
            return 2;
        }
    }
    if (n < 1 || n > 100000000 || repeats < 1 || repeats > 1000000 || threads < 0 ||
        threads > 1024) {
        fprintf(stderr, "%s: --n must be in 1..1e8, --repeats in 1..1e6, --threads in 0..1024\n",
                PROG);
        return 2;
    }

    cnn_range ranges[NLAYERS];
    int nr = 0;
    if (n == LENET5_PARAMS) {
        long at = 0;
        for (int l = 0; l < NLAYERS; l++) {
            ranges[nr++] = (cnn_range){at, lenet5[l][0]};
            at += lenet5[l][0] + lenet5[l][1];
        }
    } else {
        ranges[nr++] = (cnn_range){0, n / 10 * 9};
    }

    struct {
        const char *label;
        cnn_opt_kind kind;
        double momentum, wd, clip;
        int nesterov;
    } rows[] = {
        {"sgd", CNN_OPT_SGD, 0, 0, 0, 0},
        {"sgd momentum 0.9", CNN_OPT_SGD, 0.9, 0, 0, 0},
        {"sgd nesterov 0.9 wd 5e-4", CNN_OPT_SGD, 0.9, 5e-4, 0, 1},
        {"adam", CNN_OPT_ADAM, 0, 0, 0, 0},
        {"adam wd 5e-4", CNN_OPT_ADAM, 0, 5e-4, 0, 0},
        {"adamw wd 1e-2", CNN_OPT_ADAMW, 0, 1e-2, 0, 0},
        {"adamw wd 1e-2 clip 1e-3", CNN_OPT_ADAMW, 0, 1e-2, 1e-3, 0},
    };

    float *p = malloc((size_t)n * sizeof *p), *g = malloc((size_t)n * sizeof *g),
          *g0 = malloc((size_t)n * sizeof *g0);
    double *t = malloc((size_t)repeats * sizeof *t);
    if (!p || !g || !g0 || !t) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        return 1;
    }
    cnn_rng rng;
    cnn_rng_seed(&rng, 1);
    for (long i = 0; i < n; i++) {
        p[i] = cnn_rng_uniform(&rng, -0.5f, 0.5f);
        g0[i] = cnn_rng_uniform(&rng, -5e-4f, 5e-4f);
    }

    printf("%ld parameters, %d threads, median of %d updates\n", n,
           threads > 0 ? threads : omp_get_max_threads(), repeats);
    printf("%-28s %10s\n", "optimizer", "us/update");
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        cnn_optim_opts o;
        cnn_optim_opts_default(&o);
        o.kind = rows[r].kind;
        o.momentum = rows[r].momentum;
        o.nesterov = rows[r].nesterov;
        o.weight_decay = rows[r].wd;
        o.clip_norm = rows[r].clip;
        o.threads = threads;
        cnn_optim *opt;
        cnn_err err;
        if (cnn_optim_create(&opt, &o, n, ranges, nr, &err) != CNN_OK) {
            fprintf(stderr, "%s: %s\n", PROG, err.msg);
            return 1;
        }
        for (int k = -20; k < repeats; k++) {
            memcpy(g, g0, (size_t)n * sizeof *g); /* clipping scales g in place */
            double t0 = now_us();
            cnn_status st = cnn_optim_step(opt, p, g, n, 1e-3f, NULL);
            double t1 = now_us();
            if (st != CNN_OK) {
                fprintf(stderr, "%s: %s: step failed: %s\n", PROG, rows[r].label,
                        cnn_status_str(st));
                return 1;
            }
            if (k >= 0)
                t[k] = t1 - t0;
        }
        qsort(t, (size_t)repeats, sizeof *t, cmp_double);
        printf("%-28s %10.1f\n", rows[r].label, t[repeats / 2]);
        cnn_optim_free(opt);
    }
    free(p);
    free(g);
    free(g0);
    free(t);
    return 0;
}
