/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Regions mapped on demand (lib/region/lazy.c, lib/xen/mapcache.c), driven
 * by a fake mapper that behaves like grant mappings: the guest memory is a
 * memfd, a map call is an mmap of the pages asked for, PROT_READ for a
 * read-only entry, and it can refuse pages the "guest" did not grant (or
 * granted read-only).  Every map call is checked (inside the region, inside
 * one bucket with the cache, at most a batch without) and every unmap must
 * name a live mapping exactly; after each test none may be left.  The
 * access tests run with the cache; the transient tests check that without
 * it each access maps exactly its pages in one call and leaves nothing
 * mapped.
 *
 * The data is checked against the memfd through a mapping of the test's
 * own, and the cache's behaviour through mapcache_stats() and the fake's
 * own counts.  Linked against the convenience library: region_new_lazy()
 * and the map cache are internal. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vmmem-private.h"
#include "xen/mapcache.h"
#include "testutil.h"

#define PAGE        4096ull
#define BPAGES      MAPCACHE_BUCKET_PAGES
#define BUCKET      (BPAGES * PAGE)
#define MAX_LIVE    4096

/* Where the regions go: a plain region, the lazy one right after it, and
 * another plain one right after that. */
#define GPA_PLAIN   0x100000ull
#define PLAIN_SIZE  0x40000ull
#define GPA_LAZY    (GPA_PLAIN + PLAIN_SIZE)
#define GPA_PLAIN2  (GPA_LAZY + E.lazy_size)
#define PLAIN2_SIZE 0x40000ull

/* ThreadSanitizer: the concurrency test races on guest memory on purpose
 * (a writer storing while readers copy).  Guest memory is shared with the
 * guest and the library does not synchronise plain accesses to it, so those
 * races are the test's setup.  tests/tsan.supp cannot name them: a function
 * entry (concurrency_fn, reader_main) matches every report of the test, the
 * map cache's own included (every access the test's threads make runs
 * through one of those functions), and TSan does not apply an entry matching
 * the report's location (the memfd) when the location has no symbol.  So
 * the fake mapper marks each mapping it makes, guest bytes and nothing
 * else, as a benign race for TSan when the test asks; a race on the map
 * cache's entries, LRU, stats or pins is still reported. */
#define GUEST_RACES_OK(p, n) TEST_GUEST_RACES_OK(p, n, "guest memory")   /* testutil.h */

/* --------------------------------------------------------- the mapper */

struct live {
	uint8_t *addr;
	size_t count;
	uint64_t first;
	bool writable;
};

struct fake {
	int memfd;
	size_t pages;
	uint8_t *ref;                 /* our own read-write view of the memfd */
	bool *not_granted;            /* map of such a page: -EINVAL */
	bool *ro_granted;             /* writable map of such a page: -EPERM */
	bool racy_guest;              /* GUEST_RACES_OK() on every mapping */
	bool transient;               /* no cache: maps of up to a batch */
	pthread_mutex_t lock;
	struct live live[MAX_LIVE];
	size_t nlive;
	unsigned long calls, failures, writable_calls, unmaps;
	unsigned long bad;            /* calls that broke the mapper's rules */
	char bad_why[160];
	uint64_t last_first;
	size_t last_count;
	bool last_writable;
};

static void fake_bad(struct fake *f, const char *why, uint64_t a, uint64_t b)
{
	if (!f->bad++)
		snprintf(f->bad_why, sizeof(f->bad_why), "%s (%#" PRIx64
			 ", %#" PRIx64 ")", why, a, b);
}

static void *fake_map(void *ctx, uint64_t first, size_t count, bool writable,
		      int *err)
{
	struct fake *f = ctx;
	void *p = NULL;

	pthread_mutex_lock(&f->lock);
	f->calls++;
	f->writable_calls += writable;
	f->last_first = first;
	f->last_count = count;
	f->last_writable = writable;
	if (!count || first >= f->pages || count > f->pages - first ||
	    (f->transient ? count > MAPCACHE_BATCH_PAGES
			  : count > BPAGES ||
				    first / BPAGES != (first + count - 1) / BPAGES)) {
		fake_bad(f, "map outside the region or across buckets", first,
			 count);
		*err = -EFAULT;
		goto fail;
	}
	for (size_t i = 0; i < count; i++) {
		if (f->not_granted[first + i]) {
			*err = -EINVAL;
			goto fail;
		}
		if (writable && f->ro_granted[first + i]) {
			*err = -EPERM;
			goto fail;
		}
	}
	if (f->nlive == MAX_LIVE) {
		fake_bad(f, "too many live mappings", first, count);
		*err = -ENOMEM;
		goto fail;
	}
	p = mmap(NULL, count * PAGE,
		 writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED,
		 f->memfd, (off_t)(first * PAGE));
	if (p == MAP_FAILED) {
		fake_bad(f, "mmap failed", first, count);
		*err = -ENOMEM;
		p = NULL;
		goto fail;
	}
	if (f->racy_guest)
		GUEST_RACES_OK(p, count * PAGE);
	f->live[f->nlive++] = (struct live){ p, count, first, writable };
	pthread_mutex_unlock(&f->lock);
	return p;
fail:
	f->failures++;
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

static void fake_unmap(void *ctx, void *addr, size_t count)
{
	struct fake *f = ctx;
	size_t i;

	pthread_mutex_lock(&f->lock);
	f->unmaps++;
	for (i = 0; i < f->nlive && f->live[i].addr != addr; i++)
		;
	if (i == f->nlive) {
		fake_bad(f, "unmap of an unknown address", (uintptr_t)addr, count);
	} else if (f->live[i].count != count) {
		fake_bad(f, "unmap with the wrong count", f->live[i].count, count);
	} else {
		munmap(addr, count * PAGE);
		f->live[i] = f->live[--f->nlive];
	}
	pthread_mutex_unlock(&f->lock);
}

static const struct mapcache_ops fake_ops = {
	.map = fake_map,
	.unmap = fake_unmap,
};

/* Whether the mapping l is still live: the same address for the same
 * pages (an address alone could be a later mapping the kernel put where an
 * unmapped one was). */
static bool fake_live(struct fake *f, const struct live *l)
{
	bool found = false;

	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->nlive; i++)
		found |= f->live[i].addr == l->addr &&
			 f->live[i].first == l->first &&
			 f->live[i].count == l->count &&
			 f->live[i].writable == l->writable;
	pthread_mutex_unlock(&f->lock);
	return found;
}

/* The live mapping holding p, copied to *out. */
static bool fake_holding(struct fake *f, const void *p, struct live *out)
{
	bool found = false;

	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->nlive && !found; i++) {
		const uint8_t *a = f->live[i].addr;

		if ((const uint8_t *)p >= a &&
		    (const uint8_t *)p < a + f->live[i].count * PAGE) {
			*out = f->live[i];
			found = true;
		}
	}
	pthread_mutex_unlock(&f->lock);
	return found;
}

/* ------------------------------------------------------ the test space */

struct env {
	struct fake f;
	struct vmmem *m;
	struct vmmem_region *lazy;    /* borrowed: m holds them */
	struct vmmem_region *plain, *plain2;
	uint64_t lazy_size;
};

static struct env E;

static uint8_t *plain_host(void)
{
	return test_host_of_gpa(E.m, GPA_PLAIN);
}

static uint8_t *plain2_host(void)
{
	return test_host_of_gpa(E.m, GPA_PLAIN2);
}

/* A space with a lazy region of `pages` pages at GPA_LAZY, with the map
 * cache (at most max_pages of them mapped) or transient (!cache), and with
 * plain regions around it if asked. */
static void env_init_mode(size_t pages, bool cache, size_t max_pages,
			  bool readonly, bool with_plain)
{
	struct fake *f = &E.f;
	struct vmmem_region *r = NULL;

	memset(&E, 0, sizeof(E));
	E.lazy_size = pages * PAGE;
	f->pages = pages;
	f->memfd = memfd_create("vmmem-lazy-guest", MFD_CLOEXEC);
	ck_assert_int_ge(f->memfd, 0);
	ck_assert_int_eq(ftruncate(f->memfd, (off_t)E.lazy_size), 0);
	f->ref = mmap(NULL, E.lazy_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      f->memfd, 0);
	ck_assert_ptr_ne(f->ref, MAP_FAILED);
	test_pattern(f->ref, E.lazy_size, 1);
	f->not_granted = calloc(pages, sizeof(bool));
	f->ro_granted = calloc(pages, sizeof(bool));
	ck_assert_ptr_nonnull(f->not_granted);
	ck_assert_ptr_nonnull(f->ro_granted);
	pthread_mutex_init(&f->lock, NULL);
	f->transient = !cache;

	ck_assert_int_eq(vmmem_new(&E.m, 0), 0);
	ck_assert_int_eq(region_new_lazy(&r, E.lazy_size, &fake_ops, f, cache,
					 max_pages, readonly), 0);
	ck_assert_int_eq(vmmem_add_region(E.m, GPA_LAZY, r), 0);
	E.lazy = r;
	vmmem_region_unref(r);
	if (with_plain) {
		r = test_region(PLAIN_SIZE);
		ck_assert_int_eq(vmmem_add_region(E.m, GPA_PLAIN, r), 0);
		E.plain = r;
		vmmem_region_unref(r);
		test_pattern(plain_host(), PLAIN_SIZE, 2);
		r = test_region(PLAIN2_SIZE);
		ck_assert_int_eq(vmmem_add_region(E.m, GPA_PLAIN2, r), 0);
		E.plain2 = r;
		vmmem_region_unref(r);
		test_pattern(plain2_host(), PLAIN2_SIZE, 3);
	}
	/* Nothing mapped before the first access. */
	ck_assert_uint_eq(f->calls, 0);
}

static void env_init(size_t pages, size_t max_pages, bool readonly,
		     bool with_plain)
{
	env_init_mode(pages, true, max_pages, readonly, with_plain);
}

/* Frees the space: every mapping the cache made must be gone, each
 * unmapped with the count it was mapped with. */
static void env_fini(void)
{
	struct fake *f = &E.f;

	vmmem_free(E.m);
	ck_assert_msg(!f->bad, "mapper misuse: %s", f->bad_why);
	ck_assert_msg(f->nlive == 0, "%zu mapping(s) left after the region "
		      "was released", f->nlive);
	ck_assert_uint_eq(f->unmaps, f->calls - f->failures);
	munmap(f->ref, E.lazy_size);
	close(f->memfd);
	free(f->not_granted);
	free(f->ro_granted);
	pthread_mutex_destroy(&f->lock);
}

static struct vmmem_xen_cache_stats cstats(void)
{
	struct vmmem_xen_cache_stats st;

	mapcache_stats(E.lazy->cache, &st);
	ck_assert_uint_eq(st.sz, sizeof(st));
	return st;
}

/* The lazy region's bytes [off, off + len) in the memfd equal want. */
static void expect_lazy(uint64_t off, const uint8_t *want, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (E.f.ref[off + i] != want[i])
			ck_abort_msg("lazy byte at offset %#" PRIx64 " is 0x%02x, "
				     "want 0x%02x", off + i, E.f.ref[off + i],
				     want[i]);
}

static void expect_mem(const uint8_t *got, const uint8_t *want, size_t len,
		       const char *what)
{
	for (size_t i = 0; i < len; i++)
		if (got[i] != want[i])
			ck_abort_msg("%s: byte %zu is 0x%02x, want 0x%02x", what,
				     i, got[i], want[i]);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	ck_assert_ptr_nonnull(p);
	return p;
}

/* ================================================= access paths */

struct span {
	uint64_t off;
	size_t len;
};

/* Small, unaligned, page-crossing, bucket-crossing and large pieces of
 * the lazy region (1 MiB: 16 buckets). */
static const struct span spans[] = {
	{ 0, 1 }, { 1, 2 }, { 6, 2 }, { 8, 4 }, { 0x20, 8 }, { 0x31, 8 },
	{ 0x40, 16 }, { 0x47, 16 }, { 0x100, 3 }, { 0x200, 1000 },
	{ PAGE - 1, 2 }, { PAGE - 4, 8 }, { PAGE - 8, 16 }, { 3 * PAGE - 3, 7 },
	{ 5 * PAGE + 100, 3 * PAGE },
	{ BUCKET - 8, 16 }, { BUCKET - 1, 2 }, { 2 * BUCKET - 2, 4 },
	{ BUCKET - 100, BUCKET + 200 }, { 0x8000, BUCKET },
	{ 3 * BUCKET, 3 * BUCKET }, { 0x1234, 700 * KIB },
	{ 0, 1 << 20 }, { (1 << 20) - 16, 16 }, { (1 << 20) - 1, 1 },
};

