/* test_idx.c — IDX reader and data set loader: good files read back exactly,
 * and each kind of damage is rejected with a message naming the file and
 * the problem. Every test writes its files into its own fresh directory. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "cnn_data.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

typedef struct {
    char dir[64];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/cnn_test_idx.XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

/* Tests make subdirectories (subdir()) as well as files. */
static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            remove_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static int teardown(void **state)
{
    fixture *f = *state;
    remove_tree(f->dir);
    free(f);
    return 0;
}

static const char *join(char *buf, const char *dir, const char *name)
{
    int n = snprintf(buf, 512, "%s/%s", dir, name);
    assert_true(n > 0 && n < 512);
    return buf;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Pixels with some structure (so deflate compresses them, using Huffman
 * blocks rather than stored ones) but no short period. */
static uint8_t pixel(uint32_t i)
{
    uint32_t x = i * 2654435761u;
    return (uint8_t)((x >> 27) * 5 + (i % 7));
}

/* IDX image file bytes: header then count×rows×cols pixels. */
static uint8_t *make_images(uint32_t count, uint32_t rows, uint32_t cols, size_t *len)
{
    size_t n = (size_t)count * rows * cols;
    uint8_t *b = malloc(16 + n);
    assert_non_null(b);
    put_be32(b, 0x00000803);
    put_be32(b + 4, count);
    put_be32(b + 8, rows);
    put_be32(b + 12, cols);
    for (size_t i = 0; i < n; i++)
        b[16 + i] = pixel((uint32_t)i);
    *len = 16 + n;
    return b;
}

static uint8_t *make_labels(uint32_t count, int num_classes, size_t *len)
{
    uint8_t *b = malloc(8 + count);
    assert_non_null(b);
    put_be32(b, 0x00000801);
    put_be32(b + 4, count);
    for (uint32_t i = 0; i < count; i++)
        b[8 + i] = (uint8_t)((i * 7 + 3) % (uint32_t)num_classes);
    *len = 8 + count;
    return b;
}

static void write_plain(const char *path, const uint8_t *b, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(b, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static void write_gz(const char *path, const uint8_t *b, size_t n)
{
    gzFile gz = gzopen(path, "wb");
    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, b, (unsigned)n), (int)n);
    assert_int_equal(gzclose(gz), Z_OK);
}

static uint8_t *read_whole(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long len = ftell(fp);
    assert_true(len > 0);
    rewind(fp);
    uint8_t *b = malloc((size_t)len);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    *n = (size_t)len;
    return b;
}

/* The message must name the file and say what is wrong. */
#define assert_msg(err, path, word)                                                        \
    do {                                                                                   \
        if (!strstr((err).msg, (path)) || !strstr((err).msg, (word)))                      \
            fail_msg("message \"%s\" lacks \"%s\" or \"%s\"", (err).msg, (path), (word));  \
    } while (0)

/* Expect cnn_idx_read_images to fail with st and a message naming path and
 * containing word, leaving nothing allocated. */
static void expect_images_fail(const char *path, cnn_status st, const char *word)
{
    cnn_images im;
    memset(&im, 0xab, sizeof im); /* the reader must not trust what was there */
    cnn_err err = {{0}};
    assert_int_equal(cnn_idx_read_images(path, &im, &err), st);
    assert_null(im.pixels);
    assert_msg(err, path, word);
}

static void expect_labels_fail(const char *path, int num_classes, cnn_status st,
                               const char *word)
{
    cnn_labels lb;
    memset(&lb, 0xab, sizeof lb);
    cnn_err err = {{0}};
    assert_int_equal(cnn_idx_read_labels(path, num_classes, &lb, &err), st);
    assert_null(lb.labels);
    assert_msg(err, path, word);
}

static void check_images(const char *path, uint32_t count, uint32_t rows, uint32_t cols)
{
    cnn_images im;
    cnn_err err = {{0}};
    assert_int_equal(cnn_idx_read_images(path, &im, &err), CNN_OK);
    assert_int_equal(im.count, count);
    assert_int_equal(im.rows, rows);
    assert_int_equal(im.cols, cols);
    assert_non_null(im.pixels);
    for (uint32_t i = 0; i < count * rows * cols; i++)
        if (im.pixels[i] != pixel(i))
            fail_msg("pixel %u: %u, expected %u", i, im.pixels[i], pixel(i));
    cnn_images_free(&im);
    assert_null(im.pixels);
}

static void check_labels(const char *path, uint32_t count, int num_classes)
{
    cnn_labels lb;
    cnn_err err = {{0}};
    assert_int_equal(cnn_idx_read_labels(path, num_classes, &lb, &err), CNN_OK);
    assert_int_equal(lb.count, count);
    for (uint32_t i = 0; i < count; i++)
        assert_int_equal(lb.labels[i], (i * 7 + 3) % (uint32_t)num_classes);
    cnn_labels_free(&lb);
    assert_null(lb.labels);
}

static void test_plain_roundtrip(void **state)
{
    fixture *f = *state;
    char ip[512], lp[512];
    size_t n;
    uint8_t *b = make_images(5, 3, 4, &n);
    write_plain(join(ip, f->dir, "img"), b, n);
    free(b);
    b = make_labels(5, 10, &n);
    write_plain(join(lp, f->dir, "lbl"), b, n);
    free(b);

    check_images(ip, 5, 3, 4);
    check_labels(lp, 5, 10);
}

static void test_gz_roundtrip(void **state)
{
    fixture *f = *state;
    char ip[512], lp[512];
    size_t n;
    /* Larger than zlib's buffers, so the read spans many refills. */
    uint8_t *b = make_images(300, 28, 28, &n);
    write_gz(join(ip, f->dir, "img.gz"), b, n);
    free(b);
    b = make_labels(300, 10, &n);
    write_gz(join(lp, f->dir, "lbl.gz"), b, n);
    free(b);

    /* Make sure the file really is compressed, or this tests nothing new. */
    uint8_t *disk = read_whole(ip, &n);
    assert_true(disk[0] == 0x1f && disk[1] == 0x8b);
    assert_true(n < 16 + 300 * 28 * 28);
    free(disk);

    check_images(ip, 300, 28, 28);
    check_labels(lp, 300, 10);
}

static void test_truncated_plain(void **state)
{
    fixture *f = *state;
    char p[512];
    size_t n;
    uint8_t *b = make_images(4, 5, 5, &n);
    write_plain(join(p, f->dir, "cut"), b, n - 7);
    expect_images_fail(p, CNN_ERR_FORMAT, "truncated");
    expect_images_fail(p, CNN_ERR_FORMAT, "109 bytes, expected 116");

    /* Cut inside the header. */
    write_plain(join(p, f->dir, "cut-header"), b, 10);
    expect_images_fail(p, CNN_ERR_FORMAT, "truncated");
    free(b);

    write_plain(join(p, f->dir, "empty"), (const uint8_t *)"", 0);
    expect_images_fail(p, CNN_ERR_FORMAT, "truncated");

    b = make_labels(20, 10, &n);
    write_plain(join(p, f->dir, "cut-labels"), b, n - 1);
    expect_labels_fail(p, 10, CNN_ERR_FORMAT, "truncated");
    free(b);
}

static void test_truncated_gz(void **state)
{
    fixture *f = *state;
    char full[512], p[512];
    size_t n;
    uint8_t *b = make_images(100, 28, 28, &n);
    write_gz(join(full, f->dir, "full.gz"), b, n);
    free(b);
    uint8_t *z = read_whole(full, &n);

    write_plain(join(p, f->dir, "half.gz"), z, n / 2);
    expect_images_fail(p, CNN_ERR_FORMAT, "truncated");

    /* All the deflate data but only half the trailer. */
    write_plain(join(p, f->dir, "no-trailer.gz"), z, n - 4);
    expect_images_fail(p, CNN_ERR_FORMAT, "truncated");

    write_plain(join(p, f->dir, "stub.gz"), z, 12);
    expect_images_fail(p, CNN_ERR_FORMAT, "truncated");
    free(z);
}

static void test_wrong_magic(void **state)
{
    fixture *f = *state;
    char ip[512], lp[512];
    size_t n;
    uint8_t *b = make_labels(30, 10, &n);
    write_plain(join(lp, f->dir, "labels"), b, n);
    free(b);
    b = make_images(2, 4, 4, &n);
    write_plain(join(ip, f->dir, "images"), b, n);
    free(b);

    expect_images_fail(lp, CNN_ERR_FORMAT, "magic 0x00000801, expected 0x00000803");
    expect_images_fail(lp, CNN_ERR_FORMAT, "not an IDX image file");
    expect_labels_fail(ip, 10, CNN_ERR_FORMAT, "magic 0x00000803, expected 0x00000801");

    /* Compressed or not, the same check applies. */
    b = make_labels(30, 10, &n);
    write_gz(join(lp, f->dir, "labels.gz"), b, n);
    free(b);
    expect_images_fail(lp, CNN_ERR_FORMAT, "magic 0x00000801");
}

static void test_corrupt_gz(void **state)
{
    fixture *f = *state;
    char p[512];
    size_t n;
    uint8_t *b = make_images(100, 28, 28, &n);
    write_gz(join(p, f->dir, "img.gz"), b, n);
    free(b);
    uint8_t *z = read_whole(p, &n);
    /* Damage the middle, keep header and trailer: the size still matches,
     * so only decompression can notice. */
    for (size_t i = n / 2; i < n / 2 + 16; i++)
        z[i] ^= 0x5a;
    write_plain(p, z, n);
    free(z);
    expect_images_fail(p, CNN_ERR_FORMAT, "corrupt gzip stream");
}

static void test_label_out_of_range(void **state)
{
    fixture *f = *state;
    char p[512];
    size_t n;
    uint8_t *b = make_labels(8, 10, &n);
    b[8 + 3] = 12;
    b[8 + 5] = 200;
    write_plain(join(p, f->dir, "lbl"), b, n);
    expect_labels_fail(p, 10, CNN_ERR_FORMAT, "label 12 at index 3");

    /* num_classes itself is already out of range; one less is not. */
    b[8 + 3] = 9;
    b[8 + 5] = 10;
    write_plain(p, b, n);
    expect_labels_fail(p, 10, CNN_ERR_FORMAT, "label 10 at index 5");
    b[8 + 5] = 9;
    write_plain(p, b, n);
    cnn_labels lb;
    cnn_err err = {{0}};
    assert_int_equal(cnn_idx_read_labels(p, 10, &lb, &err), CNN_OK);
    assert_int_equal(lb.labels[5], 9);
    cnn_labels_free(&lb);
    free(b);
}

/* A 16-byte image header with the given dimensions and no data. */
static void write_image_header(const char *path, uint32_t count, uint32_t rows, uint32_t cols,
                               int gz)
{
    uint8_t h[16];
    put_be32(h, 0x00000803);
    put_be32(h + 4, count);
    put_be32(h + 8, rows);
    put_be32(h + 12, cols);
    if (gz)
        write_gz(path, h, sizeof h);
    else
        write_plain(path, h, sizeof h);
}

static void test_absurd_dimensions(void **state)
{
    fixture *f = *state;
    char p[512];
    join(p, f->dir, "hdr");

    write_image_header(p, 0x7fffffff, 28, 28, 0);
    expect_images_fail(p, CNN_ERR_FORMAT, "dimensions");
    expect_images_fail(p, CNN_ERR_FORMAT, "count 2147483647");
    write_image_header(p, 0, 28, 28, 0);
    expect_images_fail(p, CNN_ERR_FORMAT, "count 0");
    write_image_header(p, 10, 0, 28, 0);
    expect_images_fail(p, CNN_ERR_FORMAT, "rows 0");
    write_image_header(p, 10, 100000, 28, 0);
    expect_images_fail(p, CNN_ERR_FORMAT, "rows 100000");
    write_image_header(p, 10, 28, 4097, 0);
    expect_images_fail(p, CNN_ERR_FORMAT, "cols 4097");

    /* Within the limits but far more than the file holds: this must be
     * caught by the length check, not by trying to allocate 1.6 PB (ASan
     * would abort on such a malloc). */
    write_image_header(p, 100000000, 4096, 4096, 0);
    expect_images_fail(p, CNN_ERR_FORMAT, "truncated");
    join(p, f->dir, "hdr.gz");
    write_image_header(p, 100000000, 4096, 4096, 1);
    expect_images_fail(p, CNN_ERR_FORMAT, "truncated");
    write_image_header(p, 0x7fffffff, 28, 28, 1);
    expect_images_fail(p, CNN_ERR_FORMAT, "dimensions");

    uint8_t h[8];
    put_be32(h, 0x00000801);
    put_be32(h + 4, 0xffffffff);
    join(p, f->dir, "lbl");
    write_plain(p, h, sizeof h);
    expect_labels_fail(p, 10, CNN_ERR_FORMAT, "count 4294967295");
}

static void test_trailing_data(void **state)
{
    fixture *f = *state;
    char p[512];
    size_t n;
    uint8_t *b = make_images(3, 4, 4, &n);
    uint8_t *longer = malloc(n + 5);
    assert_non_null(longer);
    memcpy(longer, b, n);
    memset(longer + n, 7, 5);

    write_plain(join(p, f->dir, "img"), longer, n + 5);
    expect_images_fail(p, CNN_ERR_FORMAT, "trailing data");
    expect_images_fail(p, CNN_ERR_FORMAT, "69 bytes, expected 64");

    /* Extra bytes inside the compressed stream. */
    write_gz(join(p, f->dir, "img.gz"), longer, n + 5);
    expect_images_fail(p, CNN_ERR_FORMAT, "trailing data");

    /* Junk after a complete gzip stream, which zlib itself skips. */
    write_gz(p, b, n);
    size_t zn;
    uint8_t *z = read_whole(p, &zn);
    uint8_t *zz = malloc(zn + 6);
    assert_non_null(zz);
    memcpy(zz, z, zn);
    memcpy(zz + zn, "junk!!", 6);
    write_plain(p, zz, zn + 6);
    expect_images_fail(p, CNN_ERR_FORMAT, "trailing data");
    free(zz);
    free(z);

    free(longer);
    free(b);

    b = make_labels(10, 10, &n);
    b = realloc(b, n + 1);
    assert_non_null(b);
    b[n] = 1;
    write_plain(join(p, f->dir, "lbl"), b, n + 1);
    expect_labels_fail(p, 10, CNN_ERR_FORMAT, "trailing data");
    free(b);
}

static void test_missing_file(void **state)
{
    fixture *f = *state;
    char p[512];
    expect_images_fail(join(p, f->dir, "nope"), CNN_ERR_IO, "No such file");
    expect_labels_fail(p, 10, CNN_ERR_IO, "No such file");
    /* A directory opens fine with open(2); reading it must still fail. */
    expect_images_fail(f->dir, CNN_ERR_IO, "directory");
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "the IDX reader blocked on a FIFO (no writer)\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
        /* the exit status says it */
    }
    _exit(1);
}

