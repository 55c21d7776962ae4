/* options.c — the option parser every subcommand uses (see cli.h): one
 * table line per option; "--opt value" and "--opt=value"; strict numbers
 * with the option and its range named on refusal; "did you mean" for a
 * mistyped option; help made from the same table. */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "../util/decimal.h"

/* ---- strict numbers ------------------------------------------------------ */

/* -?(0|[1-9][0-9]*): at most 20 digits, so it cannot be mistaken. */
static int whole_number_syntax(const char *s, int allow_minus)
{
    if (allow_minus && *s == '-')
        s++;
    if (!isdigit((unsigned char)*s) || (s[0] == '0' && s[1] != '\0'))
        return 0;
    size_t n = 0;
    while (isdigit((unsigned char)s[n]))
        n++;
    return s[n] == '\0' && n <= 20;
}

int cli_parse_int(const char *s, long long lo, long long hi, long long *out)
{
    if (!whole_number_syntax(s, 1))
        return -1;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!whole_number_syntax(s, 0))
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno == ERANGE || v > max)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

int cli_parse_float(const char *s, double lo, double hi, int open, double *out)
{
    if (!cnn_decimal_syntax(s))
        return -1;
    errno = 0;
    double v = strtod(s, NULL);
    /* ERANGE: overflow, or underflow to a denormal or zero: not what was typed. */
    if (errno == ERANGE || !isfinite(v))
        return -1;
    if (v < lo || v > hi || ((open & CLI_LO_OPEN) && v == lo) || ((open & CLI_HI_OPEN) && v == hi))
        return -1;
    *out = v;
    return 0;
}

int cli_parse_float32(const char *s, double lo, double hi, int open, double *out)
{
    double v;
    if (cli_parse_float(s, lo, hi, open, &v) != 0 || fabs(v) > FLT_MAX)
        return -1;
    *out = v;
    return 0;
}

/* ---- messages ------------------------------------------------------------ */

void cli_quote(FILE *f, const char *s)
{
    putc('\'', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\x%02x", c);
        else
            putc(c, f);
    }
    putc('\'', f);
}

/* "a whole number from 1 to 100", "a number in (0, 1000]", "a number > 0" */
static void describe_range(FILE *f, const cli_opt *o)
{
    switch (o->kind) {
    case CLI_OPT_INT:
        fprintf(f, "a whole number from %lld to %lld", o->lo, o->hi);
        break;
    case CLI_OPT_U64:
        fprintf(f, "a whole number from 0 to %llu", (unsigned long long)o->umax);
        break;
    case CLI_OPT_FLOAT:
    case CLI_OPT_DOUBLE:
        if (isinf(o->fhi))
            fprintf(f, "a number %s %g", (o->open & CLI_LO_OPEN) ? ">" : ">=", o->flo);
        else
            fprintf(f, "a number in %c%g, %g%c", (o->open & CLI_LO_OPEN) ? '(' : '[', o->flo,
                    o->fhi, (o->open & CLI_HI_OPEN) ? ')' : ']');
        break;
    case CLI_OPT_CHOICE:
        for (int k = 0; o->choices[k]; k++)
            fprintf(f, "%s'%s'", k == 0 ? "" : o->choices[k + 1] ? ", " : k == 1 ? " or " : ", or ",
                    o->choices[k]);
        break;
    default:
        fprintf(f, "%s", o->arg ? o->arg : "a value");
    }
}

static void see_help(const cli_cmd *c) { fprintf(stderr, " (see cnn %s --help)\n", c->name); }

/* ---- did you mean -------------------------------------------------------- */

/* Optimal string alignment distance, case-insensitive; long inputs are
 * simply "far". */
static int edit_distance(const char *a, const char *b)
{
    enum { MAXLEN = 64 };
    size_t n = strlen(a), m = strlen(b);
    if (n >= MAXLEN || m >= MAXLEN)
        return MAXLEN;
    int d[MAXLEN + 1][MAXLEN + 1];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            int best = d[i - 1][j - 1] + (ca != cb);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[n][m];
}

static const char *skip_dashes(const char *s)
{
    while (*s == '-')
        s++;
    return s;
}

