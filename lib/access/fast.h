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

static inline __attribute__((always_inline)) bool
slot_small_transfer(const struct table *t, uint64_t gpa, uint8_t *buf,
		    size_t len, bool write)
{
	const struct slot *s = table_lookup(t, gpa);

	if (likely(s && len - 1 <= s->last - gpa)) {
		uint8_t *h = write ? s->whost : s->host;

		if (likely(h)) {
			guest_transfer(t, s, h + (gpa - s->gpa), gpa, buf, len,
				       write);
			return true;
		}
	}
	return false;
}

#endif
