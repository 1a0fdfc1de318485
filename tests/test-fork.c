/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* fork() while other threads access guest memory, map, and hotplug: the
 * child frees a space after hotplug, changes an IOTLB and exits, each
 * within a bound.  Two kinds of caller: one that leaves liburcu's fork
 * steps to the library, one that follows liburcu's call_rcu steps itself. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <urcu/urcu-bp.h>

#include "testutil.h"

#define GUEST (64 * KIB)

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif

static struct vmmem *shared_mem;
static int stop;

/* Each thread on pages of its own: guest memory is not what is tested,
 * and TSan would report two threads writing the same bytes. */
static void *access_thread(void *arg)
{
	uint64_t base = (uintptr_t)arg * 4 * 4096;
	uint8_t buf[64] = { 0 };

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint64_t len = sizeof(buf);
		void *host;

		vmmem_write_exact(shared_mem, base + 128, buf, sizeof(buf));
		vmmem_read_exact(shared_mem, base + 4096, buf, sizeof(buf));
		if (!vmmem_map(shared_mem, base + 8192, &len, VMMEM_MAP_WRITE, &host))
			vmmem_unmap(shared_mem, host, len);
	}
	return NULL;
}

static void *hotplug_thread(void *arg)
{
	struct vmmem_region *r = test_region(4096);

	(void)arg;
	/* Paced: a hotplug loop at full speed retires tables faster than
	 * TSan's reclaim frees them, and a fork waits for the batch in
	 * hand. */
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		vmmem_add_region(shared_mem, GUEST, r);
		vmmem_remove_region(shared_mem, GUEST, 4096, NULL);
		usleep(100);
	}
	vmmem_region_unref(r);
	return NULL;
}

/* Where a child got to, for the message of a child that hung. */
static volatile int *child_step;

static void child_work(void)
{
	struct vmmem *m = NULL;
	struct vmmem_iommu *iommu = NULL;
	struct vmmem_region *r;

#if defined(__SANITIZE_THREAD__)
	/* TSan does not follow threads started after a multi-threaded fork
	 * (a new reclaim thread reusing a dead one's id ends the child with
	 * "dup thread"): under TSan only the parent's side is checked, the
	 * fork handlers against the running threads. */
	_exit(0);
#endif
	*child_step = 1;
	if (vmmem_new(&m, 0) || !(r = test_region(4096)))
		_exit(10);
	if (vmmem_add_region(m, 0, r) || vmmem_remove_region(m, 0, 4096, NULL))
		_exit(11);
	vmmem_region_unref(r);
	*child_step = 2;
	if (vmmem_iommu_new(&iommu, shared_mem, NULL) ||
	    vmmem_iommu_update(iommu, 0, 4096, 0, VMMEM_PERM_READ) ||
	    vmmem_iommu_invalidate(iommu, 0, 4096))
		_exit(12);
	vmmem_iommu_free(iommu);
	*child_step = 3;
	vmmem_free(m);        /* waits for the removed region's release */
	*child_step = 4;
	vmmem_free(shared_mem);
	*child_step = 5;
	exit(0);              /* the library's destructor waits too */
}

static const char *const steps[] = {
	"before starting", "in vmmem_new or hotplug", "in an IOTLB change",
	"in vmmem_free after hotplug", "in vmmem_free of the inherited space",
	"in exit",
};

/* Waits for the child, at most 20 s; kills it and fails if it is not
 * done.  (Not run under valgrind: tests/robust/Makefile.inc says why.) */
static void watch_child(pid_t pid, int round)
{
	int status = 0, bound = 20000;

	for (int ms = 0; ms < bound; ms++) {
		pid_t got = waitpid(pid, &status, WNOHANG);

		ck_assert_int_ne(got, -1);
		if (got == pid) {
			ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
				      "round %d: child status %#x", round, status);
			return;
		}
		usleep(1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	ck_abort_msg("round %d: the child hung %s", round, steps[*child_step]);
}

static void fork_under_load(bool liburcu_steps)
{
	pthread_t th[3];
	int rounds = 30;

	child_step = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne((void *)child_step, MAP_FAILED);
	shared_mem = test_space(1, (uint64_t[]){ 0 }, (uint64_t[]){ GUEST });
	__atomic_store_n(&stop, 0, __ATOMIC_RELAXED);
	ck_assert_int_eq(pthread_create(&th[0], NULL, access_thread, (void *)0), 0);
	ck_assert_int_eq(pthread_create(&th[1], NULL, access_thread, (void *)1), 0);
	ck_assert_int_eq(pthread_create(&th[2], NULL, hotplug_thread, NULL), 0);
	for (int i = 0; i < rounds; i++) {
		pid_t pid;

		*child_step = 0;
		usleep(1000 + (unsigned)i * 300);
		if (liburcu_steps)
			urcu_bp_call_rcu_before_fork();
		pid = fork();
		ck_assert_int_ne(pid, -1);
		if (!pid) {
			if (liburcu_steps)
				urcu_bp_call_rcu_after_fork_child();
			child_work();
		}
		if (liburcu_steps)
			urcu_bp_call_rcu_after_fork_parent();
		watch_child(pid, i);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	vmmem_free(shared_mem);
	munmap((void *)child_step, 4096);
}

START_TEST(fork_leaves_urcu_to_the_library)
{
	fork_under_load(false);
}
END_TEST

/* liburcu's README: a program using call_rcu calls these around a fork
 * without exec; with libvmmem loaded it may still do so. */
START_TEST(fork_with_callers_call_rcu_steps)
{
	fork_under_load(true);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fork");
	TCase *tc = tcase_create("fork");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, fork_leaves_urcu_to_the_library);
	tcase_add_test(tc, fork_with_callers_call_rcu_steps);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
#ifdef TEST_ASAN
	/* gcc 12's AddressSanitizer allocator is not fork-safe: a child
	 * forked while another thread is inside ASan's malloc can wait for
	 * ever in its own first malloc (seen once in 30 rounds: "the child
	 * hung in vmmem_free after hotplug"), and LeakSanitizer's exit check
	 * in such a child fails on the threads fork() did not copy.  This
	 * program is about fork, so it runs in the plain and TSan builds. */
	puts("test-fork: skipped under AddressSanitizer (its allocator is not fork-safe)");
	(void)suite;
	return 77;
#else
	return test_run(suite());
#endif
}
