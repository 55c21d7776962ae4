/* cli.h — what the command-line subcommands share: the table-driven option
 * parser (options.c), strict number parsing, JSON output, opening models
 * and data sets with one-line errors, and the subcommand entry points. */
#ifndef CNN_CLI_H
#define CNN_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "cnn.h"
#include "cnn_data.h"
#include "cnn_model.h"

#define CNN_DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

/* --threads means the same everywhere. */
#define CLI_HELP_THREADS "OpenMP threads (default: all cores);\nthe results do not depend on it"

/* Largest --batch any command accepts. */
#define CLI_MAX_BATCH 65536

/* ---- options: one table line per option ---------------------------------
 *
 * Each command lists its options in an array of cli_opt, one line each:
 *
 *   CLI_INT("--epochs", "N", &o.epochs, 1, 100000, "total epochs (default 5)"),
 *   CLI_FLOAT("--lr", "X", &o.lr, 0, 1e3, CLI_LO_OPEN, "learning rate (default 0.05)"),
 *   CLI_CHOICE("--impl", &impl, CLI_CHOICES("ref", "blas"), "kernels (default blas)"),
 *
 * and cli_parse fills the variables, accepting "--opt value" and
 * "--opt=value", refusing bad values with one line that names the option
 * and the allowed range, suggesting the nearest option for a mistyped one,
 * and printing the help (made from the same table) for -h/--help. Variables
 * keep their initial values (the defaults) unless the option is given; the
 * last occurrence wins. After parsing, cli_given says whether the user gave
 * an option explicitly. */

typedef enum {
    CLI_OPT_INT,    /* int: a whole number in [lo, hi] */
    CLI_OPT_U64,    /* uint64_t: a whole number in [0, umax] */
    CLI_OPT_FLOAT,  /* float: a finite number in the range, each end open or closed */
    CLI_OPT_DOUBLE, /* double: the same, kept in double (optimizer hyper-parameters) */
    CLI_OPT_STRING, /* const char *: any non-empty string (files, specs) */
    CLI_OPT_FLAG,   /* int set to 1; takes no value */
    CLI_OPT_CHOICE, /* int: index of the value in `choices` */
} cli_opt_kind;

/* CLI_OPT_FLOAT/DOUBLE range ends: closed unless marked open. An infinite hi
 * (HUGE_VAL) means no upper bound. */
enum { CLI_CLOSED = 0, CLI_LO_OPEN = 1, CLI_HI_OPEN = 2 };

typedef struct {
    const char *name;  /* "--batch" */
    cli_opt_kind kind;
    const char *arg;   /* what the value is called in help: "N", "FILE" */
    void *dest;        /* where the value goes; type per kind, see above */
    long long lo, hi;  /* CLI_OPT_INT */
    uint64_t umax;     /* CLI_OPT_U64 */
    double flo, fhi;   /* CLI_OPT_FLOAT, CLI_OPT_DOUBLE */
    int open;          /* CLI_OPT_FLOAT, CLI_OPT_DOUBLE: CLI_LO_OPEN | CLI_HI_OPEN */
    const char *const *choices; /* CLI_OPT_CHOICE: NULL-terminated */
    const char *help;  /* help text; each '\n' starts an indented line */
    int given;         /* set by cli_parse: given on the command line */
} cli_opt;

/* The pointer casts check at compile time that dest has the kind's type. */
#define CLI_INT(nm, a, p, l, h, hl)                                                             \
    {.name = (nm), .kind = CLI_OPT_INT, .arg = (a), .dest = (1 ? (p) : (int *)0), .lo = (l),    \
     .hi = (h), .help = (hl)}
#define CLI_U64(nm, a, p, max, hl)                                                              \
    {.name = (nm), .kind = CLI_OPT_U64, .arg = (a), .dest = (1 ? (p) : (uint64_t *)0),         \
     .umax = (max), .help = (hl)}
#define CLI_FLOAT(nm, a, p, l, h, op, hl)                                                       \
    {.name = (nm), .kind = CLI_OPT_FLOAT, .arg = (a), .dest = (1 ? (p) : (float *)0),          \
     .flo = (l), .fhi = (h), .open = (op), .help = (hl)}
#define CLI_DOUBLE(nm, a, p, l, h, op, hl)                                                      \
    {.name = (nm), .kind = CLI_OPT_DOUBLE, .arg = (a), .dest = (1 ? (p) : (double *)0),        \
     .flo = (l), .fhi = (h), .open = (op), .help = (hl)}
#define CLI_STRING(nm, a, p, hl)                                                                \
    {.name = (nm), .kind = CLI_OPT_STRING, .arg = (a), .dest = (1 ? (p) : (const char **)0),   \
     .help = (hl)}
#define CLI_FLAG(nm, p, hl)                                                                     \
    {.name = (nm), .kind = CLI_OPT_FLAG, .dest = (1 ? (p) : (int *)0), .help = (hl)}
#define CLI_CHOICE(nm, p, ch, hl)                                                               \
    {.name = (nm), .kind = CLI_OPT_CHOICE, .dest = (1 ? (p) : (int *)0), .choices = (ch),      \
     .help = (hl)}
/* A NULL-terminated list for CLI_CHOICE (valid in the enclosing block). */
#define CLI_CHOICES(...) ((const char *const[]){__VA_ARGS__, NULL})

typedef struct {
    const char *name;     /* "train": messages say "cnn train: ..." */
    const char *synopsis; /* after "usage: cnn NAME ": "[OPTIONS]", "--model FILE IMAGE..." */
    const char *about;    /* paragraph(s) between the usage line and the options */
    const char *epilog;   /* after the options, or NULL */
    cli_opt *opts;
    int nopts;
    const char *operand;  /* name of positional arguments ("IMAGE"); NULL: none taken */
} cli_cmd;

