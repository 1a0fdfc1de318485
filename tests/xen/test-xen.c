/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The Xen backend against a real hypervisor: runs as root in a dom0 (see
 * tests/xen/run-xen.sh) and maps the memory of paused dummy domains made by
 * xen-fixture.c.  What libvmmem reads and writes is checked through an
 * independent libxenforeignmemory mapping of the same pages, both ways.
 *
 * Covered: foreign maps of PV and HVM domains; grants in advance and on
 * demand, read-write and read-only; refusals (unpopulated GFN, frame not the
 * domain's, never-granted reference, read-write map of a read-only grant,
 * non-existent domain, destroyed domain); the map cache of on-demand regions
 * (hits, eviction under a bound, pinning, read-only/read-write entries,
 * invalidation); grants dom0 makes to itself through gntalloc, ended by the
 * granting side after every access path (at once by default, deferred by
 * the kernel while the cache holds them); every access path across a plain
 * region followed by a Xen region; dirty logging; examples/xen-peek, run
 * as a program: its hexdump, --write and --fill, its errors and exit
 * statuses.
 *
 * Each test is its own TCase (named as the test), so that Check's
 * CK_RUN_CASE=name runs one.  Output: Check's own lines, then one
 * "PASS: name" or "FAIL: name: why" line per test, "SKIP: name: why" for a
 * test that cannot run here, and last
 * "xen-suite: N passed, N failed, N skipped".  Exit status 0 iff no test
 * failed.
 *
 * HVM domains are required by default (run-xen.sh gives QEMU +svm,+npt):
 * without them the HVM tests fail; with --allow-no-hvm, or
 * VMMEM_XEN_ALLOW_NO_HVM=1 in the environment, they are skipped
 * (--require-hvm overrides the environment).
 *
 * --xen-peek PATH: the xen-peek binary for the peek_* tests (an absolute
 * path, present in dom0); without it they are skipped. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <unistd.h>

#include "testutil.h"
#include "xen-fixture.h"
/* After xenctrl.h (in xen-fixture.h): it wants the Xen headers that way. */
#include <xengnttab.h>
#include <xentoollog.h>

#define PAGE       4096u
#define BUCKET     (16u * PAGE)       /* map-cache bucket: 16 pages */

/* The space of the access tests: a plain region, then a Xen region right
 * after it; the Xen region maps pages 0..XPAGES-1 of a DPAGES-page domain. */
#define PLAIN_GPA  0x100000ull
#define PLAIN_SIZE 0x10000ull
#define XEN_GPA    (PLAIN_GPA + PLAIN_SIZE)
#define XPAGES     48u                /* three buckets */
#define XEN_END    (XEN_GPA + XPAGES * PAGE)
#define DPAGES     64u
#define GREF0      64u                /* first grant reference used */

static bool allow_no_hvm;
static const char *xen_peek;            /* --xen-peek PATH, or NULL */
static const char *hvm_why;             /* why HVM is unavailable, or NULL */
static int n_skip;

/* --------------------------------------------------------------- helpers */

/* Byte at offset off of a pattern; different salts differ (almost) at every
 * byte, and no page repeats another. */
static uint8_t pbyte(unsigned int salt, uint64_t off)
{
	uint64_t x = (off + 1) * 0x9E3779B97F4A7C15ull ^
		     (uint64_t)(salt + 1) * 0xD1B54A32D192ED03ull;

	x ^= x >> 29;
	return (uint8_t)(x * 0xBF58476D1CE4E5B9ull >> 56);
}

static void pat_fill(uint8_t *p, uint64_t off, size_t len, unsigned int salt)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pbyte(salt, off + i);
}

/* Index of the first byte that is not the pattern, or -1. */
static long pat_check(const uint8_t *p, uint64_t off, size_t len,
		      unsigned int salt)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != pbyte(salt, off + i))
			return (long)i;
	return -1;
}

#define CK_PAT(p, off, len, salt)                                             \
	do {                                                                  \
		long bad_ = pat_check((p), (off), (len), (salt));             \
		ck_assert_msg(bad_ < 0,                                       \
			      "%s: byte %ld of %zu is %#x, want pattern %u "  \
			      "(%#x)", #p, bad_, (size_t)(len),               \
			      (p)[bad_ < 0 ? 0 : bad_], (salt),               \
			      pbyte((salt), (off) + (uint64_t)bad_));         \
	} while (0)

static const char *errname(long e)
{
	return e < 0 ? strerror((int)-e) : "ok";
}

static struct vmmem_xen_opts xopts(uint32_t xen_flags, uint32_t domid,
				   uint64_t gpa)
{
	struct vmmem_xen_opts o;

	memset(&o, 0, sizeof(o));
	o.sz = sizeof(o);
	o.xen_flags = xen_flags;
	o.domid = domid;
	o.gpa = gpa;
	o.fd = -1;
	return o;
}

#define XEN_ONDEMAND (VMMEM_XEN_GRANT | VMMEM_XEN_NO_ADVANCE_MAP)

static struct vmmem_xen_cache_stats cstats(const struct vmmem_region *r)
{
	struct vmmem_xen_cache_stats st;

	memset(&st, 0, sizeof(st));
	st.sz = sizeof(st);
	ck_assert_int_eq(vmmem_region_xen_cache_stats(r, &st), 0);
	return st;
}

static void print_stats(const char *what, const struct vmmem_xen_cache_stats *s)
{
	printf("  %s: hits %" PRIu64 " misses %" PRIu64 " map_calls %" PRIu64
	       " failures %" PRIu64 " evictions %" PRIu64 " invalidated %"
	       PRIu64 " mapped %" PRIu64 " pinned %" PRIu64 "\n", what,
	       s->hits, s->misses, s->map_calls, s->map_failures,
	       s->evictions, s->invalidated, s->mapped_pages, s->pinned_pages);
}

static void dom_new(struct xfx_dom *d, enum xfx_kind kind, size_t npages)
{
	int rc;

	if (kind == XFX_HVM && hvm_why)
		ck_abort_msg("HVM domains unavailable (%s), and --allow-no-hvm "
			     "was not given", hvm_why);
	rc = xfx_dom_create(d, kind, npages);
	ck_assert_msg(rc == 0, "creating a %s dummy domain of %zu pages: %s",
		      kind == XFX_HVM ? "HVM" : "PV", npages, errname(rc));
}

static uint8_t *raw_map(const struct xfx_dom *d, size_t first, size_t count)
{
	uint8_t *p = xfx_map(d, first, count, true);

	ck_assert_msg(p != NULL, "independent mapping of d%u pages %zu+%zu",
		      d->domid, first, count);
	return p;
}

static struct vmmem *space_new(void)
{
	struct vmmem *m = NULL;

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	return m;
}

/* A FOREIGN region over pages [first, first + n) of d (contiguous frames),
 * added to m at gpa; returns the region (the caller holds a reference). */
static struct vmmem_region *add_foreign(struct vmmem *m, uint64_t gpa,
					const struct xfx_dom *d, size_t first,
					size_t n, unsigned int flags)
{
	struct vmmem_xen_opts o = xopts(VMMEM_XEN_FOREIGN, d->domid,
					(uint64_t)d->frames[first] << 12);
	struct vmmem_region *r = NULL;
	int rc;

	for (size_t i = 1; i < n; i++)
		ck_assert_msg(d->frames[first + i] == d->frames[first] + i,
			      "frames of pages %zu+%zu are not contiguous",
			      first, n);
	o.flags = flags;
	rc = vmmem_region_new_xen(&r, n * PAGE, &o);
	ck_assert_msg(rc == 0, "FOREIGN region d%u frame %#" PRIx64 " +%zu: %s",
		      d->domid, (uint64_t)d->frames[first], n, errname(rc));
	ck_assert_int_eq(vmmem_add_region(m, gpa, r), 0);
	return r;
}

/* A GRANT region (in advance, or on demand with ondemand) of n pages with
 * references derived from ref0, added to m at gpa. */
static struct vmmem_region *add_grant(struct vmmem *m, uint64_t gpa,
				      const struct xfx_dom *d, uint32_t ref0,
				      size_t n, bool ondemand,
				      unsigned int flags, size_t cache_pages)
{
	struct vmmem_xen_opts o = xopts(ondemand ? XEN_ONDEMAND :
					VMMEM_XEN_GRANT, d->domid,
					(uint64_t)ref0 << 12);
	struct vmmem_region *r = NULL;
	int rc;

	o.flags = flags;
	o.cache_pages = cache_pages;
	rc = vmmem_region_new_xen(&r, n * PAGE, &o);
	ck_assert_msg(rc == 0, "GRANT%s region d%u refs %u+%zu: %s",
		      ondemand ? "|NO_ADVANCE_MAP" : "", d->domid, ref0, n,
		      errname(rc));
	ck_assert_int_eq(vmmem_add_region(m, gpa, r), 0);
	return r;
}

/* -------------------------------------------- plain + Xen access spaces */

enum xkind { XK_FOREIGN, XK_GRANT, XK_ONDEMAND, XK_N };
static const char *const xkind_name[XK_N] = { "foreign", "grant", "ondemand" };

struct xspace {
	int kind;
	struct xfx_dom d;
	struct vmmem *m;
	struct vmmem_region *plain;
	struct vmmem_region *xr;        /* the (first) Xen region */
	uint8_t *plain_host;
	uint8_t *raw;                   /* d's pages 0..DPAGES-1, independent */
};

/* The plain region at PLAIN_GPA holds pattern 2 (offsets = GPAs), the
 * domain's pages pattern 1 (offsets from page 0), and the Xen region at
 * XEN_GPA maps pages 0..XPAGES-1: a PV domain, FOREIGN (per-page regions
 * if its frames are not contiguous), or GRANT references GREF0 + i -> page
 * i, in advance or on demand; read-only grants with ro_grants. */
static void xspace_new(struct xspace *x, int kind, unsigned int flags,
		       bool ro_grants)
{
	memset(x, 0, sizeof(*x));
	x->kind = kind;
	dom_new(&x->d, XFX_PV, DPAGES);
	x->raw = raw_map(&x->d, 0, DPAGES);
	pat_fill(x->raw, 0, DPAGES * PAGE, 1);

	x->m = space_new();
	x->plain = test_region(PLAIN_SIZE);
	ck_assert_int_eq(vmmem_add_region(x->m, PLAIN_GPA, x->plain), 0);
	x->plain_host = test_region_host(x->plain);
	pat_fill(x->plain_host, PLAIN_GPA, PLAIN_SIZE, 2);

	switch (kind) {
	case XK_FOREIGN:
		if (x->d.contiguous) {
			x->xr = add_foreign(x->m, XEN_GPA, &x->d, 0, XPAGES,
					    flags);
			break;
		}
		printf("  PV frames not contiguous: one FOREIGN region per "
		       "page\n");
		for (size_t i = 0; i < XPAGES; i++) {
			struct vmmem_region *r = add_foreign(
				x->m, XEN_GPA + i * PAGE, &x->d, i, 1, flags);

			if (i == 0)
				x->xr = r;
			else
				vmmem_region_unref(r);
		}
		break;
	case XK_GRANT:
	case XK_ONDEMAND:
		ck_assert_int_eq(xfx_grant(&x->d, GREF0, 0, XPAGES, ro_grants),
				 0);
		x->xr = add_grant(x->m, XEN_GPA, &x->d, GREF0, XPAGES,
				  kind == XK_ONDEMAND, flags, 0);
		break;
	default:
		ck_abort();
	}
}

static void xspace_free(struct xspace *x)
{
	vmmem_free(x->m);
	vmmem_region_unref(x->xr);
	vmmem_region_unref(x->plain);
	xfx_unmap(x->raw, DPAGES);
	ck_assert_int_eq(xfx_dom_destroy(&x->d), 0);
}

/* Where the test sees guest byte gpa without libvmmem. */
static uint8_t *view(struct xspace *x, uint64_t gpa)
{
	if (gpa >= PLAIN_GPA && gpa < PLAIN_GPA + PLAIN_SIZE)
		return x->plain_host + (gpa - PLAIN_GPA);
	if (gpa >= XEN_GPA && gpa < XEN_END)
		return x->raw + (gpa - XEN_GPA);
	ck_abort_msg("GPA %#" PRIx64 " outside the test space", gpa);
	return NULL;
}

/* The independent views of [gpa, gpa + len) hold want. */
static void expect_view(struct xspace *x, uint64_t gpa, const uint8_t *want,
			size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t got = *view(x, gpa + i);

		if (got != want[i])
			ck_abort_msg("guest byte at %#" PRIx64 " seen as %#x "
				     "without libvmmem, want %#x", gpa + i,
				     got, want[i]);
	}
}

/* vmmem_read_exact of [gpa, gpa + len) gives what the views hold. */
static void expect_read(struct xspace *x, uint64_t gpa, size_t len)
{
	uint8_t *buf = malloc(len);
	int rc;

	ck_assert_ptr_nonnull(buf);
	rc = vmmem_read_exact(x->m, gpa, buf, len);
	ck_assert_msg(rc == 0, "vmmem_read_exact(%#" PRIx64 ", %zu): %s", gpa,
		      len, errname(rc));
	expect_view(x, gpa, buf, len);
	free(buf);
}

/* ------------------------------------------------------ foreign mappings */

/* FOREIGN regions of an HVM domain: frames are GFNs, so the region of GFNs
 * [0, 64) is the guest's first 256 KiB; placed at its own GPA and, for
 * GFNs [32, 64), at another one.  Patterns both ways. */
START_TEST(foreign_hvm)
{
	struct xfx_dom d;
	struct vmmem *m;
	struct vmmem_region *r = NULL, *r2 = NULL;
	struct vmmem_xen_opts o;
	int errs[DPAGES];
	uint8_t *raw, *buf;
	uint32_t domid = 0, xf = 99;
	uint64_t size = 0;
	void *h = NULL;

	dom_new(&d, XFX_HVM, DPAGES);
	ck_assert(d.contiguous && d.frames[0] == 0);
	raw = raw_map(&d, 0, DPAGES);
	pat_fill(raw, 0, DPAGES * PAGE, 1);

	m = space_new();
	o = xopts(VMMEM_XEN_FOREIGN, d.domid, 0);
	for (size_t i = 0; i < DPAGES; i++)
		errs[i] = 12345;
	o.frame_errors = errs;
	ck_assert_int_eq(vmmem_region_new_xen(&r, DPAGES * PAGE, &o), 0);
	for (size_t i = 0; i < DPAGES; i++)
		ck_assert_int_eq(errs[i], 0);
	ck_assert_int_eq(vmmem_add_region(m, 0, r), 0);
	o = xopts(VMMEM_XEN_FOREIGN, d.domid, 32 * PAGE);
	ck_assert_int_eq(vmmem_region_new_xen(&r2, 32 * PAGE, &o), 0);
	ck_assert_int_eq(vmmem_add_region(m, 0x40000000, r2), 0);

	ck_assert_int_eq(vmmem_region_xen(r, &domid, &xf), 0);
	ck_assert_uint_eq(domid, d.domid);
	ck_assert_uint_eq(xf, VMMEM_XEN_FOREIGN);
	ck_assert_int_eq(vmmem_region_size(r, &size), 0);
	ck_assert_uint_eq(size, DPAGES * PAGE);
	ck_assert_int_eq(vmmem_region_host_address(r, &h), 0);
	ck_assert_ptr_nonnull(h);
	{
		struct vmmem_xen_cache_stats st;

		memset(&st, 0, sizeof(st));
		st.sz = sizeof(st);
		ck_assert_int_eq(vmmem_region_xen_cache_stats(r, &st), -ENOENT);
	}

	/* guest -> libvmmem */
	buf = malloc(DPAGES * PAGE);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(vmmem_read_exact(m, 0, buf, DPAGES * PAGE), 0);
	CK_PAT(buf, 0, DPAGES * PAGE, 1);
	ck_assert_int_eq(vmmem_read_exact(m, 0x40000000, buf, 32 * PAGE), 0);
	CK_PAT(buf, 32 * PAGE, 32 * PAGE, 1);
	/* libvmmem -> guest, and the other region sees it too */
	pat_fill(buf, 0, DPAGES * PAGE, 3);
	ck_assert_int_eq(vmmem_write_exact(m, 0, buf, DPAGES * PAGE), 0);
	CK_PAT(raw, 0, DPAGES * PAGE, 3);
	ck_assert_int_eq(vmmem_read_exact(m, 0x40000000 + 5 * PAGE, buf, PAGE),
			 0);
	CK_PAT(buf, 37 * PAGE, PAGE, 3);
	/* a change made in the guest's memory is seen at once */
	pat_fill(raw + 40 * PAGE, 40 * PAGE, PAGE, 4);
	ck_assert_int_eq(vmmem_read_exact(m, 40 * PAGE, buf, PAGE), 0);
	CK_PAT(buf, 40 * PAGE, PAGE, 4);
	ck_assert_int_eq(vmmem_read_exact(m, 0x40000000 + 8 * PAGE, buf, PAGE),
			 0);
	CK_PAT(buf, 40 * PAGE, PAGE, 4);

	free(buf);
	vmmem_free(m);
	vmmem_region_unref(r);
	vmmem_region_unref(r2);
	xfx_unmap(raw, DPAGES);
	ck_assert_int_eq(xfx_dom_destroy(&d), 0);
}
END_TEST

/* FOREIGN regions of a PV domain: frames are MFNs.  One region over the
 * whole (contiguous) domain, and one region per frame placed at consecutive
 * GPAs in reverse order. */
