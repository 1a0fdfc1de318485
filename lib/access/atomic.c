/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Single-copy atomic loads and stores with a C11 memory order. */
#include "access/copy.h"
#include "access/fast.h"
#include "access/view.h"
#include "dirty/dirty.h"
#include "space/table.h"

static int lookup_aligned(const struct table *t, uint64_t gpa, size_t size,
			  bool write, struct view *v, const struct slot **slot)
{
	const struct slot *s = table_lookup(t, gpa);
	int64_t n;

	if (!s)
		return -EFAULT;
	if (size - 1 > s->last - gpa)
		return table_backed(t, gpa, size) == size ? -ERANGE : -EFAULT;
	/* An aligned access of at most 8 bytes stays in one page, so a view
	 * of a region mapped on demand covers it whole. */
	n = view_begin(s, gpa, size, write, COVER_SOME, v);
	if (n < 0)
		return (int)n;
	if (!ALIGNED_TO(v->p, size)) {
		view_end(v);
		return -EINVAL;
	}
	*slot = s;
	return 0;
}

static inline uint64_t load_at(const uint8_t *p, size_t size, int order)
{
#define LOAD(type)                                                            \
	(order == VMMEM_ORDER_RELAXED ?                                       \
		 __atomic_load_n((const type *)p, __ATOMIC_RELAXED) :         \
	 order == VMMEM_ORDER_SEQ_CST ?                                       \
		 __atomic_load_n((const type *)p, __ATOMIC_SEQ_CST) :         \
		 __atomic_load_n((const type *)p, __ATOMIC_ACQUIRE))
	switch (size) {
	case 1: return LOAD(uint8_t);
	case 2: return LOAD(uint16_t);
	case 4: return LOAD(uint32_t);
	default: return LOAD(uint64_t);
	}
#undef LOAD
}

static inline void store_at(uint8_t *p, size_t size, uint64_t val, int order)
{
#define STORE(type)                                                           \
	do {                                                                  \
		if (order == VMMEM_ORDER_RELAXED)                             \
			__atomic_store_n((type *)p, (type)val, __ATOMIC_RELAXED); \
		else if (order == VMMEM_ORDER_RELEASE)                        \
			__atomic_store_n((type *)p, (type)val, __ATOMIC_RELEASE); \
		else                                                          \
			__atomic_store_n((type *)p, (type)val, __ATOMIC_SEQ_CST); \
	} while (0)
	switch (size) {
	case 1: STORE(uint8_t); break;
	case 2: STORE(uint16_t); break;
	case 4: STORE(uint32_t); break;
	default: STORE(uint64_t); break;
	}
#undef STORE
}

/* The host address of an aligned access inside one slot that has one for
 * it, else NULL (the slow path sorts out why). */
static inline uint8_t *fast_target(const struct slot *s, uint64_t gpa,
				   size_t size, bool write)
{
	uint8_t *h = slot_host(s, gpa, size, write);

	return h && ALIGNED_TO(h, size) ? h : NULL;
}

static __attribute__((noinline)) int
load_slow(struct vmmem *m, uint64_t gpa, size_t size, uint64_t *val,
	  int order)
{
	const struct slot *s;
	struct view v;
	int ret = lookup_aligned(space_enter(m), gpa, size, false, &v, &s);

	if (!ret) {
		*val = load_at(v.p, size, order);
		view_end(&v);
	}
	space_exit();
	return ret;
}

/* The fast path, in a section, slot s (NULL: none) looked up: no call, as
 * the transfers' (rw.c).  Leaves the section. */
static inline __attribute__((always_inline)) bool
load_in(const struct slot *s, uint64_t gpa, size_t size, uint64_t *val,
	int order)
{
	uint8_t *p = fast_target(s, gpa, size, false);

	if (likely(p))
		*val = load_at(p, size, order);
	space_fast_exit();
	return p;
}

/* The fast path of a table with a lookup hint (table_hinted()); t last,
 * so that the tail call to it moves no other argument. */
static __attribute__((noinline)) int
load_hinted(struct vmmem *m, uint64_t gpa, size_t size, uint64_t *val,
	    int order, const struct table *t)
{
	if (load_in(table_lookup_hinted(t, gpa), gpa, size, val, order))
		return 0;
	return load_slow(m, gpa, size, val, order);
}

VMMEM_EXPORT int vmmem_load(struct vmmem *m, uint64_t gpa, size_t size,
			    uint64_t *val, int order)
{
	const struct table *t;

	if (!m || !val || (size != 1 && size != 2 && size != 4 && size != 8) ||
	    (gpa & (size - 1)))
		return -EINVAL;
	/* The builtins want a constant order: consume is promoted to acquire,
	 * as compilers do anyway. */
	if (order != VMMEM_ORDER_RELAXED && order != VMMEM_ORDER_CONSUME &&
	    order != VMMEM_ORDER_ACQUIRE && order != VMMEM_ORDER_SEQ_CST)
		return -EINVAL;
	if (likely(space_fast_enter())) {
		t = __atomic_load_n(&m->table, __ATOMIC_CONSUME);
		if (unlikely(table_hinted(t)))
			return load_hinted(m, gpa, size, val, order, t);
		if (likely(load_in(table_search(t, gpa), gpa, size, val, order)))
			return 0;
	}
	return load_slow(m, gpa, size, val, order);
}

static __attribute__((noinline)) int
store_slow(struct vmmem *m, uint64_t gpa, size_t size, uint64_t val,
	   int order)
{
	const struct table *t = space_enter(m);
	const struct slot *s;
	struct view v;
	int ret = lookup_aligned(t, gpa, size, true, &v, &s);

	if (!ret) {
		store_at(v.p, size, val, order);
		view_end(&v);
		dirty_note(t, s, gpa, size);
	}
	space_exit();
	return ret;
}

/* As load_in(), in table t. */
static inline __attribute__((always_inline)) bool
store_in(const struct table *t, const struct slot *s, uint64_t gpa,
	 size_t size, uint64_t val, int order)
{
	uint8_t *p = fast_target(s, gpa, size, true);

	if (likely(p)) {
		store_at(p, size, val, order);
		dirty_note_small(t, s, gpa, size);
	}
	space_fast_exit();
	return p;
}

static __attribute__((noinline)) int
store_hinted(struct vmmem *m, uint64_t gpa, size_t size, uint64_t val,
	     int order, const struct table *t)
{
	if (store_in(t, table_lookup_hinted(t, gpa), gpa, size, val, order))
		return 0;
	return store_slow(m, gpa, size, val, order);
}

VMMEM_EXPORT int vmmem_store(struct vmmem *m, uint64_t gpa, size_t size,
			     uint64_t val, int order)
{
	const struct table *t;

	if (!m || (size != 1 && size != 2 && size != 4 && size != 8) ||
	    (gpa & (size - 1)))
		return -EINVAL;
	if (order != VMMEM_ORDER_RELAXED && order != VMMEM_ORDER_RELEASE &&
	    order != VMMEM_ORDER_SEQ_CST)
		return -EINVAL;
	if (likely(space_fast_enter())) {
		t = __atomic_load_n(&m->table, __ATOMIC_CONSUME);
		if (unlikely(table_hinted(t)))
			return store_hinted(m, gpa, size, val, order, t);
		if (likely(store_in(t, table_search(t, gpa), gpa, size, val,
				    order)))
			return 0;
	}
	return store_slow(m, gpa, size, val, order);
}