/* A FIFO with no writer would block a plain open() forever: it is refused
 * instead (the alarm turns a regression into a failure, not a hang). */
static void test_fifo(void **state)
{
    fixture *f = *state;
    char p[512];
    assert_int_equal(mkfifo(join(p, f->dir, "fifo"), 0600), 0);
    signal(SIGALRM, on_alarm);
    alarm(10);
    expect_images_fail(p, CNN_ERR_IO, "not a regular file");
    expect_labels_fail(p, 10, CNN_ERR_IO, "not a regular file");
    alarm(0);
    signal(SIGALRM, SIG_DFL);
}

/* Write a split into dir under the given spelling, e.g. "-idx", ".gz". */
static void write_split(const char *dir, const char *split, const char *sep, const char *ext,
                        uint32_t n_images, uint32_t n_labels, uint32_t rows, uint32_t cols)
{
    char name[128], p[512];
    size_t n;
    uint8_t *b = make_images(n_images, rows, cols, &n);
    snprintf(name, sizeof name, "%s-images%sidx3-ubyte%s", split, sep, ext);
    (*ext ? write_gz : write_plain)(join(p, dir, name), b, n);
    free(b);
    b = make_labels(n_labels, 10, &n);
    snprintf(name, sizeof name, "%s-labels%sidx1-ubyte%s", split, sep, ext);
    (*ext ? write_gz : write_plain)(join(p, dir, name), b, n);
    free(b);
}

