/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Xen regions: the entry points of a build with the Xen libraries.  The
 * mappings themselves are in foreign.c and grant.c; UNIX regions are plain
 * fd mappings. */
#include <stdarg.h>
#include <xentoollog.h>

#include "xen/mapcache.h"
#include "xen/backend.h"

static void silent_vmessage(struct xentoollog_logger *logger,
			    xentoollog_level level, int errnoval,
			    const char *context, const char *format,
			    va_list al)
{
}

static void silent_progress(struct xentoollog_logger *logger,
			    const char *context, const char *doing_what,
			    int percent, unsigned long done,
			    unsigned long total)
{
}

static void silent_destroy(struct xentoollog_logger *logger)
{
}

struct xentoollog_logger *xen_silent_logger(void)
{
	static struct xentoollog_logger silent = {
		.vmessage = silent_vmessage,
		.progress = silent_progress,
		.destroy = silent_destroy,
	};

	return &silent;
}

static int unix_new(struct vmmem_region **out, uint64_t size,
		    const struct vmmem_xen_opts *o)
{
	struct vmmem_region_opts ro = {
		.sz = sizeof(ro),
		.flags = VMMEM_REGION_FD,
		.fd = o->fd,
		.offset = o->offset,
	};

	return region_new_mapped(out, size, &ro, o->flags & VMMEM_XEN_READONLY);
}

VMMEM_EXPORT int vmmem_region_new_xen(struct vmmem_region **out, uint64_t size,
				      const struct vmmem_xen_opts *opts)
{
	struct vmmem_region *r;
	struct vmmem_xen_opts o;
	int ret;

	if (!out || !size || !opts)
		return -EINVAL;
	ret = xen_opts_load(&o, size, opts);
	if (ret)
		return ret;
	if (o.xen_flags == VMMEM_XEN_UNIX) {
		ret = unix_new(&r, size, &o);
	} else if (o.xen_flags == VMMEM_XEN_FOREIGN) {
		ret = xen_foreign_new(&r, size, &o);
	} else {
		ret = xen_grant_new(&r, size, &o);
	}
	if (ret)
		return ret;
	r->xen = true;
	r->xen_domid = o.domid;
	r->xen_flags = o.xen_flags;
	r->xen_opts_flags = o.flags;
	*out = r;
	return 0;
}

VMMEM_EXPORT int vmmem_region_xen(const struct vmmem_region *r,
				  uint32_t *domid, uint32_t *xen_flags)
{
	if (!r || !domid || !xen_flags)
		return -EINVAL;
	if (!r->xen)
		return -ENOENT;
	*domid = r->xen_domid;
	*xen_flags = r->xen_flags;
	return 0;
}

VMMEM_EXPORT int vmmem_region_xen_invalidate(struct vmmem_region *r)
{
	if (!r)
		return -EINVAL;
	if (!r->cache)
		return -ENOENT;
	mapcache_invalidate(r->cache);
	return 0;
}

/* Filled up to the caller's sz: an older caller's shorter struct gets what
 * it knows of, a newer caller's longer one zeroes past what this build has. */
VMMEM_EXPORT int vmmem_region_xen_cache_stats(const struct vmmem_region *r,
					      struct vmmem_xen_cache_stats *stats)
{
	struct vmmem_xen_cache_stats st;
	size_t sz;

	if (!r || !stats || stats->sz < XEN_STATS_MIN_SZ)
		return -EINVAL;
	if (!r->cache)
		return -ENOENT;
	sz = stats->sz;
	mapcache_stats(r->cache, &st);
	if (sz > sizeof(st))
		memset((char *)stats + sizeof(st), 0, sz - sizeof(st));
	memcpy(stats, &st, sz < sizeof(st) ? sz : sizeof(st));
	stats->sz = sz;
	return 0;
}
