/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* struct vmmem: creation, destruction and the queries on its region table. */
#include <stdlib.h>

#include "access/ring.h"
#include "dirty/dirty.h"
#include "space/table.h"

VMMEM_EXPORT int vmmem_new(struct vmmem **out, unsigned int flags)
{
	struct vmmem *m;

	if (!out || flags)
		return -EINVAL;
	if (space_register_atfork())
		return -ENOMEM;
	/* The mapping buckets are cache-line aligned, so the object is too. */
	if (posix_memalign((void **)&m, 64, sizeof(*m)))
		return -ENOMEM;
	memset(m, 0, sizeof(*m));
	m->table = table_alloc(0);
	if (!m->table) {
		free(m);
		return -ENOMEM;
	}
	pthread_mutex_init(&m->lock, NULL);
	pthread_mutex_init(&m->switch_lock, NULL);
	maps_init(m);
	*out = m;
	return 0;
}

void space_destroy(struct vmmem *m)
{
	struct table *t = m->table;

	for (size_t i = 0; i < t->count; i++)
		vmmem_region_unref(t->slots[i].region);
	rings_release(m);
	log_free(t->log, true);
	dirty_shared_release(m);
	maps_release(m);
	free(t);
	pthread_mutex_destroy(&m->lock);
	pthread_mutex_destroy(&m->switch_lock);
	free(m);
}

/* Freeing while other threads still access mem is the caller's bug, as with
 * free(3); so is using a vmmem_map() pointer after it. */
VMMEM_EXPORT void vmmem_free(struct vmmem *m)
{
	if (!m)
		return;
	/* Old tables still waiting for their grace period hold references
	 * to regions: release them before returning, as a caller expects.
	 * Where that wait would never end (inside a read-side section, in a
	 * release callback), the last of those tables frees the space. */
	if (space_cannot_wait()) {
		if (__atomic_fetch_or(&m->retiring, RETIRING_FREED,
				      __ATOMIC_ACQ_REL))
			return;
	} else if (__atomic_load_n(&m->retiring, __ATOMIC_ACQUIRE)) {
		reclaim_wait();
	}
	space_destroy(m);
}

VMMEM_EXPORT int vmmem_find_region(struct vmmem *m, uint64_t gpa,
				   struct vmmem_region **region,
				   uint64_t *offset)
{
	const struct slot *s;
	int ret = -EFAULT;

	if (!m)
		return -EINVAL;
	s = table_lookup(space_enter(m), gpa);
	if (s) {
		if (region)
			*region = vmmem_region_ref(s->region);
		if (offset)
			*offset = gpa - s->gpa;
		ret = 0;
	}
	space_exit();
	return ret;
}

VMMEM_EXPORT int vmmem_num_regions(struct vmmem *m)
{
	int n;

	if (!m)
		return -EINVAL;
	n = (int)space_enter(m)->count;
	space_exit();
	return n;
}

VMMEM_EXPORT int vmmem_last_addr(struct vmmem *m, uint64_t *last)
{
	const struct table *t;
	int ret = -ENOENT;

	if (!m || !last)
		return -EINVAL;
	t = space_enter(m);
	if (t->count) {
		*last = t->slots[t->count - 1].last;
		ret = 0;
	}
	space_exit();
	return ret;
}

VMMEM_EXPORT int vmmem_check_range(struct vmmem *m, uint64_t gpa, uint64_t len)
{
	uint64_t backed;

	if (!m || range_wraps(gpa, len))
		return -EINVAL;
	if (!len)
		return 0;
	backed = table_backed(space_enter(m), gpa, len);
	space_exit();
	return backed == len ? 0 : -EFAULT;
}

/* The callback runs outside the read-side section, on references taken from
 * one snapshot, so it may call anything, hotplug included. */
VMMEM_EXPORT int vmmem_foreach_region(struct vmmem *m, vmmem_region_fn fn,
				      void *opaque)
{
	/* Not struct slot: a copy needs only these two, and a slot's
	 * cache-line alignment is more than malloc guarantees. */
	struct placed {
		uint64_t gpa;
		struct vmmem_region *region;
	} *snap;
	const struct table *t;
	size_t n;
	int ret = 0;

	if (!m || !fn)
		return -EINVAL;
	t = space_enter(m);
	n = t->count;
	snap = malloc((n ? n : 1) * sizeof(*snap));
	if (!snap) {
		space_exit();
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		snap[i].gpa = t->slots[i].gpa;
		snap[i].region = vmmem_region_ref(t->slots[i].region);
	}
	space_exit();

	for (size_t i = 0; i < n && !ret; i++)
		ret = fn(snap[i].gpa, snap[i].region, opaque);
	for (size_t i = 0; i < n; i++)
		vmmem_region_unref(snap[i].region);
	free(snap);
	return ret;
}
