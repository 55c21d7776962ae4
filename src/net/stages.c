/* stages.c — the network's plan and its stages' forward and backward passes,
 * ref and blas, for one chunk of m samples in one thread's workspace. The
 * plan is made once from the layer table (cnn_arch.h); net.c loops over it.
 * See net_internal.h for what a stage is and the blas path's layouts. */
#include <string.h>

#include "net_internal.h"

static const cnn_layer *L(const cnn_net *net, int i) { return &net->arch.layer[i]; }

static int slice_len(int m, int s0) { return m - s0 < CNN_SLICE ? m - s0 : CNN_SLICE; }

static int is_kind(const cnn_net *net, int i, cnn_layer_kind k)
{
    return i < net->arch.n && L(net, i)->kind == k;
}

int cnn_plan(cnn_net *net)
{
    const int blas = net->impl == CNN_IMPL_BLAS;
    const char *preset = cnn_arch_preset_name(&net->arch);
    const int seed = preset && strcmp(preset, "seed") == 0;
    int cn = 0; /* blas: layout of the map flowing in (the input image: NC) */
    long wpad = 0;
    net->nstages = 0;
    for (int i = 0; i < net->arch.n;) {
        const cnn_layer *l = L(net, i);
        cnn_stage *st = &net->stage[net->nstages++];
        memset(st, 0, sizeof *st);
        st->first = i;
        st->count = 1;
        st->in_cn = cn;
        if (l->kind == CNN_LAYER_CONV) {
            st->cs = cnn_conv_shape_make(l->in_c, l->in_h, l->in_w, l->size, l->k, l->pad,
                                         l->stride);
            st->rows = l->size;
            st->fused = blas && is_kind(net, i + 1, CNN_LAYER_RELU) &&
                        is_kind(net, i + 2, CNN_LAYER_AVGPOOL) && L(net, i + 2)->size == 2;
            if (st->fused) {
                st->count = 3;
                st->rows = (l->size + CNN_CONV_ROW_BLOCK - 1) / CNN_CONV_ROW_BLOCK *
                           CNN_CONV_ROW_BLOCK;
                st->wpad_off = wpad;
                wpad += cnn_padded((long)st->rows * l->fan_in);
                /* NC when a dense layer reads it next, else CN */
                st->out_cn = !is_kind(net, i + 3, CNN_LAYER_DENSE);
            } else {
                st->out_cn = 1;
            }
            st->transpose_in = blas && !cn && l->in_c > 1;
            /* the weight gradient transposed (conv_blas.c: faster here), except
             * in the seed network, whose weights stay bit for bit those of
             * wave 1 (issue 7): there it gains 5% of one stage */
            st->dw_t = blas && !seed;
        } else if (l->kind == CNN_LAYER_DENSE) {
            st->out_cn = 0;
            st->transpose_in = blas && cn && l->in_c > 1;
        } else {
            st->out_cn = cn;
        }
        if (!blas)
            st->in_cn = st->out_cn = st->transpose_in = 0;
        cn = st->out_cn;
        i += st->count;
    }
    return net->nstages;
}

long cnn_plan_wpad_size(const cnn_net *net)
{
    long n = 0;
    for (int s = 0; s < net->nstages; s++)
        if (net->stage[s].fused)
            n += cnn_padded((long)net->stage[s].rows * L(net, net->stage[s].first)->fan_in);
    return n;
}

/* The padded copies of the fused convolutions' filters, taken before each
 * pass (the parameters may have been changed from outside, e.g. loaded);
 * the padding rows stay zero. */
void cnn_plan_pad_weights(cnn_net *net)
{
    for (int s = 0; s < net->nstages; s++) {
        const cnn_stage *st = &net->stage[s];
        if (st->fused) {
            const cnn_layer *l = L(net, st->first);
            memcpy(net->wpad + st->wpad_off, net->params + l->w_off,
                   (size_t)l->w_count * sizeof(float));
        }
    }
}

/* ---- workspace ---- */

/* Floats per sample of each buffer, or per workspace (fixed), in carve order. */
typedef struct {
    float **slot;
    long n;
} slot_size;

