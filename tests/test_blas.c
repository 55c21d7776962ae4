/* test_blas.c — for whichever BLAS the build was configured with
 * (-Dblas=openblas|blis|netlib|atlas): the library that runs is the one the
 * build names, not another one that Debian's alternatives put behind the
 * same soname or header; BLAS stays on one thread per caller inside OpenMP
 * regions, as the BLAS itself reports and as the process's thread count
 * shows; and its SGEMM is right when called from several OpenMP threads. */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "cnn_blas_build.h"
#if defined(CNN_BLAS_BLIS)
#include <blis.h>
#endif

#include "cnn.h"
#include "cnn_blas.h"

/* Raise the BLAS's own thread setting, as a caller or the environment
 * (OPENBLAS_NUM_THREADS, BLIS_NUM_THREADS, BLIS_JC_NT, ...) could. */
static void blas_raise_threads(void)
{
#if defined(CNN_BLAS_OPENBLAS)
    openblas_set_num_threads(2);
#elif defined(CNN_BLAS_BLIS)
    bli_thread_set_ways(2, 1, 2, 1, 1);
    bli_thread_set_num_threads(4);
#endif
}

/* The most threads one BLAS call may use, as the BLAS itself reports it. */
static long blas_max_threads(void)
{
#if defined(CNN_BLAS_OPENBLAS)
    return openblas_get_num_threads();
#elif defined(CNN_BLAS_BLIS)
    /* A total and per-loop ways; -1 means unset. Ways, when set, win. */
    long most = bli_thread_get_num_threads();
    long ways = 1;
    dim_t w[5] = {bli_thread_get_jc_nt(), bli_thread_get_pc_nt(), bli_thread_get_ic_nt(),
                  bli_thread_get_jr_nt(), bli_thread_get_ir_nt()};
    for (int i = 0; i < 5; i++)
        if (w[i] > 0)
            ways *= (long)w[i];
    return most > ways ? most : ways;
#else
    return 1; /* netlib, serial ATLAS: no threads */
#endif
}

/* Threads of this process now (Linux: /proc/self/task), or -1. */
static int process_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static int has_symbol(const char *name) { return dlsym(RTLD_DEFAULT, name) != NULL; }

/* The library named by the build is the one loaded: its name, the file
 * cblas_sgemm came from (in the directory the build linked from), and no
 * other BLAS's symbols in the process. */
static void test_the_named_blas_runs(void **state)
{
    (void)state;
    const char *name = cnn_blas_name(), *lib = cnn_blas_library();
    print_message("BLAS: %s\n  config: %s\n  cblas_sgemm from: %s\n", name, cnn_blas_config(),
                  lib);
    assert_true(strncmp(name, CNN_BLAS_LABEL, strlen(CNN_BLAS_LABEL)) == 0);
    assert_true(strlen(cnn_blas_config()) >= strlen(name));

    char want[PATH_MAX], got[PATH_MAX];
    assert_non_null(realpath(CNN_BLAS_LIBDIR, want));
    assert_true(lib[0] == '/');
    snprintf(got, sizeof got, "%s", lib);
    assert_string_equal(dirname(got), want);

    int openblas = has_symbol("openblas_get_config");
    int blis = has_symbol("bli_info_get_version_str");
    int atlas = has_symbol("ATL_buildinfo");
#if defined(CNN_BLAS_OPENBLAS)
    assert_true(openblas && !blis && !atlas);
#elif defined(CNN_BLAS_BLIS)
    assert_true(!openblas && blis && !atlas);
#elif defined(CNN_BLAS_ATLAS)
    assert_true(!openblas && !blis && atlas);
    /* The threaded ATLAS (libptcblas) would bring its thread launcher. */
    assert_false(has_symbol("ATL_goparallel"));
#else /* netlib */
    assert_true(!openblas && !blis && !atlas);
#endif
}

/* A GEMM big enough that a threaded BLAS splits it: C = A·B, n×n. */
enum { GEMM_N = 384 };

/* Returns the number of wrong entries (-1: out of memory). No cmocka
 * assertion here: it runs on OpenMP threads, where longjmp must not. */
