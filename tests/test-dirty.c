/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Dirty page logging: start/stop, every write path, harvest layout and
 * get-and-clear semantics, clear, test, hotplug while logging, large pages. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* A [0, 0x10000)  B [0x10000, 0x20000)  hole [0x20000, 0x40000)
 * C [0x40000, 0x50000)  hole  L [0x100000, 0x200000) */
#define B_GPA 0x10000ull
#define HOLE  0x20000ull
#define C_GPA 0x40000ull
#define L_GPA 0x100000ull
#define L_SIZE 0x100000ull
#define PS 4096ull
#define LOW_PAGES 80               /* pages of [0, 0x50000) */

static struct vmmem *mk_space(void)
{
	static const uint64_t gpa[] = { 0, B_GPA, C_GPA, L_GPA };
	static const uint64_t size[] = { 0x10000, 0x10000, 0x10000, L_SIZE };

	return test_space(4, gpa, size);
}

static struct vmmem *mk_logging(void)
{
	struct vmmem *m = mk_space();

	ck_assert_int_eq(vmmem_dirty_start(m, PS), 0);
	return m;
}

/* Harvests [0, 0x50000) and checks exactly the pages listed are dirty. */
static void expect_low(struct vmmem *m, const uint64_t *pages, size_t n)
{
	uint64_t bm[2] = { ~0ull, ~0ull }, want[2] = { 0, 0 };
	size_t distinct = 0;

	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_lt(pages[i], LOW_PAGES);
		if (!(want[pages[i] / 64] & (1ull << (pages[i] % 64))))
			distinct++;
		want[pages[i] / 64] |= 1ull << (pages[i] % 64);
	}
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0, LOW_PAGES * PS, bm), (int)distinct);
	ck_assert_msg(bm[0] == want[0] && bm[1] == want[1],
		      "dirty bitmap 0x%016llx 0x%016llx, want 0x%016llx 0x%016llx",
		      (unsigned long long)bm[1], (unsigned long long)bm[0],
		      (unsigned long long)want[1], (unsigned long long)want[0]);
}

#define EXPECT_LOW(m, ...)                                                    \
	do {                                                                  \
		static const uint64_t _p[] = { __VA_ARGS__ };                 \
		expect_low((m), _p, sizeof(_p) / sizeof(_p[0]));              \
	} while (0)
#define EXPECT_CLEAN(m) expect_low((m), NULL, 0)

/* ------------------------------------------------------- start / stop */

START_TEST(start_page_sizes)
{
	struct vmmem *m = mk_space();
	static const uint64_t bad[] = { 1, 512, 2048, 4095, 4097, 3 * 4096,
					(1ull << 30) + 4096, 1ull << 31, 1ull << 40,
					~0ull };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(vmmem_dirty_start(m, bad[i]), -EINVAL);
	ck_assert_int_eq(vmmem_dirty_test(m, 0), -ENOENT);
	ck_assert_int_eq(vmmem_dirty_start(NULL, 0), -EINVAL);

	/* 0 means 4096 */
	ck_assert_int_eq(vmmem_dirty_start(m, 0), 0);
	ck_assert_int_eq(vmmem_dirty_start(m, 0), -EBUSY);
	ck_assert_int_eq(vmmem_dirty_start(m, 8192), -EBUSY);
	ck_assert_int_eq(vmmem_write(m, 0x1000, "x", 1), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x0FFF), 0);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x1000), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x1FFF), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x2000), 0);
	ck_assert_int_eq(vmmem_dirty_stop(m), 0);
	ck_assert_int_eq(vmmem_dirty_stop(m), -ENOENT);

	/* the limits are accepted */
	ck_assert_int_eq(vmmem_dirty_start(m, 1ull << 30), 0);
	ck_assert_int_eq(vmmem_dirty_stop(m), 0);
	ck_assert_int_eq(vmmem_dirty_start(m, 4096), 0);
	ck_assert_int_eq(vmmem_dirty_stop(m), 0);
	ck_assert_int_eq(vmmem_dirty_start(m, 1ull << 16), 0);
	ck_assert_int_eq(vmmem_write(m, 0x1000, "x", 1), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, 0xFFFF), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x10000), 0);
	ck_assert_int_eq(vmmem_dirty_stop(m), 0);
	vmmem_free(m);
}
END_TEST

