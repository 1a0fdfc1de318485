/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Host memory policy flags of vmmem_region_new(), checked against what the
 * kernel reports for the mapping (/proc/self/smaps, get_mempolicy, ...). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/mempolicy.h>

#include "testutil.h"

#define NR_HUGEPAGES "/proc/sys/vm/nr_hugepages"

static uint64_t ps;

/* ------------------------------------------------------------ helpers */

/* What /proc/self/smaps says about the mapping holding an address. */
struct vma {
	uintptr_t start, end;
	char perms[5];
	unsigned long rss_kb, locked_kb, kernel_page_kb;
	char vmflags[512];
};

static void vma_of(const void *addr, struct vma *v)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	uintptr_t a = (uintptr_t)addr;
	char line[512];
	int in = 0, found = 0;

	ck_assert_ptr_nonnull(f);
	memset(v, 0, sizeof(*v));
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, kb;
		char p[5];

		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, p) == 3) {
			if (found)
				break;
			in = a >= lo && a < hi;
			if (in) {
				found = 1;
				v->start = lo;
				v->end = hi;
				memcpy(v->perms, p, 5);
			}
			continue;
		}
		if (!in)
			continue;
		if (sscanf(line, "Rss: %lu kB", &kb) == 1)
			v->rss_kb = kb;
		else if (sscanf(line, "Locked: %lu kB", &kb) == 1)
			v->locked_kb = kb;
		else if (sscanf(line, "KernelPageSize: %lu kB", &kb) == 1)
			v->kernel_page_kb = kb;
		else if (strncmp(line, "VmFlags:", 8) == 0)
			snprintf(v->vmflags, sizeof(v->vmflags), "%s", line + 8);
	}
	fclose(f);
	ck_assert_msg(found, "no mapping holds %p", addr);
}

/* Whether the two-letter flag is one of the VmFlags words. */
static int has_vmflag(const struct vma *v, const char *flag)
{
	char copy[512], *save = NULL;

	snprintf(copy, sizeof(copy), "%s", v->vmflags);
	for (char *w = strtok_r(copy, " \n", &save); w;
	     w = strtok_r(NULL, " \n", &save))
		if (strcmp(w, flag) == 0)
			return 1;
	return 0;
}

/* Creates a region with the given flags and checks one VmFlags word on it,
 * and its absence on a plain anonymous region. */
static void check_vmflag(unsigned int flags, const char *word)
{
	struct vmmem_region_opts o = test_region_opts(flags);
	struct vmmem_region *r = NULL, *plain = test_region(MIB);
	unsigned int got = 0;
	struct vma v;

	ck_assert_int_eq(vmmem_region_new(&r, MIB, &o), 0);
	ck_assert_int_eq(vmmem_region_flags(r, &got), 0);
	ck_assert_uint_eq(got, flags);
	vma_of(test_region_host(r), &v);
	ck_assert_msg(has_vmflag(&v, word), "flags %#x: no \"%s\" in VmFlags:%s",
		      flags, word, v.vmflags);
	/* The whole region, up to its last byte, has it. */
	vma_of((char *)test_region_host(r) + MIB - 1, &v);
	ck_assert_msg(has_vmflag(&v, word), "tail lacks \"%s\"", word);
	vma_of(test_region_host(plain), &v);
	ck_assert_msg(!has_vmflag(&v, word), "plain region has \"%s\": %s",
		      word, v.vmflags);
	vmmem_region_unref(r);
	vmmem_region_unref(plain);
}

static int all_resident(const void *p, size_t len)
{
	unsigned char vec[1024];
	size_t pages = len / ps;

	ck_assert_uint_le(pages, sizeof(vec));
	ck_assert_int_eq(mincore((void *)p, len, vec), 0);
	for (size_t i = 0; i < pages; i++)
		if (!(vec[i] & 1))
			return 0;
	return 1;
}

static int none_resident(const void *p, size_t len)
{
	unsigned char vec[1024];
	size_t pages = len / ps;

	ck_assert_uint_le(pages, sizeof(vec));
	ck_assert_int_eq(mincore((void *)p, len, vec), 0);
	for (size_t i = 0; i < pages; i++)
		if (vec[i] & 1)
			return 0;
	return 1;
}

/* Forks a child that reads p; returns the signal that killed it (0 if it
 * exited normally). */
static int touch_in_child(const void *p)
{
	pid_t pid = fork();
	int st;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		(void)*(const volatile unsigned char *)p;
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st))
		return WTERMSIG(st);
	ck_assert(WIFEXITED(st));
	return 0;
}

