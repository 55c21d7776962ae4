/* test_threads.c — the thread count that adapts to a busy machine
 * (src/train/threads.c), driven with made-up step times: it settles on the
 * fastest count, climbs to all threads where they pay, comes down when the
 * machine gets busy, probes rarely once settled, and stays put when the
 * user fixed --threads. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../src/train/train_internal.h"

/* Run `steps` steps with step time cost(threads); returns the count in use
 * at the end and the number of steps run at each count in used[]. */
static int drive(thread_tuner *t, long from, long steps, double (*cost)(int), long *used)
{
    int n = 0;
    for (long s = from; s < from + steps; s++) {
        n = tuner_threads(t, s);
        if (used)
            used[n]++;
        tuner_record(t, s, cost(n));
    }
    return t->cur;
}

static double idle_2core(int n) { return n == 2 ? 0.55e-3 : 1.0e-3; }
static double busy_2core(int n) { return n == 2 ? 16e-3 : 0.8e-3; }
static double server(int n) { return 1e-3 / n + 2e-6; }

static void test_idle_machine_uses_both_cores(void **state)
{
    (void)state;
    thread_tuner t;
    tuner_init(&t, 1, 2);
    long used[3] = {0};
    assert_int_equal(drive(&t, 0, 20000, idle_2core, used), 2);
    print_message("idle: %ld steps on 1 thread, %ld on 2\n", used[1], used[2]);
    assert_true(used[1] < 20000 / 100); /* probes and the start: under 1 % */
}

static void test_busy_machine_drops_to_one(void **state)
{
    (void)state;
    thread_tuner t;
    tuner_init(&t, 1, 2);
    long used[3] = {0};
    assert_int_equal(drive(&t, 0, 20000, busy_2core, used), 1);
    print_message("busy: %ld steps on 1 thread, %ld on 2\n", used[1], used[2]);
    assert_true(used[2] < 60); /* hopeless probes end after two steps */
    /* and when the machine gets busy later, it comes down */
    tuner_init(&t, 1, 2);
    drive(&t, 0, 2000, idle_2core, NULL);
    assert_int_equal(t.cur, 2);
    assert_int_equal(drive(&t, 2000, 20000, busy_2core, NULL), 1);
}

static void test_server_climbs(void **state)
{
    (void)state;
    thread_tuner t;
    tuner_init(&t, 1, 32);
    long used[33] = {0};
    drive(&t, 0, 200, server, used);
    assert_int_equal(t.cur, 32);
}

static void test_fixed_threads(void **state)
{
    (void)state;
    thread_tuner t;
    tuner_init(&t, 0, 2); /* --threads given */
    for (long s = 0; s < 5000; s++) {
        assert_int_equal(tuner_threads(&t, s), 2);
        tuner_record(&t, s, busy_2core(2));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_machine_uses_both_cores),
        cmocka_unit_test(test_busy_machine_drops_to_one),
        cmocka_unit_test(test_server_climbs),
        cmocka_unit_test(test_fixed_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
