/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Dirty logging as the write paths and the region table see it.
 *
 * A table carries the logs its writers mark (dirty/log.h): the library's
 * own, copied with every table so that it covers every slot, and the
 * vhost-user front-end's shared log.  Each slot points at its first leaf
 * of the library's log, so marking a page finds its word without a
 * search. */
#ifndef VMMEM_DIRTY_H
#define VMMEM_DIRTY_H

#include "dirty/log.h"
#include "space/table.h"

/* Gives t, whose slots and shared log are set, the library's log: a copy
 * of base covering t's slots, or, base NULL, a new empty one of pages of
 * 1 << shift, or, shift 0 too, none; and points the slots at it.  -ENOMEM
 * leaves nothing allocated. */
int dirty_attach(struct table *t, const struct dirty_log *base,
		 unsigned int shift);

/* A table replacing old (hotplug, a memory-table change) logs as old does:
 * the front-end's log, and a copy of the library's covering t's slots that
 * keeps the bits it holds for their addresses (writes before an earlier
 * removal, writes still in flight in a removed slot).  -ENOMEM leaves
 * nothing allocated. */
static inline int dirty_follow(struct table *t, const struct table *old)
{
	table_inherit(t, old);
	return dirty_attach(t, old->log, 0);
}

/* A switch of the logs writers mark, made by dirty_switch(); embedded
 * first in a struct of the switch's own. */
struct dirty_change {
	/* Under m->lock: refuses (a negative errno, nothing changed) or
	 * publishes a new table with dirty_republish(). */
	int (*apply)(struct vmmem *m, struct dirty_change *c);
	/* Under m->lock, once no writer can still use c->old: releases it
	 * and what only it used. */
	void (*retire)(struct vmmem *m, struct dirty_change *c);
	struct table *old;            /* set by dirty_republish() */
};

/* Every switch of the logs (start, stop, shared log set or stopped):
 * c->apply() under m->lock, then, m->lock dropped, the grace period, the
 * barrier the rings' stores rely on (vmmem_ring_log(3)), and c->retire().
 * -EDEADLK, having done nothing, where the caller cannot wait
 * (space_cannot_wait()). */
int dirty_switch(struct vmmem *m, struct dirty_change *c);

/* In c->apply(): publishes a copy of m's table whose writers mark shared
 * (only: without the library's log) and the library's log dirty_attach()
 * gives from base and shift; the table replaced goes to c->old.  -ENOMEM
 * leaves everything as it was. */
int dirty_republish(struct vmmem *m, struct dirty_log *shared, bool only,
		    const struct dirty_log *base, unsigned int shift,
		    struct dirty_change *c);

/* Marks the pages of the backed parts of [gpa, gpa + len); holes skipped. */
void dirty_mark_backed(const struct table *t, uint64_t gpa, uint64_t len);

/* dirty_note() for a write through memory found in slot (r, placed_at)
 * before t was current (an fd transfer, a vmmem_map() mapping), made when
 * its region may have gone: logged only if r is still placed there, else
 * the GPA no longer shows the memory written. */
void dirty_note_placed(const struct table *t, const struct vmmem_region *r,
		       uint64_t placed_at, uint64_t gpa, uint64_t len);

/* vmmem_free(): the shared log's directory and the library's mapping. */
void dirty_shared_release(struct vmmem *m);

/* The shared log's part of a write, out of line. */
void dirty_note_shared(const struct table *t, uint64_t gpa, uint64_t len);

/* The leaf of page in slot s's part of the library's log. */
static inline const struct log_leaf *slot_leaf(const struct slot *s,
					       uint64_t page)
{
	return s->dirty + ((page >> LOG_LEAF_SHIFT) - s->dirty->idx);
}

/* Called by every write path after it wrote [gpa, gpa + len) inside slot s;
 * while logging is off this is one predictable branch. */
static inline void dirty_note(const struct table *t, const struct slot *s,
			      uint64_t gpa, uint64_t len)
{
	if (likely(!t->marking) || !len)
		return;
	if (s->dirty) {
		uint64_t first = gpa >> t->log_shift;
		uint64_t last = (gpa + (len - 1)) >> t->log_shift;

		if (first == last)
			log_set_page(slot_leaf(s, first), first, false);
		else
			log_set(t->log, s->dirty, first, last);
	}
	if (unlikely(t->shared))
		dirty_note_shared(t, gpa, len);
}

/* dirty_note() for a write of 16 bytes at most: pages are 4 KiB or more,
 * so it touches two at most, and no call keeps the fast paths free of
 * register saves while only the library's log is on. */
static inline void dirty_note_small(const struct table *t,
				    const struct slot *s, uint64_t gpa,
				    uint64_t len)
{
	if (likely(!t->marking))
		return;
	if (s->dirty) {
		uint64_t first = gpa >> t->log_shift;
		uint64_t last = (gpa + (len - 1)) >> t->log_shift;

		log_set_page(slot_leaf(s, first), first, false);
		if (last != first)
			log_set_page(slot_leaf(s, last), last, false);
	}
	if (unlikely(t->shared))
		dirty_note_shared(t, gpa, len);
}

#endif