START_TEST(rw_lazy)
{
	uint8_t *want = xmalloc(1 << 20), *got = xmalloc(1 << 20);

	env_init(256, 64, false, true);
	for (size_t i = 0; i < sizeof(spans) / sizeof(spans[0]); i++) {
		const struct span *sp = &spans[i];
		uint64_t gpa = GPA_LAZY + sp->off;

		/* Partial: the whole piece is backed. */
		test_pattern(want, sp->len, 10 + (unsigned)i);
		ck_assert_int_eq(vmmem_write(E.m, gpa, want, sp->len),
				 (ssize_t)sp->len);
		expect_lazy(sp->off, want, sp->len);
		memset(got, 0, sp->len);
		ck_assert_int_eq(vmmem_read(E.m, gpa, got, sp->len),
				 (ssize_t)sp->len);
		expect_mem(got, want, sp->len, "vmmem_read");
		/* Exact. */
		test_pattern(want, sp->len, 40 + (unsigned)i);
		ck_assert_int_eq(vmmem_write_exact(E.m, gpa, want, sp->len), 0);
		expect_lazy(sp->off, want, sp->len);
		memset(got, 0, sp->len);
		ck_assert_int_eq(vmmem_read_exact(E.m, gpa, got, sp->len), 0);
		expect_mem(got, want, sp->len, "vmmem_read_exact");
		/* Written by the "guest": seen by the next read. */
		test_pattern(E.f.ref + sp->off, sp->len, 70 + (unsigned)i);
		ck_assert_int_eq(vmmem_read_exact(E.m, gpa, got, sp->len), 0);
		expect_mem(got, E.f.ref + sp->off, sp->len, "guest's write");
	}
	/* Little-endian helpers: fixed sizes through the same paths. */
	ck_assert_int_eq(vmmem_write_le32(E.m, GPA_LAZY + BUCKET - 2,
					  0x11223344), 0);
	ck_assert_uint_eq(E.f.ref[BUCKET - 2], 0x44);
	ck_assert_uint_eq(E.f.ref[BUCKET + 1], 0x11);
	{
		uint64_t v = 0;

		ck_assert_int_eq(vmmem_read_le64(E.m, GPA_LAZY + 2 * PAGE - 3,
						 &v), 0);
		ck_assert_int_eq(memcmp(&v, E.f.ref + 2 * PAGE - 3, 8), 0);
	}
	/* Past the end: the next region (plain2) is there, so only past
	 * it is there a hole; a read from the lazy region into the hole
	 * after plain2 stops at the hole. */
	ck_assert_int_eq(vmmem_read(E.m, GPA_PLAIN2 + PLAIN2_SIZE - 10, got,
				    100), 10);
	ck_assert_int_eq(vmmem_read_exact(E.m, GPA_PLAIN2 + PLAIN2_SIZE - 10,
					  got, 100), -EFAULT);
	free(want);
	free(got);
	env_fini();
}
END_TEST

/* Alone, the lazy region is followed by a hole: partial transfers stop
 * there, exact ones refuse before copying anything. */
START_TEST(rw_lazy_hole)
{
	uint8_t want[300], got[300], orig[300];

	env_init(40, 64, false, false);   /* 2.5 buckets: a short last one */
	test_pattern(want, sizeof(want), 5);
	memcpy(orig, E.f.ref + E.lazy_size - 100, 100);
	ck_assert_int_eq(vmmem_write_exact(E.m, GPA_LAZY + E.lazy_size - 100,
					   want, 300), -EFAULT);
	expect_lazy(E.lazy_size - 100, orig, 100);
	ck_assert_int_eq(vmmem_write(E.m, GPA_LAZY + E.lazy_size - 100, want,
				     300), 100);
	expect_lazy(E.lazy_size - 100, want, 100);
	ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY + E.lazy_size - 100, got,
				    300), 100);
	expect_mem(got, want, 100, "vmmem_read at the end");
	ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY + E.lazy_size, got, 1),
			 -EFAULT);
	/* The short last bucket was mapped whole: 8 pages from page 32. */
	ck_assert_uint_eq(E.f.last_first, 32);
	ck_assert_uint_eq(E.f.last_count, 8);
	env_fini();
}
END_TEST

/* Transfers across plain -> lazy and lazy -> plain boundaries, both
 * directions of copy. */
START_TEST(rw_across_regions)
{
	const size_t len = 3 * BUCKET + 777;
	uint8_t *want = xmalloc(len), *got = xmalloc(len);
	/* Starting in plain, ending in lazy; starting in lazy, ending in
	 * plain2. */
	uint64_t starts[2];

	env_init(256, 32, false, true);
	starts[0] = GPA_LAZY - 5000;
	starts[1] = GPA_PLAIN2 - len + 4000;
	for (int k = 0; k < 2; k++) {
		uint64_t gpa = starts[k];
		uint8_t *plain = k == 0 ? plain_host() + (gpa - GPA_PLAIN)
				       : plain2_host();
		uint64_t lazy_off = k == 0 ? 0 : gpa - GPA_LAZY;
		size_t in_plain = k == 0 ? 5000 : 4000;
		size_t in_lazy = len - in_plain;

		test_pattern(want, len, 20 + (unsigned)k);
		ck_assert_int_eq(vmmem_write(E.m, gpa, want, len), (ssize_t)len);
		if (k == 0) {
			expect_mem(plain, want, in_plain, "plain part");
			expect_lazy(0, want + in_plain, in_lazy);
		} else {
			expect_lazy(lazy_off, want, in_lazy);
			expect_mem(plain, want + in_lazy, in_plain, "plain2 part");
		}
		ck_assert_int_eq(vmmem_read(E.m, gpa, got, len), (ssize_t)len);
		expect_mem(got, want, len, "read across");
		test_pattern(want, len, 30 + (unsigned)k);
		ck_assert_int_eq(vmmem_write_exact(E.m, gpa, want, len), 0);
		memset(got, 0, len);
		ck_assert_int_eq(vmmem_read_exact(E.m, gpa, got, len), 0);
		expect_mem(got, want, len, "read_exact across");
		if (k == 0)
			expect_lazy(0, want + in_plain, in_lazy);
		else
			expect_lazy(lazy_off, want, in_lazy);
		/* A 16-byte access straddling the boundary. */
		gpa = k == 0 ? GPA_LAZY - 8 : GPA_PLAIN2 - 8;
		test_pattern(want, 16, 50 + (unsigned)k);
		ck_assert_int_eq(vmmem_write(E.m, gpa, want, 16), 16);
		ck_assert_int_eq(vmmem_read(E.m, gpa, got, 16), 16);
		expect_mem(got, want, 16, "16 bytes across");
	}
	free(want);
	free(got);
	env_fini();
}
END_TEST

START_TEST(load_store)
{
	static const size_t sizes[] = { 1, 2, 4, 8 };
	static const int st_orders[] = { VMMEM_ORDER_RELAXED,
					 VMMEM_ORDER_RELEASE,
					 VMMEM_ORDER_SEQ_CST };
	static const int ld_orders[] = { VMMEM_ORDER_RELAXED,
					 VMMEM_ORDER_CONSUME,
					 VMMEM_ORDER_ACQUIRE,
					 VMMEM_ORDER_SEQ_CST };
	static const uint64_t offs[] = { 0, 8, PAGE - 8, PAGE, BUCKET - 8,
					 BUCKET, 5 * BUCKET + 0x128,
					 (1 << 20) - 8 };
	uint64_t n = 0;

	env_init(256, 32, false, true);
	for (size_t o = 0; o < sizeof(offs) / sizeof(offs[0]); o++)
		for (size_t s = 0; s < 4; s++)
			for (size_t so = 0; so < 3; so++)
				for (size_t lo = 0; lo < 4; lo++) {
					size_t size = sizes[s];
					uint64_t off = offs[o] + (8 - size);
					uint64_t val = 0x8877665544332211ull ^ (++n * 0x0101010101010101ull);
					uint64_t mask = size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
					uint64_t got = 0, mem = 0;

					ck_assert_int_eq(vmmem_store(E.m, GPA_LAZY + off, size,
								     val, st_orders[so]), 0);
					memcpy(&mem, E.f.ref + off, size);
					ck_assert_uint_eq(mem, val & mask);
					E.f.ref[off + size - 1] ^= 0x5a;
					ck_assert_int_eq(vmmem_load(E.m, GPA_LAZY + off, size,
								    &got, ld_orders[lo]), 0);
					memcpy(&mem, E.f.ref + off, size);
					ck_assert_uint_eq(got, mem);
				}
	/* Misaligned, bad orders and sizes: refused before any mapping. */
	{
		struct vmmem_xen_cache_stats before = cstats(), after;
		uint64_t v;

		ck_assert_int_eq(vmmem_load(E.m, GPA_LAZY + 2 * BUCKET + 4, 8,
					    &v, VMMEM_ORDER_RELAXED), -EINVAL);
		ck_assert_int_eq(vmmem_store(E.m, GPA_LAZY + 2 * BUCKET + 1, 2,
					     1, VMMEM_ORDER_RELAXED), -EINVAL);
		ck_assert_int_eq(vmmem_store(E.m, GPA_LAZY + 2 * BUCKET, 8, 1,
					     VMMEM_ORDER_ACQUIRE), -EINVAL);
		ck_assert_int_eq(vmmem_load(E.m, GPA_LAZY + 2 * BUCKET, 8, &v,
					    VMMEM_ORDER_RELEASE), -EINVAL);
		ck_assert_int_eq(vmmem_load(E.m, GPA_LAZY + 2 * BUCKET, 3, &v,
					    VMMEM_ORDER_RELAXED), -EINVAL);
		after = cstats();
		ck_assert_uint_eq(after.map_calls, before.map_calls);
		ck_assert_uint_eq(after.hits + after.misses,
				  before.hits + before.misses);
	}
	env_fini();
}
END_TEST

START_TEST(fill)
{
	uint8_t *orig = xmalloc(1 << 20);

	env_init(256, 32, false, true);
	memcpy(orig, E.f.ref, 1 << 20);
	ck_assert_int_eq(vmmem_fill(E.m, GPA_LAZY + 0xff0, 0x5c, 0x30000), 0);
	expect_lazy(0, orig, 0xff0);
	ck_assert(test_all_bytes(E.f.ref + 0xff0, 0x5c, 0x30000));
	expect_lazy(0xff0 + 0x30000, orig + 0xff0 + 0x30000,
		    (1 << 20) - 0xff0 - 0x30000);
	ck_assert_int_eq(vmmem_fill(E.m, GPA_LAZY + 3, 0xa1, 1), 0);
	ck_assert_uint_eq(E.f.ref[3], 0xa1);
	ck_assert_uint_eq(E.f.ref[4], orig[4]);
	/* Across plain -> lazy -> plain2: the whole lazy region and a bit
	 * on each side. */
	ck_assert_int_eq(vmmem_fill(E.m, GPA_LAZY - 100, 0x77,
				    E.lazy_size + 200), 0);
	ck_assert(test_all_bytes(E.f.ref, 0x77, E.lazy_size));
	ck_assert(test_all_bytes(plain_host() + PLAIN_SIZE - 100, 0x77, 100));
	ck_assert(test_all_bytes(plain2_host(), 0x77, 100));
	ck_assert_uint_ne(plain_host()[PLAIN_SIZE - 101], 0x77);
	ck_assert_uint_ne(plain2_host()[100], 0x77);
	/* Into the hole after plain2: refused, nothing filled. */
	ck_assert_int_eq(vmmem_fill(E.m, GPA_PLAIN2 + PLAIN2_SIZE - 1, 0, 2),
			 -EFAULT);
	ck_assert_uint_ne(plain2_host()[PLAIN2_SIZE - 1], 0);
	free(orig);
	env_fini();
}
END_TEST

/* vmmem_copy in every combination, checked against memmove on a model of
 * the whole space [GPA_PLAIN, GPA_PLAIN2 + PLAIN2_SIZE). */
