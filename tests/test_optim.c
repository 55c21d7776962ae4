/* test_optim.c — the optimizers of cnn_optim.h against values worked out by
 * hand. Inputs are powers of two and small dyadic fractions wherever the rule
 * allows, so that float arithmetic is exact and the expected numbers below
 * are the true ones, not another implementation's output. Also: plain SGD is
 * the trainer's old p -= lr·g bit for bit; weight decay touches the decay
 * ranges only; clipping; a non-finite gradient changes nothing; a copied
 * state continues bit for bit; any thread count gives the same bits.
 * (tests/optim_torch.py checks the same rules against PyTorch itself.) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "cnn_optim.h"
#include "cnn_rng.h"

static cnn_optim *make(cnn_opt_kind kind, double momentum, int nesterov, double wd, long n,
                       const cnn_range *decay, int ndecay)
{
    cnn_optim_opts o;
    cnn_optim_opts_default(&o);
    o.kind = kind;
    o.momentum = momentum;
    o.nesterov = nesterov;
    o.weight_decay = wd;
    o.threads = 1;
    cnn_optim *opt = NULL;
    cnn_err err;
    if (cnn_optim_create(&opt, &o, n, decay, ndecay, &err) != CNN_OK)
        fail_msg("create: %s", err.msg);
    return opt;
}

static float *state_block(cnn_optim *opt, const char *name)
{
    for (int i = 0; i < cnn_optim_state_count(opt); i++) {
        cnn_optim_state s;
        assert_int_equal(cnn_optim_state_get(opt, i, &s), CNN_OK);
        if (strcmp(s.name, name) == 0)
            return s.data;
    }
    fail_msg("no state block %s", name);
    return NULL;
}

static void fill(float *x, long n, uint64_t seed, float lo, float hi)
{
    cnn_rng r;
    cnn_rng_seed(&r, seed);
    for (long i = 0; i < n; i++)
        x[i] = cnn_rng_uniform(&r, lo, hi);
}

static void test_plain_sgd_is_old_update(void **state)
{
    (void)state;
    enum { N = 1001 };
    static float p[N], q[N], g[N];
    fill(p, N, 1, -1.0f, 1.0f);
    memcpy(q, p, sizeof p);
    cnn_optim *opt = make(CNN_OPT_SGD, 0.0, 0, 0.0, N, NULL, 0);
    assert_int_equal(cnn_optim_state_count(opt), 0);
    const float lrs[] = {0.05f, 0.1f, 0.0123f};
    for (int s = 0; s < 3; s++) {
        fill(g, N, 10 + s, -0.3f, 0.3f);
        for (long i = 0; i < N; i++)
            q[i] -= lrs[s] * g[i]; /* what cnn_net_train_step did */
        assert_int_equal(cnn_optim_step(opt, p, g, N, lrs[s], NULL), CNN_OK);
        assert_memory_equal(p, q, sizeof p);
    }
    assert_int_equal(cnn_optim_step_count(opt), 3);
    cnn_optim_free(opt);
}

/* μ = 0.5, lr = 0.5, p = 1, gradients 1, 2, −4. Heavy ball: buf 1, 2.5,
 * −2.75; p 0.5, −0.75, 0.625. Nesterov (d = g + μ·buf): d 1.5, 3.25, −5.375;
 * p 0.25, −1.375, 1.3125. */
static void test_sgd_momentum_and_nesterov(void **state)
{
    (void)state;
    const float grads[3] = {1.0f, 2.0f, -4.0f};
    const float heavy[3] = {0.5f, -0.75f, 0.625f}, buf[3] = {1.0f, 2.5f, -2.75f};
    const float nest[3] = {0.25f, -1.375f, 1.3125f};
    for (int nesterov = 0; nesterov <= 1; nesterov++) {
        cnn_optim *opt = make(CNN_OPT_SGD, 0.5, nesterov, 0.0, 1, NULL, 0);
        assert_int_equal(cnn_optim_state_count(opt), 1);
        float p = 1.0f;
        for (int s = 0; s < 3; s++) {
            float g = grads[s];
            assert_int_equal(cnn_optim_step(opt, &p, &g, 1, 0.5f, NULL), CNN_OK);
            assert_true(p == (nesterov ? nest[s] : heavy[s]));
            assert_true(state_block(opt, "momentum_buffer")[0] == buf[s]);
        }
        cnn_optim_free(opt);
    }
}

/* Decay range {0, 2} of 4; wd 0.5, lr 0.5, p = (1, 2, 1, 2), g = 1: the
 * weights see d = 1 + 0.5·p = 1.5, 2 → p = 0.25, 1; the biases d = 1 → 0.5,
 * 1.5. */
