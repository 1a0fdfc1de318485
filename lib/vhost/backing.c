/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Mapping a vhost-user message's region.
 *
 * The spec does not promise a page-aligned mmap_offset.  As libvhost-user
 * does, the file is mapped from the page boundary below it and the region
 * starts at the remainder: the file region (fd, page-aligned offset, the
 * length check against the file) is then wrapped in a region over its
 * guest-visible part, which holds the file region until it is released. */
#include <sys/stat.h>

#include "vhost/vhost.h"

#define BACKING_FLAGS (VMMEM_REGION_SHAREABLE | VMMEM_REGION_FD | \
		       VMMEM_REGION_PRIVATE)

int vhost_region_check(const struct vmmem_vhost_region *vr)
{
	uint64_t size;

	if (!vr)
		return -EINVAL;
	size = vr->memory_size;
	if (!size || range_wraps(vr->guest_phys_addr, size) ||
	    range_wraps(vr->userspace_addr, size) ||
	    range_wraps(vr->mmap_offset, size))
		return -EINVAL;
	return 0;
}

static void release_file_region(void *addr, uint64_t size, void *file)
{
	(void)addr;
	(void)size;
	vmmem_region_unref(file);
}

/* The file region under r, and the file offset of r's first byte. */
static const struct vmmem_region *file_of(const struct vmmem_region *r,
					  uint64_t *offset)
{
	const struct vmmem_region *file = r;

	if (r->kind == REGION_RAW && r->release == release_file_region)
		file = r->opaque;
	*offset = file->offset + (uint64_t)(r->host - file->host);
	return file;
}

int vhost_slot_new(struct slot *s, const struct vmmem_vhost_region *vr,
		   int fd, const struct vmmem_region_opts *opts)
{
	uint64_t rem = vr->mmap_offset % system_page_size();
	struct vmmem_region_opts o;
	struct vmmem_region *file, *r;
	int ret = region_opts_load(&o, opts);

	if (ret)
		return ret;
	if ((o.flags & BACKING_FLAGS) || o.offset)
		return -EINVAL;
	if (vr->memory_size > UINT64_MAX - rem)
		return -EINVAL;
	o.flags |= VMMEM_REGION_FD;
	o.fd = fd;
	o.offset = vr->mmap_offset - rem;
	ret = region_new_mapped(&file, vr->memory_size + rem, &o, false);
	if (ret)
		return ret;
	r = file;
	if (rem) {
		ret = vmmem_region_new_raw(&r, file->host + rem,
					   vr->memory_size,
					   release_file_region, file, 0);
		if (ret) {
			vmmem_region_unref(file);
			return ret;
		}
	}
	slot_init(s, vr->guest_phys_addr, r);
	s->uaddr = vr->userspace_addr;
	s->has_uaddr = true;
	return 0;
}

int vhost_slot_same(const struct slot *s, const struct vmmem_vhost_region *vr,
		    int fd)
{
	const struct vmmem_region *file;
	struct stat st;
	uint64_t offset;

	if (!s->has_uaddr || s->gpa != vr->guest_phys_addr ||
	    s->last - s->gpa != vr->memory_size - 1 ||
	    s->uaddr != vr->userspace_addr)
		return 0;
	file = file_of(s->region, &offset);
	if (offset != vr->mmap_offset)
		return 0;
	/* A failure is the message's: taking the region for a new one would
	 * lose its dirty bits. */
	if (fstat(fd, &st) < 0)
		return -errno;
	return (uint64_t)st.st_dev == file->file_dev &&
	       (uint64_t)st.st_ino == file->file_ino;
}