START_TEST(copy)
{
	const struct {
		int64_t dst, src;         /* offsets from GPA_LAZY */
		uint64_t len;
	} cases[] = {
		/* lazy -> plain, plain -> lazy, plain2 <-> lazy */
		{ -(int64_t)PLAIN_SIZE + 0x100, 0x3456, 0x23456 },
		{ 0x5000, -(int64_t)PLAIN_SIZE + 0x10, 0x30000 },
		{ (1 << 20) + 0x10, 0x1000, 0x12345 },
		{ 0x77, (1 << 20) + 0x9, 0x20000 },
		/* lazy -> lazy, apart */
		{ 0x80000, 0x1001, 0x40000 },
		{ 0x1, 0xc0000, 0x2ffff },
		/* lazy -> lazy, overlapping: dst after src (backwards) and
		 * before it (forwards), by less than the bounce buffer and
		 * by more, across buckets */
		{ 0x1100, 0x1000, 0x30000 },
		{ 0x3345, 0x1000, 0x30000 },
		{ 0x1000, 0x1100, 0x30000 },
		{ 0x1000, 0x13345, 0x30000 },
		{ 0x20001, 0x20000, 0x10000 },
		{ 0x20000, 0x20001, 0x10000 },
		/* overlapping and crossing region boundaries */
		{ -0x2000, -0x3000, 0x30000 },
		{ -0x3000, -0x2000, 0x30000 },
		{ (1 << 20) - 0x8000 + 0x800, (1 << 20) - 0x8000, 0x10000 },
		{ (1 << 20) - 0x8000, (1 << 20) - 0x8000 + 0x800, 0x10000 },
		/* the same range: nothing changes */
		{ 0x4000, 0x4000, 0x20000 },
	};
	const size_t total = PLAIN_SIZE + (1 << 20) + PLAIN2_SIZE;
	uint8_t *model = xmalloc(total), *got = xmalloc(total);

	env_init(256, 48, false, true);
	memcpy(model, plain_host(), PLAIN_SIZE);
	memcpy(model + PLAIN_SIZE, E.f.ref, 1 << 20);
	memcpy(model + PLAIN_SIZE + (1 << 20), plain2_host(), PLAIN2_SIZE);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t dst = GPA_LAZY + (uint64_t)cases[i].dst;
		uint64_t src = GPA_LAZY + (uint64_t)cases[i].src;

		ck_assert_int_eq(vmmem_copy(E.m, dst, src, cases[i].len), 0);
		memmove(model + (dst - GPA_PLAIN), model + (src - GPA_PLAIN),
			cases[i].len);
		ck_assert_int_eq(vmmem_read_exact(E.m, GPA_PLAIN, got, total), 0);
		for (size_t b = 0; b < total; b++)
			if (got[b] != model[b])
				ck_abort_msg("copy %zu (dst %+" PRId64 ", src %+"
					     PRId64 ", len %#" PRIx64 "): byte "
					     "at GPA %#" PRIx64 " is 0x%02x, "
					     "want 0x%02x", i, cases[i].dst,
					     cases[i].src, cases[i].len,
					     (uint64_t)(GPA_PLAIN + b), got[b], model[b]);
		/* Then scramble so the next case copies fresh bytes. */
		test_pattern(model, total, 100 + (unsigned)i);
		ck_assert_int_eq(vmmem_write_exact(E.m, GPA_PLAIN, model, total),
				 0);
	}
	/* Into or from the hole: refused before anything moved. */
	ck_assert_int_eq(vmmem_copy(E.m, GPA_LAZY, GPA_PLAIN2 + PLAIN2_SIZE - 8,
				    16), -EFAULT);
	ck_assert_int_eq(vmmem_copy(E.m, GPA_PLAIN2 + PLAIN2_SIZE - 8, GPA_LAZY,
				    16), -EFAULT);
	ck_assert_int_eq(vmmem_read_exact(E.m, GPA_PLAIN, got, total), 0);
	expect_mem(got, model, total, "after refused copies");
	free(model);
	free(got);
	env_fini();
}
END_TEST

START_TEST(map_unmap)
{
	struct vmmem_xen_cache_stats st;
	uint64_t len;
	void *h = NULL, *h2 = NULL, *hp = NULL;
	uint8_t buf[0x200];

	env_init(256, 64, false, true);
	/* Shortened to the end of the bucket. */
	len = 0x20000;
	ck_assert_int_eq(vmmem_map(E.m, GPA_LAZY + 0x3000, &len, VMMEM_MAP_READ,
				   &h), 0);
	ck_assert_uint_eq(len, BUCKET - 0x3000);
	expect_mem(h, E.f.ref + 0x3000, len, "mapped for reading");
	st = cstats();
	ck_assert_uint_eq(st.pinned_pages, BPAGES);
	/* Not shortened when it fits, a plain region never. */
	len = 0x100;
	ck_assert_int_eq(vmmem_map(E.m, GPA_LAZY + BUCKET + 0x10, &len,
				   VMMEM_MAP_WRITE, &h2), 0);
	ck_assert_uint_eq(len, 0x100);
	len = PLAIN_SIZE + 0x1000;
	ck_assert_int_eq(vmmem_map(E.m, GPA_PLAIN, &len, VMMEM_MAP_READ, &hp),
			 0);
	ck_assert_uint_eq(len, PLAIN_SIZE);
	ck_assert_ptr_eq(hp, plain_host());
	ck_assert_int_eq(vmmem_unmap(E.m, hp, 0), 0);

	/* Writes through the pointer land in guest memory; the guest's are
	 * seen through it. */
	test_pattern(buf, sizeof(buf), 61);
	memcpy(h2, buf, 0x100);
	expect_lazy(BUCKET + 0x10, buf, 0x100);
	E.f.ref[BUCKET + 0x20] ^= 0xff;
	ck_assert_uint_eq(((uint8_t *)h2)[0x10], E.f.ref[BUCKET + 0x20]);
	ck_assert_int_eq(vmmem_unmap(E.m, h2, 0x101), -EINVAL);
	ck_assert_int_eq(vmmem_unmap(E.m, h2, 0x100), 0);
	ck_assert_int_eq(vmmem_unmap(E.m, h2, 0), -ENOENT);
	/* The read-only mapping takes no written bytes. */
	ck_assert_int_eq(vmmem_unmap(E.m, h, 1), -EINVAL);
	ck_assert_int_eq(vmmem_unmap(E.m, h, 0), 0);
	st = cstats();
	ck_assert_uint_eq(st.pinned_pages, 0);
	/* Twice the same GPA: the same pointer, two pins. */
	len = 8;
	ck_assert_int_eq(vmmem_map(E.m, GPA_LAZY + 0x40, &len, VMMEM_MAP_READ,
				   &h), 0);
	len = 8;
	ck_assert_int_eq(vmmem_map(E.m, GPA_LAZY + 0x40, &len, VMMEM_MAP_READ,
				   &h2), 0);
	ck_assert_ptr_eq(h, h2);
	ck_assert_int_eq(vmmem_unmap(E.m, h, 0), 0);
	ck_assert_uint_eq(cstats().pinned_pages, BPAGES);
	ck_assert_int_eq(vmmem_unmap(E.m, h2, 0), 0);
	ck_assert_uint_eq(cstats().pinned_pages, 0);
	/* Bad arguments. */
	len = 0;
	ck_assert_int_eq(vmmem_map(E.m, GPA_LAZY, &len, VMMEM_MAP_READ, &h),
			 -EINVAL);
	len = 8;
	ck_assert_int_eq(vmmem_map(E.m, GPA_LAZY, &len, 4, &h), -EINVAL);
	ck_assert_int_eq(vmmem_map(E.m, GPA_PLAIN2 + PLAIN2_SIZE, &len,
				   VMMEM_MAP_READ, &h), -EFAULT);
	/* A mapping left open is released with the space. */
	len = 8;
	ck_assert_int_eq(vmmem_map(E.m, GPA_LAZY + 5 * BUCKET, &len,
				   VMMEM_MAP_WRITE, &h), 0);
	env_fini();
}
END_TEST

/* A lazy region removed while mapped: the pointer keeps working until
 * vmmem_unmap(), which releases the last reference and so the cache. */
START_TEST(map_outlives_removal)
{
	struct vmmem_region *removed = NULL;
	uint64_t len = 64;
	void *h = NULL;

	env_init(64, 32, false, false);
	ck_assert_int_eq(vmmem_map(E.m, GPA_LAZY + 0x100, &len,
				   VMMEM_MAP_READ | VMMEM_MAP_WRITE, &h), 0);
	ck_assert_int_eq(vmmem_remove_region(E.m, GPA_LAZY, E.lazy_size,
					     &removed), 0);
	ck_assert_ptr_eq(removed, E.lazy);
	vmmem_region_unref(removed);
	memset(h, 0xc3, 64);
	ck_assert(test_all_bytes(E.f.ref + 0x100, 0xc3, 64));
	ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY, &len, 8), -EFAULT);
	ck_assert_int_eq(vmmem_unmap(E.m, h, 64), 0);
	env_fini();
}
END_TEST

START_TEST(fd_io)
{
	const size_t len = 200 * KIB;
	uint8_t *want = xmalloc(len), *got = xmalloc(len);
	int mfd = memfd_create("vmmem-lazy-file", MFD_CLOEXEC);
	int pfd[2];

	ck_assert_int_ge(mfd, 0);
	env_init(256, 64, false, true);
	/* Guest -> file, across buckets, at a file offset. */
	ck_assert_int_eq(vmmem_pwrite_fd(E.m, GPA_LAZY + 0x800, mfd, len, 0x3000),
			 (ssize_t)len);
	ck_assert_int_eq(pread(mfd, got, len, 0x3000), (ssize_t)len);
	expect_mem(got, E.f.ref + 0x800, len, "pwrite_fd");
	/* File -> guest. */
	test_pattern(want, len, 71);
	ck_assert_int_eq(pwrite(mfd, want, len, 0x1000), (ssize_t)len);
	ck_assert_int_eq(vmmem_pread_fd(E.m, GPA_LAZY + 0x30001, mfd, len,
					0x1000), (ssize_t)len);
	expect_lazy(0x30001, want, len);
	/* Plain -> lazy in one call. */
	ck_assert_int_eq(vmmem_pwrite_fd(E.m, GPA_LAZY - 0x1000, mfd, 0x3000, 0),
			 0x3000);
	ck_assert_int_eq(pread(mfd, got, 0x3000, 0), 0x3000);
	expect_mem(got, plain_host() + PLAIN_SIZE - 0x1000, 0x1000, "plain part");
	expect_mem(got + 0x1000, E.f.ref, 0x2000, "lazy part");
	/* Pipes: write_fd and read_fd, across a bucket boundary. */
	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_eq(vmmem_write_fd(E.m, GPA_LAZY + BUCKET - 0x2000, pfd[1],
					0x4000), 0x4000);
	ck_assert_int_eq(read(pfd[0], got, 0x4000), 0x4000);
	expect_mem(got, E.f.ref + BUCKET - 0x2000, 0x4000, "write_fd");
	test_pattern(want, 0x4000, 72);
	ck_assert_int_eq(write(pfd[1], want, 0x4000), 0x4000);
	ck_assert_int_eq(vmmem_read_fd(E.m, GPA_LAZY + 3 * BUCKET - 0x1001,
				       pfd[0], 0x4000), 0x4000);
	expect_lazy(3 * BUCKET - 0x1001, want, 0x4000);
	close(pfd[0]);
	close(pfd[1]);
	ck_assert_uint_eq(cstats().pinned_pages, 0);
	close(mfd);
	free(want);
	free(got);
	env_fini();
}
END_TEST

START_TEST(no_host_address)
{
	struct iovec iov[4];
	void *h = (void *)1;

	env_init(256, 64, false, true);
	ck_assert_int_eq(vmmem_host_address(E.m, GPA_LAZY, 8, &h), -ENXIO);
	ck_assert_int_eq(vmmem_host_address(E.m, GPA_LAZY + 0x12345, 1, &h),
			 -ENXIO);
	ck_assert_ptr_eq(h, (void *)1);
	ck_assert_int_eq(vmmem_iovec(E.m, GPA_LAZY, 0x100, iov, 4), -ENXIO);
	ck_assert_int_eq(vmmem_iovec(E.m, GPA_LAZY, 0x100, NULL, 0), -ENXIO);
	ck_assert_int_eq(vmmem_iovec(E.m, GPA_LAZY - 0x100, 0x200, iov, 4),
			 -ENXIO);
	ck_assert_int_eq(vmmem_region_host_address(E.lazy, &h), -ENXIO);
	ck_assert_ptr_eq(h, (void *)1);
	/* The plain regions still have one. */
	ck_assert_int_eq(vmmem_host_address(E.m, GPA_PLAIN, 8, &h), 0);
	ck_assert_int_eq(vmmem_iovec(E.m, GPA_PLAIN, PLAIN_SIZE, iov, 4), 1);
	/* Nothing was mapped for any of this. */
	ck_assert_uint_eq(E.f.calls, 0);
	/* Other region queries. */
	{
		uint64_t size = 0;

		ck_assert_int_eq(vmmem_region_size(E.lazy, &size), 0);
		ck_assert_uint_eq(size, E.lazy_size);
		ck_assert_int_eq(vmmem_region_fd(E.lazy, NULL), -ENOENT);
		ck_assert_int_eq(vmmem_region_discard(E.lazy, 0, PAGE),
				 -EOPNOTSUPP);
	}
	env_fini();
}
END_TEST

/* The dirty log sees every way of writing into the lazy region, and
 * nothing else. */
