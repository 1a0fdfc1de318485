/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Guest memory accesses by IOVA, with permission checks.
 *
 * Each access translates its IOVA range into pieces of backing address
 * space, one per IOTLB entry it crosses, and hands each piece to the
 * matching direct-access function: those already cross region boundaries,
 * never tear aligned accesses and mark written pages dirty in the address
 * space's log.  The miss handler runs outside every read-side section, so it
 * may itself call vmmem_iommu_update(). */
#include <limits.h>

#include "access/fast.h"
#include "access/view.h"
#include "iommu/iotlb.h"

#define PIECES 16
#define PERMS (VMMEM_PERM_READ | VMMEM_PERM_WRITE)

/* Called after the read-side section: the miss handler may update. */
int iommu_stopped(struct vmmem_iommu *iommu, const struct iotlb_walk *w)
{
	if (w->stop == IOTLB_DENIED)
		return -EACCES;
	if (iommu->miss)
		iommu->miss(w->iova, w->left, w->perm, iommu->miss_opaque);
	return -EAGAIN;
}

static int check_args(struct vmmem_iommu *iommu, uint64_t iova,
		      const void *buf, size_t len)
{
	if (!iommu || (len && !buf) || len > SSIZE_MAX || range_wraps(iova, len))
		return -EINVAL;
	return 0;
}

/* A small access inside one IOTLB entry and one region, translated and
 * copied inside one IOTLB section and one region-table section; anything
 * else, a miss or a refusal included, and a thread's first access by IOVA,
 * take the general path, which reports it. */
static inline __attribute__((always_inline)) bool
iova_fast(struct vmmem_iommu *iommu, uint64_t iova, void *buf, size_t len,
	  bool write)
{
	unsigned int need = write ? VMMEM_PERM_WRITE : VMMEM_PERM_READ;
	const struct iotlb_entry *e;
	bool done = false;

	/* No wrap-around checks: an access inside an IOTLB entry and a slot
	 * cannot wrap, and slot_transfer_small() refuses other lengths. */
	if (unlikely(!iommu || !buf))
		return false;
	if (unlikely(!space_fast_enter()))
		return false;
	if (unlikely(!reader_try_enter(iommu, iova, iova + (len - 1)))) {
		space_fast_exit();
		return false;
	}
	e = iotlb_lookup(iotlb_load(iommu), iova);
	if (likely(e && (e->perm & need) == need && len - 1 <= e->last - iova)) {
		const struct table *t =
			__atomic_load_n(&iommu->mem->table, __ATOMIC_CONSUME);
		uint64_t gpa = e->gpa + (iova - e->iova);

		done = slot_transfer_small(t, table_lookup(t, gpa), gpa, buf,
					   len, write);
	}
	reader_try_exit();
	space_fast_exit();
	return done;
}

static ssize_t piece_rw(struct vmmem *mem, const struct iova_piece *p,
			uint8_t *buf, bool write)
{
	return write ? vmmem_write(mem, p->gpa, buf, p->len)
		     : vmmem_read(mem, p->gpa, buf, p->len);
}

/* Partial: as much as is translated, permitted and backed from iova on. */
static ssize_t transfer(struct vmmem_iommu *iommu, uint64_t iova, uint8_t *buf,
			size_t len, bool write)
{
	struct iotlb_walk w = { .iova = iova, .left = len,
				.perm = write ? VMMEM_PERM_WRITE : VMMEM_PERM_READ };
	struct iova_piece p[PIECES];
	const struct iotlb *t;
	uint64_t done = 0;
	ssize_t err = 0;
	int ret = check_args(iommu, iova, buf, len);

	if (ret || !len)
		return ret;
	t = iotlb_enter(iommu, iova, iova + (len - 1));
	while (!err && w.left && w.stop == IOTLB_DONE) {
		size_t n = iotlb_translate(t, &w, p, PIECES);

		for (size_t i = 0; i < n && !err; i++) {
			ssize_t r = piece_rw(iommu->mem, &p[i], buf + done, write);

			if (r < 0)
				err = r;
			else
				done += (uint64_t)r;
			if (r >= 0 && (uint64_t)r < p[i].len)
				err = -EFAULT;          /* a hole in the backing */
		}
	}
	iotlb_exit();
	if (!err && w.stop != IOTLB_DONE)
		err = iommu_stopped(iommu, &w);
	return done ? (ssize_t)done : err;
}

