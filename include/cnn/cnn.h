/* cnn.h — public API of the cnn trainer: status codes, the seed network's
 * shapes, the parameter block, and the network object that trains it.
 *
 * The network (see shared/seed/cnn-math.md):
 *   x[28][28] -> conv 15×5×5 valid + bias -> ReLU -> avgpool 2×2
 *   -> flatten (k = i·(W·C) + j·C + c, i.e. channels last) -> dense 2160→10
 *   -> softmax, cross-entropy, mini-batch SGD.
 */
#ifndef CNN_H
#define CNN_H

#include <stddef.h>
#include <stdint.h>

#include "cnn_status.h"
#include "cnn_rng.h"

/* The seed network's shapes. */
enum {
    CNN_IN_H = 28, CNN_IN_W = 28,                 /* one grayscale channel */
    CNN_KSIZE = 5,                                /* 5×5 filters */
    CNN_FILTERS = 15,                             /* conv output channels */
    CNN_CONV_H = CNN_IN_H - CNN_KSIZE + 1,        /* 24 */
    CNN_CONV_W = CNN_IN_W - CNN_KSIZE + 1,        /* 24 */
    CNN_POOL_H = CNN_CONV_H / 2,                  /* 12 */
    CNN_POOL_W = CNN_CONV_W / 2,                  /* 12 */
    CNN_FLAT = CNN_POOL_H * CNN_POOL_W * CNN_FILTERS, /* 2160 */
    CNN_CLASSES = 10,
    CNN_IN_SIZE = CNN_IN_H * CNN_IN_W,            /* 784 */
    CNN_CONV_SIZE = CNN_CONV_H * CNN_CONV_W * CNN_FILTERS, /* 8640 */
};

/* Pixels p in 0..255 enter the network as (p/255 − mean)/std, with the
 * pixel statistics of the Fashion-MNIST training set. Centred inputs make
 * plain SGD converge faster (89% vs 88% test accuracy after 5 epochs here);
 * the constants are part of the model, like its weights. */
#define CNN_INPUT_MEAN 0.2860f
#define CNN_INPUT_STD 0.3530f

/* All parameters live in one contiguous block of cnn_param_count() floats so
 * that SGD, gradient reduction and checkpoints are flat loops. The views:
 *   conv_w [15][5*5]     filter f, tap (k,l) at conv_w[f*25 + k*5 + l]
 *   conv_b [15]
 *   fc_w   [10][2160]    row o, column = flatten index k (channels last)
 *   fc_b   [10]
 */
typedef struct {
    float *conv_w, *conv_b, *fc_w, *fc_b;
} cnn_params;

enum {
    CNN_CONV_W_SIZE = CNN_FILTERS * CNN_KSIZE * CNN_KSIZE,
    CNN_CONV_B_SIZE = CNN_FILTERS,
    CNN_FC_W_SIZE = CNN_CLASSES * CNN_FLAT,
    CNN_FC_B_SIZE = CNN_CLASSES,
    CNN_PARAM_COUNT = CNN_CONV_W_SIZE + CNN_CONV_B_SIZE + CNN_FC_W_SIZE + CNN_FC_B_SIZE,
};

/* Carve the four parameter tensors out of a block of CNN_PARAM_COUNT floats. */
cnn_params cnn_params_view(float *block);

/* He-uniform initialisation from the seeded RNG: each weight drawn from
 * U(-sqrt(6/fan_in), +sqrt(6/fan_in)), fan_in 25 (conv) and 2160 (dense);
 * biases zero. */
void cnn_params_init(float *block, cnn_rng *rng);

typedef enum { CNN_IMPL_REF = 0, CNN_IMPL_BLAS = 1 } cnn_impl;

/* Parse "ref"/"blas"; returns 0 on success, -1 for anything else. */
int cnn_impl_parse(const char *s, cnn_impl *out);
const char *cnn_impl_name(cnn_impl impl);

/* Samples are processed in chunks of this many; each chunk owns a partial
 * gradient and chunks are summed in chunk order, so the result does not
 * depend on how many threads run the chunks. */
enum { CNN_CHUNK = 16 };

/* How the blas path convolves a chunk (src/net.c; bench/layers times it the
 * same way): in slices of CNN_SLICE samples, one SGEMM per slice, whose
 * operands (im2col, 4×57.6 KB) stay in the core's cache; with the 15 filters
 * padded to CNN_CONV_ROWS by a zero filter, because OpenBLAS's SGEMM kernels
 * work in blocks of 4, 8 and 16 and 15 leaves a ragged block (measured per
 * sample at 4-sample slices: forward 6.5 -> 5.7 µs, weight gradient
 * 11.9 -> 8.7 µs, for 1/15 more flops). */
enum { CNN_SLICE = 4, CNN_CONV_ROWS = 16 };

typedef struct cnn_net cnn_net;

/* Create a network able to take mini-batches of up to max_batch samples,
 * running on `threads` OpenMP threads (0: OpenMP's default). Parameters are
 * zero until initialised (cnn_params_init on cnn_net_params). */
cnn_status cnn_net_create(cnn_net **out, cnn_impl impl, int max_batch, int threads);
void cnn_net_free(cnn_net *net);

float *cnn_net_params(cnn_net *net);       /* CNN_PARAM_COUNT floats */
const float *cnn_net_grads(const cnn_net *net); /* gradient of the last step */
cnn_impl cnn_net_impl(const cnn_net *net);
int cnn_net_threads(const cnn_net *net);

/* One SGD step on n samples (n <= max_batch): x holds n images of 784 uint8
 * pixels (standardised inside, see CNN_INPUT_MEAN), y their labels. Computes the batch-mean
 * cross-entropy gradient and applies  θ ← θ − lr·∂L/∂θ.
 * Writes the batch's summed loss and number of correct predictions (before
 * the update) to *loss_sum and *correct when not NULL. */
cnn_status cnn_net_train_step(cnn_net *net, const uint8_t *x, const uint8_t *y,
                              int n, float lr, double *loss_sum, int *correct);

/* Forward only: class probabilities probs[n][10] (may be NULL) and,
 * when y is not NULL, summed loss and number correct. n <= max_batch. */
cnn_status cnn_net_infer(cnn_net *net, const uint8_t *x, const uint8_t *y, int n,
                         float *probs, double *loss_sum, int *correct);

#endif
