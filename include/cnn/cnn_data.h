/* cnn_data.h — MNIST-format (IDX) data sets: reading and validating them.
 * Files may be plain or gzip-compressed; everything is validated (magic,
 * dimensions, file length, counts, label range) before anything large is
 * allocated, and every failure names the file and the problem. */
#ifndef CNN_DATA_H
#define CNN_DATA_H

#include <stdint.h>

#include "cnn_status.h"

typedef struct {
    int count, rows, cols;
    uint8_t *pixels; /* count × rows × cols, row-major */
} cnn_images;

typedef struct {
    int count;
    uint8_t *labels; /* count */
} cnn_labels;

/* IDX image file, magic 0x00000803 (uint8, 3 dims). On failure *out is
 * zeroed (nothing to free) and err says which file and what is wrong.
 * A gzip file must be a single gzip member: its trailer size is checked
 * against the header before allocating. */
cnn_status cnn_idx_read_images(const char *path, cnn_images *out, cnn_err *err);
/* IDX label file, magic 0x00000801 (uint8, 1 dim); every label < num_classes. */
cnn_status cnn_idx_read_labels(const char *path, int num_classes, cnn_labels *out,
                               cnn_err *err);
/* Free and zero; safe on a zeroed or already freed struct. */
void cnn_images_free(cnn_images *im);
void cnn_labels_free(cnn_labels *lb);

/* One split of a data set: images with their labels. */
typedef struct {
    int count, rows, cols;
    uint8_t *images; /* count × rows × cols */
    uint8_t *labels; /* count */
} cnn_dataset;

/* Load split "train" or "t10k" from dir, finding the files under any of the
 * common spellings: train-images-idx3-ubyte[.gz], train-images.idx3-ubyte[.gz]
 * (and likewise for labels). Checks counts agree, images are rows×cols as
 * required (pass 0 to accept any) and labels < num_classes. */
/* On failure *out is zeroed. */
cnn_status cnn_dataset_load(const char *dir, const char *split, int rows, int cols,
                            int num_classes, cnn_dataset *out, cnn_err *err);
void cnn_dataset_free(cnn_dataset *ds);

#endif
