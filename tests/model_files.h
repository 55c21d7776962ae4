/* model_files.h — what test_model_io.c and test_model_refuse.c share: a
 * temporary directory per test group, parameters and metadata to save,
 * raw file surgery (read, rewrite a piece of the header, write), the
 * refusal checks, and a version-1 file written the way the previous
 * release wrote it. Include after <cmocka.h>. */
#ifndef TEST_MODEL_FILES_H
#define TEST_MODEL_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "cnn.h"
#include "cnn_model.h"

/* The specs the tests save: the seed, LeNet-5, and one with padding,
 * stride and max-pooling on a 20x20 input with 7 classes. */
#define SPEC_OTHER "conv8x3p1,relu,maxpool2,conv17x3p1s2,relu,dense24,relu,dense7"

typedef struct {
    char dir[64];
} fixture;

int model_group_setup(void **state);    /* mkdtemp */
int model_group_teardown(void **state); /* empty it, rmdir */

const char *in_dir(void **state, const char *name, char *out, size_t cap);
int count_temp_files(const char *dir);

/* cnn_arch_parse that must succeed; 1 input channel. */
cnn_arch arch_of(const char *spec, int rows, int cols, int classes);
/* The seed network on 28x28 with 10 classes. */
cnn_arch seed_arch(void);

float bits_to_float(uint32_t u);
/* Random bit patterns, made finite (a NaN or Inf has its top exponent bit
 * cleared), with the awkward values -0, the smallest denormal, another
 * denormal, ±FLT_MAX at each tensor's first and last places. */
void fill_params_bits(const cnn_arch *a, float *p, uint64_t seed);
/* Uniform in [-1, 1), for comparing sums with another reader. */
void fill_params_finite(const cnn_arch *a, float *p, uint64_t seed);
float *new_params(const cnn_arch *a); /* malloc, asserted */

/* Every field set, to values that exercise their range. */
void fill_meta(cnn_model_meta *m, const cnn_arch *a);
void assert_meta_equal(const cnn_model_meta *a, const cnn_model_meta *b);

unsigned char *read_all(const char *path, size_t *len);
void write_all(const char *path, const void *buf, size_t len);
uint64_t get_u64le(const unsigned char *p);
void put_u64le(unsigned char *p, uint64_t v);
/* A file: length field n, then hdr (hlen bytes), then data. */
void write_parts(const char *path, uint64_t n, const char *hdr, size_t hlen,
                 const unsigned char *data, size_t dlen);
/* Copy src to dst with the first `from` in its header replaced by `to`
 * (the header re-padded to a multiple of 8, the data unchanged). */
void rewrite_header(const char *src, const char *dst, const char *from, const char *to);

/* Save p and m to path, load it back, compare bit for bit (parameters and
 * meta); the loaded meta goes to *back (its blocks for the caller to free). */
void round_trip(const char *path, const float *p, const cnn_model_meta *m,
                cnn_model_meta *back);
/* The JSON header of the file at path, NUL-terminated (free()). */
char *header_of(const char *path);

/* Save params from fill_params_bits(seed) and fill_meta to path. */
void save_model(const char *path, const cnn_arch *a, uint64_t seed);

/* Load must refuse path with status `want` and one line that names the
 * file and contains kw (expect_refusal) or is exactly "PATH: rest"
 * (expect_line); *params must stay NULL and meta untouched. */
void expect_refusal(const char *path, cnn_status want, const char *kw);
void expect_line(const char *path, cnn_status want, const char *rest);

/* Save a model of `a` as base.safetensors, rewrite its header from -> to
 * into bad.safetensors, and expect its refusal (kw or exact line). */
void expect_header_refusal(void **state, const cnn_arch *a, const char *from, const char *to,
                           const char *kw);
void expect_header_line(void **state, const cnn_arch *a, const char *from, const char *to,
                        const char *rest);

/* A format-version-1 file as the previous release wrote it for the seed
 * network (its model_io.c: the same header, key for key, the four
 * tensors, the data in that order). */
void write_v1_model(const char *path, const float *params, const cnn_model_meta *m);

#endif
