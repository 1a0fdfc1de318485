/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The mappings of on-demand regions (see mapcache.h).
 *
 * One mutex per cache.  Kept mode: a hit costs two uncontended lock round
 * trips, a miss a map call, which is microseconds of hypercall work; the
 * lock is held across the map call so that two threads missing on one
 * bucket do not both map it.  Transient mode shares nothing but the
 * counters: the lock is taken once per pin and once per unpin, after the
 * map call and after the unmap call. */
#include <stdlib.h>

#include "xen/mapcache.h"

struct mc_entry {
	struct mc_entry *next;            /* hash chain */
	struct mc_entry *prev_lru, *next_lru; /* LRU list, or the dead list */
	uint64_t first;                   /* first page */
	uint32_t count;                   /* pages */
	bool writable;
	bool dead;                        /* invalidated while pinned */
	unsigned long pins;
	uint8_t *addr;
};

struct lru {
	struct mc_entry *head, *tail;     /* most recent first */
};

struct mapcache {
	pthread_mutex_t lock;
	const struct mapcache_ops *ops;
	void *ctx;
	uint64_t pages;                   /* of the region */
	bool keep;                        /* cache mode, else transient */
	size_t max_pages;
	size_t nchains;                   /* a power of two */
	struct mc_entry **chains;
	struct lru lru;                   /* unpinned live entries */
	struct lru dead;                  /* invalidated, still pinned */
	struct vmmem_xen_cache_stats st;
};

static void lru_unlink(struct lru *l, struct mc_entry *e)
{
	if (e->prev_lru)
		e->prev_lru->next_lru = e->next_lru;
	else
		l->head = e->next_lru;
	if (e->next_lru)
		e->next_lru->prev_lru = e->prev_lru;
	else
		l->tail = e->prev_lru;
	e->prev_lru = e->next_lru = NULL;
}

static void lru_push(struct lru *l, struct mc_entry *e)
{
	e->prev_lru = NULL;
	e->next_lru = l->head;
	if (l->head)
		l->head->prev_lru = e;
	else
		l->tail = e;
	l->head = e;
}

static struct mc_entry **chain_of(struct mapcache *c, uint64_t page)
{
	uint64_t b = page / MAPCACHE_BUCKET_PAGES;

	b ^= b >> 17;
	b *= 0x9e3779b97f4a7c15ull;
	return &c->chains[(b >> 32) & (c->nchains - 1)];
}

