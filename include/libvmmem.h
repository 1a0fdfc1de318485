/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * libvmmem: guest physical memory for virtual machine monitors.
 *
 * Every function returns a value >= 0 on success and a negative errno value
 * on failure; errno itself is unspecified after a call.  Objects are opaque.
 * See libvmmem(7) for the object model and one man page per function.
 */
#ifndef LIBVMMEM_H
#define LIBVMMEM_H

/* The version of this header; vmmem_version() gives the library's, which
 * may be newer at run time (same major version, same ABI). */
#define VMMEM_VERSION_MAJOR 1
#define VMMEM_VERSION_MINOR 1
#define VMMEM_VERSION_MICRO 0
#define VMMEM_VERSION_ENCODE(major, minor, micro) \
	(((uint32_t)(major) << 16) | ((uint32_t)(minor) << 8) | (uint32_t)(micro))
#define VMMEM_VERSION VMMEM_VERSION_ENCODE(VMMEM_VERSION_MAJOR, \
	VMMEM_VERSION_MINOR, VMMEM_VERSION_MICRO)

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vmmem_region;
struct vmmem;

/* ---------------------------------------------------------------- regions */

/* Backing of a region made by vmmem_region_new(); none of the three means
 * anonymous private memory (MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE). */
#define VMMEM_REGION_SHAREABLE  (1u << 0)  /* anonymous, in a memfd */
#define VMMEM_REGION_FD         (1u << 1)  /* opts->fd at opts->offset */
#define VMMEM_REGION_PRIVATE    (1u << 2)  /* with FD: MAP_PRIVATE */
/* Host memory policy. */
#define VMMEM_REGION_HUGETLB    (1u << 3)  /* hugetlb, opts->hugepage_size */
#define VMMEM_REGION_THP        (1u << 4)  /* MADV_HUGEPAGE */
#define VMMEM_REGION_DONTDUMP   (1u << 5)  /* MADV_DONTDUMP */
#define VMMEM_REGION_DONTFORK   (1u << 6)  /* MADV_DONTFORK */
#define VMMEM_REGION_MERGEABLE  (1u << 7)  /* MADV_MERGEABLE (KSM) */
#define VMMEM_REGION_POPULATE   (1u << 8)  /* prefault every page */
#define VMMEM_REGION_MLOCK      (1u << 9)  /* mlock(2) the mapping */
#define VMMEM_REGION_NUMA_BIND  (1u << 10) /* mbind MPOL_BIND opts->numa_node */
#define VMMEM_REGION_GUARD      (1u << 11) /* PROT_NONE page before and after */
#define VMMEM_REGION_SEAL       (1u << 12) /* memfd: F_ADD_SEALS opts->seals */

/* Options of vmmem_region_new(); zero-initialise, set sz = sizeof. */
struct vmmem_region_opts {
	size_t sz;
	unsigned int flags;          /* VMMEM_REGION_* */
	int fd;                      /* with VMMEM_REGION_FD */
	uint64_t offset;             /* with VMMEM_REGION_FD */
	uint64_t hugepage_size;      /* with HUGETLB: 0 = system default */
	int numa_node;               /* with NUMA_BIND */
	unsigned int seals;          /* with SEAL: F_SEAL_* bits */
	const char *name;            /* memfd name, NULL = "vmmem" */
};

typedef void (*vmmem_release_fn)(void *addr, uint64_t size, void *opaque);

int vmmem_region_new(struct vmmem_region **out, uint64_t size,
		     const struct vmmem_region_opts *opts);
int vmmem_region_new_raw(struct vmmem_region **out, void *addr, uint64_t size,
			 vmmem_release_fn release, void *opaque,
			 unsigned int flags);
struct vmmem_region *vmmem_region_ref(struct vmmem_region *region);
void vmmem_region_unref(struct vmmem_region *region);

