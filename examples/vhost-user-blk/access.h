/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The device's view of guest memory: addresses from rings and descriptors
 * are guest physical addresses, or I/O virtual addresses once
 * VIRTIO_F_IOMMU_PLATFORM is negotiated.  Each call goes to the libvmmem
 * function of that address space, which marks the front-end's dirty log
 * while one is set (vub_memory_set_log()).
 * Errors are libvmmem's: -EFAULT outside guest memory, -EAGAIN on an IOTLB
 * miss (the miss has been sent; retry after the front-end's update),
 * -EACCES for an IOVA without the permission.
 */
#ifndef VUB_ACCESS_H
#define VUB_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "memory.h"

struct vub_access {
	struct vub_memory *memory;
	bool iova;     /* addresses are IOVAs */
};

int vub_read(const struct vub_access *a, uint64_t addr, void *buf, size_t len);
int vub_write(const struct vub_access *a, uint64_t addr, const void *buf,
	      size_t len);
/* Whole transfers between guest memory and a file, or a negative errno
 * (-EIO for a file that ends early). */
int vub_from_file(const struct vub_access *a, uint64_t addr, int fd,
		  size_t len, off_t offset);
int vub_to_file(const struct vub_access *a, uint64_t addr, int fd, size_t len,
		off_t offset);

#endif /* VUB_ACCESS_H */