static int gemm_errors(int n, unsigned seed)
{
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n);
    float *c = malloc(sizeof(float) * n * n);
    if (!a || !b || !c) {
        free(a);
        free(b);
        free(c);
        return -1;
    }
    unsigned s = seed;
    for (int i = 0; i < n * n; i++) {
        s = s * 1664525u + 1013904223u;
        a[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
        s = s * 1664525u + 1013904223u;
        b[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c,
                n);
    /* A few entries in double, against the BLAS's float. */
    int errors = 0;
    for (int t = 0; t < 16; t++) {
        int i = (t * 37 + (int)seed) % n, j = (t * 91 + 7) % n;
        double ref = 0;
        for (int k = 0; k < n; k++)
            ref += (double)a[i * n + k] * b[k * n + j];
        errors += !(fabs(c[i * n + j] - ref) <= 1e-4 * n);
    }
    free(a);
    free(b);
    free(c);
    return errors;
}

/* cnn_blas_single_thread() brings the BLAS back to one thread, as the BLAS
 * reports it on every OpenMP thread, and no SGEMM starts threads of its own:
 * not on the main thread, not in a one-thread region (as `--threads 1`
 * runs; there omp_in_parallel() is false, and BLIS 0.9 with
 * BLIS_NUM_THREADS=4 starts 2 threads more), not in a two-thread region with
 * nested parallelism allowed. Runs before any other test of this process
 * has sized OpenMP's pool. */
static void test_single_thread_in_openmp_regions(void **state)
{
    (void)state;
    blas_raise_threads();
    assert_true(cnn_blas_single_thread() >= 1);
    assert_int_equal(blas_max_threads(), 1);

    int saved_levels = omp_get_max_active_levels();
    omp_set_max_active_levels(2);
    /* A region that starts OpenMP's own second thread... */
    long seen[2] = {0, 0};
#pragma omp parallel num_threads(2)
    seen[omp_get_thread_num()] = blas_max_threads();
    assert_int_equal(seen[0], 1);
    assert_int_equal(seen[1], 1);
    /* ...then SGEMMs outside and inside regions: no new threads. (Counted
     * after each: OpenMP lets surplus threads go when a smaller team starts.) */
    int before = process_threads(), most = before, now;
    int errors = gemm_errors(GEMM_N, 11u) != 0;
    most = (now = process_threads()) > most ? now : most;
#pragma omp parallel num_threads(1) reduction(+ : errors)
    errors += gemm_errors(GEMM_N, 12u) != 0;
    most = (now = process_threads()) > most ? now : most;
#pragma omp parallel num_threads(2) reduction(+ : errors)
    {
        errors += gemm_errors(GEMM_N, 13u + (unsigned)omp_get_thread_num()) != 0;
#pragma omp barrier
#pragma omp master
        most = (now = process_threads()) > most ? now : most;
    }
    omp_set_max_active_levels(saved_levels);
    assert_int_equal(errors, 0);
    print_message("threads in the process: %d before the SGEMMs, at most %d after\n", before,
                  most);
    if (before > 0)
        assert_int_equal(most, before);
}

/* Creating a network does it too (the trainer relies on it), even when
 * something had raised the BLAS's threads before. */
static void test_net_create_single_threads_blas(void **state)
{
    (void)state;
    blas_raise_threads();
    cnn_arch a;
    assert_int_equal(cnn_arch_parse(&a, "seed", 28, 28, 1, 10, NULL), CNN_OK);
    cnn_net *net;
    assert_int_equal(cnn_net_create(&net, &a, CNN_IMPL_BLAS, 16, 0), CNN_OK);
    assert_int_equal(blas_max_threads(), 1);
    long seen[2] = {0, 0};
#pragma omp parallel num_threads(2)
    seen[omp_get_thread_num()] = blas_max_threads();
    assert_int_equal(seen[0], 1);
    assert_int_equal(seen[1], 1);
    assert_true(cnn_net_threads(net) >= 1);
    cnn_net_free(net);
}

/* SGEMM is right from several OpenMP threads at once, outside and inside. */
static void test_sgemm_from_threads(void **state)
{
    (void)state;
    assert_int_equal(gemm_errors(GEMM_N, 3u), 0);
    int errors = 0;
#pragma omp parallel num_threads(3) reduction(+ : errors)
    errors += gemm_errors(GEMM_N - 17, 5u + (unsigned)omp_get_thread_num()) != 0;
    assert_int_equal(errors, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_named_blas_runs),
        cmocka_unit_test(test_single_thread_in_openmp_regions),
        cmocka_unit_test(test_net_create_single_threads_blas),
        cmocka_unit_test(test_sgemm_from_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
