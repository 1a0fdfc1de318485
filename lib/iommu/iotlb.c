/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* IOTLB updates, invalidations and translation.
 *
 * Updates copy the table with the change applied and publish the copy;
 * readers translate without a lock.  An invalidation then waits for the
 * accesses by IOVA through this IOTLB that cover what it removed
 * (readers.h); an update waits for nothing.  Replaced tables are freed by
 * the library's reclaim worker (space/reclaim.c, as retired region tables
 * are), without waiting for its grace period, a batch at a time: each
 * batch may wake the worker, whose grace periods cost every thread of the
 * process a membarrier.  The table is bounded: past
 * max_entries the oldest entry goes (as DPDK's vhost bounds its IOTLB), so
 * a guest cannot make the back-end's memory grow without limit.  Eviction
 * by age rather than by use keeps the read path free of shared writes. */
#include <stdlib.h>

#include "access/ring.h"
#include "iommu/iotlb.h"
#include "space/table.h"

#define DEFAULT_MAX_ENTRIES 2048
#define PERMS (VMMEM_PERM_READ | VMMEM_PERM_WRITE)

VMMEM_EXPORT int vmmem_iommu_new(struct vmmem_iommu **out, struct vmmem *mem,
				 const struct vmmem_iommu_opts *opts)
{
	struct vmmem_iommu_opts o = { .sz = sizeof(o) };
	struct vmmem_iommu *iommu;
	int ret;

	if (!out || !mem)
		return -EINVAL;
	if (opts) {
		ret = OPTS_VALID(opts, struct vmmem_iommu_opts, flags);
		if (ret)
			return ret;
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	}
	if (o.flags || o.max_entries > (1u << 24) || (!o.miss && o.miss_opaque))
		return -EINVAL;
	iotlb_readers_init();
	iommu = calloc(1, sizeof(*iommu));
	if (!iommu)
		return -ENOMEM;
	iommu->tlb = calloc(1, sizeof(struct iotlb));
	if (!iommu->tlb) {
		free(iommu);
		return -ENOMEM;
	}
	iommu->mem = mem;
	iommu->max_entries = o.max_entries ? o.max_entries : DEFAULT_MAX_ENTRIES;
	iommu->miss = o.miss;
	iommu->miss_opaque = o.miss_opaque;
	pthread_mutex_init(&iommu->lock, NULL);
	*out = iommu;
	return 0;
}

#define RETIRED_BATCH 64

static void free_tables(struct iotlb *t)
{
	while (t) {
		struct iotlb *next = t->retired;

		free(t);
		t = next;
	}
}

static void iotlb_free_batch(struct retired *batch)
{
	free_tables(caa_container_of(batch, struct iotlb, batch));
}

VMMEM_EXPORT void vmmem_iommu_free(struct vmmem_iommu *iommu)
{
	if (!iommu)
		return;
	pthread_mutex_lock(&iommu->lock);
	iommu_rings_invalidate(iommu, 0, UINT64_MAX, true);
	pthread_mutex_unlock(&iommu->lock);
	free_tables(iommu->retired);
	free(iommu->tlb);
	pthread_mutex_destroy(&iommu->lock);
	free(iommu);
}

/* Publishes t, under iommu->lock, and makes the rings over [iova, last]
 * invalid from now on: their owners re-pin.  Sequentially consistent: this
 * orders the store before the loads of the readers' records that follow in
 * an invalidation (readers.c). */
/* Before a change retires a table: waits while the backlog of replaced
 * tables is over its bound (reclaim_admit()), so that neither a worker
 * that lags nor one that could not be started lets it grow without
 * limit.  On the worker itself (a region's release callback) it cannot
 * wait, and goes on: the worker frees the backlog once the callback
 * returns. */
static void iotlb_admit(void)
{
	(void)reclaim_admit();
}

static void publish(struct vmmem_iommu *iommu, struct iotlb *t, uint64_t iova,
		    uint64_t last)
{
	struct iotlb *old;

	iommu_rings_invalidate(iommu, iova, last, false);
	old = __atomic_exchange_n(&iommu->tlb, t, __ATOMIC_SEQ_CST);
	old->retired = iommu->retired;
	iommu->retired = old;
	iommu->retired_bytes += sizeof(*old) + old->count * sizeof(old->e[0]);
	if (++iommu->nretired < RETIRED_BATCH)
		return;
	old->batch.reclaim = iotlb_free_batch;
	old->batch.held = 1 + iommu->retired_bytes / RECLAIM_UNIT_BYTES;
	reclaim_defer(&old->batch);
	iommu->retired = NULL;
	iommu->nretired = 0;
	iommu->retired_bytes = 0;
}

/* Copies old without [iova, last], splitting entries that straddle it, into
 * a table with room for `extra` more entries. */
static struct iotlb *without_range(const struct iotlb *old, uint64_t iova,
				   uint64_t last, size_t extra)
{
	struct iotlb *t = malloc(sizeof(*t) +
				 (old->count + 1 + extra) * sizeof(t->e[0]));

	if (!t)
		return NULL;
	t->count = 0;
	for (size_t i = 0; i < old->count; i++) {
		const struct iotlb_entry *e = &old->e[i];

		if (e->last < iova || e->iova > last) {
			t->e[t->count++] = *e;
			continue;
		}
		if (e->iova < iova) {                   /* keep the head */
			t->e[t->count] = *e;
			t->e[t->count++].last = iova - 1;
		}
		if (e->last > last) {                   /* keep the tail */
			t->e[t->count] = *e;
			t->e[t->count].iova = last + 1;
			t->e[t->count++].gpa = e->gpa + (last + 1 - e->iova);
		}
	}
	return t;
}

static void evict_oldest(struct iotlb *t, size_t keep)
{
	while (t->count > keep) {
		size_t oldest = 0;

		for (size_t i = 1; i < t->count; i++)
			if (t->e[i].seq < t->e[oldest].seq)
				oldest = i;
		memmove(&t->e[oldest], &t->e[oldest + 1],
			(t->count - oldest - 1) * sizeof(t->e[0]));
		t->count--;
	}
}

/* An update replaces whatever the range mapped before, as a vhost-user
 * IOTLB update does. */
VMMEM_EXPORT int vmmem_iommu_update(struct vmmem_iommu *iommu, uint64_t iova,
				    uint64_t size, uint64_t gpa,
				    unsigned int perm)
{
	struct iotlb *t;
	size_t pos;

	if (!iommu || !size || !perm || (perm & ~PERMS) ||
	    range_wraps(iova, size) || range_wraps(gpa, size))
		return -EINVAL;
	if (space_in_section())
		return -EDEADLK;     /* a kept rule: vmmem_iommu_update(3) */
	iotlb_admit();
	pthread_mutex_lock(&iommu->lock);
	t = without_range(iommu->tlb, iova, iova + (size - 1), 1);
	if (!t) {
		pthread_mutex_unlock(&iommu->lock);
		return -ENOMEM;
	}
	evict_oldest(t, iommu->max_entries - 1);
	for (pos = 0; pos < t->count && t->e[pos].iova < iova; pos++)
		;
	memmove(&t->e[pos + 1], &t->e[pos], (t->count - pos) * sizeof(t->e[0]));
	t->e[pos] = (struct iotlb_entry){ .iova = iova, .last = iova + (size - 1),
					  .gpa = gpa, .perm = perm,
					  .seq = iommu->next_seq++ };
	t->count++;
	publish(iommu, t, iova, iova + (size - 1));
	pthread_mutex_unlock(&iommu->lock);
	return 0;
}

VMMEM_EXPORT int vmmem_iommu_invalidate(struct vmmem_iommu *iommu,
					uint64_t iova, uint64_t size)
{
	struct iotlb *t;

	if (!iommu || !size || range_wraps(iova, size))
		return -EINVAL;
	if (space_in_section())
		return -EDEADLK;
	iotlb_admit();
	pthread_mutex_lock(&iommu->lock);
	t = without_range(iommu->tlb, iova, iova + (size - 1), 0);
	if (!t) {
		pthread_mutex_unlock(&iommu->lock);
		return -ENOMEM;
	}
	/* A split adds an entry; the bound still holds. */
	evict_oldest(t, iommu->max_entries);
	publish(iommu, t, iova, iova + (size - 1));
	pthread_mutex_unlock(&iommu->lock);
	iotlb_wait(iommu, iova, iova + (size - 1));
	return 0;
}

VMMEM_EXPORT int vmmem_iommu_invalidate_all(struct vmmem_iommu *iommu)
{
	struct iotlb *t;

	if (!iommu)
		return -EINVAL;
	if (space_in_section())
		return -EDEADLK;
	iotlb_admit();
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	pthread_mutex_lock(&iommu->lock);
	publish(iommu, t, 0, UINT64_MAX);
	pthread_mutex_unlock(&iommu->lock);
	iotlb_wait(iommu, 0, UINT64_MAX);
	return 0;
}

VMMEM_EXPORT int vmmem_iommu_num_entries(struct vmmem_iommu *iommu)
{
	int n;

	if (!iommu)
		return -EINVAL;
	n = (int)iotlb_enter(iommu, 0, UINT64_MAX)->count;
	iotlb_exit();
	return n;
}

/* The entry a thread used last is tried first: a device walks a ring and
 * its buffers, so consecutive accesses mostly hit the same entry.  Keyed
 * by the table, and checked against the entry's bounds, a stale hint can
 * only cost a search, never give a wrong answer. */
static __thread const struct iotlb *mru_tlb;
static __thread size_t mru_idx;

static const struct iotlb_entry *find(const struct iotlb *t, uint64_t iova)
{
	const struct iotlb_entry *e;

	/* As for the region table (LOOKUP_HINT_MIN): below 8 entries
	 * searching is as cheap, and the hint's branch mispredicts on
	 * scattered IOVAs. */
	if (t->count >= LOOKUP_HINT_MIN && mru_tlb == t && mru_idx < t->count &&
	    iova >= t->e[mru_idx].iova && iova <= t->e[mru_idx].last)
		return &t->e[mru_idx];
	e = iotlb_lookup(t, iova);
	if (e) {
		mru_tlb = t;
		mru_idx = (size_t)(e - t->e);
	}
	return e;
}

size_t iotlb_translate(const struct iotlb *t, struct iotlb_walk *w,
		       struct iova_piece *out, size_t max)
{
	size_t n = 0;

	w->stop = IOTLB_DONE;
	while (w->left && n < max) {
		const struct iotlb_entry *e = find(t, w->iova);
		uint64_t avail;

		if (!e) {
			w->stop = IOTLB_MISS;
			break;
		}
		if ((e->perm & w->perm) != w->perm) {
			w->stop = IOTLB_DENIED;
			break;
		}
		avail = e->last - w->iova;       /* one less than the count */
		out[n].gpa = e->gpa + (w->iova - e->iova);
		out[n].len = w->left - 1 <= avail ? w->left : avail + 1;
		w->iova += out[n].len;
		w->left -= out[n].len;
		n++;
	}
	return n;
}
