/* cnn_atomic_file.h — replacing a file all at once. Model checkpoints and
 * pictures are written through this, so a crash or a full disk leaves either
 * the old file or the new one, never a half-written one. A writer that means
 * to replace a file again and again (a training run's checkpoints) can also
 * hold an advisory lock on it, so a second writer is refused instead of
 * silently interleaving its saves with the first one's. */
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

/* Take the writer's lock on path DIR/NAME: an fcntl (POSIX record) write
 * lock on the whole of DIR/.NAME.cnn-lock, created empty if missing (0666
 * less the umask) and never removed: only the lock means anything, and the
 * kernel drops it when the process exits or is killed, however it ends.
 * Advisory: it binds only writers that take it (cnn train --save does);
 * NAME itself is still replaced by rename, and readers need no lock.
 *
 * On CNN_OK *fd is the lock file's descriptor: keep it open as long as the
 * lock is wanted, then cnn_file_unlock(*fd). As with every fcntl lock,
 * closing any descriptor of the lock file in this process drops the lock.
 * CNN_ERR_BUSY: another process holds it; *holder gets its PID (0 if it
 * could not be told) and err says "PATH: another cnn process (pid N) is
 * writing this file". CNN_ERR_IO: the lock file cannot be opened or locked
 * (err names it and why). CNN_ERR_ARG, CNN_ERR_NOMEM as usual. Never waits. */
cnn_status cnn_file_lock(const char *path, int *fd, long *holder, cnn_err *err);

/* Release a lock taken by cnn_file_lock (closes fd; -1 is ignored). */
void cnn_file_unlock(int fd);

#endif
