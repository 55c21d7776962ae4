/* cli_predict.c — `cnn predict`: classify pictures with a saved model. Each
 * IMAGE argument is a binary PGM file (one picture), "-" for a PGM on
 * standard input, or an IDX image file (every picture in it, named FILE#i,
 * i from 0), all 28×28 with pixels 0..255 as in training. A file that
 * cannot be used is reported (one line each) and skipped; the others are
 * classified, and the exit status is then 1. Results are printed after
 * every file is read, so a JSON object is never left half written. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cnn_data.h"
#include "cnn_image.h"
#include "../util/open_regular.h"

enum { PREDICT_BATCH = 256 };

static const char about[] =
    "Classify images with a saved model. Each IMAGE is a binary PGM file (P5), - for\n"
    "a PGM read from standard input, or an IDX image file (plain or .gz; every image\n"
    "in it, reported as FILE#0, FILE#1, ...), 28x28 pixels with maxval 255. Prints\n"
    "each image's predicted class (and its name, when the model has class names)\n"
    "and the probabilities of classes 0..9. A file that cannot be read is reported\n"
    "and skipped; the exit status is then 1.\n";

static const char png_advice[] =
    "convert to PGM (e.g. ImageMagick: convert IN -colorspace Gray -resize '28x28!' "
    "-depth 8 OUT.pgm)";

/* One IMAGE argument: `count` images starting at image `first` of the
 * shared pixel buffer, or an error. */
typedef struct {
    const char *path;
    int idx; /* an IDX file: name its images FILE#i */
    long first;
    int count;
    char *error; /* what was wrong (without "cnn predict: "), or NULL */
} source;

/* The model's input shape, classes and class names, known once it is open. */
static int g_in_h, g_in_w, g_classes;
static const char *g_names[CNN_MAX_CLASSES];

typedef struct {
    uint8_t *pixels; /* total × 784 */
    long total, cap;
} pool;

static int pool_add(pool *p, const uint8_t *px, long n)
{
    if (n < 0)
        return -1;
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

/* Report s's problem on stderr and keep it for the JSON output. */
static int bad(source *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(source *s, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "cnn predict: %s\n", msg);
    s->error = strdup(msg);
    return -1;
}

static int add_pgm(FILE *f, const char *name, pool *p, source *s)
{
    cnn_err err = {{0}};
    cnn_gray im;
    if (cnn_pgm_read_stream(f, name, &im, &err) != CNN_OK)
        return bad(s, "%s", err.msg);
    int rc = 0;
    if (im.width != g_in_w || im.height != g_in_h)
        rc = bad(s, "%s: image is %dx%d, the network takes %dx%d", name, im.width, im.height,
                 g_in_w, g_in_h);
    else if (im.maxval != 255)
        rc = bad(s, "%s: maxval is %d, the network takes pixels 0..255 (maxval 255)", name,
                 im.maxval);
    else if (pool_add(p, im.pixels, 1) != 0)
        rc = bad(s, "%s: out of memory", name);
    else
        s->count = 1;
    cnn_gray_free(&im);
    return rc;
}

/* PNG and JPEG are what people have; say what to do with them. */
static const char *foreign_format(const unsigned char *b, size_t n)
{
    if (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "PNG";
    if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
        return "JPEG";
    return NULL;
}

static int add_stdin(pool *p, source *s)
{
    const char *name = "standard input";
    /* One byte of look-ahead tells a PNG or JPEG from a PGM. */
    int c = getc(stdin);
    if (c == 0x89 || c == 0xff)
        return bad(s, "%s: %s is not supported; %s", name, c == 0x89 ? "PNG" : "JPEG",
                   png_advice);
    if (c != EOF)
        (void)ungetc(c, stdin); /* one character of push-back always fits (C11 7.21.7.10) */
    return add_pgm(stdin, name, p, s);
}

static int add_file(const char *path, pool *p, source *s)
{
    cnn_err err = {{0}};
    int fd;
    if (cnn_open_regular(path, &fd, NULL, &err) != CNN_OK)
        return bad(s, "%s", err.msg);
    unsigned char b[8];
    ssize_t n = pread(fd, b, sizeof b, 0);
    if (n < 0) {
        int e = errno;
        close(fd);
        return bad(s, "%s: read failed: %s", path, strerror(e));
    }
    const char *foreign = foreign_format(b, (size_t)n);
    if (foreign) {
        close(fd);
        return bad(s, "%s: %s is not supported; %s", path, foreign, png_advice);
    }
    /* "P" and a digit is a Netpbm file (the PGM reader explains which kinds
     * it refuses); anything else goes to the IDX reader, which names what
     * is wrong. */
    if (n >= 2 && b[0] == 'P' && b[1] >= '0' && b[1] <= '9') {
        FILE *f = fdopen(fd, "rb");
        if (!f) {
            close(fd);
            return bad(s, "%s: cannot open: %s", path, strerror(errno));
        }
        int rc = add_pgm(f, path, p, s);
        (void)fclose(f); /* read only: nothing to lose */
        return rc;
    }
    close(fd);
    cnn_images im;
    if (cnn_idx_read_images(path, &im, &err) != CNN_OK)
        return bad(s, "%s", err.msg);
    int rc = 0;
    s->idx = 1;
    if (im.rows != g_in_h || im.cols != g_in_w)
        rc = bad(s, "%s: images are %dx%d, the network takes %dx%d", path, im.cols, im.rows,
                 g_in_w, g_in_h);
    else if (pool_add(p, im.pixels, im.count) != 0)
        rc = bad(s, "%s: out of memory", path);
    else
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

static void json_image_name(const source *s, int i)
{
    if (!s->idx) {
        cli_json_string(stdout, s->path);
        return;
    }
    /* FILE#i as one JSON string: escape the path, then append. */
    char num[24];
    snprintf(num, sizeof num, "#%d", i);
    size_t n = strlen(s->path);
    char *name = malloc(n + sizeof num);
    if (name) {
        memcpy(name, s->path, n);
        memcpy(name + n, num, strlen(num) + 1);
        cli_json_string(stdout, name);
        free(name);
    } else {
        cli_json_string(stdout, s->path);
    }
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
                json_image_name(&src[s], i);
                printf(",\"class\":%d,", c);
                if (g_names[c]) {
                    printf("\"name\":");
                    cli_json_string(stdout, g_names[c]);
                    printf(",");
                }
                printf("\"probabilities\":[");
                for (int k = 0; k < g_classes; k++)
                    printf("%s%.9g", k ? "," : "", (double)p[k]);
                printf("]}");
            } else {
                if (src[s].idx)
                    printf("%s#%d", src[s].path, i);
                else
                    printf("%s", src[s].path);
                printf(": class %d%s%s (%.1f%%)  p", c, g_names[c] ? " " : "",
                       g_names[c] ? g_names[c] : "", 100.0 * p[c]);
                for (int k = 0; k < g_classes; k++)
                    printf(" %.4f", (double)p[k]);
                printf("\n");
            }
            first = 0;
        }
    }
    if (json) {
        printf("],\"errors\":[");
        first = 1;
        for (int s = 0; s < nsrc; s++) {
            if (!src[s].error)
                continue;
            printf("%s{\"image\":", first ? "" : ",");
            cli_json_string(stdout, src[s].path);
            printf(",\"error\":");
            cli_json_string(stdout, src[s].error);
            printf("}");
            first = 0;
        }
        printf("]}\n");
    }
}

