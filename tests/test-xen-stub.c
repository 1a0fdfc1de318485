/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The Xen entry points, in either build.
 *
 * Options are checked the same way in both (lib/xen/xen-opts.c): the bad
 * ones get the same errno whether or not the Xen libraries were there.
 * Without them (no HAVE_XEN) every valid combination is -EOPNOTSUPP, and so
 * are invalidation and the cache counters.  With them, on a host that is
 * not a Xen dom0 (no /dev/xen/privcmd, no /dev/xen/gntdev), FOREIGN and
 * GRANT regions cannot be made and leave nothing behind, while UNIX regions
 * are plain fd mappings that work; non-Xen and in-advance regions have no
 * map cache (-ENOENT). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testutil.h"

#define PAGE 4096ull

static struct vmmem_xen_opts xen_opts(uint32_t xen_flags)
{
	struct vmmem_xen_opts o;

	memset(&o, 0, sizeof(o));
	o.sz = sizeof(o);
	o.xen_flags = xen_flags;
	o.domid = 1;
	o.gpa = 0x100000;
	o.fd = -1;
	return o;
}

#ifdef HAVE_XEN
/* A memfd of size bytes holding test_pattern(seed). */
static int pattern_memfd(size_t size, unsigned int seed)
{
	int fd = memfd_create("vmmem-xen-test", MFD_CLOEXEC);
	uint8_t *buf = malloc(size);

	ck_assert_int_ge(fd, 0);
	ck_assert_ptr_nonnull(buf);
	test_pattern(buf, size, seed);
	ck_assert_int_eq(pwrite(fd, buf, size, 0), (ssize_t)size);
	free(buf);
	return fd;
}

/* fd reopened read-only, through /proc (a memfd has no other path). */
static int reopen_rdonly(int fd)
{
	char path[64];
	int ro;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(ro, 0);
	return ro;
}

#endif

/* -------------------------------------------------------- constants */

START_TEST(constants)
{
	ck_assert_uint_eq(VMMEM_XEN_UNIX, 0);
	ck_assert_uint_eq(VMMEM_XEN_FOREIGN, 1);
	ck_assert_uint_eq(VMMEM_XEN_GRANT, 2);
	ck_assert_uint_eq(VMMEM_XEN_NO_ADVANCE_MAP, 8);
	ck_assert_uint_eq(VMMEM_XEN_READONLY, 1);
	ck_assert_uint_eq(VMMEM_XEN_MAP_CACHE, 2);
	/* Usable in the 32-bit field of the options. */
	ck_assert_uint_eq(sizeof(((struct vmmem_xen_opts *)0)->xen_flags), 4);
}
END_TEST

/* ------------------------------------------ options: the same in both */

