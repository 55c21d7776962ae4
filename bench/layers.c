/* layers.c — bench/layers: where a network's time goes. For the
 * architecture of --arch (default: the seed network) it builds a ref and a
 * blas network with the same parameters, checks that blas agrees with ref
 * on a training step, then times every stage of the network's plan, ref
 * and blas, forward and backward, the whole training step and inference,
 * against the machine's own SGEMM rate measured in the same run. `--epoch`
 * instead times whole epochs of training on the real data set. This file:
 * options, the run's order, main. See bench/README.md for what each row
 * measures and bench.h for the other files. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cnn_blas.h"

#define DEFAULT_PEAK_N 1024
#define QUICK_PEAK_N 256

options opt;
int failures;

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, PROG ": out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

float *falloc(long n)
{
    /* 64-byte aligned and padded to whole cache lines, like net.c. */
    size_t bytes = ((size_t)(n > 0 ? n : 1) * sizeof(float) + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes);
    if (!p) {
        fprintf(stderr, PROG ": out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    memset(p, 0, bytes);
    return p;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: layers [--arch SPEC] [--batch LIST] [--threads N] [--repeats N]\n"
            "              [--csv|--json] [--epoch [DIR]] [--quick] [--peak-size N] [--flops]\n"
            "\n"
            "Time every stage of a network (cnn_net_run_stage), ref and blas, forward,\n"
            "parameter gradient and input gradient, the softmax+cross-entropy, the whole\n"
            "training step and inference, as the trainer runs them (OpenMP over chunks of\n"
            "%d samples, BLAS single-threaded). First, ref and blas networks with the same\n"
            "parameters must agree on one training step (loss, every layer's gradients,\n"
            "probabilities: max|blas-ref|/max|ref| <= %g); if not, nothing is timed and\n"
            "the exit status is 1. GFLOP/s are also given as a fraction of the machine's\n"
            "SGEMM rate, measured in the same run: each thread its own single-threaded\n"
            "N^3 SGEMM at once. Times are medians; the spread is p10-p90. See\n"
            "bench/README.md.\n"
            "\n"
            "options:\n"
            "  --arch SPEC       architecture spec or preset (seed, lenet5); default seed\n"
            "  --batch N[,N...]  batch sizes, 1..%d (default 64)\n"
            "  --threads N       OpenMP threads (default: all cores, here %d)\n"
            "  --repeats N       timed repeats per row (default: adaptive, %d..%d, about\n"
            "                    %.1f s per row); with --epoch: epochs (default 3)\n"
            "  --csv             CSV on stdout (header line first; the rest on stderr)\n"
            "  --json            JSON on stdout\n"
            "  --epoch [DIR]     instead: whole epochs of blas training (cnn_train) on\n"
            "                    Fashion-MNIST from DIR (default " DEFAULT_DATA "),\n"
            "                    test-set inference (cnn_evaluate), and ref vs blas\n"
            "                    training steps on real batches\n"
            "  --quick           smoke test: one warm-up run, one timed run per row, a\n"
            "                    %d^3 peak; checks everything runs, times mean little\n"
            "  --peak-size N     the peak's SGEMM size (default %d)\n"
            "  --flops           print the architecture's FLOPs per sample, layer by\n"
            "                    layer, and exit\n"
            "  -h, --help        show this help\n"
            "\n"
            "exit status: 0 ok, 1 the check failed or a run failed, 2 bad usage\n",
            CNN_CHUNK, CHECK_TOL, MAX_BATCH, opt.threads, MIN_REPEATS, MAX_REPEATS,
            ROW_BUDGET_S, QUICK_PEAK_N, DEFAULT_PEAK_N);
}

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One line on stderr, "layers: ..."; returns -1 for the caller to pass up. */
static int bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, PROG ": ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see --help)\n");
    va_end(ap);
    return -1;
}

