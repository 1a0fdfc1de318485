/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* vmmem_read/write(_exact), fill, copy, host_address, iovec and the
 * little-endian helpers. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "testutil.h"

/* Layout of the main test space:
 *   A [0x00000, 0x10000)  B [0x10000, 0x20000)  (contiguous)
 *   hole [0x20000, 0x30000)
 *   C [0x30000, 0x40000) */
#define A_GPA   0x00000ull
#define B_GPA   0x10000ull
#define HOLE    0x20000ull
#define C_GPA   0x30000ull
#define RSIZE   0x10000ull

static struct vmmem *mk_space(void)
{
	static const uint64_t gpa[] = { A_GPA, B_GPA, C_GPA };
	static const uint64_t size[] = { RSIZE, RSIZE, RSIZE };

	return test_space(3, gpa, size);
}

/* ------------------------------------------------------- read / write */

START_TEST(rw_one_region)
{
	struct vmmem *m = mk_space();
	uint8_t in[300], out[300];

	test_pattern(in, sizeof(in), 1);
	ck_assert_int_eq(vmmem_write(m, 0x100, in, sizeof(in)), (ssize_t)sizeof(in));
	ck_assert_mem_eq(test_host_of_gpa(m, 0x100), in, sizeof(in));
	memset(out, 0, sizeof(out));
	ck_assert_int_eq(vmmem_read(m, 0x100, out, sizeof(out)), (ssize_t)sizeof(out));
	ck_assert_mem_eq(out, in, sizeof(in));
	/* neighbours untouched (fresh anonymous memory is zero) */
	ck_assert_uint_eq(test_host_of_gpa(m, 0xFF)[0], 0);
	ck_assert_uint_eq(test_host_of_gpa(m, 0x100 + sizeof(in))[0], 0);

	/* single bytes and the last byte of a region */
	ck_assert_int_eq(vmmem_write(m, C_GPA + RSIZE - 1, "\x5a", 1), 1);
	ck_assert_int_eq(vmmem_read(m, C_GPA + RSIZE - 1, out, 1), 1);
	ck_assert_uint_eq(out[0], 0x5a);
	vmmem_free(m);
}
END_TEST

START_TEST(rw_two_regions)
{
	struct vmmem *m = mk_space();
	uint8_t in[256], out[256];

	test_pattern(in, sizeof(in), 2);
	ck_assert_int_eq(vmmem_write(m, B_GPA - 100, in, sizeof(in)), 256);
	ck_assert_mem_eq(test_host_of_gpa(m, B_GPA - 100), in, 100);
	ck_assert_mem_eq(test_host_of_gpa(m, B_GPA), in + 100, 156);
	memset(out, 0, sizeof(out));
	ck_assert_int_eq(vmmem_read(m, B_GPA - 100, out, sizeof(out)), 256);
	ck_assert_mem_eq(out, in, sizeof(in));
	vmmem_free(m);
}
END_TEST

/* The sizes the access paths copy without a call (1, 2, 4, 8, 16 bytes;
 * 2, 4 and 8 as one load or store when naturally aligned) at every
 * alignment: the bytes land where they should, in order, and the
 * neighbours stay; and the same across the A/B boundary. */
START_TEST(rw_small_sizes_any_alignment)
{
	static const size_t sizes[] = { 1, 2, 3, 4, 5, 8, 16 };
	struct vmmem *m = mk_space();
	uint8_t in[16], out[16], *h;

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k];

		for (uint64_t mis = 0; mis < 16; mis++) {
			const uint64_t gpa = 0x1000 + 0x40 * mis + mis;
			const uint64_t edge = B_GPA - n + mis % n;

			test_pattern(in, n, (unsigned int)(n * 16 + mis));
			ck_assert_int_eq(vmmem_write(m, gpa, in, n), (ssize_t)n);
			h = test_host_of_gpa(m, gpa);
			ck_assert_mem_eq(h, in, n);
			ck_assert_uint_eq(h[-1], 0);
			ck_assert_uint_eq(h[n], 0);
			memset(out, 0xee, sizeof(out));
			ck_assert_int_eq(vmmem_read(m, gpa, out, n), (ssize_t)n);
			ck_assert_mem_eq(out, in, n);
			if (n < sizeof(out))            /* n bytes, no more */
				ck_assert_uint_eq(out[n], 0xee);
			memset(out, 0, sizeof(out));
			ck_assert_int_eq(vmmem_write_exact(m, gpa, out, n), 0);
			ck_assert(test_all_bytes(h, 0, n));

			/* Ending at or straddling the end of A. */
			ck_assert_int_eq(vmmem_write_exact(m, edge, in, n), 0);
			memset(out, 0xee, sizeof(out));
			ck_assert_int_eq(vmmem_read_exact(m, edge, out, n), 0);
			ck_assert_mem_eq(out, in, n);
			memset(out, 0, sizeof(out));
			ck_assert_int_eq(vmmem_write_exact(m, edge, out, n), 0);
		}
	}
	vmmem_free(m);
}
END_TEST

