/* test_options.c — the command-line option parser (src/cli/options.c) as a
 * library: the strict number grammar at its edges, ranges with open and
 * closed ends, a table as the train command will grow it (an unbounded
 * float, a three-way choice), which options were given explicitly, the
 * last of a repeated option winning, operands and "--", and the nearest
 * name for a mistyped one. The messages users see are checked end to end
 * in cli_options_test.sh; here only the ones no command has yet. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void test_int_grammar(void **state)
{
    (void)state;
    long long v;
    const char *good[] = {"0", "7", "-7", "100000", "-100000"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_int_equal(cli_parse_int(good[i], -100000, 100000, &v), 0);
    assert_int_equal(cli_parse_int("-42", -100, 100, &v), 0);
    assert_int_equal(v, -42);
    const char *bad[] = {"", " 1", "1 ", "+1", "01", "-01", "0x1", "1e3", "1.0", "--1",
                         "-", "1,0", "١", "100001", "-100001"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (cli_parse_int(bad[i], -100000, 100000, &v) == 0)
            fail_msg("accepted '%s'", bad[i]);
    assert_int_equal(cli_parse_int("9223372036854775807", 0, INT64_MAX, &v), 0);
    assert_int_equal(cli_parse_int("9223372036854775808", 0, INT64_MAX, &v), -1);
}

static void test_u64_grammar(void **state)
{
    (void)state;
    uint64_t u;
    assert_int_equal(cli_parse_u64("18446744073709551615", UINT64_MAX, &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(cli_parse_u64("18446744073709551616", UINT64_MAX, &u), -1);
    assert_int_equal(cli_parse_u64("99999999999999999999", UINT64_MAX, &u), -1);
    assert_int_equal(cli_parse_u64("11", 10, &u), -1);
    const char *bad[] = {"-1", " -1", "-0", "+1", " 1", "1 ", "01", "0x10", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (cli_parse_u64(bad[i], UINT64_MAX, &u) == 0)
            fail_msg("accepted '%s'", bad[i]);
}

static void test_float_grammar_and_ends(void **state)
{
    (void)state;
    double d;
    const char *good[] = {"1", "0.5", ".5", "5.", "1e-3", "1E+2", "-0.25", "3e0"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        if (cli_parse_float(good[i], -1, 1000, CLI_CLOSED, &d) != 0)
            fail_msg("refused '%s'", good[i]);
    const char *bad[] = {"", ".", "e3", "1e", "1e+", "+1", " 1", "1 ", "0x10", "0x1p3", "inf",
                         "-inf", "nan", "NAN", "infinity", "1e999", "1e-400", "1,5", "1f"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (cli_parse_float(bad[i], -HUGE_VAL, HUGE_VAL, CLI_CLOSED, &d) == 0)
            fail_msg("accepted '%s'", bad[i]);
    /* Ends: [0, 1) as a momentum would be; (0, 1] as a gamma would be. */
    assert_int_equal(cli_parse_float("0", 0, 1, CLI_HI_OPEN, &d), 0);
    assert_int_equal(cli_parse_float("1", 0, 1, CLI_HI_OPEN, &d), -1);
    assert_int_equal(cli_parse_float("0.999", 0, 1, CLI_HI_OPEN, &d), 0);
    assert_int_equal(cli_parse_float("0", 0, 1, CLI_LO_OPEN, &d), -1);
    assert_int_equal(cli_parse_float("1", 0, 1, CLI_LO_OPEN, &d), 0);
    assert_int_equal(cli_parse_float32("1e30", 0, HUGE_VAL, CLI_CLOSED, &d), 0);
    /* Finite as a double but not as a float. */
    assert_int_equal(cli_parse_float("1e300", 0, HUGE_VAL, CLI_CLOSED, &d), 0);
    assert_int_equal(cli_parse_float32("1e300", 0, HUGE_VAL, CLI_CLOSED, &d), -1);
}

/* Run cli_parse on a NULL-terminated argument list with stderr captured. */
static char captured[1024];
static int parse(cli_cmd *c, const char **operands, int *nop, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, nop);
    argv[argc++] = (char *)c->name;
    for (char *a; (a = va_arg(ap, char *)) != NULL;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    fflush(stderr);
    int saved = dup(2);
    FILE *t = tmpfile();
    assert_non_null(t);
    dup2(fileno(t), 2);
    int rc = cli_parse(c, argc, argv, operands, nop);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(t);
    size_t n = fread(captured, 1, sizeof captured - 1, t);
    captured[n] = '\0';
    fclose(t);
    return rc;
}

static const char *const optimizers[] = {"sgd", "momentum", "adam", NULL};

