/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* What vmmem_iommu_invalidate() waits for (lib/iommu/readers.c): every
 * access by IOVA that covers the range and began before it, fd transfers
 * included however long their syscall blocks; and nothing else, neither
 * accesses elsewhere nor fd transfers through other IOVAs.
 *
 * The stress tests write a poison pattern into the memory the range
 * mapped right after the invalidation returns, and then check that no
 * access overwrote it: an access still using the removed entry would. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "testutil.h"

#define RW      (VMMEM_PERM_READ | VMMEM_PERM_WRITE)
#define SPACE   (1 * MIB)
#define RANGE   (64 * KIB)          /* what is invalidated, at IOVA 0 */
#define OTHER   0x100000ull         /* IOVAs of other entries */
#define POISON  0xA5

/* The writers race with the main thread's poison on guest bytes by
 * design: those alone are marked (TEST_GUEST_RACES_OK), so a race on the
 * IOTLB, its tables or the readers' records is still reported. */

enum how { SMALL, BULK, EXACT, FILL };

struct writer {
	struct vmmem_iommu *io;
	enum how how;
	int stop;
	long done, missed;
};

static void *write_loop(void *arg)
{
	struct writer *w = arg;
	static const uint8_t src[RANGE];           /* zeros */
	uint64_t at = 0;

	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		int ret;

		switch (w->how) {
		case SMALL:         /* the fast path: 8 bytes in one entry */
			at = (at + 8) % RANGE;
			ret = vmmem_iommu_write(w->io, at, src, 8) == 8 ? 0 : -1;
			break;
		case BULK:
			ret = vmmem_iommu_write(w->io, 0, src, RANGE) == RANGE ? 0 : -1;
			break;
		case EXACT:
			ret = vmmem_iommu_write_exact(w->io, 0, src, RANGE);
			break;
		default:
			ret = vmmem_iommu_fill(w->io, 0, 0, RANGE);
			break;
		}
		__atomic_fetch_add(ret ? &w->missed : &w->done, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* A busy reader through another entry, which invalidations of the range
 * must not wait for (they would still return: this only adds load). */
static void *read_other_loop(void *arg)
{
	struct writer *w = arg;
	uint64_t v;

	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE))
		if (vmmem_iommu_read(w->io, OTHER + 64, &v, 8) == 8)
			__atomic_fetch_add(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void wait_past(long *counter, long seen)
{
	while (__atomic_load_n(counter, __ATOMIC_ACQUIRE) <= seen)
		sched_yield();
}

/* Rounds of: map the range, let every writer write through it, invalidate
 * it, poison its memory, let every writer miss, check the poison. */
static void poison_after_invalidate(bool all)
{
	static const uint64_t gpa[] = { 0 }, size[] = { SPACE };
	struct vmmem *m = test_space(1, gpa, size);
	struct vmmem_iommu *io = NULL;
	uint8_t *host = test_host_of_gpa(m, 0);
	struct writer w[5];
	pthread_t th[5];
	int rounds = test_under_valgrind() ? 2 : 20;
	long stale = 0;

	ck_assert_int_eq(vmmem_iommu_new(&io, m, NULL), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, OTHER, 4096, SPACE - 4096, RW), 0);
	TEST_GUEST_RACES_OK(host, SPACE, "guest memory");
	for (int i = 0; i < 5; i++) {
		w[i] = (struct writer){ .io = io, .how = (enum how)i };
		ck_assert_int_eq(pthread_create(&th[i], NULL,
						i < 4 ? write_loop : read_other_loop,
						&w[i]), 0);
	}
	for (int round = 0; round < rounds && !stale; round++) {
		long seen[4];

		ck_assert_int_eq(vmmem_iommu_update(io, 0, RANGE, 0, RW), 0);
		for (int i = 0; i < 4; i++)
			wait_past(&w[i].done, __atomic_load_n(&w[i].done,
							      __ATOMIC_ACQUIRE));
		if (all)
			ck_assert_int_eq(vmmem_iommu_invalidate_all(io), 0);
		else
			ck_assert_int_eq(vmmem_iommu_invalidate(io, 0, RANGE), 0);
		memset(host, POISON, RANGE);             /* the guest reuses it */
		for (int i = 0; i < 4; i++)
			seen[i] = __atomic_load_n(&w[i].missed, __ATOMIC_ACQUIRE);
		for (int i = 0; i < 4; i++)
			wait_past(&w[i].missed, seen[i]);
		for (size_t i = 0; i < RANGE; i += 8)
			stale += host[i] != POISON;
		if (all)
			ck_assert_int_eq(vmmem_iommu_update(io, OTHER, 4096,
							    SPACE - 4096, RW), 0);
	}
	for (int i = 0; i < 5; i++) {
		__atomic_store_n(&w[i].stop, 1, __ATOMIC_RELEASE);
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	}
	ck_assert_msg(stale == 0, "%ld words written after the invalidation "
		      "returned", stale);
	vmmem_iommu_free(io);
	vmmem_free(m);
}

START_TEST(range_waits_for_accesses)
{
	poison_after_invalidate(false);
}
END_TEST

START_TEST(all_waits_for_accesses)
{
	poison_after_invalidate(true);
}
END_TEST

/* ------------------------------------------------ fd transfers by IOVA */

struct transfer {
	struct vmmem_iommu *io;
	uint64_t iova;
	int fd;
	pid_t tid;
	ssize_t ret;
};

static void *read_fd_main(void *arg)
{
	struct transfer *t = arg;

	__atomic_store_n(&t->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	t->ret = vmmem_iommu_read_fd(t->io, t->iova, t->fd, 4096);
	return NULL;
}

struct invalidation {
	struct vmmem_iommu *io;
	int returned;
};

static void *invalidate_main(void *arg)
{
	struct invalidation *inv = arg;

	ck_assert_int_eq(vmmem_iommu_invalidate(inv->io, 0, RANGE), 0);
	__atomic_store_n(&inv->returned, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Waits (at most 5 s) until the transfer sleeps: in read(2) on its empty
 * pipe, the one place it can. */
static void wait_blocked(struct transfer *t)
{
	char path[64], stat[256];

	for (int i = 0; i < 5000; i++) {
		pid_t tid = __atomic_load_n(&t->tid, __ATOMIC_ACQUIRE);
		FILE *f;

		usleep(1000);
		if (!tid)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
		f = fopen(path, "r");
		ck_assert_ptr_nonnull(f);
		ck_assert_ptr_nonnull(fgets(stat, sizeof(stat), f));
		fclose(f);
		if (strstr(stat, ") S "))
			return;
	}
	ck_abort_msg("the transfer did not block");
}

START_TEST(invalidate_waits_for_blocked_fd_transfer)
{
	static const uint64_t gpa[] = { 0 }, size[] = { SPACE };
	struct vmmem *m = test_space(1, gpa, size);
	struct vmmem_iommu *io = NULL;
	uint8_t *host = test_host_of_gpa(m, 0);
	uint8_t data[4096];
	int p[2];
	struct transfer t;
	struct invalidation inv;
	pthread_t tt, ti;

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(vmmem_iommu_new(&io, m, NULL), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, 0, RANGE, 0, RW), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, OTHER, RANGE, RANGE, RW), 0);
	t = (struct transfer){ .io = io, .iova = 4096, .fd = p[0] };
	ck_assert_int_eq(pthread_create(&tt, NULL, read_fd_main, &t), 0);
	wait_blocked(&t);

	/* Other IOVAs, even next to it: no wait (a wait would hang here). */
	ck_assert_int_eq(vmmem_iommu_invalidate(io, OTHER, RANGE), 0);
	ck_assert_int_eq(vmmem_iommu_invalidate(io, 0, 4096), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, OTHER, RANGE, RANGE, RW), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, 0, 4096, 0, RW), 0);

	/* Its own IOVAs: the invalidation waits while the pipe is empty. */
	inv = (struct invalidation){ .io = io };
	ck_assert_int_eq(pthread_create(&ti, NULL, invalidate_main, &inv), 0);
	usleep(200 * 1000);
	ck_assert_msg(!__atomic_load_n(&inv.returned, __ATOMIC_ACQUIRE),
		      "the invalidation returned while an fd transfer through "
		      "the range was still blocked in read(2)");
	memset(data, 0x5A, sizeof(data));
	ck_assert_int_eq(write(p[1], data, sizeof(data)), (ssize_t)sizeof(data));
	ck_assert_int_eq(pthread_join(ti, NULL), 0);
	/* Returned: the data had landed, and nothing lands any more. */
	ck_assert_msg(test_all_bytes(host + 4096, 0x5A, sizeof(data)),
		      "the transfer had not landed when the invalidation returned");
	ck_assert_int_eq(pthread_join(tt, NULL), 0);
	ck_assert_int_eq(t.ret, (ssize_t)sizeof(data));
	close(p[0]);
	close(p[1]);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("iommu-invalidate");
	TCase *tc = tcase_create("waits");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, range_waits_for_accesses);
	tcase_add_test(tc, all_waits_for_accesses);
	tcase_add_test(tc, invalidate_waits_for_blocked_fd_transfer);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run(suite());
}