START_TEST(off_is_enoent)
{
	struct vmmem *m = mk_space();
	uint64_t bm[2];

	ck_assert_int_eq(vmmem_dirty_stop(m), -ENOENT);
	ck_assert_int_eq(vmmem_dirty_mark(m, 0, 1), -ENOENT);
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0, PS, bm), -ENOENT);
	ck_assert_int_eq(vmmem_dirty_clear(m, 0, PS), -ENOENT);
	ck_assert_int_eq(vmmem_dirty_test(m, 0), -ENOENT);
	/* Spec (man pages): len 0 returns 0 only while logging is on. */
	ck_assert_int_eq(vmmem_dirty_mark(m, 0, 0), -ENOENT);
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0, 0, bm), -ENOENT);
	ck_assert_int_eq(vmmem_dirty_clear(m, 0, 0), -ENOENT);
	ck_assert_int_eq(vmmem_dirty_stop(NULL), -EINVAL);
	ck_assert_int_eq(vmmem_dirty_test(NULL, 0), -EINVAL);
	/* writes while off work and leave nothing behind */
	ck_assert_int_eq(vmmem_write(m, 0x3000, "abc", 3), 3);
	ck_assert_int_eq(vmmem_dirty_start(m, 0), 0);
	EXPECT_CLEAN(m);
	vmmem_free(m);
}
END_TEST

START_TEST(stop_then_start_is_clean)
{
	struct vmmem *m = mk_logging();

	ck_assert_int_eq(vmmem_fill(m, 0, 0x11, 0x50000 - 0x30000), 0);
	ck_assert_int_eq(vmmem_dirty_mark(m, C_GPA, 0x10000), 0);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x5000), 1);
	ck_assert_int_eq(vmmem_dirty_stop(m), 0);
	ck_assert_int_eq(vmmem_write(m, 0x7000, "z", 1), 1);
	ck_assert_int_eq(vmmem_dirty_start(m, 0), 0);
	for (uint64_t pg = 0; pg < 0x20; pg++)
		ck_assert_int_eq(vmmem_dirty_test(m, pg * PS), 0);
	EXPECT_CLEAN(m);
	ck_assert_int_eq(vmmem_write(m, 0x7000, "z", 1), 1);
	EXPECT_LOW(m, 7);
	vmmem_free(m);
}
END_TEST

/* --------------------------------------------------------- write paths */

START_TEST(path_write)
{
	struct vmmem *m = mk_logging();
	uint8_t buf[0x100] = { 1 };

	ck_assert_int_eq(vmmem_write(m, 0x1FFF, buf, 2), 2);
	EXPECT_LOW(m, 1, 2);
	/* across A/B, and a partial write stopping at the hole */
	ck_assert_int_eq(vmmem_write(m, B_GPA - 1, buf, 2), 2);
	ck_assert_int_eq(vmmem_write(m, HOLE - 0x10, buf, 0x100), 0x10);
	EXPECT_LOW(m, 15, 16, 31);
	ck_assert_int_eq(vmmem_write(m, C_GPA + 0x3000, buf, 1), 1);
	EXPECT_LOW(m, 0x43);
	/* a failed write marks nothing */
	ck_assert_int_eq(vmmem_write(m, HOLE, buf, 1), -EFAULT);
	EXPECT_CLEAN(m);
	vmmem_free(m);
}
END_TEST

START_TEST(path_write_exact)
{
	struct vmmem *m = mk_logging();
	uint8_t buf[0x3000] = { 2 };

	ck_assert_int_eq(vmmem_write_exact(m, B_GPA - 2, buf, 4), 0);
	EXPECT_LOW(m, 15, 16);
	ck_assert_int_eq(vmmem_write_exact(m, 0x4800, buf, 0x2801), 0);
	EXPECT_LOW(m, 4, 5, 6, 7);
	ck_assert_int_eq(vmmem_write_exact(m, HOLE - 0x10, buf, 0x20), -EFAULT);
	EXPECT_CLEAN(m);
	/* the le helpers go through write_exact */
	ck_assert_int_eq(vmmem_write_le64(m, 0x9000, 1), 0);
	EXPECT_LOW(m, 9);
	vmmem_free(m);
}
END_TEST

