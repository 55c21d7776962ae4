/* main.c — the `cnn` command: dispatches to its subcommands. Only the
 * command-line program prints errors and chooses exit codes. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cnn COMMAND [OPTIONS]\n"
            "\n"
            "Train and use the seed convolutional network (28x28 grayscale -> conv 15x5x5\n"
            "-> ReLU -> 2x2 average pool -> dense 2160->10 -> softmax) on MNIST-format data.\n"
            "\n"
            "commands:\n"
            "  train     train with mini-batch SGD (default data: " CNN_DEFAULT_DATA ")\n"
            "  eval      loss, accuracy, per-class accuracy and confusion matrix of a saved model\n"
            "  predict   classify PGM or IDX images with a saved model\n"
            "  filters   draw a saved model's learned convolution filters as a PNG or PGM\n"
            "\n"
            "'cnn COMMAND --help' describes each command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "train") == 0)
        return cli_train(argc - 1, argv + 1);
    if (strcmp(cmd, "eval") == 0)
        return cli_eval(argc - 1, argv + 1);
    if (strcmp(cmd, "predict") == 0)
        return cli_predict(argc - 1, argv + 1);
    if (strcmp(cmd, "filters") == 0)
        return cli_filters(argc - 1, argv + 1);
    fprintf(stderr, "cnn: unknown command '%s' (try cnn --help)\n", cmd);
    return 2;
}
