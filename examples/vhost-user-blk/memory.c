/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The memory half of vhost-user, handed to libvmmem: the memory-table
 * messages go to vmmem_vhost_*(), front-end addresses are translated by
 * vmmem_uaddr_to_gpa(), IOTLB messages by vmmem_vhost_iotlb_msg().  The
 * library checks what the front-end sent; this file only converts the
 * wire structures and counts.  SET_LOG_BASE goes to
 * vmmem_dirty_shared_set_fd(): the library then marks the front-end's log
 * on every write it makes for the back-end.
 */
#include <stdlib.h>

#include "memory.h"

#define LOG_PAGE_SHIFT 12          /* the shared log's page: 4 KiB */

struct vub_memory {
	struct vmmem *mem;
	struct vmmem_iommu *iommu;
	bool shared_log;           /* the front-end's log is active */
	bool logging;
	bool log_check;
	bool no_log;
	uint64_t past_log;         /* vmmem_dirty_shared_missed() at last check */
	struct vub_memory_stats stats;
};

int vub_memory_new(struct vub_memory **out, vmmem_iommu_miss_fn miss,
		   void *miss_opaque, bool log_check, bool no_log)
{
	struct vmmem_iommu_opts opts = {
		.sz = sizeof(opts), .miss = miss, .miss_opaque = miss_opaque,
	};
	struct vub_memory *m = calloc(1, sizeof(*m));
	int ret;

	if (!m)
		return -ENOMEM;
	m->log_check = log_check;
	m->no_log = no_log;
	ret = vmmem_new(&m->mem, 0);
	if (ret == 0) {
		ret = vmmem_iommu_new(&m->iommu, m->mem, &opts);
		if (ret < 0)
			vmmem_free(m->mem);
	}
	if (ret < 0) {
		free(m);
		return ret;
	}
	*out = m;
	return 0;
}

void vub_memory_free(struct vub_memory *m)
{
	if (!m)
		return;
	vmmem_iommu_free(m->iommu);
	vmmem_free(m->mem);
	free(m);
}

struct vmmem *vub_memory_space(struct vub_memory *m)
{
	return m->mem;
}

struct vmmem_iommu *vub_memory_iommu(struct vub_memory *m)
{
	return m->iommu;
}

static struct vmmem_vhost_region vhost_region(const struct vu_mem_region *r)
{
	return (struct vmmem_vhost_region){
		.guest_phys_addr = r->gpa, .memory_size = r->size,
		.userspace_addr = r->uaddr, .mmap_offset = r->mmap_offset,
	};
}

int vub_memory_add(struct vub_memory *m, const struct vu_mem_region *r, int fd)
{
	struct vmmem_vhost_region vr = vhost_region(r);
	int ret = vmmem_vhost_add_mem_reg(m->mem, &vr, fd, NULL);

	m->stats.regions_added += ret == 0;
	return ret;
}

int vub_memory_remove(struct vub_memory *m, const struct vu_mem_region *r)
{
	struct vmmem_vhost_region vr = vhost_region(r);
	int ret = vmmem_vhost_rem_mem_reg(m->mem, &vr);

	m->stats.regions_removed += ret == 0;
	return ret;
}

/* The regions of the space, each with a reference held (for counting
 * what a SET_MEM_TABLE changed: the regions it keeps are the same
 * objects, and the references keep a new one from reusing an old one's
 * address). */
struct placed {
	struct vmmem_region *r[VMMEM_VHOST_MAX_REGIONS];
	size_t n;
};

static int hold(uint64_t gpa, struct vmmem_region *region, void *opaque)
{
	struct placed *p = opaque;

	(void)gpa;
	if (p->n == VMMEM_VHOST_MAX_REGIONS)
		return -E2BIG;
	p->r[p->n++] = vmmem_region_ref(region);
	return 0;
}

static void release(struct placed *p)
{
	for (size_t i = 0; i < p->n; i++)
		vmmem_region_unref(p->r[i]);
	p->n = 0;
}

/* Regions of a not found in b. */
static uint64_t missing(const struct placed *a, const struct placed *b)
{
	uint64_t n = 0;

	for (size_t i = 0; i < a->n; i++) {
		size_t j = 0;

		while (j < b->n && b->r[j] != a->r[i])
			j++;
		n += j == b->n;
	}
	return n;
}

static void count_changes(struct vub_memory *m, struct placed *before)
{
	struct placed *after = calloc(1, sizeof(*after));

	if (after && vmmem_foreach_region(m->mem, hold, after) == 0) {
		m->stats.regions_added += missing(after, before);
		m->stats.regions_removed += missing(before, after);
	}
	if (after)
		release(after);
	free(after);
}

/* SET_MEM_TABLE: QEMU resends an unchanged table at every device start;
 * the library keeps the regions a table repeats, and a refused table
 * changes nothing. */
