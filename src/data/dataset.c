/* dataset.c — finding and loading one split (images + labels) of an
 * MNIST-format data set. Copies found in the wild are named in two ways
 * (yann.lecun.com and Fashion-MNIST use "train-images-idx3-ubyte", some
 * mirrors and Kaggle use "train-images.idx3-ubyte") and may or may not be
 * gzipped, so all four spellings are accepted. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cnn_data.h"

/* Find "{dir}/{split}-{kind}{sep}idx{n}-ubyte[.gz]"; *found is malloc'ed. */
static cnn_status find_file(const char *dir, const char *split, const char *kind, int n,
                            char **found, cnn_err *err)
{
    static const struct {
        const char *sep, *ext;
    } names[] = {{"-", ""}, {"-", ".gz"}, {".", ""}, {".", ".gz"}};

    *found = NULL;
    size_t dlen = strlen(dir);
    const char *slash = dlen > 0 && dir[dlen - 1] == '/' ? "" : "/";
    size_t cap = dlen + strlen(split) + strlen(kind) + 32;
    char *path = malloc(cap);
    if (!path)
        return cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", dir);

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, cap, "%s%s%s-%s%sidx%d-ubyte%s", dir, slash, split, kind, names[i].sep,
                 n, names[i].ext);
        struct stat sb;
        /* Anything but "not there" (say, no permission) counts as found, so
         * that opening it reports the real problem instead of "missing". */
        if (stat(path, &sb) == 0 || (errno != ENOENT && errno != ENOTDIR)) {
            *found = path;
            return CNN_OK;
        }
    }
    free(path);
    return cnn_fail(err, CNN_ERR_IO, "%s: no %s-%s-idx%d-ubyte[.gz] or %s-%s.idx%d-ubyte[.gz]",
                    dir, split, kind, n, split, kind, n);
}

static void dim_str(char *buf, size_t cap, int v)
{
    if (v == 0)
        snprintf(buf, cap, "any");
    else
        snprintf(buf, cap, "%d", v);
}

cnn_status cnn_dataset_load(const char *dir, const char *split, int rows, int cols,
                            int num_classes, cnn_dataset *out, cnn_err *err)
{
    if (!out)
        return cnn_fail(err, CNN_ERR_ARG, "cnn_dataset_load: out is NULL");
    memset(out, 0, sizeof *out);
    if (!dir || !split || !*split || strchr(split, '/'))
        return cnn_fail(err, CNN_ERR_ARG, "cnn_dataset_load: need a directory and a split "
                                          "name such as \"train\" or \"t10k\"");
    if (rows < 0 || cols < 0)
        return cnn_fail(err, CNN_ERR_ARG, "cnn_dataset_load: rows and cols must be >= 0 "
                                          "(got %d, %d)", rows, cols);

    /* A missing directory would otherwise be reported as missing files. */
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return cnn_fail(err, CNN_ERR_IO, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return cnn_fail(err, CNN_ERR_IO, "%s: %s", dir, strerror(ENOTDIR));

    char *img_path = NULL, *lbl_path = NULL;
    cnn_images im = {0};
    cnn_labels lb = {0};
    /* Look for both files before reading either: a missing one is found in
     * a moment instead of after decompressing the other. */
    cnn_status st = find_file(dir, split, "images", 3, &img_path, err);
    if (st == CNN_OK)
        st = find_file(dir, split, "labels", 1, &lbl_path, err);
    if (st == CNN_OK)
        st = cnn_idx_read_images(img_path, &im, err);
    if (st == CNN_OK && ((rows && im.rows != rows) || (cols && im.cols != cols))) {
        char r[16], c[16];
        dim_str(r, sizeof r, rows);
        dim_str(c, sizeof c, cols);
        st = cnn_fail(err, CNN_ERR_FORMAT, "%s: images are %dx%d, expected %sx%s", img_path,
                      im.rows, im.cols, r, c);
    }
    if (st == CNN_OK)
        st = cnn_idx_read_labels(lbl_path, num_classes, &lb, err);
    if (st == CNN_OK && im.count != lb.count)
        st = cnn_fail(err, CNN_ERR_FORMAT, "%s: %d images but %s has %d labels", img_path,
                      im.count, lbl_path, lb.count);

    if (st == CNN_OK) {
        out->count = im.count;
        out->rows = im.rows;
        out->cols = im.cols;
        out->images = im.pixels;
        out->labels = lb.labels;
    } else {
        cnn_images_free(&im);
        cnn_labels_free(&lb);
    }
    free(img_path);
    free(lbl_path);
    return st;
}

void cnn_dataset_free(cnn_dataset *ds)
{
    if (!ds)
        return;
    free(ds->images);
    free(ds->labels);
    memset(ds, 0, sizeof *ds);
}
