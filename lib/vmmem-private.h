/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Private object layouts and helpers shared by the files of lib/. */
#ifndef VMMEM_PRIVATE_H
#define VMMEM_PRIVATE_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "libvmmem.h"

/* Marks a definition as part of the ABI; everything else is hidden by
 * -fvisibility=hidden and by the version script. */
#define VMMEM_EXPORT __attribute__((visibility("default")))

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

enum region_kind {
	REGION_ANON,    /* anonymous private */
	REGION_MEMFD,   /* anonymous in a memfd the region owns */
	REGION_FD,      /* a caller's fd (duplicated) at an offset */
	REGION_RAW,     /* a caller's pointer */
	REGION_XEN,     /* a Xen foreign or grant mapping (lib/xen/) */
	REGION_LAZY,    /* mapped on demand through a map cache */
};

struct mapcache;

struct vmmem_region {
	unsigned long refcount;       /* atomic */
	enum region_kind kind;
	unsigned int flags;           /* VMMEM_REGION_* given at creation */
	uint8_t *host;                /* first guest-visible byte */
	uint64_t size;
	void *map_base;               /* whole mapping incl. guard pages */
	size_t map_len;
	uint64_t page_size;           /* backing page size (huge for hugetlb) */
	int fd;                       /* -1 when none */
	uint64_t offset;              /* of host[0] in fd */
	uint64_t file_dev, file_ino;  /* REGION_FD: which file fd is */
	vmmem_release_fn release;
	void *opaque;
	bool readonly;                /* writes refused with -EACCES */
	struct mapcache *cache;       /* REGION_LAZY: host is NULL */
	/* Backends other than mmap: undoes what the backend set up. */
	void (*backend_release)(struct vmmem_region *r);
	void *backend;
	bool xen;                     /* made by vmmem_region_new_xen() */
	uint32_t xen_domid;
	uint32_t xen_flags;
	unsigned int xen_opts_flags;  /* VMMEM_XEN_READONLY, _MAP_CACHE */
};

/* Size of the options struct a caller passed, validated libbpf style: a
 * smaller struct from an older caller is fine as long as it reaches `need`,
 * a larger one from a newer caller must have a zero tail. */
int opts_check(const void *opts, size_t user_sz, size_t known_sz, size_t need);
#define OPTS_VALID(opts, type, last_field)                                    \
	opts_check((opts), (opts)->sz, sizeof(type),                          \
		   offsetof(type, last_field) + sizeof((opts)->last_field))
static inline bool range_wraps(uint64_t start, uint64_t len)
{
	return len && start + (len - 1) < start;
}

/* region/ */
int region_alloc(struct vmmem_region **out, enum region_kind kind);
/* Copies a caller's options (NULL: defaults) into a full-size struct. */
int region_opts_load(struct vmmem_region_opts *o,
		     const struct vmmem_region_opts *opts);
/* vmmem_region_new() on loaded options; readonly maps PROT_READ. */
int region_new_mapped(struct vmmem_region **out, uint64_t size,
		      const struct vmmem_region_opts *opts, bool readonly);
/* A region mapped on demand (lib/region/lazy.c): each access maps what it
 * touches and unmaps it when it ends, or with cache, through a map cache
 * of at most max_pages unpinned pages (0: the default); ops and ctx are
 * the mapper's. */
struct mapcache_ops;
int region_new_lazy(struct vmmem_region **out, uint64_t size,
		    const struct mapcache_ops *ops, void *ctx, bool cache,
		    size_t max_pages, bool readonly);
int region_apply_policy(struct vmmem_region *r, const struct vmmem_region_opts *o);
uint64_t system_page_size(void);

#endif
