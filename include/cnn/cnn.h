/* cnn.h — public API of the cnn trainer: the network object built from an
 * architecture (cnn_arch.h), its flat parameter block, the gradient of a
 * mini-batch, inference, and the stages bench/layers times.
 *
 * The default network is the seed's (docs/maths.md):
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
#include "cnn_arch.h"

/* Pixels p in 0..255 enter the network as (p/255 − mean)/std, with the
 * pixel statistics of the Fashion-MNIST training set. Centred inputs make
 * plain SGD converge faster (89% vs 88% test accuracy after 5 epochs here);
 * the constants are part of the model, like its weights. */
#define CNN_INPUT_MEAN 0.2860f
#define CNN_INPUT_STD 0.3530f

/* All parameters live in one contiguous block of arch->param_count floats,
 * so that updates, gradient reduction and checkpoints are flat loops; each
 * layer's weight and bias sit at the offsets its cnn_layer records
 * (cnn_arch.h): conv weight [F][C][K][K], dense weight [outputs][inputs]
 * with inputs in the seed's channels-last flatten order. */

/* He-uniform initialisation from the seeded RNG, layer by layer in order:
 * each weight drawn from U(-sqrt(6/fan_in), +sqrt(6/fan_in)); biases zero.
 * (For the seed: conv weights with fan_in 25, then dense with 2160.) */
void cnn_params_init(const cnn_arch *arch, float *block, cnn_rng *rng);

typedef enum { CNN_IMPL_REF = 0, CNN_IMPL_BLAS = 1 } cnn_impl;

/* Parse "ref"/"blas"; returns 0 on success, -1 for anything else. */
int cnn_impl_parse(const char *s, cnn_impl *out);
const char *cnn_impl_name(cnn_impl impl);

/* Samples are processed in chunks of this many; each chunk owns a partial
 * gradient and chunks are summed in chunk order, so the result does not
 * depend on how many threads run the chunks. */
enum { CNN_CHUNK = 16 };

/* How the blas path convolves (src/net/stages.c): in slices of CNN_SLICE
 * samples, one SGEMM per slice, whose operands (for the seed: im2col,
 * 4×57.6 KB) stay in the core's cache; a convolution fused with the ReLU
 * and pooling after it has its filters padded with zero rows to a multiple
 * of CNN_CONV_ROW_BLOCK, because OpenBLAS's SGEMM kernels work in blocks of
 * 4, 8 and 16 and a ragged block is slow (seed, 15 -> 16 filters, measured
 * per sample at 4-sample slices: forward 6.5 -> 5.7 µs, weight gradient
 * 11.9 -> 8.7 µs, for 1/15 more flops; LeNet-5's first convolution, 6 / 8 /
 * 16 rows, AMD EPYC family 26, one thread, batch 64, two rounds: forward
 * 535-560 / 541-589 / 748-791 µs, weight gradient 694-875 / 645-700 /
 * 850-911 µs). Slices of 1, 2, 8 and 16 samples measured the same as 4
 * within the run-to-run spread there (README, Performance). */
#ifndef CNN_SLICE_SAMPLES /* for experiments: -Dc_args=-DCNN_SLICE_SAMPLES=8 */
#define CNN_SLICE_SAMPLES 4
#endif
enum { CNN_SLICE = CNN_SLICE_SAMPLES, CNN_CONV_ROW_BLOCK = 4 };

typedef struct cnn_net cnn_net;

/* Create a network of architecture `arch` able to take mini-batches of up
 * to max_batch samples, running on `threads` OpenMP threads (0: OpenMP's
 * default). Workspaces are made for no more threads than a batch has
 * chunks. Parameters are zero until initialised (cnn_params_init on
 * cnn_net_params) or loaded. */
cnn_status cnn_net_create(cnn_net **out, const cnn_arch *arch, cnn_impl impl, int max_batch,
                          int threads);
void cnn_net_free(cnn_net *net);

