/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Regions the library maps itself: anonymous, memfd and fd + offset. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/memfd.h>

#include "vmmem-private.h"

#define BACKING_FLAGS (VMMEM_REGION_SHAREABLE | VMMEM_REGION_FD | \
		       VMMEM_REGION_PRIVATE)
#define KNOWN_FLAGS   ((VMMEM_REGION_SEAL << 1) - 1)
/* F_SEAL_WRITE is not among them: the region's own writable shared mapping
 * makes the kernel refuse it, so it is refused up front. */
#define KNOWN_SEALS   (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | \
		       F_SEAL_FUTURE_WRITE)

static uint64_t default_hugepage_size(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[128];
	unsigned long kb = 0;

	if (!f)
		return 2u << 20;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Hugepagesize: %lu kB", &kb) == 1)
			break;
	fclose(f);
	return kb ? (uint64_t)kb << 10 : 2u << 20;
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static int validate(uint64_t size, const struct vmmem_region_opts *o,
		    uint64_t *page_size)
{
	unsigned int f = o->flags;

	if (f & ~KNOWN_FLAGS)
		return -EINVAL;
	if ((f & VMMEM_REGION_SHAREABLE) && (f & VMMEM_REGION_FD))
		return -EINVAL;
	if ((f & VMMEM_REGION_PRIVATE) && !(f & VMMEM_REGION_FD))
		return -EINVAL;
	if (!(f & VMMEM_REGION_FD) && (o->offset || (o->fd != 0 && o->fd != -1)))
		return -EINVAL;
	if ((f & VMMEM_REGION_HUGETLB) &&
	    (f & (VMMEM_REGION_FD | VMMEM_REGION_THP)))
		return -EINVAL;
	if (!(f & VMMEM_REGION_HUGETLB) && o->hugepage_size)
		return -EINVAL;
	if (!(f & VMMEM_REGION_NUMA_BIND) && o->numa_node)
		return -EINVAL;
	if ((f & VMMEM_REGION_NUMA_BIND) && (o->numa_node < 0 || o->numa_node >= 1024))
		return -EINVAL;
	if (!(f & VMMEM_REGION_SEAL) && o->seals)
		return -EINVAL;
	if ((f & VMMEM_REGION_SEAL) &&
	    (!(f & VMMEM_REGION_SHAREABLE) || (o->seals & ~KNOWN_SEALS)))
		return -EINVAL;
	if (o->name && !(f & VMMEM_REGION_SHAREABLE))
		return -EINVAL;

	*page_size = system_page_size();
	if (f & VMMEM_REGION_HUGETLB) {
		uint64_t hp = o->hugepage_size ? o->hugepage_size
					       : default_hugepage_size();

		if (!is_pow2(hp) || hp < (64u << 10) || hp > (1ull << 40))
			return -EINVAL;
		if (size % hp)
			return -EINVAL;
		*page_size = hp;
	}
	if ((f & VMMEM_REGION_FD) && (o->offset % *page_size))
		return -EINVAL;
	if (size > SIZE_MAX - 4 * *page_size)   /* guards and alignment */
		return -EINVAL;
	return 0;
}

static int hugetlb_size_bits(uint64_t page_size, unsigned int shift)
{
	return (__builtin_ctzll(page_size) & 0x3f) << shift;
}

static int open_memfd(struct vmmem_region *r, const struct vmmem_region_opts *o)
{
	unsigned int mfd = MFD_CLOEXEC;
	int fd;

	if (o->flags & VMMEM_REGION_SEAL)
		mfd |= MFD_ALLOW_SEALING;
	if (o->flags & VMMEM_REGION_HUGETLB)
		mfd |= MFD_HUGETLB | hugetlb_size_bits(r->page_size, MFD_HUGE_SHIFT);
	fd = memfd_create(o->name ? o->name : "vmmem", mfd);
	if (fd < 0)
		return -errno;
	r->fd = fd;
	if (ftruncate(fd, (off_t)r->size) < 0)
		return -errno;
	return 0;
}

/* The caller's fd is duplicated so the region owns its own; a regular file
 * (memfds and hugetlbfs files are regular too) must already cover the whole
 * range, or the first access past its end would raise SIGBUS. */
static int adopt_fd(struct vmmem_region *r, const struct vmmem_region_opts *o)
{
	struct statfs sfs;
	struct stat st;

	if (o->fd < 0)
		return -EBADF;
	r->fd = fcntl(o->fd, F_DUPFD_CLOEXEC, 0);
	if (r->fd < 0)
		return -errno;
	if (fstat(r->fd, &st) < 0)
		return -errno;
	r->file_dev = (uint64_t)st.st_dev;
	r->file_ino = (uint64_t)st.st_ino;
	if (o->offset > (uint64_t)INT64_MAX || range_wraps(o->offset, r->size))
		return -EINVAL;
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < o->offset + r->size)
		return -ENXIO;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	/* hugetlbfs (and hugetlb memfds) map, discard and align in units of
	 * their huge page size, which they report as the block size. */
	/* f_type is a signed word (32-bit on i386); the magic has its top bit
	 * set, so both are compared as 32-bit unsigned values. */
	if (fstatfs(r->fd, &sfs) == 0 && (uint32_t)sfs.f_type == HUGETLBFS_MAGIC &&
	    st.st_blksize > 0) {
		r->page_size = (uint64_t)st.st_blksize;
		if (o->offset % r->page_size || r->size % r->page_size)
			return -EINVAL;
	}
	r->offset = o->offset;
	return 0;
}

