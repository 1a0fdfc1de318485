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

static inline void copy_from_guest(void *dst, const uint8_t *guest, size_t len)
{
	switch (len) {
	case 1:
		*(uint8_t *)dst = __atomic_load_n(guest, __ATOMIC_RELAXED);
		return;
	case 2:
		if (ALIGNED_TO(guest, 2)) {
			uint16_t v = __atomic_load_n((const uint16_t *)guest,
						     __ATOMIC_RELAXED);
			memcpy(dst, &v, 2);
			return;
		}
		break;
	case 4:
		if (ALIGNED_TO(guest, 4)) {
			uint32_t v = __atomic_load_n((const uint32_t *)guest,
						     __ATOMIC_RELAXED);
			memcpy(dst, &v, 4);
			return;
		}
		break;
	case 8:
		if (ALIGNED_TO(guest, 8)) {
			uint64_t v = __atomic_load_n((const uint64_t *)guest,
						     __ATOMIC_RELAXED);
			memcpy(dst, &v, 8);
			return;
		}
		break;
	case 16:                /* a virtio descriptor: no call for it */
		memcpy(dst, guest, 16);
		return;
	}
	memcpy(dst, guest, len);
}

static inline void copy_to_guest(uint8_t *guest, const void *src, size_t len)
{
	switch (len) {
	case 1:
		__atomic_store_n(guest, *(const uint8_t *)src, __ATOMIC_RELAXED);
		return;
	case 2:
		if (ALIGNED_TO(guest, 2)) {
			uint16_t v;

			memcpy(&v, src, 2);
			__atomic_store_n((uint16_t *)guest, v, __ATOMIC_RELAXED);
			return;
		}
		break;
	case 4:
		if (ALIGNED_TO(guest, 4)) {
			uint32_t v;

			memcpy(&v, src, 4);
			__atomic_store_n((uint32_t *)guest, v, __ATOMIC_RELAXED);
			return;
		}
		break;
	case 8:
		if (ALIGNED_TO(guest, 8)) {
			uint64_t v;

			memcpy(&v, src, 8);
			__atomic_store_n((uint64_t *)guest, v, __ATOMIC_RELAXED);
			return;
		}
		break;
	case 16:
		memcpy(guest, src, 16);
		return;
	}
	memcpy(guest, src, len);
}

/* The sizes the access fast paths copy without a call. */
static inline bool small_copy(size_t len)
{
	return len == 1 || len == 2 || len == 4 || len == 8 || len == 16;
}

#endif
