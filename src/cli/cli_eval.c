/* cli_eval.c — `cnn eval`: how good a saved model is on the test split:
 * loss, accuracy, accuracy per class and the confusion matrix, as text for
 * people or one JSON object for scripts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cnn_train.h"

static const char about[] =
    "Evaluate a saved model on the test split (t10k-*) of an MNIST-format data set:\n"
    "mean cross-entropy loss, accuracy, accuracy per class, and the confusion matrix\n"
    "(rows: true class, columns: predicted class). Runs the implementation the model\n"
    "was trained with.\n";

typedef struct {
    const char *model, *data;
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

static void print_json(const report *r)
{
    const cnn_model_meta *m = &r->meta;
    printf("{\"model\":");
    cli_json_string(stdout, r->model);
    printf(",\"data\":");
    cli_json_string(stdout, r->data);
    printf(",\"split\":\"t10k\",\"images\":%d", r->count);
    printf(",\"meta\":{\"epoch\":%d,\"epochs\":%d,\"batch_in_epoch\":%d,\"step\":%ld,"
           "\"batch\":%d,\"lr\":",
           m->epoch, m->epochs, m->batch_in_epoch, m->step, m->batch);
    json_float(m->lr);
    printf(",\"seed\":%llu,\"impl\":", (unsigned long long)m->seed);
    cli_json_string(stdout, m->impl);
    printf(",\"train_count\":%d}", m->train_count);
    printf(",\"test_loss\":");
    json_number(r->loss);
    printf(",\"test_accuracy\":");
    json_number(r->accuracy);
    printf(",\"correct\":%d,\"per_class\":[", r->correct);
    for (int k = 0; k < r->meta.arch.classes; k++) {
        printf("%s{\"class\":%d,\"images\":%ld,\"correct\":%ld,\"accuracy\":", k ? "," : "", k,
               r->per_class[k], r->confusion[k][k]);
        if (r->per_class[k])
            json_number((double)r->confusion[k][k] / (double)r->per_class[k]);
        else
            printf("null");
        printf("}");
    }
    printf("],\"confusion\":[");
    for (int t = 0; t < r->meta.arch.classes; t++) {
        printf("%s[", t ? "," : "");
        for (int p = 0; p < r->meta.arch.classes; p++)
            printf("%s%ld", p ? "," : "", r->confusion[t][p]);
        printf("]");
    }
    printf("]}\n");
}

static void print_text(const report *r)
{
    const cnn_model_meta *m = &r->meta;
    printf("model %s: epoch %d/%d", r->model, m->epoch, m->epochs);
    if (m->batch_in_epoch)
        printf(" + %d batches", m->batch_in_epoch);
    printf(", step %ld, batch %d, lr %g, seed %llu, impl %s, %d training images\n", m->step,
           m->batch, (double)m->lr, (unsigned long long)m->seed, m->impl[0] ? m->impl : "?",
           m->train_count);
    printf("data %s: %d test images\n", r->data, r->count);
    printf("test loss %.4f  test acc %.2f%%  (%d of %d correct)\n", r->loss,
           100.0 * r->accuracy, r->correct, r->count);

    printf("\nper class:\n  class  images  correct  accuracy\n");
    for (int k = 0; k < r->meta.arch.classes; k++) {
        printf("  %5d  %6ld  %7ld  ", k, r->per_class[k], r->confusion[k][k]);
        if (r->per_class[k])
            printf("%7.2f%%\n", 100.0 * (double)r->confusion[k][k] / (double)r->per_class[k]);
        else
            printf("%8s\n", "-");
    }

    printf("\nconfusion matrix (rows: true class, columns: predicted class):\n  true ");
    for (int p = 0; p < r->meta.arch.classes; p++)
        printf(" %6d", p);
    printf("\n");
    for (int t = 0; t < r->meta.arch.classes; t++) {
        printf("  %4d ", t);
        for (int p = 0; p < r->meta.arch.classes; p++)
            printf(" %6ld", r->confusion[t][p]);
        printf("\n");
    }
}

int cli_eval(int argc, char **argv)
{
    const char *cmd = "eval";
    static report rep; /* static: the confusion matrix is 512 KiB */
    report *rp = &rep;
    memset(rp, 0, sizeof *rp);
    rp->data = CNN_DEFAULT_DATA;
    int batch = 0, threads = 0, json = 0;
    cli_opt opts[] = {
        CLI_STRING("--model", "FILE", &rp->model, "model written by cnn train --save (required)"),
        CLI_STRING("--data", "DIR", &rp->data, "data set directory\n(default " CNN_DEFAULT_DATA ")"),
        CLI_INT("--batch", "N", &batch, 1, CLI_MAX_BATCH,
                "images per forward pass (default: the model's training batch,\n"
                "so the loss matches what training printed to the last digit)"),
        CLI_INT("--threads", "N", &threads, 1, 1024,
                CLI_HELP_THREADS),
        CLI_FLAG("--json", &json, "print one JSON object instead of text (default: text)"),
    };
    cli_cmd c = {"eval", "--model FILE [OPTIONS]", about, NULL, opts, CLI_NOPTS(opts), NULL};
    int rc = cli_parse(&c, argc, argv, NULL, NULL);
    if (rc != CLI_CONTINUE)
        return rc;
    if (cli_require(&c, "--model") != 0)
        return 2;

    cnn_net *net = NULL;
    if (cli_open_model(cmd, rp->model, &batch, threads, &net, &rp->meta) != 0)
        return 1;
    cnn_dataset test = {0};
    /* Which file is read, when there is a choice: not into the JSON. */
    if (cli_load_split(cmd, rp->data, "t10k", rp->meta.arch.in_h, rp->meta.arch.in_w,
                       rp->meta.arch.classes, json ? stderr : stdout, &test) != 0) {
        cnn_net_free(net);
        return 1;
    }
    rc = 0;
    int *pred = NULL;
    if (test.count == 0) {
        fprintf(stderr, "cnn eval: %s: the test split has no images\n", rp->data);
        rc = 1;
        goto out;
    }
    pred = malloc((size_t)test.count * sizeof *pred);
    if (!pred) {
        fprintf(stderr, "cnn eval: out of memory\n");
        rc = 1;
        goto out;
    }
    cnn_status st = cnn_evaluate(net, &test, batch, &rp->loss, &rp->accuracy, pred);
    if (st != CNN_OK) {
        fprintf(stderr, "cnn eval: evaluation failed: %s\n", cnn_status_str(st));
        rc = 1;
        goto out;
    }
    rp->count = test.count;
    for (int n = 0; n < test.count; n++) {
        rp->confusion[test.labels[n]][pred[n]]++;
        rp->per_class[test.labels[n]]++;
        rp->correct += test.labels[n] == pred[n];
    }
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
    cnn_dataset_free(&test);
    cnn_net_free(net);
    return rc;
}
