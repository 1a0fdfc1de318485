/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Regions without a fixed host address: their pages are mapped while they
 * are accessed, and unmapped when the access ends or, with the cache
 * option, kept in a map cache (Xen grants with NO_ADVANCE_MAP).  The
 * table gives such a slot no host pointer, which sends every access to the
 * slow paths of lib/access/, and those pin what they touch. */
#include "xen/mapcache.h"

int region_new_lazy(struct vmmem_region **out, uint64_t size,
		    const struct mapcache_ops *ops, void *ctx, bool cache,
		    size_t max_pages, bool readonly)
{
	struct vmmem_region *r;
	int ret;

	if (!size || size % MAPCACHE_PAGE_SIZE)
		return -EINVAL;
	ret = region_alloc(&r, REGION_LAZY);
	if (ret)
		return ret;
	ret = mapcache_new(&r->cache, ops, ctx, size >> MAPCACHE_PAGE_SHIFT,
			   cache, max_pages ? max_pages : MAPCACHE_DEFAULT_PAGES);
	if (ret) {
		vmmem_region_unref(r);
		return ret;
	}
	r->size = size;
	r->page_size = MAPCACHE_PAGE_SIZE;
	r->readonly = readonly;
	*out = r;
	return 0;
}