START_TEST(path_store)
{
	struct vmmem *m = mk_logging();

	ck_assert_int_eq(vmmem_store(m, 0x3000, 8, 1, VMMEM_ORDER_SEQ_CST), 0);
	ck_assert_int_eq(vmmem_store(m, 0x5FFF, 1, 1, VMMEM_ORDER_RELAXED), 0);
	ck_assert_int_eq(vmmem_store(m, C_GPA, 2, 1, VMMEM_ORDER_RELEASE), 0);
	EXPECT_LOW(m, 3, 5, 0x40);
	/* failed stores mark nothing */
	ck_assert_int_eq(vmmem_store(m, 0x3001, 8, 1, VMMEM_ORDER_SEQ_CST), -EINVAL);
	ck_assert_int_eq(vmmem_store(m, 0x3000, 8, 1, VMMEM_ORDER_ACQUIRE), -EINVAL);
	EXPECT_CLEAN(m);
	vmmem_free(m);
}
END_TEST

START_TEST(path_fill)
{
	struct vmmem *m = mk_logging();

	ck_assert_int_eq(vmmem_fill(m, 0x5000, 0xAA, 0x2001), 0);
	EXPECT_LOW(m, 5, 6, 7);
	ck_assert_int_eq(vmmem_fill(m, B_GPA - PS, 0xAA, 2 * PS), 0);
	EXPECT_LOW(m, 15, 16);
	ck_assert_int_eq(vmmem_fill(m, HOLE - 1, 0xAA, 2), -EFAULT);
	ck_assert_int_eq(vmmem_fill(m, 0, 0xAA, 0), 0);
	EXPECT_CLEAN(m);
	vmmem_free(m);
}
END_TEST

START_TEST(path_copy)
{
	struct vmmem *m = mk_logging();

	/* dst only, not src */
	ck_assert_int_eq(vmmem_copy(m, 0x8000, 0x1000, 0x1000), 0);
	EXPECT_LOW(m, 8);
	ck_assert_int_eq(vmmem_copy(m, C_GPA + 0x10, B_GPA - 0x10, 0x20), 0);
	EXPECT_LOW(m, 0x40);
	ck_assert_int_eq(vmmem_copy(m, B_GPA - 0x10, C_GPA, 0x20), 0);
	EXPECT_LOW(m, 15, 16);
	/* overlapping, both directions */
	ck_assert_int_eq(vmmem_copy(m, 0x2800, 0x2000, 0x1000), 0);
	EXPECT_LOW(m, 2, 3);
	ck_assert_int_eq(vmmem_copy(m, 0x2000, 0x2800, 0x1000), 0);
	EXPECT_LOW(m, 2);
	/* failed copy marks nothing */
	ck_assert_int_eq(vmmem_copy(m, 0x1000, HOLE - 0x10, 0x20), -EFAULT);
	ck_assert_int_eq(vmmem_copy(m, HOLE - 0x10, 0x1000, 0x20), -EFAULT);
	EXPECT_CLEAN(m);
	vmmem_free(m);
}
END_TEST

