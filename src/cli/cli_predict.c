/* cli_predict.c — `cnn predict`: classify pictures with a saved model. Each
 * IMAGE argument is a binary PGM file (one picture) or an IDX image file
 * (every picture in it, named FILE#i, i from 0), both 28×28 with pixels
 * 0..255 as in training. All files are read and checked before anything is
 * printed, so a bad file never leaves half an answer (or half a JSON
 * object) behind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cnn_data.h"
#include "cnn_image.h"

enum { PREDICT_BATCH = 256 };

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cnn predict --model FILE [OPTIONS] IMAGE...\n"
            "\n"
            "Classify images with a saved model. Each IMAGE is a binary PGM file (P5) or an\n"
            "IDX image file (plain or .gz; every image in it, reported as FILE#0, FILE#1, ...),\n"
            "28x28 pixels with maxval 255. Prints each image's predicted class and the\n"
            "probabilities of classes 0..9.\n"
            "\n"
            "options:\n"
            "  --model FILE     model written by cnn train --save (required)\n"
            "  --threads N      OpenMP threads; results do not depend on it (default: all cores)\n"
            "  --json           print one JSON object instead of text (default: text)\n"
            "  -h, --help       show this help\n");
}

/* One IMAGE argument: `count` images starting at image `first` of the
 * shared pixel buffer. */
typedef struct {
    const char *path;
    int idx;      /* an IDX file: name its images FILE#i */
    long first;
    int count;
} source;

/* The model's input shape and classes, known once it is open. */
static int g_in_h, g_in_w, g_classes;

typedef struct {
    uint8_t *pixels; /* total × in_h·in_w */
    long total, cap;
} pool;

static int pool_add(pool *p, const uint8_t *px, long n)
{
    if (p->total + n > p->cap) {
        long cap = p->cap ? p->cap : 64;
        while (cap < p->total + n)
            cap *= 2;
        uint8_t *q = realloc(p->pixels, (size_t)cap * ((long)g_in_h * g_in_w));
        if (!q)
            return -1;
        p->pixels = q;
        p->cap = cap;
    }
    if (n)
        memcpy(p->pixels + p->total * ((long)g_in_h * g_in_w), px, (size_t)n * ((long)g_in_h * g_in_w));
    p->total += n;
    return 0;
}

/* "P" and a digit is a Netpbm file (the PGM reader explains which kinds it
 * refuses); anything else goes to the IDX reader, which names what is wrong. */
static int looks_like_netpbm(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    int a = getc(f), b = getc(f);
    fclose(f);
    return a == 'P' && b >= '0' && b <= '9';
}

static int load_image_file(const char *path, pool *p, source *s)
{
    cnn_err err = {{0}};
    s->path = path;
    s->first = p->total;
    if (looks_like_netpbm(path)) {
        cnn_gray im;
        if (cnn_pgm_read(path, &im, &err) != CNN_OK) {
            fprintf(stderr, "cnn predict: %s\n", err.msg);
            return -1;
        }
        int rc = -1;
        if (im.width != g_in_w || im.height != g_in_h)
            fprintf(stderr, "cnn predict: %s: image is %dx%d, the network takes %dx%d\n", path,
                    im.width, im.height, g_in_w, g_in_h);
        else if (im.maxval != 255)
            fprintf(stderr,
                    "cnn predict: %s: maxval is %d, the network takes pixels 0..255 "
                    "(maxval 255)\n",
                    path, im.maxval);
        else if (pool_add(p, im.pixels, 1) != 0)
            fprintf(stderr, "cnn predict: out of memory\n");
        else
            rc = 0;
        cnn_gray_free(&im);
        s->idx = 0;
        s->count = 1;
        return rc;
    }
    cnn_images im;
    if (cnn_idx_read_images(path, &im, &err) != CNN_OK) {
        fprintf(stderr, "cnn predict: %s\n", err.msg);
        return -1;
    }
    int rc = -1;
    if (im.rows != g_in_h || im.cols != g_in_w)
        fprintf(stderr, "cnn predict: %s: images are %dx%d, the network takes %dx%d\n", path,
                im.cols, im.rows, g_in_w, g_in_h);
    else if (pool_add(p, im.pixels, im.count) != 0)
        fprintf(stderr, "cnn predict: out of memory\n");
    else
        rc = 0;
    s->idx = 1;
    s->count = im.count;
    cnn_images_free(&im);
    return rc;
}

static int argmax(const float *probs)
{
    int best = 0;
    for (int k = 1; k < g_classes; k++)
        if (probs[k] > probs[best])
            best = k;
    return best;
}