START_TEST(rw_stops_at_hole)
{
	struct vmmem *m = mk_space();
	uint8_t in[0x100], out[0x100];

	test_pattern(in, sizeof(in), 3);
	ck_assert_int_eq(vmmem_write(m, HOLE - 0x40, in, sizeof(in)), 0x40);
	ck_assert_mem_eq(test_host_of_gpa(m, HOLE - 0x40), in, 0x40);
	memset(out, 0xEE, sizeof(out));
	ck_assert_int_eq(vmmem_read(m, HOLE - 0x40, out, sizeof(out)), 0x40);
	ck_assert_mem_eq(out, in, 0x40);

	/* across a contiguous boundary then into the hole */
	ck_assert_int_eq(vmmem_write(m, B_GPA - 0x10, in, 0x10), 0x10);
	{
		static uint8_t big[RSIZE + 0x100];

		ck_assert_int_eq(vmmem_read(m, B_GPA - 0x10, big, sizeof(big)),
				 (ssize_t)(RSIZE + 0x10));
		ck_assert_mem_eq(big, in, 0x10);
	}
	vmmem_free(m);
}
END_TEST

START_TEST(rw_unbacked_start)
{
	struct vmmem *m = mk_space();
	uint8_t buf[16] = { 1, 2, 3 };

	ck_assert_int_eq(vmmem_read(m, HOLE, buf, sizeof(buf)), -EFAULT);
	ck_assert_int_eq(vmmem_write(m, HOLE, buf, sizeof(buf)), -EFAULT);
	ck_assert_int_eq(vmmem_read(m, HOLE + 0x8000, buf, 1), -EFAULT);
	ck_assert_int_eq(vmmem_write(m, C_GPA + RSIZE, buf, 1), -EFAULT);
	ck_assert_int_eq(vmmem_read(m, UINT64_MAX, buf, 1), -EFAULT);
	/* the byte before C is unbacked even though the rest is backed */
	ck_assert_int_eq(vmmem_write(m, C_GPA - 1, buf, sizeof(buf)), -EFAULT);
	ck_assert_uint_eq(test_host_of_gpa(m, C_GPA)[0], 0);
	vmmem_free(m);
}
END_TEST

START_TEST(rw_args)
{
	struct vmmem *m = mk_space();
	uint8_t buf[16] = { 0 };

	ck_assert_int_eq(vmmem_read(m, 0x10, buf, 0), 0);
	ck_assert_int_eq(vmmem_write(m, 0x10, buf, 0), 0);
	ck_assert_int_eq(vmmem_read(m, 0x10, NULL, 0), 0);
	ck_assert_int_eq(vmmem_write(m, 0x10, NULL, 0), 0);
	ck_assert_int_eq(vmmem_read(m, 0x10, NULL, 4), -EINVAL);
	ck_assert_int_eq(vmmem_write(m, 0x10, NULL, 4), -EINVAL);
	ck_assert_int_eq(vmmem_read(NULL, 0x10, buf, 4), -EINVAL);
	ck_assert_int_eq(vmmem_write(NULL, 0x10, buf, 4), -EINVAL);
	/* gpa + len wraps past 2^64 */
	ck_assert_int_eq(vmmem_read(m, UINT64_MAX - 3, buf, 8), -EINVAL);
	ck_assert_int_eq(vmmem_write(m, UINT64_MAX - 3, buf, 8), -EINVAL);
	ck_assert_int_eq(vmmem_read(m, UINT64_MAX, buf, 2), -EINVAL);
	/* len > SSIZE_MAX */
	ck_assert_int_eq(vmmem_read(m, 0, buf, (size_t)SSIZE_MAX + 1), -EINVAL);
	ck_assert_int_eq(vmmem_write(m, 0, buf, (size_t)SSIZE_MAX + 1), -EINVAL);
	vmmem_free(m);
}
END_TEST

/* ------------------------------------------------- read/write _exact */