START_TEST(new_xen_bad_args)
{
	struct vmmem_xen_opts o = xen_opts(VMMEM_XEN_FOREIGN);
	struct vmmem_region *r = NULL;

	ck_assert_int_eq(vmmem_region_new_xen(NULL, 1 << 20, &o), -EINVAL);
	ck_assert_int_eq(vmmem_region_new_xen(&r, 1 << 20, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_region_new_xen(&r, 0, &o), -EINVAL);
	ck_assert_int_eq(vmmem_region_new_xen(NULL, 0, NULL), -EINVAL);
	ck_assert_ptr_null(r);
}
END_TEST

struct bad_case {
	const char *what;
	uint32_t xen_flags;
	unsigned int flags;
	uint64_t size;
	uint64_t gpa;
	int refs;                    /* -1: none, else num_grant_refs */
	bool fd;                     /* a valid fd (else -1) */
	int want;
};

#define G   VMMEM_XEN_GRANT
#define GN  (VMMEM_XEN_GRANT | VMMEM_XEN_NO_ADVANCE_MAP)
#define F   VMMEM_XEN_FOREIGN
#define U   VMMEM_XEN_UNIX

static const struct bad_case bad_cases[] = {
	/* Combinations vm-memory's MmapXenFlags::is_valid refuses. */
	{ "FOREIGN|GRANT", 0x3, 0, 4 * PAGE, 0x100000, -1, true, -EINVAL },
	{ "UNIX|NO_ADVANCE_MAP", 0x8, 0, 4 * PAGE, 0x100000, -1, true, -EINVAL },
	{ "FOREIGN|NO_ADVANCE_MAP", 0x9, 0, 4 * PAGE, 0x100000, -1, true, -EINVAL },
	{ "FOREIGN|GRANT|NO_ADVANCE_MAP", 0xb, 0, 4 * PAGE, 0x100000, -1, true, -EINVAL },
	{ "unknown 0x10", 0x10, 0, 4 * PAGE, 0x100000, -1, true, -EINVAL },
	{ "unknown 0x80000000", 0x80000000u, 0, 4 * PAGE, 0x100000, -1, true, -EINVAL },
	/* flags: VMMEM_XEN_READONLY, and VMMEM_XEN_MAP_CACHE on demand only. */
	{ "flags 0x2, FOREIGN", F, 0x2, 4 * PAGE, 0x100000, -1, false, -EINVAL },
	{ "flags 0x3, GRANT", G, 0x3, 4 * PAGE, 0x100000, -1, false, -EINVAL },
	{ "MAP_CACHE, GRANT", G, VMMEM_XEN_MAP_CACHE, 4 * PAGE, 0x100000, -1, false, -EINVAL },
	{ "MAP_CACHE, UNIX", U, VMMEM_XEN_MAP_CACHE, 4 * PAGE, 0, -1, true, -EINVAL },
	{ "flags 0x4, GRANT on demand", GN, 0x4, 4 * PAGE, 0x100000, -1, false, -EINVAL },
	{ "flags 1<<31, UNIX", U, 1u << 31, 4 * PAGE, 0, -1, true, -EINVAL },
	/* Sizes off a 4 KiB page. */
	{ "size 4097, FOREIGN", F, 0, PAGE + 1, 0x100000, -1, false, -EINVAL },
	{ "size 2048, GRANT", G, 0, PAGE / 2, 0x100000, -1, false, -EINVAL },
	{ "size 4095, GRANT on demand", GN, 0, PAGE - 1, 0x100000, -1, false, -EINVAL },
	{ "size 8193, UNIX", U, 0, 2 * PAGE + 1, 0, -1, true, -EINVAL },
	/* Addresses off a 4 KiB page, or wrapping. */
	{ "gpa 0x100800, FOREIGN", F, 0, 4 * PAGE, 0x100800, -1, false, -EINVAL },
	{ "gpa 0x100001, GRANT", G, 0, 4 * PAGE, 0x100001, -1, false, -EINVAL },
	{ "gpa 0x100200, GRANT on demand", GN, 0, 4 * PAGE, 0x100200, -1, false, -EINVAL },
	{ "gpa 0x100800, GRANT with refs", G, 0, 4 * PAGE, 0x100800, 4, false, -EINVAL },
	{ "gpa wraps, FOREIGN", F, 0, 2 * PAGE, 0xfffffffffffff000ull, -1, false, -EINVAL },
	/* Grant references only for grants, one per page. */
	{ "refs with FOREIGN", F, 0, 4 * PAGE, 0x100000, 4, false, -EINVAL },
	{ "refs with UNIX", U, 0, 4 * PAGE, 0, 4, true, -EINVAL },
	{ "3 refs for 4 pages", G, 0, 4 * PAGE, 0x100000, 3, false, -EINVAL },
	{ "5 refs for 4 pages", G, 0, 4 * PAGE, 0x100000, 5, false, -EINVAL },
	{ "0 refs for 4 pages", GN, 0, 4 * PAGE, 0x100000, 0, false, -EINVAL },
	/* Derived references: gpa >> 12 + i must fit 32 bits (bit 63 of
	 * the gpa is the grant flag and does not count). */
	{ "derived ref 2^32", G, 0, PAGE, 1ull << 44, -1, false, -EINVAL },
	{ "derived refs reach 2^32", GN, 0, 2 * PAGE, 0xffffffffull << 12, -1, false, -EINVAL },
	{ "derived ref 2^32, bit 63", G, 0, PAGE, (1ull << 63) | (1ull << 44), -1, false, -EINVAL },
	/* libxengnttab counts pages in 32 bits: 2^32 pages are refused even
	 * when the derived refs fit (refs 0 .. 2^32-1). */
	{ "2^32 pages of grants", G, 0, 1ull << 44, 0, -1, false, -EINVAL },
	{ "2^32 pages of grants on demand", GN, 0, 1ull << 44, 0, -1, false, -EINVAL },
	/* UNIX needs an fd. */
	{ "UNIX fd -1", U, 0, 4 * PAGE, 0, -1, false, -EBADF },
	{ "UNIX fd -1, READONLY", U, VMMEM_XEN_READONLY, 4 * PAGE, 0, -1, false, -EBADF },
};

START_TEST(new_xen_bad_options)
{
	const struct bad_case *c = &bad_cases[_i];
	static uint32_t refs[8] = { 10, 11, 12, 13, 14, 15, 16, 17 };
	struct vmmem_region *r = NULL;
	struct vmmem_xen_opts o = xen_opts(c->xen_flags);
	int fd = memfd_create("vmmem-xen-test", MFD_CLOEXEC);
	int fds, maps, ret;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 1 << 20), 0);
	o.flags = c->flags;
	o.gpa = c->gpa;
	o.fd = c->fd ? fd : -1;
	if (c->refs >= 0) {
		o.grant_refs = refs;
		o.num_grant_refs = (size_t)c->refs;
	}
	fds = test_count_fds();
	maps = test_count_maps();
	ret = vmmem_region_new_xen(&r, c->size, &o);
	ck_assert_msg(ret == c->want, "%s: %d, want %d", c->what, ret, c->want);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(test_count_fds(), fds);
	ck_assert_int_eq(test_count_maps(), maps);
	close(fd);
}
END_TEST