START_TEST(path_fd)
{
	struct vmmem *m = mk_logging();
	static uint8_t data[0x3000];
	int fd = test_tmpfile();

	memset(data, 0x3C, sizeof(data));
	ck_assert_int_eq(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	ck_assert_int_eq(vmmem_pread_fd(m, 0x6800, fd, 0x1000, 0), 0x1000);
	EXPECT_LOW(m, 6, 7);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(vmmem_read_fd(m, B_GPA - 8, fd, 16), 16);
	EXPECT_LOW(m, 15, 16);
	/* guest -> file does not mark */
	ck_assert_int_eq(vmmem_pwrite_fd(m, 0x1000, fd, 0x1000, 0), 0x1000);
	ck_assert_int_eq(vmmem_write_fd(m, 0x2000, fd, 0x1000), 0x1000);
	EXPECT_CLEAN(m);
	close(fd);
	vmmem_free(m);
}
END_TEST

START_TEST(path_unmap)
{
	struct vmmem *m = mk_logging();
	uint64_t len = 0x2000;
	void *h = NULL;

	ck_assert_int_eq(vmmem_map(m, 0xA800, &len, VMMEM_MAP_WRITE, &h), 0);
	ck_assert_uint_eq(len, 0x2000);
	memset(h, 1, 0x900);
	ck_assert_int_eq(vmmem_unmap(m, h, 0x900), 0);
	EXPECT_LOW(m, 0xA, 0xB);
	len = 0x10;
	ck_assert_int_eq(vmmem_map(m, 0xC000, &len, VMMEM_MAP_WRITE, &h), 0);
	ck_assert_int_eq(vmmem_unmap(m, h, 0), 0);
	EXPECT_CLEAN(m);
	vmmem_free(m);
}
END_TEST

START_TEST(path_mark)
{
	struct vmmem *m = mk_logging();

	ck_assert_int_eq(vmmem_dirty_mark(m, 0x9000, 1), 0);
	EXPECT_LOW(m, 9);
	ck_assert_int_eq(vmmem_dirty_mark(m, B_GPA - 1, 2), 0);
	ck_assert_int_eq(vmmem_dirty_mark(m, C_GPA + 0xF000, 0x1000), 0);
	EXPECT_LOW(m, 15, 16, 0x4F);
	/* an unbacked byte: -EFAULT, nothing marked */
	ck_assert_int_eq(vmmem_dirty_mark(m, HOLE - PS, 2 * PS), -EFAULT);
	ck_assert_int_eq(vmmem_dirty_mark(m, HOLE, 1), -EFAULT);
	ck_assert_int_eq(vmmem_dirty_mark(m, 0, 0x50000), -EFAULT);
	ck_assert_int_eq(vmmem_dirty_mark(m, 0x1000, 0), 0);
	ck_assert_int_eq(vmmem_dirty_mark(m, UINT64_MAX, 2), -EINVAL);
	ck_assert_int_eq(vmmem_dirty_mark(NULL, 0, 1), -EINVAL);
	EXPECT_CLEAN(m);
	/* the whole of A and B */
	ck_assert_int_eq(vmmem_dirty_mark(m, 0, HOLE), 0);
	{
		uint64_t bm[2] = { 0, ~0ull };

		ck_assert_int_eq(vmmem_dirty_harvest(m, 0, LOW_PAGES * PS, bm), 32);
		ck_assert_uint_eq(bm[0], 0xFFFFFFFFull);
		ck_assert_uint_eq(bm[1], 0);
	}
	vmmem_free(m);
}
END_TEST

START_TEST(reads_do_not_mark)
{
	struct vmmem *m = mk_logging();
	uint8_t buf[0x100];
	uint64_t v;
	void *h;
	struct iovec iov[2];

	ck_assert_int_eq(vmmem_read(m, 0x1000, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	ck_assert_int_eq(vmmem_read_exact(m, B_GPA - 8, buf, 16), 0);
	ck_assert_int_eq(vmmem_load(m, 0x3000, 8, &v, VMMEM_ORDER_SEQ_CST), 0);
	ck_assert_int_eq(vmmem_read_le32(m, 0x4000, (uint32_t *)buf), 0);
	ck_assert_int_eq(vmmem_host_address(m, 0x5000, 8, &h), 0);
	ck_assert_int_eq(vmmem_iovec(m, B_GPA - 8, 16, iov, 2), 2);
	ck_assert_int_eq(vmmem_check_range(m, 0, HOLE), 0);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x6000), 0);
	{
		uint64_t len = 0x100;

		ck_assert_int_eq(vmmem_map(m, 0x7000, &len, VMMEM_MAP_READ, &h), 0);
		ck_assert_int_eq(vmmem_unmap(m, h, 0), 0);
	}
	EXPECT_CLEAN(m);
	vmmem_free(m);
}
END_TEST

/* ------------------------------------------------------------- harvest */

START_TEST(harvest_get_and_clear)
{
	struct vmmem *m = mk_logging();
	uint64_t bm[2];

	ck_assert_int_eq(vmmem_write(m, 0x0, "a", 1), 1);
	ck_assert_int_eq(vmmem_write(m, 0x5010, "a", 1), 1);
	ck_assert_int_eq(vmmem_write(m, 0x1F000, "a", 1), 1);
	ck_assert_int_eq(vmmem_write(m, 0x4F000, "a", 1), 1);
	bm[0] = bm[1] = 0x5555555555555555ull;
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0, LOW_PAGES * PS, bm), 4);
	ck_assert_uint_eq(bm[0], 1ull | (1ull << 5) | (1ull << 31));
	ck_assert_uint_eq(bm[1], 1ull << (0x4F - 64));
	/* second harvest: nothing, and the whole bitmap written */
	bm[0] = bm[1] = 0x5555555555555555ull;
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0, LOW_PAGES * PS, bm), 0);
	ck_assert_uint_eq(bm[0], 0);
	ck_assert_uint_eq(bm[1], 0);
	ck_assert_int_eq(vmmem_dirty_test(m, 0), 0);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x1F000), 0);
	vmmem_free(m);
}
END_TEST

