/* optim_dump.c — the C half of the PyTorch cross-check (optim_torch.py runs
 * it): ten cnn_optim_step calls on 37 parameters (decay ranges [0, 20) and
 * [25, 35), the rest undecayed like biases) with gradients and learning
 * rates from the project's RNG, printed as exact hex floats so that the
 * Python side can replay the same steps in torch.optim and compare.
 *
 *   optim_dump KIND MOMENTUM NESTEROV WEIGHT_DECAY CLIP_NORM
 *
 * Output, one record a line, values separated by spaces:
 *   ranges OFFSET COUNT ...       the decay ranges
 *   param V...                    the initial parameters
 *   step S LR GRAD_NORM           S = 1..10, the rate and the reported norm
 *   grad V...                     the gradient passed in (before clipping)
 *   param V...                    the parameters after the step
 *   state NAME V...               each state block after the step
 * Exit status 1 if a step fails, 2 on bad arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_optim.h"
#include "cnn_rng.h"

enum { N = 37, STEPS = 10 };

static void print_floats(const char *tag, const float *x, long n)
{
    printf("%s", tag);
    for (long i = 0; i < n; i++)
        printf(" %a", (double)x[i]);
    printf("\n");
}

int main(int argc, char **argv)
{
    cnn_optim_opts o;
    cnn_optim_opts_default(&o);
    if (argc != 6 || cnn_opt_kind_parse(argv[1], &o.kind) != CNN_OK) {
        fprintf(stderr, "usage: optim_dump sgd|adam|adamw MOMENTUM NESTEROV WD CLIP\n");
        return 2;
    }
    o.momentum = strtod(argv[2], NULL);
    o.nesterov = atoi(argv[3]);
    o.weight_decay = strtod(argv[4], NULL);
    o.clip_norm = strtod(argv[5], NULL);
    o.threads = 1;

    const cnn_range decay[2] = {{0, 20}, {25, 10}};
    cnn_optim *opt;
    cnn_err err;
    if (cnn_optim_create(&opt, &o, N, decay, 2, &err) != CNN_OK) {
        fprintf(stderr, "optim_dump: %s\n", err.msg);
        return 2;
    }
    printf("ranges 0 20 25 10\n");

    cnn_rng rng;
    cnn_rng_seed(&rng, 2024);
    float p[N], g[N];
    for (int i = 0; i < N; i++)
        p[i] = cnn_rng_uniform(&rng, -1.0f, 1.0f);
    print_floats("param", p, N);
    for (int s = 1; s <= STEPS; s++) {
        /* Gradients of norm ~2 (so that a clip norm of 1 bites), a rate that
         * changes every step as a schedule's does. */
        for (int i = 0; i < N; i++)
            g[i] = cnn_rng_uniform(&rng, -0.6f, 0.6f);
        float lr = o.kind == CNN_OPT_SGD ? 0.1f : 0.01f;
        lr *= cnn_rng_uniform(&rng, 0.5f, 1.0f);
        printf("step %d %a", s, (double)lr);
        float g_in[N];
        memcpy(g_in, g, sizeof g);
        double norm;
        cnn_status st = cnn_optim_step(opt, p, g, N, lr, &norm);
        if (st != CNN_OK) {
            fprintf(stderr, "optim_dump: step %d: %s\n", s, cnn_status_str(st));
            return 1;
        }
        printf(" %a\n", norm);
        print_floats("grad", g_in, N);
        print_floats("param", p, N);
        for (int b = 0; b < cnn_optim_state_count(opt); b++) {
            cnn_optim_state sb;
            cnn_optim_state_get(opt, b, &sb);
            char tag[64];
            snprintf(tag, sizeof tag, "state %s", sb.name);
            print_floats(tag, sb.data, sb.len);
        }
    }
    cnn_optim_free(opt);
    return 0;
}
