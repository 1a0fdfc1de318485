/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Dummy Xen domains for the dom0 tests: see xen-fixture.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenforeignmemory.h>
#include <xen/grant_table.h>
#include <xen/memory.h>

#include "xen-fixture.h"

xc_interface *xfx_xch;
xenforeignmemory_handle *xfx_fmem;

static xc_physinfo_t xfx_phys;
static bool xfx_have_phys;

/* The handle (UUID) of every domain the fixture creates. */
static const uint8_t xfx_tag[16] = "libvmmem-xenfix";

/* Domains this process created and has not destroyed. */
#define XFX_MAX_OWNED 64
static uint32_t xfx_owned[XFX_MAX_OWNED];

#define XFX_ERR(...)                                                          \
	do {                                                                  \
		printf("  xfx: " __VA_ARGS__);                                \
		fflush(stdout);                                               \
	} while (0)

static int neg_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

int xfx_open(void)
{
	if (xfx_xch && xfx_fmem)
		return 0;
	xfx_xch = xc_interface_open(NULL, NULL, 0);
	if (!xfx_xch) {
		int e = neg_errno();

		XFX_ERR("xc_interface_open: %s\n", strerror(-e));
		return e;
	}
	xfx_fmem = xenforeignmemory_open(NULL, 0);
	if (!xfx_fmem) {
		int e = neg_errno();

		XFX_ERR("xenforeignmemory_open: %s\n", strerror(-e));
		xc_interface_close(xfx_xch);
		xfx_xch = NULL;
		return e;
	}
	memset(xfx_owned, 0, sizeof(xfx_owned));
	xfx_have_phys = false;
	return 0;
}

void xfx_close(void)
{
	if (xfx_fmem)
		xenforeignmemory_close(xfx_fmem);
	if (xfx_xch)
		xc_interface_close(xfx_xch);
	xfx_fmem = NULL;
	xfx_xch = NULL;
}

bool xfx_hvm_available(const char **why)
{
	*why = NULL;
	if (!xfx_xch) {
		*why = "no libxenctrl handle";
		return false;
	}
	if (!xfx_have_phys) {
		if (xc_physinfo(xfx_xch, &xfx_phys)) {
			*why = "xc_physinfo failed";
			return false;
		}
		xfx_have_phys = true;
	}
	if (!(xfx_phys.capabilities & XEN_SYSCTL_PHYSCAP_hvm)) {
		*why = "Xen reports no HVM capability";
		return false;
	}
	if (!(xfx_phys.capabilities &
	      (XEN_SYSCTL_PHYSCAP_hap | XEN_SYSCTL_PHYSCAP_shadow))) {
		*why = "Xen reports neither HAP nor shadow paging (under QEMU "
		       "TCG: -cpu qemu64,+svm,+npt)";
		return false;
	}
	return true;
}

static void owned_add(uint32_t domid)
{
	for (size_t i = 0; i < XFX_MAX_OWNED; i++)
		if (!xfx_owned[i]) {
			xfx_owned[i] = domid;
			return;
		}
}

static void owned_del(uint32_t domid)
{
	for (size_t i = 0; i < XFX_MAX_OWNED; i++)
		if (xfx_owned[i] == domid)
			xfx_owned[i] = 0;
}

/* Populates d's npages pages: HVM at GFNs 0..npages-1, PV in extents of
 * 2^order pages (the MFNs of an extent are contiguous). */
static int populate(struct xfx_dom *d, unsigned int order)
{
	size_t n = d->npages, ext = (size_t)1 << order;
	size_t nr = n / ext;
	xen_pfn_t *in;
	int rc;

	if (n % ext)
		return -EINVAL;
	in = calloc(nr, sizeof(*in));
	if (!in)
		return -ENOMEM;
	for (size_t i = 0; i < nr; i++)
		in[i] = (xen_pfn_t)(i * ext); /* GFN; PV: Xen writes the MFN */
	rc = xc_domain_populate_physmap_exact(xfx_xch, d->domid, nr, order, 0,
					      in);
	if (rc) {
		rc = neg_errno();
		free(in);
		return rc;
	}
	for (size_t i = 0; i < nr; i++)
		for (size_t j = 0; j < ext; j++)
			d->frames[i * ext + j] = in[i] + j;
	free(in);
	return 0;
}