START_TEST(harvest_layout)
{
	struct vmmem *m = mk_logging();
	static const uint64_t pages[] = { 0, 63, 64, 65, 130, 191, 192, 255 };
	uint64_t bm[5];

	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
		ck_assert_int_eq(vmmem_store(m, L_GPA + pages[i] * PS + 8, 1, 1,
					     VMMEM_ORDER_RELAXED), 0);
	memset(bm, 0xA5, sizeof(bm));
	ck_assert_int_eq(vmmem_dirty_harvest(m, L_GPA, L_SIZE, bm), 8);
	ck_assert_uint_eq(bm[0], 1ull | (1ull << 63));
	ck_assert_uint_eq(bm[1], 1ull | 2ull);
	ck_assert_uint_eq(bm[2], (1ull << 2) | (1ull << 63));
	ck_assert_uint_eq(bm[3], 1ull | (1ull << 63));
	ck_assert_uint_eq(bm[4], 0xA5A5A5A5A5A5A5A5ull);   /* past the bitmap */

	/* a base that is not a multiple of 64 pages: bit i = page base + i */
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
		ck_assert_int_eq(vmmem_dirty_mark(m, L_GPA + pages[i] * PS, 1), 0);
	memset(bm, 0xA5, sizeof(bm));
	ck_assert_int_eq(vmmem_dirty_harvest(m, L_GPA + 3 * PS, 200 * PS, bm), 6);
	/* pages 63, 64, 65, 130, 191, 192 -> bits 60, 61, 62, 127, 188, 189 */
	ck_assert_uint_eq(bm[0], (1ull << 60) | (1ull << 61) | (1ull << 62));
	ck_assert_uint_eq(bm[1], 1ull << 63);
	ck_assert_uint_eq(bm[2], (1ull << 60) | (1ull << 61));
	ck_assert_uint_eq(bm[3], 0);
	ck_assert_uint_eq(bm[4], 0xA5A5A5A5A5A5A5A5ull);
	/* pages 0 and 255 were outside the range: still dirty */
	ck_assert_int_eq(vmmem_dirty_test(m, L_GPA), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, L_GPA + 255 * PS), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, L_GPA + 64 * PS), 0);
	vmmem_free(m);
}
END_TEST

START_TEST(harvest_sub_range)
{
	struct vmmem *m = mk_logging();
	uint64_t bm[1];

	ck_assert_int_eq(vmmem_dirty_mark(m, 0, 10 * PS), 0);
	bm[0] = ~0ull;
	ck_assert_int_eq(vmmem_dirty_harvest(m, 2 * PS, 3 * PS, bm), 3);
	ck_assert_uint_eq(bm[0], 0x7);
	ck_assert_int_eq(vmmem_dirty_test(m, 1 * PS), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, 2 * PS), 0);
	ck_assert_int_eq(vmmem_dirty_test(m, 4 * PS), 0);
	ck_assert_int_eq(vmmem_dirty_test(m, 5 * PS), 1);
	/* len not a multiple of the page size: the partial page counts,
	 * bits past the last page are 0 and the next page is kept */
	bm[0] = ~0ull;
	ck_assert_int_eq(vmmem_dirty_harvest(m, 5 * PS, PS + 1, bm), 2);
	ck_assert_uint_eq(bm[0], 0x3);
	ck_assert_int_eq(vmmem_dirty_test(m, 7 * PS), 1);
	EXPECT_LOW(m, 0, 1, 7, 8, 9);
	vmmem_free(m);
}
END_TEST

