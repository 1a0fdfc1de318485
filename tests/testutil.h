/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Helpers shared by the Check test programs.  Every test program includes
 * this header, so everything here is static inline and may go unused. */
#ifndef VMMEM_TESTUTIL_H
#define VMMEM_TESTUTIL_H

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#include "libvmmem.h"

/* Whether a memory tool's own allocator runs in this process: valgrind
 * (detected at run time: RUNNING_ON_VALGRIND where <valgrind/valgrind.h>
 * was there at build time, else VMMEM_TEST_VALGRIND=1, which make
 * check-valgrind sets), or ASan or TSan (compiled in). */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define TEST_HAVE_VALGRIND_H 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TEST_SANITIZER_ALLOCATOR 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TEST_SANITIZER_ALLOCATOR 1
#endif
#endif

/* Guest memory that a test races on by design (a guest and a device, or
 * a migration thread, do): TEST_GUEST_RACES_OK(p, n, what) marks those
 * bytes, and nothing else, as a benign race for ThreadSanitizer, so a race
 * on the library's own tables is still reported. */
#if defined(__SANITIZE_THREAD__)
#define TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TEST_TSAN 1
#endif
#endif
#ifdef TEST_TSAN
void AnnotateBenignRaceSized(const char *file, int line,
			     const volatile void *mem, size_t size,
			     const char *desc);
#define TEST_GUEST_RACES_OK(p, n, what)                                       \
	AnnotateBenignRaceSized(__FILE__, __LINE__, (p), (n), (what))
#else
#define TEST_GUEST_RACES_OK(p, n, what) ((void)(p), (void)(n), (void)(what))
#endif

#define KIB (1ull << 10)
#define MIB (1ull << 20)

/* ------------------------------------------------------ regions, spaces */

/* An anonymous private region of size bytes. */
static inline struct vmmem_region *test_region(uint64_t size)
{
	struct vmmem_region *r = NULL;

	ck_assert_int_eq(vmmem_region_new(&r, size, NULL), 0);
	return r;
}

/* A struct vmmem holding one anonymous region per (gpa, size) pair. */
static inline struct vmmem *test_space(size_t n, const uint64_t *gpa,
				       const uint64_t *size)
{
	struct vmmem *m = NULL;

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	for (size_t i = 0; i < n; i++) {
		struct vmmem_region *r = test_region(size[i]);

		ck_assert_int_eq(vmmem_add_region(m, gpa[i], r), 0);
		vmmem_region_unref(r);
	}
	return m;
}

/* Region options of the current size with the given flags, all else 0. */
static inline struct vmmem_region_opts test_region_opts(unsigned int flags)
{
	struct vmmem_region_opts o;

	memset(&o, 0, sizeof(o));
	o.sz = sizeof(o);
	o.flags = flags;
	return o;
}

/* The host address of a region; asserts it has one. */
static inline void *test_region_host(const struct vmmem_region *r)
{
	void *h = NULL;

	ck_assert_int_eq(vmmem_region_host_address(r, &h), 0);
	ck_assert_ptr_nonnull(h);
	return h;
}

/* Host pointer of gpa, through the region API (vmmem_find_region() and
 * vmmem_region_host_address(), not vmmem_host_address()). */
static inline uint8_t *test_host_of_gpa(struct vmmem *m, uint64_t gpa)
{
	struct vmmem_region *r = NULL;
	uint64_t off = 0;
	void *base = NULL;

	ck_assert_int_eq(vmmem_find_region(m, gpa, &r, &off), 0);
	ck_assert_int_eq(vmmem_region_host_address(r, &base), 0);
	vmmem_region_unref(r);
	return (uint8_t *)base + off;
}

/* What the release callback of a raw region was called with. */
struct test_release_log {
	int calls;                   /* atomic: release may run on any thread */
	void *addr;
	uint64_t size;
	void *opaque;
};

/* The release of a removed region runs after a grace period, possibly on
 * the library's reclaim thread: wait (at most 5 s) for `want` calls. */
