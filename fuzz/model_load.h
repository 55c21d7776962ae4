/* model_load.h — the one place the model fuzz targets call the model
 * loader, so that a change of cnn_model_load's signature or of the tensor
 * table is fixed here once (the targets themselves only make files).
 *
 * Checks, besides no crash and no sanitizer report, the loader's contract
 * (cnn_model.h): a refused file leaves the caller's parameters and metadata
 * exactly as they were and explains itself in one line naming the file; an
 * accepted one fills metadata whose strings are terminated. */
#ifndef CNN_FUZZ_MODEL_LOAD_H
#define CNN_FUZZ_MODEL_LOAD_H

#include <stdlib.h>
#include <string.h>

#include "cnn_model.h"
#include "harness.h"

static void fuzz_model_load(const char *path)
{
    /* Exactly the size the loader is told to fill, so ASan sees any write
     * past it, and a sentinel copy to see any write at all on refusal.
     * Kept from one input to the next: filling 2 × 350 KB of fresh pages
     * for every input took most of the time. */
    static float *params, *sentinel;
    static cnn_model_meta meta_sentinel;
    const size_t bytes = sizeof(float) * CNN_PARAM_COUNT;
    if (!params) {
        params = malloc(bytes);
        sentinel = malloc(bytes);
        FUZZ_ASSERT(params && sentinel);
        memset(sentinel, 0xa5, bytes);
        memcpy(params, sentinel, bytes);
        memset(&meta_sentinel, 0x5a, sizeof meta_sentinel);
    }
    cnn_model_meta meta = meta_sentinel;
    cnn_err err = {""};

    cnn_status st = cnn_model_load(path, params, &meta, &err);
    if (st == CNN_OK) {
        FUZZ_ASSERT(meta.format_version == CNN_MODEL_FORMAT_VERSION);
        FUZZ_ASSERT(memchr(meta.arch, '\0', sizeof meta.arch) != NULL);
        FUZZ_ASSERT(memchr(meta.impl, '\0', sizeof meta.impl) != NULL);
        memcpy(params, sentinel, bytes);
    } else {
        fuzz_check_err(st, &err, path);
        FUZZ_ASSERT(memcmp(params, sentinel, bytes) == 0);
        FUZZ_ASSERT(memcmp(&meta, &meta_sentinel, sizeof meta) == 0);
    }
}

#endif
