/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * vmmem-fuzz: a libFuzzer harness for libvmmem, checked against a reference
 * model of guest memory kept here.
 *
 * Each input is decoded into a sequence of API calls (regions, hotplug,
 * partial and exact accesses, atomics, fill and copy, host pointers,
 * scatter lists, pinned mappings, file-descriptor I/O, the dirty log and an
 * IOMMU), at GPAs, IOVAs and lengths drawn from small sets that sit on the
 * boundaries: 0, region edges, holes, and the top of the 64-bit space.
 * Every call's result is compared with what the man pages promise, as the
 * model computes it: the same return code (where several errors of a page
 * apply at once, any of them), the same bytes, the same dirty bits, the same
 * IOTLB, the same miss-handler calls.
 *
 * The model is deliberately plain:
 *  - backing stores ("bufs"): byte arrays holding what the memory must
 *    contain.  An anonymous or memfd region has its own; raw regions over
 *    one shared arena, and fd regions over one shared file, use offsets in a
 *    shared one, so that different regions can alias the same bytes;
 *  - placements: (gpa, size, region) sorted by gpa, so that a region placed
 *    twice reaches the same bytes from both GPAs;
 *  - dirty bits: a set of dirty pages indexed by GPA page (a write marks
 *    the pages of the placements it touched; the bits outlive a removal
 *    and are found by GPA whatever is placed there later);
 *  - the IOTLB: a sorted list of (iova, last, gpa, perm, age) entries, cut on
 *    update and invalidate, with oldest-inserted eviction at max_entries;
 *  - live mappings of vmmem_map(), and a model of the file the fd functions
 *    read and write.
 * Host addresses are known to the model: raw memory is the harness's own,
 * and a mapped region's address is read once, when it is created.
 *
 * Regions mapped on demand (the Xen grant backend's NO_ADVANCE_MAP) are
 * made with the internal region_new_lazy() over a fake mapper, as in
 * tests/test-lazy.c: the guest memory is a memfd of the region's own, which
 * the model's store mirrors; a map call mmaps the pages asked for (PROT_READ
 * for a read-only entry) and refuses pages the "guest" did not grant, or
 * granted read-only (for a writable map), with the error the region was
 * given.  A region maps per access (the default: exact pages, up to a
 * batch, unmapped when the access ends) or, with VMMEM_XEN_MAP_CACHE,
 * through the map cache, whose bound is mostly small (1 to 48 pages, where
 * a bucket is 16), so entries are evicted all the time; some regions are
 * read-only.
 * Every map
 * call must stay in the region and (with the cache) in one bucket, every
 * unmap must name a
 * live mapping with its count, and once everything is released no mapping
 * may be left.  The model predicts the accesses from the pages alone, which
 * is exact because a page's grant only changes together with an
 * invalidation of the cache (an op of its own): a view of a lazy region
 * covers up to the end of its 64 KiB bucket (per access: of its batch) if
 * every page of that is
 * granted, else just up to the end of its first page (the retry of
 * lib/access/view.c, which the exact accesses and fill do not make), and
 * fails with the mapper's error if that page is refused.  So partial accesses stop at the first refused page, the exact
 * ones and fill fail with its error having done nothing (they map all
 * their pieces first, up to 64 of them), a copy
 * goes through a buffer of up to 255 pages chunk by chunk, vmmem_map() maps up to a
 * bucket end or a page end, writes to a read-only region fail with -EACCES,
 * and host addresses and scatter lists fail with -ENXIO.  The cache's
 * counters are checked against the fake mapper's live mappings.
 *
 * Everything is freed at the end of each input (LeakSanitizer is on), and
 * the harness also checks that no file descriptor leaked and that each raw
 * region's release callback ran exactly once, and never while the region
 * was still referenced.
 *
 * A mismatch prints the calls of the input (VMMEM_FUZZ_TRACE=1 prints them
 * as they run) and aborts, which libFuzzer reports as a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "libvmmem.h"
/* Internal: region_new_lazy() and the map cache, for regions mapped on
 * demand over the harness's fake mapper. */
#include "vmmem-private.h"
#include "xen/mapcache.h"

#include "fuzz-common.h"

/* ---------------------------------------------------------------- limits */

#define PAGE        4096u
#define MAXOPS      160          /* calls decoded from one input */
#define MAXREG      10           /* regions created per input */
#define MAXBUF      (MAXREG + 2) /* 0: arena, 1: fd file, 2 + i: region i */
#define MAXPL       8            /* placements */
#define MAXMAP      8            /* live vmmem_map() mappings */
#define MAXENT      128          /* model IOTLB capacity */
#define MAXUPD      40           /* IOTLB updates and invalidations */
#define MAXRSIZE    (16 * PAGE + 255)
#define BIG         (1u << 20)   /* the largest buffer handed to an access */
#define ARENA       (64 * 1024)  /* raw regions' shared memory */
#define FDFILE      (64 * 1024)  /* fd regions' shared file */
_Static_assert(ARENA == 64 * 1024 && FDFILE == 64 * 1024, "the pattern covers the shared stores");
#define IOFILE      (512 * 1024) /* the file of the fd I/O functions */
#define MAXWORDS    4096         /* harvest bitmap words */
#define LZ_MAXPAGES 48           /* a lazy region's pages (a placement's
				  * dirty bits must fit one word) */
#define LZ_MAXLIVE  1024         /* live mappings of one lazy region */
#define BUCKET      (MAPCACHE_BUCKET_PAGES * PAGE)  /* of the map cache */
#define BATCH       (MAPCACHE_BATCH_PAGES * PAGE)   /* of a transient pin */
#define FDIO_MAX_IOV 64          /* pieces of one fd I/O call (lib/access/fdio.c) */

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t rng = 1;

static uint8_t rnd8(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint8_t)(rng >> 29);
}

static uint8_t *pattern;               /* random bytes, PATTERN of them */
#define PATTERN (64 * 1024)

/* Pseudo-random data: pieces of the pattern at random offsets (a loop per
 * byte would be slow under the fuzzer's instrumentation). */
static void rnd_fill(uint8_t *p, uint64_t n)
{
	while (n) {
		uint64_t off = (rnd8() | (uint64_t)rnd8() << 8) % (PATTERN / 2);
		uint64_t k = min64(n, PATTERN / 2);

		memcpy(p, pattern + off, k);
		p[0] ^= rnd8();
		p += k;
		n -= k;
	}
}

/* ----------------------------------------------------------------- trace */

struct tr {
	const char *name;
	int n;
	uint64_t a[8];
	long ret;
};
static struct tr trace[MAXOPS + 64];
static int ntrace;
static bool trace_live;

static void tr_rec(const char *name, const uint64_t *a, size_t n)
{
	struct tr *t;

	if (ntrace >= (int)(sizeof(trace) / sizeof(trace[0])))
		ntrace--;
	t = &trace[ntrace++];
	t->name = name;
	t->n = (int)(n > 8 ? 8 : n);
	memcpy(t->a, a, (size_t)t->n * sizeof(uint64_t));
	t->ret = LONG_MIN;
	if (trace_live) {
		fprintf(stderr, "  %s", name);
		for (int i = 0; i < t->n; i++)
			fprintf(stderr, " %#llx", (unsigned long long)t->a[i]);
		fprintf(stderr, "\n");
	}
}

#define TR(name, ...)                                                         \
	tr_rec(name, (const uint64_t[]){ __VA_ARGS__ },                       \
	       sizeof((const uint64_t[]){ __VA_ARGS__ }) / sizeof(uint64_t))

static void tr_ret(long ret)
{
	if (ntrace)
		trace[ntrace - 1].ret = ret;
	if (trace_live)
		fprintf(stderr, "    -> %ld\n", ret);
}

static void dump_trace(void)
{
	fprintf(stderr, "vmmem-fuzz: calls of this input, last one failed:\n");
	for (int i = 0; i < ntrace; i++) {
		fprintf(stderr, "  #%d %s", i, trace[i].name);
		for (int j = 0; j < trace[i].n; j++)
			fprintf(stderr, " %#llx", (unsigned long long)trace[i].a[j]);
		if (trace[i].ret != LONG_MIN)
			fprintf(stderr, " -> %ld", trace[i].ret);
		fprintf(stderr, "\n");
	}
}

__attribute__((noreturn, format(printf, 1, 2)))
static void fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "vmmem-fuzz: MISMATCH: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	dump_trace();
	abort();
}

#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		if (!(cond))                                                  \
			fail(__VA_ARGS__);                                    \
	} while (0)

/* --------------------------------------------------------------- errors */

static unsigned ebit(long e)
{
	switch (e) {
	case EINVAL: return 1u << 0;
	case EFAULT: return 1u << 1;
	case ERANGE: return 1u << 2;
	case ENOENT: return 1u << 3;
	case EEXIST: return 1u << 4;
	case EBUSY: return 1u << 5;
	case EAGAIN: return 1u << 6;
	case EACCES: return 1u << 7;
	case EBADF: return 1u << 8;
	case E2BIG: return 1u << 9;
	case EOPNOTSUPP: return 1u << 10;
	case ENXIO: return 1u << 11;
	case EPERM: return 1u << 12;
	case EIO: return 1u << 13;
	case ENOMEM: return 1u << 14;
	default: return 1u << 31;
	}
}

#define B(e) ebit(e)

static const char *errs_str(unsigned errs)
{
	static char s[200];
	static const struct { int e; const char *n; } names[] = {
		{ EINVAL, "EINVAL" }, { EFAULT, "EFAULT" }, { ERANGE, "ERANGE" },
		{ ENOENT, "ENOENT" }, { EEXIST, "EEXIST" }, { EBUSY, "EBUSY" },
		{ EAGAIN, "EAGAIN" }, { EACCES, "EACCES" }, { EBADF, "EBADF" },
		{ E2BIG, "E2BIG" }, { EOPNOTSUPP, "EOPNOTSUPP" }, { ENXIO, "ENXIO" },
		{ EPERM, "EPERM" }, { EIO, "EIO" }, { ENOMEM, "ENOMEM" },
	};

	s[0] = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (errs & ebit(names[i].e)) {
			strcat(s, s[0] ? "|-" : "-");
			strcat(s, names[i].n);
		}
	return s;
}

/*
 * errs: the errors the man page gives for the arguments (any of them may be
 * returned when several apply); zero_ok: returning 0 having done nothing is
 * also right (a page's "if len is 0, it does nothing" against another of its
 * rules).  Returns true when the call failed as it should (or did nothing),
 * false when it succeeded as it should; anything else is a mismatch.
 */
static bool failed_ok(const char *what, long ret, unsigned errs, bool zero_ok)
{
	tr_ret(ret);
	if (!errs) {
		CHECK(ret >= 0, "%s: returned %ld (%s), expected success", what,
		      ret, strerror((int)-ret));
		return false;
	}
	if (ret < 0 && (ebit(-ret) & errs))
		return true;
	if (zero_ok && ret == 0)
		return true;
	fail("%s: returned %ld (%s), expected %s%s", what, ret,
	     ret < 0 ? strerror((int)-ret) : "success", errs_str(errs),
	     zero_ok ? " or 0" : "");
}

static bool wraps(uint64_t start, uint64_t len)
{
	return len && start + (len - 1) < start;
}

/* ----------------------------------------------------------------- model */

enum kind { K_ANON, K_MEMFD, K_FD, K_RAW_OWN, K_RAW_ARENA, K_LAZY };

struct mbuf {
	uint8_t *shadow;              /* what the memory must hold */
	uint8_t *host;                /* the memory itself */
	uint64_t size;
	bool used;
};

struct mreg {
	struct vmmem_region *r;
	enum kind kind;
	int buf;                      /* backing store and offset in it */
	uint64_t off, size;
	uint8_t *host;                /* host address of byte 0; NULL: lazy */
	unsigned int flags;           /* expected vmmem_region_flags() */
	bool lazy, readonly;          /* mapped on demand (lz[] of its index) */
	bool has_release;
	int refs;                     /* references the harness holds */
	bool gone;                    /* may have been destroyed */
};

struct mpl {
	uint64_t gpa, size;
	int reg;
};

struct mmapping {
	uint8_t *host;
	uint64_t gpa, pgpa, len;      /* pgpa: where the region was placed */
	int reg;
	bool writable;
	uint64_t wrote;               /* bytes the harness wrote through it */
};

struct ment {
	uint64_t iova, last, gpa, seq;
	unsigned int perm;
};

static struct vmmem *mem;
static struct mbuf bufs[MAXBUF];
static struct mreg regs[MAXREG];
static int nregs;
static int released[MAXREG];           /* release calls, atomically */
static int bad_release;                /* release of a failed creation */
static struct mpl pl[MAXPL];
static int npl;
static struct mmapping maps[MAXMAP];
static int nmaps;
static bool dirty_on;
static unsigned int dsh;                /* log2 of the dirty page size */
static uint64_t *dpages;                /* dirty pages, unsorted */
static size_t ndp, dp_cap;

static struct vmmem_iommu *iommu;
static bool have_handler;
static uint64_t max_ent, next_seq;
static struct ment ent[MAXENT];
static int nent, nupd;

/* The miss handler's record of its calls, and its optional answer. */
static struct {
	int calls;
	uint64_t iova, len;
	unsigned int perm;
	bool resolve;                 /* answer with an update of 4 KiB */
	uint64_t resolve_gpa;
	unsigned int resolve_perm;
	bool resolved;
	int upd_ret;
	uint64_t upd_iova;
} miss;
static int miss_cookie;

/* The file of the fd I/O functions: three descriptions of one memfd. */
enum { FD_RW, FD_RO, FD_WO, FD_NEG, FD_CLOSED, FD_NSEL };
static int iofd[3];
static uint64_t iopos[3];
static uint8_t *ioshadow;
static uint64_t iosize;
static int closed_fd = 1021;

/* fd regions map this file: one shared store, so they alias each other. */
static int bfd = -1;
static uint8_t *bhost;

static uint8_t *big, *scratch;
static uint8_t *arena;
static int fd_probe_base;
static uint64_t syspage;

/* ------------------------------------------------------ the fake mapper */

/*
 * The mapper of the lazy regions, one context per region (lz[i] for
 * regs[i]): guest memory is a memfd, a map call an mmap of the pages asked
 * for, read-only for a read-only entry.  A map call that includes a page
 * not granted fails with the region's error (nerr); one that includes a
 * page granted read-only, if writable, with -EPERM.  Map calls come under
 * the cache's lock; unmaps may also come from liburcu's call_rcu thread,
 * when the region is destroyed, but then nothing else uses the context.
 */
struct lzmap {
	uint8_t *addr;
	uint64_t first, count;        /* pages */
	bool writable;
};

/* How a map call fails for a page not granted: sets -EINVAL (what Xen
 * does), sets -ENOMEM, leaves *err alone, or sets 0 (the cache makes the
 * last two -EIO). */
enum { LZ_EINVAL, LZ_ENOMEM, LZ_UNTOUCHED, LZ_ZERO, LZ_NERR };

static struct lazy {
	int memfd;
	uint8_t *view;                /* the harness's own read-write mapping */
	uint64_t pages;
	bool keep;                    /* VMMEM_XEN_MAP_CACHE, else per access */
	size_t max_pages;             /* the cache's bound (0: the default) */
	bool readonly;
	uint64_t not_granted;         /* bit p: page p */
	uint64_t ro_granted;
	int nerr;                     /* LZ_* */
	int reg;
	struct lzmap live[LZ_MAXLIVE];
	int nlive;
} lz[MAXREG];

/* The error the library reports when page p, mapped alone, is refused; 0
 * if it is not. */
static int lz_page_err(const struct lazy *z, uint64_t p, bool write)
{
	static const int nerr[LZ_NERR] = { -EINVAL, -ENOMEM, -EIO, -EIO };

	if (z->not_granted >> p & 1)
		return nerr[z->nerr];
	if (write && (z->ro_granted >> p & 1))
		return -EPERM;
	return 0;
}

static void *lz_map(void *ctx, uint64_t first, size_t count, bool writable,
		    int *err)
{
	struct lazy *z = ctx;
	void *p;

	if (!count || first >= z->pages || count > z->pages - first ||
	    (z->keep ? count > MAPCACHE_BUCKET_PAGES ||
		       first / MAPCACHE_BUCKET_PAGES !=
		       (first + count - 1) / MAPCACHE_BUCKET_PAGES
		     : count > MAPCACHE_BATCH_PAGES))
		fail("lazy region %d: map of pages %#llx + %zu, outside the region, "
		     "across buckets or over a batch", z->reg,
		     (unsigned long long)first, count);
	if (writable && z->readonly)
		fail("lazy region %d: writable map of a read-only region", z->reg);
	for (uint64_t i = first; i < first + count; i++) {
		if (z->not_granted >> i & 1) {
			if (z->nerr == LZ_EINVAL)
				*err = -EINVAL;
			else if (z->nerr == LZ_ENOMEM)
				*err = -ENOMEM;
			else if (z->nerr == LZ_ZERO)
				*err = 0;
			return NULL;
		}
		if (writable && (z->ro_granted >> i & 1)) {
			*err = -EPERM;
			return NULL;
		}
	}
	if (z->nlive == LZ_MAXLIVE)
		fail("lazy region %d: more than %d live mappings", z->reg, LZ_MAXLIVE);
	p = mmap(NULL, count * PAGE, writable ? PROT_READ | PROT_WRITE : PROT_READ,
		 MAP_SHARED, z->memfd, (off_t)(first * PAGE));
	if (p == MAP_FAILED)
		fail("lazy region %d: mmap: %s", z->reg, strerror(errno));
	z->live[z->nlive++] = (struct lzmap){ p, first, count, writable };
	return p;
}

static void lz_unmap(void *ctx, void *addr, size_t count)
{
	struct lazy *z = ctx;
	int k = 0;

	while (k < z->nlive && z->live[k].addr != addr)
		k++;
	if (k == z->nlive)
		fail("lazy region %d: unmap of %p, not a live mapping", z->reg, addr);
	if (z->live[k].count != count)
		fail("lazy region %d: unmap of %p with %zu pages, mapped with %llu",
		     z->reg, addr, count, (unsigned long long)z->live[k].count);
	if (munmap(addr, count * PAGE) < 0)
		fail("lazy region %d: munmap: %s", z->reg, strerror(errno));
	z->live[k] = z->live[--z->nlive];
}

static const struct mapcache_ops lz_ops = { .map = lz_map, .unmap = lz_unmap };

static uint64_t lz_live_pages(const struct lazy *z)
{
	uint64_t n = 0;

	for (int k = 0; k < z->nlive; k++)
		n += z->live[k].count;
	return n;
}