static void test_sgd_decay_weights_not_biases(void **state)
{
    (void)state;
    const cnn_range w = {0, 2};
    cnn_optim *opt = make(CNN_OPT_SGD, 0.0, 0, 0.5, 4, &w, 1);
    float p[4] = {1, 2, 1, 2}, g[4] = {1, 1, 1, 1};
    const float want[4] = {0.25f, 1.0f, 0.5f, 1.5f};
    assert_int_equal(cnn_optim_step(opt, p, g, 4, 0.5f, NULL), CNN_OK);
    assert_memory_equal(p, want, sizeof p);
    cnn_optim_free(opt);
}

/* β₁ = 0.5, β₂ = 0.75, eps = 0, lr = 0.25, p = 1, g = 2: m = 1, v = 1,
 * bias corrections 0.5 and √0.25 = 0.5, step size 0.5, denom 1/0.5 = 2:
 * p = 1 − 0.5·1/2 = 0.75, i.e. lr·sign(g) as Adam's first step always is.
 * Step 2, g = −4: m = −1.5, v = 4.75, 1 − β₁² = 0.75, 1 − β₂² = 0.4375:
 * p = 0.75 − (0.25/0.75)·(−1.5)/(√4.75/√0.4375) = 0.75 + 0.5/3.29502...
 * = 0.901743... (in double; float agrees to an ulp or two). AdamW, wd 0.5:
 * step 1 first scales p by 1 − 0.25·0.5 = 0.875, then 0.875 − 0.25 = 0.625.
 * Adam with L2 0.5: g = 2 + 0.5 = 2.5, m = 1.25, v = 1.5625, denom
 * 1.25/0.5 = 2.5, p = 1 − 0.5·1.25/2.5 = 0.75. */
static cnn_optim *make_adam(cnn_opt_kind kind, double wd, const cnn_range *r, int nr, long n)
{
    cnn_optim_opts o;
    cnn_optim_opts_default(&o);
    o.kind = kind;
    o.beta1 = 0.5;
    o.beta2 = 0.75;
    o.eps = 0.0;
    o.weight_decay = wd;
    o.threads = 1;
    cnn_optim *opt = NULL;
    assert_int_equal(cnn_optim_create(&opt, &o, n, r, nr, NULL), CNN_OK);
    return opt;
}

static void test_adam_by_hand(void **state)
{
    (void)state;
    cnn_optim *opt = make_adam(CNN_OPT_ADAM, 0.0, NULL, 0, 1);
    float p = 1.0f, g = 2.0f;
    assert_int_equal(cnn_optim_step(opt, &p, &g, 1, 0.25f, NULL), CNN_OK);
    assert_true(p == 0.75f);
    assert_true(state_block(opt, "exp_avg")[0] == 1.0f);
    assert_true(state_block(opt, "exp_avg_sq")[0] == 1.0f);
    g = -4.0f;
    assert_int_equal(cnn_optim_step(opt, &p, &g, 1, 0.25f, NULL), CNN_OK);
    assert_true(state_block(opt, "exp_avg")[0] == -1.5f);
    assert_true(state_block(opt, "exp_avg_sq")[0] == 4.75f);
    double want = 0.75 + (0.25 / 0.75) * 1.5 / (sqrt(4.75) / sqrt(0.4375));
    assert_true(fabs(p - want) < 2e-7);
    cnn_optim_free(opt);

    const cnn_range w = {0, 1}; /* element 0 decayed, element 1 not */
    float pw[2] = {1, 1}, gw[2] = {2, 2};
    opt = make_adam(CNN_OPT_ADAMW, 0.5, &w, 1, 2);
    assert_int_equal(cnn_optim_step(opt, pw, gw, 2, 0.25f, NULL), CNN_OK);
    assert_true(pw[0] == 0.625f && pw[1] == 0.75f);
    cnn_optim_free(opt);
    float pa[2] = {1, 1}, ga[2] = {2, 2};
    opt = make_adam(CNN_OPT_ADAM, 0.5, &w, 1, 2);
    assert_int_equal(cnn_optim_step(opt, pa, ga, 2, 0.25f, NULL), CNN_OK);
    assert_true(pa[0] == 0.75f && pa[1] == 0.75f);
    assert_true(state_block(opt, "exp_avg")[0] == 1.25f); /* the decayed gradient */
    assert_true(state_block(opt, "exp_avg")[1] == 1.0f);
    cnn_optim_free(opt);
}

/* With the default β's the first step is −lr·g/(|g| + eps) ≈ −lr·sign(g)
 * whatever |g|: the bias correction undoes the (1 − β) factors. */
