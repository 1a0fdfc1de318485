/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The published region table of a struct vmmem and the read side of it.
 *
 * A table is immutable once published.  Writers (hotplug, dirty start/stop)
 * build a new one under vmmem->lock and publish it with a release store;
 * the old one, and whatever it was the last to reference, is released by
 * an RCU callback after a grace period.  Hotplug does not wait for
 * readers: at a high rate it would otherwise take the CPU the readers
 * need.  The dirty logs' switches, which must be complete when they
 * return, wait, but never holding vmmem->lock, which a reader may take
 * inside its section (dirty_switch()).
 * Readers bracket their accesses with space_enter()/space_exit()
 * (liburcu-bp: no lock, no shared write). */
#ifndef VMMEM_TABLE_H
#define VMMEM_TABLE_H

/* The read-side lock inlined (_LGPL_SOURCE: libvmmem's BSD-3-Clause option
 * is LGPL-compatible, as liburcu asks); with the initial-exec TLS model the
 * build uses, entering and leaving a section costs a few instructions
 * instead of two calls into liburcu-bp.so (measured: 1.6 ns against 8). */
#ifndef _LGPL_SOURCE
#define _LGPL_SOURCE
#endif
#include <urcu/urcu-bp.h>

#include "vmmem-private.h"

struct dirty_log;
struct log_leaf;
struct ring;
struct ring_leaf;

/* One region placed at a GPA: one cache line, and a power-of-two size so
 * the lookup hint's index is a shift. */
struct slot {
	uint64_t gpa;
	uint64_t last;                /* inclusive: a region may end at 2^64 */
	uint8_t *host;                /* NULL: mapped on demand */
	uint8_t *whost;               /* host, or NULL when read-only */
	/* The slot's first leaf in table->log; NULL while the library's
	 * log is off or not marked (dirty.h) */
	const struct log_leaf *dirty;
	struct vmmem_region *region;
	uint64_t uaddr;               /* front-end address of gpa (vhost-user) */
	bool has_uaddr;               /* placed from a vhost-user message */
	/* Set in a retired table: the slot left the space, its region and
	 * log are released with that table (table_reclaim). */
	bool drop;
} __attribute__((aligned(64)));

/* Something freed by the reclaim worker after a grace period (reclaim.c):
 * a retired region table, or a batch of replaced IOTLB tables. */
struct retired {
	struct retired *next;         /* the worker's queue */
	void (*reclaim)(struct retired *r);
	/* Its part of the backlog RECLAIM_HELD_MAX bounds: a region table
	 * and the regions it drops, or an IOTLB batch's RECLAIM_UNIT_BYTES
	 * of tables. */
	unsigned long held;
};

struct table {
	struct retired retired;       /* queued for reclaim (reclaim.c) */
	struct vmmem *owner;          /* retired with drops set */
	size_t count;
	size_t span;                  /* count rounded up to a power of two */
	bool marking;                 /* writers mark a log (dirty.h) */
	unsigned int log_shift;       /* log->shift, without the pointer chase */
	/* The library's dirty log, NULL while off: this table's own copy of
	 * the directory, whose leaves outlive it (dirty/log.h). */
	struct dirty_log *log;
	struct dirty_log *shared;     /* the front-end's log, or NULL */
	bool shared_only;             /* ... instead of the library's */
	/* Released with the table, once no reader can still see it: */
	bool drops;                   /* the slots marked drop */
	/* Indices of the slots with has_uaddr, sorted by uaddr (built by
	 * table_publish); points into the table's own allocation. */
	uint32_t *by_uaddr;
	size_t ucount;
	/* Sorted by gpa, non-overlapping; slots[count..span) are padding at
	 * gpa 2^64-1 with no host address, for slots_search_span(); span is
	 * at least 1, so an empty table is searched like any other. */
	struct slot slots[];
};

#define MAP_BUCKETS 64

struct mapping;

struct map_bucket {
	pthread_mutex_t lock;
	struct mapping *head;
} __attribute__((aligned(64)));

