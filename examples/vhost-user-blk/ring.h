/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * One range the device touches on every request (a descriptor table, an
 * available or used ring), reached through libvmmem's inline ring
 * accessors (vmmem_ring_new(3)) when the library can pin it, and through
 * the per-call functions of access.h when it cannot: an IOVA ring whose
 * pages the guest scattered over guest memory (vmmem_iommu_ring_new(3)
 * pins only a range that is contiguous in guest physical addresses), or
 * an indirect table, read once and never pinned.  Both ways check every
 * access against the ring's length and answer libvmmem's errors.
 */
#ifndef VUB_RING_H
#define VUB_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libvmmem.h>

#include "access.h"

struct vub_ring {
	struct vmmem_ring *pinned;   /* NULL: per call */
	uint64_t addr;               /* device address (GPA or IOVA) */
	size_t len;                  /* 0: closed */
};

/* Opens [addr, addr + len) for flags (VMMEM_MAP_*): pinned if the library
 * can pin it, else per call.  0, or -EAGAIN for an IOTLB miss (sent: the
 * front-end's update brings it back). */
int vub_ring_open(struct vub_ring *r, const struct vub_access *a,
		  uint64_t addr, size_t len, unsigned int flags);
/* A ring never pinned: an indirect table. */
struct vub_ring vub_ring_per_call(uint64_t addr, size_t len);
void vub_ring_close(struct vub_ring *r);
/* Open, and not invalidated by an IOTLB message since it was pinned. */
bool vub_ring_usable(const struct vub_ring *r);

/* Little-endian fields at off: 16-bit indices with a memory order, small
 * objects as the guest laid them out. */
int vub_ring_load16(const struct vub_ring *r, const struct vub_access *a,
		    size_t off, uint16_t *val, int order);
int vub_ring_store16(struct vub_ring *r, const struct vub_access *a,
		     size_t off, uint16_t val, int order);
int vub_ring_read(const struct vub_ring *r, const struct vub_access *a,
		  size_t off, void *buf, size_t n);
int vub_ring_write(struct vub_ring *r, const struct vub_access *a, size_t off,
		   const void *buf, size_t n);

#endif /* VUB_RING_H */
