/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* struct vmmem_iommu: translation across IOTLB entries and regions,
 * permissions, updates, invalidations and splits, eviction at the bound, the
 * miss callback and the retry path, every access path (read/write, exact,
 * load/store, fill, iovec, map, fd I/O), dirty logging, concurrent updates
 * under readers, and the error paths. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

/* Backing address space of every test:
 *   A [0x00000, 0x10000)  B [0x10000, 0x20000)  (contiguous)
 *   hole [0x20000, 0x30000)
 *   C [0x30000, 0x38000)  D [0x38000, 0x40000)  (contiguous) */
#define A_GPA   0x00000ull
#define B_GPA   0x10000ull
#define HOLE    0x20000ull
#define C_GPA   0x30000ull
#define D_GPA   0x38000ull
#define END     0x40000ull
#define PS      4096ull

#define RD      VMMEM_PERM_READ
#define WR      VMMEM_PERM_WRITE
#define RW      (VMMEM_PERM_READ | VMMEM_PERM_WRITE)

static struct vmmem *mk_space(void)
{
	static const uint64_t gpa[] = { A_GPA, B_GPA, C_GPA, D_GPA };
	static const uint64_t size[] = { 0x10000, 0x10000, 0x8000, 0x8000 };

	return test_space(4, gpa, size);
}

/* The byte of the backing address space at gpa, read directly. */
static uint8_t gbyte(struct vmmem *m, uint64_t gpa)
{
	uint8_t b = 0;

	ck_assert_int_eq(vmmem_read_exact(m, gpa, &b, 1), 0);
	return b;
}

static void expect_backing_byte(struct vmmem *m, uint64_t gpa, uint8_t byte,
				size_t len)
{
	for (size_t i = 0; i < len; i++)
		ck_assert_msg(gbyte(m, gpa + i) == byte,
			      "backing byte at GPA 0x%llx is 0x%02x, want 0x%02x",
			      (unsigned long long)(gpa + i), gbyte(m, gpa + i), byte);
}

/* ------------------------------------------------------- miss recording */

struct miss_log {
	int calls;
	uint64_t iova;
	uint64_t len;
	unsigned int perm;
	void *opaque;
};

static void record_miss(uint64_t iova, uint64_t len, unsigned int perm,
			void *opaque)
{
	struct miss_log *log = opaque;

	log->calls++;
	log->iova = iova;
	log->len = len;
	log->perm = perm;
	log->opaque = opaque;
}

#define EXPECT_MISS(log, n, i, l, p)                                          \
	do {                                                                  \
		ck_assert_int_eq((log)->calls, (n));                          \
		ck_assert_uint_eq((log)->iova, (i));                          \
		ck_assert_uint_eq((log)->len, (l));                           \
		ck_assert_uint_eq((log)->perm, (p));                          \
		ck_assert_ptr_eq((log)->opaque, (log));                       \
	} while (0)

static struct vmmem_iommu *mk_iommu(struct vmmem *m, size_t max_entries,
				    struct miss_log *log)
{
	struct vmmem_iommu_opts o = {
		.sz = sizeof(o), .max_entries = max_entries,
		.miss = log ? record_miss : NULL, .miss_opaque = log,
	};
	struct vmmem_iommu *io = NULL;

	ck_assert_int_eq(vmmem_iommu_new(&io, m, &o), 0);
	ck_assert_ptr_nonnull(io);
	return io;
}

/* The byte at iova through the IOMMU; asserts it translates. */
static uint8_t ibyte(struct vmmem_iommu *io, uint64_t iova)
{
	uint8_t b = 0;

	ck_assert_int_eq(vmmem_iommu_read(io, iova, &b, 1), 1);
	return b;
}

/* ------------------------------------------------------------ creation */

START_TEST(new_and_free)
{
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = NULL;
	struct miss_log log = { 0 };

	ck_assert_int_eq(vmmem_iommu_new(&io, m, NULL), 0);
	ck_assert_ptr_nonnull(io);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 0);
	vmmem_iommu_free(io);
	vmmem_iommu_free(NULL);

	io = mk_iommu(m, 0, &log);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 0);
	vmmem_iommu_free(io);
	/* the largest bound allowed */
	io = mk_iommu(m, 1u << 24, NULL);
	vmmem_iommu_free(io);
	io = mk_iommu(m, 1, NULL);
	vmmem_iommu_free(io);
	ck_assert_int_eq(log.calls, 0);

	/* two IOMMUs over one address space are independent */
	{
		struct vmmem_iommu *a = mk_iommu(m, 0, NULL), *b = mk_iommu(m, 0, NULL);

		ck_assert_int_eq(vmmem_fill(m, 0x1000, 0x1A, 1), 0);
		ck_assert_int_eq(vmmem_fill(m, 0x2000, 0x2B, 1), 0);
		ck_assert_int_eq(vmmem_iommu_update(a, 0x9000, PS, 0x1000, RW), 0);
		ck_assert_int_eq(vmmem_iommu_update(b, 0x9000, PS, 0x2000, RD), 0);
		ck_assert_uint_eq(ibyte(a, 0x9000), 0x1A);
		ck_assert_uint_eq(ibyte(b, 0x9000), 0x2B);
		ck_assert_int_eq(vmmem_iommu_invalidate_all(a), 0);
		ck_assert_int_eq(vmmem_iommu_num_entries(a), 0);
		ck_assert_int_eq(vmmem_iommu_num_entries(b), 1);
		ck_assert_uint_eq(ibyte(b, 0x9000), 0x2B);
		vmmem_iommu_free(a);
		ck_assert_uint_eq(ibyte(b, 0x9000), 0x2B);
		vmmem_iommu_free(b);
	}
	vmmem_free(m);
}
END_TEST

START_TEST(new_errors)
{
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = (struct vmmem_iommu *)&m, *sentinel = io;
	struct miss_log log = { 0 };
	struct vmmem_iommu_opts o;
	struct {
		struct vmmem_iommu_opts o;
		uint64_t tail[2];
	} big;

	ck_assert_int_eq(vmmem_iommu_new(NULL, m, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_new(&io, NULL, NULL), -EINVAL);

	o = (struct vmmem_iommu_opts){ .sz = sizeof(o), .flags = 1 };
	ck_assert_int_eq(vmmem_iommu_new(&io, m, &o), -EINVAL);
	o.flags = 0x80000000u;
	ck_assert_int_eq(vmmem_iommu_new(&io, m, &o), -EINVAL);
	o.flags = ~0u;
	ck_assert_int_eq(vmmem_iommu_new(&io, m, &o), -EINVAL);

	o = (struct vmmem_iommu_opts){ .sz = sizeof(o), .max_entries = (1u << 24) + 1 };
	ck_assert_int_eq(vmmem_iommu_new(&io, m, &o), -EINVAL);
	o.max_entries = SIZE_MAX;
	ck_assert_int_eq(vmmem_iommu_new(&io, m, &o), -EINVAL);

	o = (struct vmmem_iommu_opts){ .sz = sizeof(o), .miss_opaque = &log };
	ck_assert_int_eq(vmmem_iommu_new(&io, m, &o), -EINVAL);

	/* sz must at least reach flags */
	o = (struct vmmem_iommu_opts){ .sz = 0 };
	ck_assert_int_eq(vmmem_iommu_new(&io, m, &o), -EINVAL);
	o.sz = offsetof(struct vmmem_iommu_opts, flags) + sizeof(o.flags) - 1;
	ck_assert_int_eq(vmmem_iommu_new(&io, m, &o), -EINVAL);
	o.sz = sizeof(size_t);
	ck_assert_int_eq(vmmem_iommu_new(&io, m, &o), -EINVAL);

	/* a larger struct: zero tail accepted, nonzero tail refused */
	memset(&big, 0, sizeof(big));
	big.o.sz = sizeof(big);
	big.tail[1] = 1;
	ck_assert_int_eq(vmmem_iommu_new(&io, m, &big.o), -E2BIG);
	big.tail[1] = 0;
	big.tail[0] = 0x100;
	ck_assert_int_eq(vmmem_iommu_new(&io, m, &big.o), -E2BIG);
	/* every failure left *out alone */
	ck_assert_ptr_eq(io, sentinel);

	big.tail[0] = 0;
	ck_assert_int_eq(vmmem_iommu_new(&io, m, &big.o), 0);
	ck_assert_ptr_ne(io, sentinel);
	vmmem_iommu_free(io);

	/* a shorter (older) struct: the fields it lacks are not read */
	o = (struct vmmem_iommu_opts){ .sz = offsetof(struct vmmem_iommu_opts,
						      flags) + sizeof(o.flags),
				       .max_entries = SIZE_MAX,
				       .miss_opaque = &log };
	io = NULL;
	ck_assert_int_eq(vmmem_iommu_new(&io, m, &o), 0);
	ck_assert_ptr_nonnull(io);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

/* ------------------------------------------- translation, boundaries */

struct map_entry {
	uint64_t off;     /* from the IOVA base */
	uint64_t size;
	uint64_t gpa;
};

/* Four entries over [base, base + 0x2C00), none contiguous in GPA; e0
 * crosses the A/B boundary, e2 the C/D boundary. */
static const struct map_entry four[] = {
	{ 0x0000, 0x1000, 0x0F800 },   /* A 0x800 | B 0x800 */
	{ 0x1000, 0x0800, 0x30100 },   /* C */
	{ 0x1800, 0x1000, 0x37C00 },   /* C 0x400 | D 0xC00 */
	{ 0x2800, 0x0400, 0x02000 },   /* A */
};
#define FOUR_LEN 0x2C00
#define BASE 0x100000ull

/* Every IOVA byte of [BASE, BASE + FOUR_LEN) holds img[off] in the backing
 * address space at the GPA its entry maps it to. */
static void expect_image(struct vmmem *m, const uint8_t *img)
{
	for (size_t i = 0; i < 4; i++)
		test_expect_bytes(m, four[i].gpa, img + four[i].off,
				  four[i].size);
}

static void map_four(struct vmmem_iommu *io)
{
	/* out of IOVA order: the table sorts */
	static const int order[] = { 2, 0, 3, 1 };

	for (int k = 0; k < 4; k++) {
		const struct map_entry *e = &four[order[k]];

		ck_assert_int_eq(vmmem_iommu_update(io, BASE + e->off, e->size,
						    e->gpa, RW), 0);
	}
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 4);
}

START_TEST(translate_across_entries_and_regions)
{
	static uint8_t img[FOUR_LEN], buf[FOUR_LEN];
	struct miss_log log = { 0 };
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_iommu(m, 0, &log);

	map_four(io);
	test_pattern(img, sizeof(img), 1);
	ck_assert_int_eq(vmmem_iommu_write(io, BASE, img, FOUR_LEN), FOUR_LEN);
	expect_image(m, img);
	/* nothing around the four targets was touched */
	ck_assert_uint_eq(gbyte(m, 0x0F7FF), 0);
	ck_assert_uint_eq(gbyte(m, 0x10800), 0);
	ck_assert_uint_eq(gbyte(m, 0x300FF), 0);
	ck_assert_uint_eq(gbyte(m, 0x30900), 0);
	ck_assert_uint_eq(gbyte(m, 0x37BFF), 0);
	ck_assert_uint_eq(gbyte(m, 0x38C00), 0);
	ck_assert_uint_eq(gbyte(m, 0x01FFF), 0);
	ck_assert_uint_eq(gbyte(m, 0x02400), 0);
	/* the region boundaries inside e0 and e2, byte by byte on the hosts */
	ck_assert_uint_eq(test_host_of_gpa(m, 0x0FFFF)[0], img[0x7FF]);
	ck_assert_uint_eq(test_host_of_gpa(m, 0x10000)[0], img[0x800]);
	ck_assert_uint_eq(test_host_of_gpa(m, 0x37FFF)[0], img[0x1BFF]);
	ck_assert_uint_eq(test_host_of_gpa(m, 0x38000)[0], img[0x1C00]);

	/* read back whole, and single bytes at every edge */
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(vmmem_iommu_read(io, BASE, buf, FOUR_LEN), FOUR_LEN);
	ck_assert_mem_eq(buf, img, FOUR_LEN);
	{
		static const uint64_t edge[] = { 0, 1, 0x7FF, 0x800, 0xFFF,
						 0x1000, 0x17FF, 0x1800, 0x1BFF,
						 0x1C00, 0x27FF, 0x2800, 0x2BFF };

		for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
			uint64_t v = 0;

			ck_assert_uint_eq(ibyte(io, BASE + edge[i]), img[edge[i]]);
			ck_assert_int_eq(vmmem_iommu_load(io, BASE + edge[i], 1, &v,
							  VMMEM_ORDER_RELAXED), 0);
			ck_assert_uint_eq(v, img[edge[i]]);
		}
	}
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(vmmem_iommu_read_exact(io, BASE + 0xF00, buf, 0x1A00), 0);
	ck_assert_mem_eq(buf, img + 0xF00, 0x1A00);

	/* an exact write starting mid-entry, over every boundary but the first */
	test_pattern(buf, 0x2000, 2);
	ck_assert_int_eq(vmmem_iommu_write_exact(io, BASE + 0x7F0, buf, 0x2000), 0);
	memcpy(img + 0x7F0, buf, 0x2000);
	expect_image(m, img);

	/* a fill over e0 | e1 | e2 */
	ck_assert_int_eq(vmmem_iommu_fill(io, BASE + 0xFFE, 0xA5, 0x804), 0);
	memset(img + 0xFFE, 0xA5, 0x804);
	expect_image(m, img);
	ck_assert_uint_eq(gbyte(m, 0x0FFFD + 0x800), img[0xFFD]);
	ck_assert_uint_eq(gbyte(m, 0x37C00 + 0x1), 0xA5);
	ck_assert_uint_eq(gbyte(m, 0x37C00 + 0x2), img[0x1802]);

	/* the last byte of the range, and one past it misses */
	ck_assert_uint_eq(ibyte(io, BASE + FOUR_LEN - 1), img[FOUR_LEN - 1]);
	ck_assert_int_eq(log.calls, 0);
	ck_assert_int_eq(vmmem_iommu_read(io, BASE + FOUR_LEN - 1, buf, 2), 1);
	EXPECT_MISS(&log, 1, BASE + FOUR_LEN, 1, RD);

	/* iovec: one piece per entry and region */
	{
		struct iovec iov[8], none = { (void *)&log, 12345 };
		static const struct { uint64_t gpa, len; } want[] = {
			{ 0x0F800, 0x800 }, { 0x10000, 0x800 }, { 0x30100, 0x800 },
			{ 0x37C00, 0x400 }, { 0x38000, 0xC00 }, { 0x02000, 0x400 },
		};

		ck_assert_int_eq(vmmem_iommu_iovec(io, BASE, FOUR_LEN, RD, NULL, 0), 6);
		for (int i = 0; i < 8; i++)
			iov[i] = none;
		ck_assert_int_eq(vmmem_iommu_iovec(io, BASE, FOUR_LEN, RW, iov, 8), 6);
		for (int i = 0; i < 6; i++) {
			ck_assert_ptr_eq(iov[i].iov_base,
					 test_host_of_gpa(m, want[i].gpa));
			ck_assert_uint_eq(iov[i].iov_len, want[i].len);
		}
		ck_assert_ptr_eq(iov[6].iov_base, none.iov_base);
		/* too few: the count needed, the first ones filled */
		for (int i = 0; i < 8; i++)
			iov[i] = none;
		ck_assert_int_eq(vmmem_iommu_iovec(io, BASE, FOUR_LEN, WR, iov, 3), 6);
		for (int i = 0; i < 3; i++) {
			ck_assert_ptr_eq(iov[i].iov_base,
					 test_host_of_gpa(m, want[i].gpa));
			ck_assert_uint_eq(iov[i].iov_len, want[i].len);
		}
		ck_assert_ptr_eq(iov[3].iov_base, none.iov_base);
		ck_assert_uint_eq(iov[3].iov_len, none.iov_len);
		/* room for half of the first entry's pieces */
		for (int i = 0; i < 8; i++)
			iov[i] = none;
		ck_assert_int_eq(vmmem_iommu_iovec(io, BASE, FOUR_LEN, RD, iov, 1), 6);
		ck_assert_ptr_eq(iov[0].iov_base, test_host_of_gpa(m, 0x0F800));
		ck_assert_uint_eq(iov[0].iov_len, 0x800);
		ck_assert_ptr_eq(iov[1].iov_base, none.iov_base);
		/* a sub-range starting and ending mid-entry */
		ck_assert_int_eq(vmmem_iommu_iovec(io, BASE + 0x900, 0x1400, RD, iov, 8), 4);
		ck_assert_ptr_eq(iov[0].iov_base, test_host_of_gpa(m, 0x10100));
		ck_assert_uint_eq(iov[0].iov_len, 0x700);
		ck_assert_ptr_eq(iov[1].iov_base, test_host_of_gpa(m, 0x30100));
		ck_assert_uint_eq(iov[1].iov_len, 0x800);
		ck_assert_ptr_eq(iov[2].iov_base, test_host_of_gpa(m, 0x37C00));
		ck_assert_uint_eq(iov[2].iov_len, 0x400);
		ck_assert_ptr_eq(iov[3].iov_base, test_host_of_gpa(m, 0x38000));
		ck_assert_uint_eq(iov[3].iov_len, 0x100);
		ck_assert_int_eq(vmmem_iommu_iovec(io, BASE, 0, RD, NULL, 0), 0);
	}
	ck_assert_int_eq(log.calls, 1);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

/* More entries in one access than a translation pass returns at once. */
START_TEST(translate_many_entries)
{
	enum { N = 40, SZ = 0x100 };
	static uint8_t img[N * SZ], buf[N * SZ];
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_iommu(m, 0, NULL);
	struct iovec iov[N];

	/* entry i maps to GPA page-ish slots in reverse order, alternating C
	 * and A */
	for (int i = 0; i < N; i++) {
		uint64_t gpa = (i & 1 ? A_GPA + 0x4000 : C_GPA) + (uint64_t)(N - i) * 0x200;

		ck_assert_int_eq(vmmem_iommu_update(io, 0x7000 + (uint64_t)i * SZ, SZ,
						    gpa, RW), 0);
	}
	ck_assert_int_eq(vmmem_iommu_num_entries(io), N);
	test_pattern(img, sizeof(img), 3);
	ck_assert_int_eq(vmmem_iommu_write(io, 0x7000, img, sizeof(img)),
			 (ssize_t)sizeof(img));
	for (int i = 0; i < N; i++) {
		uint64_t gpa = (i & 1 ? A_GPA + 0x4000 : C_GPA) + (uint64_t)(N - i) * 0x200;

		test_expect_bytes(m, gpa, img + i * SZ, SZ);
		ck_assert_uint_eq(gbyte(m, gpa + SZ), 0);
	}
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(vmmem_iommu_read(io, 0x7000, buf, sizeof(buf)),
			 (ssize_t)sizeof(buf));
	ck_assert_mem_eq(buf, img, sizeof(img));
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(vmmem_iommu_read_exact(io, 0x7001, buf, sizeof(buf) - 2), 0);
	ck_assert_mem_eq(buf, img + 1, sizeof(img) - 2);
	test_pattern(buf, sizeof(buf), 4);
	ck_assert_int_eq(vmmem_iommu_write_exact(io, 0x7000, buf, sizeof(buf)), 0);
	for (int i = 0; i < N; i++) {
		uint64_t gpa = (i & 1 ? A_GPA + 0x4000 : C_GPA) + (uint64_t)(N - i) * 0x200;

		test_expect_bytes(m, gpa, buf + i * SZ, SZ);
	}
	ck_assert_int_eq(vmmem_iommu_fill(io, 0x7000, 0x3C, sizeof(buf)), 0);
	for (int i = 0; i < N; i++) {
		uint64_t gpa = (i & 1 ? A_GPA + 0x4000 : C_GPA) + (uint64_t)(N - i) * 0x200;

		expect_backing_byte(m, gpa, 0x3C, SZ);
	}
	ck_assert_int_eq(vmmem_iommu_iovec(io, 0x7000, sizeof(buf), RD, iov, N), N);
	ck_assert_ptr_eq(iov[N - 1].iov_base,
			 test_host_of_gpa(m, A_GPA + 0x4000 + 0x200));
	ck_assert_ptr_eq(iov[N - 2].iov_base, test_host_of_gpa(m, C_GPA + 0x400));
	ck_assert_uint_eq(iov[N - 1].iov_len, SZ);
	/* the miss after the last entry comes after all of them were done */
	{
		struct miss_log log = { 0 };
		struct vmmem_iommu *io2 = mk_iommu(m, 0, &log);

		for (int i = 0; i < N; i++)
			ck_assert_int_eq(vmmem_iommu_update(io2, (uint64_t)i * SZ, SZ,
							    0x1000 + (uint64_t)i * SZ,
							    RW), 0);
		ck_assert_int_eq(vmmem_iommu_read(io2, 0, buf, sizeof(buf) + 5),
				 (ssize_t)sizeof(buf));
		EXPECT_MISS(&log, 1, (uint64_t)N * SZ, 5, RD);
		ck_assert_int_eq(vmmem_iommu_read_exact(io2, 0, buf, sizeof(buf) + 5),
				 -EAGAIN);
		EXPECT_MISS(&log, 2, (uint64_t)N * SZ, 5, RD);
		ck_assert_int_eq(vmmem_iommu_iovec(io2, 0, sizeof(buf) + 5, RD, NULL, 0),
				 -EAGAIN);
		EXPECT_MISS(&log, 3, (uint64_t)N * SZ, 5, RD);
		vmmem_iommu_free(io2);
	}
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

/* Entries mapping (partly) to unbacked GPAs: -EFAULT, not a miss. */
START_TEST(translate_to_hole)
{
	struct miss_log log = { 0 };
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_iommu(m, 0, &log);
	uint8_t buf[0x200];
	uint64_t v;

	/* [0x1000, 0x2000) -> B's last 0x100 bytes, then the hole */
	ck_assert_int_eq(vmmem_iommu_update(io, 0x1000, 0x1000, HOLE - 0x100, RW), 0);
	ck_assert_int_eq(vmmem_iommu_fill(io, 0x1000, 0x66, 0x100), 0);
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(vmmem_iommu_read(io, 0x1000, buf, 0x200), 0x100);
	expect_backing_byte(m, HOLE - 0x100, 0x66, 0x100);
	ck_assert_uint_eq(buf[0xFF], 0x66);
	ck_assert_int_eq(vmmem_iommu_read(io, 0x1100, buf, 1), -EFAULT);
	ck_assert_int_eq(vmmem_iommu_write(io, 0x1100, buf, 1), -EFAULT);
	ck_assert_int_eq(vmmem_iommu_read_exact(io, 0x1000, buf, 0x101), -EFAULT);
	memset(buf, 0x77, sizeof(buf));
	ck_assert_int_eq(vmmem_iommu_write_exact(io, 0x1000, buf, 0x101), -EFAULT);
	ck_assert_int_eq(vmmem_iommu_fill(io, 0x10F0, 0x77, 0x11), -EFAULT);
	expect_backing_byte(m, HOLE - 0x100, 0x66, 0x100);
	ck_assert_int_eq(vmmem_iommu_load(io, 0x1100, 8, &v, VMMEM_ORDER_RELAXED),
			 -EFAULT);
	ck_assert_int_eq(vmmem_iommu_store(io, 0x1100, 8, 1, VMMEM_ORDER_RELAXED),
			 -EFAULT);
	ck_assert_int_eq(vmmem_iommu_iovec(io, 0x1000, 0x101, RD, NULL, 0), -EFAULT);
	ck_assert_int_eq(log.calls, 0);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

/* ---------------------------------------------------------- permissions */

/* RW [0, 0x1000) -> 0x6000, RO [0x1000, 0x2000) -> 0x4000,
 * WO [0x2000, 0x3000) -> 0x5000; the backing of all three holds 0x11. */
static struct vmmem_iommu *mk_perm(struct vmmem *m, struct miss_log *log)
{
	struct vmmem_iommu *io = mk_iommu(m, 0, log);

	ck_assert_int_eq(vmmem_fill(m, 0x4000, 0x11, 0x3000), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x0000, 0x1000, 0x6000, RW), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x1000, 0x1000, 0x4000, RD), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x2000, 0x1000, 0x5000, WR), 0);
	return io;
}

