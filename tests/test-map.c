/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* vmmem_map / vmmem_unmap: aliasing, lengths, errors, pinning across
 * vmmem_remove_region, dirty marking. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "testutil.h"

/* A [0, 0x10000) and B [0x10000, 0x20000) contiguous, hole above. */
static struct vmmem *mk_space(void)
{
	static const uint64_t gpa[] = { 0, 0x10000 };
	static const uint64_t size[] = { 0x10000, 0x10000 };

	return test_space(2, gpa, size);
}

START_TEST(map_aliases_guest_memory)
{
	struct vmmem *m = mk_space();
	uint64_t len = 64;
	void *h = NULL;
	uint8_t *p, buf[64];

	ck_assert_int_eq(vmmem_map(m, 0x100, &len, VMMEM_MAP_READ | VMMEM_MAP_WRITE,
				   &h), 0);
	ck_assert_ptr_nonnull(h);
	ck_assert_uint_eq(len, 64);
	p = h;
	for (int i = 0; i < 64; i++)
		p[i] = (uint8_t)(i * 3 + 1);
	ck_assert_int_eq(vmmem_read_exact(m, 0x100, buf, 64), 0);
	for (int i = 0; i < 64; i++)
		ck_assert_uint_eq(buf[i], (uint8_t)(i * 3 + 1));
	/* and the other way round */
	ck_assert_int_eq(vmmem_fill(m, 0x110, 0xEE, 4), 0);
	ck_assert_uint_eq(p[0x0F], (uint8_t)(0x0F * 3 + 1));
	ck_assert_uint_eq(p[0x10], 0xEE);
	ck_assert_uint_eq(p[0x13], 0xEE);
	ck_assert_uint_eq(p[0x14], (uint8_t)(0x14 * 3 + 1));
	/* same address as vmmem_host_address gives */
	{
		void *ha = NULL;

		ck_assert_int_eq(vmmem_host_address(m, 0x100, 1, &ha), 0);
		ck_assert_ptr_eq(ha, h);
	}
	ck_assert_int_eq(vmmem_unmap(m, h, 64), 0);

	/* read-only mapping */
	len = 16;
	ck_assert_int_eq(vmmem_map(m, 0x110, &len, VMMEM_MAP_READ, &h), 0);
	ck_assert_uint_eq(len, 16);
	ck_assert_uint_eq(((uint8_t *)h)[0], 0xEE);
	ck_assert_int_eq(vmmem_unmap(m, h, 0), 0);
	/* write-only mapping */
	len = 16;
	ck_assert_int_eq(vmmem_map(m, 0x10020, &len, VMMEM_MAP_WRITE, &h), 0);
	((uint8_t *)h)[3] = 0x42;
	ck_assert_int_eq(vmmem_read_exact(m, 0x10023, buf, 1), 0);
	ck_assert_uint_eq(buf[0], 0x42);
	ck_assert_int_eq(vmmem_unmap(m, h, 16), 0);
	vmmem_free(m);
}
END_TEST

START_TEST(map_len_shortened)
{
	struct vmmem *m = mk_space();
	uint64_t len;
	void *h = NULL, *h2 = NULL;

	len = 0x100;
	ck_assert_int_eq(vmmem_map(m, 0xFFF0, &len, VMMEM_MAP_READ, &h), 0);
	ck_assert_uint_eq(len, 0x10);
	ck_assert_int_eq(vmmem_unmap(m, h, 0), 0);

	/* at the last region: the end of guest memory */
	len = UINT64_MAX - 0x1FFFF;   /* does not wrap from 0x1FFFF */
	ck_assert_int_eq(vmmem_map(m, 0x1FFFF, &len, VMMEM_MAP_WRITE, &h), 0);
	ck_assert_uint_eq(len, 1);
	/* a second mapping of the same region */
	len = 0x10000;
	ck_assert_int_eq(vmmem_map(m, 0x10000, &len, VMMEM_MAP_WRITE, &h2), 0);
	ck_assert_uint_eq(len, 0x10000);
	ck_assert_ptr_eq((uint8_t *)h2 + 0xFFFF, h);
	ck_assert_int_eq(vmmem_unmap(m, h, 1), 0);
	ck_assert_int_eq(vmmem_unmap(m, h2, 0x10000), 0);
	vmmem_free(m);
}
END_TEST