static const char *subdir(char *buf, const char *dir, const char *name)
{
    join(buf, dir, name);
    assert_int_equal(mkdir(buf, 0700), 0);
    return buf;
}

static void check_dataset(const char *dir, const char *split, uint32_t count, uint32_t rows,
                          uint32_t cols)
{
    cnn_dataset ds;
    cnn_err err = {{0}};
    cnn_status st = cnn_dataset_load(dir, split, (int)rows, (int)cols, 10, &ds, &err);
    if (st != CNN_OK)
        fail_msg("%s: %s", cnn_status_str(st), err.msg);
    assert_int_equal(ds.count, count);
    assert_int_equal(ds.rows, rows);
    assert_int_equal(ds.cols, cols);
    for (uint32_t i = 0; i < count * rows * cols; i++)
        assert_int_equal(ds.images[i], pixel(i));
    for (uint32_t i = 0; i < count; i++)
        assert_int_equal(ds.labels[i], (i * 7 + 3) % 10);
    cnn_dataset_free(&ds);
    assert_null(ds.images);
    assert_null(ds.labels);
}

static void test_dataset_spellings(void **state)
{
    fixture *f = *state;
    char d[512];

    write_split(subdir(d, f->dir, "a"), "train", "-", "", 6, 6, 5, 4);
    check_dataset(d, "train", 6, 5, 4);
    write_split(subdir(d, f->dir, "b"), "t10k", "-", ".gz", 7, 7, 3, 3);
    check_dataset(d, "t10k", 7, 3, 3);
    write_split(subdir(d, f->dir, "c"), "train", ".", "", 8, 8, 2, 6);
    check_dataset(d, "train", 8, 2, 6);
    write_split(subdir(d, f->dir, "d"), "t10k", ".", ".gz", 9, 9, 4, 4);
    check_dataset(d, "t10k", 9, 4, 4);
    /* Trailing slash on the directory. */
    strcat(d, "/");
    check_dataset(d, "t10k", 9, 4, 4);

    /* With several spellings present, the first in the documented order
     * wins: the bad ".idx" copy must not be read. */
    subdir(d, f->dir, "both");
    write_split(d, "train", "-", ".gz", 5, 5, 2, 2);
    write_split(d, "train", ".", "", 5, 4, 2, 2);
    check_dataset(d, "train", 5, 2, 2);
    /* 0 accepts any size. */
    cnn_dataset ds;
    cnn_err err = {{0}};
    assert_int_equal(cnn_dataset_load(d, "train", 0, 0, 10, &ds, &err), CNN_OK);
    assert_int_equal(ds.rows, 2);
    cnn_dataset_free(&ds);
}

