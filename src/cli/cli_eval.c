/* cli_eval.c — `cnn eval`: how good a saved model is on the test (or
 * training) split: loss, accuracy, per class precision, recall and F1 with
 * their macro averages, and the confusion matrix, with the class names the
 * model carries; as text for people or one JSON object for scripts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cnn_train.h"

static const char about[] =
    "Evaluate a saved model on the test split (t10k-*) of an MNIST-format data set,\n"
    "or its training split (train-*): mean cross-entropy loss, accuracy, per class\n"
    "precision, recall (the class's accuracy) and F1, their macro averages, and the\n"
    "confusion matrix (rows: true class, columns: predicted class), with the class\n"
    "names the model carries. Runs the implementation the model was trained with.\n";

static const char epilog[] =
    "Precision is undefined (-) for a class never predicted, recall for a class with\n"
    "no images. Macro averages are over the classes that have images, counting an\n"
    "undefined precision or F1 as 0.\n";

/* One class's precision, recall and F1; has_*: defined. */
typedef struct {
    double precision, recall, f1;
    int has_p, has_r, has_f;
} prf;

typedef struct {
    const char *model, *data;
    const char *split;                                /* "test" or "train" */
    const char *names[CNN_MAX_CLASSES];               /* NULL: the model has none */
    int named;
    prf cls[CNN_MAX_CLASSES];
    prf macro;
    cnn_model_meta meta;
    int count, correct;
    double loss, accuracy;
    long confusion[CNN_MAX_CLASSES][CNN_MAX_CLASSES]; /* [true][predicted] */
    long per_class[CNN_MAX_CLASSES];                  /* images of each true class */
} report;

/* Numbers in the fewest digits that read back exactly (0.785, not the
 * 0.78500000000000003 of %.17g; lr 0.05, not the 0.0500000007 of %.9g).
 * JSON has no NaN or infinity: a diverged model's loss becomes null. */
static void json_number(double v)
{
    char buf[40];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    printf("%s", isfinite(v) ? buf : "null");
}

static void json_float(float v)
{
    char buf[32];
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)v);
        if (strtof(buf, NULL) == v)
            break;
    }
    printf("%s", isfinite(v) ? buf : "null");
}

/* A value of an optional metric, or null. */
static void json_opt(int has, double v)
{
    if (has)
        json_number(v);
    else
        printf("null");
}

static void json_prf(const prf *x)
{
    printf("\"precision\":");
    json_opt(x->has_p, x->precision);
    printf(",\"recall\":");
    json_opt(x->has_r, x->recall);
    printf(",\"f1\":");
    json_opt(x->has_f, x->f1);
}

static void print_json(const report *r)
{
    const cnn_model_meta *m = &r->meta;
    const int classes = m->arch.classes;
    printf("{\"model\":");
    cli_json_string(stdout, r->model);
    printf(",\"data\":");
    cli_json_string(stdout, r->data);
    printf(",\"split\":\"%s\",\"images\":%d", r->split, r->count);
    printf(",\"meta\":{\"epoch\":%d,\"epochs\":%d,\"batch_in_epoch\":%d,\"step\":%ld,"
           "\"batch\":%d,\"lr\":",
           m->epoch, m->epochs, m->batch_in_epoch, m->step, m->batch);
    json_float(m->lr);
    printf(",\"seed\":%llu,\"impl\":", (unsigned long long)m->seed);
    cli_json_string(stdout, m->impl);
    printf(",\"train_count\":%d}", m->train_count);
    printf(",\"class_names\":");
    if (r->named) {
        printf("[");
        for (int k = 0; k < classes; k++) {
            printf("%s", k ? "," : "");
            cli_json_string(stdout, r->names[k]);
        }
        printf("]");
    } else {
        printf("null");
    }
    /* test_loss, test_accuracy or train_loss, train_accuracy */
    printf(",\"%s_loss\":", r->split);
    json_number(r->loss);
    printf(",\"%s_accuracy\":", r->split);
    json_number(r->accuracy);
    printf(",\"correct\":%d,\"per_class\":[", r->correct);
    for (int k = 0; k < classes; k++) {
        printf("%s{\"class\":%d,", k ? "," : "", k);
        if (r->named) {
            printf("\"name\":");
            cli_json_string(stdout, r->names[k]);
            printf(",");
        }
        printf("\"images\":%ld,\"correct\":%ld,\"accuracy\":", r->per_class[k],
               r->confusion[k][k]);
        json_opt(r->cls[k].has_r, r->cls[k].recall);
        printf(",");
        json_prf(&r->cls[k]);
        printf("}");
    }
    printf("],\"macro\":{");
    json_prf(&r->macro);
    printf("},\"confusion\":[");
    for (int t = 0; t < classes; t++) {
        printf("%s[", t ? "," : "");
        for (int p = 0; p < classes; p++)
            printf("%s%ld", p ? "," : "", r->confusion[t][p]);
        printf("]");
    }
    printf("]}\n");
}