static void common_setup(void)
{
	ps = (uint64_t)sysconf(_SC_PAGESIZE);
}

/* --------------------------------------------------------- madvise */

START_TEST(thp)
{
	check_vmflag(VMMEM_REGION_THP, "hg");
}
END_TEST

START_TEST(dontdump)
{
	check_vmflag(VMMEM_REGION_DONTDUMP, "dd");
}
END_TEST

START_TEST(dontdump_shareable)
{
	check_vmflag(VMMEM_REGION_DONTDUMP | VMMEM_REGION_SHAREABLE, "dd");
}
END_TEST

START_TEST(dontfork)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_DONTFORK);
	struct vmmem_region *r = NULL;
	unsigned char *h;

	check_vmflag(VMMEM_REGION_DONTFORK, "dc");

	/* And the effect: a child has no such mapping. */
	ck_assert_int_eq(vmmem_region_new(&r, 64 * KIB, &o), 0);
	h = test_region_host(r);
	h[0] = 1;
	ck_assert_int_eq(touch_in_child(h), SIGSEGV);
	ck_assert_uint_eq(h[0], 1);
	vmmem_region_unref(r);
}
END_TEST

START_TEST(mergeable)
{
	check_vmflag(VMMEM_REGION_MERGEABLE, "mg");
}
END_TEST

START_TEST(several_at_once)
{
	const unsigned int flags = VMMEM_REGION_THP | VMMEM_REGION_DONTDUMP |
				   VMMEM_REGION_DONTFORK;
	struct vmmem_region_opts o = test_region_opts(flags);
	struct vmmem_region *r = NULL;
	struct vma v;

	ck_assert_int_eq(vmmem_region_new(&r, MIB, &o), 0);
	vma_of(test_region_host(r), &v);
	ck_assert_msg(has_vmflag(&v, "hg") && has_vmflag(&v, "dd") &&
		      has_vmflag(&v, "dc"), "VmFlags:%s", v.vmflags);
	vmmem_region_unref(r);
}
END_TEST

/* ------------------------------------------------ populate and mlock */

START_TEST(populate)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_POPULATE);
	struct vmmem_region *r = NULL, *lazy = NULL;
	const uint64_t size = 2 * MIB;
	struct vma v;
	void *h;

	ck_assert_int_eq(vmmem_region_new(&lazy, size, NULL), 0);
	/* The control, looked at before r exists: with THP "always" (Debian's
	 * kernel) populating r can fault a huge page that spans both. */
	ck_assert(none_resident(test_region_host(lazy), size));
	ck_assert_int_eq(vmmem_region_new(&r, size, &o), 0);
	h = test_region_host(r);
	/* Every page is there before anything touched it. */
	ck_assert(all_resident(h, size));
	vma_of(h, &v);
	if (v.start == (uintptr_t)h && v.end == (uintptr_t)h + size)
		ck_assert_uint_eq(v.rss_kb, size / KIB);
	else    /* merged with a neighbour: at least ours */
		ck_assert_uint_ge(v.rss_kb, size / KIB);
	vmmem_region_unref(r);
	vmmem_region_unref(lazy);
}
END_TEST

START_TEST(populate_shareable)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_POPULATE |
						      VMMEM_REGION_SHAREABLE);
	struct vmmem_region *r = NULL;
	struct stat st;
	void *h;

	ck_assert_int_eq(vmmem_region_new(&r, MIB, &o), 0);
	h = test_region_host(r);
	ck_assert(all_resident(h, MIB));
	/* Written-populated: the memfd has its blocks allocated. */
	ck_assert_int_eq(fstat(vmmem_region_fd(r, NULL), &st), 0);
	ck_assert_int_ge(st.st_blocks, (blkcnt_t)(MIB / 512));
	vmmem_region_unref(r);
}
END_TEST

START_TEST(mlock_flag)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_MLOCK);
	struct vmmem_region *r = NULL;
	struct vma v;
	void *h;

#ifdef __SANITIZE_ADDRESS__
	/* ASan replaces mlock() with a no-op, so the kernel has nothing to
	 * report; the flag is checked in the uninstrumented build. */
	printf("test-policy: SKIP mlock_flag: mlock() is a no-op under ASan\n");
	return;