START_TEST(perm_read_only)
{
	struct miss_log log = { 0 };
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_perm(m, &log);
	uint8_t buf[0x40], data[0x40];
	struct iovec iov[2];
	uint64_t len = 0x10, v;
	void *h = (void *)&log;
	int fd = memfd_create("iommu-perm", 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "0123456789abcdef", 16), 16);
	test_pattern(data, sizeof(data), 5);

	ck_assert_int_eq(vmmem_iommu_write(io, 0x1000, data, 1), -EACCES);
	ck_assert_int_eq(vmmem_iommu_write(io, 0x1800, data, 0x40), -EACCES);
	ck_assert_int_eq(vmmem_iommu_write_exact(io, 0x1000, data, 0x40), -EACCES);
	ck_assert_int_eq(vmmem_iommu_fill(io, 0x1000, 0x22, 0x1000), -EACCES);
	ck_assert_int_eq(vmmem_iommu_store(io, 0x1008, 8, ~0ull, VMMEM_ORDER_SEQ_CST),
			 -EACCES);
	ck_assert_int_eq(vmmem_iommu_store(io, 0x1FFF, 1, 0x99, VMMEM_ORDER_RELAXED),
			 -EACCES);
	ck_assert_int_eq(vmmem_iommu_pread_fd(io, 0x1000, fd, 16, 0), -EACCES);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(vmmem_iommu_read_fd(io, 0x1000, fd, 16), -EACCES);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 0);
	ck_assert_int_eq(vmmem_iommu_iovec(io, 0x1000, 0x10, WR, iov, 2), -EACCES);
	ck_assert_int_eq(vmmem_iommu_iovec(io, 0x1000, 0x10, RW, iov, 2), -EACCES);
	ck_assert_int_eq(vmmem_iommu_map(io, 0x1000, &len, VMMEM_MAP_WRITE, &h),
			 -EACCES);
	ck_assert_int_eq(vmmem_iommu_map(io, 0x1000, &len,
					 VMMEM_MAP_READ | VMMEM_MAP_WRITE, &h), -EACCES);
	ck_assert_ptr_eq(h, (void *)&log);
	ck_assert_uint_eq(len, 0x10);
	/* nothing was written, no miss was reported */
	expect_backing_byte(m, 0x4000, 0x11, 0x1000);
	ck_assert_int_eq(log.calls, 0);

	/* reading is allowed */
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(vmmem_iommu_read(io, 0x1FE0, buf, 0x20), 0x20);
	for (int i = 0; i < 0x20; i++)
		ck_assert_uint_eq(buf[i], 0x11);
	ck_assert_int_eq(vmmem_iommu_load(io, 0x1000, 4, &v, VMMEM_ORDER_ACQUIRE), 0);
	ck_assert_uint_eq(v, 0x11111111u);
	ck_assert_int_eq(vmmem_iommu_iovec(io, 0x1000, 0x10, RD, iov, 2), 1);
	ck_assert_ptr_eq(iov[0].iov_base, test_host_of_gpa(m, 0x4000));
	ck_assert_int_eq(vmmem_iommu_map(io, 0x1000, &len, VMMEM_MAP_READ, &h), 0);
	ck_assert_ptr_eq(h, test_host_of_gpa(m, 0x4000));
	ck_assert_int_eq(vmmem_iommu_unmap(io, h, 0), 0);
	ck_assert_int_eq(vmmem_iommu_pwrite_fd(io, 0x1000, fd, 4, 2), 4);
	ck_assert_int_eq(pread(fd, buf, 6, 0), 6);
	ck_assert_mem_eq(buf, "01\x11\x11\x11\x11", 6);

	/* RW then RO: a partial write stops at the RO entry, no miss */
	ck_assert_int_eq(vmmem_iommu_write(io, 0x0FF0, data, 0x20), 0x10);
	test_expect_bytes(m, 0x6FF0, data, 0x10);
	expect_backing_byte(m, 0x4000, 0x11, 0x10);
	/* ... and the exact forms write nothing */
	ck_assert_int_eq(vmmem_iommu_write_exact(io, 0x0FE0, data + 0x20, 0x21),
			 -EACCES);
	ck_assert_int_eq(vmmem_iommu_fill(io, 0x0FE0, 0x5E, 0x21), -EACCES);
	expect_backing_byte(m, 0x6FE0, 0x11, 0x10);
	test_expect_bytes(m, 0x6FF0, data, 0x10);
	expect_backing_byte(m, 0x4000, 0x11, 0x10);
	/* RW then RO can be read across */
	ck_assert_int_eq(vmmem_iommu_read_exact(io, 0x0FF0, buf, 0x20), 0);
	ck_assert_mem_eq(buf, data, 0x10);
	ck_assert_uint_eq(buf[0x10], 0x11);
	ck_assert_int_eq(log.calls, 0);

	/* an update grants write */
	ck_assert_int_eq(vmmem_iommu_update(io, 0x1000, 0x1000, 0x4000, RW), 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 3);
	ck_assert_int_eq(vmmem_iommu_write(io, 0x1000, "\x42", 1), 1);
	ck_assert_uint_eq(gbyte(m, 0x4000), 0x42);
	close(fd);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