enum exact_op { EXACT_READ, EXACT_WRITE, EXACT_FILL };

/* One piece of an exact access, against region table rt: checked (backed
 * and, for a write, writable) when check is set, else moved. */
static int exact_piece(const struct table *rt, const struct iova_piece *p,
		       enum exact_op op, uint8_t *buf, int byte, bool check)
{
	bool direct;

	if (check)
		return range_check(rt, p->gpa, p->len, op != EXACT_READ, &direct);
	if (op == EXACT_FILL)
		return fill_checked(rt, p->gpa, byte, p->len);
	return transfer_checked(rt, p->gpa, buf, p->len, op == EXACT_WRITE);
}

/* All or nothing: every byte translated with the permission and backed, or
 * nothing moved.  The check of every piece and the copy of every piece use
 * one IOTLB and one region table, held in one read-side section, so
 * neither an invalidation nor a hotplug can fail a checked copy half way
 * (a region mapped on demand that cannot be mapped still can, and is
 * reported, as on the direct path). */
static int apply_exact(struct vmmem_iommu *iommu, uint64_t iova, uint64_t len,
		       enum exact_op op, uint8_t *buf, int byte)
{
	unsigned int perm = op == EXACT_READ ? VMMEM_PERM_READ : VMMEM_PERM_WRITE;
	struct iotlb_walk w;
	struct iova_piece p[PIECES];
	const struct iotlb *t = iotlb_enter(iommu, iova, iova + (len - 1));
	const struct table *rt = space_enter(iommu->mem);   /* nested inside */
	int ret = 0;

	for (int check = 1; check >= 0 && !ret; check--) {
		uint64_t done = 0;

		w = (struct iotlb_walk){ .iova = iova, .left = len, .perm = perm };
		while (!ret && w.left && w.stop == IOTLB_DONE) {
			size_t n = iotlb_translate(t, &w, p, PIECES);

			for (size_t i = 0; i < n && !ret; i++) {
				ret = exact_piece(rt, &p[i], op,
						  buf ? buf + done : NULL,
						  byte, check);
				done += p[i].len;
			}
		}
		/* A stop keeps the walk: the miss handler is told where. */
		if (w.stop != IOTLB_DONE)
			break;
	}
	space_exit();
	iotlb_exit();
	if (!ret && w.stop != IOTLB_DONE)
		ret = iommu_stopped(iommu, &w);
	return ret;
}

VMMEM_EXPORT ssize_t vmmem_iommu_read(struct vmmem_iommu *iommu, uint64_t iova,
				      void *buf, size_t len)
{
	if (iova_fast(iommu, iova, buf, len, false))
		return (ssize_t)len;
	return transfer(iommu, iova, buf, len, false);
}

VMMEM_EXPORT ssize_t vmmem_iommu_write(struct vmmem_iommu *iommu,
				       uint64_t iova, const void *buf,
				       size_t len)
{
	if (iova_fast(iommu, iova, (void *)buf, len, true))
		return (ssize_t)len;
	return transfer(iommu, iova, (void *)buf, len, true);
}

VMMEM_EXPORT int vmmem_iommu_read_exact(struct vmmem_iommu *iommu,
					uint64_t iova, void *buf, size_t len)
{
	int ret;

	if (iova_fast(iommu, iova, buf, len, false))
		return 0;
	ret = check_args(iommu, iova, buf, len);
	return ret || !len ? ret : apply_exact(iommu, iova, len, EXACT_READ, buf, 0);
}

VMMEM_EXPORT int vmmem_iommu_write_exact(struct vmmem_iommu *iommu,
					 uint64_t iova, const void *buf,
					 size_t len)
{
	int ret;

	if (iova_fast(iommu, iova, (void *)buf, len, true))
		return 0;
	ret = check_args(iommu, iova, buf, len);
	return ret || !len ? ret : apply_exact(iommu, iova, len, EXACT_WRITE,
					       (void *)buf, 0);
}

VMMEM_EXPORT int vmmem_iommu_fill(struct vmmem_iommu *iommu, uint64_t iova,
				  int byte, uint64_t len)
{
	if (!iommu || range_wraps(iova, len))
		return -EINVAL;
	return len ? apply_exact(iommu, iova, len, EXACT_FILL, NULL, byte) : 0;
}