int vub_memory_set_table(struct vub_memory *m, const struct vu_mem_region *r,
			 const int *fds, unsigned int n)
{
	struct vmmem_vhost_region vr[VU_MAX_MEM_SLOTS];
	struct placed *before;
	int ret;

	if (n > VU_MAX_MEM_SLOTS)
		return -E2BIG;
	for (unsigned int i = 0; i < n; i++)
		vr[i] = vhost_region(&r[i]);
	before = calloc(1, sizeof(*before));
	if (!before)
		return -ENOMEM;
	ret = vmmem_foreach_region(m->mem, hold, before);
	if (ret == 0)
		ret = vmmem_vhost_set_mem_table(m->mem, vr, fds, n, NULL);
	if (ret == 0)
		count_changes(m, before);
	release(before);
	free(before);
	return ret;
}

int vub_memory_to_gpa(struct vub_memory *m, uint64_t uaddr, uint64_t len,
		      uint64_t *gpa)
{
	return vmmem_uaddr_to_gpa(m->mem, uaddr, len, gpa);
}

int vub_memory_iotlb(struct vub_memory *m, const struct vu_iotlb *msg)
{
	struct vmmem_vhost_iotlb_msg lib = {
		.iova = msg->iova, .size = msg->size, .uaddr = msg->uaddr,
		.perm = msg->perm, .type = msg->type,
	};
	int ret = vmmem_vhost_iotlb_msg(m->iommu, &lib);

	m->stats.iotlb_updates += ret == 0 && msg->type == VHOST_IOTLB_UPDATE;
	m->stats.iotlb_invalidations +=
		ret == 0 && msg->type == VHOST_IOTLB_INVALIDATE;
	return ret;
}

/* ------------------------------------------------------------ dirty log */

/* SET_LOG_BASE: from here on every write the library makes for the
 * back-end sets its pages' bits in the front-end's log.  QEMU sends it
 * whenever logging starts, so the log is dropped when LOG_ALL goes off. */
int vub_memory_set_log(struct vub_memory *m, int fd, const struct vu_log *log)
{
	int ret;

	if (m->no_log)
		return 0;
	ret = vmmem_dirty_shared_set_fd(m->mem, fd, log->mmap_size,
					log->mmap_offset, 0);
	if (ret == 0)
		m->shared_log = true;
	return ret;
}

void vub_memory_log_enable(struct vub_memory *m, bool on)
{
	if (on == m->logging)
		return;
	vub_memory_log_check(m);   /* what was written while it was on */
	m->logging = on;
	if (!on && m->shared_log) {
		vmmem_dirty_shared_stop(m->mem);
		m->shared_log = false;
	}
	/* Log-check mode: the library's own dirty log records every page it
	 * wrote for this back-end, for vub_memory_log_check(). */
	if (m->log_check) {
		if (on)
			vmmem_dirty_start(m->mem, 1ull << LOG_PAGE_SHIFT);
		else
			vmmem_dirty_stop(m->mem);
	}
}

bool vub_memory_logging(const struct vub_memory *m)
{
	return m->logging;
}

/* Pages of one region the library wrote since the last check. */
static int check_region(uint64_t gpa, struct vmmem_region *region,
			void *opaque)
{
	struct vub_memory *m = opaque;
	uint64_t size, pages, *bits;

	if (vmmem_region_size(region, &size) < 0)
		return 0;
	pages = (size + (1u << LOG_PAGE_SHIFT) - 1) >> LOG_PAGE_SHIFT;
	bits = calloc((size_t)((pages + 63) / 64), sizeof(*bits));
	if (!bits || gpa % (1u << LOG_PAGE_SHIFT) ||
	    vmmem_dirty_harvest(m->mem, gpa, size, bits) < 0) {
		free(bits);
		return 0;
	}
	for (uint64_t i = 0; i < pages; i++) {
		if (!(bits[i / 64] >> (i % 64) & 1))
			continue;
		m->stats.log_checked++;
		if (m->shared_log)
			m->stats.log_pages++;
		else
			m->stats.log_missed++;
	}
	free(bits);
	return 0;
}

/* Every page libvmmem wrote for the back-end while logging was on must
 * have reached the front-end's log: a shared log was active, and none of
 * the writes lay past its end.  Called after the used ring is updated. */
void vub_memory_log_check(struct vub_memory *m)
{
	uint64_t missed;

	if (!m->log_check || !m->logging)
		return;
	vmmem_foreach_region(m->mem, check_region, m);
	if (vmmem_dirty_shared_missed(m->mem, &missed) == 0) {
		m->stats.log_missed += missed - m->past_log;
		m->past_log = missed;
	}
}

void vub_memory_stats(const struct vub_memory *m, struct vub_memory_stats *s)
{
	*s = m->stats;
}
