/* cnn_optim.h — optimizers (SGD with momentum/Nesterov, Adam, AdamW),
 * gradient-norm clipping and learning-rate schedules, on flat float blocks.
 *
 * The update rules are torch.optim's (PyTorch 1.13, _single_tensor_sgd,
 * _single_tensor_adam, _single_tensor_adamw) and torch.nn.utils.
 * clip_grad_norm_, with the float32 operations in the same order, so a run can
 * be checked against PyTorch (tests/optim_torch.py). The one systematic
 * difference: PyTorch's CPU kernels (AVX2) fuse `a + alpha*b` into one FMA,
 * this project (C11, no contraction) rounds the product and the sum
 * separately, as the plain-SGD trainer always has; results agree to about
 * 1e-7 relative, and a test build with the FMA in the same places
 * (CNN_OPTIM_FMA) matches PyTorch 1.13 bit for bit.
 *
 * Hyper-parameters are doubles, like PyTorch's Python floats: derived
 * constants (1 − β₁, 1 − lr·wd, bias corrections) are computed in double and
 * rounded to float once, where PyTorch rounds them. The learning rate is a
 * float, as in the rest of the trainer.
 *
 * Everything is elementwise except the gradient norm, which is summed in a
 * fixed order, so results are bitwise the same for any thread count. */
#ifndef CNN_OPTIM_H
#define CNN_OPTIM_H

#include "cnn_status.h"

/* ---- Optimizers ---- */

typedef enum { CNN_OPT_SGD, CNN_OPT_ADAM, CNN_OPT_ADAMW } cnn_opt_kind;

const char *cnn_opt_kind_name(cnn_opt_kind k);          /* "sgd", "adam", "adamw" */
cnn_status cnn_opt_kind_parse(const char *s, cnn_opt_kind *out); /* CNN_ERR_ARG if unknown */

typedef struct {
    cnn_opt_kind kind;
    double momentum;     /* SGD: μ ≥ 0; 0 = plain SGD (no buffer). Dampening is 0. */
    int nesterov;        /* SGD: Nesterov momentum (needs momentum > 0) */
    double beta1, beta2; /* Adam/AdamW: in [0, 1) */
    double eps;          /* Adam/AdamW: ≥ 0 */
    double weight_decay; /* ≥ 0; applied only to the decay ranges (see create) */
    double clip_norm;    /* > 0: clip the global gradient L2 norm to this; 0 = off */
    int threads;         /* OpenMP threads for a step of ≥ 32768 parameters
                          * (smaller ones run serially: faster); 0 = OpenMP's
                          * default. Results do not depend on it. */
} cnn_optim_opts;

/* sgd, momentum 0, nesterov 0, beta1 0.9, beta2 0.999, eps 1e-8,
 * weight_decay 0, clip_norm 0 (off), threads 0: plain SGD, as the trainer
 * did before. */
void cnn_optim_opts_default(cnn_optim_opts *o);

/* CNN_ERR_ARG with a message naming the bad value (the checks torch.optim
 * makes, plus finiteness and clip_norm ≥ 0). */
cnn_status cnn_optim_opts_check(const cnn_optim_opts *o, cnn_err *err);

/* A run of parameters [offset, offset + count) within the flat block. */
typedef struct {
    long offset, count;
} cnn_range;

typedef struct cnn_optim cnn_optim;

/* An optimizer for n parameters. Weight decay applies to the parameters in
 * decay[0 .. ndecay-1] only (the caller passes its weight tensors; biases are
 * left out and never decayed, like a PyTorch parameter group with
 * weight_decay 0). Ranges must lie in [0, n) and not overlap; any order.
 * decay may be NULL when ndecay is 0. The state starts at zero, step count 0.
 * CNN_ERR_ARG (message in err) for bad options or ranges, CNN_ERR_NOMEM. */
cnn_status cnn_optim_create(cnn_optim **out, const cnn_optim_opts *o, long n,
                            const cnn_range *decay, int ndecay, cnn_err *err);
void cnn_optim_free(cnn_optim *opt);
/* The threads of the next steps (as cnn_optim_opts.threads; results do not
 * depend on it): the trainer follows its adaptive thread count. */
void cnn_optim_set_threads(cnn_optim *opt, int threads);