const cnn_arch *cnn_net_arch(const cnn_net *net);
long cnn_net_param_count(const cnn_net *net);
float *cnn_net_params(cnn_net *net);            /* cnn_net_param_count floats */
const float *cnn_net_grads(const cnn_net *net); /* gradient of the last step */
float *cnn_net_grads_mutable(cnn_net *net);     /* for an optimizer that clips in place */
cnn_impl cnn_net_impl(const cnn_net *net);
int cnn_net_threads(const cnn_net *net);
/* The threads the passes use: up to cnn_net_max_threads (the workspaces made,
 * min(threads, chunks of a full batch)). The results do not depend on it, so
 * it may change between steps: the trainer lowers it when a busy machine
 * makes fewer threads faster (src/train/threads.c). */
int cnn_net_max_threads(const cnn_net *net);
int cnn_net_active_threads(const cnn_net *net);
void cnn_net_set_active_threads(cnn_net *net, int threads);

/* The batch-mean cross-entropy gradient of n samples (n <= max_batch) into
 * cnn_net_grads: x holds n images of arch->in_h·in_w·in_c uint8 pixels
 * (standardised inside, see CNN_INPUT_MEAN), y their labels (each below
 * arch->classes). Writes the batch's summed loss and number of correct
 * predictions to *loss_sum and *correct when not NULL. Returns
 * CNN_ERR_DIVERGED, with the gradient unspecified, when the loss is not
 * finite. */
cnn_status cnn_net_gradient(cnn_net *net, const uint8_t *x, const uint8_t *y, int n,
                            double *loss_sum, int *correct);

/* The gradient in parts, for data-parallel training across processes
 * (cnn_dist.h). cnn_net_chunks computes the partial gradients, losses and
 * correct counts of chunks [lo, hi) of the batch (x, y: the whole batch of
 * n; chunk c is samples [16c, 16c+16)); cnn_net_fold then adds those
 * partials to acc, elementwise, one chunk after another in chunk order:
 * acc[i - off] += c_lo[i] + … + c_{hi-1}[i] for i in [off, off + len).
 * cnn_net_gradient is chunks(0, all) and fold into zeros; a chain of
 * processes that each fold their own chunks into the running sum of the
 * ones before them computes the same bits. */
cnn_status cnn_net_chunks(cnn_net *net, const uint8_t *x, const uint8_t *y, int n, int lo,
                          int hi);
void cnn_net_fold(const cnn_net *net, int lo, int hi, float *acc, long off, long len);
const double *cnn_net_chunk_loss(const cnn_net *net);  /* [chunk] */
const int *cnn_net_chunk_correct(const cnn_net *net);  /* [chunk] */
int cnn_net_chunk_count(int n);                        /* chunks in a batch of n */

/* cnn_net_gradient, then the seed's plain SGD step θ ← θ − lr·∂L/∂θ:
 * cnn_optim_step of an SGD optimizer with the defaults of
 * cnn_optim_opts_default (no momentum, weight decay or clipping), which
 * `cnn train` runs too. CNN_ERR_DIVERGED when the loss or the gradient is
 * not finite and CNN_ERR_ARG for an lr that is negative or not finite,
 * leaving the weights as they were. */
cnn_status cnn_net_train_step(cnn_net *net, const uint8_t *x, const uint8_t *y, int n,
                              float lr, double *loss_sum, int *correct);

/* Forward only: class probabilities probs[n][classes] (may be NULL) and,
 * when y is not NULL, summed loss and number correct. n <= max_batch. */
cnn_status cnn_net_infer(cnn_net *net, const uint8_t *x, const uint8_t *y, int n,
                         float *probs, double *loss_sum, int *correct);

/* ---- the plan's stages, for bench/layers and tests ----
 * A stage is a layer, or in the blas path a convolution fused with the ReLU
 * and 2×2 average pooling after it (the ref path runs the same stages layer
 * by layer). Stage nstages is the softmax + cross-entropy. */
int cnn_net_stage_count(const cnn_net *net);
/* "conv15x5+relu+avgpool2", "dense10", "softmax+xent"; layers [*first, *first+*count) */
const char *cnn_net_stage_name(const cnn_net *net, int stage, char *buf, int cap, int *first,
                               int *count);
/* Run one pass of one stage over n samples, chunked over the threads as a
 * training step runs it, on the buffers the last step left (for timing: the
 * values are whatever the last chunk on each thread left). pass 0: forward;
 * 1: parameter gradients; 2: input gradient (1 and 2 of the softmax stage:
 * its backward, with labels y). */
void cnn_net_run_stage(cnn_net *net, int stage, int pass, const uint8_t *y, int n);

#endif
