/* idx.c — reading MNIST-style IDX files (plain or gzip) into memory.
 * These files come from downloads and hand-made copies, so they may be
 * truncated, mislabelled, corrupt or have a nonsense header. Everything that
 * can be checked is checked before the data buffer is allocated, so a bad
 * header cannot make us allocate gigabytes, and every failure is one line
 * naming the file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "cnn_data.h"
#include "../util/open_regular.h"

#define IDX_MAGIC_LABELS 0x00000801u /* uint8, 1 dimension */
#define IDX_MAGIC_IMAGES 0x00000803u /* uint8, 3 dimensions */
#define IDX_MAX_COUNT 100000000u
#define IDX_MAX_SIDE 4096u

/* Deflate cannot expand data by more than 1032:1 (zlib FAQ), so a gzip file
 * that would have to exceed that to hold what its header promises is cut
 * short (or its header lies); this also bounds what a crafted header whose
 * size happens to match the trailer mod 2^32 can make us allocate. */
#define DEFLATE_MAX_RATIO 1032u

/* gzread's chunk limit: its length is unsigned and its result an int. */
#define GZ_CHUNK (1u << 30)

/* One open IDX file. Plain files are read through zlib too (it copies them
 * unchanged), so both kinds share one read path. */
typedef struct {
    const char *path;
    gzFile gz;
    int gzip;           /* starts with the gzip magic 1f 8b */
    uint64_t disk_size; /* bytes on disk */
    uint32_t isize;     /* gzip trailer: uncompressed size mod 2^32 */
} idx_src;

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Returns 0, or -1 with errno set, or 1 if the file ended first (it shrank
 * since fstat). */
static int read_at(int fd, uint8_t *buf, size_t n, off_t off)
{
    while (n > 0) {
        ssize_t r = pread(fd, buf, n, off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            return 1;
        buf += r;
        n -= (size_t)r;
        off += r;
    }
    return 0;
}

/* zlib prefixes its messages with the name the file was opened under
 * ("<fd:3>: ..."); our messages already start with the real path. */
static const char *zlib_msg(gzFile gz, int *errnum)
{
    const char *m = gzerror(gz, errnum);
    const char *sep = strstr(m, ": ");
    return sep ? sep + 2 : m;
}

static cnn_status zlib_fail(const idx_src *s, cnn_err *err)
{
    int e;
    const char *m = zlib_msg(s->gz, &e);
    if (e == Z_ERRNO) /* zlib's message is strerror(errno) here */
        return cnn_fail(err, CNN_ERR_IO, "%s: read failed: %s", s->path, m);
    if (e == Z_MEM_ERROR)
        return cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory while decompressing",
                        s->path);
    return cnn_fail(err, CNN_ERR_FORMAT, "%s: corrupt gzip stream (%s)", s->path, m);
}

static cnn_status src_open(idx_src *s, const char *path, cnn_err *err)
{
    memset(s, 0, sizeof *s);
    s->path = path;

    /* Open the descriptor ourselves so that the size we check and the bytes
     * zlib reads come from the same file, even if the path is replaced.
     * Pipes and devices have no size, and the length checks need one; a
     * FIFO must not even be waited for in open(). */
    int fd;
    struct stat sb;
    cnn_status st = cnn_open_regular(path, &fd, &sb, err);
    if (st != CNN_OK)
        return st;
    uint8_t b[4];
    s->disk_size = (uint64_t)sb.st_size;

    if (s->disk_size >= 2) {
        int r = read_at(fd, b, 2, 0);
        if (r != 0) {
            st = r < 0 ? cnn_fail(err, CNN_ERR_IO, "%s: read failed: %s", path, strerror(errno))
                       : cnn_fail(err, CNN_ERR_IO, "%s: file shrank while being read", path);
            goto fail;
        }
        s->gzip = b[0] == 0x1f && b[1] == 0x8b;
    }
    if (s->gzip) {
        if (s->disk_size < 18) { /* 10-byte header + 8-byte trailer */
            st = cnn_fail(err, CNN_ERR_FORMAT,
                          "%s: truncated: %llu bytes is too short for a gzip file", path,
                          (unsigned long long)s->disk_size);
            goto fail;
        }
        int r = read_at(fd, b, 4, (off_t)(s->disk_size - 4));
        if (r != 0) {
            st = r < 0 ? cnn_fail(err, CNN_ERR_IO, "%s: read failed: %s", path, strerror(errno))
                       : cnn_fail(err, CNN_ERR_IO, "%s: file shrank while being read", path);
            goto fail;
        }
        s->isize = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                   (uint32_t)b[3] << 24;
    }

    s->gz = gzdopen(fd, "rb"); /* takes ownership of fd on success */
    if (!s->gz) {
        st = cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory opening the file", path);
        goto fail;
    }
    /* The default 8 KiB buffer makes zlib issue thousands of small reads. */
    gzbuffer(s->gz, 1u << 17);
    return CNN_OK;

fail:
    close(fd);
    return st;
}

