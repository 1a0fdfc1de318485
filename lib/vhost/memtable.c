/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* VHOST_USER_SET_MEM_TABLE: the whole table replaced in one publication.
 *
 * A region the message repeats (same four fields, same file) keeps its
 * slot as it is: its region object, mapping, vmmem_map() pins and dirty
 * log.  QEMU resends an unchanged table at every device start, which then
 * costs one fstat() per region and publishes nothing.  Every other region of
 * the space leaves with the old table, after a grace period, so an access
 * in flight sees either table whole. */
#include <stdlib.h>

#include "dirty/dirty.h"
#include "vhost/vhost.h"

/* What a call has made and must undo if it fails. */
struct build {
	size_t *order;                /* message index of each new slot */
	bool *fresh;                  /* new slot i made by this call */
	bool *kept;                   /* old slot i repeated by the message */
	size_t count;                 /* regions of the message */
};

/* The message's regions by guest address (insertion sort: at most
 * VMMEM_VHOST_MAX_REGIONS, and QEMU sends them in order). */
static void sort_by_gpa(const struct vmmem_vhost_region *vr, size_t count,
			size_t *order)
{
	for (size_t i = 0; i < count; i++) {
		size_t j;

		for (j = i; j && vr[order[j - 1]].guest_phys_addr >
				 vr[i].guest_phys_addr; j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
}

/* The old table's slot the message repeats as vr from fd (*same, or NULL),
 * or -errno. */
static int repeated(const struct table *old, const struct vmmem_vhost_region *vr,
		    int fd, const struct slot **same)
{
	const struct slot *s = table_lookup(old, vr->guest_phys_addr);
	int ret = s ? vhost_slot_same(s, vr, fd) : 0;

	*same = ret > 0 ? s : NULL;
	return ret < 0 ? ret : 0;
}

/* Fills t's slots from the message, sorted by guest address, reusing the
 * old table's where it can. */
static int fill(struct table *t, const struct table *old, struct build *b,
		const struct vmmem_vhost_region *vr, const int *fds,
		const struct vmmem_region_opts *opts)
{
	for (size_t k = 0; k < t->count; k++) {
		size_t i = b->order[k];
		struct slot *s = &t->slots[k];
		const struct slot *same;
		int ret = repeated(old, &vr[i], fds[i], &same);

		if (ret)
			return ret;
		if (same) {
			*s = *same;
			b->kept[same - old->slots] = true;
			continue;
		}
		ret = vhost_slot_new(s, &vr[i], fds[i], opts);
		if (ret)
			return ret;
		b->fresh[k] = true;
	}
	return 0;
}

static bool overlaps(struct table *t)
{
	for (size_t k = 1; k < t->count; k++)
		if (t->slots[k - 1].last >= t->slots[k].gpa)
			return true;
	return table_index_uaddr(t);
}

/* Whether the message repeats every region of old and nothing else (each
 * of its regions is new or keeps one of old). */
static bool unchanged(const struct table *old, const struct build *b)
{
	size_t kept = 0;

	for (size_t j = 0; j < old->count; j++)
		kept += b->kept[j];
	return kept == old->count && kept == b->count;
}

static int replace(struct vmmem *m, struct build *b,
		   const struct vmmem_vhost_region *vr, const int *fds,
		   size_t count, const struct vmmem_region_opts *opts)
{
	struct table *old = m->table, *t = table_alloc(count);
	int ret;

	if (!t)
		return -ENOMEM;
	/* Overlaps first, from the addresses alone: nothing mapped yet. */
	for (size_t k = 0; k < count; k++) {
		const struct vmmem_vhost_region *r = &vr[b->order[k]];

		t->slots[k] = (struct slot){
			.gpa = r->guest_phys_addr,
			.last = r->guest_phys_addr + (r->memory_size - 1),
			.uaddr = r->userspace_addr, .has_uaddr = true };
	}
	ret = overlaps(t) ? -EEXIST : fill(t, old, b, vr, fds, opts);
	if (!ret && unchanged(old, b))  /* QEMU's resend at device start */
		goto drop_new;
	if (!ret && dirty_follow(t, old))
		ret = -ENOMEM;
	if (ret)
		goto drop_new;
	/* The space's references: a kept slot's moves to the new table,
	 * a fresh one's is the one vhost_slot_new() made. */
	for (size_t j = 0; j < old->count; j++)
		if (!b->kept[j])
			table_drop_slot(old, j);
	table_publish(m, t);
	return 0;

drop_new:
	for (size_t k = 0; k < count; k++)
		if (b->fresh[k])
			vmmem_region_unref(t->slots[k].region);
	free(t);
	return ret;
}

VMMEM_EXPORT int vmmem_vhost_set_mem_table(struct vmmem *m,
					   const struct vmmem_vhost_region *vr,
					   const int *fds, size_t count,
					   const struct vmmem_region_opts *opts)
{
	struct build b;
	size_t old_count;
	void *scratch;
	int ret;

	if (!m || (count && (!vr || !fds)))
		return -EINVAL;
	if (count > VMMEM_VHOST_MAX_REGIONS)
		return -E2BIG;
	for (size_t i = 0; i < count; i++) {
		ret = vhost_region_check(&vr[i]);
		if (ret)
			return ret;
		if (fds[i] < 0)
			return -EBADF;
	}
	ret = reclaim_admit();
	if (ret)
		return ret;
	pthread_mutex_lock(&m->lock);
	old_count = m->table->count;
	scratch = calloc(1, count * (sizeof(size_t) + sizeof(bool)) +
			    old_count * sizeof(bool) + 1);
	ret = -ENOMEM;
	if (scratch) {
		b.order = scratch;
		b.fresh = (bool *)(b.order + count);
		b.kept = b.fresh + count;
		b.count = count;
		sort_by_gpa(vr, count, b.order);
		ret = replace(m, &b, vr, fds, count, opts);
		free(scratch);
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}
