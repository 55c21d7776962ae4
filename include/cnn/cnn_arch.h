/* cnn_arch.h — the network as data: an architecture spec such as
 * "conv6x5p2,relu,avgpool2,conv16x5,relu,avgpool2,dense120,relu,dense84,relu,dense10"
 * parsed into a table of layers, each with its shapes and its place in the
 * one flat parameter block (after llm.c's table of parameter sizes). The
 * same table drives the network's forward and backward loops, the
 * initialisation, the model file's tensor list, `cnn filters` and
 * bench/layers, so the sequence of layers is written down once: here.
 *
 * Grammar (layers separated by commas, softmax + cross-entropy implied):
 *   convFxK[pP][sS]  F filters of K×K, zero padding P (default 0), stride S
 *                    (default 1); e.g. conv6x5p2, conv32x3p1s2
 *   relu
 *   avgpoolN, maxpoolN  N×N window, stride N (N must divide the map)
 *   denseN           N outputs; flattens its input map channels last
 *                    (k = i·(W·C) + j·C + c, docs/maths.md §2.4)
 * The last layer must be a dense layer with one output per class.
 * Presets, accepted wherever a spec is: "seed" and "lenet5" (below).
 */
#ifndef CNN_ARCH_H
#define CNN_ARCH_H

#include "cnn_status.h"

#define CNN_ARCH_SEED "conv15x5,relu,avgpool2,dense10"
#define CNN_ARCH_LENET5 \
    "conv6x5p2,relu,avgpool2,conv16x5,relu,avgpool2,dense120,relu,dense84,relu,dense10"

enum {
    CNN_MAX_LAYERS = 64,
    CNN_ARCH_TEXT = 1024,        /* longest spec accepted, with its NUL */
    CNN_MAX_FILTERS = 4096,      /* per convolution */
    CNN_MAX_KERNEL = 64,
    CNN_MAX_DENSE = 1 << 20,     /* outputs of a dense layer */
    CNN_MAX_SIDE = 4096,         /* input height and width */
    CNN_MAX_CLASSES = 256,       /* labels are bytes */
};
/* The largest parameter count accepted: 2^28 floats (1 GiB), and never more
 * than a quarter of the machine's memory (parameters, gradients, per-chunk
 * partial gradients and optimizer state each take as much). */
#define CNN_MAX_PARAMS (1L << 28)

typedef enum {
    CNN_LAYER_CONV,
    CNN_LAYER_RELU,
    CNN_LAYER_AVGPOOL,
    CNN_LAYER_MAXPOOL,
    CNN_LAYER_DENSE,
} cnn_layer_kind;

/* One layer: its shapes per sample, and where its parameters live. Maps are
 * H×W×C; a dense layer's output is the map 1×1×outputs. */
typedef struct {
    cnn_layer_kind kind;
    int size;                /* conv: filters F; pool: window N; dense: outputs */
    int k, pad, stride;      /* conv: kernel K, padding P, stride S */
    int in_h, in_w, in_c;    /* input map */
    int out_h, out_w, out_c; /* output map */
    long in_size, out_size;  /* floats per sample: in_h·in_w·in_c, out_h·out_w·out_c */
    /* parameters (conv, dense): weight then bias, at these offsets (in
     * floats) into the parameter block; counts are 0 for other layers.
     * conv weight [F][C][K][K]; dense weight [outputs][in_size]. */
    long w_off, w_count, b_off, b_count;
    int fan_in;              /* C·K·K or in_size: He initialisation */
    char name[16];           /* tensor prefix: "conv", "fc" (the only one of its
                                kind) or "conv1", "fc2", … (numbered in order); "" */
    char text[32];           /* the layer as the canonical spec writes it */
} cnn_layer;

typedef struct {
    char spec[CNN_ARCH_TEXT];   /* canonical: presets expanded, defaults dropped */
    int n;                      /* layers */
    cnn_layer layer[CNN_MAX_LAYERS];
    int in_h, in_w, in_c, classes;
    long param_count;           /* floats in the parameter block */
} cnn_arch;

/* Parse `spec` (or a preset name) for inputs of in_h×in_w×in_c and
 * `classes` classes. On failure *a is untouched and err names the offending
 * layer, e.g. "layer 3 'avgpool5': window 5 does not divide the 24x24 map".
 * Nothing is allocated. */
cnn_status cnn_arch_parse(cnn_arch *a, const char *spec, int in_h, int in_w, int in_c,
                          int classes, cnn_err *err);

/* A preset's default plain-SGD learning rate and batch (seed: 0.05, 32;
 * lenet5: 0.1, 32): 1 when spec names a preset (or is its expansion),
 * else 0 and nothing written. */
int cnn_arch_preset_defaults(const char *spec, float *lr, int *batch);

/* The preset whose expansion is a->spec ("seed", "lenet5") or NULL. */
const char *cnn_arch_preset_name(const cnn_arch *a);

/* Floating-point operations per sample, counted from the maths (one
 * multiply-add is 2) — the same count for the ref and blas paths so that
 * their GFLOP/s compare. pass: 0 forward, 1 weight (and bias) gradient,
 * 2 input gradient. */
double cnn_layer_flops(const cnn_layer *l, int pass);

const char *cnn_layer_kind_name(cnn_layer_kind kind);

#endif
