/* seed_shapes.c — seed_shapes_get (seed_shapes.h): the seed network's
 * shapes taken from the architecture parser, and its convolution's padded
 * filter rows from the blas plan (net_internal.h: the plan is not public). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>

#include "cnn.h"
#include "net_internal.h"
#include "seed_shapes.h"

seed_shapes seed_shapes_get(void)
{
    /* Fashion-MNIST's images and classes, for which the seed was made */
    cnn_arch a;
    cnn_err err = {{0}};
    if (cnn_arch_parse(&a, "seed", 28, 28, 1, 10, &err) != CNN_OK)
        fail_msg("seed: %s", err.msg);
    /* conv, relu, pool, dense */
    assert_int_equal(a.n, 4);
    const cnn_layer *c = &a.layer[0], *p = &a.layer[2], *d = &a.layer[3];
    assert_int_equal(c->kind, CNN_LAYER_CONV);
    assert_int_equal(d->kind, CNN_LAYER_DENSE);
    seed_shapes s;
    s.conv = cnn_conv_shape_make(c->in_c, c->in_h, c->in_w, c->size, c->k, c->pad, c->stride);
    s.pool_h = p->out_h;
    s.pool_w = p->out_w;
    s.flat = (int)d->in_size;
    s.classes = a.classes;
    s.in_size = c->in_size;
    s.conv_size = c->out_size;
    s.conv_w_size = c->w_count;

    cnn_net *net = NULL;
    assert_int_equal(cnn_net_create(&net, &a, CNN_IMPL_BLAS, 1, 1), CNN_OK);
    assert_int_equal(net->stage[0].first, 0); /* the convolution's stage */
    s.rows = net->stage[0].rows;
    cnn_net_free(net);
    return s;
}
