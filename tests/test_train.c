/* test_train.c — training as a whole: the loss falls on a learnable data
 * set, the ref and blas paths train alike, and the weights do not depend on
 * the number of threads (bit for bit). */
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

static void test_loss_falls(void **state)
{
    (void)state;
    cnn_dataset ds;
    synthetic_dataset(&ds, 256, 7);
    cnn_net *net;
    assert_int_equal(cnn_net_create(&net, CNN_IMPL_BLAS, 32, 2), CNN_OK);
    cnn_rng r;
    cnn_rng_seed(&r, 3);
    cnn_params_init(cnn_net_params(net), &r);

    double loss0, acc0, loss1, acc1;
    assert_int_equal(cnn_evaluate(net, &ds, 32, &loss0, &acc0, NULL), CNN_OK);
    for (int epoch = 0; epoch < 4; epoch++)
        for (int lo = 0; lo < ds.count; lo += 32)
            assert_int_equal(cnn_net_train_step(net, ds.images + (long)lo * CNN_IN_SIZE,
                                                ds.labels + lo, 32, 0.1f, NULL, NULL),
                             CNN_OK);
    assert_int_equal(cnn_evaluate(net, &ds, 32, &loss1, &acc1, NULL), CNN_OK);
    print_message("loss %.4f -> %.4f, accuracy %.3f -> %.3f\n", loss0, loss1, acc0, acc1);
    assert_true(loss0 > 1.5);          /* near log(10) at the start */
    assert_true(loss1 < 0.25 * loss0); /* and clearly lower after training */
    assert_true(acc1 > 0.9);
    cnn_net_free(net);
    cnn_dataset_free(&ds);
}

/* Train `steps` steps with each implementation from the same start. */
static void train_steps(cnn_impl impl, int threads, int batch, int steps, const cnn_dataset *ds,
                        float *params_out)
{
    cnn_net *net;
    assert_int_equal(cnn_net_create(&net, impl, batch, threads), CNN_OK);
    cnn_rng r;
    cnn_rng_seed(&r, 11);
    cnn_params_init(cnn_net_params(net), &r);
    for (int s = 0; s < steps; s++) {
        int lo = (s * batch) % (ds->count - batch + 1);
        assert_int_equal(cnn_net_train_step(net, ds->images + (long)lo * CNN_IN_SIZE,
                                            ds->labels + lo, batch, 0.1f, NULL, NULL),
                         CNN_OK);
    }
    memcpy(params_out, cnn_net_params(net), CNN_PARAM_COUNT * sizeof(float));
    cnn_net_free(net);
}

static void test_ref_and_blas_agree(void **state)
{
    (void)state;
    cnn_dataset ds;
    synthetic_dataset(&ds, 128, 8);
    static float a[CNN_PARAM_COUNT], b[CNN_PARAM_COUNT], init[CNN_PARAM_COUNT];
    cnn_rng r;
    cnn_rng_seed(&r, 11);
    cnn_params_init(init, &r);
    train_steps(CNN_IMPL_REF, 1, 20, 5, &ds, a);
    train_steps(CNN_IMPL_BLAS, 1, 20, 5, &ds, b);
    double maxdiff = 0.0, maxmove = 0.0;
    for (int i = 0; i < CNN_PARAM_COUNT; i++) {
        maxdiff = fmax(maxdiff, fabs((double)a[i] - b[i]));
        maxmove = fmax(maxmove, fabs((double)a[i] - init[i]));
    }
    print_message("ref vs blas after 5 steps: max diff %.3g, max change %.3g\n", maxdiff, maxmove);
    assert_true(maxmove > 1e-3);          /* training moved the weights */
    assert_true(maxdiff < 1e-4);
    cnn_dataset_free(&ds);
}

/* Whole training runs through cnn_train: shuffling, a ragged last batch,
 * chunks spread over different thread counts. */
static void train_run(int threads, int batch, const cnn_dataset *train, float *params)
{
    cnn_train_opts o;
    cnn_train_opts_default(&o);
    o.epochs = 2;
    o.batch = batch;
    o.lr = 0.05f;
    o.seed = 5;
    o.threads = threads;
    cnn_err err = {{0}};
    cnn_status st = cnn_train(&o, train, NULL, NULL, NULL, params, &err);
    if (st != CNN_OK)
        print_error("cnn_train: %s\n", err.msg);
    assert_int_equal(st, CNN_OK);
}

static void test_threads_bitwise_identical(void **state)
{
    (void)state;
    cnn_dataset ds;
    synthetic_dataset(&ds, 200, 9); /* 200 = 3 batches of 56 and one of 32 */
    static float p1[CNN_PARAM_COUNT], p2[CNN_PARAM_COUNT], p3[CNN_PARAM_COUNT],
        p8[CNN_PARAM_COUNT];
    train_run(1, 56, &ds, p1);
    train_run(2, 56, &ds, p2);
    train_run(3, 56, &ds, p3);
    train_run(8, 56, &ds, p8);
    assert_memory_equal(p1, p2, sizeof p1);
    assert_memory_equal(p1, p3, sizeof p1);
    assert_memory_equal(p1, p8, sizeof p1);
    cnn_dataset_free(&ds);
}

static void test_seed_changes_result(void **state)
{
    (void)state;
    /* The bitwise test above would pass trivially if training ignored its
     * input; a different batch size must give different weights. */
    cnn_dataset ds;
    synthetic_dataset(&ds, 200, 9);
    static float a[CNN_PARAM_COUNT], b[CNN_PARAM_COUNT];
    train_run(2, 56, &ds, a);
    train_run(2, 40, &ds, b);
    assert_true(memcmp(a, b, sizeof a) != 0);
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
        cmocka_unit_test(test_loss_falls),
        cmocka_unit_test(test_ref_and_blas_agree),
        cmocka_unit_test(test_threads_bitwise_identical),
        cmocka_unit_test(test_seed_changes_result),
        cmocka_unit_test(test_divergence_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
