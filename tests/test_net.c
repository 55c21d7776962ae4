/* test_net.c — the network object over several architectures: the blas plan
 * computes the ref plan's gradient, the ref gradient matches finite
 * differences of the network's own loss, a training step is the gradient
 * then θ − lr·g (bit for bit), the weights after some steps do not depend
 * on the thread count (bit for bit), training lowers the loss, and BLAS
 * stays on one thread. The kernels are tested one by one in
 * test_layers.c and test_gradcheck.c; this checks how the net chains them
 * (layouts, slices, fusion, padding rows, transposes, chunking). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

#include "cnn.h"
#include "cnn_blas.h"
#include "cnn_train.h"
#include "synthetic.h"

/* Architectures that exercise every path of the plan: the seed (fused
 * conv+relu+avgpool to NC), LeNet-5 (fused to CN, then conv with 6 input
 * channels, dense stack), max-pooling after an unfused conv (CN pool, CN ->
 * NC transpose into dense), stride and padding, odd filter counts, a dense
 * layer first (then conv on a 1x1 map: NC -> CN transpose), pool first. */
static const char *const archs[] = {
    "seed",
    "lenet5",
    "conv8x3p1,relu,maxpool2,conv17x3p1s2,relu,dense10",
    "conv3x5,relu,avgpool2,conv5x3,relu,maxpool2,dense10",
    "conv1x28,relu,dense10",
    "conv33x4s3,relu,avgpool3,dense10",
    "dense24,relu,conv7x1,relu,dense10",
    "maxpool2,conv4x3p2s2,avgpool2,dense12,relu,dense10",
};
enum { NARCHS = sizeof archs / sizeof archs[0] };

static void parse(cnn_arch *a, const char *spec)
{
    cnn_err err = {{0}};
    cnn_status st = cnn_arch_parse(a, spec, SYN_H, SYN_W, 1, SYN_CLASSES, &err);
    if (st != CNN_OK)
        print_error("%s: %s\n", spec, err.msg);
    assert_int_equal(st, CNN_OK);
}

static cnn_net *make_net(const cnn_arch *a, cnn_impl impl, int batch, int threads,
                         uint64_t seed)
{
    cnn_net *net;
    assert_int_equal(cnn_net_create(&net, a, impl, batch, threads), CNN_OK);
    cnn_rng r;
    cnn_rng_seed(&r, seed);
    cnn_params_init(a, cnn_net_params(net), &r);
    return net;
}

/* Largest |a-b| over a layer's parameters relative to the largest |ref|. */
static double rel_diff(const float *a, const float *ref, long n)
{
    double d = 0.0, m = 0.0;
    for (long i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - ref[i]));
        m = fmax(m, fabs((double)ref[i]));
    }
    return m > 0.0 ? d / m : d;
}

/* blas and ref give the same loss and gradient, layer by layer, on a batch
 * of 37 (two whole chunks and a ragged one with a ragged slice). */
static void test_blas_matches_ref(void **state)
{
    (void)state;
    cnn_dataset ds;
    synthetic_dataset(&ds, 37, 21);
    for (int k = 0; k < NARCHS; k++) {
        cnn_arch a;
        parse(&a, archs[k]);
        cnn_net *ref = make_net(&a, CNN_IMPL_REF, 37, 2, 5);
        cnn_net *blas = make_net(&a, CNN_IMPL_BLAS, 37, 2, 5);
        double lr = 0, lb = 0;
        int cr = 0, cb = 0;
        assert_int_equal(cnn_net_gradient(ref, ds.images, ds.labels, 37, &lr, &cr), CNN_OK);
        assert_int_equal(cnn_net_gradient(blas, ds.images, ds.labels, 37, &lb, &cb), CNN_OK);
        print_message("%-50s loss ref %.6f blas %.6f\n", a.spec, lr, lb);
        assert_true(fabs(lr - lb) <= 1e-5 * fabs(lr));
        assert_int_equal(cr, cb);
        const float *gr = cnn_net_grads(ref), *gb = cnn_net_grads(blas);
        for (int i = 0; i < a.n; i++) {
            const cnn_layer *l = &a.layer[i];
            if (!l->w_count)
                continue;
            double dw = rel_diff(gb + l->w_off, gr + l->w_off, l->w_count);
            double db = rel_diff(gb + l->b_off, gr + l->b_off, l->b_count);
            if (dw > 1e-4 || db > 1e-4)
                print_error("%s layer %d %s: weight %.3g bias %.3g\n", a.spec, i + 1, l->text,
                            dw, db);
            assert_true(dw <= 1e-4 && db <= 1e-4);
            double norm = 0.0;
            for (long j = 0; j < l->w_count; j++)
                norm += fabs(gr[l->w_off + j]);
            assert_true(norm > 0.0); /* the check cannot pass on zeros */
        }
        /* inference agrees with the training pass */
        float *pr = malloc(37 * SYN_CLASSES * sizeof *pr), *pb = malloc(37 * SYN_CLASSES * sizeof *pb);
        double ir = 0, ib = 0;
        assert_int_equal(cnn_net_infer(ref, ds.images, ds.labels, 37, pr, &ir, NULL), CNN_OK);
        assert_int_equal(cnn_net_infer(blas, ds.images, ds.labels, 37, pb, &ib, NULL), CNN_OK);
        assert_true(fabs(ir - lr) <= 1e-9 * fabs(lr) && fabs(ib - lb) <= 1e-9 * fabs(lb));
        assert_true(rel_diff(pb, pr, 37 * SYN_CLASSES) < 1e-5);
        free(pr);
        free(pb);
        cnn_net_free(ref);
        cnn_net_free(blas);
    }
    cnn_dataset_free(&ds);
}