static void src_close(idx_src *s)
{
    if (s->gz)
        gzclose(s->gz); /* read-only: nothing to flush, its result adds nothing */
    s->gz = NULL;
}

/* Read up to n bytes into dst, or through a scratch buffer when dst is NULL
 * (to find out how a file is broken without allocating room for it). Stops
 * early only at the end of the data: *got < n then means truncated. */
static cnn_status src_read(idx_src *s, uint8_t *dst, uint64_t n, uint64_t *got,
                           cnn_err *err)
{
    uint8_t scratch[16384];
    *got = 0;
    while (*got < n) {
        uint64_t want = n - *got;
        uint64_t cap = dst ? GZ_CHUNK : sizeof scratch;
        if (want > cap)
            want = cap;
        int r = gzread(s->gz, dst ? dst + *got : scratch, (unsigned)want);
        if (r < 0)
            return zlib_fail(s, err);
        if (r == 0) {
            /* Z_BUF_ERROR is how zlib reports a gzip stream cut short; any
             * other error would have made gzread return -1. */
            int e;
            zlib_msg(s->gz, &e);
            if (e != Z_OK && e != Z_BUF_ERROR)
                return zlib_fail(s, err);
            break;
        }
        *got += (uint64_t)r;
    }
    return CNN_OK;
}

/* Read and check the header: magic first (a wrong kind of file is the most
 * useful thing to report), then that all dimensions are there. */
static cnn_status read_header(idx_src *s, uint32_t magic, int ndims, const char *kind,
                              uint32_t *dims, cnn_err *err)
{
    uint8_t h[4 + 4 * 3];
    uint64_t hlen = 4 + 4 * (uint64_t)ndims, got;
    cnn_status st = src_read(s, h, hlen, &got, err);
    if (st != CNN_OK)
        return st;
    if (got >= 4 && be32(h) != magic)
        return cnn_fail(err, CNN_ERR_FORMAT,
                        "%s: not an IDX %s file (magic 0x%08x, expected 0x%08x)", s->path,
                        kind, (unsigned)be32(h), (unsigned)magic);
    if (got < hlen)
        return cnn_fail(err, CNN_ERR_FORMAT,
                        "%s: truncated: %llu bytes%s, expected at least %llu (the IDX header)",
                        s->path, (unsigned long long)got,
                        s->gzip ? " after decompression" : "", (unsigned long long)hlen);
    for (int i = 0; i < ndims; i++)
        dims[i] = be32(h + 4 + 4 * (size_t)i);
    return CNN_OK;
}

/* Read n data bytes (following hlen header bytes) and make sure nothing
 * follows them. */
static cnn_status read_rest(idx_src *s, uint8_t *dst, uint64_t hlen, uint64_t n,
                            cnn_err *err)
{
    uint64_t got;
    cnn_status st = src_read(s, dst, n, &got, err);
    if (st != CNN_OK)
        return st;
    if (got < n)
        return cnn_fail(err, CNN_ERR_FORMAT, "%s: truncated: %llu bytes%s, expected %llu",
                        s->path, (unsigned long long)hlen + got,
                        s->gzip ? " after decompression" : "",
                        (unsigned long long)hlen + n);

    /* One more byte: for gzip this also makes zlib reach the trailer and
     * check its CRC and length, which it may not have done yet. */
    uint8_t extra;
    int r = gzread(s->gz, &extra, 1);
    if (r < 0)
        return zlib_fail(s, err);
    if (r > 0)
        return cnn_fail(err, CNN_ERR_FORMAT, "%s: trailing data after the expected %llu bytes%s",
                        s->path, (unsigned long long)hlen + n,
                        s->gzip ? " (uncompressed)" : "");
    int e;
    zlib_msg(s->gz, &e);
    if (e == Z_BUF_ERROR)
        return cnn_fail(err, CNN_ERR_FORMAT, "%s: truncated: gzip stream ends before its trailer",
                        s->path);
    if (e != Z_OK)
        return zlib_fail(s, err);
    return CNN_OK;
}

