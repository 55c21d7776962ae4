/* net.c — the network object: parameters and gradients in flat blocks,
 * per-thread workspaces, and the mini-batch step run across OpenMP threads.
 *
 * Determinism: a batch is cut into chunks of CNN_CHUNK samples, a cut that
 * does not depend on the thread count. Each chunk writes its own partial
 * gradient; the partials are then summed in chunk order. Whichever thread
 * runs a chunk, the arithmetic is the same, so 1, 2 or 8 threads give
 * bitwise identical weights.
 *
 * Per sample, channels last (see cnn_layers.h):
 *   x[28][28] -conv-> conv[24][24][15] -relu-> act -pool-> pool[12][12][15]
 *   = flat[2160] -dense-> logits[10] -softmax-> probs[10]
 * The blas path differs inside the convolution: Caffe's channel-major maps,
 * 4-sample slices, 16 filters (CNN_SLICE in cnn.h), and one fused pass for
 * bias, ReLU and pooling that writes the channels-last pooled map.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cnn.h"
#include "cnn_blas.h"
#include "cnn_layers.h"

/* Buffers are padded to whole cache lines so that no two threads' data, and
 * no two chunks' gradients, share a line. */
enum { LINE_FLOATS = 16 };
static long padded(long n) { return (n + LINE_FLOATS - 1) / LINE_FLOATS * LINE_FLOATS; }

enum { COL_SIZE = CNN_CONV_H * CNN_CONV_W * CNN_KSIZE * CNN_KSIZE };

/* The blas path's slices and padded filters: see CNN_SLICE in cnn.h. */
enum { SLICE = CNN_SLICE, CONV_ROWS = CNN_CONV_ROWS };
enum { CONV_ROWS_SIZE = CONV_ROWS * CNN_CONV_H * CNN_CONV_W };

static int slice_len(int m, int s) { return m - s < SLICE ? m - s : SLICE; }

/* The seed's convolution as a cnn_conv_shape: 1 channel, 28×28, 15 filters
 * of 5×5, no padding, stride 1. */
static cnn_conv_shape seed_conv(void)
{
    return cnn_conv_shape_make(1, CNN_IN_H, CNN_IN_W, CNN_FILTERS, CNN_KSIZE, 0, 1);
}

/* One thread's scratch space for one chunk of samples. */
typedef struct {
    float *x;       /* [CHUNK][784]   input, standardised (CNN_INPUT_MEAN) */
    float *col;     /* blas: per slice of SLICE samples, im2col [25][SLICE·576] */
    float *conv;    /* [CHUNK][8640]  convolution output, pre-activation; blas:
                       per slice [16][SLICE·576] (channel-major), no bias */
    float *act;     /* [CHUNK][8640]  after ReLU */
    float *pool;    /* [CHUNK][2160]  pooled = flattened */
    float *logits;  /* [CHUNK][10] */
    float *probs;   /* [CHUNK][10] */
    float *dlogits; /* [CHUNK][10] */
    float *dpool;   /* [CHUNK][2160] */
    float *dact;    /* [CHUNK][8640] */
    float *dconv;   /* [CHUNK][8640]; blas: like conv */
    float *dw16;    /* [16][25] blas: the padded filters' gradient */
    float *base;
} workspace;

struct cnn_net {
    cnn_impl impl;
    int max_batch, threads, max_chunks;
    float *params, *grads;  /* CNN_PARAM_COUNT each */
    float *conv_w16;        /* [16][25]: conv_w and a zero filter, for the blas path */
    float *chunk_grads;     /* [max_chunks][padded(CNN_PARAM_COUNT)] */
    double *chunk_loss;     /* [max_chunks] */
    int *chunk_correct;     /* [max_chunks] */
    workspace *ws;          /* [threads] */
};

static float *alloc_floats(long n)
{
    float *p = aligned_alloc(64, (size_t)padded(n) * sizeof(float));
    if (p)
        memset(p, 0, (size_t)padded(n) * sizeof(float));
    return p;
}

