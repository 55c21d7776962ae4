/* cli_files.c — the files a command is given, checked before anything slow
 * happens: outputs (--save, --log) that could only fail after an epoch, and
 * data sets, with a word on which file is read when there is a choice. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int cli_check_output(const char *cmd, const char *flag, const char *path)
{
    size_t n = strlen(path);
    if (n == 0) {
        fprintf(stderr, "cnn %s: %s: empty value, expected FILE\n", cmd, flag);
        return 1;
    }
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "cnn %s: %s %s: is a directory, expected a file name\n", cmd, flag, path);
        return 1;
    }
    if (path[n - 1] == '/') {
        fprintf(stderr, "cnn %s: %s %s: ends in '/', expected a file name\n", cmd, flag, path);
        return 1;
    }
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) {
        fprintf(stderr, "cnn %s: out of memory\n", cmd);
        return 1;
    }
    int rc = 0;
    if (access(dir, W_OK | X_OK) != 0) {
        fprintf(stderr, "cnn %s: %s %s: cannot write in directory %s: %s\n", cmd, flag, path,
                dir, strerror(errno));
        rc = 1;
    }
    free(dir);
    return rc;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

int cli_load_split(const char *cmd, const char *dir, const char *split, int rows, int cols,
                   int classes, FILE *note,
                   cnn_dataset *out)
{
    cnn_err err = {{0}};
    cnn_dataset_files files;
    if (cnn_dataset_find(dir, split, &files, &err) != CNN_OK) {
        fprintf(stderr, "cnn %s: %s\n", cmd, err.msg);
        return -1;
    }
    const char *found[2] = {files.images, files.labels};
    const char *also[2] = {files.images_also, files.labels_also};
    for (int k = 0; k < 2; k++)
        if (also[k])
            fprintf(note, "cnn %s: reading %s (not %s beside it)\n", cmd, found[k],
                    base_name(also[k]));
    fflush(note);
    cnn_dataset_files_free(&files);
    if (cnn_dataset_load(dir, split, rows, cols, classes, out, &err) != CNN_OK) {
        fprintf(stderr, "cnn %s: %s\n", cmd, err.msg);
        return -1;
    }
    return 0;
}
