/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Fault injection (issue 8, part 5): every call libvmmem makes to a function
 * that can fail (malloc, calloc, posix_memalign, mmap, memfd_create,
 * ftruncate, fcntl, fstat, fstatfs, madvise, mbind, mlock, fallocate,
 * readv/preadv/writev/pwritev, membarrier through syscall(), and the
 * registration of the fork handlers, pthread_atfork) fails in turn, and
 * each failure must
 *
 *   - surface as the error the operation's man page documents: the errno
 *     injected, which must be one the page lists, or which it says is
 *     passed on from that function; or, where the library is documented or
 *     designed to recover (membarrier, MADV_POPULATE_WRITE before 5.14,
 *     fstatfs), no error at all;
 *   - leave the objects involved usable: the address space still reads and
 *     writes its regions, an IOTLB keeps its entries, a caller's file
 *     descriptor stays open, the outputs the page says are untouched are
 *     untouched, and the same call without the fault then succeeds;
 *   - leak nothing: after everything is destroyed, libvmmem holds no more
 *     heap blocks, file descriptors or mapped bytes than before (as counted
 *     by the interposer, tests/faults/libfault.c), and the process has as
 *     many open file descriptors and mappings as before.
 *
 * Each operation runs once without faults to find its fault points (the
 * interposer numbers them), then once per fault point and errno.  Run with
 * tests/faults/run-faults.sh, which preloads libfault.so.
 *
 * The Xen entry points are stubs in this build (there is no Xen backend
 * yet): they make no call at all, which the test checks, so there is no Xen
 * call to fail. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <urcu/urcu-bp.h>

#include "testutil.h"
#include "faults/fault.h"

#define RSIZE (64 * KIB)
#define GPA_A 0x0ull            /* anonymous, 64 KiB */
#define GPA_B 0x10000ull        /* shareable, 64 KiB, adjacent to A */
#define GPA_NEW 0x100000ull     /* where an added region goes */
#define IOVA_A 0x1000000ull     /* IOTLB entry: IOVA_A -> GPA_A, read/write */
#define IOVA_NEW 0x2000000ull
#define FILE_BYTE 0x5a          /* contents of a caller's file */

/* A value no call stores, to see that an output was left alone. */
#define SENTINEL ((void *)(uintptr_t)0x5e47)

static fault_ready_fn *f_ready;
static fault_begin_fn *f_begin;
static fault_arm_fn *f_arm;
static fault_end_fn *f_end;
static fault_get_fn *f_get;
static fault_balance_fn *f_balance;

static uint8_t pat_a[RSIZE], pat_b[RSIZE], pat_new[RSIZE];

/* ------------------------------------------------------ fault points */

static const char *advice_name(long a)
{
	switch (a) {
	case MADV_DONTNEED:       return "MADV_DONTNEED";
	case MADV_HUGEPAGE:       return "MADV_HUGEPAGE";
	case MADV_DONTDUMP:       return "MADV_DONTDUMP";
	case MADV_DONTFORK:       return "MADV_DONTFORK";
	case MADV_MERGEABLE:      return "MADV_MERGEABLE";
	case MADV_POPULATE_WRITE: return "MADV_POPULATE_WRITE";
	default:                  return "?";
	}
}

/* "madvise(MADV_DONTDUMP)", "mmap(MAP_FIXED)", ... */
static const char *call_name(const struct fault_call *c)
{
	static char buf[96];

	if (!strcmp(c->fn, "madvise"))
		snprintf(buf, sizeof(buf), "madvise(%s)", advice_name(c->detail));
	else if (!strcmp(c->fn, "fcntl"))
		snprintf(buf, sizeof(buf), "fcntl(%s)",
			 c->detail == F_DUPFD_CLOEXEC ? "F_DUPFD_CLOEXEC" :
			 c->detail == F_ADD_SEALS ? "F_ADD_SEALS" : "?");
	else if (!strcmp(c->fn, "mmap"))
		snprintf(buf, sizeof(buf), "mmap(%s%s)",
			 (c->detail & MAP_SHARED) ? "MAP_SHARED" : "MAP_PRIVATE",
			 (c->detail & MAP_FIXED) ? "|MAP_FIXED" :
			 (c->detail & MAP_ANONYMOUS) ? "|MAP_ANONYMOUS" : "");
	else if (!strcmp(c->fn, "syscall"))
		snprintf(buf, sizeof(buf), "syscall(%s)",
			 c->detail == __NR_membarrier ? "membarrier" : "?");
	else
		snprintf(buf, sizeof(buf), "%s", c->fn);
	return buf;
}

static const char *errno_name(int e)
{
	switch (e) {
	case ENOMEM:     return "ENOMEM";
	case EAGAIN:     return "EAGAIN";
	case EMFILE:     return "EMFILE";
	case ENFILE:     return "ENFILE";
	case EFBIG:      return "EFBIG";
	case EINTR:      return "EINTR";
	case EPERM:      return "EPERM";
	case EBUSY:      return "EBUSY";
	case EIO:        return "EIO";
	case ENOSYS:     return "ENOSYS";
	case EINVAL:     return "EINVAL";
	case EFAULT:     return "EFAULT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ENOSPC:     return "ENOSPC";
	default:         return "E?";
	}
}

/* "vmmem_region_new(SHAREABLE)" -> "vmmem_region_new" */
static const char *man_of(const char *op_name)
{
	static char buf[64];
	size_t n = strcspn(op_name, "(");

	snprintf(buf, sizeof(buf), "%.*s", (int)n, op_name);
	return buf;
}

static bool is_alloc(const char *fn)
{
	return !strcmp(fn, "malloc") || !strcmp(fn, "calloc") ||
	       !strcmp(fn, "posix_memalign");
}

/* The errno values each fault point is failed with: ones the function
 * really reports (see its man page). */
static int errs_for(const struct fault_call *c, int *e)
{
	const char *fn = c->fn;
	int n = 0;

	if (is_alloc(fn)) {
		e[n++] = ENOMEM;
	} else if (!strcmp(fn, "fstat")) {
		/* ENOMEM anywhere; EIO from NFS, FUSE and the like, which a
		 * caller's fd may well be on. */
		e[n++] = ENOMEM;
		e[n++] = EIO;
	} else if (!strcmp(fn, "mmap")) {
		e[n++] = ENOMEM;
		e[n++] = EAGAIN;
	} else if (!strcmp(fn, "memfd_create")) {
		e[n++] = EMFILE;
		e[n++] = ENFILE;
	} else if (!strcmp(fn, "ftruncate")) {
		e[n++] = EFBIG;
		e[n++] = EINTR;
	} else if (!strcmp(fn, "fcntl")) {
		if (c->detail == F_ADD_SEALS) {
			e[n++] = EPERM;
			e[n++] = EBUSY;
		} else {
			e[n++] = EMFILE;
		}
	} else if (!strcmp(fn, "fstatfs")) {
		e[n++] = EIO;
		e[n++] = ENOSYS;
	} else if (!strcmp(fn, "madvise")) {
		e[n++] = EINVAL;
		e[n++] = ENOMEM;
		e[n++] = c->detail == MADV_POPULATE_WRITE ? EFAULT : EAGAIN;
	} else if (!strcmp(fn, "mbind")) {
		e[n++] = EIO;
		e[n++] = EINVAL;
		e[n++] = ENOMEM;
	} else if (!strcmp(fn, "mlock")) {
		e[n++] = ENOMEM;
		e[n++] = EPERM;
		e[n++] = EAGAIN;
	} else if (!strcmp(fn, "fallocate")) {
		e[n++] = EOPNOTSUPP;
		e[n++] = ENOSPC;
		e[n++] = EIO;
	} else if (!strcmp(fn, "readv") || !strcmp(fn, "preadv") ||
		   !strcmp(fn, "writev") || !strcmp(fn, "pwritev")) {
		e[n++] = EIO;
		e[n++] = EINTR;
		e[n++] = EAGAIN;
	} else if (!strcmp(fn, "syscall")) {
		e[n++] = ENOSYS;
		e[n++] = EPERM;
	}
	return n;
}

/* Fault points the library recovers from by design, so the operation must
 * still succeed: fstatfs() only tells whether an fd is on hugetlbfs
 * (lib/region/mmap.c adopt_fd); MADV_POPULATE_WRITE's EINVAL means a kernel
 * before 5.14 and the pages are touched instead (lib/region/policy.c);
 * membarrier(2) failing makes writers fence instead (lib/dirty/dirty.c). */
static bool recovers(const struct fault_call *c, int err)
{
	return !strcmp(c->fn, "fstatfs") || !strcmp(c->fn, "syscall") ||
	       (!strcmp(c->fn, "madvise") && c->detail == MADV_POPULATE_WRITE &&
		err == EINVAL);
}

/* ------------------------------------------------------- resources */

struct res {
	struct fault_balance b;
	int fds;
	int maps;
};

/* Old region tables are freed by the library's reclaim thread after a
 * grace period; vmmem_free() of a space that had a region removed returns
 * once every table retired before it is freed. */
static void wait_reclaimed(void)
{
	struct vmmem_region *r = test_region(4096);
	struct vmmem *m = NULL;

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(m, 0, r), 0);
	vmmem_region_unref(r);
	ck_assert_int_eq(vmmem_remove_region(m, 0, 4096, NULL), 0);
	vmmem_free(m);
}

static void res_take(struct res *r)
{
	/* Counted once old tables are freed: what is left leaked. */
	wait_reclaimed();
	f_balance(&r->b);
	r->fds = test_count_fds();
	r->maps = test_count_maps();
}

static void res_expect(const struct res *was, const char *what)
{
	struct res now;

	res_take(&now);
	ck_assert_msg(now.b.blocks == was->b.blocks && now.b.bytes == was->b.bytes,
		      "%s: libvmmem heap blocks %ld (%ld bytes), were %ld (%ld bytes)",
		      what, now.b.blocks, now.b.bytes, was->b.blocks, was->b.bytes);
	ck_assert_msg(now.b.fds == was->b.fds,
		      "%s: libvmmem file descriptors %ld, were %ld", what,
		      now.b.fds, was->b.fds);
	ck_assert_msg(now.b.map_bytes == was->b.map_bytes,
		      "%s: libvmmem mapped bytes %ld, were %ld", what,
		      now.b.map_bytes, was->b.map_bytes);
	ck_assert_msg(now.fds == was->fds, "%s: open fds %d, were %d", what,
		      now.fds, was->fds);
	ck_assert_msg(now.maps == was->maps, "%s: mappings %d, were %d", what,
		      now.maps, was->maps);
}

/* ------------------------------------------------------- operations */

struct ctx;

struct op {
	const char *name;
	unsigned int flags;               /* region options, where used */
	const int *errs;                  /* documented errnos, 0-ended */
	const char *const *pass;          /* "returned as its errno", NULL-ended */
	const char *const *expect;        /* fault points it must reach */
	/* Returns false to skip the operation (feature missing here). */
	bool (*setup)(struct ctx *);
	long (*run)(struct ctx *);
	void (*after_ok)(struct ctx *);   /* checks, and undoes the effect */
	void (*after_fail)(struct ctx *); /* usable? then a retry must pass */
	void (*teardown)(struct ctx *);
};

struct ctx {
	const struct op *op;
	struct vmmem_region_opts o;
	struct vmmem_region *r;
	struct vmmem *m;
	struct vmmem_iommu *io;
	int fd;                           /* a caller's file, or -1 */
	int pfd[2];                       /* a pipe, or -1 */
	uint64_t len;
	void *host;
	void *raw;
	int visits;
	struct test_release_log rel;
};

/* Man pages' error lists. */
static const int E_REGION_NEW[] = { EINVAL, E2BIG, EBADF, ENXIO, ENOMEM, EPERM, 0 };
static const char *const P_REGION_NEW[] = {
	"memfd_create", "ftruncate", "mmap", "madvise", "mbind", "mlock",
	"fcntl", "fstat", NULL };
