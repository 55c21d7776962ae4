/* atomic_file.c — write-to-temporary, fsync, rename: the one way this
 * project replaces files (see cnn_atomic_file.h).
 *
 * The temporary for DIR/NAME is DIR/.NAME.cnn-tmp-PID-XXXXXX (PID: the
 * writing process; XXXXXX: mkstemp's). A process killed mid-save leaves
 * its temporary behind; the next save to the same target removes those
 * whose PID is no longer a process (kill(PID, 0) fails with ESRCH) and
 * keeps the others, which may be another writer's work in progress. This
 * assumes the writers of one target run on one machine (PIDs of another
 * host's processes mean nothing here). A reused PID only delays the
 * removal. Temporaries of the earlier naming (.NAME.tmp.XXXXXX) carry no
 * PID and are left alone.
 *
 * The writer's lock for DIR/NAME is an fcntl write lock on the empty file
 * DIR/.NAME.cnn-lock (cnn_file_lock). fcntl rather than flock: F_GETLK
 * names the holder's PID for the refusal message, and the lock is the
 * process's, so it goes when the process does, killed or not. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "cnn_atomic_file.h"

#define TMP_TAG ".cnn-tmp-"
#define LOCK_TAG ".cnn-lock"

/* Remove DIR/.BASE.cnn-tmp-PID-XXXXXX files whose PID is not alive. Best
 * effort: what cannot be read or removed stays, and the save goes on. */
static void remove_stale_temps(const char *dir, const char *base)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    size_t blen = strlen(base), tlen = strlen(TMP_TAG);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (n[0] != '.' || strncmp(n + 1, base, blen) != 0 ||
            strncmp(n + 1 + blen, TMP_TAG, tlen) != 0)
            continue;
        const char *p = n + 1 + blen + tlen;
        long long pid = 0;
        int digits = 0;
        for (; *p >= '0' && *p <= '9' && digits < 10; p++, digits++)
            pid = pid * 10 + (*p - '0');
        if (digits == 0 || *p != '-' || strlen(p + 1) != 6 || pid <= 0 || pid > INT_MAX)
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* alive (EPERM: alive, someone else's) */
        if (unlinkat(dirfd(d), n, 0) != 0) {
            /* left for a later save, or for a person */
        }
    }
    closedir(d);
}

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
    size_t tmpsize = strlen(path) + sizeof TMP_TAG + 24 + sizeof "-XXXXXX";
    char *tmp = malloc(tmpsize);
    char *dir = malloc(dirlen + 2);
    if (!tmp || !dir) {
        free(tmp);
        free(dir);
        return cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(tmp, path, dirlen);
    snprintf(tmp + dirlen, tmpsize - dirlen, ".%s" TMP_TAG "%ld-XXXXXX", base, (long)getpid());
    if (dirlen) {
        memcpy(dir, path, dirlen);
        dir[dirlen] = '\0';
    } else {
        memcpy(dir, ".", 2);
    }
    remove_stale_temps(dir, base);

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
        (void)fclose(f); /* already failing; the temporary goes anyway */
    unlink(tmp);
fail_nofile:
    free(tmp);
    free(dir);
    if (e == 0)
        e = EIO;
    return cnn_fail(err, CNN_ERR_IO, "%s: %s: %s", path, what, strerror(e));
}

/* ---- the writer's lock ----------------------------------------------------- */

/* F_SETLK on the whole file; on a conflict, F_GETLK for the holder. A holder
 * that lets go between the two calls is raced a few times, then reported
 * with PID 0. */
static cnn_status lock_fd(int fd, const char *path, const char *lock_path, long *holder,
                          cnn_err *err)
{
    for (int tries = 0; tries < 3; tries++) {
        struct flock fl;
        memset(&fl, 0, sizeof fl);
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET; /* l_start = l_len = 0: the whole file */
        if (fcntl(fd, F_SETLK, &fl) == 0)
            return CNN_OK;
        int e = errno;
        if (e != EACCES && e != EAGAIN)
            return cnn_fail(err, CNN_ERR_IO, "%s: cannot lock %s: %s", path, lock_path,
                            strerror(e));
        memset(&fl, 0, sizeof fl);
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) {
            *holder = (long)fl.l_pid;
            break;
        }
    }
    if (*holder > 0)
        return cnn_fail(err, CNN_ERR_BUSY, "%s: another cnn process (pid %ld) is writing this file",
                        path, *holder);
    return cnn_fail(err, CNN_ERR_BUSY, "%s: another cnn process is writing this file", path);
}

cnn_status cnn_file_lock(const char *path, int *fd_out, long *holder, cnn_err *err)
{
    long who = 0;
    if (fd_out)
        *fd_out = -1;
    if (holder)
        *holder = 0;
    if (!path || !fd_out)
        return cnn_fail(err, CNN_ERR_ARG, "cnn_file_lock: NULL argument");
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = path + dirlen;
    if (!*base)
        return cnn_fail(err, CNN_ERR_ARG, "%s: not a file name", path);
    size_t size = strlen(path) + sizeof "." LOCK_TAG;
    char *lock_path = malloc(size);
    if (!lock_path)
        return cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", path);
    memcpy(lock_path, path, dirlen);
    snprintf(lock_path + dirlen, size - dirlen, ".%s" LOCK_TAG, base);

    /* No following a symbolic link planted under the lock's name, and no
     * waiting on a FIFO: the lock file is ours and regular, or refused. */
    int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY,
                  0666);
    struct stat sb;
    cnn_status st = CNN_OK;
    if (fd < 0)
        st = cnn_fail(err, CNN_ERR_IO, "%s: cannot open the lock file %s: %s", path, lock_path,
                      strerror(errno));
    else if (fstat(fd, &sb) != 0)
        st = cnn_fail(err, CNN_ERR_IO, "%s: cannot stat the lock file %s: %s", path, lock_path,
                      strerror(errno));
    else if (!S_ISREG(sb.st_mode))
        st = cnn_fail(err, CNN_ERR_IO, "%s: the lock file %s is not a regular file", path,
                      lock_path);
    else
        st = lock_fd(fd, path, lock_path, &who, err);
    free(lock_path);
    if (st != CNN_OK) {
        if (fd >= 0)
            close(fd);
        if (holder)
            *holder = who;
        return st;
    }
    *fd_out = fd;
    return CNN_OK;
}

void cnn_file_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}
