/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Unit tests of internal helpers: the region table lookups, dirty log
 * bitmaps and option-struct validation.  Linked against the convenience
 * library, so hidden functions are reachable. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "space/table.h"
#include "dirty/dirty.h"
#include "testutil.h"

struct spec {
	uint64_t gpa, last;
	size_t host_off;             /* offset in the fake host buffer, or NOHOST */
};
#define NOHOST SIZE_MAX

static uint8_t *fake_host;       /* a malloc'd buffer; slots point into it */
#define FAKE_SIZE 0x10000

static void setup(void)
{
	fake_host = malloc(FAKE_SIZE);
	ck_assert_ptr_nonnull(fake_host);
}

static void teardown(void)
{
	free(fake_host);
	fake_host = NULL;
}

static struct table *mk_table(const struct spec *sp, size_t n)
{
	struct table *t = table_alloc(n);

	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(t->count, n);
	for (size_t i = 0; i < n; i++) {
		t->slots[i].gpa = sp[i].gpa;
		t->slots[i].last = sp[i].last;
		t->slots[i].host = sp[i].host_off == NOHOST ? NULL
							   : fake_host + sp[i].host_off;
		t->slots[i].dirty = NULL;
		t->slots[i].region = NULL;
	}
	return t;
}

static void free_table(struct table *t)
{
	free(t);
}

/* The reference answer: a linear search. */
static const struct slot *linear(const struct table *t, uint64_t gpa)
{
	for (size_t i = 0; i < t->count; i++)
		if (gpa >= t->slots[i].gpa && gpa <= t->slots[i].last)
			return &t->slots[i];
	return NULL;
}

/* ---------------------------------------------------------- table_lookup */

START_TEST(lookup_empty)
{
	struct table *t = mk_table(NULL, 0);

	ck_assert_ptr_null(table_lookup(t, 0));
	ck_assert_ptr_null(table_lookup(t, 0x1000));
	ck_assert_ptr_null(table_lookup(t, UINT64_MAX));
	ck_assert_uint_eq(table_backed(t, 0, 0x1000), 0);
	ck_assert_uint_eq(table_first_from(t, 0), 0);
	free_table(t);
}
END_TEST

START_TEST(lookup_one)
{
	static const struct spec sp[] = { { 0x1000, 0x1FFF, 0 } };
	struct table *t = mk_table(sp, 1);

	ck_assert_ptr_null(table_lookup(t, 0));
	ck_assert_ptr_null(table_lookup(t, 0xFFF));
	ck_assert_ptr_eq(table_lookup(t, 0x1000), &t->slots[0]);
	ck_assert_ptr_eq(table_lookup(t, 0x1800), &t->slots[0]);
	ck_assert_ptr_eq(table_lookup(t, 0x1FFF), &t->slots[0]);
	ck_assert_ptr_null(table_lookup(t, 0x2000));
	ck_assert_ptr_null(table_lookup(t, UINT64_MAX));
	free_table(t);
}
END_TEST

