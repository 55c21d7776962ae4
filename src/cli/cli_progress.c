/* cli_progress.c — the header (the options in force), the live line, the
 * epoch lines and the CSV log of `cnn train` (see cli_progress.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli_progress.h"

volatile sig_atomic_t cli_progress_live, cli_progress_evaluating;

/* Inference runs about 2.5 times as many samples a second as training
 * (README, Performance): the test pass's time until one is measured. */
#define INFER_SPEEDUP 2.5

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_format_duration(char *buf, size_t cap, double seconds)
{
    if (!(seconds >= 0) || seconds > 1e8)
        seconds = 0; /* nothing sensible to show */
    long s = (long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, cap, "%ld:%02ld", s / 60, s % 60);
}

void cli_progress_init(cli_progress *d, int live, long test_count)
{
    memset(d, 0, sizeof *d);
    d->live = live;
    d->test_count = test_count;
    d->start = now();
    cli_progress_live = 0;
    cli_progress_evaluating = 0;
}

/* Draw the live line, cut to the terminal's width so it never wraps (a
 * wrapped line cannot be redrawn in place). */
static void draw(cli_progress *d, const char *line)
{
    struct winsize ws;
    int cols = 80;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        cols = ws.ws_col;
    fprintf(stderr, "\r%.*s\033[K", cols - 1, line);
    fflush(stderr);
    cli_progress_live = 1;
    (void)d;
}

void cli_progress_clear(cli_progress *d)
{
    if (d->live && cli_progress_live) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
    cli_progress_live = 0;
}

static void on_step(cli_progress *d, const cnn_progress *p)
{
    if (p->epoch != d->epoch) {
        d->epoch = p->epoch;
        d->first_batch = p->batch - 1; /* a resumed run starts mid-epoch */
    }
    int last = p->batch >= p->batches;
    cli_progress_evaluating = last && d->test_count > 0;
    if (!d->live || (d->stop && *d->stop))
        return;
    /* At most 10 redraws a second; the first step and the last are always
     * shown. */
    int steps = p->batch - d->first_batch;
    if (!last && steps > 1 && p->seconds - d->last_draw < 0.1)
        return;
    d->last_draw = p->seconds;

    char elapsed[32], eta[32], line[256];
    cli_format_duration(elapsed, sizeof elapsed, now() - d->start);
    double per_step = steps > 0 ? p->seconds / steps : 0.0;
    double per_sample = p->seen > 0 ? p->seconds / (double)p->seen : 0.0;
    double test = d->test_seconds > 0 ? d->test_seconds
                                      : (double)d->test_count * per_sample / INFER_SPEEDUP;
    long steps_left = (long)(p->batches - p->batch) + (long)(p->epochs - p->epoch) * p->batches;
    double left = (double)steps_left * per_step + (double)(p->epochs - p->epoch + 1) * test;
    cli_format_duration(eta, sizeof eta, left);
    if (cli_progress_evaluating)
        snprintf(line, sizeof line, "  epoch %d/%d  evaluating on %ld test images...  "
                 "elapsed %s  ETA %s", p->epoch, p->epochs, d->test_count, elapsed, eta);
    else
        snprintf(line, sizeof line, "  epoch %d/%d  batch %d/%d  loss %.4f  %.0f/s  "
                 "elapsed %s  ETA %s", p->epoch, p->epochs, p->batch, p->batches,
                 p->loss_sum / (double)p->seen, per_sample > 0 ? 1.0 / per_sample : 0.0,
                 elapsed, eta);
    draw(d, line);
}

static void on_epoch(cli_progress *d, const cnn_progress *p)
{
    cli_progress_evaluating = 0;
    cli_progress_clear(d);
    if (p->test_count > 0)
        d->test_seconds = p->test_seconds;
    double train_loss = p->loss_sum / (double)p->seen;
    double train_acc = (double)p->correct / (double)p->seen;
    double rate = (double)p->seen / p->seconds;
    /* 80 columns: "epoch 10/10  loss 0.4554 acc 84.08%  test loss 0.4127
     * acc 85.70%  0.9s  69355/s" is 80 characters. */
    printf("epoch %d/%d  loss %.4f acc %.2f%%", p->epoch, p->epochs, train_loss,
           100.0 * train_acc);
    if (p->test_count > 0)
        printf("  test loss %.4f acc %.2f%%", p->test_loss, 100.0 * p->test_accuracy);
    printf("  %.1fs  %.0f/s\n", p->seconds, rate);
    /* The validation split and a changing rate: a second line, on purpose. */
    if (p->val_count > 0 || d->show_lr) {
        printf("       ");
        if (p->val_count > 0)
            printf("  val loss %.4f acc %.2f%% (best: epoch %d)", p->val_loss,
                   100.0 * p->val_accuracy, p->best_epoch);
        if (d->show_lr)
            printf("  lr %.4g", (double)p->lr);
        printf("\n");
    }
    fflush(stdout);
    d->last_draw = 0.0;
    if (d->log) {
        fprintf(d->log, "%d,%ld,%.6f,%.6f,%.6f,%.6f,%.3f,%.1f,%.9g,", p->epoch, p->step,
                train_loss, train_acc, p->test_count ? p->test_loss : 0.0,
                p->test_count ? p->test_accuracy : 0.0, p->seconds, rate, (double)p->lr);
        if (p->val_count > 0)
            fprintf(d->log, "%.6f,%.6f\n", p->val_loss, p->val_accuracy);
        else
            fprintf(d->log, ",\n");
        if (fflush(d->log) != 0)
            d->log_failed = 1;
    }
}

