/* version.c — `cnn --version`: what this binary is and what it was built
 * with (version and build type from meson's generated cnn_config.h, the
 * BLAS linked, the OpenMP version the compiler implements). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cnn_blas.h"
#include "cnn_config.h"

/* _OPENMP is the date of the specification implemented. */
static const char *openmp_version(long date)
{
    static const struct {
        long date;
        const char *version;
    } known[] = {{200505, "2.5"}, {200805, "3.0"}, {201107, "3.1"}, {201307, "4.0"},
                 {201511, "4.5"}, {201811, "5.0"}, {202011, "5.1"}, {202111, "5.2"},
                 {202411, "6.0"}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (known[i].date == date)
            return known[i].version;
    return "?";
}

void cli_version(FILE *f)
{
    fprintf(f, "cnn %s\n", CNN_VERSION);
    fprintf(f, "build: %s, %s", CNN_BUILD_TYPE, CNN_COMPILER);
    if (strcmp(CNN_SANITIZE, "none") != 0 && CNN_SANITIZE[0])
        fprintf(f, ", sanitizers %s", CNN_SANITIZE);
    fprintf(f, "\nBLAS: %s\n", cnn_blas_config());
#ifdef _OPENMP
    int threads = cnn_blas_single_thread();
    fprintf(f, "OpenMP: %s (_OPENMP %ld), %d threads by default\n", openmp_version(_OPENMP),
            (long)_OPENMP, threads);
#else
    fprintf(f, "OpenMP: not enabled in this build\n");
#endif
}