static int workspace_slots(const cnn_net *net, cnn_workspace *w, slot_size *out)
{
    const long C = CNN_CHUNK;
    const cnn_arch *a = &net->arch;
    int k = 0;
    long biggest = (long)a->in_h * a->in_w * a->in_c, dz = 1, dwpad = 1;
    out[k++] = (slot_size){&w->x, C * biggest};
    for (int s = 0; s < net->nstages; s++) {
        const cnn_stage *st = &net->stage[s];
        for (int i = st->first; i < st->first + st->count; i++) {
            const cnn_layer *l = L(net, i);
            long act = l->out_size;
            if (st->fused && i == st->first + 1)
                act = 0; /* the fused ReLU keeps nothing */
            if (st->fused && i == st->first) {
                act = (long)st->rows * l->out_h * l->out_w;
                dz = act > dz ? act : dz;
            }
            if (l->kind == CNN_LAYER_CONV && net->impl == CNN_IMPL_BLAS)
                dwpad = (long)st->rows * l->fan_in > dwpad ? (long)st->rows * l->fan_in : dwpad;
            out[k++] = (slot_size){&w->act[i], C * act};
            if (l->in_size > biggest)
                biggest = l->in_size;
            if (l->out_size > biggest)
                biggest = l->out_size;
        }
        const cnn_layer *l = L(net, st->first);
        if (net->impl == CNN_IMPL_BLAS && l->kind == CNN_LAYER_CONV)
            out[k++] = (slot_size){&w->col[st->first],
                                   C * (long)l->fan_in * l->out_h * l->out_w};
        /* a dense layer's also holds its input gradient before the relayout */
        if (st->transpose_in)
            out[k++] = (slot_size){&w->tr[st->first],
                                   C * l->in_size * (l->kind == CNN_LAYER_DENSE ? 2 : 1)};
    }
    out[k++] = (slot_size){&w->probs, C * a->classes};
    out[k++] = (slot_size){&w->dcur, C * biggest};
    out[k++] = (slot_size){&w->dnext, C * biggest};
    out[k++] = (slot_size){&w->dz, C * dz};
    out[k++] = (slot_size){&w->dwpad, dwpad};
    return k;
}

long cnn_workspace_size(const cnn_net *net)
{
    cnn_workspace w;
    slot_size s[4 * CNN_MAX_LAYERS + 8];
    int k = workspace_slots(net, &w, s);
    long total = 0;
    for (int i = 0; i < k; i++)
        total += cnn_padded(s[i].n);
    return total;
}

void cnn_workspace_carve(const cnn_net *net, cnn_workspace *w, float *base)
{
    slot_size s[4 * CNN_MAX_LAYERS + 8];
    memset(w, 0, sizeof *w);
    int k = workspace_slots(net, w, s);
    w->base = base;
    for (int i = 0; i < k; i++) {
        *s[i].slot = s[i].n ? base : NULL;
        base += cnn_padded(s[i].n);
    }
}

/* The map a stage reads: the previous layer's output, or the input. */
static const float *stage_in(const cnn_workspace *w, const cnn_stage *st)
{
    return st->first ? w->act[st->first - 1] : w->x;
}

const float *cnn_stage_logits(const cnn_net *net, const cnn_workspace *w)
{
    return w->act[net->arch.n - 1];
}

/* Per slice, between CN and NC: to_cn 1 turns NC into CN. */
static void relayout(float *out, const float *in, int m, long P, int C, int to_cn)
{
    for (int s0 = 0; s0 < m; s0 += CNN_SLICE) {
        long o = (long)s0 * P * C;
        if (to_cn)
            cnn_nc_to_cn(out + o, in + o, slice_len(m, s0), P, C);
        else
            cnn_cn_to_nc(out + o, in + o, slice_len(m, s0), P, C);
    }
}

/* ---- forward ---- */

static void layer_forward_ref(const cnn_net *net, cnn_workspace *w, const cnn_stage *st, int i,
                              int m)
{
    const cnn_layer *l = L(net, i);
    const float *in = i ? w->act[i - 1] : w->x;
    float *out = w->act[i];
    const float *wt = net->params + l->w_off, *b = net->params + l->b_off;
    switch (l->kind) {
    case CNN_LAYER_CONV: cnn_conv_forward_ref(out, in, wt, b, m, &st->cs); break;
    case CNN_LAYER_RELU: cnn_relu_forward(out, in, (long)m * l->out_size); break;
    case CNN_LAYER_AVGPOOL:
        cnn_avgpool_forward(out, in, m, l->in_h, l->in_w, l->in_c, l->size);
        break;
    case CNN_LAYER_MAXPOOL:
        cnn_maxpool_forward(out, in, m, l->in_h, l->in_w, l->in_c, l->size);
        break;
    case CNN_LAYER_DENSE:
        cnn_dense_forward_ref(out, in, wt, b, m, (int)l->in_size, l->size);
        break;
    }
}

