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
	tcase_add_test(tc, unmap_pointer_not_returned_by_map);
	suite_add_tcase(s, tc);

	tc = tcase_create("pinning");
	tcase_add_test(tc, map_outlives_remove);
	tcase_add_test(tc, map_removed_unmap_written_too_far);
	tcase_add_test(tc, remove_without_mapping_releases);
	suite_add_tcase(s, tc);

	tc = tcase_create("dirty");
	tcase_add_test(tc, unmap_marks_dirty);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run(suite());
}
