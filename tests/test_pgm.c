/* test_pgm.c — pictures in and out: the strict PGM reader (good files with
 * comments, and each kind of bad file refused with a one-line message naming
 * it), the PNG encoder (signature, chunk layout and CRCs, and an IDAT that
 * inflates to exactly the filter-0 rows of the image), the filter grid, and
 * saving by file extension. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "cnn.h"
#include "cnn_image.h"

static char dir[] = "/tmp/test_pgm.XXXXXX";

static const char *tmp_path(const char *name)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

/* Write a header string followed by n pixel bytes (value i % 256 + bias). */
static const char *make_file(const char *name, const char *header, size_t n, int bias)
{
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(header, f);
    for (size_t i = 0; i < n; i++)
        putc((int)((i + (size_t)bias) % 256), f);
    assert_int_equal(fclose(f), 0);
    return path;
}

static void expect_refused(const char *path, cnn_status want, const char *phrase)
{
    cnn_gray im;
    memset(&im, 0xab, sizeof im);
    cnn_err err = {{0}};
    cnn_status st = cnn_pgm_read(path, &im, &err);
    if (st != want || !strstr(err.msg, phrase))
        fail_msg("%s: got status %d, message \"%s\"; wanted %d and \"%s\"", path, st, err.msg,
                 want, phrase);
    assert_non_null(strstr(err.msg, path));
    assert_null(strchr(err.msg, '\n'));
    assert_null(im.pixels); /* zeroed: nothing to free */
    assert_int_equal(im.width, 0);
}

static void test_pgm_reads_good_files(void **state)
{
    (void)state;
    cnn_err err = {{0}};
    cnn_gray im;

    /* Comments before each number, and blanks of every kind. */
    const char *p =
        make_file("good.pgm", "P5\n# made by hand\n3\t# width\n 2\r\n#maxval next\n255\n", 6, 250);
    assert_int_equal(cnn_pgm_read(p, &im, &err), CNN_OK);
    assert_int_equal(im.width, 3);
    assert_int_equal(im.height, 2);
    assert_int_equal(im.maxval, 255);
    const uint8_t want[6] = {250, 251, 252, 253, 254, 255};
    assert_memory_equal(im.pixels, want, 6);
    cnn_gray_free(&im);
    assert_null(im.pixels);

    /* A comment straight after the magic and after a number. */
    p = make_file("tight.pgm", "P5# c\n28# w\n28 255\n", 784, 0);
    assert_int_equal(cnn_pgm_read(p, &im, &err), CNN_OK);
    assert_int_equal(im.width, 28);
    assert_int_equal(im.pixels[783], 783 % 256);
    cnn_gray_free(&im);

    /* A smaller maxval is reported, not rescaled. */
    p = make_file("maxval15.pgm", "P5 2 2 15\n", 4, 0);
    assert_int_equal(cnn_pgm_read(p, &im, &err), CNN_OK);
    assert_int_equal(im.maxval, 15);
    cnn_gray_free(&im);
}

