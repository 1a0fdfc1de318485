/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Adding and removing regions while other threads access guest memory.
 *
 * A writer copies the table with the change applied and publishes the copy
 * (table_publish); a removed region keeps the address space's reference
 * until the old table is reclaimed after a grace period, so readers still on
 * it never see its memory go.  Mappings from vmmem_map() hold references of
 * their own. */
#include <stdlib.h>

#include "dirty/dirty.h"
#include "space/table.h"

/* Index at which a region at gpa goes, or -EEXIST when it would overlap. */
static int insert_pos(const struct table *t, uint64_t gpa, uint64_t last,
		      size_t *pos)
{
	size_t i = table_first_from(t, gpa);

	if (i < t->count && t->slots[i].gpa <= last)
		return -EEXIST;
	*pos = i;
	return 0;
}

int space_insert(struct vmmem *m, const struct slot *proto, size_t max_count)
{
	struct table *old, *t;
	struct slot *s;
	size_t pos;
	int ret = reclaim_admit();

	if (ret)
		return ret;
	pthread_mutex_lock(&m->lock);
	old = m->table;
	ret = insert_pos(old, proto->gpa, proto->last, &pos);
	if (ret)
		goto out;
	ret = -ENOSPC;
	if (old->count >= max_count)
		goto out;
	ret = -ENOMEM;
	if (!(t = table_alloc(old->count + 1)))
		goto out;
	memcpy(t->slots, old->slots, pos * sizeof(*s));
	memcpy(t->slots + pos + 1, old->slots + pos,
	       (old->count - pos) * sizeof(*s));
	s = &t->slots[pos];
	*s = *proto;
	if (proto->has_uaddr && table_index_uaddr(t)) {
		free(t);
		ret = -EEXIST;
		goto out;
	}
	if (dirty_follow(t, old)) {
		free(t);
		goto out;
	}
	vmmem_region_ref(s->region);
	table_publish(m, t);
	ret = 0;
out:
	pthread_mutex_unlock(&m->lock);
	return ret;
}

VMMEM_EXPORT int vmmem_add_region(struct vmmem *m, uint64_t gpa,
				  struct vmmem_region *r)
{
	struct slot proto;

	if (!m || !r || range_wraps(gpa, r->size))
		return -EINVAL;
	slot_init(&proto, gpa, r);
	return space_insert(m, &proto, SIZE_MAX);
}

int space_remove(struct vmmem *m, uint64_t gpa, uint64_t size,
		 const uint64_t *uaddr, struct vmmem_region **removed)
{
	struct table *old, *t;
	const struct slot *gone;
	size_t pos;
	int ret = reclaim_admit();

	if (ret)
		return ret;
	ret = -ENOENT;
	pthread_mutex_lock(&m->lock);
	old = m->table;
	pos = table_first_from(old, gpa);
	gone = &old->slots[pos];
	if (pos == old->count || gone->gpa != gpa ||
	    gone->last != gpa + (size - 1) ||
	    (uaddr && (!gone->has_uaddr || gone->uaddr != *uaddr)))
		goto out;
	ret = -ENOMEM;
	if (!(t = table_alloc(old->count - 1)))
		goto out;
	memcpy(t->slots, old->slots, pos * sizeof(*gone));
	memcpy(t->slots + pos, old->slots + pos + 1,
	       (old->count - pos - 1) * sizeof(*gone));
	if (dirty_follow(t, old)) {
		free(t);
		goto out;
	}
	if (removed)
		*removed = vmmem_region_ref(gone->region);
	/* Readers still on the old table may copy from the region: the
	 * address space's reference goes with that table. */
	table_drop_slot(old, pos);
	table_publish(m, t);
	ret = 0;
out:
	pthread_mutex_unlock(&m->lock);
	return ret;
}

VMMEM_EXPORT int vmmem_remove_region(struct vmmem *m, uint64_t gpa,
				     uint64_t size,
				     struct vmmem_region **removed)
{
	if (!m || !size || range_wraps(gpa, size))
		return -EINVAL;
	return space_remove(m, gpa, size, NULL, removed);
}