START_TEST(harvest_over_hole)
{
	struct vmmem *m = mk_logging();
	uint64_t bm[2];

	ck_assert_int_eq(vmmem_dirty_mark(m, 0x1F000, PS), 0);
	ck_assert_int_eq(vmmem_dirty_mark(m, C_GPA, PS), 0);
	bm[0] = bm[1] = ~0ull;
	/* pages 0x1F .. 0x40: 34 pages, the hole in the middle */
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0x1F000, 0x22000, bm), 2);
	ck_assert_uint_eq(bm[0], 1ull | (1ull << 33));
	ck_assert_uint_eq(bm[1], ~0ull);
	/* a harvest entirely inside the hole */
	bm[0] = ~0ull;
	ck_assert_int_eq(vmmem_dirty_harvest(m, HOLE, 0x10000, bm), 0);
	ck_assert_uint_eq(bm[0], 0);
	/* and beyond all memory */
	bm[0] = ~0ull;
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0x40000000, 0x1000, bm), 0);
	ck_assert_uint_eq(bm[0], 0);
	vmmem_free(m);
}
END_TEST

START_TEST(harvest_errors)
{
	struct vmmem *m = mk_logging();
	uint64_t bm[1] = { 0x77 };

	ck_assert_int_eq(vmmem_dirty_mark(m, 0x1000, 1), 0);
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0x1001, PS, bm), -EINVAL);
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0x800, PS, bm), -EINVAL);
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0, PS, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_dirty_harvest(NULL, 0, PS, bm), -EINVAL);
	ck_assert_int_eq(vmmem_dirty_harvest(m, UINT64_MAX & ~(PS - 1), 2 * PS, bm),
			 -EINVAL);
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0, 0, bm), 0);
	ck_assert_uint_eq(bm[0], 0x77);
	/* nothing was cleared by the failures */
	ck_assert_int_eq(vmmem_dirty_test(m, 0x1000), 1);
	vmmem_free(m);
}
END_TEST

/* ----------------------------------------------------- clear and test */

START_TEST(clear_and_test)
{
	struct vmmem *m = mk_logging();

	ck_assert_int_eq(vmmem_dirty_mark(m, 0, 8 * PS), 0);
	/* bits of pages overlapping the range, even partly */
	ck_assert_int_eq(vmmem_dirty_clear(m, 0x1800, 0x10), 0);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x1000), 0);
	ck_assert_int_eq(vmmem_dirty_clear(m, 0x2FFF, 2), 0);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x2000), 0);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x3000), 0);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x4000), 1);
	/* holes ignored */
	ck_assert_int_eq(vmmem_dirty_mark(m, 0x1F000, PS), 0);
	ck_assert_int_eq(vmmem_dirty_mark(m, C_GPA, PS), 0);
	ck_assert_int_eq(vmmem_dirty_clear(m, 0x1F000, 0x22000), 0);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x1F000), 0);
	ck_assert_int_eq(vmmem_dirty_test(m, C_GPA), 0);
	ck_assert_int_eq(vmmem_dirty_clear(m, HOLE, 0x1000), 0);
	ck_assert_int_eq(vmmem_dirty_clear(m, 0, 0), 0);
	EXPECT_LOW(m, 0, 4, 5, 6, 7);
	/* dirty_test on unbacked addresses */
	ck_assert_int_eq(vmmem_dirty_test(m, HOLE), -EFAULT);
	ck_assert_int_eq(vmmem_dirty_test(m, C_GPA - 1), -EFAULT);
	ck_assert_int_eq(vmmem_dirty_test(m, UINT64_MAX), -EFAULT);
	ck_assert_int_eq(vmmem_dirty_test(m, L_GPA + L_SIZE - 1), 0);
	ck_assert_int_eq(vmmem_dirty_clear(NULL, 0, 1), -EINVAL);
	vmmem_free(m);
}
END_TEST

/* ------------------------------------------------ hotplug while logging */

