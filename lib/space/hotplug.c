/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Adding and removing regions while other threads access guest memory. */
#include <stdlib.h>

#include "dirty/dirty.h"
#include "space/table.h"

static bool host_overlap(const struct vmmem_region *a,
			 const struct vmmem_region *b)
{
	if (!a->host || !b->host)
		return false;
	return a->host < b->host + b->size && b->host < a->host + a->size;
}

/* Removed regions no mapping pins any more are dropped.  Only called under
 * vmmem->lock, when every earlier removal has completed its grace period,
 * so no reader can still pin a region through an old table. */
static void retired_prune(struct vmmem *m)
{
	struct retired **pp = &m->retired, *dead = NULL;

	pthread_mutex_lock(&m->retired_lock);
	while (*pp) {
		struct retired *r = *pp;

		if (region_pins(r->region)) {
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		r->next = dead;
		dead = r;
	}
	pthread_mutex_unlock(&m->retired_lock);
	while (dead) {
		struct retired *r = dead;

		dead = r->next;
		vmmem_region_unref(r->region);
		free(r);
	}
}

static int check_placement(struct vmmem *m, const struct table *t,
			   uint64_t gpa, const struct vmmem_region *r,
			   size_t *pos)
{
	uint64_t last = gpa + (r->size - 1);
	size_t i = 0;
	int ret = 0;

	while (i < t->count && t->slots[i].gpa <= gpa)
		i++;
	if ((i > 0 && t->slots[i - 1].last >= gpa) ||
	    (i < t->count && t->slots[i].gpa <= last))
		return -EEXIST;
	for (size_t j = 0; j < t->count; j++)
		if (t->slots[j].region == r || host_overlap(t->slots[j].region, r))
			return -EBUSY;
	pthread_mutex_lock(&m->retired_lock);
	for (struct retired *d = m->retired; d; d = d->next)
		if (d->region != r && host_overlap(d->region, r))
			ret = -EBUSY;
	pthread_mutex_unlock(&m->retired_lock);
	*pos = i;
	return ret;
}

VMMEM_EXPORT int vmmem_add_region(struct vmmem *m, uint64_t gpa,
				  struct vmmem_region *r)
{
	struct table *old, *t;
	struct slot *s;
	size_t pos;
	int ret;

	if (!m || !r || range_wraps(gpa, r->size))
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	retired_prune(m);
	old = m->table;
	ret = check_placement(m, old, gpa, r, &pos);
	if (ret)
		goto out;
	ret = -ENOMEM;
	if (old->count >= UINT32_MAX || !(t = table_alloc(old->count + 1)))
		goto out;
	t->dirty_shift = old->dirty_shift;
	memcpy(t->slots, old->slots, pos * sizeof(*s));
	memcpy(t->slots + pos + 1, old->slots + pos,
	       (old->count - pos) * sizeof(*s));
	s = &t->slots[pos];
	*s = (struct slot){ .gpa = gpa, .last = gpa + (r->size - 1),
			    .host = r->host, .region = r };
	if (t->dirty_shift && !(s->dirty = dirty_log_new(s, t->dirty_shift))) {
		free(t->by_host);
		free(t);
		goto out;
	}
	table_index_hosts(t);
	vmmem_region_ref(r);
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
	struct table *old, *t;
	struct retired *ret_entry;
	struct slot gone;
	size_t pos;
	int ret = -ENOENT;

	if (!m || !size || range_wraps(gpa, size))
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	old = m->table;
	for (pos = 0; pos < old->count; pos++)
		if (old->slots[pos].gpa == gpa &&
		    old->slots[pos].last == gpa + (size - 1))
			break;
	if (pos == old->count)
		goto out;
	ret = -ENOMEM;
	ret_entry = malloc(sizeof(*ret_entry));
	t = table_alloc(old->count - 1);
	if (!ret_entry || !t) {
		free(ret_entry);
		if (t)
			free(t->by_host);
		free(t);
		goto out;
	}
	gone = old->slots[pos];
	t->dirty_shift = old->dirty_shift;
	memcpy(t->slots, old->slots, pos * sizeof(gone));
	memcpy(t->slots + pos, old->slots + pos + 1,
	       (old->count - pos - 1) * sizeof(gone));
	table_index_hosts(t);

	/* Retired before the new table is visible, so an unmap racing with
	 * the removal always finds the region in one place or the other; the
	 * table's reference moves to the retired entry. */
	ret_entry->region = gone.region;
	pthread_mutex_lock(&m->retired_lock);
	ret_entry->next = m->retired;
	m->retired = ret_entry;
	pthread_mutex_unlock(&m->retired_lock);

	table_publish(m, t);
	free(gone.dirty);
	if (removed)
		*removed = vmmem_region_ref(gone.region);
	retired_prune(m);
	ret = 0;
out:
	pthread_mutex_unlock(&m->lock);
	return ret;
}
