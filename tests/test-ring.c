/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Rings: creation and its errors, the inline accessors' byte order,
 * orders, bounds and alignment, a ring across hotplug, dirty logging
 * (writers running through vmmem_dirty_start() lose nothing), and IOVA
 * rings made invalid by the IOTLB updates that cover them. */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "testutil.h"

#define PS 4096ull
#define A_SIZE (64 * PS)
#define B_GPA 0x100000ull

/* A [0, 64 pages)  hole  B [1 MiB, +64 pages) */
static struct vmmem *mk_space(void)
{
	static const uint64_t gpa[] = { 0, B_GPA };
	static const uint64_t size[] = { A_SIZE, A_SIZE };

	return test_space(2, gpa, size);
}

static struct vmmem_ring *mk_ring(struct vmmem *m, uint64_t gpa, size_t len,
				  unsigned int flags)
{
	struct vmmem_ring *r = NULL;

	ck_assert_int_eq(vmmem_ring_new(&r, m, gpa, len, flags), 0);
	ck_assert_ptr_nonnull(r);
	return r;
}

static const unsigned int RW = VMMEM_MAP_READ | VMMEM_MAP_WRITE;

/* ------------------------------------------------------------ creation */

START_TEST(new_layout)
{
	struct vmmem *m = mk_space();
	struct vmmem_ring *r = mk_ring(m, 0x1000, 256, RW), *ro;
	void *host;

	ck_assert_int_eq(vmmem_host_address(m, 0x1000, 256, &host), 0);
	ck_assert_ptr_eq(r->host, host);
	ck_assert_uint_eq(r->len, 256);
	ck_assert_uint_eq(r->wlen, 256);
	ck_assert_uint_eq(r->addr, 0x1000);
	ck_assert_ptr_null(r->log);          /* logging off */
	ck_assert_uint_eq(r->state, 0);
	ro = mk_ring(m, B_GPA, 16, VMMEM_MAP_READ);
	ck_assert_uint_eq(ro->len, 16);
	ck_assert_uint_eq(ro->wlen, 0);
	vmmem_ring_free(ro);
	vmmem_ring_free(r);
	vmmem_ring_free(NULL);
	vmmem_free(m);
}
END_TEST

START_TEST(new_errors)
{
	struct vmmem *m = mk_space();
	struct vmmem_ring *r = NULL;

	ck_assert_int_eq(vmmem_ring_new(NULL, m, 0, 16, RW), -EINVAL);
	ck_assert_int_eq(vmmem_ring_new(&r, NULL, 0, 16, RW), -EINVAL);
	ck_assert_int_eq(vmmem_ring_new(&r, m, 0, 0, RW), -EINVAL);
	ck_assert_int_eq(vmmem_ring_new(&r, m, 0, 16, 0), -EINVAL);
	ck_assert_int_eq(vmmem_ring_new(&r, m, 0, 16, 4), -EINVAL);
	ck_assert_int_eq(vmmem_ring_new(&r, m, ~0ull - 7, 16, RW), -EINVAL);
	ck_assert_int_eq(vmmem_ring_new(&r, m, 0x1001, 16, RW), -EINVAL);
	/* in the hole, and across the end of A into it */
	ck_assert_int_eq(vmmem_ring_new(&r, m, A_SIZE, 16, RW), -EFAULT);
	ck_assert_int_eq(vmmem_ring_new(&r, m, A_SIZE - 8, 16, RW), -EFAULT);
	ck_assert_ptr_null(r);
	vmmem_free(m);
}
END_TEST

/* ---------------------------------------------------------- accessors */

START_TEST(little_endian_and_orders)
{
	struct vmmem *m = mk_space();
	struct vmmem_ring *r = mk_ring(m, 0x2000, 64, RW);
	static const int lorders[] = { VMMEM_ORDER_RELAXED, VMMEM_ORDER_CONSUME,
				       VMMEM_ORDER_ACQUIRE, VMMEM_ORDER_SEQ_CST };
	static const int sorders[] = { VMMEM_ORDER_RELAXED, VMMEM_ORDER_RELEASE,
				       VMMEM_ORDER_SEQ_CST };
	unsigned char b[16];
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(vmmem_ring_store16(r, 0, 0x0102, sorders[i]), 0);
		ck_assert_int_eq(vmmem_ring_store32(r, 4, 0x03040506, sorders[i]), 0);
		ck_assert_int_eq(vmmem_ring_store64(r, 8, 0x0708090a0b0c0d0eull,
						    sorders[i]), 0);
		ck_assert_int_eq(vmmem_read_exact(m, 0x2000, b, 16), 0);
		ck_assert_uint_eq(b[0], 0x02);
		ck_assert_uint_eq(b[1], 0x01);
		ck_assert_uint_eq(b[4], 0x06);
		ck_assert_uint_eq(b[7], 0x03);
		ck_assert_uint_eq(b[8], 0x0e);
		ck_assert_uint_eq(b[15], 0x07);
	}
	for (size_t i = 0; i < 4; i++) {
		ck_assert_int_eq(vmmem_ring_load16(r, 0, &v16, lorders[i]), 0);
		ck_assert_uint_eq(v16, 0x0102);
		ck_assert_int_eq(vmmem_ring_load32(r, 4, &v32, lorders[i]), 0);
		ck_assert_uint_eq(v32, 0x03040506);
		ck_assert_int_eq(vmmem_ring_load64(r, 8, &v64, lorders[i]), 0);
		ck_assert_uint_eq(v64, 0x0708090a0b0c0d0eull);
	}
	/* orders that do not apply */
	ck_assert_int_eq(vmmem_ring_load16(r, 0, &v16, VMMEM_ORDER_RELEASE), -EINVAL);
	ck_assert_int_eq(vmmem_ring_load32(r, 4, &v32, VMMEM_ORDER_ACQ_REL), -EINVAL);
	ck_assert_int_eq(vmmem_ring_load64(r, 8, &v64, 42), -EINVAL);
	ck_assert_int_eq(vmmem_ring_store16(r, 0, 1, VMMEM_ORDER_ACQUIRE), -EINVAL);
	ck_assert_int_eq(vmmem_ring_store32(r, 4, 1, VMMEM_ORDER_CONSUME), -EINVAL);
	ck_assert_int_eq(vmmem_ring_store64(r, 8, 1, -1), -EINVAL);
	ck_assert_int_eq(vmmem_ring_load16(r, 0, &v16, VMMEM_ORDER_RELAXED), 0);
	ck_assert_uint_eq(v16, 0x0102);
	/* objects: bytes as they lie */
	memcpy(b, "0123456789abcdef", 16);
	ck_assert_int_eq(vmmem_ring_write(r, 48, b, 16), 0);
	memset(b, 0, sizeof(b));
	ck_assert_int_eq(vmmem_read_exact(m, 0x2000 + 48, b, 16), 0);
	ck_assert_int_eq(memcmp(b, "0123456789abcdef", 16), 0);
	memset(b, 0, sizeof(b));
	ck_assert_int_eq(vmmem_ring_read(r, 48, b, 16), 0);
	ck_assert_int_eq(memcmp(b, "0123456789abcdef", 16), 0);
	vmmem_ring_free(r);
	vmmem_free(m);
}
END_TEST