static const int E_RAW[] = { EINVAL, ENOMEM, 0 };
static const int E_NEW[] = { EINVAL, ENOMEM, 0 };
static const int E_RANGES[] = { EINVAL, EEXIST, E2BIG, EBADF, ENXIO, ENOMEM, 0 };
static const int E_ADD[] = { EINVAL, EEXIST, ENOMEM, 0 };
static const int E_VHOST_MAP[] = { E2BIG, EACCES, EBADF, EEXIST, EINVAL,
				   EISDIR, ENODEV, ENOMEM, ENOSPC, ENXIO,
				   EPERM, 0 };
static const char *const P_VHOST_MAP[] = { "mmap", "fcntl", "fstat",
					   "madvise", "mbind", "mlock", NULL };
static const int E_REMOVE[] = { EINVAL, ENOENT, ENOMEM, 0 };
static const int E_FOREACH[] = { EINVAL, ENOMEM, 0 };
static const int E_MAP[] = { EINVAL, EFAULT, ENOMEM, 0 };
static const int E_DSTART[] = { EINVAL, EBUSY, ENOMEM, 0 };
static const int E_DSTOP[] = { EINVAL, ENOENT, ENOMEM, 0 };
static const int E_SHARED_FD[] = { EACCES, EBADF, EINVAL, ENODEV, ENOMEM,
				   ENXIO, 0 };
static const char *const P_SHARED_FD[] = { "mmap", "fstat", "fcntl", NULL };
static const int E_SHARED[] = { EINVAL, ENOMEM, 0 };
static const int E_SHARED_STOP[] = { EINVAL, ENOENT, ENOMEM, 0 };
static const int E_DISCARD[] = { EINVAL, EOPNOTSUPP, 0 };
static const int E_CHECK[] = { EINVAL, ENXIO, 0 };
static const char *const P_CHECK[] = { "fstat", NULL };
static const char *const P_DISCARD[] = { "madvise", "fallocate", NULL };
static const int E_FDIO[] = { EINVAL, EFAULT, EBADF, 0 };
static const char *const P_FDIO[] = { "readv", "preadv", "writev", "pwritev", NULL };
static const int E_IOMMU_NEW[] = { EINVAL, E2BIG, ENOMEM, 0 };
static const int E_IOMMU_UPD[] = { EINVAL, ENOMEM, 0 };
static const int E_IOMMU_MAP[] = { EINVAL, EAGAIN, EACCES, EFAULT, ENOMEM, 0 };
static const int E_IOMMU_FDIO[] = { EINVAL, EBADF, EAGAIN, EACCES, EFAULT, 0 };

static bool documented(const struct op *op, const char *fn, int err)
{
	for (const int *e = op->errs; *e; e++)
		if (*e == err)
			return true;
	for (const char *const *p = op->pass; p && *p; p++)
		if (!strcmp(*p, fn))
			return true;
	return false;
}

/* ---------------------------------------------------------- helpers */

static bool huge_pages_free(unsigned long want)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[128];
	unsigned long n = 0;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Free: %lu", &n) == 1)
			break;
	fclose(f);
	return n >= want;
}

static uint64_t region_size_of(unsigned int flags)
{
	return (flags & VMMEM_REGION_HUGETLB) ? 2 * MIB : RSIZE;
}