/* The live mapping that holds [host, host + len), or NULL. */
static const struct lzmap *lz_holding(const struct lazy *z, const uint8_t *host,
				      uint64_t len)
{
	for (int k = 0; k < z->nlive; k++) {
		const struct lzmap *l = &z->live[k];

		if (host >= l->addr && (uint64_t)(host - l->addr) < l->count * PAGE &&
		    len <= l->count * PAGE - (uint64_t)(host - l->addr))
			return l;
	}
	return NULL;
}

static uint8_t *shadow_at(int i, uint64_t gpa)
{
	const struct mreg *r = &regs[pl[i].reg];

	return bufs[r->buf].shadow + r->off + (gpa - pl[i].gpa);
}

static uint8_t *host_at(int i, uint64_t gpa)
{
	return regs[pl[i].reg].host + (gpa - pl[i].gpa);
}

static int pl_find(uint64_t gpa)
{
	for (int i = 0; i < npl; i++)
		if (gpa - pl[i].gpa < pl[i].size)
			return i;
	return -1;
}

/* Bytes of the placement from gpa (in it) to its end. */
static uint64_t pl_avail(int i, uint64_t gpa)
{
	return pl[i].size - (gpa - pl[i].gpa);
}

/* Bytes backed from gpa on without a hole, at most len (no wrap). */
static uint64_t m_backed(uint64_t gpa, uint64_t len)
{
	uint64_t done = 0;

	while (done < len) {
		int i = pl_find(gpa + done);

		if (i < 0)
			break;
		done += min64(len - done, pl_avail(i, gpa + done));
	}
	return done;
}

/* Number of placements the backed range [gpa, gpa + len) touches. */
static int m_pieces(uint64_t gpa, uint64_t len)
{
	uint64_t done = 0;
	int n = 0;

	while (done < len) {
		int i = pl_find(gpa + done);

		done += min64(len - done, pl_avail(i, gpa + done));
		n++;
	}
	return n;
}

/* Copies between a buffer and the model, piece by piece in GPA order. */
static void m_access(uint64_t gpa, uint8_t *data, uint64_t n, bool write)
{
	uint64_t done = 0;

	while (done < n) {
		int i = pl_find(gpa + done);
		uint64_t k;

		if (i < 0)
			fail("model: access to unbacked %#llx",
			     (unsigned long long)(gpa + done));
		k = min64(n - done, pl_avail(i, gpa + done));
		if (write)
			memmove(shadow_at(i, gpa + done), data + done, k);
		else
			memmove(data + done, shadow_at(i, gpa + done), k);
		done += k;
	}
}

/*
 * What a view (lib/access/view.h) covers of [gpa, gpa + len), gpa in
 * placement i: the bytes from gpa on, at least one, or 0 with the error in
 * *err.  A region with a host address gives up to its end.  A lazy one
 * refuses a write if read-only; else it gives up to the end of the bucket if
 * the mapper grants every page of that, and otherwise retries with the
 * first page alone: up to the end of that page, or the error of its map
 * call.  A view of an exact access (span: COVER_SPAN) does not retry: the
 * error of the first page refused.
 */
static uint64_t m_view(int i, uint64_t gpa, uint64_t len, bool write,
		       bool span, int *err)
{
	const struct mreg *r = &regs[pl[i].reg];
	uint64_t n = min64(len, pl_avail(i, gpa)), off, p0;

	if (!r->lazy)
		return n;
	if (write && r->readonly) {
		*err = -EACCES;
		return 0;
	}
	off = gpa - pl[i].gpa;
	n = min64(n, lz[pl[i].reg].keep ? BUCKET - off % BUCKET
					: BATCH - off % PAGE);
	p0 = off / PAGE;
	for (uint64_t p = p0; p <= (off + n - 1) / PAGE; p++) {
		int e = lz_page_err(&lz[pl[i].reg], p, write);

		if (e && (p == p0 || span)) {
			*err = e;
			return 0;
		}
		if (e)
			return PAGE - off % PAGE;
	}
	return n;
}

/* How far an access from gpa gets, view after view, as the partial
 * accesses, the exact ones after their check, and the fd functions (at most
 * max_views views) go: the bytes, and in *err why it stopped short (-EFAULT
 * at a hole, or the view's error; 0 after max_views). */
static uint64_t m_reach(uint64_t gpa, uint64_t len, bool write, int max_views,
			bool span, int *err)
{
	uint64_t done = 0;

	*err = 0;
	for (int views = 0; done < len && views < max_views; views++) {
		int i = pl_find(gpa + done);
		uint64_t n;

		if (i < 0) {
			*err = -EFAULT;
			break;
		}
		n = m_view(i, gpa + done, len - done, write, span, err);
		if (!n)
			break;
		done += n;
	}
	return done;
}

enum touch { M_LAZY, M_READONLY };

/* Whether the backed part of [gpa, gpa + len) from gpa on touches a lazy
 * (or a read-only) region. */
static bool m_touches(uint64_t gpa, uint64_t len, enum touch what)
{
	uint64_t done = 0;

	while (done < len) {
		int i = pl_find(gpa + done);

		if (i < 0)
			break;
		if (what == M_LAZY ? regs[pl[i].reg].lazy : regs[pl[i].reg].readonly)
			return true;
		done += min64(len - done, pl_avail(i, gpa + done));
	}
	return false;
}

/* Pieces an exact access or fill maps before it moves a byte
 * (EXACT_MAX_PIECES of lib/access/rw.c). */
#define EXACT_VIEWS 64

/*
 * The all-or-nothing functions (vmmem_read_exact(3), vmmem_write_exact(3),
 * vmmem_fill(3)): first the check, -EFAULT for a hole and, for a write,
 * -EACCES for a read-only region, nothing done; then every view is taken
 * before a byte moves, so a page the mapper refuses fails the call with its
 * error and nothing done.  Only a range of more than EXACT_VIEWS views goes
 * view by view and stops at a refused page after doing the bytes before it.
 * Returns the errors; *n is the bytes done (len on success).
 */
static unsigned m_exact(uint64_t gpa, uint64_t len, bool write, uint64_t *n)
{
	unsigned errs = 0;
	int err;

	*n = 0;
	if (!len)
		return 0;
	if (m_backed(gpa, len) != len)
		errs |= B(EFAULT);
	if (write && m_touches(gpa, len, M_READONLY))
		errs |= B(EACCES);
	if (errs)
		return errs;
	*n = m_reach(gpa, len, write, EXACT_VIEWS, true, &err);
	if (*n < len && err) {
		*n = 0;
		return B(-err);
	}
	if (*n < len)
		*n = m_reach(gpa, len, write, INT_MAX, false, &err);
	return *n < len ? B(-err) : 0;
}

static uint64_t pg_first(int i)
{
	return pl[i].gpa >> dsh;
}

static uint64_t pg_last(int i)
{
	return (pl[i].gpa + (pl[i].size - 1)) >> dsh;
}

static bool m_page_dirty(uint64_t p)
{
	for (size_t i = 0; i < ndp; i++)
		if (dpages[i] == p)
			return true;
	return false;
}

/* A write of [gpa, gpa + n): the pages of each placement it touched. */
static void m_mark(uint64_t gpa, uint64_t n)
{
	uint64_t last;

	if (!dirty_on || !n)
		return;
	last = gpa + (n - 1);
	for (int i = 0; i < npl; i++) {
		uint64_t a = pl[i].gpa > gpa ? pl[i].gpa : gpa;
		uint64_t b = min64(last, pl[i].gpa + (pl[i].size - 1));

		if (a > b)
			continue;
		for (uint64_t p = a >> dsh; p <= b >> dsh; p++) {
			if (m_page_dirty(p))
				continue;
			if (ndp == dp_cap) {
				dp_cap = dp_cap ? 2 * dp_cap : 64;
				dpages = realloc(dpages, dp_cap * sizeof(*dpages));
				CHECK(dpages, "out of memory");
			}
			dpages[ndp++] = p;
		}
	}
}

static void m_clear_pages(uint64_t p0, uint64_t p1)
{
	for (size_t i = 0; i < ndp;)
		if (dpages[i] >= p0 && dpages[i] <= p1)
			dpages[i] = dpages[--ndp];
		else
			i++;
}

static bool reg_alive(int r)
{
	if (regs[r].refs > 0)
		return true;
	for (int i = 0; i < npl; i++)
		if (pl[i].reg == r)
			return true;
	for (int i = 0; i < nmaps; i++)
		if (maps[i].reg == r)
			return true;
	return false;
}

/* Forgets regions nothing the model knows of references any more, and
 * checks that no raw region was released while it was still referenced. */
static void reap(void)
{
	for (int r = 0; r < nregs; r++) {
		if (!regs[r].gone && !reg_alive(r))
			regs[r].gone = true;
		if (!regs[r].gone &&
		    __atomic_load_n(&released[r], __ATOMIC_ACQUIRE))
			fail("region %d released while still referenced", r);
	}
}

/* An index below n, or -1 if n is 0; one byte of input either way, so
 * that what follows decodes the same whatever the state. */
static int pick_idx(int n)
{
	uint8_t b = u8();

	return n ? b % n : -1;
}

static int pick_live_reg(void)
{
	int live[MAXREG], n = 0;

	for (int r = 0; r < nregs; r++)
		if (!regs[r].gone)
			live[n++] = r;
	n = pick_idx(n);
	return n < 0 ? -1 : live[n];
}

/* ------------------------------------------------------------ arguments */

static const uint64_t gpa_anchors[] = {
	0, 0x1000, 0x2000, 0x3000, 0x4000, 0x6000, 0x8000, 0x10000,
	0x7ffff000, 0xfffff000, 0x100000000ull, 1ull << 63,
	0ull - 0x10000, 0ull - 0x8000, 0ull - 0x4000, 0ull - 0x3000,
	0ull - 0x2000, 0ull - 0x1000,
};
#define NANCH (sizeof(gpa_anchors) / sizeof(gpa_anchors[0]))

static uint64_t anchor(void)
{
	return gpa_anchors[u8() % NANCH];
}

static uint64_t pick_gpa(void)
{
	uint8_t m = u8();
	int i = pick_idx(npl);

	if (i < 0 && (m % 10 == 2 || m % 10 == 3 || m % 10 == 4 || m % 10 == 9))
		m = 0;
	switch (m % 10) {
	case 0: return anchor();
	case 1: return anchor() + (uint64_t)(int64_t)(int8_t)u8();
	case 2: return pl[i].gpa + u16() % (pl[i].size + 16);
	case 3: return pl[i].gpa + pl[i].size + (uint64_t)(int64_t)(int8_t)u8();
	case 4: return pl[i].gpa - u8() % 16;
	case 5: return u64();
	case 6: return 0ull - u16();
	case 7: return anchor() + u16();
	case 8: return anchor() + (uint64_t)(u8() % 32) * PAGE;
	default: return pl[i].gpa + pl[i].size - 1 - u8() % 16;
	}
}

static uint64_t pick_len(uint64_t gpa)
{
	static const uint64_t small[] = { 1, 2, 4, 8, 16, 3, 7, 24 };
	static const uint64_t huge[] = {
		SSIZE_MAX, (uint64_t)SSIZE_MAX + 1, UINT64_MAX, 1ull << 63,
		1ull << 32, 1ull << 40, UINT64_MAX - 0xfff,
	};
	uint8_t m = u8();
	int i = pick_idx(npl);

	if (i < 0 && (m % 12 == 4 || m % 12 == 10))
		m = 2;
	switch (m % 12) {
	case 0: return 0;
	case 1: return small[u8() % 8];
	case 2: return u8();
	case 3: return u16() % 20000;
	case 4: return pl[i].gpa + pl[i].size - gpa + (uint64_t)(int64_t)((int8_t)u8() % 3);
	case 5: return 0ull - gpa;
	case 6: return 0ull - gpa + 1;
	case 7: return huge[u8() % 7];
	case 8: return (uint64_t)(u8() % 20) * PAGE + (uint64_t)(int64_t)((int8_t)u8() % 4);
	case 9: return u64();
	case 10: return pl[i].gpa + pl[i].size - gpa;
	default: return (uint64_t)(1 + u8() % 32) * PAGE;
	}
}

static uint64_t pick_rsize(void)
{
	uint8_t m = u8();
	uint64_t s;

	switch (m % 8) {
	case 0: s = PAGE; break;
	case 1: s = 2 * PAGE; break;
	case 2: s = (uint64_t)(1 + u8() % 4) * PAGE; break;
	case 3: s = (uint64_t)(1 + u8() % 4) * PAGE + 1 + u8() % 64; break;
	case 4: s = 1 + u8(); break;
	case 5: s = 1 + u16() % (4 * PAGE); break;
	case 6: s = 16 * PAGE; break;
	default: s = (uint64_t)(1 + u8() % 4) * PAGE - 1 - u8() % 16; break;
	}
	return s;
}

static uint64_t pick_place_gpa(uint64_t size)
{
	uint8_t m = u8();
	int i = pick_idx(npl);

	if (i < 0 && (m % 8 == 1 || m % 8 == 2))
		m = 0;
	switch (m % 8) {
	case 0: return anchor();
	case 1: return pl[i].gpa + pl[i].size;
	case 2: return pl[i].gpa - size;
	case 3: return 0ull - size - (uint64_t)(u8() % 4) * PAGE;
	case 4: return anchor() + u16();
	case 5: return u64();
	case 6: return 0ull - size + 1 + u8() % 4;
	default: return anchor() + (uint64_t)(u8() % 16) * PAGE;
	}
}

/* A buffer of len bytes whose end is the end of a heap block, so that an
 * access past len is reported by AddressSanitizer; past BIG, the start of
 * the block (the model then never lets an access reach BIG bytes). */
static uint8_t *bufptr(uint64_t len)
{
	return len <= BIG ? big + BIG - len : big;
}

static uint8_t filler[4096];

static void fill_pattern(uint8_t *p, uint64_t n)
{
	memset(p, 0xe5, n);
}

static bool is_pattern(const uint8_t *p, uint64_t n)
{
	for (; n; p += min64(n, sizeof(filler)), n -= min64(n, sizeof(filler)))
		if (memcmp(p, filler, min64(n, sizeof(filler))))
			return false;
	return true;
}

/* Fresh data in the buffer of a write expected to copy n of its len bytes,
 * and in more of it (up to 64 KiB), so that bytes copied where the model
 * expects none differ from what memory held. */
static void write_data(uint8_t *buf, uint64_t n, uint64_t len)
{
	rnd_fill(buf, min64(len, n > 16 * PAGE ? n : 16 * PAGE));
}

/* Checks buf[0, n) against the model's bytes of [gpa, gpa + n). */
static void check_bytes(const char *what, uint64_t gpa, const uint8_t *buf,
			uint64_t n)
{
	if (!n)
		return;
	m_access(gpa, scratch, n, false);
	if (memcmp(buf, scratch, n)) {
		uint64_t k = 0;

		while (buf[k] == scratch[k])
			k++;
		fail("%s: byte %#llx (gpa %#llx) is %#x, model has %#x", what,
		     (unsigned long long)k, (unsigned long long)(gpa + k),
		     buf[k], scratch[k]);
	}
}

/* ------------------------------------------------------------ regions */

static void rel_cb(void *addr, uint64_t size, void *opaque)
{
	intptr_t r = (intptr_t)opaque;

	if (r < 0) {
		__atomic_add_fetch(&bad_release, 1, __ATOMIC_RELEASE);
		return;
	}
	if (addr != regs[r].host || size != regs[r].size)
		fail("release of region %d with %p %#llx, created with %p %#llx",
		     (int)r, addr, (unsigned long long)size,
		     (void *)regs[r].host, (unsigned long long)regs[r].size);
	if (regs[r].kind == K_RAW_OWN)
		free(addr);
	__atomic_add_fetch(&released[r], 1, __ATOMIC_RELEASE);
}

static int new_reg(struct vmmem_region *r, enum kind kind, int buf,
		   uint64_t off, uint64_t size, uint8_t *host, unsigned int flags)
{
	int i = nregs++;

	regs[i] = (struct mreg){ .r = r, .kind = kind, .buf = buf, .off = off,
				 .size = size, .host = host, .flags = flags,
				 .refs = 1 };
	return i;
}

/* A region the library mapped: its own store, zero until written. */
static int adopt_mapped(struct vmmem_region *r, uint64_t size,
			unsigned int flags, int refs)
{
	int i = nregs;
	void *host = NULL;
	int ret = vmmem_region_host_address(r, &host);

	CHECK(ret == 0 && host, "vmmem_region_host_address: %d", ret);
	bufs[2 + i] = (struct mbuf){ .shadow = calloc(1, size), .host = host,
				     .size = size, .used = true };
	CHECK(bufs[2 + i].shadow, "out of memory");
	new_reg(r, (flags & VMMEM_REGION_SHAREABLE) ? K_MEMFD : K_ANON, 2 + i,
		0, size, host, flags);
	regs[i].refs = refs;
	return i;
}

static void check_region_queries(int i)
{
	const struct mreg *m = &regs[i];
	uint64_t size = 0, off = 12345;
	unsigned int flags = 0xdead;
	void *host = NULL;
	int ret;

	ret = vmmem_region_size(m->r, &size);
	CHECK(ret == 0 && size == m->size, "vmmem_region_size: %d %#llx, expected %#llx",
	      ret, (unsigned long long)size, (unsigned long long)m->size);
	ret = vmmem_region_flags(m->r, &flags);
	CHECK(ret == 0 && flags == m->flags, "vmmem_region_flags: %d %#x, expected %#x",
	      ret, flags, m->flags);
	ret = vmmem_region_host_address(m->r, &host);
	if (m->lazy)
		CHECK(ret == -ENXIO && !host, "vmmem_region_host_address: %d %p, expected -ENXIO",
		      ret, host);
	else
		CHECK(ret == 0 && host == m->host, "vmmem_region_host_address: %d %p, expected %p",
		      ret, host, (void *)m->host);
	ret = vmmem_region_check(m->r);
	CHECK(ret == 0, "vmmem_region_check: %d, expected 0 (nothing truncates)", ret);
	ret = vmmem_region_fd(m->r, &off);
	if (m->kind == K_MEMFD || m->kind == K_FD) {
		CHECK(ret >= 0 && ret != bfd && off == (m->kind == K_FD ? m->off : 0),
		      "vmmem_region_fd: %d offset %#llx", ret, (unsigned long long)off);
		CHECK(vmmem_region_fd(m->r, NULL) == ret, "vmmem_region_fd(NULL)");
	} else {
		CHECK(ret == -ENOENT && off == 12345, "vmmem_region_fd: %d, expected -ENOENT", ret);
	}
}