START_TEST(map_errors)
{
	struct vmmem *m = mk_space();
	uint64_t len = 16;
	void *h = (void *)&len;

	ck_assert_int_eq(vmmem_map(m, 0x100, &len, 0, &h), -EINVAL);
	ck_assert_int_eq(vmmem_map(m, 0x100, &len, 4, &h), -EINVAL);
	ck_assert_int_eq(vmmem_map(m, 0x100, &len, VMMEM_MAP_READ | 0x80, &h), -EINVAL);
	ck_assert_int_eq(vmmem_map(m, 0x100, &len, ~0u, &h), -EINVAL);
	len = 0;
	ck_assert_int_eq(vmmem_map(m, 0x100, &len, VMMEM_MAP_READ, &h), -EINVAL);
	len = 16;
	ck_assert_int_eq(vmmem_map(NULL, 0x100, &len, VMMEM_MAP_READ, &h), -EINVAL);
	ck_assert_int_eq(vmmem_map(m, 0x100, NULL, VMMEM_MAP_READ, &h), -EINVAL);
	ck_assert_int_eq(vmmem_map(m, 0x100, &len, VMMEM_MAP_READ, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_map(m, UINT64_MAX, &len, VMMEM_MAP_READ, &h), -EINVAL);
	ck_assert_int_eq(vmmem_map(m, 0x20000, &len, VMMEM_MAP_READ, &h), -EFAULT);
	ck_assert_int_eq(vmmem_map(m, 0x7FFFFFFF, &len, VMMEM_MAP_WRITE, &h), -EFAULT);
	ck_assert_ptr_eq(h, (void *)&len);
	ck_assert_uint_eq(len, 16);
	vmmem_free(m);
}
END_TEST

START_TEST(unmap_errors)
{
	struct vmmem *m = mk_space();
	uint64_t len = 0x10;
	void *h = NULL, *host_a = NULL;
	int local;

	/* a pointer libvmmem never gave out */
	ck_assert_int_eq(vmmem_unmap(m, &local, 0), -ENOENT);
	/* a pointer into a region that has no mapping */
	ck_assert_int_eq(vmmem_host_address(m, 0x200, 1, &host_a), 0);
	ck_assert_int_eq(vmmem_unmap(m, host_a, 0), -ENOENT);
	ck_assert_int_eq(vmmem_unmap(NULL, host_a, 0), -EINVAL);
	ck_assert_int_eq(vmmem_unmap(m, NULL, 0), -EINVAL);

	/* written beyond the region end: refused, mapping kept */
	ck_assert_int_eq(vmmem_map(m, 0xFFF0, &len, VMMEM_MAP_WRITE, &h), 0);
	ck_assert_uint_eq(len, 0x10);
	ck_assert_int_eq(vmmem_unmap(m, h, 0x11), -EINVAL);
	ck_assert_int_eq(vmmem_unmap(m, h, 0x10000), -EINVAL);
	ck_assert_int_eq(vmmem_unmap(m, h, UINT64_MAX), -EINVAL);
	ck_assert_int_eq(vmmem_unmap(m, h, 0x10), 0);
	/* unmapped twice */
	ck_assert_int_eq(vmmem_unmap(m, h, 0), -ENOENT);
	vmmem_free(m);
}
END_TEST

/* Spec: written must be <= the mapped length (not just the region end). */
START_TEST(unmap_written_beyond_mapped_len)
{
	struct vmmem *m = mk_space();
	uint64_t len = 0x10;
	void *h = NULL;

	ck_assert_int_eq(vmmem_map(m, 0x100, &len, VMMEM_MAP_WRITE, &h), 0);
	ck_assert_uint_eq(len, 0x10);
	ck_assert_int_eq(vmmem_unmap(m, h, 0x11), -EINVAL);
	ck_assert_int_eq(vmmem_unmap(m, h, 0x10), 0);
	vmmem_free(m);
}
END_TEST

/* Spec: with a WRITE-less mapping, written must be 0. */
START_TEST(unmap_written_on_readonly_mapping)
{
	struct vmmem *m = mk_space();
	uint64_t len = 0x10;
	void *h = NULL;

	ck_assert_int_eq(vmmem_map(m, 0x100, &len, VMMEM_MAP_READ, &h), 0);
	ck_assert_int_eq(vmmem_unmap(m, h, 1), -EINVAL);
	ck_assert_int_eq(vmmem_unmap(m, h, 0), 0);
	vmmem_free(m);
}
END_TEST

/* Overlapping mappings share one pointer; every order of unmaps must end
 * each of them, and the written bytes must reach the dirty log. */
START_TEST(unmap_overlapping_mappings_any_order)
{
	struct vmmem *m = mk_space();
	uint64_t len;
	void *a = NULL, *b = NULL;

	ck_assert_int_eq(vmmem_dirty_start(m, 4096), 0);
	len = 4096;
	ck_assert_int_eq(vmmem_map(m, 0x1000, &len, VMMEM_MAP_READ, &a), 0);
	len = 16;
	ck_assert_int_eq(vmmem_map(m, 0x1000, &len, VMMEM_MAP_WRITE, &b), 0);
	ck_assert_ptr_eq(a, b);
	ck_assert_int_eq(vmmem_unmap(m, a, 0), 0);      /* the read-only one */
	ck_assert_int_eq(vmmem_unmap(m, a, 16), 0);     /* the writable one */
	ck_assert_int_eq(vmmem_unmap(m, a, 0), -ENOENT);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x1000), 1);

	/* Two writable ones of different lengths: the short one first. */
	len = 16;
	ck_assert_int_eq(vmmem_map(m, 0x1000, &len, VMMEM_MAP_WRITE, &a), 0);
	len = 4096;
	ck_assert_int_eq(vmmem_map(m, 0x1000, &len, VMMEM_MAP_WRITE, &b), 0);
	ck_assert_int_eq(vmmem_unmap(m, a, 10), 0);
	ck_assert_int_eq(vmmem_unmap(m, a, 100), 0);
	ck_assert_int_eq(vmmem_unmap(m, a, 0), -ENOENT);
	vmmem_free(m);
}
END_TEST