const char *cli_nearest(const char *s, const char *const *candidates, int n)
{
    const char *best = NULL, *prefix_of = NULL;
    int best_d = 1 << 30, prefixes = 0;
    size_t core = strlen(skip_dashes(s));
    for (int i = 0; i < n; i++) {
        int d = edit_distance(s, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
        const char *c = skip_dashes(candidates[i]);
        if (core >= 3 && strncasecmp(skip_dashes(s), c, core) == 0 &&
            strcmp(s, candidates[i]) != 0) {
            prefixes++;
            prefix_of = candidates[i];
        }
    }
    /* Near enough: one edit in a short word, two in a longer one. */
    size_t len = best ? strlen(skip_dashes(best)) : 0;
    if (best && strcmp(best, s) != 0 && best_d <= (len <= 4 ? 1 : 2))
        return best;
    if (prefixes == 1)
        return prefix_of;
    return NULL;
}

/* ---- parsing ------------------------------------------------------------- */

static cli_opt *find_opt(cli_cmd *c, const char *name, size_t len)
{
    for (int i = 0; i < c->nopts; i++)
        if (strlen(c->opts[i].name) == len && strncmp(c->opts[i].name, name, len) == 0)
            return &c->opts[i];
    return NULL;
}

static const char *suggest(const cli_cmd *c, const char *name)
{
    const char *names[64];
    int n = 0;
    for (int i = 0; i < c->nopts && n < 63; i++)
        names[n++] = c->opts[i].name;
    names[n++] = "--help";
    return cli_nearest(name, names, n);
}

/* Store value v into o's variable: 0, or 2 after the error line. */
static int set_value(const cli_cmd *c, cli_opt *o, const char *v)
{
    long long i;
    uint64_t u;
    double d;
    int ok = 0;
    switch (o->kind) {
    case CLI_OPT_INT:
        if ((ok = cli_parse_int(v, o->lo, o->hi, &i) == 0))
            *(int *)o->dest = (int)i;
        break;
    case CLI_OPT_U64:
        if ((ok = cli_parse_u64(v, o->umax, &u) == 0))
            *(uint64_t *)o->dest = u;
        break;
    case CLI_OPT_FLOAT:
        if ((ok = cli_parse_float32(v, o->flo, o->fhi, o->open, &d) == 0))
            *(float *)o->dest = (float)d;
        break;
    case CLI_OPT_DOUBLE:
        if ((ok = cli_parse_float(v, o->flo, o->fhi, o->open, &d) == 0))
            *(double *)o->dest = d;
        break;
    case CLI_OPT_STRING:
        if (*v == '\0') {
            fprintf(stderr, "cnn %s: %s: empty value, expected %s\n", c->name, o->name,
                    o->arg ? o->arg : "a value");
            return 2;
        }
        *(const char **)o->dest = v;
        ok = 1;
        break;
    case CLI_OPT_CHOICE:
        for (int k = 0; o->choices[k]; k++) {
            if (strcmp(v, o->choices[k]) == 0) {
                *(int *)o->dest = k;
                ok = 1;
            }
        }
        break;
    case CLI_OPT_FLAG:
        break;
    }
    if (ok) {
        o->given = 1;
        return 0;
    }
    fprintf(stderr, "cnn %s: %s: expected ", c->name, o->name);
    describe_range(stderr, o);
    fprintf(stderr, ", got ");
    cli_quote(stderr, v);
    if (o->kind == CLI_OPT_CHOICE) {
        int n = 0;
        while (o->choices[n])
            n++;
        const char *near = cli_nearest(v, o->choices, n);
        if (near)
            fprintf(stderr, " (did you mean '%s'?)", near);
    }
    fprintf(stderr, "\n");
    return 2;
}

/* A separate value that is itself an option was most likely not meant as
 * the value: "--save --epochs 3". (Negative numbers have one dash.) */
static int looks_like_option(const char *s) { return s[0] == '-' && s[1] == '-'; }

int cli_parse(cli_cmd *c, int argc, char **argv, const char **operands, int *noperands)
{
    int options_done = 0;
    if (noperands)
        *noperands = 0;
    for (int i = 0; i < c->nopts; i++)
        c->opts[i].given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options_done || a[0] != '-' || strcmp(a, "-") == 0) {
            if (c->operand && operands && noperands) {
                operands[(*noperands)++] = a;
                continue;
            }
            fprintf(stderr, "cnn %s: unexpected argument ", c->name);
            cli_quote(stderr, a);
            /* "batch 64": the dashes forgotten. */
            char dashed[80];
            snprintf(dashed, sizeof dashed, "--%s", a);
            const cli_opt *exact = find_opt(c, dashed, strlen(dashed));
            const char *near = options_done ? NULL : exact ? exact->name : suggest(c, dashed);
            if (near)
                fprintf(stderr, " (did you mean %s?)\n", near);
            else
                see_help(c);
            return 2;
        }
        if (strcmp(a, "--") == 0) {
            options_done = 1;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cli_help(c, stdout);
            return fflush(stdout) == 0 ? 0 : 1;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        cli_opt *o = a[1] == '-' ? find_opt(c, a, len) : NULL;
        if (!o) {
            char name[80];
            snprintf(name, sizeof name, "%.*s", (int)(len < 79 ? len : 79), a);
            fprintf(stderr, "cnn %s: unknown option ", c->name);
            cli_quote(stderr, name);
            const char *near = suggest(c, name);
            if (near)
                fprintf(stderr, " (did you mean %s?)\n", near);
            else
                see_help(c);
            return 2;
        }
        if (o->kind == CLI_OPT_FLAG) {
            if (eq) {
                fprintf(stderr, "cnn %s: %s takes no value, got ", c->name, o->name);
                cli_quote(stderr, a);
                fprintf(stderr, "\n");
                return 2;
            }
            *(int *)o->dest = 1;
            o->given = 1;
            continue;
        }
        const char *v;
        if (eq) {
            v = eq + 1;
        } else if (i + 1 < argc && !looks_like_option(argv[i + 1])) {
            v = argv[++i];
        } else {
            fprintf(stderr, "cnn %s: %s needs a value", c->name, o->name);
            if (i + 1 < argc) {
                fprintf(stderr, ", got option ");
                cli_quote(stderr, argv[i + 1]);
                fprintf(stderr, " (write %s=VALUE if that is the value)\n", o->name);
            } else {
                see_help(c);
            }
            return 2;
        }
        int rc = set_value(c, o, v);
        if (rc)
            return rc;
    }
    return CLI_CONTINUE;
}

