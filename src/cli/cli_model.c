/* cli_model.c — model files for the commands that use one (train --resume,
 * eval, predict, filters): a quick look at the first bytes, so that a FIFO,
 * a data file or a picture given by mistake gets a plain answer, then
 * loading the file into a network of the right kind. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "../util/open_regular.h"

/* What a file that is not a model looks like, from its first bytes. */
static const char *what_it_is(const unsigned char *b, size_t n)
{
    if (n >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 8 && (b[3] == 1 || b[3] == 3))
        return " (it is an IDX data file)";
    if (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0)
        return " (it is a PNG image)";
    if (n >= 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7')
        return " (it looks like a PGM/Netpbm image)";
    if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
        return " (it is gzip-compressed)";
    return "";
}

int cli_check_model_file(const char *cmd, const char *path)
{
    int fd = cnn_open_read(path);
    if (fd < 0) {
        fprintf(stderr, "cnn %s: %s: cannot open: %s\n", cmd, path, strerror(errno));
        return 1;
    }
    struct stat sb;
    unsigned char b[9];
    ssize_t n = 0;
    int rc = 1;
    if (fstat(fd, &sb) != 0)
        fprintf(stderr, "cnn %s: %s: cannot stat: %s\n", cmd, path, strerror(errno));
    else if (S_ISDIR(sb.st_mode))
        fprintf(stderr, "cnn %s: %s: %s\n", cmd, path, strerror(EISDIR));
    else if (!S_ISREG(sb.st_mode))
        fprintf(stderr, "cnn %s: %s: not a regular file\n", cmd, path);
    else if ((n = pread(fd, b, sizeof b, 0)) < 0)
        fprintf(stderr, "cnn %s: %s: read failed: %s\n", cmd, path, strerror(errno));
    else
        rc = 0;
    close(fd);
    if (rc || n < (ssize_t)sizeof b)
        return rc; /* too short to judge: the loader says "truncated" */
    /* safetensors: an 8-byte little-endian header length, then a JSON
     * object; the reference implementation insists on the '{'. */
    uint64_t len = 0;
    for (int k = 7; k >= 0; k--)
        len = len << 8 | b[k];
    if (b[8] != '{' || len < 2 || len > (uint64_t)sb.st_size - 8) {
        if (b[8] == '{' && len >= 2 && len < ((uint64_t)1 << 32))
            return 0; /* a model cut short: the loader says how */
        fprintf(stderr, "cnn %s: %s: not a safetensors file%s\n", cmd, path,
                what_it_is(b, sizeof b));
        return 1;
    }
    return 0;
}

int cli_open_model(const char *cmd, const char *path, int *max_batch, int threads,
                   cnn_net **net, cnn_model_meta *meta)
{
    static cnn_model_meta m; /* static: it holds the architecture's table */
    cnn_err err = {{0}};
    float *params = NULL;
    *net = NULL;
    if (cli_check_model_file(cmd, path) != 0)
        return -1;
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