START_TEST(lookup_many)
{
	/* tables of every size 1..40: slots of varying sizes and gaps,
	 * some adjacent; every interesting address compared to linear(). */
	for (size_t n = 1; n <= 40; n++) {
		struct spec *sp = calloc(n, sizeof(*sp));
		struct table *t;
		uint64_t gpa = 0x10000;

		ck_assert_ptr_nonnull(sp);
		for (size_t i = 0; i < n; i++) {
			uint64_t size = 0x1000 * (1 + i % 3);

			sp[i].gpa = gpa;
			sp[i].last = gpa + size - 1;
			sp[i].host_off = NOHOST;
			gpa += size + (i % 4 == 1 ? 0 : 0x1000 * (i % 5));
		}
		t = mk_table(sp, n);
		for (size_t i = 0; i < n; i++) {
			const uint64_t probes[] = { sp[i].gpa - 1, sp[i].gpa,
						    sp[i].gpa + 1, sp[i].last - 1,
						    sp[i].last, sp[i].last + 1,
						    (sp[i].gpa + sp[i].last) / 2 };

			ck_assert_ptr_eq(table_lookup(t, sp[i].gpa), &t->slots[i]);
			ck_assert_ptr_eq(table_lookup(t, sp[i].last), &t->slots[i]);
			for (size_t k = 0; k < sizeof(probes) / sizeof(probes[0]); k++)
				ck_assert_ptr_eq(table_lookup(t, probes[k]),
						 linear(t, probes[k]));
		}
		ck_assert_ptr_null(table_lookup(t, 0));
		ck_assert_ptr_null(table_lookup(t, 0xFFFF));
		ck_assert_ptr_null(table_lookup(t, sp[n - 1].last + 1));
		ck_assert_ptr_null(table_lookup(t, UINT64_MAX));
		/* a gap between slots 1 and 2 (i % 5 == 2 leaves 0x2000) */
		if (n > 3) {
			ck_assert_ptr_null(table_lookup(t, sp[2].last + 1));
			ck_assert_ptr_eq(table_lookup(t, sp[1].last + 1), &t->slots[2]);
		}
		free_table(t);
		free(sp);
	}
}
END_TEST

START_TEST(lookup_top_of_address_space)
{
	static const struct spec sp[] = {
		{ 0, 0xFFF, NOHOST },
		{ 0x8000000000000000ull, 0x8000000000000FFFull, NOHOST },
		{ UINT64_MAX - 0xFFF, UINT64_MAX, NOHOST },
	};
	struct table *t = mk_table(sp, 3);

	ck_assert_ptr_eq(table_lookup(t, UINT64_MAX), &t->slots[2]);
	ck_assert_ptr_eq(table_lookup(t, UINT64_MAX - 0xFFF), &t->slots[2]);
	ck_assert_ptr_null(table_lookup(t, UINT64_MAX - 0x1000));
	ck_assert_ptr_eq(table_lookup(t, 0), &t->slots[0]);
	ck_assert_ptr_eq(table_lookup(t, 0x8000000000000800ull), &t->slots[1]);
	ck_assert_ptr_null(table_lookup(t, 0x7FFFFFFFFFFFFFFFull));
	ck_assert_ptr_null(table_lookup(t, 0x1000));

	ck_assert_uint_eq(slot_avail(&t->slots[2], UINT64_MAX - 0xFFF, UINT64_MAX), 0x1000);
	ck_assert_uint_eq(slot_avail(&t->slots[2], UINT64_MAX, 1), 1);
	ck_assert_uint_eq(slot_avail(&t->slots[2], UINT64_MAX, UINT64_MAX), 1);
	ck_assert_uint_eq(table_backed(t, UINT64_MAX - 0xF, 0x10), 0x10);
	ck_assert_uint_eq(table_backed(t, UINT64_MAX - 0x1000, 0x1001), 0);
	ck_assert_uint_eq(table_first_from(t, UINT64_MAX), 2);
	ck_assert_uint_eq(table_first_from(t, 0x8000000000001000ull), 2);
	free_table(t);

	/* one slot covering all of it */
	{
		static const struct spec all[] = { { 0, UINT64_MAX, NOHOST } };

		t = mk_table(all, 1);
		ck_assert_ptr_eq(table_lookup(t, 0), &t->slots[0]);
		ck_assert_ptr_eq(table_lookup(t, UINT64_MAX), &t->slots[0]);
		ck_assert_uint_eq(slot_avail(&t->slots[0], 0, UINT64_MAX), UINT64_MAX);
		ck_assert_uint_eq(slot_avail(&t->slots[0], 1, UINT64_MAX), UINT64_MAX);
		ck_assert_uint_eq(table_backed(t, 1, UINT64_MAX), UINT64_MAX);
		free_table(t);
	}
}
END_TEST

