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

/* Called by every write path after it wrote [gpa, gpa + len) inside slot s;
 * while logging is off this is one predictable branch. */
static inline void dirty_note(const struct table *t, const struct slot *s,
			      uint64_t gpa, uint64_t len)
{
	if (likely(!s->dirty) || !len)
		return;
	dirty_log_set(s->dirty, gpa >> t->dirty_shift,
		      (gpa + len - 1) >> t->dirty_shift);
}

#endif