/* A whole decimal integer in [lo, hi], nothing else (no sign, no spaces). */
static int parse_int(const char *flag, const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = (*s >= '0' && *s <= '9') ? strtol(s, &end, 10) : -1;
    if (v < 0 || *end != '\0' || errno == ERANGE || v < lo || v > hi)
        return bad("%s: '%s' is not a whole number in %ld..%ld", flag, s, lo, hi);
    *out = (int)v;
    return 0;
}

static int parse_batches(const char *s)
{
    char buf[256];
    if (strlen(s) >= sizeof buf)
        return bad("--batch: '%s' is too long", s);
    strcpy(buf, s);
    opt.nbatches = 0;
    for (char *p = buf;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (opt.nbatches == MAX_BATCHES)
            return bad("--batch: more than %d batch sizes", MAX_BATCHES);
        if (parse_int("--batch", p, 1, MAX_BATCH, &opt.batches[opt.nbatches]) != 0)
            return -1;
        opt.nbatches++;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

/* The value of a flag: "--flag=V" or "--flag V". */
static const char *value_of(int argc, char **argv, int *i, const char *arg, const char *flag)
{
    size_t n = strlen(flag);
    if (arg[n] == '=')
        return arg + n + 1;
    if (*i + 1 >= argc) {
        bad("%s needs a value", flag);
        return NULL;
    }
    return argv[++*i];
}

static int flag_is(const char *arg, const char *flag)
{
    size_t n = strlen(flag);
    return strncmp(arg, flag, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

/* Returns 0, 1 for --help or --flops (done, exit 0), -1 for bad usage. */
static int parse_args(int argc, char **argv)
{
    int have_csv = 0, have_json = 0, flops = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 1;
        } else if (flag_is(a, "--arch")) {
            if (!(v = value_of(argc, argv, &i, a, "--arch")))
                return -1;
            opt.arch_text = v;
        } else if (flag_is(a, "--batch")) {
            if (!(v = value_of(argc, argv, &i, a, "--batch")) || parse_batches(v) != 0)
                return -1;
        } else if (flag_is(a, "--threads")) {
            if (!(v = value_of(argc, argv, &i, a, "--threads")) ||
                parse_int("--threads", v, 1, 256, &opt.threads) != 0)
                return -1;
        } else if (flag_is(a, "--repeats")) {
            if (!(v = value_of(argc, argv, &i, a, "--repeats")) ||
                parse_int("--repeats", v, 1, 100000, &opt.repeats) != 0)
                return -1;
        } else if (flag_is(a, "--peak-size")) {
            if (!(v = value_of(argc, argv, &i, a, "--peak-size")) ||
                parse_int("--peak-size", v, 16, 8192, &opt.peak_n) != 0)
                return -1;
        } else if (strcmp(a, "--csv") == 0) {
            have_csv = 1;
            opt.fmt = FMT_CSV;
        } else if (strcmp(a, "--json") == 0) {
            have_json = 1;
            opt.fmt = FMT_JSON;
        } else if (strcmp(a, "--quick") == 0) {
            opt.quick = 1;
        } else if (strcmp(a, "--flops") == 0) {
            flops = 1;
        } else if (flag_is(a, "--epoch")) {
            opt.epoch = 1;
            /* DIR is optional: take the next word unless it is a flag. */
            if (a[strlen("--epoch")] == '=')
                opt.data_dir = a + strlen("--epoch=");
            else if (i + 1 < argc && argv[i + 1][0] != '-')
                opt.data_dir = argv[++i];
            if (!*opt.data_dir)
                return bad("--epoch: empty directory");
        } else {
            return bad("unknown option '%s'", a);
        }
    }
    if (have_csv && have_json)
        return bad("--csv and --json exclude each other");
    cnn_err err = {{0}};
    if (cnn_arch_parse(&opt.arch, opt.arch_text, IN_H, IN_W, IN_C, CLASSES, &err) != CNN_OK) {
        fprintf(stderr, PROG ": --arch: %s\n", err.msg);
        return -1;
    }
    if (!opt.peak_n)
        opt.peak_n = opt.quick ? QUICK_PEAK_N : DEFAULT_PEAK_N;
    if (flops) {
        print_flops(&opt.arch);
        return 1;
    }
    return 0;
}

/* The widest stage name of the blas plan, for the table's first column. */
static void size_layer_column(void)
{
    cnn_net *net = NULL;
    if (cnn_net_create(&net, &opt.arch, CNN_IMPL_BLAS, 1, 1) != CNN_OK)
        return;
    char buf[160];
    for (int s = 0; s <= cnn_net_stage_count(net); s++) {
        int first, count;
        report_layer_width((int)strlen(cnn_net_stage_name(net, s, buf, sizeof buf, &first,
                                                          &count)));
    }
    cnn_net_free(net);
}

/* The peak, then its row, first of all rows. */
static void peak_row(void)
{
    timing t;
    double gf = measure_peak(opt.threads, opt.peak_n, &t);
    report_set_peak(gf);
    static char dir[32];
    snprintf(dir, sizeof dir, "%d^3", opt.peak_n);
    report_line("SGEMM peak: %d thread(s), each a single-threaded %d^3 SGEMM at once: "
                "%.2f GFLOP/s (median of %d; p10-p90 %.2f-%.2f GFLOP/s)",
                opt.threads, opt.peak_n, gf, t.repeats, gf * t.med / t.p90, gf * t.med / t.p10);
    if (opt.fmt == FMT_TABLE)
        return;
    /* As a row: one "sample" is one SGEMM, the batch is one per thread. */
    row r = make_row("sgemm-peak", dir, "blas", opt.threads, &t,
                     2.0 * opt.peak_n * (double)opt.peak_n * opt.peak_n);
    emit_row(&r);
}

int main(int argc, char **argv)
{
    /* Before anything else touches BLAS or OpenMP: the trainer's setting. */
    opt.threads = cnn_blas_single_thread();
    opt.arch_text = "seed";
    opt.batches[0] = 64;
    opt.nbatches = 1;
    opt.data_dir = DEFAULT_DATA;
    int pa = parse_args(argc, argv);
    if (pa != 0)
        return pa > 0 ? 0 : 2;
    double t_start = now_s(), load_start = load_average();

    cnn_dataset train = {0}, test = {0};
    double load_s = 0;
    if (opt.epoch) {
        cnn_err err = {{0}};
        double a = now_s();
        if (cnn_dataset_load(opt.data_dir, "train", 0, 0, opt.arch.classes, &train, &err) !=
                CNN_OK ||
            cnn_dataset_load(opt.data_dir, "t10k", train.rows, train.cols, opt.arch.classes,
                             &test, &err) != CNN_OK) {
            fprintf(stderr, PROG ": %s\n", err.msg);
            cnn_dataset_free(&train);
            return 1;
        }
        load_s = now_s() - a;
        /* the architecture for the data set's images */
        if (cnn_arch_parse(&opt.arch, opt.arch_text, train.rows, train.cols, 1, CLASSES,
                           &err) != CNN_OK) {
            fprintf(stderr, PROG ": --arch: %s\n", err.msg);
            cnn_dataset_free(&train);
            cnn_dataset_free(&test);
            return 2;
        }
    }

    size_layer_column();
    report_begin(load_start, &train, &test, load_s);
    peak_row();
    for (int b = 0; b < opt.nbatches; b++) {
        if (opt.fmt == FMT_TABLE)
            printf("\n");
        if (opt.epoch)
            bench_epochs(opt.batches[b], &train, &test);
        else
            bench_batch(opt.batches[b]);
    }
    cnn_dataset_free(&train);
    cnn_dataset_free(&test);
    report_end(now_s() - t_start, load_start);
    return failures ? 1 : 0;
}
