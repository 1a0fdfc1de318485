/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The small accesses' fast paths against what they stand for: every table
 * size on both sides of the lookup hint's threshold, tables growing and
 * shrinking across it (the fast path picked before the section may be the
 * wrong one), threads liburcu-bp has not registered yet, and calls from
 * inside a caller's own liburcu-bp read-side section.  Each case must give
 * what the slow path gives. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <urcu/urcu-bp.h>

#include "testutil.h"

#define SLOT_SIZE   (64 * KIB)
#define SLOT_STRIDE (128 * KIB)     /* a hole after every region */
#define MAX_SLOTS   12

static uint64_t slot_gpa(unsigned int i)
{
	return (uint64_t)i * SLOT_STRIDE;
}

static void add_slot(struct vmmem *m, unsigned int i)
{
	struct vmmem_region *r = test_region(SLOT_SIZE);

	ck_assert_int_eq(vmmem_add_region(m, slot_gpa(i), r), 0);
	vmmem_region_unref(r);
}

/* The offsets tried in every region: its first byte, the middle, its
 * last 16 bytes, unaligned ones. */
static const uint64_t offsets[] = { 0, 8, 0x7ff1, SLOT_SIZE - 16, 3 };
static const size_t sizes[] = { 1, 2, 4, 8, 16 };

static uint8_t value_byte(uint64_t gpa, size_t k)
{
	return (uint8_t)(gpa * 7 + k * 13 + 1);
}

static void check_atomics(struct vmmem *m, uint64_t gpa)
{
	uint64_t v = 0;

	ck_assert_int_eq(vmmem_store(m, gpa, 8, gpa ^ 0x5a5a, 0), 0);
	ck_assert_int_eq(vmmem_load(m, gpa, 8, &v, VMMEM_ORDER_ACQUIRE), 0);
	ck_assert_uint_eq(v, gpa ^ 0x5a5a);
}

/* What was written at gpa reads back through the exact and the partial
 * read, and writes again through the partial write. */
static void check_read_back(struct vmmem *m, uint64_t gpa, const uint8_t *in,
			    size_t len)
{
	uint8_t out[16];

	memset(out, 0, sizeof(out));
	ck_assert_int_eq(vmmem_read_exact(m, gpa, out, len), 0);
	ck_assert_mem_eq(out, in, len);
	memset(out, 0, sizeof(out));
	ck_assert_int_eq(vmmem_read(m, gpa, out, len), (ssize_t)len);
	ck_assert_mem_eq(out, in, len);
	ck_assert_int_eq(vmmem_write(m, gpa, out, len), (ssize_t)len);
}

/* Writes through the fast paths and reads back through every one of them,
 * checked against the region's memory itself. */
static void check_present(struct vmmem *m, unsigned int i)
{
	for (size_t o = 0; o < sizeof(offsets) / sizeof(offsets[0]); o++) {
		for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
			uint64_t gpa = slot_gpa(i) + offsets[o];
			size_t len = sizes[z];
			uint8_t in[16];
			uint8_t *host = test_host_of_gpa(m, gpa);
			void *p = NULL;

			for (size_t k = 0; k < len; k++)
				in[k] = value_byte(gpa + len, k);
			ck_assert_int_eq(vmmem_write_exact(m, gpa, in, len), 0);
			ck_assert_mem_eq(host, in, len);
			check_read_back(m, gpa, in, len);
			ck_assert_int_eq(vmmem_host_address(m, gpa, len, &p), 0);
			ck_assert_ptr_eq(p, host);
		}
		check_atomics(m, slot_gpa(i) + (offsets[o] & ~7ull));
	}
}

