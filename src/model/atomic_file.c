/* atomic_file.c — write-to-temporary, fsync, rename: the one way this
 * project replaces files (see cnn_atomic_file.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "cnn_atomic_file.h"

cnn_status cnn_atomic_write(const char *path, cnn_file_writer write, void *ctx, cnn_err *err)
{
    if (!path || !write)
        return cnn_fail(err, CNN_ERR_ARG, "cnn_atomic_write: NULL argument");

    /* The temporary must be in the target's directory: rename() is atomic
     * only within one file system. */
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = path + dirlen;
    if (!*base)
        return cnn_fail(err, CNN_ERR_ARG, "%s: not a file name", path);
    size_t tmpsize = strlen(path) + sizeof ".tmp.XXXXXX" + 1;
    char *tmp = malloc(tmpsize);
    char *dir = malloc(dirlen + 2);
    if (!tmp || !dir) {
        free(tmp);
        free(dir);
        return cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(tmp, path, dirlen);
    snprintf(tmp + dirlen, tmpsize - dirlen, ".%s.tmp.XXXXXX", base);
    if (dirlen) {
        memcpy(dir, path, dirlen);
        dir[dirlen] = '\0';
    } else {
        strcpy(dir, ".");
    }

    const char *what = "cannot create temporary file";
    int e = 0;
    FILE *f = NULL;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        e = errno;
        goto fail_nofile;
    }

    /* mkstemp makes the file 0600. Keep the mode of the file we replace, or
     * give a new one the usual umask-filtered 0666: our files are data to
     * share, and overwriting one should not change who can read it. (umask
     * can only be read by setting it; we put it straight back, and 077
     * meanwhile means a racing thread errs on the private side.) */
    struct stat sbuf;
    mode_t mode;
    if (stat(path, &sbuf) == 0) {
        mode = sbuf.st_mode & 0777;
    } else {
        mode_t u = umask(077);
        umask(u);
        mode = 0666 & ~u;
    }
    if (fchmod(fd, mode) != 0) {
        /* Not fatal: the file is still written, just with mode 0600. */
    }

    f = fdopen(fd, "wb");
    if (!f) {
        e = errno;
        close(fd);
        goto fail;
    }
    what = "write failed";
    errno = 0;
    if (write(f, ctx) != CNN_OK || fflush(f) != 0) {
        e = errno;
        goto fail;
    }
    /* Without fsync a crash after the rename could leave the new name
     * pointing at a file whose data never reached the disk. */
    what = "fsync failed";
    if (fsync(fileno(f)) != 0) {
        e = errno;
        goto fail;
    }
    what = "close failed";
    int rc = fclose(f);
    f = NULL;
    if (rc != 0) {
        e = errno;
        goto fail;
    }
    what = "rename failed";
    if (rename(tmp, path) != 0) {
        e = errno;
        goto fail;
    }
    /* Make the rename itself durable; best effort, since some file systems
     * refuse fsync on directories and the data is already safe. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        if (fsync(dfd) != 0) {
            /* ignored: see above */
        }
        close(dfd);
    }
    free(tmp);
    free(dir);
    return CNN_OK;

fail:
    if (f)
        fclose(f);
    unlink(tmp);
fail_nofile:
    free(tmp);
    free(dir);
    if (e == 0)
        e = EIO;
    return cnn_fail(err, CNN_ERR_IO, "%s: %s: %s", path, what, strerror(e));
}
