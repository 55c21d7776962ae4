/* flops.c — FLOPs per sample: the layers' counts are cnn_layer_flops's
 * (cnn_arch.h; the rules are written down in bench/README.md), summed here
 * over an architecture; the softmax + cross-entropy, not a layer of the
 * table, is counted here. `--flops` prints the per-layer table. */
#include <stdio.h>

#include "bench.h"

/* Forward: max, subtract, exp, sum, divide per class, and 3 for the loss
 * (log, two subtracts); backward: subtract the one-hot and scale, 2 per class. */
double softmax_flops(int classes, int pass)
{
    return pass == 0 ? 5.0 * classes + 3 : 2.0 * classes;
}

double arch_flops(const cnn_arch *a, int pass, int from_layer)
{
    double f = 0;
    for (int i = pass == 2 ? from_layer : 0; i < a->n; i++)
        f += cnn_layer_flops(&a->layer[i], pass);
    return f;
}

/* --flops: one line per layer, then the totals a training step and an
 * inference run (training skips the first layer's input gradient). */
void print_flops(const cnn_arch *a)
{
    const char *preset = cnn_arch_preset_name(a);
    printf("arch: %s%s%s%s; %ld parameters; input %dx%dx%d\n", a->spec, preset ? " (" : "",
           preset ? preset : "", preset ? ")" : "", a->param_count, a->in_h, a->in_w, a->in_c);
    printf("%3s %-14s %-12s %-12s %10s %12s %12s %12s\n", "#", "layer", "input", "output",
           "params", "forward", "param-grad", "input-grad");
    for (int i = 0; i < a->n; i++) {
        const cnn_layer *l = &a->layer[i];
        char in[24], out[24];
        snprintf(in, sizeof in, "%dx%dx%d", l->in_h, l->in_w, l->in_c);
        snprintf(out, sizeof out, "%dx%dx%d", l->out_h, l->out_w, l->out_c);
        printf("%3d %-14s %-12s %-12s %10ld %12.0f %12.0f %12.0f%s\n", i + 1, l->text, in, out,
               l->w_count + l->b_count, cnn_layer_flops(l, 0), cnn_layer_flops(l, 1),
               cnn_layer_flops(l, 2), i == 0 ? " (not run in training)" : "");
    }
    printf("%3s %-14s %-12s %-12s %10s %12.0f %12.0f %12.0f\n", "", "softmax+xent", "", "", "",
           softmax_flops(a->classes, 0), 0.0, softmax_flops(a->classes, 2));
    double f0 = arch_flops(a, 0, 0) + softmax_flops(a->classes, 0);
    double f1 = arch_flops(a, 1, 0);
    double f2 = arch_flops(a, 2, 1) + softmax_flops(a->classes, 2);
    printf("per sample: training step %.0f (forward %.0f + parameter gradients %.0f + input "
           "gradients %.0f), inference %.0f\n",
           f0 + f1 + f2, f0, f1, f2, f0);
}
