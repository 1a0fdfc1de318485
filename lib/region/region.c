/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Region objects: reference counting, queries, and caller-owned memory. */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmmem-private.h"
#include "xen/mapcache.h"

int opts_check(const void *opts, size_t user_sz, size_t known_sz, size_t need)
{
	const unsigned char *tail = opts;

	if (user_sz < need)
		return -EINVAL;
	for (size_t i = known_sz; i < user_sz; i++)
		if (tail[i])
			return -E2BIG;
	return 0;
}

uint64_t system_page_size(void)
{
	static uint64_t cached;
	uint64_t ps = __atomic_load_n(&cached, __ATOMIC_RELAXED);

	if (!ps) {
		long v = sysconf(_SC_PAGESIZE);

		ps = v > 0 ? (uint64_t)v : 4096;
		__atomic_store_n(&cached, ps, __ATOMIC_RELAXED);
	}
	return ps;
}

int region_alloc(struct vmmem_region **out, enum region_kind kind)
{
	struct vmmem_region *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->refcount = 1;
	r->kind = kind;
	r->fd = -1;
	r->page_size = system_page_size();
	*out = r;
	return 0;
}

VMMEM_EXPORT struct vmmem_region *vmmem_region_ref(struct vmmem_region *r)
{
	if (r)
		__atomic_add_fetch(&r->refcount, 1, __ATOMIC_RELAXED);
	return r;
}

static void region_destroy(struct vmmem_region *r)
{
	if (r->cache)
		mapcache_free(r->cache);
	if (r->backend_release) {
		r->backend_release(r);
	} else if (r->kind == REGION_RAW) {
		if (r->release)
			r->release(r->host, r->size, r->opaque);
	} else if (r->map_base) {
		munmap(r->map_base, r->map_len);
	}
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}

VMMEM_EXPORT void vmmem_region_unref(struct vmmem_region *r)
{
	if (r && __atomic_sub_fetch(&r->refcount, 1, __ATOMIC_ACQ_REL) == 0)
		region_destroy(r);
}

VMMEM_EXPORT int vmmem_region_new_raw(struct vmmem_region **out, void *addr,
				      uint64_t size, vmmem_release_fn release,
				      void *opaque, unsigned int flags)
{
	struct vmmem_region *r;
	int ret;

	/* The last byte, addr + size - 1, must fit in a pointer: computed in
	 * uintptr_t, so that a 32-bit host's address space is the bound. */
	if (!out || !addr || !size || flags ||
	    size - 1 > UINTPTR_MAX - (uintptr_t)addr)
		return -EINVAL;
	ret = region_alloc(&r, REGION_RAW);
	if (ret)
		return ret;
	r->host = addr;
	r->size = size;
	r->release = release;
	r->opaque = opaque;
	*out = r;
	return 0;
}

VMMEM_EXPORT int vmmem_region_size(const struct vmmem_region *r, uint64_t *size)
{
	if (!r || !size)
		return -EINVAL;
	*size = r->size;
	return 0;
}

VMMEM_EXPORT int vmmem_region_host_address(const struct vmmem_region *r,
					   void **addr)
{
	if (!r || !addr)
		return -EINVAL;
	if (!r->host)
		return -ENXIO;
	*addr = r->host;
	return 0;
}

VMMEM_EXPORT int vmmem_region_fd(const struct vmmem_region *r, uint64_t *offset)
{
	if (!r)
		return -EINVAL;
	if (r->fd < 0)
		return -ENOENT;
	if (offset)
		*offset = r->offset;
	return r->fd;
}

VMMEM_EXPORT int vmmem_region_flags(const struct vmmem_region *r,
				    unsigned int *flags)
{
	if (!r || !flags)
		return -EINVAL;
	*flags = r->flags;
	return 0;
}
