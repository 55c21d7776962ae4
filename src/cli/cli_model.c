/* cli_model.c — opening a saved model for the commands that use one (eval,
 * predict): load the file, make a network of the right kind, put the
 * weights in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_open_model(const char *cmd, const char *path, int *max_batch, int threads,
                   cnn_net **net, cnn_model_meta *meta)
{
    static cnn_model_meta m; /* static: it holds the architecture's table */
    cnn_err err = {{0}};
    float *params = NULL;
    *net = NULL;
    if (cnn_model_load(path, &params, &m, &err) != CNN_OK) {
        fprintf(stderr, "cnn %s: %s\n", cmd, err.msg);
        return -1;
    }
    cnn_model_meta_free(&m); /* an optimizer's state is of no use here */
    /* Older or foreign files may not say; blas is the trainer's default. */
    cnn_impl impl = CNN_IMPL_BLAS;
    if (m.impl[0] && cnn_impl_parse(m.impl, &impl) != 0) {
        fprintf(stderr, "cnn %s: %s: metadata names an unknown impl (expected ref or blas)\n",
                cmd, path);
        free(params);
        return -1;
    }
    if (*max_batch <= 0)
        *max_batch = m.batch >= 1 && m.batch <= CLI_MAX_BATCH ? m.batch : 32;
    cnn_status st = cnn_net_create(net, &m.arch, impl, *max_batch, threads);
    if (st != CNN_OK) {
        fprintf(stderr, "cnn %s: cannot create the network: %s\n", cmd, cnn_status_str(st));
        free(params);
        return -1;
    }
    memcpy(cnn_net_params(*net), params, (size_t)m.arch.param_count * sizeof *params);
    free(params);
    if (meta)
        *meta = m;
    return 0;
}