int vmmem_region_size(const struct vmmem_region *region, uint64_t *size);
int vmmem_region_host_address(const struct vmmem_region *region, void **addr);
int vmmem_region_fd(const struct vmmem_region *region, uint64_t *offset);
int vmmem_region_flags(const struct vmmem_region *region, unsigned int *flags);
int vmmem_region_discard(struct vmmem_region *region, uint64_t offset,
			 uint64_t len);
int vmmem_region_check(const struct vmmem_region *region);

/* ------------------------------------------------------------------- Xen */

/* Numeric values of the vhost-user Xen memory-region message, passed through
 * as they come.  Valid: UNIX (0x0) and FOREIGN (0x1), mapped in advance, and
 * GRANT (0x2), in advance or with NO_ADVANCE_MAP (0xa) on demand. */
#define VMMEM_XEN_UNIX            0x0u
#define VMMEM_XEN_FOREIGN         0x1u
#define VMMEM_XEN_GRANT           0x2u
#define VMMEM_XEN_NO_ADVANCE_MAP  0x8u

#define VMMEM_XEN_READONLY        (1u << 0)  /* map PROT_READ, refuse writes */
#define VMMEM_XEN_MAP_CACHE       (1u << 1)  /* NO_ADVANCE_MAP: keep mappings */

/* Options of vmmem_region_new_xen(); zero-initialise, set sz = sizeof. */
struct vmmem_xen_opts {
	size_t sz;
	uint32_t xen_flags;          /* VMMEM_XEN_{UNIX,FOREIGN,GRANT,...} */
	uint32_t domid;
	uint64_t gpa;                /* guest address the region maps */
	const uint32_t *grant_refs;  /* NULL: derived from gpa */
	size_t num_grant_refs;
	int fd;                      /* VMMEM_XEN_UNIX: fd to mmap */
	uint64_t offset;
	unsigned int flags;          /* VMMEM_XEN_READONLY, VMMEM_XEN_MAP_CACHE */
	size_t cache_pages;          /* MAP_CACHE: map-cache bound, 0 = default */
	int *frame_errors;           /* FOREIGN, optional: size / 4096 results */
};

/* Counters of an on-demand region's map cache (vmmem_region_xen_cache_stats). */
struct vmmem_xen_cache_stats {
	size_t sz;
	uint64_t hits;               /* accesses served by a cached mapping */
	uint64_t misses;             /* accesses that needed a map call */
	uint64_t map_calls;          /* map calls made, failed ones included */
	uint64_t map_failures;
	uint64_t evictions;          /* mappings dropped to stay in the bound */
	uint64_t invalidated;        /* mappings dropped by invalidation */
	uint64_t mapped_pages;       /* pages mapped now */
	uint64_t pinned_pages;       /* of those, in use now (vmmem_map, accesses) */
};

int vmmem_region_new_xen(struct vmmem_region **out, uint64_t size,
			 const struct vmmem_xen_opts *opts);
int vmmem_region_xen(const struct vmmem_region *region, uint32_t *domid,
		     uint32_t *xen_flags);
int vmmem_region_xen_flags(const struct vmmem_region *region,
			   unsigned int *flags);
int vmmem_region_xen_invalidate(struct vmmem_region *region);
int vmmem_region_xen_cache_stats(const struct vmmem_region *region,
				 struct vmmem_xen_cache_stats *stats);

/* -------------------------------------------------- guest address space */

/* One range of vmmem_new_from_ranges(): fd < 0 means anonymous memory. */
struct vmmem_range {
	uint64_t gpa;
	uint64_t size;
	int fd;
	uint64_t offset;
};

uint32_t vmmem_version(void);

int vmmem_new(struct vmmem **out, unsigned int flags);
int vmmem_new_from_ranges(struct vmmem **out, const struct vmmem_range *ranges,
			  size_t count, const struct vmmem_region_opts *opts);
void vmmem_free(struct vmmem *mem);

int vmmem_add_region(struct vmmem *mem, uint64_t gpa,
		     struct vmmem_region *region);
