/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Whether a region's backing file still covers it.
 *
 * A file that another process truncates under a shared mapping makes the
 * next access past its new end raise SIGBUS.  A library must not install
 * signal handlers in its caller's process, so libvmmem refuses such
 * mappings up front (vmmem_region_new, -ENXIO), lets memfds be sealed
 * against shrinking (VMMEM_REGION_SEAL with F_SEAL_SHRINK), and offers this
 * check for the rest: a VMM can run it before a migration or when a peer
 * misbehaves, and take the region out before touching it. */
#include <sys/stat.h>

#include "vmmem-private.h"

VMMEM_EXPORT int vmmem_region_check(const struct vmmem_region *r)
{
	struct stat st;

	if (!r)
		return -EINVAL;
	if (r->fd < 0)
		return 0;            /* anonymous or the caller's memory */
	if (fstat(r->fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < r->offset + r->size)
		return -ENXIO;
	return 0;
}