static void test_pgm_refuses_bad_files(void **state)
{
    (void)state;
    expect_refused(tmp_path("missing.pgm"), CNN_ERR_IO, "cannot open");
    expect_refused(make_file("p2.pgm", "P2\n2 2\n255\n", 0, 0), CNN_ERR_FORMAT, "P2");
    expect_refused(make_file("jpeg.pgm", "\xff\xd8\xff\xe0", 20, 0), CNN_ERR_FORMAT,
                   "not a PGM file");
    expect_refused(make_file("empty.pgm", "", 0, 0), CNN_ERR_FORMAT, "not a PGM file");
    expect_refused(make_file("nospace.pgm", "P528 28 255\n", 784, 0), CNN_ERR_FORMAT,
                   "whitespace after the P5");
    expect_refused(make_file("header.pgm", "P5\n28 ", 0, 0), CNN_ERR_FORMAT,
                   "truncated PGM header");
    expect_refused(make_file("comment.pgm", "P5\n28 28\n# no end", 0, 0), CNN_ERR_FORMAT,
                   "truncated PGM header");
    expect_refused(make_file("zero.pgm", "P5\n0 28\n255\n", 0, 0), CNN_ERR_FORMAT,
                   "width must be");
    expect_refused(make_file("letters.pgm", "P5\n28 x8\n255\n", 784, 0), CNN_ERR_FORMAT,
                   "height must be");
    expect_refused(make_file("huge.pgm", "P5\n99999999999 28\n255\n", 0, 0), CNN_ERR_FORMAT,
                   "width must be");
    expect_refused(make_file("deep.pgm", "P5\n28 28\n65535\n", 2 * 784, 0), CNN_ERR_FORMAT,
                   "16-bit");
    expect_refused(make_file("maxcmt.pgm", "P5\n2 2\n255#c\n", 4, 0), CNN_ERR_FORMAT,
                   "one whitespace byte");
    expect_refused(make_file("short.pgm", "P5\n28 28\n255\n", 500, 0), CNN_ERR_FORMAT,
                   "truncated: 28x28 image needs 784 bytes of pixels, file has 500");
    expect_refused(make_file("long.pgm", "P5\n28 28\n255\n", 785, 0), CNN_ERR_FORMAT,
                   "trailing bytes");
    expect_refused(make_file("bright.pgm", "P5\n2 2\n15\n", 4, 15), CNN_ERR_FORMAT,
                   "above maxval 15");
}

/* A pipe has no size to check up front: truncation and trailing bytes must
 * still be found while reading (cnn_pgm_read_stream, as for `predict -`). */
static void read_from_pipe(const char *content, size_t len, cnn_status want,
                           const char *phrase)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        /* The reader may stop early and close: a broken pipe is fine. */
        int ok = write(fds[1], content, len) == (ssize_t)len;
        _exit(ok ? 0 : 1);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "rb");
    assert_non_null(f);
    cnn_gray im;
    cnn_err err = {{0}};
    cnn_status st = cnn_pgm_read_stream(f, "standard input", &im, &err);
    fclose(f);
    int status;
    waitpid(pid, &status, 0);
    if (st != want || (phrase && !strstr(err.msg, phrase)))
        fail_msg("pipe: got status %d, \"%s\"; wanted %d, \"%s\"", st, err.msg, want,
                 phrase ? phrase : "");
    if (st == CNN_OK) {
        assert_int_equal(im.width, 2);
        assert_int_equal(im.pixels[3], 'd');
    } else {
        assert_non_null(strstr(err.msg, "standard input: "));
    }
    cnn_gray_free(&im);
}

static void test_pgm_from_pipe(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    read_from_pipe("P5\n2 2\n255\nabcd", 15, CNN_OK, NULL);
    read_from_pipe("P5\n2 2\n255\nabc", 14, CNN_ERR_FORMAT, "truncated");
    read_from_pipe("P5\n2 2\n255\nabcde", 16, CNN_ERR_FORMAT, "trailing bytes");
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "cnn_pgm_read blocked on a FIFO (no writer)\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
        /* nothing more to do: the exit status says it */
    }
    _exit(1);
}

/* A FIFO named as a file must be refused, not waited for: with no writer, a
 * plain open() would block forever (the alarm turns that into a failure). */
static void test_pgm_refuses_fifo(void **state)
{
    (void)state;
    const char *path = tmp_path("fifo.pgm");
    unlink(path);
    assert_int_equal(mkfifo(path, 0600), 0);
    signal(SIGALRM, on_alarm);
    alarm(10);
    expect_refused(path, CNN_ERR_IO, "not a regular file");
    alarm(0);
    signal(SIGALRM, SIG_DFL);
    unlink(path);
}

