/* const_model.c — writes a seed-network model file that predicts one class
 * for every image: all weights zero, the last layer's bias 2 for that class
 * and 0 for the others, so every image gets the probabilities
 * e²/(e²+9) = 0.45085 and 1/(e²+9) = 0.06102, and a loss of ln(e²+9) - 2
 * or ln(e²+9). What eval and predict print for it follows from the labels
 * alone, so tests can compare exact lines. (With a bias of 1, the mean
 * test loss would be 2.3411502, a rounding error away from printing as
 * 2.3411 instead of 2.3412; with 2, every printed figure is 1e-5 or more
 * away from a rounding boundary.)
 *
 * usage: const_model OUT.safetensors CLASS [NAME0 ... NAME9]
 * With ten names, they are stored as the model's class names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn.h"
#include "cnn_model.h"

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 13) {
        fprintf(stderr, "usage: const_model OUT.safetensors CLASS [NAME0 ... NAME9]\n");
        return 2;
    }
    int cls = atoi(argv[2]);
    if (cls < 0 || cls > 9) {
        fprintf(stderr, "const_model: CLASS must be 0 to 9\n");
        return 2;
    }
    cnn_err err = {{0}};
    static cnn_arch a;
    static cnn_model_meta m;
    if (cnn_arch_parse(&a, "seed", 28, 28, 1, 10, &err) != CNN_OK) {
        fprintf(stderr, "const_model: %s\n", err.msg);
        return 1;
    }
    float *p = calloc((size_t)a.param_count, sizeof *p);
    if (!p)
        return 1;
    p[a.layer[a.n - 1].b_off + cls] = 2.0f;
    cnn_model_meta_init(&m, &a);
    m.epochs = m.epoch = 1;
    m.batch = 32;
    m.lr = 0.05f;
    m.seed = 1;
    snprintf(m.impl, sizeof m.impl, "blas");
    m.train_count = 300;
    m.step = 10;
    for (int k = 3, n = 0; k < argc && n < (int)sizeof m.class_names; k++)
        n += snprintf(m.class_names + n, sizeof m.class_names - (size_t)n, "%s%s",
                      k > 3 ? "\n" : "", argv[k]);
    cnn_status st = cnn_model_save(argv[1], p, &m, &err);
    free(p);
    if (st != CNN_OK) {
        fprintf(stderr, "const_model: %s\n", err.msg);
        return 1;
    }
    return 0;
}