#endif
	ck_assert_int_eq(vmmem_region_new(&r, MIB, &o), 0);
	h = test_region_host(r);
	vma_of(h, &v);
	ck_assert_msg(has_vmflag(&v, "lo"), "VmFlags:%s", v.vmflags);
	ck_assert_uint_gt(v.locked_kb, 0);
	ck_assert_uint_ge(v.locked_kb, MIB / KIB);
	ck_assert(all_resident(h, MIB));
	vmmem_region_unref(r);
}
END_TEST

/* Resource-limit tests run in a child: see test_run_in_child. */

/* Drops CAP_IPC_LOCK from the effective set, so that RLIMIT_MEMLOCK
 * applies (it does not to a process with the capability, root's). */
static int drop_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, data) < 0)
		return -1;
	data[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &= ~CAP_TO_MASK(CAP_IPC_LOCK);
	return (int)syscall(SYS_capset, &hdr, data);
}

/* Spec: with VMMEM_REGION_MLOCK, -EPERM when the caller may not lock
 * memory (RLIMIT_MEMLOCK 0 and no CAP_IPC_LOCK), -ENOMEM when the region
 * does not fit in RLIMIT_MEMLOCK; either way no mapping and no file
 * descriptor is left behind.  A region within the limit is created. */
static int mlock_limit_child(void)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_MLOCK);
	struct vmmem_region *r = NULL;
	struct rlimit rl;
	int maps, fd = -1;

	TEST_CHILD_EXPECT(vmmem_region_new(&r, 64 * KIB, NULL) == 0);  /* warm-up */
	vmmem_region_unref(r);
	r = NULL;
	maps = test_child_count_maps();
	TEST_CHILD_EXPECT(maps > 0);
	TEST_CHILD_EXPECT(drop_ipc_lock() == 0);
	TEST_CHILD_EXPECT(getrlimit(RLIMIT_MEMLOCK, &rl) == 0);

	rl.rlim_cur = 0;
	TEST_CHILD_EXPECT(setrlimit(RLIMIT_MEMLOCK, &rl) == 0);
	TEST_CHILD_EXPECT(vmmem_region_new(&r, 64 * KIB, &o) == -EPERM);
	TEST_CHILD_EXPECT(test_child_count_maps() == maps);

	TEST_CHILD_EXPECT(rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= 256 * KIB);
	rl.rlim_cur = 256 * KIB;
	TEST_CHILD_EXPECT(setrlimit(RLIMIT_MEMLOCK, &rl) == 0);
	TEST_CHILD_EXPECT(vmmem_region_new(&r, MIB, &o) == -ENOMEM);
	TEST_CHILD_EXPECT(test_child_count_maps() == maps);
	o.flags |= VMMEM_REGION_SHAREABLE;
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);   /* lowest free number */
	TEST_CHILD_EXPECT(fd >= 0);
	close(fd);
	TEST_CHILD_EXPECT(vmmem_region_new(&r, MIB, &o) == -ENOMEM);
	TEST_CHILD_EXPECT(r == NULL);
	TEST_CHILD_EXPECT(test_child_count_maps() == maps);
	/* The memfd was closed: the same number is free again. */
	TEST_CHILD_EXPECT(open("/dev/null", O_RDONLY | O_CLOEXEC) == fd);
	close(fd);

	/* Within the limit. */
	TEST_CHILD_EXPECT(vmmem_region_new(&r, 64 * KIB, &o) == 0);
	vmmem_region_unref(r);
	return 0;
}

START_TEST(mlock_over_limit)
{
#ifdef __SANITIZE_ADDRESS__
	printf("test-policy: SKIP mlock_over_limit: mlock() is a no-op "
	       "under ASan\n");
	return;
#endif
	test_run_in_child(mlock_limit_child, "RLIMIT_MEMLOCK");
}
END_TEST

/* ------------------------------------------------------------- NUMA */

START_TEST(numa_bind_node0)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_NUMA_BIND);
	unsigned long mask[1024 / (8 * sizeof(unsigned long))];
	struct vmmem_region *r = NULL;
	unsigned char *h;
	int mode = -1;

	o.numa_node = 0;
	ck_assert_int_eq(vmmem_region_new(&r, MIB, &o), 0);
	h = test_region_host(r);
	for (int at = 0; at < 2; at++) {
		void *addr = at ? h + MIB - 1 : h;

		memset(mask, 0, sizeof(mask));
		ck_assert_int_eq(syscall(SYS_get_mempolicy, &mode, mask,
					 (unsigned long)(8 * sizeof(mask)),
					 addr, (unsigned long)MPOL_F_ADDR), 0);
		ck_assert_int_eq(mode & 0xff, MPOL_BIND);
		ck_assert_uint_eq(mask[0], 1);
		for (size_t i = 1; i < sizeof(mask) / sizeof(mask[0]); i++)
			ck_assert_uint_eq(mask[i], 0);
	}
	/* A plain region keeps the default policy. */
	vmmem_region_unref(r);
	r = test_region(MIB);
	ck_assert_int_eq(syscall(SYS_get_mempolicy, &mode, mask,
				 (unsigned long)(8 * sizeof(mask)),
				 test_region_host(r),
				 (unsigned long)MPOL_F_ADDR), 0);
	ck_assert_int_eq(mode, MPOL_DEFAULT);
	vmmem_region_unref(r);
}
END_TEST