START_TEST(bounds_and_alignment)
{
	struct vmmem *m = mk_space();
	struct vmmem_ring *r = mk_ring(m, 0x3000, 24, RW);
	struct vmmem_ring *ro = mk_ring(m, 0x3000, 24, VMMEM_MAP_READ);
	unsigned char before[64], after[64], b[32] = { 0 };
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	ck_assert_int_eq(vmmem_read_exact(m, 0x3000 - 20, before, 64), 0);
	/* the last fitting access of each size */
	ck_assert_int_eq(vmmem_ring_load16(r, 22, &v16, VMMEM_ORDER_RELAXED), 0);
	ck_assert_int_eq(vmmem_ring_load32(r, 20, &v32, VMMEM_ORDER_RELAXED), 0);
	ck_assert_int_eq(vmmem_ring_load64(r, 16, &v64, VMMEM_ORDER_RELAXED), 0);
	ck_assert_int_eq(vmmem_ring_read(r, 0, b, 24), 0);
	/* one byte further, and offsets that would wrap */
	ck_assert_int_eq(vmmem_ring_load16(r, 24, &v16, VMMEM_ORDER_RELAXED), -EFAULT);
	ck_assert_int_eq(vmmem_ring_load32(r, 24, &v32, VMMEM_ORDER_RELAXED), -EFAULT);
	ck_assert_int_eq(vmmem_ring_load64(r, 24, &v64, VMMEM_ORDER_RELAXED), -EFAULT);
	ck_assert_int_eq(vmmem_ring_store16(r, 24, 0xffff, VMMEM_ORDER_RELAXED), -EFAULT);
	ck_assert_int_eq(vmmem_ring_store32(r, 24, ~0u, VMMEM_ORDER_RELAXED), -EFAULT);
	ck_assert_int_eq(vmmem_ring_store64(r, 24, ~0ull, VMMEM_ORDER_RELAXED), -EFAULT);
	ck_assert_int_eq(vmmem_ring_store64(r, SIZE_MAX - 7, ~0ull,
					    VMMEM_ORDER_RELAXED), -EFAULT);
	ck_assert_int_eq(vmmem_ring_read(r, 1, b, 24), -EFAULT);
	ck_assert_int_eq(vmmem_ring_read(r, SIZE_MAX, b, 2), -EFAULT);
	ck_assert_int_eq(vmmem_ring_write(r, 0, b, 25), -EFAULT);
	ck_assert_int_eq(vmmem_ring_write(r, SIZE_MAX - 1, b, 4), -EFAULT);
	/* misaligned */
	ck_assert_int_eq(vmmem_ring_load16(r, 1, &v16, VMMEM_ORDER_RELAXED), -EINVAL);
	ck_assert_int_eq(vmmem_ring_load32(r, 2, &v32, VMMEM_ORDER_RELAXED), -EINVAL);
	ck_assert_int_eq(vmmem_ring_store64(r, 4, 1, VMMEM_ORDER_RELAXED), -EINVAL);
	/* a ring at 2 modulo 8: off must be a multiple of the size, and the
	 * ring's start too beyond 16 bits (vmmem_ring_load16(3)) */
	{
		struct vmmem_ring *r2 = mk_ring(m, 0x3002, 22, RW);

		ck_assert_int_eq(vmmem_ring_load16(r2, 2, &v16, VMMEM_ORDER_RELAXED), 0);
		ck_assert_int_eq(vmmem_ring_store16(r2, 20, 1, VMMEM_ORDER_RELAXED), 0);
		ck_assert_int_eq(vmmem_ring_load16(r2, 3, &v16, VMMEM_ORDER_RELAXED), -EINVAL);
		ck_assert_int_eq(vmmem_ring_load32(r2, 2, &v32, VMMEM_ORDER_RELAXED), -EINVAL);
		ck_assert_int_eq(vmmem_ring_load32(r2, 4, &v32, VMMEM_ORDER_RELAXED), -EINVAL);
		ck_assert_int_eq(vmmem_ring_store32(r2, 2, 1, VMMEM_ORDER_RELAXED), -EINVAL);
		ck_assert_int_eq(vmmem_ring_load64(r2, 6, &v64, VMMEM_ORDER_RELAXED), -EINVAL);
		ck_assert_int_eq(vmmem_ring_store64(r2, 8, 1, VMMEM_ORDER_RELAXED), -EINVAL);
		ck_assert_int_eq(vmmem_ring_read(r2, 1, b, 4), 0);
		/* restore what the store wrote, for the check below */
		ck_assert_int_eq(vmmem_write_exact(m, 0x3002 + 20, before + 42, 2), 0);
		vmmem_ring_free(r2);
	}
	{
		struct vmmem_ring *r4 = mk_ring(m, 0x3004, 20, RW);

		ck_assert_int_eq(vmmem_ring_load32(r4, 4, &v32, VMMEM_ORDER_RELAXED), 0);
		ck_assert_int_eq(vmmem_ring_load64(r4, 4, &v64, VMMEM_ORDER_RELAXED), -EINVAL);
		ck_assert_int_eq(vmmem_ring_load64(r4, 8, &v64, VMMEM_ORDER_RELAXED), -EINVAL);
		vmmem_ring_free(r4);
	}
	/* a read-only ring refuses every store, reads work */
	ck_assert_int_eq(vmmem_ring_store16(ro, 0, 0xffff, VMMEM_ORDER_RELAXED), -EFAULT);
	ck_assert_int_eq(vmmem_ring_write(ro, 0, b, 1), -EFAULT);
	ck_assert_int_eq(vmmem_ring_load16(ro, 0, &v16, VMMEM_ORDER_RELAXED), 0);
	/* nothing around the ring was touched */
	ck_assert_int_eq(vmmem_read_exact(m, 0x3000 - 20, after, 64), 0);
	ck_assert_int_eq(memcmp(before, after, 64), 0);
	vmmem_ring_free(ro);
	vmmem_ring_free(r);
	vmmem_free(m);
}
END_TEST

