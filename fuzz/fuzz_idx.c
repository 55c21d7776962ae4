/* fuzz_idx.c — libFuzzer target: the IDX reader (src/data/idx.c). The input
 * is one file, read as an image file and as a label file twice: as it is
 * (plain, or gzip when it starts 1f 8b), and wrapped in a gzip stream made
 * here, so that mutations of the IDX header and data also reach the gzip
 * path, which a fuzzer cannot get through by flipping compressed bits.
 *
 * Checks beyond "no crash, no sanitizer report": a refusal zeroes the
 * output and explains itself (fuzz_check_err); an accepted file is exactly
 * header + count·rows·cols (or count) bytes, read back byte for byte; every
 * label is below num_classes; and a plain file and its gzip wrapping get
 * the same verdict. */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cnn_data.h"
#include "harness.h"

enum { NUM_CLASSES = 10 };

/* zlib allocates its buffers at the size the reader asks for with gzbuffer
 * (128 KiB in, 256 KiB out). ASan serves blocks that large by mmap and
 * munmap, which held this target to 300 inputs/s. This definition stands
 * in for zlib's for the reader linked into this executable, and asks for a
 * smaller buffer, varied with the input (16 B to 8 KiB), so that the
 * reader's handling of short reads and stream ends also meets many more
 * buffer boundaries. */
static unsigned gz_want = 8192;

int gzbuffer(gzFile file, unsigned size)
{
    static int (*real)(gzFile, unsigned);
    if (!real) {
        void *sym = dlsym(RTLD_NEXT, "gzbuffer");
        FUZZ_ASSERT(sym != NULL);
        memcpy(&real, &sym, sizeof real); /* object to function pointer */
    }
    (void)size;
    return real(file, gz_want);
}

/* Read path both ways; content is what the reader should find after any
 * decompression. Returns the two statuses through st. */
static void read_idx(const char *path, const uint8_t *content, size_t size, cnn_status st[2])
{
    cnn_images im;
    cnn_err err = {""};
    memset(&im, 0xab, sizeof im);
    st[0] = cnn_idx_read_images(path, &im, &err);
    if (st[0] == CNN_OK) {
        FUZZ_ASSERT(im.count >= 1 && im.rows >= 1 && im.cols >= 1 && im.pixels);
        size_t n = (size_t)im.count * (size_t)im.rows * (size_t)im.cols;
        FUZZ_ASSERT(content == NULL || size == 16 + n);
        FUZZ_ASSERT(content == NULL || memcmp(im.pixels, content + 16, n) == 0);
        cnn_images_free(&im);
        FUZZ_ASSERT(im.pixels == NULL);
    } else {
        fuzz_check_err(st[0], &err, path);
        FUZZ_ASSERT(im.pixels == NULL && im.count == 0);
    }

    cnn_labels lb;
    memset(&lb, 0xab, sizeof lb);
    st[1] = cnn_idx_read_labels(path, NUM_CLASSES, &lb, &err);
    if (st[1] == CNN_OK) {
        FUZZ_ASSERT(lb.count >= 1 && lb.labels);
        FUZZ_ASSERT(content == NULL || size == 8 + (size_t)lb.count);
        FUZZ_ASSERT(content == NULL || memcmp(lb.labels, content + 8, (size_t)lb.count) == 0);
        for (int i = 0; i < lb.count; i++)
            FUZZ_ASSERT(lb.labels[i] < NUM_CLASSES);
        cnn_labels_free(&lb);
        FUZZ_ASSERT(lb.labels == NULL);
    } else {
        fuzz_check_err(st[1], &err, path);
        FUZZ_ASSERT(lb.labels == NULL && lb.count == 0);
    }
}

/* data as one gzip member (header, deflate, CRC and length trailer), at
 * compression level `level` (0: stored blocks). One stream, reset for each
 * input, with a small window and hash: setting up a default one for every
 * input (256 KiB of fresh tables) took most of the time. */
static uint8_t *gzip_wrap(const uint8_t *data, size_t size, int level, size_t *out_len)
{
    static z_stream zs;
    static int ready;
    if (!ready) {
        /* 9 + 16: a 512-byte window and the gzip wrapper; memLevel 1 */
        FUZZ_ASSERT(deflateInit2(&zs, 1, Z_DEFLATED, 9 + 16, 1, Z_DEFAULT_STRATEGY) == Z_OK);
        ready = 1;
    }
    FUZZ_ASSERT(deflateReset(&zs) == Z_OK);
    FUZZ_ASSERT(deflateParams(&zs, level, Z_DEFAULT_STRATEGY) == Z_OK);
    uLong cap = deflateBound(&zs, (uLong)size);
    uint8_t *out = malloc(cap);
    FUZZ_ASSERT(out != NULL);
    zs.next_in = (Bytef *)(uintptr_t)data;
    zs.avail_in = (uInt)size;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    FUZZ_ASSERT(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    *out_len = (size_t)zs.total_out;
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gz_want = 16u << (size % 10);
    int is_gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    cnn_status raw[2], wrapped[2];
    /* A plain file is its own content; a gzip file's content is unknown. */
    read_idx(fuzz_file(data, size), is_gzip ? NULL : data, size, raw);

    if (size > (1u << 20))
        return 0;
    size_t zlen = 0;
    uint8_t *z = gzip_wrap(data, size, size % 4 == 0 ? 0 : 1, &zlen);
    read_idx(fuzz_file(z, zlen), data, size, wrapped);
    free(z);
    /* Compression must not change the verdict on a plain file. */
    if (!is_gzip)
        FUZZ_ASSERT(raw[0] == wrapped[0] && raw[1] == wrapped[1]);
    return 0;
}