/* The same two pairs, mapped in the other order: which mapping an unmap
 * ends must not depend on the order the mappings were made in.  The
 * read-only one takes written == 0 even when the writable one came first,
 * and the short writable one takes the small count even when the long one
 * came first, so the other's unmap still succeeds. */
START_TEST(unmap_overlapping_mappings_reverse_order)
{
	struct vmmem *m = mk_space();
	uint64_t len;
	void *a = NULL, *b = NULL;

	ck_assert_int_eq(vmmem_dirty_start(m, 4096), 0);
	len = 16;
	ck_assert_int_eq(vmmem_map(m, 0x1000, &len, VMMEM_MAP_WRITE, &a), 0);
	len = 4096;
	ck_assert_int_eq(vmmem_map(m, 0x1000, &len, VMMEM_MAP_READ, &b), 0);
	ck_assert_ptr_eq(a, b);
	ck_assert_int_eq(vmmem_unmap(m, a, 0), 0);      /* the read-only one */
	ck_assert_int_eq(vmmem_unmap(m, a, 16), 0);     /* the writable one */
	ck_assert_int_eq(vmmem_unmap(m, a, 0), -ENOENT);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x1000), 1);

	/* Two writable ones, the long one made first. */
	len = 4096;
	ck_assert_int_eq(vmmem_map(m, 0x3000, &len, VMMEM_MAP_WRITE, &a), 0);
	len = 16;
	ck_assert_int_eq(vmmem_map(m, 0x3000, &len, VMMEM_MAP_WRITE, &b), 0);
	ck_assert_ptr_eq(a, b);
	ck_assert_int_eq(vmmem_unmap(m, a, 10), 0);
	ck_assert_int_eq(vmmem_unmap(m, a, 100), 0);
	ck_assert_int_eq(vmmem_unmap(m, a, 0), -ENOENT);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x3000), 1);
	vmmem_free(m);
}
END_TEST

/* Spec: host must be the pointer vmmem_map returned; any other pointer is
 * unknown, even one inside a live mapping. */