static void conv_forward_blas(const cnn_net *net, cnn_workspace *w, const cnn_stage *st, int m)
{
    const cnn_layer *l = L(net, st->first);
    const cnn_conv_shape *cs = &st->cs;
    const float *in = stage_in(w, st);
    if (st->transpose_in) {
        relayout(w->tr[st->first], in, m, (long)cs->H * cs->W, cs->C, 1);
        in = w->tr[st->first];
    }
    const float *b = net->params + l->b_off;
    const float *wt = st->fused ? net->wpad + st->wpad_off : net->params + l->w_off;
    const long P = (long)cs->OH * cs->OW, KK = l->fan_in;
    float *z = w->act[st->first];
    for (int s0 = 0; s0 < m; s0 += CNN_SLICE) {
        int s = slice_len(m, s0);
        float *zs = z + (long)s0 * st->rows * P;
        cnn_conv_forward_blas(zs, w->col[st->first] + (long)s0 * KK * P, in + s0 * l->in_size,
                              wt, st->fused ? NULL : b, s, st->rows, cs);
        if (st->fused)
            cnn_bias_relu_avgpool_forward(w->act[st->first + 2] + s0 * L(net, st->first + 2)->out_size,
                                          zs, b, s, cs->OH, cs->OW, cs->F, st->out_cn);
    }
}

static void stage_forward_blas(const cnn_net *net, cnn_workspace *w, const cnn_stage *st, int m)
{
    const cnn_layer *l = L(net, st->first);
    const float *in = stage_in(w, st);
    float *out = w->act[st->first];
    /* A CN map of N·C planes is, for ReLU and pooling, N·C one-channel maps. */
    const int n = st->in_cn ? m * l->in_c : m, c = st->in_cn ? 1 : l->in_c;
    switch (l->kind) {
    case CNN_LAYER_CONV: conv_forward_blas(net, w, st, m); break;
    case CNN_LAYER_RELU: cnn_relu_forward(out, in, (long)m * l->out_size); break;
    case CNN_LAYER_AVGPOOL: cnn_avgpool_forward(out, in, n, l->in_h, l->in_w, c, l->size); break;
    case CNN_LAYER_MAXPOOL: cnn_maxpool_forward(out, in, n, l->in_h, l->in_w, c, l->size); break;
    case CNN_LAYER_DENSE:
        if (st->transpose_in) {
            relayout(w->tr[st->first], in, m, (long)l->in_h * l->in_w, l->in_c, 0);
            in = w->tr[st->first];
        }
        cnn_dense_forward_blas(out, in, net->params + l->w_off, net->params + l->b_off, m,
                               (int)l->in_size, l->size);
        break;
    }
}

void cnn_stage_forward(const cnn_net *net, cnn_workspace *w, int s, int m)
{
    const cnn_stage *st = &net->stage[s];
    if (net->impl == CNN_IMPL_BLAS)
        stage_forward_blas(net, w, st, m);
    else
        for (int i = st->first; i < st->first + st->count; i++)
            layer_forward_ref(net, w, st, i, m);
}

/* ---- backward ----
 * The gradient of the stage's output is in w->dcur; pass 2 writes that of
 * its input to w->dnext (the caller swaps them). */

static void layer_backward_ref(const cnn_net *net, cnn_workspace *w, float *g, const cnn_stage *st,
                               int i, int pass, int m, const float *dout, float *din)
{
    const cnn_layer *l = L(net, i);
    const float *in = i ? w->act[i - 1] : w->x;
    const float *wt = net->params + l->w_off;
    if (pass == 1) {
        if (l->kind == CNN_LAYER_CONV)
            cnn_conv_backward_weights_ref(g + l->w_off, g + l->b_off, dout, in, m, &st->cs);
        else if (l->kind == CNN_LAYER_DENSE)
            cnn_dense_backward_weights_ref(g + l->w_off, g + l->b_off, dout, in, m,
                                           (int)l->in_size, l->size);
        return;
    }
    switch (l->kind) {
    case CNN_LAYER_CONV: cnn_conv_backward_input_ref(din, dout, wt, m, &st->cs); break;
    case CNN_LAYER_RELU: cnn_relu_backward(din, dout, in, (long)m * l->out_size); break;
    case CNN_LAYER_AVGPOOL:
        cnn_avgpool_backward(din, dout, m, l->in_h, l->in_w, l->in_c, l->size);
        break;
    case CNN_LAYER_MAXPOOL:
        cnn_maxpool_backward(din, dout, in, m, l->in_h, l->in_w, l->in_c, l->size);
        break;
    case CNN_LAYER_DENSE:
        cnn_dense_backward_input_ref(din, dout, wt, m, (int)l->in_size, l->size);
        break;
    }
}