int vmmem_remove_region(struct vmmem *mem, uint64_t gpa, uint64_t size,
			struct vmmem_region **removed);

int vmmem_find_region(struct vmmem *mem, uint64_t gpa,
		      struct vmmem_region **region, uint64_t *offset);
typedef int (*vmmem_region_fn)(uint64_t gpa, struct vmmem_region *region,
			       void *opaque);
int vmmem_foreach_region(struct vmmem *mem, vmmem_region_fn fn, void *opaque);
int vmmem_num_regions(struct vmmem *mem);
int vmmem_last_addr(struct vmmem *mem, uint64_t *last);
int vmmem_check_range(struct vmmem *mem, uint64_t gpa, uint64_t len);

/* ------------------------------------------------------------- accesses */

ssize_t vmmem_read(struct vmmem *mem, uint64_t gpa, void *buf, size_t len);
ssize_t vmmem_write(struct vmmem *mem, uint64_t gpa, const void *buf,
		    size_t len);
int vmmem_read_exact(struct vmmem *mem, uint64_t gpa, void *buf, size_t len);
int vmmem_write_exact(struct vmmem *mem, uint64_t gpa, const void *buf,
		      size_t len);

/* Memory orders of vmmem_load() / vmmem_store(), as C11 memory_order. */
#define VMMEM_ORDER_RELAXED  0
#define VMMEM_ORDER_CONSUME  1
#define VMMEM_ORDER_ACQUIRE  2
#define VMMEM_ORDER_RELEASE  3
#define VMMEM_ORDER_ACQ_REL  4
#define VMMEM_ORDER_SEQ_CST  5

int vmmem_load(struct vmmem *mem, uint64_t gpa, size_t size, uint64_t *val,
	       int order);
int vmmem_store(struct vmmem *mem, uint64_t gpa, size_t size, uint64_t val,
		int order);

int vmmem_fill(struct vmmem *mem, uint64_t gpa, int byte, uint64_t len);
int vmmem_copy(struct vmmem *mem, uint64_t dst, uint64_t src, uint64_t len);

int vmmem_host_address(struct vmmem *mem, uint64_t gpa, uint64_t len,
		       void **host);
int vmmem_iovec(struct vmmem *mem, uint64_t gpa, uint64_t len,
		struct iovec *iov, size_t iovcnt);

#define VMMEM_MAP_READ   (1u << 0)
#define VMMEM_MAP_WRITE  (1u << 1)

int vmmem_map(struct vmmem *mem, uint64_t gpa, uint64_t *len,
	      unsigned int flags, void **host);
int vmmem_unmap(struct vmmem *mem, void *host, uint64_t written);

ssize_t vmmem_read_fd(struct vmmem *mem, uint64_t gpa, int fd, size_t len);
ssize_t vmmem_pread_fd(struct vmmem *mem, uint64_t gpa, int fd, size_t len,
		       int64_t offset);
ssize_t vmmem_write_fd(struct vmmem *mem, uint64_t gpa, int fd, size_t len);
ssize_t vmmem_pwrite_fd(struct vmmem *mem, uint64_t gpa, int fd, size_t len,
			int64_t offset);

/* ------------------------------------------------------ dirty page log */

int vmmem_dirty_start(struct vmmem *mem, uint64_t page_size);
int vmmem_dirty_stop(struct vmmem *mem);
int vmmem_dirty_mark(struct vmmem *mem, uint64_t gpa, uint64_t len);
int vmmem_dirty_harvest(struct vmmem *mem, uint64_t gpa, uint64_t len,
			uint64_t *bitmap);
int vmmem_dirty_clear(struct vmmem *mem, uint64_t gpa, uint64_t len);
int vmmem_dirty_test(struct vmmem *mem, uint64_t gpa);

