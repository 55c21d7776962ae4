/* gen_dataset.c — writes the synthetic data set of synthetic.h as an
 * MNIST-format directory, so tests/cli_test.sh can run the `cnn` command
 * end to end in seconds: the train split gzip-compressed, the t10k split
 * plain, so both kinds of file are read.
 *
 * usage: gen_dataset DIR [TRAIN_COUNT TEST_COUNT]   (default 1000 200) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "synthetic.h"

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* One IDX file: header (magic, dims) then the bytes, through zlib when gz. */
static int write_idx(const char *path, int gz, uint32_t magic, const uint32_t *dims, int ndims,
                     const uint8_t *data, size_t n)
{
    unsigned char hdr[16];
    be32(hdr, magic);
    for (int k = 0; k < ndims; k++)
        be32(hdr + 4 + 4 * k, dims[k]);
    size_t hlen = 4 + 4 * (size_t)ndims;
    int ok;
    if (gz) {
        gzFile f = gzopen(path, "wb9");
        ok = f && gzwrite(f, hdr, (unsigned)hlen) == (int)hlen &&
             (n == 0 || gzwrite(f, data, (unsigned)n) == (int)n);
        if (f && gzclose(f) != Z_OK)
            ok = 0;
    } else {
        FILE *f = fopen(path, "wb");
        ok = f && fwrite(hdr, 1, hlen, f) == hlen && fwrite(data, 1, n, f) == n;
        if (f && fclose(f) != 0)
            ok = 0;
    }
    if (!ok)
        fprintf(stderr, "gen_dataset: %s: write failed\n", path);
    return ok ? 0 : -1;
}

static int write_split(const char *dir, const char *split, int count, uint64_t seed, int gz)
{
    cnn_dataset ds;
    synthetic_dataset(&ds, count, seed);
    char path[4096];
    const char *ext = gz ? ".gz" : "";
    uint32_t idims[3] = {(uint32_t)count, SYN_H, SYN_W}, ldims[1] = {(uint32_t)count};
    int rc = 0;
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte%s", dir, split, ext);
    rc |= write_idx(path, gz, 0x00000803u, idims, 3, ds.images, (size_t)count * SYN_IN);
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte%s", dir, split, ext);
    rc |= write_idx(path, gz, 0x00000801u, ldims, 1, ds.labels, (size_t)count);
    cnn_dataset_free(&ds);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: gen_dataset DIR [TRAIN_COUNT TEST_COUNT]\n");
        return 2;
    }
    int ntrain = argc == 4 ? atoi(argv[2]) : 1000, ntest = argc == 4 ? atoi(argv[3]) : 200;
    if (ntrain < 1 || ntest < 1) {
        fprintf(stderr, "gen_dataset: counts must be positive\n");
        return 2;
    }
    if (write_split(argv[1], "train", ntrain, 1, 1) || write_split(argv[1], "t10k", ntest, 2, 0))
        return 1;
    return 0;
}
