/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The one search of the library's sorted arrays: the region table by end
 * (lib/space/table.c), the dirty log's leaf directory (lib/dirty/log.h) and
 * the IOTLB (lib/iommu/iotlb.h).  The region table's per-access lookup has
 * its own padded form, slots_search_span() (lib/space/table.h). */
#ifndef VMMEM_SORTED_H
#define VMMEM_SORTED_H

#include <stddef.h>
#include <stdint.h>

/* Index of the first of n elements, stride bytes apart from base, whose
 * uint64_t at byte offset key is at least x; n if none.  The elements must
 * be sorted by that key.  Branch-free: the conditional step becomes a cmov,
 * so scattered x cost no mispredictions.  stride and key are constants at
 * every call, so the compiler folds them. */
static inline __attribute__((always_inline)) size_t
sorted_first_from(const void *base, size_t n, size_t stride, size_t key,
		  uint64_t x)
{
	const char *b = (const char *)base + key;
	size_t at = 0;

	if (!n)
		return 0;
	while (n > 1) {
		size_t half = n / 2;

		at = *(const uint64_t *)(b + (at + half) * stride) < x ? at + half
									 : at;
		n -= half;
	}
	return at + (*(const uint64_t *)(b + at * stride) < x);
}

/* sorted_first_from() over an array of struct type by its field. */
#define SORTED_FIRST_FROM(arr, n, type, field, x)                             \
	sorted_first_from((arr), (n), sizeof(type), offsetof(type, field), (x))

#endif
