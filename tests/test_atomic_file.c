/* test_atomic_file.c — the temporaries of cnn_atomic_write: named so a
 * person can tell what they are (.NAME.cnn-tmp-PID-XXXXXX), and those left
 * by a killed writer of the same target removed by the next save, while a
 * live writer's, another target's and unrecognised files are kept. */
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
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