START_TEST(exact_ok)
{
	struct vmmem *m = mk_space();
	uint8_t in[512], out[512];

	test_pattern(in, sizeof(in), 4);
	ck_assert_int_eq(vmmem_write_exact(m, 0x1234, in, sizeof(in)), 0);
	memset(out, 0, sizeof(out));
	ck_assert_int_eq(vmmem_read_exact(m, 0x1234, out, sizeof(out)), 0);
	ck_assert_mem_eq(out, in, sizeof(in));

	test_pattern(in, sizeof(in), 5);
	ck_assert_int_eq(vmmem_write_exact(m, B_GPA - 200, in, sizeof(in)), 0);
	ck_assert_mem_eq(test_host_of_gpa(m, B_GPA - 200), in, 200);
	ck_assert_mem_eq(test_host_of_gpa(m, B_GPA), in + 200, 312);
	memset(out, 0, sizeof(out));
	ck_assert_int_eq(vmmem_read_exact(m, B_GPA - 200, out, sizeof(out)), 0);
	ck_assert_mem_eq(out, in, sizeof(in));

	/* exactly the whole of B, and ending at the end of C */
	ck_assert_int_eq(vmmem_write_exact(m, C_GPA + RSIZE - 8, in, 8), 0);
	ck_assert_int_eq(vmmem_read_exact(m, C_GPA + RSIZE - 8, out, 8), 0);
	ck_assert_mem_eq(out, in, 8);
	vmmem_free(m);
}
END_TEST

START_TEST(exact_hole)
{
	struct vmmem *m = mk_space();
	uint8_t in[0x100], out[0x100], before[0x40];

	ck_assert_int_eq(vmmem_fill(m, HOLE - 0x40, 0xAA, 0x40), 0);
	memcpy(before, test_host_of_gpa(m, HOLE - 0x40), sizeof(before));
	test_pattern(in, sizeof(in), 6);
	ck_assert_int_eq(vmmem_write_exact(m, HOLE - 0x40, in, sizeof(in)), -EFAULT);
	/* the backed part is untouched */
	ck_assert_mem_eq(test_host_of_gpa(m, HOLE - 0x40), before, sizeof(before));
	for (size_t i = 0; i < 0x40; i++)
		ck_assert_uint_eq(test_host_of_gpa(m, HOLE - 0x40)[i], 0xAA);

	memset(out, 0x11, sizeof(out));
	ck_assert_int_eq(vmmem_read_exact(m, HOLE - 0x40, out, sizeof(out)), -EFAULT);
	for (size_t i = 0; i < sizeof(out); i++)
		ck_assert_uint_eq(out[i], 0x11);

	/* unbacked start, and a range that ends in the middle of a hole */
	ck_assert_int_eq(vmmem_write_exact(m, HOLE, in, 1), -EFAULT);
	ck_assert_int_eq(vmmem_read_exact(m, HOLE + 5, out, 1), -EFAULT);
	ck_assert_int_eq(vmmem_write_exact(m, C_GPA - 1, in, 2), -EFAULT);
	ck_assert_uint_eq(test_host_of_gpa(m, C_GPA)[0], 0);
	/* backed A+B then hole */
	ck_assert_int_eq(vmmem_write_exact(m, B_GPA - 1, in, 1), 0);
	{
		static uint8_t big[2 * RSIZE + 1];

		memset(big, 0x33, sizeof(big));
		ck_assert_int_eq(vmmem_write_exact(m, 0, big, sizeof(big)), -EFAULT);
		ck_assert_uint_eq(test_host_of_gpa(m, 0)[0], 0);
		ck_assert_uint_eq(test_host_of_gpa(m, B_GPA - 1)[0], in[0]);
		ck_assert_int_eq(vmmem_write_exact(m, 0, big, sizeof(big) - 1), 0);
		ck_assert_uint_eq(test_host_of_gpa(m, B_GPA + RSIZE - 1)[0], 0x33);
	}
	vmmem_free(m);
}
END_TEST

START_TEST(exact_args)
{
	struct vmmem *m = mk_space();
	uint8_t buf[8] = { 0 };

	ck_assert_int_eq(vmmem_read_exact(m, 0, buf, 0), 0);
	ck_assert_int_eq(vmmem_write_exact(m, 0, buf, 0), 0);
	ck_assert_int_eq(vmmem_read_exact(m, 0, NULL, 1), -EINVAL);
	ck_assert_int_eq(vmmem_write_exact(m, 0, NULL, 1), -EINVAL);
	ck_assert_int_eq(vmmem_read_exact(NULL, 0, buf, 1), -EINVAL);
	ck_assert_int_eq(vmmem_write_exact(NULL, 0, buf, 1), -EINVAL);
	ck_assert_int_eq(vmmem_read_exact(m, UINT64_MAX - 1, buf, 8), -EINVAL);
	ck_assert_int_eq(vmmem_write_exact(m, UINT64_MAX - 1, buf, 8), -EINVAL);
	vmmem_free(m);
}
END_TEST

