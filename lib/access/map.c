/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Pinned direct access, in the manner of QEMU's address_space_map(). */
#include "dirty/dirty.h"
#include "space/table.h"

#define MAP_FLAGS (VMMEM_MAP_READ | VMMEM_MAP_WRITE)

VMMEM_EXPORT int vmmem_map(struct vmmem *m, uint64_t gpa, uint64_t *len,
			   unsigned int flags, void **host)
{
	const struct slot *s;
	int ret = 0;

	if (!m || !len || !host || !*len || !flags || (flags & ~MAP_FLAGS) ||
	    range_wraps(gpa, *len))
		return -EINVAL;
	s = table_lookup(space_enter(m), gpa);
	if (!s) {
		ret = -EFAULT;
	} else if (!s->host) {
		ret = -ENXIO;
	} else {
		region_pin(s->region);
		*len = slot_avail(s, gpa, *len);
		*host = s->host + (gpa - s->gpa);
	}
	space_exit();
	return ret;
}

static struct vmmem_region *find_retired(struct vmmem *m, const uint8_t *p)
{
	struct vmmem_region *found = NULL;

	pthread_mutex_lock(&m->retired_lock);
	for (struct retired *d = m->retired; d && !found; d = d->next) {
		struct vmmem_region *r = d->region;

		if (r->host && p >= r->host && (uint64_t)(p - r->host) < r->size &&
		    region_pins(r))
			found = r;
	}
	pthread_mutex_unlock(&m->retired_lock);
	return found;
}

/* The region is found from the host pointer: first in the current table,
 * then among removed regions still pinned.  Host ranges never overlap
 * inside one struct vmmem (vmmem_add_region refuses it), so the answer is
 * unique.  Bytes written to a removed region are not logged: they are no
 * longer guest memory. */
VMMEM_EXPORT int vmmem_unmap(struct vmmem *m, void *host, uint64_t written)
{
	const struct table *t;
	const struct slot *s;
	struct vmmem_region *r = NULL;
	uint8_t *p = host;
	int ret = 0;

	if (!m || !host)
		return -EINVAL;
	t = space_enter(m);
	s = table_lookup_host(t, p);
	if (s && region_pins(s->region)) {
		uint64_t gpa = s->gpa + (uint64_t)(p - s->host);

		if (written && written - 1 > s->last - gpa) {
			ret = -EINVAL;
		} else {
			dirty_note(t, s, gpa, written);
			r = s->region;
		}
	}
	space_exit();
	if (ret)
		return ret;
	if (!r) {
		r = find_retired(m, p);
		if (!r)
			return -ENOENT;
		if (written && written > r->size - (uint64_t)(p - r->host))
			return -EINVAL;
	}
	region_unpin(r);
	return 0;
}
