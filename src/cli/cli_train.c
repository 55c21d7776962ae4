/* cli_train.c — `cnn train`: options, checks of the files it will write,
 * the writer's lock on the model files (one run per --save file), data
 * loading, class names, Ctrl-C handling and the per-epoch CSV log around
 * cnn_train(); the header and progress display are in cli_progress.c. */
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
#include "cnn_atomic_file.h"
#include "cnn_blas.h"
#include "cnn_train.h"

static const char about[] =
    "Train a network (--arch) on the batch-mean cross-entropy with mini-batch SGD or\n"
    "another optimizer. Each epoch: shuffled mini-batches, then loss and accuracy on\n"
    "the validation split (--val) and the test set. Under mpirun the ranks share\n"
    "each batch and give the same bits as one process.\n";

static const char epilog[] =
    "--resume FILE alone continues the run exactly: every option comes from the\n"
    "file; an option given that differs is applied and announced.\n"
    "Class names are stored in the model for eval and predict to print: those of\n"
    "--classes FILE, or for the default data set Fashion-MNIST's ten; on --resume,\n"
    "the checkpoint's unless --classes is given.\n"
    "Ctrl-C stops after the current step (saving a checkpoint with --save);\n"
    "a second Ctrl-C stops at once. When started with Ctrl-C ignored (a background\n"
    "job of a script), it stays ignored.\n"
    "Saves replace FILE all at once: a killed run leaves the previous model. One\n"
    "run at a time writes a FILE; a second is refused at start (it is locked\n"
    "through .NAME.cnn-lock, an empty file beside it).\n";

static const char *const impl_names[] = {"ref", "blas", NULL};

/* ---- Ctrl-C ---------------------------------------------------------------- */

static volatile sig_atomic_t stop_requested;

/* write(2) to stderr from a signal handler; nothing to do if it fails. */
static void say(const char *s, size_t n)
{
    ssize_t r = write(STDERR_FILENO, s, n);
    (void)r;
}

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
    if (cli_progress_live) {
        say(live, sizeof live - 1);
        cli_progress_live = 0;
    }
    if (cli_progress_evaluating)
        say(eval, sizeof eval - 1);
    else
        say(step, sizeof step - 1);
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

/* Hold the writer's lock on a model file (cnn_file_lock) for the whole run;
 * nothing to do for an option not given. */
static int lock_output(const char *flag, const char *path, int *fd)
{
    if (!path)
        return 0;
    cnn_err err = {{0}};
    if (cnn_file_lock(path, fd, NULL, &err) == CNN_OK)
        return 0;
    fprintf(stderr, "cnn train: %s %s\n", flag, err.msg);
    return -1;
}

/* Open the CSV log without blocking on a FIFO that has no reader; emptied,
 * or appended to (a resumed run's log goes on in the same file). */
static FILE *open_log(const char *path, int append)
{
    int fd = open(path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC) | O_CLOEXEC |
                            O_NONBLOCK | O_NOCTTY,
                  0666);
    if (fd < 0)
        return NULL;
    int fl = fcntl(fd, F_GETFL);
    FILE *f = NULL;
    if (fl >= 0 && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0)
        f = fdopen(fd, append ? "a" : "w");
    if (!f) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return f;
}

/* --classes FILE as read (cli_read_class_names), or none. */
typedef struct {
    const char *path;
    int count;
    char names[CNN_MODEL_CLASS_NAMES];
} class_file;

/* Load the data, check what can be checked, train. Under mpirun every rank
 * runs this; rank 0 alone prints, logs and writes models. */