/* Check the file can hold exactly hlen + n bytes, then allocate and read. */
static cnn_status read_body(idx_src *s, uint64_t hlen, uint64_t n, uint8_t **data,
                            cnn_err *err)
{
    uint64_t expected = hlen + n;
    if (!s->gzip) {
        if (s->disk_size < expected)
            return cnn_fail(err, CNN_ERR_FORMAT, "%s: truncated: %llu bytes, expected %llu",
                            s->path, (unsigned long long)s->disk_size,
                            (unsigned long long)expected);
        if (s->disk_size > expected)
            return cnn_fail(err, CNN_ERR_FORMAT, "%s: trailing data: %llu bytes, expected %llu",
                            s->path, (unsigned long long)s->disk_size,
                            (unsigned long long)expected);
    } else {
        if (expected / DEFLATE_MAX_RATIO > s->disk_size)
            return cnn_fail(err, CNN_ERR_FORMAT,
                            "%s: truncated: %llu compressed bytes cannot hold the %llu bytes "
                            "the header promises",
                            s->path, (unsigned long long)s->disk_size,
                            (unsigned long long)expected);
        if (s->isize != (uint32_t)expected) {
            /* The trailer only says that something is wrong; decompressing
             * without keeping the data says what (truncated, corrupt, too
             * long), which is worth the time on this failure path. */
            cnn_status st = read_rest(s, NULL, hlen, n, err);
            if (st != CNN_OK)
                return st;
            /* The data is intact, so the trailer is not this stream's:
             * zlib skips junk after a gzip stream, and with several
             * concatenated members only the last one's size is at the end. */
            return cnn_fail(err, CNN_ERR_FORMAT,
                            "%s: trailing data after the gzip stream, or several gzip members "
                            "(trailer says %u bytes mod 2^32, expected %u)",
                            s->path, (unsigned)s->isize, (unsigned)(uint32_t)expected);
        }
    }
    if (n > SIZE_MAX)
        return cnn_fail(err, CNN_ERR_NOMEM, "%s: %llu bytes do not fit in memory", s->path,
                        (unsigned long long)n);

    uint8_t *buf = malloc((size_t)n);
    if (!buf)
        return cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory for %llu bytes", s->path,
                        (unsigned long long)n);
    cnn_status st = read_rest(s, buf, hlen, n, err);
    if (st != CNN_OK) {
        free(buf);
        return st;
    }
    *data = buf;
    return CNN_OK;
}

static cnn_status check_count(const idx_src *s, uint32_t count, cnn_err *err)
{
    if (count < 1 || count > IDX_MAX_COUNT)
        return cnn_fail(err, CNN_ERR_FORMAT,
                        "%s: bad dimensions: count %u (must be 1 to %u)", s->path,
                        (unsigned)count, IDX_MAX_COUNT);
    return CNN_OK;
}

/* Open an image file and read its header: d = count, rows, cols, checked.
 * On failure the file is closed. */
static cnn_status images_open(idx_src *s, const char *path, uint32_t d[3], cnn_err *err)
{
    cnn_status st = src_open(s, path, err);
    if (st == CNN_OK)
        st = read_header(s, IDX_MAGIC_IMAGES, 3, "image", d, err);
    if (st == CNN_OK)
        st = check_count(s, d[0], err);
    if (st == CNN_OK && (d[1] < 1 || d[1] > IDX_MAX_SIDE || d[2] < 1 || d[2] > IDX_MAX_SIDE))
        st = cnn_fail(err, CNN_ERR_FORMAT,
                      "%s: bad dimensions: rows %u, cols %u (each must be 1 to %u)", path,
                      (unsigned)d[1], (unsigned)d[2], IDX_MAX_SIDE);
    if (st != CNN_OK)
        src_close(s);
    return st;
}

/* The pixels after images_open; closes the file. */
static cnn_status images_body(idx_src *s, const uint32_t d[3], cnn_images *out, cnn_err *err)
{
    uint8_t *pixels = NULL;
    /* count ≤ 1e8 and sides ≤ 4096 keep the product below 2^51: no overflow. */
    cnn_status st = read_body(s, 16, (uint64_t)d[0] * d[1] * d[2], &pixels, err);
    src_close(s);
    if (st != CNN_OK)
        return st;
    out->count = (int)d[0];
    out->rows = (int)d[1];
    out->cols = (int)d[2];
    out->pixels = pixels;
    return CNN_OK;
}

static cnn_status labels_open(idx_src *s, const char *path, uint32_t *count, cnn_err *err)
{
    cnn_status st = src_open(s, path, err);
    if (st == CNN_OK)
        st = read_header(s, IDX_MAGIC_LABELS, 1, "label", count, err);
    if (st == CNN_OK)
        st = check_count(s, *count, err);
    if (st != CNN_OK)
        src_close(s);
    return st;
}