/* The options struct, libbpf style: it must reach `flags`, and a longer
 * one (a newer caller's) must have a zero tail. */
START_TEST(new_xen_opts_size)
{
	struct {
		struct vmmem_xen_opts o;
		unsigned char tail[16];
	} big;
	struct vmmem_region *r = NULL;
	struct vmmem_xen_opts o = xen_opts(VMMEM_XEN_FOREIGN);
	size_t need = offsetof(struct vmmem_xen_opts, flags) +
		      sizeof(o.flags);

	o.sz = 0;
	ck_assert_int_eq(vmmem_region_new_xen(&r, 1 << 20, &o), -EINVAL);
	o.sz = need - 1;
	ck_assert_int_eq(vmmem_region_new_xen(&r, 1 << 20, &o), -EINVAL);
	o.sz = offsetof(struct vmmem_xen_opts, flags);
	ck_assert_int_eq(vmmem_region_new_xen(&r, 1 << 20, &o), -EINVAL);
	/* Too short beats the other checks, a bad tail too. */
	o.xen_flags = 0x3;
	ck_assert_int_eq(vmmem_region_new_xen(&r, 1 << 20, &o), -EINVAL);

	memset(&big, 0, sizeof(big));
	big.o = xen_opts(0x3);          /* invalid too: the tail comes first */
	big.o.sz = sizeof(big);
	big.tail[7] = 1;
	ck_assert_int_eq(vmmem_region_new_xen(&r, 1 << 20, &big.o), -E2BIG);
	big.o.xen_flags = VMMEM_XEN_FOREIGN;
	ck_assert_int_eq(vmmem_region_new_xen(&r, 1 << 20, &big.o), -E2BIG);
	big.tail[7] = 0;
	big.tail[15] = 0x80;
	ck_assert_int_eq(vmmem_region_new_xen(&r, 1 << 20, &big.o), -E2BIG);
	/* A zero tail: options as good as the known part. */
	big.tail[15] = 0;
	big.o.xen_flags = 0x3;
	ck_assert_int_eq(vmmem_region_new_xen(&r, 1 << 20, &big.o), -EINVAL);
	big.o.xen_flags = VMMEM_XEN_UNIX;
	ck_assert_int_eq(vmmem_region_new_xen(&r, 1 << 20, &big.o), -EBADF);
	/* Short but enough: what follows `flags` reads as zero. */
	o = xen_opts(VMMEM_XEN_UNIX);
	o.sz = need;
	o.fd = -1;
	ck_assert_int_eq(vmmem_region_new_xen(&r, 1 << 20, &o), -EBADF);
	o.xen_flags = 0x9;
	ck_assert_int_eq(vmmem_region_new_xen(&r, 1 << 20, &o), -EINVAL);
	ck_assert_ptr_null(r);
}
END_TEST

/* ------------------------------------------------- valid combinations */

#ifdef HAVE_XEN
/* Whether the device nodes a FOREIGN or GRANT mapping needs are missing:
 * then creation must fail with -ENOENT (the open of the node). */