START_TEST(perm_write_only)
{
	struct miss_log log = { 0 };
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_perm(m, &log);
	uint8_t buf[0x40], data[0x40];
	struct iovec iov[2];
	uint64_t len = 0x10, v = 0xDEAD;
	void *h = (void *)&log;
	int fd = memfd_create("iommu-perm", 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "0123456789abcdef", 16), 16);
	test_pattern(data, sizeof(data), 6);
	memset(buf, 0xEE, sizeof(buf));

	ck_assert_int_eq(vmmem_iommu_read(io, 0x2000, buf, 1), -EACCES);
	ck_assert_int_eq(vmmem_iommu_read(io, 0x2FF0, buf, 0x10), -EACCES);
	ck_assert_int_eq(vmmem_iommu_read_exact(io, 0x2000, buf, 0x40), -EACCES);
	for (int i = 0; i < 0x40; i++)
		ck_assert_uint_eq(buf[i], 0xEE);
	ck_assert_int_eq(vmmem_iommu_load(io, 0x2000, 8, &v, VMMEM_ORDER_RELAXED),
			 -EACCES);
	ck_assert_uint_eq(v, 0xDEAD);
	ck_assert_int_eq(vmmem_iommu_pwrite_fd(io, 0x2000, fd, 4, 0), -EACCES);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(vmmem_iommu_write_fd(io, 0x2000, fd, 4), -EACCES);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 0);
	ck_assert_int_eq(pread(fd, buf, 16, 0), 16);
	ck_assert_mem_eq(buf, "0123456789abcdef", 16);
	ck_assert_int_eq(vmmem_iommu_iovec(io, 0x2000, 0x10, RD, iov, 2), -EACCES);
	ck_assert_int_eq(vmmem_iommu_iovec(io, 0x2000, 0x10, RW, iov, 2), -EACCES);
	ck_assert_int_eq(vmmem_iommu_map(io, 0x2000, &len, VMMEM_MAP_READ, &h),
			 -EACCES);
	ck_assert_int_eq(vmmem_iommu_map(io, 0x2000, &len,
					 VMMEM_MAP_READ | VMMEM_MAP_WRITE, &h), -EACCES);
	ck_assert_ptr_eq(h, (void *)&log);
	ck_assert_int_eq(log.calls, 0);

	/* writing is allowed, and lands at 0x5000 */
	ck_assert_int_eq(vmmem_iommu_write(io, 0x2010, data, 0x20), 0x20);
	test_expect_bytes(m, 0x5010, data, 0x20);
	ck_assert_uint_eq(gbyte(m, 0x500F), 0x11);
	ck_assert_uint_eq(gbyte(m, 0x5030), 0x11);
	ck_assert_int_eq(vmmem_iommu_store(io, 0x2008, 8, 0x0102030405060708ull,
					   VMMEM_ORDER_RELEASE), 0);
	ck_assert_int_eq(vmmem_load(m, 0x5008, 8, &v, VMMEM_ORDER_RELAXED), 0);
	ck_assert_uint_eq(v, 0x0102030405060708ull);
	ck_assert_int_eq(vmmem_iommu_iovec(io, 0x2000, 0x10, WR, iov, 2), 1);
	ck_assert_ptr_eq(iov[0].iov_base, test_host_of_gpa(m, 0x5000));
	ck_assert_int_eq(vmmem_iommu_pread_fd(io, 0x2100, fd, 4, 10), 4);
	test_expect_bytes(m, 0x5100, (const uint8_t *)"abcd", 4);

	/* RO then WO: a read stops at the WO entry; the exact read copies
	 * nothing */
	memset(buf, 0xEE, sizeof(buf));
	ck_assert_int_eq(vmmem_iommu_read(io, 0x1FF0, buf, 0x20), 0x10);
	for (int i = 0; i < 0x10; i++)
		ck_assert_uint_eq(buf[i], 0x11);
	ck_assert_uint_eq(buf[0x10], 0xEE);
	memset(buf, 0xEE, sizeof(buf));
	ck_assert_int_eq(vmmem_iommu_read_exact(io, 0x1FF0, buf, 0x20), -EACCES);
	for (int i = 0; i < 0x40; i++)
		ck_assert_uint_eq(buf[i], 0xEE);
	/* RO then WO cannot be written across either: partial is 0 -> error */
	ck_assert_int_eq(vmmem_iommu_write(io, 0x1FF0, data, 0x20), -EACCES);
	ck_assert_int_eq(log.calls, 0);
	close(fd);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

/* ------------------------------------------------ invalidation, splits */

START_TEST(invalidate_splits_entry)
{
	static uint8_t img[0x3000];
	struct miss_log log = { 0 };
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_iommu(m, 0, &log);
	uint8_t buf[0x1000];

	test_pattern(img, sizeof(img), 7);
	ck_assert_int_eq(vmmem_write_exact(m, 0x31000, img, sizeof(img)), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x10000, 0x3000, 0x31000, RW), 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 1);

	ck_assert_int_eq(vmmem_iommu_invalidate(io, 0x11000, 0x1000), 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 2);
	/* head and tail translate as before */
	ck_assert_int_eq(vmmem_iommu_read_exact(io, 0x10000, buf, 0x1000), 0);
	ck_assert_mem_eq(buf, img, 0x1000);
	ck_assert_int_eq(vmmem_iommu_read_exact(io, 0x12000, buf, 0x1000), 0);
	ck_assert_mem_eq(buf, img + 0x2000, 0x1000);
	/* writes through the tail land at the tail's GPA */
	ck_assert_int_eq(vmmem_iommu_store(io, 0x12000, 1, 0xEE, VMMEM_ORDER_RELAXED), 0);
	ck_assert_uint_eq(gbyte(m, 0x33000), 0xEE);
	ck_assert_uint_eq(gbyte(m, 0x32FFF), img[0x1FFF]);
	ck_assert_int_eq(vmmem_iommu_store(io, 0x10FFF, 1, 0xDD, VMMEM_ORDER_RELAXED), 0);
	ck_assert_uint_eq(gbyte(m, 0x31FFF), 0xDD);
	ck_assert_uint_eq(gbyte(m, 0x32000), img[0x1000]);
	img[0x2000] = 0xEE;
	img[0x0FFF] = 0xDD;
	ck_assert_int_eq(log.calls, 0);
	/* the middle misses */
	ck_assert_int_eq(vmmem_iommu_read(io, 0x11000, buf, 1), -EAGAIN);
	EXPECT_MISS(&log, 1, 0x11000, 1, RD);
	ck_assert_int_eq(vmmem_iommu_read(io, 0x11FFF, buf, 1), -EAGAIN);
	EXPECT_MISS(&log, 2, 0x11FFF, 1, RD);
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(vmmem_iommu_read(io, 0x10FF0, buf, 0x20), 0x10);
	EXPECT_MISS(&log, 3, 0x11000, 0x10, RD);
	ck_assert_mem_eq(buf, img + 0xFF0, 0x10);
	ck_assert_int_eq(vmmem_iommu_write(io, 0x11FF0, buf, 0x20), -EAGAIN);
	EXPECT_MISS(&log, 4, 0x11FF0, 0x20, WR);
	ck_assert_uint_eq(gbyte(m, 0x33000), 0xEE);

	/* cut the head's front: it now starts at 0x10800 -> 0x31800 */
	ck_assert_int_eq(vmmem_iommu_invalidate(io, 0x0F000, 0x1800), 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 2);
	ck_assert_int_eq(vmmem_iommu_read(io, 0x107FF, buf, 1), -EAGAIN);
	ck_assert_uint_eq(ibyte(io, 0x10800), img[0x800]);
	/* cut the tail's end, past it too */
	ck_assert_int_eq(vmmem_iommu_invalidate(io, 0x12C00, 0x10000), 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 2);
	ck_assert_uint_eq(ibyte(io, 0x12BFF), img[0x2BFF]);
	ck_assert_int_eq(vmmem_iommu_read(io, 0x12C00, buf, 1), -EAGAIN);
	/* a range mapping nothing */
	ck_assert_int_eq(vmmem_iommu_invalidate(io, 0x11000, 0x1000), 0);
	ck_assert_int_eq(vmmem_iommu_invalidate(io, 0x50000, 1), 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 2);
	ck_assert_uint_eq(ibyte(io, 0x10FFF), 0xDD);
	ck_assert_uint_eq(ibyte(io, 0x12000), 0xEE);
	/* one invalidation cutting both pieces down to one byte each */
	ck_assert_int_eq(vmmem_iommu_invalidate(io, 0x10801, 0x12BFF - 0x10801), 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 2);
	ck_assert_uint_eq(ibyte(io, 0x10800), img[0x800]);
	ck_assert_int_eq(vmmem_iommu_read(io, 0x10801, buf, 1), -EAGAIN);
	ck_assert_int_eq(vmmem_iommu_read(io, 0x12BFE, buf, 1), -EAGAIN);
	ck_assert_uint_eq(ibyte(io, 0x12BFF), img[0x2BFF]);
	/* and removing both */
	ck_assert_int_eq(vmmem_iommu_invalidate(io, 0, 0x100000), 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 0);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

START_TEST(invalidate_across_entries)
{
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_iommu(m, 0, NULL);
	uint8_t img[0x2000];
	uint8_t b;

	test_pattern(img, sizeof(img), 8);
	ck_assert_int_eq(vmmem_write_exact(m, 0x8000, img, sizeof(img)), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x0000, 0x1000, 0x8000, RW), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x1000, 0x1000, 0x9000, RD), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x3000, 0x1000, 0x8000, WR), 0);
	ck_assert_int_eq(vmmem_iommu_invalidate(io, 0x800, 0x1000), 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 3);
	ck_assert_uint_eq(ibyte(io, 0x7FF), img[0x7FF]);
	ck_assert_int_eq(vmmem_iommu_read(io, 0x800, &b, 1), -EAGAIN);
	ck_assert_int_eq(vmmem_iommu_read(io, 0x17FF, &b, 1), -EAGAIN);
	ck_assert_uint_eq(ibyte(io, 0x1800), img[0x1800]);
	/* the tail keeps its permission */
	ck_assert_int_eq(vmmem_iommu_write(io, 0x1800, &b, 1), -EACCES);
	ck_assert_int_eq(vmmem_iommu_write(io, 0x7FF, "\x01", 1), 1);
	ck_assert_uint_eq(gbyte(m, 0x87FF), 1);

	/* the whole IOVA space but its last byte; an entry there survives */
	ck_assert_int_eq(vmmem_iommu_update(io, UINT64_MAX, 1, 0x8000, RW), 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 4);
	ck_assert_int_eq(vmmem_iommu_invalidate(io, 0, UINT64_MAX), 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 1);
	ck_assert_uint_eq(ibyte(io, UINT64_MAX), img[0]);
	ck_assert_int_eq(vmmem_iommu_invalidate(io, UINT64_MAX, 1), 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 0);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

/* An entry ending at the top of the IOVA space, split. */
START_TEST(invalidate_top_of_iova_space)
{
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_iommu(m, 0, NULL);
	uint8_t img[0x1000], b;

	test_pattern(img, sizeof(img), 9);
	ck_assert_int_eq(vmmem_write_exact(m, 0x1000, img, sizeof(img)), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, UINT64_MAX - 0xFFF, 0x1000, 0x1000,
					    RW), 0);
	ck_assert_uint_eq(ibyte(io, UINT64_MAX), img[0xFFF]);
	ck_assert_int_eq(vmmem_iommu_invalidate(io, UINT64_MAX - 0x7FF, 0x100), 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 2);
	ck_assert_uint_eq(ibyte(io, UINT64_MAX - 0x800), img[0x7FF]);
	ck_assert_int_eq(vmmem_iommu_read(io, UINT64_MAX - 0x7FF, &b, 1), -EAGAIN);
	ck_assert_int_eq(vmmem_iommu_read(io, UINT64_MAX - 0x700, &b, 1), -EAGAIN);
	ck_assert_uint_eq(ibyte(io, UINT64_MAX - 0x6FF), img[0x900]);
	ck_assert_uint_eq(ibyte(io, UINT64_MAX), img[0xFFF]);
	{
		uint8_t buf[0x700];

		ck_assert_int_eq(vmmem_iommu_read_exact(io, UINT64_MAX - 0x6FF, buf,
							0x700), 0);
		ck_assert_mem_eq(buf, img + 0x900, 0x700);
	}
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

START_TEST(update_replaces_overlap)
{
	static uint8_t lo[0x3000], hi[0x800];
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_iommu(m, 0, NULL);
	uint8_t b = 0;

	test_pattern(lo, sizeof(lo), 10);
	test_pattern(hi, sizeof(hi), 11);
	ck_assert_int_eq(vmmem_write_exact(m, 0x10000, lo, sizeof(lo)), 0);
	ck_assert_int_eq(vmmem_write_exact(m, 0x30000, hi, sizeof(hi)), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x1000, 0x3000, 0x10000, RW), 0);

	/* the middle, read-only elsewhere: three entries */
	ck_assert_int_eq(vmmem_iommu_update(io, 0x2000, 0x800, 0x30000, RD), 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 3);
	ck_assert_uint_eq(ibyte(io, 0x1FFF), lo[0xFFF]);
	ck_assert_uint_eq(ibyte(io, 0x2000), hi[0]);
	ck_assert_uint_eq(ibyte(io, 0x27FF), hi[0x7FF]);
	ck_assert_uint_eq(ibyte(io, 0x2800), lo[0x1800]);
	ck_assert_uint_eq(ibyte(io, 0x3FFF), lo[0x2FFF]);
	ck_assert_int_eq(vmmem_iommu_write(io, 0x2000, &b, 1), -EACCES);
	ck_assert_int_eq(vmmem_iommu_write(io, 0x2800, "\x5b", 1), 1);
	ck_assert_uint_eq(gbyte(m, 0x11800), 0x5b);
	lo[0x1800] = 0x5b;

	/* overlapping the front of the tail: the rest of it shifts */
	ck_assert_int_eq(vmmem_iommu_update(io, 0x2400, 0x800, 0x30000, RW), 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 4);
	ck_assert_uint_eq(ibyte(io, 0x23FF), hi[0x3FF]);
	ck_assert_uint_eq(ibyte(io, 0x2400), hi[0]);
	ck_assert_uint_eq(ibyte(io, 0x2BFF), hi[0x7FF]);
	ck_assert_uint_eq(ibyte(io, 0x2C00), lo[0x1C00]);

	/* the same range again: still one entry for it */
	ck_assert_int_eq(vmmem_iommu_update(io, 0x2400, 0x800, 0x30000, RW), 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 4);
	/* adjacent updates are not merged */
	ck_assert_int_eq(vmmem_iommu_update(io, 0x4000, 0x1000, 0x13000, RW), 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 5);

	/* everything at once: one entry, identity-mapped */
	ck_assert_int_eq(vmmem_iommu_update(io, 0, 0x20000, 0, RW), 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 1);
	ck_assert_uint_eq(ibyte(io, 0x10000), lo[0]);
	ck_assert_uint_eq(ibyte(io, 0x11800), 0x5b);
	ck_assert_int_eq(vmmem_iommu_read(io, 0x20000, &b, 1), -EAGAIN);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

/* --------------------------------------------------------------- bound */

/* Entry i: IOVA (0x10 - i) pages up (inserted in falling IOVA order), one
 * page, backed at page i filled with 0xA0 + i. */
#define EV_IOVA(i) (0x10000ull * (uint64_t)(0x10 - (i)))
static void ev_insert(struct vmmem_iommu *io, struct vmmem *m, int i)
{
	ck_assert_int_eq(vmmem_fill(m, (uint64_t)i * PS, 0xA0 + i, PS), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, EV_IOVA(i), PS, (uint64_t)i * PS,
					    RW), 0);
}

