/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Read-side sections: liburcu-bp's grace periods wait for the fast paths'
 * copy of its reader lock, and the calls that wait for a grace period
 * behave as documented when made where they cannot wait (inside the
 * caller's own section, from a release callback).  Linked with the
 * convenience library for space_fast_enter(). */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <time.h>

#include "space/table.h"
#include "testutil.h"

/* ------------------------------------ grace periods wait for fast paths */

struct fast_reader {
	int inside;                  /* 1: in the fast section */
	int writer_waiting;          /* 1: the writer is about to synchronize */
	int left;                    /* 1: about to leave the section */
	int gp_done_early;           /* synchronize returned with left == 0 */
	bool fast;                   /* space_fast_enter() took the fast path */
};

static void wait_for(const int *flag)
{
	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void *fast_reader_thread(void *arg)
{
	struct fast_reader *fr = arg;
	struct timespec pause = { 0, 20 * 1000 * 1000 };

	/* Registered with liburcu-bp, as any thread is after its first
	 * access: the fast path needs it. */
	urcu_bp_read_lock();
	urcu_bp_read_unlock();
	fr->fast = space_fast_enter();
	if (!fr->fast) {
		urcu_bp_read_lock();
	}
	__atomic_store_n(&fr->inside, 1, __ATOMIC_RELEASE);
	wait_for(&fr->writer_waiting);
	/* Long enough for a grace period that does not wait to end, many
	 * times over; one that waits ends only after the store below. */
	nanosleep(&pause, NULL);
	__atomic_store_n(&fr->left, 1, __ATOMIC_RELEASE);
	if (fr->fast)
		space_fast_exit();
	else
		urcu_bp_read_unlock();
	return NULL;
}

static void *fast_writer_thread(void *arg)
{
	struct fast_reader *fr = arg;

	wait_for(&fr->inside);
	__atomic_store_n(&fr->writer_waiting, 1, __ATOMIC_RELEASE);
	urcu_bp_synchronize_rcu();
	if (!__atomic_load_n(&fr->left, __ATOMIC_ACQUIRE))
		fr->gp_done_early = 1;
	return NULL;
}

/* The guard of configure.ac's liburcu check: if liburcu-bp's reader
 * protocol ever differs from the copy in space_fast_enter(), grace periods
 * stop waiting for the fast paths, and this fails. */
START_TEST(grace_period_waits_for_fast_path)
{
	int fast_rounds = 0;

	for (int i = 0; i < 10; i++) {
		struct fast_reader fr = { 0 };
		pthread_t rd, wr;

		ck_assert_int_eq(pthread_create(&rd, NULL, fast_reader_thread, &fr), 0);
		ck_assert_int_eq(pthread_create(&wr, NULL, fast_writer_thread, &fr), 0);
		pthread_join(rd, NULL);
		pthread_join(wr, NULL);
		ck_assert_msg(!fr.gp_done_early,
			      "round %d: a grace period ended while a %s reader was inside",
			      i, fr.fast ? "fast-path" : "slow-path");
		fast_rounds += fr.fast;
	}
	/* Without membarrier the fast path is never taken: nothing to test. */
	if (!fast_rounds)
		fprintf(stderr, "grace_period_waits_for_fast_path: no fast path on this kernel\n");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("section");
	TCase *tc;

	tc = tcase_create("fast_path");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, grace_period_waits_for_fast_path);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run(suite());
}