static void test_dataset_count_mismatch(void **state)
{
    fixture *f = *state;
    char d[512], ip[512], lp[512];
    write_split(subdir(d, f->dir, "m"), "train", "-", "", 5, 4, 3, 3);
    cnn_dataset ds;
    memset(&ds, 0xab, sizeof ds);
    cnn_err err = {{0}};
    assert_int_equal(cnn_dataset_load(d, "train", 3, 3, 10, &ds, &err), CNN_ERR_FORMAT);
    assert_null(ds.images);
    assert_null(ds.labels);
    assert_msg(err, join(ip, d, "train-images-idx3-ubyte"), "5 images");
    assert_msg(err, join(lp, d, "train-labels-idx1-ubyte"), "4 labels");
}

/* A gzip image file whose header honestly declares 1.37 M images (1 GB
 * inflated) beside a label file of 200: the mismatch is found from the two
 * headers, before the image body is touched (here the body is missing, so
 * reading it first would say "truncated" instead). */
static void test_dataset_headers_before_bodies(void **state)
{
    fixture *f = *state;
    char d[512], ip[512], lp[512];
    subdir(d, f->dir, "big");
    write_image_header(join(ip, d, "train-images-idx3-ubyte.gz"), 1370000, 28, 28, 1);
    size_t n;
    uint8_t *b = make_labels(200, 10, &n);
    write_gz(join(lp, d, "train-labels-idx1-ubyte.gz"), b, n);
    free(b);
    cnn_dataset ds;
    cnn_err err = {{0}};
    assert_int_equal(cnn_dataset_load(d, "train", 28, 28, 10, &ds, &err), CNN_ERR_FORMAT);
    assert_msg(err, ip, "1370000 images but");
    assert_msg(err, lp, "has 200 labels");
    /* The size is checked from the header too: wrong size before any body. */
    assert_int_equal(cnn_dataset_load(d, "train", 20, 20, 10, &ds, &err), CNN_ERR_FORMAT);
    assert_msg(err, ip, "images are 28x28, expected 20x20");
}