/* One step with learning rate lr (finite, ≥ 0) on n parameters (the n of
 * create), in this order, as PyTorch does it:
 *   1. norm = ‖grads‖₂ over all n, summed in double in a fixed order;
 *      stored in *grad_norm when grad_norm is not NULL (the same bits for
 *      any thread count). If norm is not finite as a float, returns
 *      CNN_ERR_DIVERGED and changes nothing.
 *   2. clip_norm > 0: with N = (float)norm (PyTorch's total_norm is
 *      float32), c = (1 / (N + 1e-6)) · clip_norm in float (PyTorch's
 *      clip_norm / (N + 1e-6)); if c < 1, grads are scaled by c in place
 *      (the caller sees the clipped gradient).
 *   3. the update (g = grads[i], p = params[i], wd = weight_decay inside the
 *      decay ranges and 0 outside; all float; t = step count after this step):
 *      sgd    g += wd·p;  μ > 0: buf = t == 1 ? g : μ·buf + g,
 *             g = nesterov ? g + μ·buf : buf;   p -= lr·g
 *             (μ = 0, wd = 0: exactly p -= lr·g, the trainer's old update)
 *      adam   g += wd·p;  m = β₁·m + (1−β₁)·g;  v = β₂·v + ((1−β₂)·g)·g;
 *             p += (−lr/(1−β₁ᵗ))·m / (√v / √(1−β₂ᵗ) + eps)
 *      adamw  p *= 1 − lr·wd;  then adam's m, v and p updates without the
 *             g += wd·p
 *   4. the step count goes up by one.
 * CNN_ERR_ARG if n differs from create's or lr is invalid (nothing changed). */
cnn_status cnn_optim_step(cnn_optim *opt, float *params, float *grads, long n, float lr,
                          double *grad_norm);

/* ---- State, for checkpoints ----
 * The state is the step count plus 0 (sgd, μ = 0), 1 (sgd, μ > 0:
 * "momentum_buffer") or 2 (adam, adamw: "exp_avg", "exp_avg_sq") blocks of n
 * floats, named as in PyTorch's optimizer state_dict. To checkpoint: save the
 * step count and each block; to resume: create an optimizer with the same
 * options, copy each block into the one of the same name and set the step
 * count. The resumed optimizer then continues bit for bit. */
typedef struct {
    const char *name; /* "momentum_buffer", "exp_avg", "exp_avg_sq" */
    float *data;      /* n floats, owned by the optimizer, writable */
    long len;         /* n */
} cnn_optim_state;

int cnn_optim_state_count(const cnn_optim *opt);
/* Block i in [0, cnn_optim_state_count): CNN_ERR_ARG otherwise. */
cnn_status cnn_optim_state_get(cnn_optim *opt, int i, cnn_optim_state *out);
long cnn_optim_step_count(const cnn_optim *opt);
cnn_status cnn_optim_set_step_count(cnn_optim *opt, long t); /* t ≥ 0 */

/* ---- Learning-rate schedules ----
 * cnn_schedule_lr(s, step) is the rate for the optimizer step that follows
 * `step` steps already taken (0-based). It is computed in double from the
 * fields below and rounded to float once, so it is the same everywhere:
 *   rate(step) = base(step) · warm(step)
 *   base: constant  lr
 *         step      lr · gamma^k, k = floor(step / P), P = step_epochs ·
 *                   steps_per_epoch rounded to the nearest whole step (≥ 1),
 *                   so the rate drops at exact step numbers even for
 *                   fractional step_epochs (PyTorch's StepLR stepped per
 *                   epoch, for whole step_epochs)
 *         cosine    lr_min + (lr − lr_min)·(1 + cos(π·min(step, T)/T))/2,
 *                   T = total_steps, over the whole run, warm-up included
 *                   (PyTorch's CosineAnnealingLR stepped per batch with
 *                   T_max = T; past T it stays at lr_min, it does not rise)
 *   warm: W = warmup_epochs · steps_per_epoch rounded to the nearest whole
 *         step; warm = (step + 1) / W for step < W, 1 after. The "+ 1" makes
 *         the first step move (step/W would waste it at rate 0) and makes the
 *         last warm-up step, step W − 1, reach the full rate. W = 0: none. */
typedef enum { CNN_SCHED_CONSTANT, CNN_SCHED_STEP, CNN_SCHED_COSINE } cnn_sched_kind;

const char *cnn_sched_kind_name(cnn_sched_kind k); /* "constant", "step", "cosine" */
cnn_status cnn_sched_kind_parse(const char *s, cnn_sched_kind *out);

typedef struct {
    cnn_sched_kind kind;
    float lr;             /* base rate, > 0 */
    float lr_min;         /* cosine: final rate, 0 ≤ lr_min ≤ lr */
    float gamma;          /* step: factor per period, > 0 */
    double step_epochs;   /* step: period in epochs, > 0 (fractions allowed) */
    double warmup_epochs; /* ≥ 0 (fractions allowed); 0 = no warm-up */
    long steps_per_epoch; /* ≥ 1 */
    long total_steps;     /* cosine: steps in the whole run, ≥ 1 */
} cnn_schedule;

/* constant, lr 0.05, lr_min 0, gamma 0.1, step_epochs 1, no warm-up,
 * steps_per_epoch 1, total_steps 1: fill in the last two from the run. */
void cnn_schedule_default(cnn_schedule *s);
cnn_status cnn_schedule_check(const cnn_schedule *s, cnn_err *err);
/* The rate for the next step (see above); step < 0 is taken as 0. */
float cnn_schedule_lr(const cnn_schedule *s, long step);

#endif
