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

struct dirty_log *dirty_log_new(const struct slot *s, unsigned int shift)
{
	uint64_t first = s->gpa >> shift, npages = (s->last >> shift) - first + 1;
	struct dirty_log *log;

	if (npages > (SIZE_MAX - sizeof(*log)) / 8 * 64 - 63)
		return NULL;
	log = calloc(1, sizeof(*log) + (npages + 63) / 64 * 8);
	if (!log)
		return NULL;
	log->first_page = first;
	log->npages = npages;
	return log;
}

void dirty_log_set(struct dirty_log *log, uint64_t first, uint64_t last)
{
	uint64_t a = first - log->first_page, b = last - log->first_page;

	if (unlikely(__atomic_load_n(&dirty_writers_fence, __ATOMIC_RELAXED)))
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	else
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
	for (uint64_t w = a / 64; w <= b / 64; w++) {
		uint64_t lo = w == a / 64 ? a % 64 : 0;
		uint64_t hi = w == b / 64 ? b % 64 : 63;
		uint64_t mask = (~0ull >> (63 - hi)) & (~0ull << lo);

		if ((__atomic_load_n(&log->words[w], __ATOMIC_RELAXED) & mask) != mask)
			__atomic_fetch_or(&log->words[w], mask, __ATOMIC_RELEASE);
	}
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

	if (!t->dirty_shift || !len)
		return;
	while ((s = next_piece(t, &i, gpa, gpa + (len - 1), &from, &to)))
		dirty_note(t, s, from, to - from + 1);
}

static int rebuild(struct vmmem *m, unsigned int shift)
{
	struct table *old = m->table, *t = table_alloc(old->count);
	size_t i;

	if (!t)
		return -ENOMEM;
	memcpy(t->slots, old->slots, old->count * sizeof(struct slot));
	t->dirty_shift = shift;
	for (i = 0; shift && i < t->count; i++) {
		t->slots[i].dirty = dirty_log_new(&t->slots[i], shift);
		if (!t->slots[i].dirty)
			break;
	}
	if (shift && i < t->count) {
		while (i--)
			free(t->slots[i].dirty);
		free(t);
		return -ENOMEM;
	}
	for (i = 0; !shift && i < t->count; i++)
		t->slots[i].dirty = NULL;
	old->drop_logs = !shift;        /* stop: the logs go with the old table */
	table_publish(m, t);
	return 0;
}

/* Rings' stores (include/libvmmem.h) make no fence of their own: a store,
 * a compiler barrier, then a plain load of m->ring_call.  Start sets the
 * word after publishing the logging table and then runs the harvest's
 * barrier, membarrier(): at some point of every running writer's program
 * order it acts as a full fence.  A writer whose load of the word comes
 * after that point sees it set and logs; one whose load comes before it
 * made its data store before it too, so that store is visible to whatever
 * the caller does after start returns: its first copy pass.  Without
 * membarrier the word is set for good, and the ring's out-of-line call
 * fences before it looks at the table (access/ring.c): Dekker's pattern
 * with start's fence. */
static void ring_call_update(struct vmmem *m)
{
	bool call = m->table->dirty_shift ||
		    __atomic_load_n(&dirty_writers_fence, __ATOMIC_ACQUIRE);

	__atomic_store_n(&m->ring_call, call, __ATOMIC_RELEASE);
}

void dirty_rings_prepare(struct vmmem *m)
{
	pthread_once(&membarrier_once, membarrier_register);
	pthread_mutex_lock(&m->lock);
	ring_call_update(m);
	pthread_mutex_unlock(&m->lock);
}

VMMEM_EXPORT int vmmem_dirty_start(struct vmmem *m, uint64_t page_size)
{
	int ret;

	if (!page_size)
		page_size = 4096;
	if (!m || page_size < 4096 || page_size > (1u << 30) ||
	    (page_size & (page_size - 1)))
		return -EINVAL;
	pthread_once(&membarrier_once, membarrier_register);
	pthread_mutex_lock(&m->lock);
	ret = m->table->dirty_shift ? -EBUSY
				    : rebuild(m, (unsigned)__builtin_ctzll(page_size));
	if (!ret)
		ring_call_update(m);
	pthread_mutex_unlock(&m->lock);
	if (!ret)
		harvest_barrier();
	return ret;
}

VMMEM_EXPORT int vmmem_dirty_stop(struct vmmem *m)
{
	int ret;

	if (!m)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	ret = m->table->dirty_shift ? rebuild(m, 0) : -ENOENT;
	if (!ret)
		ring_call_update(m);
	pthread_mutex_unlock(&m->lock);
	return ret;
}

