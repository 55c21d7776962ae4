/* cnn_dist.h — data-parallel training across processes with MPI, giving
 * the same bits as one process, for any number of processes.
 *
 * Every process holds the whole model and walks the same batches (same RNG,
 * same order). A batch's chunks (CNN_CHUNK samples each) are dealt out in
 * contiguous runs: process r computes chunks [lo_r, hi_r), with
 * lo_r = ⌊r·C/R⌋. One process sums the chunk gradients as
 * 0 + c_0 + c_1 + … + c_{C-1}, elementwise, in chunk order; the processes
 * compute exactly that sum as a chain: process r receives the running sum
 * of all chunks before lo_r from process r−1, adds its own chunks in order
 * (cnn_net_fold), and passes it to r+1; the last one broadcasts the total.
 * The vector travels in segments, so the chain is a pipeline: while r adds
 * its chunks to segment k, r−1 is already on segment k+1.
 *
 * Why this collective: MPI_Allreduce's summation order depends on the
 * algorithm and the process count, so its bits do; an MPI_Allgather of
 * every chunk's partial gradient keeps the order but moves C−1 gradients to
 * every process (15 at batch 256); a chain moves one gradient in and one
 * out per process, plus the broadcast — the traffic of a ring allreduce —
 * and keeps the order exactly. Its cost is latency: R−1 hops before the
 * last segment arrives (docs/scaling.md models it).
 *
 * Losses and correct counts go by MPI_Allgatherv of the per-chunk values,
 * summed in chunk order; the stop flag (Ctrl-C) and any error are agreed by
 * an MPI_Allreduce each step, so every process stops at the same step. */
#ifndef CNN_DIST_H
#define CNN_DIST_H

#include <signal.h>
#include <stdint.h>

#include "cnn.h"

typedef struct cnn_dist cnn_dist;

/* MPI_Init (with MPI_THREAD_FUNNELED: OpenMP threads never call MPI) and
 * the world communicator; *out is NULL, and nothing initialised, when the
 * program was not started by an MPI launcher (checked through the
 * environment: OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_RANK). */
cnn_status cnn_dist_init(cnn_dist **out, int *argc, char ***argv, cnn_err *err);
/* MPI_Finalize. */
void cnn_dist_finish(cnn_dist *d);
int cnn_dist_rank(const cnn_dist *d);
int cnn_dist_size(const cnn_dist *d);
/* True on every process when ok is true on every process (an MPI_Allreduce):
 * the one way a process's failure (bad file, no memory) stops all of them. */
int cnn_dist_all_ok(cnn_dist *d, int ok);
/* End the whole job at once (MPI_Abort) with status code. */
void cnn_dist_abort(cnn_dist *d, int code);

/* The batch-mean gradient of n samples into cnn_net_grads, identical on
 * every process and to cnn_net_gradient's bits; loss and correct count of
 * the whole batch. *stop (may be NULL) is or-ed across the processes.
 * CNN_ERR_DIVERGED on every process when the loss is not finite. */
cnn_status cnn_dist_gradient(cnn_dist *d, cnn_net *net, const uint8_t *x, const uint8_t *y,
                             int n, double *loss_sum, int *correct,
                             volatile sig_atomic_t *stop);

/* What the steps so far cost this process: seconds computing its chunks,
 * seconds in communication (waiting included), bytes sent and received. */
typedef struct {
    long steps;
    double compute_s, comm_s;
    double bytes_sent, bytes_received;
} cnn_dist_stats;
void cnn_dist_get_stats(const cnn_dist *d, cnn_dist_stats *out);
void cnn_dist_reset_stats(cnn_dist *d);

/* Adapter for cnn_train_opts.gradient: ctx is the cnn_dist. */
cnn_status cnn_dist_gradient_fn(void *ctx, cnn_net *net, const uint8_t *x, const uint8_t *y,
                                int n, double *loss_sum, int *correct,
                                volatile sig_atomic_t *stop);

#endif