START_TEST(foreign_pv)
{
	struct xfx_dom d;
	struct vmmem *m, *m2;
	struct vmmem_region *r;
	uint8_t *raw, *buf;
	uint32_t domid = 0, xf = 99;

	dom_new(&d, XFX_PV, DPAGES);
	raw = raw_map(&d, 0, DPAGES);
	pat_fill(raw, 0, DPAGES * PAGE, 1);
	buf = malloc(DPAGES * PAGE);
	ck_assert_ptr_nonnull(buf);

	/* per-frame regions, page i of the space = page DPAGES-1-i */
	m2 = space_new();
	for (size_t i = 0; i < DPAGES; i++) {
		r = add_foreign(m2, 0x200000 + i * PAGE, &d, DPAGES - 1 - i, 1,
				0);
		vmmem_region_unref(r);
	}
	ck_assert_int_eq(vmmem_num_regions(m2), (int)DPAGES);
	ck_assert_int_eq(vmmem_read_exact(m2, 0x200000, buf, DPAGES * PAGE),
			 0);
	for (size_t i = 0; i < DPAGES; i++)
		CK_PAT(buf + i * PAGE, (DPAGES - 1 - i) * PAGE, PAGE, 1);
	pat_fill(buf, 0, DPAGES * PAGE, 5);
	ck_assert_int_eq(vmmem_write_exact(m2, 0x200000, buf, DPAGES * PAGE),
			 0);
	for (size_t i = 0; i < DPAGES; i++)
		CK_PAT(raw + (DPAGES - 1 - i) * PAGE, i * PAGE, PAGE, 5);
	vmmem_free(m2);

	if (!d.contiguous) {
		printf("  foreign_pv: MFNs not contiguous, no whole-domain "
		       "region\n");
		goto out;
	}
	pat_fill(raw, 0, DPAGES * PAGE, 1);
	m = space_new();
	r = add_foreign(m, 0x100000, &d, 0, DPAGES, 0);
	ck_assert_int_eq(vmmem_region_xen(r, &domid, &xf), 0);
	ck_assert_uint_eq(domid, d.domid);
	ck_assert_uint_eq(xf, VMMEM_XEN_FOREIGN);
	ck_assert_int_eq(vmmem_read_exact(m, 0x100000, buf, DPAGES * PAGE), 0);
	CK_PAT(buf, 0, DPAGES * PAGE, 1);
	pat_fill(buf, 0, DPAGES * PAGE, 6);
	ck_assert_int_eq(vmmem_write_exact(m, 0x100000, buf, DPAGES * PAGE), 0);
	CK_PAT(raw, 0, DPAGES * PAGE, 6);
	pat_fill(raw + 7 * PAGE, 0, 100, 7);
	ck_assert_int_eq(vmmem_read_exact(m, 0x100000 + 7 * PAGE, buf, 100), 0);
	CK_PAT(buf, 0, 100, 7);
	vmmem_free(m);
	vmmem_region_unref(r);
out:
	free(buf);
	xfx_unmap(raw, DPAGES);
	ck_assert_int_eq(xfx_dom_destroy(&d), 0);
}
END_TEST

/* A FOREIGN region that runs past the domain's populated GFNs is refused;
 * frame_errors says which frames failed. */
START_TEST(foreign_hvm_unpopulated_gfn)
{
	struct xfx_dom d;
	struct vmmem_region *r = NULL;
	struct vmmem_xen_opts o;
	int errs[4] = { 12345, 12345, 12345, 12345 };
	int rc, rc2;

	dom_new(&d, XFX_HVM, DPAGES);
	o = xopts(VMMEM_XEN_FOREIGN, d.domid, (uint64_t)(DPAGES - 2) * PAGE);
	o.frame_errors = errs;
	rc = vmmem_region_new_xen(&r, 4 * PAGE, &o);
	printf("  DOC: FOREIGN over GFNs 62..65 of a 64-page HVM domain: %d "
	       "(%s); frame errors %d %d %d (%s) %d\n", rc, errname(rc),
	       errs[0], errs[1], errs[2], errname(errs[2]), errs[3]);
	ck_assert_int_lt(rc, 0);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(errs[0], 0);
	ck_assert_int_eq(errs[1], 0);
	ck_assert_int_lt(errs[2], 0);
	ck_assert_int_lt(errs[3], 0);
	ck_assert_int_eq(rc, errs[2]);
	/* the same without frame_errors */
	o.frame_errors = NULL;
	rc2 = vmmem_region_new_xen(&r, 4 * PAGE, &o);
	ck_assert_int_eq(rc2, rc);
	ck_assert_ptr_null(r);
	/* a hole in the middle: only that frame fails */
	o = xopts(VMMEM_XEN_FOREIGN, d.domid, (uint64_t)(DPAGES - 1) * PAGE);
	errs[0] = errs[1] = 12345;
	o.frame_errors = errs;
	rc = vmmem_region_new_xen(&r, 2 * PAGE, &o);
	ck_assert_int_lt(rc, 0);
	ck_assert_int_eq(errs[0], 0);
	ck_assert_int_eq(errs[1], rc);
	/* inside the populated range: fine */
	o = xopts(VMMEM_XEN_FOREIGN, d.domid, (uint64_t)(DPAGES - 4) * PAGE);
	ck_assert_int_eq(vmmem_region_new_xen(&r, 4 * PAGE, &o), 0);
	vmmem_region_unref(r);
	ck_assert_int_eq(xfx_dom_destroy(&d), 0);
}
END_TEST

/* PV: a frame the domain does not own (the MFN after its last one). */
START_TEST(foreign_pv_unowned_frame)
{
	struct xfx_dom d;
	struct vmmem_region *r = NULL;
	struct vmmem_xen_opts o;
	int errs[2] = { 12345, 12345 };
	xen_pfn_t last, other;
	int rc;

	dom_new(&d, XFX_PV, DPAGES);
	last = d.frames[DPAGES - 1];
	other = last + 1;
	for (size_t i = 0; i < DPAGES; i++)
		if (d.frames[i] == other)
			ck_abort_msg("MFN %#" PRIx64 " is the domain's",
				     (uint64_t)other);
	o = xopts(VMMEM_XEN_FOREIGN, d.domid, (uint64_t)last << 12);
	o.frame_errors = errs;
	rc = vmmem_region_new_xen(&r, 2 * PAGE, &o);
	printf("  DOC: FOREIGN over MFN %#" PRIx64 " (d%u's) and the next, "
	       "not d%u's: %d (%s); frame errors %d %d\n", (uint64_t)last,
	       d.domid, d.domid, rc, errname(rc), errs[0], errs[1]);
	ck_assert_int_lt(rc, 0);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(errs[0], 0);
	ck_assert_int_eq(errs[1], rc);
	ck_assert_int_eq(xfx_dom_destroy(&d), 0);
}
END_TEST

/* A domain that does not exist: clear negative errors, in advance at
 * creation, on demand at the first access (or at creation). */
START_TEST(nonexistent_domain)
{
	uint32_t domid = xfx_unused_domid();
	struct vmmem_region *r = NULL;
	struct vmmem_xen_opts o;
	struct vmmem *m;
	int errs[2] = { 12345, 12345 };
	uint8_t b[8];
	int rc;

	ck_assert_int_eq(xfx_dom_exists(domid), 0);
	o = xopts(VMMEM_XEN_FOREIGN, domid, 0x1000);
	o.frame_errors = errs;
	rc = vmmem_region_new_xen(&r, 2 * PAGE, &o);
	printf("  DOC: FOREIGN of non-existent d%u: %d (%s); frame errors %d "
	       "%d\n", domid, rc, errname(rc), errs[0], errs[1]);
	ck_assert_int_lt(rc, 0);
	ck_assert_ptr_null(r);

	o = xopts(VMMEM_XEN_GRANT, domid, (uint64_t)GREF0 << 12);
	rc = vmmem_region_new_xen(&r, 2 * PAGE, &o);
	printf("  DOC: GRANT of non-existent d%u: %d (%s)\n", domid, rc,
	       errname(rc));
	ck_assert_int_lt(rc, 0);
	ck_assert_ptr_null(r);

	o = xopts(XEN_ONDEMAND, domid, (uint64_t)GREF0 << 12);
	rc = vmmem_region_new_xen(&r, 2 * PAGE, &o);
	if (rc < 0) {
		printf("  DOC: GRANT|NO_ADVANCE_MAP of non-existent d%u: "
		       "refused at creation: %d (%s)\n", domid, rc,
		       errname(rc));
		return;
	}
	m = space_new();
	ck_assert_int_eq(vmmem_add_region(m, 0x10000, r), 0);
	rc = (int)vmmem_read(m, 0x10000, b, sizeof(b));
	printf("  DOC: GRANT|NO_ADVANCE_MAP of non-existent d%u: read: %d "
	       "(%s)\n", domid, rc, errname(rc));
	ck_assert_int_lt(rc, 0);
	ck_assert_int_lt(vmmem_write(m, 0x10000, b, sizeof(b)), 0);
	vmmem_free(m);
	vmmem_region_unref(r);
}
END_TEST

/* The domain is destroyed while libvmmem maps its memory: nothing crashes,
 * the regions can be released, and then the domain goes away (libvmmem
 * dropped every mapping).  What accesses give is printed ("DOC:"). */
START_TEST(domain_destroyed_while_mapped)
{
	struct xfx_dom d;
	struct vmmem *m;
	struct vmmem_region *rf = NULL, *rg, *ro, *rn = NULL;
	struct vmmem_xen_opts o;
	uint8_t *raw, *buf;
	uint32_t domid;
	size_t fpages;
	long rc;
	int gone = 0, ex;

	dom_new(&d, XFX_PV, DPAGES);
	domid = d.domid;
	raw = raw_map(&d, 0, DPAGES);
	pat_fill(raw, 0, DPAGES * PAGE, 1);
	xfx_unmap(raw, DPAGES); /* only libvmmem maps the domain now */
	buf = malloc(BUCKET);
	ck_assert_ptr_nonnull(buf);

	ck_assert_int_eq(xfx_grant(&d, GREF0, 16, 48, false), 0);
	m = space_new();
	fpages = d.contiguous ? 16 : 1;
	rf = add_foreign(m, 0x100000, &d, 0, fpages, 0);
	ro = add_grant(m, 0x200000, &d, GREF0, 32, true, 0, 0);
	rg = add_grant(m, 0x300000, &d, GREF0 + 32, 16, false, 0, 0);
	/* map bucket 0 of the on-demand region */
	ck_assert_int_eq(vmmem_read_exact(m, 0x200000, buf, PAGE), 0);
	CK_PAT(buf, 16 * PAGE, PAGE, 1);

	ck_assert_int_eq(xfx_dom_destroy(&d), 0);
	ex = xfx_dom_exists(domid);
	printf("  DOC: after xc_domain_destroy(d%u) with mappings: domain %s\n",
	       domid, ex > 0 ? "still listed (dying)" : "gone");

	rc = vmmem_read_exact(m, 0x100000, buf, PAGE);
	printf("  DOC: FOREIGN read after destroy: %ld (%s), data %s\n", rc,
	       errname(rc), rc ? "-" : pat_check(buf, 0, PAGE, 1) < 0 ?
	       "still the domain's" : "changed");
	rc = vmmem_write_exact(m, 0x100000, buf, 16);
	printf("  DOC: FOREIGN write after destroy: %ld (%s)\n", rc,
	       errname(rc));
	rc = vmmem_read_exact(m, 0x300000, buf, PAGE);
	printf("  DOC: GRANT (in advance) read after destroy: %ld (%s), data "
	       "%s\n", rc, errname(rc), rc ? "-" :
	       pat_check(buf, 48 * PAGE, PAGE, 1) < 0 ? "still the domain's" :
	       "changed");
	rc = vmmem_read_exact(m, 0x200000 + PAGE, buf, PAGE);
	printf("  DOC: on-demand read, bucket mapped before destroy: %ld (%s), "
	       "data %s\n", rc, errname(rc), rc ? "-" :
	       pat_check(buf, 17 * PAGE, PAGE, 1) < 0 ? "still the domain's" :
	       "changed");
	rc = vmmem_read_exact(m, 0x200000 + BUCKET, buf, PAGE);
	printf("  DOC: on-demand read, bucket not mapped before destroy: %ld "
	       "(%s)\n", rc, errname(rc));
	rc = vmmem_write(m, 0x200000 + BUCKET + 8, buf, 8);
	printf("  DOC: on-demand write, bucket not mapped before destroy: %ld "
	       "(%s)\n", rc, errname(rc));
	ck_assert_int_eq(vmmem_region_xen_invalidate(ro), 0);
	rc = vmmem_read_exact(m, 0x200000, buf, PAGE);
	printf("  DOC: on-demand read after destroy and invalidate: %ld (%s)\n",
	       rc, errname(rc));
	o = xopts(VMMEM_XEN_FOREIGN, domid, 0);
	rc = vmmem_region_new_xen(&rn, PAGE, &o);
	printf("  DOC: new FOREIGN region of the destroyed domain: %ld (%s)\n",
	       rc, errname(rc));
	vmmem_region_unref(rn);
	o = xopts(VMMEM_XEN_GRANT, domid, (uint64_t)GREF0 << 12);
	rn = NULL;
	rc = vmmem_region_new_xen(&rn, PAGE, &o);
	printf("  DOC: new GRANT region of the destroyed domain: %ld (%s)\n",
	       rc, errname(rc));
	vmmem_region_unref(rn);

	vmmem_free(m);
	vmmem_region_unref(rf);
	vmmem_region_unref(ro);
	vmmem_region_unref(rg);
	for (int i = 0; i < 1000; i++) {
		ex = xfx_dom_exists(domid);
		if (ex == 0) {
			gone = 1;
			printf("  DOC: d%u gone %d ms after the regions were "
			       "released\n", domid, i * 10);
			break;
		}
		usleep(10000);
	}
	free(buf);
	ck_assert_msg(gone, "d%u still exists 10 s after libvmmem released "
		      "its regions: mappings leaked?", domid);
}
END_TEST

/* ---------------------------------------------------------------- grants */

/* GRANT in advance: references derived from the GPA (bit 63 ignored). */
START_TEST(grant_advance_rw)
{
	struct xfx_dom d;
	struct vmmem *m;
	struct vmmem_region *r, *r63 = NULL;
	struct vmmem_xen_opts o;
	struct vmmem_xen_cache_stats st;
	uint8_t *raw, *buf;
	uint32_t domid = 0, xf = 99;
	void *h = NULL;

	dom_new(&d, XFX_PV, DPAGES);
	raw = raw_map(&d, 0, DPAGES);
	pat_fill(raw, 0, DPAGES * PAGE, 1);
	ck_assert_int_eq(xfx_grant(&d, GREF0, 0, 32, false), 0);
	buf = malloc(32 * PAGE);
	ck_assert_ptr_nonnull(buf);

	m = space_new();
	r = add_grant(m, 0x200000, &d, GREF0, 32, false, 0, 0);
	ck_assert_int_eq(vmmem_region_xen(r, &domid, &xf), 0);
	ck_assert_uint_eq(domid, d.domid);
	ck_assert_uint_eq(xf, VMMEM_XEN_GRANT);
	ck_assert_int_eq(vmmem_region_host_address(r, &h), 0);
	ck_assert_ptr_nonnull(h);
	memset(&st, 0, sizeof(st));
	st.sz = sizeof(st);
	ck_assert_int_eq(vmmem_region_xen_cache_stats(r, &st), -ENOENT);
	ck_assert_int_eq(vmmem_region_xen_invalidate(r), -ENOENT);

	ck_assert_int_eq(vmmem_read_exact(m, 0x200000, buf, 32 * PAGE), 0);
	CK_PAT(buf, 0, 32 * PAGE, 1);
	pat_fill(buf, 0, 32 * PAGE, 8);
	ck_assert_int_eq(vmmem_write_exact(m, 0x200000, buf, 32 * PAGE), 0);
	CK_PAT(raw, 0, 32 * PAGE, 8);
	/* the host address aliases the guest page */
	CK_PAT((uint8_t *)h + 3 * PAGE, 3 * PAGE, PAGE, 8);
	pat_fill(raw + 9 * PAGE, 0, PAGE, 9);
	CK_PAT((uint8_t *)h + 9 * PAGE, 0, PAGE, 9);

	/* bit 63 of the GPA is not part of the references */
	o = xopts(VMMEM_XEN_GRANT, d.domid,
		  (1ull << 63) | ((uint64_t)(GREF0 + 8) << 12));
	ck_assert_int_eq(vmmem_region_new_xen(&r63, 4 * PAGE, &o), 0);
	ck_assert_int_eq(vmmem_add_region(m, 0x400000, r63), 0);
	ck_assert_int_eq(vmmem_read_exact(m, 0x400000, buf, 4 * PAGE), 0);
	CK_PAT(buf, 8 * PAGE, PAGE, 8);
	CK_PAT(buf + PAGE, 0, PAGE, 9);
	CK_PAT(buf + 2 * PAGE, 10 * PAGE, 2 * PAGE, 8);

	free(buf);
	vmmem_free(m);
	vmmem_region_unref(r);
	vmmem_region_unref(r63);
	xfx_unmap(raw, DPAGES);
	ck_assert_int_eq(xfx_dom_destroy(&d), 0);
}
END_TEST

/* Explicit references, in any order, in advance and on demand. */
START_TEST(grant_explicit_refs)
{
	enum { N = 20 };
	struct xfx_dom d;
	struct vmmem *m;
	struct vmmem_region *r = NULL, *rd = NULL;
	struct vmmem_xen_opts o;
	uint32_t refs[N];
	size_t pages[N];
	uint8_t *raw, *buf;

	dom_new(&d, XFX_PV, DPAGES);
	raw = raw_map(&d, 0, DPAGES);
	pat_fill(raw, 0, DPAGES * PAGE, 1);
	/* region page i -> ref 300 + (7 i mod N) -> domain page 40 + ... */
	for (size_t i = 0; i < N; i++) {
		refs[i] = 300 + (uint32_t)((7 * i) % N);
		pages[i] = 40 + (7 * i) % N;
	}
	ck_assert_int_eq(xfx_grant_list(&d, refs, pages, N, false), 0);
	buf = malloc(N * PAGE);
	ck_assert_ptr_nonnull(buf);

	m = space_new();
	/* wrong count, refs with a type other than GRANT */
	o = xopts(VMMEM_XEN_GRANT, d.domid, 0);
	o.grant_refs = refs;
	o.num_grant_refs = N - 1;
	ck_assert_int_eq(vmmem_region_new_xen(&r, N * PAGE, &o), -EINVAL);
	o.num_grant_refs = N + 1;
	ck_assert_int_eq(vmmem_region_new_xen(&r, N * PAGE, &o), -EINVAL);
	o = xopts(VMMEM_XEN_FOREIGN, d.domid, 0);
	o.grant_refs = refs;
	o.num_grant_refs = N;
	ck_assert_int_eq(vmmem_region_new_xen(&r, N * PAGE, &o), -EINVAL);
	ck_assert_ptr_null(r);

	o = xopts(VMMEM_XEN_GRANT, d.domid, 0x5000);
	o.grant_refs = refs;
	o.num_grant_refs = N;
	ck_assert_int_eq(vmmem_region_new_xen(&r, N * PAGE, &o), 0);
	ck_assert_int_eq(vmmem_add_region(m, 0x100000, r), 0);
	o.xen_flags = XEN_ONDEMAND;
	ck_assert_int_eq(vmmem_region_new_xen(&rd, N * PAGE, &o), 0);
	ck_assert_int_eq(vmmem_add_region(m, 0x200000, rd), 0);

	ck_assert_int_eq(vmmem_read_exact(m, 0x100000, buf, N * PAGE), 0);
	for (size_t i = 0; i < N; i++)
		CK_PAT(buf + i * PAGE, pages[i] * PAGE, PAGE, 1);
	ck_assert_int_eq(vmmem_read_exact(m, 0x200000, buf, N * PAGE), 0);
	for (size_t i = 0; i < N; i++)
		CK_PAT(buf + i * PAGE, pages[i] * PAGE, PAGE, 1);
	/* write through the on-demand one, read through the other */
	pat_fill(buf, 0, N * PAGE, 10);
	ck_assert_int_eq(vmmem_write_exact(m, 0x200000, buf, N * PAGE), 0);
	for (size_t i = 0; i < N; i++)
		CK_PAT(raw + pages[i] * PAGE, i * PAGE, PAGE, 10);
	ck_assert_int_eq(vmmem_read_exact(m, 0x100000, buf, N * PAGE), 0);
	CK_PAT(buf, 0, N * PAGE, 10);

	free(buf);
	vmmem_free(m);
	vmmem_region_unref(r);
	vmmem_region_unref(rd);
	xfx_unmap(raw, DPAGES);
	ck_assert_int_eq(xfx_dom_destroy(&d), 0);
}
END_TEST