static void test_adam_first_step_default_betas(void **state)
{
    (void)state;
    const float g0[4] = {1e-3f, -0.5f, 3.0f, -20.0f};
    for (int k = CNN_OPT_ADAM; k <= CNN_OPT_ADAMW; k++) {
        cnn_optim *opt = make((cnn_opt_kind)k, 0.0, 0, 0.0, 4, NULL, 0);
        float p[4] = {1, 1, 1, 1}, g[4];
        memcpy(g, g0, sizeof g);
        assert_int_equal(cnn_optim_step(opt, p, g, 4, 0.01f, NULL), CNN_OK);
        for (int i = 0; i < 4; i++)
            assert_true(fabs(p[i] - (g0[i] > 0 ? 0.99 : 1.01)) < 1e-6);
        cnn_optim_free(opt);
    }
}

/* The SSE2 body and the scalar tail of adam_seg against this plain float
 * rendering of the header's formula: bitwise, on every element, with a decay
 * range that starts and ends off the 4-float boundary. */
static void test_adam_matches_scalar_formula(void **state)
{
    (void)state;
    enum { N = 23 };
    const cnn_range w = {3, 14};
    for (int adamw = 0; adamw <= 1; adamw++) {
        cnn_optim_opts o;
        cnn_optim_opts_default(&o);
        o.kind = adamw ? CNN_OPT_ADAMW : CNN_OPT_ADAM;
        o.weight_decay = 0.03;
        o.threads = 1;
        cnn_optim *opt;
        assert_int_equal(cnn_optim_create(&opt, &o, N, &w, 1, NULL), CNN_OK);
        float p[N], g[N], q[N], m[N] = {0}, v[N] = {0};
        fill(p, N, 5, -1.0f, 1.0f);
        memcpy(q, p, sizeof p);
        for (int t = 1; t <= 4; t++) {
            const float lr = 0.01f;
            fill(g, N, 20 + t, -1.0f, 1.0f);
            double bc1 = 1.0 - pow(0.9, t), bc2 = 1.0 - pow(0.999, t);
            float ns = (float)(-(lr / bc1)), b2s = (float)sqrt(bc2);
            float dm = (float)(1.0 - lr * 0.03);
            for (int i = 0; i < N; i++) {
                int dec = i >= 3 && i < 17;
                float gi = g[i];
                if (dec && !adamw)
                    gi = gi + 0.03f * q[i];
                if (dec && adamw)
                    q[i] = q[i] * dm;
                m[i] = m[i] * 0.9f + (float)(1.0 - 0.9) * gi;
                v[i] = v[i] * 0.999f + ((float)(1.0 - 0.999) * gi) * gi;
                q[i] = q[i] + (ns * m[i]) / (sqrtf(v[i]) / b2s + 1e-8f);
            }
            assert_int_equal(cnn_optim_step(opt, p, g, N, lr, NULL), CNN_OK);
            assert_memory_equal(p, q, sizeof p);
            assert_memory_equal(state_block(opt, "exp_avg"), m, sizeof m);
            assert_memory_equal(state_block(opt, "exp_avg_sq"), v, sizeof v);
        }
        cnn_optim_free(opt);
    }
}

/* g = (3, 4), ‖g‖ = 5. Clip to 1: g becomes (3, 4)·(1/(5 + 1e-6)), the
 * norm reported is 5. Clip to 10: nothing changes. */
static void test_clip(void **state)
{
    (void)state;
    for (int big = 0; big <= 1; big++) {
        cnn_optim_opts o;
        cnn_optim_opts_default(&o);
        o.clip_norm = big ? 10.0 : 1.0;
        o.threads = 1;
        cnn_optim *opt;
        assert_int_equal(cnn_optim_create(&opt, &o, 2, NULL, 0, NULL), CNN_OK);
        float p[2] = {1, 1}, g[2] = {3, 4};
        double norm = -1.0;
        assert_int_equal(cnn_optim_step(opt, p, g, 2, 0.5f, &norm), CNN_OK);
        assert_true(norm == 5.0); /* sqrt(25) */
        float c = big ? 1.0f : 1.0f / (5.0f + 1e-6f);
        assert_true(g[0] == 3.0f * c && g[1] == 4.0f * c);
        assert_true(p[0] == 1.0f - 0.5f * g[0] && p[1] == 1.0f - 0.5f * g[1]);
        if (!big)
            assert_true(fabs(hypot(g[0], g[1]) - 1.0) < 1e-6);
        cnn_optim_free(opt);
    }
}