static bool xen_nodes_missing(uint32_t xen_flags)
{
	const char *node = xen_flags == VMMEM_XEN_FOREIGN ? "/dev/xen/privcmd"
							  : "/dev/xen/gntdev";

	return access(node, F_OK) != 0;
}
#endif

/* Valid options: the stub build refuses them with -EOPNOTSUPP, the Xen
 * build makes UNIX regions and, off a dom0, fails the others without a
 * trace.  Returns the region made, if any (the caller releases it). */
static struct vmmem_region *try_valid(const char *what, uint64_t size,
				      const struct vmmem_xen_opts *o)
{
	struct vmmem_region *r = NULL;
	int fds = test_count_fds(), maps = test_count_maps();
	int ret = vmmem_region_new_xen(&r, size, o);

#ifndef HAVE_XEN
	ck_assert_msg(ret == -EOPNOTSUPP, "%s: %d, want -EOPNOTSUPP", what, ret);
#else
	if (o->xen_flags == VMMEM_XEN_UNIX) {
		uint32_t domid = 0, xflags = 99;
		unsigned int flags = 99;

		ck_assert_msg(ret == 0, "%s: %d, want 0", what, ret);
		ck_assert_ptr_nonnull(r);
		ck_assert_int_eq(vmmem_region_xen(r, &domid, &xflags), 0);
		ck_assert_uint_eq(domid, o->domid);
		ck_assert_uint_eq(xflags, VMMEM_XEN_UNIX);
		ck_assert_int_eq(vmmem_region_xen_flags(r, &flags), 0);
		ck_assert_uint_eq(flags, o->flags);
		return r;
	}
	ck_assert_msg(ret < 0, "%s: %d, want a negative errno (no dom0 here)",
		      what, ret);
	if (xen_nodes_missing(o->xen_flags & VMMEM_XEN_GRANT ?
			      VMMEM_XEN_GRANT : VMMEM_XEN_FOREIGN))
		ck_assert_msg(ret == -ENOENT, "%s: %d, want -ENOENT", what, ret);
#endif
	ck_assert_ptr_null(r);
	ck_assert_int_eq(test_count_fds(), fds);
	ck_assert_int_eq(test_count_maps(), maps);
	return NULL;
}

START_TEST(new_xen_valid)
{
	static const uint32_t refs[4] = { 10, 11, 12, 13 };
	struct {
		struct vmmem_xen_opts o;
		unsigned char tail[16];
	} big;
	struct vmmem_xen_opts o;
	int fd = memfd_create("vmmem-xen-test", MFD_CLOEXEC);
	int frame_errors[256];

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 1 << 20), 0);

	o = xen_opts(VMMEM_XEN_FOREIGN);
	try_valid("FOREIGN", 1 << 20, &o);
	o.flags = VMMEM_XEN_READONLY;
	o.frame_errors = frame_errors;
	try_valid("FOREIGN, READONLY, frame errors", 1 << 20, &o);
	o = xen_opts(VMMEM_XEN_FOREIGN);
	o.gpa = 1ull << 44;             /* past the grant limit: no matter */
	try_valid("FOREIGN at 2^44", 1 << 20, &o);
	o = xen_opts(VMMEM_XEN_FOREIGN);
	o.sz = offsetof(struct vmmem_xen_opts, flags) + sizeof(o.flags);
	try_valid("FOREIGN, old short options", 1 << 20, &o);
	memset(&big, 0, sizeof(big));
	big.o = xen_opts(VMMEM_XEN_FOREIGN);
	big.o.sz = sizeof(big);
	try_valid("FOREIGN, longer options, zero tail", 1 << 20, &big.o);

	o = xen_opts(VMMEM_XEN_GRANT);
	o.grant_refs = refs;
	o.num_grant_refs = 4;
	o.flags = VMMEM_XEN_READONLY;
	try_valid("GRANT, refs, READONLY", 4 * PAGE, &o);
	o = xen_opts(VMMEM_XEN_GRANT);
	try_valid("GRANT, derived", PAGE, &o);
	o.gpa = 0xffffffffull << 12;    /* the last ref is 2^32 - 1 */
	try_valid("GRANT, last derived ref 2^32-1", PAGE, &o);
	o.gpa = (1ull << 63) | 0x1000;
	try_valid("GRANT, bit 63 set", 2 * PAGE, &o);
	o = xen_opts(VMMEM_XEN_GRANT | VMMEM_XEN_NO_ADVANCE_MAP);
	try_valid("GRANT on demand", 1 << 20, &o);
	o.flags = VMMEM_XEN_MAP_CACHE | VMMEM_XEN_READONLY;
	o.cache_pages = 64;
	try_valid("GRANT on demand, MAP_CACHE, READONLY", 1 << 20, &o);
	o.flags = 0;
	o.grant_refs = refs;
	o.num_grant_refs = 4;
	try_valid("GRANT on demand, refs", 4 * PAGE, &o);

	o = xen_opts(VMMEM_XEN_UNIX);
	o.fd = fd;
	vmmem_region_unref(try_valid("UNIX", 1 << 20, &o));
	o.gpa = 0x123;                  /* UNIX ignores the gpa */
	o.flags = VMMEM_XEN_READONLY;
	vmmem_region_unref(try_valid("UNIX, odd gpa, READONLY", 1 << 20, &o));
	o.gpa = 0;
	o.flags = 0;
	o.offset = 64 * KIB;
	vmmem_region_unref(try_valid("UNIX at an offset", 64 * KIB, &o));
	close(fd);
}
END_TEST

