/* cnn_blas.h — which BLAS, and keeping it single-threaded.
 * The trainer parallelises across samples with OpenMP; a multi-threaded BLAS
 * called from inside those threads would start threads of its own and the
 * two pools would fight for the cores. The BLAS is chosen when the library
 * is built (meson -Dblas=openblas|blis|netlib|atlas). */
#ifndef CNN_BLAS_H
#define CNN_BLAS_H

/* Make every BLAS call run on the calling thread only, whichever BLAS is
 * linked: OpenBLAS (pthread, openmp or serial build) through
 * openblas_set_num_threads(1), BLIS through bli_thread_set_num_threads(1);
 * the netlib reference BLAS and ATLAS's serial build have no threads to
 * stop. Idempotent and thread-safe. Returns OpenMP's default thread count as
 * it was before the first call: the openmp build of OpenBLAS lowers that
 * default to 1 as a side effect. */
int cnn_blas_single_thread(void);

/* The BLAS's name and version, e.g. "OpenBLAS 0.3.21", "BLIS 0.9.0",
 * "netlib reference BLAS 3.11.0", "ATLAS 3.10.3". OpenBLAS and BLIS report
 * it themselves at run time; for netlib and ATLAS it is what the build found. */
const char *cnn_blas_name(void);

/* A longer description for logs and benchmarks: OpenBLAS's own
 * configuration string ("OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ... Haswell
 * MAX_THREADS=64"), BLIS's kernel set and threading build, and so on. */
const char *cnn_blas_config(void);

/* The file the running process loaded cblas_sgemm from, symbolic links
 * resolved (e.g. "/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0"), or ""
 * when that cannot be told (a BLAS linked statically). */
const char *cnn_blas_library(void);

#endif
