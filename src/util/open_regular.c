/* open_regular.c — open for reading without blocking on FIFOs and devices
 * (see open_regular.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "open_regular.h"

int cnn_open_read(const char *path)
{
    int fd;
    do
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -1;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

FILE *cnn_fopen_read(const char *path)
{
    int fd = cnn_open_read(path);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return f;
}

cnn_status cnn_open_regular(const char *path, int *fd, struct stat *sb, cnn_err *err)
{
    struct stat st;
    *fd = cnn_open_read(path);
    if (*fd < 0)
        return cnn_fail(err, CNN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    cnn_status rc = CNN_OK;
    if (fstat(*fd, &st) != 0)
        rc = cnn_fail(err, CNN_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    else if (S_ISDIR(st.st_mode))
        rc = cnn_fail(err, CNN_ERR_IO, "%s: %s", path, strerror(EISDIR));
    else if (!S_ISREG(st.st_mode))
        rc = cnn_fail(err, CNN_ERR_IO, "%s: not a regular file", path);
    if (rc != CNN_OK) {
        close(*fd);
        *fd = -1;
        return rc;
    }
    if (sb)
        *sb = st;
    return CNN_OK;
}