START_TEST(dirty_log)
{
	uint64_t bm[4] = { 0 }, want[4] = { 0 };
	uint8_t buf[0x3000];
	uint64_t len, v;
	void *h = NULL;
	int mfd = test_filled_memfd(0x3000, 0x42), pfd[2];

	env_init(256, 32, false, true);
	ck_assert_int_eq(vmmem_dirty_start(E.m, 4096), 0);
	/* Reads of every kind do not dirty. */
	ck_assert_int_eq(vmmem_read_exact(E.m, GPA_LAZY, buf, sizeof(buf)), 0);
	ck_assert_int_eq(vmmem_load(E.m, GPA_LAZY + 9 * PAGE, 8, &v,
				    VMMEM_ORDER_ACQUIRE), 0);
	len = 16;
	ck_assert_int_eq(vmmem_map(E.m, GPA_LAZY + 10 * PAGE, &len,
				   VMMEM_MAP_READ, &h), 0);
	ck_assert_int_eq(vmmem_unmap(E.m, h, 0), 0);
	ck_assert_int_eq(vmmem_pwrite_fd(E.m, GPA_LAZY + 11 * PAGE, mfd, 16, 0),
			 16);
	ck_assert_int_eq(vmmem_dirty_harvest(E.m, GPA_LAZY, 256 * PAGE, bm), 0);
	ck_assert_uint_eq(bm[0] | bm[1] | bm[2] | bm[3], 0);

	/* page 3: write; 5: store; 7-8: fill; 20: copy from plain; 22: copy
	 * from lazy; 30: map with bytes written (31: none written); 40-41:
	 * pread_fd; 50: read_fd; 63-64: a write across a bucket boundary. */
	memset(buf, 1, sizeof(buf));
	ck_assert_int_eq(vmmem_write(E.m, GPA_LAZY + 3 * PAGE + 5, buf, 10), 10);
	ck_assert_int_eq(vmmem_store(E.m, GPA_LAZY + 5 * PAGE + 8, 4, 7,
				     VMMEM_ORDER_RELEASE), 0);
	ck_assert_int_eq(vmmem_fill(E.m, GPA_LAZY + 7 * PAGE + 4000, 0, 200), 0);
	ck_assert_int_eq(vmmem_copy(E.m, GPA_LAZY + 20 * PAGE, GPA_PLAIN, 100),
			 0);
	ck_assert_int_eq(vmmem_copy(E.m, GPA_LAZY + 22 * PAGE + 1,
				    GPA_LAZY + 100 * PAGE, 100), 0);
	len = 100;
	ck_assert_int_eq(vmmem_map(E.m, GPA_LAZY + 30 * PAGE, &len,
				   VMMEM_MAP_WRITE, &h), 0);
	memset(h, 9, 1);
	ck_assert_int_eq(vmmem_unmap(E.m, h, 1), 0);
	len = 100;
	ck_assert_int_eq(vmmem_map(E.m, GPA_LAZY + 31 * PAGE, &len,
				   VMMEM_MAP_WRITE, &h), 0);
	ck_assert_int_eq(vmmem_unmap(E.m, h, 0), 0);
	ck_assert_int_eq(vmmem_pread_fd(E.m, GPA_LAZY + 40 * PAGE + 0x800, mfd,
					0x1000, 0), 0x1000);
	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_eq(write(pfd[1], buf, 64), 64);
	ck_assert_int_eq(vmmem_read_fd(E.m, GPA_LAZY + 50 * PAGE, pfd[0], 64),
			 64);
	close(pfd[0]);
	close(pfd[1]);
	ck_assert_int_eq(vmmem_write(E.m, GPA_LAZY + 64 * PAGE - 2, buf, 4), 4);

	want[0] = 1ull << 3 | 1ull << 5 | 1ull << 7 | 1ull << 8 | 1ull << 20 |
		  1ull << 22 | 1ull << 30 | 1ull << 40 | 1ull << 41 |
		  1ull << 50 | 1ull << 63;
	want[1] = 1ull << 0;
	ck_assert_int_eq(vmmem_dirty_harvest(E.m, GPA_LAZY, 256 * PAGE, bm), 12);
	for (int i = 0; i < 4; i++)
		ck_assert_msg(bm[i] == want[i], "word %d: %#" PRIx64 ", want %#"
			      PRIx64, i, bm[i], want[i]);
	/* Harvested: clean now; the plain region was not touched. */
	ck_assert_int_eq(vmmem_dirty_harvest(E.m, GPA_LAZY, 256 * PAGE, bm), 0);
	ck_assert_int_eq(vmmem_dirty_harvest(E.m, GPA_PLAIN, PLAIN_SIZE, bm), 0);
	/* IOMMU writes log through the same paths (iommu test). */
	ck_assert_int_eq(vmmem_dirty_stop(E.m), 0);
	close(mfd);
	env_fini();
}
END_TEST

/* =========================================================== IOMMU */

START_TEST(iommu)
{
	const uint64_t iova = 0x40000000;
	const size_t len = 2 * BUCKET + 999;
	struct vmmem_iommu *io = NULL;
	uint8_t *want = xmalloc(len), *got = xmalloc(len);
	uint64_t bm[4], v = 0, l;
	void *h = NULL;

	env_init(256, 32, false, true);
	ck_assert_int_eq(vmmem_iommu_new(&io, E.m, NULL), 0);
	/* The lazy region's first half read-write, the second read-only. */
	ck_assert_int_eq(vmmem_iommu_update(io, iova, E.lazy_size / 2, GPA_LAZY,
					    VMMEM_PERM_READ | VMMEM_PERM_WRITE),
			 0);
	ck_assert_int_eq(vmmem_iommu_update(io, iova + E.lazy_size / 2,
					    E.lazy_size / 2,
					    GPA_LAZY + E.lazy_size / 2,
					    VMMEM_PERM_READ), 0);
	ck_assert_int_eq(vmmem_dirty_start(E.m, 4096), 0);

	test_pattern(want, len, 81);
	ck_assert_int_eq(vmmem_iommu_write(io, iova + 0x123, want, len),
			 (ssize_t)len);
	expect_lazy(0x123, want, len);
	memset(got, 0, len);
	ck_assert_int_eq(vmmem_iommu_read(io, iova + 0x123, got, len),
			 (ssize_t)len);
	expect_mem(got, want, len, "iommu_read");
	test_pattern(want, len, 82);
	ck_assert_int_eq(vmmem_iommu_write_exact(io, iova + 4 * BUCKET - 7, want,
						 len), 0);
	expect_lazy(4 * BUCKET - 7, want, len);
	ck_assert_int_eq(vmmem_iommu_read_exact(io, iova + 4 * BUCKET - 7, got,
						len), 0);
	expect_mem(got, want, len, "iommu_read_exact");
	/* Across the two entries: the read goes on, the write stops. */
	ck_assert_int_eq(vmmem_iommu_read_exact(io, iova + E.lazy_size / 2 - 8,
						got, 16), 0);
	expect_mem(got, E.f.ref + E.lazy_size / 2 - 8, 16, "across entries");
	ck_assert_int_eq(vmmem_iommu_write(io, iova + E.lazy_size / 2 - 8, want,
					   16), 8);
	ck_assert_int_eq(vmmem_iommu_write_exact(io, iova + E.lazy_size / 2 - 8,
						 want, 16), -EACCES);
	/* Loads, stores, fill, map. */
	ck_assert_int_eq(vmmem_iommu_store(io, iova + BUCKET - 8, 8,
					   0x0102030405060708ull,
					   VMMEM_ORDER_SEQ_CST), 0);
	ck_assert_int_eq(vmmem_iommu_load(io, iova + BUCKET - 8, 8, &v,
					  VMMEM_ORDER_ACQUIRE), 0);
	ck_assert_uint_eq(v, 0x0102030405060708ull);
	ck_assert_int_eq(memcmp(E.f.ref + BUCKET - 8, &v, 8), 0);
	ck_assert_int_eq(vmmem_iommu_fill(io, iova + 9 * PAGE, 0xee, 3 * PAGE),
			 0);
	ck_assert(test_all_bytes(E.f.ref + 9 * PAGE, 0xee, 3 * PAGE));
	l = 2 * BUCKET;
	ck_assert_int_eq(vmmem_iommu_map(io, iova + 0x100, &l,
					 VMMEM_MAP_WRITE, &h), 0);
	ck_assert_uint_eq(l, BUCKET - 0x100);
	memset(h, 0x3d, 16);
	ck_assert(test_all_bytes(E.f.ref + 0x100, 0x3d, 16));
	ck_assert_int_eq(vmmem_iommu_unmap(io, h, 16), 0);
	ck_assert_int_eq(vmmem_iommu_store(io, iova + E.lazy_size / 2, 4, 1,
					   VMMEM_ORDER_RELAXED), -EACCES);
	/* Written pages are logged: 0-32 (write), 63-96 (write_exact), 127
	 * (the write across entries), 15 (store), 9-11 (fill), 0 (map). */
	{
		uint64_t want_bm[4] = { 0 };

		for (uint64_t p = 0; p <= 32; p++)
			want_bm[p / 64] |= 1ull << (p % 64);
		for (uint64_t p = 63; p <= 96; p++)
			want_bm[p / 64] |= 1ull << (p % 64);
		want_bm[127 / 64] |= 1ull << (127 % 64);
		ck_assert_int_eq(vmmem_dirty_harvest(E.m, GPA_LAZY, 256 * PAGE,
						     bm), 33 + 34 + 1);
		for (int i = 0; i < 4; i++)
			ck_assert_msg(bm[i] == want_bm[i], "word %d: %#" PRIx64
				      ", want %#" PRIx64, i, bm[i], want_bm[i]);
	}
	vmmem_iommu_free(io);
	free(want);
	free(got);
	env_fini();
}
END_TEST

/* An exact IOVA write or fill across two IOTLB entries, the second
 * backed by a read-only region: refused before a byte moves, the first
 * entry's memory included (found by the fuzzer: the check of a range over
 * several entries did not ask for write permission). */
START_TEST(iommu_exact_into_readonly)
{
	const uint64_t iova = 0x40000000;
	struct vmmem_iommu *io = NULL;
	uint8_t buf[512], *before = xmalloc(PAGE);

	env_init(64, 32, true, true);
	memcpy(before, plain_host() + PLAIN_SIZE - PAGE, PAGE);
	ck_assert_int_eq(vmmem_iommu_new(&io, E.m, NULL), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, iova, PAGE,
					    GPA_PLAIN + PLAIN_SIZE - PAGE,
					    VMMEM_PERM_READ | VMMEM_PERM_WRITE),
			 0);
	ck_assert_int_eq(vmmem_iommu_update(io, iova + PAGE, PAGE, GPA_LAZY,
					    VMMEM_PERM_READ | VMMEM_PERM_WRITE),
			 0);
	memset(buf, 0x77, sizeof(buf));
	ck_assert_int_eq(vmmem_iommu_write_exact(io, iova + PAGE - 256, buf,
						 sizeof(buf)), -EACCES);
	ck_assert_int_eq(vmmem_iommu_fill(io, iova + PAGE - 256, 0x77, 512),
			 -EACCES);
	expect_mem(plain_host() + PLAIN_SIZE - PAGE, before, PAGE,
		   "plain memory before the read-only region");
	/* Reads across both entries work. */
	ck_assert_int_eq(vmmem_iommu_read_exact(io, iova + PAGE - 256, buf,
						sizeof(buf)), 0);
	expect_mem(buf, before + PAGE - 256, 256, "read, plain part");
	expect_mem(buf + 256, E.f.ref, 256, "read, read-only part");
	vmmem_iommu_free(io);
	free(before);
	env_fini();
}
END_TEST

/* ============================================ transient (the default) */

/* Since `before`, exactly `calls` map calls, each unmapped again, and the
 * last one of pages [first, first + count): nothing stays mapped, nothing
 * around the access was mapped. */
static void expect_transient(unsigned long before, unsigned long calls,
			     uint64_t first, size_t count, const char *what)
{
	struct vmmem_xen_cache_stats st = cstats();

	ck_assert_msg(E.f.nlive == 0, "%s: %zu mapping(s) left", what,
		      E.f.nlive);
	ck_assert_msg(E.f.calls - before == calls, "%s: %lu map calls, want "
		      "%lu", what, E.f.calls - before, calls);
	ck_assert_uint_eq(E.f.unmaps, E.f.calls - E.f.failures);
	ck_assert_msg(E.f.last_first == first && E.f.last_count == count,
		      "%s: last map of pages %" PRIu64 "+%zu, want %" PRIu64
		      "+%zu", what, E.f.last_first, E.f.last_count, first,
		      count);
	ck_assert_uint_eq(st.mapped_pages, 0);
	ck_assert_uint_eq(st.pinned_pages, 0);
	ck_assert_uint_eq(st.hits, 0);
}

/* Every access path maps the pages it touches, all in one call when they
 * fit in a batch, and unmaps them before it returns. */
