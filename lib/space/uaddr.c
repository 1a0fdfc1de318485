/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The second key of a region table: the front-end's own virtual address
 * (a vhost-user region's userspace_addr), which vring addresses and IOTLB
 * updates are given in.  The index lives in the table, so a lookup sees the
 * same published table as every other access: no lock, and consistent
 * under hotplug. */
#include "space/table.h"

static uint64_t ulast(const struct slot *s)
{
	return s->uaddr + (s->last - s->gpa);
}

/* Insertion sort: tables are built by writers only, and a vhost-user
 * table has at most a few hundred regions, mostly in order already. */
bool table_index_uaddr(struct table *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->count; i++) {
		size_t j;

		if (!t->slots[i].has_uaddr)
			continue;
		for (j = n; j && t->slots[t->by_uaddr[j - 1]].uaddr >
				 t->slots[i].uaddr; j--)
			t->by_uaddr[j] = t->by_uaddr[j - 1];
		t->by_uaddr[j] = (uint32_t)i;
		n++;
	}
	t->ucount = n;
	for (size_t j = 1; j < n; j++)
		if (ulast(&t->slots[t->by_uaddr[j - 1]]) >=
		    t->slots[t->by_uaddr[j]].uaddr)
			return true;
	return false;
}

const struct slot *table_lookup_uaddr(const struct table *t, uint64_t uaddr,
				      uint64_t len)
{
	size_t lo = 0, hi = t->ucount;
	const struct slot *s;

	/* The last indexed slot starting at or below uaddr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->slots[t->by_uaddr[mid]].uaddr <= uaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	s = &t->slots[t->by_uaddr[lo - 1]];
	return uaddr + (len - 1) <= ulast(s) ? s : NULL;
}