START_TEST(numa_bind_bad_node)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_NUMA_BIND);
	struct vmmem_region *r = NULL;

	o.numa_node = 1000;
	ck_assert_int_eq(vmmem_region_new(&r, MIB, &o), -EINVAL);
	o.numa_node = -1;
	ck_assert_int_eq(vmmem_region_new(&r, MIB, &o), -EINVAL);
	o.numa_node = 1 << 30;
	ck_assert_int_eq(vmmem_region_new(&r, MIB, &o), -EINVAL);
	/* The memfd and the mapping (guard pages included) made before the
	 * bind failed are not leaked. */
	o = test_region_opts(VMMEM_REGION_NUMA_BIND | VMMEM_REGION_SHAREABLE |
			     VMMEM_REGION_GUARD);
	o.numa_node = 1000;
	ck_assert_int_eq(vmmem_region_new(&r, MIB, &o), -EINVAL);
	{
		int before = dup(0), after, maps = test_count_maps();

		close(before);
		ck_assert_int_eq(vmmem_region_new(&r, MIB, &o), -EINVAL);
		ck_assert_int_eq(test_count_maps(), maps);
		after = dup(0);
		close(after);
		ck_assert_int_eq(after, before);
	}
}
END_TEST

/* ------------------------------------------------------------ guard */

static void check_guarded(const struct vmmem_region *r, uint64_t size,
			  uint64_t guard)
{
	unsigned char *h = test_region_host(r);
	struct vma v;

	h[0] = 1;
	h[size - 1] = 2;
	vma_of(h - 1, &v);
	ck_assert_str_eq(v.perms, "---p");
	ck_assert_uint_le(v.start, (uintptr_t)h - guard);
	vma_of(h + size, &v);
	ck_assert_str_eq(v.perms, "---p");
	ck_assert_uint_ge(v.end, (uintptr_t)h + size + guard);
	vma_of(h, &v);
	ck_assert_msg(v.perms[0] == 'r' && v.perms[1] == 'w', "perms %s",
		      v.perms);
	ck_assert_int_eq(touch_in_child(h - 1), SIGSEGV);
	ck_assert_int_eq(touch_in_child(h + size), SIGSEGV);
	ck_assert_int_eq(touch_in_child(h + size - 1), 0);
	ck_assert_int_eq(touch_in_child(h), 0);
}

START_TEST(guard_anon)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_GUARD);
	struct vmmem_region *r = NULL;

	ck_assert_int_eq(vmmem_region_new(&r, 64 * KIB, &o), 0);
	check_guarded(r, 64 * KIB, ps);
	vmmem_region_unref(r);
}
END_TEST

START_TEST(guard_shareable)
{
	struct vmmem_region_opts o =
		test_region_opts(VMMEM_REGION_GUARD | VMMEM_REGION_SHAREABLE);
	struct vmmem_region *r = NULL;
	unsigned char *h;
	char c = 0;

	ck_assert_int_eq(vmmem_region_new(&r, 64 * KIB, &o), 0);
	check_guarded(r, 64 * KIB, ps);
	/* Still the memfd's memory. */
	h = test_region_host(r);
	h[5] = 'x';
	ck_assert_int_eq(pread(vmmem_region_fd(r, NULL), &c, 1, 5), 1);
	ck_assert_int_eq(c, 'x');
	vmmem_region_unref(r);
}
END_TEST

START_TEST(guard_fd)
{
	struct vmmem_region_opts o =
		test_region_opts(VMMEM_REGION_GUARD | VMMEM_REGION_FD);
	struct vmmem_region *r = NULL;
	int fd = memfd_create("vmmem-test", MFD_CLOEXEC);
	unsigned char *h;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 128 * KIB), 0);
	ck_assert_int_eq(pwrite(fd, "gd", 2, 64 * KIB), 2);
	o.fd = fd;
	o.offset = 64 * KIB;
	ck_assert_int_eq(vmmem_region_new(&r, 64 * KIB, &o), 0);
	h = test_region_host(r);
	ck_assert_mem_eq(h, "gd", 2);
	check_guarded(r, 64 * KIB, ps);
	vmmem_region_unref(r);
	close(fd);
}
END_TEST