START_TEST(unmap_pointer_not_returned_by_map)
{
	struct vmmem *m = mk_space();
	uint64_t len = 0x10;
	void *h = NULL;

	ck_assert_int_eq(vmmem_map(m, 0x100, &len, VMMEM_MAP_WRITE, &h), 0);
	ck_assert_int_eq(vmmem_unmap(m, (uint8_t *)h + 1, 0), -ENOENT);
	ck_assert_int_eq(vmmem_unmap(m, (uint8_t *)h + 0x1000, 0), -ENOENT);
	ck_assert_int_eq(vmmem_unmap(m, h, 0x10), 0);
	vmmem_free(m);
}
END_TEST

/* ---------------------------------------------- mapping outlives removal */

START_TEST(map_outlives_remove)
{
	const uint64_t size = 0x4000, gpa = 0x100000;
	struct test_release_log log = { 0 };
	struct vmmem_region *r, *removed = NULL;
	struct vmmem *m = mk_space();
	uint64_t len = 0x100;
	void *mem, *h = NULL;
	uint8_t *p, buf[4];

	r = test_raw_region(size, &log, &mem);
	ck_assert_int_eq(vmmem_add_region(m, gpa, r), 0);
	vmmem_region_unref(r);
	ck_assert_int_eq(vmmem_write_exact(m, gpa + 0x20, "abcd", 4), 0);

	ck_assert_int_eq(vmmem_map(m, gpa + 0x20, &len, VMMEM_MAP_READ | VMMEM_MAP_WRITE,
				   &h), 0);
	ck_assert_uint_eq(len, 0x100);
	ck_assert_ptr_eq(h, (uint8_t *)mem + 0x20);
	ck_assert_int_eq(vmmem_remove_region(m, gpa, size, &removed), 0);
	ck_assert_ptr_eq(removed, r);
	vmmem_region_unref(removed);
	ck_assert_int_eq(log.calls, 0);
	/* the guest address is gone ... */
	ck_assert_int_eq(vmmem_read(m, gpa + 0x20, buf, 4), -EFAULT);
	ck_assert_int_eq(vmmem_num_regions(m), 2);
	/* ... but the mapping still works for reading and writing */
	p = h;
	ck_assert_mem_eq(p, "abcd", 4);
	memset(p, 0x5C, len);
	for (uint64_t i = 0; i < len; i++)
		ck_assert_uint_eq(p[i], 0x5C);
	/* other hotplug operations in between do not drop it */
	{
		struct vmmem_region *x = test_region(0x1000);

		ck_assert_int_eq(vmmem_add_region(m, 0x200000, x), 0);
		ck_assert_int_eq(vmmem_remove_region(m, 0x200000, 0x1000, NULL), 0);
		vmmem_region_unref(x);
	}
	ck_assert_int_eq(log.calls, 0);
	ck_assert_uint_eq(p[len - 1], 0x5C);

	ck_assert_int_eq(vmmem_unmap(m, h, len), 0);
	ck_assert_msg(test_wait_release(&log, 1) == 1, "release not called after "
		      "the last unmap of a removed region (calls %d)", log.calls);
	ck_assert_ptr_eq(log.addr, mem);
	ck_assert_uint_eq(log.size, size);
	ck_assert_int_eq(vmmem_unmap(m, h, 0), -ENOENT);
	vmmem_free(m);
	ck_assert_int_eq(log.calls, 1);
	munmap(mem, size);
}
END_TEST

/* The same, with written beyond the removed region's end. */
START_TEST(map_removed_unmap_written_too_far)
{
	const uint64_t size = 0x2000, gpa = 0x100000;
	struct test_release_log log = { 0 };
	struct vmmem_region *r;
	struct vmmem *m = mk_space();
	uint64_t len = 0x1000;
	void *mem, *h = NULL;

	r = test_raw_region(size, &log, &mem);
	ck_assert_int_eq(vmmem_add_region(m, gpa, r), 0);
	vmmem_region_unref(r);
	ck_assert_int_eq(vmmem_map(m, gpa + 0x1800, &len, VMMEM_MAP_WRITE, &h), 0);
	ck_assert_uint_eq(len, 0x800);
	ck_assert_int_eq(vmmem_remove_region(m, gpa, size, NULL), 0);
	ck_assert_int_eq(log.calls, 0);
	ck_assert_int_eq(vmmem_unmap(m, h, 0x801), -EINVAL);
	ck_assert_int_eq(log.calls, 0);
	ck_assert_int_eq(vmmem_unmap(m, h, 0x800), 0);
	ck_assert_int_eq(vmmem_unmap(m, h, 0), -ENOENT);
	vmmem_free(m);
	ck_assert_int_eq(log.calls, 1);
	munmap(mem, size);
}
END_TEST

