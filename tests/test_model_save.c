/* test_model_save.c — saving: a save replaces the old file atomically
 * (keeping its permissions), a save that fails part-way leaves the old
 * file whole and no temporary behind, and a save of anything the reader
 * would refuse is refused before the disk is touched, with one line. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model_files.h"

static void test_save_replaces(void **state)
{
    char path[128];
    in_dir(state, "replace.safetensors", path, sizeof path);
    cnn_arch a = seed_arch(), l5 = arch_of("lenet5", 28, 28, 10);
    save_model(path, &a, 100);
    assert_int_equal(chmod(path, 0640), 0);

    /* replaced by a model of another architecture */
    float *p = new_params(&l5);
    fill_params_bits(&l5, p, 200);
    cnn_model_meta m, back;
    fill_meta(&m, &l5);
    m.epoch = 4;
    round_trip(path, p, &m, &back);
    assert_int_equal(back.epoch, 4);

    /* Replacing a file keeps its permissions. */
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640);
    assert_int_equal(count_temp_files(((fixture *)*state)->dir), 0);
    free(p);
}


static void test_save_missing_dir(void **state)
{
    char path[128];
    in_dir(state, "no-such-dir/model.safetensors", path, sizeof path);
    cnn_arch a = seed_arch();
    float *p = calloc(22000, sizeof(float));
    assert_non_null(p);
    cnn_model_meta m;
    fill_meta(&m, &a);
    cnn_err err = {{0}};
    assert_int_equal(cnn_model_save(path, p, &m, &err), CNN_ERR_IO);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "No such file or directory"));
    assert_null(strchr(err.msg, '\n'));
    free(p);
}

/* A save that runs out of room part-way must leave the old model intact
 * and no temporary behind. RLIMIT_FSIZE makes write() fail with EFBIG (we
 * run as root, so permission tricks would not work). */
static void test_save_interrupted(void **state)
{
    const fixture *fx = *state;
    char path[128];
    in_dir(state, "keep.safetensors", path, sizeof path);
    cnn_arch a = seed_arch();
    float *old = new_params(&a), *q = new_params(&a);
    fill_params_bits(&a, old, 11);
    cnn_model_meta m, back;
    fill_meta(&m, &a);
    cnn_err err = {{0}};
    assert_int_equal(cnn_model_save(path, old, &m, &err), CNN_OK);

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {16384, 16384}; /* header fits, data does not */
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(2);
        fill_params_bits(&a, q, 12);
        m.epoch = 99;
        cnn_err cerr = {{0}};
        cnn_status st = cnn_model_save(path, q, &m, &cerr);
        ssize_t w = write(fds[1], cerr.msg, strlen(cerr.msg));
        (void)w;
        _exit(st == CNN_ERR_IO ? 0 : 1);
    }
    close(fds[1]);
    char msg[600] = "";
    size_t got = 0;
    ssize_t r;
    while ((r = read(fds[0], msg + got, sizeof msg - 1 - got)) > 0)
        got += (size_t)r;
    msg[got] = '\0';
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    print_message("    child's save: %s\n", msg);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_non_null(strstr(msg, path));
    assert_non_null(strstr(msg, "write failed: File too large"));

    free(q);
    q = NULL;
    assert_int_equal(cnn_model_load(path, &q, &back, &err), CNN_OK);
    assert_memory_equal(old, q, 22000 * sizeof *q);
    assert_meta_equal(&m, &back);
    assert_int_equal(count_temp_files(fx->dir), 0);
    free(old);
    free(q);
}

/* Every meta the reader would refuse is refused on save, with CNN_ERR_ARG
 * and one exact line; the file already there stays byte for byte. */
static void test_save_refused(void **state)
{
    char path[128];
    in_dir(state, "good.safetensors", path, sizeof path);
    cnn_arch a = arch_of(SPEC_OTHER, 20, 20, 7);
    save_model(path, &a, 31);
    size_t len;
    unsigned char *before = read_all(path, &len);

    float *p = new_params(&a);
    fill_params_finite(&a, p, 4);
    float blk[4] = {1, 2, 3, 4};
    for (int c = 0; c < 14; c++) {
        cnn_model_meta m;
        fill_meta(&m, &a);
        m.nblocks = 1;
        m.block[0] = (cnn_model_block){"optim.m", 4, blk};
        const char *want = NULL;
        switch (c) {
        case 0: m.epoch = -1;
            want = "__metadata__ epoch -1 is out of range [0, 2147483647]"; break;
        case 1: m.batch_in_epoch = -2;
            want = "__metadata__ batch_in_epoch -2 is out of range [0, 2147483647]"; break;
        case 2: m.step = -3;
            want = "__metadata__ step -3 is out of range [0, 9223372036854775807]"; break;
        case 3: m.rng.inc = 12;
            want = "__metadata__ rng_inc 12 is even (PCG32 needs it odd)"; break;
        case 4: m.rows = 28;
            want = "meta says 28x20 images and 7 classes, the architecture 20x20x1 and 7"; break;
        case 5: m.lr = -0.5f;
            want = "__metadata__ lr \"-0.5\" is not a finite number of at least 0"; break;
        case 6: snprintf(m.block[0].name, sizeof m.block[0].name, "momentum");
            want = "unknown tensor momentum"; break;
        case 7: m.nblocks = 2; m.block[1] = m.block[0];
            want = "duplicate tensor optim.m"; break;
        case 8: m.block[0].count = -1;
            want = "meta.block[0] (optim.m) has count -1 and some data"; break;
        case 9: memset(m.block[0].name, 'x', sizeof m.block[0].name);
            want = "meta.block[0].name is not a NUL-terminated UTF-8 string"; break;
        case 10: snprintf(m.extra, sizeof m.extra, "train.a=1\ntrain.a=2\n");
            want = "duplicate __metadata__ key \"train.a\""; break;
        case 11: snprintf(m.extra, sizeof m.extra, "optimizer=adam\n");
            want = "meta.extra line is not train.KEY=VALUE"; break;
        case 12: p[a.layer[7].b_off + 6] = NAN;
            want = "tensor fc2.bias holds a non-finite value (nan at index 6)"; break;
        case 13: blk[3] = -INFINITY;
            want = "tensor optim.m holds a non-finite value (-inf at index 3)"; break;
        }
        cnn_err err = {{0}};
        cnn_status st = cnn_model_save(path, p, &m, &err);
        print_message("    refused: %s\n", err.msg);
        assert_int_equal(st, CNN_ERR_ARG);
        char line[512];
        snprintf(line, sizeof line, "%s: %s", path, want);
        if (strcmp(err.msg, line) != 0)
            fail_msg("case %d\n got: %s\nwant: %s", c, err.msg, line);
        p[a.layer[7].b_off + 6] = 0.5f;
        blk[3] = 4;
    }
    size_t len2;
    unsigned char *after = read_all(path, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(before, after, len);
    assert_int_equal(count_temp_files(((fixture *)*state)->dir), 0);
    free(before);
    free(after);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_save_replaces),
        cmocka_unit_test(test_save_missing_dir),
        cmocka_unit_test(test_save_interrupted),
        cmocka_unit_test(test_save_refused),
    };
    return cmocka_run_group_tests(tests, model_group_setup, model_group_teardown);
}