/* Every access just past the region, in the hole, is refused. */
static void check_absent(struct vmmem *m, uint64_t gpa)
{
	uint8_t buf[16] = { 0 };
	uint64_t v;
	void *p;

	ck_assert_int_eq(vmmem_read(m, gpa, buf, 8), -EFAULT);
	ck_assert_int_eq(vmmem_write(m, gpa, buf, 8), -EFAULT);
	ck_assert_int_eq(vmmem_read_exact(m, gpa, buf, 16), -EFAULT);
	ck_assert_int_eq(vmmem_write_exact(m, gpa, buf, 4), -EFAULT);
	ck_assert_int_eq(vmmem_host_address(m, gpa, 8, &p), -EFAULT);
	ck_assert_int_eq(vmmem_load(m, gpa, 4, &v, VMMEM_ORDER_RELAXED), -EFAULT);
	ck_assert_int_eq(vmmem_store(m, gpa, 4, 1, VMMEM_ORDER_RELAXED), -EFAULT);
}

/* A small access running off the end of its region into the hole. */
static void check_overrun(struct vmmem *m, unsigned int i)
{
	uint64_t gpa = slot_gpa(i) + SLOT_SIZE - 4;
	uint8_t buf[8] = { 0 };
	void *p;

	ck_assert_int_eq(vmmem_read_exact(m, gpa, buf, 8), -EFAULT);
	ck_assert_int_eq(vmmem_write_exact(m, gpa, buf, 8), -EFAULT);
	ck_assert_int_eq(vmmem_read(m, gpa, buf, 8), 4);
	ck_assert_int_eq(vmmem_host_address(m, gpa, 8, &p), -EFAULT);
}

START_TEST(every_table_size)
{
	for (unsigned int n = 0; n <= MAX_SLOTS; n++) {
		struct vmmem *m = NULL;

		ck_assert_int_eq(vmmem_new(&m, 0), 0);
		for (unsigned int i = 0; i < n; i++)
			add_slot(m, i);
		for (unsigned int i = 0; i < n; i++) {
			check_present(m, i);
			check_overrun(m, i);
			check_absent(m, slot_gpa(i) + SLOT_SIZE);
		}
		check_absent(m, slot_gpa(n));
		vmmem_free(m);
	}
}
END_TEST

START_TEST(grow_and_shrink)
{
	struct vmmem *m = NULL;

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	for (unsigned int n = 1; n <= MAX_SLOTS; n++) {
		add_slot(m, n - 1);
		for (unsigned int i = 0; i < n; i++)
			check_present(m, i);
	}
	for (unsigned int n = MAX_SLOTS; n > 0; n--) {
		ck_assert_int_eq(vmmem_remove_region(m, slot_gpa(n - 1),
						     SLOT_SIZE, NULL), 0);
		check_absent(m, slot_gpa(n - 1));
		for (unsigned int i = 0; i + 1 < n; i++)
			check_present(m, i);
	}
	vmmem_free(m);
}
END_TEST

/* Inside the caller's own section the fast paths step aside and the slow
 * ones nest theirs: same results, and the caller's section still holds. */
START_TEST(inside_callers_section)
{
	struct vmmem *m = NULL;

	for (unsigned int n = 3; n <= 9; n += 6) {
		ck_assert_int_eq(vmmem_new(&m, 0), 0);
		for (unsigned int i = 0; i < n; i++)
			add_slot(m, i);
		urcu_bp_read_lock();
		for (unsigned int i = 0; i < n; i++)
			check_present(m, i);
		check_absent(m, slot_gpa(n));
		ck_assert(urcu_bp_read_ongoing());
		urcu_bp_read_unlock();
		ck_assert(!urcu_bp_read_ongoing());
		vmmem_free(m);
	}
}
END_TEST

struct first_access {
	struct vmmem *m;
	int op;
	int ret;
	uint64_t v;
};

