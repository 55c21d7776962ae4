/* test_gradcheck_dense.c — the backward kernels of the network's head
 * against finite differences: the dense layer (weights, bias, input; ref and
 * blas, including the single-sample SGEMV/SGER branches and LeNet-5's dense
 * sizes) and softmax + cross-entropy; plus the softmax Jacobian of §3.1
 * entry by entry, and its chain with ∂L/∂σ giving §3.2's σ − y. The forward
 * maths is re-written here in DOUBLE (cnn-math.md §2.5, §2.6); see
 * gradcheck.h for the method. The map layers are in test_gradcheck.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cnn.h"
#include "cnn_layers.h"
#include "cnn_rng.h"
#include "gradcheck.h"
#include "seed_shapes.h"

/* ---- the double oracles ---- */

/* §2.5: y = W·x + b, W[OUT][IN] */
static void oracle_dense(double *y, const double *x, const double *w, const double *b, int N,
                         int IN, int OUT)
{
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OUT; o++) {
            double s = b[o];
            for (int i = 0; i < IN; i++)
                s += w[(long)o * IN + i] * x[(long)n * IN + i];
            y[(long)n * OUT + o] = s;
        }
}

/* §2.6 */
static void oracle_softmax(double *sigma, const double *z, int OUT)
{
    double sum = 0.0;
    for (int j = 0; j < OUT; j++)
        sum += exp(z[j]);
    for (int i = 0; i < OUT; i++)
        sigma[i] = exp(z[i]) / sum;
}

/* §3.2's L = −Σ_i y_i log σ_i with one-hot y, summed over samples */
static double oracle_xent(const double *z, const uint8_t *labels, int N, int OUT)
{
    double sigma[64], loss = 0.0;
    assert_true(OUT <= 64);
    for (int n = 0; n < N; n++) {
        oracle_softmax(sigma, z + (long)n * OUT, OUT);
        loss -= log(sigma[labels[n]]);
    }
    return loss;
}

/* ---- dense ---- */

typedef struct {
    int N, IN, OUT;
    double *x, *w, *b, *r;
} dense_problem;

static double dense_loss(const void *ctx)
{
    const dense_problem *p = ctx;
    long ny = (long)p->N * p->OUT;
    double *y = xmalloc((size_t)ny * sizeof *y);
    oracle_dense(y, p->x, p->w, p->b, p->N, p->IN, p->OUT);
    double L = dot(p->r, y, ny);
    free(y);
    return L;
}

static void dense_case(int N, int IN, int OUT, cnn_rng *rng)
{
    long nx = (long)N * IN, nw = (long)OUT * IN, ny = (long)N * OUT;
    printf("dense N=%d IN=%d OUT=%d\n", N, IN, OUT);
    float *x = random_floats(rng, nx, -1, 1), *w = random_floats(rng, nw, -1, 1);
    float *b = random_floats(rng, OUT, -1, 1), *r = random_floats(rng, ny, -1, 1);
    dense_problem p = {N, IN, OUT, to_double(x, nx), to_double(w, nw), to_double(b, OUT),
                       to_double(r, ny)};
    float *dw_ref = zeros(nw), *db_ref = zeros(OUT), *dx_ref = zeros(nx);
    float *dw_blas = zeros(nw), *db_blas = zeros(OUT), *dx_blas = zeros(nx);
    cnn_dense_backward_weights_ref(dw_ref, db_ref, r, x, N, IN, OUT);
    cnn_dense_backward_input_ref(dx_ref, r, w, N, IN, OUT);
    cnn_dense_backward_weights_blas(dw_blas, db_blas, r, x, N, IN, OUT);
    cnn_dense_backward_input_blas(dx_blas, r, w, N, IN, OUT);

    check_grad("dense weights (ref)", p.w, nw, dw_ref, dense_loss, &p, 1e-3, rng);
    check_grad("dense weights (blas)", p.w, nw, dw_blas, dense_loss, &p, 1e-3, rng);
    check_grad("dense bias (ref)", p.b, OUT, db_ref, dense_loss, &p, 1e-3, rng);
    check_grad("dense bias (blas)", p.b, OUT, db_blas, dense_loss, &p, 1e-3, rng);
    check_grad("dense input (ref)", p.x, nx, dx_ref, dense_loss, &p, 1e-3, rng);
    check_grad("dense input (blas)", p.x, nx, dx_blas, dense_loss, &p, 1e-3, rng);

    FREE_ALL(x, w, b, r, p.x, p.w, p.b, p.r, dw_ref, db_ref, dx_ref, dw_blas, db_blas,
             dx_blas);
}

