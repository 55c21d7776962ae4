/* cli.h — what the command-line subcommands share: option-value parsing
 * with one-line errors, JSON output, opening a model, and the subcommand
 * entry points. */
#ifndef CNN_CLI_H
#define CNN_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "cnn.h"
#include "cnn_model.h"

#define CNN_DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

/* Largest --batch any command accepts. */
#define CLI_MAX_BATCH 65536

/* Each parser prints "cnn CMD: FLAG: problem" to stderr and returns -1 on a
 * bad value; 0 on success. */
int cli_int(const char *cmd, const char *flag, const char *s, long lo, long hi, int *out);
int cli_u64(const char *cmd, const char *flag, const char *s, uint64_t *out);
int cli_float(const char *cmd, const char *flag, const char *s, double lo, double hi,
              float *out);

/* The flag's value: argv[*i+1], advancing *i; NULL (after an error line) if missing. */
const char *cli_value(const char *cmd, int argc, char **argv, int *i);

/* Write s as a JSON string (quoted, escaped) to f. */
void cli_json_string(FILE *f, const char *s);

/* Load the model at path into a new network for up to *max_batch samples
 * (0: the batch size it was trained with; *max_batch is set to the size
 * used) on `threads` threads (0: all cores), using the implementation it was
 * trained with, so that results match those training printed. Prints
 * "cnn CMD: problem" and returns -1 on failure; meta may be NULL. */
int cli_open_model(const char *cmd, const char *path, int *max_batch, int threads,
                   cnn_net **net, cnn_model_meta *meta);

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