/* Removing without mappings releases (when no other reference), once the
 * readers that might still use the region are done. */
START_TEST(remove_without_mapping_releases)
{
	const uint64_t size = 0x1000;
	struct test_release_log log = { 0 };
	struct vmmem *m = mk_space();
	void *mem;
	struct vmmem_region *r = test_raw_region(size, &log, &mem);
	uint64_t len = 8;
	void *h = NULL;

	ck_assert_int_eq(vmmem_add_region(m, 0x100000, r), 0);
	vmmem_region_unref(r);
	/* a mapping made and dropped before the removal does not pin */
	ck_assert_int_eq(vmmem_map(m, 0x100000, &len, VMMEM_MAP_READ, &h), 0);
	ck_assert_int_eq(vmmem_unmap(m, h, 0), 0);
	ck_assert_int_eq(vmmem_remove_region(m, 0x100000, size, NULL), 0);
	ck_assert_int_eq(test_wait_release(&log, 1), 1);
	vmmem_free(m);
	munmap(mem, size);
}
END_TEST

/* ------------------------------------------------------------- dirty */

START_TEST(unmap_marks_dirty)
{
	struct vmmem *m = mk_space();
	uint64_t len = 0x3000;
	void *h = NULL;

	ck_assert_int_eq(vmmem_dirty_start(m, 0), 0);
	ck_assert_int_eq(vmmem_map(m, 0x2000, &len, VMMEM_MAP_READ | VMMEM_MAP_WRITE,
				   &h), 0);
	ck_assert_uint_eq(len, 0x3000);
	memset(h, 0xAB, 0x1001);
	/* mapping and writing through the pointer marks nothing yet */
	for (uint64_t pg = 0; pg < 8; pg++)
		ck_assert_int_eq(vmmem_dirty_test(m, pg * 0x1000), 0);
	ck_assert_int_eq(vmmem_unmap(m, h, 0x1001), 0);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x1000), 0);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x2000), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x3000), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x4000), 0);

	/* written 0 marks nothing */
	len = 0x1000;
	ck_assert_int_eq(vmmem_map(m, 0x8000, &len, VMMEM_MAP_WRITE, &h), 0);
	ck_assert_int_eq(vmmem_unmap(m, h, 0), 0);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x8000), 0);

	/* a mapping starting mid-page at the end of A */
	len = 0x100;
	ck_assert_int_eq(vmmem_map(m, 0xFFF8, &len, VMMEM_MAP_WRITE, &h), 0);
	ck_assert_uint_eq(len, 8);
	ck_assert_int_eq(vmmem_unmap(m, h, 8), 0);
	ck_assert_int_eq(vmmem_dirty_test(m, 0xF000), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x10000), 0);
	{
		uint64_t bm[1] = { 0 };

		ck_assert_int_eq(vmmem_dirty_harvest(m, 0, 0x20000, bm), 3);
		ck_assert_uint_eq(bm[0], (1ull << 2) | (1ull << 3) | (1ull << 15));
	}
	vmmem_free(m);
}
END_TEST

/* ----------------------------------------------- many live mappings */

/* Spec: any number of mappings may be live at once, each ended by its own
 * vmmem_unmap().  512 mappings of distinct pointers, ended in an order
 * unrelated to the order they were made in: each unmap ends its own
 * mapping only, the region stays pinned until the last one ends, and bytes
 * written to it after its removal are not logged. */
#define NMAPS 512

