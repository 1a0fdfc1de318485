/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include <endian.h>

#include "access.h"

int vub_read(const struct vub_access *a, uint64_t addr, void *buf, size_t len)
{
	if (a->iova)
		return vmmem_iommu_read_exact(vub_memory_iommu(a->memory), addr,
					      buf, len);
	return vmmem_read_exact(vub_memory_space(a->memory), addr, buf, len);
}

int vub_write(const struct vub_access *a, uint64_t addr, const void *buf,
	      size_t len)
{
	if (a->iova)
		return vmmem_iommu_write_exact(vub_memory_iommu(a->memory),
					       addr, buf, len);
	return vmmem_write_exact(vub_memory_space(a->memory), addr, buf, len);
}

/* One loop for both directions: the positional fd calls may transfer less
 * than asked (a range over several regions, a signal). */
static int transfer(const struct vub_access *a, uint64_t addr, int fd,
		    size_t len, off_t offset, bool to_guest)
{
	size_t done = 0;

	while (done < len) {
		uint64_t at = addr + done;
		off_t off = offset + (off_t)done;
		size_t left = len - done;
		ssize_t n;

		if (a->iova) {
			struct vmmem_iommu *io = vub_memory_iommu(a->memory);

			n = to_guest ? vmmem_iommu_pread_fd(io, at, fd, left, off) :
				       vmmem_iommu_pwrite_fd(io, at, fd, left, off);
		} else {
			struct vmmem *mem = vub_memory_space(a->memory);

			n = to_guest ? vmmem_pread_fd(mem, at, fd, left, off) :
				       vmmem_pwrite_fd(mem, at, fd, left, off);
		}
		if (n < 0 && n != -EINTR)
			return (int)n;
		if (n == 0)
			return -EIO;
		if (n > 0)
			done += (size_t)n;
	}
	return 0;
}

int vub_from_file(const struct vub_access *a, uint64_t addr, int fd,
		  size_t len, off_t offset)
{
	return transfer(a, addr, fd, len, offset, true);
}

int vub_to_file(const struct vub_access *a, uint64_t addr, int fd, size_t len,
		off_t offset)
{
	return transfer(a, addr, fd, len, offset, false);
}