static void ev_expect(struct vmmem_iommu *io, int i, bool present)
{
	uint8_t b = 0;

	if (present) {
		ck_assert_int_eq(vmmem_iommu_read(io, EV_IOVA(i) + 7, &b, 1), 1);
		ck_assert_uint_eq(b, 0xA0 + i);
	} else {
		ck_assert_msg(vmmem_iommu_read(io, EV_IOVA(i) + 7, &b, 1) == -EAGAIN,
			      "entry %d should have been evicted", i);
	}
}

START_TEST(evict_oldest_at_bound)
{
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_iommu(m, 4, NULL);

	for (int i = 0; i < 6; i++) {
		ev_insert(io, m, i);
		ck_assert_int_eq(vmmem_iommu_num_entries(io), i < 4 ? i + 1 : 4);
	}
	ev_expect(io, 0, false);
	ev_expect(io, 1, false);
	for (int i = 2; i < 6; i++)
		ev_expect(io, i, true);
	vmmem_iommu_free(io);

	/* insertion order, not IOVA order nor use: a re-inserted entry is new */
	io = mk_iommu(m, 4, NULL);
	for (int i = 0; i < 4; i++)
		ev_insert(io, m, i);
	ev_expect(io, 1, true);          /* a use does not refresh */
	ev_insert(io, m, 0);              /* a re-insertion does */
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 4);
	ev_insert(io, m, 4);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 4);
	ev_expect(io, 0, true);
	ev_expect(io, 1, false);
	ev_expect(io, 2, true);
	ev_expect(io, 3, true);
	ev_expect(io, 4, true);
	vmmem_iommu_free(io);

	/* bound 1 */
	io = mk_iommu(m, 1, NULL);
	ev_insert(io, m, 0);
	ev_insert(io, m, 1);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 1);
	ev_expect(io, 0, false);
	ev_expect(io, 1, true);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

START_TEST(evict_on_split)
{
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_iommu(m, 4, NULL);
	uint8_t b;

	for (int i = 0; i < 4; i++)
		ev_insert(io, m, i);
	/* invalidating the middle of the newest makes five: the oldest goes */
	ck_assert_int_eq(vmmem_iommu_invalidate(io, EV_IOVA(3) + 0x100, 0x100), 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 4);
	ev_expect(io, 0, false);
	ev_expect(io, 1, true);
	ev_expect(io, 2, true);
	ev_expect(io, 3, true);                    /* the head, at +7 */
	ck_assert_int_eq(vmmem_iommu_read(io, EV_IOVA(3) + 0x100, &b, 1), -EAGAIN);
	ck_assert_int_eq(vmmem_iommu_read(io, EV_IOVA(3) + 0x1FF, &b, 1), -EAGAIN);
	ck_assert_uint_eq(ibyte(io, EV_IOVA(3) + 0x200), 0xA3);
	ck_assert_uint_eq(ibyte(io, EV_IOVA(3) + PS - 1), 0xA3);
	vmmem_iommu_free(io);

	/* an update splitting the newest makes six: the two oldest go */
	io = mk_iommu(m, 4, NULL);
	for (int i = 0; i < 4; i++)
		ev_insert(io, m, i);
	ck_assert_int_eq(vmmem_fill(m, 0x8000, 0x5A, 0x100), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, EV_IOVA(3) + 0x100, 0x100, 0x8000,
					    RD), 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 4);
	ev_expect(io, 0, false);
	ev_expect(io, 1, false);
	ev_expect(io, 2, true);
	ev_expect(io, 3, true);
	ck_assert_uint_eq(ibyte(io, EV_IOVA(3) + 0x100), 0x5A);
	ck_assert_uint_eq(ibyte(io, EV_IOVA(3) + 0x1FF), 0x5A);
	ck_assert_uint_eq(ibyte(io, EV_IOVA(3) + 0x200), 0xA3);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

/* Splitting the oldest entry at the bound: its parts keep its age, so one of
 * them is evicted and the other stays. */
START_TEST(evict_part_of_split)
{
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_iommu(m, 2, NULL);
	uint8_t b;
	int head, tail;

	ev_insert(io, m, 0);
	ev_insert(io, m, 1);
	ck_assert_int_eq(vmmem_iommu_invalidate(io, EV_IOVA(0) + 0x100, 0x100), 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 2);
	ev_expect(io, 1, true);
	head = vmmem_iommu_read(io, EV_IOVA(0) + 0xFF, &b, 1);
	if (head == 1)
		ck_assert_uint_eq(b, 0xA0);
	tail = vmmem_iommu_read(io, EV_IOVA(0) + 0x200, &b, 1);
	if (tail == 1)
		ck_assert_uint_eq(b, 0xA0);
	ck_assert_msg((head == 1 && tail == -EAGAIN) || (head == -EAGAIN && tail == 1),
		      "head %d, tail %d: exactly one part should remain", head, tail);
	ck_assert_int_eq(vmmem_iommu_read(io, EV_IOVA(0) + 0x100, &b, 1), -EAGAIN);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

/* The default bound is 2048 entries. */
START_TEST(evict_default_bound)
{
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_iommu(m, 0, NULL);
	uint8_t b;

	ck_assert_int_eq(vmmem_fill(m, 0, 0x33, 0x10), 0);
	for (uint64_t i = 0; i < 2049; i++)
		ck_assert_int_eq(vmmem_iommu_update(io, i * 0x20, 0x10, i & 0xF, RW), 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 2048);
	ck_assert_int_eq(vmmem_iommu_read(io, 0, &b, 1), -EAGAIN);
	ck_assert_uint_eq(ibyte(io, 0x20), 0x33);
	ck_assert_uint_eq(ibyte(io, 2048 * 0x20 + 0xF), 0x33);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

/* --------------------------------------------------- miss and retry */

START_TEST(miss_arguments)
{
	struct miss_log log = { 0 };
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_iommu(m, 0, &log);
	uint8_t buf[0x40];
	struct iovec iov[4];
	uint64_t len, v = 7;
	void *h = NULL;
	int fd = memfd_create("iommu-miss", 0);
	int n = 0;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 0x1000), 0);
	memset(buf, 0xC3, sizeof(buf));

	ck_assert_int_eq(vmmem_iommu_read(io, 0x5000, buf, 0x30), -EAGAIN);
	EXPECT_MISS(&log, ++n, 0x5000, 0x30, RD);
	ck_assert_int_eq(vmmem_iommu_write(io, 0x6001, buf, 0x11), -EAGAIN);
	EXPECT_MISS(&log, ++n, 0x6001, 0x11, WR);
	ck_assert_int_eq(vmmem_iommu_read_exact(io, 0x5003, buf, 0x2), -EAGAIN);
	EXPECT_MISS(&log, ++n, 0x5003, 0x2, RD);
	ck_assert_int_eq(vmmem_iommu_write_exact(io, 0x5004, buf, 0x3), -EAGAIN);
	EXPECT_MISS(&log, ++n, 0x5004, 0x3, WR);
	ck_assert_int_eq(vmmem_iommu_fill(io, 0x5005, 0, 0x4), -EAGAIN);
	EXPECT_MISS(&log, ++n, 0x5005, 0x4, WR);
	ck_assert_int_eq(vmmem_iommu_load(io, 0x5008, 8, &v, VMMEM_ORDER_SEQ_CST),
			 -EAGAIN);
	EXPECT_MISS(&log, ++n, 0x5008, 8, RD);
	ck_assert_uint_eq(v, 7);
	ck_assert_int_eq(vmmem_iommu_store(io, 0x500E, 2, 1, VMMEM_ORDER_RELAXED),
			 -EAGAIN);
	EXPECT_MISS(&log, ++n, 0x500E, 2, WR);
	ck_assert_int_eq(vmmem_iommu_iovec(io, 0x5010, 0x20, RW, iov, 4), -EAGAIN);
	EXPECT_MISS(&log, ++n, 0x5010, 0x20, RW);
	ck_assert_int_eq(vmmem_iommu_iovec(io, 0x5010, 0x21, WR, NULL, 0), -EAGAIN);
	EXPECT_MISS(&log, ++n, 0x5010, 0x21, WR);
	len = 0x123;
	ck_assert_int_eq(vmmem_iommu_map(io, 0x5020, &len, VMMEM_MAP_READ, &h),
			 -EAGAIN);
	EXPECT_MISS(&log, ++n, 0x5020, 0x123, RD);
	ck_assert_int_eq(vmmem_iommu_map(io, 0x5020, &len,
					 VMMEM_MAP_READ | VMMEM_MAP_WRITE, &h), -EAGAIN);
	EXPECT_MISS(&log, ++n, 0x5020, 0x123, RW);
	ck_assert_int_eq(vmmem_iommu_map(io, 0x5021, &len, VMMEM_MAP_WRITE, &h),
			 -EAGAIN);
	EXPECT_MISS(&log, ++n, 0x5021, 0x123, WR);
	ck_assert_uint_eq(len, 0x123);
	ck_assert_ptr_null(h);
	/* fd reads write guest memory, fd writes read it */
	ck_assert_int_eq(vmmem_iommu_read_fd(io, 0x5030, fd, 0x31), -EAGAIN);
	EXPECT_MISS(&log, ++n, 0x5030, 0x31, WR);
	ck_assert_int_eq(vmmem_iommu_pread_fd(io, 0x5031, fd, 0x32, 0), -EAGAIN);
	EXPECT_MISS(&log, ++n, 0x5031, 0x32, WR);
	ck_assert_int_eq(vmmem_iommu_write_fd(io, 0x5032, fd, 0x33), -EAGAIN);
	EXPECT_MISS(&log, ++n, 0x5032, 0x33, RD);
	ck_assert_int_eq(vmmem_iommu_pwrite_fd(io, 0x5033, fd, 0x34, 0), -EAGAIN);
	EXPECT_MISS(&log, ++n, 0x5033, 0x34, RD);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 0);
	for (int i = 0; i < 0x40; i++)
		ck_assert_uint_eq(buf[i], 0xC3);

	/* the first untranslated byte, after a translated part */
	ck_assert_int_eq(vmmem_fill(m, 0x100, 0x4D, 0x10), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x5000, 0x10, 0x100, RW), 0);
	ck_assert_int_eq(vmmem_iommu_read(io, 0x5000, buf, 0x30), 0x10);
	EXPECT_MISS(&log, ++n, 0x5010, 0x20, RD);
	for (int i = 0; i < 0x10; i++)
		ck_assert_uint_eq(buf[i], 0x4D);
	ck_assert_uint_eq(buf[0x10], 0xC3);
	ck_assert_int_eq(vmmem_iommu_write(io, 0x5008, buf + 0x20, 0x10), 8);
	EXPECT_MISS(&log, ++n, 0x5010, 8, WR);
	expect_backing_byte(m, 0x108, 0xC3, 8);
	ck_assert_uint_eq(gbyte(m, 0x110), 0);
	memset(buf, 0x3C, sizeof(buf));
	ck_assert_int_eq(vmmem_iommu_read_exact(io, 0x500F, buf, 0x11), -EAGAIN);
	EXPECT_MISS(&log, ++n, 0x5010, 0x10, RD);
	ck_assert_uint_eq(buf[0], 0x3C);           /* nothing copied */
	ck_assert_int_eq(vmmem_iommu_write_exact(io, 0x5000, buf, 0x11), -EAGAIN);
	EXPECT_MISS(&log, ++n, 0x5010, 1, WR);
	ck_assert_uint_eq(gbyte(m, 0x100), 0x4D);   /* nothing written */
	ck_assert_int_eq(vmmem_iommu_fill(io, 0x5000, 0, 0x12), -EAGAIN);
	EXPECT_MISS(&log, ++n, 0x5010, 2, WR);
	ck_assert_uint_eq(gbyte(m, 0x100), 0x4D);
	ck_assert_int_eq(vmmem_iommu_iovec(io, 0x5008, 0x10, RD, iov, 4), -EAGAIN);
	EXPECT_MISS(&log, ++n, 0x5010, 8, RD);
	/* a gap between two entries: the remaining length includes what
	 * follows the gap */
	ck_assert_int_eq(vmmem_iommu_update(io, 0x5020, 0x10, 0x120, RW), 0);
	ck_assert_int_eq(vmmem_iommu_read(io, 0x5000, buf, 0x30), 0x10);
	EXPECT_MISS(&log, ++n, 0x5010, 0x20, RD);
	/* a hit calls nothing */
	ck_assert_int_eq(vmmem_iommu_read(io, 0x5020, buf, 0x10), 0x10);
	ck_assert_int_eq(log.calls, n);
	/* len 0 never misses */
	ck_assert_int_eq(vmmem_iommu_read(io, 0x9000, buf, 0), 0);
	ck_assert_int_eq(vmmem_iommu_write(io, 0x9000, buf, 0), 0);
	ck_assert_int_eq(vmmem_iommu_read_exact(io, 0x9000, buf, 0), 0);
	ck_assert_int_eq(vmmem_iommu_write_exact(io, 0x9000, buf, 0), 0);
	ck_assert_int_eq(vmmem_iommu_fill(io, 0x9000, 0, 0), 0);
	ck_assert_int_eq(vmmem_iommu_iovec(io, 0x9000, 0, RD, NULL, 0), 0);
	ck_assert_int_eq(vmmem_iommu_read_fd(io, 0x9000, fd, 0), 0);
	ck_assert_int_eq(vmmem_iommu_pwrite_fd(io, 0x9000, fd, 0, 0), 0);
	ck_assert_int_eq(log.calls, n);
	close(fd);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

