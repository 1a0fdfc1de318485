/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Copies between guest memory and a caller's buffer.  A naturally aligned
 * access of 2, 4 or 8 bytes is one load or store, so a concurrent reader or
 * writer (the guest, another device thread) never sees it half done: virtio
 * ring indices are read and written this way. */
#ifndef VMMEM_COPY_H
#define VMMEM_COPY_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define ALIGNED_TO(p, n) (((uintptr_t)(p) & ((n) - 1)) == 0)

/* A copy of 1, 2, 4, 8 or 16 bytes, each a constant-size copy the
 * compiler makes without a call; false for any other length, copying
 * nothing. */
static inline bool copy_small_from_guest(void *dst, const uint8_t *guest,
					 size_t len)
{
	switch (len) {
	case 1:
		*(uint8_t *)dst = __atomic_load_n(guest, __ATOMIC_RELAXED);
		return true;
	case 2:
		if (ALIGNED_TO(guest, 2)) {
			uint16_t v = __atomic_load_n((const uint16_t *)guest,
						     __ATOMIC_RELAXED);
			memcpy(dst, &v, 2);
		} else {
			memcpy(dst, guest, 2);
		}
		return true;
	case 4:
		if (ALIGNED_TO(guest, 4)) {
			uint32_t v = __atomic_load_n((const uint32_t *)guest,
						     __ATOMIC_RELAXED);
			memcpy(dst, &v, 4);
		} else {
			memcpy(dst, guest, 4);
		}
		return true;
	case 8:
		if (ALIGNED_TO(guest, 8)) {
			uint64_t v = __atomic_load_n((const uint64_t *)guest,
						     __ATOMIC_RELAXED);
			memcpy(dst, &v, 8);
		} else {
			memcpy(dst, guest, 8);
		}
		return true;
	case 16:                /* a virtio descriptor */
		memcpy(dst, guest, 16);
		return true;
	default:
		return false;
	}
}

static inline bool copy_small_to_guest(uint8_t *guest, const void *src,
				       size_t len)
{
	switch (len) {
	case 1:
		__atomic_store_n(guest, *(const uint8_t *)src, __ATOMIC_RELAXED);
		return true;
	case 2:
		if (ALIGNED_TO(guest, 2)) {
			uint16_t v;

			memcpy(&v, src, 2);
			__atomic_store_n((uint16_t *)guest, v, __ATOMIC_RELAXED);
		} else {
			memcpy(guest, src, 2);
		}
		return true;
	case 4:
		if (ALIGNED_TO(guest, 4)) {
			uint32_t v;

			memcpy(&v, src, 4);
			__atomic_store_n((uint32_t *)guest, v, __ATOMIC_RELAXED);
		} else {
			memcpy(guest, src, 4);
		}
		return true;
	case 8:
		if (ALIGNED_TO(guest, 8)) {
			uint64_t v;

			memcpy(&v, src, 8);
			__atomic_store_n((uint64_t *)guest, v, __ATOMIC_RELAXED);
		} else {
			memcpy(guest, src, 8);
		}
		return true;
	case 16:
		memcpy(guest, src, 16);
		return true;
	default:
		return false;
	}
}

/* A copy of fewer than 16 bytes of any length, without a call: a piece of
 * a small access split by a region boundary (not single-copy atomic, as
 * no access across a boundary can be). */
static inline void copy_short(uint8_t *dst, const uint8_t *src, size_t n)
{
	if (n & 8) {
		memcpy(dst, src, 8);
		dst += 8;
		src += 8;
	}
	if (n & 4) {
		memcpy(dst, src, 4);
		dst += 4;
		src += 4;
	}
	if (n & 2) {
		memcpy(dst, src, 2);
		dst += 2;
		src += 2;
	}
	if (n & 1)
		*dst = *src;
}

static inline void copy_from_guest(void *dst, const uint8_t *guest, size_t len)
{
	if (!copy_small_from_guest(dst, guest, len))
		memcpy(dst, guest, len);
}

static inline void copy_to_guest(uint8_t *guest, const void *src, size_t len)
{
	if (!copy_small_to_guest(guest, src, len))
		memcpy(guest, src, len);
}

#endif
