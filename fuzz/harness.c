/* harness.c — the scratch file behind fuzz_file and the shared checks
 * of harness.h, and the verdicts the replays print on request. Only test
 * code: it may print (to say why it aborts, and those verdicts). */
#define _GNU_SOURCE /* memfd_create */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"

int fuzz_verdicts;

void fuzz_verdict(const char *fmt, ...)
{
    if (!fuzz_verdicts)
        return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

static int scratch_fd = -1;
static char scratch_path[4096];

_Noreturn void fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: fuzz check failed: %s\n", file, line, what);
    abort();
}

static void remove_scratch(void)
{
    if (strncmp(scratch_path, "/proc/", 6) != 0)
        unlink(scratch_path);
}

static void open_scratch(void)
{
    scratch_fd = memfd_create("cnn-fuzz", MFD_CLOEXEC);
    if (scratch_fd >= 0) {
        snprintf(scratch_path, sizeof scratch_path, "/proc/self/fd/%d", scratch_fd);
        if (access(scratch_path, R_OK) == 0)
            return;
        close(scratch_fd);
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch_path, sizeof scratch_path, "%s/cnn-fuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    scratch_fd = mkstemp(scratch_path);
    if (scratch_fd < 0) {
        fprintf(stderr, "fuzz: cannot make a scratch file %s: %s\n", scratch_path,
                strerror(errno));
        abort();
    }
    atexit(remove_scratch);
}

const char *fuzz_file_parts(const uint8_t *const *parts, const size_t *sizes, int n)
{
    if (scratch_fd < 0)
        open_scratch();
    if (ftruncate(scratch_fd, 0) != 0)
        fuzz_fail(__FILE__, __LINE__, "ftruncate of the scratch file");
    off_t off = 0;
    for (int k = 0; k < n; k++) {
        const uint8_t *p = parts[k];
        size_t left = sizes[k];
        while (left > 0) {
            ssize_t w = pwrite(scratch_fd, p, left, off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                fuzz_fail(__FILE__, __LINE__, "write to the scratch file");
            p += w;
            left -= (size_t)w;
            off += w;
        }
    }
    return scratch_path;
}

const char *fuzz_file(const uint8_t *data, size_t size)
{
    return fuzz_file_parts(&data, &size, 1);
}

void fuzz_check_err(cnn_status st, const cnn_err *err, const char *path)
{
    FUZZ_ASSERT(st != CNN_OK);
    size_t len = strnlen(err->msg, sizeof err->msg);
    FUZZ_ASSERT(len > 0 && len < sizeof err->msg);
    for (size_t i = 0; i < len; i++) /* one line, nothing to upset a terminal */
        FUZZ_ASSERT((unsigned char)err->msg[i] >= 0x20 && err->msg[i] != 0x7f);
    FUZZ_ASSERT(strstr(err->msg, path) != NULL);
}
