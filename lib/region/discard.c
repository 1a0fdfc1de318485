/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Giving a range of a region back to the host (balloon, virtio-mem). */
#include <fcntl.h>
#include <sys/mman.h>

#include "vmmem-private.h"

/* Shared memory must be punched out of the file: MADV_DONTNEED would only
 * drop this process's page-table entries and the data would come back. */
VMMEM_EXPORT int vmmem_region_discard(struct vmmem_region *r, uint64_t offset,
				      uint64_t len)
{
	if (!r || offset > r->size || len > r->size - offset ||
	    offset % r->page_size || len % r->page_size)
		return -EINVAL;
	if (!len)
		return 0;
	/* Discarding zeroes what the guest sees: a write like any other. */
	if (r->readonly)
		return -EACCES;
	if (r->kind == REGION_RAW || r->kind == REGION_XEN ||
	    r->kind == REGION_LAZY)
		return -EOPNOTSUPP;
	if (r->kind == REGION_ANON ||
	    (r->kind == REGION_FD && (r->flags & VMMEM_REGION_PRIVATE))) {
		/* A private file mapping reads back the file's data after
		 * this; the file itself belongs to the caller and is kept. */
		if (madvise(r->host + offset, len, MADV_DONTNEED) < 0)
			return -errno;
		return 0;
	}
	if (fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)(r->offset + offset), (off_t)len) < 0)
		return -errno;
	return 0;
}