/* Characters (UTF-8 code points) in s: the columns it takes, near enough. */
static int text_width(const char *s)
{
    int w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xc0) != 0x80;
    return w;
}

/* s, then spaces to `width` columns. */
static void print_padded(const char *s, int width)
{
    printf("%s%*s", s, width > text_width(s) ? width - text_width(s) : 0, "");
}

static void print_percent(int has, double v)
{
    if (has)
        printf("  %8.2f%%", 100.0 * v);
    else
        printf("  %9s", "-");
}

static void print_text(const report *r)
{
    const cnn_model_meta *m = &r->meta;
    const int classes = m->arch.classes;
    const int test = strcmp(r->split, "test") == 0;
    printf("model %s: epoch %d/%d", r->model, m->epoch, m->epochs);
    if (m->batch_in_epoch)
        printf(" + %d batches", m->batch_in_epoch);
    printf(", step %ld, batch %d, lr %g, seed %llu, impl %s, %d training images\n", m->step,
           m->batch, (double)m->lr, (unsigned long long)m->seed, m->impl[0] ? m->impl : "?",
           m->train_count);
    printf("data %s: %d %s images\n", r->data, r->count, test ? "test" : "training");
    printf("%s loss %.4f  %s acc %.2f%%  (%d of %d correct)\n", r->split, r->loss, r->split,
           100.0 * r->accuracy, r->correct, r->count);

    /* The names' column: as wide as the longest name (within reason). */
    int nw = 0;
    for (int k = 0; r->named && k < classes; k++)
        if (text_width(r->names[k]) > nw)
            nw = text_width(r->names[k]) < 24 ? text_width(r->names[k]) : 24;
    if (r->named && nw < 4)
        nw = 4;

    printf("\nper class:\n  class  ");
    if (r->named) {
        print_padded("name", nw);
        printf("  ");
    }
    printf("%6s  %7s%11s%11s%11s\n", "images", "correct", "precision", "recall", "F1");
    for (int k = 0; k < classes; k++) {
        printf("  %5d  ", k);
        if (r->named) {
            print_padded(r->names[k], nw);
            printf("  ");
        }
        printf("%6ld  %7ld", r->per_class[k], r->confusion[k][k]);
        print_percent(r->cls[k].has_p, r->cls[k].precision);
        print_percent(r->cls[k].has_r, r->cls[k].recall);
        print_percent(r->cls[k].has_f, r->cls[k].f1);
        printf("\n");
    }
    printf("  ");
    print_padded("macro average", 7 + (r->named ? nw + 2 : 0) + 15);
    print_percent(r->macro.has_p, r->macro.precision);
    print_percent(r->macro.has_r, r->macro.recall);
    print_percent(r->macro.has_f, r->macro.f1);
    printf("\n");

    printf("\nconfusion matrix (rows: true class, columns: predicted class):\n  true ");
    if (r->named)
        printf("%*s", nw + 1, "");
    for (int p = 0; p < classes; p++)
        printf(" %6d", p);
    printf("\n");
    for (int t = 0; t < classes; t++) {
        printf("  %4d ", t);
        if (r->named) {
            printf(" ");
            print_padded(r->names[t], nw);
        }
        for (int p = 0; p < classes; p++)
            printf(" %6ld", r->confusion[t][p]);
        printf("\n");
    }
}

/* Precision, recall and F1 per class from the confusion matrix; their
 * macro averages over the classes that have images, an undefined
 * precision or F1 counting as 0. */