/* Valid across hotplug until freed, as vmmem_map() is. */
START_TEST(survives_removal)
{
	struct vmmem *m = mk_space();
	struct vmmem_ring *r = mk_ring(m, B_GPA + 0x100, 64, RW);
	struct vmmem_region *gone = NULL;
	uint32_t v;

	ck_assert_int_eq(vmmem_ring_store32(r, 0, 0xabcd1234, VMMEM_ORDER_RELEASE), 0);
	ck_assert_int_eq(vmmem_remove_region(m, B_GPA, A_SIZE, &gone), 0);
	ck_assert_int_eq(vmmem_dirty_start(m, PS), 0);
	ck_assert_int_eq(vmmem_ring_store32(r, 4, 7, VMMEM_ORDER_RELEASE), 0);
	ck_assert_int_eq(vmmem_ring_load32(r, 0, &v, VMMEM_ORDER_ACQUIRE), 0);
	ck_assert_uint_eq(v, 0xabcd1234);
	ck_assert_int_eq(vmmem_ring_load32(r, 4, &v, VMMEM_ORDER_ACQUIRE), 0);
	ck_assert_uint_eq(v, 7);
	/* A is still logged; the removed region's GPA is not guest memory */
	ck_assert_int_eq(vmmem_dirty_test(m, B_GPA), -EFAULT);
	vmmem_region_unref(gone);
	vmmem_ring_free(r);
	vmmem_free(m);
}
END_TEST

/* ------------------------------------------------------- dirty logging */

static int dirty_pages(struct vmmem *m, uint64_t gpa, uint64_t len,
		       uint64_t *bm)
{
	return vmmem_dirty_harvest(m, gpa, len, bm);
}

/* A region placed at a GPA 4 bytes past a multiple of 8 from its host
 * address: an aligned 8-byte store can then cross a page of the log, and
 * both pages must be marked (the inline path marks one page for aligned
 * stores, so the ring gets the call record). */
START_TEST(misplaced_region_stores_mark_both_pages)
{
	const uint64_t at = 0x200004;       /* host is page-aligned */
	struct vmmem *m = NULL;
	struct vmmem_region *reg = test_region(4 * PS);
	struct vmmem_ring *r = NULL;
	uint64_t bm[1];

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(m, at, reg), 0);
	vmmem_region_unref(reg);
	/* host offset 0xff0: 8-aligned; GPA 0x200ff4 */
	ck_assert_int_eq(vmmem_ring_new(&r, m, at + 0xff0, 64, RW), 0);
	ck_assert_int_eq(vmmem_dirty_start(m, PS), 0);
	ck_assert_ptr_nonnull(r->log);
	ck_assert_ptr_null(r->log->words);
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0x200000, 2 * PS, bm), 0);
	/* GPA [0x200ffc, 0x201003]: pages 0x200 and 0x201 */
	ck_assert_int_eq(vmmem_ring_store64(r, 8, ~0ull, VMMEM_ORDER_RELEASE), 0);
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0x200000, 2 * PS, bm), 2);
	ck_assert_uint_eq(bm[0], 3);
	vmmem_ring_free(r);
	vmmem_free(m);
}
END_TEST

START_TEST(stores_are_logged)
{
	struct vmmem *m = mk_space();
	struct vmmem_ring *r = mk_ring(m, PS - 8, 3 * PS, RW);
	unsigned char b[16] = { 1 }, big[PS + 8] = { 2 };
	uint64_t bm[1];

	ck_assert_ptr_null(r->log);
	ck_assert_int_eq(vmmem_ring_store16(r, 8, 1, VMMEM_ORDER_RELEASE), 0);
	ck_assert_int_eq(vmmem_dirty_start(m, PS), 0);
	/* the inline path: the log's own words, no call */
	ck_assert_ptr_nonnull(r->log);
	ck_assert_ptr_nonnull(r->log->words);
	ck_assert_uint_eq(r->log->shift, 12);
	ck_assert_uint_eq(r->log->origin, PS - 8);   /* leaf 0: its GPA */
	ck_assert_int_eq(dirty_pages(m, 0, A_SIZE, bm), 0);
	ck_assert_int_eq(vmmem_ring_store16(r, 8, 1, VMMEM_ORDER_RELEASE), 0);
	ck_assert_int_eq(dirty_pages(m, 0, A_SIZE, bm), 1);
	ck_assert_uint_eq(bm[0], 1ull << 1);
	ck_assert_int_eq(vmmem_ring_store32(r, 8 + PS, 1, VMMEM_ORDER_RELAXED), 0);
	ck_assert_int_eq(vmmem_ring_store64(r, 8 + 2 * PS, 1, VMMEM_ORDER_SEQ_CST), 0);
	ck_assert_int_eq(dirty_pages(m, 0, A_SIZE, bm), 2);
	ck_assert_uint_eq(bm[0], (1ull << 2) | (1ull << 3));
	/* an object across a page boundary marks both pages */
	ck_assert_int_eq(vmmem_ring_write(r, 0, b, 16), 0);
	ck_assert_int_eq(dirty_pages(m, 0, A_SIZE, bm), 2);
	ck_assert_uint_eq(bm[0], (1ull << 0) | (1ull << 1));
	/* failed stores and loads mark nothing */
	ck_assert_int_eq(vmmem_ring_store16(r, 3 * PS, 1, VMMEM_ORDER_RELAXED), -EFAULT);
	ck_assert_int_eq(vmmem_ring_read(r, 0, b, 16), 0);
	ck_assert_int_eq(dirty_pages(m, 0, A_SIZE, bm), 0);
	/* more than 16 bytes: through vmmem_ring_log() */
	ck_assert_int_eq(vmmem_ring_write(r, PS, big, sizeof(big)), 0);
	ck_assert_int_eq(dirty_pages(m, 0, A_SIZE, bm), 2);
	ck_assert_uint_eq(bm[0], (1ull << 1) | (1ull << 2));
	ck_assert_int_eq(vmmem_dirty_stop(m), 0);
	ck_assert_ptr_null(r->log);
	vmmem_ring_free(r);
	vmmem_free(m);
}
END_TEST

