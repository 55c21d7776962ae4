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
/* An image file and its label file, both headers (magic, dimensions)
 * read and checked, and the counts compared, before either body is read
 * or decompressed: a gzip whose header promises a million images is
 * refused on a count mismatch before a byte of it is inflated. rows, cols:
 * required image size (0: any). Messages as for the two readers, plus
 * "IMAGES: N images but LABELS has M labels" and "IMAGES: images are RxC,
 * expected RxC". On failure both outputs are zeroed. */
cnn_status cnn_idx_read_pair(const char *images_path, const char *labels_path, int rows,
                             int cols, int num_classes, cnn_images *im, cnn_labels *lb,
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

/* The two files of split "train" or "t10k" in dir, under any of the common
 * spellings; where several exist, the first of this order is read:
 *   train-images-idx3-ubyte, train-images-idx3-ubyte.gz,
 *   train-images.idx3-ubyte, train-images.idx3-ubyte.gz
 * (likewise for labels). *_also names the next spelling that exists too
 * (say, the .gz beside a plain file), so a program can tell its user which
 * one is read; NULL when there is none. All strings malloc'ed. */
typedef struct {
    char *images, *labels;
    char *images_also, *labels_also;
} cnn_dataset_files;
cnn_status cnn_dataset_find(const char *dir, const char *split, cnn_dataset_files *out,
                            cnn_err *err);
void cnn_dataset_files_free(cnn_dataset_files *f);

/* Load split "train" or "t10k" from dir: the files cnn_dataset_find names,
 * through cnn_idx_read_pair (headers and counts first). Checks images are
 * rows×cols as required (pass 0 to accept any) and labels < num_classes.
 * On failure *out is zeroed. */
cnn_status cnn_dataset_load(const char *dir, const char *split, int rows, int cols,
                            int num_classes, cnn_dataset *out, cnn_err *err);
void cnn_dataset_free(cnn_dataset *ds);

#endif