/* The network's gradient against central differences of its own loss
 * (float forward, summed in double), at a sample of each layer's weights
 * and biases. ReLU and max-pooling make the loss kinked, and with float
 * arithmetic no step size is both small enough to miss every kink and
 * large enough to beat rounding; so this check runs on smooth versions of
 * the architectures (ReLU dropped, max- made average pooling), which still
 * chain every convolution shape, layout change and dense stack. ReLU and
 * max-pooling have their own finite-difference checks in double
 * (test_gradcheck.c), and blas = ref above covers their chaining. */
static const char *const smooth_archs[] = {
    "conv15x5,avgpool2,dense10",
    "conv6x5p2,avgpool2,conv16x5,avgpool2,dense120,dense84,dense10",
    "conv8x3p1,avgpool2,conv17x3p1s2,dense10",
    "conv33x4s3,avgpool3,dense10",
    "dense24,conv7x1,dense10",
    "avgpool2,conv4x3p2s2,avgpool2,dense12,dense10",
};

static void test_gradient_finite_differences(void **state)
{
    (void)state;
    enum { N = 5, PICKS = 12 };
    cnn_dataset ds;
    synthetic_dataset(&ds, N, 33);
    for (size_t k = 0; k < sizeof smooth_archs / sizeof smooth_archs[0]; k++) {
        cnn_arch a;
        parse(&a, smooth_archs[k]);
        for (int impl = 0; impl < 2; impl++) {
            cnn_net *net = make_net(&a, (cnn_impl)impl, N, 1, 8);
            double loss;
            assert_int_equal(cnn_net_gradient(net, ds.images, ds.labels, N, &loss, NULL), CNN_OK);
            float *g = malloc((size_t)a.param_count * sizeof *g);
            memcpy(g, cnn_net_grads(net), (size_t)a.param_count * sizeof *g);
            float *p = cnn_net_params(net);
            cnn_rng r;
            cnn_rng_seed(&r, 99 + (uint64_t)k);
            int checked = 0;
            double worst = 0.0;
            for (int i = 0; i < a.n; i++) {
                const cnn_layer *l = &a.layer[i];
                for (int part = 0; part < 2 && l->w_count; part++) {
                    long off = part ? l->b_off : l->w_off, cnt = part ? l->b_count : l->w_count;
                    for (int t = 0; t < PICKS; t++) {
                        long j = off + (long)cnn_rng_below(&r, (uint32_t)cnt);
                        const float keep = p[j], h = 1e-2f;
                        double up, down;
                        p[j] = keep + h;
                        cnn_net_infer(net, ds.images, ds.labels, N, NULL, &up, NULL);
                        p[j] = keep - h;
                        cnn_net_infer(net, ds.images, ds.labels, N, NULL, &down, NULL);
                        p[j] = keep;
                        double fd = (up - down) / (2.0 * h) / N; /* gradient of the mean */
                        double an = g[j];
                        const double tol = 1e-2 * fmax(fabs(fd), fabs(an)) + 2e-4;
                        worst = fmax(worst, fabs(fd - an) / (fmax(fabs(fd), fabs(an)) + 1e-3));
                        if (fabs(fd - an) > tol)
                            print_error("%s %s layer %d %s %s[%ld]: analytic %.6g fd %.6g\n",
                                        cnn_impl_name((cnn_impl)impl), a.spec, i + 1, l->text,
                                        part ? "bias" : "weight", j - off, an, fd);
                        assert_true(fabs(fd - an) <= tol);
                        checked += fabs(an) > 1e-3;
                    }
                }
            }
            print_message("%-4s %-58s %2d non-zero checked, worst rel. error %.2g\n",
                          cnn_impl_name((cnn_impl)impl), a.spec, checked, worst);
            assert_true(checked >= 8);
            free(g);
            cnn_net_free(net);
        }
    }
    cnn_dataset_free(&ds);
}

