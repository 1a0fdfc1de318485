/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Building, indexing and publishing region tables. */
#include <stdlib.h>

#include "access/ring.h"
#include "dirty/log.h"
#include "sorted.h"
#include "space/table.h"

__thread struct lookup_hint space_hint;

struct table *table_alloc(size_t count)
{
	size_t span = 1, bytes;
	struct table *t;

	while (span < count)
		span *= 2;
	bytes = sizeof(struct table) + span * sizeof(struct slot) +
		count * sizeof(uint32_t);
	if (posix_memalign((void **)&t, 64, bytes))
		return NULL;
	memset(t, 0, bytes);
	t->count = count;
	t->span = span;
	t->by_uaddr = (uint32_t *)&t->slots[span];
	for (size_t i = count; i < span; i++)
		t->slots[i].gpa = t->slots[i].last = UINT64_MAX;
	return t;
}

uint64_t table_backed(const struct table *t, uint64_t gpa, uint64_t len)
{
	uint64_t done = 0;

	while (done < len) {
		const struct slot *s = table_lookup(t, gpa + done);

		if (!s)
			break;
		done += slot_avail(s, gpa + done, len - done);
	}
	return done;
}

size_t table_first_from(const struct table *t, uint64_t gpa)
{
	return SORTED_FIRST_FROM(t->slots, t->count, struct slot, last, gpa);
}

/* A retired table's part of the backlog: itself and the regions whose
 * place in the space it takes with it. */
static unsigned long held_by(const struct table *t)
{
	unsigned long n = 1;

	for (size_t i = 0; t->drops && i < t->count; i++)
		n += t->slots[i].drop;
	return n;
}

static void reclaim_retired_table(struct retired *r)
{
	table_reclaim(caa_container_of(r, struct table, retired));
}

void table_reclaim(struct table *t)
{
	struct vmmem *owner = t->owner;

	log_free(t->log, false);
	for (size_t i = 0; t->drops && i < t->count; i++)
		if (t->slots[i].drop)
			vmmem_region_unref(t->slots[i].region);
	free(t);
	/* The last touch of the owner: vmmem_free() may free it once the
	 * count is down, or left that to the last of its tables. */
	if (owner && __atomic_sub_fetch(&owner->retiring, 1, __ATOMIC_ACQ_REL) ==
		     RETIRING_FREED)
		space_destroy(owner);
}

void table_drop_slot(struct table *old, size_t i)
{
	old->slots[i].drop = true;
	old->drops = true;
}

struct table *table_replace(struct vmmem *m, struct table *t)
{
	struct table *old = m->table;

	rings_adopt_leaves(m, old, t);
	table_index_uaddr(t);
	__atomic_store_n(&m->table, t, __ATOMIC_RELEASE);
	if (m->logging != t->marking)
		__atomic_store_n(&m->logging, t->marking, __ATOMIC_RELEASE);
	rings_retarget(m, t);
	return old;
}

void table_free(struct table *t)
{
	table_reclaim(t);
}

void table_publish(struct vmmem *m, struct table *t)
{
	struct table *old = table_replace(m, t);

	if (old) {
		/* Only a table holding a region's last place in the space
		 * makes vmmem_free() wait: the caller may expect that
		 * region released when it returns. */
		if (old->drops) {
			old->owner = m;
			__atomic_add_fetch(&m->retiring, 1, __ATOMIC_RELAXED);
		}
		old->retired.reclaim = reclaim_retired_table;
		old->retired.held = held_by(old);
		reclaim_defer(&old->retired);
	}
}
