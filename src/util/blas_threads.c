/* blas_threads.c — keep the linked BLAS on one thread per caller, and say
 * which BLAS it is (see cnn_blas.h). The BLAS is chosen when the project is
 * configured (-Dblas=openblas|blis|netlib|atlas, src/util/blas/meson.build),
 * which defines one CNN_BLAS_<NAME> in cnn_blas_build.h. */
#define _GNU_SOURCE /* dladdr; a feature-test macro, reserved on purpose: NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */
#include <dlfcn.h>
#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h> /* the chosen BLAS's own, through the generated shim */

#include "cnn_blas_build.h"
#if defined(CNN_BLAS_BLIS)
#include <blis.h>
#elif defined(CNN_BLAS_ATLAS) && defined(__has_include)
#if __has_include(<atlas/atlas_buildinfo.h>)
#include <atlas/atlas_buildinfo.h> /* ATL_ARCH: the architecture it was tuned for */
#endif
#endif

#include "cnn_blas.h"

#if !defined(CNN_BLAS_OPENBLAS) && !defined(CNN_BLAS_BLIS) && \
    !defined(CNN_BLAS_NETLIB) && !defined(CNN_BLAS_ATLAS)
#error "cnn_blas_build.h names no BLAS (configure with meson -Dblas=...)"
#endif

int cnn_blas_single_thread(void)
{
    /* With the openmp build of OpenBLAS, openblas_set_num_threads also calls
     * omp_set_num_threads(1); so the default is read first, and every
     * parallel region in this project names its num_threads explicitly. */
    static int default_threads;
#pragma omp critical(cnn_blas_single_thread)
    {
        if (default_threads == 0)
            default_threads = omp_get_max_threads();
#if defined(CNN_BLAS_OPENBLAS)
        /* Any build: pthread (its own pool), openmp, serial (a no-op). */
        openblas_set_num_threads(1);
#elif defined(CNN_BLAS_BLIS)
        /* BLIS 0.9 (Debian 12) keeps one process-wide setting (its global
         * rntm_t), read by every thread, initialised from BLIS_NUM_THREADS or
         * OMP_NUM_THREADS (a total) and BLIS_{JC,PC,IC,JR,IR}_NT (ways per
         * loop). Setting the total leaves ways set from the environment in
         * place, so both are set to 1. (Later BLIS releases keep the setting
         * per thread; tests/test_blas.c checks it inside OpenMP regions,
         * where the calls are made.) */
        bli_thread_set_ways(1, 1, 1, 1, 1);
        bli_thread_set_num_threads(1);
#else
        /* The netlib reference BLAS and Debian's ATLAS (libatlas3-base, the
         * serial build; threaded ATLAS is a separate libptcblas that is not
         * linked) start no threads: there is nothing to set. */
#endif
    }
    return default_threads;
}

/* Everything below is computed once, under a lock, into static buffers. */
static char blas_name[96];
static char blas_config[320];
static char blas_library[PATH_MAX];

#if defined(CNN_BLAS_OPENBLAS)
static void first_words(char *out, size_t size, const char *s, int words)
{
    size_t n = 0;
    for (int w = 0; s[n] != '\0'; n++)
        if (s[n] == ' ' && ++w == words)
            break;
    snprintf(out, size, "%.*s", (int)n, s);
}
#endif

static void describe(void)
{
#if defined(CNN_BLAS_OPENBLAS)
    const char *config = openblas_get_config(); /* "OpenBLAS 0.3.21 NO_LAPACKE ..." */
    first_words(blas_name, sizeof blas_name, config, 2);
    snprintf(blas_config, sizeof blas_config, "%s", config);
#elif defined(CNN_BLAS_BLIS)
    snprintf(blas_name, sizeof blas_name, "BLIS %s", bli_info_get_version_str());
    snprintf(blas_config, sizeof blas_config, "%s, %s kernels, %s", blas_name,
             bli_arch_string(bli_arch_query_id()),
             bli_info_get_enable_openmp()     ? "OpenMP build"
             : bli_info_get_enable_pthreads() ? "pthreads build"
                                              : "single-threaded build");
#else
    /* Neither library can say what it is: the name and version are the ones
     * the build found (tests/test_blas.c checks the loaded file). */
    snprintf(blas_name, sizeof blas_name, "%s%s%s", CNN_BLAS_LABEL,
             CNN_BLAS_VERSION[0] ? " " : "", CNN_BLAS_VERSION);
#if defined(ATL_ARCH)
    snprintf(blas_config, sizeof blas_config, "%s, serial, tuned for %s", blas_name, ATL_ARCH);
#else
    snprintf(blas_config, sizeof blas_config, "%s, serial", blas_name);
#endif
#endif

    /* The file that cblas_sgemm, as this library calls it, was loaded from
     * (after symbolic links: Debian's alternatives are links). */
    void (*fn)(void) = (void (*)(void))cblas_sgemm;
    void *addr;
    memcpy(&addr, &fn, sizeof addr);
    Dl_info info;
    char resolved[PATH_MAX];
    if (dladdr(addr, &info) && info.dli_fname && info.dli_fname[0] != '\0')
        snprintf(blas_library, sizeof blas_library, "%s",
                 realpath(info.dli_fname, resolved) ? resolved : info.dli_fname);
}

static const char *described(const char *buffer)
{
    static int done;
#pragma omp critical(cnn_blas_describe)
    {
        if (!done) {
            describe();
            done = 1;
        }
    }
    return buffer;
}

const char *cnn_blas_name(void) { return described(blas_name); }
const char *cnn_blas_config(void) { return described(blas_config); }
const char *cnn_blas_library(void) { return described(blas_library); }