/* "seed" or "lenet5" when spec is that preset's, else spec itself. */
static const char *arch_name(const cli_progress *d, const char *spec, int classes)
{
    static const char *const presets[] = {"seed", "lenet5"};
    static cnn_arch a; /* static: the layer table is large */
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (cnn_arch_parse(&a, presets[i], d->rows, d->cols, 1, classes, NULL) == CNN_OK &&
            strcmp(a.spec, spec) == 0)
            return presets[i];
    return spec;
}

/* "  10 classes: T-shirt/top, Trouser, ..." cut to fit 80 columns. */
static void print_classes(const cnn_train_opts *o)
{
    int classes = o->classes > 0 ? o->classes : 10;
    char line[96];
    int n = snprintf(line, sizeof line, "  %d classes", classes);
    if (!o->class_names) {
        printf("%s (no names)\n", line);
        return;
    }
    const char *p = o->class_names;
    for (int k = 0; *p; k++) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        const char *sep = k ? ", " : ": ";
        /* room for this name, and for ", ..." should more follow */
        if (n + 2 + len + (nl ? 5 : 0) > 80) {
            snprintf(line + n, sizeof line - (size_t)n, "%s...", k ? ", " : ": ");
            break;
        }
        n += snprintf(line + n, sizeof line - (size_t)n, "%s%.*s", sep, len, p);
        p += len + (nl != NULL);
    }
    printf("%s\n", line);
}

/* The options in force, one group a line; optional groups only when they
 * are not the defaults. */
static void on_start(cli_progress *d, const cnn_progress *p)
{
    const cnn_train_opts *o = p->opts;
    const cnn_optim_opts *q = &o->optim;
    if (d->resume_path && p->batch > 0)
        printf("  resuming from %s in epoch %d after batch %d (step %ld)\n", d->resume_path,
               p->epoch + 1, p->batch, p->step);
    else if (d->resume_path)
        printf("  resuming from %s after epoch %d (step %ld)\n", d->resume_path, p->epoch,
               p->step);
    printf("  arch %s\n", arch_name(d, o->arch, o->classes > 0 ? o->classes : 10));
    printf("  %s, lr %g, batch %d, seed %llu, epochs %d\n", cnn_opt_kind_name(q->kind),
           (double)o->lr, o->batch, (unsigned long long)o->seed, o->epochs);
    char line[256] = "";
    size_t n = 0;
#define ADD(...) n += (size_t)snprintf(line + n, n < sizeof line ? sizeof line - n : 0, __VA_ARGS__)
    if (q->kind == CNN_OPT_SGD) {
        if (q->momentum > 0)
            ADD(", momentum %g%s", q->momentum, q->nesterov ? ", nesterov" : "");
    } else {
        ADD(", betas %g %g, eps %g", q->beta1, q->beta2, q->eps);
    }
    if (q->weight_decay > 0)
        ADD(", weight decay %g%s", q->weight_decay,
            q->kind == CNN_OPT_ADAMW ? " (decoupled)" : "");
    if (q->clip_norm > 0)
        ADD(", clip-norm %g", q->clip_norm);
    if (n)
        printf("  %s\n", line + 2);
    n = 0;
    line[0] = '\0';
    if (o->schedule == CNN_SCHED_STEP)
        ADD(", schedule step, gamma %g, step-epochs %g", (double)o->gamma, o->step_epochs);
    else if (o->schedule == CNN_SCHED_COSINE)
        ADD(", schedule cosine, lr-min %g", (double)o->lr_min);
    if (o->warmup_epochs > 0)
        ADD(", warmup-epochs %g", o->warmup_epochs);
    if (n)
        printf("  %s\n", line + 2);
    if (o->val > 0) {
        printf("  validation: %d samples held out", o->val);
        if (o->patience)
            printf(", patience %d", o->patience);
        printf("\n");
    }
#undef ADD
    print_classes(o);
    printf("  impl %s, threads %d%s\n", cnn_impl_name(o->impl), d->threads,
           d->ranks > 1 ? " per rank" : "");
    if (d->ranks > 1)
        printf("  mpi: %d ranks share each batch in chunks of %d samples\n", d->ranks, CNN_CHUNK);
    d->started = 1;
    for (int i = 0; i < d->nnotes; i++)
        printf("  %s\n", d->notes[i]);
    d->nnotes = 0;
    fflush(stdout);
}

void cli_progress_finish(cli_progress *d)
{
    for (int i = 0; i < d->nnotes; i++)
        printf("  %s\n", d->notes[i]);
    d->nnotes = 0;
    fflush(stdout);
}

void cli_progress_event(const cnn_progress *p, void *ctx)
{
    cli_progress *d = ctx;
    switch (p->event) {
    case CNN_EVENT_STEP:
        on_step(d, p);
        break;
    case CNN_EVENT_EPOCH:
        on_epoch(d, p);
        break;
    case CNN_EVENT_SAVED:
        printf("  saved %s\n", p->path);
        fflush(stdout);
        break;
    case CNN_EVENT_EVALUATING:
        cli_progress_evaluating = 1;
        break;
    case CNN_EVENT_NOTE:
        if (!d->started && d->nnotes < (int)(sizeof d->notes / sizeof d->notes[0])) {
            snprintf(d->notes[d->nnotes++], sizeof d->notes[0], "%s", p->note);
            break;
        }
        cli_progress_clear(d);
        printf("  %s\n", p->note);
        fflush(stdout);
        break;
    case CNN_EVENT_START:
        on_start(d, p);
        break;
    }
}