/* ------------------------------------------------------------ slot_avail */

START_TEST(slot_avail_cases)
{
	const struct slot s = { .gpa = 0x1000, .last = 0x1FFF };

	ck_assert_uint_eq(slot_avail(&s, 0x1800, 0x100), 0x100);
	ck_assert_uint_eq(slot_avail(&s, 0x1800, 0x800), 0x800);
	ck_assert_uint_eq(slot_avail(&s, 0x1800, 0x801), 0x800);
	ck_assert_uint_eq(slot_avail(&s, 0x1800, UINT64_MAX), 0x800);
	ck_assert_uint_eq(slot_avail(&s, 0x1000, 0x1000), 0x1000);
	ck_assert_uint_eq(slot_avail(&s, 0x1000, 0x2000), 0x1000);
	ck_assert_uint_eq(slot_avail(&s, 0x1FFF, 1), 1);
	ck_assert_uint_eq(slot_avail(&s, 0x1FFF, 2), 1);
	ck_assert_uint_eq(slot_avail(&s, 0x1000, 1), 1);
}
END_TEST

/* ---------------------------------------------------------- table_backed */

static const struct spec three[] = {
	{ 0x0000, 0x0FFF, 0x2000 },
	{ 0x1000, 0x1FFF, 0x0000 },
	{ 0x3000, 0x3FFF, NOHOST },
	{ 0x5000, 0x5FFF, 0x1000 },
};

START_TEST(backed_cases)
{
	struct table *t = mk_table(three, 4);

	ck_assert_uint_eq(table_backed(t, 0, 0x3000), 0x2000);
	ck_assert_uint_eq(table_backed(t, 0, 0x2000), 0x2000);
	ck_assert_uint_eq(table_backed(t, 0, 0x1FFF), 0x1FFF);
	ck_assert_uint_eq(table_backed(t, 0x800, 0x1000), 0x1000);
	ck_assert_uint_eq(table_backed(t, 0xFFF, 2), 2);
	ck_assert_uint_eq(table_backed(t, 0x2000, 10), 0);
	ck_assert_uint_eq(table_backed(t, 0x2FFF, 2), 0);
	ck_assert_uint_eq(table_backed(t, 0x3000, 0x2000), 0x1000);
	ck_assert_uint_eq(table_backed(t, 0x3FFF, 1), 1);
	ck_assert_uint_eq(table_backed(t, 0x5000, UINT64_MAX - 0x5000), 0x1000);
	ck_assert_uint_eq(table_backed(t, 0x6000, 1), 0);
	ck_assert_uint_eq(table_backed(t, 0, 0), 0);
	free_table(t);
}
END_TEST

/* ------------------------------------------------------ table_first_from */

START_TEST(first_from_cases)
{
	struct table *t = mk_table(three, 4);

	ck_assert_uint_eq(table_first_from(t, 0), 0);
	ck_assert_uint_eq(table_first_from(t, 0xFFF), 0);
	ck_assert_uint_eq(table_first_from(t, 0x1000), 1);
	ck_assert_uint_eq(table_first_from(t, 0x1FFF), 1);
	ck_assert_uint_eq(table_first_from(t, 0x2000), 2);    /* in a gap */
	ck_assert_uint_eq(table_first_from(t, 0x3FFF), 2);
	ck_assert_uint_eq(table_first_from(t, 0x4000), 3);
	ck_assert_uint_eq(table_first_from(t, 0x5FFF), 3);
	ck_assert_uint_eq(table_first_from(t, 0x6000), 4);    /* count */
	ck_assert_uint_eq(table_first_from(t, UINT64_MAX), 4);
	free_table(t);
}
END_TEST



/* ------------------------------------------------------------ dirty log */

/* A log covering pages [first, last] of 4 KiB. */
static struct dirty_log *log_of(uint64_t first, uint64_t last)
{
	struct dirty_log *log = log_cover(NULL, 12, &first, &last, 1);

