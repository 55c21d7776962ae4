/* fuzz_options.c — libFuzzer target: the command line's option parser
 * (src/cli/options.c): the input, cut at NUL bytes, is an argv for a table
 * with every kind of option, as cnn's commands declare them. Checks: the
 * parser returns continue, 0 (help) or 2 (usage error); after "continue"
 * every value lies in its declared range; the strict number parsers agree
 * with the table's verdicts. The parser's messages and help go to
 * /dev/null while it runs (stdout and stderr are restored after: libFuzzer
 * and the replay report through them). */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_ARGS = 32 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int devnull = -1, saved_err = -1, saved_out = -1;
    if (devnull < 0) {
        devnull = open("/dev/null", O_WRONLY);
        saved_err = dup(2);
        saved_out = dup(1);
        if (devnull < 0 || saved_err < 0 || saved_out < 0)
            return 0;
    }
    if (size > 2048)
        return 0;
    char *buf = malloc(size + 1), *argv[MAX_ARGS + 1];
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    int argc = 0;
    argv[argc++] = "train";
    for (char *p = buf; p <= buf + size && argc < MAX_ARGS; p += strlen(p) + 1)
        argv[argc++] = p;
    argv[argc] = NULL;

    int epochs = 5, flag = 0, choice = 1;
    uint64_t seed = 1;
    float lr = 0.05f;
    double momentum = 0.0;
    const char *file = NULL;
    cli_opt opts[] = {
        CLI_INT("--epochs", "N", &epochs, 1, 100000, "epochs"),
        CLI_U64("--seed", "N", &seed, UINT64_MAX, "seed"),
        CLI_FLOAT("--lr", "X", &lr, 0, 1e3, CLI_LO_OPEN, "rate"),
        CLI_DOUBLE("--momentum", "M", &momentum, 0, 1, CLI_HI_OPEN, "momentum"),
        CLI_FLAG("--nesterov", &flag, "flag"),
        CLI_CHOICE("--impl", &choice, CLI_CHOICES("ref", "blas"), "choice"),
        CLI_STRING("--save", "FILE", &file, "file"),
    };
    cli_cmd cmd = {"train", "[OPTIONS]", "fuzz", "", opts, CLI_NOPTS(opts), NULL};
    const char *operands[MAX_ARGS];
    int noperands = 0;
    fflush(stdout);
    fflush(stderr);
    dup2(devnull, 1);
    dup2(devnull, 2);
    int rc = cli_parse(&cmd, argc, argv, operands, &noperands);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    FUZZ_ASSERT(rc == CLI_CONTINUE || rc == 0 || rc == 2);
    if (rc == CLI_CONTINUE) {
        FUZZ_ASSERT(epochs >= 1 && epochs <= 100000);
        FUZZ_ASSERT(lr > 0.0f && lr <= 1e3f && isfinite(lr));
        FUZZ_ASSERT(momentum >= 0.0 && momentum < 1.0);
        FUZZ_ASSERT(choice == 0 || choice == 1);
        FUZZ_ASSERT(!file || file[0] != '\0');
    }
    /* the number grammar on every argument alone */
    for (int i = 1; i < argc; i++) {
        long long v;
        uint64_t u;
        double d;
        if (cli_parse_int(argv[i], -1000, 1000, &v) == 0)
            FUZZ_ASSERT(v >= -1000 && v <= 1000 && cli_parse_float(argv[i], -1e4, 1e4, 0, &d) == 0 &&
                        d == (double)v);
        if (cli_parse_u64(argv[i], UINT64_MAX, &u) == 0)
            FUZZ_ASSERT(argv[i][0] >= '0' && argv[i][0] <= '9');
        if (cli_parse_float(argv[i], -1e300, 1e300, 0, &d) == 0)
            FUZZ_ASSERT(isfinite(d));
    }
    free(buf);
    return 0;
}
