/* test_eval.c — a saved model evaluates to exactly what training reported:
 * the test loss and accuracy of the last CNN_EVENT_EPOCH equal those of
 * cnn_evaluate on the model loaded back from the file (what `cnn eval`
 * does), bit for bit, even on another number of threads; and the
 * predictions cnn_evaluate fills agree with the accuracy it returns. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cnn.h"
#include "cnn_model.h"
#include "cnn_train.h"
#include "synthetic.h"

typedef struct {
    int epochs_seen;
    double test_loss, test_accuracy;
    long test_count;
} last_epoch;

static void record(const cnn_progress *p, void *ctx)
{
    last_epoch *l = ctx;
    if (p->event != CNN_EVENT_EPOCH)
        return;
    l->epochs_seen++;
    l->test_loss = p->test_loss;
    l->test_accuracy = p->test_accuracy;
    l->test_count = p->test_count;
}

static void test_eval_reproduces_train(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_eval.XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/m.safetensors", dir);

    cnn_dataset train, test;
    synthetic_dataset(&train, 160, 31);
    synthetic_dataset(&test, 90, 32); /* 90: a ragged last evaluation batch */
    cnn_train_opts o;
    cnn_train_opts_default(&o);
    o.epochs = 2;
    o.batch = 20;
    o.lr = 0.002f; /* small enough that the test set is not all right yet */
    o.seed = 3;
    o.threads = 2;
    o.save_path = path;
    last_epoch l = {0};
    cnn_err err = {{0}};
    cnn_status st = cnn_train(&o, &train, &test, record, &l, NULL, &err);
    if (st != CNN_OK)
        print_error("cnn_train: %s\n", err.msg);
    assert_int_equal(st, CNN_OK);
    assert_int_equal(l.epochs_seen, 2);
    assert_int_equal(l.test_count, test.count);
    /* Partly trained (about 58%), so that a wrong model or a wrong count
     * would show in the accuracy, not only in the loss. */
    assert_true(l.test_accuracy > 0.2 && l.test_accuracy < 0.9);

    cnn_net *net;
    cnn_model_meta m;
    float *params = NULL;
    assert_int_equal(cnn_model_load(path, &params, &m, &err), CNN_OK);
    assert_int_equal(cnn_net_create(&net, &m.arch, CNN_IMPL_BLAS, o.batch, 3), CNN_OK);
    memcpy(cnn_net_params(net), params, (size_t)m.arch.param_count * sizeof *params);
    free(params);
    assert_int_equal(m.batch, o.batch);
    double loss, acc;
    int *pred = malloc((size_t)test.count * sizeof *pred);
    assert_non_null(pred);
    for (int i = 0; i < test.count; i++)
        pred[i] = -1;
    assert_int_equal(cnn_evaluate(net, &test, m.batch, &loss, &acc, pred), CNN_OK);
    print_message("train reported loss %.17g acc %.17g; eval gives %.17g %.17g\n", l.test_loss,
                  l.test_accuracy, loss, acc);
    /* Exact equality: the same weights and the same arithmetic. */
    assert_true(loss == l.test_loss);
    assert_true(acc == l.test_accuracy);

    int right = 0;
    for (int i = 0; i < test.count; i++) {
        assert_in_range(pred[i], 0, SYN_CLASSES - 1);
        right += pred[i] == test.labels[i];
    }
    assert_true((double)right / test.count == acc);

    free(pred);
    cnn_net_free(net);
    cnn_dataset_free(&train);
    cnn_dataset_free(&test);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval_reproduces_train),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
