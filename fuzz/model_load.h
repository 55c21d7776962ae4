/* model_load.h — the one place the model fuzz targets call the model
 * loader, so that a change of cnn_model_load's signature or of the tensor
 * table is fixed here once (the targets themselves only make files).
 *
 * Checks, besides no crash and no sanitizer report, the loader's contract
 * (cnn_model.h): a refused file leaves the caller's parameters and metadata
 * exactly as they were and explains itself in one line naming the file; an
 * accepted one fills metadata whose strings are terminated. The verdict
 * (fuzz_verdict) is the refusal's line, or the format version, image size,
 * classes, canonical spec and optimizer blocks of the network loaded. */
#ifndef CNN_FUZZ_MODEL_LOAD_H
#define CNN_FUZZ_MODEL_LOAD_H

#include <stdlib.h>
#include <string.h>

#include "cnn_model.h"
#include "harness.h"

static void fuzz_model_load(const char *path)
{
    /* The loader allocates the parameters (their count comes from the
     * file's architecture); the metadata is the caller's: a sentinel copy
     * shows any write to it on refusal. static: it holds the layer table. */
    static cnn_model_meta meta, meta_sentinel;
    static int init;
    if (!init) {
        init = 1;
        memset(&meta_sentinel, 0x5a, sizeof meta_sentinel);
    }
    meta = meta_sentinel;
    cnn_err err = {""};
    float *params = (float *)&meta; /* a value the loader must overwrite or leave */

    cnn_status st = cnn_model_load(path, &params, &meta, &err);
    if (st == CNN_OK) {
        FUZZ_ASSERT(meta.format_version >= 1 && meta.format_version <= CNN_MODEL_FORMAT_VERSION);
        FUZZ_ASSERT(memchr(meta.arch.spec, '\0', sizeof meta.arch.spec) != NULL);
        FUZZ_ASSERT(memchr(meta.impl, '\0', sizeof meta.impl) != NULL);
        FUZZ_ASSERT(params != NULL && meta.arch.param_count >= 1);
        /* every value loaded is finite (the loader refuses NaN and Inf) */
        for (long i = 0; i < meta.arch.param_count; i++)
            FUZZ_ASSERT(params[i] - params[i] == 0.0f);
        fuzz_verdict("accepted: format %d, %dx%d, %d classes, %s, %d optimizer blocks",
                     meta.format_version, meta.rows, meta.cols, meta.classes, meta.arch.spec,
                     meta.nblocks);
        free(params);
        cnn_model_meta_free(&meta);
    } else {
        fuzz_check_err(st, &err, path);
        fuzz_verdict("refused: %s", err.msg);
        FUZZ_ASSERT(params == NULL); /* set to NULL, nothing allocated */
        FUZZ_ASSERT(memcmp(&meta, &meta_sentinel, sizeof meta) == 0);
    }
}

#endif
