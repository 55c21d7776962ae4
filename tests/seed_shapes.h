/* seed_shapes.h — the seed network's shapes, for the kernel tests that use
 * them as one realistic case among their random shapes. Nothing is restated
 * here: seed_shapes_get() parses the "seed" preset (cnn_arch.h) and reads the
 * padded filter rows from the blas plan the network makes of it
 * (seed_shapes.c). Include after <cmocka.h>. */
#ifndef CNN_TESTS_SEED_SHAPES_H
#define CNN_TESTS_SEED_SHAPES_H

#include "cnn_layers.h"

typedef struct {
    cnn_conv_shape conv;  /* the convolution: C, H, W, F, K, P, S and OH, OW */
    int rows;             /* the SGEMM rows the blas plan gives its F filters */
    int pool_h, pool_w;   /* the map after the pooling */
    int flat, classes;    /* the dense layer's inputs (the flattened map) and outputs */
    long in_size;         /* floats per sample: the input image */
    long conv_size;       /* floats per sample: the convolution's output */
    long conv_w_size;     /* the convolution's weights */
} seed_shapes;

/* The shapes for the seed's 28×28 images and 10 classes; fails the test
 * (cmocka) if the preset does not parse or the plan is not as expected. */
seed_shapes seed_shapes_get(void);

#endif
