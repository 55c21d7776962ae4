/* cnn_atomic_file.h — replacing a file all at once. Model checkpoints and
 * pictures are written through this, so a crash or a full disk leaves either
 * the old file or the new one, never a half-written one. */
#ifndef CNN_ATOMIC_FILE_H
#define CNN_ATOMIC_FILE_H

#include <stdio.h>

#include "cnn_status.h"

/* Writes the whole content to f. Returns CNN_OK, or anything else on failure
 * with errno describing it when there is an errno to give. */
typedef cnn_status (*cnn_file_writer)(FILE *f, void *ctx);

/* Write path atomically: write() fills a temporary file in the same
 * directory, named .NAME.cnn-tmp-PID-XXXXXX for path DIR/NAME, which is
 * flushed, fsync'd and renamed over path. A replaced file keeps its
 * permissions; a new one gets 0666 less the umask. On any failure path is
 * untouched, the temporary removed, and err says "PATH: what failed: why".
 * Temporaries that killed writers left behind for the same path (their PID
 * is not a running process) are removed first; see atomic_file.c. */
cnn_status cnn_atomic_write(const char *path, cnn_file_writer write, void *ctx, cnn_err *err);

#endif