/* The backing piece of an access that starts in one IOTLB entry; the
 * caller holds the read-side section and reports a stop after leaving it. */
static bool translate_one(const struct iotlb *t, struct iotlb_walk *w,
			  struct iova_piece *p)
{
	return iotlb_translate(t, w, p, 1) == 1;
}

static bool load_order_valid(int order)
{
	return order == VMMEM_ORDER_RELAXED || order == VMMEM_ORDER_CONSUME ||
	       order == VMMEM_ORDER_ACQUIRE || order == VMMEM_ORDER_SEQ_CST;
}

static bool store_order_valid(int order)
{
	return order == VMMEM_ORDER_RELAXED || order == VMMEM_ORDER_RELEASE ||
	       order == VMMEM_ORDER_SEQ_CST;
}

static bool atomic_size_valid(size_t size, uint64_t iova)
{
	return (size == 1 || size == 2 || size == 4 || size == 8) &&
	       !(iova & (size - 1));
}

/* One IOTLB entry must cover an atomic access: it is one access to one
 * guest address.  *val is read (store) or written (load). */
static int iova_atomic(struct vmmem_iommu *iommu, uint64_t iova, size_t size,
		       uint64_t *val, int order, bool store)
{
	struct iotlb_walk w = { .iova = iova, .left = size,
		.perm = store ? VMMEM_PERM_WRITE : VMMEM_PERM_READ };
	struct iova_piece p;
	int ret;

	if (!translate_one(iotlb_enter(iommu, iova, iova + (size - 1)), &w, &p))
		ret = 1;
	else if (p.len < size)
		ret = -ERANGE;
	else if (store)
		ret = vmmem_store(iommu->mem, p.gpa, size, *val, order);
	else
		ret = vmmem_load(iommu->mem, p.gpa, size, val, order);
	iotlb_exit();
	return ret == 1 ? iommu_stopped(iommu, &w) : ret;
}

VMMEM_EXPORT int vmmem_iommu_load(struct vmmem_iommu *iommu, uint64_t iova,
				  size_t size, uint64_t *val, int order)
{
	if (!iommu || !val || !atomic_size_valid(size, iova) ||
	    !load_order_valid(order))
		return -EINVAL;
	return iova_atomic(iommu, iova, size, val, order, false);
}

VMMEM_EXPORT int vmmem_iommu_store(struct vmmem_iommu *iommu, uint64_t iova,
				   size_t size, uint64_t val, int order)
{
	if (!iommu || !atomic_size_valid(size, iova) || !store_order_valid(order))
		return -EINVAL;
	return iova_atomic(iommu, iova, size, &val, order, true);
}

VMMEM_EXPORT int vmmem_iommu_iovec(struct vmmem_iommu *iommu, uint64_t iova,
				   uint64_t len, unsigned int perm,
				   struct iovec *iov, size_t iovcnt)
{
	struct iotlb_walk w = { .iova = iova, .left = len, .perm = perm };
	struct iova_piece p[PIECES];
	const struct iotlb *t;
	size_t needed = 0;
	int ret = 0;

	if (!iommu || (!iov && iovcnt) || !perm || (perm & ~PERMS) ||
	    range_wraps(iova, len))
		return -EINVAL;
	t = iotlb_enter(iommu, iova, len ? iova + (len - 1) : iova);
	while (!ret && w.left && w.stop == IOTLB_DONE) {
		size_t n = iotlb_translate(t, &w, p, PIECES);

		for (size_t i = 0; i < n && !ret; i++) {
			int r = vmmem_iovec(iommu->mem, p[i].gpa, p[i].len,
					    needed < iovcnt ? iov + needed : NULL,
					    needed < iovcnt ? iovcnt - needed : 0);

			if (r < 0)
				ret = r;
			else if (needed + (size_t)r > INT32_MAX)
				ret = -E2BIG;
			else
				needed += (size_t)r;
		}
	}
	iotlb_exit();
	if (!ret && w.stop != IOTLB_DONE)
		ret = iommu_stopped(iommu, &w);
	return ret ? ret : (int)needed;
}

/* The mapping is pinned by the backing address space, so it outlives an
 * IOTLB invalidation as it outlives a region removal. */