/* The front-end answers a recorded miss later; the retry succeeds. */
START_TEST(miss_then_update_then_retry)
{
	struct miss_log log = { 0 };
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_iommu(m, 0, &log);
	uint8_t img[0x100], buf[0x100];
	uint64_t v = 0;

	test_pattern(img, sizeof(img), 12);
	ck_assert_int_eq(vmmem_write_exact(m, 0x30080, img, sizeof(img)), 0);
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(vmmem_iommu_read_exact(io, 0xFEED0000, buf, 0x100), -EAGAIN);
	EXPECT_MISS(&log, 1, 0xFEED0000, 0x100, RD);
	/* the front-end maps the page the miss fell in */
	ck_assert_int_eq(vmmem_iommu_update(io, log.iova & ~(PS - 1), PS,
					    0x30080, RD), 0);
	ck_assert_int_eq(vmmem_iommu_read_exact(io, 0xFEED0000, buf, 0x100), 0);
	ck_assert_mem_eq(buf, img, sizeof(img));
	ck_assert_int_eq(log.calls, 1);

	/* a store misses, is answered with a write mapping, and lands */
	ck_assert_int_eq(vmmem_iommu_store(io, 0xBEEF0008, 8, 0x1122334455667788ull,
					   VMMEM_ORDER_SEQ_CST), -EAGAIN);
	EXPECT_MISS(&log, 2, 0xBEEF0008, 8, WR);
	ck_assert_int_eq(vmmem_iommu_update(io, 0xBEEF0000, 0x10, 0x8000, WR), 0);
	ck_assert_int_eq(vmmem_iommu_store(io, 0xBEEF0008, 8, 0x1122334455667788ull,
					   VMMEM_ORDER_SEQ_CST), 0);
	ck_assert_int_eq(vmmem_load(m, 0x8008, 8, &v, VMMEM_ORDER_RELAXED), 0);
	ck_assert_uint_eq(v, 0x1122334455667788ull);

	/* a partial read is retried from where it stopped */
	ck_assert_int_eq(vmmem_iommu_update(io, 0x70000, 0x40, 0x30080, RD), 0);
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(vmmem_iommu_read(io, 0x70000, buf, 0x100), 0x40);
	EXPECT_MISS(&log, 3, 0x70040, 0xC0, RD);
	ck_assert_int_eq(vmmem_iommu_update(io, log.iova, log.len, 0x300C0, RD), 0);
	ck_assert_int_eq(vmmem_iommu_read(io, 0x70040, buf + 0x40, 0xC0), 0xC0);
	ck_assert_mem_eq(buf, img, sizeof(img));
	ck_assert_int_eq(log.calls, 3);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

/* A front-end in the handler: it maps the missing page itself. */
struct inline_frontend {
	struct vmmem_iommu *io;
	uint64_t iova_base, gpa_base;
	int calls;
	int update_ret;
	unsigned int last_perm;
};

static void map_on_miss(uint64_t iova, uint64_t len, unsigned int perm,
			void *opaque)
{
	struct inline_frontend *fe = opaque;
	uint64_t page = iova & ~(PS - 1);

	(void)len;
	fe->calls++;
	fe->last_perm = perm;
	fe->update_ret = vmmem_iommu_update(fe->io, page, PS,
					    fe->gpa_base + (page - fe->iova_base),
					    RW);
}

START_TEST(miss_handler_updates_itself)
{
	static uint8_t img[3 * PS];
	struct inline_frontend fe = { .iova_base = 0x40000000, .gpa_base = 0x31000 };
	struct vmmem_iommu_opts o = { .sz = sizeof(o), .miss = map_on_miss,
				      .miss_opaque = &fe };
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = NULL;
	uint8_t buf[0x2000];
	int ret, tries = 0;

	ck_assert_int_eq(vmmem_iommu_new(&io, m, &o), 0);
	fe.io = io;
	test_pattern(img, sizeof(img), 13);
	ck_assert_int_eq(vmmem_write_exact(m, 0x31000, img, sizeof(img)), 0);

	/* three pages: three misses, each answered from inside the callback */
	do {
		ret = vmmem_iommu_read_exact(io, fe.iova_base + 0x800, buf, 0x2000);
		tries++;
		ck_assert_int_eq(fe.update_ret, 0);
	} while (ret == -EAGAIN && tries < 10);
	ck_assert_int_eq(ret, 0);
	ck_assert_int_eq(tries, 4);
	ck_assert_int_eq(fe.calls, 3);
	ck_assert_uint_eq(fe.last_perm, RD);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 3);
	ck_assert_mem_eq(buf, img + 0x800, 0x2000);

	/* a write: one miss, then it lands */
	ck_assert_int_eq(vmmem_iommu_write(io, fe.iova_base + 5 * PS + 3, "xyz", 3),
			 -EAGAIN);
	ck_assert_int_eq(fe.calls, 4);
	ck_assert_uint_eq(fe.last_perm, WR);
	ck_assert_int_eq(vmmem_iommu_write(io, fe.iova_base + 5 * PS + 3, "xyz", 3), 3);
	test_expect_bytes(m, 0x31000 + 5 * PS + 3, (const uint8_t *)"xyz", 3);
	ck_assert_int_eq(fe.calls, 4);
	/* a partial read makes progress on every call */
	ck_assert_int_eq(vmmem_iommu_invalidate_all(io), 0);
	ck_assert_int_eq(vmmem_iommu_read(io, fe.iova_base + 0x800, buf, 0x2000),
			 -EAGAIN);
	ck_assert_int_eq(vmmem_iommu_read(io, fe.iova_base + 0x800, buf, 0x2000),
			 0x800);
	ck_assert_int_eq(vmmem_iommu_read(io, fe.iova_base + PS, buf, 0x1800),
			 0x1000);
	ck_assert_int_eq(vmmem_iommu_read(io, fe.iova_base + 2 * PS, buf, 0x800),
			 0x800);
	ck_assert_mem_eq(buf, img + 2 * PS, 0x800);
	ck_assert_int_eq(fe.calls, 7);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

START_TEST(miss_without_handler)
{
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = NULL;
	uint8_t buf[8] = { 0 };
	uint64_t len = 8, v;
	void *h = NULL;

	ck_assert_int_eq(vmmem_iommu_new(&io, m, NULL), 0);
	ck_assert_int_eq(vmmem_iommu_read(io, 0x1000, buf, 8), -EAGAIN);
	ck_assert_int_eq(vmmem_iommu_write(io, 0x1000, buf, 8), -EAGAIN);
	ck_assert_int_eq(vmmem_iommu_read_exact(io, 0x1000, buf, 8), -EAGAIN);
	ck_assert_int_eq(vmmem_iommu_write_exact(io, 0x1000, buf, 8), -EAGAIN);
	ck_assert_int_eq(vmmem_iommu_fill(io, 0x1000, 1, 8), -EAGAIN);
	ck_assert_int_eq(vmmem_iommu_load(io, 0x1000, 8, &v, VMMEM_ORDER_RELAXED),
			 -EAGAIN);
	ck_assert_int_eq(vmmem_iommu_store(io, 0x1000, 8, 1, VMMEM_ORDER_RELAXED),
			 -EAGAIN);
	ck_assert_int_eq(vmmem_iommu_iovec(io, 0x1000, 8, RD, NULL, 0), -EAGAIN);
	ck_assert_int_eq(vmmem_iommu_map(io, 0x1000, &len, VMMEM_MAP_READ, &h),
			 -EAGAIN);
	ck_assert_int_eq(vmmem_iommu_pread_fd(io, 0x1000, 0, 8, 0), -EAGAIN);
	ck_assert_int_eq(vmmem_iommu_pwrite_fd(io, 0x1000, 1, 8, 0), -EAGAIN);
	/* partial still counts */
	ck_assert_int_eq(vmmem_iommu_update(io, 0x0FFC, 4, 0x8000, RW), 0);
	ck_assert_int_eq(vmmem_iommu_write(io, 0x0FFC, "abcdefgh", 8), 4);
	test_expect_bytes(m, 0x8000, (const uint8_t *)"abcd", 4);
	ck_assert_uint_eq(gbyte(m, 0x8004), 0);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

START_TEST(invalidate_all_entries)
{
	struct miss_log log = { 0 };
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_iommu(m, 0, &log);
	uint8_t b;

	ck_assert_int_eq(vmmem_fill(m, 0x3000, 0x71, 0x3000), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(vmmem_iommu_update(io, 0x100000 * (uint64_t)(i + 1), PS,
						    0x3000 + (uint64_t)i * PS, RW), 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 3);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(ibyte(io, 0x100000 * (uint64_t)(i + 1)), 0x71);
	ck_assert_int_eq(vmmem_iommu_invalidate_all(io), 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(vmmem_iommu_read(io, 0x100000 * (uint64_t)(i + 1) + 9,
						  &b, 1), -EAGAIN);
		EXPECT_MISS(&log, i + 1, 0x100000 * (uint64_t)(i + 1) + 9, 1, RD);
	}
	/* the backing memory is untouched */
	expect_backing_byte(m, 0x3000, 0x71, 0x3000);
	/* empty: still fine; and new entries work */
	ck_assert_int_eq(vmmem_iommu_invalidate_all(io), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x200000, PS, 0x4000, RD), 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 1);
	ck_assert_uint_eq(ibyte(io, 0x200000), 0x71);
	ck_assert_int_eq(vmmem_iommu_invalidate_all(NULL), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 1);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

/* ------------------------------------------------------- load / store */

START_TEST(load_store)
{
	static const int store_orders[] = { VMMEM_ORDER_RELAXED, VMMEM_ORDER_RELEASE,
					    VMMEM_ORDER_SEQ_CST };
	static const int load_orders[] = { VMMEM_ORDER_RELAXED, VMMEM_ORDER_CONSUME,
					   VMMEM_ORDER_ACQUIRE, VMMEM_ORDER_SEQ_CST };
	static const size_t sizes[] = { 1, 2, 4, 8 };
	struct miss_log log = { 0 };
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_iommu(m, 0, &log);
	uint64_t iova = 0x8000, v;

	/* [0x8000, 0x9000) -> [0xF800, 0x10800): the A/B boundary at +0x800 */
	ck_assert_int_eq(vmmem_iommu_update(io, 0x8000, 0x1000, 0xF800, RW), 0);
	for (size_t s = 0; s < 4; s++) {
		for (size_t o = 0; o < 3; o++, iova += 8) {
			uint64_t val = 0x8877665544332211ull ^ (s * 0x0101010101010101ull) ^ o;
			uint64_t mask = sizes[s] == 8 ? ~0ull : (1ull << (8 * sizes[s])) - 1;
			uint8_t want[8], got[8];

			ck_assert_int_eq(vmmem_iommu_store(io, iova, sizes[s], val,
							   store_orders[o]), 0);
			/* the bytes, in host order, at the backing GPA */
			memcpy(want, &val, 8);
			if (sizes[s] == 1) want[0] = (uint8_t)val;
			else if (sizes[s] == 2) { uint16_t x = (uint16_t)val; memcpy(want, &x, 2); }
			else if (sizes[s] == 4) { uint32_t x = (uint32_t)val; memcpy(want, &x, 4); }
			ck_assert_int_eq(vmmem_read_exact(m, 0xF800 + (iova - 0x8000), got,
							  sizes[s]), 0);
			ck_assert_mem_eq(got, want, sizes[s]);
			for (size_t l = 0; l < 4; l++) {
				v = ~0ull;
				ck_assert_int_eq(vmmem_iommu_load(io, iova, sizes[s], &v,
								  load_orders[l]), 0);
				ck_assert_uint_eq(v, val & mask);
			}
		}
	}
	/* at the start of region B */
	ck_assert_int_eq(vmmem_iommu_store(io, 0x8800, 8, 0xCAFEF00DDEADBEEFull,
					   VMMEM_ORDER_SEQ_CST), 0);
	ck_assert_int_eq(vmmem_load(m, 0x10000, 8, &v, VMMEM_ORDER_RELAXED), 0);
	ck_assert_uint_eq(v, 0xCAFEF00DDEADBEEFull);
	ck_assert_int_eq(vmmem_iommu_load(io, 0x87F8, 8, &v, VMMEM_ORDER_ACQUIRE), 0);
	ck_assert_int_eq(vmmem_iommu_load(io, 0x8FF8, 8, &v, VMMEM_ORDER_ACQUIRE), 0);

	/* two entries, contiguous in GPA even: an access across is -ERANGE */
	ck_assert_int_eq(vmmem_write_exact(m, 0x100, "\x01\x02\x03\x04\x05\x06\x07\x08",
					   8), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x9000, 4, 0x100, RW), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x9004, 4, 0x104, RW), 0);
	v = 0xABCD;
	ck_assert_int_eq(vmmem_iommu_load(io, 0x9000, 8, &v, VMMEM_ORDER_RELAXED),
			 -ERANGE);
	ck_assert_uint_eq(v, 0xABCD);
	ck_assert_int_eq(vmmem_iommu_store(io, 0x9000, 8, 0, VMMEM_ORDER_RELAXED),
			 -ERANGE);
	test_expect_bytes(m, 0x100,
			  (const uint8_t *)"\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	ck_assert_int_eq(vmmem_iommu_load(io, 0x9004, 4, &v, VMMEM_ORDER_RELAXED), 0);
	ck_assert_int_eq(vmmem_load(m, 0x104, 4, &v, VMMEM_ORDER_RELAXED), 0);
	{
		uint64_t w = 0;

		ck_assert_int_eq(vmmem_iommu_load(io, 0x9004, 4, &w, VMMEM_ORDER_RELAXED), 0);
		ck_assert_uint_eq(w, v);
		ck_assert_int_eq(vmmem_iommu_load(io, 0x9002, 2, &w, VMMEM_ORDER_RELAXED), 0);
		ck_assert_int_eq(vmmem_iommu_load(io, 0x9004, 2, &w, VMMEM_ORDER_RELAXED), 0);
	}
	ck_assert_int_eq(log.calls, 0);

	/* crossing into unmapped IOVAs: -ERANGE as well, no miss */
	ck_assert_int_eq(vmmem_iommu_update(io, 0xE000, 4, 0x300, RW), 0);
	ck_assert_int_eq(vmmem_iommu_load(io, 0xE000, 8, &v, VMMEM_ORDER_RELAXED),
			 -ERANGE);
	ck_assert_int_eq(vmmem_iommu_store(io, 0xE000, 8, 1, VMMEM_ORDER_RELAXED),
			 -ERANGE);
	ck_assert_uint_eq(gbyte(m, 0x300), 0);
	/* an aligned IOVA whose backing address is not aligned */
	ck_assert_int_eq(vmmem_iommu_update(io, 0xF000, 0x10, 0x404, RW), 0);
	ck_assert_int_eq(vmmem_iommu_load(io, 0xF000, 8, &v, VMMEM_ORDER_RELAXED),
			 -EINVAL);
	ck_assert_int_eq(vmmem_iommu_store(io, 0xF000, 8, 1, VMMEM_ORDER_RELAXED),
			 -EINVAL);
	ck_assert_int_eq(vmmem_iommu_store(io, 0xF000, 4, 0x01020304, VMMEM_ORDER_RELAXED),
			 0);
	ck_assert_int_eq(vmmem_load(m, 0x404, 4, &v, VMMEM_ORDER_RELAXED), 0);
	ck_assert_uint_eq(v, 0x01020304);
	ck_assert_int_eq(log.calls, 0);

	/* permissions */
	ck_assert_int_eq(vmmem_iommu_update(io, 0xA000, 8, 0x200, RD), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, 0xA008, 8, 0x208, WR), 0);
	ck_assert_int_eq(vmmem_iommu_store(io, 0xA000, 8, 5, VMMEM_ORDER_RELAXED),
			 -EACCES);
	ck_assert_int_eq(vmmem_iommu_load(io, 0xA008, 8, &v, VMMEM_ORDER_RELAXED),
			 -EACCES);
	ck_assert_int_eq(vmmem_iommu_load(io, 0xA000, 8, &v, VMMEM_ORDER_RELAXED), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(vmmem_iommu_store(io, 0xA008, 8, 5, VMMEM_ORDER_RELAXED), 0);
	ck_assert_int_eq(vmmem_load(m, 0x208, 8, &v, VMMEM_ORDER_RELAXED), 0);
	ck_assert_uint_eq(v, 5);
	ck_assert_int_eq(log.calls, 0);
	/* misses */
	ck_assert_int_eq(vmmem_iommu_load(io, 0xB000, 4, &v, VMMEM_ORDER_RELAXED),
			 -EAGAIN);
	EXPECT_MISS(&log, 1, 0xB000, 4, RD);
	ck_assert_int_eq(vmmem_iommu_store(io, 0xB001, 1, 5, VMMEM_ORDER_RELAXED),
			 -EAGAIN);
	EXPECT_MISS(&log, 2, 0xB001, 1, WR);

	/* argument errors */
	ck_assert_int_eq(vmmem_iommu_load(io, 0x8000, 3, &v, VMMEM_ORDER_RELAXED), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_load(io, 0x8000, 0, &v, VMMEM_ORDER_RELAXED), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_load(io, 0x8000, 16, &v, VMMEM_ORDER_RELAXED), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_load(io, 0x8002, 4, &v, VMMEM_ORDER_RELAXED), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_load(io, 0x8001, 2, &v, VMMEM_ORDER_RELAXED), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_load(io, 0x8000, 8, NULL, VMMEM_ORDER_RELAXED), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_load(NULL, 0x8000, 8, &v, VMMEM_ORDER_RELAXED), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_load(io, 0x8000, 8, &v, VMMEM_ORDER_RELEASE), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_load(io, 0x8000, 8, &v, 99), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_store(io, 0x8000, 3, 0, VMMEM_ORDER_RELAXED), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_store(io, 0x8004, 8, 0, VMMEM_ORDER_RELAXED), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_store(NULL, 0x8000, 8, 0, VMMEM_ORDER_RELAXED), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_store(io, 0x8000, 8, 0, VMMEM_ORDER_ACQUIRE), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_store(io, 0x8000, 8, 0, -1), -EINVAL);
	/* misaligned or NULL: refused before any translation, so no miss */
	ck_assert_int_eq(vmmem_iommu_load(io, 0xB001, 2, &v, VMMEM_ORDER_RELAXED), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_load(io, 0xB000, 8, NULL, VMMEM_ORDER_RELAXED), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_store(io, 0xB002, 4, 0, VMMEM_ORDER_RELAXED), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_store(io, 0xB000, 5, 0, VMMEM_ORDER_RELAXED), -EINVAL);
	ck_assert_int_eq(log.calls, 2);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

/* An invalid memory order is an argument error like a bad size: it must not
 * report a miss for an access that could never succeed. */
START_TEST(load_store_bad_order_no_miss)
{
	struct miss_log log = { 0 };
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_iommu(m, 0, &log);
	uint64_t v = 0;

	ck_assert_int_eq(vmmem_iommu_load(io, 0xB000, 8, &v, VMMEM_ORDER_RELEASE),
			 -EINVAL);
	ck_assert_int_eq(vmmem_iommu_load(io, 0xB000, 8, &v, 99), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_store(io, 0xB000, 8, 0, VMMEM_ORDER_ACQUIRE),
			 -EINVAL);
	ck_assert_int_eq(vmmem_iommu_store(io, 0xB000, 8, 0, -1), -EINVAL);
	ck_assert_int_eq(log.calls, 0);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

/* ----------------------------------------------------------------- fill */

START_TEST(fill_exact)
{
	struct miss_log log = { 0 };
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_iommu(m, 0, &log);

	ck_assert_int_eq(vmmem_iommu_update(io, 0x0000, 0x1000, 0x3000, RD), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x1000, 0x1000, 0x6000, RW), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x2000, 0x1000, HOLE - 0x800, RW), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x5000, 0x100, 0x100, RW), 0);

	ck_assert_int_eq(vmmem_iommu_fill(io, 0x1800, 0xC5, 0x1000), 0);
	expect_backing_byte(m, 0x6800, 0xC5, 0x800);
	expect_backing_byte(m, HOLE - 0x800, 0xC5, 0x800);
	ck_assert_uint_eq(gbyte(m, 0x67FF), 0);
	ck_assert_uint_eq(gbyte(m, 0x7000), 0);
	/* an int byte is converted to unsigned char */
	ck_assert_int_eq(vmmem_iommu_fill(io, 0x1000, 0x1A5, 2), 0);
	expect_backing_byte(m, 0x6000, 0xA5, 2);
	ck_assert_uint_eq(gbyte(m, 0x6002), 0);

	/* all or nothing: into the hole, the RO entry, a miss */
	ck_assert_int_eq(vmmem_iommu_fill(io, 0x1800, 0x5A, 0x1001), -EFAULT);
	ck_assert_int_eq(vmmem_iommu_fill(io, 0x0FFF, 0x5A, 0x10), -EACCES);
	ck_assert_int_eq(log.calls, 0);
	ck_assert_int_eq(vmmem_iommu_fill(io, 0x5080, 0x5A, 0x100), -EAGAIN);
	EXPECT_MISS(&log, 1, 0x5100, 0x80, WR);
	expect_backing_byte(m, 0x6800, 0xC5, 0x800);
	ck_assert_uint_eq(gbyte(m, 0x6000), 0xA5);
	ck_assert_uint_eq(gbyte(m, 0x180), 0);
	expect_backing_byte(m, 0x3FF0, 0, 0x20);

	/* len 0, wrap, NULL */
	ck_assert_int_eq(vmmem_iommu_fill(io, 0x9000, 1, 0), 0);
	ck_assert_int_eq(vmmem_iommu_fill(io, UINT64_MAX, 1, 2), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_fill(io, 2, 1, UINT64_MAX), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_fill(NULL, 0x1000, 1, 1), -EINVAL);
	ck_assert_int_eq(log.calls, 1);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

/* ---------------------------------------------------------------- iovec */

START_TEST(iovec_errors)
{
	struct miss_log log = { 0 };
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_iommu(m, 0, &log);
	struct iovec iov[4];

	ck_assert_int_eq(vmmem_iommu_update(io, 0x1000, 0x1000, 0x1000, RW), 0);
	ck_assert_int_eq(vmmem_iommu_iovec(NULL, 0x1000, 8, RD, iov, 4), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_iovec(io, 0x1000, 8, 0, iov, 4), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_iovec(io, 0x1000, 8, 4, iov, 4), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_iovec(io, 0x1000, 8, RW | 8, iov, 4), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_iovec(io, 0x1000, 8, ~0u, iov, 4), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_iovec(io, 0x1000, 8, RD, NULL, 1), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_iovec(io, UINT64_MAX, 2, RD, iov, 4), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_iovec(io, 0x1000, UINT64_MAX, RD, iov, 4), -EINVAL);
	ck_assert_int_eq(log.calls, 0);
	ck_assert_int_eq(vmmem_iommu_iovec(io, 0x1000, 0x1000, RW, iov, 4), 1);
	ck_assert_ptr_eq(iov[0].iov_base, test_host_of_gpa(m, 0x1000));
	ck_assert_uint_eq(iov[0].iov_len, 0x1000);
	ck_assert_int_eq(vmmem_iommu_iovec(io, 0x1000, 0x1001, RW, iov, 4), -EAGAIN);
	EXPECT_MISS(&log, 1, 0x2000, 1, RW);
	ck_assert_int_eq(vmmem_iommu_iovec(io, 0x1000, 0, RD, NULL, 0), 0);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

/* ------------------------------------------------------------ map/unmap */

START_TEST(map_unmap)
{
	struct miss_log log = { 0 };
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_iommu(m, 0, &log);
	uint64_t len;
	void *h = NULL, *h2 = NULL;
	uint8_t buf[0x100], *p;

	/* [0x40000, 0x42000) -> [0xF000, 0x11000): A/B boundary at +0x1000 */
	ck_assert_int_eq(vmmem_iommu_update(io, 0x40000, 0x2000, 0xF000, RW), 0);
	len = 0x100;
	ck_assert_int_eq(vmmem_iommu_map(io, 0x40100, &len,
					 VMMEM_MAP_READ | VMMEM_MAP_WRITE, &h), 0);
	ck_assert_uint_eq(len, 0x100);
	ck_assert_ptr_eq(h, test_host_of_gpa(m, 0xF100));
	p = h;
	for (int i = 0; i < 0x100; i++)
		p[i] = (uint8_t)(i ^ 0x5A);
	ck_assert_int_eq(vmmem_iommu_read_exact(io, 0x40100, buf, 0x100), 0);
	for (int i = 0; i < 0x100; i++)
		ck_assert_uint_eq(buf[i], (uint8_t)(i ^ 0x5A));
	ck_assert_uint_eq(gbyte(m, 0xF1FF), (uint8_t)(0xFF ^ 0x5A));
	ck_assert_int_eq(vmmem_iommu_fill(io, 0x40180, 0xEE, 1), 0);
	ck_assert_uint_eq(p[0x80], 0xEE);
	ck_assert_int_eq(vmmem_iommu_unmap(io, h, 0x100), 0);

	/* shortened at the region end ... */
	len = 0x1000;
	ck_assert_int_eq(vmmem_iommu_map(io, 0x40F00, &len, VMMEM_MAP_READ, &h), 0);
	ck_assert_uint_eq(len, 0x100);
	ck_assert_ptr_eq(h, test_host_of_gpa(m, 0xFF00));
	ck_assert_int_eq(vmmem_iommu_unmap(io, h, 0), 0);
	/* ... and at the entry end, though B goes on */
	len = 0x1000;
	ck_assert_int_eq(vmmem_iommu_map(io, 0x41F00, &len, VMMEM_MAP_WRITE, &h), 0);
	ck_assert_uint_eq(len, 0x100);
	ck_assert_ptr_eq(h, test_host_of_gpa(m, 0x10F00));
	ck_assert_int_eq(vmmem_iommu_unmap(io, h, 0x100), 0);

	/* a mapping survives invalidations of its IOVA */
	len = 0x80;
	ck_assert_int_eq(vmmem_iommu_map(io, 0x41200, &len,
					 VMMEM_MAP_READ | VMMEM_MAP_WRITE, &h), 0);
	len = 0x10;
	ck_assert_int_eq(vmmem_iommu_map(io, 0x40010, &len, VMMEM_MAP_READ, &h2), 0);
	ck_assert_int_eq(vmmem_iommu_invalidate(io, 0x41000, 0x1000), 0);
	ck_assert_int_eq(vmmem_iommu_invalidate_all(io), 0);
	ck_assert_int_eq(vmmem_iommu_read(io, 0x41200, buf, 1), -EAGAIN);
	EXPECT_MISS(&log, 1, 0x41200, 1, RD);
	p = h;
	memset(p, 0x3E, 0x80);
	expect_backing_byte(m, 0x10200, 0x3E, 0x80);
	ck_assert_uint_eq(gbyte(m, 0x10280), 0);
	ck_assert_int_eq(vmmem_write_exact(m, 0x10210, "\x99", 1), 0);
	ck_assert_uint_eq(p[0x10], 0x99);
	ck_assert_uint_eq(((uint8_t *)h2)[0], 0);
	ck_assert_int_eq(vmmem_write_exact(m, 0xF010, "\x77", 1), 0);
	ck_assert_uint_eq(((uint8_t *)h2)[0], 0x77);
	ck_assert_int_eq(vmmem_iommu_unmap(io, h, 0x80), 0);
	ck_assert_int_eq(vmmem_iommu_unmap(io, h2, 0), 0);
	ck_assert_int_eq(vmmem_iommu_unmap(io, h, 0), -ENOENT);
	ck_assert_int_eq(log.calls, 1);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

START_TEST(map_errors)
{
	struct miss_log log = { 0 };
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_iommu(m, 0, &log);
	uint64_t len = 0x10;
	void *h = (void *)&len;
	int local;

	ck_assert_int_eq(vmmem_iommu_update(io, 0x1000, 0x1000, 0x1000, RW), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x2000, 0x1000, HOLE, RW), 0);
	ck_assert_int_eq(vmmem_iommu_map(io, 0x1000, &len, 0, &h), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_map(io, 0x1000, &len, 4, &h), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_map(io, 0x1000, &len, VMMEM_MAP_READ | 0x80, &h),
			 -EINVAL);
	ck_assert_int_eq(vmmem_iommu_map(NULL, 0x1000, &len, VMMEM_MAP_READ, &h), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_map(io, 0x1000, NULL, VMMEM_MAP_READ, &h), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_map(io, 0x1000, &len, VMMEM_MAP_READ, NULL), -EINVAL);
	len = 0;
	ck_assert_int_eq(vmmem_iommu_map(io, 0x1000, &len, VMMEM_MAP_READ, &h), -EINVAL);
	len = 2;
	ck_assert_int_eq(vmmem_iommu_map(io, UINT64_MAX, &len, VMMEM_MAP_READ, &h), -EINVAL);
	ck_assert_int_eq(log.calls, 0);
	len = 0x10;
	ck_assert_int_eq(vmmem_iommu_map(io, 0x2000, &len, VMMEM_MAP_READ, &h), -EFAULT);
	ck_assert_ptr_eq(h, (void *)&len);
	ck_assert_uint_eq(len, 0x10);
	ck_assert_int_eq(vmmem_iommu_unmap(NULL, h, 0), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_unmap(io, NULL, 0), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_unmap(io, &local, 0), -ENOENT);
	ck_assert_int_eq(vmmem_iommu_unmap(io, test_host_of_gpa(m, 0x1000), 0), -ENOENT);
	ck_assert_int_eq(log.calls, 0);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

/* ---------------------------------------------------------------- fd I/O */

#define FILE_SIZE 0x4000
static uint8_t file_data[FILE_SIZE];

static int mk_file(void)
{
	int fd = memfd_create("test-iommu", 0);

	ck_assert_int_ge(fd, 0);
	test_pattern(file_data, sizeof(file_data), 14);
	ck_assert_int_eq(pwrite(fd, file_data, sizeof(file_data), 0), FILE_SIZE);
	return fd;
}

/* e0 [0x60000, 0x61000) -> 0xF800 (A/B boundary at +0x800),
 * e1 [0x61000, 0x62000) -> 0x30000. */
static struct vmmem_iommu *mk_fdio(struct vmmem *m, struct miss_log *log)
{
	struct vmmem_iommu *io = mk_iommu(m, 0, log);

	ck_assert_int_eq(vmmem_iommu_update(io, 0x60000, 0x1000, 0xF800, RW), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x61000, 0x1000, 0x30000, RW), 0);
	return io;
}

START_TEST(fd_into_guest)
{
	struct miss_log log = { 0 };
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_fdio(m, &log);
	int fd = mk_file();

	/* pread across the region boundary inside e0 */
	ck_assert_int_eq(vmmem_iommu_pread_fd(io, 0x60000, fd, 0x1000, 0), 0x1000);
	test_expect_bytes(m, 0xF800, file_data, 0x1000);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 0);
	/* short at the end of e0, e1 untouched */
	ck_assert_int_eq(vmmem_iommu_pread_fd(io, 0x60800, fd, 0x1000, 0x100), 0x800);
	test_expect_bytes(m, 0x10000, file_data + 0x100, 0x800);
	expect_backing_byte(m, 0x30000, 0, 0x10);
	/* the rest, as a caller would continue */
	ck_assert_int_eq(vmmem_iommu_pread_fd(io, 0x61000, fd, 0x800, 0x900), 0x800);
	test_expect_bytes(m, 0x30000, file_data + 0x900, 0x800);
	ck_assert_uint_eq(gbyte(m, 0x30800), 0);

	/* read_fd uses and advances the file position */
	ck_assert_int_eq(lseek(fd, 0x200, SEEK_SET), 0x200);
	ck_assert_int_eq(vmmem_iommu_read_fd(io, 0x61100, fd, 0x300), 0x300);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 0x500);
	test_expect_bytes(m, 0x30100, file_data + 0x200, 0x300);
	ck_assert_int_eq(vmmem_iommu_read_fd(io, 0x60F00, fd, 0x200), 0x100);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 0x600);
	test_expect_bytes(m, 0x10700, file_data + 0x500, 0x100);
	ck_assert_uint_eq(gbyte(m, 0x30000), file_data[0x900]);
	/* end of file */
	ck_assert_int_eq(vmmem_iommu_pread_fd(io, 0x61000, fd, 0x100, FILE_SIZE - 0x10),
			 0x10);
	ck_assert_int_eq(vmmem_iommu_pread_fd(io, 0x61000, fd, 0x100, FILE_SIZE), 0);
	ck_assert_int_eq(log.calls, 0);
	/* a miss after e1 is not reached: the count is short, no miss */
	ck_assert_int_eq(vmmem_iommu_pread_fd(io, 0x61F00, fd, 0x200, 0), 0x100);
	ck_assert_int_eq(log.calls, 0);
	close(fd);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

START_TEST(fd_out_of_guest)
{
	static uint8_t img[0x2000], got[0x2000];
	struct miss_log log = { 0 };
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_fdio(m, &log);
	int fd = memfd_create("test-iommu-out", 0);

	ck_assert_int_ge(fd, 0);
	test_pattern(img, sizeof(img), 15);
	ck_assert_int_eq(vmmem_iommu_write(io, 0x60000, img, 0x2000), 0x2000);

	/* short at the end of e0 */
	ck_assert_int_eq(vmmem_iommu_pwrite_fd(io, 0x60000, fd, 0x2000, 0x10), 0x1000);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 0);
	ck_assert_int_eq(pread(fd, got, 0x1000, 0x10), 0x1000);
	ck_assert_mem_eq(got, img, 0x1000);
	ck_assert_int_eq(pread(fd, got, 0x2000, 0), 0x1010);
	ck_assert_uint_eq(got[0], 0);
	/* write_fd at the file position, across the region boundary */
	ck_assert_int_eq(lseek(fd, 0x3000, SEEK_SET), 0x3000);
	ck_assert_int_eq(vmmem_iommu_write_fd(io, 0x607F0, fd, 0x20), 0x20);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 0x3020);
	ck_assert_int_eq(pread(fd, got, 0x20, 0x3000), 0x20);
	ck_assert_mem_eq(got, img + 0x7F0, 0x20);
	ck_assert_int_eq(vmmem_iommu_write_fd(io, 0x60FF0, fd, 0x100), 0x10);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 0x3030);
	ck_assert_int_eq(vmmem_iommu_write_fd(io, 0x61000, fd, 0x100), 0x100);
	ck_assert_int_eq(pread(fd, got, 0x110, 0x3020), 0x110);
	ck_assert_mem_eq(got, img + 0xFF0, 0x110);
	ck_assert_int_eq(log.calls, 0);
	close(fd);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