/* --------------------------------------------------------------- fill */

START_TEST(fill_basic)
{
	struct vmmem *m = mk_space();
	uint8_t out[0x300];

	ck_assert_int_eq(vmmem_fill(m, 0x100, 0x5A, 0x80), 0);
	ck_assert_int_eq(vmmem_read_exact(m, 0xFF, out, 0x82), 0);
	ck_assert_uint_eq(out[0], 0);
	for (size_t i = 1; i <= 0x80; i++)
		ck_assert_uint_eq(out[i], 0x5A);
	ck_assert_uint_eq(out[0x81], 0);

	/* across the A/B boundary */
	ck_assert_int_eq(vmmem_fill(m, B_GPA - 0x100, 0xC3, 0x200), 0);
	ck_assert_int_eq(vmmem_read_exact(m, B_GPA - 0x180, out, 0x300), 0);
	for (size_t i = 0; i < 0x300; i++)
		ck_assert_uint_eq(out[i], i < 0x80 || i >= 0x280 ? 0 : 0xC3);
	ck_assert_uint_eq(test_host_of_gpa(m, B_GPA)[0], 0xC3);
	ck_assert_uint_eq(test_host_of_gpa(m, B_GPA - 1)[0], 0xC3);

	ck_assert_int_eq(vmmem_fill(m, 0x100, 0x77, 0), 0);
	ck_assert_uint_eq(test_host_of_gpa(m, 0x100)[0], 0x5A);
	vmmem_free(m);
}
END_TEST

START_TEST(fill_hole)
{
	struct vmmem *m = mk_space();

	ck_assert_int_eq(vmmem_fill(m, HOLE - 0x10, 0xFF, 0x20), -EFAULT);
	for (int i = 0; i < 0x10; i++)
		ck_assert_uint_eq(test_host_of_gpa(m, HOLE - 0x10)[i], 0);
	ck_assert_int_eq(vmmem_fill(m, C_GPA - 1, 0xFF, 2), -EFAULT);
	ck_assert_uint_eq(test_host_of_gpa(m, C_GPA)[0], 0);
	ck_assert_int_eq(vmmem_fill(m, HOLE, 0xFF, 1), -EFAULT);
	ck_assert_int_eq(vmmem_fill(m, 0, 0xFF, C_GPA + RSIZE), -EFAULT);
	ck_assert_uint_eq(test_host_of_gpa(m, 0)[0], 0);
	ck_assert_uint_eq(test_host_of_gpa(m, C_GPA + RSIZE - 1)[0], 0);
	ck_assert_int_eq(vmmem_fill(NULL, 0, 0, 1), -EINVAL);
	ck_assert_int_eq(vmmem_fill(m, UINT64_MAX, 0, 2), -EINVAL);
	vmmem_free(m);
}
END_TEST

/* --------------------------------------------------------------- copy */

/* Three contiguous regions of odd sizes: boundaries at 4104 and 8208. */
#define ODD1 (4096ull + 8)
#define ODD2 (4096ull + 8)
#define ODD3 (4096ull + 8)
#define ODD_TOTAL (ODD1 + ODD2 + ODD3)
#define ODD_BASE 0x100000ull

static struct vmmem *mk_odd(void)
{
	static const uint64_t gpa[] = { ODD_BASE, ODD_BASE + ODD1,
					ODD_BASE + ODD1 + ODD2 };
	static const uint64_t size[] = { ODD1, ODD2, ODD3 };

	return test_space(3, gpa, size);
}

static void seed_odd(struct vmmem *m, uint8_t *mirror)
{
	test_pattern(mirror, ODD_TOTAL, 9);
	ck_assert_int_eq(vmmem_write_exact(m, ODD_BASE, mirror, ODD_TOTAL), 0);
}

static void check_odd(struct vmmem *m, const uint8_t *mirror)
{
	test_expect_bytes(m, ODD_BASE, mirror, ODD_TOTAL);
}