/* Grants of an HVM domain (frames are GFNs), in advance and on demand. */
START_TEST(grant_hvm)
{
	struct xfx_dom d;
	struct vmmem *m;
	struct vmmem_region *r, *rd;
	uint8_t *raw, *buf;

	dom_new(&d, XFX_HVM, DPAGES);
	raw = raw_map(&d, 0, DPAGES);
	pat_fill(raw, 0, DPAGES * PAGE, 1);
	ck_assert_int_eq(xfx_grant(&d, GREF0, 0, 32, false), 0);
	buf = malloc(32 * PAGE);
	ck_assert_ptr_nonnull(buf);
	m = space_new();
	r = add_grant(m, 0x100000, &d, GREF0, 32, false, 0, 0);
	rd = add_grant(m, 0x200000, &d, GREF0, 32, true, 0, 0);
	ck_assert_int_eq(vmmem_read_exact(m, 0x100000, buf, 32 * PAGE), 0);
	CK_PAT(buf, 0, 32 * PAGE, 1);
	ck_assert_int_eq(vmmem_read_exact(m, 0x200000, buf, 32 * PAGE), 0);
	CK_PAT(buf, 0, 32 * PAGE, 1);
	pat_fill(buf, 0, 16 * PAGE, 11);
	ck_assert_int_eq(vmmem_write_exact(m, 0x100000, buf, 16 * PAGE), 0);
	pat_fill(buf, 16 * PAGE, 16 * PAGE, 12);
	ck_assert_int_eq(vmmem_write_exact(m, 0x200000 + 16 * PAGE, buf,
					   16 * PAGE), 0);
	CK_PAT(raw, 0, 16 * PAGE, 11);
	CK_PAT(raw + 16 * PAGE, 16 * PAGE, 16 * PAGE, 12);
	free(buf);
	vmmem_free(m);
	vmmem_region_unref(r);
	vmmem_region_unref(rd);
	xfx_unmap(raw, DPAGES);
	ck_assert_int_eq(xfx_dom_destroy(&d), 0);
}
END_TEST

/* A reference never granted in the range: refused in advance. */
START_TEST(grant_advance_never_granted)
{
	struct xfx_dom d;
	struct vmmem_region *r = NULL;
	struct vmmem_xen_opts o;
	int rc;

	dom_new(&d, XFX_PV, DPAGES);
	ck_assert_int_eq(xfx_grant(&d, GREF0, 0, 5, false), 0);
	ck_assert_int_eq(xfx_grant(&d, GREF0 + 6, 6, 10, false), 0);
	o = xopts(VMMEM_XEN_GRANT, d.domid, (uint64_t)GREF0 << 12);
	rc = vmmem_region_new_xen(&r, 16 * PAGE, &o);
	printf("  DOC: GRANT in advance with ref %u never granted: %d (%s)\n",
	       GREF0 + 5, rc, errname(rc));
	ck_assert_int_lt(rc, 0);
	ck_assert_ptr_null(r);
	o.flags = VMMEM_XEN_READONLY;
	ck_assert_int_lt(vmmem_region_new_xen(&r, 16 * PAGE, &o), 0);
	ck_assert_ptr_null(r);
	/* without the hole */
	o = xopts(VMMEM_XEN_GRANT, d.domid, (uint64_t)(GREF0 + 6) << 12);
	ck_assert_int_eq(vmmem_region_new_xen(&r, 10 * PAGE, &o), 0);
	vmmem_region_unref(r);
	ck_assert_int_eq(xfx_dom_destroy(&d), 0);
}
END_TEST

/* Read-only grants: a read-write region is refused, a READONLY one maps. */
START_TEST(grant_advance_rw_of_ro_grant)
{
	struct xfx_dom d;
	struct vmmem_region *r = NULL;
	struct vmmem_xen_opts o;
	struct vmmem *m;
	uint8_t *raw, buf[PAGE];
	int rc;

	dom_new(&d, XFX_PV, DPAGES);
	raw = raw_map(&d, 0, DPAGES);
	pat_fill(raw, 0, DPAGES * PAGE, 1);
	ck_assert_int_eq(xfx_grant(&d, GREF0, 0, 4, true), 0);
	ck_assert_int_eq(xfx_grant(&d, GREF0 + 4, 4, 4, false), 0);
	ck_assert_int_eq(xfx_grant(&d, GREF0 + 8, 8, 1, true), 0);

	o = xopts(VMMEM_XEN_GRANT, d.domid, (uint64_t)GREF0 << 12);
	rc = vmmem_region_new_xen(&r, 4 * PAGE, &o);
	printf("  DOC: GRANT read-write over GTF_readonly grants: %d (%s)\n",
	       rc, errname(rc));
	ck_assert_int_lt(rc, 0);
	ck_assert_ptr_null(r);
	/* one read-only grant among read-write ones */
	o = xopts(VMMEM_XEN_GRANT, d.domid, (uint64_t)(GREF0 + 4) << 12);
	rc = vmmem_region_new_xen(&r, 5 * PAGE, &o);
	ck_assert_msg(rc < 0, "read-write region over 4 RW + 1 RO grants: %d",
		      rc);
	ck_assert_ptr_null(r);

	o = xopts(VMMEM_XEN_GRANT, d.domid, (uint64_t)GREF0 << 12);
	o.flags = VMMEM_XEN_READONLY;
	ck_assert_int_eq(vmmem_region_new_xen(&r, 9 * PAGE, &o), 0);
	m = space_new();
	ck_assert_int_eq(vmmem_add_region(m, 0x100000, r), 0);
	ck_assert_int_eq(vmmem_read_exact(m, 0x100000 + 2 * PAGE, buf, PAGE),
			 0);
	CK_PAT(buf, 2 * PAGE, PAGE, 1);
	ck_assert_int_eq(vmmem_write(m, 0x100000, buf, 8), -EACCES);
	vmmem_free(m);
	vmmem_region_unref(r);
	xfx_unmap(raw, DPAGES);
	ck_assert_int_eq(xfx_dom_destroy(&d), 0);
}
END_TEST

/* Every write path into a READONLY region fails with -EACCES; reads work;
 * the guest's memory is unchanged. */
START_TEST(readonly_region)
{
	struct xspace x;
	uint8_t buf[256], plain_before[256];
	uint64_t v = 0, len;
	void *h = NULL;
	int fd;
	long rc;
	unsigned int flags = 0;

	xspace_new(&x, _i, VMMEM_XEN_READONLY, _i != XK_FOREIGN);
	ck_assert_int_eq(vmmem_region_xen_flags(x.xr, &flags), 0);
	ck_assert_uint_eq(flags, VMMEM_XEN_READONLY);
	memset(buf, 0x77, sizeof(buf));
	ck_assert_int_eq(vmmem_write(x.m, XEN_GPA + 0x10, buf, 16), -EACCES);
	ck_assert_int_eq(vmmem_write_exact(x.m, XEN_GPA + 0x10, buf, 16),
			 -EACCES);
	ck_assert_int_eq(vmmem_write(x.m, XEN_GPA + BUCKET + 0x10, buf, 16),
			 -EACCES);
	/* exact across plain -> read-only: nothing written at all */
	memcpy(plain_before, view(&x, XEN_GPA - 128), 128);
	rc = vmmem_write_exact(x.m, XEN_GPA - 128, buf, 256);
	ck_assert_int_eq(rc, -EACCES);
	ck_assert_mem_eq(view(&x, XEN_GPA - 128), plain_before, 128);
	ck_assert_int_eq(vmmem_store(x.m, XEN_GPA + 0x40, 8, 1,
				     VMMEM_ORDER_SEQ_CST), -EACCES);
	ck_assert_int_eq(vmmem_store(x.m, XEN_GPA + 0x41, 1, 1,
				     VMMEM_ORDER_RELAXED), -EACCES);
	ck_assert_int_eq(vmmem_write_le32(x.m, XEN_GPA + 0x44, 5), -EACCES);
	ck_assert_int_eq(vmmem_fill(x.m, XEN_GPA, 0, PAGE), -EACCES);
	ck_assert_int_eq(vmmem_copy(x.m, XEN_GPA + 0x100, PLAIN_GPA, 64),
			 -EACCES);
	ck_assert_int_eq(vmmem_copy(x.m, XEN_GPA + 0x100, XEN_GPA + 0x2000,
				    64), -EACCES);
	len = 64;
	ck_assert_int_eq(vmmem_map(x.m, XEN_GPA, &len, VMMEM_MAP_WRITE, &h),
			 -EACCES);
	len = 64;
	ck_assert_int_eq(vmmem_map(x.m, XEN_GPA, &len,
				   VMMEM_MAP_READ | VMMEM_MAP_WRITE, &h),
			 -EACCES);
	fd = test_filled_memfd(2 * PAGE, 0x33);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(vmmem_read_fd(x.m, XEN_GPA, fd, 64), -EACCES);
	ck_assert_int_eq(vmmem_pread_fd(x.m, XEN_GPA + PAGE, fd, 64, 0),
			 -EACCES);
	CK_PAT(x.raw, 0, XPAGES * PAGE, 1);

	/* reads */
	ck_assert_int_eq(vmmem_load(x.m, XEN_GPA + 0x40, 8, &v,
				    VMMEM_ORDER_ACQUIRE), 0);
	ck_assert_mem_eq(&v, x.raw + 0x40, 8);
	expect_read(&x, XEN_GPA - 100, 2 * BUCKET + 200);
	len = 64;
	ck_assert_int_eq(vmmem_map(x.m, XEN_GPA + 0x80, &len, VMMEM_MAP_READ,
				   &h), 0);
	ck_assert_uint_eq(len, 64);
	ck_assert_mem_eq(h, x.raw + 0x80, 64);
	ck_assert_int_eq(vmmem_unmap(x.m, h, 0), 0);
	ck_assert_int_eq(vmmem_copy(x.m, PLAIN_GPA, XEN_GPA + 0x300, 128), 0);
	ck_assert_mem_eq(x.plain_host, x.raw + 0x300, 128);
	ck_assert_int_eq(vmmem_pwrite_fd(x.m, XEN_GPA + 0x500, fd, 128, 16),
			 128);
	ck_assert_int_eq(pread(fd, buf, 128, 16), 128);
	ck_assert_mem_eq(buf, x.raw + 0x500, 128);
	close(fd);
	xspace_free(&x);
}
END_TEST

/* ------------------------------------------------------------- on demand */

START_TEST(ondemand_basic)
{
	struct xspace x;
	struct vmmem_xen_cache_stats st;
	struct iovec iov[4];
	uint32_t domid = 0, xf = 99;
	uint8_t *buf;
	void *h = NULL;

	xspace_new(&x, XK_ONDEMAND, 0, false);
	ck_assert_int_eq(vmmem_region_xen(x.xr, &domid, &xf), 0);
	ck_assert_uint_eq(domid, x.d.domid);
	ck_assert_uint_eq(xf, XEN_ONDEMAND);
	ck_assert_int_eq(vmmem_region_host_address(x.xr, &h), -ENXIO);
	ck_assert_int_eq(vmmem_host_address(x.m, XEN_GPA, 16, &h), -ENXIO);
	ck_assert_int_eq(vmmem_iovec(x.m, XEN_GPA, 16, iov, 4), -ENXIO);
	ck_assert_int_eq(vmmem_iovec(x.m, XEN_GPA - 16, 32, iov, 4), -ENXIO);
	st = cstats(x.xr);
	ck_assert_uint_eq(st.mapped_pages, 0);
	ck_assert_uint_eq(st.map_calls, 0);

	buf = malloc(XPAGES * PAGE);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(vmmem_read_exact(x.m, XEN_GPA, buf, XPAGES * PAGE), 0);
	CK_PAT(buf, 0, XPAGES * PAGE, 1);
	pat_fill(buf, 0, XPAGES * PAGE, 13);
	ck_assert_int_eq(vmmem_write_exact(x.m, XEN_GPA, buf, XPAGES * PAGE),
			 0);
	CK_PAT(x.raw, 0, XPAGES * PAGE, 13);
	pat_fill(x.raw + 30 * PAGE, 0, 3 * PAGE, 14);
	ck_assert_int_eq(vmmem_read_exact(x.m, XEN_GPA + 30 * PAGE, buf,
					  3 * PAGE), 0);
	CK_PAT(buf, 0, 3 * PAGE, 14);
	st = cstats(x.xr);
	print_stats("ondemand_basic", &st);
	/* One batched map per exact transfer, unmapped when it returned. */
	ck_assert_uint_eq(st.map_calls, 3);
	ck_assert_uint_eq(st.mapped_pages, 0);
	ck_assert_uint_eq(st.pinned_pages, 0);
	ck_assert_uint_eq(st.hits, 0);
	free(buf);
	xspace_free(&x);
}
END_TEST

/* On demand with a never-granted reference: accesses to it fail, the
 * others work (the whole-bucket map fails, the exact one works). */
START_TEST(ondemand_never_granted)
{
	struct xspace x;
	struct vmmem_xen_cache_stats s0, s1;
	uint8_t buf[2 * PAGE];
	uint64_t len, v = 0;
	void *h = NULL;
	long rc;

	xspace_new(&x, XK_ONDEMAND, VMMEM_XEN_MAP_CACHE, false);
	/* page 5 and bucket 2 (pages 32..47) not granted */
	ck_assert_int_eq(xfx_revoke(&x.d, GREF0 + 5, 1), 0);
	ck_assert_int_eq(xfx_revoke(&x.d, GREF0 + 32, 16), 0);

	s0 = cstats(x.xr);
	ck_assert_int_eq(vmmem_read_exact(x.m, XEN_GPA + 2 * PAGE + 8, buf, 8),
			 0);
	CK_PAT(buf, 2 * PAGE + 8, 8, 1);
	s1 = cstats(x.xr);
	print_stats("bucket with a hole, first read", &s1);
	ck_assert_uint_eq(s1.misses - s0.misses, 1);
	ck_assert_uint_eq(s1.map_calls - s0.map_calls, 2);
	ck_assert_uint_eq(s1.map_failures - s0.map_failures, 1);
	s0 = s1;
	ck_assert_int_eq(vmmem_read_exact(x.m, XEN_GPA + 2 * PAGE + 16, buf,
					  8), 0);
	s1 = cstats(x.xr);
	ck_assert_uint_eq(s1.hits - s0.hits, 1);
	ck_assert_uint_eq(s1.map_calls, s0.map_calls);

	s0 = s1;
	rc = vmmem_read(x.m, XEN_GPA + 5 * PAGE, buf, 8);
	printf("  DOC: on-demand read of never-granted ref: %ld (%s)\n", rc,
	       errname(rc));
	ck_assert_int_lt(rc, 0);
	s1 = cstats(x.xr);
	print_stats("after the failed read", &s1);
	ck_assert_uint_gt(s1.map_failures, s0.map_failures);
	ck_assert_int_lt(vmmem_read_exact(x.m, XEN_GPA + 5 * PAGE, buf, 8), 0);
	/* partial, the hole in the same bucket: the piece of the bucket is
	 * pinned (mapped) as a whole, so either the bytes before the hole or
	 * the error */
	rc = vmmem_read(x.m, XEN_GPA + 4 * PAGE, buf, 2 * PAGE);
	printf("  DOC: on-demand vmmem_read of a granted page and the "
	       "never-granted next one (same bucket): %ld (%s)\n", rc,
	       errname(rc));
	ck_assert(rc == PAGE || rc < 0);
	if (rc == PAGE)
		CK_PAT(buf, 4 * PAGE, PAGE, 1);
	rc = vmmem_read(x.m, XEN_GPA + 5 * PAGE - 10, buf, 20);
	ck_assert(rc == 10 || rc < 0);
	/* partial, the hole in the next bucket: the bytes before it */
	ck_assert_int_eq(xfx_revoke(&x.d, GREF0 + 16, 1), 0);
	rc = vmmem_read(x.m, XEN_GPA + BUCKET - 8, buf, 16);
	ck_assert_int_eq(rc, 8);
	CK_PAT(buf, BUCKET - 8, 8, 1);
	rc = vmmem_write(x.m, XEN_GPA + BUCKET - 8, buf, 16);
	ck_assert_int_eq(rc, 8);
	ck_assert_int_lt(vmmem_read_exact(x.m, XEN_GPA + 4 * PAGE, buf,
					  2 * PAGE), 0);
	ck_assert_int_lt(vmmem_write(x.m, XEN_GPA + 5 * PAGE, buf, 8), 0);
	ck_assert_int_lt(vmmem_write_exact(x.m, XEN_GPA + 5 * PAGE, buf, 8), 0);
	ck_assert_int_lt(vmmem_store(x.m, XEN_GPA + 5 * PAGE, 8, 1,
				     VMMEM_ORDER_SEQ_CST), 0);
	ck_assert_int_lt(vmmem_load(x.m, XEN_GPA + 5 * PAGE, 8, &v,
				    VMMEM_ORDER_SEQ_CST), 0);
	ck_assert_int_lt(vmmem_fill(x.m, XEN_GPA + 5 * PAGE, 0, 8), 0);
	len = 8;
	ck_assert_int_lt(vmmem_map(x.m, XEN_GPA + 5 * PAGE, &len,
				   VMMEM_MAP_READ, &h), 0);
	/* a bucket with no grant at all */
	rc = vmmem_read(x.m, XEN_GPA + 33 * PAGE, buf, 8);
	ck_assert_int_lt(rc, 0);
	/* a read reaching the ungranted bucket stops there */
	rc = vmmem_read(x.m, XEN_GPA + 32 * PAGE - 8, buf, 16);
	ck_assert_int_eq(rc, 8);
	/* the rest still works */
	ck_assert_int_eq(vmmem_read_exact(x.m, XEN_GPA + 20 * PAGE, buf, PAGE),
			 0);
	CK_PAT(buf, 20 * PAGE, PAGE, 1);
	memset(buf, 0x5C, 8);
	ck_assert_int_eq(vmmem_write_exact(x.m, XEN_GPA + 6 * PAGE, buf, 8), 0);
	ck_assert(test_all_bytes(x.raw + 6 * PAGE, 0x5C, 8));
	s1 = cstats(x.xr);
	ck_assert_uint_eq(s1.pinned_pages, 0);
	xspace_free(&x);
}
END_TEST