/* A ring's words are pinned: a log started again, with the same page size
 * or not, and hotplug around it keep the ring logging; rings sharing a
 * leaf share it, and each frees what it pinned (ASan, valgrind). */
START_TEST(log_restarted_and_shared)
{
	struct vmmem *m = mk_space();
	struct vmmem_ring *r = mk_ring(m, 2 * PS, PS, RW), *r2, *late;
	const struct vmmem_ring_log *l;
	uint64_t *words, bm[1];
	struct vmmem_region *gone = NULL;

	ck_assert_int_eq(vmmem_dirty_start(m, PS), 0);
	r2 = mk_ring(m, 5 * PS, PS, RW);    /* made while logging is on */
	ck_assert_ptr_nonnull(r->log);
	ck_assert_ptr_nonnull(r2->log);
	words = r->log->words;
	ck_assert_ptr_eq(r2->log->words, words);
	ck_assert_int_eq(vmmem_ring_store16(r2, 0, 1, VMMEM_ORDER_RELEASE), 0);
	ck_assert_int_eq(dirty_pages(m, 0, A_SIZE, bm), 1);
	ck_assert_uint_eq(bm[0], 1ull << 5);
	ck_assert_int_eq(vmmem_dirty_stop(m), 0);
	ck_assert_ptr_null(r->log);
	/* logging off: the store marks nothing */
	ck_assert_int_eq(vmmem_ring_store16(r, 0, 1, VMMEM_ORDER_RELEASE), 0);
	ck_assert_int_eq(vmmem_dirty_start(m, PS), 0);
	ck_assert_ptr_eq(r->log->words, words);   /* adopted, and clean */
	ck_assert_int_eq(dirty_pages(m, 0, A_SIZE, bm), 0);
	ck_assert_int_eq(vmmem_ring_store16(r, 0, 1, VMMEM_ORDER_RELEASE), 0);
	ck_assert_int_eq(dirty_pages(m, 0, A_SIZE, bm), 1);
	ck_assert_uint_eq(bm[0], 1ull << 2);
	vmmem_ring_free(r2);                /* r still pins the leaf */
	/* hotplug leaves the record as it was */
	l = r->log;
	ck_assert_int_eq(vmmem_remove_region(m, B_GPA, A_SIZE, &gone), 0);
	ck_assert_ptr_eq(r->log, l);
	ck_assert_int_eq(vmmem_ring_store32(r, 8, 1, VMMEM_ORDER_RELAXED), 0);
	ck_assert_int_eq(dirty_pages(m, 0, A_SIZE, bm), 1);
	ck_assert_uint_eq(bm[0], 1ull << 2);
	/* another page size: another record, pages counted by it */
	ck_assert_int_eq(vmmem_dirty_stop(m), 0);
	ck_assert_int_eq(vmmem_dirty_start(m, 16 * PS), 0);
	ck_assert_ptr_nonnull(r->log->words);
	ck_assert_uint_eq(r->log->shift, 16);
	ck_assert_int_eq(vmmem_ring_store16(r, 0, 1, VMMEM_ORDER_RELEASE), 0);
	ck_assert_int_eq(dirty_pages(m, 0, A_SIZE, bm), 1);
	ck_assert_uint_eq(bm[0], 1);
	late = mk_ring(m, 40 * PS, 64, RW);
	ck_assert_ptr_eq(late->log->words, r->log->words);
	ck_assert_int_eq(vmmem_ring_store16(late, 0, 1, VMMEM_ORDER_RELEASE), 0);
	ck_assert_int_eq(dirty_pages(m, 0, A_SIZE, bm), 1);
	ck_assert_uint_eq(bm[0], 1ull << 2);
	vmmem_ring_free(late);
	ck_assert_int_eq(vmmem_dirty_stop(m), 0);
	vmmem_ring_free(r);                 /* frees its pinned leaves */
	vmmem_region_unref(gone);
	vmmem_free(m);
}
END_TEST

/* A ring in a leaf other than the first: origin counts from the leaf's
 * first page, and a store marks the page of the byte it wrote. */
