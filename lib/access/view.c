/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Views of slots without a host address: pins of their on-demand mappings. */
#include "access/view.h"
#include "xen/mapcache.h"

int64_t view_begin_pinned(const struct slot *s, uint64_t gpa, uint64_t n,
			  bool write, enum view_cover cover, struct view *v)
{
	struct vmmem_region *r = s->region;
	uint64_t off = gpa - s->gpa;
	int ret;

	if (!r->cache || (write && r->readonly))
		return -EACCES;
	n = mapcache_span(r->cache, off, n);
	ret = mapcache_pin(r->cache, off, n, write, PIN_BUCKET, &v->p, &v->pin);
	if (ret && cover == COVER_SOME &&
	    (off & (MAPCACHE_PAGE_SIZE - 1)) + n > MAPCACHE_PAGE_SIZE) {
		/* A page further on may be the one the guest did not grant:
		 * the first page alone lets a partial access get that far. */
		n = MAPCACHE_PAGE_SIZE - (off & (MAPCACHE_PAGE_SIZE - 1));
		ret = mapcache_pin(r->cache, off, n, write, PIN_RETRY, &v->p,
				   &v->pin);
	}
	if (ret)
		return ret;
	v->region = r;
	return (int64_t)n;
}

void view_end_pinned(struct view *v)
{
	mapcache_unpin(v->region->cache, v->pin);
	v->pin = NULL;
}

int range_check(const struct table *t, uint64_t gpa, uint64_t len, bool write,
		bool *direct)
{
	uint64_t done = 0;

	*direct = true;
	while (done < len) {
		const struct slot *s = table_lookup(t, gpa + done);

		if (!s)
			return -EFAULT;
		if (write && !slot_writable(s))
			return -EACCES;
		if (!(write ? s->whost : s->host))
			*direct = false;
		done += slot_avail(s, gpa + done, len - done);
	}
	return 0;
}