/* ---- PNG ---------------------------------------------------------------- */

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Walk the chunks of a PNG (checking lengths and CRCs), check IHDR against
 * the image and return the inflated IDAT data (malloc'ed, *n bytes). */
static unsigned char *png_inflate(const unsigned char *png, size_t len, const cnn_gray *im,
                                  size_t *n)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    assert_true(len > 8);
    assert_memory_equal(png, sig, 8);
    size_t pos = 8;
    int chunk = 0, seen_iend = 0;
    unsigned char *z = NULL;
    size_t zlen = 0;
    while (pos < len) {
        assert_true(len - pos >= 12);
        uint32_t clen = get_be32(png + pos);
        assert_true(len - pos - 12 >= clen);
        const unsigned char *type = png + pos + 4, *data = png + pos + 8;
        uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), type, 4 + clen);
        assert_int_equal(get_be32(data + clen), crc);
        if (chunk == 0) {
            assert_memory_equal(type, "IHDR", 4);
            assert_int_equal(clen, 13);
            assert_int_equal(get_be32(data), im->width);
            assert_int_equal(get_be32(data + 4), im->height);
            assert_int_equal(data[8], 8); /* bit depth */
            assert_int_equal(data[9], 0); /* grayscale */
            assert_int_equal(data[10] | data[11] | data[12], 0);
        } else if (memcmp(type, "IDAT", 4) == 0) {
            assert_null(z); /* one IDAT */
            z = malloc(clen);
            assert_non_null(z);
            memcpy(z, data, clen);
            zlen = clen;
        } else {
            assert_memory_equal(type, "IEND", 4);
            assert_int_equal(clen, 0);
            seen_iend = 1;
        }
        pos += 12 + clen;
        chunk++;
        if (seen_iend)
            break;
    }
    assert_true(seen_iend);
    assert_int_equal(pos, len); /* nothing after IEND */
    assert_non_null(z);

    uLongf rawlen = (uLongf)im->height * ((uLongf)im->width + 1) + 1; /* +1: detect excess */
    unsigned char *raw = malloc(rawlen);
    assert_non_null(raw);
    assert_int_equal(uncompress(raw, &rawlen, z, (uLong)zlen), Z_OK);
    free(z);
    *n = rawlen;
    return raw;
}

static void expect_png_rows(const cnn_gray *im)
{
    unsigned char *png;
    size_t len, n;
    cnn_err err = {{0}};
    assert_int_equal(cnn_png_encode(im, &png, &len, &err), CNN_OK);
    unsigned char *raw = png_inflate(png, len, im, &n);
    size_t w = (size_t)im->width;
    assert_int_equal(n, (size_t)im->height * (w + 1));
    for (int y = 0; y < im->height; y++) {
        assert_int_equal(raw[y * (w + 1)], 0); /* filter type None */
        assert_memory_equal(raw + y * (w + 1) + 1, im->pixels + y * w, w);
    }
    free(raw);
    free(png);
}

static void test_png_small(void **state)
{
    (void)state;
    uint8_t px[6] = {0, 255, 7, 128, 9, 1};
    cnn_gray im = {3, 2, 255, px};
    expect_png_rows(&im);
}

/* ---- the filter grid ------------------------------------------------------ */

