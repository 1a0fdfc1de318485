/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Rings: a vmmem_map() pin behind a public object that the header's inline
 * accessors use without a call.  The library's only say in an access is
 * pub.log, the record of what a store marks (access/ring-log.c), and, for
 * IOVA rings, pub.len and pub.wlen, which an invalidation sets to 0
 * (lib/iommu/ring.c). */
#include <stdlib.h>

#include "access/map.h"
#include "access/ring.h"
#include "dirty/dirty.h"

int ring_pin(struct ring **out, struct vmmem *m, uint64_t gpa, uint64_t addr,
	     size_t len, unsigned int flags)
{
	uint64_t got = len;
	struct ring *r;
	int ret;

	/* No virtio ring starts at an odd address, and the 16-bit accessors
	 * test only the offset's alignment (include/libvmmem.h). */
	if (!out || !m || !len || !flags || ((gpa | addr) & 1) ||
	    (flags & ~(VMMEM_MAP_READ | VMMEM_MAP_WRITE)))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->pin = map_pin(m, gpa, &got, flags | VMMEM_MAP_READ, &ret);
	if (!r->pin) {
		free(r);
		return ret;
	}
	if (got != len || ((uintptr_t)map_host(r->pin) & 1)) {
		/* a ring is contiguous or nothing; a host address of another
		 * parity than the GPA's would be a region placed oddly */
		map_unpin(r->pin);
		free(r);
		return got != len ? -EFAULT : -EINVAL;
	}
	r->mem = m;
	r->gpa = gpa;
	r->pinned = len;
	r->pub.host = map_host(r->pin);
	r->pub.len = len;
	r->pub.wlen = (flags & VMMEM_MAP_WRITE) ? len : 0;
	r->pub.addr = addr;
	pthread_mutex_lock(&m->lock);
	rings_join(m, r);
	pthread_mutex_unlock(&m->lock);
	*out = r;
	return 0;
}

void ring_unpin(struct ring *r)
{
	pthread_mutex_lock(&r->mem->lock);
	rings_leave(r->mem, r);
	pthread_mutex_unlock(&r->mem->lock);
	map_unpin(r->pin);
	free(r);
}

VMMEM_EXPORT int vmmem_ring_new(struct vmmem_ring **out, struct vmmem *mem,
				uint64_t gpa, size_t len, unsigned int flags)
{
	struct ring *r;
	int ret;

	if (!out || range_wraps(gpa, len))
		return -EINVAL;
	ret = ring_pin(&r, mem, gpa, gpa, len, flags);
	if (!ret)
		*out = &r->pub;
	return ret;
}

VMMEM_EXPORT void vmmem_ring_free(struct vmmem_ring *ring)
{
	struct ring *r = (struct ring *)ring;

	if (!r)
		return;
	if (r->iommu)
		iommu_ring_forget(r);
	ring_unpin(r);
}

/* Without membarrier every record says call, and this fence is the
 * writer's half of Dekker's pattern with vmmem_dirty_start()'s; with it,
 * the acquire fence orders the table read next after the record loaded,
 * so the table is one that logs. */
VMMEM_EXPORT int vmmem_ring_log(struct vmmem_ring *ring, size_t offset,
				size_t len)
{
	struct ring *r = (struct ring *)ring;

	if (!r || len > r->pinned || offset > r->pinned - len)
		return -EINVAL;
	if (unlikely(__atomic_load_n(&dirty_writers_fence, __ATOMIC_RELAXED)))
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	else
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (len)
		map_log_written(r->mem, r->pin, r->gpa + offset, len);
	return 0;
}
