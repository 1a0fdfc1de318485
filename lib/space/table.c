/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Building, indexing and publishing region tables. */
#include <stdlib.h>

#include "dirty/log.h"
#include "space/table.h"

__thread struct lookup_hint space_hint;

struct table *table_alloc(size_t count)
{
	size_t span = count ? 1 : 0, bytes;
	struct table *t;

	while (span < count)
		span *= 2;
	bytes = sizeof(struct table) + span * sizeof(struct slot);
	if (posix_memalign((void **)&t, 64, bytes))
		return NULL;
	memset(t, 0, bytes);
	t->count = count;
	t->span = span;
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

/* Whether any table was ever handed to call_rcu. */
static bool retired_any;

static void table_reclaim(struct rcu_head *head)
{
	struct table *t = caa_container_of(head, struct table, rcu);

	log_free(t->log, false);
	vmmem_region_unref(t->drop_region);
	/* The last touch of the owner: vmmem_free() may free it once the
	 * count is down. */
	if (t->owner)
		__atomic_sub_fetch(&t->owner->retiring, 1, __ATOMIC_RELEASE);
	free(t);
}

/* Callbacks still queued are this library's code: they must have run
 * before it is unloaded (dlclose) or the process ends (the memory they
 * free would be reported as leaked).  A process that never hotplugged
 * does not wait. */
__attribute__((destructor)) static void space_unload(void)
{
	/* Not the count: a callback that brought it to zero may still be
	 * returning through this library's code.  Only the barrier knows. */
	if (__atomic_load_n(&retired_any, __ATOMIC_ACQUIRE))
		urcu_bp_barrier();
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

static struct table *table_swap(struct vmmem *m, struct table *t)
{
	struct table *old = m->table;

	__atomic_store_n(&m->table, t, __ATOMIC_RELEASE);
	__atomic_store_n(&m->big_table, t->count >= LOOKUP_HINT_MIN,
			 __ATOMIC_RELAXED);
	if (m->logging != t->marking)
		__atomic_store_n(&m->logging, t->marking, __ATOMIC_RELEASE);
	return old;
}

struct table *table_publish_wait(struct vmmem *m, struct table *t)
{
	struct table *old = table_swap(m, t);

	urcu_bp_synchronize_rcu();
	return old;
}

void table_free(struct table *t)
{
	table_reclaim(&t->rcu);
}

void table_publish(struct vmmem *m, struct table *t)
{
	struct table *old = table_swap(m, t);

	if (old) {
		/* Only a table holding a region's last place in the space
		 * makes vmmem_free() wait: the caller may expect that
		 * region released when it returns. */
		if (old->drop_region) {
			old->owner = m;
			__atomic_add_fetch(&m->retiring, 1, __ATOMIC_RELAXED);
		}
		__atomic_store_n(&retired_any, true, __ATOMIC_RELEASE);
		urcu_bp_call_rcu(&old->rcu, table_reclaim);
	}
}
