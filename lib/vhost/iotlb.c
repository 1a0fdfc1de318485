/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* VHOST_USER_IOTLB_MSG: the front-end's IOTLB updates name the backing by
 * its own address (uaddr); the IOTLB of struct vmmem_iommu keeps guest
 * addresses, so an update is translated on the way in.  A miss goes the
 * other way, through the vmmem_iommu's miss callback. */
#include "iommu/iotlb.h"

VMMEM_EXPORT int vmmem_vhost_iotlb_msg(struct vmmem_iommu *iommu,
				       const struct vmmem_vhost_iotlb_msg *msg)
{
	uint64_t gpa;
	int ret;

	if (!iommu || !msg)
		return -EINVAL;
	switch (msg->type) {
	case VMMEM_VHOST_IOTLB_UPDATE:
		ret = vmmem_uaddr_to_gpa(iommu->mem, msg->uaddr, msg->size,
					 &gpa);
		if (ret)
			return ret;
		/* VHOST_ACCESS_RO/WO/RW are VMMEM_PERM_READ/WRITE's bits. */
		return vmmem_iommu_update(iommu, msg->iova, msg->size, gpa,
					  msg->perm);
	case VMMEM_VHOST_IOTLB_INVALIDATE:
		return vmmem_iommu_invalidate(iommu, msg->iova, msg->size);
	default:        /* MISS and ACCESS_FAIL travel the other way */
		return -EINVAL;
	}
}
