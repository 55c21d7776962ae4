/* train.c — training a network with libcnn through its public API only:
 * load an MNIST-format data set, train LeNet-5 for one epoch on the first
 * 2000 training images, then run the trained weights on 1000 test images
 * and print the accuracy.
 *
 *   cc train.c $(pkg-config --cflags --libs cnn) -o train
 *   ./train [DIR]
 *
 * DIR holds train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz] and
 * the t10k-* pair. Without DIR, Debian's Fashion-MNIST is used (apt install
 * dataset-fashion-mnist); when that is not installed, a small synthetic
 * set is made in memory (class k: bars at a place of its own, on noise),
 * so that the example runs anywhere. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* access() under -std=c11 */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cnn/cnn.h>
#include <cnn/cnn_data.h>
#include <cnn/cnn_train.h>

#define DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

/* count 28x28 images of 10 classes: class k has a bright bar at row
 * 2 + 2k and one at column 25 - 2k, on noise. */
static int make_synthetic(cnn_dataset *ds, int count, uint64_t seed)
{
    cnn_rng rng;
    cnn_rng_seed(&rng, seed);
    ds->count = count;
    ds->rows = ds->cols = 28;
    ds->images = malloc((size_t)count * 28 * 28);
    ds->labels = malloc((size_t)count);
    if (!ds->images || !ds->labels)
        return -1;
    for (int n = 0; n < count; n++) {
        int k = (int)cnn_rng_below(&rng, 10);
        uint8_t *img = ds->images + (size_t)n * 28 * 28;
        for (int i = 0; i < 28 * 28; i++)
            img[i] = (uint8_t)cnn_rng_below(&rng, 60);
        for (int j = 4; j < 24; j++) {
            img[(2 + 2 * k) * 28 + j] = 255;
            img[j * 28 + 25 - 2 * k] = 200;
        }
        ds->labels[n] = (uint8_t)k;
    }
    return 0;
}

/* cnn_train reports through a callback; this one prints each epoch. */
static void on_progress(const cnn_progress *p, void *ctx)
{
    (void)ctx;
    if (p->event == CNN_EVENT_EPOCH)
        printf("epoch %d/%d: training loss %.4f, accuracy %.2f%% (%.1f s)\n", p->epoch,
               p->epochs, p->loss_sum / (double)p->seen,
               100.0 * (double)p->correct / (double)p->seen, p->seconds);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : DEFAULT_DATA;
    cnn_dataset train = {0}, test = {0};
    cnn_err err = {{0}};
    if (argc == 1 && access(dir, F_OK) != 0) {
        printf("no data set at %s (apt install dataset-fashion-mnist); "
               "using synthetic images\n", dir);
        if (make_synthetic(&train, 2000, 1) != 0 || make_synthetic(&test, 1000, 2) != 0) {
            fprintf(stderr, "train: out of memory\n");
            return 1;
        }
    } else if (cnn_dataset_load(dir, "train", 0, 0, 10, &train, &err) != CNN_OK ||
               cnn_dataset_load(dir, "t10k", train.rows, train.cols, 10, &test, &err) != CNN_OK) {
        fprintf(stderr, "train: %s\n", err.msg);
        cnn_dataset_free(&train);
        return 1;
    } else {
        printf("data set %s: %d training and %d test images\n", dir, train.count, test.count);
    }
    /* A quick run: the first 2000 training and 1000 test images. */
    if (train.count > 2000)
        train.count = 2000;
    if (test.count > 1000)
        test.count = 1000;

    cnn_train_opts o;
    cnn_train_opts_default(&o); /* plain SGD, lr 0.05, batch 32, seed 1, all cores */
    o.arch = "lenet5";          /* a preset, or a spec such as "conv8x5,relu,maxpool2,dense10" */
    o.epochs = 1;
    o.classes = 10;
    float *params = NULL;
    cnn_status st = cnn_train(&o, &train, NULL, on_progress, NULL, &params, &err);

    /* The trained weights in a network of the same architecture, for
     * inference on the test images. */
    static cnn_arch arch; /* static: the layer table is large */
    cnn_net *net = NULL;
    double loss = 0.0, accuracy = 0.0;
    if (st == CNN_OK)
        st = cnn_arch_parse(&arch, o.arch, train.rows, train.cols, 1, o.classes, &err);
    if (st == CNN_OK && (st = cnn_net_create(&net, &arch, CNN_IMPL_BLAS, 256, 0)) == CNN_OK) {
        memcpy(cnn_net_params(net), params, (size_t)arch.param_count * sizeof *params);
        st = cnn_evaluate(net, &test, 256, &loss, &accuracy, NULL);
    }
    if (st == CNN_OK)
        printf("test accuracy %.2f%% (loss %.4f) on %d images, %ld parameters (%s)\n",
               100.0 * accuracy, loss, test.count, arch.param_count, arch.spec);
    else
        fprintf(stderr, "train: %s\n", err.msg[0] ? err.msg : cnn_status_str(st));
    cnn_net_free(net);
    free(params);
    cnn_dataset_free(&train);
    cnn_dataset_free(&test);
    return st == CNN_OK ? 0 : 1;
}
