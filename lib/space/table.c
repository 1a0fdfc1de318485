/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Building, indexing and publishing region tables. */
#include <stdlib.h>

#include "space/table.h"

__thread struct lookup_hint space_hint;

struct table *table_alloc(size_t count)
{
	size_t bytes = sizeof(struct table) + count * sizeof(struct slot);
	struct table *t;

	if (posix_memalign((void **)&t, 64, bytes))
		return NULL;
	memset(t, 0, bytes);
	t->count = count;
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

static void table_reclaim(struct rcu_head *head)
{
	struct table *t = caa_container_of(head, struct table, rcu);

	for (size_t i = 0; t->drop_logs && i < t->count; i++)
		free(t->slots[i].dirty);
	free(t->drop_log);
	vmmem_region_unref(t->drop_region);
	free(t);
}

/* liburcu documents call_rcu_{before,after}_fork_* as required around a
 * fork() without exec() in programs that use call_rcu; without them a
 * forked child can wait for ever in vmmem_free.  A library cannot ask its
 * callers for that, so it registers them itself, from vmmem_new, where a
 * failure can be reported; a failed registration is tried again. */
static pthread_mutex_t atfork_lock = PTHREAD_MUTEX_INITIALIZER;
static bool atfork_registered;

int space_register_atfork(void)
{
	int ret = 0;

	pthread_mutex_lock(&atfork_lock);
	if (!atfork_registered) {
		ret = -pthread_atfork(urcu_bp_call_rcu_before_fork,
				      urcu_bp_call_rcu_after_fork_parent,
				      urcu_bp_call_rcu_after_fork_child);
		atfork_registered = !ret;
	}
	pthread_mutex_unlock(&atfork_lock);
	return ret;
}

void table_publish(struct vmmem *m, struct table *t)
{
	struct table *old = m->table;

	__atomic_store_n(&m->table, t, __ATOMIC_RELEASE);
	if (old)
		urcu_bp_call_rcu(&old->rcu, table_reclaim);
}