int cli_predict(int argc, char **argv)
{
    const char *cmd = "predict";
    const char *model = NULL;
    int threads = 0, json = 0, nimages = 0;
    cli_opt opts[] = {
        CLI_STRING("--model", "FILE", &model, "model written by cnn train --save (required)"),
        CLI_INT("--threads", "N", &threads, 1, 1024,
                CLI_HELP_THREADS),
        CLI_FLAG("--json", &json, "print one JSON object instead of text (default: text)"),
    };
    cli_cmd c = {"predict", "--model FILE [OPTIONS] IMAGE...", about,
                 "An IMAGE that starts with '-' can follow '--'.\n", opts, CLI_NOPTS(opts),
                 "IMAGE"};
    const char **images = calloc((size_t)argc, sizeof *images);
    if (!images) {
        fprintf(stderr, "cnn predict: out of memory\n");
        return 1;
    }
    int rc = cli_parse(&c, argc, argv, images, &nimages);
    if (rc == CLI_CONTINUE)
        rc = cli_require(&c, "--model") ? 2 : CLI_CONTINUE;
    if (rc == CLI_CONTINUE && nimages == 0) {
        fprintf(stderr, "cnn predict: no IMAGE given (see cnn predict --help)\n");
        rc = 2;
    }
    int stdin_count = 0;
    for (int s = 0; s < nimages; s++)
        stdin_count += strcmp(images[s], "-") == 0;
    if (rc == CLI_CONTINUE && stdin_count > 1) {
        fprintf(stderr, "cnn predict: - (standard input) is given %d times; it holds one "
                        "image\n", stdin_count);
        rc = 2;
    }
    if (rc != CLI_CONTINUE) {
        free(images);
        return rc;
    }

    rc = 1;
    pool p = {0};
    source *src = calloc((size_t)nimages, sizeof *src);
    float *probs = NULL;
    cnn_net *net = NULL;
    int batch = PREDICT_BATCH, failed = 0;
    if (!src) {
        fprintf(stderr, "cnn predict: out of memory\n");
        goto out;
    }
    static cnn_model_meta meta; /* static: it holds the architecture's table */
    if (cli_open_model(cmd, model, &batch, threads, &net, &meta) != 0)
        goto out;
    cli_split_class_names(meta.class_names, meta.arch.classes, g_names);
    g_in_h = cnn_net_arch(net)->in_h;
    g_in_w = cnn_net_arch(net)->in_w;
    g_classes = cnn_net_arch(net)->classes;
    for (int s = 0; s < nimages; s++) {
        src[s].path = images[s];
        src[s].first = p.total;
        int r = strcmp(images[s], "-") == 0 ? add_stdin(&p, &src[s])
                                            : add_file(images[s], &p, &src[s]);
        if (r != 0) {
            if (!src[s].error) {
                fprintf(stderr, "cnn predict: out of memory\n");
                goto out;
            }
            src[s].count = 0;
            failed++;
        }
    }
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
    rc = failed ? 1 : 0;
out:
    cnn_net_free(net);
    free(probs);
    if (src)
        for (int s = 0; s < nimages; s++)
            free(src[s].error);
    free(src);
    free(p.pixels);
    free(images);
    return rc;
}