int xfx_dom_create(struct xfx_dom *d, enum xfx_kind kind, size_t npages)
{
	struct xen_domctl_createdomain cfg;
	const char *why;
	unsigned int order = 0;
	int rc;

	memset(d, 0, sizeof(*d));
	d->kind = kind;
	d->npages = npages;
	if (!npages || !xfx_xch)
		return -EINVAL;
	if (kind == XFX_HVM && !xfx_hvm_available(&why)) {
		XFX_ERR("cannot create an HVM domain: %s\n", why);
		return -EOPNOTSUPP;
	}

	memset(&cfg, 0, sizeof(cfg));
	memcpy(cfg.handle, xfx_tag, sizeof(cfg.handle));
	cfg.max_vcpus = 1;
	cfg.max_evtchn_port = 1023;
	cfg.max_grant_frames = -1;     /* hypervisor defaults */
	cfg.max_maptrack_frames = -1;
	cfg.grant_opts = XEN_DOMCTL_GRANT_version(1);
	if (kind == XFX_HVM) {
		cfg.flags = XEN_DOMCTL_CDF_hvm;
#if defined(__i386__) || defined(__x86_64__)
		/* x86 only: Arm has no emulation flags, and its zeroed
		 * cfg.arch asks for the native GIC. */
		cfg.arch.emulation_flags = XEN_X86_EMU_ALL & ~XEN_X86_EMU_VPCI;
#endif
		if (xfx_phys.capabilities & XEN_SYSCTL_PHYSCAP_hap)
			cfg.flags |= XEN_DOMCTL_CDF_hap;
	}
	if (xc_domain_create(xfx_xch, &d->domid, &cfg)) {
		rc = neg_errno();
		d->domid = 0;
		XFX_ERR("xc_domain_create(%s): %s\n",
			kind == XFX_HVM ? "hvm" : "pv", strerror(-rc));
		return rc;
	}
	owned_add(d->domid);

	if (xc_domain_max_vcpus(xfx_xch, d->domid, 1)) {
		rc = neg_errno();
		XFX_ERR("xc_domain_max_vcpus(d%u): %s\n", d->domid,
			strerror(-rc));
		goto fail;
	}
	if (kind == XFX_HVM &&
	    xc_set_paging_mempool_size(xfx_xch, d->domid, 8ull << 20))
		XFX_ERR("note: xc_set_paging_mempool_size(d%u): %s, going on\n",
			d->domid, strerror(errno));
	if (xc_domain_setmaxmem(xfx_xch, d->domid,
				(uint64_t)npages * 4 + 4096)) {
		rc = neg_errno();
		XFX_ERR("xc_domain_setmaxmem(d%u): %s\n", d->domid,
			strerror(-rc));
		goto fail;
	}
	d->frames = calloc(npages, sizeof(*d->frames));
	if (!d->frames) {
		rc = -ENOMEM;
		goto fail;
	}

	if (kind == XFX_PV) {
		/* The largest power of two dividing npages, at most 512. */
		while (order < 9 && !(npages & ((size_t)1 << order)))
			order++;
	}
	rc = populate(d, order);
	if (rc && order) {
		XFX_ERR("populating d%u in extents of order %u: %s; falling "
			"back to single pages\n", d->domid, order,
			strerror(-rc));
		rc = populate(d, 0);
	}
	if (rc) {
		XFX_ERR("xc_domain_populate_physmap_exact(d%u, %zu pages): "
			"%s\n", d->domid, npages, strerror(-rc));
		goto fail;
	}
	d->contiguous = true;
	for (size_t i = 1; i < npages; i++)
		if (d->frames[i] != d->frames[0] + i)
			d->contiguous = false;
	printf("  xfx: d%u %s, %zu pages, frames %#" PRIx64 "..%#" PRIx64
	       " (%s%s)\n", d->domid, kind == XFX_HVM ? "hvm" : "pv", npages,
	       (uint64_t)d->frames[0], (uint64_t)d->frames[npages - 1],
	       kind == XFX_HVM ? "GFNs" : "MFNs",
	       d->contiguous ? ", contiguous" : ", NOT contiguous");
	fflush(stdout);
	return 0;

fail:
	xfx_dom_destroy(d);
	return rc;
}

