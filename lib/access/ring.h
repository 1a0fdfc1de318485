/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Rings (include/libvmmem.h): the object behind struct vmmem_ring. */
#ifndef VMMEM_RING_H
#define VMMEM_RING_H

#include "vmmem-private.h"

struct mapping;

struct ring {
	struct vmmem_ring pub;        /* first: the caller's pointer */
	struct vmmem *mem;
	struct mapping *pin;
	uint64_t gpa;                 /* of pub.host[0]; pub.addr for GPA rings */
	size_t pinned;                /* pub.len until an invalidation */
	struct vmmem_iommu *iommu;    /* IOVA rings, until the IOMMU goes */
	struct ring *next;            /* in iommu->rings, under iommu->lock */
};

/* Pins len bytes at gpa for a ring whose pub.addr is addr. */
int ring_pin(struct ring **out, struct vmmem *m, uint64_t gpa, uint64_t addr,
	     size_t len, unsigned int flags);
void ring_unpin(struct ring *r);

/* Under iommu->lock: every ring of iommu over [iova, last] made invalid
 * (accessors then return -EAGAIN); with iommu_gone, every ring forgets it. */
void iommu_rings_invalidate(struct vmmem_iommu *iommu, uint64_t iova,
			    uint64_t last, bool iommu_gone);
/* Takes an IOVA ring off its IOMMU's list. */
void iommu_ring_forget(struct ring *r);

#endif