START_TEST(transient_paths)
{
	const size_t big = 64 * KIB;
	uint8_t *want = xmalloc(big), *got = xmalloc(big);
	struct vmmem_iommu *io = NULL;
	unsigned long c;
	uint64_t v = 0;
	int mfd = memfd_create("vmmem-lazy-file", MFD_CLOEXEC);

	ck_assert_int_ge(mfd, 0);
	env_init_mode(512, false, 0, false, true);
	/* 4 KiB, page aligned: one page, one call. */
	test_pattern(want, big, 90);
	c = E.f.calls;
	ck_assert_int_eq(vmmem_write(E.m, GPA_LAZY + 5 * PAGE, want, PAGE),
			 (ssize_t)PAGE);
	expect_transient(c, 1, 5, 1, "4 KiB write");
	ck_assert(E.f.last_writable);
	expect_lazy(5 * PAGE, want, PAGE);
	c = E.f.calls;
	ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY + 5 * PAGE, got, PAGE),
			 (ssize_t)PAGE);
	expect_transient(c, 1, 5, 1, "4 KiB read");
	ck_assert(!E.f.last_writable);
	expect_mem(got, want, PAGE, "4 KiB read");
	/* 64 KiB unaligned: 17 pages, one call, across a bucket boundary. */
	c = E.f.calls;
	ck_assert_int_eq(vmmem_write_exact(E.m, GPA_LAZY + BUCKET - 0x800,
					   want, big), 0);
	expect_transient(c, 1, BPAGES - 1, 17, "64 KiB write_exact");
	expect_lazy(BUCKET - 0x800, want, big);
	c = E.f.calls;
	ck_assert_int_eq(vmmem_read_exact(E.m, GPA_LAZY + BUCKET - 0x800, got,
					  big), 0);
	expect_transient(c, 1, BPAGES - 1, 17, "64 KiB read_exact");
	expect_mem(got, want, big, "64 KiB read_exact");
	/* 8 bytes across a page boundary: both pages, nothing more. */
	c = E.f.calls;
	ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY + 3 * PAGE - 4, &v, 8), 8);
	expect_transient(c, 1, 2, 2, "read across pages");
	/* Atomics. */
	c = E.f.calls;
	ck_assert_int_eq(vmmem_store(E.m, GPA_LAZY + 7 * PAGE + 8, 8,
				     0x1122334455667788ull,
				     VMMEM_ORDER_RELEASE), 0);
	expect_transient(c, 1, 7, 1, "store");
	v = 0;
	ck_assert_int_eq(vmmem_load(E.m, GPA_LAZY + 7 * PAGE + 8, 8, &v,
				    VMMEM_ORDER_ACQUIRE), 0);
	ck_assert_uint_eq(v, 0x1122334455667788ull);
	expect_transient(c, 2, 7, 1, "load");
	/* Fill, three pages from the middle of one. */
	c = E.f.calls;
	ck_assert_int_eq(vmmem_fill(E.m, GPA_LAZY + 20 * PAGE + 100, 0x5a,
				    2 * PAGE), 0);
	expect_transient(c, 1, 20, 3, "fill");
	ck_assert(test_all_bytes(E.f.ref + 20 * PAGE + 100, 0x5a, 2 * PAGE));
	/* Copy lazy -> lazy (through a bounce buffer, a page at a time) and
	 * plain -> lazy. */
	c = E.f.calls;
	ck_assert_int_eq(vmmem_copy(E.m, GPA_LAZY + 40 * PAGE,
				    GPA_LAZY + BUCKET - 0x800, 2 * PAGE), 0);
	expect_mem(E.f.ref + 40 * PAGE, want, 2 * PAGE, "copy");
	expect_transient(c, 4, 41, 1, "copy lazy to lazy");
	c = E.f.calls;
	ck_assert_int_eq(vmmem_copy(E.m, GPA_LAZY + 50 * PAGE, GPA_PLAIN, 100),
			 0);
	expect_mem(E.f.ref + 50 * PAGE, plain_host(), 100, "copy from plain");
	expect_transient(c, 1, 50, 1, "copy plain to lazy");
	/* fd I/O: 64 KiB unaligned in one call each way. */
	c = E.f.calls;
	ck_assert_int_eq(vmmem_pwrite_fd(E.m, GPA_LAZY + BUCKET - 0x800, mfd,
					 big, 0), (ssize_t)big);
	expect_transient(c, 1, BPAGES - 1, 17, "pwrite_fd");
	ck_assert_int_eq(pread(mfd, got, big, 0), (ssize_t)big);
	expect_mem(got, E.f.ref + BUCKET - 0x800, big, "pwrite_fd");
	test_pattern(want, big, 91);
	ck_assert_int_eq(pwrite(mfd, want, big, 0), (ssize_t)big);
	c = E.f.calls;
	ck_assert_int_eq(vmmem_pread_fd(E.m, GPA_LAZY + 100 * PAGE, mfd, big,
					0), (ssize_t)big);
	expect_transient(c, 1, 100, 16, "pread_fd");
	expect_lazy(100 * PAGE, want, big);
	/* IOVA. */
	ck_assert_int_eq(vmmem_iommu_new(&io, E.m, NULL), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x40000000, E.lazy_size,
					    GPA_LAZY, VMMEM_PERM_READ |
					    VMMEM_PERM_WRITE), 0);
	c = E.f.calls;
	ck_assert_int_eq(vmmem_iommu_write(io, 0x40000000 + 200 * PAGE, want,
					   big), (ssize_t)big);
	expect_transient(c, 1, 200, 16, "iommu_write");
	expect_lazy(200 * PAGE, want, big);
	c = E.f.calls;
	ck_assert_int_eq(vmmem_iommu_read_exact(io, 0x40000000 + 200 * PAGE + 1,
						got, PAGE), 0);
	expect_transient(c, 1, 200, 2, "iommu_read_exact");
	expect_mem(got, want + 1, PAGE, "iommu_read_exact");
	vmmem_iommu_free(io);
	/* More than a batch: one call per MAPCACHE_BATCH_PAGES pages. */
	{
		size_t n = (MAPCACHE_BATCH_PAGES + 10) * PAGE;
		uint8_t *b = xmalloc(n);

		c = E.f.calls;
		ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY, b, n), (ssize_t)n);
		expect_transient(c, 2, MAPCACHE_BATCH_PAGES, 10, "over a batch");
		expect_mem(b, E.f.ref, n, "over a batch");
		free(b);
	}
	close(mfd);
	free(want);
	free(got);
	env_fini();
}
END_TEST

/* vmmem_map() pins exactly its pages until vmmem_unmap(); two pins of one
 * page are two mappings, each ended by its own unmap. */
START_TEST(transient_map)
{
	struct vmmem_xen_cache_stats st;
	struct live l1, l2;
	uint64_t len;
	void *h1 = NULL, *h2 = NULL;

	env_init_mode(512, false, 0, false, true);
	len = 3 * PAGE;
	ck_assert_int_eq(vmmem_map(E.m, GPA_LAZY + 10 * PAGE + 0x10, &len,
				   VMMEM_MAP_WRITE, &h1), 0);
	ck_assert_uint_eq(len, 3 * PAGE);
	ck_assert_uint_eq(E.f.nlive, 1);
	ck_assert(fake_holding(&E.f, h1, &l1));
	ck_assert_uint_eq(l1.first, 10);
	ck_assert_uint_eq(l1.count, 4);
	st = cstats();
	ck_assert_uint_eq(st.mapped_pages, 4);
	ck_assert_uint_eq(st.pinned_pages, 4);
	memset(h1, 0x6b, 3 * PAGE);
	ck_assert(test_all_bytes(E.f.ref + 10 * PAGE + 0x10, 0x6b, 3 * PAGE));
	/* The same page again, read-only: a mapping of its own. */
	len = 8;
	ck_assert_int_eq(vmmem_map(E.m, GPA_LAZY + 11 * PAGE, &len,
				   VMMEM_MAP_READ, &h2), 0);
	ck_assert_uint_eq(E.f.nlive, 2);
	ck_assert(fake_holding(&E.f, h2, &l2));
	ck_assert_uint_eq(l2.first, 11);
	ck_assert_uint_eq(l2.count, 1);
	ck_assert_int_eq(vmmem_unmap(E.m, h1, 3 * PAGE), 0);
	ck_assert(!fake_live(&E.f, &l1));
	ck_assert(fake_live(&E.f, &l2));
	ck_assert_int_eq(vmmem_unmap(E.m, h2, 0), 0);
	ck_assert_uint_eq(E.f.nlive, 0);
	st = cstats();
	ck_assert_uint_eq(st.mapped_pages, 0);
	ck_assert_uint_eq(st.pinned_pages, 0);
	/* Longer than a batch: shortened to one. */
	len = 2 * MAPCACHE_BATCH_PAGES * PAGE;
	ck_assert_int_eq(vmmem_map(E.m, GPA_LAZY + 0x100, &len,
				   VMMEM_MAP_READ, &h1), 0);
	ck_assert_uint_eq(len, MAPCACHE_BATCH_PAGES * PAGE - 0x100);
	ck_assert_uint_eq(E.f.last_count, MAPCACHE_BATCH_PAGES);
	ck_assert_int_eq(vmmem_unmap(E.m, h1, 0), 0);
	/* Invalidation has nothing to drop, and a pin outlives it. */
	len = 8;
	ck_assert_int_eq(vmmem_map(E.m, GPA_LAZY, &len, VMMEM_MAP_READ, &h1),
			 0);
	mapcache_invalidate(E.lazy->cache);
	ck_assert_uint_eq(E.f.nlive, 1);
	ck_assert_uint_eq(cstats().invalidated, 0);
	ck_assert_int_eq(vmmem_unmap(E.m, h1, 0), 0);
	ck_assert_uint_eq(E.f.nlive, 0);
	env_fini();
}
END_TEST

/* An exact write, a fill and an exact read of [off, off + len) of the lazy
 * region, over a page the guest did not grant: each fails with the map
 * call's error and touches neither guest memory nor the buffer. */
static void expect_exact_refused(uint64_t off, size_t len)
{
	uint8_t *want = xmalloc(len), *got = xmalloc(len), *orig = xmalloc(len);

	memcpy(orig, E.f.ref + off, len);
	test_pattern(want, len, 93);
	ck_assert_int_eq(vmmem_write_exact(E.m, GPA_LAZY + off, want, len),
			 -EINVAL);
	expect_lazy(off, orig, len);
	ck_assert_int_eq(vmmem_fill(E.m, GPA_LAZY + off, 0xa5, len), -EINVAL);
	expect_lazy(off, orig, len);
	memset(got, 0x77, len);
	ck_assert_int_eq(vmmem_read_exact(E.m, GPA_LAZY + off, got, len),
			 -EINVAL);
	ck_assert(test_all_bytes(got, 0x77, len));
	ck_assert_uint_eq(cstats().pinned_pages, 0);
	free(want);
	free(got);
	free(orig);
}

/* A page the guest did not grant in the middle of an exact transfer, with
 * the cache (pieces of one bucket each) or without (one batch); a partial
 * write goes as far as the grant. */
START_TEST(exact_unmappable)
{
	const size_t len = 3 * BUCKET;
	uint8_t *want = xmalloc(len);
	bool cache = _i == 0;

	env_init_mode(256, cache, 64, false, false);
	E.f.not_granted[2 * BPAGES + 3] = true;
	expect_exact_refused(0x800, len);
	test_pattern(want, len, 94);
	ck_assert_int_eq(vmmem_write(E.m, GPA_LAZY + 0x800, want, len),
			 (ssize_t)((2 * BPAGES + 3) * PAGE - 0x800));
	expect_lazy(0x800, want, (2 * BPAGES + 3) * PAGE - 0x800);
	ck_assert_uint_eq(cstats().pinned_pages, 0);
	free(want);
	env_fini();
}
END_TEST

/* The same with the page the guest did not grant far into the range, but
 * inside the 64 pieces an exact transfer maps first (the default: 100 pages
 * of one batch; the cache: 60 buckets).  Mapping what comes before it page
 * by page, as a partial access does, would take more than 64 pieces and
 * leave the first ones written. */
START_TEST(exact_unmappable_far)
{
	bool cache = _i == 0;

	env_init_mode(cache ? 1024 : 256, cache, 64, false, false);
	E.f.not_granted[cache ? 59 * BPAGES + 15 : 90] = true;
	expect_exact_refused(0x800, cache ? 60 * BUCKET : 100 * PAGE);
	env_fini();
}
END_TEST

/* ================================================ cache behaviour */