static void op_region_new(void)
{
	struct { struct vmmem_region_opts o; uint64_t tail; } x;
	struct vmmem_region_opts *opts = &x.o;
	struct vmmem_region *r = (struct vmmem_region *)&x;   /* poison */
	uint64_t size = pick_rsize();
	uint8_t v = u8() % 15;
	unsigned errs = 0;
	int ret;

	if (nregs == MAXREG)
		return;
	memset(&x, 0, sizeof(x));
	x.o.sz = sizeof(x.o);
	switch (v) {
	case 0: opts = NULL; break;
	case 1: break;
	case 2: x.o.flags = VMMEM_REGION_SHAREABLE; break;
	case 3: x.o.flags = VMMEM_REGION_GUARD; break;
	case 4: x.o.flags = VMMEM_REGION_SHAREABLE | VMMEM_REGION_GUARD |
			    VMMEM_REGION_DONTDUMP;
		x.o.name = "vmmem-fuzz"; break;
	case 5: x.o.flags = 1u << 20; errs = B(EINVAL); break;
	case 6: x.o.flags = VMMEM_REGION_PRIVATE; errs = B(EINVAL); break;
	case 7: x.o.sz = offsetof(struct vmmem_region_opts, flags); errs = B(EINVAL); break;
	case 8: x.o.sz = sizeof(x); x.tail = 1; errs = B(E2BIG); break;
	case 9: x.o.sz = sizeof(x); x.o.flags = VMMEM_REGION_DONTFORK; break;
	case 10: size = 0; errs = B(EINVAL); break;
	case 11: x.o.flags = VMMEM_REGION_SEAL; errs = B(EINVAL); break;
	case 12: x.o.name = "x"; errs = B(EINVAL); break;
	case 13: x.o.flags = VMMEM_REGION_POPULATE | VMMEM_REGION_DONTDUMP; break;
	default: x.o.flags = VMMEM_REGION_SHAREABLE | VMMEM_REGION_FD; errs = B(EINVAL); break;
	}
	TR("region_new", size, v);
	ret = vmmem_region_new(&r, size, opts);
	if (failed_ok("vmmem_region_new", ret, errs, false)) {
		CHECK(r == (struct vmmem_region *)&x, "vmmem_region_new wrote *out on failure");
		return;
	}
	check_region_queries(adopt_mapped(r, size, opts ? x.o.flags : 0, 1));
}

static void op_region_raw(void)
{
	uint8_t v = u8() % 8;
	uint64_t size = pick_rsize(), off = 0;
	struct vmmem_region *r = (struct vmmem_region *)&off;
	int i = nregs, ret;

	if (nregs == MAXREG)
		return;
	if (v >= 4) {
		/* Invalid: nothing may be created, release never called. */
		void *addr = big;
		unsigned int flags = 0;

		if (v == 4)
			addr = NULL;
		else if (v == 5)
			size = 0;
		else if (v == 6)
			flags = 1;
		else
			addr = (void *)(UINTPTR_MAX - 15), size = 32;
		TR("region_new_raw/invalid", v, size);
		ret = vmmem_region_new_raw(&r, addr, size, rel_cb, (void *)(intptr_t)-1, flags);
		failed_ok("vmmem_region_new_raw", ret, B(EINVAL), false);
		CHECK(r == (struct vmmem_region *)&off, "vmmem_region_new_raw wrote *out on failure");
		CHECK(!__atomic_load_n(&bad_release, __ATOMIC_ACQUIRE),
		      "vmmem_region_new_raw called release on failure");
		return;
	}
	if (v <= 1) {
		/* Its own heap block, freed by the release callback. */
		uint8_t *p = malloc(size);

		CHECK(p, "out of memory");
		rnd_fill(p, size);
		bufs[2 + i] = (struct mbuf){ .shadow = malloc(size), .host = p,
					     .size = size, .used = true };
		CHECK(bufs[2 + i].shadow, "out of memory");
		memcpy(bufs[2 + i].shadow, p, size);
		TR("region_new_raw/own", size);
		ret = vmmem_region_new_raw(&r, p, size, rel_cb, (void *)(intptr_t)i, 0);
		tr_ret(ret);
		if (ret) {
			free(p);
			free(bufs[2 + i].shadow);
			bufs[2 + i] = (struct mbuf){ 0 };
			fail("vmmem_region_new_raw: %d", ret);
		}
		new_reg(r, K_RAW_OWN, 2 + i, 0, size, p, 0);
		regs[i].has_release = true;
	} else {
		/* A piece of the arena, which other raw regions may overlap. */
		bool rel = v == 2;

		if (!arena) {
			arena = malloc(ARENA);
			CHECK(arena, "out of memory");
			memcpy(arena, pattern, ARENA);
			bufs[0] = (struct mbuf){ .shadow = malloc(ARENA), .host = arena,
						 .size = ARENA, .used = true };
			CHECK(bufs[0].shadow, "out of memory");
			memcpy(bufs[0].shadow, pattern, ARENA);
		}
		off = u16() % ARENA;
		if (size > ARENA - off)
			size = ARENA - off;
		TR("region_new_raw/arena", off, size, rel);
		ret = vmmem_region_new_raw(&r, arena + off, size,
					   rel ? rel_cb : NULL,
					   rel ? (void *)(intptr_t)i : NULL, 0);
		tr_ret(ret);
		CHECK(ret == 0, "vmmem_region_new_raw: %d", ret);
		new_reg(r, K_RAW_ARENA, 0, off, size, arena + off, 0);
		regs[i].has_release = rel;
	}
	check_region_queries(i);
}

static void reset_fdfile(void)
{
	if (bufs[1].used)
		return;
	memcpy(bhost, pattern, FDFILE);
	bufs[1] = (struct mbuf){ .shadow = malloc(FDFILE), .host = bhost,
				 .size = FDFILE, .used = true };
	CHECK(bufs[1].shadow, "out of memory");
	memcpy(bufs[1].shadow, pattern, FDFILE);
}

static void op_region_fd(void)
{
	struct vmmem_region_opts o = { .sz = sizeof(o) };
	struct vmmem_region *r = (struct vmmem_region *)&o;
	uint8_t v = u8() % 8;
	uint64_t size = pick_rsize();
	unsigned errs = 0;
	int ret;

	if (nregs == MAXREG)
		return;
	reset_fdfile();
	o.flags = VMMEM_REGION_FD;
	o.fd = bfd;
	o.offset = (uint64_t)(u8() % 17) * PAGE;
	if (v == 1)
		o.flags |= VMMEM_REGION_GUARD;
	else if (v == 2)
		o.offset += 1 + u8() % 255;
	else if (v == 3)
		o.fd = -1;
	else if (v == 4)
		o.flags |= VMMEM_REGION_SHAREABLE;
	else if (v == 5)
		o.offset = u64();
	if (o.offset % syspage)
		errs |= B(EINVAL);
	if (o.fd < 0)
		errs |= B(EBADF);
	if (o.flags & VMMEM_REGION_SHAREABLE)
		errs |= B(EINVAL);
	if (o.offset > FDFILE || size > FDFILE - o.offset)
		errs |= B(ENXIO) | (wraps(o.offset, size) || o.offset > INT64_MAX ? B(EINVAL) : 0);
	TR("region_new/fd", o.offset, size, v);
	ret = vmmem_region_new(&r, size, &o);
	if (failed_ok("vmmem_region_new(VMMEM_REGION_FD)", ret, errs, false)) {
		CHECK(r == (struct vmmem_region *)&o, "vmmem_region_new wrote *out on failure");
		return;
	}
	{
		void *host = NULL;

		ret = vmmem_region_host_address(r, &host);
		CHECK(ret == 0 && host, "vmmem_region_host_address: %d", ret);
		check_region_queries(new_reg(r, K_FD, 1, o.offset, size, host, o.flags));
	}
}

/* Pages of a lazy region from the input: none, one or two, or some
 * (sparse random bits), within the region's pages. */
static uint64_t pick_pages(uint64_t pages)
{
	uint64_t mask = (1ull << pages) - 1, v;
	uint8_t m = u8();

	switch (m % 4) {
	case 0: v = 0; break;
	case 1: v = 1ull << (u8() % pages); break;
	case 2: v = 1ull << (u8() % pages); v |= 1ull << (u8() % pages); break;
	default: v = u64() & u64(); break;
	}
	return v & mask;
}

/*
 * A region mapped on demand over the fake mapper (region_new_lazy()), with
 * a memfd of its own filled with random bytes, a cache bound of a few
 * pages, and maybe read-only, with pages not granted, or granted read-only;
 * or a size that is not a multiple of the page, refused.
 */
static void op_region_lazy(void)
{
	static const size_t bounds[] = { 16, 17, 24, 32, 48, 1, 4, 0 };
	uint8_t v = u8();
	uint64_t pages = 1 + u8() % LZ_MAXPAGES, size = pages * PAGE;
	size_t max_pages = bounds[u8() % 8];
	struct vmmem_region *r = (struct vmmem_region *)&v;
	struct lazy *z;
	int i = nregs, ret;

	if (nregs == MAXREG)
		return;
	z = &lz[i];
	*z = (struct lazy){ .memfd = -1, .reg = i, .max_pages = max_pages,
			    .readonly = v % 4 == 1, .nerr = (v >> 2) % LZ_NERR,
			    .keep = v & 0x20 };
	if (v % 8 == 7) {
		size = (v & 0x80) ? 0 : size - 1 - u8();
		TR("region_new_lazy/invalid", size);
		ret = region_new_lazy(&r, size, &lz_ops, z, z->keep, max_pages, false);
		failed_ok("region_new_lazy", ret, B(EINVAL), false);
		CHECK(r == (struct vmmem_region *)&v, "region_new_lazy wrote *out on failure");
		return;
	}
	z->pages = pages;
	if (v & 0x40) {
		z->not_granted = pick_pages(pages);
		z->ro_granted = pick_pages(pages);
	}
	z->memfd = memfd_create("vmmem-fuzz-lazy", MFD_CLOEXEC);
	if (z->memfd < 0 || ftruncate(z->memfd, (off_t)size) < 0)
		fail("lazy region's memfd: %s", strerror(errno));
	z->view = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, z->memfd, 0);
	if (z->view == MAP_FAILED)
		fail("lazy region's memfd: mmap: %s", strerror(errno));
	rnd_fill(z->view, size);
	bufs[2 + i] = (struct mbuf){ .shadow = malloc(size), .host = z->view,
				     .size = size, .used = true };
	CHECK(bufs[2 + i].shadow, "out of memory");
	memcpy(bufs[2 + i].shadow, z->view, size);
	TR("region_new_lazy", size, max_pages, z->readonly, z->not_granted, z->ro_granted,
	   (uint64_t)z->nerr, (uint64_t)z->keep);
	ret = region_new_lazy(&r, size, &lz_ops, z, z->keep, max_pages, z->readonly);
	tr_ret(ret);
	CHECK(ret == 0, "region_new_lazy: %d", ret);
	new_reg(r, K_LAZY, 2 + i, 0, size, NULL, 0);
	regs[i].lazy = true;
	regs[i].readonly = z->readonly;
	check_region_queries(i);
}

/* The cache of lazy region r against the fake mapper: the pages it counts
 * as mapped are the fake's live ones; none is pinned unless a vmmem_map()
 * mapping of the region is live, and there are more than the bound only
 * while all are pinned (vmmem_region_xen_cache_stats(3)); after an
 * invalidation, only pinned ones are left. */
static void lz_check_cache(int r, bool invalidated)
{
	struct vmmem_xen_cache_stats st = { .sz = sizeof(st) };
	uint64_t bound = lz[r].max_pages ? lz[r].max_pages : MAPCACHE_DEFAULT_PAGES;
	bool mapped = false;

	for (int k = 0; k < nmaps; k++)
		mapped |= maps[k].reg == r;
	mapcache_stats(regs[r].r->cache, &st);
	CHECK(st.mapped_pages == lz_live_pages(&lz[r]),
	      "lazy region %d: the cache counts %llu pages mapped, the mapper %llu", r,
	      (unsigned long long)st.mapped_pages, (unsigned long long)lz_live_pages(&lz[r]));
	CHECK(st.pinned_pages <= st.mapped_pages && (mapped || !st.pinned_pages),
	      "lazy region %d: %llu of %llu pages pinned, %s vmmem_map() mapping live", r,
	      (unsigned long long)st.pinned_pages, (unsigned long long)st.mapped_pages,
	      mapped ? "a" : "no");
	CHECK(st.mapped_pages <= bound || st.mapped_pages == st.pinned_pages,
	      "lazy region %d: %llu pages mapped (%llu pinned), over the bound of %llu", r,
	      (unsigned long long)st.mapped_pages, (unsigned long long)st.pinned_pages,
	      (unsigned long long)bound);
	CHECK((lz[r].keep && !invalidated) || st.mapped_pages == st.pinned_pages,
	      "lazy region %d: %llu pages still mapped (per access, or after an "
	      "invalidation), %llu pinned", r,
	      (unsigned long long)st.mapped_pages, (unsigned long long)st.pinned_pages);
}

static int pick_live_lazy(void)
{
	int live[MAXREG], n = 0;

	for (int r = 0; r < nregs; r++)
		if (!regs[r].gone && regs[r].lazy)
			live[n++] = r;
	n = pick_idx(n);
	return n < 0 ? -1 : live[n];
}

/* mapcache_invalidate(), as vmmem_region_xen_invalidate(3) does it; the
 * guest may change its grants meanwhile (only here: a mapping the cache
 * still had would keep a page it no longer grants).  The data stays. */
static void op_lazy_invalidate(void)
{
	int i = pick_live_lazy();
	uint8_t m = u8();

	if (i < 0)
		return;
	if (m & 1) {
		lz[i].not_granted = pick_pages(lz[i].pages);
		lz[i].ro_granted = pick_pages(lz[i].pages);
	}
	TR("mapcache_invalidate", i, lz[i].not_granted, lz[i].ro_granted);
	mapcache_invalidate(regs[i].r->cache);
	lz_check_cache(i, true);
}

static void op_region_ref(void)
{
	int i = pick_live_reg();
	bool ref = u8() & 1;

	if (i < 0)
		return;
	if (ref) {
		if (regs[i].refs >= 4)
			return;
		TR("region_ref", i);
		CHECK(vmmem_region_ref(regs[i].r) == regs[i].r, "vmmem_region_ref");
		regs[i].refs++;
		CHECK(vmmem_region_ref(NULL) == NULL, "vmmem_region_ref(NULL)");
	} else {
		if (!regs[i].refs)
			return;
		TR("region_unref", i);
		vmmem_region_unref(regs[i].r);
		regs[i].refs--;
		vmmem_region_unref(NULL);
		reap();
	}
}

static void op_region_query(void)
{
	int i = pick_live_reg();
	uint32_t d, f;
	bool invalidated;
	int ret;

	if (i < 0)
		return;
	TR("region_query", i);
	check_region_queries(i);
	CHECK(vmmem_region_size(regs[i].r, NULL) == -EINVAL, "vmmem_region_size(NULL)");
	CHECK(vmmem_region_flags(regs[i].r, NULL) == -EINVAL, "vmmem_region_flags(NULL)");
	CHECK(vmmem_region_host_address(regs[i].r, NULL) == -EINVAL,
	      "vmmem_region_host_address(NULL)");
	CHECK(vmmem_region_check(NULL) == -EINVAL, "vmmem_region_check(NULL)");
	ret = vmmem_region_xen(regs[i].r, &d, &f);
	CHECK(ret == -ENOENT, "vmmem_region_xen: %d", ret);
	CHECK(vmmem_region_xen(regs[i].r, NULL, &f) == -EINVAL, "vmmem_region_xen(NULL)");
	CHECK(vmmem_region_xen(regs[i].r, &d, NULL) == -EINVAL, "vmmem_region_xen(NULL)");
	ret = vmmem_region_xen_invalidate(regs[i].r);
	invalidated = ret == 0;
#ifdef HAVE_XEN
	/* Only a lazy region has a map cache. */
	CHECK(ret == (regs[i].lazy ? 0 : -ENOENT), "vmmem_region_xen_invalidate: %d", ret);
#else
	CHECK(ret == -EOPNOTSUPP, "vmmem_region_xen_invalidate: %d", ret);
#endif
	{
		struct vmmem_xen_cache_stats st = { .sz = sizeof(st) }, want = st;

		ret = vmmem_region_xen_cache_stats(regs[i].r, &st);
#ifdef HAVE_XEN
		if (regs[i].lazy) {
			mapcache_stats(regs[i].r->cache, &want);
			CHECK(ret == 0 && !memcmp(&st, &want, sizeof(st)),
			      "vmmem_region_xen_cache_stats: %d, or not the cache's counters", ret);
		} else {
			CHECK(ret == -ENOENT, "vmmem_region_xen_cache_stats: %d", ret);
		}
#else
		CHECK(ret == -EOPNOTSUPP, "vmmem_region_xen_cache_stats: %d", ret);
#endif
	}
	if (regs[i].lazy)
		lz_check_cache(i, invalidated);
}

static void op_discard(void)
{
	int i = pick_live_reg();
	uint8_t m = u8();
	uint64_t offset, len;
	unsigned errs = 0;
	int ret;

	if (i < 0)
		return;
	offset = (m & 1) ? u16() : (uint64_t)(u8() % 18) * syspage;
	len = (m & 2) ? u16() : (m & 4) ? u64() : (uint64_t)(u8() % 18) * syspage;
	if (offset % syspage || len % syspage || offset > regs[i].size ||
	    len > regs[i].size - offset)
		errs |= B(EINVAL);
	if (regs[i].kind == K_RAW_OWN || regs[i].kind == K_RAW_ARENA || regs[i].lazy)
		errs |= B(EOPNOTSUPP);
	if (regs[i].readonly)
		errs |= B(EACCES);
	TR("region_discard", i, offset, len);
	ret = vmmem_region_discard(regs[i].r, offset, len);
	if (failed_ok("vmmem_region_discard", ret, errs, len == 0))
		return;
	memset(bufs[regs[i].buf].shadow + regs[i].off + offset, 0, len);
}

/* ------------------------------------------------------------- hotplug */

static void op_add(void)
{
	int i = pick_live_reg(), ret;
	uint64_t gpa, size;
	unsigned errs = 0;

	if (i < 0 || npl == MAXPL)
		return;
	size = regs[i].size;
	gpa = pick_place_gpa(size);
	if (wraps(gpa, size))
		errs |= B(EINVAL);
	else
		for (int k = 0; k < npl; k++)
			if (gpa <= pl[k].gpa + (pl[k].size - 1) &&
			    pl[k].gpa <= gpa + (size - 1))
				errs |= B(EEXIST);
	TR("add_region", gpa, i, size);
	ret = vmmem_add_region(mem, gpa, regs[i].r);
	if (failed_ok("vmmem_add_region", ret, errs, false))
		return;
	{
		int k = npl++;

		while (k > 0 && pl[k - 1].gpa > gpa) {
			pl[k] = pl[k - 1];
			k--;
		}
		pl[k] = (struct mpl){ .gpa = gpa, .size = size, .reg = i };
	}
}

