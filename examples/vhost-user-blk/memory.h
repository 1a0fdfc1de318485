/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The memory half of vhost-user: the memory table (SET_MEM_TABLE,
 * ADD_MEM_REG, REM_MEM_REG), front-end address translation, the IOTLB
 * messages and the front-end's shared dirty log (SET_LOG_BASE).
 *
 * memory.c hands each message to libvmmem's vhost-user calls, which
 * check what the front-end sent; the rest of the back-end sees only this
 * interface.
 */
#ifndef VUB_MEMORY_H
#define VUB_MEMORY_H

#include <stdbool.h>
#include <stdint.h>

#include <libvmmem.h>

#include "vhost-user.h"

struct vub_memory;

struct vub_memory_stats {
	uint64_t regions_added;
	uint64_t regions_removed;
	uint64_t iotlb_updates;
	uint64_t iotlb_invalidations;
	uint64_t log_checked;        /* log-check mode: pages the library wrote */
	uint64_t log_pages;          /* ... with the shared log active */
	uint64_t log_missed;         /* ... with none, or past its end */
};

/* log_check: see vub_memory_log_check(); no_log (a negative control for
 * tests): accept SET_LOG_BASE but leave the log unmarked. */
int vub_memory_new(struct vub_memory **out, vmmem_iommu_miss_fn miss,
		   void *miss_opaque, bool log_check, bool no_log);
void vub_memory_free(struct vub_memory *m);

/* Guest memory by guest physical address, and by I/O virtual address. */
struct vmmem *vub_memory_space(struct vub_memory *m);
struct vmmem_iommu *vub_memory_iommu(struct vub_memory *m);

/* Messages; 0 or a negative errno, and nothing changed on error. */
int vub_memory_set_table(struct vub_memory *m, const struct vu_mem_region *r,
			 const int *fds, unsigned int n);
int vub_memory_add(struct vub_memory *m, const struct vu_mem_region *r, int fd);
int vub_memory_remove(struct vub_memory *m, const struct vu_mem_region *r);
int vub_memory_iotlb(struct vub_memory *m, const struct vu_iotlb *msg);
int vub_memory_set_log(struct vub_memory *m, int fd, const struct vu_log *log);

/* A front-end virtual address range, inside one region, to a GPA. */
int vub_memory_to_gpa(struct vub_memory *m, uint64_t uaddr, uint64_t len,
		      uint64_t *gpa);

/* Dirty logging for migration (VHOST_F_LOG_ALL). */
void vub_memory_log_enable(struct vub_memory *m, bool on);
bool vub_memory_logging(const struct vub_memory *m);
/* Log-check mode: count what the library wrote while logging, and what of
 * it missed the front-end's log. */
void vub_memory_log_check(struct vub_memory *m);

void vub_memory_stats(const struct vub_memory *m, struct vub_memory_stats *s);

#endif /* VUB_MEMORY_H */
