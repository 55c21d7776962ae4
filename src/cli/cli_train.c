/* cli_train.c — `cnn train`: options, data loading, progress display,
 * Ctrl-C handling and the per-epoch CSV log around cnn_train(). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cnn_blas.h"
#include "cnn_train.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cnn train [OPTIONS]\n"
            "\n"
            "Train a network with mini-batch SGD on the batch-mean cross-entropy.\n"
            "Each epoch: shuffled mini-batches, then loss and accuracy on the test set.\n"
            "\n"
            "options:\n"
            "  --arch SPEC      the network: layers separated by commas, e.g.\n"
            "                   conv6x5p2,relu,maxpool2,dense10 (convFxK[pP][sS], relu,\n"
            "                   avgpoolN, maxpoolN, denseN; the last: dense<classes>), or a\n"
            "                   preset: seed (" CNN_ARCH_SEED "),\n"
            "                   lenet5 (default seed; --resume: the checkpoint's)\n"
            "  --data DIR       MNIST-format data set: train-images-idx3-ubyte[.gz] etc.\n"
            "                   (default " CNN_DEFAULT_DATA ")\n"
            "  --epochs N       total epochs, including those of a resumed run (default 5)\n"
            "  --batch N        samples per SGD step (default 32)\n"
            "  --lr X           learning rate (default 0.05)\n"
            "  --seed N         seed of the one RNG: initialisation and shuffling (default 1)\n"
            "  --threads N      OpenMP threads; results do not depend on it (default: all cores)\n"
            "  --impl ref|blas  naive reference loops or im2col+SGEMM (default blas)\n"
            "  --limit N        train on the first N training samples only (default: all)\n"
            "  --save FILE      write the model (safetensors) after every epoch and on Ctrl-C\n"
            "  --resume FILE    continue exactly from a checkpoint written by --save\n"
            "  --log FILE       write per-epoch metrics as CSV\n"
            "  -h, --help       show this help\n"
            "\n"
            "Ctrl-C stops after the current step (saving a checkpoint with --save);\n"
            "a second Ctrl-C stops at once.\n");
}

/* --save is first written after a whole epoch: find out now, not then, that
 * its directory cannot take the file. */
static int save_dir_writable(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (access(dir, W_OK | X_OK) == 0)
        return 1;
    fprintf(stderr, "cnn train: --save %s: cannot write in directory %s: ", path, dir);
    perror(NULL);
    return 0;
}

static volatile sig_atomic_t stop_requested;

static void on_sigint(int sig)
{
    (void)sig;
    stop_requested = 1;
}

typedef struct {
    int live;   /* stderr is a terminal: redraw one progress line */
    FILE *log;  /* CSV log or NULL */
    const char *log_path;
    int log_failed;
    double last_draw;
} display;

static void on_progress(const cnn_progress *p, void *ctx)
{
    display *d = ctx;
    if (p->event == CNN_EVENT_STEP) {
        if (!d->live || (p->seconds - d->last_draw < 0.1 && p->batch < p->batches))
            return;
        d->last_draw = p->seconds;
        fprintf(stderr, "\r  epoch %d/%d  batch %d/%d  loss %.4f  %.0f samples/s   ", p->epoch,
                p->epochs, p->batch, p->batches, p->loss_sum / (double)p->seen,
                (double)p->seen / (p->seconds > 0 ? p->seconds : 1e-9));
        return;
    }
    if (p->event == CNN_EVENT_NOTE) {
        if (d->live)
            fprintf(stderr, "\r%*s\r", 70, "");
        printf("  %s\n", p->note);
        fflush(stdout);
        return;
    }
    if (p->event == CNN_EVENT_EVALUATING) {
        if (d->live)
            fprintf(stderr, "\r  epoch %d/%d  evaluating...%*s", p->epoch, p->epochs, 40, "");
        return;
    }
    if (p->event == CNN_EVENT_SAVED) {
        printf("  saved %s\n", p->path);
        fflush(stdout);
        return;
    }
    if (d->live)
        fprintf(stderr, "\r%*s\r", 70, "");
    double train_loss = p->loss_sum / (double)p->seen;
    double train_acc = (double)p->correct / (double)p->seen;
    double rate = (double)p->seen / p->seconds;
    printf("epoch %d/%d  loss %.4f  train acc %.2f%%", p->epoch, p->epochs, train_loss,
           100.0 * train_acc);
    if (p->test_count > 0)
        printf("  test loss %.4f  test acc %.2f%%", p->test_loss, 100.0 * p->test_accuracy);
    printf("  %.1f s  %.0f samples/s\n", p->seconds, rate);
    fflush(stdout);
    d->last_draw = 0.0;
    if (d->log) {
        fprintf(d->log, "%d,%ld,%.6f,%.6f,%.6f,%.6f,%.3f,%.1f\n", p->epoch, p->step, train_loss,
                train_acc, p->test_count ? p->test_loss : 0.0,
                p->test_count ? p->test_accuracy : 0.0, p->seconds, rate);
        if (fflush(d->log) != 0)
            d->log_failed = 1;
    }
}

/* Load the data, check what can be checked, train. Under mpirun every rank
 * runs this; rank 0 alone prints, logs and writes models. */