/* The first call a new thread makes, before liburcu-bp knows it. */
static void *first_access_thread(void *arg)
{
	struct first_access *a = arg;
	void *p;

	switch (a->op) {
	case 0:
		a->ret = vmmem_read_exact(a->m, 8, &a->v, 8);
		break;
	case 1:
		a->ret = (int)vmmem_read(a->m, 8, &a->v, 8);
		break;
	case 2:
		a->ret = vmmem_write_exact(a->m, 16, &a->v, 8);
		break;
	case 3:
		a->ret = vmmem_host_address(a->m, 8, 8, &p);
		a->v = (uintptr_t)p;
		break;
	case 4:
		a->ret = vmmem_load(a->m, 8, 8, &a->v, VMMEM_ORDER_ACQUIRE);
		break;
	default:
		a->ret = vmmem_store(a->m, 16, 8, a->v, VMMEM_ORDER_RELEASE);
		break;
	}
	return NULL;
}

START_TEST(first_access_of_a_thread)
{
	for (unsigned int n = 1; n <= 9; n += 8) {
		struct vmmem *m = NULL;
		uint8_t *host;

		ck_assert_int_eq(vmmem_new(&m, 0), 0);
		for (unsigned int i = 0; i < n; i++)
			add_slot(m, i);
		host = test_host_of_gpa(m, 0);
		memcpy(host + 8, &(uint64_t){ 0x1122334455667788ull }, 8);
		for (int op = 0; op < 6; op++) {
			struct first_access a = { .m = m, .op = op,
						  .v = 0xabcdef00ull + (uint64_t)op };
			pthread_t t;
			uint64_t w;

			ck_assert_int_eq(pthread_create(&t, NULL,
							first_access_thread, &a), 0);
			ck_assert_int_eq(pthread_join(t, NULL), 0);
			ck_assert_int_eq(a.ret, op == 1 ? 8 : 0);
			memcpy(&w, host + 16, 8);
			if (op == 0 || op == 1 || op == 4)
				ck_assert_uint_eq(a.v, 0x1122334455667788ull);
			else if (op == 3)
				ck_assert_uint_eq(a.v, (uintptr_t)(host + 8));
			else
				ck_assert_uint_eq(w, 0xabcdef00ull + (uint64_t)op);
		}
		vmmem_free(m);
	}
}
END_TEST

struct flipper {
	struct vmmem *m;
	volatile int stop;
};

/* Adds and removes the region that takes the table over the hint's
 * threshold and back, so readers' choice of fast path is often stale. */
static void *flip_threshold(void *arg)
{
	struct flipper *f = arg;
	struct vmmem_region *r = test_region(SLOT_SIZE);

	while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
		if (vmmem_add_region(f->m, slot_gpa(7), r) ||
		    vmmem_remove_region(f->m, slot_gpa(7), SLOT_SIZE, NULL))
			break;
	}
	vmmem_region_unref(r);
	return NULL;
}

START_TEST(threshold_flips_under_readers)
{
	struct flipper f = { 0 };
	int rounds = test_under_valgrind() ? 2000 : 200000;
	pthread_t t;

	ck_assert_int_eq(vmmem_new(&f.m, 0), 0);
	for (unsigned int i = 0; i < 7; i++) {
		uint64_t v = 0x0101010101010101ull * (i + 1);

		add_slot(f.m, i);
		ck_assert_int_eq(vmmem_write_exact(f.m, slot_gpa(i) + 64, &v, 8), 0);
	}
	ck_assert_int_eq(pthread_create(&t, NULL, flip_threshold, &f), 0);
	for (int k = 0; k < rounds; k++) {
		unsigned int i = (unsigned int)k % 7;
		uint64_t v = 0;
		void *p;

		ck_assert_int_eq(vmmem_read_exact(f.m, slot_gpa(i) + 64, &v, 8), 0);
		ck_assert_uint_eq(v, 0x0101010101010101ull * (i + 1));
		ck_assert_int_eq(vmmem_load(f.m, slot_gpa(i) + 64, 8, &v,
					    VMMEM_ORDER_RELAXED), 0);
		ck_assert_uint_eq(v, 0x0101010101010101ull * (i + 1));
		ck_assert_int_eq(vmmem_host_address(f.m, slot_gpa(i) + 64, 8, &p), 0);
		ck_assert_int_eq(vmmem_host_address(f.m, slot_gpa(8), 8, &p),
				 -EFAULT);
	}
	__atomic_store_n(&f.stop, 1, __ATOMIC_RELEASE);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	vmmem_free(f.m);
}
END_TEST