/* ------------------------------------------------------------- seal */

START_TEST(seal_shrink_grow)
{
	struct vmmem_region_opts o =
		test_region_opts(VMMEM_REGION_SHAREABLE | VMMEM_REGION_SEAL);
	struct vmmem_region *r = NULL;
	unsigned char *h;
	struct stat st;
	int fd;

	o.seals = F_SEAL_SHRINK | F_SEAL_GROW;
	ck_assert_int_eq(vmmem_region_new(&r, MIB, &o), 0);
	fd = vmmem_region_fd(r, NULL);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fcntl(fd, F_GET_SEALS), F_SEAL_SHRINK | F_SEAL_GROW);
	ck_assert_int_eq(ftruncate(fd, 2 * MIB), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(ftruncate(fd, MIB / 2), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)MIB);
	/* Writing is still allowed. */
	h = test_region_host(r);
	h[MIB - 1] = 7;
	ck_assert_uint_eq(h[MIB - 1], 7);
	/* Not sealed with F_SEAL_SEAL: more seals can be added. */
	ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL), 0);
	vmmem_region_unref(r);
}
END_TEST

START_TEST(seal_flag_no_seals)
{
	struct vmmem_region_opts o =
		test_region_opts(VMMEM_REGION_SHAREABLE | VMMEM_REGION_SEAL);
	struct vmmem_region *r = NULL;
	int fd;

	/* SEAL with seals 0: a sealable memfd, nothing sealed yet. */
	ck_assert_int_eq(vmmem_region_new(&r, 64 * KIB, &o), 0);
	fd = vmmem_region_fd(r, NULL);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fcntl(fd, F_GET_SEALS), 0);
	ck_assert_int_eq(ftruncate(fd, 128 * KIB), 0);
	vmmem_region_unref(r);

	o.seals = F_SEAL_SEAL | F_SEAL_SHRINK;
	ck_assert_int_eq(vmmem_region_new(&r, 64 * KIB, &o), 0);
	fd = vmmem_region_fd(r, NULL);
	ck_assert_int_eq(fcntl(fd, F_GET_SEALS), F_SEAL_SEAL | F_SEAL_SHRINK);
	ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW), -1);
	vmmem_region_unref(r);
}
END_TEST

START_TEST(seal_errors)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_SEAL);
	struct vmmem_region *r = NULL;
	int fd = memfd_create("vmmem-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	/* SEAL needs SHAREABLE. */
	o.seals = F_SEAL_GROW;
	ck_assert_int_eq(vmmem_region_new(&r, 64 * KIB, &o), -EINVAL);
	o.seals = 0;
	ck_assert_int_eq(vmmem_region_new(&r, 64 * KIB, &o), -EINVAL);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 64 * KIB), 0);
	o = test_region_opts(VMMEM_REGION_SEAL | VMMEM_REGION_FD);
	o.fd = fd;
	o.seals = F_SEAL_GROW;
	ck_assert_int_eq(vmmem_region_new(&r, 64 * KIB, &o), -EINVAL);
	close(fd);

	/* Unknown seal bits. */
	o = test_region_opts(VMMEM_REGION_SHAREABLE | VMMEM_REGION_SEAL);
	o.seals = 0x100;
	ck_assert_int_eq(vmmem_region_new(&r, 64 * KIB, &o), -EINVAL);
	o.seals = F_SEAL_GROW | (1u << 30);
	ck_assert_int_eq(vmmem_region_new(&r, 64 * KIB, &o), -EINVAL);
	o.seals = ~0u;
	ck_assert_int_eq(vmmem_region_new(&r, 64 * KIB, &o), -EINVAL);
	/* F_SEAL_WRITE can never hold over the region's own mapping. */
	o.seals = F_SEAL_WRITE;
	ck_assert_int_eq(vmmem_region_new(&r, 64 * KIB, &o), -EINVAL);
	/* A memfd name without a memfd. */
	o = test_region_opts(0);
	o.name = "guest-ram";
	ck_assert_int_eq(vmmem_region_new(&r, 64 * KIB, &o), -EINVAL);
}
END_TEST