/* A read-write on-demand region over a read-only grant: reads work, writes
 * to that page fail, writes to the others work. */
START_TEST(ondemand_ro_grant)
{
	struct xspace x;
	struct vmmem_xen_cache_stats s0, s1;
	uint8_t buf[PAGE];
	long rc;

	xspace_new(&x, XK_ONDEMAND, 0, false);
	ck_assert_int_eq(xfx_grant(&x.d, GREF0 + 20, 20, 1, true), 0);

	ck_assert_int_eq(vmmem_read_exact(x.m, XEN_GPA + 20 * PAGE, buf, PAGE),
			 0);
	CK_PAT(buf, 20 * PAGE, PAGE, 1);
	s0 = cstats(x.xr);
	memset(buf, 0xAB, 16);
	rc = vmmem_write(x.m, XEN_GPA + 20 * PAGE, buf, 16);
	printf("  DOC: on-demand write to a GTF_readonly grant: %ld (%s)\n", rc,
	       errname(rc));
	ck_assert_int_lt(rc, 0);
	s1 = cstats(x.xr);
	print_stats("after the refused write", &s1);
	ck_assert_uint_gt(s1.map_failures, s0.map_failures);
	ck_assert_int_lt(vmmem_store(x.m, XEN_GPA + 20 * PAGE, 4, 1,
				     VMMEM_ORDER_RELAXED), 0);
	CK_PAT(x.raw + 20 * PAGE, 20 * PAGE, PAGE, 1);
	/* the neighbours in the same bucket are writable */
	ck_assert_int_eq(vmmem_write_exact(x.m, XEN_GPA + 21 * PAGE, buf, 16),
			 0);
	ck_assert(test_all_bytes(x.raw + 21 * PAGE, 0xAB, 16));
	ck_assert_int_eq(vmmem_write_exact(x.m, XEN_GPA + 19 * PAGE, buf, 16),
			 0);
	ck_assert(test_all_bytes(x.raw + 19 * PAGE, 0xAB, 16));
	ck_assert_int_eq(vmmem_write_exact(x.m, XEN_GPA + 3 * PAGE, buf, 16),
			 0);
	ck_assert(test_all_bytes(x.raw + 3 * PAGE, 0xAB, 16));
	/* and the read-only page is still readable */
	ck_assert_int_eq(vmmem_read_exact(x.m, XEN_GPA + 20 * PAGE, buf, PAGE),
			 0);
	CK_PAT(buf, 20 * PAGE, PAGE, 1);
	xspace_free(&x);
}
END_TEST

/* --------------------------------------- grants the granting side ends */

/* Linux guests using virtio over grants (drivers/xen/grant-dma-ops.c) grant
 * each buffer for one DMA mapping and end the grant when the driver unmaps
 * it; a grant still mapped by the back-end cannot be ended, and the guest's
 * kernel defers (or leaks) it.  Here dom0 grants its own pages to itself
 * through gntalloc (libxengntshr), plays the back-end on them through an
 * on-demand region, then plays the guest and ends the grants. */

#define END_PAGES 32u                 /* two buckets */
#define END_GPA   0x100000ull
#define END_IOVA  0x80000000ull

/* Whether grant reference ref of dom0 can still be mapped: false once the
 * granting side has ended it (its entry no longer permits access). */
static bool ref_granted(xengnttab_handle *probe, uint32_t ref)
{
	void *p = xengnttab_map_grant_ref(probe, 0, ref, PROT_READ);

	if (!p)
		return false;
	xengnttab_unmap(probe, p, 1);
	return true;
}

static unsigned int refs_granted(xengnttab_handle *probe, const uint32_t *refs)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < END_PAGES; i++)
		n += ref_granted(probe, refs[i]);
	return n;
}

/* Lines of the kernel log holding what: the grant-table driver logs each
 * grant it cannot end at once ("deferring g.e. ..." at debug level, which
 * grant_end_debug() switches on where dynamic debug needs it, or "leaking
 * g.e. ..." as a warning).  -1 if the log cannot be read. */
static int klog_count(const char *what)
{
	int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0), n, count = 0;
	char *buf, *p;

	if (size <= 0 || !(buf = malloc((size_t)size + 1)))
		return -1;
	n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, size);
	if (n < 0) {
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	for (p = buf; (p = strstr(p, what)); p++)
		count++;
	free(buf);
	return count;
}

static void grant_end_debug(void)
{
	static const char ctl[] = "/sys/kernel/debug/dynamic_debug/control";
	static const char cmd[] = "file drivers/xen/grant-table.c +p\n";
	int fd;

	if (access(ctl, F_OK))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	fd = open(ctl, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, cmd, sizeof(cmd) - 1) < 0)
		printf("  note: dynamic debug of grant-table.c not enabled\n");
	if (fd >= 0)
		close(fd);
}

static int klog_deferred(void)
{
	int d = klog_count("deferring g.e."), l = klog_count("leaking g.e.");

	return d < 0 || l < 0 ? -1 : d + l;
}

/* Every access path over the on-demand region at END_GPA, checked through
 * the granting side's own mapping g. */
static void every_path(struct vmmem *m, uint8_t *g)
{
	static uint8_t buf[64 * 1024], got[64 * 1024];
	struct vmmem_iommu *io = NULL;
	uint64_t len, v = 0;
	void *h = NULL;
	int fd = memfd_create("grant-end", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	/* read and write, exact and partial, 4 KiB and 64 KiB (17 pages,
	 * across a bucket boundary) */
	ck_assert_int_eq(vmmem_read_exact(m, END_GPA + PAGE, buf, PAGE), 0);
	CK_PAT(buf, PAGE, PAGE, 21);
	pat_fill(buf, 0, sizeof(buf), 22);
	ck_assert_int_eq(vmmem_write_exact(m, END_GPA + 8 * PAGE + 100, buf,
					   sizeof(buf)), 0);
	CK_PAT(g + 8 * PAGE + 100, 0, sizeof(buf), 22);
	ck_assert_int_eq(vmmem_read(m, END_GPA + 8 * PAGE + 100, got,
				    sizeof(got)), (ssize_t)sizeof(got));
	CK_PAT(got, 0, sizeof(got), 22);
	ck_assert_int_eq(vmmem_write(m, END_GPA + 28 * PAGE, buf, PAGE),
			 (ssize_t)PAGE);
	CK_PAT(g + 28 * PAGE, 0, PAGE, 22);
	/* atomics */
	ck_assert_int_eq(vmmem_store(m, END_GPA + 3 * PAGE + 8, 8,
				     0x0123456789abcdefull,
				     VMMEM_ORDER_RELEASE), 0);
	ck_assert_int_eq(memcmp(g + 3 * PAGE + 8, &(uint64_t){
					0x0123456789abcdefull }, 8), 0);
	ck_assert_int_eq(vmmem_load(m, END_GPA + 3 * PAGE + 8, 8, &v,
				    VMMEM_ORDER_ACQUIRE), 0);
	ck_assert_uint_eq(v, 0x0123456789abcdefull);
	/* fill and copy */
	ck_assert_int_eq(vmmem_fill(m, END_GPA + 4 * PAGE + 1, 0x5a, 2 * PAGE),
			 0);
	ck_assert(test_all_bytes(g + 4 * PAGE + 1, 0x5a, 2 * PAGE));
	ck_assert_int_eq(vmmem_copy(m, END_GPA + 26 * PAGE,
				    END_GPA + 8 * PAGE + 100, 2 * PAGE), 0);
	CK_PAT(g + 26 * PAGE, 0, 2 * PAGE, 22);
	/* map/unmap */
	len = 2 * PAGE;
	ck_assert_int_eq(vmmem_map(m, END_GPA + 30 * PAGE, &len,
				   VMMEM_MAP_WRITE, &h), 0);
	ck_assert_uint_eq(len, 2 * PAGE);
	memset(h, 0x3c, len);
	ck_assert_int_eq(vmmem_unmap(m, h, len), 0);
	ck_assert(test_all_bytes(g + 30 * PAGE, 0x3c, 2 * PAGE));
	/* fd I/O */
	ck_assert_int_eq(vmmem_pwrite_fd(m, END_GPA + 8 * PAGE + 100, fd,
					 sizeof(buf), 0), (ssize_t)sizeof(buf));
	ck_assert_int_eq(pread(fd, got, sizeof(got), 0), (ssize_t)sizeof(got));
	CK_PAT(got, 0, sizeof(got), 22);
	pat_fill(buf, 0, 4 * PAGE, 23);
	ck_assert_int_eq(pwrite(fd, buf, 4 * PAGE, 0), (ssize_t)(4 * PAGE));
	ck_assert_int_eq(vmmem_pread_fd(m, END_GPA + 12 * PAGE, fd, 4 * PAGE,
					0), (ssize_t)(4 * PAGE));
	CK_PAT(g + 12 * PAGE, 0, 4 * PAGE, 23);
	close(fd);
	/* IOVA */
	ck_assert_int_eq(vmmem_iommu_new(&io, m, NULL), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, END_IOVA, END_PAGES * PAGE,
					    END_GPA, VMMEM_PERM_READ |
					    VMMEM_PERM_WRITE), 0);
	pat_fill(buf, 0, 3 * PAGE, 24);
	ck_assert_int_eq(vmmem_iommu_write_exact(io, END_IOVA + 20 * PAGE + 7,
						 buf, 3 * PAGE), 0);
	CK_PAT(g + 20 * PAGE + 7, 0, 3 * PAGE, 24);
	ck_assert_int_eq(vmmem_iommu_read(io, END_IOVA + 20 * PAGE + 7, got,
					  3 * PAGE), (ssize_t)(3 * PAGE));
	CK_PAT(got, 0, 3 * PAGE, 24);
	vmmem_iommu_free(io);
}

/* _i 0: the default, each access maps and unmaps its pages; _i 1: the map
 * cache (VMMEM_XEN_MAP_CACHE), which keeps them. */
START_TEST(grant_end)
{
	bool cache = _i == 1;
	struct vmmem_xen_opts o = xopts(XEN_ONDEMAND, 0, 0);
	struct vmmem_xen_cache_stats st;
	struct vmmem_region *r = NULL;
	struct vmmem *m = space_new();
	/* The probe's failures are the expected answer: not logged. */
	xentoollog_logger_stdiostream *quiet =
		xtl_createlogger_stdiostream(stderr, XTL_CRITICAL, 0);
	xengntshr_handle *shr = xengntshr_open(NULL, 0);
	xengnttab_handle *probe = xengnttab_open((xentoollog_logger *)quiet, 0);
	uint32_t refs[END_PAGES];
	unsigned int flags = 99, live;
	uint8_t *g, buf[64];
	int k0, k1, rc;
	uint64_t len = 8;
	void *h = NULL;

	ck_assert_msg(shr && probe, "opening gntalloc / gntdev: %s",
		      strerror(errno));
	grant_end_debug();
	g = xengntshr_share_pages(shr, 0, END_PAGES, refs, 1);
	ck_assert_msg(g != NULL, "gntalloc: granting %u pages to dom0: %s",
		      END_PAGES, strerror(errno));
	pat_fill(g, 0, END_PAGES * PAGE, 21);
	o.grant_refs = refs;
	o.num_grant_refs = END_PAGES;
	o.flags = cache ? VMMEM_XEN_MAP_CACHE : 0;
	rc = vmmem_region_new_xen(&r, END_PAGES * PAGE, &o);
	ck_assert_msg(rc == 0, "on-demand region of dom0's own grants: %s",
		      errname(rc));
	ck_assert_int_eq(vmmem_region_xen_flags(r, &flags), 0);
	ck_assert_uint_eq(flags, o.flags);
	ck_assert_int_eq(vmmem_add_region(m, END_GPA, r), 0);

	every_path(m, g);
	st = cstats(r);
	print_stats(cache ? "grant_end, cache" : "grant_end", &st);
	ck_assert_uint_eq(st.pinned_pages, 0);
	if (!cache)
		ck_assert_uint_eq(st.mapped_pages, 0);
	ck_assert_uint_eq(refs_granted(probe, refs), END_PAGES);

	/* The guest's side: end every grant. */
	k0 = klog_deferred();
	ck_assert_int_eq(xengntshr_unshare(shr, g, END_PAGES), 0);
	live = refs_granted(probe, refs);
	k1 = klog_deferred();
	printf("  DOC: %s: after the granting side ended %u grants: %u still "
	       "granted (end deferred), kernel log \"deferring/leaking g.e.\" "
	       "lines: %d\n", cache ? "MAP_CACHE" : "default", END_PAGES, live,
	       k0 < 0 || k1 < 0 ? -1 : k1 - k0);
	if (!cache) {
		ck_assert_uint_eq(live, 0);
		if (k0 >= 0 && k1 >= 0)
			ck_assert_int_eq(k1 - k0, 0);
	} else {
		ck_assert_uint_gt(live, 0);
	}

	/* An access after the end fails, or with the cache, still reaches
	 * the page it keeps until invalidated. */
	rc = (int)vmmem_read(m, END_GPA + PAGE, buf, sizeof(buf));
	printf("  DOC: %s: read after the end: %d (%s)\n",
	       cache ? "MAP_CACHE" : "default", rc, errname(rc));
	if (cache) {
		double t = 0;

		ck_assert_int_eq(rc, (int)sizeof(buf));
		ck_assert_int_eq(vmmem_region_xen_invalidate(r), 0);
		/* The kernel retries deferred ends once a second. */
		while ((live = refs_granted(probe, refs)) && t < 10) {
			usleep(100000);
			t += 0.1;
		}
		printf("  DOC: MAP_CACHE: deferred ends done %.1f s after "
		       "invalidation\n", t);
		ck_assert_uint_eq(live, 0);
		rc = (int)vmmem_read(m, END_GPA + PAGE, buf, sizeof(buf));
	}
	ck_assert_int_lt(rc, 0);
	ck_assert_int_lt(vmmem_read_exact(m, END_GPA, buf, 8), 0);
	ck_assert_int_lt(vmmem_write_exact(m, END_GPA + 9 * PAGE, buf, 8), 0);
	ck_assert_int_lt(vmmem_store(m, END_GPA, 4, 1, VMMEM_ORDER_RELAXED), 0);
	ck_assert_int_lt(vmmem_fill(m, END_GPA, 0, PAGE), 0);
	ck_assert_int_lt(vmmem_map(m, END_GPA, &len, VMMEM_MAP_READ, &h), 0);
	ck_assert_uint_eq(cstats(r).pinned_pages, 0);

	vmmem_free(m);
	vmmem_region_unref(r);
	xengnttab_close(probe);
	xengntshr_close(shr);
	xtl_logger_destroy((xentoollog_logger *)quiet);
}
END_TEST

/* ------------------------------------------------------------- map cache */

/* Hits, misses, buckets clipped to the region end. */
START_TEST(cache_hits)
{
	enum { N = 40 };                /* buckets of 16, 16 and 8 pages */
	struct xfx_dom d;
	struct vmmem *m;
	struct vmmem_region *r;
	struct vmmem_xen_cache_stats s;
	uint8_t *raw, buf[16];
	uint64_t v = 0;

	dom_new(&d, XFX_PV, DPAGES);
	raw = raw_map(&d, 0, DPAGES);
	pat_fill(raw, 0, DPAGES * PAGE, 1);
	ck_assert_int_eq(xfx_grant(&d, GREF0, 0, N, false), 0);
	m = space_new();
	r = add_grant(m, 0x100000, &d, GREF0, N, true, VMMEM_XEN_MAP_CACHE, 0);

	s = cstats(r);
	ck_assert_uint_eq(s.hits + s.misses + s.map_calls + s.mapped_pages, 0);
	ck_assert_int_eq(vmmem_read_exact(m, 0x100000 + 0x10, buf, 8), 0);
	CK_PAT(buf, 0x10, 8, 1);
	s = cstats(r);
	ck_assert_uint_eq(s.misses, 1);
	ck_assert_uint_eq(s.hits, 0);
	ck_assert_uint_eq(s.map_calls, 1);
	ck_assert_uint_eq(s.map_failures, 0);
	ck_assert_uint_eq(s.mapped_pages, 16);
	ck_assert_uint_eq(s.pinned_pages, 0);
	/* the same page again, another page of the bucket */
	ck_assert_int_eq(vmmem_read_exact(m, 0x100000 + 0x10, buf, 8), 0);
	ck_assert_int_eq(vmmem_read_exact(m, 0x100000 + 15 * PAGE, buf, 8), 0);
	CK_PAT(buf, 15 * PAGE, 8, 1);
	ck_assert_int_eq(vmmem_load(m, 0x100000 + PAGE, 8, &v,
				    VMMEM_ORDER_ACQUIRE), 0);
	ck_assert_mem_eq(&v, raw + PAGE, 8);
	s = cstats(r);
	ck_assert_uint_eq(s.hits, 3);
	ck_assert_uint_eq(s.misses, 1);
	ck_assert_uint_eq(s.map_calls, 1);
	/* across the bucket boundary: two pins, a hit and a miss */
	ck_assert_int_eq(vmmem_read_exact(m, 0x100000 + BUCKET - 4, buf, 8), 0);
	CK_PAT(buf, BUCKET - 4, 8, 1);
	s = cstats(r);
	ck_assert_uint_eq(s.hits, 4);
	ck_assert_uint_eq(s.misses, 2);
	ck_assert_uint_eq(s.map_calls, 2);
	ck_assert_uint_eq(s.mapped_pages, 32);
	/* the last bucket has 8 pages */
	ck_assert_int_eq(vmmem_read_exact(m, 0x100000 + 35 * PAGE, buf, 8), 0);
	CK_PAT(buf, 35 * PAGE, 8, 1);
	s = cstats(r);
	ck_assert_uint_eq(s.misses, 3);
	ck_assert_uint_eq(s.map_calls, 3);
	ck_assert_uint_eq(s.mapped_pages, N);
	ck_assert_uint_eq(s.evictions, 0);
	ck_assert_uint_eq(s.pinned_pages, 0);
	/* a write needs a read-write entry: one more miss, then hits */
	memset(buf, 0x11, 8);
	ck_assert_int_eq(vmmem_write_exact(m, 0x100000 + 36 * PAGE, buf, 8), 0);
	ck_assert_int_eq(vmmem_write_exact(m, 0x100000 + 37 * PAGE, buf, 8), 0);
	ck_assert(test_all_bytes(raw + 36 * PAGE, 0x11, 8));
	ck_assert(test_all_bytes(raw + 37 * PAGE, 0x11, 8));
	s = cstats(r);
	print_stats("cache_hits", &s);
	ck_assert_uint_eq(s.misses, 4);
	ck_assert_uint_eq(s.hits, 5);
	ck_assert_uint_eq(s.map_calls, 4);

	vmmem_free(m);
	vmmem_region_unref(r);
	xfx_unmap(raw, DPAGES);
	ck_assert_int_eq(xfx_dom_destroy(&d), 0);
}
END_TEST

