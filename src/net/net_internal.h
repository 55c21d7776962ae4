/* net_internal.h — what the network's own files share (net.c: the object,
 * chunking and the chunk-order reduction; stages.c: the plan and each
 * stage's forward and backward, ref and blas). Not installed.
 *
 * A stage is one step of the plan: a single layer, or — in the blas path —
 * a convolution with the ReLU and 2×2 average pooling after it, done in one
 * fused pass over the convolution's output. The ref path runs the same
 * stages layer by layer, so bench/layers can set each stage's ref time
 * against its blas time.
 *
 * The blas path's layouts (cnn_layers.h): convolutions read and write
 * channel-major (CN) maps, dense layers channels-last (NC) ones, ReLU and
 * pooling keep whatever they get. A chunk's CN map is cut into slices of
 * CNN_SLICE samples, each slice a block [C][s·H·W] at sample offset
 * s0·(C·H·W), so that one SGEMM convolves a slice whose operands stay in
 * cache. Where a layer gets the other layout it converts, per slice, into
 * a buffer of its own (`tr`). The ref path is NC throughout. */
#ifndef CNN_NET_INTERNAL_H
#define CNN_NET_INTERNAL_H

#include "cnn.h"
#include "cnn_layers.h"
#include "cnn_optim.h"

typedef struct {
    int first, count;   /* layers [first, first + count) */
    int fused;          /* blas: conv + relu + avgpool2 in one pass */
    int in_cn, out_cn;  /* blas: layout of the input the stage gets, of its output */
    int transpose_in;   /* blas: the input arrives in the other layout (and has C > 1) */
    int rows;           /* blas conv: filters padded to this many SGEMM rows */
    int dw_t;           /* blas conv: weight gradient computed as dwᵀ = col·dzᵀ */
    long wpad_off;      /* blas fused conv: its padded filters in net->wpad */
    cnn_conv_shape cs;  /* conv stages */
} cnn_stage;

/* One thread's buffers for one chunk of up to CNN_CHUNK samples. */
typedef struct {
    float *x;                       /* [CHUNK][in]  standardised input */
    float *act[CNN_MAX_LAYERS];     /* each layer's output (blas fused conv: z, its
                                       pre-activation, rows×P per sample, no bias;
                                       the fused ReLU: none) */
    float *col[CNN_MAX_LAYERS];     /* blas conv: im2col, per slice [C·K·K][s·P] */
    float *tr[CNN_MAX_LAYERS];      /* blas: the layer's input in its own layout */
    float *probs;                   /* [CHUNK][classes]; the logits' gradient goes to dcur */
    float *dcur, *dnext;            /* gradients flowing back: [CHUNK][largest map] */
    float *dz;                      /* blas fused conv: gradient of z */
    float *dwpad;                   /* blas conv: its weight gradient summed over slices */
    float *base;
} cnn_workspace;

struct cnn_net {
    cnn_arch arch;
    cnn_stage stage[CNN_MAX_LAYERS];
    int nstages;
    cnn_impl impl;
    int max_batch, threads, nws, max_chunks;
    int active;                     /* threads the next passes use, 1..nws */
    long nparams, stride;           /* stride: a chunk's partial gradient, padded */
    float *params, *grads;
    float *wpad;                    /* blas: padded filters of the fused convolutions */
    float *chunk_grads;             /* [max_chunks][stride] */
    double *chunk_loss;
    int *chunk_correct;
    cnn_workspace *ws;              /* [nws] */
    cnn_optim *sgd;                 /* cnn_net_train_step's plain SGD, made by its first step */
};

/* Buffers are padded to whole cache lines so that no two threads' data, and
 * no two chunks' gradients, share a line. */
enum { CNN_LINE_FLOATS = 16 };
static inline long cnn_padded(long n)
{
    return (n + CNN_LINE_FLOATS - 1) / CNN_LINE_FLOATS * CNN_LINE_FLOATS;
}

/* stages.c */
int cnn_plan(cnn_net *net);                          /* fills net->stage, nstages */
long cnn_plan_wpad_size(const cnn_net *net);
void cnn_plan_pad_weights(cnn_net *net);             /* wpad from params */
/* Sizes (floats) of a workspace's buffers, in the order cnn_workspace_carve
 * hands them out; returns the total. */
long cnn_workspace_size(const cnn_net *net);
void cnn_workspace_carve(const cnn_net *net, cnn_workspace *w, float *base);
void cnn_stage_forward(const cnn_net *net, cnn_workspace *w, int s, int m);
/* pass 1: parameter gradients added into g; pass 2: gradient of the stage's
 * input, from w->dcur into w->dnext. */
void cnn_stage_backward(const cnn_net *net, cnn_workspace *w, float *g, int s, int pass, int m);
/* The output of the last layer (the logits), NC. */
const float *cnn_stage_logits(const cnn_net *net, const cnn_workspace *w);

#endif