	ck_assert_ptr_nonnull(log);
	return log;
}

START_TEST(dirty_log_cover_leaves)
{
	uint64_t f[2] = { 3 * LOG_LEAF_PAGES + 5, 1 }, l[2] = { 5 * LOG_LEAF_PAGES, 2 };
	uint64_t f2 = 4 * LOG_LEAF_PAGES, l2 = 7 * LOG_LEAF_PAGES - 1;
	struct dirty_log *log = log_cover(NULL, 12, f, l, 2), *more;

	/* leaves 0, 3, 4, 5, sorted, clean */
	ck_assert_ptr_nonnull(log);
	ck_assert_uint_eq(log->shift, 12);
	ck_assert_uint_eq(log->count, 4);
	ck_assert_uint_eq(log->leaf[0].idx, 0);
	ck_assert_uint_eq(log->leaf[1].idx, 3);
	ck_assert_uint_eq(log->leaf[3].idx, 5);
	for (size_t i = 0; i < LOG_LEAF_WORDS; i++)
		ck_assert_uint_eq(log->leaf[2].words[i], 0);
	ck_assert_ptr_null(log_leaf_of(log, NULL, 2 * LOG_LEAF_PAGES));
	ck_assert_ptr_eq(log_leaf_of(log, &log->leaf[1], 5 * LOG_LEAF_PAGES + 9),
			 &log->leaf[3]);
	/* a copy covering more shares the leaves it had, with their bits */
	ck_assert_uint_eq(log_set(log, NULL, 4 * LOG_LEAF_PAGES + 1,
				  4 * LOG_LEAF_PAGES + 1), 0);
	more = log_cover(log, 0, &f2, &l2, 1);
	ck_assert_ptr_nonnull(more);
	ck_assert_uint_eq(more->count, 5);
	ck_assert_ptr_eq(more->leaf[2].words, log->leaf[2].words);
	ck_assert_int_eq(log_test(more, 4 * LOG_LEAF_PAGES + 1), 1);
	ck_assert_int_eq(log_test(more, 6 * LOG_LEAF_PAGES), 0);
	ck_assert_int_eq(log_test(more, 2 * LOG_LEAF_PAGES), -1);
	log_free(log, false);
	log_free(more, true);
}
END_TEST

START_TEST(dirty_log_set_masks)
{
	struct dirty_log *log = log_of(0, 255);
	uint64_t *w = log->leaf[0].words;

	/* pages 0..63: exactly word 0 */
	log_set(log, NULL, 0, 63);
	ck_assert_uint_eq(le64toh(w[0]), ~0ull);
	ck_assert_uint_eq(w[1], 0);
	ck_assert_uint_eq(log_take(log, 0, 255, NULL, 0), 0);
	/* pages 63..64: the top bit of word 0, the low bit of word 1 */
	log_set(log, NULL, 63, 64);
	ck_assert_uint_eq(le64toh(w[0]), 1ull << 63);
	ck_assert_uint_eq(le64toh(w[1]), 1);
	ck_assert_uint_eq(w[2], 0);
	log_take(log, 0, 255, NULL, 0);
	/* pages 5..200; setting again changes nothing */
	log_set(log, NULL, 5, 200);
	log_set(log, NULL, 5, 200);
	ck_assert_uint_eq(le64toh(w[0]), ~0ull << 5);
	ck_assert_uint_eq(le64toh(w[1]), ~0ull);
	ck_assert_uint_eq(le64toh(w[3]), (1ull << 9) - 1);
	log_set_page(&log->leaf[0], 255, false);
	ck_assert_uint_eq(le64toh(w[3]), ((1ull << 9) - 1) | (1ull << 63));
	log_free(log, true);
}
END_TEST