static void test_nonfinite_gradient_changes_nothing(void **state)
{
    (void)state;
    const float bad[2] = {INFINITY, NAN};
    for (int b = 0; b < 2; b++) {
        cnn_optim *opt = make(CNN_OPT_ADAM, 0.0, 0, 0.0, 3, NULL, 0);
        float p[3] = {1, 2, 3}, g[3] = {0.5f, 0.5f, 0.5f};
        assert_int_equal(cnn_optim_step(opt, p, g, 3, 0.1f, NULL), CNN_OK);
        float p1[3], m1[3];
        memcpy(p1, p, sizeof p);
        memcpy(m1, state_block(opt, "exp_avg"), sizeof m1);
        g[1] = bad[b];
        double norm = 0.0;
        assert_int_equal(cnn_optim_step(opt, p, g, 3, 0.1f, &norm), CNN_ERR_DIVERGED);
        assert_false(isfinite(norm));
        assert_memory_equal(p, p1, sizeof p);
        assert_memory_equal(state_block(opt, "exp_avg"), m1, sizeof m1);
        assert_int_equal(cnn_optim_step_count(opt), 1);
        cnn_optim_free(opt);
    }
}

/* Five steps; the state copied into a fresh optimizer; five more steps on
 * each: the same bits. Without the step count the copy would redo SGD's
 * first-step clone and Adam's bias correction, and differ. */
static void test_state_round_trip(void **state)
{
    (void)state;
    enum { N = 37 };
    const cnn_range w = {0, 30};
    for (int k = 0; k < 3; k++) {
        cnn_opt_kind kind = k == 0 ? CNN_OPT_SGD : k == 1 ? CNN_OPT_ADAM : CNN_OPT_ADAMW;
        cnn_optim *a = make(kind, 0.9, 1, 0.01, N, &w, 1);
        float p[N], q[N], g[N];
        fill(p, N, 3, -1.0f, 1.0f);
        for (int s = 0; s < 5; s++) {
            fill(g, N, 40 + s, -1.0f, 1.0f);
            assert_int_equal(cnn_optim_step(a, p, g, N, 0.01f, NULL), CNN_OK);
        }
        cnn_optim *b = make(kind, 0.9, 1, 0.01, N, &w, 1);
        assert_int_equal(cnn_optim_state_count(b), k == 0 ? 1 : 2);
        for (int i = 0; i < cnn_optim_state_count(a); i++) {
            cnn_optim_state sa, sb;
            assert_int_equal(cnn_optim_state_get(a, i, &sa), CNN_OK);
            assert_int_equal(cnn_optim_state_get(b, i, &sb), CNN_OK);
            assert_string_equal(sa.name, sb.name);
            assert_int_equal(sa.len, N);
            memcpy(sb.data, sa.data, (size_t)N * sizeof(float));
        }
        assert_int_equal(cnn_optim_set_step_count(b, cnn_optim_step_count(a)), CNN_OK);
        memcpy(q, p, sizeof p);
        for (int s = 0; s < 5; s++) {
            float g2[N];
            fill(g, N, 50 + s, -1.0f, 1.0f);
            memcpy(g2, g, sizeof g);
            assert_int_equal(cnn_optim_step(a, p, g, N, 0.01f, NULL), CNN_OK);
            assert_int_equal(cnn_optim_step(b, q, g2, N, 0.01f, NULL), CNN_OK);
            assert_memory_equal(p, q, sizeof p);
        }
        cnn_optim_state s;
        assert_int_equal(cnn_optim_state_get(a, 2, &s), CNN_ERR_ARG);
        cnn_optim_free(a);
        cnn_optim_free(b);
    }
}

/* Enough parameters for the parallel region (32768), many norm blocks, a
 * length that is no multiple of 4, clipping on, decay ranges: 1, 2 and 3
 * threads give the same bits. */
