/* png.c — the smallest correct PNG writer for 8-bit grayscale: signature,
 * IHDR, one IDAT holding the zlib stream of all rows (each row prefixed by
 * filter type 0, "None"), IEND. zlib provides both the deflate stream and
 * the chunk CRC, so no image library is needed to put a picture in the
 * README. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cnn_image.h"

static const unsigned char png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

static void put_u32be(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Append one chunk (length, type, data, CRC of type+data) at *pos. */
static void put_chunk(unsigned char *buf, size_t *pos, const char type[4],
                      const unsigned char *data, size_t len)
{
    unsigned char *p = buf + *pos;
    put_u32be(p, (uint32_t)len);
    memcpy(p + 4, type, 4);
    if (len)
        memmove(p + 8, data, len);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, p + 4, (uInt)(4 + len));
    put_u32be(p + 8 + len, (uint32_t)crc);
    *pos += 12 + len;
}

cnn_status cnn_png_encode(const cnn_gray *im, unsigned char **out, size_t *len, cnn_err *err)
{
    *out = NULL;
    *len = 0;
    if (!im->pixels || im->width < 1 || im->height < 1 || im->width > CNN_IMAGE_MAX_SIDE ||
        im->height > CNN_IMAGE_MAX_SIDE)
        return cnn_fail(err, CNN_ERR_ARG, "png: image must be 1..%d pixels a side",
                        CNN_IMAGE_MAX_SIDE);
    size_t w = (size_t)im->width, h = (size_t)im->height;
    size_t raw_len = h * (w + 1);
    unsigned char *raw = malloc(raw_len);
    uLongf zlen = compressBound((uLong)raw_len);
    /* signature + IHDR (12+13) + IDAT (12+zlen) + IEND (12) */
    size_t cap = 8 + 25 + 12 + (size_t)zlen + 12;
    unsigned char *buf = malloc(cap);
    if (!raw || !buf) {
        free(raw);
        free(buf);
        return cnn_fail(err, CNN_ERR_NOMEM, "png: out of memory");
    }
    for (size_t y = 0; y < h; y++) {
        raw[y * (w + 1)] = 0; /* filter type None */
        memcpy(raw + y * (w + 1) + 1, im->pixels + y * w, w);
    }

    size_t pos = 0;
    memcpy(buf, png_signature, 8);
    pos = 8;
    unsigned char ihdr[13];
    put_u32be(ihdr, (uint32_t)w);
    put_u32be(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8;  /* bit depth */
    ihdr[9] = 0;  /* colour type: grayscale */
    ihdr[10] = 0; /* compression: deflate */
    ihdr[11] = 0; /* filter method 0 */
    ihdr[12] = 0; /* no interlace */
    put_chunk(buf, &pos, "IHDR", ihdr, sizeof ihdr);

    /* Compress straight into the IDAT chunk's data field. */
    int zrc = compress2(buf + pos + 8, &zlen, raw, (uLong)raw_len, Z_BEST_COMPRESSION);
    free(raw);
    if (zrc != Z_OK) {
        free(buf);
        return cnn_fail(err, zrc == Z_MEM_ERROR ? CNN_ERR_NOMEM : CNN_ERR_ARG,
                        "png: zlib compress2 failed (%d)", zrc);
    }
    put_chunk(buf, &pos, "IDAT", buf + pos + 8, (size_t)zlen);
    put_chunk(buf, &pos, "IEND", NULL, 0);
    *out = buf;
    *len = pos;
    return CNN_OK;
}