/* Eviction under a small bound (cache_pages 16 and 32). */
START_TEST(cache_eviction)
{
	enum { N = 256 };               /* 16 buckets */
	size_t bound = _i ? 32 : 16;
	struct xfx_dom d;
	struct vmmem *m;
	struct vmmem_region *r;
	struct vmmem_xen_cache_stats s, s0;
	uint8_t *raw, buf[8];

	dom_new(&d, XFX_PV, N);
	raw = raw_map(&d, 0, N);
	pat_fill(raw, 0, N * PAGE, 1);
	ck_assert_int_eq(xfx_grant(&d, GREF0, 0, N, false), 0);
	m = space_new();
	r = add_grant(m, 0x1000000, &d, GREF0, N, true, VMMEM_XEN_MAP_CACHE, bound);

	for (int pass = 0; pass < 2; pass++)
		for (size_t b = 0; b < N / 16; b++) {
			uint64_t off = b * BUCKET + (b % 16) * PAGE + 8 * b;

			ck_assert_int_eq(vmmem_read_exact(m, 0x1000000 + off,
							  buf, 8), 0);
			CK_PAT(buf, off, 8, 1);
			s0 = cstats(r);
			ck_assert_msg(s0.mapped_pages <= bound,
				      "%" PRIu64 " pages mapped, bound %zu",
				      s0.mapped_pages, bound);
			ck_assert_uint_eq(s0.pinned_pages, 0);
			ck_assert_uint_eq(s0.mapped_pages,
					  16 * (s0.misses - s0.evictions));
			/* the most recently used bucket is still there */
			ck_assert_int_eq(vmmem_read_exact(m, 0x1000000 + off,
							  buf, 8), 0);
			s = cstats(r);
			ck_assert_msg(s.hits == s0.hits + 1,
				      "pass %d bucket %zu: the bucket just "
				      "mapped was not kept (hits %" PRIu64
				      " -> %" PRIu64 ", misses %" PRIu64
				      " -> %" PRIu64 ")", pass, b, s0.hits,
				      s.hits, s0.misses, s.misses);
		}
	s = cstats(r);
	print_stats("after two passes over 16 buckets", &s);
	ck_assert_uint_eq(s.misses, 2 * N / 16);
	ck_assert_uint_eq(s.evictions, 2 * N / 16 - bound / 16);
	ck_assert_uint_gt(s.evictions, 0);
	/* the last bucket is cached, the first is not */
	s0 = s;
	ck_assert_int_eq(vmmem_read_exact(m, 0x1000000 + (N - 1) * PAGE, buf,
					  8), 0);
	s = cstats(r);
	ck_assert_uint_eq(s.hits, s0.hits + 1);
	ck_assert_int_eq(vmmem_read_exact(m, 0x1000000, buf, 8), 0);
	CK_PAT(buf, 0, 8, 1);
	s = cstats(r);
	ck_assert_uint_eq(s.misses, s0.misses + 1);
	/* writes to every bucket land in the right page */
	for (size_t b = 0; b < N / 16; b++) {
		uint64_t val = 0x1122334455667700ull + b;

		ck_assert_int_eq(vmmem_store(m, 0x1000000 + b * BUCKET +
					     (15 - b % 16) * PAGE, 8, val,
					     VMMEM_ORDER_RELEASE), 0);
	}
	for (size_t b = 0; b < N / 16; b++) {
		uint64_t val = 0x1122334455667700ull + b, got;

		memcpy(&got, raw + b * BUCKET + (15 - b % 16) * PAGE, 8);
		ck_assert_uint_eq(got, val);
	}
	s = cstats(r);
	ck_assert_uint_le(s.mapped_pages, bound);
	vmmem_free(m);
	vmmem_region_unref(r);
	xfx_unmap(raw, N);
	ck_assert_int_eq(xfx_dom_destroy(&d), 0);
}
END_TEST

/* A vmmem_map()ped buffer survives eviction pressure and stays the right
 * guest page; after vmmem_unmap() it can be evicted. */
START_TEST(cache_pinned)
{
	enum { N = 256 };
	struct xfx_dom d;
	struct vmmem *m;
	struct vmmem_region *r;
	struct vmmem_xen_cache_stats s, s0;
	uint8_t *raw, *p, buf[8];
	uint64_t len;
	void *h = NULL;

	dom_new(&d, XFX_PV, N);
	raw = raw_map(&d, 0, N);
	pat_fill(raw, 0, N * PAGE, 1);
	ck_assert_int_eq(xfx_grant(&d, GREF0, 0, N, false), 0);
	m = space_new();
	r = add_grant(m, 0x1000000, &d, GREF0, N, true, VMMEM_XEN_MAP_CACHE, 16);

	len = 2 * BUCKET;
	ck_assert_int_eq(vmmem_map(m, 0x1000000 + 0x100, &len,
				   VMMEM_MAP_READ | VMMEM_MAP_WRITE, &h), 0);
	ck_assert_uint_eq(len, BUCKET - 0x100); /* shortened to the bucket */
	p = h;
	CK_PAT(p, 0x100, len, 1);
	s = cstats(r);
	ck_assert_uint_gt(s.pinned_pages, 0);
	ck_assert_uint_le(s.pinned_pages, 16);

	for (int pass = 0; pass < 2; pass++)
		for (size_t b = 1; b < N / 16; b++) {
			ck_assert_int_eq(vmmem_read_exact(m, 0x1000000 +
							  b * BUCKET, buf, 8),
					 0);
			CK_PAT(buf, b * BUCKET, 8, 1);
		}
	s = cstats(r);
	print_stats("thrashed with a pinned bucket", &s);
	ck_assert_uint_gt(s.evictions, 0);
	ck_assert_uint_gt(s.pinned_pages, 0);
	ck_assert_uint_le(s.mapped_pages, 32);
	/* the pointer is still bucket 0 of the guest, both ways */
	CK_PAT(p, 0x100, len, 1);
	pat_fill(p + 0x1000, 0, 0x2000, 15);
	CK_PAT(raw + 0x1100, 0, 0x2000, 15);
	pat_fill(raw + 0x4000, 0, 0x100, 16);
	CK_PAT(p + 0x3F00, 0, 0x100, 16);
	ck_assert_int_eq(vmmem_read_exact(m, 0x1000000 + 0x1100, buf, 8), 0);
	CK_PAT(buf, 0, 8, 15);
	ck_assert_int_eq(vmmem_unmap(m, h, len), 0);
	s = cstats(r);
	ck_assert_uint_eq(s.pinned_pages, 0);

	/* unpinned now: thrashing evicts it, the next access misses */
	for (size_t b = 1; b < N / 16; b++)
		ck_assert_int_eq(vmmem_read_exact(m, 0x1000000 + b * BUCKET,
						  buf, 8), 0);
	s0 = cstats(r);
	ck_assert_uint_le(s0.mapped_pages, 16);
	ck_assert_int_eq(vmmem_read_exact(m, 0x1000000 + 0x1100, buf, 8), 0);
	CK_PAT(buf, 0, 8, 15);
	s = cstats(r);
	ck_assert_uint_eq(s.misses, s0.misses + 1);
	vmmem_free(m);
	vmmem_region_unref(r);
	xfx_unmap(raw, N);
	ck_assert_int_eq(xfx_dom_destroy(&d), 0);
}
END_TEST

/* Read-only and read-write entries: a write never uses a read-only
 * entry. */
START_TEST(cache_ro_rw)
{
	struct xfx_dom d;
	struct vmmem *m;
	struct vmmem_region *r;
	struct vmmem_xen_cache_stats s, s0;
	uint8_t *raw, buf[16];
	uint64_t len;
	void *h = NULL;
	long rc;

	dom_new(&d, XFX_PV, DPAGES);
	raw = raw_map(&d, 0, DPAGES);
	pat_fill(raw, 0, DPAGES * PAGE, 1);
	ck_assert_int_eq(xfx_grant(&d, GREF0, 0, 32, false), 0);
	ck_assert_int_eq(xfx_grant(&d, GREF0 + 20, 20, 1, true), 0);
	m = space_new();
	r = add_grant(m, 0x100000, &d, GREF0, 32, true, VMMEM_XEN_MAP_CACHE, 0);

	ck_assert_int_eq(vmmem_read_exact(m, 0x100000, buf, 8), 0);
	s0 = cstats(r);
	ck_assert_uint_eq(s0.misses, 1);
	ck_assert_uint_eq(s0.map_calls, 1);
	memset(buf, 0x42, 8);
	ck_assert_int_eq(vmmem_write_exact(m, 0x100000, buf, 8), 0);
	ck_assert(test_all_bytes(raw, 0x42, 8));
	s = cstats(r);
	print_stats("read then write of page 0", &s);
	ck_assert_uint_eq(s.misses, s0.misses + 1);
	ck_assert_uint_eq(s.map_calls, s0.map_calls + 1);
	/* now reads and writes of the bucket hit */
	s0 = s;
	ck_assert_int_eq(vmmem_read_exact(m, 0x100000, buf, 8), 0);
	ck_assert(test_all_bytes(buf, 0x42, 8));
	ck_assert_int_eq(vmmem_write_exact(m, 0x100000 + 5 * PAGE, buf, 8), 0);
	ck_assert(test_all_bytes(raw + 5 * PAGE, 0x42, 8));
	s = cstats(r);
	ck_assert_uint_eq(s.misses, s0.misses);
	ck_assert_uint_eq(s.hits, s0.hits + 2);
	/* a read-only vmmem_map uses an existing entry; a write map of a
	 * bucket only mapped read-only needs a new one */
	ck_assert_int_eq(vmmem_read_exact(m, 0x100000 + 17 * PAGE, buf, 8), 0);
	s0 = cstats(r);
	len = 8;
	ck_assert_int_eq(vmmem_map(m, 0x100000 + 18 * PAGE, &len,
				   VMMEM_MAP_WRITE, &h), 0);
	s = cstats(r);
	ck_assert_uint_eq(s.misses, s0.misses + 1);
	memset(h, 0x24, 8);
	ck_assert_int_eq(vmmem_unmap(m, h, 8), 0);
	ck_assert(test_all_bytes(raw + 18 * PAGE, 0x24, 8));

	/* read-only grant at page 20: read works, write fails */
	ck_assert_int_eq(vmmem_read_exact(m, 0x100000 + 20 * PAGE, buf, 16),
			 0);
	CK_PAT(buf, 20 * PAGE, 16, 1);
	rc = vmmem_write(m, 0x100000 + 20 * PAGE, buf, 8);
	ck_assert_int_lt(rc, 0);
	len = 8;
	ck_assert_int_lt(vmmem_map(m, 0x100000 + 20 * PAGE, &len,
				   VMMEM_MAP_WRITE, &h), 0);
	CK_PAT(raw + 20 * PAGE, 20 * PAGE, PAGE, 1);
	s = cstats(r);
	ck_assert_uint_eq(s.pinned_pages, 0);
	vmmem_free(m);
	vmmem_region_unref(r);
	xfx_unmap(raw, DPAGES);
	ck_assert_int_eq(xfx_dom_destroy(&d), 0);
}
END_TEST

/* vmmem_region_xen_invalidate(): unpinned entries go at once, pinned ones
 * at their unpin; later accesses map afresh (and see a re-pointed grant). */
START_TEST(cache_invalidate)
{
	struct xfx_dom d;
	struct vmmem *m;
	struct vmmem_region *r;
	struct vmmem_xen_cache_stats s, s0;
	uint8_t *raw, *p, buf[PAGE];
	uint64_t len;
	void *h = NULL;

	dom_new(&d, XFX_PV, DPAGES);
	raw = raw_map(&d, 0, DPAGES);
	pat_fill(raw, 0, DPAGES * PAGE, 1);
	ck_assert_int_eq(xfx_grant(&d, GREF0, 0, 48, false), 0);
	m = space_new();
	r = add_grant(m, 0x100000, &d, GREF0, 48, true, VMMEM_XEN_MAP_CACHE, 0);

	ck_assert_int_eq(vmmem_region_xen_invalidate(r), 0); /* empty */
	ck_assert_int_eq(vmmem_read_exact(m, 0x100000, buf, 8), 0);
	ck_assert_int_eq(vmmem_read_exact(m, 0x100000 + 2 * BUCKET, buf, 8),
			 0);
	len = 0x100;
	ck_assert_int_eq(vmmem_map(m, 0x100000 + BUCKET + 0x200, &len,
				   VMMEM_MAP_READ | VMMEM_MAP_WRITE, &h), 0);
	ck_assert_uint_eq(len, 0x100);
	p = h;
	s0 = cstats(r);
	ck_assert_uint_eq(s0.mapped_pages, 48);
	ck_assert_uint_gt(s0.pinned_pages, 0);

	ck_assert_int_eq(vmmem_region_xen_invalidate(r), 0);
	s = cstats(r);
	print_stats("invalidated with one bucket pinned", &s);
	ck_assert_uint_gt(s.invalidated, 0);
	ck_assert_uint_eq(s.mapped_pages, s.pinned_pages);
	ck_assert_uint_gt(s.pinned_pages, 0);
	/* the next access misses */
	s0 = s;
	ck_assert_int_eq(vmmem_read_exact(m, 0x100000 + 8, buf, 8), 0);
	CK_PAT(buf, 8, 8, 1);
	s = cstats(r);
	ck_assert_uint_eq(s.misses, s0.misses + 1);
	/* the pinned pointer still works */
	pat_fill(p, 0, 0x100, 17);
	CK_PAT(raw + BUCKET + 0x200, 0, 0x100, 17);
	/* an access to the pinned bucket does not get the dropped entry */
	s0 = s;
	ck_assert_int_eq(vmmem_read_exact(m, 0x100000 + BUCKET + 0x200, buf,
					  0x100), 0);
	CK_PAT(buf, 0, 0x100, 17);
	s = cstats(r);
	ck_assert_uint_eq(s.misses, s0.misses + 1);
	ck_assert_int_eq(vmmem_unmap(m, h, 0x100), 0);
	s = cstats(r);
	print_stats("after the unmap", &s);
	ck_assert_uint_eq(s.pinned_pages, 0);
	ck_assert_uint_le(s.mapped_pages, 32);

	/* re-point reference GREF0 + 2 at page 40 while nothing maps it: the
	 * cached entry of bucket 0 would show page 2; after invalidation the
	 * access maps the reference afresh and sees page 40 */
	ck_assert_int_eq(vmmem_region_xen_invalidate(r), 0);
	s = cstats(r);
	ck_assert_uint_eq(s.mapped_pages, 0);
	ck_assert_int_eq(xfx_revoke(&d, GREF0 + 2, 1), 0);
	ck_assert_int_eq(xfx_grant(&d, GREF0 + 2, 40, 1, false), 0);
	ck_assert_int_eq(vmmem_read_exact(m, 0x100000 + 2 * PAGE, buf, PAGE),
			 0);
	CK_PAT(buf, 40 * PAGE, PAGE, 1);
	ck_assert_int_eq(vmmem_read_exact(m, 0x100000 + 3 * PAGE, buf, PAGE),
			 0);
	CK_PAT(buf, 3 * PAGE, PAGE, 1);

	vmmem_free(m);
	vmmem_region_unref(r);
	xfx_unmap(raw, DPAGES);
	ck_assert_int_eq(xfx_dom_destroy(&d), 0);
}
END_TEST

/* Threads reading, writing, mapping and invalidating one on-demand region
 * with a small bound at once: every access sees the right guest page. */
#define THR_N      3
#define THR_OPS    1500
#define THR_PAGES  256u
#define THR_GPA    0x1000000ull
#define THR_WORD   1024u               /* a thread's word: THR_WORD + 8 id */

struct thr {
	pthread_t tid;
	struct vmmem *m;
	int id;
	int errors;
	char msg[160];
	uint64_t last[THR_PAGES];       /* last value written, 0: none */
};

static volatile int thr_stop;

static void thr_fail(struct thr *t, const char *what, long rc, uint64_t gpa)
{
	if (!t->errors++)
		snprintf(t->msg, sizeof(t->msg), "thread %d: %s at %#" PRIx64
			 ": %ld", t->id, what, gpa, rc);
}

static void *thr_main(void *arg)
{
	struct thr *t = arg;
	uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)(t->id + 1);

	for (int i = 0; i < THR_OPS && !t->errors; i++) {
		size_t page, len;
		uint64_t gpa, off, val, got;
		uint8_t b[64];
		void *h = NULL;
		long rc;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		page = x % THR_PAGES;
		off = THR_WORD + 8 * (uint64_t)t->id;
		gpa = THR_GPA + page * PAGE + off;
		val = ((uint64_t)(t->id + 1) << 56) | ((uint64_t)i << 16) | page;
		switch (i % 5) {
		case 0:
			rc = vmmem_write_exact(t->m, gpa, &val, 8);
			if (rc)
				thr_fail(t, "write", rc, gpa);
			t->last[page] = val;
			break;
		case 1:
			/* pattern bytes, sometimes across a bucket boundary */
			off = x >> 40 & 1 ? (page / 16 + 1) * BUCKET - 32 :
					    page * PAGE + 2048 + (x >> 20) % 1024;
			if (off + 64 > THR_PAGES * PAGE)
				off = 2048;
			rc = vmmem_read_exact(t->m, THR_GPA + off, b, 64);
			if (rc)
				thr_fail(t, "read", rc, THR_GPA + off);
			else if (pat_check(b, off, 64, 1) >= 0)
				thr_fail(t, "read: wrong data", 0,
					 THR_GPA + off);
			break;
		case 2:
			len = 8;
			rc = vmmem_map(t->m, gpa, &len,
				       VMMEM_MAP_READ | VMMEM_MAP_WRITE, &h);
			if (rc || len != 8) {
				thr_fail(t, "map", rc, gpa);
				break;
			}
			memcpy(&got, h, 8);
			if (t->last[page] && got != t->last[page])
				thr_fail(t, "mapped word: wrong data", 0, gpa);
			memcpy(h, &val, 8);
			t->last[page] = val;
			for (int k = 0; k < 20; k++)
				sched_yield(); /* let the others evict */
			memcpy(&got, h, 8);
			if (got != val)
				thr_fail(t, "mapped word changed", 0, gpa);
			rc = vmmem_unmap(t->m, h, 8);
			if (rc)
				thr_fail(t, "unmap", rc, gpa);
			break;
		default:
			rc = vmmem_load(t->m, gpa, 8, &got,
					VMMEM_ORDER_ACQUIRE);
			if (rc)
				thr_fail(t, "load", rc, gpa);
			else if (t->last[page] && got != t->last[page])
				thr_fail(t, "load: wrong data", 0, gpa);
			break;
		}
	}
	return NULL;
}

