/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The memory half of vhost-user on libvmmem's 1.0 API: one region per
 * memory-table entry (the front-end's fd mapped at mmap_offset, placed at
 * the entry's guest physical address), a table of the front-end's virtual
 * addresses beside it for SET_VRING_ADDR and IOTLB updates, and the shared
 * dirty log.  When the library's vhost-user calls (LIBVMMEM_1.1) land, the
 * slot table, the translation and the log below are replaced by them; the
 * interface in memory.h stays.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memory.h"

#define LOG_PAGE_SHIFT 12          /* one bit per 4 KiB of GPA, from GPA 0 */
#define LOG_MAX_SIZE   (1ull << 30)

struct slot {
	bool used;
	struct vu_mem_region r;
};

struct vub_memory {
	struct vmmem *mem;
	struct vmmem_iommu *iommu;
	struct slot slots[VU_MAX_MEM_SLOTS];
	/* TEMPORARY until libvmmem has the front-end's shared dirty log: the
	 * mapping of SET_LOG_BASE's memfd, marked with atomic ORs. */
	_Atomic unsigned char *log;
	uint64_t log_size;
	bool logging;
	bool log_check;
	bool no_log;
	unsigned char *shadow;     /* log-check mode: what this file logged */
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

static void unmap_log(struct vub_memory *m)
{
	if (m->log)
		munmap((void *)m->log, m->log_size);
	free(m->shadow);
	m->log = NULL;
	m->shadow = NULL;
	m->log_size = 0;
}

void vub_memory_free(struct vub_memory *m)
{
	if (!m)
		return;
	unmap_log(m);
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

static bool wraps(uint64_t start, uint64_t len)
{
	return start + len < start;
}

/* What the front-end may send; the fd's length is checked by libvmmem. */
static bool valid_region(const struct vu_mem_region *r)
{
	long page = sysconf(_SC_PAGESIZE);

	return r->size && !wraps(r->gpa, r->size) && !wraps(r->uaddr, r->size) &&
	       !wraps(r->mmap_offset, r->size) &&
	       r->mmap_offset % (uint64_t)page == 0;
}

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static bool same_region(const struct vu_mem_region *a,
			const struct vu_mem_region *b)
{
	return a->gpa == b->gpa && a->size == b->size && a->uaddr == b->uaddr &&
	       a->mmap_offset == b->mmap_offset;
}

static bool collides(const struct vu_mem_region *a,
		     const struct vu_mem_region *b)
{
	return overlap(a->gpa, a->size, b->gpa, b->size) ||
	       overlap(a->uaddr, a->size, b->uaddr, b->size);
}

static int map_region(const struct vu_mem_region *r, int fd,
		      struct vmmem_region **out)
{
	struct vmmem_region_opts opts = {
		.sz = sizeof(opts), .flags = VMMEM_REGION_FD, .fd = fd,
		.offset = r->mmap_offset,
	};

	if (fd < 0)
		return -EBADF;
	return vmmem_region_new(out, r->size, &opts);
}

static struct slot *free_slot(struct vub_memory *m)
{
	for (unsigned int i = 0; i < VU_MAX_MEM_SLOTS; i++)
		if (!m->slots[i].used)
			return &m->slots[i];
	return NULL;
}

static int place(struct vub_memory *m, struct slot *s,
		 const struct vu_mem_region *r, struct vmmem_region *region)
{
	int ret = s ? vmmem_add_region(m->mem, r->gpa, region) : -ENOSPC;

	vmmem_region_unref(region);
	if (ret == 0) {
		s->used = true;
		s->r = *r;
		m->stats.regions_added++;
	}
	return ret;
}

int vub_memory_add(struct vub_memory *m, const struct vu_mem_region *r, int fd)
{
	struct vmmem_region *region;
	struct slot *s = free_slot(m);
	int ret;

	if (!valid_region(r))
		return -EINVAL;
	if (!s)
		return -ENOSPC;
	for (unsigned int i = 0; i < VU_MAX_MEM_SLOTS; i++)
		if (m->slots[i].used && collides(&m->slots[i].r, r))
			return -EEXIST;
	ret = map_region(r, fd, &region);
	return ret < 0 ? ret : place(m, s, r, region);
}

static int unplace(struct vub_memory *m, struct slot *s)
{
	int ret = vmmem_remove_region(m->mem, s->r.gpa, s->r.size, NULL);

	if (ret == 0) {
		s->used = false;
		m->stats.regions_removed++;
	}
	return ret;
}

int vub_memory_remove(struct vub_memory *m, const struct vu_mem_region *r)
{
	/* REM_MEM_REG carries no fd; the spec matches on gpa, size, uaddr. */
	for (unsigned int i = 0; i < VU_MAX_MEM_SLOTS; i++) {
		struct slot *s = &m->slots[i];

		if (s->used && s->r.gpa == r->gpa && s->r.size == r->size &&
		    s->r.uaddr == r->uaddr)
			return unplace(m, s);
	}
	return -ENOENT;
}

static bool in_table(const struct vu_mem_region *r,
		     const struct vu_mem_region *table, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (same_region(r, &table[i]))
			return true;
	return false;
}

/* SET_MEM_TABLE: QEMU resends an unchanged table at every device start, so
 * only the entries that changed are unmapped and mapped.  All new mappings
 * are made before the table is touched, so a refused table changes
 * nothing; the swap itself is not atomic for accesses in flight (libvmmem
 * 1.0 adds and removes one region at a time), which is harmless here as the
 * device thread is the one handling this message. */
int vub_memory_set_table(struct vub_memory *m, const struct vu_mem_region *r,
			 const int *fds, unsigned int n)
{
	struct vmmem_region *fresh[VU_MAX_MEM_SLOTS] = { NULL };
	int ret = 0;

	if (n > VU_MAX_MEM_SLOTS)
		return -E2BIG;
	for (unsigned int i = 0; i < n && ret == 0; i++) {
		if (!valid_region(&r[i]))
			ret = -EINVAL;
		for (unsigned int j = 0; j < i && ret == 0; j++)
			if (collides(&r[i], &r[j]))
				ret = -EEXIST;
	}
	for (unsigned int i = 0; i < n && ret == 0; i++) {
		bool kept = false;

		for (unsigned int j = 0; j < VU_MAX_MEM_SLOTS; j++)
			kept |= m->slots[j].used && same_region(&m->slots[j].r, &r[i]);
		if (!kept)
			ret = map_region(&r[i], fds[i], &fresh[i]);
	}
	if (ret < 0) {
		for (unsigned int i = 0; i < n; i++)
			if (fresh[i])
				vmmem_region_unref(fresh[i]);
		return ret;
	}
	for (unsigned int j = 0; j < VU_MAX_MEM_SLOTS; j++)
		if (m->slots[j].used && !in_table(&m->slots[j].r, r, n))
			unplace(m, &m->slots[j]);
	for (unsigned int i = 0; i < n; i++) {
		int err = fresh[i] ? place(m, free_slot(m), &r[i], fresh[i]) : 0;

		if (err < 0 && ret == 0)
			ret = err;
	}
	return ret;
}

static const struct slot *slot_of_uaddr(const struct vub_memory *m,
					uint64_t uaddr)
{
	for (unsigned int i = 0; i < VU_MAX_MEM_SLOTS; i++) {
		const struct slot *s = &m->slots[i];

		if (s->used && uaddr >= s->r.uaddr &&
		    uaddr - s->r.uaddr < s->r.size)
			return s;
	}
	return NULL;
}

int vub_memory_to_gpa(struct vub_memory *m, uint64_t uaddr, uint64_t len,
		      uint64_t *gpa)
{
	const struct slot *s = slot_of_uaddr(m, uaddr);

	if (!len || wraps(uaddr, len))
		return -EINVAL;
	if (!s || uaddr - s->r.uaddr + len > s->r.size)
		return -EFAULT;
	*gpa = s->r.gpa + (uaddr - s->r.uaddr);
	return 0;
}

/* Calls apply() on each piece of [uaddr, uaddr + size) that one region
 * backs; with apply NULL, only checks that regions back all of it. */
static int for_each_piece(struct vub_memory *m, const struct vu_iotlb *msg,
			  unsigned int perm,
			  int (*apply)(struct vmmem_iommu *, uint64_t, uint64_t,
				       uint64_t, unsigned int))
{
	uint64_t done = 0;

	while (done < msg->size) {
		uint64_t u = msg->uaddr + done, piece;
		const struct slot *s = slot_of_uaddr(m, u);
		int ret;

		if (!s)
			return -EFAULT;
		piece = s->r.size - (u - s->r.uaddr);
		if (piece > msg->size - done)
			piece = msg->size - done;
		if (apply) {
			ret = apply(m->iommu, msg->iova + done, piece,
				    s->r.gpa + (u - s->r.uaddr), perm);
			if (ret < 0)
				return ret;
		}
		done += piece;
	}
	return 0;
}

int vub_memory_iotlb(struct vub_memory *m, const struct vu_iotlb *msg)
{
	unsigned int perm = (msg->perm & VHOST_ACCESS_RO ? VMMEM_PERM_READ : 0) |
			    (msg->perm & VHOST_ACCESS_WO ? VMMEM_PERM_WRITE : 0);
	int ret;

	if (!msg->size || wraps(msg->iova, msg->size))
		return -EINVAL;
	switch (msg->type) {
	case VHOST_IOTLB_UPDATE:
		if (!perm || msg->perm & ~(VHOST_ACCESS_RO | VHOST_ACCESS_WO) ||
		    wraps(msg->uaddr, msg->size))
			return -EINVAL;
		ret = for_each_piece(m, msg, perm, NULL);
		if (ret == 0)
			ret = for_each_piece(m, msg, perm, vmmem_iommu_update);
		m->stats.iotlb_updates += ret == 0;
		return ret;
	case VHOST_IOTLB_INVALIDATE:
		ret = vmmem_iommu_invalidate(m->iommu, msg->iova, msg->size);
		m->stats.iotlb_invalidations += ret == 0;
		return ret;
	default:
		return -EINVAL;
	}
}

/* ------------------------------------------------------------ dirty log */

int vub_memory_set_log(struct vub_memory *m, int fd, const struct vu_log *log)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned char *shadow = NULL;
	struct stat st;
	void *p;

	if (fd < 0 || fstat(fd, &st) < 0)
		return -EBADF;
	/* Bits past the end of the file would be SIGBUS when marked. */
	if (!log->mmap_size || log->mmap_size > LOG_MAX_SIZE ||
	    log->mmap_offset % (uint64_t)page ||
	    log->mmap_offset > LOG_MAX_SIZE || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size < log->mmap_offset + log->mmap_size)
		return -EINVAL;
	if (m->log_check && !(shadow = calloc(1, (size_t)log->mmap_size)))
		return -ENOMEM;
	p = mmap(NULL, (size_t)log->mmap_size, PROT_READ | PROT_WRITE,
		 MAP_SHARED, fd, (off_t)log->mmap_offset);
	if (p == MAP_FAILED) {
		free(shadow);
		return -errno;
	}
	vub_memory_log_check(m);   /* what the old log's shadow covers */
	unmap_log(m);
	m->log = p;
	m->log_size = log->mmap_size;
	m->shadow = shadow;
	return 0;
}

void vub_memory_log_enable(struct vub_memory *m, bool on)
{
	if (on == m->logging)
		return;
	m->logging = on;
	/* Log-check mode: the library's own dirty log records every byte it
	 * wrote for this back-end, independently of the marking below. */
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

void vub_memory_log_write(struct vub_memory *m, uint64_t gpa, uint64_t len)
{
	uint64_t page, last;

	if (!m->logging || !m->log || m->no_log || !len || wraps(gpa, len - 1))
		return;
	last = (gpa + len - 1) >> LOG_PAGE_SHIFT;
	for (page = gpa >> LOG_PAGE_SHIFT; page <= last; page++) {
		uint64_t byte = page / 8;
		unsigned char bit = (unsigned char)(1u << (page % 8));

		if (byte >= m->log_size)
			break;
		/* QEMU reads and clears the log with atomic exchanges at
		 * times the back-end does not see: set bits atomically. */
		atomic_fetch_or_explicit(&m->log[byte], bit,
					 memory_order_release);
		m->stats.log_pages++;
		if (m->shadow)
			m->shadow[byte] |= bit;
	}
}

static void check_slot(struct vub_memory *m, const struct vu_mem_region *r)
{
	uint64_t pages = (r->size + (1u << LOG_PAGE_SHIFT) - 1) >> LOG_PAGE_SHIFT;
	uint64_t *bits = calloc((size_t)((pages + 63) / 64), sizeof(*bits));

	if (!bits || r->gpa % (1u << LOG_PAGE_SHIFT) ||
	    vmmem_dirty_harvest(m->mem, r->gpa, r->size, bits) < 0) {
		free(bits);
		return;
	}
	for (uint64_t i = 0; i < pages; i++) {
		uint64_t page = (r->gpa >> LOG_PAGE_SHIFT) + i, byte = page / 8;

		if (!(bits[i / 64] >> (i % 64) & 1))
			continue;
		m->stats.log_checked++;
		if (byte >= m->log_size || !(m->shadow[byte] >> (page % 8) & 1))
			m->stats.log_missed++;
	}
	free(bits);
}

/* Every page libvmmem wrote for the back-end since the last check must
 * have been logged by vub_memory_log_write(): called after the used ring
 * is updated, when all of a batch's writes have been logged. */
void vub_memory_log_check(struct vub_memory *m)
{
	if (!m->log_check || !m->logging || !m->shadow)
		return;
	for (unsigned int i = 0; i < VU_MAX_MEM_SLOTS; i++)
		if (m->slots[i].used)
			check_slot(m, &m->slots[i].r);
	memset(m->shadow, 0, (size_t)m->log_size);
}

void vub_memory_stats(const struct vub_memory *m, struct vub_memory_stats *s)
{
	*s = m->stats;
}