START_TEST(ring_in_later_leaf)
{
	static const uint64_t gpa[] = { 1ull << 27 };
	static const uint64_t size[] = { 8 * PS };
	struct vmmem *m = test_space(1, gpa, size);
	struct vmmem_ring *r = mk_ring(m, (1ull << 27) + 3 * PS - 8, 2 * PS, RW);
	uint32_t e[2] = { 1, 2 };
	uint64_t bm[1];

	ck_assert_int_eq(vmmem_dirty_start(m, PS), 0);
	ck_assert_ptr_nonnull(r->log);
	ck_assert_ptr_nonnull(r->log->words);
	ck_assert_uint_eq(r->log->origin, 3 * PS - 8);
	ck_assert_int_eq(vmmem_ring_store16(r, 8, 1, VMMEM_ORDER_RELEASE), 0);
	ck_assert_int_eq(dirty_pages(m, 1ull << 27, 8 * PS, bm), 1);
	ck_assert_uint_eq(bm[0], 1ull << 3);
	ck_assert_int_eq(vmmem_ring_write(r, 4, e, 8), 0);   /* across pages */
	ck_assert_int_eq(dirty_pages(m, 1ull << 27, 8 * PS, bm), 2);
	ck_assert_uint_eq(bm[0], (1ull << 2) | (1ull << 3));
	ck_assert_int_eq(vmmem_ring_store64(r, PS + 8, 1, VMMEM_ORDER_RELAXED), 0);
	ck_assert_int_eq(dirty_pages(m, 1ull << 27, 8 * PS, bm), 1);
	ck_assert_uint_eq(bm[0], 1ull << 4);
	ck_assert_int_eq(vmmem_dirty_stop(m), 0);
	vmmem_ring_free(r);
	vmmem_free(m);
}
END_TEST

/* A ring over two leaves of the log calls vmmem_ring_log(). */
START_TEST(ring_across_leaves_calls)
{
	static const uint64_t gpa[] = { 0 };
	static const uint64_t size[] = { (1ull << 27) + 2 * PS };
	struct vmmem *m = test_space(1, gpa, size);
	struct vmmem_ring *r = mk_ring(m, (1ull << 27) - PS, 2 * PS, RW);
	uint64_t bm[1];

	ck_assert_int_eq(vmmem_dirty_start(m, PS), 0);
	ck_assert_ptr_nonnull(r->log);
	ck_assert_ptr_null(r->log->words);
	ck_assert_int_eq(vmmem_ring_store16(r, PS, 1, VMMEM_ORDER_RELEASE), 0);
	ck_assert_int_eq(dirty_pages(m, 1ull << 27, PS, bm), 1);
	ck_assert_uint_eq(bm[0], 1);
	vmmem_ring_free(r);
	vmmem_free(m);
}
END_TEST

START_TEST(log_errors)
{
	struct vmmem *m = mk_space();
	struct vmmem_ring *r = mk_ring(m, 0, 64, RW);
	uint64_t bm[1];

	ck_assert_int_eq(vmmem_ring_log(NULL, 0, 1), -EINVAL);
	ck_assert_int_eq(vmmem_ring_log(r, 0, 65), -EINVAL);
	ck_assert_int_eq(vmmem_ring_log(r, 64, 1), -EINVAL);
	ck_assert_int_eq(vmmem_ring_log(r, SIZE_MAX, 2), -EINVAL);
	ck_assert_int_eq(vmmem_ring_log(r, 0, 64), 0);   /* logging off: nothing */
	ck_assert_int_eq(vmmem_dirty_start(m, PS), 0);
	ck_assert_int_eq(vmmem_ring_log(r, 64, 0), 0);
	ck_assert_int_eq(dirty_pages(m, 0, A_SIZE, bm), 0);
	ck_assert_int_eq(vmmem_ring_log(r, 0, 64), 0);
	ck_assert_int_eq(dirty_pages(m, 0, A_SIZE, bm), 1);
	vmmem_ring_free(r);
	vmmem_free(m);
}
END_TEST

/* Writers store through a ring while logging starts; the caller's first
 * copy pass right after start, plus the pages harvested at the end, must
 * account for every page whose final content differs from the copy. */
#define RACE_PAGES 32
#define RACE_ROUNDS 40

struct race {
	struct vmmem_ring *ring;
	volatile int stop;
	volatile int started;
	unsigned int passes;          /* atomic: full passes over the pages */
};