static void *thr_invalidate(void *arg)
{
	struct vmmem_region *r = arg;

	while (!thr_stop) {
		if (vmmem_region_xen_invalidate(r))
			return (void *)1;
		usleep(2000);
	}
	return NULL;
}

START_TEST(cache_threads)
{
	struct xfx_dom d;
	struct vmmem *m;
	struct vmmem_region *r;
	struct vmmem_xen_cache_stats s;
	struct thr *t = calloc(THR_N, sizeof(*t));
	pthread_t inv;
	void *inv_ret = NULL;
	uint8_t *raw;

	ck_assert_ptr_nonnull(t);
	dom_new(&d, XFX_PV, THR_PAGES);
	raw = raw_map(&d, 0, THR_PAGES);
	pat_fill(raw, 0, THR_PAGES * PAGE, 1);
	ck_assert_int_eq(xfx_grant(&d, GREF0, 0, THR_PAGES, false), 0);
	m = space_new();
	r = add_grant(m, THR_GPA, &d, GREF0, THR_PAGES, true, VMMEM_XEN_MAP_CACHE, 32);

	thr_stop = 0;
	ck_assert_int_eq(pthread_create(&inv, NULL, thr_invalidate, r), 0);
	for (int i = 0; i < THR_N; i++) {
		t[i].m = m;
		t[i].id = i;
		ck_assert_int_eq(pthread_create(&t[i].tid, NULL, thr_main,
						&t[i]), 0);
	}
	for (int i = 0; i < THR_N; i++)
		ck_assert_int_eq(pthread_join(t[i].tid, NULL), 0);
	thr_stop = 1;
	ck_assert_int_eq(pthread_join(inv, &inv_ret), 0);
	s = cstats(r);
	print_stats("cache_threads", &s);
	for (int i = 0; i < THR_N; i++)
		ck_assert_msg(!t[i].errors, "%d errors, first: %s",
			      t[i].errors, t[i].msg);
	ck_assert_ptr_null(inv_ret);
	for (int i = 0; i < THR_N; i++)
		for (size_t p = 0; p < THR_PAGES; p++) {
			uint64_t got;

			if (!t[i].last[p])
				continue;
			memcpy(&got, raw + p * PAGE + THR_WORD + 8 * i, 8);
			ck_assert_msg(got == t[i].last[p], "page %zu word of "
				      "thread %d: %#" PRIx64 ", want %#" PRIx64,
				      p, i, got, t[i].last[p]);
		}
	CK_PAT(raw + 2048, 2048, 1024, 1);
	ck_assert_uint_eq(s.pinned_pages, 0);
	ck_assert_uint_le(s.mapped_pages, 32);
	ck_assert_uint_gt(s.evictions, 0);
	ck_assert_uint_gt(s.invalidated, 0);
	vmmem_free(m);
	vmmem_region_unref(r);
	xfx_unmap(raw, THR_PAGES);
	free(t);
	ck_assert_int_eq(xfx_dom_destroy(&d), 0);
}
END_TEST

/* Argument checks of the Xen entry points, and the UNIX type. */
START_TEST(xen_args_and_unix)
{
	static const uint32_t bad_types[] = { 0x3, 0x8, 0x9, 0xb, 0x4, 0x10,
					      0x11, 0x12, 0x80000002u };
	struct xfx_dom d;
	struct vmmem_region *r = NULL, *plain, *rf, *rg;
	struct vmmem_xen_opts o;
	struct vmmem_xen_cache_stats st;
	struct vmmem *m;
	uint32_t refs[2] = { GREF0, GREF0 + 1 }, domid = 0, xf = 99;
	uint8_t b[64];
	void *h = NULL;
	int fd;

	dom_new(&d, XFX_PV, 16);
	ck_assert_int_eq(xfx_grant(&d, GREF0, 0, 2, false), 0);
	for (size_t i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
		o = xopts(bad_types[i], d.domid, (uint64_t)GREF0 << 12);
		ck_assert_msg(vmmem_region_new_xen(&r, 2 * PAGE, &o) == -EINVAL,
			      "xen_flags %#x accepted", bad_types[i]);
	}
	o = xopts(VMMEM_XEN_GRANT, d.domid, (uint64_t)GREF0 << 12);
	ck_assert_int_eq(vmmem_region_new_xen(&r, 0, &o), -EINVAL);
	ck_assert_int_eq(vmmem_region_new_xen(&r, PAGE + 1, &o), -EINVAL);
	ck_assert_int_eq(vmmem_region_new_xen(&r, 100, &o), -EINVAL);
	ck_assert_int_eq(vmmem_region_new_xen(NULL, PAGE, &o), -EINVAL);
	ck_assert_int_eq(vmmem_region_new_xen(&r, PAGE, NULL), -EINVAL);
	o.gpa += 0x800;
	ck_assert_int_eq(vmmem_region_new_xen(&r, PAGE, &o), -EINVAL);
	o = xopts(VMMEM_XEN_GRANT, d.domid, (uint64_t)GREF0 << 12);
	o.flags = 2;
	ck_assert_int_eq(vmmem_region_new_xen(&r, PAGE, &o), -EINVAL);
	o = xopts(VMMEM_XEN_UNIX, 0, 0);             /* fd -1 */
	ck_assert_int_eq(vmmem_region_new_xen(&r, PAGE, &o), -EBADF);
	o = xopts(XEN_ONDEMAND, d.domid, 0);
	o.grant_refs = refs;
	o.num_grant_refs = 1;
	ck_assert_int_eq(vmmem_region_new_xen(&r, 2 * PAGE, &o), -EINVAL);
	ck_assert_ptr_null(r);

	/* the query functions */
	plain = test_region(PAGE);
	ck_assert_int_eq(vmmem_region_xen(plain, &domid, &xf), -ENOENT);
	ck_assert_int_eq(vmmem_region_xen_invalidate(plain), -ENOENT);
	memset(&st, 0, sizeof(st));
	st.sz = sizeof(st);
	ck_assert_int_eq(vmmem_region_xen_cache_stats(plain, &st), -ENOENT);
	ck_assert_int_eq(vmmem_region_xen_invalidate(NULL), -EINVAL);
	ck_assert_int_eq(vmmem_region_xen_cache_stats(NULL, &st), -EINVAL);
	ck_assert_int_eq(vmmem_region_xen_cache_stats(plain, NULL), -EINVAL);
	o = xopts(VMMEM_XEN_GRANT, d.domid, (uint64_t)GREF0 << 12);
	ck_assert_int_eq(vmmem_region_new_xen(&rg, 2 * PAGE, &o), 0);
	ck_assert_int_eq(vmmem_region_xen_cache_stats(rg, &st), -ENOENT);
	ck_assert_int_eq(vmmem_region_xen_invalidate(rg), -ENOENT);
	o.xen_flags = XEN_ONDEMAND;
	ck_assert_int_eq(vmmem_region_new_xen(&r, 2 * PAGE, &o), 0);
	ck_assert_int_eq(vmmem_region_xen_cache_stats(r, NULL), -EINVAL);
	st.sz = 0;
	ck_assert_int_eq(vmmem_region_xen_cache_stats(r, &st), -EINVAL);
	st.sz = sizeof(st);
	ck_assert_int_eq(vmmem_region_xen_cache_stats(r, &st), 0);
	ck_assert_int_eq(vmmem_region_xen_invalidate(r), 0);
	vmmem_region_unref(r);
	r = NULL;
	rf = NULL;
	if (d.contiguous) {
		o = xopts(VMMEM_XEN_FOREIGN, d.domid,
			  (uint64_t)d.frames[0] << 12);
		ck_assert_int_eq(vmmem_region_new_xen(&rf, 2 * PAGE, &o), 0);
		ck_assert_int_eq(vmmem_region_xen_cache_stats(rf, &st),
				 -ENOENT);
		ck_assert_int_eq(vmmem_region_xen_invalidate(rf), -ENOENT);
		vmmem_region_unref(rf);
	}
	vmmem_region_unref(rg);

	/* UNIX: fd at offset */
	fd = test_filled_memfd(16 * PAGE, 0x5A);
	o = xopts(VMMEM_XEN_UNIX, d.domid, 0x20000);
	o.fd = fd;
	o.offset = PAGE;
	ck_assert_int_eq(vmmem_region_new_xen(&r, 2 * PAGE, &o), 0);
	ck_assert_int_eq(vmmem_region_xen(r, &domid, &xf), 0);
	ck_assert_uint_eq(domid, d.domid);
	ck_assert_uint_eq(xf, VMMEM_XEN_UNIX);
	ck_assert_int_eq(vmmem_region_host_address(r, &h), 0);
	m = space_new();
	ck_assert_int_eq(vmmem_add_region(m, 0x20000, r), 0);
	ck_assert_int_eq(vmmem_add_region(m, 0x10000, plain), 0);
	ck_assert_int_eq(vmmem_read_exact(m, 0x20000, b, 64), 0);
	ck_assert(test_all_bytes(b, 0x5A, 64));
	memset(b, 0xC3, sizeof(b));
	ck_assert_int_eq(vmmem_write_exact(m, 0x20000 + PAGE + 8, b, 64), 0);
	memset(b, 0, sizeof(b));
	ck_assert_int_eq(pread(fd, b, 64, 2 * PAGE + 8), 64);
	ck_assert(test_all_bytes(b, 0xC3, 64));
	vmmem_free(m);
	vmmem_region_unref(r);
	o.flags = VMMEM_XEN_READONLY;
	ck_assert_int_eq(vmmem_region_new_xen(&r, 2 * PAGE, &o), 0);
	m = space_new();
	ck_assert_int_eq(vmmem_add_region(m, 0x20000, r), 0);
	ck_assert_int_eq(vmmem_write(m, 0x20000, b, 8), -EACCES);
	ck_assert_int_eq(vmmem_read_exact(m, 0x20000, b, 8), 0);
	ck_assert(test_all_bytes(b, 0x5A, 8));
	vmmem_free(m);
	vmmem_region_unref(r);
	vmmem_region_unref(plain);
	close(fd);
	ck_assert_int_eq(xfx_dom_destroy(&d), 0);
}
END_TEST

/* ----------------------------------------- access paths, per region kind */

/* vmmem_read / vmmem_write, partial and exact, across the plain -> Xen
 * boundary, across buckets, and at the end of guest memory. */
START_TEST(access_rw)
{
	struct xspace x;
	uint8_t *buf = malloc(2 * BUCKET), *chk = malloc(2 * BUCKET);
	uint8_t before[200];
	uint64_t gpa;
	uint32_t v32 = 0;
	uint16_t v16 = 0;
	uint64_t v64 = 0;
	size_t len;

	ck_assert_ptr_nonnull(buf);
	ck_assert_ptr_nonnull(chk);
	xspace_new(&x, _i, 0, false);
	printf("  access_rw: %s\n", xkind_name[_i]);

	/* the initial contents through libvmmem */
	expect_read(&x, PLAIN_GPA, PLAIN_SIZE + XPAGES * PAGE);

	/* plain -> Xen, partial and exact */
	gpa = XEN_GPA - 2 * PAGE - 50;
	len = 3 * PAGE + 100;
	pat_fill(buf, gpa, len, 20);
	ck_assert_int_eq(vmmem_write(x.m, gpa, buf, len), (ssize_t)len);
	expect_view(&x, gpa, buf, len);
	memset(chk, 0, len);
	ck_assert_int_eq(vmmem_read(x.m, gpa, chk, len), (ssize_t)len);
	ck_assert_mem_eq(chk, buf, len);
	pat_fill(buf, gpa, len, 21);
	ck_assert_int_eq(vmmem_write_exact(x.m, gpa, buf, len), 0);
	expect_view(&x, gpa, buf, len);

	/* across a bucket boundary, and across two */
	gpa = XEN_GPA + BUCKET - 100;
	len = 300;
	pat_fill(buf, gpa, len, 22);
	ck_assert_int_eq(vmmem_write(x.m, gpa, buf, len), (ssize_t)len);
	expect_view(&x, gpa, buf, len);
	gpa = XEN_GPA + BUCKET - 8;
	len = BUCKET + 16;
	pat_fill(buf, gpa, len, 23);
	ck_assert_int_eq(vmmem_write_exact(x.m, gpa, buf, len), 0);
	expect_view(&x, gpa, buf, len);
	ck_assert_int_eq(vmmem_read_exact(x.m, gpa, chk, len), 0);
	ck_assert_mem_eq(chk, buf, len);

	/* the guest's changes are read */
	pat_fill(x.raw + 2 * PAGE, 0, 2 * PAGE, 24);
	ck_assert_int_eq(vmmem_read_exact(x.m, XEN_GPA + 2 * PAGE, chk,
					  2 * PAGE), 0);
	CK_PAT(chk, 0, 2 * PAGE, 24);

	/* at the end of guest memory: partial stops, exact does nothing */
	gpa = XEN_END - 100;
	memcpy(before, view(&x, gpa), 100);
	pat_fill(buf, 0, 200, 25);
	ck_assert_int_eq(vmmem_write_exact(x.m, gpa, buf, 200), -EFAULT);
	ck_assert_mem_eq(view(&x, gpa), before, 100);
	ck_assert_int_eq(vmmem_read_exact(x.m, gpa, chk, 200), -EFAULT);
	ck_assert_int_eq(vmmem_write(x.m, gpa, buf, 200), 100);
	expect_view(&x, gpa, buf, 100);
	ck_assert_int_eq(vmmem_read(x.m, gpa, chk, 200), 100);
	ck_assert_mem_eq(chk, buf, 100);
	ck_assert_int_eq(vmmem_read(x.m, XEN_END, chk, 8), -EFAULT);

	/* little-endian helpers */
	ck_assert_int_eq(vmmem_write_le32(x.m, XEN_GPA + 0x24, 0xA1B2C3D4u), 0);
	ck_assert_uint_eq(x.raw[0x24], 0xD4);
	ck_assert_uint_eq(x.raw[0x27], 0xA1);
	ck_assert_int_eq(vmmem_read_le32(x.m, XEN_GPA + 0x24, &v32), 0);
	ck_assert_uint_eq(v32, 0xA1B2C3D4u);
	ck_assert_int_eq(vmmem_write_le16(x.m, XEN_GPA + BUCKET - 1, 0x1234),
			 0);
	ck_assert_uint_eq(x.raw[BUCKET - 1], 0x34);
	ck_assert_uint_eq(x.raw[BUCKET], 0x12);
	ck_assert_int_eq(vmmem_read_le16(x.m, XEN_GPA + BUCKET - 1, &v16), 0);
	ck_assert_uint_eq(v16, 0x1234);
	ck_assert_int_eq(vmmem_write_le64(x.m, XEN_GPA - 4, 0x0102030405060708ull),
			 0);
	ck_assert_int_eq(vmmem_read_le64(x.m, XEN_GPA - 4, &v64), 0);
	ck_assert_uint_eq(v64, 0x0102030405060708ull);
	ck_assert_uint_eq(x.raw[0], 0x04);
	ck_assert_uint_eq(x.plain_host[PLAIN_SIZE - 1], 0x05);

	free(buf);
	free(chk);
	xspace_free(&x);
}
END_TEST

/* vmmem_load / vmmem_store of every size, at bucket edges. */
START_TEST(access_loadstore)
{
	static const size_t sizes[] = { 1, 2, 4, 8 };
	static const uint64_t offs[] = { 0, 0x40, BUCKET - 8, BUCKET,
					 2 * BUCKET - 8, XPAGES * PAGE - 8 };
	struct xspace x;
	uint64_t v;

	xspace_new(&x, _i, 0, false);
	for (size_t o = 0; o < sizeof(offs) / sizeof(offs[0]); o++)
		for (size_t s = 0; s < 4; s++) {
			size_t sz = sizes[s];
			uint64_t gpa = XEN_GPA + offs[o] + (8 - sz);
			uint64_t val = 0x8877665544332211ull ^ (o << 8) ^ s;
			uint64_t mask = sz == 8 ? ~0ull : (1ull << (8 * sz)) - 1;
			uint64_t got = 0;

			ck_assert_int_eq(vmmem_store(x.m, gpa, sz, val,
						     VMMEM_ORDER_SEQ_CST), 0);
			memcpy(&got, view(&x, gpa), sz);
			ck_assert_uint_eq(got, val & mask);
			val = ~val;
			memcpy(view(&x, gpa), &val, sz);
			v = 0;
			ck_assert_int_eq(vmmem_load(x.m, gpa, sz, &v,
						    VMMEM_ORDER_ACQUIRE), 0);
			ck_assert_uint_eq(v, val & mask);
		}
	ck_assert_int_eq(vmmem_store(x.m, XEN_GPA + 2, 4, 1,
				     VMMEM_ORDER_RELAXED), -EINVAL);
	ck_assert_int_eq(vmmem_load(x.m, XEN_GPA + 4, 8, &v,
				    VMMEM_ORDER_RELAXED), -EINVAL);
	ck_assert_int_eq(vmmem_load(x.m, XEN_END, 8, &v, VMMEM_ORDER_RELAXED),
			 -EFAULT);
	xspace_free(&x);
}
END_TEST

