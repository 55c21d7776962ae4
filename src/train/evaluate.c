/* evaluate.c — a network's mean loss and accuracy over a data set, batch
 * by batch (cnn_evaluate): the per-epoch validation and test passes of
 * train.c, and `cnn eval`. */
#include <stdlib.h>

#include "cnn_train.h"

cnn_status cnn_evaluate(cnn_net *net, const cnn_dataset *ds, int batch, double *mean_loss,
                        double *accuracy, int *predictions)
{
    const cnn_arch *a = cnn_net_arch(net);
    const int classes = a->classes;
    const long in = (long)a->in_h * a->in_w * a->in_c;
    if (ds->rows != a->in_h || ds->cols != a->in_w || batch < 1 || ds->count < 1)
        return CNN_ERR_ARG;
    float *probs = malloc((size_t)batch * classes * sizeof *probs);
    if (!probs)
        return CNN_ERR_NOMEM;
    double loss = 0.0;
    long right = 0;
    cnn_status st = CNN_OK;
    for (int lo = 0; lo < ds->count && st == CNN_OK; lo += batch) {
        int n = ds->count - lo < batch ? ds->count - lo : batch;
        double l = 0.0;
        int c = 0;
        st = cnn_net_infer(net, ds->images + lo * in, ds->labels + lo, n, probs, &l, &c);
        loss += l;
        right += c;
        for (int i = 0; predictions && i < n; i++) {
            int best = 0;
            for (int k = 1; k < classes; k++)
                if (probs[i * classes + k] > probs[i * classes + best])
                    best = k;
            predictions[lo + i] = best;
        }
    }
    free(probs);
    if (mean_loss)
        *mean_loss = loss / ds->count;
    if (accuracy)
        *accuracy = (double)right / ds->count;
    return st;
}
