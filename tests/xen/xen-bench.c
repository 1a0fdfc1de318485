/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * xen-bench: what the map cache of on-demand grant regions saves.
 *
 * Runs in a Xen dom0 (tests/xen/run-xen.sh boots one under QEMU).  A paused
 * PV dummy domain gets NPAGES pages, each granted to dom0 by an entry
 * written straight into its grant table; those grants are the guest memory
 * of a libvmmem region VMMEM_XEN_GRANT | VMMEM_XEN_NO_ADVANCE_MAP with
 * explicit references, placed in a struct vmmem.  Small repeated reads, 8
 * bytes and 4 KiB, at a few pages in turn, are then timed three ways:
 *
 *   cached      vmmem_read() through libvmmem's map cache;
 *   map-unmap   xengnttab_map_domain_grant_refs(), read, xengnttab_unmap()
 *               around every access, as vm-memory does for such regions;
 *   grant-copy  one GNTTABOP_copy per access (xengnttab_grant_copy), for
 *               8 bytes only.
 *
 * Each figure is the median of REPS runs of about RUN_TIME seconds, in
 * nanoseconds per access.  Output, for the harness:
 *
 *   BENCH: <name>\t<variant>\t<ns>\tns/op
 *   BENCH: ratio <name> <map-unmap / cached>x
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
#define NPAGES     64u                   /* granted pages of the dummy */
#define FIRST_REF  16u                   /* refs 0-7 are reserved */
#define GPA_BASE   0x100000000ull        /* where the region is placed */
#define CYCLE      8u                    /* pages visited in turn ... */
#define STRIDE     8u                    /* ... 8 apart: 4 cache buckets */
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

static uint64_t dst[PAGE / 8];           /* what the accesses read into */
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