/* The labels after labels_open, each checked < num_classes; closes the file. */
static cnn_status labels_body(idx_src *s, uint32_t count, int num_classes, cnn_labels *out,
                              cnn_err *err)
{
    uint8_t *labels = NULL;
    cnn_status st = read_body(s, 8, count, &labels, err);
    src_close(s);
    if (st != CNN_OK)
        return st;
    for (uint32_t i = 0; i < count; i++) {
        if (labels[i] >= num_classes) {
            st = cnn_fail(err, CNN_ERR_FORMAT,
                          "%s: label %u at index %u is out of range (must be < %d)", s->path,
                          (unsigned)labels[i], (unsigned)i, num_classes);
            free(labels);
            return st;
        }
    }
    out->count = (int)count;
    out->labels = labels;
    return CNN_OK;
}

cnn_status cnn_idx_read_images(const char *path, cnn_images *out, cnn_err *err)
{
    if (!out)
        return cnn_fail(err, CNN_ERR_ARG, "cnn_idx_read_images: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path)
        return cnn_fail(err, CNN_ERR_ARG, "cnn_idx_read_images: path is NULL");
    idx_src s;
    uint32_t d[3];
    cnn_status st = images_open(&s, path, d, err);
    return st == CNN_OK ? images_body(&s, d, out, err) : st;
}

cnn_status cnn_idx_read_labels(const char *path, int num_classes, cnn_labels *out,
                               cnn_err *err)
{
    if (!out)
        return cnn_fail(err, CNN_ERR_ARG, "cnn_idx_read_labels: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path)
        return cnn_fail(err, CNN_ERR_ARG, "cnn_idx_read_labels: path is NULL");
    if (num_classes < 1)
        return cnn_fail(err, CNN_ERR_ARG, "%s: num_classes must be at least 1 (got %d)", path,
                        num_classes);
    idx_src s;
    uint32_t count = 0;
    cnn_status st = labels_open(&s, path, &count, err);
    return st == CNN_OK ? labels_body(&s, count, num_classes, out, err) : st;
}

static void dim_str(char *buf, size_t cap, int v)
{
    if (v == 0)
        snprintf(buf, cap, "any");
    else
        snprintf(buf, cap, "%d", v);
}

cnn_status cnn_idx_read_pair(const char *images_path, const char *labels_path, int rows,
                             int cols, int num_classes, cnn_images *im, cnn_labels *lb,
                             cnn_err *err)
{
    if (!im || !lb)
        return cnn_fail(err, CNN_ERR_ARG, "cnn_idx_read_pair: NULL argument");
    memset(im, 0, sizeof *im);
    memset(lb, 0, sizeof *lb);
    if (!images_path || !labels_path || num_classes < 1 || rows < 0 || cols < 0)
        return cnn_fail(err, CNN_ERR_ARG, "cnn_idx_read_pair: bad argument");

    idx_src si, sl;
    uint32_t d[3], count = 0;
    cnn_status st = images_open(&si, images_path, d, err);
    if (st != CNN_OK)
        return st;
    st = labels_open(&sl, labels_path, &count, err);
    if (st != CNN_OK) {
        src_close(&si);
        return st;
    }
    /* Both headers are in: refuse a mismatch before decompressing anything. */
    if ((rows && d[1] != (uint32_t)rows) || (cols && d[2] != (uint32_t)cols)) {
        char r[16], c[16];
        dim_str(r, sizeof r, rows);
        dim_str(c, sizeof c, cols);
        st = cnn_fail(err, CNN_ERR_FORMAT, "%s: images are %ux%u, expected %sx%s", images_path,
                      (unsigned)d[1], (unsigned)d[2], r, c);
    } else if (d[0] != count) {
        st = cnn_fail(err, CNN_ERR_FORMAT, "%s: %u images but %s has %u labels", images_path,
                      (unsigned)d[0], labels_path, (unsigned)count);
    }
    if (st != CNN_OK) {
        src_close(&si);
        src_close(&sl);
        return st;
    }
    st = images_body(&si, d, im, err);
    if (st != CNN_OK) {
        src_close(&sl);
        return st;
    }
    st = labels_body(&sl, count, num_classes, lb, err);
    if (st != CNN_OK)
        cnn_images_free(im);
    return st;
}

void cnn_images_free(cnn_images *im)
{
    if (!im)
        return;
    free(im->pixels);
    memset(im, 0, sizeof *im);
}

void cnn_labels_free(cnn_labels *lb)
{
    if (!lb)
        return;
    free(lb->labels);
    memset(lb, 0, sizeof *lb);
}
