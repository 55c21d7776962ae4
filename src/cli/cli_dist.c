/* cli_dist.c — `cnn train` under mpirun: one voice (rank 0 prints and
 * writes; the others are silent), a failure on any rank ends the whole job
 * with that rank's message, and each rank's default thread count is its
 * share of the node's cores. Without MPI in the build, or when not started
 * by an MPI launcher, every function here is the single-process answer. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#ifdef CNN_WITH_MPI
#include "cnn_dist.h"
static cnn_dist *dist;
#endif

int cli_dist_begin(int *argc, char ***argv)
{
#ifdef CNN_WITH_MPI
    cnn_err err = {{0}};
    if (cnn_dist_init(&dist, argc, argv, &err) != CNN_OK) {
        fprintf(stderr, "cnn train: %s\n", err.msg);
        return -1;
    }
#else
    (void)argc;
    (void)argv;
#endif
    return 0;
}

void cli_dist_end(void)
{
#ifdef CNN_WITH_MPI
    cnn_dist_finish(dist);
    dist = NULL;
#endif
}

int cli_dist_rank(void)
{
#ifdef CNN_WITH_MPI
    return cnn_dist_rank(dist);
#else
    return 0;
#endif
}

int cli_dist_size(void)
{
#ifdef CNN_WITH_MPI
    return cnn_dist_size(dist);
#else
    return 1;
#endif
}

int cli_dist_threads(void)
{
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    int ranks_here = cli_dist_size();
    if (local) { /* set by Open MPI's launcher; anything odd counts as 1 */
        char *end;
        long v = strtol(local, &end, 10);
        ranks_here = *local && !*end && v > 0 && v <= 1000000 ? (int)v : 1;
    }
    int cores = omp_get_num_procs();
    if (ranks_here < 1)
        ranks_here = 1;
    return cores / ranks_here > 0 ? cores / ranks_here : 1;
}

int cli_dist_all_ok(int ok)
{
#ifdef CNN_WITH_MPI
    return cnn_dist_all_ok(dist, ok);
#else
    return ok;
#endif
}

void cli_dist_fail(const char *msg, int code)
{
    if (cli_dist_size() > 1)
        fprintf(stderr, "cnn train (rank %d of %d): %s\n", cli_dist_rank(), cli_dist_size(), msg);
    else
        fprintf(stderr, "cnn train: %s\n", msg);
#ifdef CNN_WITH_MPI
    if (dist && cnn_dist_size(dist) > 1) {
        fflush(stderr);
        cnn_dist_abort(dist, code);
    }
#endif
}

void cli_dist_use(cnn_train_opts *o)
{
#ifdef CNN_WITH_MPI
    if (dist && cnn_dist_size(dist) > 1) {
        o->gradient = cnn_dist_gradient_fn;
        o->gradient_ctx = dist;
    }
#else
    (void)o;
#endif
}

void cli_dist_report(void)
{
#ifdef CNN_WITH_MPI
    if (!dist || cnn_dist_size(dist) < 2 || cnn_dist_rank(dist) != 0)
        return;
    cnn_dist_stats s;
    cnn_dist_get_stats(dist, &s);
    if (s.steps < 1)
        return;
    const double steps = (double)s.steps;
    printf("  mpi: %d ranks; rank 0 per step: compute %.3f ms, communication %.3f ms, "
           "%.0f KB sent, %.0f KB received\n",
           cnn_dist_size(dist), 1e3 * s.compute_s / steps, 1e3 * s.comm_s / steps,
           s.bytes_sent / steps / 1e3, s.bytes_received / steps / 1e3);
#endif
}
