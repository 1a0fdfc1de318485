/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The Xen backend's internal interface: option checking shared by every
 * build, and the mappings of a build with the Xen libraries. */
#ifndef VMMEM_XEN_BACKEND_H
#define VMMEM_XEN_BACKEND_H

#include "vmmem-private.h"

#define XEN_PAGE_SHIFT 12
#define XEN_PAGE_SIZE  (1ull << XEN_PAGE_SHIFT)
#define XEN_MAPPING_TYPES (VMMEM_XEN_FOREIGN | VMMEM_XEN_GRANT)
#define XEN_OPTS_FLAGS (VMMEM_XEN_READONLY | VMMEM_XEN_MAP_CACHE)

/* Copies a caller's options into a full-size struct and refuses what no
 * build could map: invalid flag combinations (those vm-memory's
 * MmapXenFlags::is_valid refuses), sizes and addresses off a 4 KiB page,
 * grant references that do not fit or do not match the size. */
int xen_opts_load(struct vmmem_xen_opts *o, uint64_t size,
		  const struct vmmem_xen_opts *opts);

/* The smallest stats->sz vmmem_region_xen_cache_stats() accepts. */
#define XEN_STATS_MIN_SZ (offsetof(struct vmmem_xen_cache_stats, hits) + \
			  sizeof(uint64_t))

/* Grant reference of page i of a region without explicit references. */
static inline uint32_t xen_derived_ref(uint64_t gpa, uint64_t i)
{
	return (uint32_t)(((gpa & ~(1ull << 63)) >> XEN_PAGE_SHIFT) + i);
}

#ifdef HAVE_XEN
struct xentoollog_logger;
/* A logger that drops everything: a library must not print. */
struct xentoollog_logger *xen_silent_logger(void);

int xen_foreign_new(struct vmmem_region **out, uint64_t size,
		    const struct vmmem_xen_opts *o);
int xen_grant_new(struct vmmem_region **out, uint64_t size,
		  const struct vmmem_xen_opts *o);
#endif

#endif