START_TEST(fd_errors)
{
	struct miss_log log = { 0 };
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_fdio(m, &log);
	int fd = mk_file();

	ck_assert_int_eq(vmmem_iommu_read_fd(io, 0x60000, -1, 16), -EBADF);
	ck_assert_int_eq(vmmem_iommu_pread_fd(io, 0x60000, -1, 16, 0), -EBADF);
	ck_assert_int_eq(vmmem_iommu_write_fd(io, 0x60000, -1, 16), -EBADF);
	ck_assert_int_eq(vmmem_iommu_pwrite_fd(io, 0x60000, -1, 16, 0), -EBADF);
	ck_assert_int_eq(vmmem_iommu_read_fd(io, 0x90000, -5, 16), -EBADF);
	ck_assert_int_eq(vmmem_iommu_read_fd(io, 0x60000, -1, 0), -EBADF);
	ck_assert_int_eq(vmmem_iommu_pwrite_fd(io, 0x60000, -1, 0, 0), -EBADF);
	ck_assert_int_eq(vmmem_iommu_pread_fd(io, 0x60000, fd, 16, -1), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_pwrite_fd(io, 0x60000, fd, 16, -1), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_read_fd(NULL, 0x60000, fd, 16), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_pread_fd(NULL, 0x60000, fd, 16, 0), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_write_fd(NULL, 0x60000, fd, 16), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_pwrite_fd(NULL, 0x60000, fd, 16, 0), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_read_fd(io, UINT64_MAX, fd, 2), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_pwrite_fd(io, UINT64_MAX - 1, fd, 3, 0), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_read_fd(io, 0x60000, fd, (size_t)SSIZE_MAX + 1),
			 -EINVAL);
	ck_assert_int_eq(vmmem_iommu_write_fd(io, 0, fd, (size_t)SSIZE_MAX + 1),
			 -EINVAL);
	/* len 0 is 0, translated or not */
	ck_assert_int_eq(vmmem_iommu_read_fd(io, 0x60000, fd, 0), 0);
	ck_assert_int_eq(vmmem_iommu_pread_fd(io, 0x90000, fd, 0, 0), 0);
	ck_assert_int_eq(vmmem_iommu_write_fd(io, 0x90000, fd, 0), 0);
	ck_assert_int_eq(vmmem_iommu_pwrite_fd(io, 0x60000, fd, 0, 0x10), 0);
	ck_assert_int_eq(log.calls, 0);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 0);
	expect_backing_byte(m, 0xF800, 0, 0x10);
	/* an fd that is not open */
	ck_assert_int_eq(vmmem_iommu_pread_fd(io, 0x60000, 1000000, 16, 0), -EBADF);
	ck_assert_int_eq(vmmem_iommu_write_fd(io, 0x60000, 1000000, 16), -EBADF);
	expect_backing_byte(m, 0xF800, 0, 0x10);
	/* into an unbacked GPA */
	ck_assert_int_eq(vmmem_iommu_update(io, 0x70000, 0x1000, HOLE, RW), 0);
	ck_assert_int_eq(vmmem_iommu_pread_fd(io, 0x70000, fd, 16, 0), -EFAULT);
	ck_assert_int_eq(vmmem_iommu_pwrite_fd(io, 0x70000, fd, 16, 0), -EFAULT);
	ck_assert_int_eq(log.calls, 0);
	close(fd);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

