/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Read-side sections: liburcu-bp's grace periods wait for the fast paths'
 * copy of its reader lock, and the calls that wait for a grace period
 * behave as documented when made where they cannot wait (inside the
 * caller's own section, from a release callback).  Linked with the
 * convenience library for space_fast_enter(). */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
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

/* ------------------------------- calls that wait, where they cannot wait */

static void count_release(void *addr, uint64_t size, void *opaque)
{
	(void)addr;
	(void)size;
	__atomic_add_fetch((int *)opaque, 1, __ATOMIC_RELEASE);
}

/* A raw region over a fresh anonymous page whose release adds one to
 * *count (the page is never unmapped: a few pages per test). */
static struct vmmem_region *counted_region(vmmem_release_fn fn, void *opaque)
{
	struct vmmem_region *r = NULL;
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_int_eq(vmmem_region_new_raw(&r, p, 4096, fn, opaque, 0), 0);
	return r;
}

/* A space that held a region removed by hotplug: its old table, holding
 * that region's last reference, waits for a grace period. */
static struct vmmem *space_after_hotplug(int *count)
{
	struct vmmem *m = NULL;
	struct vmmem_region *r = counted_region(count_release, count);

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(m, 0x1000, r), 0);
	vmmem_region_unref(r);
	ck_assert_int_eq(vmmem_remove_region(m, 0x1000, 4096, NULL), 0);
	return m;
}

/* Waits, bounded, for *count to reach want. */
static void wait_count(const int *count, int want)
{
	for (int i = 0; i < 10000 && __atomic_load_n(count, __ATOMIC_ACQUIRE) < want; i++)
		usleep(1000);
	ck_assert_int_eq(__atomic_load_n(count, __ATOMIC_ACQUIRE), want);
}

/* Runs fn(arg) with stderr sent to a file, and fails if anything was
 * written there: the library must not print. */
static void silently(void (*fn)(void *), void *arg)
{
	FILE *f = tmpfile();
	int saved = dup(2);
	char buf[256] = "";

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(saved, 0);
	fflush(stderr);
	dup2(fileno(f), 2);
	fn(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	if (fgets(buf, sizeof(buf), f))
		ck_abort_msg("printed on stderr: %s", buf);
	fclose(f);
}

static void free_in_section(void *arg)
{
	urcu_bp_read_lock();
	vmmem_free(arg);
	urcu_bp_read_unlock();
}

/* liburcu's barrier refuses to wait inside a section (it prints and
 * returns): vmmem_free() defers instead, and the space goes once the
 * section has ended. */
START_TEST(free_inside_section)
{
	int count = 0;
	struct vmmem *m = space_after_hotplug(&count);

	silently(free_in_section, m);
	wait_count(&count, 1);
}
END_TEST

static struct vmmem *free_from_release_target;

static void free_other_space(void *addr, uint64_t size, void *opaque)
{
	struct vmmem *m;

	/* The target's old table is retired after this callback's. */
	while (!(m = __atomic_load_n(&free_from_release_target, __ATOMIC_ACQUIRE)))
		sched_yield();
	vmmem_free(m);
	count_release(addr, size, opaque);
}

/* A release callback runs where grace periods end (the library's
 * reclaim): a wait there would wait for itself. */
START_TEST(free_from_release_callback)
{
	int outer = 0, inner = 0;
	struct vmmem *m = NULL;
	struct vmmem_region *r = counted_region(free_other_space, &outer);

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(m, 0, r), 0);
	vmmem_region_unref(r);
	ck_assert_int_eq(vmmem_remove_region(m, 0, 4096, NULL), 0);
	__atomic_store_n(&free_from_release_target, space_after_hotplug(&inner),
			 __ATOMIC_RELEASE);
	wait_count(&outer, 1);
	wait_count(&inner, 1);
	vmmem_free(m);
}
END_TEST

struct iommu_call {
	struct vmmem_iommu *iommu;
	int update, invalidate, invalidate_all;
};