/* ---------------------------------------------------------- hugetlb */

static long orig_nr_hugepages = -1;

static long read_long(const char *path)
{
	FILE *f = fopen(path, "re");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static int write_long(const char *path, long v)
{
	FILE *f = fopen(path, "we");
	int ok;

	if (!f)
		return -1;
	ok = fprintf(f, "%ld\n", v) > 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static long meminfo(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "re");
	size_t n = strlen(key);
	char line[128];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, n) == 0 && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* Unchecked fixture (runs in the parent): whatever a test did to the huge
 * page pool is undone even if it failed half-way. */
static void hugetlb_setup(void)
{
	common_setup();
	orig_nr_hugepages = read_long(NR_HUGEPAGES);
}

static void hugetlb_teardown(void)
{
	if (orig_nr_hugepages >= 0 &&
	    read_long(NR_HUGEPAGES) != orig_nr_hugepages)
		write_long(NR_HUGEPAGES, orig_nr_hugepages);
}

/* Makes sure `want` default-size huge pages are free, growing the pool if
 * needed.  Returns 0, or -1 with a reason printed (the caller skips). */
static int want_hugepages(long want)
{
	long free_pages = meminfo("HugePages_Free");
	long total = read_long(NR_HUGEPAGES);

	if (free_pages >= want)
		return 0;
	if (total < 0 || write_long(NR_HUGEPAGES, total + want) < 0) {
		printf("test-policy: SKIP hugetlb: cannot grow %s: %s\n",
		       NR_HUGEPAGES, strerror(errno));
		fflush(stdout);
		return -1;
	}
	free_pages = meminfo("HugePages_Free");
	if (free_pages < want) {
		printf("test-policy: SKIP hugetlb: asked for %ld huge pages, "
		       "%ld free\n", want, free_pages);
		fflush(stdout);
		return -1;
	}
	return 0;
}

START_TEST(hugetlb_validation)
{
	struct vmmem_region_opts o;
	struct vmmem_region *r = NULL;

	/* THP with HUGETLB, HUGETLB with FD. */
	o = test_region_opts(VMMEM_REGION_HUGETLB | VMMEM_REGION_THP);
	ck_assert_int_eq(vmmem_region_new(&r, 2 * MIB, &o), -EINVAL);
	o = test_region_opts(VMMEM_REGION_HUGETLB | VMMEM_REGION_FD);
	o.fd = memfd_create("vmmem-test", MFD_CLOEXEC);
	ck_assert_int_ge(o.fd, 0);
	ck_assert_int_eq(ftruncate(o.fd, 2 * MIB), 0);
	ck_assert_int_eq(vmmem_region_new(&r, 2 * MIB, &o), -EINVAL);
	close(o.fd);
	/* Huge page sizes that are not a power of two >= 64 KiB. */
	o = test_region_opts(VMMEM_REGION_HUGETLB);
	o.hugepage_size = 3 * MIB;
	ck_assert_int_eq(vmmem_region_new(&r, 6 * MIB, &o), -EINVAL);
	o.hugepage_size = 4096;
	ck_assert_int_eq(vmmem_region_new(&r, 64 * KIB, &o), -EINVAL);
	o.hugepage_size = 32 * KIB;
	ck_assert_int_eq(vmmem_region_new(&r, 64 * KIB, &o), -EINVAL);
	/* A power of two no kernel supports: 2 TiB. */
	o.hugepage_size = 1ull << 41;
	ck_assert_int_eq(vmmem_region_new(&r, 1ull << 41, &o), -EINVAL);
	ck_assert_ptr_null(r);
	/* Size not a multiple of the huge page size. */
	o.hugepage_size = 2 * MIB;
	ck_assert_int_eq(vmmem_region_new(&r, 3 * MIB, &o), -EINVAL);
	ck_assert_int_eq(vmmem_region_new(&r, MIB, &o), -EINVAL);
	o.hugepage_size = 0;    /* default: 2 MiB on x86-64 */
	if (meminfo("Hugepagesize") == 2048)
		ck_assert_int_eq(vmmem_region_new(&r, 2 * MIB + 4096, &o),
				 -EINVAL);
}
END_TEST

START_TEST(hugetlb_unavailable)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_HUGETLB);
	struct vmmem_region *r = NULL;
	int anon, memfd;

	if (meminfo("HugePages_Free") != 0 ||
	    read_long("/proc/sys/vm/nr_overcommit_hugepages") != 0) {
		printf("test-policy: SKIP hugetlb_unavailable: this host has "
		       "huge pages to give\n");
		fflush(stdout);
		return;
	}
	/* No huge page to be had: creation reports the kernel's error
	 * instead of handing out memory that raises SIGBUS when touched. */
	anon = vmmem_region_new(&r, 2 * MIB, &o);
	if (anon == 0)
		vmmem_region_unref(r);
	o.flags |= VMMEM_REGION_SHAREABLE;
	memfd = vmmem_region_new(&r, 2 * MIB, &o);
	if (memfd == 0)
		vmmem_region_unref(r);
	ck_assert_msg(memfd < 0, "memfd hugetlb region without huge pages: %d",
		      memfd);
	ck_assert_msg(anon < 0, "anonymous hugetlb region without huge pages: "
		      "%d", anon);
}
END_TEST