/* ------------------------------------------------------------- dirty */

/* Harvests [0, END) (64 pages) and checks the bitmap. */
static void expect_dirty(struct vmmem *m, uint64_t want)
{
	uint64_t bm[1] = { ~0ull };
	int n = __builtin_popcountll(want);

	ck_assert_int_eq(vmmem_dirty_harvest(m, 0, END, bm), n);
	ck_assert_msg(bm[0] == want, "dirty bitmap 0x%016llx, want 0x%016llx",
		      (unsigned long long)bm[0], (unsigned long long)want);
}

#define PG(gpa) (1ull << ((gpa) / PS))

START_TEST(dirty_through_iommu)
{
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_iommu(m, 0, NULL);
	uint8_t buf[0x200];
	uint64_t len, v;
	void *h;
	int fd = mk_file();

	ck_assert_int_eq(vmmem_dirty_start(m, PS), 0);
	/* e0 [0x100000, 0x101000) -> 0x3800 (pages 3, 4),
	 * e1 [0x101000, 0x102000) -> 0x31000 (page 0x31),
	 * RO [0x200000, 0x201000) -> 0x5000 */
	ck_assert_int_eq(vmmem_iommu_update(io, 0x100000, 0x1000, 0x3800, RW), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x101000, 0x1000, 0x31000, RW), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x200000, 0x1000, 0x5000, RD), 0);
	expect_dirty(m, 0);

	memset(buf, 0x42, sizeof(buf));
	ck_assert_int_eq(vmmem_iommu_write(io, 0x100F00, buf, 0x200), 0x200);
	expect_dirty(m, PG(0x4000) | PG(0x31000));
	ck_assert_int_eq(vmmem_iommu_write_exact(io, 0x1007FF, buf, 2), 0);
	expect_dirty(m, PG(0x3000) | PG(0x4000));
	ck_assert_int_eq(vmmem_iommu_fill(io, 0x101FFF, 0, 1), 0);
	expect_dirty(m, PG(0x31000));
	ck_assert_int_eq(vmmem_iommu_store(io, 0x100000, 4, 1, VMMEM_ORDER_RELEASE), 0);
	expect_dirty(m, PG(0x3000));
	ck_assert_int_eq(vmmem_iommu_pread_fd(io, 0x100900, fd, 0x10, 0), 0x10);
	expect_dirty(m, PG(0x4000));
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(vmmem_iommu_read_fd(io, 0x101800, fd, 0x10), 0x10);
	expect_dirty(m, PG(0x31000));
	len = 0x20;
	ck_assert_int_eq(vmmem_iommu_map(io, 0x1007F0, &len, VMMEM_MAP_WRITE, &h), 0);
	ck_assert_uint_eq(len, 0x20);
	ck_assert_ptr_eq(h, test_host_of_gpa(m, 0x3FF0));
	memset(h, 1, 0x20);
	ck_assert_int_eq(vmmem_iommu_unmap(io, h, 0x20), 0);
	expect_dirty(m, PG(0x3000) | PG(0x4000));

	/* reads, refusals and misses mark nothing */
	ck_assert_int_eq(vmmem_iommu_read(io, 0x100000, buf, 0x200), 0x200);
	ck_assert_int_eq(vmmem_iommu_load(io, 0x101000, 8, &v, VMMEM_ORDER_RELAXED), 0);
	ck_assert_int_eq(vmmem_iommu_pwrite_fd(io, 0x100000, fd, 0x10, 0), 0x10);
	ck_assert_int_eq(vmmem_iommu_write(io, 0x200000, buf, 0x10), -EACCES);
	ck_assert_int_eq(vmmem_iommu_fill(io, 0x200000, 1, 0x10), -EACCES);
	ck_assert_int_eq(vmmem_iommu_write_exact(io, 0x101FF0, buf, 0x20), -EAGAIN);
	ck_assert_int_eq(vmmem_iommu_store(io, 0x300000, 1, 1, VMMEM_ORDER_RELAXED),
			 -EAGAIN);
	expect_dirty(m, 0);
	/* a partial write marks what it wrote */
	ck_assert_int_eq(vmmem_iommu_write(io, 0x101FF0, buf, 0x20), 0x10);
	expect_dirty(m, PG(0x31000));
	ck_assert_int_eq(vmmem_dirty_stop(m), 0);
	close(fd);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

/* ------------------------------------------------------ argument errors */

START_TEST(update_invalidate_errors)
{
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_iommu(m, 0, NULL);

	ck_assert_int_eq(vmmem_iommu_update(io, 0x1000, 0x1000, 0x1000, RW), 0);
	ck_assert_int_eq(vmmem_iommu_update(NULL, 0x1000, 0x1000, 0x1000, RW), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x1000, 0, 0x1000, RW), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x1000, 0x1000, 0x1000, 0), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x1000, 0x1000, 0x1000, 4), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x1000, 0x1000, 0x1000, RW | 4), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x1000, 0x1000, 0x1000, 0x80000000u),
			 -EINVAL);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x1000, 0x1000, 0x1000, ~0u), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_update(io, UINT64_MAX, 2, 0x1000, RW), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_update(io, UINT64_MAX - 0xFFE, 0x1000, 0x1000, RW),
			 -EINVAL);
	ck_assert_int_eq(vmmem_iommu_update(io, 2, UINT64_MAX, 0, RW), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x1000, 0x1000, UINT64_MAX - 0xFFE, RW),
			 -EINVAL);
	ck_assert_int_eq(vmmem_iommu_update(io, 0, UINT64_MAX, 2, RW), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_invalidate(NULL, 0x1000, 0x1000), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_invalidate(io, 0x1000, 0), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_invalidate(io, UINT64_MAX, 2), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_invalidate(io, 0x1800, UINT64_MAX), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_num_entries(NULL), -EINVAL);
	/* nothing changed */
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 1);
	ck_assert_int_eq(vmmem_fill(m, 0x1000, 0x29, 1), 0);
	ck_assert_uint_eq(ibyte(io, 0x1000), 0x29);
	ck_assert_int_eq(vmmem_iommu_write(io, 0x1FFF, "\x01", 1), 1);
	/* the edges that do not wrap are fine */
	ck_assert_int_eq(vmmem_iommu_update(io, UINT64_MAX - 0xFFF, 0x1000, 0x1000, RD),
			 0);
	ck_assert_int_eq(vmmem_iommu_update(io, 0x10000, 0x1000, UINT64_MAX - 0xFFF, RW),
			 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 3);
	ck_assert_uint_eq(ibyte(io, UINT64_MAX - 0xFFF), 0x29);
	/* an entry to a GPA nothing backs */
	{
		uint8_t b;

		ck_assert_int_eq(vmmem_iommu_read(io, 0x10000, &b, 1), -EFAULT);
	}
	/* trimming the top byte off the last entry */
	ck_assert_int_eq(vmmem_iommu_invalidate(io, UINT64_MAX, 1), 0);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 3);
	ck_assert_uint_eq(ibyte(io, UINT64_MAX - 1), gbyte(m, 0x1FFE));
	{
		uint8_t b;

		ck_assert_int_eq(vmmem_iommu_read(io, UINT64_MAX, &b, 1), -EAGAIN);
	}
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