static void pl_remove(int k)
{
	memmove(&pl[k], &pl[k + 1], (size_t)(npl - k - 1) * sizeof(pl[0]));
	npl--;
}

static void op_remove(void)
{
	uint8_t m = u8() % 7;
	bool want = u8() & 1;
	struct vmmem_region *out = (struct vmmem_region *)&m;
	uint64_t gpa, size;
	unsigned errs = 0;
	int k = pick_idx(npl), found = -1, ret;

	if (k < 0)
		m = 6;
	switch (m) {
	case 0: case 1: case 2:
		gpa = pl[k].gpa; size = pl[k].size; break;
	case 3: gpa = pl[k].gpa + 1; size = pl[k].size; break;
	case 4: gpa = pl[k].gpa; size = pl[k].size + (u8() & 1 ? 1 : -1); break;
	case 5: gpa = pl[k].gpa; size = 0; break;
	default: gpa = pick_gpa(); size = pick_len(gpa); break;
	}
	if (!size || wraps(gpa, size)) {
		errs |= B(EINVAL);
	} else {
		for (int j = 0; j < npl; j++)
			if (pl[j].gpa == gpa && pl[j].size == size)
				found = j;
		if (found < 0)
			errs |= B(ENOENT);
	}
	TR("remove_region", gpa, size, want);
	ret = vmmem_remove_region(mem, gpa, size, want ? &out : NULL);
	if (failed_ok("vmmem_remove_region", ret, errs, false)) {
		CHECK(out == (struct vmmem_region *)&m, "vmmem_remove_region wrote *removed on failure");
		return;
	}
	if (want) {
		CHECK(out == regs[pl[found].reg].r, "vmmem_remove_region: removed %p, expected %p",
		      (void *)out, (void *)regs[pl[found].reg].r);
		regs[pl[found].reg].refs++;
	}
	pl_remove(found);
	reap();
}

static void op_find(void)
{
	uint64_t gpa = pick_gpa(), off = 0xdead;
	uint8_t m = u8();
	struct vmmem_region *r = (struct vmmem_region *)&off;
	int i = pl_find(gpa), ret;

	TR("find_region", gpa, m & 3);
	ret = vmmem_find_region(mem, gpa, (m & 1) ? NULL : &r, (m & 2) ? NULL : &off);
	if (failed_ok("vmmem_find_region", ret, i < 0 ? B(EFAULT) : 0, false)) {
		CHECK(r == (struct vmmem_region *)&off && off == 0xdead,
		      "vmmem_find_region wrote its outputs on failure");
		return;
	}
	if (!(m & 2))
		CHECK(off == gpa - pl[i].gpa, "vmmem_find_region: offset %#llx, expected %#llx",
		      (unsigned long long)off, (unsigned long long)(gpa - pl[i].gpa));
	if (!(m & 1)) {
		CHECK(r == regs[pl[i].reg].r, "vmmem_find_region: region %p, expected %p",
		      (void *)r, (void *)regs[pl[i].reg].r);
		vmmem_region_unref(r);
	}
}

static struct {
	int calls, stop_at, remove_at;
	long stop_val;
	uint64_t gpa[MAXPL];
	struct vmmem_region *r[MAXPL];
	int remove_ret;
} fe;

static int foreach_cb(uint64_t gpa, struct vmmem_region *r, void *opaque)
{
	int n = fe.calls++;

	if (opaque != &fe || n >= MAXPL)
		fail("vmmem_foreach_region: callback %d, opaque %p", n, opaque);
	fe.gpa[n] = gpa;
	fe.r[n] = r;
	if (n == fe.remove_at) {
		uint64_t size = 0;

		vmmem_region_size(r, &size);
		fe.remove_ret = vmmem_remove_region(mem, gpa, size, NULL);
	}
	return n == fe.stop_at ? (int)fe.stop_val : 0;
}

static void op_foreach(void)
{
	uint8_t m = u8();
	int ret, expect_calls;

	memset(&fe, 0, sizeof(fe));
	fe.stop_at = pick_idx(npl);
	if (!(m & 1))
		fe.stop_at = -1;
	fe.stop_val = 1 + u8() % 100;
	fe.remove_at = pick_idx(npl);
	if (!(m & 2))
		fe.remove_at = -1;
	if (fe.stop_at >= 0 && fe.remove_at > fe.stop_at)
		fe.remove_at = -1;
	TR("foreach_region", (uint64_t)fe.stop_at, (uint64_t)fe.remove_at);
	ret = vmmem_foreach_region(mem, foreach_cb, &fe);
	tr_ret(ret);
	expect_calls = fe.stop_at >= 0 ? fe.stop_at + 1 : npl;
	CHECK(ret == (fe.stop_at >= 0 ? fe.stop_val : 0),
	      "vmmem_foreach_region returned %d", ret);
	CHECK(fe.calls == expect_calls, "vmmem_foreach_region: %d calls, expected %d",
	      fe.calls, expect_calls);
	for (int i = 0; i < fe.calls; i++)
		CHECK(fe.gpa[i] == pl[i].gpa && fe.r[i] == regs[pl[i].reg].r,
		      "vmmem_foreach_region: call %d got %#llx %p, expected %#llx %p", i,
		      (unsigned long long)fe.gpa[i], (void *)fe.r[i],
		      (unsigned long long)pl[i].gpa, (void *)regs[pl[i].reg].r);
	if (fe.remove_at >= 0) {
		CHECK(fe.remove_ret == 0, "vmmem_remove_region in a callback: %d", fe.remove_ret);
		pl_remove(fe.remove_at);
		reap();
	}
}

static void op_space_query(void)
{
	uint64_t last = 0xdead, gpa = pick_gpa(), len = pick_len(gpa);
	unsigned errs = 0;
	int ret;

	TR("num_regions/last_addr/check_range", gpa, len);
	ret = vmmem_num_regions(mem);
	CHECK(ret == npl, "vmmem_num_regions: %d, expected %d", ret, npl);
	ret = vmmem_last_addr(mem, &last);
	if (!npl)
		CHECK(ret == -ENOENT && last == 0xdead, "vmmem_last_addr: %d, expected -ENOENT", ret);
	else
		CHECK(ret == 0 && last == pl[npl - 1].gpa + (pl[npl - 1].size - 1),
		      "vmmem_last_addr: %d %#llx", ret, (unsigned long long)last);
	CHECK(vmmem_last_addr(mem, NULL) == -EINVAL, "vmmem_last_addr(NULL)");
	if (wraps(gpa, len))
		errs |= B(EINVAL);
	else if (m_backed(gpa, len) != len)
		errs |= B(EFAULT);
	ret = vmmem_check_range(mem, gpa, len);
	failed_ok("vmmem_check_range", ret, errs, false);
	CHECK(ret <= 0, "vmmem_check_range: %d", ret);
}

/* ------------------------------------------------------------ accesses */

static void op_rw(bool write)
{
	uint64_t gpa = pick_gpa(), len = pick_len(gpa), p = 0;
	bool nullbuf = (u8() & 15) == 0;
	unsigned errs = 0;
	uint8_t *buf;
	ssize_t ret;
	int err;

	if ((nullbuf && len) || len > SSIZE_MAX || wraps(gpa, len))
		errs |= B(EINVAL);
	if (!wraps(gpa, len) && len) {
		/* Up to a hole, a read-only region (write) or a page the
		 * mapper refuses; if that is gpa, its error. */
		p = m_reach(gpa, len, write, INT_MAX, false, &err);
		if (!p)
			errs |= B(-err);
	}
	if (p > BIG)
		return;
	buf = nullbuf ? NULL : bufptr(len);
	if (buf) {
		if (write)
			write_data(buf, p, len);
		else
			fill_pattern(buf, min64(min64(len, BIG), p + 64));
	}
	TR(write ? "write" : "read", gpa, len, nullbuf);
	ret = write ? vmmem_write(mem, gpa, buf, len) : vmmem_read(mem, gpa, buf, len);
	if (failed_ok(write ? "vmmem_write" : "vmmem_read", ret, errs, false)) {
		if (buf && !write)
			CHECK(is_pattern(buf, min64(min64(len, BIG), 64)),
			      "vmmem_read wrote the buffer on failure");
		return;
	}
	CHECK((uint64_t)ret == p, "%s: returned %zd, expected %#llx",
	      write ? "vmmem_write" : "vmmem_read", ret, (unsigned long long)p);
	if (write) {
		m_access(gpa, buf, p, true);
		m_mark(gpa, p);
	} else if (buf) {
		check_bytes("vmmem_read", gpa, buf, p);
		CHECK(is_pattern(buf + p, min64(min64(len, BIG), p + 64) - p),
		      "vmmem_read wrote past the bytes it returned");
	}
}

static void op_rw_exact(bool write)
{
	uint64_t gpa = pick_gpa(), len = pick_len(gpa), n = 0;
	bool nullbuf = (u8() & 15) == 0;
	unsigned errs = 0;
	uint8_t *buf;
	int ret;

	if ((nullbuf && len) || len > SSIZE_MAX || wraps(gpa, len))
		errs |= B(EINVAL);
	else
		errs |= m_exact(gpa, len, write, &n);
	if (n > BIG || (!errs && len > BIG))
		return;
	buf = nullbuf ? NULL : bufptr(len);
	if (buf) {
		if (write)
			write_data(buf, errs ? n : len, len);
		else
			fill_pattern(buf, min64(len, BIG));
	}
	TR(write ? "write_exact" : "read_exact", gpa, len, nullbuf);
	ret = write ? vmmem_write_exact(mem, gpa, buf, len)
		    : vmmem_read_exact(mem, gpa, buf, len);
	if (failed_ok(write ? "vmmem_write_exact" : "vmmem_read_exact", ret, errs, false)) {
		/* Nothing copied, or the bytes before a refused page. */
		if (buf && !write) {
			check_bytes("vmmem_read_exact (failed)", gpa, buf, n);
			CHECK(is_pattern(buf + n, min64(len, BIG) - n),
			      "vmmem_read_exact wrote the buffer on failure");
		}
		if (write) {
			m_access(gpa, buf, n, true);
			m_mark(gpa, n);
		}
		return;
	}
	CHECK(ret == 0, "exact access returned %d", ret);
	if (write) {
		m_access(gpa, buf, len, true);
		m_mark(gpa, len);
	} else {
		check_bytes("vmmem_read_exact", gpa, buf, len);
	}
}

static uint64_t le_get(const uint8_t *b, unsigned n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | b[n];
	return v;
}

static void op_le(void)
{
	static const unsigned sizes[] = { 2, 4, 8 };
	uint8_t m = u8() % 6;
	unsigned n = sizes[m % 3];
	uint64_t gpa = pick_gpa(), val = u64(), got = 0x5a5a5a5a5a5a5a5aull, done = 0;
	unsigned errs = 0;
	uint8_t b[8];
	int ret;

	/* vmmem_read_exact(3) and vmmem_write_exact(3) */
	if (wraps(gpa, n))
		errs |= B(EINVAL) | B(EFAULT);
	else
		errs |= m_exact(gpa, n, m >= 3, &done);
	TR(m < 3 ? "read_le" : "write_le", gpa, n, val);
	if (m < 3) {
		uint16_t v16 = 0x5a5a;
		uint32_t v32 = 0x5a5a5a5a;

		if (n == 2)
			ret = vmmem_read_le16(mem, gpa, &v16), got = v16;
		else if (n == 4)
			ret = vmmem_read_le32(mem, gpa, &v32), got = v32;
		else
			ret = vmmem_read_le64(mem, gpa, &got);
		if (failed_ok("vmmem_read_le", ret, errs, false)) {
			CHECK(got == (0x5a5a5a5a5a5a5a5aull >> (64 - 8 * n)),
			      "vmmem_read_le changed *val on failure");
			return;
		}
		m_access(gpa, b, n, false);
		CHECK(got == le_get(b, n), "vmmem_read_le%u: %#llx, model %#llx", 8 * n,
		      (unsigned long long)got, (unsigned long long)le_get(b, n));
	} else {
		if (n == 2)
			ret = vmmem_write_le16(mem, gpa, (uint16_t)val);
		else if (n == 4)
			ret = vmmem_write_le32(mem, gpa, (uint32_t)val);
		else
			ret = vmmem_write_le64(mem, gpa, val);
		for (unsigned k = 0; k < n; k++)
			b[k] = (uint8_t)(val >> (8 * k));
		if (!failed_ok("vmmem_write_le", ret, errs, false))
			done = n;
		m_access(gpa, b, done, true);
		m_mark(gpa, done);
	}
}