/* The mapping the library made for a shared dirty log given by fd:
 * unmapped when the log is replaced or stopped (a caller's own mapping is
 * left alone). */
struct shared_map {
	void *base;                   /* NULL: none */
	size_t len;
};

struct vmmem {
	struct table *table;          /* RCU-published */
	/* table->marking, for code that has no table: the inline ring
	 * accessors (planned) test it, inside their read-side section, and
	 * call an out-of-line mark function only when it is set.  Written
	 * only when logging starts or stops: no shared write otherwise. */
	bool logging;
	pthread_mutex_t lock;         /* serialises writers */
	/* Serialises the calls that wait for a grace period (the dirty
	 * logs' switches), held across the wait that lock is not held for;
	 * never taken inside a read-side section (dirty/dirty.c). */
	pthread_mutex_t switch_lock;
	/* Under lock: the library's log a stop replaced, whose leaves
	 * writers may still mark until the stop's grace period ends: a ring
	 * freed meanwhile leaves its words to it (access/ring-log.c). */
	struct dirty_log *stopping_log;
	struct shared_map shared_map; /* under lock */
	uint64_t shared_missed;       /* under lock: of shared logs gone */
	unsigned long retiring;       /* retired tables holding a region, and
					 RETIRING_FREED once vmmem_free()
					 left the free to the last of them */
	struct map_bucket maps[MAP_BUCKETS];   /* open vmmem_map() mappings */
	/* Rings (access/ring.h) and the leaves of the library's dirty log
	 * they pin (access/ring-log.c), under lock. */
	struct ring *rings;
	struct ring_leaf *ring_leaves;
};

#define RETIRING_FREED (~0UL - (~0UL >> 1))

void maps_init(struct vmmem *m);
void maps_release(struct vmmem *m);

static inline struct table *space_enter(struct vmmem *m)
{
	urcu_bp_read_lock();
	return __atomic_load_n(&m->table, __ATOMIC_CONSUME);
}

/* The fast paths' read-side section: liburcu-bp's own lock, for the case
 * that is nearly always the one: a thread liburcu-bp has registered, not
 * inside a section already, on a kernel with membarrier (liburcu-bp's
 * writers then fence for the readers, so entering and leaving are plain
 * stores).  Otherwise false, and the caller takes its slow path, whose
 * full lock registers the thread, nests, or fences.  Nothing stays live in
 * between (the exit finds the reader again), so a fast path making no call
 * keeps its values in caller-saved registers and saves none. */
static inline bool space_fast_enter(void)
{
	struct urcu_bp_reader *r = URCU_TLS(urcu_bp_reader);

	/* A plain read, as liburcu's own lock does: the flag is set once at
	 * its initialisation, and is the constant 1 when liburcu is built to
	 * require membarrier. */
	if (unlikely(!r || !urcu_bp_has_sys_membarrier ||
		     (r->ctr & URCU_BP_GP_CTR_NEST_MASK)))
		return false;
	cmm_barrier();
	_CMM_STORE_SHARED(r->ctr, _CMM_LOAD_SHARED(urcu_bp_gp.ctr));
	cmm_barrier();
	return true;
}

static inline void space_fast_exit(void)
{
	struct urcu_bp_reader *r;

	cmm_barrier();
	r = URCU_TLS(urcu_bp_reader);
	_CMM_STORE_SHARED(r->ctr, r->ctr - URCU_BP_GP_COUNT);
	cmm_barrier();
}

/* Whether the calling thread is in a liburcu-bp read-side section: one of
 * the library's, or the caller's own (reader layout: configure.ac). */
static inline bool space_in_section(void)
{
	struct urcu_bp_reader *r = URCU_TLS(urcu_bp_reader);

	return r && (_CMM_LOAD_SHARED(r->ctr) & URCU_BP_GP_CTR_NEST_MASK);
}

static inline void space_exit(void)
{
	urcu_bp_read_unlock();
}