static int workspace_init(workspace *w)
{
    const long C = CNN_CHUNK;
    long sizes[] = {C * CNN_IN_SIZE, C * COL_SIZE, C * CONV_ROWS_SIZE, C * CNN_CONV_SIZE,
                    C * CNN_FLAT, C * CNN_CLASSES, C * CNN_CLASSES, C * CNN_CLASSES,
                    C * CNN_FLAT, C * CNN_CONV_SIZE, C * CONV_ROWS_SIZE,
                    CONV_ROWS * CNN_KSIZE * CNN_KSIZE};
    float **slots[] = {&w->x, &w->col, &w->conv, &w->act, &w->pool, &w->logits,
                       &w->probs, &w->dlogits, &w->dpool, &w->dact, &w->dconv, &w->dw16};
    enum { NSLOTS = sizeof sizes / sizeof sizes[0] };
    long total = 0;
    for (int i = 0; i < NSLOTS; i++)
        total += padded(sizes[i]);
    w->base = alloc_floats(total);
    if (!w->base)
        return -1;
    float *p = w->base;
    for (int i = 0; i < NSLOTS; i++) {
        *slots[i] = p;
        p += padded(sizes[i]);
    }
    return 0;
}

cnn_status cnn_net_create(cnn_net **out, cnn_impl impl, int max_batch, int threads)
{
    *out = NULL;
    if (max_batch < 1 || threads < 0 || (impl != CNN_IMPL_REF && impl != CNN_IMPL_BLAS))
        return CNN_ERR_ARG;
    int default_threads = cnn_blas_single_thread();
    cnn_net *net = calloc(1, sizeof *net);
    if (!net)
        return CNN_ERR_NOMEM;
    net->impl = impl;
    net->max_batch = max_batch;
    net->threads = threads > 0 ? threads : default_threads;
    net->max_chunks = (max_batch + CNN_CHUNK - 1) / CNN_CHUNK;
    net->params = alloc_floats(CNN_PARAM_COUNT);
    net->grads = alloc_floats(CNN_PARAM_COUNT);
    net->conv_w16 = alloc_floats(CONV_ROWS * CNN_KSIZE * CNN_KSIZE); /* row 15 stays zero */
    net->chunk_grads = alloc_floats(net->max_chunks * padded(CNN_PARAM_COUNT));
    net->chunk_loss = calloc((size_t)net->max_chunks, sizeof *net->chunk_loss);
    net->chunk_correct = calloc((size_t)net->max_chunks, sizeof *net->chunk_correct);
    net->ws = calloc((size_t)net->threads, sizeof *net->ws);
    int ok = net->params && net->grads && net->chunk_grads && net->chunk_loss &&
             net->chunk_correct && net->ws;
    for (int t = 0; ok && t < net->threads; t++)
        ok = workspace_init(&net->ws[t]) == 0;
    if (!ok) {
        cnn_net_free(net);
        return CNN_ERR_NOMEM;
    }
    *out = net;
    return CNN_OK;
}

void cnn_net_free(cnn_net *net)
{
    if (!net)
        return;
    for (int t = 0; net->ws && t < net->threads; t++)
        free(net->ws[t].base);
    free(net->ws);
    free(net->chunk_correct);
    free(net->chunk_loss);
    free(net->chunk_grads);
    free(net->conv_w16);
    free(net->grads);
    free(net->params);
    free(net);
}

float *cnn_net_params(cnn_net *net) { return net->params; }
const float *cnn_net_grads(const cnn_net *net) { return net->grads; }
cnn_impl cnn_net_impl(const cnn_net *net) { return net->impl; }
int cnn_net_threads(const cnn_net *net) { return net->threads; }

int cnn_impl_parse(const char *s, cnn_impl *out)
{
    if (strcmp(s, "ref") == 0)
        *out = CNN_IMPL_REF;
    else if (strcmp(s, "blas") == 0)
        *out = CNN_IMPL_BLAS;
    else
        return -1;
    return 0;
}

const char *cnn_impl_name(cnn_impl impl) { return impl == CNN_IMPL_REF ? "ref" : "blas"; }