static bool size_valid(size_t size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

static bool load_order_ok(int o)
{
	return o == VMMEM_ORDER_RELAXED || o == VMMEM_ORDER_CONSUME ||
	       o == VMMEM_ORDER_ACQUIRE || o == VMMEM_ORDER_SEQ_CST;
}

static bool store_order_ok(int o)
{
	return o == VMMEM_ORDER_RELAXED || o == VMMEM_ORDER_RELEASE ||
	       o == VMMEM_ORDER_SEQ_CST;
}

/* The errors of vmmem_load()/vmmem_store() at gpa, arguments aside. */
static unsigned atomic_addr_errs(uint64_t gpa, size_t size, bool write)
{
	int i, err;

	if (wraps(gpa, size))
		return B(EFAULT);
	i = pl_find(gpa);
	if (i < 0)
		return B(EFAULT);
	if (size > pl_avail(i, gpa))
		return m_backed(gpa, size) == size ? B(ERANGE) : B(EFAULT);
	if (regs[pl[i].reg].lazy) {
		/* The view first (a misaligned access may cross a page, and
		 * then gets its first page), then the alignment of the
		 * mapping, which is that of the offset in the region. */
		if (!m_view(i, gpa, size, write, false, &err))
			return B(-err);
		return (gpa - pl[i].gpa) % size ? B(EINVAL) : 0;
	}
	if ((uintptr_t)host_at(i, gpa) % size)
		return B(EINVAL);
	return 0;
}

static void op_load_store(bool store)
{
	static const size_t sizes[] = { 1, 2, 4, 8, 1, 2, 4, 8, 0, 3, 16, 6 };
	size_t size = sizes[u8() % 12];
	int order = (int)(u8() % 8) - 1;
	uint64_t gpa = pick_gpa(), val = u64(), got = 0x1234;
	bool nullval = !store && (u8() & 15) == 0;
	unsigned errs = 0;
	uint8_t b[8];
	int ret;

	if (!size_valid(size)) {
		errs |= B(EINVAL);
	} else {
		if (gpa % size)
			errs |= B(EINVAL);
		errs |= atomic_addr_errs(gpa, size, store);
	}
	if (nullval || !(store ? store_order_ok(order) : load_order_ok(order)))
		errs |= B(EINVAL);
	TR(store ? "store" : "load", gpa, size, (uint64_t)order, val);
	ret = store ? vmmem_store(mem, gpa, size, val, order)
		    : vmmem_load(mem, gpa, size, nullval ? NULL : &got, order);
	if (failed_ok(store ? "vmmem_store" : "vmmem_load", ret, errs, false)) {
		CHECK(got == 0x1234, "vmmem_load changed *val on failure");
		return;
	}
	CHECK(ret == 0, "load/store returned %d", ret);
	if (store) {
		for (size_t k = 0; k < size; k++)
			b[k] = (uint8_t)(val >> (8 * k));
		m_access(gpa, b, size, true);
		m_mark(gpa, size);
	} else {
		m_access(gpa, b, size, false);
		CHECK(got == le_get(b, (unsigned)size), "vmmem_load: %#llx, model %#llx",
		      (unsigned long long)got, (unsigned long long)le_get(b, (unsigned)size));
	}
}

static void op_fill(void)
{
	uint64_t gpa = pick_gpa(), len = pick_len(gpa);
	int byte = (int)u16() - 0x100;
	uint64_t n = 0;
	unsigned errs = 0;
	int ret;

	if (wraps(gpa, len))
		errs |= B(EINVAL);
	else
		errs |= m_exact(gpa, len, true, &n);
	if (!errs && len > BIG)
		return;                 /* more than the model's scratch */
	TR("fill", gpa, len, (uint64_t)byte);
	ret = vmmem_fill(mem, gpa, byte, len);
	if (!failed_ok("vmmem_fill", ret, errs, false)) {
		CHECK(ret == 0, "vmmem_fill: %d", ret);
		n = len;
	}
	/* All, nothing, or the bytes before a refused page. */
	memset(scratch, (unsigned char)byte, n);
	m_access(gpa, scratch, n, true);
	m_mark(gpa, n);
}

/* Do distinct placements touched by the two ranges share backing bytes? */
static bool ranges_alias(uint64_t a, uint64_t b, uint64_t len)
{
	int t[2 * MAXPL], n = 0;

	for (int i = 0; i < npl; i++) {
		uint64_t last = pl[i].gpa + (pl[i].size - 1);

		if ((a <= last && pl[i].gpa <= a + (len - 1)) ||
		    (b <= last && pl[i].gpa <= b + (len - 1)))
			t[n++] = i;
	}
	for (int x = 0; x < n; x++)
		for (int y = x + 1; y < n; y++) {
			const struct mreg *p = &regs[pl[t[x]].reg];
			const struct mreg *q = &regs[pl[t[y]].reg];

			if (p->buf == q->buf && p->off < q->off + q->size &&
			    q->off < p->off + p->size)
				return true;
		}
	return false;
}

/* One piece of an aliased copy, as vmmem_copy(3) goes: can the model tell
 * what memmove(3) leaves there?  Not when source and destination are the
 * same bytes through two different mappings (two fd regions over one file):
 * memmove() sees no overlap, and its order of copying decides. */
static bool piece_defined(int d, uint64_t dst, int s, uint64_t src, uint64_t n)
{
	const struct mreg *p = &regs[pl[d].reg], *q = &regs[pl[s].reg];
	uint64_t od = p->off + (dst - pl[d].gpa), os = q->off + (src - pl[s].gpa);

	return p->buf != q->buf || od + n <= os || os + n <= od ||
	       host_at(d, dst) - od == host_at(s, src) - os;
}

/* Walks an aliased copy piece by piece (vmmem_copy(3), NOTES: in ascending
 * GPA order, descending where the destination starts inside the source, as
 * memmove(3) does); applies it to the model, or only checks that every
 * piece is defined. */
static bool copy_pieces(uint64_t dst, uint64_t src, uint64_t len, bool apply)
{
	if (dst < src || dst - src >= len) {
		for (uint64_t done = 0; done < len;) {
			int s = pl_find(src + done), d = pl_find(dst + done);
			uint64_t n = min64(len - done, min64(pl_avail(s, src + done),
							     pl_avail(d, dst + done)));

			if (!apply && !piece_defined(d, dst + done, s, src + done, n))
				return false;
			if (apply)
				memmove(shadow_at(d, dst + done), shadow_at(s, src + done), n);
			done += n;
		}
		return true;
	}
	for (uint64_t left = len; left;) {
		uint64_t es = src + left - 1, ed = dst + left - 1, n = left;
		int s = pl_find(es), d = pl_find(ed);

		n = min64(n, es - pl[s].gpa + 1);
		n = min64(n, ed - pl[d].gpa + 1);
		if (!apply && !piece_defined(d, ed + 1 - n, s, es + 1 - n, n))
			return false;
		if (apply)
			memmove(shadow_at(d, ed + 1 - n), shadow_at(s, es + 1 - n), n);
		left -= n;
	}
	return true;
}

/* The bounce buffer's chunk (lib/access/rw.c, BOUNCE_MAX): 255 pages. */
#define BOUNCE_CHUNK (255 * PAGE)

/* vmmem_copy(3) of ranges that touch a lazy region, which has no address
 * to memmove between: through a buffer of up to 255 pages, chunk after
 * chunk, from the end when the destination starts inside the source, each
 * chunk read whole before it is written; a refused page stops it with its
 * error after what came before.  Applied to the model; returns 0 or the
 * error. */
static int m_copy_bounced(uint64_t dst, uint64_t src, uint64_t len)
{
	static uint8_t chunk[BOUNCE_CHUNK];
	bool backwards = dst > src && dst - src < len;
	int err;

	for (uint64_t done = 0; done < len;) {
		uint64_t n = min64(len - done, BOUNCE_CHUNK), k;
		uint64_t at = backwards ? len - done - n : done;

		if (m_reach(src + at, n, false, INT_MAX, false, &err) < n)
			return err;
		m_access(src + at, chunk, n, false);
		k = m_reach(dst + at, n, true, INT_MAX, false, &err);
		m_access(dst + at, chunk, k, true);
		m_mark(dst + at, k);
		if (k < n)
			return err;
		done += n;
	}
	return 0;
}

static void op_copy(void)
{
	uint8_t m = u8();
	uint64_t dst = pick_gpa(), src = (m & 1) ? pick_gpa() :
			dst + (uint64_t)(int64_t)(int16_t)u16();
	uint64_t len = pick_len((m & 2) ? src : dst);
	unsigned errs = 0;
	bool bounced;
	int ret, err = 0;

	if (wraps(dst, len) || wraps(src, len))
		errs |= B(EINVAL);
	else if (len && (m_backed(src, len) != len || m_backed(dst, len) != len))
		errs |= B(EFAULT);
	if (!(errs & B(EINVAL)) && len && m_touches(dst, len, M_READONLY))
		errs |= B(EACCES);
	bounced = !errs && len && (m_touches(src, len, M_LAZY) || m_touches(dst, len, M_LAZY));
	if (!errs && !bounced && len > BIG)
		return;                 /* more than the model's scratch */
	if (!errs && len && !bounced && ranges_alias(dst, src, len) &&
	    !copy_pieces(dst, src, len, false))
		return;
	TR("copy", dst, src, len, bounced);
	/* Applied to the model before the call: nothing reads it meanwhile. */
	if (bounced)
		err = m_copy_bounced(dst, src, len);
	ret = vmmem_copy(mem, dst, src, len);
	if (failed_ok("vmmem_copy", ret, errs | (err ? B(-err) : 0), false))
		return;
	CHECK(ret == 0, "vmmem_copy: %d", ret);
	if (!len || bounced)
		return;
	if (!ranges_alias(dst, src, len)) {
		/* memmove(3): the destination gets what the source held. */
		m_access(src, scratch, len, false);
		m_access(dst, scratch, len, true);
	} else {
		copy_pieces(dst, src, len, true);
	}
	m_mark(dst, len);
}

/* Writes a few bytes through a host pointer of [gpa, ...), as a device
 * would, and records them in the model (the library cannot log them). */
static void poke(uint8_t *host, uint64_t gpa, uint64_t max)
{
	uint64_t n = min64(max, u8() % 24);
	uint8_t b[24];

	rnd_fill(b, n);
	memcpy(host, b, n);
	m_access(gpa, b, n, true);
}

static void op_host_address(void)
{
	uint64_t gpa = pick_gpa(), len = pick_len(gpa);
	bool nullhost = (u8() & 15) == 0;
	void *host = (void *)&len;
	unsigned errs = 0;
	int i = pl_find(gpa), ret;

	if (nullhost || !len || wraps(gpa, len))
		errs |= B(EINVAL);
	if (len && !wraps(gpa, len)) {
		if (m_backed(gpa, len) != len)
			errs |= B(EFAULT);
		else if (len > pl_avail(i, gpa))
			errs |= B(ERANGE);
		else if (regs[pl[i].reg].lazy)
			errs |= B(ENXIO);
	}
	TR("host_address", gpa, len, nullhost);
	ret = vmmem_host_address(mem, gpa, len, nullhost ? NULL : &host);
	if (failed_ok("vmmem_host_address", ret, errs, false)) {
		CHECK(host == (void *)&len, "vmmem_host_address wrote *host on failure");
		return;
	}
	CHECK(host == host_at(i, gpa), "vmmem_host_address: %p, expected %p", host,
	      (void *)host_at(i, gpa));
	check_bytes("vmmem_host_address", gpa, host, min64(len, 64));
	if (u8() & 1)
		poke(host, gpa, len);
}

/* The error of vmmem_iovec() over [gpa, gpa + len): that of its first byte,
 * in GPA order, that cannot be described, a hole (-EFAULT) or a lazy region
 * (-ENXIO); 0 if none. */
static unsigned m_iovec_err(uint64_t gpa, uint64_t len)
{
	uint64_t done = 0;

	while (done < len) {
		int i = pl_find(gpa + done);

		if (i < 0)
			return B(EFAULT);
		if (regs[pl[i].reg].lazy)
			return B(ENXIO);
		done += min64(len - done, pl_avail(i, gpa + done));
	}
	return 0;
}

/* Checks iov[0, min(cnt, needed)) against the pieces of [gpa, gpa + len). */
static void check_iov(const char *what, const struct iovec *iov, size_t cnt,
		      size_t *at, uint64_t gpa, uint64_t len)
{
	uint64_t done = 0;

	while (done < len) {
		int i = pl_find(gpa + done);
		uint64_t n = min64(len - done, pl_avail(i, gpa + done));

		if (*at < cnt) {
			CHECK(iov[*at].iov_base == host_at(i, gpa + done) &&
			      iov[*at].iov_len == n,
			      "%s: iov[%zu] = %p %#zx, expected %p %#llx", what, *at,
			      iov[*at].iov_base, iov[*at].iov_len,
			      (void *)host_at(i, gpa + done), (unsigned long long)n);
		}
		(*at)++;
		done += n;
	}
}

static void op_iovec(void)
{
	uint64_t gpa = pick_gpa(), len = pick_len(gpa);
	uint8_t m = u8();
	size_t cnt = m % 10;
	struct iovec *iov = cnt ? malloc(cnt * sizeof(*iov)) : NULL;
	unsigned errs = 0;
	size_t at = 0;
	int ret, expect;

	if (cnt && (m & 0x80)) {
		free(iov);
		iov = NULL;
	}
	if ((!iov && cnt) || wraps(gpa, len))
		errs |= B(EINVAL);
	else if (m_backed(gpa, len) != len)
		errs |= B(EFAULT);
	if (!wraps(gpa, len) && m_touches(gpa, len, M_LAZY))
		errs |= B(ENXIO);       /* no host address to give */
	TR("iovec", gpa, len, cnt, !iov);
	ret = vmmem_iovec(mem, gpa, len, iov, cnt);
	if (failed_ok("vmmem_iovec", ret, errs, false)) {
		free(iov);
		return;
	}
	expect = len ? m_pieces(gpa, len) : 0;
	CHECK(ret == expect, "vmmem_iovec: %d, expected %d", ret, expect);
	if (len)
		check_iov("vmmem_iovec", iov, cnt, &at, gpa, len);
	if (ret > 0 && cnt && (m & 0x40))
		poke(iov[0].iov_base, gpa, iov[0].iov_len);
	free(iov);
}

/* ------------------------------------------------------------- mappings */

/* A second live mapping with the same pointer but another GPA or region
 * would leave the model unable to tell which one an unmap ends; the man
 * page does not say, so such a call (at gpa, in placement i) is not made.
 * The pointer into a lazy region is not known before the call: it is that
 * of a live mapping of the same bytes of the region if they share a cache
 * entry, so none may be live at another GPA. */
static bool map_ambiguous(int i, uint64_t gpa)
{
	int reg = pl[i].reg;

	for (int k = 0; k < nmaps; k++) {
		if (maps[k].gpa == gpa && maps[k].reg == reg)
			continue;
		if (regs[reg].lazy ? maps[k].reg == reg &&
				     maps[k].gpa - maps[k].pgpa == gpa - pl[i].gpa
				   : maps[k].host == host_at(i, gpa))
			return true;
	}
	return false;
}

/* The pointer vmmem_map() gave for gpa in lazy placement i: inside one live
 * mapping the mapper made of the region, at the offset of gpa, for the
 * length mapped, writable if asked; and, as a pointer, no other live
 * mapping's but one of the same GPA. */
static void check_lazy_pointer(const char *what, int i, uint64_t gpa,
			       const uint8_t *host, uint64_t len, bool write)
{
	const struct lzmap *l = lz_holding(&lz[pl[i].reg], host, len);
	uint64_t off = gpa - pl[i].gpa;

	CHECK(l, "%s: %p + %#llx is not in a live mapping of lazy region %d", what,
	      (const void *)host, (unsigned long long)len, pl[i].reg);
	CHECK(l->first * PAGE + (uint64_t)(host - l->addr) == off,
	      "%s: %p maps offset %#llx of lazy region %d, expected %#llx", what,
	      (const void *)host, (unsigned long long)(l->first * PAGE + (uint64_t)(host - l->addr)),
	      pl[i].reg, (unsigned long long)off);
	CHECK(!write || l->writable, "%s: %p is in a read-only mapping", what,
	      (const void *)host);
	for (int k = 0; k < nmaps; k++)
		CHECK(maps[k].host != host || (maps[k].gpa == gpa && maps[k].reg == pl[i].reg),
		      "%s: %p is also the pointer of a live mapping at %#llx", what,
		      (const void *)host, (unsigned long long)maps[k].gpa);
}

static void add_mapping(uint8_t *host, uint64_t gpa, uint64_t len,
			unsigned int flags)
{
	int i = pl_find(gpa);
	struct mmapping *m = &maps[nmaps++];

	*m = (struct mmapping){ .host = host, .gpa = gpa, .pgpa = pl[i].gpa,
				.len = len, .reg = pl[i].reg,
				.writable = flags & VMMEM_MAP_WRITE };
	check_bytes("vmmem_map", gpa, host, min64(len, 64));
	if (m->writable) {
		uint64_t n = min64(len, u8() % 48);

		rnd_fill(scratch + BIG / 2, n);
		memcpy(host, scratch + BIG / 2, n);
		m_access(gpa, scratch + BIG / 2, n, true);
		m->wrote = n;
	}
}

static void op_map(void)
{
	uint64_t gpa = pick_gpa(), len = pick_len(gpa), l = len;
	uint8_t m = u8();
	unsigned int flags = m % 5;
	void *host = &len;
	unsigned errs = 0;
	uint64_t want = 0;
	int i = pl_find(gpa), ret, err;

	if (nmaps == MAXMAP)
		return;
	if ((m & 0x20) || !len || !flags || (flags & ~3u) || wraps(gpa, len))
		errs |= B(EINVAL);
	if (i < 0)
		errs |= B(EFAULT);
	if (!errs) {
		/* Up to the end of the region, or of the view of a lazy one. */
		want = m_view(i, gpa, len, flags & VMMEM_MAP_WRITE, false, &err);
		if (!want)
			errs |= B(-err);
	}
	if (!errs && map_ambiguous(i, gpa))
		return;
	TR("map", gpa, len, flags, (m & 0x20) != 0);
	ret = vmmem_map(mem, gpa, (m & 0x20) && (m & 0x40) ? NULL : &l, flags,
			(m & 0x20) && !(m & 0x40) ? NULL : &host);
	if (failed_ok("vmmem_map", ret, errs, false)) {
		CHECK(l == len && host == (void *)&len, "vmmem_map wrote *len or *host on failure");
		return;
	}
	if (regs[pl[i].reg].lazy) {
		CHECK(l == want, "vmmem_map: length %#llx, expected %#llx",
		      (unsigned long long)l, (unsigned long long)want);
		check_lazy_pointer("vmmem_map", i, gpa, host, l, flags & VMMEM_MAP_WRITE);
	} else {
		CHECK(host == host_at(i, gpa) && l == want,
		      "vmmem_map: %p %#llx, expected %p %#llx", host, (unsigned long long)l,
		      (void *)host_at(i, gpa), (unsigned long long)want);
	}
	add_mapping(host, gpa, l, flags);
}

/* vmmem_unmap(3) ends "the mapping whose pointer vmmem_map() returned": of
 * several live ones with that pointer (same GPA, see map_ambiguous()), the
 * one that can account for the bytes written, read-only first, then the
 * shortest; any other choice could make a later valid unmap fail. */
static void do_unmap(bool via_iommu)
{
	uint8_t m = u8();
	int k = (int)(u8() % (nmaps + 2)), take = -1;
	uint8_t *host;
	uint64_t written;
	bool any = false;
	unsigned errs = 0;
	int ret;

	if (k < nmaps) {
		host = maps[k].host;
		switch (m % 4) {
		case 0: written = maps[k].wrote; break;
		case 1: written = 0; break;
		case 2: written = maps[k].len + 1; break;
		default: written = u8(); break;
		}
	} else if (k == nmaps) {
		host = nmaps ? maps[0].host + 1 + u8() % 8 : big;
		written = 0;
	} else {
		host = NULL;
		written = 0;
	}
	for (int i = 0; i < nmaps; i++) {
		if (maps[i].host != host)
			continue;
		any = true;
		if (written > maps[i].len || (written && !maps[i].writable))
			continue;
		if (take < 0 || (!maps[i].writable && maps[take].writable) ||
		    (maps[i].writable == maps[take].writable && maps[i].len < maps[take].len))
			take = i;
	}
	if (!host)
		errs |= B(EINVAL);
	else if (!any)
		errs |= B(ENOENT);
	else if (take < 0)
		errs |= B(EINVAL);
	TR(via_iommu ? "iommu_unmap" : "unmap", (uint64_t)(uintptr_t)host, written, (uint64_t)k);
	ret = via_iommu ? vmmem_iommu_unmap(iommu, host, written)
			: vmmem_unmap(mem, host, written);
	if (failed_ok(via_iommu ? "vmmem_iommu_unmap" : "vmmem_unmap", ret, errs, false))
		return;
	if (written) {
		/* Logged only while the region is still placed where it was
		 * mapped: otherwise it is no longer guest memory there. */
		int i = pl_find(maps[take].gpa);

		if (i >= 0 && pl[i].reg == maps[take].reg && pl[i].gpa == maps[take].pgpa)
			m_mark(maps[take].gpa, written);
	}
	memmove(&maps[take], &maps[take + 1], (size_t)(nmaps - take - 1) * sizeof(maps[0]));
	nmaps--;
	reap();
}

/* -------------------------------------------------------------- fd I/O */

static int pick_fd(int *sel)
{
	*sel = u8() % 8;
	if (*sel >= FD_NSEL)
		*sel = FD_RW;
	switch (*sel) {
	case FD_RW: case FD_RO: case FD_WO: return iofd[*sel];
	case FD_NEG: return -1;
	default: return closed_fd;
	}
}

enum fdop { OP_READ_FD, OP_PREAD_FD, OP_WRITE_FD, OP_PWRITE_FD };

/* The model of vmmem_read_fd() and its relatives at (gpa, len), arguments
 * already checked: sets *errs, or returns the count and applies it. */
struct fdio_exp {
	unsigned errs;
	bool zero_ok;                 /* len 0: no system call to refuse fd */
	uint64_t n, pos;
	bool to_guest;
};

static struct fdio_exp fdio_model(enum fdop op, uint64_t gpa, int sel,
				  uint64_t len, int64_t offset)
{
	struct fdio_exp e = { 0 };
	bool positional = op == OP_PREAD_FD || op == OP_PWRITE_FD;
	uint64_t p;
	int err;

	e.to_guest = op == OP_READ_FD || op == OP_PREAD_FD;
	if (len > SSIZE_MAX || wraps(gpa, len) || (positional && offset < 0))
		e.errs |= B(EINVAL);
	if (sel == FD_NEG || sel == FD_CLOSED ||
	    (e.to_guest && sel == FD_WO) || (!e.to_guest && sel == FD_RO))
		e.errs |= B(EBADF);
	e.zero_ok = !len && sel != FD_NEG;
	if (!len || wraps(gpa, len))
		return e;
	/* One piece per region, per bucket of a lazy one, up to a hole, a
	 * read-only region (into guest memory) or a refused page. */
	p = m_reach(gpa, len, e.to_guest, FDIO_MAX_IOV, false, &err);
	if (!p)
		e.errs |= B(-err);
	if (e.errs)
		return e;
	e.pos = positional ? (uint64_t)offset : iopos[sel];
	if (e.to_guest)
		e.n = e.pos < iosize ? min64(p, iosize - e.pos) : 0;
	else
		e.n = p;
	return e;
}

/* After a successful transfer of n bytes as the model expected. */
static void fdio_apply(enum fdop op, uint64_t gpa, int sel, const struct fdio_exp *e)
{
	if (e->to_guest) {
		m_access(gpa, ioshadow + e->pos, e->n, true);
		m_mark(gpa, e->n);
	} else {
		if (e->pos > iosize)            /* a hole reads as zeros */
			memset(ioshadow + iosize, 0, e->pos - iosize);
		m_access(gpa, ioshadow + e->pos, e->n, false);
		if (e->pos + e->n > iosize)
			iosize = e->pos + e->n;
	}
	if (op == OP_READ_FD || op == OP_WRITE_FD)
		iopos[sel] += e->n;
}

static int64_t pick_offset(void)
{
	uint8_t m = u8();

	if (m % 8 == 0)
		return -1 - (int64_t)u8();
	if (m % 8 == 1)
		return INT64_MIN;
	return (int64_t)(u16() % (64 * 1024));
}

static ssize_t call_fdio(bool via_iommu, enum fdop op, uint64_t a, int fd,
			 uint64_t len, int64_t offset)
{
	if (via_iommu) {
		switch (op) {
		case OP_READ_FD: return vmmem_iommu_read_fd(iommu, a, fd, len);
		case OP_PREAD_FD: return vmmem_iommu_pread_fd(iommu, a, fd, len, offset);
		case OP_WRITE_FD: return vmmem_iommu_write_fd(iommu, a, fd, len);
		default: return vmmem_iommu_pwrite_fd(iommu, a, fd, len, offset);
		}
	}
	switch (op) {
	case OP_READ_FD: return vmmem_read_fd(mem, a, fd, len);
	case OP_PREAD_FD: return vmmem_pread_fd(mem, a, fd, len, offset);
	case OP_WRITE_FD: return vmmem_write_fd(mem, a, fd, len);
	default: return vmmem_pwrite_fd(mem, a, fd, len, offset);
	}
}

static const char *const fdop_name[] = {
	"read_fd", "pread_fd", "write_fd", "pwrite_fd",
};

static void op_fdio(void)
{
	enum fdop op = (enum fdop)(u8() % 4);
	int sel, fd = pick_fd(&sel);
	uint64_t gpa = pick_gpa(), len = pick_len(gpa);
	int64_t offset = pick_offset();
	struct fdio_exp e = fdio_model(op, gpa, sel, len, offset);
	ssize_t ret;

	if (!e.errs && e.pos + e.n > IOFILE)
		return;
	TR(fdop_name[op], gpa, (uint64_t)sel, len, (uint64_t)offset);
	ret = call_fdio(false, op, gpa, fd, len, offset);
	if (failed_ok(fdop_name[op], ret, e.errs, e.zero_ok))
		return;
	CHECK((uint64_t)ret == e.n, "vmmem_%s: %zd, expected %#llx", fdop_name[op], ret,
	      (unsigned long long)e.n);
	fdio_apply(op, gpa, sel, &e);
}

/* ----------------------------------------------------------- dirty log */

static void op_dirty_start(void)
{
	static const uint64_t sizes[] = {
		0, 4096, 4096, 8192, 16384, 65536, 1ull << 30, 2 * 4096,
		1, 4095, 6144, 1ull << 31, 3ull << 30, 2048, 1ull << 63, 0x3000,
	};
	uint64_t ps = sizes[u8() % 16];
	unsigned errs = 0;
	int ret;

	if (ps && (ps < 4096 || ps > (1u << 30) || (ps & (ps - 1))))
		errs |= B(EINVAL);
	if (dirty_on)
		errs |= B(EBUSY);
	TR("dirty_start", ps);
	ret = vmmem_dirty_start(mem, ps);
	if (failed_ok("vmmem_dirty_start", ret, errs, false))
		return;
	dirty_on = true;
	dsh = (unsigned)__builtin_ctzll(ps ? ps : 4096);
	ndp = 0;
}

static void op_dirty_stop(void)
{
	int ret;

	TR("dirty_stop", 0);
	ret = vmmem_dirty_stop(mem);
	if (failed_ok("vmmem_dirty_stop", ret, dirty_on ? 0 : B(ENOENT), false))
		return;
	dirty_on = false;
	ndp = 0;
}

static void op_dirty_mark(void)
{
	uint64_t gpa = pick_gpa(), len = pick_len(gpa);
	unsigned errs = 0;
	int ret;

	if (wraps(gpa, len))
		errs |= B(EINVAL);
	if (!dirty_on)
		errs |= B(ENOENT);
	if (len && !wraps(gpa, len) && m_backed(gpa, len) != len)
		errs |= B(EFAULT);
	TR("dirty_mark", gpa, len);
	ret = vmmem_dirty_mark(mem, gpa, len);
	if (failed_ok("vmmem_dirty_mark", ret, errs, len == 0))
		return;
	m_mark(gpa, len);
}

static void op_dirty_harvest(bool clear)
{
	uint8_t m = u8();
	uint64_t gpa = pick_gpa(), len, n = 0, words = 1, count = 0;
	uint64_t *bitmap, *expect;
	unsigned errs = 0;
	int ret;

	if (dirty_on && (m & 3))
		gpa &= ~((1ull << dsh) - 1);
	len = pick_len(gpa);
	if (wraps(gpa, len))
		errs |= B(EINVAL);
	if (!dirty_on)
		errs |= B(ENOENT);
	if (!clear && dirty_on && gpa % (1ull << dsh))
		errs |= B(EINVAL);
	if (!clear && (m & 0x7c) == 0x40)
		errs |= B(EINVAL);              /* bitmap NULL */
	if (!errs && len) {
		n = (len - 1) / (1ull << dsh) + 1;
		words = (n + 63) / 64;
		if (words > MAXWORDS)
			return;
	}
	bitmap = malloc(words * 8);
	expect = calloc(words, 8);
	CHECK(bitmap && expect, "out of memory");
	memset(bitmap, 0xa5, words * 8);
	TR(clear ? "dirty_clear" : "dirty_harvest", gpa, len);
	ret = clear ? vmmem_dirty_clear(mem, gpa, len)
		    : vmmem_dirty_harvest(mem, gpa, len,
					  (m & 0x7c) == 0x40 ? NULL : bitmap);
	if (failed_ok(clear ? "vmmem_dirty_clear" : "vmmem_dirty_harvest", ret, errs,
		      len == 0)) {
		free(bitmap);
		free(expect);
		return;
	}
	if (len) {
		uint64_t p0 = gpa >> dsh, p1 = (gpa + (len - 1)) >> dsh;

		for (size_t i = 0; !clear && i < ndp; i++)
			if (dpages[i] >= p0 && dpages[i] <= p1)
				expect[(dpages[i] - p0) / 64] |=
					1ull << ((dpages[i] - p0) % 64);
		for (uint64_t w = 0; !clear && w < words; w++)
			count += (uint64_t)__builtin_popcountll(expect[w]);
		m_clear_pages(p0, p1);
	}
	if (!clear) {
		CHECK((uint64_t)ret == count, "vmmem_dirty_harvest: %d, expected %llu", ret,
		      (unsigned long long)count);
		for (uint64_t w = 0; len && w < words; w++)
			CHECK(bitmap[w] == expect[w],
			      "vmmem_dirty_harvest: word %llu is %#llx, expected %#llx",
			      (unsigned long long)w, (unsigned long long)bitmap[w],
			      (unsigned long long)expect[w]);
	} else {
		CHECK(ret == 0, "vmmem_dirty_clear: %d", ret);
	}
	free(bitmap);
	free(expect);
}

static void op_dirty_test(void)
{
	uint64_t gpa = pick_gpa();
	unsigned errs = 0;
	int ret;

	if (!dirty_on)
		errs |= B(ENOENT);
	/* a page no placement backs: dirty from before a removal, or -EFAULT */
	if (dirty_on && pl_find(gpa) < 0 && !m_page_dirty(gpa >> dsh))
		errs |= B(EFAULT);
	TR("dirty_test", gpa);
	ret = vmmem_dirty_test(mem, gpa);
	if (failed_ok("vmmem_dirty_test", ret, errs, false))
		return;
	CHECK(ret == (int)m_page_dirty(gpa >> dsh), "vmmem_dirty_test(%#llx): %d",
	      (unsigned long long)gpa, ret);
}

/* ---------------------------------------------------------------- IOMMU */

static int ent_find(uint64_t iova)
{
	for (int i = 0; i < nent; i++)
		if (iova >= ent[i].iova && iova <= ent[i].last)
			return i;
	return -1;
}

/* Removes [iova, last] from the model IOTLB; entries that straddle a
 * boundary keep their parts outside, with their translation and age. */
static void ent_without(uint64_t iova, uint64_t last)
{
	struct ment out[MAXENT + 2];
	int n = 0;

	for (int i = 0; i < nent; i++) {
		struct ment e = ent[i];

		if (e.last < iova || e.iova > last) {
			out[n++] = e;
			continue;
		}
		if (e.iova < iova) {
			out[n] = e;
			out[n++].last = iova - 1;
		}
		if (e.last > last) {
			out[n] = e;
			out[n].iova = last + 1;
			out[n++].gpa = e.gpa + (last + 1 - e.iova);
		}
	}
	if (n > MAXENT)
		fail("model: IOTLB overflow");
	memcpy(ent, out, (size_t)n * sizeof(ent[0]));
	nent = n;
}

/* Oldest inserted first; of the parts of one cut entry (same age), the one
 * of lowest IOVA first. */
static void ent_evict(uint64_t keep)
{
	while ((uint64_t)nent > keep) {
		int old = 0;

		for (int i = 1; i < nent; i++)
			if (ent[i].seq < ent[old].seq)
				old = i;
		memmove(&ent[old], &ent[old + 1], (size_t)(nent - old - 1) * sizeof(ent[0]));
		nent--;
	}
}

static void ent_update(uint64_t iova, uint64_t size, uint64_t gpa, unsigned perm)
{
	int pos = 0;

	ent_without(iova, iova + (size - 1));
	ent_evict(max_ent - 1);
	while (pos < nent && ent[pos].iova < iova)
		pos++;
	memmove(&ent[pos + 1], &ent[pos], (size_t)(nent - pos) * sizeof(ent[0]));
	ent[pos] = (struct ment){ .iova = iova, .last = iova + (size - 1), .gpa = gpa,
				  .perm = perm, .seq = next_seq++ };
	nent++;
}

static void check_num_entries(void)
{
	int ret = vmmem_iommu_num_entries(iommu);

	CHECK(ret == nent, "vmmem_iommu_num_entries: %d, model %d", ret, nent);
}

static void miss_fn(uint64_t iova, uint64_t len, unsigned int perm, void *opaque)
{
	if (opaque != &miss_cookie)
		fail("miss handler: opaque %p", opaque);
	miss.calls++;
	miss.iova = iova;
	miss.len = len;
	miss.perm = perm;
	if (miss.resolve && nupd < MAXUPD) {
		/* An IOMMU emulated in the process answers at once. */
		nupd++;
		miss.resolved = true;
		miss.upd_iova = iova & ~0xfffull;
		miss.upd_ret = vmmem_iommu_update(iommu, miss.upd_iova, 0x1000,
						  miss.resolve_gpa, miss.resolve_perm);
	}
}

static void miss_begin(void)
{
	miss.calls = 0;
	miss.resolved = false;
}

/* After an access: the handler ran once with these arguments if a miss was
 * expected, not at all otherwise; an answer it gave is applied. */
static void miss_end(const char *what, bool expected, uint64_t iova, uint64_t len,
		     unsigned int perm)
{
	if (!have_handler || !expected) {
		CHECK(miss.calls == 0, "%s: miss handler called (%#llx %#llx %u), expected no call",
		      what, (unsigned long long)miss.iova, (unsigned long long)miss.len, miss.perm);
		return;
	}
	CHECK(miss.calls == 1 && miss.iova == iova && miss.len == len && miss.perm == perm,
	      "%s: miss handler: %d calls, last %#llx %#llx %u; expected %#llx %#llx %u",
	      what, miss.calls, (unsigned long long)miss.iova,
	      (unsigned long long)miss.len, miss.perm, (unsigned long long)iova,
	      (unsigned long long)len, perm);
	if (miss.resolved) {
		CHECK(miss.upd_ret == 0, "vmmem_iommu_update in the miss handler: %d",
		      miss.upd_ret);
		ent_update(miss.upd_iova, 0x1000, miss.resolve_gpa, miss.resolve_perm);
		check_num_entries();
	}
}

static const uint64_t iova_anchors[] = {
	0, 0x1000, 0x2000, 0x10000, 0xc0000000, 1ull << 32, 1ull << 63,
	0ull - 0x4000, 0ull - 0x2000, 0ull - 0x1000,
};

static uint64_t pick_iova(void)
{
	uint8_t m = u8();
	int k = pick_idx(nent);

	if (k < 0 && m % 8 != 3 && m % 8 != 4)
		m = 0;
	switch (m % 8) {
	case 0: return iova_anchors[u8() % 10];
	case 1: return ent[k].iova + u16() % (ent[k].last - ent[k].iova + 1 < 0x10000 ?
					       ent[k].last - ent[k].iova + 1 : 0x10000);
	case 2: return ent[k].last + 1 + (uint64_t)(int64_t)(int8_t)u8();
	case 3: return u64();
	case 4: return 0ull - u16();
	case 5: return iova_anchors[u8() % 10] + u16();
	case 6: return ent[k].iova;
	default: return ent[k].last - u8() % 8;
	}
}

/* One piece of a translation: IOVA range of one entry and its backing. */
struct tp {
	uint64_t iova, gpa, len;
};
enum { T_DONE, T_MISS, T_DENIED };

static int m_translate(uint64_t iova, uint64_t len, unsigned perm, struct tp *out,
		       int *n, uint64_t *at, uint64_t *left)
{
	*n = 0;
	while (len) {
		int k = ent_find(iova);
		uint64_t avail, take;

		if (k < 0 || (ent[k].perm & perm) != perm) {
			*at = iova;
			*left = len;
			return k < 0 ? T_MISS : T_DENIED;
		}
		avail = ent[k].last - iova;
		take = len - 1 <= avail ? len : avail + 1;
		out[(*n)++] = (struct tp){ iova, ent[k].gpa + (iova - ent[k].iova), take };
		iova += take;
		len -= take;
	}
	return T_DONE;
}

static void op_iommu_new(void)
{
	struct { struct vmmem_iommu_opts o; uint64_t tail; } x;
	struct vmmem_iommu *out = (struct vmmem_iommu *)&x;
	static const size_t maxes[] = { 0, 1, 2, 3, 4, 5, 8, 64, 1u << 24, (1u << 24) + 1 };
	uint8_t v = u8();
	bool use_opts = v % 8 != 0;
	unsigned errs = 0;
	int ret;

	if (iommu)
		return;
	memset(&x, 0, sizeof(x));
	x.o.sz = sizeof(x.o);
	x.o.max_entries = maxes[u8() % 10];
	if (v & 8) {
		x.o.miss = miss_fn;
		x.o.miss_opaque = &miss_cookie;
	}
	switch ((v >> 4) % 8) {
	case 1: x.o.flags = 1; break;
	case 2: x.o.miss = NULL; x.o.miss_opaque = &miss_cookie; break;
	case 3: x.o.sz = offsetof(struct vmmem_iommu_opts, flags); break;
	case 4: x.o.sz = sizeof(x); x.tail = 7; break;
	case 5: x.o.sz = sizeof(x); break;
	}
	if (use_opts) {
		if (x.o.sz < offsetof(struct vmmem_iommu_opts, flags) + sizeof(unsigned) ||
		    x.o.flags || x.o.max_entries > (1u << 24) ||
		    (!x.o.miss && x.o.miss_opaque))
			errs |= B(EINVAL);
		if (x.o.sz > sizeof(x.o) && x.tail)
			errs |= B(E2BIG);
	}
	TR("iommu_new", use_opts, x.o.max_entries, x.o.miss != NULL, (v >> 4) % 8);
	ret = vmmem_iommu_new(&out, mem, use_opts ? &x.o : NULL);
	if (failed_ok("vmmem_iommu_new", ret, errs, false)) {
		CHECK(out == (struct vmmem_iommu *)&x, "vmmem_iommu_new wrote *out on failure");
		return;
	}
	iommu = out;
	have_handler = use_opts && x.o.miss;
	max_ent = use_opts && x.o.max_entries ? x.o.max_entries : 2048;
	nent = 0;
	next_seq = 0;
	check_num_entries();
}

static void op_iommu_free(void)
{
	if (!iommu)
		return;
	TR("iommu_free", 0);
	vmmem_iommu_free(iommu);
	iommu = NULL;
	nent = 0;
}

static void op_iommu_update(void)
{
	uint64_t iova = pick_iova(), size, gpa;
	uint8_t m = u8();
	unsigned perm = u8() % 5;
	unsigned errs = 0;
	int ret;

	if (!iommu || nupd >= MAXUPD)
		return;
	switch (m % 8) {
	case 0: size = 0x1000; break;
	case 1: size = (uint64_t)(1 + u8() % 8) * 0x1000; break;
	case 2: size = 1 + u8(); break;
	case 3: size = 0ull - iova; break;
	case 4: size = 0ull - iova + 1; break;
	case 5: size = 0; break;
	case 6: size = u64(); break;
	default: size = 1 + u16(); break;
	}
	if (m & 0x80) {
		gpa = pick_gpa();
	} else {
		int k = pick_idx(npl);

		gpa = (k < 0 ? 0 : pl[k].gpa) + (uint64_t)(u8() % 4) * 0x1000;
	}
	if (!size || !perm || (perm & ~3u) || wraps(iova, size) || wraps(gpa, size))
		errs |= B(EINVAL);
	nupd++;
	TR("iommu_update", iova, size, gpa, perm);
	ret = vmmem_iommu_update(iommu, iova, size, gpa, perm);
	if (!failed_ok("vmmem_iommu_update", ret, errs, false))
		ent_update(iova, size, gpa, perm);
	check_num_entries();
}

static void op_iommu_invalidate(bool all)
{
	uint64_t iova, size;
	unsigned errs = 0;
	uint8_t m;
	int ret;

	if (all) {
		if (!iommu)
			return;
		TR("iommu_invalidate_all", 0);
		ret = vmmem_iommu_invalidate_all(iommu);
		if (!failed_ok("vmmem_iommu_invalidate_all", ret, 0, false))
			nent = 0;
		check_num_entries();
		return;
	}
	iova = pick_iova();
	m = u8();
	if (!iommu || nupd >= MAXUPD)
		return;
	nupd++;
	switch (m % 6) {
	case 0: size = 0x1000; break;
	case 1: size = 1 + u8(); break;
	case 2: size = 0; break;
	case 3: size = 0ull - iova; break;
	case 4: size = 0ull - iova + 1; break;
	default: size = 1 + u16(); break;
	}
	if (!size || wraps(iova, size))
		errs |= B(EINVAL);
	TR("iommu_invalidate", iova, size);
	ret = vmmem_iommu_invalidate(iommu, iova, size);
	if (!failed_ok("vmmem_iommu_invalidate", ret, errs, false)) {
		ent_without(iova, iova + (size - 1));
		ent_evict(max_ent);
	}
	check_num_entries();
}

static void op_iommu_handler(void)
{
	uint8_t m = u8();

	miss.resolve = m & 1;
	miss.resolve_gpa = pick_gpa() & ~0xfffull;
	if (miss.resolve_gpa > 0ull - 0x1000)
		miss.resolve_gpa = 0ull - 0x1000;
	miss.resolve_perm = 1 + (m >> 1) % 3;
	TR("iommu_handler", miss.resolve, miss.resolve_gpa, miss.resolve_perm);
}

/* vmmem_iommu_read() and vmmem_iommu_write(). */
static void op_iommu_rw(bool write)
{
	uint64_t iova = pick_iova(), len = pick_len(iova), done = 0, at = 0, left = 0;
	bool nullbuf = (u8() & 15) == 0, hole = false;
	unsigned perm = write ? VMMEM_PERM_WRITE : VMMEM_PERM_READ;
	struct tp t[MAXENT];
	unsigned errs = 0;
	int n = 0, stop = T_DONE, err = 0;
	uint8_t *buf;
	ssize_t ret;

	if (!iommu)
		return;
	if ((nullbuf && len) || len > SSIZE_MAX || wraps(iova, len))
		errs |= B(EINVAL);
	if (!errs && len) {
		stop = m_translate(iova, len, perm, t, &n, &at, &left);
		/* Each piece by vmmem_read(3) or vmmem_write(3); hole: one
		 * stopped short (a hole, a read-only region, a refused
		 * page), err why. */
		for (int i = 0; i < n && !hole; i++) {
			uint64_t b = m_reach(t[i].gpa, t[i].len, write, INT_MAX, false, &err);

			done += b;
			hole = b < t[i].len;
		}
		if (!done)
			errs |= hole ? B(-err) : stop == T_MISS ? B(EAGAIN) : B(EACCES);
	}
	if (done > BIG)
		return;
	buf = nullbuf ? NULL : bufptr(len);
	if (buf) {
		if (write)
			write_data(buf, done, len);
		else
			fill_pattern(buf, min64(min64(len, BIG), done + 64));
	}
	TR(write ? "iommu_write" : "iommu_read", iova, len, nullbuf);
	miss_begin();
	ret = write ? vmmem_iommu_write(iommu, iova, buf, len)
		    : vmmem_iommu_read(iommu, iova, buf, len);
	if (failed_ok(write ? "vmmem_iommu_write" : "vmmem_iommu_read", ret, errs, false)) {
		miss_end("vmmem_iommu_rw", !hole && stop == T_MISS && !(errs & B(EINVAL)) && len,
			 at, left, perm);
		return;
	}
	CHECK((uint64_t)ret == done, "%s: %zd, expected %#llx",
	      write ? "vmmem_iommu_write" : "vmmem_iommu_read", ret, (unsigned long long)done);
	miss_end("vmmem_iommu_rw", len && !hole && stop == T_MISS, at, left, perm);
	for (uint64_t off = 0, i = 0; off < done; i++) {
		uint64_t k = min64(t[i].len, done - off);

		if (write) {
			m_access(t[i].gpa, buf + off, k, true);
			m_mark(t[i].gpa, k);
		} else {
			check_bytes("vmmem_iommu_read", t[i].gpa, buf + off, k);
		}
		off += k;
	}
	if (!write && buf)
		CHECK(is_pattern(buf + done, min64(min64(len, BIG), done + 64) - done),
		      "vmmem_iommu_read wrote past the bytes it returned");
}

/* vmmem_iommu_read_exact(), vmmem_iommu_write_exact(), vmmem_iommu_fill(). */
static void op_iommu_exact(int kind)
{
	static const char *const names[] = {
		"vmmem_iommu_read_exact", "vmmem_iommu_write_exact", "vmmem_iommu_fill",
	};
	uint64_t iova = pick_iova(), len = pick_len(iova), at = 0, left = 0, done = 0;
	bool nullbuf = kind != 2 && (u8() & 15) == 0;
	unsigned perm = kind == 0 ? VMMEM_PERM_READ : VMMEM_PERM_WRITE;
	int byte = (int)u16() - 0x100, n = 0, stop = T_DONE, ret;
	struct tp t[MAXENT];
	unsigned errs = 0;
	bool hole = false, ro = false;
	uint8_t *buf = NULL;

	if (!iommu)
		return;
	if (wraps(iova, len) || (kind != 2 && ((nullbuf && len) || len > SSIZE_MAX)))
		errs |= B(EINVAL);
	if (!errs && len) {
		stop = m_translate(iova, len, perm, t, &n, &at, &left);
		for (int i = 0; i < n && !hole; i++) {
			ro |= kind != 0 && m_touches(t[i].gpa, t[i].len, M_READONLY);
			hole = m_backed(t[i].gpa, t[i].len) < t[i].len;
		}
		/* A write to a read-only region: all or nothing, as the check
		 * of vmmem_write_exact(3) makes it (within one entry, before
		 * a hole, its error may come first). */
		if (hole)
			errs |= B(EFAULT) | (ro ? B(EACCES) : 0);
		else if (stop != T_DONE && ro)
			errs |= B(EACCES);      /* the pieces are checked first */
		else if (stop != T_DONE)
			errs |= stop == T_MISS ? B(EAGAIN) : B(EACCES);
		else if (ro)
			errs |= B(EACCES);
		/* Then piece after piece, each all or nothing (m_exact()), up
		 * to one the mapper refuses a page of. */
		for (int i = 0; !errs && i < n; i++) {
			uint64_t k;

			errs |= m_exact(t[i].gpa, t[i].len, kind != 0, &k);
			done += k;
		}
	}
	if (done > BIG || (!errs && len > BIG))
		return;
	if (kind != 2 && !nullbuf) {
		buf = bufptr(len);
		if (kind == 1)
			write_data(buf, errs ? done : len, len);
		else
			fill_pattern(buf, min64(len, BIG));
	}
	TR(names[kind], iova, len, nullbuf, (uint64_t)byte);
	miss_begin();
	if (kind == 0)
		ret = vmmem_iommu_read_exact(iommu, iova, buf, len);
	else if (kind == 1)
		ret = vmmem_iommu_write_exact(iommu, iova, buf, len);
	else
		ret = vmmem_iommu_fill(iommu, iova, byte, len);
	if (failed_ok(names[kind], ret, errs, false)) {
		miss_end(names[kind], errs == B(EAGAIN), at, left, perm);
	} else {
		miss_end(names[kind], false, 0, 0, 0);
		CHECK(ret == 0, "%s: %d", names[kind], ret);
		done = len;
	}
	/* All, nothing, or the bytes before a refused page. */
	if (kind == 2)
		memset(scratch, (unsigned char)byte, done);
	for (uint64_t off = 0, i = 0; off < done; i++) {
		uint64_t k = min64(t[i].len, done - off);

		if (kind == 0) {
			check_bytes(names[kind], t[i].gpa, buf + off, k);
		} else {
			m_access(t[i].gpa, kind == 1 ? buf + off : scratch, k, true);
			m_mark(t[i].gpa, k);
		}
		off += k;
	}
	if (kind == 0 && buf)
		CHECK(is_pattern(buf + done, min64(len, BIG) - done),
		      "%s wrote the buffer past what it copied", names[kind]);
}

static void op_iommu_load_store(bool store)
{
	static const size_t sizes[] = { 1, 2, 4, 8, 1, 2, 4, 8, 0, 3, 16, 6 };
	size_t size = sizes[u8() % 12];
	int order = (int)(u8() % 8) - 1;
	uint64_t iova = pick_iova(), val = u64(), got = 0x1234, at = 0, left = 0;
	bool nullval = !store && (u8() & 15) == 0, pre = false;
	unsigned perm = store ? VMMEM_PERM_WRITE : VMMEM_PERM_READ;
	unsigned errs = 0;
	struct tp t[MAXENT];
	int n = 0, stop = T_DONE, ret;
	uint8_t b[8];

	if (!iommu)
		return;
	if (nullval || !size_valid(size) || iova % size ||
	    !(store ? store_order_ok(order) : load_order_ok(order)))
		pre = true;
	if (pre) {
		errs |= B(EINVAL);
	} else {
		stop = m_translate(iova, size, perm, t, &n, &at, &left);
		if (!n)
			errs |= stop == T_MISS ? B(EAGAIN) : B(EACCES);
		else if (t[0].len < size)
			errs |= B(ERANGE);
		else
			errs |= (t[0].gpa % size ? B(EINVAL) : 0) |
				atomic_addr_errs(t[0].gpa, size, store);
	}
	TR(store ? "iommu_store" : "iommu_load", iova, size, (uint64_t)order, val);
	miss_begin();
	ret = store ? vmmem_iommu_store(iommu, iova, size, val, order)
		    : vmmem_iommu_load(iommu, iova, size, nullval ? NULL : &got, order);
	if (failed_ok(store ? "vmmem_iommu_store" : "vmmem_iommu_load", ret, errs, false)) {
		miss_end("vmmem_iommu_load/store", !pre && !n && stop == T_MISS, at, left, perm);
		CHECK(got == 0x1234, "vmmem_iommu_load changed *val on failure");
		return;
	}
	miss_end("vmmem_iommu_load/store", false, 0, 0, 0);
	if (store) {
		for (size_t k = 0; k < size; k++)
			b[k] = (uint8_t)(val >> (8 * k));
		m_access(t[0].gpa, b, size, true);
		m_mark(t[0].gpa, size);
	} else {
		m_access(t[0].gpa, b, size, false);
		CHECK(got == le_get(b, (unsigned)size), "vmmem_iommu_load: %#llx, model %#llx",
		      (unsigned long long)got, (unsigned long long)le_get(b, (unsigned)size));
	}
}

static void op_iommu_iovec(void)
{
	uint64_t iova = pick_iova(), len = pick_len(iova), at = 0, left = 0;
	uint8_t m = u8();
	size_t cnt = m % 12, pos = 0;
	unsigned perm = u8() % 5;
	struct iovec *iov = cnt ? malloc(cnt * sizeof(*iov)) : NULL;
	struct tp t[MAXENT];
	unsigned errs = 0;
	int n = 0, stop = T_DONE, expect = 0, ret;
	unsigned bad = 0;

	if (!iommu) {
		free(iov);
		return;
	}
	if (cnt && (m & 0x80)) {
		free(iov);
		iov = NULL;
	}
	if ((!iov && cnt) || !perm || (perm & ~3u) || wraps(iova, len))
		errs |= B(EINVAL);
	if (!errs && len) {
		stop = m_translate(iova, len, perm, t, &n, &at, &left);
		/* The first byte that cannot be described decides. */
		for (int i = 0; i < n && !bad; i++) {
			bad = m_iovec_err(t[i].gpa, t[i].len);
			if (!bad)
				expect += m_pieces(t[i].gpa, t[i].len);
		}
		if (bad)
			errs |= bad;
		else if (stop != T_DONE)
			errs |= stop == T_MISS ? B(EAGAIN) : B(EACCES);
	}
	TR("iommu_iovec", iova, len, perm, cnt, !iov);
	miss_begin();
	ret = vmmem_iommu_iovec(iommu, iova, len, perm, iov, cnt);
	if (failed_ok("vmmem_iommu_iovec", ret, errs, false)) {
		miss_end("vmmem_iommu_iovec", errs == B(EAGAIN), at, left, perm);
		free(iov);
		return;
	}
	miss_end("vmmem_iommu_iovec", false, 0, 0, 0);
	CHECK(ret == expect, "vmmem_iommu_iovec: %d, expected %d", ret, expect);
	for (int i = 0; i < n; i++)
		check_iov("vmmem_iommu_iovec", iov, cnt, &pos, t[i].gpa, t[i].len);
	free(iov);
}

static void op_iommu_map(void)
{
	uint64_t iova = pick_iova(), len = pick_len(iova), l = len, at = 0, left = 0;
	uint8_t m = u8();
	unsigned int flags = m % 5, perm = flags & 3;
	void *host = &len;
	struct tp t[MAXENT];
	unsigned errs = 0;
	uint64_t want = 0;
	int n = 0, stop = T_DONE, i = -1, ret, err;
	bool pre = false;

	if (!iommu || nmaps == MAXMAP)
		return;
	if ((m & 0x20) || !len || !flags || (flags & ~3u) || wraps(iova, len))
		pre = true;
	if (pre) {
		errs |= B(EINVAL);
	} else {
		stop = m_translate(iova, len, perm, t, &n, &at, &left);
		if (!n) {
			errs |= stop == T_MISS ? B(EAGAIN) : B(EACCES);
		} else {
			/* vmmem_map(3) of the first entry's piece. */
			i = pl_find(t[0].gpa);
			if (i < 0)
				errs |= B(EFAULT);
			else if (!(want = m_view(i, t[0].gpa, t[0].len, flags & VMMEM_MAP_WRITE, false, &err)))
				errs |= B(-err);
			else if (map_ambiguous(i, t[0].gpa))
				return;
		}
	}
	TR("iommu_map", iova, len, flags, (m & 0x20) != 0);
	miss_begin();
	ret = vmmem_iommu_map(iommu, iova, (m & 0x20) && (m & 0x40) ? NULL : &l, flags,
			      (m & 0x20) && !(m & 0x40) ? NULL : &host);
	if (failed_ok("vmmem_iommu_map", ret, errs, false)) {
		miss_end("vmmem_iommu_map", !pre && !n && stop == T_MISS, at, left, perm);
		CHECK(l == len && host == (void *)&len,
		      "vmmem_iommu_map wrote *len or *host on failure");
		return;
	}
	miss_end("vmmem_iommu_map", false, 0, 0, 0);
	if (regs[pl[i].reg].lazy) {
		CHECK(l == want, "vmmem_iommu_map: length %#llx, expected %#llx",
		      (unsigned long long)l, (unsigned long long)want);
		check_lazy_pointer("vmmem_iommu_map", i, t[0].gpa, host, l,
				   flags & VMMEM_MAP_WRITE);
	} else {
		CHECK(host == host_at(i, t[0].gpa) && l == want,
		      "vmmem_iommu_map: %p %#llx, expected %p %#llx", host,
		      (unsigned long long)l, (void *)host_at(i, t[0].gpa),
		      (unsigned long long)want);
	}
	add_mapping(host, t[0].gpa, l, flags);
}

static void op_iommu_fdio(void)
{
	enum fdop op = (enum fdop)(u8() % 4);
	int sel, fd = pick_fd(&sel), n = 0, stop = T_DONE;
	uint64_t iova = pick_iova(), len = pick_len(iova), at = 0, left = 0;
	int64_t offset = pick_offset();
	bool to_guest = op == OP_READ_FD || op == OP_PREAD_FD;
	bool positional = op == OP_PREAD_FD || op == OP_PWRITE_FD;
	unsigned perm = to_guest ? VMMEM_PERM_WRITE : VMMEM_PERM_READ;
	struct fdio_exp e = { 0 };
	struct tp t[MAXENT];
	unsigned errs = 0;
	ssize_t ret;

	if (!iommu)
		return;
	if (len > SSIZE_MAX || wraps(iova, len) || (positional && offset < 0))
		errs |= B(EINVAL);
	if (fd < 0)
		errs |= B(EBADF);
	if (!errs && len) {
		stop = m_translate(iova, len, perm, t, &n, &at, &left);
		if (!n) {
			errs |= stop == T_MISS ? B(EAGAIN) : B(EACCES);
			/* The system call would refuse these descriptors too. */
			if (sel == FD_CLOSED || (to_guest && sel == FD_WO) ||
			    (!to_guest && sel == FD_RO))
				errs |= B(EBADF);
		} else {
			e = fdio_model(op, t[0].gpa, sel, t[0].len, offset);
			errs |= e.errs;
			if (!errs && e.pos + e.n > IOFILE)
				return;
		}
	}
	TR("iommu_fdio", op, iova, (uint64_t)sel, len, (uint64_t)offset);
	miss_begin();
	ret = call_fdio(true, op, iova, fd, len, offset);
	if (failed_ok(fdop_name[op], ret, errs, false)) {
		miss_end("vmmem_iommu_fdio", ret == -EAGAIN, at, left, perm);
		return;
	}
	miss_end("vmmem_iommu_fdio", false, 0, 0, 0);
	if (!len) {
		CHECK(ret == 0, "vmmem_iommu_%s: %zd with len 0", fdop_name[op], ret);
		return;
	}
	CHECK((uint64_t)ret == e.n, "vmmem_iommu_%s: %zd, expected %#llx", fdop_name[op],
	      ret, (unsigned long long)e.n);
	fdio_apply(op, t[0].gpa, sel, &e);
}

/* ------------------------------------------------------------ NULL args */

static void op_null_args(void)
{
	struct vmmem_region *r = NULL;
	struct vmmem *m2 = NULL;
	struct vmmem_iommu *io = NULL;
	struct vmmem_range rg = { .gpa = 0, .size = PAGE, .fd = -1 };
	struct vmmem_xen_opts xo = { .sz = sizeof(xo) };
	struct iovec iov;
	uint64_t v = 0, l = 1;
	void *h = NULL;
	uint8_t b[8];
	int k = u8() % 48;
	long ret;

	TR("null_args", (uint64_t)k);
	switch (k) {
	case 0: ret = vmmem_add_region(NULL, 0, r); break;
	case 1: ret = vmmem_add_region(mem, 0, NULL); break;
	case 2: ret = vmmem_remove_region(NULL, 0, PAGE, NULL); break;
	case 3: ret = vmmem_find_region(NULL, 0, NULL, NULL); break;
	case 4: ret = vmmem_foreach_region(NULL, foreach_cb, &fe); break;
	case 5: ret = vmmem_foreach_region(mem, NULL, NULL); break;
	case 6: ret = vmmem_num_regions(NULL); break;
	case 7: ret = vmmem_last_addr(NULL, &v); break;
	case 8: ret = vmmem_check_range(NULL, 0, 1); break;
	case 9: ret = vmmem_read(NULL, 0, b, 1); break;
	case 10: ret = vmmem_write(NULL, 0, b, 1); break;
	case 11: ret = vmmem_read_exact(NULL, 0, b, 1); break;
	case 12: ret = vmmem_write_exact(NULL, 0, b, 1); break;
	case 13: ret = vmmem_load(NULL, 0, 1, &v, 0); break;
	case 14: ret = vmmem_store(NULL, 0, 1, 0, 0); break;
	case 15: ret = vmmem_fill(NULL, 0, 0, 1); break;
	case 16: ret = vmmem_copy(NULL, 0, 0, 1); break;
	case 17: ret = vmmem_host_address(NULL, 0, 1, &h); break;
	case 18: ret = vmmem_iovec(NULL, 0, 1, &iov, 1); break;
	case 19: ret = vmmem_map(NULL, 0, &l, VMMEM_MAP_READ, &h); break;
	case 20: ret = vmmem_unmap(NULL, b, 0); break;
	case 21: ret = vmmem_read_fd(NULL, 0, iofd[0], 1); break;
	case 22: ret = vmmem_pwrite_fd(NULL, 0, iofd[0], 1, 0); break;
	case 23: ret = vmmem_dirty_start(NULL, 0); break;
	case 24: ret = vmmem_dirty_stop(NULL); break;
	case 25: ret = vmmem_dirty_mark(NULL, 0, 1); break;
	case 26: ret = vmmem_dirty_harvest(NULL, 0, 1, &v); break;
	case 27: ret = vmmem_dirty_clear(NULL, 0, 1); break;
	case 28: ret = vmmem_dirty_test(NULL, 0); break;
	case 29: ret = vmmem_iommu_new(NULL, mem, NULL); break;
	case 30: ret = vmmem_iommu_new(&io, NULL, NULL); break;
	case 31: ret = vmmem_iommu_update(NULL, 0, 1, 0, 1); break;
	case 32: ret = vmmem_iommu_invalidate(NULL, 0, 1); break;
	case 33: ret = vmmem_iommu_invalidate_all(NULL); break;
	case 34: ret = vmmem_iommu_num_entries(NULL); break;
	case 35: ret = vmmem_iommu_read(NULL, 0, b, 1); break;
	case 36: ret = vmmem_iommu_write_exact(NULL, 0, b, 1); break;
	case 37: ret = vmmem_iommu_load(NULL, 0, 1, &v, 0); break;
	case 38: ret = vmmem_iommu_fill(NULL, 0, 0, 1); break;
	case 39: ret = vmmem_iommu_iovec(NULL, 0, 1, 1, &iov, 1); break;
	case 40: ret = vmmem_iommu_map(NULL, 0, &l, 1, &h); break;
	case 41: ret = vmmem_iommu_unmap(NULL, b, 0); break;
	case 42: ret = vmmem_new(NULL, 0); break;
	case 43: ret = vmmem_new(&m2, 1); break;
	case 44: ret = vmmem_new_from_ranges(&m2, NULL, 1, NULL); break;
	case 45: ret = vmmem_new_from_ranges(&m2, &rg, 0, NULL); break;
	case 46:
		/* Valid foreign options: -EOPNOTSUPP without the Xen backend,
		 * the error of opening privcmd with it (no Xen here). */
		xo.xen_flags = VMMEM_XEN_FOREIGN;
		ret = vmmem_region_new_xen(&r, PAGE, &xo);
#ifdef HAVE_XEN
		CHECK(ret < 0 && ret != -EINVAL, "vmmem_region_new_xen: %ld", ret);
#else
		CHECK(ret == -EOPNOTSUPP, "vmmem_region_new_xen: %ld", ret);
#endif
		ret = vmmem_region_new_xen(&r, (u8() & 1) ? 0 : PAGE, NULL);
		break;
	default: ret = vmmem_region_new(NULL, PAGE, NULL); break;
	}
	tr_ret(ret);
	CHECK(ret == -EINVAL, "null_args case %d: %ld, expected -EINVAL", k, ret);
	CHECK(!r && !m2 && !io && !h && v == 0 && l == 1, "null_args case %d wrote an output", k);
	vmmem_free(NULL);
	vmmem_iommu_free(NULL);
}

/* ---------------------------------------------------------- whole state */

static void check_all(void)
{
	TR("check_all", 0);
	reap();
	CHECK(vmmem_num_regions(mem) == npl, "vmmem_num_regions");
	for (int b = 0; b < MAXBUF; b++) {
		bool live = b < 2 && bufs[b].used;

		for (int r = 0; !live && r < nregs; r++)
			live = regs[r].buf == b && !regs[r].gone;
		if (!live || !bufs[b].used)
			continue;
		if (memcmp(bufs[b].host, bufs[b].shadow, bufs[b].size)) {
			uint64_t k = 0;

			while (bufs[b].host[k] == bufs[b].shadow[k])
				k++;
			fail("memory of store %d differs from the model at %#llx: %#x, model %#x",
			     b, (unsigned long long)k, bufs[b].host[k], bufs[b].shadow[k]);
		}
	}
	for (int r = 0; r < nregs; r++)
		if (regs[r].lazy && !regs[r].gone)
			lz_check_cache(r, false);
	for (int i = 0; dirty_on && i < npl; i++)
		for (uint64_t p = pg_first(i); p <= pg_last(i); p++) {
			uint64_t g = p << dsh > pl[i].gpa ? p << dsh : pl[i].gpa;
			int ret = vmmem_dirty_test(mem, g);

			CHECK(ret == (int)m_page_dirty(p),
			      "vmmem_dirty_test(%#llx): %d, model %d", (unsigned long long)g,
			      ret, (int)m_page_dirty(p));
		}
	if (iommu)
		check_num_entries();
}

/* ------------------------------------------------------------- dispatch */

enum op {
	OP_REGION_NEW, OP_REGION_RAW, OP_REGION_FD, OP_REGION_REF,
	OP_REGION_QUERY, OP_DISCARD, OP_ADD, OP_ADD2, OP_REMOVE, OP_FIND,
	OP_FOREACH, OP_SPACE_QUERY, OP_READ, OP_WRITE, OP_READ_EXACT,
	OP_WRITE_EXACT, OP_LE, OP_LOAD, OP_STORE, OP_FILL, OP_COPY,
	OP_HOST_ADDRESS, OP_IOVEC, OP_MAP, OP_UNMAP, OP_FDIO, OP_DIRTY_START,
	OP_DIRTY_STOP, OP_DIRTY_MARK, OP_DIRTY_HARVEST, OP_DIRTY_CLEAR,
	OP_DIRTY_TEST, OP_IOMMU_NEW, OP_IOMMU_FREE, OP_IOMMU_UPDATE,
	OP_IOMMU_UPDATE2, OP_IOMMU_INVALIDATE, OP_IOMMU_INVALIDATE_ALL,
	OP_IOMMU_READ, OP_IOMMU_WRITE, OP_IOMMU_READ_EXACT,
	OP_IOMMU_WRITE_EXACT, OP_IOMMU_FILL, OP_IOMMU_LOAD, OP_IOMMU_STORE,
	OP_IOMMU_IOVEC, OP_IOMMU_MAP, OP_IOMMU_UNMAP, OP_IOMMU_FDIO,
	OP_IOMMU_HANDLER, OP_NULL_ARGS, OP_CHECK_ALL, OP_REGION_LAZY,
	OP_LAZY_INVALIDATE,
	NOPS
};

static void do_op(uint8_t code)
{
	switch ((enum op)(code % NOPS)) {
	case OP_REGION_NEW: op_region_new(); break;
	case OP_REGION_RAW: op_region_raw(); break;
	case OP_REGION_FD: op_region_fd(); break;
	case OP_REGION_REF: op_region_ref(); break;
	case OP_REGION_QUERY: op_region_query(); break;
	case OP_DISCARD: op_discard(); break;
	case OP_ADD: case OP_ADD2: op_add(); break;
	case OP_REMOVE: op_remove(); break;
	case OP_FIND: op_find(); break;
	case OP_FOREACH: op_foreach(); break;
	case OP_SPACE_QUERY: op_space_query(); break;
	case OP_READ: op_rw(false); break;
	case OP_WRITE: op_rw(true); break;
	case OP_READ_EXACT: op_rw_exact(false); break;
	case OP_WRITE_EXACT: op_rw_exact(true); break;
	case OP_LE: op_le(); break;
	case OP_LOAD: op_load_store(false); break;
	case OP_STORE: op_load_store(true); break;
	case OP_FILL: op_fill(); break;
	case OP_COPY: op_copy(); break;
	case OP_HOST_ADDRESS: op_host_address(); break;
	case OP_IOVEC: op_iovec(); break;
	case OP_MAP: op_map(); break;
	case OP_UNMAP: do_unmap(false); break;
	case OP_FDIO: op_fdio(); break;
	case OP_DIRTY_START: op_dirty_start(); break;
	case OP_DIRTY_STOP: op_dirty_stop(); break;
	case OP_DIRTY_MARK: op_dirty_mark(); break;
	case OP_DIRTY_HARVEST: op_dirty_harvest(false); break;
	case OP_DIRTY_CLEAR: op_dirty_harvest(true); break;
	case OP_DIRTY_TEST: op_dirty_test(); break;
	case OP_IOMMU_NEW: op_iommu_new(); break;
	case OP_IOMMU_FREE: op_iommu_free(); break;
	case OP_IOMMU_UPDATE: case OP_IOMMU_UPDATE2: op_iommu_update(); break;
	case OP_IOMMU_INVALIDATE: op_iommu_invalidate(false); break;
	case OP_IOMMU_INVALIDATE_ALL: op_iommu_invalidate(true); break;
	case OP_IOMMU_READ: op_iommu_rw(false); break;
	case OP_IOMMU_WRITE: op_iommu_rw(true); break;
	case OP_IOMMU_READ_EXACT: op_iommu_exact(0); break;
	case OP_IOMMU_WRITE_EXACT: op_iommu_exact(1); break;
	case OP_IOMMU_FILL: op_iommu_exact(2); break;
	case OP_IOMMU_LOAD: op_iommu_load_store(false); break;
	case OP_IOMMU_STORE: op_iommu_load_store(true); break;
	case OP_IOMMU_IOVEC: op_iommu_iovec(); break;
	case OP_IOMMU_MAP: op_iommu_map(); break;
	case OP_IOMMU_UNMAP: if (iommu) do_unmap(true); break;
	case OP_IOMMU_FDIO: op_iommu_fdio(); break;
	case OP_IOMMU_HANDLER: op_iommu_handler(); break;
	case OP_NULL_ARGS: op_null_args(); break;
	case OP_REGION_LAZY: op_region_lazy(); break;
	case OP_LAZY_INVALIDATE: op_lazy_invalidate(); break;
	default: check_all(); break;
	}
}

/* ------------------------------------------------------ setup, teardown */

static int fd_probe(void)
{
	int fd = fcntl(0, F_DUPFD_CLOEXEC, 0);

	if (fd >= 0)
		close(fd);
	return fd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[64];

	(void)argc;
	(void)argv;
	trace_live = getenv("VMMEM_FUZZ_TRACE") != NULL;
	syspage = (uint64_t)sysconf(_SC_PAGESIZE);
	big = malloc(BIG);
	scratch = malloc(BIG);
	ioshadow = calloc(1, IOFILE);
	pattern = malloc(PATTERN);
	memset(filler, 0xe5, sizeof(filler));
	if (!big || !scratch || !ioshadow || !pattern || syspage != PAGE) {
		fprintf(stderr, "vmmem-fuzz: setup failed (page size %llu)\n",
			(unsigned long long)syspage);
		exit(1);
	}
	rng = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < PATTERN; i++)
		pattern[i] = rnd8();
	iofd[FD_RW] = memfd_create("vmmem-fuzz-io", MFD_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", iofd[FD_RW]);
	iofd[FD_RO] = open(path, O_RDONLY | O_CLOEXEC);
	iofd[FD_WO] = open(path, O_WRONLY | O_CLOEXEC);
	bfd = memfd_create("vmmem-fuzz-backing", MFD_CLOEXEC);
	if (iofd[0] < 0 || iofd[1] < 0 || iofd[2] < 0 || bfd < 0 ||
	    ftruncate(bfd, FDFILE) < 0) {
		perror("vmmem-fuzz: memfd");
		exit(1);
	}
	bhost = mmap(NULL, FDFILE, PROT_READ | PROT_WRITE, MAP_SHARED, bfd, 0);
	if (bhost == MAP_FAILED) {
		perror("vmmem-fuzz: mmap");
		exit(1);
	}
	while (fcntl(closed_fd, F_GETFD) >= 0)
		closed_fd--;
	return 0;
}

static void reset_iofile(void)
{
	if (ftruncate(iofd[FD_RW], 0) < 0 ||
	    pwrite(iofd[FD_RW], pattern, 8192, 0) != 8192)
		fail("resetting the I/O file: %s", strerror(errno));
	memcpy(ioshadow, pattern, 8192);
	iosize = 8192;
	for (int i = 0; i < 3; i++) {
		if (lseek(iofd[i], 0, SEEK_SET) != 0)
			fail("lseek: %s", strerror(errno));
		iopos[i] = 0;
	}
}

/* The file descriptors the library opens are memfds (VMMEM_REGION_SHAREABLE)
 * and duplicates of the harness's memfd (VMMEM_REGION_FD): one still open
 * after teardown leaked.  (Others may appear meanwhile: the sanitizers'
 * symbolizer keeps pipes open.) */
static void check_fds(void)
{
	int top = fd_probe();

	if (top == fd_probe_base)
		return;
	for (int fd = fd_probe_base; fd < top + 8; fd++) {
		char path[64], target[256];
		ssize_t n;

		if (fcntl(fd, F_GETFD) < 0 || fd == iofd[0] || fd == iofd[1] ||
		    fd == iofd[2] || fd == bfd)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = 0;
		if (strstr(target, "memfd:"))
			fail("file descriptor %d leaked: %s", fd, target);
	}
}

static void setup(void)
{
	uint8_t m = u8();
	int ret;

	memset(regs, 0, sizeof(regs));
	memset(bufs, 0, sizeof(bufs));
	memset(released, 0, sizeof(released));
	bad_release = 0;
	nregs = npl = nmaps = nent = nupd = 0;
	dirty_on = false;
	dsh = 12;
	iommu = NULL;
	have_handler = false;
	memset(&miss, 0, sizeof(miss));
	arena = NULL;
	reset_iofile();

	if (m % 4 == 3) {
		/* vmmem_new_from_ranges(): regions owned by mem, anonymous
		 * or over the shared file. */
		static const unsigned int oflags[] = {
			0, VMMEM_REGION_SHAREABLE, 0, VMMEM_REGION_FD,
		};
		struct vmmem_range rg[3];
		struct vmmem_region_opts o = { .sz = sizeof(o),
					       .flags = oflags[(m >> 2) % 4] };
		bool use_opts = (m >> 2) % 4 != 0;
		size_t count = 1 + u8() % 3;
		unsigned errs = 0;

		if (o.flags & VMMEM_REGION_FD)
			errs |= B(EINVAL);
		for (size_t i = 0; i < count; i++) {
			uint8_t f;

			rg[i] = (struct vmmem_range){ .size = pick_rsize(), .fd = -1 };
			rg[i].gpa = pick_place_gpa(rg[i].size);
			f = u8();
			if (f % 4 == 2) {
				reset_fdfile();
				rg[i].fd = bfd;
				rg[i].offset = (uint64_t)(u8() % 16) * PAGE;
				if (rg[i].offset + rg[i].size > FDFILE)
					errs |= B(ENXIO);
			} else if (f % 4 == 3 && (f & 4)) {
				rg[i].fd = closed_fd;
				errs |= B(EBADF);
			} else if (f % 4 == 3) {
				rg[i].offset = PAGE;
				errs |= B(EINVAL);
			}
			/* A file range gets VMMEM_REGION_FD, which SHAREABLE
			 * does not combine with. */
			if (rg[i].fd >= 0 && (o.flags & VMMEM_REGION_SHAREABLE))
				errs |= B(EINVAL);
			if (wraps(rg[i].gpa, rg[i].size))
				errs |= B(EINVAL);
			for (size_t j = 0; j < i; j++)
				if (!wraps(rg[j].gpa, rg[j].size) && !wraps(rg[i].gpa, rg[i].size) &&
				    rg[i].gpa <= rg[j].gpa + (rg[j].size - 1) &&
				    rg[j].gpa <= rg[i].gpa + (rg[i].size - 1))
					errs |= B(EEXIST);
		}
		TR("new_from_ranges", count, rg[0].gpa, rg[0].size, (uint64_t)rg[0].fd,
		   o.flags, use_opts);
		mem = (struct vmmem *)&o;
		ret = vmmem_new_from_ranges(&mem, rg, count, use_opts ? &o : NULL);
		if (failed_ok("vmmem_new_from_ranges", ret, errs, false)) {
			CHECK(mem == (struct vmmem *)&o, "vmmem_new_from_ranges wrote *out on failure");
			mem = NULL;
		} else {
			for (size_t i = 0; i < count; i++) {
				struct vmmem_region *r = NULL;
				uint64_t off = 1;
				int k;

				ret = vmmem_find_region(mem, rg[i].gpa, &r, &off);
				CHECK(ret == 0 && off == 0, "vmmem_find_region after from_ranges: %d", ret);
				vmmem_region_unref(r);
				if (rg[i].fd >= 0) {
					void *host = NULL;

					ret = vmmem_region_host_address(r, &host);
					CHECK(ret == 0, "vmmem_region_host_address: %d", ret);
					k = new_reg(r, K_FD, 1, rg[i].offset, rg[i].size, host,
						    VMMEM_REGION_FD | o.flags);
					regs[k].refs = 0;
				} else {
					k = adopt_mapped(r, rg[i].size, o.flags, 0);
				}
				check_region_queries(k);
				pl[npl] = (struct mpl){ .gpa = rg[i].gpa, .size = rg[i].size, .reg = k };
				for (int j = npl++; j > 0 && pl[j - 1].gpa > pl[j].gpa; j--) {
					struct mpl t = pl[j];

					pl[j] = pl[j - 1];
					pl[j - 1] = t;
				}
			}
		}
	}
	if (!mem) {
		TR("new", 0);
		ret = vmmem_new(&mem, 0);
		CHECK(ret == 0, "vmmem_new: %d", ret);
	}
}

static void teardown(uint8_t how)
{
	TR("teardown", how);
	if (how & 1)
		while (nmaps) {
			int ret = vmmem_unmap(mem, maps[nmaps - 1].host, 0);

			CHECK(ret == 0, "vmmem_unmap at teardown: %d", ret);
			nmaps--;
		}
	if (iommu) {
		vmmem_iommu_free(iommu);
		iommu = NULL;
	}
	if (how & 2)
		for (int r = 0; r < nregs; r++)
			for (; regs[r].refs; regs[r].refs--)
				vmmem_region_unref(regs[r].r);
	vmmem_free(mem);
	mem = NULL;
	for (int r = 0; r < nregs; r++)
		for (; regs[r].refs; regs[r].refs--)
			vmmem_region_unref(regs[r].r);
	for (int r = 0; r < nregs; r++) {
		int n = __atomic_load_n(&released[r], __ATOMIC_ACQUIRE);

		CHECK(n == (regs[r].has_release ? 1 : 0),
		      "region %d: release called %d times after everything was freed", r, n);
	}
	/* The regions are gone: so must every mapping of the lazy ones be. */
	for (int r = 0; r < nregs; r++) {
		if (!regs[r].lazy)
			continue;
		CHECK(!lz[r].nlive, "lazy region %d: %d mapping(s) of %llu pages left after "
		      "it was released", r, lz[r].nlive,
		      (unsigned long long)lz_live_pages(&lz[r]));
		munmap(lz[r].view, lz[r].pages * PAGE);
		close(lz[r].memfd);
	}
	for (int b = 0; b < MAXBUF; b++)
		free(bufs[b].shadow);
	free(arena);
	arena = NULL;
	check_fds();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t h = 0xcbf29ce484222325ull;
	uint8_t how;

	for (size_t i = 0; i < size && i < 64; i++)
		h = (h ^ data[i]) * 0x100000001b3ull;
	rng = h | 1;
	in_p = data;
	in_n = size;
	ntrace = 0;
	fd_probe_base = fd_probe();
	how = u8();
	setup();
	for (int n = 0; n < MAXOPS && in_n; n++)
		do_op(u8());
	check_all();
	teardown(how);
	return 0;
}