/* Steps on 1, 2 and 3 threads give the same bits, for every architecture
 * and both implementations. */
static void test_threads_bitwise_identical(void **state)
{
    (void)state;
    enum { B = 45, STEPS = 3 };
    cnn_dataset ds;
    synthetic_dataset(&ds, B * STEPS, 17);
    for (int k = 0; k < NARCHS; k++) {
        cnn_arch a;
        parse(&a, archs[k]);
        for (int impl = 0; impl < 2; impl++) {
            float *first = NULL;
            for (int threads = 1; threads <= 3; threads++) {
                cnn_net *net = make_net(&a, (cnn_impl)impl, B, threads, 2);
                for (int s = 0; s < STEPS; s++)
                    assert_int_equal(cnn_net_train_step(net, ds.images + (long)s * B * SYN_IN,
                                                        ds.labels + s * B, B, 0.05f, NULL, NULL),
                                     CNN_OK);
                size_t bytes = (size_t)a.param_count * sizeof(float);
                if (!first) {
                    first = malloc(bytes);
                    memcpy(first, cnn_net_params(net), bytes);
                } else {
                    assert_memory_equal(first, cnn_net_params(net), bytes);
                }
                cnn_net_free(net);
            }
            free(first);
        }
    }
    cnn_dataset_free(&ds);
}

/* cnn_net_train_step is cnn_net_gradient then θ − lr·g, bit for bit, as the
 * seed's trainer wrote it (the step runs src/optim's plain SGD): the seed
 * under the optimizer's parallel threshold, LeNet-5 over it, on 2 threads.
 * A negative lr is refused and leaves the weights. */
static void test_train_step_is_plain_sgd(void **state)
{
    (void)state;
    enum { B = 32, STEPS = 2 };
    const float lr = 0.05f;
    cnn_dataset ds;
    synthetic_dataset(&ds, B * STEPS, 5);
    const char *specs[] = {"seed", "lenet5"};
    for (int k = 0; k < 2; k++) {
        cnn_arch a;
        parse(&a, specs[k]);
        cnn_net *net = make_net(&a, CNN_IMPL_BLAS, B, 2, 9);
        cnn_net *twin = make_net(&a, CNN_IMPL_BLAS, B, 2, 9);
        const long n = a.param_count;
        const size_t bytes = (size_t)n * sizeof(float);
        for (int s = 0; s < STEPS; s++) {
            const uint8_t *x = ds.images + (long)s * B * SYN_IN, *y = ds.labels + s * B;
            assert_int_equal(cnn_net_gradient(twin, x, y, B, NULL, NULL), CNN_OK);
            float *p = cnn_net_params(twin);
            const float *g = cnn_net_grads(twin);
            for (long i = 0; i < n; i++)
                p[i] -= lr * g[i];
            assert_int_equal(cnn_net_train_step(net, x, y, B, lr, NULL, NULL), CNN_OK);
            assert_memory_equal(cnn_net_params(net), p, bytes);
        }
        assert_int_equal(cnn_net_train_step(net, ds.images, ds.labels, B, -lr, NULL, NULL),
                         CNN_ERR_ARG);
        assert_memory_equal(cnn_net_params(net), cnn_net_params(twin), bytes);
        cnn_net_free(twin);
        cnn_net_free(net);
    }
    cnn_dataset_free(&ds);
}

/* A few epochs on the synthetic set lower the loss a lot, for the seed and
 * LeNet-5 (and show that the comparisons above compare something). */