static inline int test_wait_release(struct test_release_log *l, int want)
{
	for (int i = 0; i < 5000; i++) {
		int calls = __atomic_load_n(&l->calls, __ATOMIC_ACQUIRE);

		if (calls >= want)
			return calls;
		usleep(1000);
	}
	return __atomic_load_n(&l->calls, __ATOMIC_ACQUIRE);
}

/* Release callback for vmmem_region_new_raw(); opaque is a
 * struct test_release_log. */
static inline void test_release_cb(void *addr, uint64_t size, void *opaque)
{
	struct test_release_log *l = opaque;

	l->addr = addr;
	l->size = size;
	l->opaque = opaque;
	__atomic_add_fetch(&l->calls, 1, __ATOMIC_RELEASE);
}

/* A raw region over fresh anonymous memory (returned in *mem; the caller
 * unmaps it), logging its release in l. */
static inline struct vmmem_region *test_raw_region(uint64_t size,
						   struct test_release_log *l,
						   void **mem)
{
	struct vmmem_region *r = NULL;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_int_eq(vmmem_region_new_raw(&r, p, size, test_release_cb, l,
					      0), 0);
	*mem = p;
	return r;
}

/* ------------------------------------------------------------ contents */

/* Deterministic, non-repeating bytes; different seeds differ at every
 * byte. */
static inline void test_pattern(uint8_t *buf, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 151u + i * 11u + (i >> 8) * 3u + 1u);
}

/* Whether all len bytes at p are c. */
static inline int test_all_bytes(const void *p, int c, size_t len)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i] != (unsigned char)c)
			return 0;
	return 1;
}

/* Checks the guest bytes [gpa, gpa + len) read with vmmem_read_exact()
 * equal want, byte by byte. */
static inline void test_expect_bytes(struct vmmem *m, uint64_t gpa,
				     const uint8_t *want, size_t len)
{
	static uint8_t got[0x10000];

	ck_assert_uint_le(len, sizeof(got));
	ck_assert_int_eq(vmmem_read_exact(m, gpa, got, len), 0);
	for (size_t i = 0; i < len; i++)
		if (got[i] != want[i])
			ck_abort_msg("guest byte at GPA 0x%llx is 0x%02x, want 0x%02x",
				     (unsigned long long)(gpa + i), got[i], want[i]);
}

/* ----------------------------------------------------------------- files */

/* Sizes fd to size bytes and fills it with byte c. */
static inline void test_fill_fd(int fd, uint64_t size, int c)
{
	char buf[4096];

	ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
	memset(buf, c, sizeof(buf));
	for (uint64_t off = 0; off < size; off += sizeof(buf))
		ck_assert_int_eq(pwrite(fd, buf, sizeof(buf), (off_t)off),
				 (ssize_t)sizeof(buf));
}

/* A memfd of size bytes filled with byte c. */
static inline int test_filled_memfd(uint64_t size, int c)
{
	int fd = memfd_create("vmmem-test", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	test_fill_fd(fd, size, c);
	return fd;
}

/* An empty regular file in /tmp, already unlinked. */
static inline int test_tmpfile(void)
{
	char path[] = "/tmp/vmmem-test-XXXXXX";
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	unlink(path);
	return fd;
}

/* ----------------------------------------------------- process resources */

/* Open file descriptors of this process. */
static inline int test_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Whether this process runs under valgrind, whose scheduler runs one
 * thread at a time: tests that wait for other threads to make progress
 * take fewer rounds there. */
static inline int test_under_valgrind(void)
{
	const char *v = getenv("VMMEM_TEST_VALGRIND");

#ifdef TEST_HAVE_VALGRIND_H
	if (RUNNING_ON_VALGRIND)
		return 1;
#endif
	return v && *v && strcmp(v, "0") != 0;
}

/* Whether the number of mappings of this process says anything about the
 * library: not under valgrind, ASan or TSan, whose allocators map memory of
 * their own on demand (a malloc in libc or in Check can add or split a
 * mapping), so that counts taken before and after an operation differ
 * although the library unmapped all it mapped. */
static inline int test_maps_countable(void)
{
#ifdef TEST_SANITIZER_ALLOCATOR
	return 0;
#else
	return !test_under_valgrind();
#endif
}

/* Permissions ("rw-p", "rw-s", "r--s", ...) of the mapping holding addr. */
static inline void test_maps_perms(const void *addr, char perms[5])
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	uintptr_t a = (uintptr_t)addr;
	int found = 0;

	ck_assert_ptr_nonnull(f);
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char p[5];

		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, p) == 3 &&
		    a >= lo && a < hi) {
			memcpy(perms, p, 5);
			found = 1;
		}
	}
	fclose(f);
	ck_assert_msg(found, "no mapping holds %p", addr);
}