/* -------------------------------------------------------- region_xen */

START_TEST(region_xen_not_xen)
{
	struct vmmem_region_opts ro;
	struct vmmem_region *r = test_region(1 << 16), *m = NULL, *raw = NULL;
	static unsigned char buf[4096];
	uint32_t domid = 77, flags = 88;
	unsigned int oflags = 99;

	ck_assert_int_eq(vmmem_region_xen(r, &domid, &flags), -ENOENT);
	ck_assert_int_eq(vmmem_region_xen_flags(r, &oflags), -ENOENT);
	ck_assert_uint_eq(oflags, 99);

	memset(&ro, 0, sizeof(ro));
	ro.sz = sizeof(ro);
	ro.flags = VMMEM_REGION_SHAREABLE;
	ck_assert_int_eq(vmmem_region_new(&m, 1 << 16, &ro), 0);
	ck_assert_int_eq(vmmem_region_xen(m, &domid, &flags), -ENOENT);

	ck_assert_int_eq(vmmem_region_new_raw(&raw, buf, sizeof(buf), NULL,
					      NULL, 0), 0);
	ck_assert_int_eq(vmmem_region_xen(raw, &domid, &flags), -ENOENT);
	ck_assert_uint_eq(domid, 77);
	ck_assert_uint_eq(flags, 88);

	vmmem_region_unref(r);
	vmmem_region_unref(m);
	vmmem_region_unref(raw);
}
END_TEST