/* The vhost-user front-end's shared dirty log (VHOST_USER_SET_LOG_BASE,
 * VHOST_USER_PROTOCOL_F_LOG_SHMFD): bit gpa / 4096 of a bitmap from GPA
 * 0, set by every write path with an atomic OR.  Since 1.1. */
#define VMMEM_DIRTY_SHARED_ONLY (1u << 0)   /* instead of the library's log */

int vmmem_dirty_shared_set_fd(struct vmmem *mem, int fd, uint64_t mmap_size,
			      uint64_t mmap_offset, unsigned int flags);
int vmmem_dirty_shared_set(struct vmmem *mem, void *log, uint64_t size,
			   unsigned int flags);
int vmmem_dirty_shared_stop(struct vmmem *mem);
int vmmem_dirty_shared_missed(struct vmmem *mem, uint64_t *missed);

/* ----------------------------------------------------------- IOMMU */

/* An IOTLB over a struct vmmem: I/O virtual addresses (IOVAs), as a
 * vhost-user device with VIRTIO_F_IOMMU_PLATFORM sees them, translated to
 * addresses of the backing address space, with permissions. */
struct vmmem_iommu;

#define VMMEM_PERM_READ   (1u << 0)
#define VMMEM_PERM_WRITE  (1u << 1)

/* Called when an access finds no IOTLB entry: the back-end sends an IOTLB
 * miss message; the access returns -EAGAIN and may be retried later. */
typedef void (*vmmem_iommu_miss_fn)(uint64_t iova, uint64_t len,
				    unsigned int perm, void *opaque);

struct vmmem_iommu_opts {
	size_t sz;
	unsigned int flags;              /* none yet: 0 */
	size_t max_entries;              /* 0 = 2048 */
	vmmem_iommu_miss_fn miss;        /* may be NULL */
	void *miss_opaque;
};

int vmmem_iommu_new(struct vmmem_iommu **out, struct vmmem *mem,
		    const struct vmmem_iommu_opts *opts);
void vmmem_iommu_free(struct vmmem_iommu *iommu);
int vmmem_iommu_update(struct vmmem_iommu *iommu, uint64_t iova,
		       uint64_t size, uint64_t gpa, unsigned int perm);
int vmmem_iommu_invalidate(struct vmmem_iommu *iommu, uint64_t iova,
			   uint64_t size);
int vmmem_iommu_invalidate_all(struct vmmem_iommu *iommu);
int vmmem_iommu_num_entries(struct vmmem_iommu *iommu);

ssize_t vmmem_iommu_read(struct vmmem_iommu *iommu, uint64_t iova, void *buf,
			 size_t len);
ssize_t vmmem_iommu_write(struct vmmem_iommu *iommu, uint64_t iova,
			  const void *buf, size_t len);
int vmmem_iommu_read_exact(struct vmmem_iommu *iommu, uint64_t iova,
			   void *buf, size_t len);
int vmmem_iommu_write_exact(struct vmmem_iommu *iommu, uint64_t iova,
			    const void *buf, size_t len);
int vmmem_iommu_load(struct vmmem_iommu *iommu, uint64_t iova, size_t size,
		     uint64_t *val, int order);
int vmmem_iommu_store(struct vmmem_iommu *iommu, uint64_t iova, size_t size,
		      uint64_t val, int order);
int vmmem_iommu_fill(struct vmmem_iommu *iommu, uint64_t iova, int byte,
		     uint64_t len);
int vmmem_iommu_iovec(struct vmmem_iommu *iommu, uint64_t iova, uint64_t len,
		      unsigned int perm, struct iovec *iov, size_t iovcnt);
int vmmem_iommu_map(struct vmmem_iommu *iommu, uint64_t iova, uint64_t *len,
		    unsigned int flags, void **host);
int vmmem_iommu_unmap(struct vmmem_iommu *iommu, void *host,
		      uint64_t written);
ssize_t vmmem_iommu_read_fd(struct vmmem_iommu *iommu, uint64_t iova, int fd,
			    size_t len);
