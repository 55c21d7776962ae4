/* test_train.c — training runs as a whole (cnn_train): shuffling, ragged
 * last batches and chunks spread over different thread counts give the same
 * weights bit for bit, for the seed and LeNet-5; divergence is reported.
 * (The network itself is tested in test_net.c.) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "cnn.h"
#include "cnn_train.h"
#include "synthetic.h"

/* Whole training runs through cnn_train: shuffling, a ragged last batch,
 * chunks spread over different thread counts. */
static float *train_run(const char *arch, int threads, int batch, const cnn_dataset *train)
{
    cnn_train_opts o;
    cnn_train_opts_default(&o);
    o.arch = arch;
    o.epochs = 2;
    o.batch = batch;
    o.lr = 0.05f;
    o.seed = 5;
    o.threads = threads;
    cnn_err err = {{0}};
    float *params = NULL;
    cnn_status st = cnn_train(&o, train, NULL, NULL, NULL, &params, &err);
    if (st != CNN_OK)
        print_error("cnn_train: %s\n", err.msg);
    assert_int_equal(st, CNN_OK);
    return params;
}

static long param_count(const char *spec)
{
    cnn_arch a;
    assert_int_equal(cnn_arch_parse(&a, spec, SYN_H, SYN_W, 1, SYN_CLASSES, NULL), CNN_OK);
    return a.param_count;
}

static void test_threads_bitwise_identical(void **state)
{
    (void)state;
    cnn_dataset ds;
    synthetic_dataset(&ds, 200, 9); /* 200 = 3 batches of 56 and one of 32 */
    const char *specs[] = {"seed", "lenet5"};
    for (int k = 0; k < 2; k++) {
        size_t bytes = (size_t)param_count(specs[k]) * sizeof(float);
        float *p1 = train_run(specs[k], 1, 56, &ds);
        const int threads[] = {2, 3, 8};
        for (int t = 0; t < 3; t++) {
            float *p = train_run(specs[k], threads[t], 56, &ds);
            assert_memory_equal(p1, p, bytes);
            free(p);
        }
        free(p1);
    }
    cnn_dataset_free(&ds);
}

static void test_batch_changes_result(void **state)
{
    (void)state;
    /* The bitwise test above would pass trivially if training ignored its
     * input; a different batch size must give different weights. */
    cnn_dataset ds;
    synthetic_dataset(&ds, 200, 9);
    float *a = train_run("seed", 2, 56, &ds), *b = train_run("seed", 2, 40, &ds);
    assert_true(memcmp(a, b, (size_t)param_count("seed") * sizeof(float)) != 0);
    free(a);
    free(b);
    cnn_dataset_free(&ds);
}

static void test_divergence_reported(void **state)
{
    (void)state;
    cnn_dataset ds;
    synthetic_dataset(&ds, 128, 4);
    cnn_train_opts o;
    cnn_train_opts_default(&o);
    o.epochs = 3;
    o.lr = 1e30f;
    o.threads = 2;
    cnn_err err = {{0}};
    cnn_status st = cnn_train(&o, &ds, NULL, NULL, NULL, NULL, &err);
    assert_int_equal(st, CNN_ERR_DIVERGED);
    assert_non_null(strstr(err.msg, "diverged"));
    assert_non_null(strstr(err.msg, "--lr"));
    cnn_dataset_free(&ds);
}

/* That creating a network leaves BLAS on one thread per caller is tested,
 * for each BLAS, in test_blas.c. */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_bitwise_identical),
        cmocka_unit_test(test_batch_changes_result),
        cmocka_unit_test(test_divergence_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
