/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Pinned direct access, in the manner of QEMU's address_space_map().
 *
 * Every mapping is recorded, keyed by the pointer handed out: the record
 * holds a reference on the region (so the memory outlives a removal), and
 * lets vmmem_unmap() check what the caller declares written against what it
 * mapped.  Records live in hash buckets with a lock each, so threads mapping
 * different buffers rarely meet; the plain access paths take no lock. */
#include <stdlib.h>

#include "access/view.h"
#include "access/map.h"
#include "dirty/dirty.h"
#include "space/table.h"

#define MAP_FLAGS (VMMEM_MAP_READ | VMMEM_MAP_WRITE)

struct mapping {
	struct mapping *next;
	uint8_t *host;
	uint64_t gpa;
	uint64_t len;
	unsigned int flags;
	struct vmmem_region *region;
	uint64_t region_gpa;          /* where the region was placed */
	struct view view;             /* pins a region mapped on demand */
};

static struct map_bucket *bucket_of(struct vmmem *m, const void *host)
{
	uintptr_t h = (uintptr_t)host;

	h ^= h >> 12;
	h ^= h >> 24;
	return &m->maps[h % MAP_BUCKETS];
}

/* Pins up to *len bytes at gpa (fewer where the region ends): the record
 * vmmem_map() files, which a ring (access/ring.c) keeps to itself. */
struct mapping *map_pin(struct vmmem *m, uint64_t gpa, uint64_t *len,
			unsigned int flags, int *err)
{
	struct mapping *rec;
	const struct slot *s;
	int ret = 0;

	if (!m || !len || !*len || !flags || (flags & ~MAP_FLAGS) ||
	    range_wraps(gpa, *len)) {
		*err = -EINVAL;
		return NULL;
	}
	rec = malloc(sizeof(*rec));
	if (!rec) {
		*err = -ENOMEM;
		return NULL;
	}
	s = table_lookup(space_enter(m), gpa);
	if (!s) {
		ret = -EFAULT;
	} else {
		int64_t n = view_begin(s, gpa, *len, flags & VMMEM_MAP_WRITE,
				       COVER_SOME, &rec->view);

		if (n < 0) {
			ret = (int)n;
		} else {
			rec->host = rec->view.p;
			rec->gpa = gpa;
			rec->len = (uint64_t)n;
			rec->flags = flags;
			rec->region = vmmem_region_ref(s->region);
			rec->region_gpa = s->gpa;
		}
	}
	space_exit();
	if (ret) {
		free(rec);
		*err = ret;
		return NULL;
	}
	*len = rec->len;
	return rec;
}

void map_unpin(struct mapping *rec)
{
	view_end(&rec->view);
	vmmem_region_unref(rec->region);
	free(rec);
}

uint8_t *map_host(const struct mapping *rec)
{
	return rec->host;
}

VMMEM_EXPORT int vmmem_map(struct vmmem *m, uint64_t gpa, uint64_t *len,
			   unsigned int flags, void **host)
{
	struct map_bucket *b;
	struct mapping *rec;
	int ret;

	if (!host)
		return -EINVAL;
	rec = map_pin(m, gpa, len, flags, &ret);
	if (!rec)
		return ret;
	b = bucket_of(m, rec->host);
	pthread_mutex_lock(&b->lock);
	rec->next = b->head;
	b->head = rec;
	pthread_mutex_unlock(&b->lock);
	*host = rec->host;
	return 0;
}

/* The same GPA mapped twice mostly gives the same pointer (a region mapped
 * on demand may give a read and a write mapping different ones).  Of the records of that
 * pointer the one taken is the least capable that can account for the
 * bytes written: read-only records first (they only take 0), then the
 * shortest writable one that is long enough.  The capabilities nest, so no
 * order of unmaps leaves a record that nothing can end. */
static struct mapping *take_record(struct map_bucket *b, const uint8_t *host,
				   uint64_t written, bool *found_any)
{
	struct mapping **pp, **best = NULL, *rec;

	*found_any = false;
	for (pp = &b->head; (rec = *pp); pp = &rec->next) {
		bool writable = rec->flags & VMMEM_MAP_WRITE;

		if (rec->host != host)
			continue;
		*found_any = true;
		if (written > rec->len || (written && !writable))
			continue;
		if (!best || (!writable && ((*best)->flags & VMMEM_MAP_WRITE)) ||
		    (writable == !!((*best)->flags & VMMEM_MAP_WRITE) &&
		     rec->len < (*best)->len))
			best = pp;
	}
	if (!best)
		return NULL;
	rec = *best;
	*best = rec->next;
	return rec;
}

bool map_placed(const struct table *t, const struct mapping *rec,
		const struct slot **slot)
{
	const struct slot *s = table_lookup(t, rec->gpa);

	*slot = s;
	return s && s->region == rec->region && s->gpa == rec->region_gpa;
}

/* Bytes written are logged only while the region is still placed where it
 * was mapped: after a removal they are no longer guest memory. */
void map_log_written(struct vmmem *m, const struct mapping *rec,
		     uint64_t gpa, uint64_t len)
{
	dirty_note_placed(space_enter(m), rec->region, rec->region_gpa, gpa,
			  len);
	space_exit();
}

VMMEM_EXPORT int vmmem_unmap(struct vmmem *m, void *host, uint64_t written)
{
	struct map_bucket *b;
	struct mapping *rec;
	bool found_any;

	if (!m || !host)
		return -EINVAL;
	b = bucket_of(m, host);
	pthread_mutex_lock(&b->lock);
	rec = take_record(b, host, written, &found_any);
	pthread_mutex_unlock(&b->lock);
	if (!rec)
		return found_any ? -EINVAL : -ENOENT;
	if (written)
		map_log_written(m, rec, rec->gpa, written);
	map_unpin(rec);
	return 0;
}

/* vmmem_free() with mappings still open: their records go, and with them
 * the references; using such a pointer afterwards is the caller's bug. */
void maps_release(struct vmmem *m)
{
	for (size_t i = 0; i < MAP_BUCKETS; i++) {
		struct mapping *rec = m->maps[i].head;

		while (rec) {
			struct mapping *next = rec->next;

			map_unpin(rec);
			rec = next;
		}
		pthread_mutex_destroy(&m->maps[i].lock);
	}
}

void maps_init(struct vmmem *m)
{
	for (size_t i = 0; i < MAP_BUCKETS; i++) {
		pthread_mutex_init(&m->maps[i].lock, NULL);
		m->maps[i].head = NULL;
	}
}
