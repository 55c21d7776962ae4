/* cli_progress.h — what `cnn train` shows while it runs: the options in
 * force when it starts (a resumed run's included); on a terminal, a live
 * line on stderr (epoch, batch, running loss, speed, elapsed time, ETA;
 * "evaluating" during the test pass); on stdout, one line per epoch that
 * fits 80 columns; and the CSV log. */
#ifndef CNN_CLI_PROGRESS_H
#define CNN_CLI_PROGRESS_H

#include <signal.h>
#include <stdio.h>

#include "cnn_train.h"

/* For the SIGINT handler: whether a live line is on screen, and whether the
 * test pass is running (it ends at the next epoch boundary, not step). */
extern volatile sig_atomic_t cli_progress_live, cli_progress_evaluating;

typedef struct {
    int live;                    /* stderr is a terminal: redraw one line */
    long test_count;             /* images in the test pass */
    FILE *log;                   /* CSV log or NULL */
    int log_failed;
    volatile sig_atomic_t *stop; /* once set, the live line is left alone */
    double start;                /* monotonic seconds when training started */
    double last_draw;            /* epoch seconds of the last redraw */
    int epoch;                   /* epoch of the last step event */
    int first_batch;             /* steps of that epoch done before this run */
    double test_seconds;         /* the last test pass; 0: none yet */
    int show_lr;                 /* the rate changes (schedule, warm-up): show it */
    /* For the header printed at CNN_EVENT_START: */
    const char *resume_path;     /* resuming from this checkpoint, or NULL */
    int threads, ranks;          /* threads (per rank), MPI ranks */
    int rows, cols;              /* image size: which preset an arch spec is */
    int started;                 /* the header is out */
    char notes[8][256];          /* notes that came before it, printed after it */
    int nnotes;
} cli_progress;

void cli_progress_init(cli_progress *d, int live, long test_count);
/* The cnn_progress_fn for cnn_train; ctx is a cli_progress. */
void cli_progress_event(const cnn_progress *p, void *ctx);
/* After cnn_train: print the notes held back for a header that never came
 * (training failed before it started). */
void cli_progress_finish(cli_progress *d);
/* Remove the live line, if any. */
void cli_progress_clear(cli_progress *d);

/* "0:07", "12:34", "1:02:03" */
void cli_format_duration(char *buf, size_t cap, double seconds);

#endif
