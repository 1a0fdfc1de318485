/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* VHOST_USER_ADD_MEM_REG and VHOST_USER_REM_MEM_REG: one region at a time,
 * through the same hotplug as vmmem_add_region()/vmmem_remove_region(). */
#include "vhost/vhost.h"

VMMEM_EXPORT int vmmem_vhost_add_mem_reg(struct vmmem *m,
					 const struct vmmem_vhost_region *vr,
					 int fd,
					 const struct vmmem_region_opts *opts)
{
	struct slot proto;
	int ret = m ? vhost_region_check(vr) : -EINVAL;

	if (ret)
		return ret;
	ret = vhost_slot_new(&proto, vr, fd, opts);
	if (ret)
		return ret;
	ret = space_insert(m, &proto, VMMEM_VHOST_MAX_REGIONS);
	vmmem_region_unref(proto.region);
	return ret;
}

/* Matched as libvhost-user matches it: guest address, size and front-end
 * address; the message's mmap_offset is not looked at. */
VMMEM_EXPORT int vmmem_vhost_rem_mem_reg(struct vmmem *m,
					 const struct vmmem_vhost_region *vr)
{
	int ret = m ? vhost_region_check(vr) : -EINVAL;

	if (ret)
		return ret;
	return space_remove(m, vr->guest_phys_addr, vr->memory_size,
			    &vr->userspace_addr, NULL);
}