START_TEST(cache_hits)
{
	struct vmmem_xen_cache_stats st;
	uint64_t v;
	uint8_t b[16];

	env_init(40, 64, false, false);   /* buckets of 16, 16 and 8 pages */
	ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY + 2 * PAGE + 8, &v, 8), 8);
	st = cstats();
	ck_assert_uint_eq(st.misses, 1);
	ck_assert_uint_eq(st.hits, 0);
	ck_assert_uint_eq(st.map_calls, 1);
	ck_assert_uint_eq(st.mapped_pages, BPAGES);
	ck_assert_uint_eq(st.pinned_pages, 0);
	/* The whole bucket, read-only. */
	ck_assert_uint_eq(E.f.calls, 1);
	ck_assert_uint_eq(E.f.last_first, 0);
	ck_assert_uint_eq(E.f.last_count, BPAGES);
	ck_assert(!E.f.last_writable);
	/* The same page again, then another page of the bucket: hits. */
	ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY + 2 * PAGE + 8, &v, 8), 8);
	ck_assert_int_eq(vmmem_load(E.m, GPA_LAZY + 15 * PAGE, 4, &v,
				    VMMEM_ORDER_RELAXED), 0);
	ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY + 9 * PAGE - 8, b, 16), 16);
	st = cstats();
	ck_assert_uint_eq(st.hits, 3);
	ck_assert_uint_eq(st.misses, 1);
	ck_assert_uint_eq(st.map_calls, 1);
	ck_assert_uint_eq(E.f.calls, 1);
	/* The next bucket: a miss, one map call; the short last one. */
	ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY + 16 * PAGE, b, 1), 1);
	ck_assert_uint_eq(E.f.last_first, 16);
	ck_assert_uint_eq(E.f.last_count, BPAGES);
	ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY + 39 * PAGE, b, 16), 16);
	ck_assert_uint_eq(E.f.last_first, 32);
	ck_assert_uint_eq(E.f.last_count, 8);
	st = cstats();
	ck_assert_uint_eq(st.misses, 3);
	ck_assert_uint_eq(st.map_calls, 3);
	ck_assert_uint_eq(st.map_failures, 0);
	ck_assert_uint_eq(st.mapped_pages, 40);
	ck_assert_uint_eq(st.evictions, 0);
	ck_assert_uint_eq(E.f.nlive, 3);
	/* One access across two buckets: two pins, both hits. */
	ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY + 16 * PAGE - 8, b, 16), 16);
	st = cstats();
	ck_assert_uint_eq(st.hits, 5);
	ck_assert_uint_eq(st.misses, 3);
	env_fini();
}
END_TEST

/* A bucket with a page the guest did not grant: the whole-bucket map
 * fails and the pages of the access are mapped alone. */
START_TEST(cache_fallback)
{
	struct vmmem_xen_cache_stats st;
	uint8_t b[2 * PAGE], orig[PAGE];
	void *h = NULL;
	uint64_t len, v = 0;
	int pfd[2];

	env_init(64, 64, false, false);
	E.f.not_granted[5] = true;
	ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY + 3 * PAGE, b, 64), 64);
	expect_mem(b, E.f.ref + 3 * PAGE, 64, "fallback read");
	st = cstats();
	ck_assert_uint_eq(st.misses, 1);
	ck_assert_uint_eq(st.map_calls, 2);
	ck_assert_uint_eq(st.map_failures, 1);
	ck_assert_uint_eq(st.mapped_pages, 1);
	ck_assert_uint_eq(E.f.last_first, 3);
	ck_assert_uint_eq(E.f.last_count, 1);
	/* The page again: a hit on the one-page entry. */
	ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY + 3 * PAGE + 100, b, 8), 8);
	ck_assert_uint_eq(cstats().hits, 1);
	ck_assert_uint_eq(cstats().map_calls, 2);
	/* Two pages of the bucket in one access: one entry of two. */
	ck_assert_int_eq(vmmem_write(E.m, GPA_LAZY + 7 * PAGE - 4, b, 8), 8);
	ck_assert_uint_eq(E.f.last_first, 6);
	ck_assert_uint_eq(E.f.last_count, 2);
	ck_assert(E.f.last_writable);

	/* The page itself: the mapper's error. */
	ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY + 5 * PAGE, b, 8), -EINVAL);
	ck_assert_int_eq(vmmem_read_exact(E.m, GPA_LAZY + 5 * PAGE, b, 8),
			 -EINVAL);
	ck_assert_int_eq(vmmem_write(E.m, GPA_LAZY + 5 * PAGE, b, 8), -EINVAL);
	ck_assert_int_eq(vmmem_load(E.m, GPA_LAZY + 5 * PAGE, 8, &v,
				    VMMEM_ORDER_RELAXED), -EINVAL);
	ck_assert_int_eq(vmmem_store(E.m, GPA_LAZY + 5 * PAGE, 8, v,
				     VMMEM_ORDER_RELAXED), -EINVAL);
	ck_assert_int_eq(vmmem_fill(E.m, GPA_LAZY + 5 * PAGE, 0, 8), -EINVAL);
	len = 8;
	ck_assert_int_eq(vmmem_map(E.m, GPA_LAZY + 5 * PAGE, &len,
				   VMMEM_MAP_READ, &h), -EINVAL);
	/* Two pages of which the second is not granted, in one bucket: the
	 * first page alone is still transferred. */
	ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY + 4 * PAGE + 8, b, 2 * PAGE),
			 (ssize_t)PAGE - 8);
	expect_mem(b, E.f.ref + 4 * PAGE + 8, PAGE - 8, "partial in a bucket");
	ck_assert_int_eq(vmmem_read_exact(E.m, GPA_LAZY + 4 * PAGE, b,
					  2 * PAGE), -EINVAL);

	/* The first page of the next bucket not granted: an access from
	 * the end of bucket 0 on transfers bucket 0's part and stops. */
	E.f.not_granted[16] = true;
	memcpy(orig, E.f.ref + 16 * PAGE, PAGE);
	ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY + 15 * PAGE, b, 2 * PAGE),
			 (ssize_t)PAGE);
	expect_mem(b, E.f.ref + 15 * PAGE, PAGE, "partial read");
	ck_assert_int_eq(vmmem_read_exact(E.m, GPA_LAZY + 15 * PAGE, b,
					  2 * PAGE), -EINVAL);
	test_pattern(b, sizeof(b), 91);
	ck_assert_int_eq(vmmem_write(E.m, GPA_LAZY + 15 * PAGE, b, 2 * PAGE),
			 (ssize_t)PAGE);
	expect_lazy(15 * PAGE, b, PAGE);
	expect_lazy(16 * PAGE, orig, PAGE);
	ck_assert_int_eq(vmmem_write_exact(E.m, GPA_LAZY + 15 * PAGE, b,
					   2 * PAGE), -EINVAL);
	ck_assert_int_eq(vmmem_fill(E.m, GPA_LAZY + 15 * PAGE, 0, 2 * PAGE),
			 -EINVAL);
	ck_assert_int_eq(vmmem_copy(E.m, GPA_LAZY + 30 * PAGE,
				    GPA_LAZY + 15 * PAGE, 2 * PAGE), -EINVAL);
	ck_assert_int_eq(vmmem_copy(E.m, GPA_LAZY + 15 * PAGE,
				    GPA_LAZY + 30 * PAGE, 2 * PAGE), -EINVAL);
	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_eq(vmmem_write_fd(E.m, GPA_LAZY + 15 * PAGE, pfd[1],
					2 * PAGE), (ssize_t)PAGE);
	ck_assert_int_eq(read(pfd[0], b, 2 * PAGE), (ssize_t)PAGE);
	ck_assert_int_eq(vmmem_write_fd(E.m, GPA_LAZY + 16 * PAGE, pfd[1],
					PAGE), -EINVAL);
	close(pfd[0]);
	close(pfd[1]);
	/* The rest of bucket 1 is reachable page by page. */
	ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY + 17 * PAGE, b, PAGE),
			 (ssize_t)PAGE);
	expect_mem(b, E.f.ref + 17 * PAGE, PAGE, "page 17");
	ck_assert_uint_eq(cstats().pinned_pages, 0);
	env_fini();
}
END_TEST

START_TEST(cache_eviction)
{
	struct vmmem_xen_cache_stats st;
	uint8_t b[64];

	env_init(256, 32, false, false);
	for (int round = 0; round < 3; round++)
		for (uint64_t k = 0; k < 16; k++) {
			uint64_t gpa = GPA_LAZY + k * BUCKET + (k * 777) % BUCKET;

			ck_assert_int_eq(vmmem_read(E.m, gpa, b, 8), 8);
			expect_mem(b, E.f.ref + (gpa - GPA_LAZY), 8, "evicting");
			ck_assert_int_eq(vmmem_write(E.m, gpa + 8, b, 8), 8);
			st = cstats();
			ck_assert_uint_le(st.mapped_pages, 32);
			ck_assert_uint_eq(st.pinned_pages, 0);
			ck_assert_uint_le(E.f.nlive, 2);
		}
	st = cstats();
	ck_assert_uint_gt(st.evictions, 0);
	/* Everything mapped was unmapped but what is still cached. */
	ck_assert_uint_eq(st.map_calls - st.map_failures - st.evictions,
			  E.f.nlive);
	ck_assert_uint_eq(E.f.unmaps, st.evictions);
	/* A transfer larger than the bound: pinned a piece at a time. */
	{
		uint8_t *big = xmalloc(E.lazy_size);

		ck_assert_int_eq(vmmem_read_exact(E.m, GPA_LAZY, big,
						  E.lazy_size), 0);
		expect_mem(big, E.f.ref, E.lazy_size, "whole region");
		ck_assert_uint_le(cstats().mapped_pages, 32);
		free(big);
	}
	env_fini();
}
END_TEST

/* Least recently used goes first: A, B, A, then C forces one eviction,
 * which must take B. */
START_TEST(cache_lru)
{
	struct vmmem_xen_cache_stats st;
	struct live la, lb;
	uint64_t v;
	const uint64_t A = GPA_LAZY, B = GPA_LAZY + BUCKET,
		       C = GPA_LAZY + 2 * BUCKET;
	void *h = NULL;
	uint64_t len;

	env_init(64, 32, false, false);
	ck_assert_int_eq(vmmem_read(E.m, A, &v, 8), 8);
	ck_assert_int_eq(vmmem_read(E.m, B, &v, 8), 8);
	ck_assert_int_eq(vmmem_read(E.m, A + 8, &v, 8), 8);
	st = cstats();
	ck_assert_uint_eq(st.hits, 1);
	ck_assert_uint_eq(st.misses, 2);
	ck_assert_uint_eq(st.mapped_pages, 32);
	ck_assert_uint_eq(st.evictions, 0);
	/* Where A and B are mapped (through a pin each, let go at once). */
	len = 8;
	ck_assert_int_eq(vmmem_map(E.m, A, &len, VMMEM_MAP_READ, &h), 0);
	ck_assert(fake_holding(&E.f, h, &la));
	ck_assert_int_eq(vmmem_unmap(E.m, h, 0), 0);
	len = 8;
	ck_assert_int_eq(vmmem_map(E.m, B, &len, VMMEM_MAP_READ, &h), 0);
	ck_assert(fake_holding(&E.f, h, &lb));
	ck_assert_int_eq(vmmem_unmap(E.m, h, 0), 0);
	/* The maps above were hits: B is now the most recent.  Use A
	 * again so that B is the least recently used. */
	ck_assert_int_eq(vmmem_read(E.m, A, &v, 8), 8);
	st = cstats();
	ck_assert_uint_eq(st.hits, 4);
	ck_assert_uint_eq(st.misses, 2);

	ck_assert_int_eq(vmmem_read(E.m, C, &v, 8), 8);
	st = cstats();
	ck_assert_uint_eq(st.misses, 3);
	ck_assert_uint_eq(st.evictions, 1);
	ck_assert_uint_eq(st.mapped_pages, 32);
	ck_assert(fake_live(&E.f, &la));
	ck_assert(!fake_live(&E.f, &lb));
	/* A is still cached, B is not. */
	ck_assert_int_eq(vmmem_read(E.m, A, &v, 8), 8);
	st = cstats();
	ck_assert_uint_eq(st.hits, 5);
	ck_assert_uint_eq(st.misses, 3);
	ck_assert_int_eq(vmmem_read(E.m, B, &v, 8), 8);
	st = cstats();
	ck_assert_uint_eq(st.hits, 5);
	ck_assert_uint_eq(st.misses, 4);
	ck_assert_uint_eq(st.evictions, 2);      /* C went, A stays */
	ck_assert(fake_live(&E.f, &la));
	env_fini();
}
END_TEST

/* An entry pinned by vmmem_map() stays through any eviction pressure and
 * goes like any other once unmapped. */