START_TEST(many_live_mappings)
{
	const uint64_t size = NMAPS * 0x40ull, gpa = 0x100000;
	struct test_release_log log = { 0 };
	struct vmmem *m = mk_space();
	struct vmmem_region *r;
	static void *h[NMAPS];
	uint64_t bm[1] = { 0 };
	void *mem;

	r = test_raw_region(size, &log, &mem);
	ck_assert_int_eq(vmmem_add_region(m, gpa, r), 0);
	vmmem_region_unref(r);
	ck_assert_int_eq(vmmem_dirty_start(m, 4096), 0);
	for (int i = 0; i < NMAPS; i++) {
		uint64_t len = 0x40;

		ck_assert_int_eq(vmmem_map(m, gpa + i * 0x40ull, &len,
					   VMMEM_MAP_READ | VMMEM_MAP_WRITE,
					   &h[i]), 0);
		ck_assert_uint_eq(len, 0x40);
		ck_assert_ptr_eq(h[i], (uint8_t *)mem + i * 0x40);
		memset(h[i], i & 0xff, 0x40);
	}
	ck_assert_int_eq(vmmem_remove_region(m, gpa, size, NULL), 0);
	/* Odd ones first, from the top down; only mappings in the first
	 * page (i < 64) declare bytes written. */
	for (int i = NMAPS - 1; i > 0; i -= 2) {
		ck_assert_int_eq(vmmem_unmap(m, h[i], i < 64 ? 0x40 : 0), 0);
		ck_assert_int_eq(vmmem_unmap(m, h[i], 0), -ENOENT);
	}
	/* The even ones are still live, and still pin the region. */
	ck_assert_int_eq(log.calls, 0);
	/* Then the even ones, upwards. */
	for (int i = 0; i < NMAPS; i += 2) {
		ck_assert_int_eq(vmmem_unmap(m, h[i], i < 64 ? 0x40 : 0), 0);
		ck_assert_int_eq(vmmem_unmap(m, h[i], 0), -ENOENT);
	}
	ck_assert_int_eq(test_wait_release(&log, 1), 1);
	for (int i = 0; i < NMAPS; i++)
		ck_assert(test_all_bytes((uint8_t *)mem + i * 0x40, i & 0xff,
					 0x40));
	/* The region was removed before the unmaps: nothing is logged. */
	ck_assert_int_eq(vmmem_dirty_harvest(m, gpa, size, bm), 0);
	vmmem_free(m);
	munmap(mem, size);
}
END_TEST

/* The same while the region stays: written bytes are logged per page. */
START_TEST(many_live_mappings_dirty)
{
	struct vmmem *m = mk_space();
	static void *h[NMAPS];
	uint64_t bm[1] = { 0 };

	ck_assert_int_eq(vmmem_dirty_start(m, 4096), 0);
	for (int i = 0; i < NMAPS; i++) {
		uint64_t len = 0x20;

		ck_assert_int_eq(vmmem_map(m, i * 0x40ull, &len, VMMEM_MAP_WRITE,
					   &h[i]), 0);
	}
	/* Declared written: the mappings of pages 1, 3 and 7 (0x40 apart,
	 * 64 per page), ended in reverse. */
	for (int i = NMAPS - 1; i >= 0; i--) {
		int page = i / 64;

		ck_assert_int_eq(vmmem_unmap(m, h[i], (page == 1 || page == 3 ||
						      page == 7) && i % 64 == 5
						     ? 0x20 : 0), 0);
	}
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0, 0x8000, bm), 3);
	ck_assert_uint_eq(bm[0], (1ull << 1) | (1ull << 3) | (1ull << 7));
	vmmem_free(m);
}
END_TEST

/* Spec (vmmem_free): mappings still open are ended, and the region is
 * destroyed unless something else still references it. */
START_TEST(free_ends_open_mappings)
{
	const uint64_t size = 0x2000;
	struct test_release_log log = { 0 };
	struct vmmem_region *r;
	struct vmmem *m = mk_space();
	uint64_t len = 0x100;
	void *mem, *a = NULL, *b = NULL;

	r = test_raw_region(size, &log, &mem);
	ck_assert_int_eq(vmmem_add_region(m, 0x100000, r), 0);
	vmmem_region_unref(r);
	ck_assert_int_eq(vmmem_map(m, 0x100000, &len, VMMEM_MAP_WRITE, &a), 0);
	len = 0x1000;
	ck_assert_int_eq(vmmem_map(m, 0x101000, &len, VMMEM_MAP_READ, &b), 0);
	memcpy(a, "free", 4);
	vmmem_free(m);
	/* Both mappings ended with the address space, and with them the last
	 * references: the region was released before vmmem_free() returned. */
	ck_assert_int_eq(log.calls, 1);
	ck_assert_ptr_eq(log.addr, mem);
	ck_assert_uint_eq(log.size, size);
	ck_assert_mem_eq(mem, "free", 4);
	munmap(mem, size);
}
END_TEST

