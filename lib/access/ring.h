/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Rings (include/libvmmem.h): the object behind struct vmmem_ring. */
#ifndef VMMEM_RING_H
#define VMMEM_RING_H

#include "vmmem-private.h"

struct dirty_log;
struct mapping;
struct table;
struct ring_rec;

struct ring {
	struct vmmem_ring pub;        /* first: the caller's pointer */
	struct vmmem *mem;
	struct mapping *pin;
	uint64_t gpa;                 /* of pub.host[0]; pub.addr for GPA rings */
	size_t pinned;                /* pub.len until an invalidation */
	struct vmmem_iommu *iommu;    /* IOVA rings, until the IOMMU goes */
	struct ring *next;            /* in iommu->rings, under iommu->lock */
	struct ring *mnext;           /* in mem->rings, under mem->lock */
	/* The records pub.log has pointed at, kept until the ring is freed:
	 * a store may still use one it loaded before the last change. */
	struct ring_rec *recs;
	struct vmmem_ring_log call;   /* words NULL: every store calls */
};

/* Pins len bytes at gpa for a ring whose pub.addr is addr. */
int ring_pin(struct ring **out, struct vmmem *m, uint64_t gpa, uint64_t addr,
	     size_t len, unsigned int flags);
void ring_unpin(struct ring *r);

/* access/ring-log.c.  A ring's pub.log follows the table: */
/* Under m->lock: r joins m's rings, its pub.log set for the current table. */
void rings_join(struct vmmem *m, struct ring *r);
/* Under m->lock: r leaves them; its records and pinned leaves go. */
void rings_leave(struct vmmem *m, struct ring *r);
/* Under m->lock, before t replaces old: leaves of t's library log that
 * rings pin take the pinned words (a log started again, a range covered
 * again), so a ring's words never change while it pins them. */
void rings_adopt_leaves(struct vmmem *m, const struct table *old,
			struct table *t);
/* Under m->lock, once t is published: every ring's pub.log set for t. */
void rings_retarget(struct vmmem *m, const struct table *t);
/* Once no writer uses log: its leaves that rings pin leave it, so that
 * freeing its leaves frees only the others. */
void rings_detach_leaves(struct vmmem *m, struct dirty_log *log);
/* vmmem_free(): the pinned leaves of rings never freed. */
void rings_release(struct vmmem *m);

/* Under iommu->lock: every ring of iommu over [iova, last] made invalid
 * (accessors then return -EAGAIN); with iommu_gone, every ring forgets it. */
void iommu_rings_invalidate(struct vmmem_iommu *iommu, uint64_t iova,
			    uint64_t last, bool iommu_gone);
/* Takes an IOVA ring off its IOMMU's list. */
void iommu_ring_forget(struct ring *r);

#endif
