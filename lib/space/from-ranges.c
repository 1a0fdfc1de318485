/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Building a whole address space from a list of ranges in one call. */
#include "vmmem-private.h"

static int add_range(struct vmmem *m, const struct vmmem_range *rg,
		     const struct vmmem_region_opts *opts)
{
	struct vmmem_region_opts o;
	struct vmmem_region *r;
	int ret = region_opts_load(&o, opts);

	if (ret)
		return ret;
	if (o.flags & VMMEM_REGION_FD)
		return -EINVAL;
	if (!rg->size || range_wraps(rg->gpa, rg->size))
		return -EINVAL;
	if (rg->fd >= 0) {
		o.flags |= VMMEM_REGION_FD;
		o.fd = rg->fd;
		o.offset = rg->offset;
	} else if (rg->offset) {
		return -EINVAL;
	}
	ret = vmmem_region_new(&r, rg->size, &o);
	if (ret)
		return ret;
	ret = vmmem_add_region(m, rg->gpa, r);
	vmmem_region_unref(r);
	return ret;
}

VMMEM_EXPORT int vmmem_new_from_ranges(struct vmmem **out,
				       const struct vmmem_range *ranges,
				       size_t count,
				       const struct vmmem_region_opts *opts)
{
	struct vmmem *m;
	int ret;

	if (!out || !ranges || !count)
		return -EINVAL;
	ret = vmmem_new(&m, 0);
	if (ret)
		return ret;
	for (size_t i = 0; i < count && !ret; i++)
		ret = add_range(m, &ranges[i], opts);
	if (ret) {
		vmmem_free(m);
		return ret;
	}
	*out = m;
	return 0;
}
