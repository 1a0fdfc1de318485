/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Who reads which IOTLB: the read side of struct vmmem_iommu.
 *
 * Every thread that accesses guest memory by IOVA owns one record, in its
 * own cache line of its own TLS, saying whether it is inside a section
 * (ctr odd), through which IOTLB, and which IOVAs the access covers.  An
 * invalidation publishes a new table and then waits only for the sections
 * of its own IOTLB whose IOVAs it removed: not for a grace period of the
 * whole process, as liburcu's synchronize_rcu() would (tens of
 * microseconds, hundreds with busy readers; a strict guest IOMMU
 * invalidates on every DMA unmap), and not for a reader preempted in the
 * middle of an access elsewhere.  The tables themselves are freed by
 * the library's reclaim worker after a grace period (iotlb.c).
 *
 * Entering is a sequentially consistent store to the record (an xchg on
 * x86: some nanoseconds, to the reader's own cache line), leaving a
 * release store.  The alternative, plain stores ordered by a membarrier()
 * in every invalidation, costs more than 10 us per invalidation on a busy
 * host (an interrupt to every CPU running a thread of the process: in a
 * VMM, every vCPU thread's, 100,000 times a second for a strict guest
 * IOMMU); docs/PERFORMANCE.md has both measured. */
#ifndef VMMEM_IOMMU_READERS_H
#define VMMEM_IOMMU_READERS_H

#include "vmmem-private.h"

struct iotlb_reader {
	unsigned long ctr;            /* odd inside a section */
	struct vmmem_iommu *iommu;    /* the IOTLB of the current section */
	uint64_t first, last;         /* the IOVAs the access covers */
	struct iotlb_reader *next;    /* the registry (readers.c) */
	bool listed;                  /* in the registry, unlisted at exit */
	bool locked;                  /* not listable: sections take a lock */
} __attribute__((aligned(64)));

extern __thread struct iotlb_reader iotlb_self;

/* Marks the calling thread inside a section that uses iommu's IOTLB for
 * the IOVAs [first, last], if it is registered: false, having done
 * nothing, otherwise (see reader_enter_slow()).  The store is ordered
 * before the caller's load of the table: a waiter that does not see it
 * published its table before that load (readers.c). */
static inline __attribute__((always_inline)) bool
reader_try_enter(struct vmmem_iommu *iommu, uint64_t first, uint64_t last)
{
	struct iotlb_reader *r = &iotlb_self;

	if (unlikely(!r->listed))
		return false;
	__atomic_store_n(&r->iommu, iommu, __ATOMIC_RELAXED);
	__atomic_store_n(&r->first, first, __ATOMIC_RELAXED);
	__atomic_store_n(&r->last, last, __ATOMIC_RELAXED);
	__atomic_store_n(&r->ctr, r->ctr + 1, __ATOMIC_SEQ_CST);
	return true;
}

/* The end of a section reader_try_enter() began. */
static inline __attribute__((always_inline)) void reader_try_exit(void)
{
	/* The TLS object itself, not a pointer to it: gcc 12's UBSan
	 * reported &iotlb_self as null here in a static link. */
	__atomic_store_n(&iotlb_self.ctr, iotlb_self.ctr + 1, __ATOMIC_RELEASE);
}

/* Any thread: registers it and enters, or takes the lock of the threads
 * that cannot be registered. */
void reader_enter_slow(struct vmmem_iommu *iommu, uint64_t first,
		       uint64_t last);

static inline void reader_enter(struct vmmem_iommu *iommu, uint64_t first,
				uint64_t last)
{
	if (unlikely(!reader_try_enter(iommu, first, last)))
		reader_enter_slow(iommu, first, last);
}

void reader_exit_locked(void);

static inline void reader_exit(void)
{
	if (unlikely(iotlb_self.locked))
		reader_exit_locked();
	else
		reader_try_exit();
}

/* Returns once no section of iommu that began before the call (the new
 * table published) covers an IOVA of [first, last]: a copy ends within
 * nanoseconds, an fd transfer when its syscall does.  Called with no
 * section held. */
void iotlb_wait(struct vmmem_iommu *iommu, uint64_t first, uint64_t last);

/* Sets up the registry, once per process. */
void iotlb_readers_init(void);

#endif