static int train_main(cnn_train_opts *o, const char *data, const char *log_path, int limit,
                      int show_lr, const class_file *cf)
{
    const int rank = cli_dist_rank(), ranks = cli_dist_size();
    cnn_err err = {{0}};
    cnn_dataset train = {0}, test = {0};
    char msg[sizeof err.msg + 64] = "";
    FILE *note = rank == 0 ? stdout : NULL;
    int ok = cli_load_split("train", data, "train", 0, 0, CNN_MAX_CLASSES, note, &train) == 0 &&
             cli_load_split("train", data, "t10k", train.rows, train.cols, CNN_MAX_CLASSES,
                            note, &test) == 0;
    /* The classes: as many as the training labels use (Fashion-MNIST: 10). */
    for (int i = 0; ok && i < train.count; i++)
        if (train.labels[i] >= o->classes)
            o->classes = train.labels[i] + 1;
    for (int i = 0; ok && i < test.count; i++)
        if (test.labels[i] >= o->classes) {
            snprintf(msg, sizeof msg, "%s: test label %d, but the training labels are below %d",
                     data, test.labels[i], o->classes);
            ok = 0;
        }
    if (ok && cf->path && cf->count != o->classes) {
        snprintf(msg, sizeof msg, "%s: %d class name%s, but the data set has %d classes",
                 cf->path, cf->count, cf->count == 1 ? "" : "s", o->classes);
        ok = 0;
    }
    if (cf->path)
        o->class_names = cf->names;
    else if (!o->resume_path && o->classes == 10 && same_file(data, CNN_DEFAULT_DATA))
        o->class_names = CNN_FASHION_MNIST_CLASS_NAMES;
    if (limit > 0 && limit < train.count)
        train.count = limit;
    /* A bad --arch is a usage error: say so before anything is allocated. */
    int usage_error = 0;
    if (ok && o->arch && !o->resume_path) {
        cnn_arch a;
        if (cnn_arch_parse(&a, o->arch, train.rows, train.cols, 1, o->classes, &err) != CNN_OK) {
            snprintf(msg, sizeof msg, "--arch: %s", err.msg);
            ok = 0;
            usage_error = 1;
        }
    }
    if (!ok && msg[0] && ranks > 1) /* this rank's own problem, in its own words */
        fprintf(stderr, "cnn train (rank %d): %s\n", rank, msg);
    else if (!ok && msg[0])
        fprintf(stderr, "cnn train: %s\n", msg);
    /* Every rank checks the data and the options; any one failing ends all. */
    if (!cli_dist_all_ok(ok)) {
        cnn_dataset_free(&train);
        cnn_dataset_free(&test);
        return usage_error ? 2 : 1;
    }

    if (rank != 0) { /* one voice */
        o->save_path = NULL;
        o->save_best = NULL;
        log_path = NULL;
    }
    cli_progress d;
    cli_progress_init(&d, rank == 0 && isatty(STDERR_FILENO), test.count);
    d.show_lr = show_lr;
    if (log_path) {
        /* appended to on --resume, so one file holds the whole run */
        int append = o->resume_path != NULL;
        d.log = open_log(log_path, append);
        if (!d.log) {
            snprintf(msg, sizeof msg, "%s: cannot open for writing: %s", log_path,
                     strerror(errno));
            cli_dist_fail(msg, 1);
            cnn_dataset_free(&train);
            cnn_dataset_free(&test);
            return 1;
        }
        if (!append || ftell(d.log) == 0)
            fprintf(d.log, "epoch,step,train_loss,train_accuracy,test_loss,test_accuracy,"
                           "seconds,samples_per_second,lr,val_loss,val_accuracy\n");
    }
    if (!o->threads && ranks > 1)
        o->threads = cli_dist_threads();
    int threads = o->threads ? o->threads : cnn_blas_single_thread();
    if (rank == 0) {
        /* The rest of the header, the options in force, comes with
         * CNN_EVENT_START (cli_progress.c). */
        printf("cnn train: %d training and %d test images from %s\n", train.count, test.count,
               data);
        fflush(stdout);
    }
    d.resume_path = o->resume_path;
    d.threads = threads;
    d.ranks = ranks;
    d.rows = train.rows;
    d.cols = train.cols;

    catch_sigint();
    o->stop = &stop_requested;
    d.stop = &stop_requested;
    cli_dist_use(o);

    cnn_status st = cnn_train(o, &train, &test, rank == 0 ? cli_progress_event : NULL, &d, NULL,
                              &err);
    cli_progress_clear(&d);
    cli_progress_finish(&d);
    int rc = 0;
    if (st != CNN_OK) {
        rc = st == CNN_ERR_INTERRUPTED ? 130 : st == CNN_ERR_ARG ? 2 : 1;
        /* Divergence and interruption are agreed by all ranks (they stop at
         * the same step); anything else may be this rank's alone and must
         * end the whole job rather than leave the others waiting. */
        if (st == CNN_ERR_INTERRUPTED || st == CNN_ERR_DIVERGED || ranks == 1) {
            if (rank == 0)
                fprintf(stderr, "cnn train: %s\n", err.msg);
        } else {
            cli_dist_fail(err.msg, rc);
        }
    }
    cli_dist_report();
    if (d.log && (fclose(d.log) != 0 || d.log_failed)) {
        fprintf(stderr, "cnn train: %s: write failed\n", log_path);
        rc = rc ? rc : 1;
    }
    cnn_dataset_free(&train);
    cnn_dataset_free(&test);
    return rc;
}

