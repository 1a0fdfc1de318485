/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Dirty page bitmaps, one per placed region while logging is on. */
#ifndef VMMEM_DIRTY_H
#define VMMEM_DIRTY_H

#include "space/table.h"

struct dirty_log {
	uint64_t first_page;          /* gpa >> shift of the slot's first byte */
	uint64_t npages;
	uint64_t words[];
};

struct dirty_log *dirty_log_new(const struct slot *s, unsigned int shift);
/* Marks the pages of the backed parts of [gpa, gpa + len); holes skipped. */
void dirty_mark_backed(const struct table *t, uint64_t gpa, uint64_t len);
void dirty_log_set(struct dirty_log *log, uint64_t first, uint64_t last);

/* Sets m->ring_call as the rings need it (dirty.c); at a ring's creation. */
void dirty_rings_prepare(struct vmmem *m);

/* Set once membarrier is found unusable: writers then fence (dirty.c). */
extern bool dirty_writers_fence;

/* Check before set: a page already dirty costs one load. */
static inline void dirty_log_set_one(struct dirty_log *log, uint64_t page)
{
	uint64_t idx = page - log->first_page, bit = 1ull << (idx % 64);
	uint64_t *word = &log->words[idx / 64];

	if (unlikely(__atomic_load_n(&dirty_writers_fence, __ATOMIC_RELAXED)))
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	else
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (!(__atomic_load_n(word, __ATOMIC_RELAXED) & bit))
		__atomic_fetch_or(word, bit, __ATOMIC_RELEASE);
}

/* Called by every write path after it wrote [gpa, gpa + len) inside slot s;
 * while logging is off this is one predictable branch. */
static inline void dirty_note(const struct table *t, const struct slot *s,
			      uint64_t gpa, uint64_t len)
{
	uint64_t first, last;

	if (likely(!s->dirty) || !len)
		return;
	first = gpa >> t->dirty_shift;
	last = (gpa + (len - 1)) >> t->dirty_shift;
	if (first == last)
		dirty_log_set_one(s->dirty, first);
	else
		dirty_log_set(s->dirty, first, last);
}

/* dirty_note() for a write of 16 bytes at most: pages are 4 KiB or more,
 * so it touches two at most, and no call keeps the fast paths free of
 * register saves. */
static inline void dirty_note_small(const struct table *t,
				    const struct slot *s, uint64_t gpa,
				    uint64_t len)
{
	uint64_t first, last;

	if (likely(!s->dirty))
		return;
	first = gpa >> t->dirty_shift;
	last = (gpa + (len - 1)) >> t->dirty_shift;
	dirty_log_set_one(s->dirty, first);
	if (last != first)
		dirty_log_set_one(s->dirty, last);
}

#endif
