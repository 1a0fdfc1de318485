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
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run(suite());
}
