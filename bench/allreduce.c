/* allreduce.c — what combining one gradient costs over MPI on this machine:
 * a plain MPI_Allreduce against the chain of src/dist/mpi.c (MPI_Recv from
 * rank r−1, add this rank's partial, MPI_Send to r+1, in segments of 16 Ki
 * floats; then MPI_Bcast of the total from the last rank), for the seed
 * network's 22,000 floats (88 KB) and LeNet-5's 61,706 (247 KB). Standalone
 * (MPI and libc only); built by Meson only when MPI is found; run by hand:
 *
 *   mpirun -np 2 build/bench/allreduce
 *   mpirun -np 3 --oversubscribe build/bench/allreduce --floats 22000,61706 --repeats 200
 *   mpirun -np 2 --mca btl self,tcp build/bench/allreduce   (TCP: bytes through the kernel)
 *
 * Rows (per call, every rank taking part):
 *   allreduce    MPI_Allreduce(MPI_SUM) of the floats (the library's choice
 *                of algorithm: its summation order, hence its bits, depend
 *                on it and on the rank count)
 *   chain+bcast  what cnn_dist_gradient does: the ordered chain, then the
 *                broadcast (same bits for any rank count)
 *   chain        the chain alone (its total ends on the last rank)
 *   bcast        MPI_Bcast of the floats from the last rank alone
 *   small        the per-step small collectives of cnn_dist_gradient at
 *                batch 64: MPI_Allreduce of 2 ints, MPI_Allgatherv of 4
 *                doubles and of 4 ints (latency only)
 *
 * Timing: every call starts after an MPI_Barrier (so it measures the
 * collective, not a rank arriving late); each rank times its own call with
 * MPI_Wtime; a call's time is the slowest rank's. Reported: median, p10,
 * p90 and min over --repeats calls (default 100) after 10 warm-up calls.
 *
 * Bytes per rank per call, counted two ways:
 *   payload   what this program hands to MPI point to point: the chain's
 *             MPI_Send/MPI_Recv counts × 4 bytes, and for MPI_Bcast P
 *             floats out of the root and into every other rank (the least
 *             any broadcast moves; cnn_dist_get_stats counts the same way).
 *             A collective's internal traffic is invisible here ("-").
 *   wire      what the process pushed through the kernel, counted by the
 *             kernel: the growth of wchar and rchar in /proc/self/io over
 *             the timed calls (bytes passed to write/read system calls,
 *             all threads). Meaningful with the TCP transport
 *             (mpirun --mca btl self,tcp): then it is the MPI payload plus
 *             Open MPI's own headers and rendezvous messages, every
 *             message of a collective included, less TCP/IP headers. With
 *             shared memory (btl vader) data moves without system calls
 *             and the count is about 0: "-". Barriers add a few bytes.
 *
 * Open MPI's pml monitoring (--mca pml_monitoring_enable 1) would count at
 * the PML, but in Debian's Open MPI 4.1.4 the component is unloaded at
 * selection ("not selected / finalized") and never counts. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SEGMENT = 16384, WARMUP = 10, CHUNKS = 4 };

static int rank, size;

/* Bytes this process has passed to write and read system calls. */
static void io_read(double *wchar, double *rchar)
{
    *wchar = *rchar = 0;
    FILE *f = fopen("/proc/self/io", "r");
    if (!f)
        return;
    char key[32];
    double v;
    while (fscanf(f, "%31[^:]: %lf ", key, &v) == 2) {
        if (!strcmp(key, "wchar"))
            *wchar = v;
        else if (!strcmp(key, "rchar"))
            *rchar = v;
    }
    fclose(f);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double quantile(const double *sorted, int n, double q)
{
    double pos = q * (n - 1);
    int i = (int)pos;
    if (i >= n - 1)
        return sorted[n - 1];
    return sorted[i] + (pos - i) * (sorted[i + 1] - sorted[i]);
}

typedef enum { ALLREDUCE, CHAIN_BCAST, CHAIN, BCAST, SMALL, OPS } op_kind;
static const char *op_name[OPS] = {"allreduce", "chain+bcast", "chain", "bcast", "small"};

/* The chain of src/dist/mpi.c: this rank's partial (mine) added to the
 * running sum of the ranks before it, segment by segment. */
static void chain(float *g, const float *mine, long n, double *sent, double *received)
{
    for (long off = 0; off < n; off += SEGMENT) {
        int len = (int)(n - off < SEGMENT ? n - off : SEGMENT);
        if (rank > 0) {
            MPI_Recv(g + off, len, MPI_FLOAT, rank - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            *received += 4.0 * len;
        } else {
            memset(g + off, 0, (size_t)len * sizeof *g);
        }
        for (int i = 0; i < len; i++)
            g[off + i] += mine[off + i];
        if (rank + 1 < size) {
            MPI_Send(g + off, len, MPI_FLOAT, rank + 1, 0, MPI_COMM_WORLD);
            *sent += 4.0 * len;
        }
    }
}

static void bcast(float *g, long n, double *sent, double *received)
{
    if (size < 2)
        return;
    MPI_Bcast(g, (int)n, MPI_FLOAT, size - 1, MPI_COMM_WORLD);
    if (rank == size - 1)
        *sent += 4.0 * (double)n;
    else
        *received += 4.0 * (double)n;
}

static void run(op_kind op, float *g, const float *mine, long n, double *sent, double *received)
{
    static double loss[CHUNKS];
    static int correct[CHUNKS], *counts, *displs;
    switch (op) {
    case ALLREDUCE:
        MPI_Allreduce(mine, g, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        break;
    case CHAIN_BCAST:
        chain(g, mine, n, sent, received);
        bcast(g, n, sent, received);
        break;
    case CHAIN:
        chain(g, mine, n, sent, received);
        break;
    case BCAST:
        bcast(g, n, sent, received);
        break;
    case SMALL: {
        int flags[2] = {0, 0}, any[2];
        MPI_Allreduce(flags, any, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        if (!counts) {
            counts = calloc((size_t)size, sizeof *counts);
            displs = calloc((size_t)size, sizeof *displs);
            if (!counts || !displs)
                MPI_Abort(MPI_COMM_WORLD, 1);
        }
        for (int k = 0; k < size; k++) {
            displs[k] = k * CHUNKS / size;
            counts[k] = (k + 1) * CHUNKS / size - displs[k];
        }
        MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, loss, counts, displs, MPI_DOUBLE,
                       MPI_COMM_WORLD);
        MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, correct, counts, displs, MPI_INT,
                       MPI_COMM_WORLD);
        break;
    }
    default:
        break;
    }
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mpirun -np R allreduce [--floats N[,N...]] [--repeats N]\n"
               "Times MPI_Allreduce against the ordered chain + MPI_Bcast of src/dist/mpi.c\n"
               "(segments of %d floats) and counts bytes per rank; see the comment at the\n"
               "top of bench/allreduce.c. Defaults: --floats 22000,61706 (seed, LeNet-5),\n"
               "--repeats 100. With mpirun --mca btl self,tcp the wire column counts the\n"
               "bytes each rank writes and reads through the kernel (/proc/self/io).\n",
            SEGMENT);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    long floats[16] = {22000, 61706};
    int nsizes = 2, repeats = 100;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--floats") && i + 1 < argc) {
            nsizes = 0;
            for (char *s = argv[++i], *end; *s && nsizes < 16; s = *end ? end + 1 : end) {
                floats[nsizes] = strtol(s, &end, 10);
                if (end == s || (*end && *end != ',') || floats[nsizes] < 1 ||
                    floats[nsizes] > 100000000)
                    goto bad;
                nsizes++;
            }
        } else if (!strcmp(argv[i], "--repeats") && i + 1 < argc) {
            repeats = atoi(argv[++i]);
            if (repeats < 1)
                goto bad;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            if (rank == 0)
                usage(stdout);
            MPI_Finalize();
            return 0;
        } else {
            goto bad;
        }
    }
    char host[MPI_MAX_PROCESSOR_NAME];
    int hostlen;
    MPI_Get_processor_name(host, &hostlen);
    if (rank == 0) {
        char cpu[128] = "unknown", line[512];
        double load = -1;
        FILE *f = fopen("/proc/cpuinfo", "r");
        while (f && fgets(line, sizeof line, f))
            if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
                snprintf(cpu, sizeof cpu, "%s", strchr(line, ':') + 2);
                cpu[strcspn(cpu, "\n")] = '\0';
                break;
            }
        if (f)
            fclose(f);
        f = fopen("/proc/loadavg", "r");
        if (f && fscanf(f, "%lf", &load) != 1)
            load = -1;
        if (f)
            fclose(f);
        char lib[MPI_MAX_LIBRARY_VERSION_STRING];
        int liblen;
        MPI_Get_library_version(lib, &liblen);
        lib[strcspn(lib, "\n,")] = '\0';
        printf("allreduce: %d ranks on %s (%s), load average %.2f; %s\n", size, host, cpu, load,
               lib);
        printf("%d calls per row after %d warm-up, each after a barrier; time = slowest rank's; "
               "chain segments of %d floats\n",
               repeats, WARMUP, SEGMENT);
        printf("bytes per rank per call, KB = 1000 bytes: payload (what the program hands to "
               "MPI) | wire (write/read system calls, /proc/self/io; TCP transport only)\n");
        printf("%-12s %8s %8s %9s %9s %9s %9s   %-40s %s\n", "op", "floats", "KB", "median_us",
               "p10_us", "p90_us", "min_us", "payload sent/recv per rank", "wire sent/recv per rank");
    }

    for (int si = 0; si < nsizes; si++) {
        long n = floats[si];
        float *g = malloc((size_t)n * sizeof *g), *mine = malloc((size_t)n * sizeof *mine);
        double *t = malloc((size_t)repeats * sizeof *t);
        double *pay = calloc(4 * (size_t)size, sizeof *pay);
        if (!g || !mine || !t || !pay) {
            fprintf(stderr, "allreduce: out of memory\n");
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        for (long i = 0; i < n; i++)
            mine[i] = (float)((i * 7 + rank * 13) % 101) * 1e-3f;
        for (int op = 0; op < OPS; op++) {
            double sent = 0, received = 0, w0, r0, w1, r1;
            for (int w = 0; w < WARMUP; w++)
                run(op, g, mine, n, &sent, &received);
            sent = received = 0;
            MPI_Barrier(MPI_COMM_WORLD);
            io_read(&w0, &r0);
            for (int k = 0; k < repeats; k++) {
                MPI_Barrier(MPI_COMM_WORLD);
                double t0 = MPI_Wtime();
                run(op, g, mine, n, &sent, &received);
                t[k] = MPI_Wtime() - t0;
            }
            io_read(&w1, &r1);
            /* Counted; now gather (this traffic is after the reads). */
            MPI_Allreduce(MPI_IN_PLACE, t, repeats, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            double mine4[4] = {sent / repeats, received / repeats, (w1 - w0) / repeats,
                               (r1 - r0) / repeats};
            MPI_Gather(mine4, 4, MPI_DOUBLE, pay, 4, MPI_DOUBLE, 0, MPI_COMM_WORLD);
            if (rank != 0)
                continue;
            qsort(t, (size_t)repeats, sizeof *t, cmp_double);
            char pbuf[512] = "", wbuf[512] = "";
            size_t pl = 0, wl = 0;
            double wire = 0;
            for (int r = 0; r < size; r++)
                wire += pay[4 * r + 2] + pay[4 * r + 3];
            for (int r = 0; r < size && pl < sizeof pbuf && wl < sizeof wbuf; r++) {
                if (op == ALLREDUCE || op == SMALL)
                    pl += (size_t)snprintf(pbuf + pl, sizeof pbuf - pl, "%s-", r ? " " : "");
                else
                    pl += (size_t)snprintf(pbuf + pl, sizeof pbuf - pl, "%s%.1f/%.1f",
                                           r ? " " : "", pay[4 * r] / 1e3, pay[4 * r + 1] / 1e3);
                /* Less than 100 bytes a call: shared memory, nothing counted. */
                if (wire / size > 100)
                    wl += (size_t)snprintf(wbuf + wl, sizeof wbuf - wl, "%s%.1f/%.1f",
                                           r ? " " : "", pay[4 * r + 2] / 1e3,
                                           pay[4 * r + 3] / 1e3);
            }
            if (!wbuf[0])
                snprintf(wbuf, sizeof wbuf, "-");
            printf("%-12s %8ld %8.1f %9.1f %9.1f %9.1f %9.1f   %-40s %s\n", op_name[op],
                   op == SMALL ? 0L : n, op == SMALL ? 0.0 : 4e-3 * (double)n,
                   1e6 * quantile(t, repeats, 0.5), 1e6 * quantile(t, repeats, 0.1),
                   1e6 * quantile(t, repeats, 0.9), 1e6 * t[0], pbuf, wbuf);
            fflush(stdout);
        }
        free(g);
        free(mine);
        free(t);
        free(pay);
    }
    if (rank == 0) {
        double load = -1;
        FILE *f = fopen("/proc/loadavg", "r");
        if (f && fscanf(f, "%lf", &load) != 1)
            load = -1;
        if (f)
            fclose(f);
        printf("load average after: %.2f\n", load);
    }
    MPI_Finalize();
    return 0;
bad:
    if (rank == 0)
        usage(stderr);
    MPI_Finalize();
    return 2;
}
