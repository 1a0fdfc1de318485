/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The mappings of a region mapped on demand (Xen grants with
 * NO_ADVANCE_MAP), in one of two modes.
 *
 * Transient (the default): a pin maps exactly the pages it covers, up to
 * MAPCACHE_BATCH_PAGES of them, in one call, and its unpin unmaps them in
 * one call.  Nothing is shared or kept, so no page stays mapped once no
 * access or vmmem_map() uses it: a guest can end its grant right after.
 * The lock is taken only to count, never across a map or unmap call.
 *
 * Kept (the cache option), in the manner of QEMU's xen-mapcache:
 * the region is cut into buckets of MAPCACHE_BUCKET_PAGES pages.  An entry
 * maps pages of one bucket, read-only or read-write; a miss maps the whole
 * bucket in one call, or just the pages asked for if the whole bucket cannot
 * be mapped (a guest grants what it wants, not whole buckets).  An entry in
 * use is pinned and never unmapped; the others are unmapped least recently
 * used first whenever the cache holds more than its bound.  Reads take any
 * entry; writes only read-write ones.
 *
 * The mapper is a pair of callbacks, so the cache knows nothing of Xen and
 * the unit tests can drive it with plain mmap. */
#ifndef VMMEM_MAPCACHE_H
#define VMMEM_MAPCACHE_H

#include "vmmem-private.h"

#define MAPCACHE_PAGE_SHIFT    12
#define MAPCACHE_PAGE_SIZE     (1ull << MAPCACHE_PAGE_SHIFT)
#define MAPCACHE_BUCKET_PAGES  16u
#define MAPCACHE_DEFAULT_PAGES 8192u
#define MAPCACHE_BATCH_PAGES   256u  /* most pages of one transient pin */

struct mapcache_ops {
	/* Maps pages [first, first + count) of the region; on failure
	 * returns NULL with a negative errno in *err. */
	void *(*map)(void *ctx, uint64_t first, size_t count, bool writable,
		     int *err);
	void (*unmap)(void *ctx, void *addr, size_t count);
};

struct mapcache;
struct mc_entry;

/* keep: the cache mode, holding at most max_pages unpinned pages;
 * otherwise transient (max_pages unused). */
int mapcache_new(struct mapcache **out, const struct mapcache_ops *ops,
		 void *ctx, uint64_t pages, bool keep, size_t max_pages);
/* Unmaps every entry, pinned ones too: the region is going away. */
void mapcache_free(struct mapcache *c);

/* How much of [offset, offset + len) one pin can cover: up to the end of
 * offset's bucket (kept), or MAPCACHE_BATCH_PAGES pages (transient). */
uint64_t mapcache_span(const struct mapcache *c, uint64_t offset,
		       uint64_t len);

enum pin_mode {
	PIN_BUCKET,     /* kept: a miss maps the whole bucket, else the pages;
			 * transient: the pages */
	PIN_RETRY,      /* after a failed PIN_BUCKET: just the pages */
};

/* Pins a mapping of [offset, offset + len), which must lie within what
 * mapcache_span() allows; *host points at offset.  Returns 0 or the
 * mapper's negative errno. */
int mapcache_pin(struct mapcache *c, uint64_t offset, uint64_t len,
		 bool write, enum pin_mode mode, uint8_t **host,
		 struct mc_entry **pin);
void mapcache_unpin(struct mapcache *c, struct mc_entry *pin);

/* Drops every mapping: unpinned ones now, pinned ones at their last unpin
 * (transient ones are never shared: each goes at its own unpin).
 * No pin taken afterwards gets one of them. */
void mapcache_invalidate(struct mapcache *c);
void mapcache_stats(struct mapcache *c, struct vmmem_xen_cache_stats *st);

#endif
