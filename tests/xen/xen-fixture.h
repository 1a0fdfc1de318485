/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Dummy Xen domains for the tests that run in a real dom0 (tests/xen).
 *
 * A dummy domain is created paused with libxenctrl, given memory and never
 * run.  Its pages are reached without libvmmem through a mapping of our own
 * (libxenforeignmemory), so that what libvmmem writes can be checked and what
 * the test writes can be read back through libvmmem.  Grants are made by
 * writing v1 entries into the domain's grant table, acquired with
 * xenforeignmemory_map_resource() (what libxenguest's xc_dom_gnttab_seed()
 * does), granting frames to dom0.
 *
 * Handles are per process: xfx_open() in every process that uses the
 * fixture (a Check child opens its own; handles inherited across fork() are
 * unusable).  Every function returns 0 or a negative errno and prints a
 * line saying what failed; success is quiet except for brief "  xfx:" info
 * lines. */
#ifndef VMMEM_XEN_FIXTURE_H
#define VMMEM_XEN_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xenctrl.h>
#include <xenforeignmemory.h>

#define XFX_PAGE 4096u

enum xfx_kind { XFX_PV, XFX_HVM };

struct xfx_dom {
	enum xfx_kind kind;
	uint32_t domid;              /* 0: none */
	size_t npages;
	/* Frame of page i: what xenforeignmemory_map() and a grant entry
	 * take.  GFN i for HVM (populated at GFNs 0..npages-1), the MFN Xen
	 * chose for PV. */
	xen_pfn_t *frames;
	bool contiguous;             /* frames[i] == frames[0] + i for all i */
};

/* Handles of this process. */
extern xc_interface *xfx_xch;
extern xenforeignmemory_handle *xfx_fmem;

int xfx_open(void);
void xfx_close(void);

/* Whether Xen can create HVM domains here (HVM, and HAP or shadow paging);
 * if not, *why says why.  Needs xfx_open(). */
bool xfx_hvm_available(const char **why);

/* Creates a paused dummy domain with npages pages.  PV: populated in
 * extents of up to 512 pages (2 MiB), so the MFNs of each extent are
 * contiguous, and a domain of a power of two up to 512 pages is contiguous
 * as a whole; falls back to single pages if Xen refuses extents.  The
 * domain is tagged (its handle) so that xfx_destroy_leftovers() finds it,
 * and remembered so that xfx_destroy_all() destroys it. */
int xfx_dom_create(struct xfx_dom *d, enum xfx_kind kind, size_t npages);
/* Destroys the domain (if any) and frees d's frames; d->domid becomes 0. */
int xfx_dom_destroy(struct xfx_dom *d);
/* Destroys every domain this process created and has not destroyed. */
void xfx_destroy_all(void);
/* Destroys every domain carrying the fixture's tag, whoever created it
 * (a test process that failed before its cleanup); returns how many. */
int xfx_destroy_leftovers(void);

/* Takes page `page` of HVM domain d out of its memory map, as a balloon
 * driver would: GFN frames[page] is unpopulated from then on (a hole that
 * mappings of it report).  d->frames is left as it was. */
int xfx_unpopulate(const struct xfx_dom *d, size_t page);

/* Whether domain domid exists (dying or not); negative errno on error. */
int xfx_dom_exists(uint32_t domid);
/* A domain id no domain has now (for the "non-existent domain" case). */
uint32_t xfx_unused_domid(void);

/* Independent mapping of pages [first, first + count) of d, read-write or
 * read-only.  NULL on failure (printed). */
void *xfx_map(const struct xfx_dom *d, size_t first, size_t count,
	      bool writable);
void xfx_unmap(void *addr, size_t count);

/* Grant entries refs [ref, ref + count) -> pages [page, page + count) of d,
 * to dom0, read-write or GTF_readonly. */
int xfx_grant(const struct xfx_dom *d, uint32_t ref, size_t page,
	      size_t count, bool readonly);
/* Grant entries refs[i] -> pages[i] of d, to dom0. */
int xfx_grant_list(const struct xfx_dom *d, const uint32_t *refs,
		   const size_t *pages, size_t count, bool readonly);
/* Clears grant entries [ref, ref + count) (flags 0: not granted). */
int xfx_revoke(const struct xfx_dom *d, uint32_t ref, size_t count);

#endif
