/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* A host view of a piece of one slot, for the slow paths.
 *
 * Most slots have a host address and a view is that address plus the
 * offset.  A slot mapped on demand has none: the view pins a mapping of
 * the piece for as long as it is used, and may cover less than asked (see
 * mapcache_span()), so callers loop.  Writes to
 * a read-only region get -EACCES here rather than a fault later. */
#ifndef VMMEM_VIEW_H
#define VMMEM_VIEW_H

#include "space/table.h"

struct mc_entry;

struct view {
	uint8_t *p;
	struct mc_entry *pin;         /* NULL: the slot's own host address */
	struct vmmem_region *region;
};

/* How much of the range a view of a slot mapped on demand must cover when
 * the guest has not granted all of it. */
enum view_cover {
	/* At least the first page: a partial access gets as far as the
	 * guest granted. */
	COVER_SOME,
	/* All that mapcache_span() allows, else the map call's error: an
	 * exact transfer, which pins every piece before it moves a byte, must
	 * not spend its pieces a page at a time. */
	COVER_SPAN,
};

int64_t view_begin_pinned(const struct slot *s, uint64_t gpa, uint64_t n,
			  bool write, enum view_cover cover, struct view *v);
void view_end_pinned(struct view *v);

/* Bytes of [gpa, gpa + len) in slot s the view covers (at least one), or a
 * negative errno. */
static inline int64_t view_begin(const struct slot *s, uint64_t gpa,
				 uint64_t len, bool write,
				 enum view_cover cover, struct view *v)
{
	uint8_t *h = write ? s->whost : s->host;
	uint64_t n = slot_avail(s, gpa, len);

	if (likely(h)) {
		v->p = h + (gpa - s->gpa);
		v->pin = NULL;
		return (int64_t)n;
	}
	return view_begin_pinned(s, gpa, n, write, cover, v);
}

static inline void view_end(struct view *v)
{
	if (v->pin)
		view_end_pinned(v);
}

/* Whether [gpa, gpa + len) is backed without a hole (else -EFAULT) and, for
 * a write, writable (else -EACCES); *direct tells whether every slot of it
 * has a host address for the access. */
int range_check(const struct table *t, uint64_t gpa, uint64_t len, bool write,
		bool *direct);

/* Copies all of [gpa, gpa + len) of table t, which range_check() passed
 * for the same direction: 0, or the error of a map call on demand (before
 * anything moved, unless the range has more than 64 pieces). */
int transfer_checked(const struct table *t, uint64_t gpa, uint8_t *buf,
		     uint64_t len, bool write);

/* Fills a range of table t that range_check() passed for a write; fails
 * only where a region mapped on demand cannot be mapped. */
int fill_checked(const struct table *t, uint64_t gpa, int byte, uint64_t len);

#endif
