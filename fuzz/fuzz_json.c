/* fuzz_json.c — libFuzzer target: the strict JSON reader the safetensors
 * header is parsed with (src/model/json_reader.c), driven as a generic
 * walker over whatever the input holds: objects (any keys, nested up to a
 * depth), strings and arrays of non-negative integers, then the end.
 *
 * The input is copied into a buffer of exactly its size, without the NUL
 * the model loader adds, so any read past the end is caught by ASan.
 * Checks: the read position never passes the end; every decoded string
 * lies inside the buffer, ends before the end of the buffer, and is valid
 * UTF-8 (the reader validates the text and its escapes produce UTF-8);
 * integer arrays never exceed their capacity; a refusal explains itself. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "json_reader.h"

enum { MAX_DEPTH = 32, ARRAY_CAP = 8 };

static const char path[] = "fuzz.json";

static void check_string(const jparser *p, const char *s)
{
    FUZZ_ASSERT(s >= p->s && s < p->s + p->n);
    size_t room = (size_t)(p->s + p->n - s);
    size_t len = strnlen(s, room);
    FUZZ_ASSERT(len < room);
    FUZZ_ASSERT(jp_utf8_check(s, len) == len);
}

static cnn_status walk(jparser *p, int depth)
{
    cnn_status st;
    int c = jp_peek(p);
    FUZZ_ASSERT(p->i <= p->n);
    if (c == '{' && depth < MAX_DEPTH) {
        int more;
        char *key;
        st = jp_obj_open(p, &more, &key);
        while (st == CNN_OK && more) {
            check_string(p, key);
            st = walk(p, depth + 1);
            if (st == CNN_OK)
                st = jp_obj_next(p, &more, &key);
        }
    } else if (c == '[') {
        uint64_t vals[ARRAY_CAP];
        int count = -1;
        st = jp_uint_array(p, vals, ARRAY_CAP, &count);
        if (st == CNN_OK)
            FUZZ_ASSERT(count >= 0 && count <= ARRAY_CAP);
    } else {
        char *s;
        st = jp_string(p, &s); /* refuses anything that is not a string */
        if (st == CNN_OK)
            check_string(p, s);
    }
    FUZZ_ASSERT(p->i <= p->n);
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    FUZZ_ASSERT(buf != NULL);
    memcpy(buf, data, size);
    cnn_err err = {""};
    jparser p;
    cnn_status st = jp_init(&p, buf, size, path, &err);
    if (st == CNN_OK)
        st = walk(&p, 0);
    if (st == CNN_OK)
        st = jp_end(&p);
    if (st != CNN_OK)
        fuzz_check_err(st, &err, path);
    free(buf);
    return 0;
}
