/* status.c — status code names and the one-line error helper. */
#include <stdarg.h>
#include <stdio.h>

#include "cnn_status.h"

const char *cnn_status_str(cnn_status s)
{
    switch (s) {
    case CNN_OK: return "ok";
    case CNN_ERR_NOMEM: return "out of memory";
    case CNN_ERR_IO: return "input/output error";
    case CNN_ERR_FORMAT: return "bad file format";
    case CNN_ERR_ARG: return "invalid argument";
    case CNN_ERR_DIVERGED: return "training diverged";
    case CNN_ERR_INTERRUPTED: return "interrupted";
    case CNN_ERR_BUSY: return "in use by another process";
    }
    return "unknown status";
}

/* (cnn_fail): not the analysers' macro of cnn_status.h */
cnn_status (cnn_fail)(cnn_err *err, cnn_status st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return st;
}