/* The slot a thread found last, tried first: device code mostly accesses
 * the same region again (a ring, then its buffers).  Keyed by the table and
 * checked against its count and the slot's bounds, so a table swapped or
 * freed meanwhile can only cost a search, never give a wrong slot. */
struct lookup_hint {
	const struct table *table;
	size_t idx;
};
extern __thread struct lookup_hint space_hint;

/* The last slot starting at or below gpa (the first if none does), over
 * the slots padded to a power of two: a fixed number of halvings with no
 * length to keep, about half the instructions per step of
 * sorted_first_from().  Branch-free (cmov).  The padding starts at 2^64-1,
 * so only that gpa can land on it (table_lookup() takes it apart). */
static inline const struct slot *slots_search_span(const struct slot *base,
						   size_t span, uint64_t gpa)
{
	for (size_t step = span / 2; step; step /= 2)
		base = base[step].gpa <= gpa ? base + step : base;
	return base;
}

static inline bool slot_holds(const struct slot *s, uint64_t gpa)
{
	return gpa - s->gpa <= s->last - s->gpa;
}

/* Below this many slots a search costs no more than the lookup hint,
 * whose branch mispredicts on scattered addresses. */
#define LOOKUP_HINT_MIN 8

/* The slot holding gpa, or NULL, by search alone. */
static inline __attribute__((always_inline)) const struct slot *
table_search(const struct table *t, uint64_t gpa)
{
	const struct slot *s;

	if (unlikely(gpa == UINT64_MAX)) {
		/* Apart, as the padding starts there too: only the last slot
		 * can hold it.  No call, so the fast paths stay leaves. */
		size_t n = t->count;

		s = &t->slots[n ? n - 1 : 0];
		return n && s->last == UINT64_MAX ? s : NULL;
	}
	s = slots_search_span(t->slots, t->span, gpa);
	return slot_holds(s, gpa) ? s : NULL;
}

/* Whether lookups in t try the hint first.  The fast paths take such a
 * table in a function of their own, entered in the section with the table
 * in hand (a tail call): inlined together, the hint's values would make
 * the small tables' path save registers too (docs/PERFORMANCE.md). */
static inline bool table_hinted(const struct table *t)
{
	return t->count >= LOOKUP_HINT_MIN;
}

/* table_lookup() in a table known to be table_hinted(): the slot a thread
 * found last is tried first. */
static inline __attribute__((always_inline)) const struct slot *
table_lookup_hinted(const struct table *t, uint64_t gpa)
{
	size_t idx = space_hint.idx;
	const struct slot *s;

	if (space_hint.table == t && idx < t->count &&
	    slot_holds(&t->slots[idx], gpa))
		return &t->slots[idx];
	s = table_search(t, gpa);
	if (s) {
		space_hint.table = t;
		space_hint.idx = (size_t)(s - t->slots);
	}
	return s;
}

/* The slot holding gpa, or NULL: the one lookup of every path (the fast
 * paths take its two cases apart, see table_hinted()). */
static inline __attribute__((always_inline)) const struct slot *
table_lookup(const struct table *t, uint64_t gpa)
{
	return table_hinted(t) ? table_lookup_hinted(t, gpa)
			       : table_search(t, gpa);
}

/* Bytes of the slot from gpa on, capped at len (slot->last may be 2^64-1). */
static inline uint64_t slot_avail(const struct slot *s, uint64_t gpa,
				  uint64_t len)
{
	uint64_t avail = s->last - gpa;   /* one less than the real count */

	return len - 1 <= avail ? len : avail + 1;
}

/* Whether writes to the slot's region can succeed. */
static inline bool slot_writable(const struct slot *s)
{
	return s->whost || (s->region->cache && !s->region->readonly);
}

/* Walks [gpa, gpa + len) piece by piece, one piece per slot.  Returns the
 * number of bytes that are backed from gpa on without a hole. */
uint64_t table_backed(const struct table *t, uint64_t gpa, uint64_t len);