int xfx_dom_destroy(struct xfx_dom *d)
{
	int rc = 0;

	if (d->domid) {
		if (xc_domain_destroy(xfx_xch, d->domid)) {
			rc = neg_errno();
			XFX_ERR("xc_domain_destroy(d%u): %s\n", d->domid,
				strerror(-rc));
		}
		owned_del(d->domid);
	}
	free(d->frames);
	d->frames = NULL;
	d->domid = 0;
	return rc;
}

void xfx_destroy_all(void)
{
	if (!xfx_xch)
		return;
	for (size_t i = 0; i < XFX_MAX_OWNED; i++)
		if (xfx_owned[i]) {
			if (xc_domain_destroy(xfx_xch, xfx_owned[i]) &&
			    errno != ESRCH)
				XFX_ERR("xc_domain_destroy(d%u): %s\n",
					xfx_owned[i], strerror(errno));
			xfx_owned[i] = 0;
		}
}

int xfx_destroy_leftovers(void)
{
	xc_domaininfo_t info[64];
	uint32_t next = 1;
	int n, destroyed = 0;

	if (!xfx_xch)
		return -EINVAL;
	for (;;) {
		n = xc_domain_getinfolist(xfx_xch, next, 64, info);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			uint32_t id = info[i].domain;

			next = id + 1;
			if (memcmp(info[i].handle, xfx_tag, sizeof(xfx_tag)))
				continue;
			if (info[i].flags & XEN_DOMINF_dying)
				continue;        /* on its way out already */
			if (xc_domain_destroy(xfx_xch, id))
				XFX_ERR("leftover d%u: xc_domain_destroy: %s\n",
					id, strerror(errno));
			else
				destroyed++;
		}
		if (n < 64)
			break;
	}
	return destroyed;
}

int xfx_unpopulate(const struct xfx_dom *d, size_t page)
{
	xen_pfn_t gfn;
	int rc;

	if (d->kind != XFX_HVM || page >= d->npages || !xfx_xch)
		return -EINVAL;
	gfn = d->frames[page];
	if (xc_domain_decrease_reservation_exact(xfx_xch, d->domid, 1, 0,
						 &gfn)) {
		rc = neg_errno();
		XFX_ERR("xc_domain_decrease_reservation_exact(d%u, GFN %#"
			PRIx64 "): %s\n", d->domid, (uint64_t)gfn,
			strerror(-rc));
		return rc;
	}
	return 0;
}

int xfx_dom_exists(uint32_t domid)
{
	xc_domaininfo_t info;
	int n = xc_domain_getinfolist(xfx_xch, domid, 1, &info);

	if (n < 0)
		return neg_errno();
	return n == 1 && info.domain == domid;
}

uint32_t xfx_unused_domid(void)
{
	for (uint32_t id = 0x7000; id < DOMID_FIRST_RESERVED; id++)
		if (xfx_dom_exists(id) == 0)
			return id;
	return 0x7000;
}

void *xfx_map(const struct xfx_dom *d, size_t first, size_t count,
	      bool writable)
{
	int *err;
	void *p;

	if (first + count > d->npages || !count)
		return NULL;
	err = calloc(count, sizeof(*err));
	if (!err)
		return NULL;
	p = xenforeignmemory_map(xfx_fmem, d->domid,
				 writable ? PROT_READ | PROT_WRITE : PROT_READ,
				 count, d->frames + first, err);
	if (!p) {
		XFX_ERR("xenforeignmemory_map(d%u, pages %zu+%zu): %s\n",
			d->domid, first, count, strerror(errno));
		free(err);
		return NULL;
	}
	for (size_t i = 0; i < count; i++)
		if (err[i]) {
			XFX_ERR("xenforeignmemory_map(d%u): page %zu: %s\n",
				d->domid, first + i, strerror(-err[i]));
			xenforeignmemory_unmap(xfx_fmem, p, count);
			free(err);
			return NULL;
		}
	free(err);
	return p;
}

