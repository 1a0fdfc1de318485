/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Building, indexing and publishing region tables. */
#include <stdlib.h>

#include "space/table.h"

struct table *table_alloc(size_t count)
{
	struct table *t = calloc(1, sizeof(*t) + count * sizeof(struct slot));

	if (!t)
		return NULL;
	t->by_host = calloc(count ? count : 1, sizeof(*t->by_host));
	if (!t->by_host) {
		free(t);
		return NULL;
	}
	t->count = count;
	return t;
}

static int cmp_host(const void *a, const void *b, void *ctx)
{
	const struct table *t = ctx;
	const uint8_t *ha = t->slots[*(const uint32_t *)a].host;
	const uint8_t *hb = t->slots[*(const uint32_t *)b].host;

	return ha < hb ? -1 : ha > hb;
}

/* Slots without a fixed host address sort first and are never matched. */
void table_index_hosts(struct table *t)
{
	for (size_t i = 0; i < t->count; i++)
		t->by_host[i] = (uint32_t)i;
	qsort_r(t->by_host, t->count, sizeof(*t->by_host), cmp_host, t);
}

const struct slot *table_lookup_host(const struct table *t, const void *host)
{
	const uint8_t *p = host;
	size_t lo = 0, hi = t->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct slot *s = &t->slots[t->by_host[mid]];

		if (!s->host)
			lo = mid + 1;
		else if (p < s->host)
			hi = mid;
		else if ((uint64_t)(p - s->host) > s->last - s->gpa)
			lo = mid + 1;
		else
			return s;
	}
	return NULL;
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
	size_t lo = 0, hi = t->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->slots[mid].last < gpa)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void table_publish(struct vmmem *m, struct table *t)
{
	struct table *old = m->table;

	__atomic_store_n(&m->table, t, __ATOMIC_RELEASE);
	if (old) {
		urcu_bp_synchronize_rcu();
		free(old->by_host);
		free(old);
	}
}