/* Index of the first slot whose range ends at or after gpa (count if none). */
size_t table_first_from(const struct table *t, uint64_t gpa);

struct table *table_alloc(size_t count);
/* Marks old->slots[i] to leave with old once it is retired. */
void table_drop_slot(struct table *old, size_t i);
/* Sorts the front-end address index; true if two of its ranges overlap. */
bool table_index_uaddr(struct table *t);
/* The slot whose front-end range holds [uaddr, uaddr + len), len >= 1 and
 * not wrapping, or NULL (space/uaddr.c). */
const struct slot *table_lookup_uaddr(const struct table *t, uint64_t uaddr,
				      uint64_t len);
/* A slot for region r at gpa, with no front-end address. */
static inline void slot_init(struct slot *s, uint64_t gpa,
			     struct vmmem_region *r)
{
	*s = (struct slot){ .gpa = gpa, .last = gpa + (r->size - 1),
			    .host = r->host,
			    .whost = r->readonly ? NULL : r->host,
			    .region = r };
}
/* Hotplug (space/hotplug.c).  space_insert() places proto (its region gets
 * a reference of the space; the table's dirty log covers it) unless the
 * table holds max_count slots already (-ENOSPC) or proto overlaps a slot in
 * either address space (-EEXIST).  space_remove() takes out the slot at
 * exactly [gpa, gpa + size), placed at front-end address *uaddr unless
 * uaddr is NULL (-ENOENT if none). */
int space_insert(struct vmmem *m, const struct slot *proto, size_t max_count);
int space_remove(struct vmmem *m, uint64_t gpa, uint64_t size,
		 const uint64_t *uaddr, struct vmmem_region **removed);
/* A table replacing old marks the front-end's log as old does. */
static inline void table_inherit(struct table *t, const struct table *old)
{
	t->shared = old->shared;
	t->shared_only = old->shared_only;
}
/* Publishes t (indexing it first) and retires the current table. */
void table_publish(struct vmmem *m, struct table *t);
/* Publishes t and returns the table it replaces, for the caller to
 * release with table_free() once no reader can still see it (after its
 * own urcu_bp_synchronize_rcu(), made without m->lock: dirty/dirty.c):
 * for changes that must be complete when their call returns. */
struct table *table_replace(struct vmmem *m, struct table *t);
void table_free(struct table *t);
/* Frees a retired table after its grace period (and the space, when
 * vmmem_free() left that to its last table). */
void table_reclaim(struct table *t);
/* Frees a space and what its current table holds (vmmem.c). */
void space_destroy(struct vmmem *m);

/* lib/space/reclaim.c: the worker that frees retired tables (the region
 * tables and the IOTLB's) after a grace period, and the library's fork
 * handlers (registered once per process). */
void reclaim_defer(struct retired *r);
void reclaim_wait(void);
/* The backlog's bound: retired tables not yet freed, each counting one
 * plus the regions it drops (their descriptors and mappings), may add up
 * to this before a call that retires one more must wait for the worker.
 * A hostile vhost-user front-end can replace tables far faster than grace
 * periods end (a reader in a long section, a slow worker). */
#define RECLAIM_HELD_MAX 256
/* What an IOTLB batch weighs: one per this many bytes of its tables (at
 * least one), so that the bound also caps the memory a front-end can
 * make the library hold by replacing IOTLB tables (16 MiB at most). */
#define RECLAIM_UNIT_BYTES (64 * 1024)
/* Called before taking m->lock (iommu->lock) by every call that retires a
 * table: 0 once
 * the backlog is under the bound, after waiting for the worker if need
 * be; -EAGAIN, without waiting, where the caller cannot wait
 * (space_cannot_wait()): the backlog cannot shrink before its section
 * ends. */
int reclaim_admit(void);
int space_register_atfork(void);
/* Whether the calling thread must not wait for a grace period: it is in a
 * read-side section (its own, nested ones included), which the grace
 * period would wait for, or it is the reclaim worker, which ends them. */
bool space_cannot_wait(void);

#endif