static int argmax(const float *v, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

/* Forward m samples through the network into w; returns the summed loss and
 * counts correct predictions when labels are given. */
static double forward_chunk(const cnn_net *net, workspace *w, const uint8_t *x,
                            const uint8_t *y, int m, int *correct)
{
    cnn_params p = cnn_params_view(net->params);
    const cnn_conv_shape cs = seed_conv();
    const float scale = 1.0f / (255.0f * CNN_INPUT_STD), shift = CNN_INPUT_MEAN / CNN_INPUT_STD;
    for (long i = 0; i < (long)m * CNN_IN_SIZE; i++)
        w->x[i] = (float)x[i] * scale - shift;
    if (net->impl == CNN_IMPL_BLAS) {
        for (int s = 0; s < m; s += SLICE) {
            /* z without bias, 16 planes; the fused pass adds the bias to the 15 real ones */
            float *z = w->conv + (long)s * CONV_ROWS_SIZE;
            cnn_conv_forward_blas(z, w->col + (long)s * COL_SIZE, w->x + (long)s * CNN_IN_SIZE,
                                  net->conv_w16, NULL, slice_len(m, s), CONV_ROWS, &cs);
            cnn_bias_relu_avgpool_forward(w->pool + (long)s * CNN_FLAT, z, p.conv_b,
                                          slice_len(m, s), CNN_CONV_H, CNN_CONV_W, CNN_FILTERS,
                                          0);
        }
        cnn_dense_forward_blas(w->logits, w->pool, p.fc_w, p.fc_b, m, CNN_FLAT, CNN_CLASSES);
    } else {
        cnn_conv_forward_ref(w->conv, w->x, p.conv_w, p.conv_b, m, &cs);
        cnn_relu_forward(w->act, w->conv, (long)m * CNN_CONV_SIZE);
        cnn_avgpool_forward(w->pool, w->act, m, CNN_CONV_H, CNN_CONV_W, CNN_FILTERS, 2);
        cnn_dense_forward_ref(w->logits, w->pool, p.fc_w, p.fc_b, m, CNN_FLAT, CNN_CLASSES);
    }
    double loss = cnn_softmax_xent_forward(w->probs, w->logits, y, m, CNN_CLASSES);
    if (y && correct) {
        *correct = 0;
        for (int n = 0; n < m; n++)
            *correct += argmax(w->probs + n * CNN_CLASSES, CNN_CLASSES) == y[n];
    }
    return loss;
}

/* Backward m samples, adding their gradient (scaled by `scale`) into g. The
 * convolution's input gradient is not computed: its input is the data. */
static void backward_chunk(const cnn_net *net, workspace *w, float *g, const uint8_t *y,
                           int m, float scale)
{
    cnn_params p = cnn_params_view(net->params);
    cnn_params d = cnn_params_view(g);
    const cnn_conv_shape cs = seed_conv();
    cnn_softmax_xent_backward(w->dlogits, w->probs, y, m, CNN_CLASSES, scale);
    if (net->impl == CNN_IMPL_BLAS) {
        cnn_dense_backward_weights_blas(d.fc_w, d.fc_b, w->dlogits, w->pool, m, CNN_FLAT,
                                        CNN_CLASSES);
        cnn_dense_backward_input_blas(w->dpool, w->dlogits, p.fc_w, m, CNN_FLAT, CNN_CLASSES);
        memset(w->dw16, 0, CONV_ROWS * CNN_KSIZE * CNN_KSIZE * sizeof *w->dw16);
        for (int s = 0; s < m; s += SLICE) {
            long o = (long)s * CONV_ROWS_SIZE, np = (long)slice_len(m, s) * CNN_CONV_H * CNN_CONV_W;
            cnn_bias_relu_avgpool_backward(w->dconv + o, d.conv_b, w->dpool + (long)s * CNN_FLAT,
                                           w->conv + o, p.conv_b, slice_len(m, s), CNN_CONV_H,
                                           CNN_CONV_W, CNN_FILTERS, 0);
            /* the padding filter's plane carries no gradient */
            memset(w->dconv + o + CNN_FILTERS * np, 0, (size_t)np * sizeof *w->dconv);
            cnn_conv_backward_weights_blas(w->dw16, NULL, w->dconv + o,
                                           w->col + (long)s * COL_SIZE, slice_len(m, s),
                                           CONV_ROWS, &cs);
        }
        for (int i = 0; i < CNN_CONV_W_SIZE; i++)
            d.conv_w[i] += w->dw16[i];
    } else {
        cnn_dense_backward_weights_ref(d.fc_w, d.fc_b, w->dlogits, w->pool, m, CNN_FLAT,
                                       CNN_CLASSES);
        cnn_dense_backward_input_ref(w->dpool, w->dlogits, p.fc_w, m, CNN_FLAT, CNN_CLASSES);
        cnn_avgpool_backward(w->dact, w->dpool, m, CNN_CONV_H, CNN_CONV_W, CNN_FILTERS, 2);
        cnn_relu_backward(w->dconv, w->dact, w->conv, (long)m * CNN_CONV_SIZE);
        cnn_conv_backward_weights_ref(d.conv_w, d.conv_b, w->dconv, w->x, m, &cs);
    }
}

static int chunk_count(int n) { return (n + CNN_CHUNK - 1) / CNN_CHUNK; }

/* The padded copy of the filters, taken before each step (the parameters
 * may have been changed from outside, e.g. loaded). */
static void pad_conv_weights(cnn_net *net)
{
    memcpy(net->conv_w16, net->params, CNN_CONV_W_SIZE * sizeof(float));
}

/* Sum the chunk totals in chunk order (the order is what makes it reproducible). */
static void gather_totals(const cnn_net *net, int nchunks, double *loss_sum, int *correct)
{
    double loss = 0.0;
    int right = 0;
    for (int c = 0; c < nchunks; c++) {
        loss += net->chunk_loss[c];
        right += net->chunk_correct[c];
    }
    if (loss_sum)
        *loss_sum = loss;
    if (correct)
        *correct = right;
}

cnn_status cnn_net_train_step(cnn_net *net, const uint8_t *x, const uint8_t *y, int n,
                              float lr, double *loss_sum, int *correct)
{
    if (n < 1 || n > net->max_batch || !x || !y)
        return CNN_ERR_ARG;
    const int nchunks = chunk_count(n);
    const long stride = padded(CNN_PARAM_COUNT);
    const float scale = 1.0f / (float)n;
    pad_conv_weights(net);

#pragma omp parallel for num_threads(net->threads) schedule(static)
    for (int c = 0; c < nchunks; c++) {
        workspace *w = &net->ws[omp_get_thread_num()];
        int lo = c * CNN_CHUNK, m = n - lo < CNN_CHUNK ? n - lo : CNN_CHUNK;
        float *g = net->chunk_grads + c * stride;
        memset(g, 0, CNN_PARAM_COUNT * sizeof *g);
        net->chunk_loss[c] = forward_chunk(net, w, x + (long)lo * CNN_IN_SIZE, y + lo, m,
                                           &net->chunk_correct[c]);
        backward_chunk(net, w, g, y + lo, m, scale);
    }
    gather_totals(net, nchunks, loss_sum, correct);
    for (int c = 0; c < nchunks; c++)
        if (!isfinite(net->chunk_loss[c]))
            return CNN_ERR_DIVERGED; /* leave the weights at their last finite values */

    float *params = net->params, *grads = net->grads;
    const float *cg = net->chunk_grads;
#pragma omp parallel for num_threads(net->threads) schedule(static)
    for (long i = 0; i < CNN_PARAM_COUNT; i++) {
        float s = 0.0f;
        for (int c = 0; c < nchunks; c++)
            s += cg[c * stride + i];
        grads[i] = s;
        params[i] -= lr * s;
    }
    return CNN_OK;
}

cnn_status cnn_net_infer(cnn_net *net, const uint8_t *x, const uint8_t *y, int n, float *probs,
                         double *loss_sum, int *correct)
{
    if (n < 1 || n > net->max_batch || !x)
        return CNN_ERR_ARG;
    const int nchunks = chunk_count(n);
    pad_conv_weights(net);
#pragma omp parallel for num_threads(net->threads) schedule(static)
    for (int c = 0; c < nchunks; c++) {
        workspace *w = &net->ws[omp_get_thread_num()];
        int lo = c * CNN_CHUNK, m = n - lo < CNN_CHUNK ? n - lo : CNN_CHUNK;
        net->chunk_loss[c] = forward_chunk(net, w, x + (long)lo * CNN_IN_SIZE,
                                           y ? y + lo : NULL, m, &net->chunk_correct[c]);
        if (probs)
            memcpy(probs + (long)lo * CNN_CLASSES, w->probs,
                   (size_t)m * CNN_CLASSES * sizeof *probs);
    }
    gather_totals(net, nchunks, loss_sum, correct);
    return CNN_OK;
}