static void conv_backward_blas(const cnn_net *net, cnn_workspace *w, float *g,
                               const cnn_stage *st, int pass, int m)
{
    const cnn_layer *l = L(net, st->first);
    const cnn_conv_shape *cs = &st->cs;
    const long P = (long)cs->OH * cs->OW, KK = l->fan_in;
    float *col = w->col[st->first];
    /* the gradient of the convolution's output, [rows][s·P] per slice */
    float *dz = st->fused ? w->dz : w->dcur;
    if (pass == 1) {
        /* the weight gradient is summed over the slices in dwpad (padding
         * rows, or transposed), then added into g */
        float *dw = g + l->w_off, *acc = w->dwpad;
        float *db = st->fused ? NULL : g + l->b_off; /* fused: the fused pass adds it */
        memset(acc, 0, (size_t)st->rows * KK * sizeof(float));
        for (int s0 = 0; s0 < m; s0 += CNN_SLICE) {
            int s = slice_len(m, s0);
            long o = (long)s0 * st->rows * P, np = (long)s * P;
            if (st->fused) {
                const float *z = w->act[st->first], *b = net->params + l->b_off;
                const long pooled = L(net, st->first + 2)->out_size;
                cnn_bias_relu_avgpool_backward(dz + o, g + l->b_off, w->dcur + s0 * pooled,
                                               z + o, b, s, cs->OH, cs->OW, cs->F, st->out_cn);
                /* the padding filters' planes carry no gradient */
                memset(dz + o + (long)cs->F * np, 0,
                       (size_t)(st->rows - cs->F) * np * sizeof(float));
            }
            if (st->dw_t)
                cnn_conv_backward_weights_t_blas(acc, db, dz + o, col + s0 * KK * P, s,
                                                 st->rows, cs);
            else
                cnn_conv_backward_weights_blas(acc, db, dz + o, col + s0 * KK * P, s, st->rows,
                                               cs);
        }
        if (st->dw_t) /* acc is dwᵀ [C·K·K][rows] */
            for (int f = 0; f < cs->F; f++)
                for (long k = 0; k < KK; k++)
                    dw[f * KK + k] += acc[k * st->rows + f];
        else
            for (long i = 0; i < l->w_count; i++)
                dw[i] += acc[i];
        return;
    }
    /* pass 2: the input gradient, via col2im of wᵀ·dz; col is free again
     * once the weight gradient is done and serves as dcol. */
    float *din = st->transpose_in ? w->tr[st->first] : w->dnext;
    for (int s0 = 0; s0 < m; s0 += CNN_SLICE)
        cnn_conv_backward_input_blas(din + s0 * l->in_size, col + s0 * KK * P,
                                     dz + (long)s0 * st->rows * P, net->params + l->w_off,
                                     slice_len(m, s0), cs);
    if (st->transpose_in)
        relayout(w->dnext, din, m, (long)cs->H * cs->W, cs->C, 0);
}

static void stage_backward_blas(const cnn_net *net, cnn_workspace *w, float *g,
                                const cnn_stage *st, int pass, int m)
{
    const cnn_layer *l = L(net, st->first);
    if (l->kind == CNN_LAYER_CONV) {
        conv_backward_blas(net, w, g, st, pass, m);
        return;
    }
    const float *in = stage_in(w, st);
    const int n = st->in_cn ? m * l->in_c : m, c = st->in_cn ? 1 : l->in_c;
    float *din = w->dnext;
    switch (l->kind) {
    case CNN_LAYER_DENSE: {
        const float *x = st->transpose_in ? w->tr[st->first] : in;
        if (pass == 1) {
            cnn_dense_backward_weights_blas(g + l->w_off, g + l->b_off, w->dcur, x, m,
                                            (int)l->in_size, l->size);
            return;
        }
        float *d = st->transpose_in ? w->tr[st->first] + (long)CNN_CHUNK * l->in_size : din;
        cnn_dense_backward_input_blas(d, w->dcur, net->params + l->w_off, m, (int)l->in_size,
                                      l->size);
        if (st->transpose_in)
            relayout(din, d, m, (long)l->in_h * l->in_w, l->in_c, 1);
        return;
    }
    case CNN_LAYER_RELU:
        if (pass == 2)
            cnn_relu_backward(din, w->dcur, in, (long)m * l->out_size);
        return;
    case CNN_LAYER_AVGPOOL:
        if (pass == 2)
            cnn_avgpool_backward(din, w->dcur, n, l->in_h, l->in_w, c, l->size);
        return;
    case CNN_LAYER_MAXPOOL:
        if (pass == 2)
            cnn_maxpool_backward(din, w->dcur, in, n, l->in_h, l->in_w, c, l->size);
        return;
    case CNN_LAYER_CONV:
        return;
    }
}

void cnn_stage_backward(const cnn_net *net, cnn_workspace *w, float *g, int s, int pass, int m)
{
    const cnn_stage *st = &net->stage[s];
    if (net->impl == CNN_IMPL_BLAS) {
        stage_backward_blas(net, w, g, st, pass, m);
        return;
    }
    /* ref: a stage is one layer (the plan fuses nothing for ref) */
    layer_backward_ref(net, w, g, st, st->first, pass, m, w->dcur, w->dnext);
}
