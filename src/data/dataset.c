/* dataset.c — finding and loading one split (images + labels) of an
 * MNIST-format data set. Copies found in the wild are named in two ways
 * (yann.lecun.com and Fashion-MNIST use "train-images-idx3-ubyte", some
 * mirrors and Kaggle use "train-images.idx3-ubyte") and may or may not be
 * gzipped, so all four spellings are accepted. Where several exist, the
 * first in the order of cnn_data.h is read, and cnn_dataset_find says which
 * other one was passed over. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cnn_data.h"

/* Find "{dir}/{split}-{kind}{sep}idx{n}-ubyte[.gz]": the first spelling of
 * `names` that exists is *found, the next one that also exists *also
 * (NULL if none); both malloc'ed. */
static cnn_status find_file(const char *dir, const char *split, const char *kind, int n,
                            char **found, char **also, cnn_err *err)
{
    static const struct {
        const char *sep, *ext;
    } names[] = {{"-", ""}, {"-", ".gz"}, {".", ""}, {".", ".gz"}};

    *found = *also = NULL;
    size_t dlen = strlen(dir);
    const char *slash = dlen > 0 && dir[dlen - 1] == '/' ? "" : "/";
    size_t cap = dlen + strlen(split) + strlen(kind) + 32;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !*also; i++) {
        char *path = malloc(cap);
        if (!path) {
            free(*found);
            *found = NULL;
            return cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", dir);
        }
        snprintf(path, cap, "%s%s%s-%s%sidx%d-ubyte%s", dir, slash, split, kind, names[i].sep,
                 n, names[i].ext);
        struct stat sb;
        /* Anything but "not there" (say, no permission) counts as found, so
         * that opening it reports the real problem instead of "missing". */
        if (stat(path, &sb) == 0 || (errno != ENOENT && errno != ENOTDIR)) {
            if (!*found)
                *found = path;
            else
                *also = path;
        } else {
            free(path);
        }
    }
    if (*found)
        return CNN_OK;
    return cnn_fail(err, CNN_ERR_IO, "%s: no %s-%s-idx%d-ubyte[.gz] or %s-%s.idx%d-ubyte[.gz]",
                    dir, split, kind, n, split, kind, n);
}

cnn_status cnn_dataset_find(const char *dir, const char *split, cnn_dataset_files *out,
                            cnn_err *err)
{
    if (!out)
        return cnn_fail(err, CNN_ERR_ARG, "cnn_dataset_find: out is NULL");
    memset(out, 0, sizeof *out);
    if (!dir || !split || !*split || strchr(split, '/'))
        return cnn_fail(err, CNN_ERR_ARG, "cnn_dataset_find: need a directory and a split "
                                          "name such as \"train\" or \"t10k\"");
    /* A missing directory would otherwise be reported as missing files. */
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return cnn_fail(err, CNN_ERR_IO, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return cnn_fail(err, CNN_ERR_IO, "%s: %s", dir, strerror(ENOTDIR));
    cnn_status st = find_file(dir, split, "images", 3, &out->images, &out->images_also, err);
    if (st == CNN_OK)
        st = find_file(dir, split, "labels", 1, &out->labels, &out->labels_also, err);
    if (st != CNN_OK)
        cnn_dataset_files_free(out);
    return st;
}

void cnn_dataset_files_free(cnn_dataset_files *f)
{
    if (!f)
        return;
    free(f->images);
    free(f->labels);
    free(f->images_also);
    free(f->labels_also);
    memset(f, 0, sizeof *f);
}

cnn_status cnn_dataset_load(const char *dir, const char *split, int rows, int cols,
                            int num_classes, cnn_dataset *out, cnn_err *err)
{
    if (!out)
        return cnn_fail(err, CNN_ERR_ARG, "cnn_dataset_load: out is NULL");
    memset(out, 0, sizeof *out);
    if (rows < 0 || cols < 0)
        return cnn_fail(err, CNN_ERR_ARG, "cnn_dataset_load: rows and cols must be >= 0 "
                                          "(got %d, %d)", rows, cols);

    /* Look for both files before reading either (a missing one is found in
     * a moment), then read both headers before either body. */
    cnn_dataset_files files;
    cnn_status st = cnn_dataset_find(dir, split, &files, err);
    if (st != CNN_OK)
        return st;
    cnn_images im;
    cnn_labels lb;
    st = cnn_idx_read_pair(files.images, files.labels, rows, cols, num_classes, &im, &lb, err);
    if (st == CNN_OK) {
        out->count = im.count;
        out->rows = im.rows;
        out->cols = im.cols;
        out->images = im.pixels;
        out->labels = lb.labels;
    }
    cnn_dataset_files_free(&files);
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