START_TEST(dirty_log_across_leaves)
{
	uint64_t base = 9 * LOG_LEAF_PAGES;
	struct dirty_log *log = log_of(base - 10, base + 10);
	uint64_t out[1] = { 0 };

	/* pages covered: none missed, the last word of one leaf and the
	 * first of the next */
	ck_assert_uint_eq(log_set(log, NULL, base - 2, base + 1), 0);
	ck_assert_uint_eq(le64toh(log->leaf[0].words[LOG_LEAF_WORDS - 1]),
			  3ull << 62);
	ck_assert_uint_eq(le64toh(log->leaf[1].words[0]), 3);
	/* taken into a bitmap whose bit 0 is page base - 4 */
	ck_assert_uint_eq(log_take(log, base - 4, base + 4, out, base - 4), 4);
	ck_assert_uint_eq(out[0], 0x3c);
	ck_assert_uint_eq(log_take(log, 0, UINT64_MAX, NULL, 0), 0);
	/* pages past the covered leaves are missed, counted */
	ck_assert_uint_eq(log_set(log, NULL, base + LOG_LEAF_PAGES - 1,
				  base + LOG_LEAF_PAGES + 2), 3);
	log_free(log, true);
}
END_TEST

START_TEST(dirty_log_flat)
{
	/* 3 leaves and 8 bytes of bitmap: pages 0 .. 2 * LEAF + 63 */
	size_t bytes = 2 * LOG_LEAF_PAGES / 8 + 8;
	uint64_t *bits = calloc(bytes / 8, 8);
	uint8_t *b = (uint8_t *)bits;
	struct dirty_log *log;

	ck_assert_ptr_nonnull(bits);
	log = log_flat(bits, bytes);
	ck_assert_ptr_nonnull(log);
	ck_assert_uint_eq(log->count, 3);
	ck_assert_uint_eq(log->npages, bytes * 8);
	/* the vhost-user layout: bit p % 8 of byte p / 8 */
	ck_assert_uint_eq(log_set(log, NULL, 9, 9), 0);
	ck_assert_uint_eq(b[1], 2);
	ck_assert_uint_eq(log_set(log, NULL, 2 * LOG_LEAF_PAGES + 63,
				  2 * LOG_LEAF_PAGES + 70), 7);
	ck_assert_uint_eq(b[bytes - 1], 0x80);
	ck_assert_uint_eq(log_set(log, NULL, UINT64_MAX - 1, UINT64_MAX), 2);
	ck_assert_int_eq(log_test(log, 2 * LOG_LEAF_PAGES + 64), -1);
	log_free(log, false);
	free(bits);
}
END_TEST

/* ------------------------------------------------------------ opts_check */

START_TEST(opts_check_cases)
{
	unsigned char buf[64];
	const size_t known = 32, need = 12;

	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(opts_check(buf, 0, known, need), -EINVAL);
	ck_assert_int_eq(opts_check(buf, 8, known, need), -EINVAL);
	ck_assert_int_eq(opts_check(buf, need - 1, known, need), -EINVAL);
	ck_assert_int_eq(opts_check(buf, need, known, need), 0);
	ck_assert_int_eq(opts_check(buf, known, known, need), 0);
	/* larger than known with a zero tail */
	ck_assert_int_eq(opts_check(buf, sizeof(buf), known, need), 0);
	/* bytes inside the known part do not matter */
	buf[known - 1] = 0xFF;
	buf[0] = 0xFF;
	ck_assert_int_eq(opts_check(buf, sizeof(buf), known, need), 0);
	/* a non-zero byte in the tail, first and last position */
	buf[known] = 1;
	ck_assert_int_eq(opts_check(buf, sizeof(buf), known, need), -E2BIG);
	ck_assert_int_eq(opts_check(buf, known + 1, known, need), -E2BIG);
	ck_assert_int_eq(opts_check(buf, known, known, need), 0);
	buf[known] = 0;
	buf[sizeof(buf) - 1] = 0x80;
	ck_assert_int_eq(opts_check(buf, sizeof(buf), known, need), -E2BIG);
	ck_assert_int_eq(opts_check(buf, sizeof(buf) - 1, known, need), 0);
}
END_TEST

