/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The core of every fast path: a small access wholly inside one slot that
 * has a host address for it, done inside a read-side section the caller
 * holds.  Inlined into the direct entry points (rw.c) and, behind an IOTLB
 * lookup in the same section, into the IOVA ones (lib/iommu/access.c). */
#ifndef VMMEM_FAST_H
#define VMMEM_FAST_H

#include "access/copy.h"
#include "dirty/dirty.h"
#include "space/table.h"

/* Copies n bytes between buf and guest, the host address of gpa in slot
 * s; a write is logged in the dirty log. */
static inline __attribute__((always_inline)) void
guest_transfer(const struct table *t, const struct slot *s, uint8_t *guest,
	       uint64_t gpa, uint8_t *buf, uint64_t n, bool write)
{
	if (write) {
		copy_to_guest(guest, buf, n);
		dirty_note(t, s, gpa, n);
	} else {
		copy_from_guest(buf, guest, n);
	}
}

/* The host address of gpa in slot s for len bytes to read or write; NULL
 * when s is, when the range runs past it, or when the slot has no such
 * address (mapped on demand, or read-only for a write). */
static inline __attribute__((always_inline)) uint8_t *
slot_host(const struct slot *s, uint64_t gpa, uint64_t len, bool write)
{
	uint8_t *h;

	if (unlikely(!s || len - 1 > s->last - gpa))
		return NULL;
	h = write ? s->whost : s->host;
	if (unlikely(!h))
		return NULL;
	return h + (gpa - s->gpa);
}

/* A transfer of at most 16 bytes that runs from slot s into the next one,
 * contiguous with it: a small access across the boundary of two regions.
 * False, having done nothing, if anything else is in the way. */
static inline __attribute__((always_inline)) bool
slot_transfer_straddle(const struct table *t, const struct slot *s,
		       uint64_t gpa, uint8_t *buf, size_t len, bool write)
{
	const struct slot *next = s + 1;
	uint64_t head = s->last - gpa + 1, tail = len - head;
	uint8_t *h, *nh;

	/* head >= len: the access does not leave s (len 0 included). */
	if (len > 16 || head >= len || next == t->slots + t->count ||
	    next->gpa != s->last + 1 || tail - 1 > next->last - next->gpa)
		return false;
	h = write ? s->whost : s->host;
	nh = write ? next->whost : next->host;
	if (!h || !nh)
		return false;
	h += gpa - s->gpa;
	if (write) {
		copy_short(h, buf, head);
		copy_short(nh, buf + head, tail);
		dirty_note_small(t, s, gpa, head);
		dirty_note_small(t, next, next->gpa, tail);
	} else {
		copy_short(buf, h, head);
		copy_short(buf + head, nh, tail);
	}
	return true;
}

/* A transfer of 1, 2, 4, 8 or 16 bytes inside slot s of t (NULL: none),
 * the shape of virtio ring fields and descriptors, making no call.  False,
 * having done nothing, for anything out of the ordinary. */
static inline __attribute__((always_inline)) bool
slot_transfer_small(const struct table *t, const struct slot *s, uint64_t gpa,
		    uint8_t *buf, size_t len, bool write)
{
	uint8_t *h = slot_host(s, gpa, len, write);

	if (unlikely(!h))
		return false;
	if (!write)
		return copy_small_from_guest(buf, h, len);
	if (!copy_small_to_guest(h, buf, len))
		return false;
	dirty_note_small(t, s, gpa, len);
	return true;
}

#endif