static void iommu_in_section(void *arg)
{
	struct iommu_call *c = arg;

	urcu_bp_read_lock();
	c->update = vmmem_iommu_update(c->iommu, 0, 4096, 0, VMMEM_PERM_READ);
	c->invalidate = vmmem_iommu_invalidate(c->iommu, 0, 4096);
	c->invalidate_all = vmmem_iommu_invalidate_all(c->iommu);
	urcu_bp_read_unlock();
}

/* An IOTLB change waits for a grace period, which the caller's own
 * section would block for ever: refused, and the IOTLB left as it was. */
START_TEST(iommu_changes_inside_section)
{
	struct vmmem *m = NULL;
	struct iommu_call c = { 0 };

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_iommu_new(&c.iommu, m, NULL), 0);
	ck_assert_int_eq(vmmem_iommu_update(c.iommu, 8192, 4096, 0, VMMEM_PERM_READ), 0);
	silently(iommu_in_section, &c);
	ck_assert_int_eq(c.update, -EDEADLK);
	ck_assert_int_eq(c.invalidate, -EDEADLK);
	ck_assert_int_eq(c.invalidate_all, -EDEADLK);
	ck_assert_int_eq(vmmem_iommu_num_entries(c.iommu), 1);
	/* Outside the section they work. */
	ck_assert_int_eq(vmmem_iommu_invalidate(c.iommu, 8192, 4096), 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(c.iommu), 0);
	vmmem_iommu_free(c.iommu);
	vmmem_free(m);
}
END_TEST

/* pthread_create() for the whole process, liburcu's calls included,
 * failing while thread_creation_fails is set: liburcu's call_rcu prints
 * and aborts when it cannot start its thread (urcu_die()).  Forwarded
 * otherwise, to the sanitizers' interceptor when there is one. */
static int thread_creation_fails;

int pthread_create(pthread_t *th, const pthread_attr_t *attr,
		   void *(*fn)(void *), void *arg)
{
	typedef int create_fn(pthread_t *, const pthread_attr_t *,
			      void *(*)(void *), void *);
	create_fn *real;

	if (__atomic_load_n(&thread_creation_fails, __ATOMIC_RELAXED))
		return EAGAIN;
	*(void **)&real = dlsym(RTLD_NEXT, "pthread_create");
	return real(th, attr, fn, arg);
}

/* Entries kept in the IOTLB while another one comes and goes, so that
 * each replaced table is some 8 KiB: 6400 of them, 50 MiB. */
#define KEPT_ENTRIES 200
#define CHANGES 3200

static size_t heap_in_use(void)
{
	return mallinfo2().uordblks;
}

static void iommu_changes_without_threads(void *arg)
{
	struct vmmem_iommu *iommu = arg;
	size_t before, most = 0;

	/* Before anything retires a table: no worker yet, none to be had. */
	__atomic_store_n(&thread_creation_fails, 1, __ATOMIC_RELAXED);
	before = heap_in_use();
	for (uint64_t i = 1; i <= KEPT_ENTRIES; i++)
		ck_assert_int_eq(vmmem_iommu_update(iommu, 2 * i * 4096, 4096,
						    0, VMMEM_PERM_READ), 0);
	for (int i = 0; i < CHANGES; i++) {
		size_t now;

		ck_assert_int_eq(vmmem_iommu_update(iommu, 0, 4096, 0,
						    VMMEM_PERM_READ), 0);
		ck_assert_int_eq(vmmem_iommu_invalidate(iommu, 0, 4096), 0);
		now = heap_in_use();
		most = now > most ? now : most;
	}
	__atomic_store_n(&thread_creation_fails, 0, __ATOMIC_RELAXED);
	/* The backlog's bound (RECLAIM_HELD_MAX units of
	 * RECLAIM_UNIT_BYTES) and a batch in the making, not 50 MiB. */
	ck_assert_msg(most < before ||
		      most - before < (size_t)RECLAIM_HELD_MAX *
				      RECLAIM_UNIT_BYTES + (4u << 20),
		      "%zu KiB of replaced IOTLB tables held", (most - before) >> 10);
}

