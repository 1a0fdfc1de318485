/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Reading, writing, filling and copying guest memory by GPA. */
#include <limits.h>
#include <stdlib.h>

#include "access/copy.h"
#include "access/fast.h"
#include "access/view.h"
#include "dirty/dirty.h"
#include "space/table.h"

static int check_args(struct vmmem *m, uint64_t gpa, const void *buf,
		      size_t len)
{
	if (!m || (len && !buf) || len > SSIZE_MAX || range_wraps(gpa, len))
		return -EINVAL;
	return 0;
}

enum dir { TO_BUF, TO_GUEST, FILL_GUEST };

/* One piece of an access through host address p: a copy between the guest
 * and buf + at, or a fill with byte (buf unused). */
static void move_piece(const struct table *t, const struct slot *s,
		       uint8_t *p, uint64_t gpa, uint8_t *buf, uint64_t at,
		       uint64_t n, enum dir dir, int byte)
{
	if (dir == FILL_GUEST) {
		memset(p, byte, (size_t)n);
		dirty_note(t, s, gpa, n);
		return;
	}
	guest_transfer(t, s, p, gpa, buf + at, n, dir == TO_GUEST);
}

/* Transfers as much of [gpa, gpa + len) as is backed without a hole and
 * returns how much that was; *err tells why it stopped short, if it did
 * for another reason than a hole. */
static uint64_t transfer_backed(const struct table *t, uint64_t gpa,
				uint8_t *buf, uint64_t len, enum dir dir,
				int byte, int *err)
{
	uint64_t done = 0;

	*err = 0;
	while (done < len) {
		const struct slot *s = table_lookup(t, gpa + done);
		struct view v;
		int64_t n;

		if (!s)
			break;
		n = view_begin(s, gpa + done, len - done, dir != TO_BUF,
			       COVER_SOME, &v);
		if (n < 0) {
			*err = (int)n;
			break;
		}
		move_piece(t, s, v.p, gpa + done, buf, done, (uint64_t)n, dir,
			   byte);
		view_end(&v);
		done += (uint64_t)n;
	}
	return done;
}

/* A transfer over slots that follow one another without a hole, from
 * the slot of gpa on, each with a host address for it: a buffer inside one
 * region or straddling two.  Checked whole before a byte moves, so false
 * means nothing was done; the caller then goes piece by piece. */
static bool transfer_direct(const struct table *t, uint64_t gpa, uint8_t *buf,
			    uint64_t len, bool write)
{
	const struct slot *first = table_lookup(t, gpa);
	const struct slot *end = t->slots + t->count, *s = first;
	uint64_t at = gpa, left = len, done, n;

	if (!first)
		return false;
	for (;;) {
		if (!(write ? s->whost : s->host))
			return false;
		n = slot_avail(s, at, left);
		left -= n;
		if (!left)
			break;
		at += n;
		if (++s == end || s->gpa != at)
			return false;
	}
	for (s = first, at = gpa, done = 0; done < len; s++) {
		uint8_t *h = write ? s->whost : s->host;

		n = slot_avail(s, at, len - done);
		guest_transfer(t, s, h + (at - s->gpa), at, buf + done, n, write);
		done += n;
		at += n;
	}
	return true;
}

/* The first thing the slow paths try: a small access across the boundary
 * of two contiguous regions, as cheaply as the fast path would (it stays
 * out of the fast path, whose registers it would crowd). */
static bool transfer_straddle(struct vmmem *m, uint64_t gpa, void *buf,
			      size_t len, enum dir dir)
{
	const struct table *t;
	const struct slot *s;
	bool done;

	if (len > 16 || !m || !buf || !space_fast_enter())
		return false;
	t = __atomic_load_n(&m->table, __ATOMIC_CONSUME);
	s = table_lookup(t, gpa);
	done = s && slot_transfer_straddle(t, s, gpa, buf, len, dir == TO_GUEST);
	space_fast_exit();
	return done;
}

/* Anything the fast path did not take, in one section: first directly
 * (bulk copies, boundaries of contiguous regions), then piece by piece. */
static __attribute__((noinline)) ssize_t
transfer_slow(struct vmmem *m, uint64_t gpa, void *buf, size_t len,
	      enum dir dir)
{
	const struct table *t;
	uint64_t done;
	int ret;