static void *race_writer(void *p)
{
	struct race *rc = p;
	uint32_t seq = 1;

	__atomic_store_n(&rc->started, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&rc->stop, __ATOMIC_ACQUIRE)) {
		for (size_t pg = 0; pg < RACE_PAGES; pg++)
			ck_assert_int_eq(vmmem_ring_store32(rc->ring, pg * PS, seq,
							    VMMEM_ORDER_RELAXED), 0);
		seq++;
		__atomic_add_fetch(&rc->passes, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* Atomic, as the writer's stores are: no data race for TSan to report. */
static uint32_t load32(struct vmmem *m, uint64_t gpa)
{
	uint64_t v;

	ck_assert_int_eq(vmmem_load(m, gpa, 4, &v, VMMEM_ORDER_RELAXED), 0);
	return (uint32_t)v;
}

/* How a round switches logging on, finds the pages of [0, RACE_PAGES)
 * logged since (bit i: page i), and switches it off: the library's own
 * log, or the front-end's shared log. */
struct log_switch {
	int (*on)(struct vmmem *m);
	uint64_t (*logged)(struct vmmem *m);
	int (*off)(struct vmmem *m);
};

static int own_on(struct vmmem *m)
{
	return vmmem_dirty_start(m, PS);
}

static uint64_t own_logged(struct vmmem *m)
{
	uint64_t bm[1];

	ck_assert_int_ge(dirty_pages(m, 0, 64 * PS, bm), 0);
	return bm[0];
}

/* Pages 0 .. 511 from GPA 0: A and B. */
static uint64_t shared_log[8];

static int shared_on(struct vmmem *m)
{
	memset(shared_log, 0, sizeof(shared_log));
	return vmmem_dirty_shared_set(m, shared_log, sizeof(shared_log), 0);
}

/* Read once the writer is joined: its bits are all in. */
static uint64_t shared_logged(struct vmmem *m)
{
	(void)m;
	return le64toh(shared_log[0]);
}

static void writers_through_switch_lose_nothing(const struct log_switch *ls)
{
	struct vmmem *m = mk_space();
	static uint32_t copy[RACE_PAGES];

	for (int round = 0; round < RACE_ROUNDS; round++) {
		struct race rc = { .ring = mk_ring(m, 0, RACE_PAGES * PS, RW) };
		uint64_t bm;
		unsigned int p0;
		pthread_t th;

		ck_assert_int_eq(pthread_create(&th, NULL, race_writer, &rc), 0);
		while (!__atomic_load_n(&rc.started, __ATOMIC_ACQUIRE))
			;
		usleep(200);
		ck_assert_int_eq(ls->on(m), 0);
		for (size_t pg = 0; pg < RACE_PAGES; pg++)
			copy[pg] = load32(m, pg * PS);
		/* stores completed after the switch returned: a test with
		 * nothing to find finds nothing */
		p0 = __atomic_load_n(&rc.passes, __ATOMIC_ACQUIRE);
		while (__atomic_load_n(&rc.passes, __ATOMIC_ACQUIRE) < p0 + 2)
			usleep(50);
		__atomic_store_n(&rc.stop, 1, __ATOMIC_RELEASE);
		pthread_join(th, NULL);
		bm = ls->logged(m);
		for (size_t pg = 0; pg < RACE_PAGES; pg++) {
			uint32_t now = load32(m, pg * PS);

			ck_assert_msg(now == copy[pg] || (bm >> pg & 1),
				      "round %d page %zu: copied %u, now %u, not logged",
				      round, pg, copy[pg], now);
		}
		ck_assert_int_eq(ls->off(m), 0);
		vmmem_ring_free(rc.ring);
	}
	vmmem_free(m);
}

START_TEST(writers_through_start_lose_nothing)
{
	static const struct log_switch own = {
		own_on, own_logged, vmmem_dirty_stop
	};

	writers_through_switch_lose_nothing(&own);
}
END_TEST

/* The same through vmmem_dirty_shared_set(): the barrier after the switch
 * is the same as vmmem_dirty_start()'s (vmmem_ring_log(3)). */
START_TEST(writers_through_shared_set_lose_nothing)
{
	static const struct log_switch shared = {
		shared_on, shared_logged, vmmem_dirty_shared_stop
	};

	writers_through_switch_lose_nothing(&shared);
}
END_TEST

/* Writers keep storing through rings while logging stops and starts again
 * with page sizes in turn: stores through stale records must hit pinned
 * memory (ASan, valgrind and TSan watch this), and after each start every
 * page written is found logged. */
#define CYCLES 30

START_TEST(writers_through_stop_and_start)
{
	struct vmmem *m = mk_space();
	struct race rc = { .ring = mk_ring(m, 0, RACE_PAGES * PS, RW) };
	pthread_t th;

	ck_assert_int_eq(pthread_create(&th, NULL, race_writer, &rc), 0);
	while (!__atomic_load_n(&rc.started, __ATOMIC_ACQUIRE))
		;
	for (int i = 0; i < CYCLES; i++) {
		uint64_t ps = (i % 2) ? 16 * PS : PS, bm[1];
		unsigned int p0;

		ck_assert_int_eq(vmmem_dirty_start(m, ps), 0);
		usleep(100);
		ck_assert_int_ge(dirty_pages(m, 0, RACE_PAGES * PS, bm), 0);
		/* a whole pass begun after the harvest: every page logged */
		p0 = __atomic_load_n(&rc.passes, __ATOMIC_ACQUIRE);
		while (__atomic_load_n(&rc.passes, __ATOMIC_ACQUIRE) < p0 + 2)
			usleep(50);
		ck_assert_int_eq(dirty_pages(m, 0, RACE_PAGES * PS, bm),
				 (int)(RACE_PAGES * PS / ps));
		ck_assert_int_eq(vmmem_dirty_stop(m), 0);
	}
	__atomic_store_n(&rc.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	vmmem_ring_free(rc.ring);
	vmmem_free(m);
}
END_TEST

/* The switches wait for their grace periods outside the space's lock:
 * rings made, stored through and freed (the last to pin a leaf, at times),
 * and the other log switched, while one waits (ASan, valgrind and TSan
 * watch the leaves pinned and freed). */
#define CHURN_CYCLES 20

struct churn {
	struct vmmem *m;
	int stop;                    /* atomic */
};

/* Two of these race: a start finds the log on (-EBUSY) or a stop finds
 * it off (-ENOENT) when the other came first. */
static void *own_switcher(void *p)
{
	struct churn *ch = p;

	for (int i = 0; i < CHURN_CYCLES; i++) {
		int ret = vmmem_dirty_start(ch->m, (i % 2) ? 16 * PS : PS);

		ck_assert_msg(ret == 0 || ret == -EBUSY, "start: %d", ret);
		ret = vmmem_dirty_stop(ch->m);
		ck_assert_msg(ret == 0 || ret == -ENOENT, "stop: %d", ret);
	}
	return NULL;
}

static void *shared_switcher(void *p)
{
	struct churn *ch = p;

	for (int i = 0; i < CHURN_CYCLES; i++) {
		ck_assert_int_eq(shared_on(ch->m), 0);
		ck_assert_int_eq(vmmem_dirty_shared_stop(ch->m), 0);
	}
	return NULL;
}

static void *ring_churner(void *p)
{
	struct churn *ch = p;

	for (uint32_t i = 0; !__atomic_load_n(&ch->stop, __ATOMIC_ACQUIRE); i++) {
		struct vmmem_ring *r = mk_ring(ch->m, (i % 8) * PS, PS, RW);

		ck_assert_int_eq(vmmem_ring_store32(r, 0, i, VMMEM_ORDER_RELAXED), 0);
		vmmem_ring_free(r);
	}
	return NULL;
}

START_TEST(switches_under_ring_churn)
{
	struct churn ch = { .m = mk_space() };
	struct vmmem_ring *kept;
	pthread_t own[2], shared, rings;

	ck_assert_int_eq(pthread_create(&rings, NULL, ring_churner, &ch), 0);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&own[i], NULL, own_switcher, &ch), 0);
	ck_assert_int_eq(pthread_create(&shared, NULL, shared_switcher, &ch), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(own[i], NULL);
	pthread_join(shared, NULL);
	__atomic_store_n(&ch.stop, 1, __ATOMIC_RELEASE);
	pthread_join(rings, NULL);
	/* all off: a ring logs nothing, and logs once logging is on */
	kept = mk_ring(ch.m, 3 * PS, PS, RW);
	ck_assert_ptr_null(kept->log);
	ck_assert_int_eq(vmmem_dirty_start(ch.m, PS), 0);
	ck_assert_int_eq(vmmem_ring_store32(kept, 0, 1, VMMEM_ORDER_RELAXED), 0);
	ck_assert_uint_eq(own_logged(ch.m), 1ull << 3);
	ck_assert_int_eq(vmmem_dirty_stop(ch.m), 0);
	vmmem_ring_free(kept);
	vmmem_free(ch.m);
}
END_TEST

/* -------------------------------------------------------------- IOVA */

#define IOVA 0x80000000ull

static unsigned int misses;

static void count_miss(uint64_t iova, uint64_t len, unsigned int perm,
		       void *opaque)
{
	(void)iova, (void)len, (void)perm, (void)opaque;
	misses++;
}

static struct vmmem_iommu *mk_iommu(struct vmmem *m)
{
	struct vmmem_iommu *io = NULL;
	struct vmmem_iommu_opts o;

	memset(&o, 0, sizeof(o));
	o.sz = sizeof(o);
	o.miss = count_miss;
	ck_assert_int_eq(vmmem_iommu_new(&io, m, &o), 0);
	/* IOVA [0, 4 pages) -> B, read-write; [4, 8 pages) -> A, read-only */
	ck_assert_int_eq(vmmem_iommu_update(io, IOVA, 4 * PS, B_GPA,
					    VMMEM_PERM_READ | VMMEM_PERM_WRITE), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, IOVA + 4 * PS, 4 * PS, 0,
					    VMMEM_PERM_READ), 0);
	return io;
}

START_TEST(iova_new_and_errors)
{
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_iommu(m);
	struct vmmem_ring *r = NULL;
	uint64_t bm[1], v;

	ck_assert_int_eq(vmmem_iommu_ring_new(NULL, io, IOVA, 16, RW), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_ring_new(&r, NULL, IOVA, 16, RW), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_ring_new(&r, io, IOVA, 0, RW), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_ring_new(&r, io, IOVA, 16, 0), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_ring_new(&r, io, ~0ull, 16, RW), -EINVAL);
	misses = 0;
	ck_assert_int_eq(vmmem_iommu_ring_new(&r, io, IOVA + 9, 16, RW), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_ring_new(&r, io, 1, 16, RW), -EINVAL);
	ck_assert_uint_eq(misses, 0);       /* refused before any lookup */
	ck_assert_int_eq(vmmem_iommu_ring_new(&r, io, 0, 16, RW), -EAGAIN);
	ck_assert_uint_eq(misses, 1);
	ck_assert_int_eq(vmmem_iommu_ring_new(&r, io, IOVA + 4 * PS, 16, RW), -EACCES);
	/* across two IOTLB entries, not contiguous in GPA */
	ck_assert_int_eq(vmmem_iommu_ring_new(&r, io, IOVA + 4 * PS - 8, 16,
					      VMMEM_MAP_READ), -EFAULT);
	ck_assert_ptr_null(r);

	ck_assert_int_eq(vmmem_iommu_ring_new(&r, io, IOVA + 8, 64, RW), 0);
	ck_assert_uint_eq(r->addr, IOVA + 8);
	ck_assert_int_eq(vmmem_dirty_start(m, PS), 0);
	ck_assert_int_eq(vmmem_ring_store64(r, 0, 0x1122334455667788ull,
					    VMMEM_ORDER_RELEASE), 0);
	ck_assert_int_eq(vmmem_read_le64(m, B_GPA + 8, &v), 0);
	ck_assert_uint_eq(v, 0x1122334455667788ull);
	/* logged at the GPA the IOVA translated to */
	ck_assert_int_eq(dirty_pages(m, B_GPA, PS, bm), 1);
	vmmem_ring_free(r);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

/* A ring larger than the guest's IOMMU page: one entry per page. */
START_TEST(iova_ring_across_entries)
{
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_iommu(m);
	const uint64_t iova = 2 * IOVA, rw = VMMEM_PERM_READ | VMMEM_PERM_WRITE;
	struct vmmem_ring *r = NULL;
	uint64_t v;

	/* pages contiguous in GPA: one pinned range */
	for (unsigned int i = 0; i < 4; i++)
		ck_assert_int_eq(vmmem_iommu_update(io, iova + i * PS, PS,
						    B_GPA + 8 * PS + i * PS, rw), 0);
	ck_assert_int_eq(vmmem_iommu_ring_new(&r, io, iova + 8, 4 * PS - 16, RW), 0);
	ck_assert_int_eq(vmmem_ring_store64(r, 3 * PS, 0xa5a5ull, VMMEM_ORDER_RELEASE), 0);
	ck_assert_int_eq(vmmem_read_le64(m, B_GPA + 11 * PS + 8, &v), 0);
	ck_assert_uint_eq(v, 0xa5a5ull);
	/* an invalidation of any of its entries reaches it */
	ck_assert_int_eq(vmmem_iommu_invalidate(io, iova + 2 * PS, PS), 0);
	ck_assert_int_eq(vmmem_ring_load64(r, 0, &v, VMMEM_ORDER_ACQUIRE), -EAGAIN);
	vmmem_ring_free(r);
	r = NULL;
	/* a miss in the middle */
	ck_assert_int_eq(vmmem_iommu_ring_new(&r, io, iova, 4 * PS, RW), -EAGAIN);
	/* pages the guest scattered: page 2 maps below page 1 */
	ck_assert_int_eq(vmmem_iommu_update(io, iova + 2 * PS, PS, B_GPA, rw), 0);
	ck_assert_int_eq(vmmem_iommu_ring_new(&r, io, iova, 4 * PS, RW), -EFAULT);
	/* a write-protected page on the way */
	ck_assert_int_eq(vmmem_iommu_update(io, iova + 2 * PS, PS,
					    B_GPA + 10 * PS, VMMEM_PERM_READ), 0);
	ck_assert_int_eq(vmmem_iommu_ring_new(&r, io, iova, 4 * PS, RW), -EACCES);
	ck_assert_int_eq(vmmem_iommu_ring_new(&r, io, iova, 4 * PS,
					      VMMEM_MAP_READ), 0);
	vmmem_ring_free(r);
	/* contiguous in GPA, but past the end of region B */
	ck_assert_int_eq(vmmem_iommu_update(io, 3 * IOVA, PS, B_GPA + A_SIZE - PS, rw), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, 3 * IOVA + PS, PS, B_GPA + A_SIZE, rw), 0);
	r = NULL;
	ck_assert_int_eq(vmmem_iommu_ring_new(&r, io, 3 * IOVA, 2 * PS, VMMEM_MAP_READ), -EFAULT);
	ck_assert_ptr_null(r);
	vmmem_iommu_free(io);
	vmmem_free(m);
}
END_TEST

START_TEST(iova_invalidation_makes_owner_repin)
{
	struct vmmem *m = mk_space();
	struct vmmem_iommu *io = mk_iommu(m);
	struct vmmem_ring *r = NULL, *other = NULL;
	unsigned char b[8] = { 0 };
	uint16_t v;

	ck_assert_int_eq(vmmem_iommu_ring_new(&r, io, IOVA + PS, 64, RW), 0);
	ck_assert_int_eq(vmmem_iommu_ring_new(&other, io, IOVA + 4 * PS, 64,
					      VMMEM_MAP_READ), 0);
	/* not overlapping: still valid */
	ck_assert_int_eq(vmmem_iommu_invalidate(io, IOVA, PS), 0);
	ck_assert_int_eq(vmmem_iommu_invalidate(io, IOVA + PS + 64, PS), 0);
	ck_assert_int_eq(vmmem_ring_load16(r, 0, &v, VMMEM_ORDER_ACQUIRE), 0);
	/* overlapping by one byte: every access answers -EAGAIN */
	ck_assert_int_eq(vmmem_iommu_invalidate(io, IOVA + PS + 63, 1), 0);
	ck_assert_uint_eq(r->state, VMMEM_RING_INVALID);
	ck_assert_int_eq(vmmem_ring_load16(r, 0, &v, VMMEM_ORDER_ACQUIRE), -EAGAIN);
	ck_assert_int_eq(vmmem_ring_store16(r, 0, 1, VMMEM_ORDER_RELEASE), -EAGAIN);
	ck_assert_int_eq(vmmem_ring_read(r, 0, b, 8), -EAGAIN);
	ck_assert_int_eq(vmmem_ring_write(r, 0, b, 8), -EAGAIN);
	ck_assert_int_eq(vmmem_ring_load16(other, 0, &v, VMMEM_ORDER_ACQUIRE), 0);
	vmmem_ring_free(r);
	/* the owner re-pins: a miss until the front-end updates */
	ck_assert_int_eq(vmmem_iommu_ring_new(&r, io, IOVA + PS, 64, RW), -EAGAIN);
	ck_assert_int_eq(vmmem_iommu_update(io, IOVA, 4 * PS, B_GPA,
					    VMMEM_PERM_READ | VMMEM_PERM_WRITE), 0);
	ck_assert_int_eq(vmmem_iommu_ring_new(&r, io, IOVA + PS, 64, RW), 0);
	ck_assert_int_eq(vmmem_ring_store16(r, 0, 1, VMMEM_ORDER_RELEASE), 0);
	/* an update over the range replaces its mapping: invalid too */
	ck_assert_int_eq(vmmem_iommu_update(io, IOVA + PS, PS, 0, VMMEM_PERM_READ), 0);
	ck_assert_int_eq(vmmem_ring_load16(r, 0, &v, VMMEM_ORDER_ACQUIRE), -EAGAIN);
	ck_assert_int_eq(vmmem_ring_load16(other, 0, &v, VMMEM_ORDER_ACQUIRE), 0);
	ck_assert_int_eq(vmmem_iommu_invalidate_all(io), 0);
	ck_assert_int_eq(vmmem_ring_load16(other, 0, &v, VMMEM_ORDER_ACQUIRE), -EAGAIN);
	vmmem_ring_free(r);
	/* the IOMMU may go first; its rings are then freed on their own */
	vmmem_iommu_free(io);
	vmmem_ring_free(other);
	vmmem_free(m);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ring");
	TCase *tc;

	tc = tcase_create("create");
	tcase_add_test(tc, new_layout);
	tcase_add_test(tc, new_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("access");
	tcase_add_test(tc, little_endian_and_orders);
	tcase_add_test(tc, bounds_and_alignment);
	tcase_add_test(tc, survives_removal);
	suite_add_tcase(s, tc);

	tc = tcase_create("dirty");
	tcase_add_test(tc, stores_are_logged);
	tcase_add_test(tc, misplaced_region_stores_mark_both_pages);
	tcase_add_test(tc, log_restarted_and_shared);
	tcase_add_test(tc, ring_in_later_leaf);
	tcase_add_test(tc, ring_across_leaves_calls);
	tcase_add_test(tc, log_errors);
	tcase_add_test(tc, writers_through_start_lose_nothing);
	tcase_add_test(tc, writers_through_shared_set_lose_nothing);
	tcase_add_test(tc, switches_under_ring_churn);
	tcase_add_test(tc, writers_through_stop_and_start);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("iova");
	tcase_add_test(tc, iova_new_and_errors);
	tcase_add_test(tc, iova_invalidation_makes_owner_repin);
	tcase_add_test(tc, iova_ring_across_entries);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run(suite());
}