/* Which options were given: on --resume the others come from the file. */
static unsigned given_bits(const cli_cmd *c)
{
    static const struct {
        const char *name;
        unsigned bit;
    } map[] = {
        {"--epochs", CNN_GIVEN_EPOCHS}, {"--batch", CNN_GIVEN_BATCH}, {"--lr", CNN_GIVEN_LR},
        {"--seed", CNN_GIVEN_SEED}, {"--arch", CNN_GIVEN_ARCH}, {"--impl", CNN_GIVEN_IMPL},
        {"--optimizer", CNN_GIVEN_OPTIMIZER}, {"--momentum", CNN_GIVEN_MOMENTUM},
        {"--nesterov", CNN_GIVEN_NESTEROV}, {"--beta1", CNN_GIVEN_BETA1},
        {"--beta2", CNN_GIVEN_BETA2}, {"--eps", CNN_GIVEN_EPS},
        {"--weight-decay", CNN_GIVEN_WEIGHT_DECAY}, {"--clip-norm", CNN_GIVEN_CLIP_NORM},
        {"--schedule", CNN_GIVEN_SCHEDULE}, {"--lr-min", CNN_GIVEN_LR_MIN},
        {"--gamma", CNN_GIVEN_GAMMA}, {"--step-epochs", CNN_GIVEN_STEP_EPOCHS},
        {"--warmup-epochs", CNN_GIVEN_WARMUP}, {"--val", CNN_GIVEN_VAL},
        {"--patience", CNN_GIVEN_PATIENCE},
    };
    unsigned g = 0;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (cli_given(c, map[i].name))
            g |= map[i].bit;
    return g;
}