static void compute_metrics(report *r)
{
    const int classes = r->meta.arch.classes;
    double sp = 0.0, sr = 0.0, sf = 0.0;
    int present = 0;
    for (int k = 0; k < classes; k++) {
        long predicted = 0;
        for (int t = 0; t < classes; t++)
            predicted += r->confusion[t][k];
        prf *c = &r->cls[k];
        long tp = r->confusion[k][k];
        c->has_p = predicted > 0;
        c->precision = c->has_p ? (double)tp / (double)predicted : 0.0;
        c->has_r = r->per_class[k] > 0;
        c->recall = c->has_r ? (double)tp / (double)r->per_class[k] : 0.0;
        c->has_f = c->has_p && c->has_r;
        c->f1 = c->has_f && tp > 0 ? 2.0 * c->precision * c->recall / (c->precision + c->recall)
                                   : 0.0;
        if (c->has_r) {
            present++;
            sp += c->precision;
            sr += c->recall;
            sf += c->f1;
        }
    }
    r->macro.has_p = r->macro.has_r = r->macro.has_f = present > 0;
    r->macro.precision = present ? sp / present : 0.0;
    r->macro.recall = present ? sr / present : 0.0;
    r->macro.f1 = present ? sf / present : 0.0;
}

int cli_eval(int argc, char **argv)
{
    const char *cmd = "eval";
    static report rep; /* static: the confusion matrix is 512 KiB */
    report *rp = &rep;
    memset(rp, 0, sizeof *rp);
    rp->data = CNN_DEFAULT_DATA;
    int batch = 0, threads = 0, json = 0, split = 0;
    cli_opt opts[] = {
        CLI_STRING("--model", "FILE", &rp->model, "model written by cnn train --save (required)"),
        CLI_STRING("--data", "DIR", &rp->data, "data set directory\n(default " CNN_DEFAULT_DATA ")"),
        CLI_CHOICE("--split", &split, CLI_CHOICES("test", "train"),
                   "which split: t10k-* or train-* (default test)"),
        CLI_INT("--batch", "N", &batch, 1, CLI_MAX_BATCH,
                "images per forward pass (default: the model's training batch,\n"
                "so the loss matches what training printed to the last digit)"),
        CLI_INT("--threads", "N", &threads, 1, 1024,
                CLI_HELP_THREADS),
        CLI_FLAG("--json", &json, "print one JSON object instead of text (default: text)"),
    };
    cli_cmd c = {"eval", "--model FILE [OPTIONS]", about, epilog, opts, CLI_NOPTS(opts), NULL};
    int rc = cli_parse(&c, argc, argv, NULL, NULL);
    if (rc != CLI_CONTINUE)
        return rc;
    if (cli_require(&c, "--model") != 0)
        return 2;
    rp->split = split == 0 ? "test" : "train";

    cnn_net *net = NULL;
    if (cli_open_model(cmd, rp->model, &batch, threads, &net, &rp->meta) != 0)
        return 1;
    rp->named = cli_split_class_names(rp->meta.class_names, rp->meta.arch.classes, rp->names);
    cnn_dataset ds = {0};
    /* Which file is read, when there is a choice: not into the JSON. */
    if (cli_load_split(cmd, rp->data, split == 0 ? "t10k" : "train", rp->meta.arch.in_h,
                       rp->meta.arch.in_w, rp->meta.arch.classes, json ? stderr : stdout,
                       &ds) != 0) {
        cnn_net_free(net);
        return 1;
    }
    rc = 0;
    int *pred = NULL;
    if (ds.count == 0) {
        fprintf(stderr, "cnn eval: %s: the %s split has no images\n", rp->data, rp->split);
        rc = 1;
        goto out;
    }
    pred = malloc((size_t)ds.count * sizeof *pred);
    if (!pred) {
        fprintf(stderr, "cnn eval: out of memory\n");
        rc = 1;
        goto out;
    }
    cnn_status st = cnn_evaluate(net, &ds, batch, &rp->loss, &rp->accuracy, pred);
    if (st != CNN_OK) {
        fprintf(stderr, "cnn eval: evaluation failed: %s\n", cnn_status_str(st));
        rc = 1;
        goto out;
    }
    rp->count = ds.count;
    for (int n = 0; n < ds.count; n++) {
        rp->confusion[ds.labels[n]][pred[n]]++;
        rp->per_class[ds.labels[n]]++;
        rp->correct += ds.labels[n] == pred[n];
    }
    compute_metrics(rp);
    if (json)
        print_json(rp);
    else
        print_text(rp);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "cnn eval: write to standard output failed\n");
        rc = 1;
    }
out:
    free(pred);
    cnn_dataset_free(&ds);
    cnn_net_free(net);
    return rc;
}
