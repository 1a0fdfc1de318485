/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* IOVA rings: translated once through the IOTLB and pinned like a GPA
 * ring.  The IOMMU keeps a list of its rings; an update or invalidation
 * of an IOVA range a ring overlaps sets the ring's state to
 * VMMEM_RING_INVALID and its lengths to 0, so every later access through
 * it fails its bounds check and answers -EAGAIN: that is how the owner
 * learns to free it and pin the range again.  The memory stays pinned
 * until vmmem_ring_free(), so an access racing with the invalidation
 * touches valid memory. */
#include "access/ring.h"
#include "iommu/iotlb.h"

/* The GPA of the walk's range when its IOTLB entries map it to one
 * contiguous GPA range: a guest maps a ring larger than its IOMMU page
 * (a 1024-entry descriptor table is 16 KiB) with one entry per page, and
 * its DMA allocator gives it contiguous pages as often as not.  Returns 0,
 * 1 for a miss or a refusal on the way (the walk says which), or -EFAULT
 * for pieces that are not contiguous in GPA. */
static int contiguous_gpa(const struct iotlb *t, struct iotlb_walk *w,
			  uint64_t *gpa)
{
	struct iova_piece p;
	uint64_t next;

	if (!iotlb_translate(t, w, &p, 1))
		return 1;
	*gpa = p.gpa;
	next = p.gpa + p.len;
	while (w->stop == IOTLB_DONE && w->left) {
		iotlb_translate(t, w, &p, 1);
		if (w->stop != IOTLB_DONE)
			break;
		if (p.gpa != next)
			return -EFAULT;
		next += p.len;
	}
	return w->stop == IOTLB_DONE ? 0 : 1;
}

VMMEM_EXPORT int vmmem_iommu_ring_new(struct vmmem_ring **out,
				      struct vmmem_iommu *iommu,
				      uint64_t iova, size_t len,
				      unsigned int flags)
{
	struct iotlb_walk w;
	struct ring *r = NULL;
	uint64_t gpa;
	int ret;

	if (!out || !iommu || !len || !flags || (iova & 1) ||
	    (flags & ~(VMMEM_MAP_READ | VMMEM_MAP_WRITE)) ||
	    range_wraps(iova, len))
		return -EINVAL;
	w = (struct iotlb_walk){ .iova = iova, .left = len,
		.perm = VMMEM_PERM_READ |
			((flags & VMMEM_MAP_WRITE) ? VMMEM_PERM_WRITE : 0) };
	/* Under the lock no update can come between the translation and the
	 * ring joining the list its invalidation walks. */
	pthread_mutex_lock(&iommu->lock);
	ret = contiguous_gpa(iotlb_enter(iommu, iova, iova + (len - 1)), &w, &gpa);
	if (!ret)
		ret = ring_pin(&r, iommu->mem, gpa, iova, len, flags);
	iotlb_exit();
	if (!ret) {
		r->iommu = iommu;
		r->next = iommu->rings;
		iommu->rings = r;
	}
	pthread_mutex_unlock(&iommu->lock);
	if (ret == 1)
		return iommu_stopped(iommu, &w);
	if (!ret)
		*out = &r->pub;
	return ret;
}

void iommu_rings_invalidate(struct vmmem_iommu *iommu, uint64_t iova,
			    uint64_t last, bool iommu_gone)
{
	for (struct ring *r = iommu->rings; r; r = r->next) {
		struct vmmem_ring *pub = &r->pub;

		if (pub->addr <= last && iova <= pub->addr + (r->pinned - 1)) {
			__atomic_store_n(&pub->state, VMMEM_RING_INVALID,
					 __ATOMIC_RELAXED);
			__atomic_store_n(&pub->len, 0, __ATOMIC_RELEASE);
			__atomic_store_n(&pub->wlen, 0, __ATOMIC_RELEASE);
		}
		if (iommu_gone)
			r->iommu = NULL;
	}
}

void iommu_ring_forget(struct ring *r)
{
	struct vmmem_iommu *iommu = r->iommu;

	pthread_mutex_lock(&iommu->lock);
	for (struct ring **pp = &iommu->rings; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	pthread_mutex_unlock(&iommu->lock);
}
