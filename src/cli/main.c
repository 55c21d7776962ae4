/* main.c — the `cnn` command: dispatches to its subcommands, answers
 * --help, help CMD and --version, and suggests the nearest command for a
 * mistyped one. Only the command-line program prints errors and chooses
 * exit codes. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *what;
} commands[] = {
    {"train", cli_train, "train with mini-batch SGD on an MNIST-format data set"},
    {"eval", cli_eval, "loss, accuracy, per-class precision, recall and F1 of a model"},
    {"predict", cli_predict, "classify PGM or IDX images with a saved model"},
    {"filters", cli_filters, "draw a saved model's learned filters as a PNG or PGM"},
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

static void usage(FILE *f)
{
    fprintf(f, "usage: cnn COMMAND [OPTIONS]\n"
               "       cnn help [COMMAND]\n"
               "       cnn --version\n"
               "\n"
               "Train and use convolutional networks on MNIST-format data: by default the\n"
               "seed network (28x28 grayscale -> conv 15x5x5 -> ReLU -> 2x2 average pool ->\n"
               "dense 2160->10 -> softmax), or any other --arch.\n"
               "\n"
               "commands:\n");
    for (int i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].what);
    fprintf(f, "\n'cnn COMMAND --help' (or 'cnn help COMMAND') describes each command's "
               "options.\n");
}

static int unknown_command(const char *cmd)
{
    const char *names[NCOMMANDS + 1];
    for (int i = 0; i < NCOMMANDS; i++)
        names[i] = commands[i].name;
    names[NCOMMANDS] = "help";
    const char *near = cli_nearest(cmd, names, NCOMMANDS + 1);
    fprintf(stderr, "cnn: unknown command ");
    cli_quote(stderr, cmd);
    if (near)
        fprintf(stderr, " (did you mean %s?)\n", near);
    else
        fprintf(stderr, " (see cnn --help)\n");
    return 2;
}

static int run(const char *cmd, int argc, char **argv)
{
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].run(argc, argv);
    return unknown_command(cmd);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
        (strcmp(cmd, "help") == 0 && argc == 2)) {
        usage(stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        if (argc > 2) {
            fprintf(stderr, "cnn: --version takes no arguments\n");
            return 2;
        }
        cli_version(stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (strcmp(cmd, "help") == 0) {
        /* cnn help CMD is cnn CMD --help. */
        if (argc > 3) {
            fprintf(stderr, "cnn: help takes one command (see cnn --help)\n");
            return 2;
        }
        char help[] = "--help";
        char *args[] = {argv[2], help, NULL};
        if (strcmp(argv[2], "help") == 0) {
            usage(stdout);
            return fflush(stdout) == 0 ? 0 : 1;
        }
        return run(argv[2], 2, args);
    }
    if (cmd[0] == '-') {
        const char *names[] = {"--help", "--version"};
        const char *near = cli_nearest(cmd, names, 2);
        fprintf(stderr, "cnn: unknown option ");
        cli_quote(stderr, cmd);
        if (near)
            fprintf(stderr, " (did you mean %s?)\n", near);
        else
            fprintf(stderr, "; a command comes first (see cnn --help)\n");
        return 2;
    }
    return run(cmd, argc - 1, argv + 1);
}
