/* fuzz_model_header.c — libFuzzer target: the safetensors model loader
 * (cnn_model_load) with the input as the JSON header alone, so that every
 * mutation lands in the header: metadata, tensor table, dtypes, shapes and
 * data_offsets. The file loaded is an honest frame around it: the 8-byte
 * little-endian length of the input, the input, then D zero bytes of data,
 * D being the sum of the tensors' data_offsets spans (see data_size): a
 * valid header gives a valid file, whatever tensors the loader expects.
 *
 * Half of the mutations are this file's own (LLVMFuzzerCustomMutator): add
 * one delta to one, two or three integers of the header at once. A tensor
 * moved in the data buffer has both its data_offsets changed alike, which
 * byte-level mutations almost never do: with the bounds check of
 * data_offsets loosened by 4 bytes, libFuzzer's mutations alone did not
 * reach the overflow in 2 minutes.
 * Checks: see model_load.h. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "model_load.h"

enum { MAX_DATA = 1 << 20, MAX_INTS = 256 };

/* Where the integers outside strings are: start and length of each. */
static int find_ints(const uint8_t *h, size_t n, size_t *at, size_t *len)
{
    int count = 0, in_string = 0;
    for (size_t i = 0; i < n && count < MAX_INTS; i++) {
        if (in_string) {
            if (h[i] == '\\')
                i++;
            else if (h[i] == '"')
                in_string = 0;
        } else if (h[i] == '"') {
            in_string = 1;
        } else if (h[i] >= '0' && h[i] <= '9') {
            at[count] = i;
            while (i < n && h[i] >= '0' && h[i] <= '9')
                i++;
            len[count] = i - at[count];
            count++;
            i--;
        }
    }
    return count;
}

/* Skip blanks, then read an unsigned decimal at h[*i]; 0 if there is none. */
static int read_uint(const uint8_t *h, size_t n, size_t *i, uint64_t *v)
{
    while (*i < n && (h[*i] == ' ' || h[*i] == '\t' || h[*i] == '\n' || h[*i] == '\r'))
        (*i)++;
    if (*i >= n || h[*i] < '0' || h[*i] > '9')
        return 0;
    *v = 0;
    for (; *i < n && h[*i] >= '0' && h[*i] <= '9'; (*i)++)
        if (*v <= MAX_DATA)
            *v = *v * 10 + (uint64_t)(h[*i] - '0');
    return 1;
}

static int skip_to(const uint8_t *h, size_t n, size_t *i, uint8_t c)
{
    while (*i < n && (h[*i] == ' ' || h[*i] == '\t' || h[*i] == '\n' || h[*i] == '\r'))
        (*i)++;
    if (*i >= n || h[*i] != c)
        return 0;
    (*i)++;
    return 1;
}

/* The data size D, at most MAX_DATA: the sum of b - a over every
 * "data_offsets":[a,b] (tensors tile the data buffer, so for a valid
 * header that is its size, whatever tensors it has), or the largest
 * integer outside strings when there is no such pair or the input ends
 * with a newline (then a tensor can also run past the end). */
static size_t data_size(const uint8_t *h, size_t n)
{
    static const char key[] = "\"data_offsets\"";
    const size_t klen = sizeof key - 1;
    uint64_t sum = 0;
    int pairs = 0;
    for (size_t i = 0; n >= klen && i <= n - klen; i++) {
        if (memcmp(h + i, key, klen) != 0)
            continue;
        size_t j = i + klen;
        uint64_t a, b;
        if (skip_to(h, n, &j, ':') && skip_to(h, n, &j, '[') && read_uint(h, n, &j, &a) &&
            skip_to(h, n, &j, ',') && read_uint(h, n, &j, &b) && b >= a && sum <= MAX_DATA) {
            sum += b - a;
            pairs++;
        }
    }
    if (pairs && sum <= MAX_DATA && !(n > 0 && h[n - 1] == '\n'))
        return (size_t)sum;

    static size_t at[MAX_INTS], len[MAX_INTS];
    int count = find_ints(h, n, at, len);
    uint64_t best = 0;
    for (int k = 0; k < count; k++) {
        size_t i = at[k];
        uint64_t v;
        if (read_uint(h, n, &i, &v) && v <= MAX_DATA && v > best)
            best = v;
    }
    return (size_t)best;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t zeros[MAX_DATA];
    uint8_t len[8];
    for (int k = 0; k < 8; k++)
        len[k] = (uint8_t)((uint64_t)size >> (8 * k));
    const uint8_t *parts[3] = {len, data, zeros};
    size_t sizes[3] = {8, size, data_size(data, size)};
    fuzz_model_load(fuzz_file_parts(parts, sizes, 3));
    return 0;
}

static uint32_t next_rand(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    static size_t at[MAX_INTS], len[MAX_INTS];
    uint32_t r = seed;
    int n = find_ints(data, size, at, len);
    if (n == 0 || next_rand(&r) % 2 || !LLVMFuzzerMutate)
        return LLVMFuzzerMutate ? LLVMFuzzerMutate(data, size, max_size) : size;

    /* One, two or three integers; often neighbours, as in [a,b]. */
    int k = 1 + (int)(next_rand(&r) % 3), pick[3];
    pick[0] = (int)(next_rand(&r) % (unsigned)n);
    for (int j = 1; j < k; j++)
        pick[j] = next_rand(&r) % 2 ? (pick[j - 1] + 1) % n : (int)(next_rand(&r) % (unsigned)n);
    static const int64_t deltas[] = {1, 2, 3, 4, 8, 12, 16, 40, 60, 100, 1500, 4096};
    int64_t delta = deltas[next_rand(&r) % (sizeof deltas / sizeof deltas[0])];
    if (next_rand(&r) % 2)
        delta = -delta;

    /* Rewrite from the last integer to the first, so earlier positions hold. */
    for (int i = n - 1; i >= 0; i--) {
        int chosen = 0;
        for (int j = 0; j < k; j++)
            chosen |= pick[j] == i;
        if (!chosen || len[i] > 19)
            continue;
        uint64_t v = 0;
        for (size_t c = 0; c < len[i]; c++)
            v = v * 10 + (uint64_t)(data[at[i] + c] - '0');
        v = (delta < 0 && v < (uint64_t)-delta) ? 0 : v + (uint64_t)delta;
        char digits[24];
        size_t dn = (size_t)snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
        if (size - len[i] + dn > max_size)
            continue;
        memmove(data + at[i] + dn, data + at[i] + len[i], size - at[i] - len[i]);
        memcpy(data + at[i], digits, dn);
        size = size - len[i] + dn;
    }
    return size;
}