START_TEST(copy_non_overlapping)
{
	struct vmmem *m = mk_space();
	uint8_t in[0x200], out[0x200];

	test_pattern(in, sizeof(in), 10);
	ck_assert_int_eq(vmmem_write_exact(m, 0x1000, in, sizeof(in)), 0);
	ck_assert_int_eq(vmmem_copy(m, 0x3000, 0x1000, sizeof(in)), 0);
	ck_assert_int_eq(vmmem_read_exact(m, 0x3000, out, sizeof(out)), 0);
	ck_assert_mem_eq(out, in, sizeof(in));
	/* source unchanged */
	ck_assert_mem_eq(test_host_of_gpa(m, 0x1000), in, sizeof(in));
	/* from one region to another, destination crossing A/B, source in C */
	ck_assert_int_eq(vmmem_write_exact(m, C_GPA + 0x10, in, sizeof(in)), 0);
	ck_assert_int_eq(vmmem_copy(m, B_GPA - 0x100, C_GPA + 0x10, sizeof(in)), 0);
	ck_assert_mem_eq(test_host_of_gpa(m, B_GPA - 0x100), in, 0x100);
	ck_assert_mem_eq(test_host_of_gpa(m, B_GPA), in + 0x100, 0x100);
	/* same src and dst */
	ck_assert_int_eq(vmmem_copy(m, 0x1000, 0x1000, sizeof(in)), 0);
	ck_assert_mem_eq(test_host_of_gpa(m, 0x1000), in, sizeof(in));
	ck_assert_int_eq(vmmem_copy(m, 0x1000, 0x5000, 0), 0);
	ck_assert_mem_eq(test_host_of_gpa(m, 0x1000), in, sizeof(in));
	vmmem_free(m);
}
END_TEST

START_TEST(copy_overlapping_one_region)
{
	struct vmmem *m = mk_space();
	uint8_t mirror[0x400], got[0x400];

	test_pattern(mirror, sizeof(mirror), 11);
	ck_assert_int_eq(vmmem_write_exact(m, 0x2000, mirror, sizeof(mirror)), 0);
	/* forwards: dst above src, overlapping */
	ck_assert_int_eq(vmmem_copy(m, 0x2010, 0x2000, 0x300), 0);
	memmove(mirror + 0x10, mirror, 0x300);
	ck_assert_int_eq(vmmem_read_exact(m, 0x2000, got, sizeof(got)), 0);
	ck_assert_mem_eq(got, mirror, sizeof(mirror));
	/* backwards: dst below src */
	ck_assert_int_eq(vmmem_copy(m, 0x2001, 0x2081, 0x37F), 0);
	memmove(mirror + 1, mirror + 0x81, 0x37F);
	ck_assert_int_eq(vmmem_read_exact(m, 0x2000, got, sizeof(got)), 0);
	ck_assert_mem_eq(got, mirror, sizeof(mirror));
	/* off by one byte each way */
	ck_assert_int_eq(vmmem_copy(m, 0x2001, 0x2000, 0x3FF), 0);
	memmove(mirror + 1, mirror, 0x3FF);
	ck_assert_int_eq(vmmem_copy(m, 0x2000, 0x2001, 0x3FF), 0);
	memmove(mirror, mirror + 1, 0x3FF);
	ck_assert_int_eq(vmmem_read_exact(m, 0x2000, got, sizeof(got)), 0);
	ck_assert_mem_eq(got, mirror, sizeof(mirror));
	vmmem_free(m);
}
END_TEST

START_TEST(copy_overlapping_across_regions)
{
	static uint8_t mirror[ODD_TOTAL];
	static const uint64_t shifts[] = { 1, 3, 7, 8, 9, 100, 4095, 4096, 4097,
					   4104, 4105, 5000, 8207 };
	struct vmmem *m = mk_odd();

	seed_odd(m, mirror);
	for (size_t k = 0; k < sizeof(shifts) / sizeof(shifts[0]); k++) {
		uint64_t d = shifts[k];

		for (uint64_t start = 0; start + d < ODD_TOTAL; start += 1531) {
			uint64_t len = ODD_TOTAL - d - start;

			/* forwards (dst above src) */
			ck_assert_int_eq(vmmem_copy(m, ODD_BASE + start + d,
						    ODD_BASE + start, len), 0);
			memmove(mirror + start + d, mirror + start, len);
			check_odd(m, mirror);
			/* backwards (dst below src) */
			ck_assert_int_eq(vmmem_copy(m, ODD_BASE + start,
						    ODD_BASE + start + d, len), 0);
			memmove(mirror + start, mirror + start + d, len);
			check_odd(m, mirror);
			/* a shorter overlapping piece around a boundary */
			if (len > 64) {
				uint64_t s = ODD1 - 20 > start ? ODD1 - 20 : start;

				if (s + d + 40 <= ODD_TOTAL) {
					ck_assert_int_eq(vmmem_copy(m, ODD_BASE + s + d,
								    ODD_BASE + s, 40), 0);
					memmove(mirror + s + d, mirror + s, 40);
					check_odd(m, mirror);
				}
			}
		}
		/* re-seed so the data never becomes uniform */
		seed_odd(m, mirror);
	}
	vmmem_free(m);
}
END_TEST