/* Whether the caller's file still is open and still holds FILE_BYTE. */
static void caller_fd_intact(int fd)
{
	uint8_t buf[4096];

	ck_assert_msg(fcntl(fd, F_GETFD) >= 0, "the caller's fd was closed");
	ck_assert_int_eq(pread(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	ck_assert(test_all_bytes(buf, FILE_BYTE, sizeof(buf)));
}

static void close_fds(struct ctx *c)
{
	if (c->fd >= 0)
		close(c->fd);
	if (c->pfd[0] >= 0)
		close(c->pfd[0]);
	if (c->pfd[1] >= 0)
		close(c->pfd[1]);
	c->fd = c->pfd[0] = c->pfd[1] = -1;
}

/* ---------------------------------------------- vmmem_region_new() */

static bool region_setup(struct ctx *c)
{
	unsigned int f = c->op->flags;

	if ((f & VMMEM_REGION_HUGETLB) && !huge_pages_free(4)) {
		printf("test-faults: SKIP %s: fewer than 4 free huge pages\n",
		       c->op->name);
		return false;
	}
	c->o = test_region_opts(f);
	if (f & VMMEM_REGION_FD) {
		c->fd = test_filled_memfd(RSIZE, FILE_BYTE);
		c->o.fd = c->fd;
	}
	if (f & VMMEM_REGION_SEAL)
		c->o.seals = F_SEAL_SHRINK | F_SEAL_GROW;
	if (f & VMMEM_REGION_SHAREABLE)
		c->o.name = "vmmem-faults";
	c->r = SENTINEL;
	return true;
}

static long region_run(struct ctx *c)
{
	return vmmem_region_new(&c->r, region_size_of(c->op->flags),
				c->op->flags ? &c->o : NULL);
}

/* The new region works as its flags say; then it is dropped. */
static void region_ok(struct ctx *c)
{
	unsigned int f = c->op->flags, got = 0;
	uint64_t size = 0, off = 1;
	uint8_t buf[4096];
	uint8_t *h;
	int fd;

	ck_assert_ptr_ne(c->r, SENTINEL);
	ck_assert_int_eq(vmmem_region_size(c->r, &size), 0);
	ck_assert_uint_eq(size, region_size_of(f));
	ck_assert_int_eq(vmmem_region_flags(c->r, &got), 0);
	ck_assert_uint_eq(got, f);
	h = test_region_host(c->r);
	memcpy(h, pat_new, sizeof(buf));
	memcpy(h + size - sizeof(buf), pat_new + sizeof(buf), sizeof(buf));
	ck_assert(!memcmp(h, pat_new, sizeof(buf)));
	fd = vmmem_region_fd(c->r, &off);
	if (f & (VMMEM_REGION_SHAREABLE | VMMEM_REGION_FD)) {
		ck_assert_int_ge(fd, 0);
		ck_assert_uint_eq(off, 0);
		ck_assert_int_eq(pread(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
		if (f & VMMEM_REGION_PRIVATE)
			ck_assert(test_all_bytes(buf, FILE_BYTE, sizeof(buf)));
		else
			ck_assert(!memcmp(buf, pat_new, sizeof(buf)));
	} else {
		ck_assert_int_eq(fd, -ENOENT);
	}
	if (f & VMMEM_REGION_SEAL)
		ck_assert_int_eq(fcntl(fd, F_GET_SEALS),
				 F_SEAL_SHRINK | F_SEAL_GROW);
	vmmem_region_unref(c->r);
	c->r = NULL;
}

static void region_fail(struct ctx *c)
{
	/* "*out is not modified"; a caller's fd is the caller's. */
	ck_assert_ptr_eq(c->r, SENTINEL);
	if (c->fd >= 0)
		caller_fd_intact(c->fd);
	ck_assert_int_eq(region_run(c), 0);
	region_ok(c);
}

static void fds_teardown(struct ctx *c)
{
	close_fds(c);
}

/* ------------------------------------------ vmmem_region_new_raw() */

static bool raw_setup(struct ctx *c)
{
	c->raw = mmap(NULL, RSIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(c->raw, MAP_FAILED);
	c->r = SENTINEL;
	return true;
}

static long raw_run(struct ctx *c)
{
	return vmmem_region_new_raw(&c->r, c->raw, RSIZE, test_release_cb,
				    &c->rel, 0);
}

static void raw_ok(struct ctx *c)
{
	ck_assert_ptr_eq(test_region_host(c->r), c->raw);
	vmmem_region_unref(c->r);
	c->r = NULL;
	ck_assert_int_eq(c->rel.calls, 1);
}

static void raw_fail(struct ctx *c)
{
	/* "leaves *out unchanged; release is not called" */
	ck_assert_ptr_eq(c->r, SENTINEL);
	ck_assert_int_eq(c->rel.calls, 0);
	ck_assert_int_eq(raw_run(c), 0);
	raw_ok(c);
}

static void raw_teardown(struct ctx *c)
{
	munmap(c->raw, RSIZE);
}

/* ----------------------------------------------- an address space */

/* A [GPA_A, +64K) anonymous and B [GPA_B, +64K) shareable, holding pat_a
 * and pat_b. */
static void space_make(struct ctx *c)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_SHAREABLE);
	struct vmmem_region *a = NULL, *b = NULL;

	ck_assert_int_eq(vmmem_new(&c->m, 0), 0);
	ck_assert_int_eq(vmmem_region_new(&a, RSIZE, NULL), 0);
	ck_assert_int_eq(vmmem_region_new(&b, RSIZE, &o), 0);
	ck_assert_int_eq(vmmem_add_region(c->m, GPA_A, a), 0);
	ck_assert_int_eq(vmmem_add_region(c->m, GPA_B, b), 0);
	vmmem_region_unref(a);
	vmmem_region_unref(b);
	ck_assert_int_eq(vmmem_write_exact(c->m, GPA_A, pat_a, RSIZE), 0);
	ck_assert_int_eq(vmmem_write_exact(c->m, GPA_B, pat_b, RSIZE), 0);
}

/* The address space has n regions, A and B still hold their patterns and
 * a write across both reads back. */
static void space_usable(struct ctx *c, int n)
{
	uint8_t buf[32], got[32];

	ck_assert_int_eq(vmmem_num_regions(c->m), n);
	test_expect_bytes(c->m, GPA_A, pat_a, RSIZE);
	test_expect_bytes(c->m, GPA_B, pat_b, RSIZE);
	memset(buf, 0xee, sizeof(buf));
	ck_assert_int_eq(vmmem_write_exact(c->m, GPA_B - 16, buf, sizeof(buf)), 0);
	ck_assert_int_eq(vmmem_read_exact(c->m, GPA_B - 16, got, sizeof(got)), 0);
	ck_assert(!memcmp(buf, got, sizeof(buf)));
	ck_assert_int_eq(vmmem_write_exact(c->m, GPA_B - 16, pat_a + RSIZE - 16, 16), 0);
	ck_assert_int_eq(vmmem_write_exact(c->m, GPA_B, pat_b, 16), 0);
}

static bool space_setup(struct ctx *c)
{
	space_make(c);
	return true;
}

static void space_teardown(struct ctx *c)
{
	if (c->io && c->io != SENTINEL)
		vmmem_iommu_free(c->io);
	if (c->r && c->r != SENTINEL)
		vmmem_region_unref(c->r);
	vmmem_free(c->m);
	close_fds(c);
}

/* ------------------------------------------------------ vmmem_new() */

static bool new_setup(struct ctx *c)
{
	c->m = SENTINEL;
	return true;
}

static long new_run(struct ctx *c)
{
	return vmmem_new(&c->m, 0);
}

static void new_ok(struct ctx *c)
{
	struct vmmem_region *r = test_region(RSIZE);

	ck_assert_ptr_ne(c->m, SENTINEL);
	ck_assert_int_eq(vmmem_num_regions(c->m), 0);
	ck_assert_int_eq(vmmem_add_region(c->m, GPA_A, r), 0);
	vmmem_region_unref(r);
	ck_assert_int_eq(vmmem_write_exact(c->m, GPA_A, pat_a, RSIZE), 0);
	test_expect_bytes(c->m, GPA_A, pat_a, RSIZE);
	vmmem_free(c->m);
	c->m = NULL;
}

static void new_fail(struct ctx *c)
{
	ck_assert_int_eq(new_run(c), 0);
	new_ok(c);
}

/* ------------------------------------------ vmmem_new_from_ranges() */

static bool ranges_setup(struct ctx *c)
{
	c->o = test_region_opts(c->op->flags);
	if (!(c->op->flags & VMMEM_REGION_SHAREABLE))
		c->fd = test_filled_memfd(RSIZE, FILE_BYTE);
	c->m = SENTINEL;
	return true;
}

/* Without SHAREABLE: A anonymous, B the caller's file (a GUARD | DONTDUMP
 * region each).  With it: three anonymous shareable ranges, given out of
 * order. */
static long ranges_run(struct ctx *c)
{
	struct vmmem_range one[2] = {
		{ .gpa = GPA_A, .size = RSIZE, .fd = -1 },
		{ .gpa = GPA_B, .size = RSIZE, .fd = c->fd },
	};
	struct vmmem_range three[3] = {
		{ .gpa = GPA_NEW, .size = RSIZE, .fd = -1 },
		{ .gpa = GPA_A, .size = RSIZE, .fd = -1 },
		{ .gpa = GPA_B, .size = RSIZE, .fd = -1 },
	};

	if (c->op->flags & VMMEM_REGION_SHAREABLE)
		return vmmem_new_from_ranges(&c->m, three, 3, &c->o);
	return vmmem_new_from_ranges(&c->m, one, 2, &c->o);
}

static void ranges_ok(struct ctx *c)
{
	bool shareable = c->op->flags & VMMEM_REGION_SHAREABLE;
	uint8_t buf[4096];

	ck_assert_ptr_ne(c->m, SENTINEL);
	ck_assert_int_eq(vmmem_num_regions(c->m), shareable ? 3 : 2);
	if (!shareable) {
		/* B maps the caller's file. */
		ck_assert_int_eq(vmmem_read_exact(c->m, GPA_B, buf, sizeof(buf)), 0);
		ck_assert(test_all_bytes(buf, FILE_BYTE, sizeof(buf)));
	}
	ck_assert_int_eq(vmmem_write_exact(c->m, GPA_A, pat_a, RSIZE), 0);
	ck_assert_int_eq(vmmem_write_exact(c->m, GPA_B, pat_b, RSIZE), 0);
	test_expect_bytes(c->m, GPA_A, pat_a, RSIZE);
	test_expect_bytes(c->m, GPA_B, pat_b, RSIZE);
	if (!shareable) {
		ck_assert_int_eq(pread(c->fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
		ck_assert(!memcmp(buf, pat_b, sizeof(buf)));
	}
	vmmem_free(c->m);
	c->m = NULL;
}

static void ranges_fail(struct ctx *c)
{
	/* "everything created so far is destroyed and *out is not
	 * modified" (checked by the balance after teardown) */
	ck_assert_ptr_eq(c->m, SENTINEL);
	if (c->fd >= 0)
		caller_fd_intact(c->fd);
	ck_assert_int_eq(ranges_run(c), 0);
	ranges_ok(c);
}

/* ------------------------------------- vmmem_add_region(), remove */

static bool add_setup(struct ctx *c)
{
	space_make(c);
	if (c->op->flags)           /* with dirty logging on */
		ck_assert_int_eq(vmmem_dirty_start(c->m, 0), 0);
	c->r = test_region(RSIZE);
	memcpy(test_region_host(c->r), pat_new, RSIZE);
	if (c->op->flags) {
		ck_assert_int_eq(vmmem_dirty_clear(c->m, 0, GPA_NEW + RSIZE), 0);
		ck_assert_int_eq(vmmem_write_exact(c->m, GPA_A, pat_a, 8), 0);
	}
	return true;
}

static long add_run(struct ctx *c)
{
	return vmmem_add_region(c->m, GPA_NEW, c->r);
}

static void add_ok(struct ctx *c)
{
	test_expect_bytes(c->m, GPA_NEW, pat_new, RSIZE);
	if (c->op->flags) {
		/* Logged from now on, clean. */
		ck_assert_int_eq(vmmem_dirty_test(c->m, GPA_NEW), 0);
		ck_assert_int_eq(vmmem_write_exact(c->m, GPA_NEW, pat_new, 8), 0);
		ck_assert_int_eq(vmmem_dirty_test(c->m, GPA_NEW), 1);
		ck_assert_int_eq(vmmem_dirty_test(c->m, GPA_A), 1);
	}
	space_usable(c, 3);
}

static void add_fail(struct ctx *c)
{
	uint8_t b;

	/* "mem is unchanged" */
	ck_assert_int_eq(vmmem_read(c->m, GPA_NEW, &b, 1), -EFAULT);
	if (c->op->flags)
		ck_assert_int_eq(vmmem_dirty_test(c->m, GPA_A), 1);
	space_usable(c, 2);
	ck_assert_int_eq(add_run(c), 0);
	add_ok(c);
}

static bool remove_setup(struct ctx *c)
{
	space_make(c);
	c->r = SENTINEL;
	return true;
}

static long remove_run(struct ctx *c)
{
	return vmmem_remove_region(c->m, GPA_B, RSIZE, &c->r);
}

static void remove_ok(struct ctx *c)
{
	uint8_t b;
	uint64_t size = 0;

	ck_assert_ptr_ne(c->r, SENTINEL);
	ck_assert_int_eq(vmmem_region_size(c->r, &size), 0);
	ck_assert_uint_eq(size, RSIZE);
	ck_assert(!memcmp(test_region_host(c->r), pat_b, RSIZE));
	ck_assert_int_eq(vmmem_num_regions(c->m), 1);
	ck_assert_int_eq(vmmem_read(c->m, GPA_B, &b, 1), -EFAULT);
	test_expect_bytes(c->m, GPA_A, pat_a, RSIZE);
}

static void remove_fail(struct ctx *c)
{
	/* "mem is unchanged"; no reference handed out */
	ck_assert_ptr_eq(c->r, SENTINEL);
	space_usable(c, 2);
	ck_assert_int_eq(remove_run(c), 0);
	remove_ok(c);
}

/* ---------------------------------------------- vmmem_foreach_region() */

static int count_cb(uint64_t gpa, struct vmmem_region *r, void *opaque)
{
	struct ctx *c = opaque;

	(void)r;
	ck_assert_uint_eq(gpa, c->visits ? GPA_B : GPA_A);
	c->visits++;
	return 0;
}

static long foreach_run(struct ctx *c)
{
	c->visits = 0;
	return vmmem_foreach_region(c->m, count_cb, c);
}

static void foreach_ok(struct ctx *c)
{
	ck_assert_int_eq(c->visits, 2);
	space_usable(c, 2);
}

static bool empty_setup(struct ctx *c)
{
	ck_assert_int_eq(vmmem_new(&c->m, 0), 0);
	return true;
}

static void foreach_empty_ok(struct ctx *c)
{
	struct vmmem_region *r = test_region(RSIZE);

	ck_assert_int_eq(c->visits, 0);
	ck_assert_int_eq(vmmem_add_region(c->m, GPA_A, r), 0);
	vmmem_region_unref(r);
	ck_assert_int_eq(foreach_run(c), 0);
	ck_assert_int_eq(c->visits, 1);
}

static void foreach_empty_fail(struct ctx *c)
{
	ck_assert_int_eq(vmmem_num_regions(c->m), 0);
	ck_assert_int_eq(foreach_run(c), 0);
	foreach_empty_ok(c);
}

static void foreach_fail(struct ctx *c)
{
	/* "without calling fn" */
	ck_assert_int_eq(c->visits, 0);
	space_usable(c, 2);
	ck_assert_int_eq(foreach_run(c), 0);
	foreach_ok(c);
}

/* ------------------------------------------------------ vmmem_map() */

static bool map_setup(struct ctx *c)
{
	space_make(c);
	c->len = 4096;
	c->host = SENTINEL;
	return true;
}

static long map_run(struct ctx *c)
{
	return vmmem_map(c->m, GPA_B + 0x10, &c->len,
			 VMMEM_MAP_READ | VMMEM_MAP_WRITE, &c->host);
}

static void map_ok(struct ctx *c)
{
	ck_assert_uint_eq(c->len, 4096);
	ck_assert_ptr_eq(c->host, test_host_of_gpa(c->m, GPA_B + 0x10));
	ck_assert(!memcmp(c->host, pat_b + 0x10, 4096));
	ck_assert_int_eq(vmmem_unmap(c->m, c->host, 0), 0);
	ck_assert_int_eq(vmmem_unmap(c->m, c->host, 0), -ENOENT);
	space_usable(c, 2);
}

static void map_fail(struct ctx *c)
{
	/* "changes neither *len nor *host" */
	ck_assert_uint_eq(c->len, 4096);
	ck_assert_ptr_eq(c->host, SENTINEL);
	space_usable(c, 2);
	ck_assert_int_eq(map_run(c), 0);
	map_ok(c);
}

/* ------------------------------------- vmmem_dirty_start(), stop */

static long dstart_run(struct ctx *c)
{
	return vmmem_dirty_start(c->m, 0);
}

static void dstart_ok(struct ctx *c)
{
	ck_assert_int_eq(vmmem_dirty_test(c->m, GPA_B), 0);
	ck_assert_int_eq(vmmem_write_exact(c->m, GPA_B, pat_b, 8), 0);
	ck_assert_int_eq(vmmem_dirty_test(c->m, GPA_B), 1);
	ck_assert_int_eq(vmmem_dirty_test(c->m, GPA_A), 0);
	ck_assert_int_eq(vmmem_dirty_start(c->m, 0), -EBUSY);
	space_usable(c, 2);
	ck_assert_int_eq(vmmem_dirty_stop(c->m), 0);
}

static void dstart_fail(struct ctx *c)
{
	/* Still off. */
	ck_assert_int_eq(vmmem_dirty_test(c->m, GPA_A), -ENOENT);
	ck_assert_int_eq(vmmem_dirty_mark(c->m, GPA_A, 1), -ENOENT);
	space_usable(c, 2);
	ck_assert_int_eq(dstart_run(c), 0);
	dstart_ok(c);
}

static bool dstop_setup(struct ctx *c)
{
	space_make(c);
	ck_assert_int_eq(vmmem_dirty_start(c->m, 0), 0);
	ck_assert_int_eq(vmmem_write_exact(c->m, GPA_A, pat_a, 8), 0);
	return true;
}

static long dstop_run(struct ctx *c)
{
	return vmmem_dirty_stop(c->m);
}

static void dstop_ok(struct ctx *c)
{
	ck_assert_int_eq(vmmem_dirty_test(c->m, GPA_A), -ENOENT);
	ck_assert_int_eq(vmmem_dirty_stop(c->m), -ENOENT);
	space_usable(c, 2);
}

static void dstop_fail(struct ctx *c)
{
	/* Still on, the bits kept. */
	ck_assert_int_eq(vmmem_dirty_test(c->m, GPA_A), 1);
	ck_assert_int_eq(vmmem_dirty_test(c->m, GPA_B), 0);
	ck_assert_int_eq(vmmem_write_exact(c->m, GPA_B, pat_b, 8), 0);
	ck_assert_int_eq(vmmem_dirty_test(c->m, GPA_B), 1);
	space_usable(c, 2);
	ck_assert_int_eq(dstop_run(c), 0);
	dstop_ok(c);
}

/* ------------------------- vmmem_dirty_shared_set_fd(), _set(), _stop() */

/* A front-end's log of SHARED_BYTES, covering GPA_A and GPA_B's pages. */
#define SHARED_BYTES 64
#define SHARED_BIT_B (GPA_B >> 12)

static bool shared_fd_setup(struct ctx *c)
{
	space_make(c);
	c->fd = memfd_create("faults-log", MFD_CLOEXEC);
	ck_assert_int_ge(c->fd, 0);
	ck_assert_int_eq(ftruncate(c->fd, 4096), 0);
	return true;
}

static long shared_fd_run(struct ctx *c)
{
	return vmmem_dirty_shared_set_fd(c->m, c->fd, SHARED_BYTES, 0, 0);
}

/* The byte of the caller's log (the file, or its own buffer) holding the
 * bit of GPA_B's page. */
static uint8_t shared_byte_b(struct ctx *c)
{
	uint8_t b = 0;

	if (c->raw)
		return __atomic_load_n((uint8_t *)c->raw + SHARED_BIT_B / 8,
				       __ATOMIC_ACQUIRE);
	ck_assert_int_eq(pread(c->fd, &b, 1, SHARED_BIT_B / 8), 1);
	return b;
}

/* The log is on: a write marks it. */
static void shared_marks(struct ctx *c)
{
	uint8_t zero = 0;

	if (c->raw)
		((uint8_t *)c->raw)[SHARED_BIT_B / 8] = 0;
	else
		ck_assert_int_eq(pwrite(c->fd, &zero, 1, SHARED_BIT_B / 8), 1);
	ck_assert_int_eq(vmmem_write_exact(c->m, GPA_B, pat_b, 8), 0);
	ck_assert_uint_eq(shared_byte_b(c) & (1u << (SHARED_BIT_B % 8)),
			  1u << (SHARED_BIT_B % 8));
}

/* No log: nothing to stop, and the caller's descriptor still open. */
static void shared_off(struct ctx *c)
{
	ck_assert_int_eq(vmmem_dirty_shared_stop(c->m), -ENOENT);
	if (c->fd >= 0)
		ck_assert_int_ge(fcntl(c->fd, F_GETFD), 0);
	space_usable(c, 2);
}

static void shared_set_ok(struct ctx *c)
{
	shared_marks(c);
	space_usable(c, 2);
	ck_assert_int_eq(vmmem_dirty_shared_stop(c->m), 0);
}

/* Either set call failed: no log, and the same call then succeeds. */
static void shared_set_fail(struct ctx *c)
{
	shared_off(c);
	ck_assert_int_eq(c->op->run(c), 0);
	shared_set_ok(c);
}

static bool shared_buf_setup(struct ctx *c)
{
	space_make(c);
	c->raw = calloc(1, SHARED_BYTES);
	ck_assert_ptr_nonnull(c->raw);
	return true;
}

static long shared_buf_run(struct ctx *c)
{
	return vmmem_dirty_shared_set(c->m, c->raw, SHARED_BYTES, 0);
}

static void shared_buf_teardown(struct ctx *c)
{
	space_teardown(c);
	free(c->raw);
	c->raw = NULL;
}

static bool shared_stop_setup(struct ctx *c)
{
	shared_fd_setup(c);
	ck_assert_int_eq(shared_fd_run(c), 0);
	return true;
}

static long shared_stop_run(struct ctx *c)
{
	return vmmem_dirty_shared_stop(c->m);
}

static void shared_stop_ok(struct ctx *c)
{
	shared_off(c);
}

static void shared_stop_fail(struct ctx *c)
{
	/* Still on. */
	shared_marks(c);
	space_usable(c, 2);
	ck_assert_int_eq(shared_stop_run(c), 0);
	shared_stop_ok(c);
}

/* ------------------------------------------- vmmem_region_discard() */

#define DISCARD_LEN (2 * 4096)

static bool discard_setup(struct ctx *c)
{
	unsigned int f = c->op->flags;

	c->o = test_region_opts(f);
	if (f & VMMEM_REGION_FD) {
		c->fd = test_filled_memfd(RSIZE, FILE_BYTE);
		c->o.fd = c->fd;
	}
	ck_assert_int_eq(vmmem_region_new(&c->r, RSIZE, &c->o), 0);
	memcpy(test_region_host(c->r), pat_new, RSIZE);
	return true;
}

static long discard_run(struct ctx *c)
{
	return vmmem_region_discard(c->r, 0, DISCARD_LEN);
}

static void discard_ok(struct ctx *c)
{
	const uint8_t *h = test_region_host(c->r);
	unsigned int f = c->op->flags;

	/* The range reads as zero, or a private file mapping as the file. */
	ck_assert(test_all_bytes(h, (f & VMMEM_REGION_PRIVATE) ? FILE_BYTE : 0,
				 DISCARD_LEN));
	ck_assert(!memcmp(h + DISCARD_LEN, pat_new + DISCARD_LEN,
			  RSIZE - DISCARD_LEN));
	if (c->fd >= 0 && !(f & VMMEM_REGION_PRIVATE)) {
		uint8_t buf[DISCARD_LEN];

		ck_assert_int_eq(pread(c->fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
		ck_assert(test_all_bytes(buf, 0, sizeof(buf)));
	}
	vmmem_region_unref(c->r);
	c->r = NULL;
}

static void discard_fail(struct ctx *c)
{
	uint8_t *h = test_region_host(c->r);

	/* Still mapped and writable. */
	h[0] = 0x11;
	h[RSIZE - 1] = 0x22;
	ck_assert_uint_eq(h[0], 0x11);
	memcpy(h, pat_new, 1);
	h[RSIZE - 1] = pat_new[RSIZE - 1];
	if (c->fd >= 0 && (c->op->flags & VMMEM_REGION_PRIVATE))
		caller_fd_intact(c->fd);
	ck_assert_int_eq(discard_run(c), 0);
	discard_ok(c);
}

static void discard_teardown(struct ctx *c)
{
	if (c->r)
		vmmem_region_unref(c->r);
	close_fds(c);
}

/* --------------------------------------------- vmmem_region_check() */

static bool check_setup(struct ctx *c)
{
	return discard_setup(c);
}

static long check_run(struct ctx *c)
{
	return vmmem_region_check(c->r);
}

static void check_ok(struct ctx *c)
{
	uint8_t *h = test_region_host(c->r);

	ck_assert(!memcmp(h, pat_new, RSIZE));
	memcpy(h, pat_a, 4096);
	ck_assert(!memcmp(h, pat_a, 4096));
	vmmem_region_unref(c->r);
	c->r = NULL;
}

static void check_fail(struct ctx *c)
{
	if (c->fd >= 0)
		ck_assert_msg(fcntl(c->fd, F_GETFD) >= 0, "the caller's fd was closed");
	ck_assert_int_eq(check_run(c), 0);
	check_ok(c);
}

/* ------------------------------------------------ file-descriptor I/O */

/* The transfer covers [FDIO_GPA, +FDIO_LEN): the end of A and the start of
 * B, so it is one vector of two pieces. */
#define FDIO_GPA (GPA_B - 32)
#define FDIO_LEN 64

enum { OP_READ = 1, OP_PREAD, OP_WRITE, OP_PWRITE, OP_READ_DIRTY,
       OP_IOMMU_PREAD, OP_IOMMU_WRITE };

static bool fdio_setup(struct ctx *c)
{
	unsigned int k = c->op->flags;

	space_make(c);
	if (k == OP_READ || k == OP_WRITE || k == OP_READ_DIRTY ||
	    k == OP_IOMMU_WRITE) {
		ck_assert_int_eq(pipe(c->pfd), 0);
		if (k != OP_WRITE && k != OP_IOMMU_WRITE)
			ck_assert_int_eq(write(c->pfd[1], pat_new, FDIO_LEN), FDIO_LEN);
	} else {
		c->fd = test_tmpfile();
		ck_assert_int_eq(pwrite(c->fd, pat_new, 2 * FDIO_LEN, 0),
				 2 * FDIO_LEN);
	}
	if (k == OP_READ_DIRTY) {
		ck_assert_int_eq(vmmem_dirty_start(c->m, 0), 0);
		ck_assert_int_eq(vmmem_dirty_clear(c->m, 0, GPA_B + RSIZE), 0);
	}
	if (k == OP_IOMMU_PREAD || k == OP_IOMMU_WRITE) {
		ck_assert_int_eq(vmmem_iommu_new(&c->io, c->m, NULL), 0);
		ck_assert_int_eq(vmmem_iommu_update(c->io, IOVA_A, 2 * RSIZE,
						    GPA_A, VMMEM_PERM_READ |
						    VMMEM_PERM_WRITE), 0);
	}
	return true;
}

static long fdio_run(struct ctx *c)
{
	uint64_t iova = IOVA_A + (FDIO_GPA - GPA_A);

	switch (c->op->flags) {
	case OP_READ:
	case OP_READ_DIRTY:
		return vmmem_read_fd(c->m, FDIO_GPA, c->pfd[0], FDIO_LEN);
	case OP_PREAD:
		return vmmem_pread_fd(c->m, FDIO_GPA, c->fd, FDIO_LEN, FDIO_LEN);
	case OP_WRITE:
		return vmmem_write_fd(c->m, FDIO_GPA, c->pfd[1], FDIO_LEN);
	case OP_PWRITE:
		return vmmem_pwrite_fd(c->m, FDIO_GPA, c->fd, FDIO_LEN, FDIO_LEN);
	case OP_IOMMU_PREAD:
		return vmmem_iommu_pread_fd(c->io, iova, c->fd, FDIO_LEN, FDIO_LEN);
	default:
		return vmmem_iommu_write_fd(c->io, iova, c->pfd[1], FDIO_LEN);
	}
}

/* What the guest range should hold before (pat_a/pat_b) or after a read
 * (the file's bytes). */
static void guest_range_expect(struct ctx *c, const uint8_t *data)
{
	uint8_t want[FDIO_LEN];

	if (!data) {
		memcpy(want, pat_a + RSIZE - 32, 32);
		memcpy(want + 32, pat_b, 32);
		data = want;
	}
	test_expect_bytes(c->m, FDIO_GPA, data, FDIO_LEN);
}

static void fdio_ok(struct ctx *c)
{
	unsigned int k = c->op->flags;
	uint8_t got[FDIO_LEN];

	switch (k) {
	case OP_READ:
	case OP_READ_DIRTY:
		guest_range_expect(c, pat_new);
		if (k == OP_READ_DIRTY) {
			ck_assert_int_eq(vmmem_dirty_test(c->m, FDIO_GPA), 1);
			ck_assert_int_eq(vmmem_dirty_test(c->m, GPA_B), 1);
		}
		break;
	case OP_PREAD:
	case OP_IOMMU_PREAD:
		guest_range_expect(c, pat_new + FDIO_LEN);
		break;
	case OP_WRITE:
	case OP_IOMMU_WRITE:
		ck_assert_int_eq(read(c->pfd[0], got, FDIO_LEN), FDIO_LEN);
		ck_assert(!memcmp(got, pat_a + RSIZE - 32, 32));
		ck_assert(!memcmp(got + 32, pat_b, 32));
		break;
	default:
		ck_assert_int_eq(pread(c->fd, got, FDIO_LEN, FDIO_LEN), FDIO_LEN);
		ck_assert(!memcmp(got, pat_a + RSIZE - 32, 32));
		ck_assert(!memcmp(got + 32, pat_b, 32));
	}
	/* Back to the patterns. */
	ck_assert_int_eq(vmmem_write_exact(c->m, FDIO_GPA, pat_a + RSIZE - 32, 32), 0);
	ck_assert_int_eq(vmmem_write_exact(c->m, GPA_B, pat_b, 32), 0);
	space_usable(c, 2);
}

static void fdio_fail(struct ctx *c)
{
	unsigned int k = c->op->flags;

	/* Nothing transferred, nothing marked. */
	guest_range_expect(c, NULL);
	if (k == OP_READ_DIRTY) {
		ck_assert_int_eq(vmmem_dirty_test(c->m, FDIO_GPA), 0);
		ck_assert_int_eq(vmmem_dirty_test(c->m, GPA_B), 0);
	}
	space_usable(c, 2);
	ck_assert_int_eq(fdio_run(c), FDIO_LEN);
	fdio_ok(c);
}

/* --------------------------------------------------------- the IOMMU */

enum { IO_NEW = 1, IO_UPDATE, IO_INVALIDATE, IO_INVALIDATE_ALL, IO_MAP };

static bool iommu_setup(struct ctx *c)
{
	space_make(c);
	c->io = SENTINEL;
	if (c->op->flags == IO_NEW)
		return true;
	ck_assert_int_eq(vmmem_iommu_new(&c->io, c->m, NULL), 0);
	ck_assert_int_eq(vmmem_iommu_update(c->io, IOVA_A, RSIZE, GPA_A,
					    VMMEM_PERM_READ | VMMEM_PERM_WRITE), 0);
	c->len = 256;
	c->host = SENTINEL;
	return true;
}

static long iommu_run(struct ctx *c)
{
	switch (c->op->flags) {
	case IO_NEW:
		return vmmem_iommu_new(&c->io, c->m, NULL);
	case IO_UPDATE:
		/* Splits the entry in three. */
		return vmmem_iommu_update(c->io, IOVA_A + 0x4000, 0x1000, GPA_B,
					  VMMEM_PERM_READ);
	case IO_INVALIDATE:
		return vmmem_iommu_invalidate(c->io, IOVA_A + 0x4000, 0x1000);
	case IO_INVALIDATE_ALL:
		return vmmem_iommu_invalidate_all(c->io);
	default:
		return vmmem_iommu_map(c->io, IOVA_A + 0x100, &c->len,
				       VMMEM_MAP_READ, &c->host);
	}
}

/* The IOTLB of the setup: one entry, IOVA_A -> A, read/write. */
static void iotlb_as_set_up(struct ctx *c)
{
	uint8_t buf[256];

	ck_assert_int_eq(vmmem_iommu_num_entries(c->io), 1);
	ck_assert_int_eq(vmmem_iommu_read_exact(c->io, IOVA_A + 0x4000, buf,
						sizeof(buf)), 0);
	ck_assert(!memcmp(buf, pat_a + 0x4000, sizeof(buf)));
	ck_assert_int_eq(vmmem_iommu_write_exact(c->io, IOVA_A + 0x4000,
						 pat_a + 0x4000, 16), 0);
}

static void iommu_ok(struct ctx *c)
{
	uint8_t buf[256];

	switch (c->op->flags) {
	case IO_NEW:
		ck_assert_ptr_ne(c->io, SENTINEL);
		ck_assert_int_eq(vmmem_iommu_num_entries(c->io), 0);
		ck_assert_int_eq(vmmem_iommu_read(c->io, IOVA_A, buf, 1), -EAGAIN);
		ck_assert_int_eq(vmmem_iommu_update(c->io, IOVA_A, RSIZE, GPA_A,
						    VMMEM_PERM_READ |
						    VMMEM_PERM_WRITE), 0);
		iotlb_as_set_up(c);
		break;
	case IO_UPDATE:
		ck_assert_int_eq(vmmem_iommu_num_entries(c->io), 3);
		ck_assert_int_eq(vmmem_iommu_read_exact(c->io, IOVA_A + 0x4000,
							buf, sizeof(buf)), 0);
		ck_assert(!memcmp(buf, pat_b, sizeof(buf)));
		ck_assert_int_eq(vmmem_iommu_write(c->io, IOVA_A + 0x4000, buf, 1),
				 -EACCES);
		break;
	case IO_INVALIDATE:
		ck_assert_int_eq(vmmem_iommu_num_entries(c->io), 2);
		ck_assert_int_eq(vmmem_iommu_read(c->io, IOVA_A + 0x4000, buf, 1),
				 -EAGAIN);
		ck_assert_int_eq(vmmem_iommu_read_exact(c->io, IOVA_A, buf, 16), 0);
		ck_assert(!memcmp(buf, pat_a, 16));
		break;
	case IO_INVALIDATE_ALL:
		ck_assert_int_eq(vmmem_iommu_num_entries(c->io), 0);
		ck_assert_int_eq(vmmem_iommu_read(c->io, IOVA_A, buf, 1), -EAGAIN);
		break;
	default:
		ck_assert_uint_eq(c->len, 256);
		ck_assert_ptr_eq(c->host, test_host_of_gpa(c->m, GPA_A + 0x100));
		ck_assert_int_eq(vmmem_iommu_unmap(c->io, c->host, 0), 0);
		break;
	}
	space_usable(c, 2);
}

static void iommu_fail(struct ctx *c)
{
	/* "the IOTLB is then unchanged"; vmmem_iommu_map() "changes neither
	 * *len nor *host". */
	if (c->op->flags != IO_NEW)
		iotlb_as_set_up(c);
	if (c->op->flags == IO_MAP) {
		ck_assert_uint_eq(c->len, 256);
		ck_assert_ptr_eq(c->host, SENTINEL);
	}
	space_usable(c, 2);
	ck_assert_int_eq(iommu_run(c), 0);
	iommu_ok(c);
}

/* ------------------------------------------------------ the table */

#define A(...) ((const char *const[]){ __VA_ARGS__, NULL })

#define REGION_OP(nm, fl, ...)                                                \
	{ .name = nm, .flags = fl, .errs = E_REGION_NEW,                      \
	  .pass = P_REGION_NEW, .expect = A(__VA_ARGS__),                     \
	  .setup = region_setup, .run = region_run, .after_ok = region_ok,    \
	  .after_fail = region_fail, .teardown = fds_teardown }

/* ------------------------------------------- vhost-user messages */

/* One memfd: A's bytes at 0, B's at RSIZE, C's at 2 * RSIZE + 0x100 (an
 * mmap_offset that is not page aligned). */
#define VH_UADDR 0x7f0000000000ull
static const struct vmmem_vhost_region vh_a = { GPA_A, RSIZE, VH_UADDR, 0 };
static const struct vmmem_vhost_region vh_b = { GPA_B, RSIZE,
						VH_UADDR + RSIZE, RSIZE };
static const struct vmmem_vhost_region vh_c = { GPA_NEW, RSIZE,
						VH_UADDR + 4 * RSIZE,
						2 * RSIZE + 0x100 };

/* A and B placed from a SET_MEM_TABLE, logging on, A's first page dirty;
 * c->host is A's region object. */
static bool vhost_setup(struct ctx *c)
{
	const struct vmmem_vhost_region vr[2] = { vh_a, vh_b };
	int fds[2];

	c->fd = memfd_create("faults-vhost", MFD_CLOEXEC);
	ck_assert_int_ge(c->fd, 0);
	ck_assert_int_eq(ftruncate(c->fd, 3 * RSIZE + 0x100), 0);
	ck_assert_int_eq(pwrite(c->fd, pat_a, RSIZE, 0), RSIZE);
	ck_assert_int_eq(pwrite(c->fd, pat_b, RSIZE, RSIZE), RSIZE);
	ck_assert_int_eq(pwrite(c->fd, pat_new, RSIZE, 2 * RSIZE + 0x100),
			 RSIZE);
	fds[0] = fds[1] = c->fd;
	ck_assert_int_eq(vmmem_new(&c->m, 0), 0);
	ck_assert_int_eq(vmmem_vhost_set_mem_table(c->m, vr, fds, 2, NULL), 0);
	ck_assert_int_eq(vmmem_dirty_start(c->m, 0), 0);
	ck_assert_int_eq(vmmem_write_exact(c->m, GPA_A, pat_a, 8), 0);
	ck_assert_int_eq(vmmem_find_region(c->m, GPA_A,
					   (struct vmmem_region **)&c->host,
					   NULL), 0);
	vmmem_region_unref(c->host);            /* the space holds it */
	return true;
}

/* A is the same object with its dirty bit; the regions in present[]
 * (A, B, C) hold their bytes, the others are gone. */
static void vhost_expect(struct ctx *c, bool b, bool cc)
{
	struct vmmem_region *r = NULL;
	uint8_t x;

	ck_assert_int_eq(vmmem_num_regions(c->m), 1 + b + cc);
	ck_assert_int_eq(vmmem_find_region(c->m, GPA_A, &r, NULL), 0);
	ck_assert_ptr_eq(r, c->host);
	vmmem_region_unref(r);
	ck_assert_int_eq(vmmem_dirty_test(c->m, GPA_A), 1);
	test_expect_bytes(c->m, GPA_A, pat_a, RSIZE);
	if (b)
		test_expect_bytes(c->m, GPA_B, pat_b, RSIZE);
	else
		ck_assert_int_eq(vmmem_read(c->m, GPA_B, &x, 1), -EFAULT);
	if (cc)
		test_expect_bytes(c->m, GPA_NEW, pat_new, RSIZE);
	else
		ck_assert_int_eq(vmmem_read(c->m, GPA_NEW, &x, 1), -EFAULT);
}

static long vset_run(struct ctx *c)
{
	const struct vmmem_vhost_region vr[2] = { vh_c, vh_a };
	int fds[2] = { c->fd, c->fd };

	return vmmem_vhost_set_mem_table(c->m, vr, fds, 2, NULL);
}

static void vset_ok(struct ctx *c)
{
	vhost_expect(c, false, true);
}

static void vset_fail(struct ctx *c)
{
	vhost_expect(c, true, false);           /* exactly as it was */
	ck_assert_int_eq(vset_run(c), 0);
	vset_ok(c);
}

static long vadd_run(struct ctx *c)
{
	return vmmem_vhost_add_mem_reg(c->m, &vh_c, c->fd, NULL);
}

static void vadd_ok(struct ctx *c)
{
	vhost_expect(c, true, true);
}

static void vadd_fail(struct ctx *c)
{
	vhost_expect(c, true, false);
	ck_assert_int_eq(vadd_run(c), 0);
	vadd_ok(c);
}

static long vrem_run(struct ctx *c)
{
	return vmmem_vhost_rem_mem_reg(c->m, &vh_b);
}

static void vrem_ok(struct ctx *c)
{
	vhost_expect(c, false, false);
}

static void vrem_fail(struct ctx *c)
{
	vhost_expect(c, true, false);
	ck_assert_int_eq(vrem_run(c), 0);
	vrem_ok(c);
}

#define SPACE_OP(nm, fl, e, p, st, rn, ok, fail, td, ...)                     \
	{ .name = nm, .flags = fl, .errs = e, .pass = p,                      \
	  .expect = A(__VA_ARGS__), .setup = st, .run = rn,                   \
	  .after_ok = ok, .after_fail = fail, .teardown = td }

#define S VMMEM_REGION_SHAREABLE
#define ALL_POLICY (VMMEM_REGION_THP | VMMEM_REGION_DONTDUMP |                \
		    VMMEM_REGION_DONTFORK | VMMEM_REGION_MERGEABLE)

static const struct op ops[] = {
	REGION_OP("vmmem_region_new(NULL opts: anonymous)", 0, "calloc", "mmap"),
	REGION_OP("vmmem_region_new(SHAREABLE)", S,
		  "calloc", "memfd_create", "ftruncate", "mmap"),
	REGION_OP("vmmem_region_new(SHAREABLE|SEAL)", S | VMMEM_REGION_SEAL,
		  "calloc", "memfd_create", "ftruncate", "mmap", "fcntl"),
	REGION_OP("vmmem_region_new(FD)", VMMEM_REGION_FD,
		  "calloc", "fcntl", "fstat", "fstatfs", "mmap"),
	REGION_OP("vmmem_region_new(FD|PRIVATE)",
		  VMMEM_REGION_FD | VMMEM_REGION_PRIVATE,
		  "calloc", "fcntl", "fstat", "fstatfs", "mmap"),
	REGION_OP("vmmem_region_new(GUARD)", VMMEM_REGION_GUARD,
		  "calloc", "mmap"),
	REGION_OP("vmmem_region_new(SHAREABLE|GUARD)", S | VMMEM_REGION_GUARD,
		  "calloc", "memfd_create", "ftruncate", "mmap"),
	REGION_OP("vmmem_region_new(POPULATE)", VMMEM_REGION_POPULATE,
		  "calloc", "mmap", "madvise"),
	REGION_OP("vmmem_region_new(SHAREABLE|POPULATE)",
		  S | VMMEM_REGION_POPULATE,
		  "calloc", "memfd_create", "ftruncate", "mmap", "madvise"),
	REGION_OP("vmmem_region_new(MLOCK)", VMMEM_REGION_MLOCK,
		  "calloc", "mmap", "mlock"),
	REGION_OP("vmmem_region_new(NUMA_BIND)", VMMEM_REGION_NUMA_BIND,
		  "calloc", "mmap", "mbind"),
	REGION_OP("vmmem_region_new(THP|DONTDUMP|DONTFORK|MERGEABLE)",
		  ALL_POLICY, "calloc", "mmap", "madvise"),
	REGION_OP("vmmem_region_new(FD|PRIVATE|GUARD|DONTDUMP|POPULATE|MLOCK)",
		  VMMEM_REGION_FD | VMMEM_REGION_PRIVATE | VMMEM_REGION_GUARD |
		  VMMEM_REGION_DONTDUMP | VMMEM_REGION_POPULATE |
		  VMMEM_REGION_MLOCK,
		  "calloc", "fcntl", "fstat", "fstatfs", "mmap", "madvise",
		  "mlock"),
	REGION_OP("vmmem_region_new(SHAREABLE|SEAL|GUARD|THP|DONTDUMP|DONTFORK|"
		  "MERGEABLE|NUMA_BIND|POPULATE|MLOCK)",
		  S | VMMEM_REGION_SEAL | VMMEM_REGION_GUARD | ALL_POLICY |
		  VMMEM_REGION_NUMA_BIND | VMMEM_REGION_POPULATE |
		  VMMEM_REGION_MLOCK,
		  "calloc", "memfd_create", "ftruncate", "mmap", "fcntl",
		  "madvise", "mbind", "mlock"),
	REGION_OP("vmmem_region_new(HUGETLB|GUARD)",
		  VMMEM_REGION_HUGETLB | VMMEM_REGION_GUARD, "calloc", "mmap"),
	REGION_OP("vmmem_region_new(SHAREABLE|HUGETLB)",
		  S | VMMEM_REGION_HUGETLB,
		  "calloc", "memfd_create", "ftruncate", "mmap"),
	SPACE_OP("vmmem_region_new_raw", 0, E_RAW, NULL, raw_setup, raw_run,
		 raw_ok, raw_fail, raw_teardown, "calloc"),
	SPACE_OP("vmmem_new", 0, E_NEW, NULL, new_setup, new_run, new_ok,
		 new_fail, fds_teardown, "posix_memalign"),
	SPACE_OP("vmmem_new_from_ranges(anonymous + fd, GUARD|DONTDUMP)",
		 VMMEM_REGION_GUARD | VMMEM_REGION_DONTDUMP, E_RANGES,
		 P_REGION_NEW, ranges_setup, ranges_run, ranges_ok, ranges_fail,
		 fds_teardown, "posix_memalign", "calloc", "mmap", "madvise",
		 "fcntl", "fstat", "fstatfs"),
	SPACE_OP("vmmem_new_from_ranges(3 x SHAREABLE|POPULATE)",
		 S | VMMEM_REGION_POPULATE, E_RANGES, P_REGION_NEW,
		 ranges_setup, ranges_run, ranges_ok, ranges_fail, fds_teardown,
		 "posix_memalign", "calloc", "memfd_create", "ftruncate",
		 "mmap", "madvise"),
	SPACE_OP("vmmem_add_region", 0, E_ADD, NULL, add_setup, add_run,
		 add_ok, add_fail, space_teardown, "posix_memalign"),
	SPACE_OP("vmmem_add_region(dirty logging on)", 1, E_ADD, NULL,
		 add_setup, add_run, add_ok, add_fail, space_teardown,
		 "posix_memalign", "calloc"),
	SPACE_OP("vmmem_vhost_set_mem_table(A kept, B out, C new unaligned)", 0,
		 E_VHOST_MAP, P_VHOST_MAP, vhost_setup, vset_run, vset_ok,
		 vset_fail, space_teardown, "calloc", "posix_memalign", "fstat",
		 "fcntl", "mmap"),
	SPACE_OP("vmmem_vhost_add_mem_reg(unaligned)", 0, E_VHOST_MAP,
		 P_VHOST_MAP, vhost_setup, vadd_run, vadd_ok, vadd_fail,
		 space_teardown, "calloc", "posix_memalign", "fcntl", "fstat",
		 "mmap"),
	SPACE_OP("vmmem_vhost_rem_mem_reg", 0, E_REMOVE, NULL, vhost_setup,
		 vrem_run, vrem_ok, vrem_fail, space_teardown, "posix_memalign"),
	SPACE_OP("vmmem_remove_region", 0, E_REMOVE, NULL, remove_setup,
		 remove_run, remove_ok, remove_fail, space_teardown,
		 "posix_memalign"),
	SPACE_OP("vmmem_foreach_region", 0, E_FOREACH, NULL, space_setup,
		 foreach_run, foreach_ok, foreach_fail, space_teardown, "malloc"),
	SPACE_OP("vmmem_foreach_region(no region)", 0, E_FOREACH, NULL,
		 empty_setup, foreach_run, foreach_empty_ok, foreach_empty_fail,
		 space_teardown, "malloc"),
	SPACE_OP("vmmem_map", 0, E_MAP, NULL, map_setup, map_run, map_ok,
		 map_fail, space_teardown, "malloc"),
	SPACE_OP("vmmem_dirty_start", 0, E_DSTART, NULL, space_setup,
		 dstart_run, dstart_ok, dstart_fail, space_teardown,
		 "posix_memalign", "calloc"),
	SPACE_OP("vmmem_dirty_stop", 0, E_DSTOP, NULL, dstop_setup, dstop_run,
		 dstop_ok, dstop_fail, space_teardown, "posix_memalign"),
	SPACE_OP("vmmem_dirty_shared_set_fd", 0, E_SHARED_FD, P_SHARED_FD,
		 shared_fd_setup, shared_fd_run, shared_set_ok, shared_set_fail,
		 space_teardown, "mmap"),
	SPACE_OP("vmmem_dirty_shared_set", 0, E_SHARED, NULL, shared_buf_setup,
		 shared_buf_run, shared_set_ok, shared_set_fail,
		 shared_buf_teardown, "posix_memalign"),
	SPACE_OP("vmmem_dirty_shared_stop", 0, E_SHARED_STOP, NULL,
		 shared_stop_setup, shared_stop_run, shared_stop_ok,
		 shared_stop_fail, space_teardown, "posix_memalign"),
	SPACE_OP("vmmem_region_discard(anonymous)", 0, E_DISCARD, P_DISCARD,
		 discard_setup, discard_run, discard_ok, discard_fail,
		 discard_teardown, "madvise"),
	SPACE_OP("vmmem_region_discard(FD|PRIVATE)",
		 VMMEM_REGION_FD | VMMEM_REGION_PRIVATE, E_DISCARD, P_DISCARD,
		 discard_setup, discard_run, discard_ok, discard_fail,
		 discard_teardown, "madvise"),
	SPACE_OP("vmmem_region_discard(SHAREABLE)", S, E_DISCARD, P_DISCARD,
		 discard_setup, discard_run, discard_ok, discard_fail,
		 discard_teardown, "fallocate"),
	SPACE_OP("vmmem_region_discard(FD)", VMMEM_REGION_FD, E_DISCARD,
		 P_DISCARD, discard_setup, discard_run, discard_ok, discard_fail,
		 discard_teardown, "fallocate"),
	SPACE_OP("vmmem_region_check(SHAREABLE)", S, E_CHECK, P_CHECK,
		 check_setup, check_run, check_ok, check_fail, discard_teardown,
		 "fstat"),
	SPACE_OP("vmmem_region_check(FD)", VMMEM_REGION_FD, E_CHECK, P_CHECK,
		 check_setup, check_run, check_ok, check_fail, discard_teardown,
		 "fstat"),
	SPACE_OP("vmmem_read_fd", OP_READ, E_FDIO, P_FDIO, fdio_setup,
		 fdio_run, fdio_ok, fdio_fail, space_teardown, "readv"),
	SPACE_OP("vmmem_pread_fd", OP_PREAD, E_FDIO, P_FDIO, fdio_setup,
		 fdio_run, fdio_ok, fdio_fail, space_teardown, "preadv"),
	SPACE_OP("vmmem_write_fd", OP_WRITE, E_FDIO, P_FDIO, fdio_setup,
		 fdio_run, fdio_ok, fdio_fail, space_teardown, "writev"),
	SPACE_OP("vmmem_pwrite_fd", OP_PWRITE, E_FDIO, P_FDIO, fdio_setup,
		 fdio_run, fdio_ok, fdio_fail, space_teardown, "pwritev"),
	SPACE_OP("vmmem_read_fd(dirty logging on)", OP_READ_DIRTY, E_FDIO,
		 P_FDIO, fdio_setup, fdio_run, fdio_ok, fdio_fail,
		 space_teardown, "readv"),
	SPACE_OP("vmmem_iommu_pread_fd", OP_IOMMU_PREAD, E_IOMMU_FDIO, P_FDIO,
		 fdio_setup, fdio_run, fdio_ok, fdio_fail, space_teardown,
		 "preadv"),
	SPACE_OP("vmmem_iommu_write_fd", OP_IOMMU_WRITE, E_IOMMU_FDIO, P_FDIO,
		 fdio_setup, fdio_run, fdio_ok, fdio_fail, space_teardown,
		 "writev"),
	SPACE_OP("vmmem_iommu_new", IO_NEW, E_IOMMU_NEW, NULL, iommu_setup,
		 iommu_run, iommu_ok, iommu_fail, space_teardown, "calloc"),
	SPACE_OP("vmmem_iommu_update", IO_UPDATE, E_IOMMU_UPD, NULL,
		 iommu_setup, iommu_run, iommu_ok, iommu_fail, space_teardown,
		 "malloc"),
	SPACE_OP("vmmem_iommu_invalidate", IO_INVALIDATE, E_IOMMU_UPD, NULL,
		 iommu_setup, iommu_run, iommu_ok, iommu_fail, space_teardown,
		 "malloc"),
	SPACE_OP("vmmem_iommu_invalidate_all", IO_INVALIDATE_ALL, E_IOMMU_UPD,
		 NULL, iommu_setup, iommu_run, iommu_ok, iommu_fail,
		 space_teardown, "calloc"),
	SPACE_OP("vmmem_iommu_map", IO_MAP, E_IOMMU_MAP, NULL, iommu_setup,
		 iommu_run, iommu_ok, iommu_fail, space_teardown, "malloc"),
};

#define NOPS ((int)(sizeof(ops) / sizeof(ops[0])))

/* ---------------------------------------------------------- the driver */

static void ctx_init(struct ctx *c, const struct op *op)
{
	memset(c, 0, sizeof(*c));
	c->op = op;
	c->fd = c->pfd[0] = c->pfd[1] = -1;
}

/* One run of the operation with the nth fault point failing with err
 * (nth = 0: none); returns its result and, in *points, the number of
 * fault points it reached.  Returns false if the setup skipped. */
static bool run_once(struct ctx *c, const struct op *op, unsigned long nth,
		     int err, long *ret, unsigned long *points)
{
	ctx_init(c, op);
	if (!op->setup(c))
		return false;
	f_begin(nth, err);
	*ret = op->run(c);
	*points = f_end();
	return true;
}

START_TEST(fault_every_call)
{
	const struct op *op = &ops[_i];
	struct fault_call trace[64], got;
	unsigned long n, points;
	struct res before;
	struct ctx c;
	int injected = 0, recovered = 0, nbad = 0;
	char bad[8][1024];
	long ret;
	char line[2048];
	size_t at;

	/* Once without faults: the one-time initialisations (liburcu's
	 * threads and registry, membarrier registration, the atfork
	 * handlers) happen here, and a feature the machine lacks shows. */
	if (!run_once(&c, op, 0, 0, &ret, &n))
		return;
	if (ret < 0) {
		printf("test-faults: SKIP %s: fails without faults: %s\n",
		       op->name, strerror((int)-ret));
		op->teardown(&c);
		return;
	}
	op->after_ok(&c);
	op->teardown(&c);

	/* Once more to count the fault points, leak-checked too. */
	res_take(&before);
	ck_assert(run_once(&c, op, 0, 0, &ret, &n));
	ck_assert_msg(ret >= 0, "%s: %s", op->name, strerror((int)-ret));
	ck_assert_msg(n > 0 && n <= sizeof(trace) / sizeof(trace[0]),
		      "%s: %lu fault points", op->name, n);
	at = (size_t)snprintf(line, sizeof(line), "test-faults: %s: %lu fault point%s:",
			      op->name, n, n == 1 ? "" : "s");
	for (unsigned long i = 1; i <= n; i++) {
		ck_assert(f_get(i, &trace[i - 1]));
		if (at < sizeof(line))
			at += (size_t)snprintf(line + at, sizeof(line) - at,
					       " %s@%#" PRIxPTR, call_name(&trace[i - 1]),
					       trace[i - 1].site);
	}
	op->after_ok(&c);
	op->teardown(&c);
	res_expect(&before, op->name);
	printf("%s\n", line);
	for (const char *const *e = op->expect; *e; e++) {
		bool seen = false;

		for (unsigned long i = 0; i < n; i++)
			seen |= !strcmp(trace[i].fn, *e);
		ck_assert_msg(seen, "%s: no call of %s seen: is libfault.so "
			      "interposing it?", op->name, *e);
	}

	/* Then each fault point fails in turn, with each of its errnos. */
	for (unsigned long i = 1; i <= n; i++) {
		const struct fault_call *fc = &trace[i - 1];
		int errs[4], ne = errs_for(fc, errs);
		char what[512];

		/* A failed membarrier(2) switches the process to fencing
		 * writers for good, so the call is not made again for the next
		 * errno: the membarrier tests below cover it, each in a fresh
		 * process. */
		if (!strcmp(fc->fn, "syscall") && fc->detail == __NR_membarrier)
			continue;

		ck_assert_msg(ne > 0, "%s: no errno for %s", op->name, fc->fn);
		for (int k = 0; k < ne; k++) {
			int err = errs[k];

			snprintf(what, sizeof(what), "%s, fault point %lu %s -> %s",
				 op->name, i, call_name(fc), strerror(err));
			res_take(&before);
			ck_assert(run_once(&c, op, i, err, &ret, &points));
			ck_assert_msg(f_get(i, &got) && got.failed &&
				      !strcmp(got.fn, fc->fn) &&
				      got.detail == fc->detail,
				      "%s: not reached (the calls differ from "
				      "the counting run)", what);
			if (recovers(fc, err)) {
				ck_assert_msg(ret >= 0, "%s: returned %s, want "
					      "success (the library recovers)",
					      what, strerror((int)-ret));
				op->after_ok(&c);
				recovered++;
			} else {
				ck_assert_msg(ret < 0, "%s: returned %ld, want "
					      "-%d: the failure was ignored",
					      what, ret, err);
				ck_assert_msg(ret == -err, "%s: returned %s, "
					      "want the injected %s", what,
					      strerror((int)-ret), strerror(err));
				/* Noted, and the checks go on: the
				 * object must still be usable, and the
				 * later fault points are still tried. */
				if (!documented(op, fc->fn, err) && nbad < 8)
					snprintf(bad[nbad++], sizeof(bad[0]),
						 "%s: -%s is not documented by "
						 "%s(3)", what, errno_name(err),
						 man_of(op->name));
				op->after_fail(&c);
				injected++;
			}
			op->teardown(&c);
			res_expect(&before, what);
		}
	}
	printf("test-faults: %s: %d failures surfaced, %d recovered from\n",
	       op->name, injected, recovered);
	for (int k = 0; k < nbad; k++)
		printf("test-faults: FAIL %s\n", bad[k]);
	fflush(stdout);
	ck_assert_msg(nbad == 0, "%s%s", bad[0],
		      nbad > 1 ? " (and more: see the log)" : "");
}
END_TEST


/* --------------------------------------------------------- membarrier */

static const int membarrier_errs[] = { EPERM, EINVAL, ENOSYS };
#define N_MEMBARRIER_ERRS ((int)(sizeof(membarrier_errs) / sizeof(membarrier_errs[0])))

/* Registration is once per process, by its first vmmem_dirty_start(): these
 * tests need the fresh process Check forks for each of them. */
static bool fresh_process(void)
{
	const char *f = getenv("CK_FORK");

	if (f && !strcmp(f, "no")) {
		printf("test-faults: SKIP membarrier tests: they need CK_FORK=yes\n");
		return false;
	}
	return true;
}

/* The library's reclaim thread and liburcu's reader registry come with the first
 * address space of the process, and stay: made before the resources are
 * counted, without vmmem_dirty_start(). */
static void warm_up(struct ctx *c)
{
	ctx_init(c, &ops[0]);
	space_make(c);
	space_teardown(c);
	ctx_init(c, &ops[0]);
}

/* Dirties a page of A and one of B, harvests them (the membarrier call of
 * the harvest, if it makes one, failing with fail_err), and checks the
 * bitmap, which calls the harvest made, and that logging goes on. */
static void harvest_checked(struct ctx *c, int fail_err, bool expect_call)
{
	uint64_t bitmap[1] = { 0 };
	struct fault_call fc;
	unsigned long n;

	ck_assert_int_eq(vmmem_write_exact(c->m, GPA_A, pat_a, 8), 0);
	ck_assert_int_eq(vmmem_write_exact(c->m, GPA_B + 0x3000, pat_b + 0x3000, 8), 0);
	f_arm("syscall", fail_err ? 1 : 0, fail_err);
	ck_assert_int_eq(vmmem_dirty_harvest(c->m, 0, 32 * 4096, bitmap), 2);
	n = f_end();
	ck_assert_uint_eq(bitmap[0], (1ull << 0) | (1ull << 19));
	if (expect_call) {
		ck_assert_uint_eq(n, 1);
		ck_assert(f_get(1, &fc));
		ck_assert_str_eq(fc.fn, "syscall");
		ck_assert_int_eq(fc.detail, __NR_membarrier);
		ck_assert_int_eq(fc.failed, !!fail_err);
	} else {
		ck_assert_uint_eq(n, 0);
	}
	ck_assert_int_eq(vmmem_dirty_test(c->m, GPA_A), 0);
	ck_assert_int_eq(vmmem_write_exact(c->m, GPA_A, pat_a, 8), 0);
	ck_assert_int_eq(vmmem_dirty_test(c->m, GPA_A), 1);
	ck_assert_int_eq(vmmem_dirty_clear(c->m, 0, GPA_B + RSIZE), 0);
}

/* MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED fails in the first
 * vmmem_dirty_start() of the process: logging works all the same, with
 * the writers fencing, and harvests make no membarrier call. */
START_TEST(membarrier_register_fails)
{
	int err = membarrier_errs[_i];
	struct fault_call fc;
	struct res before;
	unsigned long n;
	bool seen = false;
	struct ctx c;

	if (!fresh_process())
		return;
	warm_up(&c);
	res_take(&before);
	space_make(&c);
	f_arm("syscall", 1, err);
	ck_assert_int_eq(vmmem_dirty_start(c.m, 0), 0);
	n = f_end();
	for (unsigned long i = 1; i <= n && !seen; i++) {
		ck_assert(f_get(i, &fc));
		seen = fc.failed;
	}
	ck_assert_msg(seen, "the first vmmem_dirty_start() of the process "
		      "made no membarrier call");
	ck_assert_str_eq(fc.fn, "syscall");
	ck_assert_int_eq(fc.detail, __NR_membarrier);
	harvest_checked(&c, 0, false);
	space_usable(&c, 2);
	ck_assert_int_eq(vmmem_dirty_stop(c.m), 0);
	space_teardown(&c);
	res_expect(&before, "membarrier registration failing");
	printf("test-faults: vmmem_dirty_start, syscall(membarrier REGISTER) -> %s: "
	       "recovered from\n", strerror(err));
}
END_TEST

/* MEMBARRIER_CMD_PRIVATE_EXPEDITED fails in a harvest: the harvest still
 * reports the right pages, and the later ones fence instead. */
START_TEST(membarrier_expedited_fails)
{
	int err = membarrier_errs[_i];
	uint64_t bitmap[1];
	struct res before;
	struct ctx c;
	unsigned long n;

	if (!fresh_process())
		return;
	warm_up(&c);
	res_take(&before);
	space_make(&c);
	ck_assert_int_eq(vmmem_dirty_start(c.m, 0), 0);
	f_begin(0, 0);
	ck_assert_int_ge(vmmem_dirty_harvest(c.m, 0, 4096, bitmap), 0);
	n = f_end();
	if (n == 0) {
		printf("test-faults: SKIP membarrier_expedited_fails: "
		       "membarrier(2) is not usable here\n");
	} else {
		harvest_checked(&c, err, true);
		harvest_checked(&c, 0, false);
		printf("test-faults: vmmem_dirty_harvest, syscall(membarrier "
		       "PRIVATE_EXPEDITED) -> %s: recovered from\n", strerror(err));
	}
	space_usable(&c, 2);
	ck_assert_int_eq(vmmem_dirty_stop(c.m), 0);
	space_teardown(&c);
	res_expect(&before, "membarrier failing in a harvest");
}
END_TEST

/* ------------------------------------------------------ pthread_atfork */

/* The library registers its fork handlers once per process,
 * from vmmem_new() (lib/space/reclaim.c, space_register_atfork), and tries
 * again after a failure.  With that registration failing, vmmem_new()
 * fails with -ENOMEM (vmmem_new(3) documents it); the retry must succeed,
 * and a child forked afterwards must hotplug and free its address space
 * without hanging (as tests/test-hotplug.c fork_after_hotplug checks). */
START_TEST(atfork_registration_fails)
{
	struct vmmem_region *r = test_region(4096);
	struct fault_call fc;
	struct vmmem *m = NULL;
	const char *who = "vmmem_new";
	unsigned long n;
	int status = -1;
	bool seen = false;
	long ret;
	pid_t pid;

	if (!fresh_process()) {
		vmmem_region_unref(r);
		return;
	}
	f_arm("pthread_atfork", 1, ENOMEM);
	ret = vmmem_new(&m, 0);
	if (ret == 0) {
		who = "vmmem_add_region";
		ret = vmmem_add_region(m, 0, r);
	}
	n = f_end();
	for (unsigned long i = 1; i <= n && !seen; i++) {
		ck_assert(f_get(i, &fc));
		seen = fc.failed;
	}
	ck_assert_msg(seen, "no pthread_atfork in the first vmmem_new() and "
		      "vmmem_add_region() of the process");
	if (ret == -ENOMEM && !m) {
		ck_assert_int_eq(vmmem_new(&m, 0), 0);
		ck_assert_int_eq(vmmem_add_region(m, 0, r), 0);
	} else if (ret == -ENOMEM) {
		ck_assert_int_eq(vmmem_num_regions(m), 0);
		ck_assert_int_eq(vmmem_add_region(m, 0, r), 0);
	} else {
		ck_assert_msg(ret == 0, "%s: %s", who, strerror((int)-ret));
	}
	printf("test-faults: %s, pthread_atfork -> ENOMEM: returned %ld\n",
	       who, ret);
	fflush(stdout);
	ck_assert_int_eq(vmmem_remove_region(m, 0, 4096, NULL), 0);
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(vmmem_add_region(m, 0, r), 0);
		ck_assert_int_eq(vmmem_remove_region(m, 0, 4096, NULL), 0);
	}
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int ok = 1;

		/* A hang fails the test: SIGALRM kills the child (Check's
		 * own SIGALRM handler, inherited, would kill the test). */
		signal(SIGALRM, SIG_DFL);
		alarm(10);
		for (int i = 0; i < 20; i++)
			ok &= vmmem_add_region(m, 0, r) == 0 &&
			      vmmem_remove_region(m, 0, 4096, NULL) == 0;
		if (!ok)
			_exit(1);
		alarm(10);
		vmmem_free(m);
		vmmem_region_unref(r);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "%s() returned %ld with the registration of the fork "
		      "handlers failed, and a child forked afterwards %s",
		      who, ret,
		      WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ?
		      "hung (killed after 10 s): hotplug and vmmem_free() "
		      "need the handlers" : "failed");
	vmmem_free(m);
	vmmem_region_unref(r);
}
END_TEST

/* ------------------------------------------- calls that make no call */

/* The access paths allocate nothing and call nothing that can fail, so
 * there is nothing to inject there: checked, so that a call added to them
 * later is noticed and gets its fault test.  A harvest or clear makes one
 * membarrier call (tested above). */
START_TEST(access_paths_make_no_calls)
{
	struct vmmem_region *r = NULL;
	struct iovec iov[4];
	struct ctx c;
	uint8_t buf[256];
	uint64_t v = 0, off = 0, len = 64, bitmap[1];
	unsigned int fl;
	void *host = NULL, *mapped = NULL;
	unsigned long n;
	uint16_t v16;

	ctx_init(&c, &ops[0]);
	space_make(&c);
	ck_assert_int_eq(vmmem_dirty_start(c.m, 0), 0);
	ck_assert_int_eq(vmmem_iommu_new(&c.io, c.m, NULL), 0);
	ck_assert_int_eq(vmmem_iommu_update(c.io, IOVA_A, 2 * RSIZE, GPA_A,
					    VMMEM_PERM_READ | VMMEM_PERM_WRITE), 0);
	ck_assert_int_eq(vmmem_map(c.m, GPA_A, &len, VMMEM_MAP_WRITE, &mapped), 0);

	f_begin(0, 0);
	ck_assert_int_eq(vmmem_read(c.m, GPA_B - 8, buf, 16), 16);
	ck_assert_int_eq(vmmem_write(c.m, GPA_B - 8, buf, 16), 16);
	ck_assert_int_eq(vmmem_read_exact(c.m, GPA_A, buf, sizeof(buf)), 0);
	ck_assert_int_eq(vmmem_write_exact(c.m, GPA_A, buf, sizeof(buf)), 0);
	ck_assert_int_eq(vmmem_read_le16(c.m, GPA_A, &v16), 0);
	ck_assert_int_eq(vmmem_write_le16(c.m, GPA_A, v16), 0);
	ck_assert_int_eq(vmmem_load(c.m, GPA_B, 8, &v, VMMEM_ORDER_ACQUIRE), 0);
	ck_assert_int_eq(vmmem_store(c.m, GPA_B, 8, v, VMMEM_ORDER_RELEASE), 0);
	ck_assert_int_eq(vmmem_fill(c.m, GPA_A + 0x100, 0x77, 16), 0);
	ck_assert_int_eq(vmmem_copy(c.m, GPA_B - 0x100, GPA_A, 0x200), 0);
	ck_assert_int_eq(vmmem_host_address(c.m, GPA_A, 16, &host), 0);
	ck_assert_int_eq(vmmem_iovec(c.m, GPA_B - 8, 16, iov, 4), 2);
	ck_assert_int_eq(vmmem_find_region(c.m, GPA_B, &r, &off), 0);
	ck_assert_int_eq(vmmem_region_size(r, &v), 0);
	ck_assert_int_eq(vmmem_region_flags(r, &fl), 0);
	ck_assert_int_ge(vmmem_region_fd(r, &off), 0);
	ck_assert_int_eq(vmmem_region_host_address(r, &host), 0);
	vmmem_region_unref(vmmem_region_ref(r));
	vmmem_region_unref(r);
	ck_assert_int_eq(vmmem_num_regions(c.m), 2);
	ck_assert_int_eq(vmmem_last_addr(c.m, &v), 0);
	ck_assert_int_eq(vmmem_check_range(c.m, GPA_A, 2 * RSIZE), 0);
	ck_assert_int_eq(vmmem_dirty_mark(c.m, GPA_A, 16), 0);
	ck_assert_int_eq(vmmem_dirty_test(c.m, GPA_A), 1);
	ck_assert_int_eq(vmmem_unmap(c.m, mapped, 8), 0);
	ck_assert_int_eq(vmmem_iommu_read(c.io, IOVA_A, buf, 16), 16);
	ck_assert_int_eq(vmmem_iommu_write(c.io, IOVA_A, buf, 16), 16);
	ck_assert_int_eq(vmmem_iommu_read_exact(c.io, IOVA_A + GPA_B - 8, buf, 16), 0);
	ck_assert_int_eq(vmmem_iommu_write_exact(c.io, IOVA_A, buf, 16), 0);
	ck_assert_int_eq(vmmem_iommu_load(c.io, IOVA_A, 4, &v, VMMEM_ORDER_RELAXED), 0);
	ck_assert_int_eq(vmmem_iommu_store(c.io, IOVA_A, 4, v, VMMEM_ORDER_RELAXED), 0);
	ck_assert_int_eq(vmmem_iommu_fill(c.io, IOVA_A + 0x100, 0x77, 16), 0);
	ck_assert_int_eq(vmmem_iommu_iovec(c.io, IOVA_A + GPA_B - 8, 16,
					   VMMEM_PERM_READ, iov, 4), 2);
	ck_assert_int_eq(vmmem_iommu_num_entries(c.io), 1);
	ck_assert_int_eq(vmmem_iommu_read(c.io, IOVA_NEW, buf, 1), -EAGAIN);
	n = f_end();
	if (n) {
		struct fault_call fc;

		ck_assert(f_get(1, &fc));
		ck_abort_msg("the access paths made %lu fault point(s), the "
			     "first %s at %#" PRIxPTR ": give them a fault test",
			     n, call_name(&fc), fc.site);
	}

	/* A harvest and a clear: one membarrier call each, nothing else. */
	f_begin(0, 0);
	ck_assert_int_ge(vmmem_dirty_harvest(c.m, 0, 32 * 4096, bitmap), 1);
	ck_assert_int_eq(vmmem_dirty_clear(c.m, 0, 32 * 4096), 0);
	n = f_end();
	for (unsigned long i = 1; i <= n; i++) {
		struct fault_call fc;

		ck_assert(f_get(i, &fc));
		ck_assert_str_eq(fc.fn, "syscall");
		ck_assert_int_eq(fc.detail, __NR_membarrier);
	}
	ck_assert_uint_le(n, 2);
	space_teardown(&c);
}
END_TEST

/* The calls made once per process (membarrier registration, the fork
 * handlers) are failed in tests of their own, each in the fresh process
 * Check forks for it.  The access paths are checked to make no call that
 * could fail at all.
 *
 * Not fault points: free, munmap and close (cleanup; tracked for the
 * balance), pthread_mutex_init/lock/unlock and pthread_once (they cannot
 * fail with the default attributes glibc gives them), sysconf (a fallback
 * value is built in) and fopen of /proc/meminfo (only for HUGETLB with
 * the default huge page size; a failure means the 2 MiB default).
 *
 * The Xen entry points refuse bad options and answer for non-Xen regions
 * without any call, in both builds.  Without the Xen libraries (stub build)
 * valid options give -EOPNOTSUPP, also without a call.  With them, a
 * FOREIGN region needs privcmd (a dom0): its calls are libxenforeignmemory's
 * and are not failed here, but a creation that fails leaves nothing held. */
START_TEST(xen_stubs_make_no_calls)
{
	static const uint32_t bad_flags[] = { 0x3, 0x8, 0x9, 0xb, 0x10 };
	struct vmmem_xen_opts xo = { .sz = sizeof(xo), .xen_flags = VMMEM_XEN_FOREIGN };
	struct vmmem_xen_cache_stats st = { .sz = sizeof(st) };
	struct vmmem_region *r = test_region(RSIZE), *xr = SENTINEL;
	uint32_t domid, xflags;
	int ret;

	f_begin(0, 0);
	for (size_t i = 0; i < sizeof(bad_flags) / sizeof(bad_flags[0]); i++) {
		struct vmmem_xen_opts bo = xo;

		bo.xen_flags = bad_flags[i];
		ck_assert_int_eq(vmmem_region_new_xen(&xr, RSIZE, &bo), -EINVAL);
	}
	ck_assert_int_eq(vmmem_region_new_xen(&xr, RSIZE + 1, &xo), -EINVAL);
	xo.flags = 0x2;
	ck_assert_int_eq(vmmem_region_new_xen(&xr, RSIZE, &xo), -EINVAL);
	xo.flags = 0;
	xo.xen_flags = VMMEM_XEN_UNIX;
	xo.fd = -1;
	ck_assert_int_eq(vmmem_region_new_xen(&xr, RSIZE, &xo), -EBADF);
	xo.xen_flags = VMMEM_XEN_FOREIGN;
	xo.fd = 0;
	ck_assert_int_eq(vmmem_region_xen(r, &domid, &xflags), -ENOENT);
#ifdef HAVE_XEN
	/* Not made by the Xen backend, not mapped on demand: nothing to do. */
	ck_assert_int_eq(vmmem_region_xen_invalidate(r), -ENOENT);
	ck_assert_int_eq(vmmem_region_xen_cache_stats(r, &st), -ENOENT);
#else
	ck_assert_int_eq(vmmem_region_new_xen(&xr, RSIZE, &xo), -EOPNOTSUPP);
	ck_assert_int_eq(vmmem_region_xen_invalidate(r), -EOPNOTSUPP);
	ck_assert_int_eq(vmmem_region_xen_cache_stats(r, &st), -EOPNOTSUPP);
#endif
	ck_assert_uint_eq(f_end(), 0);
	ck_assert_ptr_eq(xr, SENTINEL);
#ifdef HAVE_XEN
	{
		struct res was;

		res_take(&was);
		ret = vmmem_region_new_xen(&xr, RSIZE, &xo);
		if (ret == 0) {
			/* A dom0 after all, and domain 0 mapped itself. */
			vmmem_region_unref(xr);
			xr = SENTINEL;
		}
		res_expect(&was, "FOREIGN region creation");
		ck_assert_ptr_eq(xr, SENTINEL);
	}
	printf("test-faults: Xen: arguments refused with no call; FOREIGN "
	       "creation here: %d, nothing held after it\n", ret);
#else
	ret = -EOPNOTSUPP;
	printf("test-faults: Xen: stubs (%d), no Xen call to fail\n", ret);
#endif
	vmmem_region_unref(r);
}
END_TEST

/* ---------------------------------------------------------------- main */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define SANITIZED 1
#endif
#endif

#define LOAD(var, type, sym) (var = (type *)dlsym(RTLD_DEFAULT, sym))

int main(void)
{
	Dl_info info;
	Suite *s;
	TCase *tc;

#ifdef SANITIZED
	/* The sanitizer's allocator and interceptors come first: libfault
	 * could not see libvmmem's calls. */
	printf("test-faults: SKIP: built with a sanitizer\n");
	return 77;
#endif
#if __SIZEOF_LONG__ < 8
	/* libfault interposes the plain names (mmap, fstat, ...); on an
	 * ILP32 ABI libvmmem, built with a 64-bit off_t, imports their *64
	 * variants, so the tests would see none of its calls. */
	printf("test-faults: SKIP: libfault interposes LP64 glibc's names only\n");
	return 77;
#endif
	if (getenv("FAULTS_PROBE"))
		return 0;
	{
		const char *v = getenv("VMMEM_TEST_VALGRIND");

		if (v && *v && strcmp(v, "0") != 0) {
			printf("test-faults: SKIP: under valgrind, whose "
			       "allocator replaces libfault's\n");
			return 77;
		}
	}
	if (!LOAD(f_ready, fault_ready_fn, FAULT_READY_SYM) ||
	    !LOAD(f_begin, fault_begin_fn, FAULT_BEGIN_SYM) ||
	    !LOAD(f_arm, fault_arm_fn, FAULT_ARM_SYM) ||
	    !LOAD(f_end, fault_end_fn, FAULT_END_SYM) ||
	    !LOAD(f_get, fault_get_fn, FAULT_GET_SYM) ||
	    !LOAD(f_balance, fault_balance_fn, FAULT_BALANCE_SYM)) {
		fprintf(stderr, "test-faults: libfault.so is not loaded: run "
			"me through tests/faults/run-faults.sh\n");
		return 99;
	}
	if (!f_ready()) {
		fprintf(stderr, "test-faults: libfault.so did not find "
			"libvmmem.so in the process\n");
		return 99;
	}
	/* Under valgrind (or anything else that replaces malloc) the
	 * allocator is not libfault's. */
	if (!dladdr(dlsym(RTLD_DEFAULT, "malloc"), &info) || !info.dli_fname ||
	    !strstr(info.dli_fname, "libfault")) {
		printf("test-faults: SKIP: malloc is not libfault's (%s)\n",
		       info.dli_fname ? info.dli_fname : "?");
		return 77;
	}
	test_pattern(pat_a, RSIZE, 1);
	test_pattern(pat_b, RSIZE, 2);
	test_pattern(pat_new, RSIZE, 3);

	s = suite_create("faults");
	tc = tcase_create("every call");
	tcase_add_loop_test(tc, fault_every_call, 0, NOPS);
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);
	tc = tcase_create("once per process");
	tcase_add_loop_test(tc, membarrier_register_fails, 0, N_MEMBARRIER_ERRS);
	tcase_add_loop_test(tc, membarrier_expedited_fails, 0, N_MEMBARRIER_ERRS);
	tcase_add_test(tc, atfork_registration_fails);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("no calls");
	tcase_add_test(tc, access_paths_make_no_calls);
	tcase_add_test(tc, xen_stubs_make_no_calls);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return test_run(s);
}
