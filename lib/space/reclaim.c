/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Retired region tables and IOTLB tables, freed by the library's own
 * worker after a grace period, and the library's fork handling.
 *
 * Not liburcu's call_rcu: it prints and aborts when it cannot start its
 * thread, and a program that uses call_rcu itself follows liburcu's
 * call_rcu fork steps around its fork(); handlers of this library running
 * the same steps again would relock liburcu's mutex and hang.  The
 * library's handlers therefore run only liburcu-bp's reader-registry steps
 * (which no other part of liburcu-bp performs: without them a child waits
 * for ever for readers that were in a section in threads it does not have)
 * and park this worker.  They allocate nothing, and the worker is parked
 * outside free() across fork(), so glibc's allocator locks are not at
 * stake (the hazard liburcu's README describes). */
#include <signal.h>
#include <stdlib.h>

#include "space/table.h"

static pthread_mutex_t rq_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rq_wake = PTHREAD_COND_INITIALIZER;   /* for the worker */
static pthread_cond_t rq_done = PTHREAD_COND_INITIALIZER;   /* from it */
static struct retired *rq_head, **rq_tail = &rq_head;
static unsigned long rq_queued, rq_reclaimed;
static unsigned long rq_held;      /* weight of the queued, not yet freed */
static bool rq_running, rq_pause, rq_parked, rq_stop;
static pthread_t rq_thread;
static __thread bool on_reclaim_worker;

bool space_cannot_wait(void)
{
	return on_reclaim_worker || space_in_section();
}

/* Takes the whole queue and frees it after a grace period, in the calling
 * thread; called, and returns, with rq_lock held. */
static void reclaim_queue(void)
{
	struct retired *r = rq_head;
	unsigned long n = 0, held = 0;

	rq_head = NULL;
	rq_tail = &rq_head;
	pthread_mutex_unlock(&rq_lock);
	urcu_bp_synchronize_rcu();
	while (r) {
		struct retired *next = r->next;

		held += r->held;
		r->reclaim(r);
		r = next;
		n++;
	}
	pthread_mutex_lock(&rq_lock);
	rq_reclaimed += n;
	rq_held -= held;
	pthread_cond_broadcast(&rq_done);
}

static void *reclaim_worker(void *arg)
{
	(void)arg;
	on_reclaim_worker = true;
	pthread_mutex_lock(&rq_lock);
	for (;;) {
		while (rq_pause || (!rq_head && !rq_stop)) {
			rq_parked = true;
			pthread_cond_broadcast(&rq_done);
			pthread_cond_wait(&rq_wake, &rq_lock);
			rq_parked = false;
		}
		if (!rq_head)
			break;
		reclaim_queue();
	}
	pthread_mutex_unlock(&rq_lock);
	return NULL;
}

/* Starts the worker, with every signal blocked (a process's handlers are
 * not written for a library's thread); called with rq_lock held.  On
 * failure the queue waits for the next start or for reclaim_wait(). */
static void start_worker(void)
{
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rq_running = !pthread_create(&rq_thread, NULL, reclaim_worker, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void reclaim_defer(struct retired *r)
{
	pthread_mutex_lock(&rq_lock);
	r->next = NULL;
	*rq_tail = r;
	rq_tail = &r->next;
	rq_queued++;
	rq_held += r->held;
	if (!rq_running)
		start_worker();
	pthread_cond_signal(&rq_wake);
	pthread_mutex_unlock(&rq_lock);
}

/* Returns once every table retired before the call is freed.  Not from a
 * section nor from the worker (space_cannot_wait()). */
void reclaim_wait(void)
{
	unsigned long target;

	pthread_mutex_lock(&rq_lock);
	target = rq_queued;
	if (!rq_running && rq_head)
		start_worker();
	if (!rq_running && rq_head) {
		/* No thread to be had: the caller waits, and frees. */
		reclaim_queue();
		target = rq_queued;
	}
	while (rq_reclaimed < target && rq_running)
		pthread_cond_wait(&rq_done, &rq_lock);
	pthread_mutex_unlock(&rq_lock);
}

int reclaim_admit(void)
{
	bool over;

	pthread_mutex_lock(&rq_lock);
	over = rq_held >= RECLAIM_HELD_MAX;
	pthread_mutex_unlock(&rq_lock);
	if (!over)
		return 0;
	if (space_cannot_wait())
		return -EAGAIN;
	reclaim_wait();
	return 0;
}

/* The worker runs this library's code and the tables it frees are the
 * library's: it finishes the queue and is joined before the library is
 * unloaded (dlclose) or the process ends.  Not from where it cannot wait. */
__attribute__((destructor)) static void reclaim_unload(void)
{
	bool running;

	if (space_cannot_wait())
		return;
	pthread_mutex_lock(&rq_lock);
	running = rq_running;
	rq_stop = true;
	pthread_cond_signal(&rq_wake);
	pthread_mutex_unlock(&rq_lock);
	if (running) {
		pthread_join(rq_thread, NULL);
		pthread_mutex_lock(&rq_lock);
		rq_running = rq_stop = false;   /* a later retire starts one */
		pthread_mutex_unlock(&rq_lock);
	} else {
		pthread_mutex_lock(&rq_lock);
		if (rq_head)
			reclaim_queue();
		pthread_mutex_unlock(&rq_lock);
	}
}

/* fork(): the worker is parked where it holds no lock (neither liburcu's
 * nor the allocator's), and liburcu-bp's registry locks are held across
 * the fork; the child drops the reader slots of threads it does not have,
 * and starts a worker of its own when it next needs one. */
static void fork_prepare(void)
{
	pthread_mutex_lock(&rq_lock);
	if (rq_running && !on_reclaim_worker) {
		rq_pause = true;
		pthread_cond_signal(&rq_wake);
		while (!rq_parked)
			pthread_cond_wait(&rq_done, &rq_lock);
	}
	urcu_bp_before_fork();
}

static void fork_parent(void)
{
	urcu_bp_after_fork_parent();
	rq_pause = false;
	pthread_cond_signal(&rq_wake);
	pthread_mutex_unlock(&rq_lock);
}

static void fork_child(void)
{
	urcu_bp_after_fork_child();
	rq_running = rq_pause = rq_parked = false;
	pthread_cond_init(&rq_wake, NULL);
	pthread_cond_init(&rq_done, NULL);
	pthread_mutex_unlock(&rq_lock);
}

/* Registered from vmmem_new, where a failure can be reported; once per
 * process (a failed registration is tried again). */
static pthread_mutex_t atfork_lock = PTHREAD_MUTEX_INITIALIZER;
static bool atfork_registered;

int space_register_atfork(void)
{
	int ret = 0;

	pthread_mutex_lock(&atfork_lock);
	if (!atfork_registered) {
		ret = -pthread_atfork(fork_prepare, fork_parent, fork_child);
		atfork_registered = !ret;
	}
	pthread_mutex_unlock(&atfork_lock);
	return ret;
}
