/* pgm.c — binary PGM ("P5", Netpbm) reading and writing. The reader is
 * strict because its input is hand-made: a wrong size, a plain-text P2 file
 * or a cut-off download should be a clear one-line error, not a picture
 * silently padded or misread. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cnn_image.h"
#include "../util/open_regular.h"

cnn_status cnn_gray_alloc(cnn_gray *im, int width, int height, uint8_t fill)
{
    memset(im, 0, sizeof *im);
    if (width < 1 || height < 1 || width > CNN_IMAGE_MAX_SIDE || height > CNN_IMAGE_MAX_SIDE)
        return CNN_ERR_ARG;
    im->pixels = malloc((size_t)width * (size_t)height);
    if (!im->pixels)
        return CNN_ERR_NOMEM;
    memset(im->pixels, fill, (size_t)width * (size_t)height);
    im->width = width;
    im->height = height;
    im->maxval = 255;
    return CNN_OK;
}

void cnn_gray_free(cnn_gray *im)
{
    if (!im)
        return;
    free(im->pixels);
    memset(im, 0, sizeof *im);
}

static int is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Skip whitespace and comments ('#' to the end of the line) before a header
 * number. Returns the first other character, or EOF. */
static int skip_blanks(FILE *f)
{
    int c;
    for (;;) {
        c = getc(f);
        if (c == '#') {
            while ((c = getc(f)) != EOF && c != '\n' && c != '\r')
                ;
            if (c == EOF)
                return EOF;
        } else if (!is_space(c)) {
            return c;
        }
    }
}

/* One header number in 1..max, followed by a whitespace or comment
 * character, which is consumed and returned in *after. 0 on success. */
static int read_number(FILE *f, long max, long *out, int *after)
{
    int c = skip_blanks(f);
    if (c < '0' || c > '9')
        return -1;
    long v = 0;
    for (; c >= '0' && c <= '9'; c = getc(f)) {
        v = v * 10 + (c - '0');
        if (v > max)
            return -1;
    }
    if (c != EOF && !is_space(c) && c != '#')
        return -1;
    if (c == '#')
        (void)ungetc(c, f); /* the comment is skipped with the next blanks (one
                             * character of push-back always fits) */
    if (v < 1)
        return -1;
    *out = v;
    *after = c;
    return 0;
}

cnn_status cnn_pgm_read(const char *path, cnn_gray *out, cnn_err *err)
{
    if (!out)
        return cnn_fail(err, CNN_ERR_ARG, "cnn_pgm_read: out is NULL");
    memset(out, 0, sizeof *out);
    int fd;
    cnn_status st = cnn_open_regular(path, &fd, NULL, err);
    if (st != CNN_OK)
        return st;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        st = cnn_fail(err, CNN_ERR_NOMEM, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
        return st;
    }
    st = cnn_pgm_read_stream(f, path, out, err);
    (void)fclose(f); /* read only: nothing to lose */
    return st;
}

cnn_status cnn_pgm_read_stream(FILE *f, const char *path, cnn_gray *out, cnn_err *err)
{
    if (!out || !f || !path)
        return cnn_fail(err, CNN_ERR_ARG, "cnn_pgm_read_stream: NULL argument");
    memset(out, 0, sizeof *out);
    cnn_status st = CNN_OK;
    uint8_t *px = NULL;
    int m0 = getc(f), m1 = getc(f);
    if (m0 != 'P' || m1 != '5') {
        if (m0 == 'P' && m1 >= '1' && m1 <= '7')
            st = cnn_fail(err, CNN_ERR_FORMAT,
                          "%s: Netpbm type P%c is not supported; need binary PGM (P5)", path,
                          m1);
        else
            st = cnn_fail(err, CNN_ERR_FORMAT, "%s: not a PGM file (no P5 magic)", path);
        goto out;
    }
    int c = getc(f);
    if (!is_space(c) && c != '#') {
        st = cnn_fail(err, CNN_ERR_FORMAT, "%s: no whitespace after the P5 magic", path);
        goto out;
    }
    (void)ungetc(c, f); /* the character just read: always fits */
    static const char *const field[3] = {"width", "height", "maxval"};
    static const long max[3] = {CNN_IMAGE_MAX_SIDE, CNN_IMAGE_MAX_SIDE, 65535};
    long v[3];
    int after = 0;
    for (int k = 0; k < 3; k++) {
        if (read_number(f, max[k], &v[k], &after) == 0)
            continue;
        if (feof(f))
            st = cnn_fail(err, CNN_ERR_FORMAT, "%s: truncated PGM header", path);
        else
            st = cnn_fail(err, CNN_ERR_FORMAT, "%s: bad PGM header: %s must be 1..%ld", path,
                          field[k], max[k]);
        goto out;
    }
    long w = v[0], h = v[1], maxval = v[2];
    if (maxval > 255) {
        st = cnn_fail(err, CNN_ERR_FORMAT,
                      "%s: maxval %ld means 16-bit samples; only 8-bit PGM is supported", path,
                      maxval);
        goto out;
    }
    /* Exactly one whitespace byte ends the header; a comment here would
     * swallow the first raster bytes, so it is refused rather than guessed. */
    if (!is_space(after)) {
        st = cnn_fail(err, CNN_ERR_FORMAT,
                      after == EOF ? "%s: truncated PGM header"
                                   : "%s: bad PGM header: maxval must be followed by one "
                                     "whitespace byte",
                      path);
        goto out;
    }

    size_t n = (size_t)w * (size_t)h;
    long hdr_end = ftell(f);
    struct stat sb;
    /* Check the length before allocating, when the file can tell us. */
    if (hdr_end >= 0 && fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode)) {
        unsigned long long have = (unsigned long long)sb.st_size - (unsigned long long)hdr_end;
        if (have != n) {
            st = cnn_fail(err, CNN_ERR_FORMAT,
                          have < n ? "%s: truncated: %ldx%ld image needs %zu bytes of pixels, "
                                     "file has %llu"
                                   : "%s: %ldx%ld image needs %zu bytes of pixels, file has "
                                     "%llu (trailing bytes or several images)",
                          path, w, h, n, have);
            goto out;
        }
    }
    px = malloc(n);
    if (!px) {
        st = cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    size_t got = fread(px, 1, n, f);
    if (got != n) {
        st = cnn_fail(err, ferror(f) ? CNN_ERR_IO : CNN_ERR_FORMAT,
                      "%s: truncated: %ldx%ld image needs %zu bytes of pixels, read %zu", path,
                      w, h, n, got);
        goto out;
    }
    if (getc(f) != EOF) {
        st = cnn_fail(err, CNN_ERR_FORMAT,
                      "%s: trailing bytes after the %ldx%ld image (several images?)", path, w,
                      h);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (px[i] > maxval) {
            st = cnn_fail(err, CNN_ERR_FORMAT, "%s: pixel %zu is %d, above maxval %ld", path,
                          i, px[i], maxval);
            goto out;
        }
    }
    out->width = (int)w;
    out->height = (int)h;
    out->maxval = (int)maxval;
    out->pixels = px;
    px = NULL;
out:
    free(px);
    return st;
}

cnn_status cnn_pgm_write(FILE *f, const cnn_gray *im)
{
    size_t n = (size_t)im->width * (size_t)im->height;
    if (fprintf(f, "P5\n%d %d\n%d\n", im->width, im->height, im->maxval) < 0 ||
        fwrite(im->pixels, 1, n, f) != n)
        return CNN_ERR_IO;
    return CNN_OK;
}
