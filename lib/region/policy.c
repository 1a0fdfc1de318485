/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Host memory policy of a mapped region: madvise, NUMA binding, mlock and
 * prefaulting, applied in the order that makes each one effective (bind
 * before the pages exist, then fault them in, then lock them). */
#include <numaif.h>
#include <sys/mman.h>

#include "vmmem-private.h"

static size_t mapped_len(const struct vmmem_region *r)
{
	return (size_t)((r->size + r->page_size - 1) / r->page_size * r->page_size);
}

static int advise(struct vmmem_region *r, unsigned int flag, int advice)
{
	if ((r->flags & flag) && madvise(r->host, mapped_len(r), advice) < 0)
		return -errno;
	return 0;
}

static int bind_node(struct vmmem_region *r, int node)
{
	unsigned long mask[1024 / (8 * sizeof(unsigned long))] = { 0 };
	unsigned int bits = 8 * sizeof(unsigned long);

	mask[node / bits] = 1ul << (node % bits);
	if (mbind(r->host, mapped_len(r), MPOL_BIND, mask, (unsigned long)node + 2,
		  MPOL_MF_STRICT | MPOL_MF_MOVE) < 0)
		return -errno;
	return 0;
}

static int populate(struct vmmem_region *r)
{
	volatile uint8_t *p = r->host;
	size_t len = mapped_len(r);

	if (madvise(r->host, len, MADV_POPULATE_WRITE) == 0)
		return 0;
	if (errno != EINVAL)
		return -errno;
	/* Kernels before 5.14.  Memory the library just created is faulted
	 * in for writing (nobody else sees it yet); a caller's file only for
	 * reading, since writing it back could race with its other users. */
	for (size_t off = 0; off < len; off += r->page_size) {
		uint8_t v = p[off];

		if (r->kind != REGION_FD)
			p[off] = v;
	}
	return 0;
}

int region_apply_policy(struct vmmem_region *r, const struct vmmem_region_opts *o)
{
	int ret;

	if ((ret = advise(r, VMMEM_REGION_THP, MADV_HUGEPAGE)) ||
	    (ret = advise(r, VMMEM_REGION_DONTDUMP, MADV_DONTDUMP)) ||
	    (ret = advise(r, VMMEM_REGION_DONTFORK, MADV_DONTFORK)) ||
	    (ret = advise(r, VMMEM_REGION_MERGEABLE, MADV_MERGEABLE)))
		return ret;
	if ((r->flags & VMMEM_REGION_NUMA_BIND) && (ret = bind_node(r, o->numa_node)))
		return ret;
	if ((r->flags & VMMEM_REGION_POPULATE) && (ret = populate(r)))
		return ret;
	if ((r->flags & VMMEM_REGION_MLOCK) && mlock(r->host, mapped_len(r)) < 0)
		return -errno;
	return 0;
}