ssize_t vmmem_iommu_pread_fd(struct vmmem_iommu *iommu, uint64_t iova, int fd,
			     size_t len, int64_t offset);
ssize_t vmmem_iommu_write_fd(struct vmmem_iommu *iommu, uint64_t iova, int fd,
			     size_t len);
ssize_t vmmem_iommu_pwrite_fd(struct vmmem_iommu *iommu, uint64_t iova,
			      int fd, size_t len, int64_t offset);

/* ------------------------------------------------- vhost-user back-ends */

/* One region of a vhost-user memory table, as the messages SET_MEM_TABLE,
 * ADD_MEM_REG and REM_MEM_REG carry it (VhostUserMemoryRegion). */
struct vmmem_vhost_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;     /* in the front-end's own address space */
	uint64_t mmap_offset;        /* of guest_phys_addr in the region's fd */
};

/* Regions a space may hold through these calls: the value to answer
 * VHOST_USER_GET_MAX_MEM_SLOTS with (QEMU's own limit). */
#define VMMEM_VHOST_MAX_REGIONS  512

int vmmem_vhost_set_mem_table(struct vmmem *mem,
			      const struct vmmem_vhost_region *regions,
			      const int *fds, size_t count,
			      const struct vmmem_region_opts *opts);
int vmmem_vhost_add_mem_reg(struct vmmem *mem,
			    const struct vmmem_vhost_region *region, int fd,
			    const struct vmmem_region_opts *opts);
int vmmem_vhost_rem_mem_reg(struct vmmem *mem,
			    const struct vmmem_vhost_region *region);
int vmmem_uaddr_to_gpa(struct vmmem *mem, uint64_t uaddr, uint64_t len,
		       uint64_t *gpa);
int vmmem_uaddr_to_host(struct vmmem *mem, uint64_t uaddr, uint64_t len,
			void **host);

/* The payload of VHOST_USER_IOTLB_MSG (struct vhost_iotlb_msg), byte for
 * byte: a back-end may copy the message's 32 bytes into it. */
#define VMMEM_VHOST_IOTLB_MISS         1
#define VMMEM_VHOST_IOTLB_UPDATE       2
#define VMMEM_VHOST_IOTLB_INVALIDATE   3
#define VMMEM_VHOST_IOTLB_ACCESS_FAIL  4

struct vmmem_vhost_iotlb_msg {
	uint64_t iova;
	uint64_t size;
	uint64_t uaddr;              /* front-end address (UPDATE) */
	uint8_t perm;                /* VHOST_ACCESS_RO 1, WO 2, RW 3 */
	uint8_t type;                /* VMMEM_VHOST_IOTLB_* */
	uint8_t padding[6];          /* to 32 bytes where uint64_t aligns to 4 */
};

int vmmem_vhost_iotlb_msg(struct vmmem_iommu *iommu,
			  const struct vmmem_vhost_iotlb_msg *msg);

/* ------------------------------------ little-endian typed helpers */

/* Guest structures (virtio rings, descriptors) are little endian.  The bytes
 * are assembled explicitly rather than with le32toh() from <endian.h> so the
 * header stays strict ISO C99/C++: glibc hides those macros in -std=c99 mode.
 * gcc and clang compile each of these to one load or store on a
 * little-endian host. */
static inline uint64_t vmmem_le_decode_(const unsigned char *b, unsigned n)
{
	uint64_t v = 0;

	while (n--)
		v = (v << 8) | b[n];
	return v;
}

static inline void vmmem_le_encode_(unsigned char *b, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++, v >>= 8)
		b[i] = (unsigned char)v;
}

static inline int vmmem_read_le16(struct vmmem *mem, uint64_t gpa,
				  uint16_t *val)
{
	unsigned char b[2];
	int ret = val ? vmmem_read_exact(mem, gpa, b, sizeof(b)) : -EINVAL;

	if (ret == 0)
		*val = (uint16_t)vmmem_le_decode_(b, sizeof(b));
	return ret;
}

