/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Grant regions: a domain's grant references mapped through libxengnttab
 * (gntdev), all in advance, or on demand: for each access, or through the
 * map cache. */
#include <stdlib.h>
#include <sys/mman.h>
#include <xengnttab.h>

#include "xen/mapcache.h"
#include "xen/backend.h"

struct grant {
	xengnttab_handle *xgt;
	uint32_t domid;
	uint32_t *refs;               /* one per page */
	size_t pages;
	void *addr;                   /* mapped in advance, else NULL */
};

static void grant_release(struct vmmem_region *r)
{
	struct grant *g = r->backend;

	if (g->addr)
		xengnttab_unmap(g->xgt, g->addr, g->pages);
	xengnttab_close(g->xgt);
	free(g->refs);
	free(g);
}

/* The on-demand mapper: pages [first, first + count) in one call. */
static void *grant_map(void *ctx, uint64_t first, size_t count, bool writable,
		       int *err)
{
	struct grant *g = ctx;
	void *addr = xengnttab_map_domain_grant_refs(g->xgt, (uint32_t)count,
						     g->domid, g->refs + first,
						     writable ? PROT_READ | PROT_WRITE
							      : PROT_READ);

	if (!addr)
		*err = errno > 0 ? -errno : -EIO;
	return addr;
}

static void grant_unmap(void *ctx, void *addr, size_t count)
{
	struct grant *g = ctx;

	xengnttab_unmap(g->xgt, addr, count);
}

static const struct mapcache_ops grant_ops = {
	.map = grant_map,
	.unmap = grant_unmap,
};

static struct grant *grant_open(uint64_t size, const struct vmmem_xen_opts *o,
				int *ret)
{
	struct grant *g = calloc(1, sizeof(*g));

	*ret = -ENOMEM;
	if (!g)
		return NULL;
	g->pages = (size_t)(size >> XEN_PAGE_SHIFT);
	g->domid = o->domid;
	g->refs = malloc(g->pages * sizeof(*g->refs));
	if (!g->refs) {
		free(g);
		return NULL;
	}
	for (size_t i = 0; i < g->pages; i++)
		g->refs[i] = o->grant_refs ? o->grant_refs[i]
					   : xen_derived_ref(o->gpa, i);
	g->xgt = xengnttab_open(xen_silent_logger(), 0);
	if (!g->xgt) {
		*ret = errno > 0 ? -errno : -EIO;
		free(g->refs);
		free(g);
		return NULL;
	}
	*ret = 0;
	return g;
}

int xen_grant_new(struct vmmem_region **out, uint64_t size,
		  const struct vmmem_xen_opts *o)
{
	bool readonly = o->flags & VMMEM_XEN_READONLY;
	struct vmmem_region *r;
	struct grant *g;
	int ret;

	g = grant_open(size, o, &ret);
	if (!g)
		return ret;
	if (o->xen_flags & VMMEM_XEN_NO_ADVANCE_MAP) {
		ret = region_new_lazy(&r, size, &grant_ops, g,
				      o->flags & VMMEM_XEN_MAP_CACHE,
				      o->cache_pages, readonly);
	} else {
		ret = region_alloc(&r, REGION_XEN);
		if (!ret) {
			r->size = size;
			r->page_size = XEN_PAGE_SIZE;
			r->readonly = readonly;
		}
	}
	if (ret) {
		xengnttab_close(g->xgt);
		free(g->refs);
		free(g);
		return ret;
	}
	r->backend = g;
	r->backend_release = grant_release;
	if (!(o->xen_flags & VMMEM_XEN_NO_ADVANCE_MAP)) {
		g->addr = grant_map(g, 0, g->pages, !readonly, &ret);
		if (!g->addr) {
			vmmem_region_unref(r);
			return ret;
		}
		r->host = g->addr;
	}
	*out = r;
	return 0;
}