static void test_loss_falls(void **state)
{
    (void)state;
    cnn_dataset ds;
    synthetic_dataset(&ds, 256, 7);
    const char *specs[] = {"seed", "lenet5"};
    for (int k = 0; k < 2; k++) {
        cnn_arch a;
        parse(&a, specs[k]);
        cnn_net *net = make_net(&a, CNN_IMPL_BLAS, 32, 2, 3);
        double loss0, acc0, loss1, acc1;
        assert_int_equal(cnn_evaluate(net, &ds, 32, &loss0, &acc0, NULL), CNN_OK);
        for (int epoch = 0; epoch < 6; epoch++)
            for (int lo = 0; lo < ds.count; lo += 32)
                assert_int_equal(cnn_net_train_step(net, ds.images + (long)lo * SYN_IN,
                                                    ds.labels + lo, 32, 0.05f, NULL, NULL),
                                 CNN_OK);
        assert_int_equal(cnn_evaluate(net, &ds, 32, &loss1, &acc1, NULL), CNN_OK);
        print_message("%s: loss %.4f -> %.4f, accuracy %.3f -> %.3f\n", specs[k], loss0, loss1,
                      acc0, acc1);
        assert_true(loss0 > 1.5);          /* near log(10) at the start */
        assert_true(loss1 < 0.25 * loss0); /* and clearly lower after training */
        assert_true(acc1 > 0.9);
        cnn_net_free(net);
    }
    cnn_dataset_free(&ds);
}

/* Memory follows the work: a network for one sample makes one workspace,
 * however many threads are asked for (issue: predict --threads 1024). */
static void test_workspaces_follow_work(void **state)
{
    (void)state;
    cnn_arch a;
    parse(&a, "seed");
    cnn_net *net;
    assert_int_equal(cnn_net_create(&net, &a, CNN_IMPL_BLAS, 1, 1024), CNN_OK);
    assert_int_equal(cnn_net_threads(net), 1024);
    cnn_dataset ds;
    synthetic_dataset(&ds, 1, 1);
    double loss;
    assert_int_equal(cnn_net_infer(net, ds.images, ds.labels, 1, NULL, &loss, NULL), CNN_OK);
    assert_true(loss > 0.0);
    cnn_dataset_free(&ds);
    cnn_net_free(net);
}

/* A network made for a huge batch but used for inference (eval of a model
 * trained at batch 65536) does not hold a partial gradient per chunk: that
 * would be 4096 copies of the parameters (360 MB for the seed). */
static void test_inference_net_is_small(void **state)
{
    (void)state;
    cnn_arch a;
    parse(&a, "seed");
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    cnn_net *net;
    assert_int_equal(cnn_net_create(&net, &a, CNN_IMPL_BLAS, 65536, 1), CNN_OK);
    cnn_dataset ds;
    synthetic_dataset(&ds, 64, 1);
    double loss;
    assert_int_equal(cnn_net_infer(net, ds.images, ds.labels, 64, NULL, &loss, NULL), CNN_OK);
    getrusage(RUSAGE_SELF, &after);
    long grew_kb = after.ru_maxrss - before.ru_maxrss;
    print_message("peak memory grew by %ld KB\n", grew_kb);
    assert_true(grew_kb < 100 * 1024);
    cnn_dataset_free(&ds);
    cnn_net_free(net);
}

/* Bad calls are refused, not run: too many samples, labels out of range. */
static void test_bad_calls(void **state)
{
    (void)state;
    cnn_arch a;
    parse(&a, "seed");
    cnn_net *net = make_net(&a, CNN_IMPL_BLAS, 4, 1, 1);
    cnn_dataset ds;
    synthetic_dataset(&ds, 5, 1);
    assert_int_equal(cnn_net_gradient(net, ds.images, ds.labels, 5, NULL, NULL), CNN_ERR_ARG);
    ds.labels[0] = 10;
    assert_int_equal(cnn_net_gradient(net, ds.images, ds.labels, 4, NULL, NULL), CNN_ERR_ARG);
    assert_int_equal(cnn_net_create(&(cnn_net *){NULL}, &a, CNN_IMPL_BLAS, 0, 1), CNN_ERR_ARG);
    cnn_dataset_free(&ds);
    cnn_net_free(net);
}

/* That creating a network leaves BLAS on one thread per caller is tested,
 * for each BLAS, in test_blas.c. */
int main(void)
{
    const struct CMUnitTest tests[] = {
        /* first, while the process's peak memory is still low */
        cmocka_unit_test(test_inference_net_is_small),
        cmocka_unit_test(test_blas_matches_ref),
        cmocka_unit_test(test_gradient_finite_differences),
        cmocka_unit_test(test_threads_bitwise_identical),
        cmocka_unit_test(test_train_step_is_plain_sgd),
        cmocka_unit_test(test_loss_falls),
        cmocka_unit_test(test_workspaces_follow_work),
        cmocka_unit_test(test_bad_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