static void print_results(const char *model, const source *src, int nsrc, const float *probs,
                          int json)
{
    if (json) {
        printf("{\"model\":");
        cli_json_string(stdout, model);
        printf(",\"predictions\":[");
    }
    int first = 1;
    for (int s = 0; s < nsrc; s++) {
        for (int i = 0; i < src[s].count; i++) {
            const float *p = probs + (src[s].first + i) * g_classes;
            int c = argmax(p);
            if (json) {
                printf("%s{\"image\":", first ? "" : ",");
                if (src[s].idx) {
                    /* FILE#i as one JSON string: escape the path, then append. */
                    char num[24];
                    snprintf(num, sizeof num, "#%d", i);
                    size_t n = strlen(src[s].path);
                    char *name = malloc(n + sizeof num);
                    if (name) {
                        memcpy(name, src[s].path, n);
                        strcpy(name + n, num);
                        cli_json_string(stdout, name);
                        free(name);
                    } else {
                        cli_json_string(stdout, src[s].path);
                    }
                } else {
                    cli_json_string(stdout, src[s].path);
                }
                printf(",\"class\":%d,\"probabilities\":[", c);
                for (int k = 0; k < g_classes; k++)
                    printf("%s%.9g", k ? "," : "", (double)p[k]);
                printf("]}");
            } else {
                if (src[s].idx)
                    printf("%s#%d", src[s].path, i);
                else
                    printf("%s", src[s].path);
                printf(": class %d (%.1f%%)  p", c, 100.0 * p[c]);
                for (int k = 0; k < g_classes; k++)
                    printf(" %.4f", (double)p[k]);
                printf("\n");
            }
            first = 0;
        }
    }
    if (json)
        printf("]}\n");
}

int cli_predict(int argc, char **argv)
{
    const char *cmd = "predict";
    const char *model = NULL;
    int threads = 0, json = 0, nimages = 0, options_done = 0;
    const char **images = calloc((size_t)argc, sizeof *images);
    if (!images) {
        fprintf(stderr, "cnn predict: out of memory\n");
        return 1;
    }
    int rc = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (options_done || a[0] != '-') {
            images[nimages++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options_done = 1;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            free(images);
            return 0;
        }
        if (strcmp(a, "--json") == 0) {
            json = 1;
            continue;
        }
        if (strcmp(a, "--model") != 0 && strcmp(a, "--threads") != 0) {
            fprintf(stderr, "cnn predict: unknown option '%s' (see cnn predict --help)\n", a);
            goto out_args;
        }
        if (!(v = cli_value(cmd, argc, argv, &i)))
            goto out_args;
        if (strcmp(a, "--model") == 0)
            model = v;
        else if (cli_int(cmd, a, v, 1, 1024, &threads) != 0)
            goto out_args;
    }
    if (!model) {
        fprintf(stderr, "cnn predict: --model FILE is required (see cnn predict --help)\n");
        goto out_args;
    }
    if (nimages == 0) {
        fprintf(stderr, "cnn predict: no IMAGE given (see cnn predict --help)\n");
        goto out_args;
    }

    rc = 1;
    pool p = {0};
    source *src = calloc((size_t)nimages, sizeof *src);
    float *probs = NULL;
    cnn_net *net = NULL;
    int batch = PREDICT_BATCH;
    if (!src) {
        fprintf(stderr, "cnn predict: out of memory\n");
        goto out;
    }
    if (cli_open_model(cmd, model, &batch, threads, &net, NULL) != 0)
        goto out;
    g_in_h = cnn_net_arch(net)->in_h;
    g_in_w = cnn_net_arch(net)->in_w;
    g_classes = cnn_net_arch(net)->classes;
    for (int s = 0; s < nimages; s++)
        if (load_image_file(images[s], &p, &src[s]) != 0)
            goto out;
    probs = malloc((size_t)(p.total ? p.total : 1) * g_classes * sizeof *probs);
    if (!probs) {
        fprintf(stderr, "cnn predict: out of memory\n");
        goto out;
    }
    for (long lo = 0; lo < p.total; lo += batch) {
        int n = p.total - lo < batch ? (int)(p.total - lo) : batch;
        cnn_status st = cnn_net_infer(net, p.pixels + lo * ((long)g_in_h * g_in_w), NULL, n,
                                      probs + lo * g_classes, NULL, NULL);
        if (st != CNN_OK) {
            fprintf(stderr, "cnn predict: inference failed: %s\n", cnn_status_str(st));
            goto out;
        }
    }
    print_results(model, src, nimages, probs, json);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "cnn predict: write to standard output failed\n");
        goto out;
    }
    rc = 0;
out:
    cnn_net_free(net);
    free(probs);
    free(src);
    free(p.pixels);
out_args:
    free(images);
    return rc;
}