START_TEST(copy_hole)
{
	struct vmmem *m = mk_space();
	uint8_t in[0x100];

	test_pattern(in, sizeof(in), 12);
	ck_assert_int_eq(vmmem_write_exact(m, 0x100, in, sizeof(in)), 0);
	/* destination runs into the hole: nothing written */
	ck_assert_int_eq(vmmem_copy(m, HOLE - 0x80, 0x100, 0x100), -EFAULT);
	for (int i = 0; i < 0x80; i++)
		ck_assert_uint_eq(test_host_of_gpa(m, HOLE - 0x80)[i], 0);
	/* source runs into the hole: nothing written */
	ck_assert_int_eq(vmmem_copy(m, 0x1000, HOLE - 0x80, 0x100), -EFAULT);
	for (int i = 0; i < 0x100; i++)
		ck_assert_uint_eq(test_host_of_gpa(m, 0x1000)[i], 0);
	/* source entirely unbacked; destination entirely unbacked */
	ck_assert_int_eq(vmmem_copy(m, 0x1000, HOLE, 4), -EFAULT);
	ck_assert_int_eq(vmmem_copy(m, HOLE, 0x100, 4), -EFAULT);
	ck_assert_mem_eq(test_host_of_gpa(m, 0x100), in, sizeof(in));
	ck_assert_int_eq(vmmem_copy(NULL, 0, 0x100, 4), -EINVAL);
	ck_assert_int_eq(vmmem_copy(m, UINT64_MAX - 1, 0x100, 4), -EINVAL);
	ck_assert_int_eq(vmmem_copy(m, 0x100, UINT64_MAX - 1, 4), -EINVAL);
	vmmem_free(m);
}
END_TEST

/* ------------------------------------------------------- host_address */

