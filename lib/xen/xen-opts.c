/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Options of vmmem_region_new_xen(), checked the same way in every build,
 * and the query of the flags a region was made with. */
#include "xen/backend.h"

static bool flags_valid(uint32_t xen_flags)
{
	switch (xen_flags) {
	case VMMEM_XEN_UNIX:
	case VMMEM_XEN_FOREIGN:
	case VMMEM_XEN_GRANT:
	case VMMEM_XEN_GRANT | VMMEM_XEN_NO_ADVANCE_MAP:
		return true;
	default:        /* foreign or unix on demand, foreign and grant */
		return false;
	}
}

int xen_opts_load(struct vmmem_xen_opts *o, uint64_t size,
		  const struct vmmem_xen_opts *opts)
{
	uint64_t pages = size >> XEN_PAGE_SHIFT;
	int ret = OPTS_VALID(opts, struct vmmem_xen_opts, flags);

	if (ret)
		return ret;
	memset(o, 0, sizeof(*o));
	memcpy(o, opts, opts->sz < sizeof(*o) ? opts->sz : sizeof(*o));
	o->sz = sizeof(*o);
	if (!flags_valid(o->xen_flags) || (o->flags & ~XEN_OPTS_FLAGS) ||
	    size % XEN_PAGE_SIZE || pages > SIZE_MAX / sizeof(uint64_t))
		return -EINVAL;
	if ((o->flags & VMMEM_XEN_MAP_CACHE) &&
	    !(o->xen_flags & VMMEM_XEN_NO_ADVANCE_MAP))
		return -EINVAL;
	if (o->grant_refs && !(o->xen_flags & VMMEM_XEN_GRANT))
		return -EINVAL;
	if (o->xen_flags == VMMEM_XEN_UNIX) {
		if (o->offset % XEN_PAGE_SIZE || o->offset > (uint64_t)INT64_MAX ||
		    range_wraps(o->offset, size))
			return -EINVAL;
		return o->fd < 0 ? -EBADF : 0;
	}
	if (o->gpa % XEN_PAGE_SIZE || range_wraps(o->gpa, size))
		return -EINVAL;
	/* libxengnttab counts pages in 32 bits. */
	if ((o->xen_flags & VMMEM_XEN_GRANT) && pages > UINT32_MAX)
		return -EINVAL;
	if (o->grant_refs)
		return o->num_grant_refs == pages ? 0 : -EINVAL;
	if ((o->xen_flags & VMMEM_XEN_GRANT) &&
	    ((o->gpa & ~(1ull << 63)) >> XEN_PAGE_SHIFT) + pages - 1 > UINT32_MAX)
		return -EINVAL;
	return 0;
}

VMMEM_EXPORT int vmmem_region_xen_flags(const struct vmmem_region *r,
					unsigned int *flags)
{
	if (!r || !flags)
		return -EINVAL;
	if (!r->xen)
		return -ENOENT;
	*flags = r->xen_opts_flags;
	return 0;
}