static void test_dense_gradients(void **state)
{
    (void)state;
    cnn_rng rng;
    cnn_rng_seed(&rng, 13);
    const seed_shapes sd = seed_shapes_get(); /* the seed's dense layer */
    dense_case(1, sd.flat, sd.classes, &rng); /* blas: SGER / SGEMV */
    dense_case(2, sd.flat, sd.classes, &rng); /* blas: SGEMM */
    dense_case(3, 7, 5, &rng);
    dense_case(5, 400, 120, &rng); /* LeNet-5's first dense layer */
}

/* ---- softmax + cross-entropy ---- */

enum { XN = 3, XOUT = 10 }; /* ten classes: the labels below go up to 9 */

typedef struct {
    double *z;
    const uint8_t *labels;
} xent_problem;

static double xent_loss(const void *ctx)
{
    const xent_problem *p = ctx;
    return oracle_xent(p->z, p->labels, XN, XOUT);
}

static void test_softmax_xent_gradient(void **state)
{
    (void)state;
    cnn_rng rng;
    cnn_rng_seed(&rng, 14);
    static const uint8_t labels[XN] = {0, 4, 9};
    float *z = random_floats(&rng, XN * XOUT, -3, 3);
    float probs[XN * XOUT], dz[XN * XOUT];
    xent_problem p = {to_double(z, XN * XOUT), labels};
    double loss = cnn_softmax_xent_forward(probs, z, labels, XN, XOUT);
    assert_true(fabs(loss - xent_loss(&p)) < 1e-5 * loss);
    cnn_softmax_xent_backward(dz, probs, labels, XN, XOUT, 1.0f);
    check_grad("softmax-xent logits", p.z, XN * XOUT, dz, xent_loss, &p, 1e-4, &rng);
    free(z);
    free(p.z);
}

/* §3.1 entry by entry against central differences of the double softmax,
 * then §3.2 as its chain: Jᵀ·(∂L/∂σ) with ∂L/∂σ_i = −y_i/σ_i is σ − y. */
static void test_softmax_jacobian(void **state)
{
    (void)state;
    cnn_rng rng;
    cnn_rng_seed(&rng, 15);
    const int label = 6;
    const double eps = 1e-5;
    float z[XOUT], probs[XOUT], J[XOUT * XOUT], dz[XOUT];
    uint8_t lab = (uint8_t)label;
    for (int i = 0; i < XOUT; i++)
        z[i] = cnn_rng_uniform(&rng, -2.0f, 2.0f);
    cnn_softmax_xent_forward(probs, z, &lab, 1, XOUT);
    cnn_softmax_jacobian(J, probs, XOUT);

    int diag = 0, offdiag = 0;
    double max_j = 0.0;
    for (int j = 0; j < XOUT; j++) {
        double zp[XOUT], zm[XOUT], sp[XOUT], sm[XOUT];
        for (int k = 0; k < XOUT; k++)
            zp[k] = zm[k] = z[k];
        zp[j] += eps;
        zm[j] -= eps;
        oracle_softmax(sp, zp, XOUT);
        oracle_softmax(sm, zm, XOUT);
        for (int i = 0; i < XOUT; i++) {
            double fd = (sp[i] - sm[i]) / (2.0 * eps), a = J[i * XOUT + j];
            if (!grad_ok(a, fd))
                fail_msg("softmax jacobian: dsigma_%d/dz_%d = %.8g, finite difference %.8g", i,
                         j, a, fd);
            max_j = fmax(max_j, fabs(a));
            if (i == j)
                diag++;
            else
                offdiag++;
        }
    }
    assert_int_equal(diag, XOUT);
    assert_int_equal(offdiag, XOUT * (XOUT - 1));
    assert_true(max_j > 1e-6);

    cnn_softmax_xent_backward(dz, probs, &lab, 1, XOUT, 1.0f);
    for (int j = 0; j < XOUT; j++) {
        double s = 0.0; /* (Jᵀ g)_j = Σ_i J[i][j]·g_i, g_i = −y_i/σ_i */
        for (int i = 0; i < XOUT; i++) {
            double g = i == label ? -1.0 / probs[i] : 0.0;
            s += J[i * XOUT + j] * g;
        }
        if (!(fabs(s - dz[j]) < 1e-6))
            fail_msg("J^T dL/dsigma at %d: %.8g, softmax_xent_backward %.8g", j, s, dz[j]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_gradients),
        cmocka_unit_test(test_softmax_xent_gradient),
        cmocka_unit_test(test_softmax_jacobian),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