static inline int vmmem_read_le32(struct vmmem *mem, uint64_t gpa,
				  uint32_t *val)
{
	unsigned char b[4];
	int ret = val ? vmmem_read_exact(mem, gpa, b, sizeof(b)) : -EINVAL;

	if (ret == 0)
		*val = (uint32_t)vmmem_le_decode_(b, sizeof(b));
	return ret;
}

static inline int vmmem_read_le64(struct vmmem *mem, uint64_t gpa,
				  uint64_t *val)
{
	unsigned char b[8];
	int ret = val ? vmmem_read_exact(mem, gpa, b, sizeof(b)) : -EINVAL;

	if (ret == 0)
		*val = vmmem_le_decode_(b, sizeof(b));
	return ret;
}

static inline int vmmem_write_le16(struct vmmem *mem, uint64_t gpa,
				   uint16_t val)
{
	unsigned char b[2];

	vmmem_le_encode_(b, val, sizeof(b));
	return vmmem_write_exact(mem, gpa, b, sizeof(b));
}

static inline int vmmem_write_le32(struct vmmem *mem, uint64_t gpa,
				   uint32_t val)
{
	unsigned char b[4];

	vmmem_le_encode_(b, val, sizeof(b));
	return vmmem_write_exact(mem, gpa, b, sizeof(b));
}

static inline int vmmem_write_le64(struct vmmem *mem, uint64_t gpa,
				   uint64_t val)
{
	unsigned char b[8];

	vmmem_le_encode_(b, val, sizeof(b));
	return vmmem_write_exact(mem, gpa, b, sizeof(b));
}

/* ------------------------------------------------------------- rings */

/* A small contiguous guest range (a virtio descriptor table, available or
 * used ring) pinned once, like vmmem_map(), and accessed through the
 * inline functions below with a bounds check and no call.  The layout is
 * part of the ABI (vmmem_ring_new(3)): fields are only ever added at the
 * end, and the library allocates the object.  Read it, never write it. */
/* What a store through a ring marks while dirty logging is on: the words
 * of the library's dirty log covering the ring, pages of 1 << shift bytes,
 * the byte at offset off of the ring standing for bit (origin + off) >>
 * shift of words (in little-endian 64-bit words).  origin is the GPA of
 * the ring's host[0] less that of the page of bit 0, so that a store
 * computes its bit with one addition and one shift.  words NULL: call
 * vmmem_ring_log() instead.  Immutable once published, and kept until the
 * ring is freed. */
struct vmmem_ring_log {
	uint64_t *words;
	uint64_t origin;
	unsigned int shift;
};

struct vmmem_ring {
	unsigned char *host;         /* first byte of the pinned range */
	size_t len;                  /* bytes readable from host; 0 once invalid */
	size_t wlen;                 /* bytes writable: len, or 0 if read-only */
	uint64_t addr;               /* the GPA (IOVA for IOVA rings) of host[0] */
	/* NULL while nothing is logged; set by the library only */
	const struct vmmem_ring_log *log;
	unsigned int state;          /* 0, or VMMEM_RING_INVALID */
};

#define VMMEM_RING_INVALID  1u   /* unmapped by vmmem_iommu_invalidate() */

int vmmem_ring_new(struct vmmem_ring **out, struct vmmem *mem, uint64_t gpa,
		   size_t len, unsigned int flags);
int vmmem_iommu_ring_new(struct vmmem_ring **out, struct vmmem_iommu *iommu,
			 uint64_t iova, size_t len, unsigned int flags);
void vmmem_ring_free(struct vmmem_ring *ring);
int vmmem_ring_log(struct vmmem_ring *ring, size_t offset, size_t len);

/* The accessors need the __atomic built-ins of GCC and Clang; other
 * compilers see the object and the functions above only. */
