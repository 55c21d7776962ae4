/* mpi.c — data-parallel training over MPI with the bits of one process:
 * the chain reduction of cnn_dist.h (read its comment first). Built only
 * when Meson finds MPI (-Dmpi=auto|enabled). */
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_dist.h"

/* Floats per pipelined segment of the chain: 16 Ki floats (64 KiB) keeps a
 * segment in L2 while it is folded, and gives the seed's 22,000 parameters
 * two segments, LeNet-5's 61,706 four. */
enum { SEGMENT = 16384 };

struct cnn_dist {
    int rank, size;
    cnn_dist_stats stats;
    double *loss;     /* [chunks] gathered */
    int *correct;
    int *counts, *displs;
    int cap;
};

static int launched_by_mpi(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

cnn_status cnn_dist_init(cnn_dist **out, int *argc, char ***argv, cnn_err *err)
{
    *out = NULL;
    if (!launched_by_mpi())
        return CNN_OK;
    /* A rank waiting for a message yields its core instead of spinning on
     * it (unless the user chose otherwise): every step waits for all ranks,
     * and on a shared machine a spinning rank takes the CPU its partner
     * needs (measured, 2 ranks on 2 busy cores: 0.14x the speed of one rank
     * spinning, 0.94x yielding; docs/scaling.md). Open MPI reads it at init. */
    setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return cnn_fail(err, CNN_ERR_IO, "MPI_Init_thread failed");
    cnn_dist *d = calloc(1, sizeof *d);
    if (!d) {
        MPI_Abort(MPI_COMM_WORLD, 1);
        return CNN_ERR_NOMEM;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    d->counts = calloc((size_t)d->size, sizeof *d->counts);
    d->displs = calloc((size_t)d->size, sizeof *d->displs);
    if (!d->counts || !d->displs) {
        MPI_Abort(MPI_COMM_WORLD, 1);
        return CNN_ERR_NOMEM;
    }
    *out = d;
    return CNN_OK;
}

void cnn_dist_finish(cnn_dist *d)
{
    if (!d)
        return;
    free(d->loss);
    free(d->correct);
    free(d->counts);
    free(d->displs);
    free(d);
    MPI_Finalize();
}

int cnn_dist_rank(const cnn_dist *d) { return d ? d->rank : 0; }
int cnn_dist_size(const cnn_dist *d) { return d ? d->size : 1; }

int cnn_dist_all_ok(cnn_dist *d, int ok)
{
    if (!d)
        return ok;
    int mine = ok ? 1 : 0, all = 0;
    MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return all;
}

void cnn_dist_abort(cnn_dist *d, int code)
{
    if (d)
        MPI_Abort(MPI_COMM_WORLD, code);
}

void cnn_dist_get_stats(const cnn_dist *d, cnn_dist_stats *out)
{
    memset(out, 0, sizeof *out);
    if (d)
        *out = d->stats;
}

void cnn_dist_reset_stats(cnn_dist *d)
{
    if (d)
        memset(&d->stats, 0, sizeof d->stats);
}

/* Process r's chunks of C: [⌊rC/R⌋, ⌊(r+1)C/R⌋). */
static int first_chunk(int r, int C, int R) { return (int)((long)r * C / R); }

static int ensure(cnn_dist *d, int chunks)
{
    if (chunks <= d->cap)
        return 0;
    double *l = realloc(d->loss, (size_t)chunks * sizeof *l);
    if (!l)
        return -1;
    d->loss = l;
    int *c = realloc(d->correct, (size_t)chunks * sizeof *c);
    if (!c)
        return -1;
    d->correct = c;
    d->cap = chunks;
    return 0;
}

cnn_status cnn_dist_gradient(cnn_dist *d, cnn_net *net, const uint8_t *x, const uint8_t *y,
                             int n, double *loss_sum, int *correct,
                             volatile sig_atomic_t *stop)
{
    const int C = cnn_net_chunk_count(n), R = d->size, r = d->rank;
    const int lo = first_chunk(r, C, R), hi = first_chunk(r + 1, C, R);
    const long P = cnn_net_param_count(net);
    double t0 = MPI_Wtime();
    cnn_status st = cnn_net_chunks(net, x, y, n, lo, hi);
    int ok = st == CNN_OK && ensure(d, C) == 0;
    double t1 = MPI_Wtime();

    /* Agree that every process has its chunks, and on the stop flag. */
    int flags[2] = {ok ? 0 : 1, stop && *stop ? 1 : 0}, any[2];
    MPI_Allreduce(flags, any, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (stop && any[1])
        *stop = 1;
    if (any[0])
        return st != CNN_OK ? st : CNN_ERR_NOMEM;

    /* Losses and correct counts of every chunk, summed in chunk order. */
    for (int k = 0; k < R; k++) {
        d->displs[k] = first_chunk(k, C, R);
        d->counts[k] = first_chunk(k + 1, C, R) - d->displs[k];
    }
    memcpy(d->loss + lo, cnn_net_chunk_loss(net) + lo, (size_t)(hi - lo) * sizeof(double));
    memcpy(d->correct + lo, cnn_net_chunk_correct(net) + lo, (size_t)(hi - lo) * sizeof(int));
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, d->loss, d->counts, d->displs,
                   MPI_DOUBLE, MPI_COMM_WORLD);
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, d->correct, d->counts, d->displs, MPI_INT,
                   MPI_COMM_WORLD);
    double loss = 0.0;
    int right = 0;
    int finite = 1;
    for (int c = 0; c < C; c++) {
        loss += d->loss[c];
        right += d->correct[c];
        finite &= d->loss[c] - d->loss[c] == 0.0; /* not NaN, not ±inf */
    }
    if (loss_sum)
        *loss_sum = loss;
    if (correct)
        *correct = right;
    if (!finite)
        return CNN_ERR_DIVERGED;

    /* The chain, segment by segment: receive the sum of the chunks before
     * mine, add mine in order, pass it on. */
    float *g = cnn_net_grads_mutable(net);
    double sent = 0.0, received = 0.0;
    for (long off = 0; off < P; off += SEGMENT) {
        int len = (int)(P - off < SEGMENT ? P - off : SEGMENT);
        if (r > 0) {
            MPI_Recv(g + off, len, MPI_FLOAT, r - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            received += 4.0 * len;
        } else {
            memset(g + off, 0, (size_t)len * sizeof *g);
        }
        cnn_net_fold(net, lo, hi, g + off, off, len);
        if (r + 1 < R) {
            MPI_Send(g + off, len, MPI_FLOAT, r + 1, 0, MPI_COMM_WORLD);
            sent += 4.0 * len;
        }
    }
    /* The total is on the last process: to everyone. */
    if (R > 1) {
        MPI_Bcast(g, (int)P, MPI_FLOAT, R - 1, MPI_COMM_WORLD);
        if (r == R - 1)
            sent += 4.0 * (double)P; /* at least; a tree sends more from some */
        else
            received += 4.0 * (double)P;
    }
    double t2 = MPI_Wtime();
    d->stats.steps++;
    d->stats.compute_s += t1 - t0;
    d->stats.comm_s += t2 - t1;
    d->stats.bytes_sent += sent;
    d->stats.bytes_received += received + 12.0 * (C - (hi - lo));
    return CNN_OK;
}

cnn_status cnn_dist_gradient_fn(void *ctx, cnn_net *net, const uint8_t *x, const uint8_t *y,
                                int n, double *loss_sum, int *correct,
                                volatile sig_atomic_t *stop)
{
    return cnn_dist_gradient(ctx, net, x, y, n, loss_sum, correct, stop);
}
