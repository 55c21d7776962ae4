/* host.c — what bench/layers says about the machine it ran on: the CPU
 * model, the load average (other processes on the cores stall the OpenMP
 * barrier every timed run ends with) and the BLAS library in use. */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "cnn_blas.h"

double load_average(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

/* The first "model name" line of /proc/cpuinfo (x86; other machines may
 * lack it: "unknown"). */
const char *cpu_model(void)
{
    static char name[128];
    if (name[0])
        return name;
    snprintf(name, sizeof name, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return name;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0)
            continue;
        const char *v = strchr(line, ':');
        if (!v)
            continue;
        for (v++; *v == ' ' || *v == '\t'; v++)
            ;
        snprintf(name, sizeof name, "%s", v);
        name[strcspn(name, "\n")] = '\0';
        break;
    }
    fclose(f);
    return name;
}

/* The one place bench/layers asks which BLAS it runs on: its configuration
 * string (OpenBLAS's openblas_get_config(), BLIS's kernel set, ...). */
const char *blas_name(void) { return cnn_blas_config(); }