	if (transfer_straddle(m, gpa, buf, len, dir))
		return (ssize_t)len;
	ret = check_args(m, gpa, buf, len);
	if (ret || !len)
		return ret;
	t = space_enter(m);
	if (transfer_direct(t, gpa, buf, len, dir == TO_GUEST))
		done = len;
	else
		done = transfer_backed(t, gpa, buf, len, dir, 0, &ret);
	space_exit();
	if (done)
		return (ssize_t)done;
	return ret ? ret : -EFAULT;
}

/* Pieces an exact transfer maps before it moves a byte: at least 63 of
 * the longest pieces a region mapped on demand gives (see
 * mapcache_span()).  A range that needs more goes piece by piece. */
#define EXACT_MAX_PIECES 64
#define EXACT_TOO_MANY   1

/* The pieces of a backed range, each pinned, then copied or filled: a map
 * call that fails leaves both sides untouched.  EXACT_TOO_MANY: nothing
 * done. */
static int transfer_pinned(const struct table *t, uint64_t gpa, uint8_t *buf,
			   uint64_t len, enum dir dir, int byte)
{
	struct view v[EXACT_MAX_PIECES];
	const struct slot *s[EXACT_MAX_PIECES];
	uint64_t n[EXACT_MAX_PIECES], done = 0;
	int count = 0, ret = 0;

	while (!ret && done < len) {
		int64_t got;

		if (count == EXACT_MAX_PIECES) {
			ret = EXACT_TOO_MANY;
			break;
		}
		s[count] = table_lookup(t, gpa + done);
		got = view_begin(s[count], gpa + done, len - done,
				 dir != TO_BUF, COVER_SPAN, &v[count]);
		if (got < 0) {
			ret = (int)got;
			break;
		}
		n[count++] = (uint64_t)got;
		done += (uint64_t)got;
	}
	done = 0;
	for (int i = 0; i < count; i++) {
		if (!ret)
			move_piece(t, s[i], v[i].p, gpa + done, buf, done,
				   n[i], dir, byte);
		view_end(&v[i]);
		done += n[i];
	}
	return ret;
}

/* The copy half of every exact transfer and fill, by GPA here and by IOVA
 * (lib/iommu/access.c), once range_check() has passed on the same table:
 * all or nothing, since a region removed concurrently cannot change that
 * table, and the pieces of regions mapped on demand are all mapped before a
 * byte moves.  Only a range of more than EXACT_MAX_PIECES pieces can stop
 * half way, where a map call fails, and that is reported. */
static int transfer_checked_dir(const struct table *t, uint64_t gpa,
				uint8_t *buf, uint64_t len, enum dir dir,
				int byte)
{
	int ret = transfer_pinned(t, gpa, buf, len, dir, byte);

	if (ret == EXACT_TOO_MANY &&
	    transfer_backed(t, gpa, buf, len, dir, byte, &ret) != len && !ret)
		ret = -EFAULT;
	return ret;
}

/* Declared in access/view.h. */
int transfer_checked(const struct table *t, uint64_t gpa, uint8_t *buf,
		     uint64_t len, bool write)
{
	return transfer_checked_dir(t, gpa, buf, len, write ? TO_GUEST : TO_BUF,
				    0);
}

int fill_checked(const struct table *t, uint64_t gpa, int byte, uint64_t len)
{
	return transfer_checked_dir(t, gpa, NULL, len, FILL_GUEST, byte);
}

/* An exact transfer or fill in one section, over a range known to be
 * inside the argument limits. */
static int transfer_all(struct vmmem *m, uint64_t gpa, uint8_t *buf,
			uint64_t len, enum dir dir, int byte)
{
	const struct table *t = space_enter(m);
	bool direct;
	int ret;

	if (dir != FILL_GUEST &&
	    transfer_direct(t, gpa, buf, len, dir == TO_GUEST))
		ret = 0;
	else if (!(ret = range_check(t, gpa, len, dir != TO_BUF, &direct)))
		ret = transfer_checked_dir(t, gpa, buf, len, dir, byte);
	space_exit();
	return ret;
}

static __attribute__((noinline)) int
transfer_exact_slow(struct vmmem *m, uint64_t gpa, void *buf, size_t len,
		    enum dir dir)
{
	int ret;

