/* json_reader.h — the strict JSON reader model_tensors.c parses the
 * safetensors header with (see json_reader.c). Private to the library.
 * Every syntax error reads "PATH: bad JSON header at byte K: what". */
#ifndef CNN_JSON_READER_H
#define CNN_JSON_READER_H

#include <stddef.h>
#include <stdint.h>

#include "cnn_status.h"

typedef struct {
    char *s;          /* the header; strings are decoded in place */
    size_t n, i;      /* its length, and the read position */
    const char *path; /* the file, for error messages */
    cnn_err *err;
} jparser;

/* Offset of the first invalid UTF-8 byte in s[0..n), or n when all are
 * valid. Strict: overlong forms, surrogates and code points past U+10FFFF
 * are invalid. The writer checks its strings with this too, so that what
 * it writes the reader accepts. */
size_t jp_utf8_check(const char *s, size_t n);

/* Start reading the n bytes at s. JSON text is UTF-8, and jp_string passes
 * non-ASCII bytes through as they are, so the whole text is checked here
 * first: "PATH: JSON header is not valid UTF-8 at byte K" if not. */
cnn_status jp_init(jparser *p, char *s, size_t n, const char *path, cnn_err *err);

/* The next byte after any whitespace, not consumed; -1 at the end. */
int jp_peek(jparser *p);

/* A string, decoded in place: *out points into p->s, NUL-terminated.
 * \u0000 is refused, since it would cut the C string short. */
cnn_status jp_string(jparser *p, char **out);

/* An array of at most cap non-negative integers into vals; *count of them. */
cnn_status jp_uint_array(jparser *p, uint64_t *vals, int cap, int *count);

/* Object iteration: after jp_obj_open or jp_obj_next, *more says whether a
 * "key": follows (already consumed into *key); the caller then reads its
 * value and calls jp_obj_next. */
cnn_status jp_obj_open(jparser *p, int *more, char **key);
cnn_status jp_obj_next(jparser *p, int *more, char **key);

/* Nothing but whitespace may follow the top-level value. */
cnn_status jp_end(jparser *p);

#endif