static int train_main(cnn_train_opts *o, const char *data, const char *log_path, int limit)
{
    const int rank = cli_dist_rank(), ranks = cli_dist_size();
    cnn_err err = {{0}};
    cnn_dataset train = {0}, test = {0};
    char msg[sizeof err.msg + 64] = "";
    int ok = !o->save_path || save_dir_writable(o->save_path);
    if (ok && (cnn_dataset_load(data, "train", 0, 0, CNN_MAX_CLASSES, &train, &err) != CNN_OK ||
               cnn_dataset_load(data, "t10k", train.rows, train.cols, CNN_MAX_CLASSES, &test,
                                &err) != CNN_OK)) {
        snprintf(msg, sizeof msg, "%s", err.msg);
        ok = 0;
    }
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
    if (limit > 0 && limit < train.count)
        train.count = limit;
    /* A bad --arch is a usage error: say so before anything else happens. */
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

    display d = {.live = rank == 0 && isatty(STDERR_FILENO), .log_path = log_path};
    if (rank != 0) { /* one voice */
        o->save_path = NULL;
        o->save_best = NULL;
        log_path = NULL;
    }
    if (log_path) {
        d.log = fopen(log_path, "w");
        if (!d.log) {
            fprintf(stderr, "cnn train: %s: cannot open for writing: ", log_path);
            perror(NULL);
            cnn_dataset_free(&train);
            cnn_dataset_free(&test);
            cli_dist_fail("cannot open the log", 1);
            return 1;
        }
        fprintf(d.log, "epoch,step,train_loss,train_accuracy,test_loss,test_accuracy,"
                       "seconds,samples_per_second\n");
    }
    if (!o->threads && ranks > 1)
        o->threads = cli_dist_threads();
    int threads = o->threads ? o->threads : cnn_blas_single_thread();
    if (rank == 0) {
        printf("cnn train: %d training and %d test images from %s\n", train.count, test.count,
               data);
        printf("  arch %s\n", o->arch ? o->arch : o->resume_path ? "(from the checkpoint)" : "seed");
        printf("  impl %s, threads %d%s, batch %d, lr %g, seed %llu, epochs %d%s%s\n",
               cnn_impl_name(o->impl), threads, ranks > 1 ? " per rank" : "", o->batch,
               (double)o->lr, (unsigned long long)o->seed, o->epochs,
               o->resume_path ? ", resuming from " : "", o->resume_path ? o->resume_path : "");
        if (ranks > 1)
            printf("  mpi: %d ranks, chunks of %d samples dealt out in order\n", ranks,
                   CNN_CHUNK);
        fflush(stdout);
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C kills at once */
    sigaction(SIGINT, &sa, NULL);
    o->stop = &stop_requested;
    cli_dist_use(o);

    cnn_status st = cnn_train(o, &train, &test, rank == 0 ? on_progress : NULL, &d, NULL, &err);
    if (d.live)
        fprintf(stderr, "\r%*s\r", 70, "");
    int rc = 0;
    if (st != CNN_OK) {
        rc = st == CNN_ERR_INTERRUPTED ? 130 : 1;
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

int cli_train(int argc, char **argv)
{
    const char *cmd = "train";
    cnn_train_opts o;
    cnn_train_opts_default(&o);
    const char *data = CNN_DEFAULT_DATA, *log_path = NULL;
    int limit = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        int known = strcmp(a, "--data") == 0 || strcmp(a, "--epochs") == 0 ||
                    strcmp(a, "--batch") == 0 || strcmp(a, "--lr") == 0 ||
                    strcmp(a, "--seed") == 0 || strcmp(a, "--threads") == 0 ||
                    strcmp(a, "--impl") == 0 || strcmp(a, "--limit") == 0 ||
                    strcmp(a, "--save") == 0 || strcmp(a, "--resume") == 0 ||
                    strcmp(a, "--log") == 0 || strcmp(a, "--arch") == 0;
        if (!known) {
            fprintf(stderr, "cnn train: unknown option '%s' (see cnn train --help)\n", a);
            return 2;
        }
        if (!(v = cli_value(cmd, argc, argv, &i)))
            return 2;
        int bad = 0;
        if (strcmp(a, "--data") == 0)
            data = v;
        else if (strcmp(a, "--epochs") == 0)
            bad = cli_int(cmd, a, v, 1, 100000, &o.epochs), o.given |= CNN_GIVEN_EPOCHS;
        else if (strcmp(a, "--batch") == 0)
            bad = cli_int(cmd, a, v, 1, CLI_MAX_BATCH, &o.batch), o.given |= CNN_GIVEN_BATCH;
        else if (strcmp(a, "--lr") == 0)
            bad = cli_float(cmd, a, v, 0.0, 1e3, &o.lr), o.given |= CNN_GIVEN_LR;
        else if (strcmp(a, "--seed") == 0)
            bad = cli_u64(cmd, a, v, &o.seed), o.given |= CNN_GIVEN_SEED;
        else if (strcmp(a, "--threads") == 0)
            bad = cli_int(cmd, a, v, 1, 1024, &o.threads);
        else if (strcmp(a, "--impl") == 0) {
            o.given |= CNN_GIVEN_IMPL;
            if (cnn_impl_parse(v, &o.impl) != 0) {
                fprintf(stderr, "cnn train: --impl: expected 'ref' or 'blas', got '%s'\n", v);
                bad = 1;
            }
        } else if (strcmp(a, "--limit") == 0)
            bad = cli_int(cmd, a, v, 1, 1000000000, &limit);
        else if (strcmp(a, "--save") == 0)
            o.save_path = v;
        else if (strcmp(a, "--resume") == 0)
            o.resume_path = v;
        else if (strcmp(a, "--log") == 0)
            log_path = v;
        else if (strcmp(a, "--arch") == 0)
            o.arch = v, o.given |= CNN_GIVEN_ARCH;
        if (bad)
            return 2;
    }
    if (cli_dist_begin(&argc, &argv) != 0)
        return 1;
    int rc = train_main(&o, data, log_path, limit);
    cli_dist_end();
    return rc;
}