int cli_given(const cli_cmd *c, const char *name)
{
    for (int i = 0; i < c->nopts; i++)
        if (strcmp(c->opts[i].name, name) == 0)
            return c->opts[i].given;
    return -1;
}

int cli_require(const cli_cmd *c, const char *name)
{
    if (cli_given(c, name) == 1)
        return 0;
    const char *arg = NULL;
    for (int i = 0; i < c->nopts; i++)
        if (strcmp(c->opts[i].name, name) == 0)
            arg = c->opts[i].arg;
    fprintf(stderr, "cnn %s: %s%s%s is required (see cnn %s --help)\n", c->name, name,
            arg ? " " : "", arg ? arg : "", c->name);
    return 2;
}

/* ---- help ---------------------------------------------------------------- */

static void help_line(FILE *f, const char *left, const char *help)
{
    enum { COL = 16 };
    if (strlen(left) >= COL) /* keep two spaces before the text */
        fprintf(f, "  %s\n  %-*s ", left, COL, "");
    else
        fprintf(f, "  %-*s ", COL, left);
    for (const char *p = help; *p; p++) {
        putc(*p, f);
        if (*p == '\n')
            fprintf(f, "  %-*s ", COL, "");
    }
    putc('\n', f);
}

void cli_help(const cli_cmd *c, FILE *f)
{
    fprintf(f, "usage: cnn %s %s\n\n%s", c->name, c->synopsis, c->about);
    fprintf(f, "\noptions:\n");
    for (int i = 0; i < c->nopts; i++) {
        const cli_opt *o = &c->opts[i];
        char left[128];
        int n = snprintf(left, sizeof left, "%s", o->name);
        if (o->kind == CLI_OPT_CHOICE) {
            for (int k = 0; o->choices[k] && n > 0 && (size_t)n < sizeof left; k++)
                n += snprintf(left + n, sizeof left - (size_t)n, "%c%s", k ? '|' : ' ',
                              o->choices[k]);
        } else if (o->kind != CLI_OPT_FLAG) {
            snprintf(left + n, sizeof left - (size_t)n, " %s", o->arg ? o->arg : "VALUE");
        }
        help_line(f, left, o->help);
    }
    help_line(f, "-h, --help", "show this help");
    fprintf(f, "\nEach option takes its value as --opt VALUE or --opt=VALUE.\n");
    if (c->epilog)
        fprintf(f, "\n%s", c->epilog);
}