/* vmmem_fill and vmmem_copy between Xen and plain memory. */
START_TEST(access_fill_copy)
{
	struct xspace x;
	uint8_t *exp = malloc(0x3000);
	uint64_t gpa, len, src, dst;

	ck_assert_ptr_nonnull(exp);
	xspace_new(&x, _i, 0, false);

	/* fill: plain tail, all of bucket 0, into bucket 1 */
	gpa = XEN_GPA - 0x80;
	len = 0x80 + BUCKET + 0x100;
	ck_assert_int_eq(vmmem_fill(x.m, gpa, 0xA5, len), 0);
	ck_assert(test_all_bytes(view(&x, gpa), 0xA5, 0x80));
	ck_assert(test_all_bytes(view(&x, XEN_GPA), 0xA5, len - 0x80));
	ck_assert_uint_eq(*view(&x, gpa - 1), pbyte(2, gpa - 1));
	CK_PAT(x.raw + BUCKET + 0x100, BUCKET + 0x100, 16, 1);
	ck_assert_int_eq(vmmem_fill(x.m, XEN_END - 8, 0, 16), -EFAULT);

	/* Xen -> plain, across a bucket boundary */
	pat_fill(x.raw + BUCKET - 0x100, 0, 0x300, 30);
	ck_assert_int_eq(vmmem_copy(x.m, PLAIN_GPA + 0x100,
				    XEN_GPA + BUCKET - 0x100, 0x300), 0);
	CK_PAT(x.plain_host + 0x100, 0, 0x300, 30);
	/* plain -> Xen, across a bucket boundary */
	pat_fill(x.plain_host + 0x2000, 0, 0x200, 31);
	ck_assert_int_eq(vmmem_copy(x.m, XEN_GPA + 2 * BUCKET - 0x80,
				    PLAIN_GPA + 0x2000, 0x200), 0);
	CK_PAT(x.raw + 2 * BUCKET - 0x80, 0, 0x200, 31);
	/* Xen -> Xen, overlapping both ways (memmove) */
	src = XEN_GPA + BUCKET - 0x1000;
	dst = src + 0x10;
	pat_fill(x.raw + BUCKET - 0x1000, 0, 0x2010, 32);
	pat_fill(exp, 0, 0x2000, 32);
	ck_assert_int_eq(vmmem_copy(x.m, dst, src, 0x2000), 0);
	ck_assert_mem_eq(x.raw + BUCKET - 0x1000 + 0x10, exp, 0x2000);
	CK_PAT(x.raw + BUCKET - 0x1000, 0, 0x10, 32);
	pat_fill(x.raw + BUCKET - 0x1000, 0, 0x2010, 33);
	pat_fill(exp, 0x10, 0x2000, 33);
	ck_assert_int_eq(vmmem_copy(x.m, src, dst, 0x2000), 0);
	ck_assert_mem_eq(x.raw + BUCKET - 0x1000, exp, 0x2000);
	/* plain + Xen -> elsewhere in Xen */
	pat_fill(x.plain_host + PLAIN_SIZE - 0x40, 0, 0x40, 34);
	pat_fill(x.raw, 0x40, 0x40, 34);
	ck_assert_int_eq(vmmem_copy(x.m, XEN_GPA + 40 * PAGE - 0x20,
				    XEN_GPA - 0x40, 0x80), 0);
	CK_PAT(x.raw + 40 * PAGE - 0x20, 0, 0x80, 34);
	ck_assert_int_eq(vmmem_copy(x.m, XEN_END - 8, XEN_GPA, 16), -EFAULT);
	free(exp);
	xspace_free(&x);
}
END_TEST

/* vmmem_map / vmmem_unmap, host addresses and iovecs. */
START_TEST(access_map)
{
	struct xspace x;
	struct iovec iov[4];
	uint64_t len;
	void *h = NULL, *ha = NULL;
	uint8_t *p;
	int n;

	xspace_new(&x, _i, 0, false);
	len = 0x200;
	ck_assert_int_eq(vmmem_map(x.m, XEN_GPA + 0x100, &len,
				   VMMEM_MAP_READ | VMMEM_MAP_WRITE, &h), 0);
	ck_assert_uint_eq(len, 0x200);
	p = h;
	CK_PAT(p, 0x100, 0x200, 1);
	pat_fill(p, 0, 0x200, 40);
	CK_PAT(x.raw + 0x100, 0, 0x200, 40);
	x.raw[0x180] = 0x99;
	ck_assert_uint_eq(p[0x80], 0x99);
	ck_assert_int_eq(vmmem_unmap(x.m, h, 0x200), 0);

	/* across a bucket boundary */
	len = 0x1000;
	ck_assert_int_eq(vmmem_map(x.m, XEN_GPA + BUCKET - 0x100, &len,
				   VMMEM_MAP_READ, &h), 0);
	if (_i == XK_ONDEMAND || x.d.contiguous)  /* on demand: one map */
		ck_assert_uint_eq(len, 0x1000);
	ck_assert_uint_ge(len, 0x100);
	CK_PAT((uint8_t *)h, BUCKET - 0x100, len, 1);
	ck_assert_int_eq(vmmem_unmap(x.m, h, 0), 0);
	/* never into the next region */
	len = 0x100;
	ck_assert_int_eq(vmmem_map(x.m, XEN_GPA - 0x10, &len,
				   VMMEM_MAP_WRITE, &h), 0);
	ck_assert_uint_eq(len, 0x10);
	ck_assert_int_eq(vmmem_unmap(x.m, h, 0x10), 0);
	/* write-only map of the last bytes */
	len = 0x100;
	ck_assert_int_eq(vmmem_map(x.m, XEN_END - 0x20, &len, VMMEM_MAP_WRITE,
				   &h), 0);
	ck_assert_uint_eq(len, 0x20);
	memset(h, 0x3C, 0x20);
	ck_assert_int_eq(vmmem_unmap(x.m, h, 0x20), 0);
	ck_assert(test_all_bytes(x.raw + XPAGES * PAGE - 0x20, 0x3C, 0x20));
	/* two live mappings of the same bytes */
	{
		void *h1 = NULL, *h2 = NULL;
		uint64_t l1 = 16, l2 = 16;

		ck_assert_int_eq(vmmem_map(x.m, XEN_GPA + 0x3000, &l1,
					   VMMEM_MAP_WRITE, &h1), 0);
		ck_assert_int_eq(vmmem_map(x.m, XEN_GPA + 0x3000, &l2,
					   VMMEM_MAP_READ, &h2), 0);
		((uint8_t *)h1)[0] = 0x6E;
		ck_assert_uint_eq(((uint8_t *)h2)[0], 0x6E);
		ck_assert_int_eq(vmmem_unmap(x.m, h2, 0), 0);
		ck_assert_int_eq(vmmem_unmap(x.m, h1, 1), 0);
	}
	if (_i == XK_ONDEMAND)
		ck_assert_uint_eq(cstats(x.xr).pinned_pages, 0);

	/* host addresses and iovecs: none on demand */
	n = vmmem_iovec(x.m, XEN_GPA - 0x10, 0x20, iov, 4);
	if (_i == XK_ONDEMAND) {
		ck_assert_int_eq(n, -ENXIO);
		ck_assert_int_eq(vmmem_host_address(x.m, XEN_GPA, 1, &ha),
				 -ENXIO);
	} else {
		ck_assert_int_eq(n, 2);
		ck_assert_ptr_eq(iov[0].iov_base, x.plain_host + PLAIN_SIZE - 0x10);
		ck_assert_uint_eq(iov[1].iov_len, 0x10);
		((uint8_t *)iov[1].iov_base)[3] = 0x71;
		ck_assert_uint_eq(x.raw[3], 0x71);
		ck_assert_int_eq(vmmem_host_address(x.m, XEN_GPA + 0x40, 16,
						    &ha), 0);
		((uint8_t *)ha)[0] = 0x72;
		ck_assert_uint_eq(x.raw[0x40], 0x72);
	}
	xspace_free(&x);
}
END_TEST

/* pread/pwrite and read/write at the file position, with a memfd. */
START_TEST(access_fd)
{
	struct xspace x;
	uint64_t gpa = XEN_GPA - 0x800, len = 0x800 + BUCKET + 0x800;
	uint8_t *buf = malloc(len);
	ssize_t n;
	int fd = memfd_create("vmmem-xen-fd", MFD_CLOEXEC);

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 0x40000), 0);
	xspace_new(&x, _i, 0, false);

	/* guest -> file */
	n = vmmem_pwrite_fd(x.m, gpa, fd, len, 0x1000);
	ck_assert_int_eq(n, (ssize_t)len);
	ck_assert_int_eq(pread(fd, buf, len, 0x1000), (ssize_t)len);
	expect_view(&x, gpa, buf, len);
	/* file -> guest */
	pat_fill(buf, 0, len, 50);
	ck_assert_int_eq(pwrite(fd, buf, len, 0x20000), (ssize_t)len);
	n = vmmem_pread_fd(x.m, gpa, fd, len, 0x20000);
	ck_assert_int_eq(n, (ssize_t)len);
	expect_view(&x, gpa, buf, len);
	/* at the end of the file: short */
	n = vmmem_pread_fd(x.m, XEN_GPA + 0x3000, fd, 0x2000, 0x40000 - 0x100);
	ck_assert_int_eq(n, 0x100);
	/* at the file position */
	ck_assert_int_eq(lseek(fd, 0x30000, SEEK_SET), 0x30000);
	pat_fill(x.raw + 5 * PAGE, 0, 3 * PAGE, 51);
	n = vmmem_write_fd(x.m, XEN_GPA + 5 * PAGE, fd, 3 * PAGE);
	ck_assert_int_eq(n, 3 * PAGE);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 0x30000 + 3 * PAGE);
	ck_assert_int_eq(lseek(fd, 0x30000, SEEK_SET), 0x30000);
	n = vmmem_read_fd(x.m, XEN_GPA + 2 * BUCKET - PAGE, fd, 3 * PAGE);
	ck_assert_int_eq(n, 3 * PAGE);
	CK_PAT(x.raw + 2 * BUCKET - PAGE, 0, 3 * PAGE, 51);
	/* a range running past the end transfers what is backed */
	n = vmmem_pwrite_fd(x.m, XEN_END - 0x100, fd, 0x200, 0);
	ck_assert_int_eq(n, 0x100);
	close(fd);
	free(buf);
	xspace_free(&x);
}
END_TEST

/* Dirty logging: every write path into the Xen region marks its pages. */
START_TEST(access_dirty)
{
	struct xspace x;
	uint64_t bm[2], want = 0, len;
	uint8_t b[16];
	void *h = NULL;
	int fd = test_filled_memfd(PAGE, 0x21);

	xspace_new(&x, _i, 0, false);
	ck_assert_int_eq(vmmem_dirty_start(x.m, PAGE), 0);
	/* bit i: page PLAIN_GPA / PAGE + i; the Xen page k is bit 16 + k */
	memset(b, 1, sizeof(b));
	ck_assert_int_eq(vmmem_write(x.m, XEN_GPA - 4, b, 8), 8);
	want |= 1ull << 15 | 1ull << 16;
	ck_assert_int_eq(vmmem_write_exact(x.m, XEN_GPA + 3 * PAGE, b, 1), 0);
	want |= 1ull << (16 + 3);
	ck_assert_int_eq(vmmem_store(x.m, XEN_GPA + 17 * PAGE + 8, 8, 5,
				     VMMEM_ORDER_RELEASE), 0);
	want |= 1ull << (16 + 17);
	ck_assert_int_eq(vmmem_fill(x.m, XEN_GPA + 20 * PAGE + 100, 0, PAGE),
			 0);
	want |= 1ull << (16 + 20) | 1ull << (16 + 21);
	ck_assert_int_eq(vmmem_copy(x.m, XEN_GPA + 30 * PAGE, PLAIN_GPA, 16),
			 0);
	want |= 1ull << (16 + 30);
	ck_assert_int_eq(vmmem_pread_fd(x.m, XEN_GPA + 33 * PAGE, fd, 16, 0),
			 16);
	want |= 1ull << (16 + 33);
	len = 16;
	ck_assert_int_eq(vmmem_map(x.m, XEN_GPA + 40 * PAGE, &len,
				   VMMEM_MAP_WRITE, &h), 0);
	memset(h, 2, 16);
	ck_assert_int_eq(vmmem_unmap(x.m, h, 16), 0);
	want |= 1ull << (16 + 40);
	/* reads mark nothing */
	ck_assert_int_eq(vmmem_read_exact(x.m, XEN_GPA + 45 * PAGE, b, 16), 0);

	memset(bm, 0xFF, sizeof(bm));
	ck_assert_int_eq(vmmem_dirty_harvest(x.m, PLAIN_GPA,
					     PLAIN_SIZE + XPAGES * PAGE, bm),
			 __builtin_popcountll(want));
	ck_assert_msg(bm[0] == want, "dirty bitmap %#" PRIx64 ", want %#"
		      PRIx64, bm[0], want);
	ck_assert_int_eq(vmmem_dirty_test(x.m, XEN_GPA + 17 * PAGE), 0);
	ck_assert_int_eq(vmmem_dirty_harvest(x.m, PLAIN_GPA,
					     PLAIN_SIZE + XPAGES * PAGE, bm),
			 0);
	ck_assert_int_eq(vmmem_write_exact(x.m, XEN_GPA + 47 * PAGE, b, 1), 0);
	ck_assert_int_eq(vmmem_dirty_test(x.m, XEN_GPA + 47 * PAGE), 1);
	ck_assert_int_eq(vmmem_dirty_stop(x.m), 0);
	close(fd);
	xspace_free(&x);
}
END_TEST

/* ------------------------------------------------------------- xen-peek */

/* examples/xen-peek run as a program (--xen-peek PATH) against a dummy HVM
 * domain of PEEK_PAGES pages: what it prints is compared with a dump made
 * here of the bytes the test wrote through the independent mapping, what
 * it writes is checked there. */
#define PEEK_PAGES 8u
#define PEEK_SIZE  (PEEK_PAGES * PAGE)

struct peek {
	char *args;             /* the arguments, as given to peek_run() */
	int status;             /* exit status, 128 + signal if killed */
	char out[64 * 1024];    /* stdout */
	char err[8 * 1024];     /* stderr */
};