/* Mappings of this process (lines of /proc/self/maps); always 0 where
 * they cannot be counted meaningfully (test_maps_countable()), so that a
 * test's before-and-after comparison holds trivially there.  The plain
 * make check counts them. */
static inline int test_count_maps(void)
{
	static int warmed;
	FILE *f;
	char line[512];
	int n = 0;

	if (!test_maps_countable())
		return 0;
	/* What is set up once per process, whenever it first happens: the
	 * reader registration of liburcu-bp (a first access), and the library's
	 * reclaim thread, which maps its stack when a region table is first
	 * retired and its malloc arena when it first frees one.  Let all of it
	 * happen before anything is counted (a removal makes vmmem_free()
	 * wait for that thread). */
	if (!warmed) {
		struct vmmem *m = NULL;
		struct vmmem_region *r = test_region(64 * KIB);

		warmed = 1;
		ck_assert_int_eq(vmmem_new(&m, 0), 0);
		ck_assert_int_eq(vmmem_add_region(m, 0, r), 0);
		vmmem_region_unref(r);
		ck_assert_int_eq(vmmem_check_range(m, 0, 1), 0);
		ck_assert_int_eq(vmmem_remove_region(m, 0, 64 * KIB, NULL), 0);
		vmmem_free(m);
	}
	f = fopen("/proc/self/maps", "re");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

/* ------------------------------------------------------------------ run */

/* Runs one suite; the exit status is what automake's test driver reads. */
static inline int test_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}


/* ------------------------------------------- tests in a child process */

/* Resource-limit tests run in a child of their own, so the limits and
 * capabilities they drop never reach another test (even with CK_FORK=no).
 * The child cannot use ck_assert: TEST_CHILD_EXPECT prints what failed
 * and makes it exit 1. */
#define TEST_CHILD_EXPECT(cond)                                               \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: in child: %s\n", __FILE__,    \
				__LINE__, #cond);                             \
			return 1;                                             \
		}                                                             \
	} while (0)

/* Ends the child with exit(), whose handlers write the coverage counters
 * of every instrumented module in a --coverage build (the library's too:
 * __gcov_dump() would write this program's alone).  Under ASan with
 * _exit(), so that LeakSanitizer does not scan the parent's heap, of which
 * the child has a copy without the other threads. */
static inline void test_child_exit(int status)
{
#ifdef __SANITIZE_ADDRESS__
	_exit(status);
#else
	exit(status);
#endif
}

static inline void test_run_in_child(int (*fn)(void), const char *what)
{
	struct rlimit nofile, fsize;
	pid_t pid;
	int st;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int ret;

		getrlimit(RLIMIT_NOFILE, &nofile);
		getrlimit(RLIMIT_FSIZE, &fsize);
		ret = fn();
		/* The soft limits back (gcov writes its counters at exit). */
		setrlimit(RLIMIT_NOFILE, &nofile);
		setrlimit(RLIMIT_FSIZE, &fsize);
		test_child_exit(ret);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "%s: child failed (status %#x; its message is above)",
		      what, st);
}

/* The child's mappings, -1 when they cannot be read (no ck_assert). */
static inline int test_child_count_maps(void)
{
	FILE *f;
	char line[512];
	int n = 0;

	/* Not countable under valgrind, ASan or TSan (testutil.h): a
	 * constant then, positive as the callers expect. */
	if (!test_maps_countable())
		return 1;
	f = fopen("/proc/self/maps", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

#endif