/* Which file is read when several spellings exist, and which is passed over. */
static void test_dataset_find(void **state)
{
    fixture *f = *state;
    char d[512], p[512];
    subdir(d, f->dir, "find");
    write_split(d, "train", "-", "", 3, 3, 2, 2);
    write_split(d, "train", "-", ".gz", 3, 3, 2, 2);
    remove(join(p, d, "train-labels-idx1-ubyte"));
    cnn_dataset_files files;
    cnn_err err = {{0}};
    assert_int_equal(cnn_dataset_find(d, "train", &files, &err), CNN_OK);
    assert_string_equal(files.images, join(p, d, "train-images-idx3-ubyte"));
    assert_string_equal(files.images_also, join(p, d, "train-images-idx3-ubyte.gz"));
    assert_string_equal(files.labels, join(p, d, "train-labels-idx1-ubyte.gz"));
    assert_null(files.labels_also);
    cnn_dataset_files_free(&files);
    assert_null(files.images);
    assert_int_equal(cnn_dataset_find(d, "t10k", &files, &err), CNN_ERR_IO);
    assert_null(files.images);
}

static void test_dataset_wrong_size(void **state)
{
    fixture *f = *state;
    char d[512], ip[512];
    write_split(subdir(d, f->dir, "s"), "train", "-", "", 2, 2, 3, 4);
    cnn_dataset ds;
    cnn_err err = {{0}};
    assert_int_equal(cnn_dataset_load(d, "train", 28, 28, 10, &ds, &err), CNN_ERR_FORMAT);
    assert_null(ds.images);
    assert_msg(err, join(ip, d, "train-images-idx3-ubyte"), "3x4, expected 28x28");
    assert_int_equal(cnn_dataset_load(d, "train", 3, 5, 10, &ds, &err), CNN_ERR_FORMAT);
    assert_msg(err, ip, "expected 3x5");
    assert_int_equal(cnn_dataset_load(d, "train", 0, 5, 10, &ds, &err), CNN_ERR_FORMAT);
    assert_msg(err, ip, "expected anyx5");

    /* Labels out of range are reported through the loader too. */
    assert_int_equal(cnn_dataset_load(d, "train", 3, 4, 2, &ds, &err), CNN_ERR_FORMAT);
    assert_msg(err, "train-labels-idx1-ubyte", "out of range");
}

