/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* What a store through a ring marks: a record (struct vmmem_ring_log)
 * naming the words of the library's dirty log that cover the ring, so the
 * inline store sets its bit with no call, no read-side section and no
 * lookup.  The record is chosen again whenever the table changes (logging
 * starting or stopping, hotplug, the shared log), under m->lock.
 *
 * A store may use the record it loaded after the ring moved on to another,
 * so the words it names must outlive that: the leaf's words are pinned.
 * Rings pin them in m->ring_leaves, one entry per (page shift, leaf); a
 * pinned leaf is never freed by vmmem_dirty_stop() (the entry keeps it),
 * and a log started or extended later takes the pinned words for that
 * leaf instead of new ones, so a ring's words for a page size never
 * change while it lives, and its records (one per page size, plus the
 * "call" one) are bounded.  A store through a stale record marks words
 * that are, or will again be, the log's; or, after a stop, nothing anyone
 * reads: either way memory the library still owns.
 *
 * Records are words NULL (call vmmem_ring_log(), which does it all) where
 * the inline path cannot: the shared log is on, writers must fence
 * (no membarrier), the ring spans two leaves, its region is no longer
 * placed where it was pinned, or its host address and GPA differ modulo 8
 * (the inline aligned stores mark one page). */
#include <stdlib.h>

#include "access/map.h"
#include "access/ring.h"
#include "dirty/dirty.h"

struct ring_leaf {
	struct ring_leaf *next;
	unsigned int shift;
	uint64_t idx;                 /* leaf number in logs of that shift */
	uint64_t *words;              /* LOG_LEAF_WORDS */
	unsigned long refs;           /* records naming it */
};

struct ring_rec {
	struct vmmem_ring_log pub;
	struct ring_leaf *leaf;
	struct ring_rec *next;
};

static struct ring_leaf *leaf_find(const struct vmmem *m, unsigned int shift,
				   uint64_t idx)
{
	struct ring_leaf *e = m->ring_leaves;

	while (e && (e->shift != shift || e->idx != idx))
		e = e->next;
	return e;
}

/* The leaf of log holding page, to change its words: in a log no writer
 * uses yet, or any more. */
static struct log_leaf *leaf_mut(struct dirty_log *log, uint64_t page)
{
	const struct log_leaf *l = log_leaf_of(log, NULL, page);

	return l ? &log->leaf[l - log->leaf] : NULL;
}

static bool library_logging(const struct table *t)
{
	return t->log && !t->shared_only;
}

static struct ring_rec *rec_new(struct vmmem *m, struct ring *r,
				const struct log_leaf *leaf, unsigned int shift)
{
	struct ring_leaf *e = leaf_find(m, shift, leaf->idx);
	struct ring_rec *rec = malloc(sizeof(*rec));

	if (!rec)
		return NULL;
	if (!e) {
		e = malloc(sizeof(*e));
		if (!e) {
			free(rec);
			return NULL;
		}
		*e = (struct ring_leaf){ .next = m->ring_leaves, .shift = shift,
					 .idx = leaf->idx, .words = leaf->words };
		m->ring_leaves = e;
	} else if (e->words != leaf->words) {
		free(rec);              /* not adopted: cannot happen */
		return NULL;
	}
	e->refs++;
	*rec = (struct ring_rec){ .leaf = e, .next = r->recs,
		.pub = { .words = e->words, .shift = shift,
			 /* the leaf covers the ring: no wrap */
			 .origin = r->gpa - (leaf->idx << (LOG_LEAF_SHIFT + shift)) } };
	r->recs = rec;
	return rec;
}