	if (transfer_straddle(m, gpa, buf, len, dir))
		return 0;
	ret = check_args(m, gpa, buf, len);
	if (ret || !len)
		return ret;
	return transfer_all(m, gpa, buf, len, dir, 0);
}

/* The fast path of every transfer, in a section, slot s (NULL: none) of t
 * looked up: an access of 1, 2, 4, 8 or 16 bytes inside one region (see
 * slot_transfer_small()).  It makes no call, so it saves no registers;
 * anything else goes to the slow path, which starts over.  Leaves the
 * section.  No wrap-around check: an access inside a slot cannot wrap. */
static inline __attribute__((always_inline)) bool
transfer_in(const struct table *t, const struct slot *s, uint64_t gpa,
	    void *buf, size_t len, enum dir dir)
{
	bool done = slot_transfer_small(t, s, gpa, buf, len, dir == TO_GUEST);

	space_fast_exit();
	return done;
}

/* What the fast paths did not take: exact (all or nothing, 0 on success)
 * or partial (the count moved). */
static inline __attribute__((always_inline)) ssize_t
transfer_rest(struct vmmem *m, uint64_t gpa, void *buf, size_t len,
	      enum dir dir, bool exact)
{
	if (exact)
		return transfer_exact_slow(m, gpa, buf, len, dir);
	return transfer_slow(m, gpa, buf, len, dir);
}

/* Bulk copies inside one region: the small ones' fast path with a call to
 * memcpy, out of line as that call needs registers saved. */
static __attribute__((noinline)) ssize_t
transfer_bulk(struct vmmem *m, uint64_t gpa, void *buf, size_t len,
	      enum dir dir, bool exact)
{
	const struct table *t;
	const struct slot *s;
	uint8_t *h;

	if (len > SSIZE_MAX || !space_fast_enter())
		goto slow;
	t = __atomic_load_n(&m->table, __ATOMIC_CONSUME);
	s = table_lookup(t, gpa);
	h = slot_host(s, gpa, len, dir == TO_GUEST);
	if (!h) {
		space_fast_exit();
		goto slow;
	}
	if (dir == TO_GUEST) {
		memcpy(h, buf, len);
		dirty_note(t, s, gpa, len);
	} else {
		memcpy(buf, h, len);
	}
	space_fast_exit();
	return exact ? 0 : (ssize_t)len;
slow:
	return transfer_rest(m, gpa, buf, len, dir, exact);
}

/* The fast path of a table with a lookup hint (table_hinted()); t last,
 * so that the tail call to it moves no other argument, and dir and exact
 * in one argument (mode: dir * 2 + exact), so that t still goes in a
 * register. */
static __attribute__((noinline)) ssize_t
transfer_hinted(struct vmmem *m, uint64_t gpa, void *buf, size_t len,
		unsigned int mode, const struct table *t)
{
	enum dir dir = (enum dir)(mode >> 1);
	bool exact = mode & 1;

	if (transfer_in(t, table_lookup_hinted(t, gpa), gpa, buf, len, dir))
		return exact ? 0 : (ssize_t)len;
	return transfer_rest(m, gpa, buf, len, dir, exact);
}

/* Every entry point: small accesses on the fast path, bulk ones on their
 * own, the rest on the slow paths. */
static inline __attribute__((always_inline)) ssize_t
transfer(struct vmmem *m, uint64_t gpa, void *buf, size_t len, enum dir dir,
	 bool exact)
{
	const struct table *t;

	if (likely(m && buf)) {
		if (unlikely(len > 16))
			return transfer_bulk(m, gpa, buf, len, dir, exact);
		if (likely(space_fast_enter())) {
			t = __atomic_load_n(&m->table, __ATOMIC_CONSUME);
			if (unlikely(table_hinted(t)))
				return transfer_hinted(m, gpa, buf, len,
						       dir * 2u + exact, t);
			if (transfer_in(t, table_search(t, gpa), gpa, buf, len,
					dir))
				return exact ? 0 : (ssize_t)len;
		}
	}
	return transfer_rest(m, gpa, buf, len, dir, exact);
}

VMMEM_EXPORT ssize_t vmmem_read(struct vmmem *m, uint64_t gpa, void *buf,
				size_t len)
{
	return transfer(m, gpa, buf, len, TO_BUF, false);
}

