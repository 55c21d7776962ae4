/* cli_args.c — strict parsing of option values: the whole string must be a
 * number in range, or the user hears which flag and why. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

const char *cli_value(const char *cmd, int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "cnn %s: %s needs a value (see cnn %s --help)\n", cmd, argv[*i], cmd);
        return NULL;
    }
    return argv[++*i];
}

int cli_int(const char *cmd, const char *flag, const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno == ERANGE || v < lo || v > hi) {
        fprintf(stderr, "cnn %s: %s: expected a whole number from %ld to %ld, got '%s'\n", cmd,
                flag, lo, hi, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cli_u64(const char *cmd, const char *flag, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *s == '-' || *end != '\0' || errno == ERANGE) {
        fprintf(stderr, "cnn %s: %s: expected a non-negative whole number, got '%s'\n", cmd,
                flag, s);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

int cli_float(const char *cmd, const char *flag, const char *s, double lo, double hi,
              float *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || errno == ERANGE || !isfinite(v) || v <= lo || v > hi) {
        fprintf(stderr, "cnn %s: %s: expected a number in (%g, %g], got '%s'\n", cmd, flag, lo,
                hi, s);
        return -1;
    }
    *out = (float)v;
    return 0;
}