/* Small accesses across the boundary of two contiguous regions (the slow
 * paths' direct case): every length and split, both pages logged dirty,
 * and a boundary with a hole behind it refused whole. */
START_TEST(straddling_a_boundary)
{
	struct vmmem *m = NULL;
	uint64_t edge = SLOT_SIZE;

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	add_slot(m, 0);
	{
		struct vmmem_region *r = test_region(SLOT_SIZE);

		ck_assert_int_eq(vmmem_add_region(m, edge, r), 0);
		vmmem_region_unref(r);
	}
	ck_assert_int_eq(vmmem_dirty_start(m, 4096), 0);
	for (size_t len = 2; len <= 16; len++) {
		for (size_t head = 1; head < len; head++) {
			uint64_t gpa = edge - head;
			uint8_t in[16];

			for (size_t k = 0; k < len; k++)
				in[k] = value_byte(gpa, k + len);
			ck_assert_int_eq(vmmem_dirty_clear(m, 0, 2 * SLOT_SIZE), 0);
			ck_assert_int_eq(vmmem_write_exact(m, gpa, in, len), 0);
			ck_assert_mem_eq(test_host_of_gpa(m, gpa), in, head);
			ck_assert_mem_eq(test_host_of_gpa(m, edge), in + head,
					 len - head);
			ck_assert_int_eq(vmmem_dirty_test(m, gpa), 1);
			ck_assert_int_eq(vmmem_dirty_test(m, edge), 1);
			ck_assert_int_eq(vmmem_dirty_test(m, edge + 4096), 0);
			check_read_back(m, gpa, in, len);
		}
	}
	/* The second region ends at 2 * SLOT_SIZE, a hole follows. */
	{
		uint8_t before[8], buf[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
		uint64_t gpa = 2 * SLOT_SIZE - 3;

		memcpy(before, test_host_of_gpa(m, gpa), 3);
		ck_assert_int_eq(vmmem_write_exact(m, gpa, buf, 8), -EFAULT);
		ck_assert_mem_eq(test_host_of_gpa(m, gpa), before, 3);
		ck_assert_int_eq(vmmem_write(m, gpa, buf, 8), 3);
	}
	vmmem_free(m);
}
END_TEST

/* A region ending at 2^64 - 1, where the padded search of the fast paths
 * finds padding instead: tables of 3 and 9 slots (5 and 7 pads). */
START_TEST(top_of_the_address_space)
{
	for (unsigned int n = 2; n <= 8; n += 6) {
		uint64_t top = UINT64_MAX - SLOT_SIZE + 1, v = 0;
		uint8_t byte = 0x5c, got = 0;
		struct vmmem_region *r = test_region(SLOT_SIZE);
		struct vmmem *m = NULL;
		void *p = NULL;

		ck_assert_int_eq(vmmem_new(&m, 0), 0);
		for (unsigned int i = 0; i < n; i++)
			add_slot(m, i);
		ck_assert_int_eq(vmmem_add_region(m, top, r), 0);
		ck_assert_int_eq(vmmem_write_exact(m, UINT64_MAX, &byte, 1), 0);
		ck_assert_int_eq(vmmem_read_exact(m, UINT64_MAX, &got, 1), 0);
		ck_assert_uint_eq(got, 0x5c);
		ck_assert_int_eq(vmmem_read(m, UINT64_MAX, &got, 1), 1);
		ck_assert_int_eq(vmmem_host_address(m, UINT64_MAX, 1, &p), 0);
		ck_assert_ptr_eq(p, (uint8_t *)test_region_host(r) + SLOT_SIZE - 1);
		ck_assert_int_eq(vmmem_load(m, UINT64_MAX, 1, &v,
					    VMMEM_ORDER_RELAXED), 0);
		ck_assert_uint_eq(v, 0x5c);
		ck_assert_int_eq(vmmem_store(m, UINT64_MAX, 1, 0x77,
					     VMMEM_ORDER_RELAXED), 0);
		ck_assert_uint_eq(((uint8_t *)test_region_host(r))[SLOT_SIZE - 1],
				  0x77);
		ck_assert_int_eq(vmmem_read_exact(m, UINT64_MAX, &v, 2), -EINVAL);
		check_present(m, n - 1);
		vmmem_region_unref(r);
		vmmem_free(m);
	}
}
END_TEST

/* Two regions covering the whole address space, the second from an odd
 * GPA: a zero-length access at 0 must touch nothing (the boundary path once
 * took it for an access running into the second region and copied 2^64 -
 * 0x10001 bytes' low bits of it).  The second region's host address is
 * never valid memory, so any access to it faults. */
START_TEST(zero_length_beside_the_whole_space)
{
	static uint8_t low[0x10001];
	uint64_t split = sizeof(low);
	/* The rest of the GPA space; a 32-bit host range cannot span that
	 * much, so there the second region is as large as a host range can
	 * be (the access at 0 still runs beside it). */
	uint64_t rest = 0 - split < (uint64_t)UINTPTR_MAX - 4095 ?
			0 - split : (uint64_t)UINTPTR_MAX - 4095;
	struct vmmem_region *a = NULL, *b = NULL;
	struct vmmem *m = NULL;
	uint8_t buf[32];

	memset(buf, 0x11, sizeof(buf));
	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_region_new_raw(&a, low, split, NULL, NULL, 0), 0);
	ck_assert_int_eq(vmmem_region_new_raw(&b, (void *)(uintptr_t)4096,
					      rest, NULL, NULL, 0), 0);
	ck_assert_int_eq(vmmem_add_region(m, 0, a), 0);
	ck_assert_int_eq(vmmem_add_region(m, split, b), 0);
	ck_assert_int_eq(vmmem_read(m, 0, buf + 8, 0), 0);
	ck_assert_int_eq(vmmem_read_exact(m, 0, buf + 8, 0), 0);
	ck_assert_int_eq(vmmem_write(m, 0, buf + 8, 0), 0);
	ck_assert_int_eq(vmmem_write_exact(m, 0, buf + 8, 0), 0);
	ck_assert(test_all_bytes(buf, 0x11, sizeof(buf)));
	ck_assert(test_all_bytes(low, 0, sizeof(low)));
	/* A small access wholly inside the first region, inside the test's
	 * own section so that the slow paths take it. */
	urcu_bp_read_lock();
	ck_assert_int_eq(vmmem_write_exact(m, split - 8, buf, 8), 0);
	ck_assert_int_eq(vmmem_read(m, 0, buf + 8, 0), 0);
	urcu_bp_read_unlock();
	ck_assert_mem_eq(low + split - 8, buf, 8);
	vmmem_region_unref(a);
	vmmem_region_unref(b);
	vmmem_free(m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fastpath");
	TCase *tc = tcase_create("fastpath");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, every_table_size);
	tcase_add_test(tc, grow_and_shrink);
	tcase_add_test(tc, inside_callers_section);
	tcase_add_test(tc, first_access_of_a_thread);
	tcase_add_test(tc, threshold_flips_under_readers);
	tcase_add_test(tc, straddling_a_boundary);
	tcase_add_test(tc, top_of_the_address_space);
	tcase_add_test(tc, zero_length_beside_the_whole_space);
	suite_add_tcase(s, tc);
	return test_run(s);
}
