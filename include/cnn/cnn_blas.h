/* cnn_blas.h — keeping BLAS single-threaded.
 * The trainer parallelises across samples with OpenMP; a multi-threaded BLAS
 * called from inside those threads would start threads of its own and the
 * two pools would fight for the cores. */
#ifndef CNN_BLAS_H
#define CNN_BLAS_H

/* Make every BLAS call run on the calling thread only, whichever OpenBLAS
 * build (pthread, openmp, serial) is linked. Idempotent. Returns OpenMP's
 * default thread count as it was before the first call: the openmp build of
 * OpenBLAS lowers that default to 1 as a side effect. */
int cnn_blas_single_thread(void);

/* The linked BLAS library's own description (for logs and benchmarks). */
const char *cnn_blas_config(void);

#endif
