/* cli_classes.c — class names: `cnn train --classes FILE` (one name a line,
 * each bad line named with its number), the names the default data set is
 * known to have (Fashion-MNIST), and a model's names split for `eval` and
 * `predict` to print beside the class numbers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "../util/open_regular.h"

/* Length of the valid UTF-8 sequence at s (of n bytes), or 0: strict, as
 * the model file's JSON reader is (no overlong forms, no surrogates,
 * nothing past U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return 1;
    size_t len = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
               : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
        return 0;
    return len;
}

/* What is wrong with one name (already trimmed), or NULL. */
static const char *bad_name(const char *s, size_t n)
{
    if (n == 0)
        return "is empty";
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return "holds a control character";
        size_t k = utf8_seq((const unsigned char *)s + i, n - i);
        if (k == 0)
            return "is not valid UTF-8";
        i += k;
    }
    return NULL;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

int cli_read_class_names(const char *cmd, const char *path, char *out, int *count)
{
    cnn_err err = {{0}};
    int fd;
    if (cnn_open_regular(path, &fd, NULL, &err) != CNN_OK) {
        fprintf(stderr, "cnn %s: %s\n", cmd, err.msg);
        return 1;
    }
    /* Twice the room the names may take: trimmed spaces and CRs besides. */
    enum { CAP = 2 * CNN_MODEL_CLASS_NAMES };
    char *text = malloc(CAP + 1);
    size_t len = 0;
    ssize_t got = 1;
    while (text && len < CAP + 1 && (got = read(fd, text + len, CAP + 1 - len)) > 0)
        len += (size_t)got;
    int e = errno;
    close(fd);
    if (!text || got < 0) {
        fprintf(stderr, "cnn %s: %s: %s\n", cmd, path, text ? strerror(e) : "out of memory");
        free(text);
        return 1;
    }
    int rc = 1;
    if (len > CAP) {
        fprintf(stderr, "cnn %s: %s: too long for class names (at most %d bytes)\n", cmd, path,
                CNN_MODEL_CLASS_NAMES - 1);
        goto out;
    }
    if (len == 0) {
        fprintf(stderr, "cnn %s: %s: is empty, expected one class name a line\n", cmd, path);
        goto out;
    }
    if (memchr(text, '\0', len)) {
        fprintf(stderr, "cnn %s: %s: holds a NUL byte: not a text file of class names\n", cmd,
                path);
        goto out;
    }
    text[len] = '\0';
    if (len > 0 && text[len - 1] == '\n') /* the last line's newline is optional */
        text[--len] = '\0';
    const char *name[CNN_MAX_CLASSES];
    size_t nlen[CNN_MAX_CLASSES];
    int n = 0;
    size_t used = 0;
    for (char *p = text;; n++) {
        char *nl = strchr(p, '\n');
        char *end = nl ? nl : p + strlen(p);
        if (n == CNN_MAX_CLASSES) {
            fprintf(stderr, "cnn %s: %s: more than %d lines (a data set has at most %d classes)\n",
                    cmd, path, CNN_MAX_CLASSES, CNN_MAX_CLASSES);
            goto out;
        }
        while (p < end && is_space(*p))
            p++;
        while (end > p && is_space(end[-1]))
            end--;
        const char *why = bad_name(p, (size_t)(end - p));
        if (why) {
            fprintf(stderr, "cnn %s: %s: line %d %s%s\n", cmd, path, n + 1, why,
                    end == p ? " (one class name a line)" : "");
            goto out;
        }
        for (int j = 0; j < n; j++)
            if (nlen[j] == (size_t)(end - p) && memcmp(name[j], p, nlen[j]) == 0) {
                fprintf(stderr, "cnn %s: %s: line %d repeats line %d ", cmd, path, n + 1, j + 1);
                char one[80];
                snprintf(one, sizeof one, "%.*s", (int)(nlen[j] < 64 ? nlen[j] : 64), name[j]);
                cli_quote(stderr, one);
                fprintf(stderr, "\n");
                goto out;
            }
        name[n] = p;
        nlen[n] = (size_t)(end - p);
        used += nlen[n] + 1;
        if (!nl) {
            n++;
            break;
        }
        p = nl + 1;
    }
    if (used > CNN_MODEL_CLASS_NAMES) { /* each name and its '\n', the last one's the NUL */
        fprintf(stderr, "cnn %s: %s: the names take more than %d bytes\n", cmd, path,
                CNN_MODEL_CLASS_NAMES - 1);
        goto out;
    }
    size_t w = 0;
    for (int k = 0; k < n; k++) {
        memcpy(out + w, name[k], nlen[k]);
        w += nlen[k];
        out[w++] = k + 1 < n ? '\n' : '\0';
    }
    *count = n;
    rc = 0;
out:
    free(text);
    return rc;
}

int cli_split_class_names(const char *joined, int classes, const char **names)
{
    static char buf[CNN_MODEL_CLASS_NAMES];
    for (int k = 0; k < classes; k++)
        names[k] = NULL;
    if (!joined || !joined[0])
        return 0;
    snprintf(buf, sizeof buf, "%s", joined);
    char *p = buf;
    for (int k = 0; k < classes && p; k++) {
        names[k] = p;
        p = strchr(p, '\n');
        if (p)
            *p++ = '\0';
    }
    return 1;
}
