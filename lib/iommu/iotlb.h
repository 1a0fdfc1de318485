/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The IOTLB of a struct vmmem_iommu: a sorted table of IOVA intervals,
 * published and reclaimed like the region table (lib/space/table.h). */
#ifndef VMMEM_IOTLB_H
#define VMMEM_IOTLB_H

#ifndef _LGPL_SOURCE
#define _LGPL_SOURCE          /* see lib/space/table.h */
#endif
#include <urcu/urcu-bp.h>

#include "vmmem-private.h"
#include "sorted.h"
#include "space/table.h"
#include "iommu/readers.h"

struct iotlb_entry {
	uint64_t iova;
	uint64_t last;                /* inclusive */
	uint64_t gpa;                 /* backing address of iova */
	uint64_t seq;                 /* insertion order, for eviction */
	unsigned int perm;            /* VMMEM_PERM_* */
};

struct iotlb {
	struct retired batch;         /* freed by the reclaim worker once
					 replaced (space/reclaim.c), */
	struct iotlb *retired;        /* with the tables replaced before it */
	size_t count;
	struct iotlb_entry e[];       /* sorted by iova, non-overlapping */
};

struct ring;

struct vmmem_iommu {
	struct iotlb *tlb;            /* RCU-published */
	struct vmmem *mem;
	pthread_mutex_t lock;         /* serialises updates */
	struct iotlb *retired;        /* replaced, not yet passed to the
					 reclaim worker */
	size_t nretired;
	size_t retired_bytes;         /* of those tables */
	size_t max_entries;
	uint64_t next_seq;
	vmmem_iommu_miss_fn miss;
	void *miss_opaque;
	struct ring *rings;           /* IOVA rings, under lock (iommu/ring.c) */
};

/* One translated piece: [iova, iova + len) of one entry at gpa. */
struct iova_piece {
	uint64_t gpa;
	uint64_t len;
};

/* Why a translation stopped before the end of the range. */
enum iotlb_stop { IOTLB_DONE, IOTLB_MISS, IOTLB_DENIED };

struct iotlb_walk {
	uint64_t iova;                /* next IOVA to translate */
	uint64_t left;                /* bytes still to translate */
	unsigned int perm;            /* permission every piece needs */
	enum iotlb_stop stop;
};

/* After the read-side section: -EACCES for a refusal, -EAGAIN for a miss
 * (reported to the miss handler, which may update). */
int iommu_stopped(struct vmmem_iommu *iommu, const struct iotlb_walk *w);

static inline const struct iotlb *iotlb_load(struct vmmem_iommu *iommu)
{
	/* Sequentially consistent: ordered after the reader's entering
	 * store (readers.c); a plain load on x86 anyway. */
	return __atomic_load_n(&iommu->tlb, __ATOMIC_SEQ_CST);
}

/* An access holds two sections from its first translation to its last
 * copy: a liburcu-bp read-side section, which keeps the table it loads
 * (freed by the reclaim worker), and a section of this IOTLB for the IOVAs it covers,
 * [first, last], which an invalidation of any of them waits for
 * (readers.h). */
static inline const struct iotlb *iotlb_enter(struct vmmem_iommu *iommu,
					      uint64_t first, uint64_t last)
{
	urcu_bp_read_lock();
	reader_enter(iommu, first, last);
	return iotlb_load(iommu);
}

/* Ends the liburcu-bp section alone: the access uses no table any more,
 * but still what it translated (an fd transfer, whose syscall may block
 * and must not hold up grace periods). */
static inline void iotlb_drop_table(void)
{
	urcu_bp_read_unlock();
}

static inline void iotlb_exit(void)
{
	reader_exit();
	urcu_bp_read_unlock();
}

/* The entry holding iova, or NULL. */
static inline const struct iotlb_entry *iotlb_lookup(const struct iotlb *t,
						     uint64_t iova)
{
	size_t at = SORTED_FIRST_FROM(t->e, t->count, struct iotlb_entry, last,
				      iova);

	return at < t->count && t->e[at].iova <= iova ? &t->e[at] : NULL;
}

/* Translates the next pieces of a walk, at most max of them, and returns
 * how many; walk->stop says why it stopped short of the end. */
size_t iotlb_translate(const struct iotlb *t, struct iotlb_walk *walk,
		       struct iova_piece *out, size_t max);

#endif