int cli_train(int argc, char **argv)
{
    cnn_train_opts o;
    cnn_train_opts_default(&o);
    const char *data = CNN_DEFAULT_DATA, *log_path = NULL;
    static class_file cf; /* static: the names take 4 KiB */
    memset(&cf, 0, sizeof cf);
    int limit = 0, impl = o.impl == CNN_IMPL_REF ? 0 : 1, optimizer = 0, schedule = 0;
    cli_opt opts[] = {
        CLI_STRING("--data", "DIR", &data,
                   "MNIST-format data set: train-images-idx3-ubyte[.gz] etc.\n"
                   "(default " CNN_DEFAULT_DATA ")"),
        CLI_STRING("--classes", "FILE", &cf.path,
                   "class names, one a line, label 0 first, stored in the\n"
                   "model (default: Fashion-MNIST's for the default --data)"),
        CLI_STRING("--arch", "SPEC", &o.arch,
                   "the network: layers separated by commas, e.g.\n"
                   "conv6x5p2,relu,maxpool2,dense10 (convFxK[pP][sS], relu,\n"
                   "avgpoolN, maxpoolN, denseN; the last: dense<classes>), or a\n"
                   "preset: seed = " CNN_ARCH_SEED ",\n"
                   "lenet5 (default: seed)"),
        CLI_INT("--epochs", "N", &o.epochs, 1, 100000,
                "total epochs, including those of a resumed run (default 5)"),
        CLI_INT("--batch", "N", &o.batch, 1, CLI_MAX_BATCH, "samples per step (default 32)"),
        CLI_FLOAT("--lr", "X", &o.lr, 0, 1e3, CLI_LO_OPEN,
                  "learning rate (default: the preset's, seed 0.05,\nlenet5 0.1; else 0.05)"),
        CLI_CHOICE("--optimizer", &optimizer, CLI_CHOICES("sgd", "adam", "adamw"),
                   "update rule, as torch.optim defines it (default sgd)"),
        CLI_DOUBLE("--momentum", "M", &o.optim.momentum, 0, 1, CLI_HI_OPEN,
                   "sgd momentum (default 0: plain SGD)"),
        CLI_FLAG("--nesterov", &o.optim.nesterov, "sgd: Nesterov momentum (default: off)"),
        CLI_DOUBLE("--beta1", "B", &o.optim.beta1, 0, 1, CLI_HI_OPEN, "adam/adamw (default 0.9)"),
        CLI_DOUBLE("--beta2", "B", &o.optim.beta2, 0, 1, CLI_HI_OPEN,
                   "adam/adamw (default 0.999)"),
        CLI_DOUBLE("--eps", "E", &o.optim.eps, 0, 1, CLI_CLOSED, "adam/adamw (default 1e-8)"),
        CLI_DOUBLE("--weight-decay", "L", &o.optim.weight_decay, 0, 1e3, CLI_CLOSED,
                   "L2 on weights, not biases; decoupled for adamw\n(default 0)"),
        CLI_DOUBLE("--clip-norm", "C", &o.optim.clip_norm, 0, 1e9, CLI_LO_OPEN,
                   "scale the gradient down to global L2 norm C\n(default: off)"),
        CLI_CHOICE("--schedule", &schedule, CLI_CHOICES("constant", "step", "cosine"),
                   "learning rate per step (default constant)"),
        CLI_FLOAT("--gamma", "G", &o.gamma, 0, 1e3, CLI_LO_OPEN,
                  "step: factor every --step-epochs (default 0.1)"),
        CLI_DOUBLE("--step-epochs", "E", &o.step_epochs, 0, 1e6, CLI_LO_OPEN,
                   "step: period in epochs (default 1)"),
        CLI_FLOAT("--lr-min", "X", &o.lr_min, 0, 1e3, CLI_CLOSED,
                  "cosine: the final rate (default 0)"),
        CLI_DOUBLE("--warmup-epochs", "W", &o.warmup_epochs, 0, 1e6, CLI_CLOSED,
                   "linear ramp from 0 over W epochs (fractions\nallowed; default 0)"),
        CLI_INT("--val", "N", &o.val, 0, 1000000000,
                "hold out N training samples for validation\n(chosen from --seed; default 0)"),
        CLI_STRING("--save-best", "FILE", &o.save_best,
                   "keep the model of the best validation accuracy\n(default: not kept)"),
        CLI_INT("--patience", "P", &o.patience, 1, 100000,
                "stop after P epochs without a better validation\n"
                "accuracy (default: no early stop)"),
        CLI_U64("--seed", "N", &o.seed, UINT64_MAX,
                "seed of the one RNG: split, initialisation, shuffling\n(default 1)"),
        CLI_INT("--threads", "N", &o.threads, 1, 1024, CLI_HELP_THREADS),
        CLI_CHOICE("--impl", &impl, impl_names,
                   "naive reference loops or im2col+SGEMM (default blas)"),
        CLI_INT("--limit", "N", &limit, 1, 1000000000,
                "train on the first N training samples only (default: all)"),
        CLI_STRING("--save", "FILE", &o.save_path,
                   "write the model (safetensors) after every epoch and on\n"
                   "Ctrl-C (default: not saved)"),
        CLI_INT("--save-every", "N", &o.save_every, 1, 1000000000,
                "also write --save every N steps (default: at epoch ends)"),
        CLI_STRING("--resume", "FILE", &o.resume_path,
                   "continue exactly from a checkpoint written by --save\n(default: start afresh)"),
        CLI_STRING("--log", "FILE", &log_path,
                   "write per-epoch metrics as CSV, appended to on --resume\n(default: none)"),
    };
    cli_cmd cmd = {"train", "[OPTIONS]", about, epilog, opts, CLI_NOPTS(opts), NULL};
    int rc = cli_parse(&cmd, argc, argv, NULL, NULL);
    if (rc != CLI_CONTINUE)
        return rc;
    o.impl = impl == 0 ? CNN_IMPL_REF : CNN_IMPL_BLAS;
    o.optim.kind = (cnn_opt_kind)optimizer;
    o.schedule = (cnn_sched_kind)schedule;
    o.given = given_bits(&cmd);
    /* A preset's own rate and batch unless given (a resumed run's come
     * from its file). */
    if (!o.resume_path) {
        float lr;
        int batch;
        if (cnn_arch_preset_defaults(o.arch ? o.arch : "seed", &lr, &batch)) {
            if (!(o.given & CNN_GIVEN_LR))
                o.lr = lr;
            if (!(o.given & CNN_GIVEN_BATCH))
                o.batch = batch;
        }
    }
    if (o.optim.nesterov && !(o.optim.momentum > 0) && !o.resume_path) {
        fprintf(stderr, "cnn train: --nesterov needs --momentum M > 0\n");
        return 2;
    }
    if ((o.save_best || o.patience) && !o.val && !o.resume_path) {
        fprintf(stderr, "cnn train: --%s needs a validation split (--val N)\n",
                o.save_best ? "save-best" : "patience");
        return 2;
    }
    if (o.save_every && !o.save_path) {
        fprintf(stderr, "cnn train: --save-every needs --save FILE\n");
        return 2;
    }

    /* Everything that can be found wrong now must not wait for the data. */
    if (o.save_path && cli_check_output("train", "--save", o.save_path) != 0)
        return 1;
    if (o.save_best && cli_check_output("train", "--save-best", o.save_best) != 0)
        return 1;
    if (log_path && cli_check_output("train", "--log", log_path) != 0)
        return 1;
    if (o.resume_path && cli_check_model_file("train", o.resume_path) != 0)
        return 1;
    if (cf.path && cli_read_class_names("train", cf.path, cf.names, &cf.count) != 0)
        return 1;
    if (log_path && ((o.save_path && same_file(log_path, o.save_path)) ||
                     (o.resume_path && same_file(log_path, o.resume_path)))) {
        fprintf(stderr, "cnn train: --log %s: is also the %s file\n", log_path,
                o.save_path && same_file(log_path, o.save_path) ? "--save" : "--resume");
        return 2;
    }
    if (cli_dist_begin(&argc, &argv) != 0)
        return 1;
    /* One writer per model file: a second run saving to the same file is
     * refused now, before the data is read (rank 0 is the one that writes). */
    int locks[2] = {-1, -1};
    int locked = cli_dist_rank() != 0 ||
                 (lock_output("--save", o.save_path, &locks[0]) == 0 &&
                  lock_output("--save-best", o.save_best, &locks[1]) == 0);
    if (cli_dist_all_ok(locked)) {
        int show_lr = o.schedule != CNN_SCHED_CONSTANT || o.warmup_epochs > 0 || o.resume_path;
        rc = train_main(&o, data, log_path, limit, show_lr, &cf);
    } else {
        rc = 1;
    }
    cnn_file_unlock(locks[1]);
    cnn_file_unlock(locks[0]);
    cli_dist_end();
    return rc;
}