#define CLI_NOPTS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* What cli_parse returns when the command should go on; otherwise its
 * result is the exit status: 0 after printing the help, 2 after one line
 * on stderr saying what is wrong. */
enum { CLI_CONTINUE = -1 };

/* Parse argv[1..argc-1] (argv[0] is the command name). Arguments that are
 * not options ("-" included, and all after "--") go, in order, to
 * operands[] (room for argc entries) when cmd->operand is set; otherwise
 * they are refused. */
int cli_parse(cli_cmd *cmd, int argc, char **argv, const char **operands, int *noperands);

/* The help text: usage line, about, the options from the table, epilog. */
void cli_help(const cli_cmd *cmd, FILE *f);

/* Whether the option called `name` was given (1) or left at its default
 * (0). Asking for a name not in the table is a programming error: -1. */
int cli_given(const cli_cmd *cmd, const char *name);

/* For a required option: 0 if given, else prints "cnn CMD: --model FILE is
 * required (see cnn CMD --help)" and returns 2. */
int cli_require(const cli_cmd *cmd, const char *name);

/* The candidate nearest to `s` by edit distance (case-insensitive,
 * transpositions count 1), or a unique candidate of which s is a prefix of
 * at least 3 characters; NULL when none is near enough to suggest. Leading
 * dashes are compared too, so "-batch" finds "--batch". */
const char *cli_nearest(const char *s, const char *const *candidates, int n);

/* Write s to f in single quotes, control characters as \xNN, so that a
 * message stays on one line whatever the user typed. */
void cli_quote(FILE *f, const char *s);

/* ---- strict numbers (no printing; 0 on success, -1 if s is not one) -----
 * Decimal only: no leading or trailing space, no '+', no leading zeros
 * ("010"), no hex or octal; floats also take ".5", "5.", "1e-3", but never
 * inf or nan; out of range is refused. */
int cli_parse_int(const char *s, long long lo, long long hi, long long *out);
int cli_parse_u64(const char *s, uint64_t max, uint64_t *out);
int cli_parse_float(const char *s, double lo, double hi, int open, double *out);
/* cli_parse_float for a float variable: also refuses what a float cannot hold. */
int cli_parse_float32(const char *s, double lo, double hi, int open, double *out);

/* ---- shared helpers ------------------------------------------------------ */

/* Write s as a JSON string (quoted, escaped) to f. */
void cli_json_string(FILE *f, const char *s);

/* A file the command will write (--save, --log, --out): refuse up front,
 * with one line, an empty name, a name ending in '/', an existing
 * directory, and a directory that cannot take a new file. 0 if fine, else
 * 1 after the message. */
int cli_check_output(const char *cmd, const char *flag, const char *path);

/* A model file given to --model or --resume: opened without blocking on a
 * FIFO and refused with one line if it is not a regular file or does not
 * start as a safetensors file does ("not a safetensors file"), before
 * anything slow happens. 0 if it may be one, else 1 after the message. */
int cli_check_model_file(const char *cmd, const char *path);

/* Load the model at path into a new network for up to *max_batch samples
 * (0: the batch size it was trained with; *max_batch is set to the size
 * used) on `threads` threads (0: all cores), using the implementation it was
 * trained with, so that results match those training printed. Prints
 * "cnn CMD: problem" and returns -1 on failure; meta may be NULL. */
int cli_open_model(const char *cmd, const char *path, int *max_batch, int threads,
                   cnn_net **net, cnn_model_meta *meta);

/* Load split "train" or "t10k" of the data set in dir: images of rows×cols
 * (0: any), labels below `classes`. When a file exists under two spellings
 * (x and x.gz), first says on `note` which one is read. Prints
 * "cnn CMD: problem" and returns -1 on failure. */
int cli_load_split(const char *cmd, const char *dir, const char *split, int rows, int cols,
                   int classes, FILE *note, cnn_dataset *out);

/* ---- class names (cli_classes.c) ------------------------------------------ */

/* Read `cnn train --classes FILE`: one name a line (surrounding spaces,
 * tabs and a CR trimmed; the last newline optional) into out (room for
 * CNN_MODEL_CLASS_NAMES), joined by '\n', and their number into *count.
 * A file that cannot be read, or an empty, repeated or otherwise bad line,
 * gets one line naming the file (and the line) and returns 1; else 0. */
int cli_read_class_names(const char *cmd, const char *path, char *out, int *count);

/* A model's names (cnn_model_meta.class_names) split into names[0..classes),
 * pointing into a static copy; all NULL when it has none. Returns 1 when it
 * has names, 0 when not. */
int cli_split_class_names(const char *joined, int classes, const char **names);

/* `cnn --version`: version, build type, compiler, BLAS, OpenMP. */
void cli_version(FILE *f);

/* `cnn train` under mpirun (cli_dist.c): init, rank and size, default
 * threads per rank, agreeing that every rank is ready, failing the whole
 * job with this rank's message, hooking the chain reduction into the
 * training options, and rank 0's communication summary. */
#include "cnn_train.h"
int cli_dist_begin(int *argc, char ***argv);
void cli_dist_end(void);
int cli_dist_rank(void);
int cli_dist_size(void);
int cli_dist_threads(void);
int cli_dist_all_ok(int ok);
void cli_dist_fail(const char *msg, int code);
void cli_dist_use(cnn_train_opts *o);
void cli_dist_report(void);

int cli_train(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_predict(int argc, char **argv);
int cli_filters(int argc, char **argv);

#endif