void xfx_unmap(void *addr, size_t count)
{
	if (addr)
		xenforeignmemory_unmap(xfx_fmem, addr, count);
}

/* Maps the first frames of d's shared grant table, enough for refs below
 * end; *gt points at entry 0. */
static xenforeignmemory_resource_handle *
gt_map(const struct xfx_dom *d, uint32_t end, grant_entry_v1_t **gt)
{
	unsigned long nframes =
		((unsigned long)end * sizeof(grant_entry_v1_t) + XFX_PAGE - 1) /
		XFX_PAGE;
	xenforeignmemory_resource_handle *fres;
	void *addr = NULL;

	if (!nframes)
		nframes = 1;
	fres = xenforeignmemory_map_resource(
		xfx_fmem, d->domid, XENMEM_resource_grant_table,
		XENMEM_resource_grant_table_id_shared, 0, nframes, &addr,
		PROT_READ | PROT_WRITE, 0);
	if (!fres) {
		XFX_ERR("xenforeignmemory_map_resource(d%u grant table, %lu "
			"frames): %s\n", d->domid, nframes, strerror(errno));
		return NULL;
	}
	*gt = addr;
	return fres;
}

static void gt_set(grant_entry_v1_t *e, const struct xfx_dom *d, size_t page,
		   bool readonly)
{
	/* Invalidate first, so that no one sees a half-written entry. */
	__atomic_store_n(&e->flags, 0, __ATOMIC_RELEASE);
	e->domid = 0;
	e->frame = (uint32_t)d->frames[page];
	__atomic_store_n(&e->flags,
			 (uint16_t)(GTF_permit_access |
				    (readonly ? GTF_readonly : 0)),
			 __ATOMIC_RELEASE);
}

int xfx_grant_list(const struct xfx_dom *d, const uint32_t *refs,
		   const size_t *pages, size_t count, bool readonly)
{
	xenforeignmemory_resource_handle *fres;
	grant_entry_v1_t *gt;
	uint32_t end = 0;

	for (size_t i = 0; i < count; i++) {
		if (pages[i] >= d->npages)
			return -EINVAL;
		if (refs[i] + 1 > end)
			end = refs[i] + 1;
	}
	fres = gt_map(d, end, &gt);
	if (!fres)
		return -EIO;
	for (size_t i = 0; i < count; i++)
		gt_set(&gt[refs[i]], d, pages[i], readonly);
	xenforeignmemory_unmap_resource(xfx_fmem, fres);
	return 0;
}

int xfx_grant(const struct xfx_dom *d, uint32_t ref, size_t page,
	      size_t count, bool readonly)
{
	xenforeignmemory_resource_handle *fres;
	grant_entry_v1_t *gt;

	if (page + count > d->npages)
		return -EINVAL;
	fres = gt_map(d, ref + (uint32_t)count, &gt);
	if (!fres)
		return -EIO;
	for (size_t i = 0; i < count; i++)
		gt_set(&gt[ref + i], d, page + i, readonly);
	xenforeignmemory_unmap_resource(xfx_fmem, fres);
	return 0;
}

int xfx_revoke(const struct xfx_dom *d, uint32_t ref, size_t count)
{
	xenforeignmemory_resource_handle *fres;
	grant_entry_v1_t *gt;

	fres = gt_map(d, ref + (uint32_t)count, &gt);
	if (!fres)
		return -EIO;
	for (size_t i = 0; i < count; i++) {
		uint16_t f = __atomic_load_n(&gt[ref + i].flags,
					     __ATOMIC_ACQUIRE);

		if (f & (GTF_reading | GTF_writing))
			XFX_ERR("note: revoking ref %u of d%u while mapped "
				"(flags %#x)\n", ref + (uint32_t)i, d->domid,
				f);
		__atomic_store_n(&gt[ref + i].flags, 0, __ATOMIC_RELEASE);
	}
	xenforeignmemory_unmap_resource(xfx_fmem, fres);
	return 0;
}