/* An fd region on a hugetlbfs file (here a hugetlb memfd) at an offset
 * that is a multiple of the system page size but not of the huge page size:
 * mmap(2) refuses it with EINVAL, and the library before it, leaving no
 * descriptor open.  Needs no huge page. */
START_TEST(hugetlb_fd_offset)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_FD);
	struct vmmem_region *r = NULL;
	long hp_kb = meminfo("Hugepagesize");
	uint64_t hp;
	int fd, fds;

	if (hp_kb <= 0) {
		printf("test-policy: SKIP hugetlb_fd_offset: no Hugepagesize in "
		       "/proc/meminfo\n");
		fflush(stdout);
		return;
	}
	hp = (uint64_t)hp_kb * KIB;
	fd = memfd_create("vmmem-test", MFD_CLOEXEC | MFD_HUGETLB);
	if (fd < 0) {
		printf("test-policy: SKIP hugetlb_fd_offset: no hugetlb memfd: "
		       "%s\n", strerror(errno));
		fflush(stdout);
		return;
	}
	ck_assert_int_eq(ftruncate(fd, (off_t)(2 * hp)), 0);
	fds = test_count_fds();
	o.fd = fd;
	o.offset = ps;
	ck_assert_int_eq(vmmem_region_new(&r, hp, &o), -EINVAL);
	o.offset = hp - ps;
	ck_assert_int_eq(vmmem_region_new(&r, hp, &o), -EINVAL);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(test_count_fds(), fds);
	close(fd);
}
END_TEST