static void test_dataset_missing(void **state)
{
    fixture *f = *state;
    char d[512], p[512];
    cnn_dataset ds;
    memset(&ds, 0xab, sizeof ds);
    cnn_err err = {{0}};

    subdir(d, f->dir, "empty");
    assert_int_equal(cnn_dataset_load(d, "train", 0, 0, 10, &ds, &err), CNN_ERR_IO);
    assert_null(ds.images);
    assert_msg(err, d, "no train-images-idx3-ubyte[.gz] or train-images.idx3-ubyte[.gz]");

    /* Images present, labels missing. */
    size_t n;
    uint8_t *b = make_images(2, 2, 2, &n);
    write_plain(join(p, d, "t10k-images.idx3-ubyte"), b, n);
    free(b);
    assert_int_equal(cnn_dataset_load(d, "t10k", 0, 0, 10, &ds, &err), CNN_ERR_IO);
    assert_msg(err, d, "no t10k-labels-idx1-ubyte[.gz] or t10k-labels.idx1-ubyte[.gz]");

    join(p, f->dir, "does-not-exist");
    assert_int_equal(cnn_dataset_load(p, "train", 0, 0, 10, &ds, &err), CNN_ERR_IO);
    assert_msg(err, p, "No such file");
}

static void test_fashion_mnist_t10k(void **state)
{
    (void)state;
    struct stat sb;
    if (stat(FASHION_DIR, &sb) != 0 || !S_ISDIR(sb.st_mode))
        skip();
    cnn_dataset ds;
    cnn_err err = {{0}};
    cnn_status st = cnn_dataset_load(FASHION_DIR, "t10k", 28, 28, 10, &ds, &err);
    if (st != CNN_OK)
        fail_msg("%s: %s", cnn_status_str(st), err.msg);
    assert_int_equal(ds.count, 10000);
    assert_int_equal(ds.rows, 28);
    assert_int_equal(ds.cols, 28);
    int per_class[10] = {0};
    for (int i = 0; i < ds.count; i++) {
        assert_true(ds.labels[i] < 10);
        per_class[ds.labels[i]]++;
    }
    /* Fashion-MNIST's test split is balanced: 1000 of each class. */
    for (int c = 0; c < 10; c++)
        assert_int_equal(per_class[c], 1000);
    /* Real images: not all zero. */
    long sum = 0;
    for (int i = 0; i < 28 * 28; i++)
        sum += ds.images[i];
    assert_true(sum > 0);
    cnn_dataset_free(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gz_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_gz, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_magic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_gz, setup, teardown),
        cmocka_unit_test_setup_teardown(test_label_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absurd_dimensions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trailing_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dataset_spellings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dataset_count_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dataset_wrong_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dataset_headers_before_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dataset_find, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dataset_missing, setup, teardown),
        cmocka_unit_test(test_fashion_mnist_t10k),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
