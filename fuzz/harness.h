/* harness.h — what every fuzz target shares: the input turned into a
 * file the library opens by name (the readers take paths, not buffers), and
 * the checks every refusal must pass. A target is one file defining
 * LLVMFuzzerTestOneInput; see fuzz/README.md. */
#ifndef CNN_FUZZ_HARNESS_H
#define CNN_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "cnn_status.h"

/* Replace the content of this process's scratch file with data[0..size) and
 * return its path. The file is a memfd (/proc/self/fd/N, a regular file
 * with a size, like a file on disk), or a file in $TMPDIR where memfds are
 * missing; the same path every call. Aborts if it cannot be written. */
const char *fuzz_file(const uint8_t *data, size_t size);

/* Like fuzz_file, but the content is the concatenation of n parts. */
const char *fuzz_file_parts(const uint8_t *const *parts, const size_t *sizes, int n);

/* A failed call must explain itself: err holds one non-empty line (no
 * control characters) that names path. Aborts otherwise. */
void fuzz_check_err(cnn_status st, const cnn_err *err, const char *path);

/* What the parser made of the input, for the replay programs' --verdicts
 * (replay.c sets fuzz_verdicts; fuzz/make-corpus checks each seed's): one
 * line, printf-style, after the input's name on stdout. A no-op otherwise,
 * so under libFuzzer. Targets that report nothing leave the line empty. */
extern int fuzz_verdicts;
void fuzz_verdict(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* libFuzzer's own mutations, for a target's LLVMFuzzerCustomMutator; weak,
 * so NULL in the replay programs, which have no libFuzzer. */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size) __attribute__((weak));

/* A broken contract is a crash for libFuzzer: report and abort. */
#define FUZZ_ASSERT(cond)                                                                  \
    do {                                                                                   \
        if (!(cond))                                                                       \
            fuzz_fail(__FILE__, __LINE__, #cond);                                          \
    } while (0)
_Noreturn void fuzz_fail(const char *file, int line, const char *what);

#endif