int mapcache_new(struct mapcache **out, const struct mapcache_ops *ops,
		 void *ctx, uint64_t pages, bool keep, size_t max_pages)
{
	struct mapcache *c = calloc(1, sizeof(*c));
	size_t want = max_pages / MAPCACHE_BUCKET_PAGES * 2;

	if (!c)
		return -ENOMEM;
	c->nchains = 64;
	while (c->nchains < want && c->nchains < 65536)
		c->nchains *= 2;
	c->chains = calloc(c->nchains, sizeof(*c->chains));
	if (!c->chains) {
		free(c);
		return -ENOMEM;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->ops = ops;
	c->ctx = ctx;
	c->pages = pages;
	c->keep = keep;
	c->max_pages = max_pages;
	*out = c;
	return 0;
}

static void entry_drop(struct mapcache *c, struct mc_entry *e)
{
	c->ops->unmap(c->ctx, e->addr, e->count);
	c->st.mapped_pages -= e->count;
	free(e);
}

static void chain_unlink(struct mapcache *c, struct mc_entry *e)
{
	struct mc_entry **pp = chain_of(c, e->first);

	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
}

/* Unmaps unpinned entries, least recently used first, down to the bound. */
static void evict(struct mapcache *c)
{
	while (c->st.mapped_pages > c->max_pages && c->lru.tail) {
		struct mc_entry *e = c->lru.tail;

		lru_unlink(&c->lru, e);
		chain_unlink(c, e);
		entry_drop(c, e);
		c->st.evictions++;
	}
}

static struct mc_entry *find(struct mapcache *c, uint64_t p0, uint64_t p1,
			     bool write)
{
	for (struct mc_entry *e = *chain_of(c, p0); e; e = e->next)
		if (e->first <= p0 && p1 < e->first + e->count &&
		    (e->writable || !write))
			return e;
	return NULL;
}

static void pin_entry(struct mapcache *c, struct mc_entry *e)
{
	if (e->pins++ == 0) {
		if (!e->dead)
			lru_unlink(&c->lru, e);
		c->st.pinned_pages += e->count;
	}
}

uint64_t mapcache_span(const struct mapcache *c, uint64_t offset,
		       uint64_t len)
{
	uint64_t unit = (c->keep ? MAPCACHE_BUCKET_PAGES : MAPCACHE_BATCH_PAGES) *
			MAPCACHE_PAGE_SIZE;
	/* Kept: to the end of the bucket; transient: at most unit bytes
	 * from the start of offset's page. */
	uint64_t room = c->keep ? unit - (offset & (unit - 1))
				: unit - (offset & (MAPCACHE_PAGE_SIZE - 1));

	return len < room ? len : room;
}

/* One map call, made without the lock; its count goes in with
 * count_map(). */
static uint8_t *map_call(struct mapcache *c, uint64_t first, size_t count,
			 bool write, int *err)
{
	uint8_t *addr;

	*err = -EIO;
	addr = c->ops->map(c->ctx, first, count, write, err);
	if (!addr && *err >= 0)
		*err = -EIO;
	return addr;
}

/* Under the lock. */
static void count_map(struct mapcache *c, size_t count, bool mapped)
{
	c->st.map_calls++;
	if (mapped)
		c->st.mapped_pages += count;
	else
		c->st.map_failures++;
}

/* One map call, counted, under the lock. */
static uint8_t *map_pages(struct mapcache *c, uint64_t first, size_t count,
			  bool write, int *err)
{
	uint8_t *addr = map_call(c, first, count, write, err);

	count_map(c, count, addr != NULL);
	return addr;
}

/* A miss: the whole bucket in one call if the guest lets us, else exactly
 * the pages of this access. */
static int map_entry(struct mapcache *c, uint64_t p0, uint64_t p1, bool write,
		     bool whole, struct mc_entry **out)
{
	uint64_t first = p0 - p0 % MAPCACHE_BUCKET_PAGES;
	uint64_t count = c->pages - first < MAPCACHE_BUCKET_PAGES ?
				 c->pages - first : MAPCACHE_BUCKET_PAGES;
	struct mc_entry *e = calloc(1, sizeof(*e));
	uint8_t *addr = NULL;
	int err = -EIO;

	if (!e)
		return -ENOMEM;
	if (whole)
		addr = map_pages(c, first, count, write, &err);
	if (!addr && (!whole || first != p0 || count != p1 - p0 + 1)) {
		first = p0;
		count = p1 - p0 + 1;
		addr = map_pages(c, first, count, write, &err);
	}
	if (!addr) {
		free(e);
		return err;
	}
	e->first = first;
	e->count = (uint32_t)count;
	e->writable = write;
	e->addr = addr;
	e->next = *chain_of(c, first);
	*chain_of(c, first) = e;
	lru_push(&c->lru, e);         /* pin_entry() takes it off again */
	*out = e;
	return 0;
}

/* Transient: the pages of the access alone, in an entry of its own that
 * nothing else finds. */
static int pin_transient(struct mapcache *c, uint64_t p0, uint64_t p1,
			 bool write, enum pin_mode mode, struct mc_entry **out)
{
	struct mc_entry *e = calloc(1, sizeof(*e));
	size_t count = (size_t)(p1 - p0 + 1);
	int err = -EIO;

	if (!e)
		return -ENOMEM;
	e->addr = map_call(c, p0, count, write, &err);
	pthread_mutex_lock(&c->lock);
	if (mode == PIN_BUCKET)
		c->st.misses++;
	count_map(c, count, e->addr != NULL);
	if (e->addr)
		c->st.pinned_pages += count;
	pthread_mutex_unlock(&c->lock);
	if (!e->addr) {
		free(e);
		return err;
	}
	e->first = p0;
	e->count = (uint32_t)count;
	e->writable = write;
	e->pins = 1;
	*out = e;
	return 0;
}

static void unpin_transient(struct mapcache *c, struct mc_entry *e)
{
	c->ops->unmap(c->ctx, e->addr, e->count);
	pthread_mutex_lock(&c->lock);
	c->st.pinned_pages -= e->count;
	c->st.mapped_pages -= e->count;
	pthread_mutex_unlock(&c->lock);
	free(e);
}

int mapcache_pin(struct mapcache *c, uint64_t offset, uint64_t len,
		 bool write, enum pin_mode mode, uint8_t **host,
		 struct mc_entry **pin)
{
	uint64_t p0 = offset >> MAPCACHE_PAGE_SHIFT;
	uint64_t p1 = (offset + len - 1) >> MAPCACHE_PAGE_SHIFT;
	struct mc_entry *e = NULL;
	int ret = 0;

	if (!c->keep) {
		ret = pin_transient(c, p0, p1, write, mode, &e);
	} else {
		pthread_mutex_lock(&c->lock);
		e = find(c, p0, p1, write);
		if (e) {
			c->st.hits++;
		} else {
			/* A retry is the same access: its miss is counted. */
			if (mode == PIN_BUCKET)
				c->st.misses++;
			ret = map_entry(c, p0, p1, write, mode == PIN_BUCKET,
					&e);
		}
		if (!ret) {
			pin_entry(c, e);
			evict(c);
		}
		pthread_mutex_unlock(&c->lock);
	}
	if (!ret) {
		*host = e->addr + (offset - (e->first << MAPCACHE_PAGE_SHIFT));
		*pin = e;
	}
	return ret;
}

void mapcache_unpin(struct mapcache *c, struct mc_entry *e)
{
	if (!c->keep) {
		unpin_transient(c, e);
		return;
	}
	pthread_mutex_lock(&c->lock);
	if (--e->pins == 0) {
		c->st.pinned_pages -= e->count;
		if (e->dead) {
			lru_unlink(&c->dead, e);
			entry_drop(c, e);
		} else {
			lru_push(&c->lru, e);
			evict(c);
		}
	}
	pthread_mutex_unlock(&c->lock);
}

void mapcache_invalidate(struct mapcache *c)
{
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->nchains; i++) {
		struct mc_entry *e = c->chains[i];

		c->chains[i] = NULL;
		while (e) {
			struct mc_entry *next = e->next;

			c->st.invalidated++;
			if (e->pins) {
				e->dead = true;
				lru_push(&c->dead, e);
			} else {
				lru_unlink(&c->lru, e);
				entry_drop(c, e);
			}
			e = next;
		}
	}
	pthread_mutex_unlock(&c->lock);
}

void mapcache_stats(struct mapcache *c, struct vmmem_xen_cache_stats *st)
{
	pthread_mutex_lock(&c->lock);
	*st = c->st;
	pthread_mutex_unlock(&c->lock);
	st->sz = sizeof(*st);
}

void mapcache_free(struct mapcache *c)
{
	for (size_t i = 0; i < c->nchains; i++) {
		struct mc_entry *e = c->chains[i];

		while (e) {
			struct mc_entry *next = e->next;

			entry_drop(c, e);
			e = next;
		}
	}
	while (c->dead.head) {
		struct mc_entry *e = c->dead.head;

		lru_unlink(&c->dead, e);
		entry_drop(c, e);
	}
	pthread_mutex_destroy(&c->lock);
	free(c->chains);
	free(c);
}
