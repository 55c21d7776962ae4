/* blas_threads.c — pin OpenBLAS to one thread per caller (see cnn_blas.h). */
#include <cblas.h>
#include <omp.h>

#include "cnn_blas.h"

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
        openblas_set_num_threads(1);
    }
    return default_threads;
}

const char *cnn_blas_config(void) { return openblas_get_config(); }