/* Guard pages: reserve the whole span PROT_NONE, then place the usable part
 * inside the reservation.  MAP_FIXED is only ever used over a reservation of
 * our own, never at an address a caller chose. */
static int map_region(struct vmmem_region *r, const struct vmmem_region_opts *o)
{
	uint64_t ps = r->page_size;
	size_t len = (size_t)((r->size + ps - 1) / ps * ps);
	size_t guard = (o->flags & VMMEM_REGION_GUARD) ? ps : 0;
	int mflags, prot = r->readonly ? PROT_READ : PROT_READ | PROT_WRITE;
	void *base = NULL, *p;

	if (r->kind == REGION_ANON && (o->flags & VMMEM_REGION_HUGETLB)) {
		/* Reserved up front: with MAP_NORESERVE a hugetlb mapping
		 * succeeds without pages and the first touch raises SIGBUS. */
		mflags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
			 hugetlb_size_bits(ps, MAP_HUGE_SHIFT);
	} else if (r->kind == REGION_ANON) {
		mflags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	} else {
		mflags = (o->flags & VMMEM_REGION_PRIVATE) ? MAP_PRIVATE
							   : MAP_SHARED;
	}

	if (guard) {
		/* Aligned to the page size so a hugetlb mapping fits. */
		size_t span = len + 2 * guard + ps;

		base = mmap(NULL, span, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (base == MAP_FAILED)
			return -errno;
		r->map_base = base;
		r->map_len = span;
		/* guard and ps are uint64_t; the sum fits (validate() kept
		 * the span within the address space). */
		p = (void *)(uintptr_t)(((uintptr_t)base + guard + ps - 1) / ps * ps);
		mflags |= MAP_FIXED;
	} else {
		p = NULL;
	}
	p = mmap(p, len, prot, mflags, r->fd, (off_t)r->offset);
	if (p == MAP_FAILED)
		return -errno;
	if (!guard) {
		r->map_base = p;
		r->map_len = len;
	}
	r->host = p;
	return 0;
}

static int apply_seals(struct vmmem_region *r, const struct vmmem_region_opts *o)
{
	if (!(o->flags & VMMEM_REGION_SEAL) || !o->seals)
		return 0;
	if (fcntl(r->fd, F_ADD_SEALS, o->seals) < 0)
		return -errno;
	return 0;
}

int region_opts_load(struct vmmem_region_opts *o,
		     const struct vmmem_region_opts *opts)
{
	int ret;

	memset(o, 0, sizeof(*o));
	o->sz = sizeof(*o);
	if (!opts)
		return 0;
	ret = OPTS_VALID(opts, struct vmmem_region_opts, flags);
	if (ret)
		return ret;
	memcpy(o, opts, opts->sz < sizeof(*o) ? opts->sz : sizeof(*o));
	o->sz = sizeof(*o);
	return 0;
}

VMMEM_EXPORT int vmmem_region_new(struct vmmem_region **out, uint64_t size,
				  const struct vmmem_region_opts *opts)
{
	struct vmmem_region_opts o;
	int ret;

	if (!out || !size)
		return -EINVAL;
	ret = region_opts_load(&o, opts);
	if (ret)
		return ret;
	return region_new_mapped(out, size, &o, false);
}

int region_new_mapped(struct vmmem_region **out, uint64_t size,
		      const struct vmmem_region_opts *opts, bool readonly)
{
	const struct vmmem_region_opts o = *opts;
	struct vmmem_region *r;
	uint64_t page_size;
	enum region_kind kind;
	int ret;

	ret = validate(size, &o, &page_size);
	if (ret)
		return ret;

	kind = (o.flags & VMMEM_REGION_FD)          ? REGION_FD :
	       (o.flags & VMMEM_REGION_SHAREABLE)   ? REGION_MEMFD :
						      REGION_ANON;
	ret = region_alloc(&r, kind);
	if (ret)
		return ret;
	r->flags = o.flags;
	r->size = size;
	r->page_size = page_size;
	r->readonly = readonly;

	if (kind == REGION_MEMFD)
		ret = open_memfd(r, &o);
	else if (kind == REGION_FD)
		ret = adopt_fd(r, &o);
	if (!ret)
		ret = map_region(r, &o);
	if (!ret)
		ret = apply_seals(r, &o);
	if (!ret)
		ret = region_apply_policy(r, &o);
	if (ret) {
		vmmem_region_unref(r);
		return ret;
	}
	*out = r;
	return 0;
}
