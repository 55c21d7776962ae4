/* cli.h — what the command-line subcommands share: option-value parsing
 * with one-line errors, and the subcommand entry points. */
#ifndef CNN_CLI_H
#define CNN_CLI_H

#include <stdint.h>

#define CNN_DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

/* Each parser prints "cnn CMD: FLAG: problem" to stderr and returns -1 on a
 * bad value; 0 on success. */
int cli_int(const char *cmd, const char *flag, const char *s, long lo, long hi, int *out);
int cli_u64(const char *cmd, const char *flag, const char *s, uint64_t *out);
int cli_float(const char *cmd, const char *flag, const char *s, double lo, double hi,
              float *out);

/* The flag's value: argv[*i+1], advancing *i; NULL (after an error line) if missing. */
const char *cli_value(const char *cmd, int argc, char **argv, int *i);

int cli_train(int argc, char **argv);

#endif
