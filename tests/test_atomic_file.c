/* test_atomic_file.c — the temporaries of cnn_atomic_write: named so a
 * person can tell what they are (.NAME.cnn-tmp-PID-XXXXXX), and those left
 * by a killed writer of the same target removed by the next save, while a
 * live writer's, another target's and unrecognised files are kept; and the
 * writer's lock (cnn_file_lock): refused to a second process with the
 * holder's PID, free again once the holder is killed, blind to other
 * targets, and no obstacle to replacing the file. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cnn_atomic_file.h"

static char dir[] = "/tmp/test_atomic_file.XXXXXX";

static const char *in_dir(const char *name)
{
    static char path[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", dir, name);
    return path[k];
}

static void touch(const char *name)
{
    FILE *f = fopen(in_dir(name), "w");
    assert_non_null(f);
    fputs("partial", f);
    assert_int_equal(fclose(f), 0);
}

static int exists(const char *name) { return access(in_dir(name), F_OK) == 0; }

/* A PID that was a process a moment ago and is no more. */
static pid_t dead_pid(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return pid;
}

/* The writer looks for its own temporary while it is being written. */
static cnn_status write_and_look(FILE *f, void *ctx)
{
    char *seen = ctx;
    char want[64];
    snprintf(want, sizeof want, ".m.bin.cnn-tmp-%ld-", (long)getpid());
    DIR *d = opendir(dir);
    if (!d)
        return CNN_ERR_IO;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, want, strlen(want)) == 0 &&
            strlen(e->d_name) == strlen(want) + 6)
            snprintf(seen, 256, "%s", e->d_name);
    closedir(d);
    return fputs("new content\n", f) >= 0 ? CNN_OK : CNN_ERR_IO;
}

static void test_temp_name_and_stale_cleanup(void **state)
{
    (void)state;
    char stale[128], stale2[128], live[128], other[128], odd[128];
    snprintf(stale, sizeof stale, ".m.bin.cnn-tmp-%ld-Ab3dEf", (long)dead_pid());
    snprintf(stale2, sizeof stale2, ".m.bin.cnn-tmp-%ld-zzzzzz", (long)dead_pid());
    /* Our parent (the test runner) is alive while we run. */
    snprintf(live, sizeof live, ".m.bin.cnn-tmp-%ld-Ab3dEf", (long)getppid());
    snprintf(other, sizeof other, ".m.bin.x.cnn-tmp-%ld-Ab3dEf", (long)dead_pid());
    snprintf(odd, sizeof odd, ".m.bin.cnn-tmp-%ld-toolong", (long)dead_pid());
    const char *names[] = {stale, stale2, live, other, odd, ".m.bin.tmp.Ab3dEf"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        touch(names[i]);

    char seen[256] = "";
    cnn_err err = {{0}};
    assert_int_equal(cnn_atomic_write(in_dir("m.bin"), write_and_look, seen, &err), CNN_OK);

    assert_true(seen[0] != '\0'); /* the temporary had the documented name */
    assert_false(exists(seen));   /* and was renamed away */
    assert_true(exists("m.bin"));
    assert_false(exists(stale));
    assert_false(exists(stale2));
    assert_true(exists(live));
    assert_true(exists(other));
    assert_true(exists(odd));
    assert_true(exists(".m.bin.tmp.Ab3dEf"));
}

/* A child takes the lock on m.bin, says so through a pipe, and waits to be
 * killed; should a failed assertion skip the kill, it ends when this
 * process does (end of file on *ctl, kept open here). */
static pid_t lock_in_child(int *ctl)
{
    int fds[2], hold[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(pipe(hold), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        close(hold[1]);
        int fd;
        char ok = cnn_file_lock(in_dir("m.bin"), &fd, NULL, NULL) == CNN_OK ? 'y' : 'n';
        if (write(fds[1], &ok, 1) != 1)
            _exit(1);
        char c;
        while (read(hold[0], &c, 1) != 0) {
        }
        _exit(0);
    }
    close(fds[1]);
    close(hold[0]);
    *ctl = hold[1];
    char ok = 0;
    assert_int_equal(read(fds[0], &ok, 1), 1);
    close(fds[0]);
    assert_int_equal(ok, 'y');
    return pid;
}

static void test_lock(void **state)
{
    (void)state;
    int ctl;
    pid_t child = lock_in_child(&ctl);
    int fd = -2;
    long holder = -1;
    cnn_err err = {{0}};
    assert_int_equal(cnn_file_lock(in_dir("m.bin"), &fd, &holder, &err), CNN_ERR_BUSY);
    assert_int_equal(fd, -1);
    assert_int_equal(holder, (long)child);
    char want[400];
    snprintf(want, sizeof want, "%s: another cnn process (pid %ld) is writing this file",
             in_dir("m.bin"), (long)child);
    assert_string_equal(err.msg, want);
    assert_true(exists(".m.bin.cnn-lock"));

    /* Another target in the same directory is free; the locked one can
     * still be replaced (the lock is advisory and beside it). */
    int fd2;
    assert_int_equal(cnn_file_lock(in_dir("n.bin"), &fd2, NULL, &err), CNN_OK);
    char seen[256] = "";
    assert_int_equal(cnn_atomic_write(in_dir("m.bin"), write_and_look, seen, &err), CNN_OK);

    /* Killed, the holder lets go; the lock file stays, and means nothing. */
    assert_int_equal(kill(child, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    close(ctl);
    assert_int_equal(cnn_file_lock(in_dir("m.bin"), &fd, &holder, &err), CNN_OK);
    assert_true(fd >= 0);
    assert_int_equal(holder, 0);
    /* Taking it again in the same process succeeds (fcntl locks are the
     * process's); releasing gives it back. */
    int fd3;
    assert_int_equal(cnn_file_lock(in_dir("m.bin"), &fd3, NULL, &err), CNN_OK);
    cnn_file_unlock(fd3);
    cnn_file_unlock(fd);
    cnn_file_unlock(fd2);
    cnn_file_unlock(-1);
    assert_true(exists(".m.bin.cnn-lock"));

    /* A name that is no file name, and a lock file that cannot be one. */
    assert_int_equal(cnn_file_lock(in_dir(""), &fd, NULL, &err), CNN_ERR_ARG);
    assert_int_equal(mkdir(in_dir(".d.bin.cnn-lock"), 0700), 0);
    assert_int_equal(cnn_file_lock(in_dir("d.bin"), &fd, NULL, &err), CNN_ERR_IO);
    snprintf(want, sizeof want, "%s: cannot open the lock file %s: Is a directory",
             in_dir("d.bin"), in_dir(".d.bin.cnn-lock"));
    assert_string_equal(err.msg, want);
    assert_int_equal(fd, -1);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_temp_name_and_stale_cleanup),
        cmocka_unit_test(test_lock),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
