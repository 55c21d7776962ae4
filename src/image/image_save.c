/* image_save.c — saving a picture under a name that says its format
 * (.png or .pgm), atomically, so a viewer or the README never catches a
 * half-written file. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cnn_atomic_file.h"
#include "cnn_image.h"

static int has_ext(const char *path, const char *ext)
{
    size_t n = strlen(path), e = strlen(ext);
    return n > e && strcasecmp(path + n - e, ext) == 0;
}

typedef struct {
    const unsigned char *p;
    size_t len;
} bytes;

static cnn_status write_bytes(FILE *f, void *ctx)
{
    const bytes *b = ctx;
    return fwrite(b->p, 1, b->len, f) == b->len ? CNN_OK : CNN_ERR_IO;
}

static cnn_status write_pgm(FILE *f, void *ctx)
{
    return cnn_pgm_write(f, ctx);
}

cnn_status cnn_gray_save(const char *path, const cnn_gray *im, cnn_err *err)
{
    if (has_ext(path, ".pgm"))
        return cnn_atomic_write(path, write_pgm, (void *)im, err);
    if (!has_ext(path, ".png"))
        return cnn_fail(err, CNN_ERR_ARG, "%s: name must end in .png or .pgm", path);
    bytes b;
    unsigned char *png;
    cnn_status st = cnn_png_encode(im, &png, &b.len, err);
    if (st != CNN_OK)
        return st;
    b.p = png;
    st = cnn_atomic_write(path, write_bytes, &b, err);
    free(png);
    return st;
}