VMMEM_EXPORT int vmmem_iommu_map(struct vmmem_iommu *iommu, uint64_t iova,
				 uint64_t *len, unsigned int flags, void **host)
{
	struct iotlb_walk w;
	struct iova_piece p;
	uint64_t l;
	int ret;

	if (!iommu || !len || !host || !*len || !flags ||
	    (flags & ~(VMMEM_MAP_READ | VMMEM_MAP_WRITE)) ||
	    range_wraps(iova, *len))
		return -EINVAL;
	w = (struct iotlb_walk){ .iova = iova, .left = *len,
		.perm = ((flags & VMMEM_MAP_READ) ? VMMEM_PERM_READ : 0) |
			((flags & VMMEM_MAP_WRITE) ? VMMEM_PERM_WRITE : 0) };
	if (!translate_one(iotlb_enter(iommu, iova, iova + (*len - 1)), &w, &p)) {
		ret = 1;
	} else {
		l = p.len;
		ret = vmmem_map(iommu->mem, p.gpa, &l, flags, host);
	}
	iotlb_exit();
	if (ret == 1)
		return iommu_stopped(iommu, &w);
	if (!ret)
		*len = l;
	return ret;
}

VMMEM_EXPORT int vmmem_iommu_unmap(struct vmmem_iommu *iommu, void *host,
				   uint64_t written)
{
	if (!iommu)
		return -EINVAL;
	return vmmem_unmap(iommu->mem, host, written);
}

enum fd_op { FD_READ, FD_PREAD, FD_WRITE, FD_PWRITE };

/* One IOTLB entry per call: a range crossing entries transfers up to the
 * end of the first, a short count the caller handles as with readv(2).
 * The syscall may block: it runs outside the liburcu-bp read-side section
 * (which would hold up every grace period; the backing regions are
 * referenced for its duration instead), but inside this IOTLB's section
 * for the IOVAs asked for, so an invalidation of any of them waits for it,
 * and only such a one. */
static ssize_t iommu_fdio(struct vmmem_iommu *iommu, enum fd_op op,
			  uint64_t iova, int fd, size_t len, int64_t offset)
{
	bool to_guest = op == FD_READ || op == FD_PREAD;
	struct iotlb_walk w;
	struct iova_piece p;
	ssize_t ret;

	if (!iommu || len > SSIZE_MAX || range_wraps(iova, len) ||
	    ((op == FD_PREAD || op == FD_PWRITE) && offset < 0))
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	if (!len)
		return 0;
	w = (struct iotlb_walk){ .iova = iova, .left = len,
		.perm = to_guest ? VMMEM_PERM_WRITE : VMMEM_PERM_READ };
	if (!translate_one(iotlb_enter(iommu, iova, iova + (len - 1)), &w, &p)) {
		iotlb_exit();
		return iommu_stopped(iommu, &w);
	}
	iotlb_drop_table();
	switch (op) {
	case FD_READ:
		ret = vmmem_read_fd(iommu->mem, p.gpa, fd, p.len);
		break;
	case FD_PREAD:
		ret = vmmem_pread_fd(iommu->mem, p.gpa, fd, p.len, offset);
		break;
	case FD_WRITE:
		ret = vmmem_write_fd(iommu->mem, p.gpa, fd, p.len);
		break;
	default:
		ret = vmmem_pwrite_fd(iommu->mem, p.gpa, fd, p.len, offset);
		break;
	}
	reader_exit();
	return ret;
}

VMMEM_EXPORT ssize_t vmmem_iommu_read_fd(struct vmmem_iommu *iommu,
					 uint64_t iova, int fd, size_t len)
{
	return iommu_fdio(iommu, FD_READ, iova, fd, len, 0);
}

VMMEM_EXPORT ssize_t vmmem_iommu_pread_fd(struct vmmem_iommu *iommu,
					  uint64_t iova, int fd, size_t len,
					  int64_t offset)
{
	return iommu_fdio(iommu, FD_PREAD, iova, fd, len, offset);
}

VMMEM_EXPORT ssize_t vmmem_iommu_write_fd(struct vmmem_iommu *iommu,
					  uint64_t iova, int fd, size_t len)
{
	return iommu_fdio(iommu, FD_WRITE, iova, fd, len, 0);
}

VMMEM_EXPORT ssize_t vmmem_iommu_pwrite_fd(struct vmmem_iommu *iommu,
					   uint64_t iova, int fd, size_t len,
					   int64_t offset)
{
	return iommu_fdio(iommu, FD_PWRITE, iova, fd, len, offset);
}
