/* threads.c — a thread count that adapts to a busy machine. With every
 * core taken by other work, an OpenMP team waits at each step's barriers
 * for whichever of its threads the scheduler left out, and two threads can
 * train many times slower than one (measured here, 2 cores under load 8:
 * 16 ms a step on 2 threads against 0.8 ms on 1; most steps stay fast and
 * a few stall for a whole scheduler slice, so the mean is what counts).
 * Since the weights do not depend on the thread count, the trainer may
 * change it at any step. It starts on one thread and, after WINDOW steps,
 * times WINDOW steps at double (or half) the count against the last WINDOW
 * at the current one, keeping the faster by a margin. A success probes
 * again soon (so a 32-core server climbs 1, 2, 4, … 32 in a few dozen
 * steps); a failure turns the direction round and doubles the wait before
 * the next probe (PROBE_EVERY up to MAX_INTERVAL steps); a probe plainly
 * worse after two steps ends at once. On a machine that stays as it is,
 * the probes cost well under 1 % of the steps. Only when the user did not
 * fix --threads. */
#include <string.h>

#include "train_internal.h"

enum { WINDOW = CNN_TUNER_WINDOW, PROBE_EVERY = 256, MAX_INTERVAL = 8192 };
#define MARGIN 0.93 /* the other count must be 7 % faster to take over */

static double mean(const double *v, int n)
{
    double s = 0.0;
    for (int i = 0; i < n; i++)
        s += v[i];
    return s / n;
}

void tuner_init(thread_tuner *t, int enabled, int max)
{
    memset(t, 0, sizeof *t);
    t->enabled = enabled && max > 1;
    t->max = max;
    t->cur = t->enabled ? 1 : max;
    t->dir = 1;
    t->next_probe = WINDOW;
    t->interval = PROBE_EVERY;
}

static int candidate(const thread_tuner *t, int dir)
{
    int c = dir > 0 ? t->cur * 2 : t->cur / 2;
    return c < 1 ? 1 : c > t->max ? t->max : c;
}

int tuner_threads(thread_tuner *t, long step)
{
    if (!t->enabled)
        return t->max;
    if (!t->probe && step >= t->next_probe && t->ncur >= WINDOW) {
        if (candidate(t, t->dir) == t->cur)
            t->dir = -t->dir;
        t->probe = candidate(t, t->dir);
        if (t->probe == t->cur)
            t->probe = 0;
        t->nprobe = 0;
    }
    return t->probe ? t->probe : t->cur;
}

void tuner_record(thread_tuner *t, long step, double seconds)
{
    if (!t->enabled)
        return;
    if (!t->probe) {
        t->tcur[t->ncur % WINDOW] = seconds;
        t->ncur++;
        return;
    }
    t->tprobe[t->nprobe++] = seconds;
    const double here = mean(t->tcur, WINDOW);
    /* A probe ends as soon as it cannot win any more (its steps so far
     * already cost more than a winning window may), or when it is plainly
     * worse after two steps: under load a bad count can be 20 times slower. */
    double spent = mean(t->tprobe, t->nprobe) * t->nprobe;
    int hopeless = spent > MARGIN * here * WINDOW ||
                   (t->nprobe == 2 && t->tprobe[0] > 1.5 * here && t->tprobe[1] > 1.5 * here);
    if (t->nprobe < WINDOW && !hopeless)
        return;
    if (!hopeless && mean(t->tprobe, t->nprobe) < MARGIN * here) {
        t->cur = t->probe;
        t->ncur = 0; /* time the new count afresh */
        t->changes++;
        t->interval = PROBE_EVERY;
        t->next_probe = step + 1 + WINDOW; /* keep going that way soon */
    } else {
        t->dir = -t->dir;
        t->next_probe = step + 1 + t->interval;
        if (t->interval < MAX_INTERVAL)
            t->interval *= 2; /* the machine stays as it is: look less often */
    }
    t->probe = 0;
}
