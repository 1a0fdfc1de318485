/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Foreign regions: a domain's guest frames gpa >> 12 ... mapped in advance
 * through libxenforeignmemory (privcmd). */
#include <stdlib.h>
#include <sys/mman.h>
#include <xenforeignmemory.h>

#include "xen/backend.h"

struct foreign {
	xenforeignmemory_handle *fmem;
	size_t pages;
};

static void foreign_release(struct vmmem_region *r)
{
	struct foreign *f = r->backend;

	if (r->host)
		xenforeignmemory_unmap(f->fmem, r->host, f->pages);
	xenforeignmemory_close(f->fmem);
	free(f);
}

/* Xen 4.17 reports a frame's failure as a negative errno, although the
 * header speaks of errno values; both signs are accepted, negative is
 * handed on. */
static int first_frame_error(int *err, size_t pages)
{
	int first = 0;

	for (size_t i = 0; i < pages; i++) {
		if (err[i] > 0)
			err[i] = -err[i];
		if (err[i] && !first)
			first = err[i];
	}
	return first;
}

static int map_frames(struct vmmem_region *r, struct foreign *f,
		      const struct vmmem_xen_opts *o, int *err)
{
	int prot = (o->flags & VMMEM_XEN_READONLY) ? PROT_READ
						   : PROT_READ | PROT_WRITE;
	xen_pfn_t *gfns = malloc(f->pages * sizeof(*gfns));
	void *addr;
	int ret;

	if (!gfns)
		return -ENOMEM;
	for (size_t i = 0; i < f->pages; i++)
		gfns[i] = (xen_pfn_t)((o->gpa >> XEN_PAGE_SHIFT) + i);
	addr = xenforeignmemory_map(f->fmem, o->domid, prot, f->pages, gfns,
				    err);
	ret = addr ? 0 : (errno > 0 ? -errno : -EIO);
	free(gfns);
	if (!addr) {
		for (size_t i = 0; i < f->pages; i++)
			err[i] = ret;
		return ret;
	}
	ret = first_frame_error(err, f->pages);
	if (ret) {
		xenforeignmemory_unmap(f->fmem, addr, f->pages);
		return ret;
	}
	r->host = addr;
	return 0;
}

int xen_foreign_new(struct vmmem_region **out, uint64_t size,
		    const struct vmmem_xen_opts *o)
{
	struct vmmem_region *r;
	struct foreign *f;
	int *err;
	int ret = region_alloc(&r, REGION_XEN);

	if (ret)
		return ret;
	r->size = size;
	r->page_size = XEN_PAGE_SIZE;
	r->readonly = o->flags & VMMEM_XEN_READONLY;
	f = calloc(1, sizeof(*f));
	if (!f) {
		vmmem_region_unref(r);
		return -ENOMEM;
	}
	f->pages = (size_t)(size >> XEN_PAGE_SHIFT);
	f->fmem = xenforeignmemory_open(xen_silent_logger(), 0);
	if (!f->fmem) {
		ret = errno > 0 ? -errno : -EIO;
		free(f);
		vmmem_region_unref(r);
		return ret;
	}
	r->backend = f;
	r->backend_release = foreign_release;
	err = o->frame_errors ? o->frame_errors : calloc(f->pages, sizeof(*err));
	ret = err ? map_frames(r, f, o, err) : -ENOMEM;
	if (err != o->frame_errors)
		free(err);
	if (ret) {
		vmmem_region_unref(r);
		return ret;
	}
	*out = r;
	return 0;
}