/* The IOTLB's replaced tables are freed without liburcu's call_rcu, whose
 * thread cannot be started without printing and aborting (README,
 * Security): with no thread to be had, changes still work, silently, and
 * the calls free the backlog themselves once it reaches its bound. */
START_TEST(iommu_changes_without_threads_never_abort)
{
	struct vmmem *m = NULL;
	struct vmmem_iommu *iommu = NULL;

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_iommu_new(&iommu, m, NULL), 0);
	silently(iommu_changes_without_threads, iommu);
	ck_assert_int_eq(vmmem_iommu_num_entries(iommu), KEPT_ENTRIES);
	vmmem_iommu_free(iommu);
	vmmem_free(m);
}
END_TEST

struct dirty_call {
	struct vmmem *m;
	int log_fd;
	uint64_t *log;
	int start, stop, shared_set, shared_set_fd, shared_stop;
};

static void dirty_in_section(void *arg)
{
	struct dirty_call *c = arg;

	urcu_bp_read_lock();
	c->start = vmmem_dirty_start(c->m, 8192);
	c->stop = vmmem_dirty_stop(c->m);
	c->shared_set = vmmem_dirty_shared_set(c->m, c->log, 4096, 0);
	c->shared_set_fd = vmmem_dirty_shared_set_fd(c->m, c->log_fd, 4096, 0, 0);
	c->shared_stop = vmmem_dirty_shared_stop(c->m);
	urcu_bp_read_unlock();
}

/* Starting, stopping (and so changing the page size of) the library's log
 * and switching the front-end's shared log wait for a grace period, which
 * the caller's own section would block for ever: refused, and the logs
 * left as they were. */
START_TEST(dirty_changes_inside_section)
{
	static uint64_t log[512] __attribute__((aligned(8)));
	struct dirty_call c = { 0 };
	struct vmmem_region *r = counted_region(NULL, NULL);
	uint64_t missed = 1;
	uint8_t one = 1;

	ck_assert_int_eq(vmmem_new(&c.m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(c.m, 0, r), 0);
	vmmem_region_unref(r);
	c.log = log;
	c.log_fd = memfd_create("log", 0);
	ck_assert_int_ge(c.log_fd, 0);
	ck_assert_int_eq(ftruncate(c.log_fd, 4096), 0);
	/* Library's log on (4 KiB pages), shared log on. */
	ck_assert_int_eq(vmmem_dirty_start(c.m, 4096), 0);
	ck_assert_int_eq(vmmem_dirty_shared_set(c.m, log, sizeof(log), 0), 0);
	silently(dirty_in_section, &c);
	ck_assert_int_eq(c.start, -EDEADLK);
	ck_assert_int_eq(c.stop, -EDEADLK);
	ck_assert_int_eq(c.shared_set, -EDEADLK);
	ck_assert_int_eq(c.shared_set_fd, -EDEADLK);
	ck_assert_int_eq(c.shared_stop, -EDEADLK);
	/* Both logs as they were: still on, page size unchanged, and a
	 * write marks both. */
	ck_assert_int_eq(vmmem_dirty_test(c.m, 0), 0);
	ck_assert_int_eq(vmmem_write(c.m, 0x10, &one, 1), 1);
	ck_assert_int_eq(vmmem_dirty_test(c.m, 0), 1);
	ck_assert_uint_eq(log[0], 1);
	ck_assert_int_eq(vmmem_dirty_shared_missed(c.m, &missed), 0);
	ck_assert_uint_eq(missed, 0);
	/* Outside the section they work. */
	ck_assert_int_eq(vmmem_dirty_shared_stop(c.m), 0);
	ck_assert_int_eq(vmmem_dirty_stop(c.m), 0);
	close(c.log_fd);
	vmmem_free(c.m);
}
END_TEST

static struct vmmem *dirty_from_release_target;
static int dirty_from_release_ret;

static void dirty_start_other_space(void *addr, uint64_t size, void *opaque)
{
	__atomic_store_n(&dirty_from_release_ret,
			 vmmem_dirty_start(dirty_from_release_target, 0),
			 __ATOMIC_RELAXED);
	count_release(addr, size, opaque);
}

/* On the reclaim thread, a release callback: refused as well. */
START_TEST(dirty_start_from_release_callback)
{
	int released = 0;
	struct vmmem *m = NULL;
	struct vmmem_region *r = counted_region(dirty_start_other_space, &released);

	ck_assert_int_eq(vmmem_new(&dirty_from_release_target, 0), 0);
	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(m, 0, r), 0);
	vmmem_region_unref(r);
	ck_assert_int_eq(vmmem_remove_region(m, 0, 4096, NULL), 0);
	wait_count(&released, 1);
	ck_assert_int_eq(__atomic_load_n(&dirty_from_release_ret, __ATOMIC_RELAXED),
			 -EDEADLK);
	ck_assert_int_eq(vmmem_dirty_stop(dirty_from_release_target), -ENOENT);
	vmmem_free(dirty_from_release_target);
	vmmem_free(m);
}
END_TEST