/* OPTS_VALID on the real options struct, as vmmem_region_new uses it. */
START_TEST(opts_valid_region_opts)
{
	struct {
		struct vmmem_region_opts o;
		unsigned char tail[16];
	} big;
	struct vmmem_region_opts *o = &big.o;

	memset(&big, 0, sizeof(big));
	o->sz = sizeof(*o);
	ck_assert_int_eq(OPTS_VALID(o, struct vmmem_region_opts, flags), 0);
	o->sz = offsetof(struct vmmem_region_opts, flags) + sizeof(o->flags);
	ck_assert_int_eq(OPTS_VALID(o, struct vmmem_region_opts, flags), 0);
	o->sz = sizeof(size_t);
	ck_assert_int_eq(OPTS_VALID(o, struct vmmem_region_opts, flags), -EINVAL);
	o->sz = sizeof(big);
	ck_assert_int_eq(OPTS_VALID(o, struct vmmem_region_opts, flags), 0);
	big.tail[15] = 1;
	ck_assert_int_eq(OPTS_VALID(o, struct vmmem_region_opts, flags), -E2BIG);
	big.tail[15] = 0;

	/* region_opts_load: NULL gives defaults; a short struct reads as zero
	 * past its sz; errors are OPTS_VALID's */
	{
		struct vmmem_region_opts out;

		memset(&out, 0xFF, sizeof(out));
		ck_assert_int_eq(region_opts_load(&out, NULL), 0);
		ck_assert_uint_eq(out.sz, sizeof(out));
		ck_assert_uint_eq(out.flags, 0);
		ck_assert_int_eq(out.fd, 0);
		ck_assert_ptr_null(out.name);

		o->sz = offsetof(struct vmmem_region_opts, flags) + sizeof(o->flags);
		o->flags = VMMEM_REGION_THP;
		o->fd = 7;
		o->offset = 0x1000;
		memset(&out, 0xFF, sizeof(out));
		ck_assert_int_eq(region_opts_load(&out, o), 0);
		ck_assert_uint_eq(out.sz, sizeof(out));
		ck_assert_uint_eq(out.flags, VMMEM_REGION_THP);
		ck_assert_int_eq(out.fd, 0);
		ck_assert_uint_eq(out.offset, 0);

		o->sz = sizeof(*o);
		ck_assert_int_eq(region_opts_load(&out, o), 0);
		ck_assert_int_eq(out.fd, 7);
		ck_assert_uint_eq(out.offset, 0x1000);

		o->sz = sizeof(size_t);
		ck_assert_int_eq(region_opts_load(&out, o), -EINVAL);
		o->sz = sizeof(big);
		big.tail[0] = 2;
		ck_assert_int_eq(region_opts_load(&out, o), -E2BIG);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("internal");
	TCase *tc;

	tc = tcase_create("table");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, lookup_empty);
	tcase_add_test(tc, lookup_one);
	tcase_add_test(tc, lookup_many);
	tcase_add_test(tc, lookup_top_of_address_space);
	tcase_add_test(tc, slot_avail_cases);
	tcase_add_test(tc, backed_cases);
	tcase_add_test(tc, first_from_cases);
	suite_add_tcase(s, tc);

	tc = tcase_create("dirty_log");
	tcase_add_test(tc, dirty_log_cover_leaves);
	tcase_add_test(tc, dirty_log_set_masks);
	tcase_add_test(tc, dirty_log_across_leaves);
	tcase_add_test(tc, dirty_log_flat);
	suite_add_tcase(s, tc);

	tc = tcase_create("opts");
	tcase_add_test(tc, opts_check_cases);
	tcase_add_test(tc, opts_valid_region_opts);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run(suite());
}