START_TEST(host_address_cases)
{
	struct vmmem *m = mk_space();
	void *h = NULL;
	uint8_t b = 0;

	ck_assert_int_eq(vmmem_host_address(m, 0x123, 0x10, &h), 0);
	ck_assert_ptr_eq(h, test_host_of_gpa(m, 0x123));
	((uint8_t *)h)[0] = 0x9C;
	ck_assert_int_eq(vmmem_read(m, 0x123, &b, 1), 1);
	ck_assert_uint_eq(b, 0x9C);

	/* whole region, and ending at its last byte */
	ck_assert_int_eq(vmmem_host_address(m, B_GPA, RSIZE, &h), 0);
	ck_assert_ptr_eq(h, test_host_of_gpa(m, B_GPA));
	ck_assert_int_eq(vmmem_host_address(m, B_GPA - 4, 4, &h), 0);
	ck_assert_ptr_eq(h, test_host_of_gpa(m, B_GPA - 4));

	h = (void *)&b;
	ck_assert_int_eq(vmmem_host_address(m, B_GPA - 4, 5, &h), -ERANGE);
	ck_assert_int_eq(vmmem_host_address(m, B_GPA - 1, RSIZE + 1, &h), -ERANGE);
	ck_assert_int_eq(vmmem_host_address(m, HOLE, 1, &h), -EFAULT);
	ck_assert_int_eq(vmmem_host_address(m, C_GPA - 1, 2, &h), -EFAULT);
	/* backed start, then a hole */
	ck_assert_int_eq(vmmem_host_address(m, HOLE - 1, 2, &h), -EFAULT);
	ck_assert_int_eq(vmmem_host_address(m, 0x100, 0, &h), -EINVAL);
	ck_assert_int_eq(vmmem_host_address(m, 0x100, 1, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_host_address(NULL, 0x100, 1, &h), -EINVAL);
	ck_assert_int_eq(vmmem_host_address(m, UINT64_MAX, 2, &h), -EINVAL);
	ck_assert_ptr_eq(h, (void *)&b);
	vmmem_free(m);
}
END_TEST

/* -------------------------------------------------------------- iovec */

START_TEST(iovec_cases)
{
	struct vmmem *m = mk_space();
	struct vmmem *o = mk_odd();
	struct iovec iov[4];
	uint8_t sentinel;

	memset(iov, 0, sizeof(iov));
	ck_assert_int_eq(vmmem_iovec(m, 0x100, 0x200, iov, 4), 1);
	ck_assert_ptr_eq(iov[0].iov_base, test_host_of_gpa(m, 0x100));
	ck_assert_uint_eq(iov[0].iov_len, 0x200);

	ck_assert_int_eq(vmmem_iovec(m, B_GPA - 0x10, 0x30, iov, 4), 2);
	ck_assert_ptr_eq(iov[0].iov_base, test_host_of_gpa(m, B_GPA - 0x10));
	ck_assert_uint_eq(iov[0].iov_len, 0x10);
	ck_assert_ptr_eq(iov[1].iov_base, test_host_of_gpa(m, B_GPA));
	ck_assert_uint_eq(iov[1].iov_len, 0x20);

	/* three odd regions, contiguous entries are not merged */
	ck_assert_int_eq(vmmem_iovec(o, ODD_BASE + 4, ODD_TOTAL - 8, iov, 4), 3);
	ck_assert_ptr_eq(iov[0].iov_base, test_host_of_gpa(o, ODD_BASE + 4));
	ck_assert_uint_eq(iov[0].iov_len, ODD1 - 4);
	ck_assert_ptr_eq(iov[1].iov_base, test_host_of_gpa(o, ODD_BASE + ODD1));
	ck_assert_uint_eq(iov[1].iov_len, ODD2);
	ck_assert_ptr_eq(iov[2].iov_base, test_host_of_gpa(o, ODD_BASE + ODD1 + ODD2));
	ck_assert_uint_eq(iov[2].iov_len, ODD3 - 4);

	/* iovcnt smaller than needed: returns needed, fills only iovcnt */
	memset(iov, 0, sizeof(iov));
	iov[1].iov_base = &sentinel;
	iov[1].iov_len = 777;
	ck_assert_int_eq(vmmem_iovec(o, ODD_BASE, ODD_TOTAL, iov, 1), 3);
	ck_assert_ptr_eq(iov[0].iov_base, test_host_of_gpa(o, ODD_BASE));
	ck_assert_uint_eq(iov[0].iov_len, ODD1);
	ck_assert_ptr_eq(iov[1].iov_base, &sentinel);
	ck_assert_uint_eq(iov[1].iov_len, 777);
	ck_assert_int_eq(vmmem_iovec(o, ODD_BASE, ODD_TOTAL, iov, 2), 3);
	ck_assert_ptr_eq(iov[1].iov_base, test_host_of_gpa(o, ODD_BASE + ODD1));
	ck_assert_uint_eq(iov[1].iov_len, ODD2);

	ck_assert_int_eq(vmmem_iovec(o, ODD_BASE, ODD_TOTAL, NULL, 0), 3);
	ck_assert_int_eq(vmmem_iovec(m, B_GPA - 1, 2, NULL, 0), 2);
	ck_assert_int_eq(vmmem_iovec(m, 0, 1, NULL, 1), -EINVAL);
	ck_assert_int_eq(vmmem_iovec(m, HOLE - 1, 2, iov, 4), -EFAULT);
	ck_assert_int_eq(vmmem_iovec(m, HOLE, 2, iov, 4), -EFAULT);
	ck_assert_int_eq(vmmem_iovec(m, HOLE - 1, 2, NULL, 0), -EFAULT);
	ck_assert_int_eq(vmmem_iovec(m, 0x100, 0, iov, 4), 0);
	ck_assert_int_eq(vmmem_iovec(m, UINT64_MAX, 2, iov, 4), -EINVAL);
	ck_assert_int_eq(vmmem_iovec(NULL, 0, 1, iov, 4), -EINVAL);
	vmmem_free(o);
	vmmem_free(m);
}
END_TEST

/* ----------------------------------------------- little-endian helpers */

START_TEST(le_helpers)
{
	struct vmmem *m = mk_space();
	uint8_t raw[8];
	uint16_t v16 = 0;
	uint32_t v32 = 0;
	uint64_t v64 = 0;
	static const uint8_t le[8] = { 0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01 };

	ck_assert_int_eq(vmmem_write_le16(m, 0x10, 0xabcd), 0);
	ck_assert_int_eq(vmmem_read(m, 0x10, raw, 2), 2);
	ck_assert_uint_eq(raw[0], 0xcd);
	ck_assert_uint_eq(raw[1], 0xab);
	ck_assert_int_eq(vmmem_write_le32(m, 0x20, 0x89abcdefu), 0);
	ck_assert_int_eq(vmmem_read(m, 0x20, raw, 4), 4);
	ck_assert_mem_eq(raw, le, 4);
	ck_assert_int_eq(vmmem_write_le64(m, 0x31, 0x0123456789abcdefull), 0);
	ck_assert_int_eq(vmmem_read(m, 0x31, raw, 8), 8);
	ck_assert_mem_eq(raw, le, 8);
	/* across the A/B boundary */
	ck_assert_int_eq(vmmem_write_le64(m, B_GPA - 3, 0x0123456789abcdefull), 0);
	ck_assert_mem_eq(test_host_of_gpa(m, B_GPA - 3), le, 3);
	ck_assert_mem_eq(test_host_of_gpa(m, B_GPA), le + 3, 5);

	ck_assert_int_eq(vmmem_write(m, 0x40, le, 8), 8);
	ck_assert_int_eq(vmmem_read_le16(m, 0x40, &v16), 0);
	ck_assert_uint_eq(v16, 0xcdef);
	ck_assert_int_eq(vmmem_read_le32(m, 0x40, &v32), 0);
	ck_assert_uint_eq(v32, 0x89abcdefu);
	ck_assert_int_eq(vmmem_read_le64(m, 0x40, &v64), 0);
	ck_assert_uint_eq(v64, 0x0123456789abcdefull);
	ck_assert_int_eq(vmmem_read_le64(m, B_GPA - 3, &v64), 0);
	ck_assert_uint_eq(v64, 0x0123456789abcdefull);
	ck_assert_int_eq(vmmem_read_le32(m, 0x41, &v32), 0);
	ck_assert_uint_eq(v32, 0x6789abcdu);

	v16 = 1; v32 = 2; v64 = 3;
	ck_assert_int_eq(vmmem_read_le16(m, HOLE, &v16), -EFAULT);
	ck_assert_int_eq(vmmem_read_le32(m, HOLE - 2, &v32), -EFAULT);
	ck_assert_int_eq(vmmem_read_le64(m, HOLE - 4, &v64), -EFAULT);
	ck_assert_uint_eq(v16, 1);
	ck_assert_uint_eq(v32, 2);
	ck_assert_uint_eq(v64, 3);
	ck_assert_int_eq(vmmem_write_le16(m, HOLE - 1, 0xffff), -EFAULT);
	ck_assert_int_eq(vmmem_write_le32(m, HOLE - 1, 0xffffffff), -EFAULT);
	ck_assert_int_eq(vmmem_write_le64(m, HOLE - 1, ~0ull), -EFAULT);
	ck_assert_uint_eq(test_host_of_gpa(m, HOLE - 1)[0], 0);
	vmmem_free(m);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("access");
	TCase *tc;

	tc = tcase_create("read_write");
	tcase_add_test(tc, rw_one_region);
	tcase_add_test(tc, rw_two_regions);
	tcase_add_test(tc, rw_small_sizes_any_alignment);
	tcase_add_test(tc, rw_stops_at_hole);
	tcase_add_test(tc, rw_unbacked_start);
	tcase_add_test(tc, rw_args);
	suite_add_tcase(s, tc);

	tc = tcase_create("exact");
	tcase_add_test(tc, exact_ok);
	tcase_add_test(tc, exact_hole);
	tcase_add_test(tc, exact_args);
	suite_add_tcase(s, tc);

	tc = tcase_create("fill");
	tcase_add_test(tc, fill_basic);
	tcase_add_test(tc, fill_hole);
	suite_add_tcase(s, tc);

	tc = tcase_create("copy");
	tcase_add_test(tc, copy_non_overlapping);
	tcase_add_test(tc, copy_overlapping_one_region);
	tcase_add_test(tc, copy_overlapping_across_regions);
	tcase_add_test(tc, copy_hole);
	suite_add_tcase(s, tc);

	tc = tcase_create("translate");
	tcase_add_test(tc, host_address_cases);
	tcase_add_test(tc, iovec_cases);
	suite_add_tcase(s, tc);

	tc = tcase_create("le");
	tcase_add_test(tc, le_helpers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run(suite());
}