static void test_thread_count_independent(void **state)
{
    (void)state;
    enum { N = 40009, STEPS = 3 };
    static float p[3][N], g[N], g0[N];
    double norms[3][STEPS];
    const cnn_range w[2] = {{20000, 16000}, {1, 16001}};
    for (int k = 0; k < 3; k++) {
        for (int th = 1; th <= 3; th++) {
            cnn_optim_opts o;
            cnn_optim_opts_default(&o);
            o.kind = k == 0 ? CNN_OPT_SGD : k == 1 ? CNN_OPT_ADAM : CNN_OPT_ADAMW;
            o.momentum = 0.9;
            o.weight_decay = 0.01;
            o.clip_norm = 1.0;
            o.threads = th;
            cnn_optim *opt;
            assert_int_equal(cnn_optim_create(&opt, &o, N, w, 2, NULL), CNN_OK);
            fill(p[th - 1], N, 7, -1.0f, 1.0f);
            for (int s = 0; s < STEPS; s++) {
                fill(g0, N, 60 + s, -0.05f, 0.05f);
                memcpy(g, g0, sizeof g);
                double *norm = &norms[th - 1][s];
                assert_int_equal(cnn_optim_step(opt, p[th - 1], g, N, 0.05f, norm), CNN_OK);
                assert_true(*norm > 1.0); /* so clipping is on */
            }
            cnn_optim_free(opt);
        }
        assert_memory_equal(p[0], p[1], sizeof p[0]);
        assert_memory_equal(p[0], p[2], sizeof p[0]);
        /* The double norm too, though (rounded to float for clipping) a
         * summation order that depended on the threads would rarely show in
         * the parameters. */
        assert_memory_equal(norms[0], norms[1], sizeof norms[0]);
        assert_memory_equal(norms[0], norms[2], sizeof norms[0]);
    }
}

static void test_names_and_bad_options(void **state)
{
    (void)state;
    for (int k = 0; k < 3; k++) {
        cnn_opt_kind back;
        assert_int_equal(cnn_opt_kind_parse(cnn_opt_kind_name((cnn_opt_kind)k), &back), CNN_OK);
        assert_int_equal(back, k);
    }
    assert_string_equal(cnn_opt_kind_name(CNN_OPT_ADAMW), "adamw");
    cnn_opt_kind kind;
    assert_int_equal(cnn_opt_kind_parse("Adam", &kind), CNN_ERR_ARG);
    assert_int_equal(cnn_opt_kind_parse(NULL, &kind), CNN_ERR_ARG);

    cnn_optim_opts o;
    cnn_optim *opt = NULL;
    cnn_err err;
    struct { double *field; double value; } bad[] = {
        {&o.momentum, -0.1}, {&o.beta1, 1.0}, {&o.beta2, -0.5}, {&o.eps, -1e-8},
        {&o.weight_decay, NAN}, {&o.clip_norm, -1.0}, {&o.clip_norm, INFINITY},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cnn_optim_opts_default(&o);
        *bad[i].field = bad[i].value;
        assert_int_equal(cnn_optim_create(&opt, &o, 4, NULL, 0, &err), CNN_ERR_ARG);
        assert_null(opt);
    }
    cnn_optim_opts_default(&o);
    o.nesterov = 1; /* without momentum */
    assert_int_equal(cnn_optim_create(&opt, &o, 4, NULL, 0, &err), CNN_ERR_ARG);
    print_message("    e.g. \"%s\"\n", err.msg);
    cnn_optim_opts_default(&o);
    const cnn_range overlap[2] = {{0, 3}, {2, 1}}, outside = {2, 3}, negative = {-1, 1};
    assert_int_equal(cnn_optim_create(&opt, &o, 4, overlap, 2, &err), CNN_ERR_ARG);
    assert_int_equal(cnn_optim_create(&opt, &o, 4, &outside, 1, &err), CNN_ERR_ARG);
    assert_int_equal(cnn_optim_create(&opt, &o, 4, &negative, 1, &err), CNN_ERR_ARG);
    assert_null(opt);

    const cnn_range fine[2] = {{2, 2}, {0, 1}};
    assert_int_equal(cnn_optim_create(&opt, &o, 4, fine, 2, &err), CNN_OK);
    float p[4] = {0}, g[4] = {0};
    assert_int_equal(cnn_optim_step(opt, p, g, 3, 0.1f, NULL), CNN_ERR_ARG);
    assert_int_equal(cnn_optim_step(opt, p, g, 4, -0.1f, NULL), CNN_ERR_ARG);
    assert_int_equal(cnn_optim_step(opt, p, g, 4, NAN, NULL), CNN_ERR_ARG);
    assert_int_equal(cnn_optim_step_count(opt), 0);
    assert_int_equal(cnn_optim_set_step_count(opt, -1), CNN_ERR_ARG);
    cnn_optim_free(opt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_sgd_is_old_update),
        cmocka_unit_test(test_sgd_momentum_and_nesterov),
        cmocka_unit_test(test_sgd_decay_weights_not_biases),
        cmocka_unit_test(test_adam_by_hand),
        cmocka_unit_test(test_adam_first_step_default_betas),
        cmocka_unit_test(test_adam_matches_scalar_formula),
        cmocka_unit_test(test_clip),
        cmocka_unit_test(test_nonfinite_gradient_changes_nothing),
        cmocka_unit_test(test_state_round_trip),
        cmocka_unit_test(test_thread_count_independent),
        cmocka_unit_test(test_names_and_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
