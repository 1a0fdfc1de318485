/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * xen-bench: what an access to an on-demand grant region costs.
 *
 * Runs in a Xen dom0 (tests/xen/run-xen.sh boots one under QEMU).  A paused
 * PV dummy domain gets NPAGES pages, each granted to dom0 by an entry
 * written straight into its grant table; those grants are the guest memory
 * of two libvmmem regions VMMEM_XEN_GRANT | VMMEM_XEN_NO_ADVANCE_MAP with
 * explicit references, one with the default semantics, one with
 * VMMEM_XEN_MAP_CACHE, placed in a struct vmmem.  Reads of 4 KiB (one page)
 * and 64 KiB (16 pages), at a few places in turn, are timed four ways:
 *
 *   libvmmem    vmmem_read() on the default region: the pages of the access
 *               mapped in one call and unmapped in one when it returns;
 *   batched     the ideal of that: xengnttab_map_domain_grant_refs() of all
 *               the pages, memcpy, one xengnttab_unmap(), by hand;
 *   per-page    one map, memcpy and unmap per page, as vm-memory does for
 *               such regions (its NO_ADVANCE_MAP path);
 *   cached      vmmem_read() on the MAP_CACHE region: mappings kept, so
 *               after the first round no map call at all.
 *
 * Each figure is the median of REPS runs of about RUN_TIME seconds, in
 * nanoseconds per access; the four variants run in turn within each rep.
 * Output, for the harness:
 *
 *   BENCH: <name>\t<variant>\t<ns>\tns/op
 *   BENCH: ratio <name> libvmmem/batched <x>x per-page/libvmmem <x>x
 *          libvmmem/cached <x>x
 *   xen-bench: ok
 *
 * Exit status 0 on success, 1 if the setup or a check of the data read
 * fails.  Options: -t SECONDS per run (default 0.3), -r REPS (default 5).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenforeignmemory.h>
#include <xengnttab.h>
#include <xen/grant_table.h>
#include <xen/memory.h>

#include <libvmmem.h>

#define PAGE       4096u
#define NPAGES     128u                  /* granted pages of the dummy */
#define FIRST_REF  16u                   /* refs 0-7 are reserved */
#define GPA_BASE   0x100000000ull        /* the default region */
#define GPA_CACHED 0x200000000ull        /* the MAP_CACHE region */
#define CYCLE      4u                    /* places visited in turn ... */
#define STRIDE     24u                   /* ... 24 pages apart */
#define MAX_LEN    (16u * PAGE)
#define MAX_REPS   15

static xc_interface *xch;
static xenforeignmemory_handle *fmem;
static xengnttab_handle *xgt;
static uint32_t domid;                   /* 0: none */
static xen_pfn_t frames[NPAGES];         /* MFNs of the dummy's pages */
static uint32_t refs[NPAGES];            /* refs[i] grants page i */
static struct vmmem *mem;
static double run_time = 0.3;
static int reps = 5;

static uint64_t dst[MAX_LEN / 8];        /* what the accesses read into */
static uint64_t sink;                    /* keeps reads from being elided */

