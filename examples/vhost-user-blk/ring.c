/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include <endian.h>
#include <errno.h>

#include "ring.h"

int vub_ring_open(struct vub_ring *r, const struct vub_access *a,
		  uint64_t addr, size_t len, unsigned int flags)
{
	struct vmmem_ring *pinned = NULL;
	int ret = a->iova ?
		vmmem_iommu_ring_new(&pinned, vub_memory_iommu(a->memory),
				     addr, len, flags) :
		vmmem_ring_new(&pinned, vub_memory_space(a->memory), addr, len,
			       flags);

	/* Any other error: the per-call functions meet it again at the
	 * first access, or find the memory the pin could not cover. */
	if (ret == -EAGAIN)
		return ret;
	*r = (struct vub_ring){ .pinned = pinned, .addr = addr, .len = len };
	return 0;
}

struct vub_ring vub_ring_per_call(uint64_t addr, size_t len)
{
	return (struct vub_ring){ .addr = addr, .len = len };
}

void vub_ring_close(struct vub_ring *r)
{
	vmmem_ring_free(r->pinned);
	*r = (struct vub_ring){ 0 };
}

/* The library sets state when an IOTLB message unmaps a pinned ring. */
bool vub_ring_usable(const struct vub_ring *r)
{
	return r->len &&
	       (!r->pinned || !__atomic_load_n(&r->pinned->state,
					       __ATOMIC_ACQUIRE));
}

/* The device address of [off, off + n) if it lies in the ring. */
static int per_call_at(const struct vub_ring *r, size_t off, size_t n,
		       uint64_t *addr)
{
	if (n > r->len || off > r->len - n)
		return -EFAULT;
	*addr = r->addr + off;
	return 0;
}

int vub_ring_load16(const struct vub_ring *r, const struct vub_access *a,
		    size_t off, uint16_t *val, int order)
{
	uint64_t at, v = 0;
	int ret;

	if (r->pinned)
		return vmmem_ring_load16(r->pinned, off, val, order);
	ret = per_call_at(r, off, 2, &at);
	if (ret == 0)
		ret = a->iova ?
			vmmem_iommu_load(vub_memory_iommu(a->memory), at, 2,
					 &v, order) :
			vmmem_load(vub_memory_space(a->memory), at, 2, &v,
				   order);
	if (ret == 0)
		*val = le16toh((uint16_t)v);
	return ret;
}

int vub_ring_store16(struct vub_ring *r, const struct vub_access *a,
		     size_t off, uint16_t val, int order)
{
	uint64_t at;
	int ret;

	if (r->pinned)
		return vmmem_ring_store16(r->pinned, off, val, order);
	ret = per_call_at(r, off, 2, &at);
	if (ret < 0)
		return ret;
	if (a->iova)
		return vmmem_iommu_store(vub_memory_iommu(a->memory), at, 2,
					 htole16(val), order);
	return vmmem_store(vub_memory_space(a->memory), at, 2, htole16(val),
			   order);
}

int vub_ring_read(const struct vub_ring *r, const struct vub_access *a,
		  size_t off, void *buf, size_t n)
{
	uint64_t at;
	int ret;

	if (r->pinned)
		return vmmem_ring_read(r->pinned, off, buf, n);
	ret = per_call_at(r, off, n, &at);
	return ret < 0 ? ret : vub_read(a, at, buf, n);
}

int vub_ring_write(struct vub_ring *r, const struct vub_access *a, size_t off,
		   const void *buf, size_t n)
{
	uint64_t at;
	int ret;

	if (r->pinned)
		return vmmem_ring_write(r->pinned, off, buf, n);
	ret = per_call_at(r, off, n, &at);
	return ret < 0 ? ret : vub_write(a, at, buf, n);
}