static int setup(void)
{
	struct vmmem_xen_opts xo = {
		.sz = sizeof(xo),
		.xen_flags = VMMEM_XEN_GRANT | VMMEM_XEN_NO_ADVANCE_MAP,
		.gpa = GPA_BASE,
		.grant_refs = refs,
		.num_grant_refs = NPAGES,
	};
	struct vmmem_region *r;
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
	xo.domid = domid;
	ret = vmmem_region_new_xen(&r, (uint64_t)NPAGES * PAGE, &xo);
	if (ret)
		return fail("vmmem_region_new_xen(GRANT | NO_ADVANCE_MAP)", -ret);
	ret = vmmem_new(&mem, 0);
	if (!ret)
		ret = vmmem_add_region(mem, GPA_BASE, r);
	vmmem_region_unref(r);
	if (ret)
		return fail("vmmem_add_region", -ret);
	printf("xen-bench: d%" PRIu32 " (PV, paused), %u pages granted as refs "
	       "%u-%u, region at GPA 0x%llx\n", domid, NPAGES, refs[0],
	       refs[NPAGES - 1], GPA_BASE);
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

/* The i-th access: page (i % CYCLE) * STRIDE, at an offset that moves
 * through the page for 8-byte reads. */
static unsigned int page_of(uint64_t i)
{
	return (unsigned int)(i % CYCLE) * STRIDE;
}

static unsigned int offset_of(uint64_t i, size_t len)
{
	return len >= PAGE ? 0 : (unsigned int)((i / CYCLE * 8) % PAGE);
}

typedef int (*access_fn)(uint64_t i, void *buf, size_t len);

static int read_cached(uint64_t i, void *buf, size_t len)
{
	uint64_t gpa = GPA_BASE + (uint64_t)page_of(i) * PAGE + offset_of(i, len);
	ssize_t n = vmmem_read(mem, gpa, buf, len);

	return n == (ssize_t)len ? 0 : n < 0 ? (int)n : -EIO;
}

static int read_map_unmap(uint64_t i, void *buf, size_t len)
{
	unsigned int p = page_of(i);
	uint8_t *m = xengnttab_map_domain_grant_refs(xgt, 1, domid, &refs[p],
						      PROT_READ | PROT_WRITE);

	if (!m)
		return errno > 0 ? -errno : -EIO;
	memcpy(buf, m + offset_of(i, len), len);
	xengnttab_unmap(xgt, m, 1);
	return 0;
}

static int read_grant_copy(uint64_t i, void *buf, size_t len)
{
	xengnttab_grant_copy_segment_t seg = {
		.source.foreign = {
			.ref = refs[page_of(i)],
			.offset = (uint16_t)offset_of(i, len),
			.domid = (uint16_t)domid,
		},
		.dest.virt = buf,
		.len = (uint16_t)len,
		.flags = GNTCOPY_source_gref,
	};

	if (xengnttab_grant_copy(xgt, 1, &seg))
		return errno > 0 ? -errno : -EIO;
	return seg.status == GNTST_okay ? 0 : -EIO;
}

/* Every variant reads what the dummy holds, at the first accesses. */
static int check(const char *name, access_fn fn, size_t len)
{
	for (uint64_t i = 0; i < 2 * CYCLE; i++) {
		unsigned int p = page_of(i), w = offset_of(i, len) / 8;
		int ret = fn(i, dst, len);

		if (ret)
			return fail(name, -ret);
		if (dst[0] != pattern(p, w) ||
		    dst[len / 8 - 1] != pattern(p, w + (unsigned int)len / 8 - 1)) {
			printf("xen-bench: FAILED: %s: page %u word %u reads "
			       "%#" PRIx64 "\n", name, p, w, dst[0]);
			return -1;
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

/* Median of reps runs, in ns per access; < 0 on failure. */
static double measure(const char *name, const char *variant, access_fn fn,
		      size_t len)
{
	double ns[MAX_REPS], t0;
	uint64_t batch;
	char what[64];
	int err = 0;

	snprintf(what, sizeof(what), "%s %s", name, variant);
	if (check(what, fn, len))
		return -1;
	/* Batches of about 1 ms between clock reads. */
	t0 = now();
	for (uint64_t i = 0; i < 16 && !err; i++)
		err = fn(i, dst, len);
	if (err)
		return fail(what, -err);
	batch = (uint64_t)(1e-3 / ((now() - t0) / 16 + 1e-9)) + 1;
	for (int r = 0; r < reps; r++) {
		ns[r] = run_once(fn, len, batch, &err);
		if (err)
			return fail(what, -err);
	}
	qsort(ns, (size_t)reps, sizeof(ns[0]), cmp_double);
	printf("BENCH: %s\t%s\t%.1f\tns/op\n", name, variant, ns[reps / 2]);
	fflush(stdout);
	return ns[reps / 2];
}

static void print_cache_stats(void)
{
	struct vmmem_xen_cache_stats st = { .sz = sizeof(st) };
	struct vmmem_region *r;
	uint64_t off;

	if (vmmem_find_region(mem, GPA_BASE, &r, &off) == 0 &&
	    vmmem_region_xen_cache_stats(r, &st) == 0)
		printf("xen-bench: map cache: %" PRIu64 " hits, %" PRIu64
		       " misses, %" PRIu64 " map calls, %" PRIu64 " evictions, %"
		       PRIu64 " pages mapped\n", st.hits, st.misses,
		       st.map_calls, st.evictions, st.mapped_pages);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		size_t len;
	} sizes[] = { { "read8", 8 }, { "read4k", PAGE } };
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
		const char *name = sizes[s].name;
		size_t len = sizes[s].len;
		double cached, uncached;

		cached = measure(name, "cached", read_cached, len);
		uncached = measure(name, "map-unmap", read_map_unmap, len);
		if (cached <= 0 || uncached <= 0)
			goto out;
		if (len == 8 && measure(name, "grant-copy", read_grant_copy, len) < 0)
			goto out;
		printf("BENCH: ratio %s %.1fx\n", name, uncached / cached);
	}
	print_cache_stats();
	printf("xen-bench: ok\n");
	status = 0;
out:
	teardown();
	return status;
}