/* --------------- a switch of the dirty logs against a caller's section */

/* The four calls that switch the logs, each from the state the one before
 * left: library's log on, off, shared log on, off. */
static int dirty_switch_call(struct vmmem *m, int which)
{
	static uint64_t log[512] __attribute__((aligned(8)));

	switch (which) {
	case 0: return vmmem_dirty_start(m, 0);
	case 1: return vmmem_dirty_stop(m);
	case 2: return vmmem_dirty_shared_set(m, log, sizeof(log), 0);
	default: return vmmem_dirty_shared_stop(m);
	}
}

struct switch_race {
	struct vmmem *m;
	int which;
	int inside;                  /* atomic: the reader is in its section */
	int reader_ret, switch_ret;
	int reader_done, switch_done;   /* atomic */
};

static double seconds_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) +
	       (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Inside its own section, once the switch holds m->lock (or after 200 ms:
 * a switch that holds it only to publish may be missed), the reader adds
 * a region, which takes m->lock.  A switch waiting for the grace period
 * with m->lock held waits for this section, and it for the lock. */
static void *reader_in_section(void *arg)
{
	struct switch_race *sr = arg;
	struct vmmem_region *r = counted_region(NULL, NULL);
	struct timespec t0;

	urcu_bp_read_lock();
	__atomic_store_n(&sr->inside, 1, __ATOMIC_RELEASE);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (seconds_since(&t0) < 0.2) {
		if (pthread_mutex_trylock(&sr->m->lock) == EBUSY)
			break;
		pthread_mutex_unlock(&sr->m->lock);
		sched_yield();
	}
	sr->reader_ret = vmmem_add_region(sr->m, 0x100000, r);
	urcu_bp_read_unlock();
	vmmem_region_unref(r);
	__atomic_store_n(&sr->reader_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *switcher(void *arg)
{
	struct switch_race *sr = arg;

	while (!__atomic_load_n(&sr->inside, __ATOMIC_ACQUIRE))
		sched_yield();
	sr->switch_ret = dirty_switch_call(sr->m, sr->which);
	__atomic_store_n(&sr->switch_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* The switches wait for a grace period outside m->lock: a reader that
 * takes m->lock inside its section (hotplug is allowed there) must not
 * deadlock with them.  Bounded: 10 s for each switch. */
START_TEST(switch_waits_outside_lock)
{
	struct vmmem *m = NULL;
	struct vmmem_region *r = counted_region(NULL, NULL);

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(m, 0, r), 0);
	vmmem_region_unref(r);
	for (int which = 0; which < 4; which++) {
		struct switch_race sr = { .m = m, .which = which };
		pthread_t rd, sw;
		struct timespec t0;

		ck_assert_int_eq(pthread_create(&rd, NULL, reader_in_section, &sr), 0);
		ck_assert_int_eq(pthread_create(&sw, NULL, switcher, &sr), 0);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (;;) {
			int rdone = __atomic_load_n(&sr.reader_done, __ATOMIC_ACQUIRE);
			int sdone = __atomic_load_n(&sr.switch_done, __ATOMIC_ACQUIRE);

			if (rdone && sdone)
				break;
			ck_assert_msg(seconds_since(&t0) < 10,
				      "switch %d: deadlock (reader %s, switch %s)",
				      which, rdone ? "done" : "blocked",
				      sdone ? "done" : "blocked");
			usleep(1000);
		}
		pthread_join(rd, NULL);
		pthread_join(sw, NULL);
		ck_assert_int_eq(sr.reader_ret, 0);
		ck_assert_int_eq(sr.switch_ret, 0);
		ck_assert_int_eq(vmmem_remove_region(m, 0x100000, 4096, NULL), 0);
	}
	vmmem_free(m);
}
END_TEST

struct holder {
	int inside, release;
	int max_ms;                  /* 0: 300 */
};

static void *hold_section(void *arg)
{
	struct holder *h = arg;
	int max_ms = h->max_ms ? h->max_ms : 300;

	urcu_bp_read_lock();
	__atomic_store_n(&h->inside, 1, __ATOMIC_RELEASE);
	/* max_ms, or less if told. */
	for (int i = 0; i < max_ms && !__atomic_load_n(&h->release, __ATOMIC_ACQUIRE); i++)
		usleep(1000);
	urcu_bp_read_unlock();
	return NULL;
}

static void *stop_logging(void *arg)
{
	struct switch_race *sr = arg;

	sr->switch_ret = vmmem_dirty_stop(sr->m);
	__atomic_store_n(&sr->switch_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* A ring freed while a stop waits for its grace period: the words the ring
 * pinned are the stopped log's, still marked by the writers the stop
 * waits for; the stop frees them once, after the wait (ASan, valgrind). */
START_TEST(ring_freed_while_stop_waits)
{
	struct vmmem *m = NULL;
	struct vmmem_region *r = counted_region(NULL, NULL);
	struct vmmem_ring *ring = NULL;
	struct holder h = { .max_ms = 10000 };
	struct switch_race sr = { 0 };
	pthread_t rd, sw;

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(m, 0, r), 0);
	vmmem_region_unref(r);
	ck_assert_int_eq(vmmem_dirty_start(m, 0), 0);
	ck_assert_int_eq(vmmem_ring_new(&ring, m, 0, 64,
					VMMEM_MAP_READ | VMMEM_MAP_WRITE), 0);
	ck_assert_ptr_nonnull(ring->log);
	ck_assert_ptr_nonnull(ring->log->words);
	ck_assert_int_eq(pthread_create(&rd, NULL, hold_section, &h), 0);
	while (!__atomic_load_n(&h.inside, __ATOMIC_ACQUIRE))
		sched_yield();
	sr.m = m;
	ck_assert_int_eq(pthread_create(&sw, NULL, stop_logging, &sr), 0);
	/* published (the ring's record gone), the grace period pending */
	for (int i = 0; i < 10000 && __atomic_load_n(&ring->log, __ATOMIC_ACQUIRE); i++)
		usleep(1000);
	ck_assert_ptr_null(__atomic_load_n(&ring->log, __ATOMIC_ACQUIRE));
	ck_assert_int_eq(__atomic_load_n(&sr.switch_done, __ATOMIC_ACQUIRE), 0);
	vmmem_ring_free(ring);
	__atomic_store_n(&h.release, 1, __ATOMIC_RELEASE);
	pthread_join(rd, NULL);
	pthread_join(sw, NULL);
	ck_assert_int_eq(sr.switch_ret, 0);
	vmmem_free(m);
}
END_TEST

/* Switches take turns: a start made while a stop waits for its grace
 * period publishes nothing until the stop is over (a stop's retire frees
 * the log it replaced, which a switch published meanwhile must not
 * change). */
START_TEST(switches_take_turns)
{
	struct vmmem *m = NULL;
	struct vmmem_region *r = counted_region(NULL, NULL);
	struct holder h = { .max_ms = 10000 };
	struct switch_race stop = { 0 }, start = { 0 };
	pthread_t rd, st, sw;

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(m, 0, r), 0);
	vmmem_region_unref(r);
	ck_assert_int_eq(vmmem_dirty_start(m, 0), 0);
	ck_assert_int_eq(pthread_create(&rd, NULL, hold_section, &h), 0);
	while (!__atomic_load_n(&h.inside, __ATOMIC_ACQUIRE))
		sched_yield();
	stop.m = m;
	ck_assert_int_eq(pthread_create(&st, NULL, stop_logging, &stop), 0);
	/* the stop published (logging off), its grace period pending */
	for (int i = 0; i < 10000 && vmmem_dirty_test(m, 0) != -ENOENT; i++)
		usleep(1000);
	ck_assert_int_eq(vmmem_dirty_test(m, 0), -ENOENT);
	start = (struct switch_race){ .m = m, .which = 0, .inside = 1 };
	ck_assert_int_eq(pthread_create(&sw, NULL, switcher, &start), 0);
	usleep(50000);
	ck_assert_msg(vmmem_dirty_test(m, 0) == -ENOENT,
		      "a start published while a stop waited");
	ck_assert_int_eq(__atomic_load_n(&stop.switch_done, __ATOMIC_ACQUIRE), 0);
	__atomic_store_n(&h.release, 1, __ATOMIC_RELEASE);
	pthread_join(rd, NULL);
	pthread_join(st, NULL);
	pthread_join(sw, NULL);
	ck_assert_int_eq(stop.switch_ret, 0);
	ck_assert_int_eq(start.switch_ret, 0);
	ck_assert_int_eq(vmmem_dirty_test(m, 0), 0);
	ck_assert_int_eq(vmmem_dirty_stop(m), 0);
	vmmem_free(m);
}
END_TEST

/* ------------------------- the backlog of tables waiting for reclaim */

#define SWAP_SIZE 0x10000

/* Two tables of two regions, each region on a memfd of its own: every
 * replacement retires a table holding two regions (two descriptors and two
 * mappings) until its grace period. */
struct swapper {
	struct vmmem *m;
	struct vmmem_vhost_region vr[2];
	int fds[2][2];
	int fds0;
};

static void swapper_init(struct swapper *sw)
{
	*sw = (struct swapper){
		.vr = { { 0, SWAP_SIZE, 0x7f0000000000, 0 },
			{ 0x100000, SWAP_SIZE, 0x7f0000100000, 0 } } };
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++)
			sw->fds[i][j] = test_filled_memfd(SWAP_SIZE, 0x10 * i + j);
	ck_assert_int_eq(vmmem_new(&sw->m, 0), 0);
	sw->fds0 = test_count_fds();
}

static int swap(struct swapper *sw, int i)
{
	return vmmem_vhost_set_mem_table(sw->m, sw->vr, sw->fds[i % 2], 2, NULL);
}

static void swapper_fini(struct swapper *sw)
{
	vmmem_free(sw->m);
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++)
			close(sw->fds[i][j]);
}

/* Descriptors the retired tables may hold at most: the bound, plus the
 * table admitted last, plus the two of the current table. */
#define FDS_BOUND (RECLAIM_HELD_MAX + 2 * 2)

/* A front-end spamming SET_MEM_TABLE while the back-end is inside its own
 * section (no table can be freed meanwhile): past the bound the call
 * returns -EAGAIN, and the descriptors held stay bounded. */
START_TEST(replacements_inside_section_bounded)
{
	struct swapper sw;
	int i, ret = 0, most = 0;

	swapper_init(&sw);
	urcu_bp_read_lock();
	for (i = 0; i < 4 * RECLAIM_HELD_MAX && !ret; i++) {
		int n;

		ret = swap(&sw, i);
		n = test_count_fds() - sw.fds0;
		most = n > most ? n : most;
	}
	urcu_bp_read_unlock();
	ck_assert_msg(ret == -EAGAIN, "replacement %d: %d, not -EAGAIN", i, ret);
	ck_assert_msg(most <= FDS_BOUND, "%d descriptors held (bound %d)",
		      most, FDS_BOUND);
	/* Outside the section, the call waits for the backlog and works. */
	ck_assert_int_eq(swap(&sw, i), 0);
	swapper_fini(&sw);
}
END_TEST

/* Hotplug too: a removal retires its region with the table. */
START_TEST(hotplug_inside_section_bounded)
{
	struct vmmem *m = NULL, *other = NULL;
	struct vmmem_vhost_region vr;
	struct vmmem_range range = { 0, 4096, -1, 0 };
	int i, ret = 0, fd, add_reg, rem_reg, from_ranges, placed;
	struct vmmem_region *r = counted_region(NULL, NULL);

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	urcu_bp_read_lock();
	for (i = 0; i < 4 * RECLAIM_HELD_MAX && !ret; i++) {
		ret = vmmem_add_region(m, 0, r);
		if (!ret)
			ret = vmmem_remove_region(m, 0, 4096, NULL);
	}
	/* Every other call that retires a table, likewise. */
	placed = vmmem_num_regions(m);
	fd = test_filled_memfd(4096, 0);
	vr = (struct vmmem_vhost_region){ 0x100000, 4096, 0x7f0000000000, 0 };
	add_reg = vmmem_vhost_add_mem_reg(m, &vr, fd, NULL);
	rem_reg = vmmem_vhost_rem_mem_reg(m, &vr);
	from_ranges = vmmem_new_from_ranges(&other, &range, 1, NULL);
	urcu_bp_read_unlock();
	close(fd);
	ck_assert_msg(ret == -EAGAIN, "round %d: %d, not -EAGAIN", i, ret);
	ck_assert_int_le(i, RECLAIM_HELD_MAX);
	ck_assert_int_eq(add_reg, -EAGAIN);
	ck_assert_int_eq(rem_reg, -EAGAIN);
	ck_assert_int_eq(from_ranges, -EAGAIN);
	ck_assert_ptr_null(other);
	ck_assert_int_eq(vmmem_num_regions(m), placed);
	vmmem_region_unref(r);
	vmmem_free(m);
}
END_TEST

/* The same spam while another thread holds a section: the front-end's
 * thread may wait, so it does (until the section ends) instead of piling
 * up tables, and never fails. */
START_TEST(replacements_wait_for_backlog)
{
	struct holder h = { 0 };
	struct swapper sw;
	pthread_t th;
	int most = 0;

	swapper_init(&sw);
	ck_assert_int_eq(pthread_create(&th, NULL, hold_section, &h), 0);
	wait_for(&h.inside);
	for (int i = 0; i < 4 * RECLAIM_HELD_MAX; i++) {
		int n;

		ck_assert_int_eq(swap(&sw, i), 0);
		n = test_count_fds() - sw.fds0;
		most = n > most ? n : most;
	}
	__atomic_store_n(&h.release, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	ck_assert_msg(most <= FDS_BOUND, "%d descriptors held (bound %d)",
		      most, FDS_BOUND);
	swapper_fini(&sw);
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

	tc = tcase_create("waiting_calls");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, free_inside_section);
	tcase_add_test(tc, free_from_release_callback);
	tcase_add_test(tc, iommu_changes_inside_section);
	tcase_add_test(tc, iommu_changes_without_threads_never_abort);
	tcase_add_test(tc, dirty_changes_inside_section);
	tcase_add_test(tc, dirty_start_from_release_callback);
	tcase_add_test(tc, switch_waits_outside_lock);
	tcase_add_test(tc, ring_freed_while_stop_waits);
	tcase_add_test(tc, switches_take_turns);
	suite_add_tcase(s, tc);

	tc = tcase_create("backlog");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, replacements_inside_section_bounded);
	tcase_add_test(tc, hotplug_inside_section_bounded);
	tcase_add_test(tc, replacements_wait_for_backlog);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run(suite());
}