#if defined(__GNUC__)

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define VMMEM_RING_LE_(v, n) ((__typeof__(v))vmmem_le_swap_((v), (n)))
static inline uint64_t vmmem_le_swap_(uint64_t v, unsigned n)
{
	uint64_t r = 0;

	for (unsigned i = 0; i < n; i++, v >>= 8)
		r = (r << 8) | (v & 0xff);
	return r;
}
#else
#define VMMEM_RING_LE_(v, n) (v)
#endif

/* Whether off is not a multiple of align, or the ring's start is not
 * for accesses of more than 2 bytes: vmmem_ring_new() refuses an odd
 * start, so for the 16-bit accessors this is a test of off alone, which
 * the compiler folds away when it knows off's low bit (a constant, a
 * multiple of 2). */
static inline int vmmem_ring_misaligned_(const struct vmmem_ring *r,
					 size_t off, size_t align)
{
	return (off & (align - 1)) ||
	       (align > 2 && ((uintptr_t)r->host & (align - 1)));
}

/* Why an access failed its check: -EINVAL misaligned, -EAGAIN the ring
 * was invalidated (the acquire pairs with the invalidation's release of
 * the lengths), else -EFAULT. */
static inline int vmmem_ring_fault_(const struct vmmem_ring *r, size_t off,
				    size_t align)
{
	if (vmmem_ring_misaligned_(r, off, align))
		return -EINVAL;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(&r->state, __ATOMIC_RELAXED) ? -EAGAIN : -EFAULT;
}

/* Whether [off, off + n) lies in the readable (or writable) part and the
 * access is aligned.  One comparison of the end with the length: the
 * wrap test folds away when the compiler knows off bounded.  A truth value rather
 * than &host[off] or NULL: the compiler cannot prove host + off non-null,
 * and would test it again. */
static inline int vmmem_ring_fits_(const struct vmmem_ring *r, size_t off,
				   size_t n, int write, size_t align)
{
	size_t len = __atomic_load_n(write ? &r->wlen : &r->len,
				     __ATOMIC_RELAXED);
	size_t end = off + n;

	return end >= off && end <= len &&
	       !vmmem_ring_misaligned_(r, off, align);
}

/* Check before set: a page already dirty costs one load. */
static inline void vmmem_ring_mark_(uint64_t *words, uint64_t bit)
{
	uint64_t *w = &words[bit / 64];
	uint64_t mask = VMMEM_RING_LE_(1ull << (bit % 64), 8);

	if (!(__atomic_load_n(w, __ATOMIC_RELAXED) & mask))
		__atomic_fetch_or(w, mask, __ATOMIC_RELEASE);
}

/* After a store of n bytes at off (n >= 1): the compiler keeps the load of
 * ring->log after it; the processor's ordering is the business of the
 * calls that switch logging on (vmmem_dirty_start(),
 * vmmem_dirty_shared_set(): vmmem_ring_log(3)).  Pages are 4 KiB or more
 * and objects 16 bytes at most here, so two pages at most;
 * vmmem_ring_write() of more goes through vmmem_ring_log().  aligned: a
 * store the accessor checked to be naturally aligned (2, 4 or 8 bytes),
 * which stays within one page, since the library gives a record with words
 * only to a ring whose host address and GPA agree modulo 8. */
static inline void vmmem_ring_logged_(struct vmmem_ring *r, size_t off,
				      size_t n, int aligned)
{
	const struct vmmem_ring_log *l;

	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	l = __atomic_load_n(&r->log, __ATOMIC_ACQUIRE);
	if (l) {
		uint64_t *words = l->words;
		uint64_t at, a, b;

		if (!words || n > 16) {
			vmmem_ring_log(r, off, n);
			return;
		}
		at = l->origin + off;
		a = at >> l->shift;
		b = (at + (n - 1)) >> l->shift;
		vmmem_ring_mark_(words, a);
		if (!aligned && b != a)
			vmmem_ring_mark_(words, b);
	}
}

