/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Dirty page logging for live migration.
 *
 * Writers set bits check-before-set (an unconditional atomic OR costs twice
 * as much on a page already dirty).  A writer's check may then pass its own
 * data store, so a harvest that cleared the bit in that window could read
 * the old data; the harvest therefore ends with membarrier(), which makes
 * every running thread's earlier stores visible, and writers need no fence
 * of their own.  Without membarrier, writers fall back to a full fence. */
#include <linux/membarrier.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "access/ring.h"
#include "dirty/dirty.h"

bool dirty_writers_fence;          /* set once: membarrier is unavailable */
static pthread_once_t membarrier_once = PTHREAD_ONCE_INIT;

static void membarrier_register(void)
{
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
		    0, 0) < 0)
		__atomic_store_n(&dirty_writers_fence, true, __ATOMIC_RELEASE);
}

/* Should membarrier stop working (a seccomp filter installed later), the
 * writers fence from then on. */
static void harvest_barrier(void)
{
	if (!__atomic_load_n(&dirty_writers_fence, __ATOMIC_ACQUIRE) &&
	    syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
		return;
	__atomic_store_n(&dirty_writers_fence, true, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

int dirty_attach(struct table *t, const struct dirty_log *base,
		 unsigned int shift)
{
	bool internal;

	t->log = NULL;
	if (base || shift) {
		size_t n = t->count ? t->count : 1;
		uint64_t *first = malloc(n * sizeof(*first));
		uint64_t *last = malloc(n * sizeof(*last));

		if (first && last) {
			shift = base ? base->shift : shift;
			for (size_t i = 0; i < t->count; i++) {
				first[i] = t->slots[i].gpa >> shift;
				last[i] = t->slots[i].last >> shift;
			}
			t->log = log_cover(base, shift, first, last, t->count);
		}
		free(first);
		free(last);
		if (!t->log)
			return -ENOMEM;
	}
	internal = t->log && !t->shared_only;
	t->log_shift = t->log ? t->log->shift : 0;
	for (size_t i = 0; i < t->count; i++)
		t->slots[i].dirty = internal ?
			log_leaf_of(t->log, NULL, t->slots[i].gpa >> t->log->shift) :
			NULL;
	t->marking = (internal && t->count) || t->shared;
	return 0;
}

void dirty_note_shared(const struct table *t, uint64_t gpa, uint64_t len)
{
	struct dirty_log *log = t->shared;
	uint64_t missed = log_set(log, NULL, gpa >> log->shift,
				  (gpa + (len - 1)) >> log->shift);

	if (unlikely(missed))
		__atomic_add_fetch(&log->missed, missed, __ATOMIC_RELAXED);
}

void dirty_note_placed(const struct table *t, const struct vmmem_region *r,
		       uint64_t placed_at, uint64_t gpa, uint64_t len)
{
	const struct slot *s;

	if (!t->marking)
		return;
	s = table_lookup(t, gpa);
	if (s && s->region == r && s->gpa == placed_at)
		dirty_note(t, s, gpa, len);
}

/* Iterates over the pieces of [gpa, last] that lie in a slot, holes
 * skipped: start with *i = table_first_from(t, gpa). */
static const struct slot *next_piece(const struct table *t, size_t *i,
				      uint64_t gpa, uint64_t last,
				      uint64_t *from, uint64_t *to)
{
	const struct slot *s;

	if (*i >= t->count || t->slots[*i].gpa > last)
		return NULL;
	s = &t->slots[(*i)++];
	*from = s->gpa > gpa ? s->gpa : gpa;
	*to = s->last < last ? s->last : last;
	return s;
}

void dirty_mark_backed(const struct table *t, uint64_t gpa, uint64_t len)
{
	size_t i = table_first_from(t, gpa);
	const struct slot *s;
	uint64_t from, to;

	if (!t->marking || !len)
		return;
	while ((s = next_piece(t, &i, gpa, gpa + (len - 1), &from, &to)))
		dirty_note(t, s, from, to - from + 1);
}

int dirty_republish(struct vmmem *m, struct dirty_log *shared, bool only,
		    const struct dirty_log *base, unsigned int shift,
		    struct dirty_change *c)
{
	struct table *t = table_alloc(m->table->count);

	if (!t)
		return -ENOMEM;
	memcpy(t->slots, m->table->slots, t->count * sizeof(struct slot));
	t->shared = shared;
	t->shared_only = shared && only;
	if (dirty_attach(t, base, shift)) {
		free(t);
		return -ENOMEM;
	}
	c->old = table_replace(m, t);
	return 0;
}

int dirty_switch(struct vmmem *m, struct dirty_change *c)
{
	int ret;

	if (space_cannot_wait())
		return -EDEADLK;
	pthread_once(&membarrier_once, membarrier_register);
	pthread_mutex_lock(&m->switch_lock);
	pthread_mutex_lock(&m->lock);
	ret = c->apply(m, c);
	pthread_mutex_unlock(&m->lock);
	if (!ret) {
		/* Not under m->lock: a thread may take it inside a read-side
		 * section (hotplug, a ring made or freed), which the grace
		 * period waits for, while it waits for the lock.  switch_lock
		 * keeps the switches in turn; no thread in a section takes
		 * it (refused above), nor does the reclaim worker, whose
		 * frees are not waited for: one that takes m->lock only
		 * waits for apply() or retire(). */
		urcu_bp_synchronize_rcu();
		/* Rings' stores make no fence (vmmem_ring_log(3)): one whose
		 * load of the ring's record came before this barrier's point
		 * in its thread made its data store before it too, visible
		 * to the caller's first copy. */
		harvest_barrier();
		pthread_mutex_lock(&m->lock);
		c->retire(m, c);
		pthread_mutex_unlock(&m->lock);
	}
	pthread_mutex_unlock(&m->switch_lock);
	return ret;
}

/* The library's log on (pages of 1 << shift) or off (shift 0), the shared
 * log as it is.  After a start, no write that is not logged is in flight
 * (a migration that starts logging and then copies all memory misses
 * nothing); after a stop, no write still marks the leaves it frees. */
struct log_switch {
	struct dirty_change c;
	unsigned int shift;
	struct dirty_log *stopped;    /* set by a stop's log_apply() */
};

static int log_apply(struct vmmem *m, struct dirty_change *c)
{
	struct log_switch *s = (struct log_switch *)c;
	const struct table *t = m->table;
	int ret;

	if (s->shift && t->log)
		return -EBUSY;
	if (!s->shift && !t->log)
		return -ENOENT;
	ret = dirty_republish(m, t->shared, t->shared_only, NULL, s->shift, c);
	if (!ret && !s->shift)
		m->stopping_log = s->stopped = t->log;
	return ret;
}

static void log_retire(struct vmmem *m, struct dirty_change *c)
{
	struct log_switch *s = (struct log_switch *)c;

	if (s->stopped) {
		rings_detach_leaves(m, s->stopped);
		log_free_leaves(s->stopped);
		m->stopping_log = NULL;
	}
	table_free(c->old);
}

static int log_switch(struct vmmem *m, unsigned int shift)
{
	struct log_switch s = {
		.c = { .apply = log_apply, .retire = log_retire },
		.shift = shift,
	};

	return dirty_switch(m, &s.c);
}

VMMEM_EXPORT int vmmem_dirty_start(struct vmmem *m, uint64_t page_size)
{
	if (!page_size)
		page_size = 4096;
	if (!m || page_size < 4096 || page_size > (1u << 30) ||
	    (page_size & (page_size - 1)))
		return -EINVAL;
	return log_switch(m, (unsigned)__builtin_ctzll(page_size));
}

VMMEM_EXPORT int vmmem_dirty_stop(struct vmmem *m)
{
	if (!m)
		return -EINVAL;
	return log_switch(m, 0);
}

VMMEM_EXPORT int vmmem_dirty_mark(struct vmmem *m, uint64_t gpa, uint64_t len)
{
	const struct table *t;
	int ret = 0;

	if (!m || range_wraps(gpa, len))
		return -EINVAL;
	t = space_enter(m);
	if (!t->log && !t->shared)
		ret = -ENOENT;
	else if (len && table_backed(t, gpa, len) != len)
		ret = -EFAULT;
	else
		dirty_mark_backed(t, gpa, len);
	space_exit();
	return ret;
}

/* The log is indexed by GPA: bits of writes made before a region was
 * removed are found there, whatever is placed there now. */
static int harvest(struct vmmem *m, uint64_t gpa, uint64_t len, uint64_t *bitmap)
{
	const struct table *t;
	int ret;

	if (!m || range_wraps(gpa, len))
		return -EINVAL;
	t = space_enter(m);
	if (!t->log) {
		ret = -ENOENT;
	} else if (!len) {
		ret = 0;
	} else if (bitmap && (gpa & ((1ull << t->log->shift) - 1))) {
		ret = -EINVAL;
	} else {
		unsigned int sh = t->log->shift;
		uint64_t first = gpa >> sh, last = (gpa + (len - 1)) >> sh;
		uint64_t found;

		if (bitmap)
			memset(bitmap, 0, ((last - first) / 64 + 1) * 8);
		found = log_take(t->log, first, last, bitmap, first);
		ret = found > INT32_MAX ? INT32_MAX : (int)found;
	}
	space_exit();
	/* Clearing needs it as much as harvesting: a caller that clears and
	 * then copies everything must see the writes that raced with it. */
	if (ret >= 0)
		harvest_barrier();
	return ret;
}

VMMEM_EXPORT int vmmem_dirty_harvest(struct vmmem *m, uint64_t gpa,
				     uint64_t len, uint64_t *bitmap)
{
	if (!bitmap)
		return -EINVAL;
	return harvest(m, gpa, len, bitmap);
}

VMMEM_EXPORT int vmmem_dirty_clear(struct vmmem *m, uint64_t gpa, uint64_t len)
{
	int ret = harvest(m, gpa, len, NULL);

	return ret < 0 ? ret : 0;
}

/* A page no region backs is reported dirty while a write made before its
 * region was removed is still logged, and refused once it is clean. */
VMMEM_EXPORT int vmmem_dirty_test(struct vmmem *m, uint64_t gpa)
{
	const struct table *t;
	int ret;

	if (!m)
		return -EINVAL;
	t = space_enter(m);
	if (!t->log)
		ret = -ENOENT;
	else if ((ret = log_test(t->log, gpa >> t->log->shift)) < 1 &&
		 !table_lookup(t, gpa))
		ret = -EFAULT;
	space_exit();
	return ret;
}