VMMEM_EXPORT ssize_t vmmem_write(struct vmmem *m, uint64_t gpa,
				 const void *buf, size_t len)
{
	return transfer(m, gpa, (void *)buf, len, TO_GUEST, false);
}

VMMEM_EXPORT int vmmem_read_exact(struct vmmem *m, uint64_t gpa, void *buf,
				  size_t len)
{
	return (int)transfer(m, gpa, buf, len, TO_BUF, true);
}

VMMEM_EXPORT int vmmem_write_exact(struct vmmem *m, uint64_t gpa,
				   const void *buf, size_t len)
{
	return (int)transfer(m, gpa, (void *)buf, len, TO_GUEST, true);
}

/* Declared in access/view.h: the fill of a range range_check() passed,
 * shared with vmmem_iommu_fill(). */
VMMEM_EXPORT int vmmem_fill(struct vmmem *m, uint64_t gpa, int byte,
			    uint64_t len)
{
	if (!m || range_wraps(gpa, len))
		return -EINVAL;
	if (!len)
		return 0;
	return transfer_all(m, gpa, NULL, len, FILL_GUEST, byte);
}

/* One step of a guest-to-guest copy: the longest piece that stays inside
 * one source and one destination region. */
static uint64_t copy_piece(const struct table *t, uint64_t dst, uint64_t src,
			   uint64_t len)
{
	const struct slot *sd = table_lookup(t, dst);
	const struct slot *ss = table_lookup(t, src);
	uint64_t n = slot_avail(ss, src, slot_avail(sd, dst, len));

	memmove(sd->whost + (dst - sd->gpa), ss->host + (src - ss->gpa), n);
	dirty_note(t, sd, dst, n);
	return n;
}

/* Regions mapped on demand have no address to memmove between: the copy
 * goes through a buffer, a chunk at a time, from the end that keeps an
 * overlapping source intact. */
static int copy_bounced(const struct table *t, uint64_t dst, uint64_t src,
			uint64_t len)
{
	uint8_t buf[4096];
	bool backwards = dst > src && dst - src < len;
	int ret = 0;

	for (uint64_t done = 0; !ret && done < len;) {
		uint64_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);
		uint64_t at = backwards ? len - done - n : done;

		if (transfer_backed(t, src + at, buf, n, TO_BUF, 0, &ret) == n)
			transfer_backed(t, dst + at, buf, n, TO_GUEST, 0,
					&ret);
		done += n;
	}
	return ret;
}

/* memmove semantics for overlapping GPA ranges: copy backwards when the
 * destination starts inside the source.  Pieces are found from the low end
 * forwards and from the high end backwards respectively. */
VMMEM_EXPORT int vmmem_copy(struct vmmem *m, uint64_t dst, uint64_t src,
			    uint64_t len)
{
	const struct table *t;
	bool src_direct, dst_direct;
	int ret;

	if (!m || range_wraps(dst, len) || range_wraps(src, len))
		return -EINVAL;
	if (!len)
		return 0;
	t = space_enter(m);
	ret = range_check(t, src, len, false, &src_direct);
	if (!ret)
		ret = range_check(t, dst, len, true, &dst_direct);
	if (ret) {
		/* refused before anything moved */
	} else if (!src_direct || !dst_direct) {
		ret = copy_bounced(t, dst, src, len);
	} else if (dst < src || dst - src >= len) {
		for (uint64_t done = 0; done < len;)
			done += copy_piece(t, dst + done, src + done, len - done);
	} else {
		uint64_t left = len;

		while (left) {
			/* The last piece ends at left: find where it starts. */
			uint64_t end_s = src + left - 1, end_d = dst + left - 1;
			const struct slot *ss = table_lookup(t, end_s);
			const struct slot *sd = table_lookup(t, end_d);
			uint64_t n = left;

			if (end_s - ss->gpa + 1 < n)
				n = end_s - ss->gpa + 1;
			if (end_d - sd->gpa + 1 < n)
				n = end_d - sd->gpa + 1;
			memmove(sd->whost + (end_d + 1 - n - sd->gpa),
				ss->host + (end_s + 1 - n - ss->gpa), n);
			dirty_note(t, sd, end_d + 1 - n, n);
			left -= n;
		}
	}
	space_exit();
	return ret;
}