#define VMMEM_RING_LOAD_(bits)                                               \
static inline int vmmem_ring_load##bits(const struct vmmem_ring *r,         \
					size_t off, uint##bits##_t *val,    \
					int order)                          \
{                                                                            \
	const uint##bits##_t *p;                                             \
	uint##bits##_t v;                                                    \
									     \
	if (!vmmem_ring_fits_(r, off, bits / 8, 0, bits / 8))               \
		return vmmem_ring_fault_(r, off, bits / 8);                  \
	p = (const uint##bits##_t *)(const void *)(r->host + off);           \
	switch (order) {                                                     \
	case VMMEM_ORDER_RELAXED:                                            \
		v = __atomic_load_n(p, __ATOMIC_RELAXED);                    \
		break;                                                       \
	case VMMEM_ORDER_CONSUME:                                            \
	case VMMEM_ORDER_ACQUIRE:                                            \
		v = __atomic_load_n(p, __ATOMIC_ACQUIRE);                    \
		break;                                                       \
	case VMMEM_ORDER_SEQ_CST:                                            \
		v = __atomic_load_n(p, __ATOMIC_SEQ_CST);                    \
		break;                                                       \
	default:                                                             \
		return -EINVAL;                                              \
	}                                                                    \
	*val = VMMEM_RING_LE_(v, bits / 8);                                  \
	return 0;                                                            \
}

#define VMMEM_RING_STORE_(bits)                                              \
static inline int vmmem_ring_store##bits(struct vmmem_ring *r, size_t off,  \
					 uint##bits##_t val, int order)     \
{                                                                            \
	uint##bits##_t *p;                                                   \
	uint##bits##_t v = VMMEM_RING_LE_(val, bits / 8);                    \
									     \
	if (!vmmem_ring_fits_(r, off, bits / 8, 1, bits / 8))               \
		return vmmem_ring_fault_(r, off, bits / 8);                  \
	p = (uint##bits##_t *)(void *)(r->host + off);                       \
	switch (order) {                                                     \
	case VMMEM_ORDER_RELAXED:                                            \
		__atomic_store_n(p, v, __ATOMIC_RELAXED);                    \
		break;                                                       \
	case VMMEM_ORDER_RELEASE:                                            \
		__atomic_store_n(p, v, __ATOMIC_RELEASE);                    \
		break;                                                       \
	case VMMEM_ORDER_SEQ_CST:                                            \
		__atomic_store_n(p, v, __ATOMIC_SEQ_CST);                    \
		break;                                                       \
	default:                                                             \
		return -EINVAL;                                              \
	}                                                                    \
	vmmem_ring_logged_(r, off, bits / 8, 1);                             \
	return 0;                                                            \
}

VMMEM_RING_LOAD_(16)
VMMEM_RING_LOAD_(32)
VMMEM_RING_LOAD_(64)
VMMEM_RING_STORE_(16)
VMMEM_RING_STORE_(32)
VMMEM_RING_STORE_(64)

/* Small objects (a descriptor, a used element): bytes as the guest laid
 * them out, no ordering beyond what the caller's loads and stores give. */
static inline int vmmem_ring_read(const struct vmmem_ring *r, size_t off,
				  void *buf, size_t n)
{
	if (!vmmem_ring_fits_(r, off, n, 0, 1))
		return vmmem_ring_fault_(r, off, 1);
	memcpy(buf, r->host + off, n);
	return 0;
}

static inline int vmmem_ring_write(struct vmmem_ring *r, size_t off,
				   const void *buf, size_t n)
{
	if (!vmmem_ring_fits_(r, off, n, 1, 1))
		return vmmem_ring_fault_(r, off, 1);
	memcpy(r->host + off, buf, n);
	if (n)
		vmmem_ring_logged_(r, off, n, 0);
	return 0;
}

#endif /* __GNUC__ */

#ifdef __cplusplus
}
#endif

#endif /* LIBVMMEM_H */