START_TEST(cache_pinned)
{
	struct vmmem_xen_cache_stats st;
	struct live lp;
	uint8_t b[64];
	uint64_t len = 0x100;
	uint8_t *h = NULL;

	env_init(256, 32, false, false);
	ck_assert_int_eq(vmmem_map(E.m, GPA_LAZY + PAGE + 0x10, &len,
				   VMMEM_MAP_READ | VMMEM_MAP_WRITE,
				   (void **)&h), 0);
	ck_assert(fake_holding(&E.f, h, &lp));
	ck_assert_uint_eq(lp.first, 0);
	ck_assert_uint_eq(lp.count, BPAGES);
	for (int round = 0; round < 2; round++)
		for (uint64_t k = 1; k < 16; k++) {
			ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY + k * BUCKET +
						    round * PAGE, b, 64), 64);
			st = cstats();
			ck_assert_uint_eq(st.pinned_pages, BPAGES);
			ck_assert_uint_le(st.mapped_pages, 32 + BPAGES);
		}
	st = cstats();
	ck_assert_uint_gt(st.evictions, 20);
	ck_assert(fake_live(&E.f, &lp));
	/* Coherent both ways. */
	memset(h, 0x6b, 0x100);
	ck_assert(test_all_bytes(E.f.ref + PAGE + 0x10, 0x6b, 0x100));
	E.f.ref[PAGE + 0x20] = 0x01;
	ck_assert_uint_eq(h[0x10], 0x01);
	ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY + PAGE + 0x10, b, 64), 64);
	expect_mem(b, h, 64, "read of the pinned page");
	/* That read was a hit on the pinned entry. */
	ck_assert(fake_live(&E.f, &lp));
	ck_assert_uint_eq(cstats().map_calls, st.map_calls);

	ck_assert_int_eq(vmmem_unmap(E.m, h, 0x100), 0);
	st = cstats();
	ck_assert_uint_eq(st.pinned_pages, 0);
	ck_assert_uint_le(st.mapped_pages, 32);
	for (uint64_t k = 1; k < 4; k++)
		ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY + k * BUCKET, b, 8), 8);
	ck_assert(!fake_live(&E.f, &lp));
	/* More pinned than the bound: let go, the excess goes at once. */
	{
		void *hs[4];

		for (uint64_t k = 0; k < 4; k++) {
			len = 8;
			ck_assert_int_eq(vmmem_map(E.m, GPA_LAZY + (8 + k) * BUCKET,
						   &len, VMMEM_MAP_READ, &hs[k]),
					 0);
		}
		st = cstats();
		ck_assert_uint_eq(st.pinned_pages, 4 * BPAGES);
		ck_assert_uint_eq(st.mapped_pages, 4 * BPAGES);
		for (int k = 0; k < 4; k++)
			ck_assert_int_eq(vmmem_unmap(E.m, hs[k], 0), 0);
		st = cstats();
		ck_assert_uint_eq(st.pinned_pages, 0);
		ck_assert_uint_le(st.mapped_pages, 32);
		ck_assert_uint_le(E.f.nlive, 2);
	}
	env_fini();
}
END_TEST

/* Reads take read-only entries, writes need read-write ones. */
START_TEST(cache_ro_rw)
{
	struct vmmem_xen_cache_stats st;
	struct live l;
	uint8_t b[16];
	void *hr = NULL, *hw = NULL;
	char perms[5];
	uint64_t len, v;

	env_init(64, 64, false, false);
	ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY + 3 * PAGE, b, 16), 16);
	ck_assert(!E.f.last_writable);
	ck_assert_uint_eq(E.f.writable_calls, 0);
	ck_assert_int_eq(vmmem_write(E.m, GPA_LAZY + 3 * PAGE, b, 16), 16);
	st = cstats();
	ck_assert_uint_eq(st.misses, 2);
	ck_assert_uint_eq(st.map_calls, 2);
	ck_assert(E.f.last_writable);
	ck_assert_uint_eq(E.f.writable_calls, 1);
	/* Another write, and a read: the read-write entry serves both. */
	ck_assert_int_eq(vmmem_store(E.m, GPA_LAZY + 4 * PAGE, 8, 5,
				     VMMEM_ORDER_RELAXED), 0);
	ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY + 4 * PAGE, &v, 8), 8);
	ck_assert_uint_eq(v, 5);
	st = cstats();
	ck_assert_uint_eq(st.map_calls, 2);
	ck_assert_uint_eq(st.hits, 2);

	/* The memory of a read-only entry is PROT_READ. */
	len = 16;
	ck_assert_int_eq(vmmem_map(E.m, GPA_LAZY + BUCKET, &len, VMMEM_MAP_READ,
				   &hr), 0);
	ck_assert(fake_holding(&E.f, hr, &l));
	ck_assert(!l.writable);
	test_maps_perms(hr, perms);
	ck_assert_str_eq(perms, "r--s");
	len = 16;
	ck_assert_int_eq(vmmem_map(E.m, GPA_LAZY + BUCKET, &len,
				   VMMEM_MAP_WRITE, &hw), 0);
	ck_assert_ptr_ne(hr, hw);
	ck_assert(fake_holding(&E.f, hw, &l));
	ck_assert(l.writable);
	test_maps_perms(hw, perms);
	ck_assert_str_eq(perms, "rw-s");
	/* The two views are of the same page. */
	*(volatile uint8_t *)hw = 0x99;
	ck_assert_uint_eq(*(volatile uint8_t *)hr, 0x99);
	ck_assert_uint_eq(E.f.ref[BUCKET], 0x99);
	ck_assert_int_eq(vmmem_unmap(E.m, hr, 0), 0);
	ck_assert_int_eq(vmmem_unmap(E.m, hw, 1), 0);

	/* A page granted read-only: read fine, writes get the mapper's
	 * -EPERM; its neighbours can still be written. */
	E.f.ro_granted[40] = true;
	ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY + 40 * PAGE, b, 16), 16);
	expect_mem(b, E.f.ref + 40 * PAGE, 16, "read-only granted page");
	ck_assert_int_eq(vmmem_write(E.m, GPA_LAZY + 40 * PAGE, b, 16), -EPERM);
	ck_assert_int_eq(vmmem_write_exact(E.m, GPA_LAZY + 40 * PAGE, b, 16),
			 -EPERM);
	ck_assert_int_eq(vmmem_store(E.m, GPA_LAZY + 40 * PAGE, 4, 1,
				     VMMEM_ORDER_RELAXED), -EPERM);
	ck_assert_int_eq(vmmem_fill(E.m, GPA_LAZY + 40 * PAGE, 0, 1), -EPERM);
	len = 16;
	ck_assert_int_eq(vmmem_map(E.m, GPA_LAZY + 40 * PAGE, &len,
				   VMMEM_MAP_WRITE, &hw), -EPERM);
	ck_assert_int_eq(vmmem_load(E.m, GPA_LAZY + 40 * PAGE, 8, &v,
				    VMMEM_ORDER_RELAXED), 0);
	test_pattern(b, 16, 5);
	ck_assert_int_eq(vmmem_write(E.m, GPA_LAZY + 41 * PAGE, b, 16), 16);
	expect_lazy(41 * PAGE, b, 16);
	ck_assert_uint_eq(E.f.last_first, 41);
	ck_assert_uint_eq(E.f.last_count, 1);
	env_fini();
}
END_TEST

START_TEST(cache_invalidate)
{
	struct vmmem_xen_cache_stats st;
	struct live lp;
	uint8_t b[64];
	uint8_t *h = NULL;
	uint64_t len = 64, before;

	env_init(64, 64, false, false);
	ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY, b, 8), 8);
	ck_assert_int_eq(vmmem_write(E.m, GPA_LAZY + BUCKET, b, 8), 8);
	ck_assert_int_eq(vmmem_map(E.m, GPA_LAZY + 2 * BUCKET + 0x40, &len,
				   VMMEM_MAP_READ | VMMEM_MAP_WRITE,
				   (void **)&h), 0);
	ck_assert(fake_holding(&E.f, h, &lp));
	ck_assert_uint_eq(E.f.nlive, 3);

	mapcache_invalidate(E.lazy->cache);
	st = cstats();
	ck_assert_uint_eq(st.invalidated, 3);
	ck_assert_uint_eq(st.mapped_pages, BPAGES);
	ck_assert_uint_eq(st.pinned_pages, BPAGES);
	ck_assert_uint_eq(E.f.nlive, 1);
	ck_assert(fake_live(&E.f, &lp));
	/* The next access maps again. */
	before = st.misses;
	ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY, b, 8), 8);
	ck_assert_uint_eq(cstats().misses, before + 1);
	/* The pinned mapping keeps working, but no new access gets it. */
	memset(h, 0x17, 64);
	ck_assert(test_all_bytes(E.f.ref + 2 * BUCKET + 0x40, 0x17, 64));
	E.f.ref[2 * BUCKET + 0x41] = 0x18;
	ck_assert_uint_eq(h[1], 0x18);
	ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY + 2 * BUCKET + 0x40, b, 64),
			 64);
	ck_assert_uint_eq(cstats().misses, before + 2);
	ck_assert_uint_eq(b[1], 0x18);
	ck_assert_uint_eq(E.f.nlive, 3);
	ck_assert_uint_eq(cstats().mapped_pages, 3 * BPAGES);
	/* Its unmap ends it. */
	ck_assert_int_eq(vmmem_unmap(E.m, h, 64), 0);
	ck_assert(!fake_live(&E.f, &lp));
	st = cstats();
	ck_assert_uint_eq(st.pinned_pages, 0);
	ck_assert_uint_eq(st.mapped_pages, 2 * BPAGES);
	ck_assert_uint_eq(E.f.nlive, 2);
	/* Invalidating twice, or an empty cache: harmless. */
	mapcache_invalidate(E.lazy->cache);
	mapcache_invalidate(E.lazy->cache);
	st = cstats();
	ck_assert_uint_eq(st.invalidated, 5);
	ck_assert_uint_eq(st.mapped_pages, 0);
	ck_assert_uint_eq(E.f.nlive, 0);
	ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY + 3 * BUCKET, b, 64), 64);
	expect_mem(b, E.f.ref + 3 * BUCKET, 64, "after invalidation");
#ifdef HAVE_XEN
	/* The public entry points work on any region with a map cache. */
	{
		struct {
			struct vmmem_xen_cache_stats st;
			uint64_t more[2];
		} big;
		struct vmmem_xen_cache_stats small;

		ck_assert_int_eq(vmmem_region_xen_invalidate(E.lazy), 0);
		ck_assert_uint_eq(E.f.nlive, 0);
		ck_assert_uint_eq(cstats().invalidated, 6);
		memset(&big, 0xff, sizeof(big));
		big.st.sz = sizeof(big);
		ck_assert_int_eq(vmmem_region_xen_cache_stats(E.lazy, &big.st),
				 0);
		ck_assert_uint_eq(big.st.sz, sizeof(big));
		ck_assert_uint_eq(big.st.invalidated, 6);
		ck_assert_uint_eq(big.st.mapped_pages, 0);
		ck_assert_uint_eq(big.more[0], 0);
		ck_assert_uint_eq(big.more[1], 0);
		/* An older caller's struct: what fits, nothing past it. */
		memset(&small, 0xff, sizeof(small));
		small.sz = offsetof(struct vmmem_xen_cache_stats, misses);
		ck_assert_int_eq(vmmem_region_xen_cache_stats(E.lazy, &small),
				 0);
		ck_assert_uint_eq(small.sz,
				  offsetof(struct vmmem_xen_cache_stats, misses));
		ck_assert_uint_eq(small.hits, cstats().hits);
		ck_assert_uint_eq(small.misses, ~0ull);
	}
#else
	ck_assert_int_eq(vmmem_region_xen_invalidate(E.lazy), -EOPNOTSUPP);
#endif
	env_fini();
}
END_TEST

/* A read-only lazy region: every write path gets -EACCES and nothing is
 * ever mapped writable. */
