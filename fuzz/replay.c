/* replay.c — runs a fuzz target's LLVMFuzzerTestOneInput over files and
 * directories of inputs without libFuzzer, so that any compiler builds it
 * and `meson test` replays the seed corpus (and past crashes) in the
 * release and sanitizer builds. A broken check aborts, failing the test.
 *
 * usage: fuzz_NAME_replay [--verdicts] FILE_OR_DIR...   (a missing argument
 *        is skipped, but finding no input at all is an error)
 * --verdicts prints a line per input: its name, ": ", and what the parser
 * made of it, if the target says (fuzz_verdict in harness.h). */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fprintf(stderr, "replay: %s: out of memory\n", path);
            fclose(f);
            return -1;
        }
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        uint8_t *bigger = realloc(buf, cap * 2);
        if (!bigger)
            free(buf);
        buf = bigger;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "replay: %s: read failed\n", path);
        free(buf);
        return -1;
    }
    /* An exact-size copy, so that reading past the input is caught by ASan
     * as it would be under libFuzzer. */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, n);
    free(buf);
    if (fuzz_verdicts) {
        printf("%s: ", path);
        fflush(stdout); /* before any abort, so the output shows which input */
    }
    LLVMFuzzerTestOneInput(exact, n);
    if (fuzz_verdicts) {
        printf("\n");
        fflush(stdout);
    }
    free(exact);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file in dir, in name order (so runs are repeatable). */
static int run_dir(const char *dir, int *count)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **more = realloc(names, cap * sizeof *names);
            if (!more) {
                rc = -1;
                break;
            }
            names = more;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        if (!(names[n] = malloc(len))) {
            rc = -1;
            break;
        }
        snprintf(names[n++], len, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        struct stat sb;
        if (rc == 0 && stat(names[i], &sb) == 0 && S_ISREG(sb.st_mode)) {
            if (run_file(names[i]) != 0)
                rc = -1;
            else
                (*count)++;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    int count = 0, rc = 0, first = 1;
    if (argc > 1 && strcmp(argv[1], "--verdicts") == 0) {
        fuzz_verdicts = 1;
        first = 2;
    }
    for (int i = first; i < argc && rc == 0; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) != 0) {
            if (errno == ENOENT)
                continue;
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        if (S_ISDIR(sb.st_mode))
            rc = run_dir(argv[i], &count);
        else if ((rc = run_file(argv[i])) == 0)
            count++;
    }
    if (rc != 0)
        return 1;
    if (count == 0) {
        fprintf(stderr, "replay: no inputs found\n");
        return 1;
    }
    printf("replay: %d inputs, all checks passed\n", count);
    return 0;
}
