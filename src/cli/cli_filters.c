/* cli_filters.c — `cnn filters`: a picture of the learned filters of a
 * saved model's first convolution (the seed's 15 of 5×5), as PNG (for the
 * README, browsers) or PGM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "cnn_image.h"

static const char about[] =
    "Draw the learned filters of the model's first convolution as one grayscale\n"
    "image: 5 a row (filter 0 top left, row by row), 2-pixel white gaps, each\n"
    "filter stretched from its own minimum (black) to maximum (white). For the seed\n"
    "network: its 15 filters of 5x5 in 3 rows.\n";

static int has_ext(const char *path, const char *ext)
{
    size_t n = strlen(path), e = strlen(ext);
    return n > e && strcasecmp(path + n - e, ext) == 0;
}

int cli_filters(int argc, char **argv)
{
    const char *cmd = "filters";
    const char *model = NULL, *out = NULL;
    int scale = 12;
    cli_opt opts[] = {
        CLI_STRING("--model", "FILE", &model, "model written by cnn train --save (required)"),
        CLI_STRING("--out", "FILE", &out,
                   "image to write (required); PNG if it ends in .png, binary\n"
                   "PGM if it ends in .pgm; replaced atomically"),
        CLI_INT("--scale", "N", &scale, 1, 64, "pixels per filter tap (default 12)"),
    };
    cli_cmd c = {"filters", "--model FILE --out FILE.png|FILE.pgm [OPTIONS]", about, NULL, opts,
                 CLI_NOPTS(opts), NULL};
    int rc = cli_parse(&c, argc, argv, NULL, NULL);
    if (rc != CLI_CONTINUE)
        return rc;
    if (cli_require(&c, "--model") != 0 || cli_require(&c, "--out") != 0)
        return 2;
    /* Checked before the model is read: a typo should not cost a load. */
    if (!has_ext(out, ".png") && !has_ext(out, ".pgm")) {
        fprintf(stderr, "cnn filters: --out: expected a name ending in .png or .pgm, got '%s'\n",
                out);
        return 2;
    }
    if (cli_check_output(cmd, "--out", out) != 0 || cli_check_model_file(cmd, model) != 0)
        return 1;

    static cnn_model_meta meta; /* static: it holds the architecture's table */
    float *params = NULL;
    cnn_err err = {{0}};
    cnn_gray im = {0};
    rc = 1;
    const cnn_layer *conv = NULL;
    if (cnn_model_load(model, &params, &meta, &err) != CNN_OK) {
        fprintf(stderr, "cnn filters: %s\n", err.msg);
        return 1;
    }
    cnn_model_meta_free(&meta);
    for (int i = 0; i < meta.arch.n && !conv; i++)
        if (meta.arch.layer[i].kind == CNN_LAYER_CONV)
            conv = &meta.arch.layer[i];
    if (!conv)
        fprintf(stderr, "cnn filters: %s: the network (%s) has no convolution\n", model,
                meta.arch.spec);
    else if (cnn_filter_grid(params + conv->w_off, conv->size, conv->in_c, conv->k, scale, 2,
                             &im, &err) != CNN_OK ||
             cnn_gray_save(out, &im, &err) != CNN_OK)
        fprintf(stderr, "cnn filters: %s\n", err.msg);
    else {
        printf("wrote %s: %dx%d, %d filters of %s\n", out, im.width, im.height, conv->size,
               conv->text);
        rc = 0;
    }
    cnn_gray_free(&im);
    free(params);
    return rc;
}