/* ... while a region the caller still references is not destroyed. */
START_TEST(free_open_mappings_caller_ref)
{
	const uint64_t size = 0x1000;
	struct test_release_log log = { 0 };
	struct vmmem_region *r;
	struct vmmem *m = mk_space();
	uint64_t len = 0x10, got = 0;
	void *mem, *h = NULL;

	r = test_raw_region(size, &log, &mem);
	ck_assert_int_eq(vmmem_add_region(m, 0x100000, r), 0);
	ck_assert_int_eq(vmmem_map(m, 0x100010, &len, VMMEM_MAP_READ, &h), 0);
	vmmem_free(m);
	ck_assert_int_eq(log.calls, 0);
	ck_assert_int_eq(vmmem_region_size(r, &got), 0);
	ck_assert_uint_eq(got, size);
	vmmem_region_unref(r);
	ck_assert_int_eq(log.calls, 1);
	munmap(mem, size);
}
END_TEST

/* Spec: bytes written to a region removed from mem in the meantime are not
 * logged, even when the same region is placed again elsewhere: the GPA the
 * mapping was made at is now other memory. */
START_TEST(unmap_after_region_moved_not_logged)
{
	struct vmmem_region *r = test_region(0x2000);
	struct vmmem *m = NULL;
	uint64_t len = 0x800, bm[1] = { 0 };
	uint8_t buf[4] = { 0 };
	void *h = NULL;

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(m, 0, r), 0);
	ck_assert_int_eq(vmmem_dirty_start(m, 4096), 0);
	ck_assert_int_eq(vmmem_map(m, 0x1000, &len, VMMEM_MAP_WRITE, &h), 0);
	ck_assert_uint_eq(len, 0x800);
	ck_assert_int_eq(vmmem_remove_region(m, 0, 0x2000, NULL), 0);
	/* The region again, one page higher: GPA 0x1000 is now its first
	 * page, and the mapped bytes are at GPA 0x2000. */
	ck_assert_int_eq(vmmem_add_region(m, 0x1000, r), 0);
	memcpy(h, "move", 4);
	ck_assert_int_eq(vmmem_unmap(m, h, 4), 0);
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0, 0x4000, bm), 0);
	ck_assert_uint_eq(bm[0], 0);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x1000), 0);
	/* The bytes themselves are in the region, at its new place. */
	ck_assert_int_eq(vmmem_read_exact(m, 0x2000, buf, 4), 0);
	ck_assert_mem_eq(buf, "move", 4);
	vmmem_region_unref(r);
	vmmem_free(m);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("map");
	TCase *tc;

	tc = tcase_create("map");
	tcase_add_test(tc, map_aliases_guest_memory);
	tcase_add_test(tc, map_len_shortened);
	tcase_add_test(tc, map_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("unmap");
	tcase_add_test(tc, unmap_errors);
	tcase_add_test(tc, unmap_written_beyond_mapped_len);
	tcase_add_test(tc, unmap_written_on_readonly_mapping);
	tcase_add_test(tc, unmap_overlapping_mappings_any_order);
	tcase_add_test(tc, unmap_overlapping_mappings_reverse_order);
	tcase_add_test(tc, unmap_pointer_not_returned_by_map);
	tcase_add_test(tc, many_live_mappings);
	tcase_add_test(tc, many_live_mappings_dirty);
	suite_add_tcase(s, tc);

	tc = tcase_create("pinning");
	tcase_add_test(tc, map_outlives_remove);
	tcase_add_test(tc, map_removed_unmap_written_too_far);
	tcase_add_test(tc, remove_without_mapping_releases);
	tcase_add_test(tc, free_ends_open_mappings);
	tcase_add_test(tc, free_open_mappings_caller_ref);
	suite_add_tcase(s, tc);

	tc = tcase_create("dirty");
	tcase_add_test(tc, unmap_marks_dirty);
	tcase_add_test(tc, unmap_after_region_moved_not_logged);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run(suite());
}
