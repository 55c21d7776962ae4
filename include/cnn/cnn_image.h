/* cnn_image.h — 8-bit grayscale pictures in and out of the program: binary
 * PGM files to classify, and PGM/PNG files to look at (the learned filters).
 * Only what the network needs: one channel, 8 bits per pixel. */
#ifndef CNN_IMAGE_H
#define CNN_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cnn_status.h"

typedef struct {
    int width, height;
    int maxval;        /* brightest value (PGM header); 255 for what we make */
    uint8_t *pixels;   /* height rows of width pixels, top row first */
} cnn_gray;

/* Largest width or height we read or write; bounds what a header can make
 * us allocate (and keeps width·height well inside int). */
enum { CNN_IMAGE_MAX_SIDE = 16384 };

/* Allocate a width×height image filled with `fill`, maxval 255. */
cnn_status cnn_gray_alloc(cnn_gray *im, int width, int height, uint8_t fill);
/* Free and zero; safe on a zeroed or already freed image. */
void cnn_gray_free(cnn_gray *im);

/* Read a binary PGM ("P5") file strictly: magic, width, height and maxval
 * (1..255) separated by whitespace and '#' comments, one whitespace byte,
 * then exactly width·height bytes, each <= maxval, and nothing after them.
 * On failure *out is zeroed and err says "PATH: problem" in one line. */
cnn_status cnn_pgm_read(const char *path, cnn_gray *out, cnn_err *err);
/* The same from an open stream (a pipe, standard input), reading up to its
 * end; `name` stands for the file in messages. A regular file's length is
 * checked before the pixels are allocated; a pipe's while reading. Only
 * regular files are opened by cnn_pgm_read: a FIFO or device given by name
 * is refused ("not a regular file") instead of waited for. */
cnn_status cnn_pgm_read_stream(FILE *f, const char *name, cnn_gray *out, cnn_err *err);

/* Write im as binary PGM to f (for cnn_atomic_write). CNN_ERR_IO on failure. */
cnn_status cnn_pgm_write(FILE *f, const cnn_gray *im);

/* Encode im as an 8-bit grayscale PNG (IHDR, one zlib IDAT with filter type 0
 * on every row, IEND) into a malloc'ed buffer *out of *len bytes. */
cnn_status cnn_png_encode(const cnn_gray *im, unsigned char **out, size_t *len, cnn_err *err);

/* Write im to path atomically, as PNG if path ends in ".png" and as PGM if
 * it ends in ".pgm" (either case); any other name is CNN_ERR_ARG. */
cnn_status cnn_gray_save(const char *path, const cnn_gray *im, cnn_err *err);

/* Lay out a convolution's learned filters (conv_w [filters][channels][K][K])
 * as a grid: with one channel, CNN_FILTER_GRID_COLS columns, filter f at row
 * f / COLS, column f % COLS; with several, one row a filter, one column a
 * channel; each tap a scale×scale block, `gap` white pixels between filters
 * and around the edge. Each filter is stretched from its own minimum (black)
 * to its own maximum (white), because filters differ in scale and their
 * shape is what matters; a constant filter is mid-gray. */
enum { CNN_FILTER_GRID_COLS = 5 };
cnn_status cnn_filter_grid(const float *conv_w, int filters, int channels, int K, int scale,
                           int gap, cnn_gray *out, cnn_err *err);

#endif
