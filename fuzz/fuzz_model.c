/* fuzz_model.c — libFuzzer target: the safetensors model loader
 * (cnn_model_load in src/model/model_load.c) on whole files as they come:
 * the 8-byte header length, the JSON header, the data and the file length
 * all as the input has them. fuzz_model_header.c reaches deeper into the
 * header; this one covers the framing (lengths, truncation, trailing
 * bytes) and the data of a real model. Checks: see model_load.h. */
#include "harness.h"
#include "model_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_model_load(fuzz_file(data, size));
    return 0;
}