VMMEM_EXPORT int vmmem_dirty_mark(struct vmmem *m, uint64_t gpa, uint64_t len)
{
	const struct table *t;
	int ret = 0;

	if (!m || range_wraps(gpa, len))
		return -EINVAL;
	t = space_enter(m);
	if (!t->dirty_shift)
		ret = -ENOENT;
	else if (len && table_backed(t, gpa, len) != len)
		ret = -EFAULT;
	else
		dirty_mark_backed(t, gpa, len);
	space_exit();
	return ret;
}

/* Takes (out != NULL) or just clears the bits of one slot's pages in
 * [first, last]; returns how many pages it newly reported in out. */
static uint64_t take_bits(const struct slot *s, uint64_t first, uint64_t last,
			  uint64_t *out, uint64_t out_first)
{
	struct dirty_log *log = s->dirty;
	uint64_t lo = first > log->first_page ? first : log->first_page;
	uint64_t hi = last < log->first_page + log->npages - 1 ?
		      last : log->first_page + log->npages - 1;
	uint64_t a = lo - log->first_page, b = hi - log->first_page, found = 0;

	for (uint64_t w = a / 64; lo <= hi && w <= b / 64; w++) {
		uint64_t mask = (~0ull >> (63 - (w == b / 64 ? b % 64 : 63))) &
				(~0ull << (w == a / 64 ? a % 64 : 0));
		uint64_t bits;

		if (!(__atomic_load_n(&log->words[w], __ATOMIC_RELAXED) & mask))
			continue;       /* clean words cost one load */
		bits = __atomic_fetch_and(&log->words[w], ~mask, __ATOMIC_ACQ_REL) & mask;
		while (out && bits) {
			uint64_t page = log->first_page + w * 64 +
					(uint64_t)__builtin_ctzll(bits);
			uint64_t idx = page - out_first, bit = 1ull << (idx % 64);

			found += !(out[idx / 64] & bit);
			out[idx / 64] |= bit;
			bits &= bits - 1;
		}
	}
	return found;
}

static int harvest(struct vmmem *m, uint64_t gpa, uint64_t len, uint64_t *bitmap)
{
	const struct table *t;
	uint64_t found = 0;
	int ret;

	if (!m || range_wraps(gpa, len))
		return -EINVAL;
	t = space_enter(m);
	if (!t->dirty_shift) {
		ret = -ENOENT;
	} else if (!len) {
		ret = 0;
	} else if (bitmap && (gpa & ((1ull << t->dirty_shift) - 1))) {
		ret = -EINVAL;
	} else {
		/* Whole pages: two regions may share one, each with its own
		 * bit for it, and the page is dirty if either bit is set. */
		unsigned int sh = t->dirty_shift;
		uint64_t first = gpa >> sh, last = (gpa + (len - 1)) >> sh;
		uint64_t lo = first << sh, hi = ((last + 1) << sh) - 1;
		size_t i = table_first_from(t, lo);
		const struct slot *s;
		uint64_t from, to;

		if (bitmap)
			memset(bitmap, 0, ((last - first) / 64 + 1) * 8);
		while ((s = next_piece(t, &i, lo, hi, &from, &to)))
			found += take_bits(s, from >> sh, to >> sh, bitmap, first);
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

static bool slot_page_dirty(const struct slot *s, uint64_t page)
{
	uint64_t idx = page - s->dirty->first_page;

	return __atomic_load_n(&s->dirty->words[idx / 64], __ATOMIC_RELAXED) &
	       (1ull << (idx % 64));
}

/* The page of gpa is dirty if any region overlapping the page logged it. */
VMMEM_EXPORT int vmmem_dirty_test(struct vmmem *m, uint64_t gpa)
{
	const struct table *t;
	int ret;

	if (!m)
		return -EINVAL;
	t = space_enter(m);
	if (!t->dirty_shift) {
		ret = -ENOENT;
	} else if (!table_lookup(t, gpa)) {
		ret = -EFAULT;
	} else {
		unsigned int sh = t->dirty_shift;
		uint64_t page = gpa >> sh, lo = page << sh;
		uint64_t hi = ((page + 1) << sh) - 1;
		size_t i = table_first_from(t, lo);
		const struct slot *s;
		uint64_t from, to;

		ret = 0;
		while (!ret && (s = next_piece(t, &i, lo, hi, &from, &to)))
			ret = slot_page_dirty(s, page);
	}
	space_exit();
	return ret;
}
