/* open_regular.h — opening a file for reading without ever blocking in
 * open(): a FIFO with no writer (or a tape, a terminal device) would make a
 * plain open() wait forever, before any check of what the file is can run.
 * Internal to the library (src/); not an installed header. */
#ifndef CNN_OPEN_REGULAR_H
#define CNN_OPEN_REGULAR_H

#include <stdio.h>
#include <sys/stat.h>

#include "cnn_status.h"

/* open(path, O_RDONLY | O_CLOEXEC) with O_NONBLOCK for the open itself,
 * cleared again afterwards (so reads of a regular file or a pipe behave as
 * usual). Returns the descriptor, or -1 with errno set. It does not look at
 * the file's type: callers that need a regular file fstat the descriptor
 * (checking the descriptor, not the path, leaves no race with a rename). */
int cnn_open_read(const char *path);

/* fdopen(cnn_open_read(path), "rb"): fopen(path, "rb") without the hang.
 * NULL with errno set on failure. */
FILE *cnn_fopen_read(const char *path);

/* cnn_open_read, then refuse anything but a regular file. On success *fd is
 * open and *sb (when not NULL) holds its fstat. On failure nothing is left
 * open and err says "PATH: cannot open: why", "PATH: Is a directory" or
 * "PATH: not a regular file". */
cnn_status cnn_open_regular(const char *path, int *fd, struct stat *sb, cnn_err *err);

#endif