START_TEST(access_arg_errors)
{
	struct miss_log log = { 0 };
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_iommu(m, 0, &log);
	uint8_t buf[16] = { 0 };

	ck_assert_int_eq(vmmem_iommu_update(io, 0, 0x1000, 0x1000, RW), 0);
	ck_assert_int_eq(vmmem_iommu_read(NULL, 0, buf, 1), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_write(NULL, 0, buf, 1), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_read_exact(NULL, 0, buf, 1), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_write_exact(NULL, 0, buf, 1), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_read(io, 0, NULL, 1), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_write(io, 0, NULL, 1), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_read_exact(io, 0, NULL, 1), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_write_exact(io, 0, NULL, 1), -EINVAL);
	/* NULL with len 0 is fine */
	ck_assert_int_eq(vmmem_iommu_read(io, 0, NULL, 0), 0);
	ck_assert_int_eq(vmmem_iommu_write(io, 0, NULL, 0), 0);
	ck_assert_int_eq(vmmem_iommu_read_exact(io, 0, NULL, 0), 0);
	ck_assert_int_eq(vmmem_iommu_write_exact(io, 0, NULL, 0), 0);
	/* wrap and oversize */
	ck_assert_int_eq(vmmem_iommu_read(io, UINT64_MAX, buf, 2), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_write(io, UINT64_MAX - 1, buf, 3), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_read_exact(io, UINT64_MAX, buf, 2), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_write_exact(io, UINT64_MAX, buf, 16), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_read(io, 0, buf, (size_t)SSIZE_MAX + 1), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_write(io, 0, buf, SIZE_MAX), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_read_exact(io, 0, buf, (size_t)SSIZE_MAX + 1),
			 -EINVAL);
	ck_assert_int_eq(vmmem_iommu_write_exact(io, 0, buf, (size_t)SSIZE_MAX + 1),
			 -EINVAL);
	ck_assert_int_eq(log.calls, 0);
	/* the last byte of the IOVA space is a valid address: a plain miss */
	ck_assert_int_eq(vmmem_iommu_read(io, UINT64_MAX, buf, 1), -EAGAIN);
	EXPECT_MISS(&log, 1, UINT64_MAX, 1, RD);
	ck_assert_uint_eq(gbyte(m, 0x1000), 0);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

/* ------------------------------------------------------- concurrency */

#define CC_IOVA   0x7000000ull
#define CC_LEN    0x3000ull
#define CC_GPA_X  0x0F000ull     /* crosses the A/B boundary */
#define CC_GPA_Y  0x31000ull     /* in C */

static uint8_t cc_img[CC_LEN];

struct cc_shared {
	struct vmmem_iommu *io;
	int stop;
	long misses;                 /* miss callbacks, all threads */
};

struct cc_reader {
	struct cc_shared *sh;
	unsigned int seed;
	long ok, again, partial, other;
	long wrong;                  /* a byte not from the pattern */
	uint64_t wrong_iova;
	int wrong_ret;
};

static void cc_miss(uint64_t iova, uint64_t len, unsigned int perm, void *opaque)
{
	struct cc_shared *sh = opaque;

	(void)iova;
	(void)len;
	(void)perm;
	__atomic_fetch_add(&sh->misses, 1, __ATOMIC_RELAXED);
}

static void *cc_read_loop(void *arg)
{
	struct cc_reader *r = arg;
	static __thread uint8_t buf[CC_LEN];

	while (!__atomic_load_n(&r->sh->stop, __ATOMIC_ACQUIRE)) {
		uint64_t off, len;
		ssize_t n;
		int ret;

		r->seed = r->seed * 1103515245u + 12345u;
		off = (r->seed >> 8) % (CC_LEN - 1);
		len = 1 + (r->seed >> 3) % (CC_LEN - off);
		memset(buf, 0, len);
		ret = vmmem_iommu_read_exact(r->sh->io, CC_IOVA + off, buf, len);
		if (ret == 0) {
			if (memcmp(buf, cc_img + off, len)) {
				r->wrong++;
				r->wrong_iova = CC_IOVA + off;
				r->wrong_ret = 0;
			}
			__atomic_fetch_add(&r->ok, 1, __ATOMIC_RELAXED);
		} else if (ret == -EAGAIN) {
			__atomic_fetch_add(&r->again, 1, __ATOMIC_RELAXED);
		} else {
			r->other++;
			r->wrong_ret = ret;
		}
		/* every tenth, a partial read: what it returns is exact */
		if (r->seed % 10 == 0) {
			memset(buf, 0, len);
			n = vmmem_iommu_read(r->sh->io, CC_IOVA + off, buf, len);
			if (n > 0) {
				if ((uint64_t)n > len || memcmp(buf, cc_img + off, (size_t)n)) {
					r->wrong++;
					r->wrong_iova = CC_IOVA + off;
					r->wrong_ret = (int)n;
				}
				r->partial++;
			} else if (n != -EAGAIN) {
				r->other++;
				r->wrong_ret = (int)n;
			}
		}
	}
	return NULL;
}

START_TEST(concurrent_updates_and_readers)
{
	struct vmmem *m = mk_space();
	struct cc_shared sh = { 0 };
	struct vmmem_iommu_opts o = { .sz = sizeof(o), .max_entries = 16,
				      .miss = cc_miss, .miss_opaque = &sh };
	struct cc_reader rd[2];
	pthread_t th[2];
	struct timespec t0, t;
	unsigned int wseed = 77;
	long ops = 0;
	int64_t ns;   /* 8 s does not fit in a 32-bit long */
	bool seen_both;

	test_pattern(cc_img, sizeof(cc_img), 16);
	/* the two targets hold the same bytes; nothing else does */
	ck_assert_int_eq(vmmem_write_exact(m, CC_GPA_X, cc_img, CC_LEN), 0);
	ck_assert_int_eq(vmmem_write_exact(m, CC_GPA_Y, cc_img, CC_LEN), 0);
	ck_assert_int_eq(vmmem_iommu_new(&sh.io, m, &o), 0);
	ck_assert_int_eq(vmmem_iommu_update(sh.io, CC_IOVA, CC_LEN, CC_GPA_X, RD), 0);

	for (int i = 0; i < 2; i++) {
		rd[i] = (struct cc_reader){ .sh = &sh, .seed = 1234u + 999u * (unsigned)i };
		ck_assert_int_eq(pthread_create(&th[i], NULL, cc_read_loop, &rd[i]), 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		uint64_t pg, tgt;

		wseed = wseed * 1103515245u + 12345u;
		pg = ((wseed >> 9) % 3) * 0x1000;
		tgt = (wseed >> 4) & 1 ? CC_GPA_Y : CC_GPA_X;
		switch ((wseed >> 12) % 6) {
		case 0:        /* the whole window to one target */
			ck_assert_int_eq(vmmem_iommu_update(sh.io, CC_IOVA, CC_LEN, tgt,
							    RD), 0);
			break;
		case 1:        /* one page to a target */
			ck_assert_int_eq(vmmem_iommu_update(sh.io, CC_IOVA + pg, 0x1000,
							    tgt + pg, RD), 0);
			break;
		case 2:        /* an odd-sized piece straddling pages */
			ck_assert_int_eq(vmmem_iommu_update(sh.io, CC_IOVA + pg + 0x7F3,
							    0x91D, tgt + pg + 0x7F3,
							    RW), 0);
			break;
		case 3:        /* a hole in the middle of a page */
			ck_assert_int_eq(vmmem_iommu_invalidate(sh.io, CC_IOVA + pg + 0x100,
								0x80), 0);
			break;
		case 4:        /* invalidate a page, re-add it */
			ck_assert_int_eq(vmmem_iommu_invalidate(sh.io, CC_IOVA + pg,
								0x1000), 0);
			ck_assert_int_eq(vmmem_iommu_update(sh.io, CC_IOVA + pg, 0x1000,
							    tgt + pg, RD), 0);
			break;
		default:
			ck_assert_int_eq(vmmem_iommu_invalidate_all(sh.io), 0);
			ck_assert_int_eq(vmmem_iommu_update(sh.io, CC_IOVA, CC_LEN, tgt,
							    RD), 0);
			break;
		}
		ops++;
		clock_gettime(CLOCK_MONOTONIC, &t);
		ns = (int64_t)(t.tv_sec - t0.tv_sec) * 1000000000 + (t.tv_nsec - t0.tv_nsec);
		seen_both = true;
		for (int i = 0; i < 2; i++)
			if (!__atomic_load_n(&rd[i].ok, __ATOMIC_RELAXED) ||
			    !__atomic_load_n(&rd[i].again, __ATOMIC_RELAXED))
				seen_both = false;
		/* 1.2 s; longer on a slow machine (valgrind) until both
		 * readers saw both outcomes */
	} while (ns < 1200000000 || (!seen_both && ns < INT64_C(8000000000)));
	__atomic_store_n(&sh.stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);

	for (int i = 0; i < 2; i++) {
		ck_assert_msg(rd[i].wrong == 0,
			      "reader %d saw %ld wrong results, last at IOVA 0x%llx (ret %d)",
			      i, rd[i].wrong, (unsigned long long)rd[i].wrong_iova,
			      rd[i].wrong_ret);
		ck_assert_msg(rd[i].other == 0, "reader %d: %ld errors, last %d",
			      i, rd[i].other, rd[i].wrong_ret);
		ck_assert_msg(rd[i].ok > 0 && rd[i].again > 0,
			      "reader %d: %ld ok, %ld -EAGAIN (%ld writer ops)", i,
			      rd[i].ok, rd[i].again, ops);
	}
	ck_assert_int_gt(__atomic_load_n(&sh.misses, __ATOMIC_RELAXED), 0);
	ck_assert_int_le(vmmem_iommu_num_entries(sh.io), 16);
	/* the pattern is intact in both targets */
	test_expect_bytes(m, CC_GPA_X, cc_img, CC_LEN);
	test_expect_bytes(m, CC_GPA_Y, cc_img, CC_LEN);
	vmmem_iommu_free(sh.io);
	vmmem_free(m);
}
END_TEST

/* When an invalidation returns, no access still uses what it removed: an
 * access in flight then finishes before the call returns, so memory that
 * the front-end reuses right after is not written any more. */
#define IW_LEN (512 * 1024)

/* ThreadSanitizer: this test races on its guest memory on purpose.  Its two
 * writers copy into the same guest bytes at once (guest memory is shared
 * with the guest; the library does not order plain accesses to it, the
 * vmmem_atomic_* calls are what it offers for that), and the main thread
 * memset()s those bytes after vmmem_iommu_invalidate_all() returns, ordered
 * after the writers' last writes by the grace period publish() waits for,
 * which TSan cannot see (the wait is in liburcu).  tests/tsan.supp cannot
 * name these races: an entry naming iw_write_loop or this test's function
 * matches every report with a frame of it in either access's stack, so it
 * would hide the IOTLB's own races too (a writer's, or the updater's in
 * vmmem_iommu_update()).  So the guest bytes, and nothing else, are marked
 * as a benign race: a race on the IOTLB, its tables or the writers'
 * counters is still reported.
 * (The mark outlives the region; the test is the last of its process in
 * Check's fork mode, the one tests/robust/sanitizers.sh tsan runs.) */
#define GUEST_RACES_OK(p, n) TEST_GUEST_RACES_OK(p, n, "guest memory")   /* testutil.h */

struct iw_writer {
	struct vmmem_iommu *io;
	const uint8_t *src;
	int stop;
	long done, again;
};

static void *iw_write_loop(void *arg)
{
	struct iw_writer *w = arg;

	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		ssize_t n = vmmem_iommu_write(w->io, 0, w->src, IW_LEN);

		if (n > 0)
			__atomic_fetch_add(&w->done, 1, __ATOMIC_RELEASE);
		else
			__atomic_fetch_add(&w->again, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

START_TEST(invalidate_waits_for_accesses)
{
	static const uint64_t gpa[] = { 0 }, size[] = { IW_LEN };
	static uint8_t src[IW_LEN];
	struct vmmem *m = test_space(1, gpa, size);
	struct vmmem_iommu *io = mk_iommu(m, 0, NULL);
	struct iw_writer w[2];
	pthread_t th[2];
	uint8_t *host = test_host_of_gpa(m, 0);
	long stale = 0;

	memset(src, 0xAB, sizeof(src));
	GUEST_RACES_OK(host, IW_LEN);    /* before the writers: see above */
	for (int i = 0; i < 2; i++) {
		w[i] = (struct iw_writer){ .io = io, .src = src };
		ck_assert_int_eq(pthread_create(&th[i], NULL, iw_write_loop, &w[i]), 0);
	}
	/* Each round checks the guarantee; under valgrind, which runs one
	 * thread at a time, the waits below can take seconds each. */
	int rounds = test_under_valgrind() ? 3 : 20;

	for (int round = 0; round < rounds; round++) {
		long done0 = __atomic_load_n(&w[0].done, __ATOMIC_ACQUIRE);
		long again[2];

		ck_assert_int_eq(vmmem_iommu_update(io, 0, IW_LEN, 0, WR), 0);
		/* a write went through: the writers are busy with the entry */
		while (__atomic_load_n(&w[0].done, __ATOMIC_ACQUIRE) == done0)
			sched_yield();
		ck_assert_int_eq(vmmem_iommu_invalidate_all(io), 0);
		/* the front-end reuses the memory */
		memset(host, 0, IW_LEN);
		/* both writers have missed since: they are done with the entry */
		for (int i = 0; i < 2; i++)
			again[i] = __atomic_load_n(&w[i].again, __ATOMIC_ACQUIRE);
		for (int i = 0; i < 2; i++)
			while (__atomic_load_n(&w[i].again, __ATOMIC_ACQUIRE) <= again[i])
				sched_yield();
		for (size_t i = 0; i < IW_LEN; i += 64)
			if (host[i])
				stale++;
	}
	for (int i = 0; i < 2; i++) {
		__atomic_store_n(&w[i].stop, 1, __ATOMIC_RELEASE);
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	}
	ck_assert_msg(stale == 0, "%ld cache lines written after the invalidation "
		      "returned", stale);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("iommu");
	TCase *tc;

	tc = tcase_create("new");
	tcase_add_test(tc, new_and_free);
	tcase_add_test(tc, new_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("translate");
	tcase_add_test(tc, translate_across_entries_and_regions);
	tcase_add_test(tc, translate_many_entries);
	tcase_add_test(tc, translate_to_hole);
	suite_add_tcase(s, tc);

	tc = tcase_create("permissions");
	tcase_add_test(tc, perm_read_only);
	tcase_add_test(tc, perm_write_only);
	suite_add_tcase(s, tc);

	tc = tcase_create("update-invalidate");
	tcase_add_test(tc, invalidate_splits_entry);
	tcase_add_test(tc, invalidate_across_entries);
	tcase_add_test(tc, invalidate_top_of_iova_space);
	tcase_add_test(tc, update_replaces_overlap);
	tcase_add_test(tc, invalidate_all_entries);
	suite_add_tcase(s, tc);

	tc = tcase_create("eviction");
	tcase_add_test(tc, evict_oldest_at_bound);
	tcase_add_test(tc, evict_on_split);
	tcase_add_test(tc, evict_part_of_split);
	tcase_add_test(tc, evict_default_bound);
	suite_add_tcase(s, tc);

	tc = tcase_create("miss");
	tcase_add_test(tc, miss_arguments);
	tcase_add_test(tc, miss_then_update_then_retry);
	tcase_add_test(tc, miss_handler_updates_itself);
	tcase_add_test(tc, miss_without_handler);
	suite_add_tcase(s, tc);

	tc = tcase_create("access");
	tcase_add_test(tc, load_store);
	tcase_add_test(tc, load_store_bad_order_no_miss);
	tcase_add_test(tc, fill_exact);
	tcase_add_test(tc, iovec_errors);
	tcase_add_test(tc, map_unmap);
	tcase_add_test(tc, map_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("fdio");
	tcase_add_test(tc, fd_into_guest);
	tcase_add_test(tc, fd_out_of_guest);
	tcase_add_test(tc, fd_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("dirty");
	tcase_add_test(tc, dirty_through_iommu);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, update_invalidate_errors);
	tcase_add_test(tc, access_arg_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("concurrency");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, concurrent_updates_and_readers);
	tcase_add_test(tc, invalidate_waits_for_accesses);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run(suite());
}