START_TEST(readonly_region)
{
	struct vmmem_iommu *io = NULL;
	uint8_t b[0x3000], *orig = xmalloc(1 << 20);
	uint64_t len, v;
	void *h = NULL;
	int pfd[2], mfd = test_filled_memfd(0x3000, 0x42);

	env_init(256, 32, true, true);
	memcpy(orig, E.f.ref, 1 << 20);
	memset(b, 0xa5, sizeof(b));
	ck_assert_int_eq(vmmem_write(E.m, GPA_LAZY, b, 1), -EACCES);
	ck_assert_int_eq(vmmem_write(E.m, GPA_LAZY + 8, b, 16), -EACCES);
	ck_assert_int_eq(vmmem_write(E.m, GPA_LAZY + 5, b, sizeof(b)), -EACCES);
	ck_assert_int_eq(vmmem_write_exact(E.m, GPA_LAZY, b, 8), -EACCES);
	ck_assert_int_eq(vmmem_write_exact(E.m, GPA_LAZY + BUCKET - 4, b, 8),
			 -EACCES);
	ck_assert_int_eq(vmmem_write_le16(E.m, GPA_LAZY + 2, 1), -EACCES);
	/* Starting in the plain region: the plain part is written, the
	 * exact variant refuses the whole. */
	{
		uint8_t was[8];

		memcpy(was, plain_host() + PLAIN_SIZE - 12, 8);
		ck_assert_int_eq(vmmem_write(E.m, GPA_LAZY - 4, b, 8), 4);
		ck_assert(test_all_bytes(plain_host() + PLAIN_SIZE - 4, 0xa5, 4));
		ck_assert_int_eq(vmmem_write_exact(E.m, GPA_LAZY - 12, b, 16),
				 -EACCES);
		expect_mem(plain_host() + PLAIN_SIZE - 12, was, 8,
			   "refused exact write");
	}
	for (size_t s = 1; s <= 8; s *= 2)
		ck_assert_int_eq(vmmem_store(E.m, GPA_LAZY + 8 * PAGE, s, 1,
					     VMMEM_ORDER_SEQ_CST), -EACCES);
	ck_assert_int_eq(vmmem_fill(E.m, GPA_LAZY, 0, 1), -EACCES);
	ck_assert_int_eq(vmmem_fill(E.m, GPA_LAZY - 8, 0, 16), -EACCES);
	ck_assert_int_eq(vmmem_copy(E.m, GPA_LAZY, GPA_PLAIN, 64), -EACCES);
	ck_assert_int_eq(vmmem_copy(E.m, GPA_LAZY + 0x100, GPA_LAZY, 0x1000),
			 -EACCES);
	len = 8;
	ck_assert_int_eq(vmmem_map(E.m, GPA_LAZY, &len, VMMEM_MAP_WRITE, &h),
			 -EACCES);
	len = 8;
	ck_assert_int_eq(vmmem_map(E.m, GPA_LAZY, &len,
				   VMMEM_MAP_READ | VMMEM_MAP_WRITE, &h), -EACCES);
	ck_assert_int_eq(vmmem_pread_fd(E.m, GPA_LAZY, mfd, 0x1000, 0), -EACCES);
	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_eq(write(pfd[1], b, 64), 64);
	ck_assert_int_eq(vmmem_read_fd(E.m, GPA_LAZY + 7, pfd[0], 64), -EACCES);
	/* IOMMU writes too, even where the IOTLB allows them. */
	ck_assert_int_eq(vmmem_iommu_new(&io, E.m, NULL), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, 0, E.lazy_size, GPA_LAZY,
					    VMMEM_PERM_READ | VMMEM_PERM_WRITE),
			 0);
	ck_assert_int_eq(vmmem_iommu_write(io, 0x10, b, 16), -EACCES);
	ck_assert_int_eq(vmmem_iommu_store(io, 0x10, 4, 1, VMMEM_ORDER_RELAXED),
			 -EACCES);
	ck_assert_int_eq(vmmem_iommu_fill(io, 0x10, 0, 16), -EACCES);
	ck_assert_int_eq(vmmem_iommu_read_fd(io, 0x10, pfd[0], 64), -EACCES);

	/* Reads work: through read-only mappings only. */
	ck_assert_int_eq(vmmem_iommu_read_exact(io, 0x10, b, 16), 0);
	expect_mem(b, E.f.ref + 0x10, 16, "iommu read");
	vmmem_iommu_free(io);
	ck_assert_int_eq(vmmem_read(E.m, GPA_LAZY + 5, b, sizeof(b)),
			 (ssize_t)sizeof(b));
	expect_mem(b, E.f.ref + 5, sizeof(b), "read");
	ck_assert_int_eq(vmmem_load(E.m, GPA_LAZY + 8 * PAGE, 8, &v,
				    VMMEM_ORDER_ACQUIRE), 0);
	len = 8;
	ck_assert_int_eq(vmmem_map(E.m, GPA_LAZY, &len, VMMEM_MAP_READ, &h), 0);
	ck_assert_int_eq(vmmem_unmap(E.m, h, 0), 0);
	ck_assert_int_eq(vmmem_write_fd(E.m, GPA_LAZY, pfd[1], 64), 64);
	ck_assert_int_eq(vmmem_copy(E.m, GPA_PLAIN, GPA_LAZY, 0x1000), 0);
	expect_mem(plain_host(), E.f.ref, 0x1000, "copied out");
	close(pfd[0]);
	close(pfd[1]);

	expect_lazy(0, orig, 1 << 20);
	ck_assert_uint_gt(E.f.calls, 0);
	ck_assert_uint_eq(E.f.writable_calls, 0);
	close(mfd);
	free(orig);
	env_fini();
}
END_TEST

/* region_new_lazy()'s own checks. */
START_TEST(new_lazy_args)
{
	struct vmmem_region *r = NULL;
	struct fake f;

	memset(&f, 0, sizeof(f));
	ck_assert_int_eq(region_new_lazy(&r, 0, &fake_ops, &f, true, 0, false),
			 -EINVAL);
	ck_assert_int_eq(region_new_lazy(&r, PAGE + 1, &fake_ops, &f, true, 0, false),
			 -EINVAL);
	ck_assert_int_eq(region_new_lazy(&r, PAGE / 2, &fake_ops, &f, true, 0, false),
			 -EINVAL);
	ck_assert_ptr_null(r);
	/* Made and released without an access: no map call, no unmap. */
	ck_assert_int_eq(region_new_lazy(&r, 64 * PAGE, &fake_ops, &f, true, 0, true),
			 0);
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(r->cache);
	vmmem_region_unref(r);
	ck_assert_uint_eq(f.calls, 0);
	ck_assert_uint_eq(f.unmaps, 0);
}
END_TEST

/* ==================================================== concurrency */

#define CONC_PAGES 64
#define WORDS      (PAGE / 8)

struct reader {
	pthread_t thread;
	unsigned int seed;
	bool use_map;
	unsigned long reads, errors;
	char why[160];
};

static int stop_flag;
static uint64_t max_gen;

static uint32_t rnd(unsigned int *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Every word of page p reads (p << 32) | gen, with gen no later than the
 * writer's latest: a word of another page means a wrong mapping, one
 * from the future a torn or invented value. */
static void check_page(struct reader *rd, uint64_t p, const uint64_t *w,
		       size_t n)
{
	uint64_t newest = __atomic_load_n(&max_gen, __ATOMIC_ACQUIRE);

	for (size_t i = 0; i < n; i++)
		if (w[i] >> 32 != p || (w[i] & 0xffffffffu) > newest) {
			if (!rd->errors++)
				snprintf(rd->why, sizeof(rd->why), "page %"
					 PRIu64 " word %zu: %#" PRIx64, p, i,
					 w[i]);
			return;
		}
}

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	uint64_t w[WORDS];

	while (!__atomic_load_n(&stop_flag, __ATOMIC_ACQUIRE)) {
		uint64_t p = rnd(&rd->seed) % CONC_PAGES;
		uint64_t gpa = GPA_LAZY + p * PAGE;

		if (rd->use_map && (rd->reads & 1)) {
			uint64_t len = PAGE;
			void *h = NULL;
			int ret = vmmem_map(E.m, gpa, &len, VMMEM_MAP_READ, &h);

			if (ret || len != PAGE) {
				if (!rd->errors++)
					snprintf(rd->why, sizeof(rd->why),
						 "vmmem_map: %d, len %" PRIu64,
						 ret, len);
				continue;
			}
			/* Words one by one, each a single aligned load. */
			for (size_t i = 0; i < WORDS; i++)
				w[i] = __atomic_load_n((uint64_t *)h + i,
						       __ATOMIC_RELAXED);
			check_page(rd, p, w, WORDS);
			ret = vmmem_unmap(E.m, h, 0);
			if (ret && !rd->errors++)
				snprintf(rd->why, sizeof(rd->why),
					 "vmmem_unmap: %d", ret);
		} else if (rd->reads % 3 == 0) {
			uint64_t v = 0;
			int ret = vmmem_load(E.m, gpa + 8 * (rnd(&rd->seed) %
							    WORDS), 8, &v,
					     VMMEM_ORDER_ACQUIRE);

			if (ret && !rd->errors++)
				snprintf(rd->why, sizeof(rd->why),
					 "vmmem_load: %d", ret);
			check_page(rd, p, &v, 1);
		} else {
			ssize_t n = vmmem_read(E.m, gpa, w, PAGE);

			if (n != (ssize_t)PAGE) {
				if (!rd->errors++)
					snprintf(rd->why, sizeof(rd->why),
						 "vmmem_read: %zd", n);
				continue;
			}
			check_page(rd, p, w, WORDS);
		}
		/* Only this thread writes it; the writer watches it. */
		__atomic_store_n(&rd->reads, rd->reads + 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Whether every reader has made the reads the test checks for, or the
 * deadline has passed (a slow run, e.g. under a sanitizer, still ends). */
static bool readers_done(struct reader *rd, int n, double deadline)
{
	for (int i = 0; i < n; i++)
		if (__atomic_load_n(&rd[i].reads, __ATOMIC_RELAXED) <= 100)
			return now_s() > deadline;
	return true;
}

START_TEST(concurrency)
{
	struct reader rd[2];
	struct vmmem_xen_cache_stats st;
	unsigned int seed = 12345;
	unsigned long writes = 0, invalidations = 0;
	uint64_t gen = 0;
	double end;
	bool cache = _i == 0;

	/* With the cache: 4 buckets, room for 1: nearly every access evicts.
	 * Transient: every access maps and unmaps its own. */
	env_init_mode(CONC_PAGES, cache, BPAGES, false, false);
	E.f.racy_guest = true;        /* before any mapping: see GUEST_RACES_OK */
	for (uint64_t p = 0; p < CONC_PAGES; p++)
		for (size_t i = 0; i < WORDS; i++)
			((uint64_t *)E.f.ref)[p * WORDS + i] = p << 32;
	stop_flag = 0;
	max_gen = 0;
	for (int i = 0; i < 2; i++) {
		memset(&rd[i], 0, sizeof(rd[i]));
		rd[i].seed = 0x9e3779b9u * (unsigned)(i + 1);
		rd[i].use_map = i == 1;
		ck_assert_int_eq(pthread_create(&rd[i].thread, NULL, reader_main,
						&rd[i]), 0);
	}
	/* 0.3 s, and at least enough writes for a few invalidations however
	 * slowly this runs (valgrind serialises the threads). */
	end = now_s() + 0.3;
	while (now_s() < end || writes < 256 || !readers_done(rd, 2, end + 20)) {
		uint64_t p = rnd(&seed) % CONC_PAGES;
		uint64_t word = rnd(&seed) % WORDS;
		int ret;

		/* Published before it is written, so that readers never see
		 * a value newer than max_gen. */
		__atomic_store_n(&max_gen, ++gen, __ATOMIC_RELEASE);
		ret = vmmem_store(E.m, GPA_LAZY + p * PAGE + word * 8, 8,
				  p << 32 | gen, VMMEM_ORDER_RELEASE);
		ck_assert_int_eq(ret, 0);
		writes++;
		if (writes % 64 == 0) {
			/* A whole page too, word by word through a write. */
			uint64_t w[WORDS];

			for (size_t i = 0; i < WORDS; i++)
				w[i] = p << 32 | gen;
			ck_assert_int_eq(vmmem_write(E.m, GPA_LAZY + p * PAGE, w,
						     PAGE), (ssize_t)PAGE);
		}
		if (writes % 16 == 0) {
			mapcache_invalidate(E.lazy->cache);
			invalidations++;
		}
	}
	__atomic_store_n(&stop_flag, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(pthread_join(rd[i].thread, NULL), 0);
		ck_assert_msg(rd[i].errors == 0, "reader %d: %lu error(s), "
			      "first: %s", i, rd[i].errors, rd[i].why);
		ck_assert_uint_gt(rd[i].reads, 100);
	}
	/* The final contents, checked through the memfd. */
	for (uint64_t p = 0; p < CONC_PAGES; p++)
		for (size_t i = 0; i < WORDS; i++) {
			uint64_t w = ((uint64_t *)E.f.ref)[p * WORDS + i];

			ck_assert_uint_eq(w >> 32, p);
			ck_assert_uint_le(w & 0xffffffffu, gen);
		}
	st = cstats();
	ck_assert_uint_eq(st.pinned_pages, 0);
	if (cache)
		ck_assert_uint_gt(st.evictions + st.invalidated, 0);
	else
		ck_assert_uint_eq(st.mapped_pages, 0);
	ck_assert_uint_gt(invalidations, 0);
	env_fini();
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("lazy");
	TCase *tc;

	/* Each test adds and frees lazy regions: each removal waits for grace
	 * periods (membarrier, tens of ms in a VM), so a loaded machine takes
	 * the cases past Check's 4 s default. */
	tc = tcase_create("access");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, rw_lazy);
	tcase_add_test(tc, rw_lazy_hole);
	tcase_add_test(tc, rw_across_regions);
	tcase_add_test(tc, load_store);
	tcase_add_test(tc, fill);
	tcase_add_test(tc, copy);
	tcase_add_test(tc, map_unmap);
	tcase_add_test(tc, map_outlives_removal);
	tcase_add_test(tc, fd_io);
	tcase_add_test(tc, no_host_address);
	tcase_add_test(tc, dirty_log);
	tcase_add_test(tc, iommu);
	tcase_add_test(tc, iommu_exact_into_readonly);
	suite_add_tcase(s, tc);

	tc = tcase_create("transient");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, transient_paths);
	tcase_add_test(tc, transient_map);
	tcase_add_loop_test(tc, exact_unmappable, 0, 2);
	tcase_add_loop_test(tc, exact_unmappable_far, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("cache");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, cache_hits);
	tcase_add_test(tc, cache_fallback);
	tcase_add_test(tc, cache_eviction);
	tcase_add_test(tc, cache_lru);
	tcase_add_test(tc, cache_pinned);
	tcase_add_test(tc, cache_ro_rw);
	tcase_add_test(tc, cache_invalidate);
	tcase_add_test(tc, readonly_region);
	tcase_add_test(tc, new_lazy_args);
	suite_add_tcase(s, tc);

	tc = tcase_create("concurrency");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, concurrency, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run(suite());
}