static void test_table(void **state)
{
    (void)state;
    int epochs = 5, opt = 0, nesterov = 0;
    float lr = 0.05f, wd = 0.0f;
    double eps = 1e-8;
    const char *arch = "seed";
    cli_opt opts[] = {
        CLI_INT("--epochs", "N", &epochs, 1, 100, "epochs"),
        CLI_FLOAT("--lr", "X", &lr, 0, 1e3, CLI_LO_OPEN, "learning rate"),
        CLI_FLOAT("--weight-decay", "X", &wd, 0, HUGE_VAL, CLI_CLOSED, "L2 penalty"),
        CLI_CHOICE("--optimizer", &opt, optimizers, "update rule"),
        CLI_FLAG("--nesterov", &nesterov, "Nesterov momentum"),
        CLI_DOUBLE("--eps", "X", &eps, 0, 1, CLI_LO_OPEN, "Adam's epsilon"),
        CLI_STRING("--arch", "SPEC", &arch, "architecture"),
    };
    cli_cmd c = {"train", "[OPTIONS]", "", NULL, opts, CLI_NOPTS(opts), NULL};

    assert_int_equal(parse(&c, NULL, NULL, "--lr=0.01", "--optimizer", "adam", "--epochs", "3",
                           "--epochs=4", "--nesterov", "--eps", "1e-300", NULL),
                     CLI_CONTINUE);
    assert_true(eps == 1e-300);
    assert_int_equal(epochs, 4); /* the last one wins */
    assert_true(lr == 0.01f);
    assert_int_equal(opt, 2);
    assert_int_equal(nesterov, 1);
    assert_string_equal(arch, "seed"); /* untouched: the default stays */
    assert_int_equal(cli_given(&c, "--epochs"), 1);
    assert_int_equal(cli_given(&c, "--lr"), 1);
    assert_int_equal(cli_given(&c, "--arch"), 0);
    assert_int_equal(cli_given(&c, "--weight-decay"), 0);
    assert_int_equal(cli_given(&c, "--no-such"), -1);

    /* A second parse starts from nothing given. */
    assert_int_equal(parse(&c, NULL, NULL, "--arch", "lenet5", NULL), CLI_CONTINUE);
    assert_int_equal(cli_given(&c, "--epochs"), 0);
    assert_int_equal(cli_given(&c, "--arch"), 1);
    assert_string_equal(arch, "lenet5");

    assert_int_equal(parse(&c, NULL, NULL, "--weight-decay", "-1", NULL), 2);
    assert_string_equal(captured, "cnn train: --weight-decay: expected a number >= 0, got '-1'\n");
    assert_int_equal(parse(&c, NULL, NULL, "--optimizer=adma", NULL), 2);
    assert_string_equal(captured, "cnn train: --optimizer: expected 'sgd', 'momentum', or "
                                  "'adam', got 'adma' (did you mean 'adam'?)\n");
    assert_int_equal(parse(&c, NULL, NULL, "--weight-decy", "0.1", NULL), 2);
    assert_string_equal(captured,
                        "cnn train: unknown option '--weight-decy' (did you mean --weight-decay?)\n");
    assert_true(wd == 0.0f);
    assert_int_equal(parse(&c, NULL, NULL, "--eps", "0", NULL), 2);
    assert_string_equal(captured, "cnn train: --eps: expected a number in (0, 1], got '0'\n");

    /* The help: a long option's text goes on the next line, aligned. */
    FILE *t = tmpfile();
    assert_non_null(t);
    cli_help(&c, t);
    rewind(t);
    char help[4096];
    help[fread(help, 1, sizeof help - 1, t)] = '\0';
    fclose(t);
    assert_non_null(strstr(help, "\n  --weight-decay X\n                   L2 penalty\n"));
    assert_non_null(strstr(help, "\n  --optimizer sgd|momentum|adam\n                   update rule\n"));
    assert_non_null(strstr(help, "\n  --nesterov       Nesterov momentum\n"));
    assert_non_null(strstr(help, "\n  -h, --help       show this help\n"));
}

static void test_operands(void **state)
{
    (void)state;
    int json = 0;
    cli_opt opts[] = {CLI_FLAG("--json", &json, "JSON")};
    cli_cmd c = {"predict", "IMAGE...", "", NULL, opts, CLI_NOPTS(opts), "IMAGE"};
    const char *ops[8];
    int n = -1;
    assert_int_equal(parse(&c, ops, &n, "a.pgm", "-", "--json", "--", "--json", "-b", NULL),
                     CLI_CONTINUE);
    assert_int_equal(n, 4);
    assert_string_equal(ops[0], "a.pgm");
    assert_string_equal(ops[1], "-");
    assert_string_equal(ops[2], "--json"); /* after "--": an operand */
    assert_string_equal(ops[3], "-b");
    assert_int_equal(json, 1);
}

static void test_nearest(void **state)
{
    (void)state;
    const char *cmds[] = {"train", "eval", "predict", "filters", "help"};
    assert_string_equal(cli_nearest("trian", cmds, 5), "train");
    assert_string_equal(cli_nearest("TRAIN", cmds, 5), "train");
    assert_string_equal(cli_nearest("evl", cmds, 5), "eval");
    assert_string_equal(cli_nearest("filter", cmds, 5), "filters");
    assert_string_equal(cli_nearest("pred", cmds, 5), "predict"); /* a unique prefix */
    assert_null(cli_nearest("frobnicate", cmds, 5));
    assert_null(cli_nearest("x", cmds, 5));
    assert_null(cli_nearest("train", cmds, 5)); /* exact: nothing to suggest */
    const char *opts[] = {"--save", "--save-best", "--save-every"};
    assert_string_equal(cli_nearest("--sav", opts, 3), "--save");
    assert_string_equal(cli_nearest("--save-e", opts, 3), "--save-every");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int_grammar),
        cmocka_unit_test(test_u64_grammar),
        cmocka_unit_test(test_float_grammar_and_ends),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_operands),
        cmocka_unit_test(test_nearest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
