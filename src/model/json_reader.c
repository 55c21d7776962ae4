/* json_reader.c — a small strict JSON reader, just enough for the
 * safetensors header that model_tensors.c parses: objects, strings and
 * arrays of non-negative integers. Strict, as safetensors readers are.
 * Strings are decoded in place, so reading needs no allocation. */
#include <stdint.h>

#include "json_reader.h"

/* Length of the valid UTF-8 sequence starting at s (at most n bytes), or 0.
 * Overlong forms, surrogates and code points past U+10FFFF are invalid:
 * safetensors readers decode the header strictly, and so do we. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    uint32_t cp, min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; min = 0x10000; }
    else return 0;
    if (n < len)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

size_t jp_utf8_check(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t l = utf8_seq(u + i, n - i);
        if (!l)
            return i;
        i += l;
    }
    return n;
}

cnn_status jp_init(jparser *p, char *s, size_t n, const char *path, cnn_err *err)
{
    *p = (jparser){s, n, 0, path, err};
    size_t bad = jp_utf8_check(s, n);
    if (bad != n)
        return cnn_fail(err, CNN_ERR_FORMAT, "%s: JSON header is not valid UTF-8 at byte %zu",
                        path, bad);
    return CNN_OK;
}

static cnn_status jp_fail(jparser *p, const char *what)
{
    return cnn_fail(p->err, CNN_ERR_FORMAT, "%s: bad JSON header at byte %zu: %s", p->path,
                    p->i, what);
}

static void jp_ws(jparser *p)
{
    while (p->i < p->n) {
        char c = p->s[p->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->i++;
    }
}

int jp_peek(jparser *p)
{
    jp_ws(p);
    return p->i < p->n ? (unsigned char)p->s[p->i] : -1;
}

static cnn_status jp_expect(jparser *p, char c, const char *what)
{
    if (jp_peek(p) != (unsigned char)c)
        return jp_fail(p, what);
    p->i++;
    return CNN_OK;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int jp_hex4(jparser *p, uint32_t *out)
{
    if (p->n - p->i < 4)
        return -1;
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval((unsigned char)p->s[p->i + (size_t)k]);
        if (h < 0)
            return -1;
        v = v << 4 | (uint32_t)h;
    }
    p->i += 4;
    *out = v;
    return 0;
}

/* Decode a string in place: the decoded form is never longer than the
 * escaped one, so the write position never overtakes the read position and
 * the terminating NUL lands on or before the closing quote. */
cnn_status jp_string(jparser *p, char **out)
{
    if (jp_peek(p) != '"')
        return jp_fail(p, "expected a string");
    p->i++;
    char *start = p->s + p->i, *w = start;
    for (;;) {
        if (p->i >= p->n)
            return jp_fail(p, "unterminated string");
        unsigned char c = (unsigned char)p->s[p->i];
        if (c == '"') {
            p->i++;
            break;
        }
        if (c < 0x20)
            return jp_fail(p, "control character in string");
        if (c != '\\') {
            *w++ = (char)c;
            p->i++;
            continue;
        }
        p->i++;
        if (p->i >= p->n)
            return jp_fail(p, "unterminated string");
        c = (unsigned char)p->s[p->i++];
        switch (c) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '/': *w++ = '/'; break;
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        case 'u': {
            uint32_t cp, lo;
            if (jp_hex4(p, &cp))
                return jp_fail(p, "bad \\u escape");
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return jp_fail(p, "unpaired surrogate in \\u escape");
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (p->n - p->i < 2 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u')
                    return jp_fail(p, "unpaired surrogate in \\u escape");
                p->i += 2;
                if (jp_hex4(p, &lo) || lo < 0xdc00 || lo > 0xdfff)
                    return jp_fail(p, "unpaired surrogate in \\u escape");
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            /* A NUL would silently cut the C string short. */
            if (cp == 0)
                return jp_fail(p, "\\u0000 is not supported");
            if (cp < 0x80) {
                *w++ = (char)cp;
            } else if (cp < 0x800) {
                *w++ = (char)(0xc0 | cp >> 6);
                *w++ = (char)(0x80 | (cp & 0x3f));
            } else if (cp < 0x10000) {
                *w++ = (char)(0xe0 | cp >> 12);
                *w++ = (char)(0x80 | (cp >> 6 & 0x3f));
                *w++ = (char)(0x80 | (cp & 0x3f));
            } else {
                *w++ = (char)(0xf0 | cp >> 18);
                *w++ = (char)(0x80 | (cp >> 12 & 0x3f));
                *w++ = (char)(0x80 | (cp >> 6 & 0x3f));
                *w++ = (char)(0x80 | (cp & 0x3f));
            }
            break;
        }
        default:
            p->i--;
            return jp_fail(p, "bad escape in string");
        }
    }
    *w = '\0';
    *out = start;
    return CNN_OK;
}

/* A non-negative JSON integer (no sign, fraction or exponent; no leading
 * zeros, as JSON requires) that fits in 64 bits. */
static cnn_status jp_uint(jparser *p, uint64_t *out)
{
    int c = jp_peek(p);
    if (c < '0' || c > '9')
        return jp_fail(p, "expected a non-negative integer");
    if (c == '0' && p->i + 1 < p->n && p->s[p->i + 1] >= '0' && p->s[p->i + 1] <= '9')
        return jp_fail(p, "leading zero in number");
    uint64_t v = 0;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        unsigned d = (unsigned)(p->s[p->i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return jp_fail(p, "integer too large");
        v = v * 10 + d;
        p->i++;
    }
    *out = v;
    return CNN_OK;
}

cnn_status jp_uint_array(jparser *p, uint64_t *vals, int cap, int *count)
{
    cnn_status st = jp_expect(p, '[', "expected '['");
    if (st != CNN_OK)
        return st;
    *count = 0;
    if (jp_peek(p) == ']') {
        p->i++;
        return CNN_OK;
    }
    for (;;) {
        uint64_t v = 0;
        if ((st = jp_uint(p, &v)) != CNN_OK)
            return st;
        if (*count == cap)
            return jp_fail(p, "array too long");
        vals[(*count)++] = v;
        int c = jp_peek(p);
        p->i++;
        if (c == ']')
            return CNN_OK;
        if (c != ',') {
            p->i--;
            return jp_fail(p, "expected ',' or ']'");
        }
    }
}

/* A "key": inside an object, for jp_obj_open and jp_obj_next. */
static cnn_status jp_key(jparser *p, char **key)
{
    cnn_status st = jp_string(p, key);
    if (st == CNN_OK)
        st = jp_expect(p, ':', "expected ':'");
    return st;
}

cnn_status jp_obj_open(jparser *p, int *more, char **key)
{
    cnn_status st = jp_expect(p, '{', "expected '{'");
    if (st != CNN_OK)
        return st;
    if (jp_peek(p) == '}') {
        p->i++;
        *more = 0;
        return CNN_OK;
    }
    *more = 1;
    return jp_key(p, key);
}

cnn_status jp_obj_next(jparser *p, int *more, char **key)
{
    int c = jp_peek(p);
    if (c == '}') {
        p->i++;
        *more = 0;
        return CNN_OK;
    }
    if (c != ',')
        return jp_fail(p, "expected ',' or '}'");
    p->i++;
    *more = 1;
    return jp_key(p, key);
}

cnn_status jp_end(jparser *p)
{
    if (jp_peek(p) != -1)
        return jp_fail(p, "trailing characters after the header object");
    return CNN_OK;
}