START_TEST(hot_added_regions_logged)
{
	struct vmmem *m = mk_logging();
	struct vmmem_region *r = test_region(0x4000);
	uint64_t bm[1];

	ck_assert_int_eq(vmmem_add_region(m, HOLE, r), 0);
	for (uint64_t pg = 0; pg < 4; pg++)
		ck_assert_int_eq(vmmem_dirty_test(m, HOLE + pg * PS), 0);
	ck_assert_int_eq(vmmem_write(m, HOLE + 0x1000, "q", 1), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, HOLE + 0x1000), 1);
	bm[0] = ~0ull;
	ck_assert_int_eq(vmmem_dirty_harvest(m, HOLE, 0x4000, bm), 1);
	ck_assert_uint_eq(bm[0], 2);
	/* writes spanning B and the new region */
	ck_assert_int_eq(vmmem_write(m, HOLE - 1, "qq", 2), 2);
	EXPECT_LOW(m, 31, 32);
	/* removed: the bit of a write made before stays until harvested,
	 * and stays if the region is placed there again */
	ck_assert_int_eq(vmmem_write(m, HOLE, "q", 1), 1);
	ck_assert_int_eq(vmmem_remove_region(m, HOLE, 0x4000, NULL), 0);
	ck_assert_int_eq(vmmem_dirty_test(m, HOLE), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, HOLE + PS), -EFAULT);
	ck_assert_int_eq(vmmem_add_region(m, HOLE, r), 0);
	ck_assert_int_eq(vmmem_dirty_test(m, HOLE), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, HOLE + PS), 0);
	ck_assert_int_eq(vmmem_remove_region(m, HOLE, 0x4000, NULL), 0);
	bm[0] = ~0ull;
	ck_assert_int_eq(vmmem_dirty_harvest(m, HOLE, 0x4000, bm), 1);
	ck_assert_uint_eq(bm[0], 1);
	ck_assert_int_eq(vmmem_dirty_test(m, HOLE), -EFAULT);
	/* placed elsewhere: clean there */
	ck_assert_int_eq(vmmem_add_region(m, 0x60000, r), 0);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x60000), 0);
	ck_assert_int_eq(vmmem_fill(m, 0x61000, 0, 0x1001), 0);
	bm[0] = ~0ull;
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0x60000, 0x4000, bm), 2);
	ck_assert_uint_eq(bm[0], 0x6);
	vmmem_region_unref(r);
	/* stop with the extra region, start again: logged as well */
	ck_assert_int_eq(vmmem_dirty_stop(m), 0);
	ck_assert_int_eq(vmmem_dirty_start(m, 0), 0);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x60000), 0);
	ck_assert_int_eq(vmmem_write(m, 0x63FFF, "q", 1), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x63000), 1);
	vmmem_free(m);
}
END_TEST

/* 2 MiB pages, regions not aligned to them: A [0x1000, 0x100000) and
 * B [0x100000, 0x280000) share page 0; B also covers page 1. */
#define BIG (2 * MIB)

static struct vmmem *mk_big(void)
{
	static const uint64_t gpa[] = { 0x1000, 0x100000 };
	static const uint64_t size[] = { 0xFF000, 0x180000 };
	struct vmmem *m = test_space(2, gpa, size);

	ck_assert_int_eq(vmmem_dirty_start(m, BIG), 0);
	return m;
}