/* Whole file fd into buf (NUL-terminated); fails the test if it is longer. */
static void slurp(int fd, char *buf, size_t size, const char *what)
{
	size_t got = 0;
	ssize_t n;

	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	while (got < size - 1 && (n = read(fd, buf + got, size - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = 0;
	ck_assert_msg(got < size - 1, "xen-peek's %s is longer than %zu bytes",
		      what, size - 2);
	close(fd);
}

/* Runs xen-peek with the arguments fmt formats to, split on spaces (as
 * run-xen.sh splits a program's arguments); stdout and stderr go to memory
 * files, read into p once it has exited.  Prints the command, its status
 * and its stderr (not stdout: a dump may be long). */
static void __attribute__((format(printf, 2, 3)))
peek_run(struct peek *p, const char *fmt, ...)
{
	char *line, *save = NULL, *argv[32];
	int argc = 0, nlines = 0, out, err, ws;
	va_list ap;
	pid_t pid;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		abort();
	va_end(ap);
	printf("  $ xen-peek %s\n", line);
	free(p->args);
	p->args = strdup(line);
	ck_assert_ptr_nonnull(p->args);
	argv[argc++] = (char *)xen_peek;
	for (char *w = strtok_r(line, " ", &save); w;
	     w = strtok_r(NULL, " ", &save)) {
		ck_assert_int_lt(argc, 31);
		argv[argc++] = w;
	}
	argv[argc] = NULL;
	out = memfd_create("xen-peek-stdout", MFD_CLOEXEC);
	err = memfd_create("xen-peek-stderr", MFD_CLOEXEC);
	ck_assert_msg(out >= 0 && err >= 0, "memfd_create: %s",
		      strerror(errno));
	fflush(stdout);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* dup2() leaves the new descriptors open across exec; the
		 * alarm outlives exec and ends a hung xen-peek */
		if (dup2(out, 1) < 0 || dup2(err, 2) < 0)
			_exit(127);
		alarm(30);
		execv(xen_peek, argv);
		fprintf(stderr, "test-xen: cannot run %s: %s\n", xen_peek,
			strerror(errno));
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	p->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	slurp(out, p->out, sizeof(p->out), "stdout");
	slurp(err, p->err, sizeof(p->err), "stderr");
	printf("    exit %d\n", p->status);
	/* the message, not the whole usage */
	for (const char *l = p->err; *l && nlines++ < 3;) {
		size_t n = strcspn(l, "\n");

		printf("    stderr: %.*s\n", (int)n, l);
		l += n + (l[n] == '\n');
	}
	free(line);
}

static struct peek *peek_new(void)
{
	struct peek *p = calloc(1, sizeof(*p));

	ck_assert_ptr_nonnull(p);
	return p;
}

static void peek_free(struct peek *p)
{
	free(p->args);
	free(p);
}

/* The run exited with status, and printed to stderr iff it failed. */
static void peek_expect_status(const struct peek *p, int status)
{
	ck_assert_msg(p->status == status, "'%s': exit %d, want %d; stderr: "
		      "%s", p->args, p->status, status, p->err);
	if (status == 0)
		ck_assert_msg(!p->err[0], "'%s': succeeded but wrote to "
			      "stderr: %s", p->args, p->err);
	else
		ck_assert_msg(p->err[0], "'%s': failed (%d) silently",
			      p->args, p->status);
}

/* What xen-peek should print for len bytes b at gpa: xxd's layout, one
 * line per 16 bytes at gpa, gpa + 16, ...: the address, ':', eight groups
 * of two bytes in hex (blank past the end of the range), two spaces, and
 * the bytes as text ('.' for those outside ' '..'~'). */
static char *dump_text(uint64_t gpa, const uint8_t *b, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char *text = malloc((len / 16 + 1) * 80 + 1), *o = text;

	ck_assert_ptr_nonnull(text);
	for (size_t at = 0; at < len; at += 16) {
		size_t n = len - at < 16 ? len - at : 16;

		o += sprintf(o, "%08" PRIx64 ":", gpa + at);
		for (size_t i = 0; i < 16; i++) {
			if (i % 2 == 0)
				*o++ = ' ';
			*o++ = i < n ? hex[b[at + i] >> 4] : ' ';
			*o++ = i < n ? hex[b[at + i] & 15] : ' ';
		}
		o += sprintf(o, "  ");
		for (size_t i = 0; i < n; i++)
			*o++ = b[at + i] >= ' ' && b[at + i] <= '~' ?
			       (char)b[at + i] : '.';
		*o++ = '\n';
	}
	*o = 0;
	return text;
}

/* p's stdout must be want; else the first line that differs is shown. */
static void expect_text(const struct peek *p, const char *want)
{
	const char *got = p->out;
	size_t line = 1, i = 0, sol = 0;
	int glen, wlen;

	while (got[i] && got[i] == want[i]) {
		if (got[i++] == '\n') {
			line++;
			sol = i;
		}
	}
	if (!got[i] && !want[i])
		return;
	glen = (int)strcspn(got + sol, "\n");
	wlen = (int)strcspn(want + sol, "\n");
	ck_abort_msg("'%s': stdout differs at line %zu: '%.*s', want "
		     "'%.*s'%s", p->args, line, glen, got + sol, wlen,
		     want + sol, want[i] ? "" : " (the end)");
}

/* After p's run, the domain's memory (raw) is want; else the first GPA
 * that differs is shown. */
static void expect_guest(const struct peek *p, const uint8_t *raw,
			 const uint8_t *want)
{
	for (size_t i = 0; i < PEEK_SIZE; i++)
		ck_assert_msg(raw[i] == want[i], "'%s': then GPA %#zx is "
			      "%#04x, want %#04x", p->args, i, raw[i],
			      want[i]);
}

/* A dummy HVM domain of PEEK_PAGES pages holding pattern salt; want is a
 * copy of what it holds. */
static uint8_t *peek_dom(struct xfx_dom *d, unsigned int salt, uint8_t **want)
{
	uint8_t *raw;

	dom_new(d, XFX_HVM, PEEK_PAGES);
	ck_assert(d->contiguous && d->frames[0] == 0);  /* GPA = offset */
	raw = raw_map(d, 0, PEEK_PAGES);
	*want = malloc(PEEK_SIZE);
	ck_assert_ptr_nonnull(*want);
	pat_fill(*want, 0, PEEK_SIZE, salt);
	memcpy(raw, *want, PEEK_SIZE);
	return raw;
}

/* Whether s holds word with no letter, digit or '_' on either side. */
static bool has_word(const char *s, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = s; (p = strstr(p, word)) != NULL; p++) {
		char before = p > s ? p[-1] : ' ', after = p[n];

		if (!isalnum((unsigned char)before) && before != '_' &&
		    !isalnum((unsigned char)after) && after != '_')
			return true;
	}
	return false;
}

/* Hexdumps at unaligned GPAs across page boundaries: every line (GPA,
 * bytes, text) as computed here from what the test wrote.  The text
 * column sees the edges of the printable range. */
START_TEST(peek_hexdump)
{
	static const uint8_t text[] = "Xen\x1f \x7e\x7f\x80\xff\x00peek!";
	struct xfx_dom d;
	struct peek *p = peek_new();
	uint8_t *raw, *want;
	char *dump;

	raw = peek_dom(&d, 21, &want);
	memcpy(want + 0x1ff8, text, sizeof(text) - 1); /* across 0x2000 */
	memcpy(raw + 0x1ff8, text, sizeof(text) - 1);

	/* 75 bytes at 0x1fe3: four whole lines and one of 11 bytes */
	peek_run(p, "--domid %u --gpa 0x1fe3 --len 75", d.domid);
	peek_expect_status(p, 0);
	dump = dump_text(0x1fe3, want + 0x1fe3, 75);
	expect_text(p, dump);
	free(dump);
	/* 0x2ff9..0x5008, over four pages, the numbers in decimal */
	peek_run(p, "--domid %u --gpa %u --len %u", d.domid, 0x2ff9u, 0x2010u);
	peek_expect_status(p, 0);
	dump = dump_text(0x2ff9, want + 0x2ff9, 0x2010);
	expect_text(p, dump);
	free(dump);
	/* one byte, the last of the domain */
	peek_run(p, "--domid %u --gpa %#x --len 1", d.domid, PEEK_SIZE - 1);
	peek_expect_status(p, 0);
	dump = dump_text(PEEK_SIZE - 1, want + PEEK_SIZE - 1, 1);
	expect_text(p, dump);
	free(dump);

	expect_guest(p, raw, want);        /* reading wrote nothing */
	free(want);
	peek_free(p);
	xfx_unmap(raw, PEEK_PAGES);
	ck_assert_int_eq(xfx_dom_destroy(&d), 0);
}
END_TEST

/* A successful --write or --fill of [gpa, gpa + n): exit 0, the guest
 * holds want, and xen-peek said so and dumped the bytes. */
static void peek_expect_wrote(struct peek *p, const uint8_t *raw,
			      const uint8_t *want, uint64_t gpa, size_t n)
{
	char *dump, *exp;

	peek_expect_status(p, 0);
	expect_guest(p, raw, want);
	dump = dump_text(gpa, want + gpa, n);
	ck_assert_int_ge(asprintf(&exp, "wrote %zu bytes at GPA %#" PRIx64 "\n%s",
				  n, gpa, dump), 0);
	expect_text(p, exp);
	free(exp);
	free(dump);
}

/* --write at unaligned GPAs across page boundaries: exactly those bytes
 * change; xen-peek says so and dumps them. */
START_TEST(peek_write)
{
	struct xfx_dom d;
	struct peek *p = peek_new();
	uint8_t *raw, *want;

	raw = peek_dom(&d, 22, &want);
	/* "Hello" at 0x2ffe: "He" at the end of page 2, "llo" in page 3 */
	peek_run(p, "--domid %u --gpa 0x2ffe --write 48656c6c6f", d.domid);
	memcpy(want + 0x2ffe, "Hello", 5);
	peek_expect_wrote(p, raw, want, 0x2ffe, 5);
	/* upper-case hex with a matching --len, across 0x1000 */
	peek_run(p, "--domid %u --gpa 0xfff --len 3 --write C0FFEE", d.domid);
	memcpy(want + 0xfff, "\xc0\xff\xee", 3);
	peek_expect_wrote(p, raw, want, 0xfff, 3);

	free(want);
	peek_free(p);
	xfx_unmap(raw, PEEK_PAGES);
	ck_assert_int_eq(xfx_dom_destroy(&d), 0);
}
END_TEST

/* --fill over an unaligned range across two page boundaries. */
START_TEST(peek_fill)
{
	struct xfx_dom d;
	struct peek *p = peek_new();
	uint8_t *raw, *want;

	raw = peek_dom(&d, 23, &want);
	/* 0x4ff3..0x6012: pages 4, 5 and 6 */
	peek_run(p, "--domid %u --gpa 0x4ff3 --len 0x1020 --fill 0xab",
		 d.domid);
	memset(want + 0x4ff3, 0xab, 0x1020);
	peek_expect_wrote(p, raw, want, 0x4ff3, 0x1020);
	/* --fill 0: one byte on each side of 0x7000 */
	peek_run(p, "--domid %u --gpa 0x6fff --len 2 --fill 0", d.domid);
	want[0x6fff] = want[0x7000] = 0;
	peek_expect_status(p, 0);
	expect_guest(p, raw, want);

	free(want);
	peek_free(p);
	xfx_unmap(raw, PEEK_PAGES);
	ck_assert_int_eq(xfx_dom_destroy(&d), 0);
}
END_TEST

/* A domain that does not exist: exit 1 and a message naming it. */
START_TEST(peek_nonexistent_domain)
{
	uint32_t domid = xfx_unused_domid();
	struct peek *p = peek_new();
	char *word;

	ck_assert_int_eq(xfx_dom_exists(domid), 0);
	ck_assert_int_ge(asprintf(&word, "domain %u", domid), 0);
	peek_run(p, "--domid %u --gpa 0x1000 --len 16", domid);
	peek_expect_status(p, 1);
	ck_assert_msg(has_word(p->err, word), "stderr does not name %s: %s",
		      word, p->err);
	ck_assert_str_eq(p->out, "");
	peek_run(p, "--domid %u --gpa 0x1000 --write 00", domid);
	peek_expect_status(p, 1);
	ck_assert_msg(has_word(p->err, word), "stderr does not name %s: %s",
		      word, p->err);
	ck_assert_str_eq(p->out, "");
	free(word);
	peek_free(p);
}
END_TEST

/* Ranges with an unpopulated GFN, a hole in the middle (GFN 3, taken out)
 * and past the end (GFN 8): exit 1, the failed GFNs listed and no other,
 * nothing written. */
START_TEST(peek_unpopulated_gfn)
{
	struct xfx_dom d;
	struct peek *p = peek_new();
	uint8_t *raw, *want;

	raw = peek_dom(&d, 24, &want);
	xfx_unmap(raw, PEEK_PAGES);
	ck_assert_int_eq(xfx_unpopulate(&d, 3), 0);
	raw = raw_map(&d, 0, 3);        /* pages 0-2 */

	peek_run(p, "--domid %u --gpa 0x2ff0 --len 0x1020", d.domid);
	peek_expect_status(p, 1);
	ck_assert_str_eq(p->out, "");
	ck_assert_msg(has_word(p->err, "gfn 0x3"), "no gfn 0x3 in: %s",
		      p->err);
	ck_assert_msg(!has_word(p->err, "gfn 0x2") &&
		      !has_word(p->err, "gfn 0x4"),
		      "a mapped GFN listed as failed: %s", p->err);
	/* writing: refused as a whole, GFN 2 is left alone */
	peek_run(p, "--domid %u --gpa 0x2ff0 --len 0x1020 --fill 0xab",
		 d.domid);
	peek_expect_status(p, 1);
	ck_assert_msg(has_word(p->err, "gfn 0x3"), "no gfn 0x3 in: %s",
		      p->err);
	ck_assert_str_eq(p->out, "");
	ck_assert_int_eq(memcmp(raw, want, 3 * PAGE), 0);
	/* past the domain's last GFN */
	peek_run(p, "--domid %u --gpa 0x7ff8 --len 16", d.domid);
	peek_expect_status(p, 1);
	ck_assert_str_eq(p->out, "");
	ck_assert_msg(has_word(p->err, "gfn 0x8"), "no gfn 0x8 in: %s",
		      p->err);
	ck_assert_msg(!has_word(p->err, "gfn 0x7"), "gfn 0x7 listed: %s",
		      p->err);

	free(want);
	peek_free(p);
	xfx_unmap(raw, 3);
	ck_assert_int_eq(xfx_dom_destroy(&d), 0);
}
END_TEST

/* Bad arguments: exit 2, a message and the usage on stderr, nothing on
 * stdout, nothing written; --help: the usage on stdout, exit 0. */
START_TEST(peek_bad_args)
{
	/* each after "--domid D " (D: the dummy domain), but the first
	 * four, which stand alone */
	static const char *const bad[] = {
		"",
		"--gpa 0x1000 --len 16",                        /* no --domid */
		"--domid 32752 --gpa 0x1000 --len 16",          /* reserved */
		"--domid -1 --gpa 0x1000 --len 16",
		"--len 16",                                     /* no --gpa */
		"--gpa 0x1000",                                 /* no --len */
		"--gpa 0x1000 --len 0",
		"--gpa 0x1000 --len 0x4000001",                 /* > 64 MiB */
		"--gpa 0x1000 --len 16x",
		"--gpa -4096 --len 16",
		"--gpa \t-4096 --len 1",                       /* blank, '-' */
		"--gpa 0xffffffffffffffff --len 2",             /* wraps */
		"--gpa 0x10000000000000000 --len 1",
		"--gpa 0x1000 --write 486",
		"--gpa 0x1000 --write 48zz",
		"--gpa 0x1000 --len 4 --write 48656c6c6f",
		"--gpa 0x1000 --len 1 --write 48 --fill 0",
		"--gpa 0x1000 --len 16 --fill 256",
		"--gpa 0x1000 --len 16 --fill -1",
		"--gpa 0x1000 --len 16 extra",
		"--gpa 0x1000 --len 16 --bogus",
		"--gpa 0x1000 --len",
	};
	struct xfx_dom d;
	struct peek *p = peek_new();
	uint8_t *raw, *want;

	raw = peek_dom(&d, 25, &want);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (i < 4)
			peek_run(p, "%s", bad[i]);
		else
			peek_run(p, "--domid %u %s", d.domid, bad[i]);
		ck_assert_msg(p->status == 2, "'%s': exit %d, want 2; stderr: "
			      "%s", bad[i], p->status, p->err);
		ck_assert_msg(strstr(p->err, "usage:"), "'%s': no usage on "
			      "stderr: %s", bad[i], p->err);
		ck_assert_msg(!p->out[0], "'%s': stdout: %s", bad[i], p->out);
	}
	expect_guest(p, raw, want);
	peek_run(p, "--help");
	peek_expect_status(p, 0);
	ck_assert_msg(!strncmp(p->out, "usage: xen-peek ", 16), "--help: %s",
		      p->out);

	free(want);
	peek_free(p);
	xfx_unmap(raw, PEEK_PAGES);
	ck_assert_int_eq(xfx_dom_destroy(&d), 0);
}
END_TEST

/* ------------------------------------------------------------------ main */

static void setup(void)
{
	int rc = xfx_open();

	ck_assert_msg(rc == 0, "opening libxenctrl / libxenforeignmemory: %s",
		      errname(rc));
}

static void teardown(void)
{
	xfx_destroy_all();
	xfx_close();
}

/* In the parent, after each test: destroy what a failed test left. */
static void parent_cleanup(void)
{
	int n;

	if (xfx_open())
		return;
	n = xfx_destroy_leftovers();
	if (n > 0)
		printf("  destroyed %d leftover dummy domain(s)\n", n);
	xfx_close();
}

static void skip(const char *name, const char *why)
{
	const char *only = getenv("CK_RUN_CASE");

	if (only && *only && strcmp(only, name))
		return;         /* not selected anyway */
	printf("SKIP: %s: %s\n", name, why);
	n_skip++;
}

static void add(Suite *s, const char *name, const TTest *t, int idx, bool hvm)
{
	TCase *tc;

	if (hvm && hvm_why && allow_no_hvm) {
		skip(name, hvm_why);
		return;
	}
	tc = tcase_create(name);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_unchecked_fixture(tc, NULL, parent_cleanup);
	/* each takes a second or two in dom0 under QEMU TCG: a hung test
	 * must not use up the whole QEMU run (CK_TIMEOUT_MULTIPLIER scales) */
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, t, idx, idx + 1);
	suite_add_tcase(s, tc);
}

/* A test of examples/xen-peek (on an HVM domain but for one): skipped
 * without --xen-peek. */
static void add_peek(Suite *s, const char *name, const TTest *t, bool hvm)
{
	if (!xen_peek)
		skip(name, "no --xen-peek PATH given");
	else
		add(s, name, t, 0, hvm);
}

static void add_kinds(Suite *s, const char *base, const TTest *t,
		      int first_kind)
{
	for (int k = first_kind; k < XK_N; k++) {
		char *name = NULL;

		if (asprintf(&name, "%s_%s", base, xkind_name[k]) < 0)
			abort();
		add(s, name, t, k, false); /* the name lives on in the TCase */
	}
}

static Suite *xen_suite(void)
{
	Suite *s = suite_create("xen");

	add(s, "foreign_hvm", foreign_hvm, 0, true);
	add(s, "foreign_pv", foreign_pv, 0, false);
	add(s, "foreign_hvm_unpopulated_gfn", foreign_hvm_unpopulated_gfn, 0,
	    true);
	add(s, "foreign_pv_unowned_frame", foreign_pv_unowned_frame, 0, false);
	add(s, "nonexistent_domain", nonexistent_domain, 0, false);
	add(s, "domain_destroyed_while_mapped", domain_destroyed_while_mapped,
	    0, false);
	add(s, "grant_advance_rw", grant_advance_rw, 0, false);
	add(s, "grant_explicit_refs", grant_explicit_refs, 0, false);
	add(s, "grant_hvm", grant_hvm, 0, true);
	add(s, "grant_advance_never_granted", grant_advance_never_granted, 0,
	    false);
	add(s, "grant_advance_rw_of_ro_grant", grant_advance_rw_of_ro_grant,
	    0, false);
	add_kinds(s, "readonly_region", readonly_region, XK_FOREIGN);
	add(s, "ondemand_basic", ondemand_basic, 0, false);
	add(s, "ondemand_never_granted", ondemand_never_granted, 0, false);
	add(s, "ondemand_ro_grant", ondemand_ro_grant, 0, false);
	add(s, "grant_end", grant_end, 0, false);
	add(s, "grant_end_cache", grant_end, 1, false);
	add(s, "cache_hits", cache_hits, 0, false);
	add(s, "cache_eviction_16", cache_eviction, 0, false);
	add(s, "cache_eviction_32", cache_eviction, 1, false);
	add(s, "cache_pinned", cache_pinned, 0, false);
	add(s, "cache_ro_rw", cache_ro_rw, 0, false);
	add(s, "cache_invalidate", cache_invalidate, 0, false);
	add(s, "cache_threads", cache_threads, 0, false);
	add(s, "xen_args_and_unix", xen_args_and_unix, 0, false);
	add_kinds(s, "access_rw", access_rw, XK_FOREIGN);
	add_kinds(s, "access_loadstore", access_loadstore, XK_FOREIGN);
	add_kinds(s, "access_fill_copy", access_fill_copy, XK_FOREIGN);
	add_kinds(s, "access_map", access_map, XK_FOREIGN);
	add_kinds(s, "access_fd", access_fd, XK_FOREIGN);
	add_kinds(s, "access_dirty", access_dirty, XK_FOREIGN);
	add_peek(s, "peek_hexdump", peek_hexdump, true);
	add_peek(s, "peek_write", peek_write, true);
	add_peek(s, "peek_fill", peek_fill, true);
	add_peek(s, "peek_nonexistent_domain", peek_nonexistent_domain, false);
	add_peek(s, "peek_unpopulated_gfn", peek_unpopulated_gfn, true);
	add_peek(s, "peek_bad_args", peek_bad_args, true);
	return s;
}

int main(int argc, char **argv)
{
	const char *why = NULL, *env = getenv("VMMEM_XEN_ALLOW_NO_HVM");
	TestResult **res;
	SRunner *sr;
	int nrun, nfail = 0;

	allow_no_hvm = env && *env && strcmp(env, "0") != 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--allow-no-hvm"))
			allow_no_hvm = true;
		else if (!strcmp(argv[i], "--require-hvm"))
			allow_no_hvm = false;
		else if (!strcmp(argv[i], "--xen-peek") && i + 1 < argc)
			xen_peek = argv[++i];
		else {
			fprintf(stderr, "usage: %s [--allow-no-hvm | "
				"--require-hvm] [--xen-peek PATH]\n", argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (xfx_open()) {
		printf("FAIL: open: cannot open the Xen control interfaces "
		       "(not in a dom0, or not root?)\n");
		printf("xen-suite: 0 passed, 1 failed, 0 skipped\n");
		return 1;
	}
	if (!xfx_hvm_available(&why))
		hvm_why = why;
	printf("  HVM dummy domains: %s%s\n", hvm_why ? "unavailable: " :
	       "available", hvm_why ? hvm_why : "");
	xfx_destroy_leftovers();
	xfx_close();

	sr = srunner_create(xen_suite());
	srunner_run_all(sr, CK_VERBOSE);
	nrun = srunner_ntests_run(sr);
	res = srunner_results(sr);
	for (int i = 0; i < nrun; i++) {
		if (tr_rtype(res[i]) == CK_PASS) {
			printf("PASS: %s\n", tr_tcname(res[i]));
			continue;
		}
		nfail++;
		printf("FAIL: %s: %s (%s:%d)\n", tr_tcname(res[i]),
		       tr_msg(res[i]), tr_lfile(res[i]) ? tr_lfile(res[i]) : "?",
		       tr_lno(res[i]));
	}
	free(res);
	srunner_free(sr);
	printf("xen-suite: %d passed, %d failed, %d skipped\n", nrun - nfail,
	       nfail, n_skip);
	return nfail ? 1 : 0;
}
