/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* A dirty log indexed by guest physical address: bit p is page p, the
 * page of GPA p << shift, counted from GPA 0.
 *
 * The bits live in leaves of LOG_LEAF_PAGES pages, found through a sorted
 * directory, so a log covers only the GPA ranges it was given and keeps its
 * bits whatever region is placed there or removed: a write is logged at the
 * GPA it landed at, not in the region placement that let it in.  Both logs
 * of an address space are one: the library's own (leaves it allocates for
 * the ranges regions cover, sparse, check-before-set) and a vhost-user
 * front-end's shared log (one flat bitmap from GPA 0, whose leaves are
 * consecutive pieces of the front-end's mapping).  The bit layout is the
 * vhost-user one, bit p % 8 of byte p / 8, on hosts of either byte order:
 * words are little-endian. */
#ifndef VMMEM_DIRTY_LOG_H
#define VMMEM_DIRTY_LOG_H

#include <endian.h>

#include "vmmem-private.h"
#include "sorted.h"

#define LOG_LEAF_SHIFT 15
#define LOG_LEAF_PAGES (1ull << LOG_LEAF_SHIFT)
#define LOG_LEAF_WORDS (LOG_LEAF_PAGES / 64)

struct log_leaf {
	uint64_t idx;                 /* first page >> LOG_LEAF_SHIFT */
	uint64_t *words;
};

struct dirty_log {
	unsigned int shift;           /* log2 of the page size */
	/* The front-end clears bits without the library's membarrier, so
	 * a check could read a bit it has already taken: set blindly. */
	bool blind;
	uint64_t npages;              /* pages covered below this, at most */
	uint64_t missed;              /* atomic: pages written it missed */
	size_t count;
	struct log_leaf leaf[];       /* sorted by idx, no two alike */
};

/* Set once membarrier is found unusable: writers then fence (dirty.c). */
extern bool dirty_writers_fence;

/* Index of the first leaf of number idx or more (count if none). */
static inline size_t log_leaf_from(const struct dirty_log *log, uint64_t idx)
{
	return SORTED_FIRST_FROM(log->leaf, log->count, struct log_leaf, idx,
				 idx);
}

/* The leaf holding page, found from hint (a leaf at or before it, NULL:
 * none), or NULL when the log does not cover the page. */
static inline const struct log_leaf *log_leaf_of(const struct dirty_log *log,
						 const struct log_leaf *hint,
						 uint64_t page)
{
	uint64_t idx = page >> LOG_LEAF_SHIFT, at;

	if (page >= log->npages)
		return NULL;
	at = hint ? (uint64_t)(hint - log->leaf) + (idx - hint->idx)
		  : log_leaf_from(log, idx);
	if (at < log->count && log->leaf[at].idx == idx)
		return &log->leaf[at];
	if (!hint)
		return NULL;
	at = log_leaf_from(log, idx);
	return at < log->count && log->leaf[at].idx == idx ? &log->leaf[at]
							   : NULL;
}

/* Sets the bits of mask in *word after the data it stands for was
 * written.  Check before set where the library harvests (a page already
 * dirty costs one load; the harvest's membarrier orders the data store
 * before the check); blindly, with an atomic OR, for the shared log. */
static inline void log_word_set(uint64_t *word, uint64_t mask, bool blind)
{
	mask = htole64(mask);
	if (blind) {
		__atomic_fetch_or(word, mask, __ATOMIC_SEQ_CST);
		return;
	}
	if (unlikely(__atomic_load_n(&dirty_writers_fence, __ATOMIC_RELAXED)))
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	else
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if ((__atomic_load_n(word, __ATOMIC_RELAXED) & mask) != mask)
		__atomic_fetch_or(word, mask, __ATOMIC_RELEASE);
}

/* The one page of a small write, its leaf known to be in the log. */
static inline void log_set_page(const struct log_leaf *leaf, uint64_t page,
				bool blind)
{
	uint64_t bit = page & (LOG_LEAF_PAGES - 1);

	log_word_set(&leaf->words[bit / 64], 1ull << (bit % 64), blind);
}

/* Sets pages [first, last]; returns how many of them the log does not
 * cover.  hint as for log_leaf_of(). */
uint64_t log_set(const struct dirty_log *log, const struct log_leaf *hint,
		 uint64_t first, uint64_t last);

/* Takes (out != NULL: or-ed into out, bit 0 = page out_first) or clears
 * the bits of pages [first, last]; returns how many pages it newly set
 * in out. */
uint64_t log_take(const struct dirty_log *log, uint64_t first, uint64_t last,
		  uint64_t *out, uint64_t out_first);

/* Whether page is dirty: 1, 0, or -1 when the log does not cover it. */
int log_test(const struct dirty_log *log, uint64_t page);

/* The library's own log: a copy of prev (NULL: an empty log of page size
 * 1 << shift) that also covers pages [first[i], last[i]] for i < n,
 * sharing prev's leaves and allocating clean ones for the rest.  NULL when
 * out of memory, having allocated nothing. */
struct dirty_log *log_cover(const struct dirty_log *prev, unsigned int shift,
			    const uint64_t *first, const uint64_t *last,
			    size_t n);
/* Frees the directory, and with leaves its leaves (NULL: nothing). */
void log_free(struct dirty_log *log, bool leaves);
/* Frees the leaves only (the directory goes with its table). */
void log_free_leaves(const struct dirty_log *log);

/* The shared log: a directory of the flat bitmap at base, bytes long. */
struct dirty_log *log_flat(uint64_t *base, uint64_t bytes);

#endif