START_TEST(large_pages_harvest)
{
	struct vmmem *m = mk_big();
	uint64_t bm[1];

	/* a write in A: page 0 */
	ck_assert_int_eq(vmmem_write(m, 0x5000, "a", 1), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x1000), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, 0xFFFFF), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x200000), 0);
	/* GPA 0 is in no region, but its page is dirty */
	ck_assert_int_eq(vmmem_dirty_test(m, 0), 1);
	bm[0] = ~0ull;
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0, 2 * BIG, bm), 1);
	ck_assert_uint_eq(bm[0], 1);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x1000), 0);
	ck_assert_int_eq(vmmem_dirty_test(m, 0), -EFAULT);

	/* a write in B's part of page 0: page 0 */
	ck_assert_int_eq(vmmem_write(m, 0x180000, "b", 1), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x180000), 1);
	bm[0] = ~0ull;
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0, 2 * BIG, bm), 1);
	ck_assert_uint_eq(bm[0], 1);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x180000), 0);

	/* writes in both: page 0 counted once; page 1 from B */
	ck_assert_int_eq(vmmem_write(m, 0x2000, "a", 1), 1);
	ck_assert_int_eq(vmmem_write(m, 0x1FF000, "b", 1), 1);
	ck_assert_int_eq(vmmem_write(m, 0x250000, "c", 1), 1);
	bm[0] = ~0ull;
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0, 2 * BIG, bm), 2);
	ck_assert_uint_eq(bm[0], 3);

	/* a write crossing A/B */
	ck_assert_int_eq(vmmem_write(m, 0xFFFFF, "ab", 2), 2);
	bm[0] = ~0ull;
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0, 2 * BIG, bm), 1);
	ck_assert_uint_eq(bm[0], 1);
	bm[0] = ~0ull;
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0, 2 * BIG, bm), 0);
	ck_assert_uint_eq(bm[0], 0);
	/* page-aligned gpa required with this page size */
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0x1000, BIG, bm), -EINVAL);
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0x100000, BIG, bm), -EINVAL);
	vmmem_free(m);
}
END_TEST

/* dirty_test answers for the page, whichever region the address is in. */
START_TEST(large_pages_test_shared_page)
{
	struct vmmem *m = mk_big();

	ck_assert_int_eq(vmmem_write(m, 0x5000, "a", 1), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x1000), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x100000), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x1FFFFF), 1);
	ck_assert_int_eq(vmmem_dirty_clear(m, 0, BIG), 0);
	ck_assert_int_eq(vmmem_write(m, 0x180000, "b", 1), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, 0xFFFFF), 1);
	vmmem_free(m);
}
END_TEST

/* A harvest or clear of part of a page covers the whole page: bit i is
 * page gpa/ps + i for ceil(len/ps) pages; clear takes every page the range
 * overlaps. */
START_TEST(large_pages_partial_range)
{
	struct vmmem *m = mk_big();
	uint64_t bm[1];

	/* dirty through B, harvested with a range that only reaches A */
	ck_assert_int_eq(vmmem_dirty_mark(m, 0x100000, 1), 0);
	bm[0] = ~0ull;
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0, 0x2000, bm), 1);
	ck_assert_uint_eq(bm[0], 1);
	/* dirty through B, cleared with a range inside A */
	ck_assert_int_eq(vmmem_dirty_mark(m, 0x100000, 1), 0);
	ck_assert_int_eq(vmmem_dirty_clear(m, 0x1000, 1), 0);
	bm[0] = ~0ull;
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0, 2 * BIG, bm), 0);
	ck_assert_uint_eq(bm[0], 0);
	vmmem_free(m);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dirty");
	TCase *tc;

	tc = tcase_create("start_stop");
	tcase_add_test(tc, start_page_sizes);
	tcase_add_test(tc, off_is_enoent);
	tcase_add_test(tc, stop_then_start_is_clean);
	suite_add_tcase(s, tc);

	tc = tcase_create("write_paths");
	tcase_add_test(tc, path_write);
	tcase_add_test(tc, path_write_exact);
	tcase_add_test(tc, path_store);
	tcase_add_test(tc, path_fill);
	tcase_add_test(tc, path_copy);
	tcase_add_test(tc, path_fd);
	tcase_add_test(tc, path_unmap);
	tcase_add_test(tc, path_mark);
	tcase_add_test(tc, reads_do_not_mark);
	suite_add_tcase(s, tc);

	tc = tcase_create("harvest");
	tcase_add_test(tc, harvest_get_and_clear);
	tcase_add_test(tc, harvest_layout);
	tcase_add_test(tc, harvest_sub_range);
	tcase_add_test(tc, harvest_over_hole);
	tcase_add_test(tc, harvest_errors);
	tcase_add_test(tc, clear_and_test);
	suite_add_tcase(s, tc);

	tc = tcase_create("hotplug");
	tcase_add_test(tc, hot_added_regions_logged);
	tcase_add_test(tc, large_pages_harvest);
	tcase_add_test(tc, large_pages_test_shared_page);
	tcase_add_test(tc, large_pages_partial_range);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run(suite());
}
