/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The GPA-indexed dirty log: setting, taking and covering ranges. */
#include <stdlib.h>

#include "dirty/log.h"

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Mask of bits [lo, hi] of a word, 0 <= lo <= hi < 64. */
static uint64_t word_mask(uint64_t lo, uint64_t hi)
{
	return (~0ull >> (63 - hi)) & (~0ull << lo);
}

uint64_t log_set(const struct dirty_log *log, const struct log_leaf *hint,
		 uint64_t first, uint64_t last)
{
	uint64_t missed = 0;

	for (;;) {
		uint64_t end = min_u64(last, first | (LOG_LEAF_PAGES - 1));
		const struct log_leaf *leaf = log_leaf_of(log, hint, first);

		if (leaf) {
			uint64_t stop = min_u64(end, log->npages - 1);
			uint64_t a = first & (LOG_LEAF_PAGES - 1);
			uint64_t b = stop & (LOG_LEAF_PAGES - 1);

			for (uint64_t w = a / 64; w <= b / 64; w++)
				log_word_set(&leaf->words[w],
					     word_mask(w == a / 64 ? a % 64 : 0,
						       w == b / 64 ? b % 64 : 63),
					     log->blind);
			missed += end - stop;
			hint = leaf;
		} else {
			missed += end - first + 1;
		}
		if (end == last)
			return missed;
		first = end + 1;
	}
}

uint64_t log_take(const struct dirty_log *log, uint64_t first, uint64_t last,
		  uint64_t *out, uint64_t out_first)
{
	uint64_t found = 0;

	if (!log->npages || first >= log->npages)
		return 0;
	last = min_u64(last, log->npages - 1);
	for (size_t i = log_leaf_from(log, first >> LOG_LEAF_SHIFT);
	     i < log->count && log->leaf[i].idx <= last >> LOG_LEAF_SHIFT; i++) {
		const struct log_leaf *leaf = &log->leaf[i];
		uint64_t base = leaf->idx << LOG_LEAF_SHIFT;
		uint64_t a = (first > base ? first : base) - base;
		uint64_t b = min_u64(last - base, LOG_LEAF_PAGES - 1);

		for (uint64_t w = a / 64; w <= b / 64; w++) {
			uint64_t mask = htole64(word_mask(w == a / 64 ? a % 64 : 0,
							  w == b / 64 ? b % 64 : 63));
			uint64_t bits;

			if (!(__atomic_load_n(&leaf->words[w], __ATOMIC_RELAXED) & mask))
				continue;       /* clean words cost one load */
			bits = le64toh(__atomic_fetch_and(&leaf->words[w], ~mask,
							  __ATOMIC_ACQ_REL) & mask);
			while (out && bits) {
				uint64_t page = base + w * 64 +
						(uint64_t)__builtin_ctzll(bits);
				uint64_t idx = page - out_first;
				uint64_t bit = 1ull << (idx % 64);

				found += !(out[idx / 64] & bit);
				out[idx / 64] |= bit;
				bits &= bits - 1;
			}
		}
	}
	return found;
}

int log_test(const struct dirty_log *log, uint64_t page)
{
	const struct log_leaf *leaf = log_leaf_of(log, NULL, page);
	uint64_t bit = page & (LOG_LEAF_PAGES - 1);

	if (!leaf)
		return -1;
	return !!(le64toh(__atomic_load_n(&leaf->words[bit / 64],
					  __ATOMIC_RELAXED)) &
		  (1ull << (bit % 64)));
}

static int leaf_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct log_leaf *)a)->idx;
	uint64_t y = ((const struct log_leaf *)b)->idx;

	return x < y ? -1 : x > y;
}

static struct dirty_log *log_alloc(size_t count)
{
	struct dirty_log *log;

	if (count > (SIZE_MAX - sizeof(*log)) / sizeof(struct log_leaf))
		return NULL;
	log = calloc(1, sizeof(*log) + count * sizeof(struct log_leaf));
	if (log)
		log->count = count;
	return log;
}

/* Leaves that prev does not hold are the new log's own. */
static bool leaf_is_new(const struct dirty_log *prev, const struct log_leaf *l)
{
	return !prev || !log_leaf_of(prev, NULL, l->idx << LOG_LEAF_SHIFT);
}

struct dirty_log *log_cover(const struct dirty_log *prev, unsigned int shift,
			    const uint64_t *first, const uint64_t *last,
			    size_t n)
{
	size_t want = prev ? prev->count : 0, k = 0, kept = 0;
	struct dirty_log *log;

	for (size_t i = 0; i < n; i++) {
		uint64_t leaves = (last[i] >> LOG_LEAF_SHIFT) -
				  (first[i] >> LOG_LEAF_SHIFT) + 1;

		if (leaves > SIZE_MAX - want)
			return NULL;
		want += leaves;
	}
	log = log_alloc(want);
	if (!log)
		return NULL;
	log->shift = prev ? prev->shift : shift;
	log->npages = UINT64_MAX;
	for (size_t i = 0; prev && i < prev->count; i++)
		log->leaf[k++] = prev->leaf[i];
	for (size_t i = 0; i < n; i++)
		for (uint64_t idx = first[i] >> LOG_LEAF_SHIFT;
		     idx <= last[i] >> LOG_LEAF_SHIFT; idx++)
			log->leaf[k++] = (struct log_leaf){ .idx = idx };
	/* Sorted, then one of each idx kept: prev's, with its words, where
	 * prev had one. */
	qsort(log->leaf, k, sizeof(log->leaf[0]), leaf_cmp);
	for (size_t i = 0; i < k; i++) {
		if (kept && log->leaf[kept - 1].idx == log->leaf[i].idx) {
			if (!log->leaf[kept - 1].words)
				log->leaf[kept - 1].words = log->leaf[i].words;
			continue;
		}
		log->leaf[kept++] = log->leaf[i];
	}
	log->count = kept;
	for (size_t i = 0; i < kept; i++) {
		if (log->leaf[i].words)
			continue;
		log->leaf[i].words = calloc(LOG_LEAF_WORDS, 8);
		if (!log->leaf[i].words) {
			while (i--)
				if (leaf_is_new(prev, &log->leaf[i]))
					free(log->leaf[i].words);
			free(log);
			return NULL;
		}
	}
	return log;
}

void log_free_leaves(const struct dirty_log *log)
{
	for (size_t i = 0; log && i < log->count; i++)
		free(log->leaf[i].words);
}

void log_free(struct dirty_log *log, bool leaves)
{
	if (leaves)
		log_free_leaves(log);
	free(log);
}

struct dirty_log *log_flat(uint64_t *base, uint64_t bytes)
{
	uint64_t count = bytes / (LOG_LEAF_PAGES / 8) +
			 !!(bytes % (LOG_LEAF_PAGES / 8));
	struct dirty_log *log;

	if (count > SIZE_MAX || !(log = log_alloc((size_t)count)))
		return NULL;
	log->shift = 12;
	log->blind = true;
	log->npages = bytes > UINT64_MAX / 8 ? UINT64_MAX : bytes * 8;
	for (size_t i = 0; i < log->count; i++)
		log->leaf[i] = (struct log_leaf){ .idx = i,
			.words = base + i * LOG_LEAF_WORDS };
	return log;
}