START_TEST(hugetlb_regions)
{
	struct vmmem_region_opts o;
	struct vmmem_region *a = NULL, *m = NULL, *g = NULL;
	int ra, rm, rg;
	long hp_kb = meminfo("Hugepagesize");
	uint64_t hp;
	struct vma v;
	unsigned char *h;
	unsigned int flags = 0;

	if (hp_kb <= 0) {
		printf("test-policy: SKIP hugetlb_regions: no Hugepagesize in "
		       "/proc/meminfo\n");
		fflush(stdout);
		return;
	}
	hp = (uint64_t)hp_kb * KIB;
	if (hp > 32 * MIB) {
		printf("test-policy: SKIP hugetlb_regions: huge pages of "
		       "%ld kB are too big for this test\n", hp_kb);
		fflush(stdout);
		return;
	}
	if (want_hugepages(4) < 0)
		return;

	o = test_region_opts(VMMEM_REGION_HUGETLB);
	ra = vmmem_region_new(&a, hp, &o);
	o = test_region_opts(VMMEM_REGION_HUGETLB | VMMEM_REGION_SHAREABLE);
	rm = vmmem_region_new(&m, hp, &o);
	o = test_region_opts(VMMEM_REGION_HUGETLB | VMMEM_REGION_GUARD);
	o.hugepage_size = hp;
	rg = vmmem_region_new(&g, hp, &o);
	ck_assert_int_eq(ra, 0);
	ck_assert_int_eq(rm, 0);
	ck_assert_int_eq(rg, 0);

	/* Anonymous hugetlb. */
	h = test_region_host(a);
	ck_assert_uint_eq((uintptr_t)h % hp, 0);
	vma_of(h, &v);
	ck_assert_msg(has_vmflag(&v, "ht"), "VmFlags:%s", v.vmflags);
	ck_assert_uint_eq(v.kernel_page_kb, (unsigned long)hp_kb);
	ck_assert_int_eq(vmmem_region_flags(a, &flags), 0);
	ck_assert_uint_eq(flags, VMMEM_REGION_HUGETLB);
	h[0] = 0x12;
	h[hp - 1] = 0x34;
	ck_assert_uint_eq(h[0], 0x12);
	ck_assert_uint_eq(h[hp - 1], 0x34);
	/* Discard works in huge pages. */
	ck_assert_int_eq(vmmem_region_discard(a, 0, ps), -EINVAL);
	ck_assert_int_eq(vmmem_region_discard(a, ps, hp - ps), -EINVAL);
	ck_assert_uint_eq(h[0], 0x12);
	ck_assert_int_eq(vmmem_region_discard(a, 0, hp), 0);
	ck_assert_uint_eq(h[0], 0);
	ck_assert_uint_eq(h[hp - 1], 0);

	/* memfd hugetlb: shared through the fd. */
	h = test_region_host(m);
	vma_of(h, &v);
	ck_assert_msg(has_vmflag(&v, "ht"), "VmFlags:%s", v.vmflags);
	ck_assert_int_ge(vmmem_region_fd(m, NULL), 0);
	h[10] = 'h';
	{
		char c = 0;

		ck_assert_int_eq(pread(vmmem_region_fd(m, NULL), &c, 1, 10), 1);
		ck_assert_int_eq(c, 'h');
	}

	/* The hugetlb memfd handed back in as an fd (a hugetlbfs file): the
	 * region takes the huge page size from the file system. */
	{
		struct vmmem_region *f = NULL;

		o = test_region_opts(VMMEM_REGION_FD);
		o.fd = vmmem_region_fd(m, NULL);
		ck_assert_int_eq(vmmem_region_new(&f, hp / 2, &o), -EINVAL);
		ck_assert_int_eq(vmmem_region_new(&f, hp, &o), 0);
		ck_assert_uint_eq(((unsigned char *)test_region_host(f))[10],
				  'h');
		ck_assert_int_eq(vmmem_region_discard(f, 0, ps), -EINVAL);
		ck_assert_int_eq(vmmem_region_discard(f, 0, hp), 0);
		ck_assert_uint_eq(((unsigned char *)test_region_host(f))[10],
				  0);
		vmmem_region_unref(f);
	}

	/* Guard pages around a hugetlb region. */
	h = test_region_host(g);
	vma_of(h, &v);
	ck_assert_msg(has_vmflag(&v, "ht"), "VmFlags:%s", v.vmflags);
	check_guarded(g, hp, hp);

	vmmem_region_unref(a);
	vmmem_region_unref(m);
	vmmem_region_unref(g);
	if (orig_nr_hugepages >= 0)
		write_long(NR_HUGEPAGES, orig_nr_hugepages);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc;

	tc = tcase_create("madvise");
	tcase_add_checked_fixture(tc, common_setup, NULL);
	tcase_add_test(tc, thp);
	tcase_add_test(tc, dontdump);
	tcase_add_test(tc, dontdump_shareable);
	tcase_add_test(tc, dontfork);
	tcase_add_test(tc, mergeable);
	tcase_add_test(tc, several_at_once);
	suite_add_tcase(s, tc);

	tc = tcase_create("populate-mlock");
	tcase_add_checked_fixture(tc, common_setup, NULL);
	tcase_add_test(tc, populate);
	tcase_add_test(tc, populate_shareable);
	tcase_add_test(tc, mlock_flag);
	tcase_add_test(tc, mlock_over_limit);
	suite_add_tcase(s, tc);

	tc = tcase_create("numa");
	tcase_add_checked_fixture(tc, common_setup, NULL);
	tcase_add_test(tc, numa_bind_node0);
	tcase_add_test(tc, numa_bind_bad_node);
	suite_add_tcase(s, tc);

	tc = tcase_create("guard");
	tcase_add_checked_fixture(tc, common_setup, NULL);
	tcase_add_test(tc, guard_anon);
	tcase_add_test(tc, guard_shareable);
	tcase_add_test(tc, guard_fd);
	suite_add_tcase(s, tc);

	tc = tcase_create("seal");
	tcase_add_checked_fixture(tc, common_setup, NULL);
	tcase_add_test(tc, seal_shrink_grow);
	tcase_add_test(tc, seal_flag_no_seals);
	tcase_add_test(tc, seal_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("hugetlb");
	tcase_add_unchecked_fixture(tc, hugetlb_setup, hugetlb_teardown);
	tcase_add_test(tc, hugetlb_validation);
	tcase_add_test(tc, hugetlb_unavailable);
	tcase_add_test(tc, hugetlb_fd_offset);
	tcase_add_test(tc, hugetlb_regions);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	return test_run(suite());
}
