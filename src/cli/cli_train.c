/* cli_train.c — `cnn train`: options, checks of the files it will write,
 * data loading, Ctrl-C handling and the per-epoch CSV log around
 * cnn_train(); the progress display is in cli_progress.c. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_progress.h"
#include "cnn_blas.h"
#include "cnn_train.h"

static const char about[] =
    "Train the seed network with mini-batch SGD on the batch-mean cross-entropy.\n"
    "Each epoch: shuffled mini-batches, then loss and accuracy on the test set.\n";

static const char epilog[] =
    "Ctrl-C stops after the current step (saving a checkpoint with --save);\n"
    "a second Ctrl-C stops at once. When started with Ctrl-C ignored (a background\n"
    "job of a script), it stays ignored.\n";

static const char *const impl_names[] = {"ref", "blas", NULL};

/* ---- Ctrl-C ---------------------------------------------------------------- */

static volatile sig_atomic_t stop_requested;

static void on_sigint(int sig)
{
    (void)sig;
    stop_requested = 1;
    /* Say so at once (write(2) is async-signal-safe); the live line, if
     * any, is cleared first. */
    static const char live[] = "\r\033[K";
    static const char step[] = "cnn train: stopping after this step... (Ctrl-C again stops "
                               "at once)\n";
    static const char eval[] = "cnn train: stopping after the test pass... (Ctrl-C again "
                               "stops at once)\n";
    ssize_t r = 0;
    if (cli_progress_live) {
        r = write(STDERR_FILENO, live, sizeof live - 1);
        cli_progress_live = 0;
    }
    if (cli_progress_evaluating)
        r = write(STDERR_FILENO, eval, sizeof eval - 1);
    else
        r = write(STDERR_FILENO, step, sizeof step - 1);
    (void)r;
}

/* Install the handler unless SIGINT was inherited as ignored: `cnn train &`
 * from a script must not stop when the script's terminal gets a Ctrl-C. */
static void catch_sigint(void)
{
    struct sigaction old;
    if (sigaction(SIGINT, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C kills at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

/* ---- files ----------------------------------------------------------------- */

/* Same file: same name, or both exist and are one inode. */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (strcmp(a, b) == 0)
        return 1;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* Open the CSV log without blocking on a FIFO that has no reader. */
static FILE *open_log(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0666);
    if (fd < 0)
        return NULL;
    int fl = fcntl(fd, F_GETFL);
    FILE *f = NULL;
    if (fl >= 0 && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0)
        f = fdopen(fd, "w");
    if (!f) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return f;
}

int cli_train(int argc, char **argv)
{
    cnn_train_opts o;
    cnn_train_opts_default(&o);
    const char *data = CNN_DEFAULT_DATA, *log_path = NULL;
    int limit = 0, impl = o.impl == CNN_IMPL_REF ? 0 : 1;
    cli_opt opts[] = {
        CLI_STRING("--data", "DIR", &data,
                   "MNIST-format data set: train-images-idx3-ubyte[.gz] etc.\n"
                   "(default " CNN_DEFAULT_DATA ")"),
        CLI_INT("--epochs", "N", &o.epochs, 1, 100000,
                "total epochs, including those of a resumed run (default 5)"),
        CLI_INT("--batch", "N", &o.batch, 1, CLI_MAX_BATCH, "samples per SGD step (default 32)"),
        CLI_FLOAT("--lr", "X", &o.lr, 0, 1e3, CLI_LO_OPEN, "learning rate (default 0.05)"),
        CLI_U64("--seed", "N", &o.seed, UINT64_MAX,
                "seed of the one RNG: initialisation and shuffling (default 1)"),
        CLI_INT("--threads", "N", &o.threads, 1, 1024,
                CLI_HELP_THREADS),
        CLI_CHOICE("--impl", &impl, impl_names,
                   "naive reference loops or im2col+SGEMM (default blas)"),
        CLI_INT("--limit", "N", &limit, 1, 1000000000,
                "train on the first N training samples only (default: all)"),
        CLI_STRING("--save", "FILE", &o.save_path,
                   "write the model (safetensors) after every epoch and on Ctrl-C"),
        CLI_STRING("--resume", "FILE", &o.resume_path,
                   "continue exactly from a checkpoint written by --save"),
        CLI_STRING("--log", "FILE", &log_path, "write per-epoch metrics as CSV"),
    };
    cli_cmd cmd = {"train", "[OPTIONS]", about, epilog, opts, CLI_NOPTS(opts), NULL};
    int rc = cli_parse(&cmd, argc, argv, NULL, NULL);
    if (rc != CLI_CONTINUE)
        return rc;
    o.impl = impl == 0 ? CNN_IMPL_REF : CNN_IMPL_BLAS;

    /* Everything that can be found wrong now must not wait for the data. */
    if (o.save_path && cli_check_output("train", "--save", o.save_path) != 0)
        return 1;
    if (log_path && cli_check_output("train", "--log", log_path) != 0)
        return 1;
    if (o.resume_path && cli_check_model_file("train", o.resume_path) != 0)
        return 1;
    if (log_path && ((o.save_path && same_file(log_path, o.save_path)) ||
                     (o.resume_path && same_file(log_path, o.resume_path)))) {
        fprintf(stderr, "cnn train: --log %s: is also the %s file\n", log_path,
                o.save_path && same_file(log_path, o.save_path) ? "--save" : "--resume");
        return 2;
    }

    cnn_dataset train = {0}, test = {0};
    if (cli_load_split("train", data, "train", stdout, &train) != 0)
        return 1;
    if (cli_load_split("train", data, "t10k", stdout, &test) != 0) {
        cnn_dataset_free(&train);
        return 1;
    }
    if (limit > 0 && limit < train.count)
        train.count = limit;

    cli_progress d;
    cli_progress_init(&d, isatty(STDERR_FILENO), test.count);
    if (log_path) {
        d.log = open_log(log_path);
        if (!d.log) {
            fprintf(stderr, "cnn train: %s: cannot open for writing: %s\n", log_path,
                    strerror(errno));
            cnn_dataset_free(&train);
            cnn_dataset_free(&test);
            return 1;
        }
        fprintf(d.log, "epoch,step,train_loss,train_accuracy,test_loss,test_accuracy,"
                       "seconds,samples_per_second\n");
    }

    int threads = o.threads ? o.threads : cnn_blas_single_thread();
    printf("cnn train: %d training and %d test images from %s\n", train.count, test.count, data);
    printf("  impl %s, threads %d, batch %d, lr %g, seed %llu, epochs %d%s%s\n",
           cnn_impl_name(o.impl), threads, o.batch, (double)o.lr, (unsigned long long)o.seed,
           o.epochs, o.resume_path ? ", resuming from " : "", o.resume_path ? o.resume_path : "");
    fflush(stdout);

    catch_sigint();
    o.stop = &stop_requested;
    d.stop = &stop_requested;

    cnn_err err = {{0}};
    cnn_status st = cnn_train(&o, &train, &test, cli_progress_event, &d, NULL, &err);
    cli_progress_clear(&d);
    rc = 0;
    if (st != CNN_OK) {
        fprintf(stderr, "cnn train: %s\n", err.msg);
        rc = st == CNN_ERR_INTERRUPTED ? 130 : 1;
    }
    if (d.log && (fclose(d.log) != 0 || d.log_failed)) {
        fprintf(stderr, "cnn train: %s: write failed\n", log_path);
        rc = rc ? rc : 1;
    }
    cnn_dataset_free(&train);
    cnn_dataset_free(&test);
    return rc;
}