START_TEST(region_xen_bad_args)
{
	struct vmmem_region *r = test_region(1 << 16);
	uint32_t domid, flags;
	unsigned int oflags;

	ck_assert_int_eq(vmmem_region_xen(NULL, &domid, &flags), -EINVAL);
	ck_assert_int_eq(vmmem_region_xen(r, NULL, &flags), -EINVAL);
	ck_assert_int_eq(vmmem_region_xen(r, &domid, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_region_xen(NULL, NULL, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_region_xen_flags(NULL, &oflags), -EINVAL);
	ck_assert_int_eq(vmmem_region_xen_flags(r, NULL), -EINVAL);
	vmmem_region_unref(r);
}
END_TEST

/* ------------------------------- invalidation and the cache counters */

START_TEST(invalidate_and_stats)
{
	struct vmmem_region *r = test_region(1 << 16);
	struct vmmem_xen_cache_stats st;
	unsigned char *h;
	void *hv = NULL;

	ck_assert_int_eq(vmmem_region_host_address(r, &hv), 0);
	h = hv;
	h[0] = 0x5a;
	memset(&st, 0xee, sizeof(st));
	st.sz = sizeof(st);
#ifdef HAVE_XEN
	/* No map cache: nothing to invalidate or count. */
	ck_assert_int_eq(vmmem_region_xen_invalidate(r), -ENOENT);
	ck_assert_int_eq(vmmem_region_xen_cache_stats(r, &st), -ENOENT);
	/* A caller's struct too short for any counter. */
	st.sz = 0;
	ck_assert_int_eq(vmmem_region_xen_cache_stats(r, &st), -EINVAL);
	st.sz = offsetof(struct vmmem_xen_cache_stats, hits);
	ck_assert_int_eq(vmmem_region_xen_cache_stats(r, &st), -EINVAL);
	st.sz = offsetof(struct vmmem_xen_cache_stats, hits) + 7;
	ck_assert_int_eq(vmmem_region_xen_cache_stats(r, &st), -EINVAL);
	st.sz = offsetof(struct vmmem_xen_cache_stats, hits) + 8;
	ck_assert_int_eq(vmmem_region_xen_cache_stats(r, &st), -ENOENT);
	ck_assert_uint_eq(st.hits, 0xeeeeeeeeeeeeeeeeull);   /* untouched */
#else
	ck_assert_int_eq(vmmem_region_xen_invalidate(r), -EOPNOTSUPP);
	ck_assert_int_eq(vmmem_region_xen_cache_stats(r, &st), -EOPNOTSUPP);
#endif
	/* The region is unharmed. */
	ck_assert_uint_eq(h[0], 0x5a);
	st.sz = sizeof(st);
	ck_assert_int_eq(vmmem_region_xen_invalidate(NULL), -EINVAL);
	ck_assert_int_eq(vmmem_region_xen_cache_stats(NULL, &st), -EINVAL);
	ck_assert_int_eq(vmmem_region_xen_cache_stats(r, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_region_xen_cache_stats(NULL, NULL), -EINVAL);
	vmmem_region_unref(r);
}
END_TEST

#ifdef HAVE_XEN
/* ------------------------------------- UNIX regions (Xen build only) */

START_TEST(unix_region_rw)
{
	const size_t fsize = 256 * KIB, off = 64 * KIB, size = 128 * KIB;
	const uint64_t gpa = 0x100000;
	static uint8_t want[256 * KIB], got[256 * KIB];
	struct vmmem_xen_cache_stats st = { .sz = sizeof(st) };
	struct vmmem_region *r = NULL;
	struct vmmem_xen_opts o = xen_opts(VMMEM_XEN_UNIX);
	struct vmmem *m = NULL;
	int fd = pattern_memfd(fsize, 3);
	int fds, maps;
	uint32_t domid = 0, xflags = 99;
	uint64_t rsize = 0;
	void *h = NULL;
	char perms[5];

	fds = test_count_fds();
	maps = test_count_maps();
	o.fd = fd;
	o.offset = off;
	o.domid = 7;
	ck_assert_int_eq(vmmem_region_new_xen(&r, size, &o), 0);
	ck_assert_int_eq(vmmem_region_xen(r, &domid, &xflags), 0);
	ck_assert_uint_eq(domid, 7);
	ck_assert_uint_eq(xflags, 0);
	ck_assert_int_eq(vmmem_region_size(r, &rsize), 0);
	ck_assert_uint_eq(rsize, size);
	/* Mapped in advance, read-write, shared with the file. */
	ck_assert_int_eq(vmmem_region_host_address(r, &h), 0);
	test_maps_perms(h, perms);
	ck_assert_str_eq(perms, "rw-s");
	ck_assert_int_eq(vmmem_region_xen_invalidate(r), -ENOENT);
	ck_assert_int_eq(vmmem_region_xen_cache_stats(r, &st), -ENOENT);

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(m, gpa, r), 0);
	vmmem_region_unref(r);
	/* The region holds its own fd. */
	close(fd);
	fd = -1;

	test_pattern(want, fsize, 3);
	test_expect_bytes(m, gpa, want + off, 0x10000);
	test_expect_bytes(m, gpa + 0x10000, want + off + 0x10000, 0x10000);
	test_pattern(got, size, 9);
	ck_assert_int_eq(vmmem_write_exact(m, gpa + 100, got, size - 200), 0);
	ck_assert_int_eq(vmmem_store(m, gpa + size - 8, 8, 0x0123456789abcdefull,
				     VMMEM_ORDER_SEQ_CST), 0);
	ck_assert_int_eq(vmmem_read(m, gpa + size - 1, got + size, 2), 1);
	ck_assert_int_eq(vmmem_read(m, gpa + size, got + size, 1), -EFAULT);
	/* Through the file: what was written is there, at the offset. */
	{
		struct vmmem_region *found = NULL;
		uint64_t roff = 0;
		uint8_t *host;

		ck_assert_int_eq(vmmem_find_region(m, gpa + 100, &found, &roff), 0);
		ck_assert_uint_eq(roff, 100);
		fd = vmmem_region_fd(found, &roff);
		ck_assert_int_ge(fd, 0);
		ck_assert_uint_eq(roff, off);
		ck_assert_int_eq(pread(fd, want, fsize, 0), (ssize_t)fsize);
		test_pattern(got, size, 9);
		ck_assert_int_eq(memcmp(want + off + 100, got, size - 200), 0);
		ck_assert_uint_eq(want[off + size - 1], 0x01);
		ck_assert_uint_eq(want[off + size - 8], 0xef);
		/* Untouched around it. */
		test_pattern(got, fsize, 3);
		ck_assert_int_eq(memcmp(want, got, off + 100), 0);
		ck_assert_int_eq(memcmp(want + off + size, got + off + size,
					fsize - off - size), 0);
		host = test_host_of_gpa(m, gpa);
		ck_assert_int_eq(memcmp(host + 100, want + off + 100,
					size - 100), 0);
		vmmem_region_unref(found);
		fd = -1;
	}
	vmmem_free(m);
	ck_assert_int_eq(test_count_fds(), fds - 1);   /* ours was closed */
	ck_assert_int_eq(test_count_maps(), maps);
}
END_TEST

/* Every write path of a read-only region: -EACCES, nothing changed. */
static void expect_writes_refused(struct vmmem *m, uint64_t gpa,
				  uint64_t size, const uint8_t *orig)
{
	static uint8_t buf[64 * KIB];
	uint64_t len = 4096;
	void *h = NULL;
	int pfd[2];

	memset(buf, 0xa5, sizeof(buf));
	ck_assert_int_eq(vmmem_write(m, gpa, buf, 1), -EACCES);
	ck_assert_int_eq(vmmem_write(m, gpa + 8, buf, 8), -EACCES);
	ck_assert_int_eq(vmmem_write(m, gpa + 1, buf, 5000), -EACCES);
	ck_assert_int_eq(vmmem_write_exact(m, gpa, buf, 16), -EACCES);
	ck_assert_int_eq(vmmem_write_exact(m, gpa + 3, buf, 9000), -EACCES);
	ck_assert_int_eq(vmmem_store(m, gpa + 8, 8, 1, VMMEM_ORDER_RELAXED),
			 -EACCES);
	ck_assert_int_eq(vmmem_store(m, gpa, 1, 1, VMMEM_ORDER_SEQ_CST),
			 -EACCES);
	ck_assert_int_eq(vmmem_fill(m, gpa, 0xff, size), -EACCES);
	ck_assert_int_eq(vmmem_fill(m, gpa + 5, 0, 1), -EACCES);
	ck_assert_int_eq(vmmem_copy(m, gpa, gpa + 4096, 4096), -EACCES);
	ck_assert_int_eq(vmmem_map(m, gpa, &len, VMMEM_MAP_WRITE, &h), -EACCES);
	len = 4096;
	ck_assert_int_eq(vmmem_map(m, gpa, &len,
				   VMMEM_MAP_READ | VMMEM_MAP_WRITE, &h), -EACCES);
	ck_assert_int_eq(vmmem_write_le32(m, gpa + 4, 7), -EACCES);
	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_eq(write(pfd[1], buf, 4096), 4096);
	ck_assert_int_eq(vmmem_read_fd(m, gpa, pfd[0], 4096), -EACCES);
	ck_assert_int_eq(vmmem_pread_fd(m, gpa, pfd[0], 4096, 0) < 0, 1);
	close(pfd[0]);
	close(pfd[1]);
	/* Discarding would zero what the guest reads. */
	{
		struct vmmem_region *r = NULL;

		ck_assert_int_eq(vmmem_find_region(m, gpa, &r, NULL), 0);
		ck_assert_int_eq(vmmem_region_discard(r, 0, 4096), -EACCES);
		vmmem_region_unref(r);
	}
	test_expect_bytes(m, gpa, orig, size);
}

static void readonly_case(bool rdonly_fd)
{
	const uint64_t gpa = 0x200000, size = 64 * KIB;
	static uint8_t want[64 * KIB], got[64 * KIB];
	struct vmmem_region *r = NULL;
	struct vmmem_xen_opts o = xen_opts(VMMEM_XEN_UNIX);
	struct vmmem *m = NULL;
	int mfd = pattern_memfd(size, 5);
	int fd = rdonly_fd ? reopen_rdonly(mfd) : mfd;
	int fds, maps;
	uint32_t domid = 1, xflags = 1;
	unsigned int oflags = 0;
	uint64_t len = size, v = 0;
	void *h = NULL;
	char perms[5];
	int pfd[2];

	fds = test_count_fds();
	maps = test_count_maps();
	test_pattern(want, size, 5);
	if (rdonly_fd) {
		/* A writable shared mapping of a read-only fd: the kernel's
		 * refusal, and nothing left behind. */
		o.fd = fd;
		ck_assert_int_lt(vmmem_region_new_xen(&r, size, &o), 0);
		ck_assert_ptr_null(r);
		ck_assert_int_eq(test_count_fds(), fds);
		ck_assert_int_eq(test_count_maps(), maps);
	}
	o = xen_opts(VMMEM_XEN_UNIX);
	o.fd = fd;
	o.domid = 0;
	o.flags = VMMEM_XEN_READONLY;
	ck_assert_int_eq(vmmem_region_new_xen(&r, size, &o), 0);
	ck_assert_int_eq(vmmem_region_xen(r, &domid, &xflags), 0);
	ck_assert_uint_eq(domid, 0);
	ck_assert_uint_eq(xflags, 0);
	/* Read-only is reported, apart from the mapping type. */
	ck_assert_int_eq(vmmem_region_xen_flags(r, &oflags), 0);
	ck_assert_uint_eq(oflags, VMMEM_XEN_READONLY);
	ck_assert_int_eq(vmmem_region_host_address(r, &h), 0);
	test_maps_perms(h, perms);
	ck_assert_str_eq(perms, "r--s");
	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(m, gpa, r), 0);
	vmmem_region_unref(r);

	/* Reads of every kind. */
	test_expect_bytes(m, gpa, want, size);
	ck_assert_int_eq(vmmem_read(m, gpa + 1, got, 3), 3);
	ck_assert_int_eq(memcmp(got, want + 1, 3), 0);
	ck_assert_int_eq(vmmem_load(m, gpa + 8, 8, &v, VMMEM_ORDER_ACQUIRE), 0);
	ck_assert_int_eq(memcmp(&v, want + 8, 8), 0);
	ck_assert_int_eq(vmmem_map(m, gpa, &len, VMMEM_MAP_READ, &h), 0);
	ck_assert_uint_eq(len, size);
	ck_assert_int_eq(memcmp(h, want, size), 0);
	ck_assert_int_eq(vmmem_unmap(m, h, 0), 0);
	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_eq(vmmem_write_fd(m, gpa + 4096, pfd[1], 4096), 4096);
	ck_assert_int_eq(read(pfd[0], got, 4096), 4096);
	ck_assert_int_eq(memcmp(got, want + 4096, 4096), 0);
	close(pfd[0]);
	close(pfd[1]);

	expect_writes_refused(m, gpa, size, want);
	/* The file too is unchanged. */
	ck_assert_int_eq(pread(mfd, got, size, 0), (ssize_t)size);
	ck_assert_int_eq(memcmp(got, want, size), 0);
	vmmem_free(m);
	ck_assert_int_eq(test_count_fds(), fds);
	ck_assert_int_eq(test_count_maps(), maps);
	if (fd != mfd)
		close(fd);
	close(mfd);
}

START_TEST(unix_readonly_memfd)
{
	readonly_case(false);
}
END_TEST

START_TEST(unix_readonly_rdonly_fd)
{
	readonly_case(true);
}
END_TEST
#endif

static Suite *suite(void)
{
	Suite *s = suite_create("xen-entry-points");
	TCase *tc;

	tc = tcase_create("constants");
	tcase_add_test(tc, constants);
	suite_add_tcase(s, tc);

	tc = tcase_create("options");
	tcase_add_test(tc, new_xen_bad_args);
	tcase_add_loop_test(tc, new_xen_bad_options, 0,
			    (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(tc, new_xen_opts_size);
	tcase_add_test(tc, new_xen_valid);
	suite_add_tcase(s, tc);

	tc = tcase_create("query");
	tcase_add_test(tc, region_xen_not_xen);
	tcase_add_test(tc, region_xen_bad_args);
	tcase_add_test(tc, invalidate_and_stats);
	suite_add_tcase(s, tc);

#ifdef HAVE_XEN
	tc = tcase_create("unix");
	tcase_add_test(tc, unix_region_rw);
	tcase_add_test(tc, unix_readonly_memfd);
	tcase_add_test(tc, unix_readonly_rdonly_fd);
	suite_add_tcase(s, tc);
#endif
	return s;
}

int main(void)
{
	return test_run(suite());
}