static const struct vmmem_ring_log *record_for(struct vmmem *m, struct ring *r,
					       const struct table *t)
{
	const struct slot *s;
	const struct log_leaf *leaf;
	uint64_t page, last;
	unsigned int shift;

	if (!library_logging(t) && !t->shared)
		return NULL;
	if (t->shared || __atomic_load_n(&dirty_writers_fence, __ATOMIC_ACQUIRE))
		return &r->call;
	/* Not placed: the call checks each write (nothing to log, mostly).
	 * Host and GPA apart modulo 8 (a region placed at such a GPA): an
	 * aligned store could cross a page of the log, and the inline path
	 * marks one page for those. */
	if (!map_placed(t, r->pin, &s) || !s->dirty ||
	    ((r->gpa ^ (uintptr_t)r->pub.host) & 7))
		return &r->call;
	shift = t->log->shift;
	page = r->gpa >> shift;
	last = (r->gpa + (r->pinned - 1)) >> shift;
	leaf = log_leaf_of(t->log, s->dirty, page);
	if (!leaf || (page >> LOG_LEAF_SHIFT) != (last >> LOG_LEAF_SHIFT))
		return &r->call;
	for (struct ring_rec *rec = r->recs; rec; rec = rec->next)
		if (rec->pub.shift == shift && rec->pub.words == leaf->words)
			return &rec->pub;
	{
		struct ring_rec *rec = rec_new(m, r, leaf, shift);

		return rec ? &rec->pub : &r->call;
	}
}

static void retarget(struct vmmem *m, struct ring *r, const struct table *t)
{
	const struct vmmem_ring_log *rec = record_for(m, r, t);

	if (rec != r->pub.log)
		__atomic_store_n(&r->pub.log, rec, __ATOMIC_RELEASE);
}

void rings_join(struct vmmem *m, struct ring *r)
{
	r->mnext = m->rings;
	m->rings = r;
	retarget(m, r, m->table);
}

void rings_retarget(struct vmmem *m, const struct table *t)
{
	for (struct ring *r = m->rings; r; r = r->mnext)
		retarget(m, r, t);
}

/* Every writer stores to the words zero (a log restarted starts clean);
 * a store through a stale record may race with this, atomically too. */
static void words_clear(uint64_t *words)
{
	for (size_t i = 0; i < LOG_LEAF_WORDS; i++)
		__atomic_store_n(&words[i], 0, __ATOMIC_RELAXED);
}

void rings_adopt_leaves(struct vmmem *m, const struct table *old,
			struct table *t)
{
	if (!t->log)
		return;
	for (struct ring_leaf *e = m->ring_leaves; e; e = e->next) {
		uint64_t page = e->idx << LOG_LEAF_SHIFT;
		struct log_leaf *l;
		const struct log_leaf *was;

		if (e->shift != t->log->shift ||
		    !(l = leaf_mut(t->log, page)) || l->words == e->words)
			continue;
		/* Words that old's log shares are not t's own to free. */
		was = old->log ? log_leaf_of(old->log, NULL, page) : NULL;
		if (was && was->words == l->words)
			continue;
		free(l->words);
		words_clear(e->words);
		l->words = e->words;
	}
}

static bool in_log(const struct dirty_log *log, const struct ring_leaf *e)
{
	const struct log_leaf *l;

	if (!log || log->shift != e->shift)
		return false;
	l = log_leaf_of(log, NULL, e->idx << LOG_LEAF_SHIFT);
	return l && l->words == e->words;
}

void rings_leave(struct vmmem *m, struct ring *r)
{
	for (struct ring **pp = &m->rings; *pp; pp = &(*pp)->mnext)
		if (*pp == r) {
			*pp = r->mnext;
			break;
		}
	while (r->recs) {
		struct ring_rec *rec = r->recs;
		struct ring_leaf *e = rec->leaf;

		r->recs = rec->next;
		free(rec);
		if (--e->refs)
			continue;
		for (struct ring_leaf **pp = &m->ring_leaves; *pp;
		     pp = &(*pp)->next)
			if (*pp == e) {
				*pp = e->next;
				break;
			}
		/* In the current log, or the one a stop is retiring, its
		 * leaf frees it; else no one will. */
		if (!in_log(m->table->log, e) && !in_log(m->stopping_log, e))
			free(e->words);
		free(e);
	}
}

void rings_detach_leaves(struct vmmem *m, struct dirty_log *log)
{
	for (struct ring_leaf *e = m->ring_leaves; e; e = e->next)
		if (in_log(log, e))
			leaf_mut(log, e->idx << LOG_LEAF_SHIFT)->words = NULL;
}

void rings_release(struct vmmem *m)
{
	rings_detach_leaves(m, m->table->log);
	while (m->ring_leaves) {
		struct ring_leaf *e = m->ring_leaves;

		m->ring_leaves = e->next;
		free(e->words);
		free(e);
	}
}
