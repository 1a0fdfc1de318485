/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Xen entry points of a build without the Xen libraries.  They exist in
 * every build so that the exported symbol set never depends on configure
 * options; options are still checked, so a caller learns of its own
 * mistakes before it learns that Xen is missing. */
#include "xen/backend.h"

VMMEM_EXPORT int vmmem_region_new_xen(struct vmmem_region **out, uint64_t size,
				      const struct vmmem_xen_opts *opts)
{
	struct vmmem_xen_opts o;
	int ret;

	if (!out || !size || !opts)
		return -EINVAL;
	ret = xen_opts_load(&o, size, opts);
	return ret ? ret : -EOPNOTSUPP;
}

VMMEM_EXPORT int vmmem_region_xen(const struct vmmem_region *region,
				  uint32_t *domid, uint32_t *xen_flags)
{
	if (!region || !domid || !xen_flags)
		return -EINVAL;
	return -ENOENT;
}

VMMEM_EXPORT int vmmem_region_xen_invalidate(struct vmmem_region *region)
{
	if (!region)
		return -EINVAL;
	return -EOPNOTSUPP;
}

VMMEM_EXPORT int vmmem_region_xen_cache_stats(const struct vmmem_region *region,
					      struct vmmem_xen_cache_stats *stats)
{
	if (!region || !stats || stats->sz < XEN_STATS_MIN_SZ)
		return -EINVAL;
	return -EOPNOTSUPP;
}