static int fail(const char *what, int err)
{
	printf("xen-bench: FAILED: %s: %s\n", what, strerror(err));
	fflush(stdout);
	return -1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Word w of page p of the dummy. */
static uint64_t pattern(unsigned int p, unsigned int w)
{
	return 0x78656e2d62656e63ull ^ ((uint64_t)p << 32) ^ w;
}

/* ------------------------------------------------------------ setup */

static int dummy_create(void)
{
	static const uint8_t tag[16] = "libvmmem-xbench";
	struct xen_domctl_createdomain cfg = {
		.max_vcpus = 1,
		.max_evtchn_port = 1023,
		.max_grant_frames = -1,          /* hypervisor defaults */
		.max_maptrack_frames = -1,
		.grant_opts = XEN_DOMCTL_GRANT_version(1),
	};

	memcpy(cfg.handle, tag, sizeof(cfg.handle));
	if (xc_domain_create(xch, &domid, &cfg)) {
		domid = 0;
		return fail("xc_domain_create (PV)", errno);
	}
	if (xc_domain_max_vcpus(xch, domid, 1))
		return fail("xc_domain_max_vcpus", errno);
	if (xc_domain_setmaxmem(xch, domid, NPAGES * (PAGE / 1024) + 1024))
		return fail("xc_domain_setmaxmem", errno);
	for (unsigned int i = 0; i < NPAGES; i++)
		frames[i] = i;           /* PV: Xen writes back the MFN */
	if (xc_domain_populate_physmap_exact(xch, domid, NPAGES, 0, 0, frames))
		return fail("xc_domain_populate_physmap_exact", errno);
	return 0;
}

/* Writes the pattern into the dummy's pages through a foreign mapping. */
static int dummy_fill(void)
{
	uint64_t *m = xenforeignmemory_map(fmem, domid, PROT_READ | PROT_WRITE,
					   NPAGES, frames, NULL);

	if (!m)
		return fail("xenforeignmemory_map", errno);
	for (unsigned int p = 0; p < NPAGES; p++)
		for (unsigned int w = 0; w < PAGE / 8; w++)
			m[p * (PAGE / 8) + w] = pattern(p, w);
	xenforeignmemory_unmap(fmem, m, NPAGES);
	return 0;
}

/* Grant entries FIRST_REF + i -> page i, to dom0, read-write: what the
 * guest's front-end would do, written through the grant table resource
 * (as libxenguest's xc_dom_gnttab_seed() does). */
static int dummy_grant(void)
{
	unsigned long nframes = ((FIRST_REF + NPAGES) * sizeof(grant_entry_v1_t) +
				 PAGE - 1) / PAGE;
	xenforeignmemory_resource_handle *res;
	grant_entry_v1_t *gt;
	void *addr = NULL;

	res = xenforeignmemory_map_resource(fmem, domid,
					    XENMEM_resource_grant_table,
					    XENMEM_resource_grant_table_id_shared,
					    0, nframes, &addr,
					    PROT_READ | PROT_WRITE, 0);
	if (!res)
		return fail("xenforeignmemory_map_resource(grant table)", errno);
	gt = addr;
	for (unsigned int i = 0; i < NPAGES; i++) {
		grant_entry_v1_t *e = &gt[FIRST_REF + i];

		e->domid = 0;
		e->frame = (uint32_t)frames[i];
		__atomic_store_n(&e->flags, GTF_permit_access, __ATOMIC_RELEASE);
		refs[i] = FIRST_REF + i;
	}
	xenforeignmemory_unmap_resource(fmem, res);
	return 0;
}

/* An on-demand region of the NPAGES grants at gpa, with opts flags. */
static int add_region(uint64_t gpa, unsigned int flags)
{
	struct vmmem_xen_opts xo = {
		.sz = sizeof(xo),
		.xen_flags = VMMEM_XEN_GRANT | VMMEM_XEN_NO_ADVANCE_MAP,
		.domid = domid,
		.gpa = gpa,
		.grant_refs = refs,
		.num_grant_refs = NPAGES,
		.flags = flags,
	};
	struct vmmem_region *r;
	int ret = vmmem_region_new_xen(&r, (uint64_t)NPAGES * PAGE, &xo);

	if (ret)
		return fail("vmmem_region_new_xen(GRANT | NO_ADVANCE_MAP)", -ret);
	ret = vmmem_add_region(mem, gpa, r);
	vmmem_region_unref(r);
	return ret ? fail("vmmem_add_region", -ret) : 0;
}

static int setup(void)
{
	int ret;

	xch = xc_interface_open(NULL, NULL, 0);
	if (!xch)
		return fail("xc_interface_open", errno);
	fmem = xenforeignmemory_open(NULL, 0);
	if (!fmem)
		return fail("xenforeignmemory_open", errno);
	xgt = xengnttab_open(NULL, 0);
	if (!xgt)
		return fail("xengnttab_open", errno);
	if (dummy_create() || dummy_fill() || dummy_grant())
		return -1;
	ret = vmmem_new(&mem, 0);
	if (ret)
		return fail("vmmem_new", -ret);
	if (add_region(GPA_BASE, 0) || add_region(GPA_CACHED, VMMEM_XEN_MAP_CACHE))
		return -1;
	printf("xen-bench: d%" PRIu32 " (PV, paused), %u pages granted as refs "
	       "%u-%u, regions at GPA 0x%llx (default) and 0x%llx (MAP_CACHE)\n",
	       domid, NPAGES, refs[0], refs[NPAGES - 1], GPA_BASE, GPA_CACHED);
	return 0;
}

static void teardown(void)
{
	vmmem_free(mem);                 /* unmaps the cached grants */
	if (xgt)
		xengnttab_close(xgt);
	if (domid && xc_domain_destroy(xch, domid))
		fail("xc_domain_destroy", errno);
	if (fmem)
		xenforeignmemory_close(fmem);
	if (xch)
		xc_interface_close(xch);
}

/* ------------------------------------------------------------ accesses */

/* The i-th access: whole pages from page (i % CYCLE) * STRIDE. */
static unsigned int page_of(uint64_t i)
{
	return (unsigned int)(i % CYCLE) * STRIDE;
}

typedef int (*access_fn)(uint64_t i, void *buf, size_t len);

static int read_at(uint64_t base, uint64_t i, void *buf, size_t len)
{
	uint64_t gpa = base + (uint64_t)page_of(i) * PAGE;
	ssize_t n = vmmem_read(mem, gpa, buf, len);

	return n == (ssize_t)len ? 0 : n < 0 ? (int)n : -EIO;
}

static int read_libvmmem(uint64_t i, void *buf, size_t len)
{
	return read_at(GPA_BASE, i, buf, len);
}

static int read_cached(uint64_t i, void *buf, size_t len)
{
	return read_at(GPA_CACHED, i, buf, len);
}

/* count pages from page p: one map call, the copy, one unmap call. */
static int map_copy_unmap(unsigned int p, unsigned int count, void *buf)
{
	uint8_t *m = xengnttab_map_domain_grant_refs(xgt, count, domid, &refs[p],
						      PROT_READ | PROT_WRITE);

	if (!m)
		return errno > 0 ? -errno : -EIO;
	memcpy(buf, m, (size_t)count * PAGE);
	xengnttab_unmap(xgt, m, count);
	return 0;
}

static int read_batched(uint64_t i, void *buf, size_t len)
{
	return map_copy_unmap(page_of(i), (unsigned int)(len / PAGE), buf);
}

static int read_per_page(uint64_t i, void *buf, size_t len)
{
	for (unsigned int k = 0; k < len / PAGE; k++) {
		int ret = map_copy_unmap(page_of(i) + k, 1,
					 (uint8_t *)buf + (size_t)k * PAGE);

		if (ret)
			return ret;
	}
	return 0;
}

/* Every variant reads what the dummy holds, at the first accesses. */
static int check(const char *name, access_fn fn, size_t len)
{
	for (uint64_t i = 0; i < 2 * CYCLE; i++) {
		unsigned int p = page_of(i), w = 0;
		int ret = fn(i, dst, len);

		if (ret)
			return fail(name, -ret);
		for (size_t k = 0; k < len / 8; k++) {
			unsigned int pk = p + (unsigned int)((w + k) / (PAGE / 8));
			unsigned int wk = (unsigned int)((w + k) % (PAGE / 8));

			if (dst[k] != pattern(pk, wk)) {
				printf("xen-bench: FAILED: %s: page %u word %u "
				       "reads %#" PRIx64 "\n", name, pk, wk,
				       dst[k]);
				return -1;
			}
		}
	}
	return 0;
}

/* One run: accesses in batches until run_time has passed; ns per access. */
static double run_once(access_fn fn, size_t len, uint64_t batch, int *err)
{
	uint64_t n = 0;
	double t0 = now(), t;

	do {
		for (uint64_t j = 0; j < batch; j++, n++) {
			*err = fn(n, dst, len);
			if (*err)
				return 0;
			sink += dst[0];
		}
		t = now() - t0;
	} while (t < run_time);
	return t * 1e9 / (double)n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct variant {
	const char *name;
	access_fn fn;
	uint64_t batch;                  /* accesses between clock reads */
	double ns[MAX_REPS];
	double median;                   /* ns per access */
};

/* Checks and calibrates each variant, then runs them in turn, rep after
 * rep, so that a change of load on the host weighs on all of them alike;
 * the medians go in v[i].median.  -1 on failure. */
static int measure(const char *name, size_t len, struct variant *v, int n)
{
	char what[64];
	int err = 0;

	for (int i = 0; i < n; i++) {
		double t0;

		snprintf(what, sizeof(what), "%s %s", name, v[i].name);
		if (check(what, v[i].fn, len))
			return -1;
		/* Batches of about 1 ms between clock reads. */
		t0 = now();
		for (uint64_t k = 0; k < 16 && !err; k++)
			err = v[i].fn(k, dst, len);
		if (err)
			return fail(what, -err);
		v[i].batch = (uint64_t)(1e-3 / ((now() - t0) / 16 + 1e-9)) + 1;
	}
	for (int r = 0; r < reps; r++)
		for (int i = 0; i < n; i++) {
			v[i].ns[r] = run_once(v[i].fn, len, v[i].batch, &err);
			if (err)
				return fail(v[i].name, -err);
		}
	for (int i = 0; i < n; i++) {
		qsort(v[i].ns, (size_t)reps, sizeof(v[i].ns[0]), cmp_double);
		v[i].median = v[i].ns[reps / 2];
		printf("BENCH: %s\t%s\t%.1f\tns/op\n", name, v[i].name,
		       v[i].median);
	}
	fflush(stdout);
	return 0;
}

static void print_stats(const char *what, uint64_t gpa)
{
	struct vmmem_xen_cache_stats st = { .sz = sizeof(st) };
	struct vmmem_region *r;
	uint64_t off;

	if (vmmem_find_region(mem, gpa, &r, &off) == 0 &&
	    vmmem_region_xen_cache_stats(r, &st) == 0)
		printf("xen-bench: %s: %" PRIu64 " hits, %" PRIu64
		       " misses, %" PRIu64 " map calls, %" PRIu64 " evictions, %"
		       PRIu64 " pages mapped\n", what, st.hits, st.misses,
		       st.map_calls, st.evictions, st.mapped_pages);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		size_t len;
	} sizes[] = { { "read4k", PAGE }, { "read64k", 16 * PAGE } };
	int opt, status = 1;

	while ((opt = getopt(argc, argv, "t:r:")) != -1) {
		switch (opt) {
		case 't': run_time = atof(optarg); break;
		case 'r': reps = atoi(optarg); break;
		default: run_time = 0; break;
		}
	}
	if (optind < argc || !(run_time > 0 && run_time <= 10) || reps < 1 ||
	    reps > MAX_REPS) {
		fprintf(stderr, "usage: xen-bench [-t SECONDS] [-r REPS]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (setup())
		goto out;
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		struct variant v[] = {
			{ .name = "libvmmem", .fn = read_libvmmem },
			{ .name = "batched", .fn = read_batched },
			{ .name = "per-page", .fn = read_per_page },
			{ .name = "cached", .fn = read_cached },
		};

		if (measure(sizes[s].name, sizes[s].len, v, 4))
			goto out;
		printf("BENCH: ratio %s libvmmem/batched %.2fx per-page/libvmmem "
		       "%.2fx libvmmem/cached %.1fx\n", sizes[s].name,
		       v[0].median / v[1].median, v[2].median / v[0].median,
		       v[0].median / v[3].median);
	}
	print_stats("default region", GPA_BASE);
	print_stats("MAP_CACHE region", GPA_CACHED);
	printf("xen-bench: ok\n");
	status = 0;
out:
	teardown();
	return status;
}
