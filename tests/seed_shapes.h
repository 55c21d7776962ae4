/* seed_shapes.h — the seed network's shapes as constants, for the kernel
 * tests that use them as one realistic case among their random shapes.
 * (The library has no such constants any more: shapes come from the
 * architecture, cnn_arch.h; test_arch.c checks that "seed" parses to these.) */
#ifndef CNN_TESTS_SEED_SHAPES_H
#define CNN_TESTS_SEED_SHAPES_H

enum {
    CNN_IN_H = 28, CNN_IN_W = 28, CNN_KSIZE = 5, CNN_FILTERS = 15,
    CNN_CONV_H = 24, CNN_CONV_W = 24, CNN_POOL_H = 12, CNN_POOL_W = 12,
    CNN_FLAT = 12 * 12 * 15, CNN_CLASSES = 10, CNN_IN_SIZE = 28 * 28,
    CNN_CONV_SIZE = 24 * 24 * 15, CNN_CONV_W_SIZE = 15 * 5 * 5,
    CNN_CONV_ROWS = 16, /* the blas plan pads 15 filters to 16 SGEMM rows */
};

#endif
