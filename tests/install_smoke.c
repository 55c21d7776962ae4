/* install_smoke.c — a program of someone else's, built against the
 * installed libcnn through pkg-config (tests/install_test.sh): the headers
 * are found as <cnn/...> and find each other, the library links (shared and
 * static) and runs. It prints the BLAS file it loaded, which the script
 * checks is the BLAS the library was built for. */
#include <stdio.h>

#include <cnn/cnn.h> /* includes cnn_status.h and cnn_rng.h itself */
#include <cnn/cnn_blas.h>

int main(void)
{
    cnn_rng r;
    cnn_rng_seed(&r, 42);
    unsigned first = cnn_rng_u32(&r);
    float u = cnn_rng_uniform(&r, -1.0f, 1.0f);
    if (!(u >= -1.0f && u < 1.0f)) {
        fprintf(stderr, "install_smoke: cnn_rng_uniform gave %g\n", u);
        return 1;
    }
    int threads = cnn_blas_single_thread();
    printf("cnn_status_str(CNN_OK): %s\n", cnn_status_str(CNN_OK));
    printf("rng: %u\n", first);
    printf("openmp threads: %d\n", threads);
    printf("blas: %s\n", cnn_blas_name());
    printf("blas library: %s\n", cnn_blas_library());
    return threads >= 1 ? 0 : 1;
}
