/* cnn_status.h — status codes and error messages shared by the library.
 * Library functions return a cnn_status and, where a caller can act on
 * details (which file, which field), fill a cnn_err with one line. */
#ifndef CNN_STATUS_H
#define CNN_STATUS_H

#include <stddef.h>

typedef enum {
    CNN_OK = 0,
    CNN_ERR_NOMEM,    /* allocation failed */
    CNN_ERR_IO,       /* open/read/write failed */
    CNN_ERR_FORMAT,   /* file content is not what it must be */
    CNN_ERR_ARG,      /* invalid argument */
    CNN_ERR_DIVERGED, /* loss became NaN or infinite */
    CNN_ERR_INTERRUPTED, /* stopped on request (e.g. Ctrl-C) */
    CNN_ERR_BUSY,     /* another process holds the file's lock */
} cnn_status;

const char *cnn_status_str(cnn_status s);

/* One line describing what went wrong, naming the file or value. */
typedef struct {
    char msg[512];
} cnn_err;

/* printf into err->msg (no-op when err is NULL); returns st for chaining:
 *   return cnn_fail(err, CNN_ERR_FORMAT, "%s: bad magic 0x%08x", path, m); */
cnn_status cnn_fail(cnn_err *err, cnn_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Only for the path-sensitive analysers of tools/lint, which define
 * CNN_ANALYZER: the same call, spelt so that they see it returns st.
 * cnn_fail is defined in status.c, and variadic, so neither clang's
 * analyzer nor gcc -fanalyzer follows it; they would assume that a failure
 * path may return CNN_OK and report what that path guards as bugs. (st is
 * evaluated twice: every caller passes a constant or a plain variable.) */
#ifdef CNN_ANALYZER
static inline cnn_status cnn_fail_returns_(cnn_status st, cnn_status ignored)
{
    (void)ignored;
    return st;
}
#define cnn_fail(err, st, ...) cnn_fail_returns_((st), (cnn_fail)((err), (st), __VA_ARGS__))
#endif

#endif