static void test_filter_grid(void **state)
{
    (void)state;
    static float w[15 * 25];
    for (int f = 0; f < 15; f++)
        for (int t = 0; t < 25; t++)
            w[f * 25 + t] = (float)(f + 1) * ((float)t - 7.0f); /* min at tap 0, max at 24 */
    for (int t = 0; t < 25; t++)
        w[14 * 25 + t] = 0.3f; /* the last filter is constant */
    w[6 * 25 + 1 * 5 + 3] = 1000.0f; /* filter 6: a hot tap at row 1, column 3 */

    const int scale = 3, gap = 2;
    cnn_gray im;
    cnn_err err = {{0}};
    assert_int_equal(cnn_filter_grid(w, 15, 1, 5, scale, gap, &im, &err), CNN_OK);
    assert_int_equal(im.width, 5 * 15 + 6 * 2);
    assert_int_equal(im.height, 3 * 15 + 4 * 2);
#define PX(x, y) im.pixels[(y) * im.width + (x)]
    assert_int_equal(PX(0, 0), 255);                  /* edge gap */
    assert_int_equal(PX(gap + 15, gap), 255);         /* gap between filters 0 and 1 */
    /* Filter 0: tap 0 is its minimum, tap 24 its maximum, each a 3×3 block. */
    for (int y = 0; y < scale; y++)
        for (int x = 0; x < scale; x++) {
            assert_int_equal(PX(gap + x, gap + y), 0);
            assert_int_equal(PX(gap + 12 + x, gap + 12 + y), 255);
        }
    /* Filter 0, tap (0,1) = -6 on a range -7..17: 255/24 → 11. */
    assert_int_equal(PX(gap + 3, gap), 11);
    /* Filter 6 sits at grid row 1, column 1; its hot tap is white and the
     * rest of it is pressed towards black. */
    int x6 = gap + 1 * (15 + gap), y6 = gap + 1 * (15 + gap);
    assert_int_equal(PX(x6 + 3 * scale, y6 + 1 * scale), 255);
    /* tap 24 = 7·17 = 119 on -49..1000: 255·168/1049 → 41 */
    assert_int_equal(PX(x6 + 4 * scale, y6 + 4 * scale), 41);
    assert_int_equal(PX(x6, y6), 0);
    /* Filter 14 (row 2, column 4) is constant: mid-gray. */
    assert_int_equal(PX(gap + 4 * (15 + gap) + 7, gap + 2 * (15 + gap) + 7), 128);
#undef PX
    expect_png_rows(&im);
    cnn_gray_free(&im);

    assert_int_equal(cnn_filter_grid(w, 15, 1, 5, 0, gap, &im, &err), CNN_ERR_ARG);
}

/* ---- saving by extension ---------------------------------------------- */

static void test_save_by_extension(void **state)
{
    (void)state;
    uint8_t px[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    cnn_gray im = {4, 3, 255, px}, back;
    cnn_err err = {{0}};
    char pgm[128], png[128];
    snprintf(pgm, sizeof pgm, "%s", tmp_path("out.PGM"));
    snprintf(png, sizeof png, "%s", tmp_path("out.png"));

    assert_int_equal(cnn_gray_save(pgm, &im, &err), CNN_OK);
    assert_int_equal(cnn_pgm_read(pgm, &back, &err), CNN_OK);
    assert_int_equal(back.width, 4);
    assert_int_equal(back.height, 3);
    assert_memory_equal(back.pixels, px, 12);
    cnn_gray_free(&back);

    assert_int_equal(cnn_gray_save(png, &im, &err), CNN_OK);
    FILE *f = fopen(png, "rb");
    assert_non_null(f);
    unsigned char buf[4096];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    size_t n;
    unsigned char *raw = png_inflate(buf, len, &im, &n);
    assert_int_equal(n, 3 * 5);
    assert_memory_equal(raw + 5 + 1, px + 4, 4); /* second row */
    free(raw);

    assert_int_equal(cnn_gray_save(tmp_path("out.jpg"), &im, &err), CNN_ERR_ARG);
    assert_non_null(strstr(err.msg, ".png or .pgm"));
    assert_int_equal(access(tmp_path("out.jpg"), F_OK), -1);
    assert_int_equal(cnn_gray_save(tmp_path("no-such-dir/x.png"), &im, &err), CNN_ERR_IO);
    assert_non_null(strstr(err.msg, "no-such-dir/x.png"));
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pgm_reads_good_files),
        cmocka_unit_test(test_pgm_refuses_bad_files),
        cmocka_unit_test(test_pgm_from_pipe),
        cmocka_unit_test(test_pgm_refuses_fifo),
        cmocka_unit_test(test_png_small),
        cmocka_unit_test(test_filter_grid),
        cmocka_unit_test(test_save_by_extension),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
