/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* vmmem_load / vmmem_store, and single-copy atomicity of aligned 2/4/8-byte
 * accesses through vmmem_read/vmmem_write and load/store. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

static const int load_orders[] = { VMMEM_ORDER_RELAXED, VMMEM_ORDER_CONSUME,
				   VMMEM_ORDER_ACQUIRE, VMMEM_ORDER_SEQ_CST };
static const int store_orders[] = { VMMEM_ORDER_RELAXED, VMMEM_ORDER_RELEASE,
				    VMMEM_ORDER_SEQ_CST };
static const size_t sizes[] = { 1, 2, 4, 8 };
#define N(a) (sizeof(a) / sizeof((a)[0]))

static struct vmmem *one_region(void)
{
	static const uint64_t gpa[] = { 0 };
	static const uint64_t size[] = { 0x10000 };

	return test_space(1, gpa, size);
}

static uint64_t mask_of(size_t size)
{
	return size == 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

START_TEST(load_store_all_orders)
{
	struct vmmem *m = one_region();
	const uint64_t val = 0x8877665544332211ull;
	uint64_t gpa = 0x100;

	for (size_t i = 0; i < N(sizes); i++) {
		size_t size = sizes[i];

		for (size_t so = 0; so < N(store_orders); so++) {
			for (size_t lo = 0; lo < N(load_orders); lo++) {
				uint64_t v = val ^ (gpa * 0x0101010101010101ull);
				uint64_t got = 0xdeadbeefdeadbeefull;
				uint8_t bytes[8];

				ck_assert_int_eq(vmmem_store(m, gpa, size, v,
							     store_orders[so]), 0);
				ck_assert_int_eq(vmmem_load(m, gpa, size, &got,
							    load_orders[lo]), 0);
				ck_assert_uint_eq(got, v & mask_of(size));
				/* host byte order in guest memory */
				ck_assert_int_eq(vmmem_read(m, gpa, bytes, size),
						 (ssize_t)size);
				switch (size) {
				case 1: { uint8_t x = (uint8_t)v;
					ck_assert_mem_eq(bytes, &x, 1); break; }
				case 2: { uint16_t x = (uint16_t)v;
					ck_assert_mem_eq(bytes, &x, 2); break; }
				case 4: { uint32_t x = (uint32_t)v;
					ck_assert_mem_eq(bytes, &x, 4); break; }
				default:
					ck_assert_mem_eq(bytes, &v, 8); break;
				}
				gpa += 8;
			}
		}
	}
	vmmem_free(m);
}
END_TEST

START_TEST(store_truncates_load_zero_extends)
{
	struct vmmem *m = one_region();
	uint8_t buf[16];
	uint64_t v;

	for (size_t i = 0; i < N(sizes); i++) {
		size_t size = sizes[i];

		ck_assert_int_eq(vmmem_fill(m, 0x200, 0xEE, 32), 0);
		ck_assert_int_eq(vmmem_store(m, 0x208, size, 0xFFFFFFFFFFFFFFFFull,
					     VMMEM_ORDER_SEQ_CST), 0);
		ck_assert_int_eq(vmmem_read_exact(m, 0x200, buf, 16), 0);
		for (size_t b = 0; b < 16; b++)
			ck_assert_uint_eq(buf[b], b >= 8 && b < 8 + size ? 0xFF : 0xEE);

		/* only the low bytes are written: a value with a high part */
		ck_assert_int_eq(vmmem_fill(m, 0x208, 0x00, 8), 0);
		ck_assert_int_eq(vmmem_store(m, 0x208, size, 0xA5A5A5A5A5A5A5A5ull &
					     ~mask_of(size), VMMEM_ORDER_RELAXED), 0);
		ck_assert_int_eq(vmmem_read_exact(m, 0x208, buf, 8), 0);
		for (size_t b = 0; b < 8; b++)
			ck_assert_uint_eq(buf[b], 0);

		/* load zero-extends: memory all 0xFF around, result = mask */
		ck_assert_int_eq(vmmem_fill(m, 0x300, 0xFF, 32), 0);
		v = 0x1234;
		ck_assert_int_eq(vmmem_load(m, 0x308, size, &v, VMMEM_ORDER_ACQUIRE), 0);
		ck_assert_uint_eq(v, mask_of(size));
		ck_assert_int_eq(vmmem_fill(m, 0x308, 0x80, 8), 0);
		v = ~0ull;
		ck_assert_int_eq(vmmem_load(m, 0x308, size, &v, VMMEM_ORDER_RELAXED), 0);
		ck_assert_uint_eq(v, 0x8080808080808080ull & mask_of(size));
	}
	vmmem_free(m);
}
END_TEST

START_TEST(invalid_orders)
{
	struct vmmem *m = one_region();
	static const int bad_load[] = { VMMEM_ORDER_RELEASE, VMMEM_ORDER_ACQ_REL,
					99, -1, 6 };
	static const int bad_store[] = { VMMEM_ORDER_ACQUIRE, VMMEM_ORDER_CONSUME,
					 VMMEM_ORDER_ACQ_REL, 99, -1, 6 };
	uint64_t v = 0x77;

	ck_assert_int_eq(vmmem_fill(m, 0x40, 0x11, 8), 0);
	for (size_t i = 0; i < N(sizes); i++) {
		for (size_t k = 0; k < N(bad_load); k++) {
			v = 0x77;
			ck_assert_int_eq(vmmem_load(m, 0x40, sizes[i], &v, bad_load[k]),
					 -EINVAL);
			ck_assert_uint_eq(v, 0x77);
		}
		for (size_t k = 0; k < N(bad_store); k++)
			ck_assert_int_eq(vmmem_store(m, 0x40, sizes[i], 0,
						     bad_store[k]), -EINVAL);
	}
	/* nothing was stored */
	ck_assert_int_eq(vmmem_load(m, 0x40, 8, &v, VMMEM_ORDER_RELAXED), 0);
	ck_assert_uint_eq(v, 0x1111111111111111ull);
	vmmem_free(m);
}
END_TEST

START_TEST(invalid_size_and_alignment)
{
	struct vmmem *m = one_region();
	static const size_t bad_sizes[] = { 0, 3, 5, 6, 7, 16 };
	uint64_t v = 0;

	for (size_t k = 0; k < N(bad_sizes); k++) {
		ck_assert_int_eq(vmmem_load(m, 0x40, bad_sizes[k], &v,
					    VMMEM_ORDER_RELAXED), -EINVAL);
		ck_assert_int_eq(vmmem_store(m, 0x40, bad_sizes[k], 0,
					     VMMEM_ORDER_RELAXED), -EINVAL);
	}
	for (size_t i = 1; i < N(sizes); i++) {
		size_t size = sizes[i];

		for (uint64_t off = 1; off < size; off++) {
			ck_assert_int_eq(vmmem_load(m, 0x40 + off, size, &v,
						    VMMEM_ORDER_SEQ_CST), -EINVAL);
			ck_assert_int_eq(vmmem_store(m, 0x40 + off, size, 0,
						     VMMEM_ORDER_SEQ_CST), -EINVAL);
		}
	}
	/* size 1 is aligned anywhere */
	ck_assert_int_eq(vmmem_store(m, 0x43, 1, 0x5A, VMMEM_ORDER_RELAXED), 0);
	ck_assert_int_eq(vmmem_load(m, 0x43, 1, &v, VMMEM_ORDER_RELAXED), 0);
	ck_assert_uint_eq(v, 0x5A);
	ck_assert_int_eq(vmmem_load(NULL, 0x40, 4, &v, VMMEM_ORDER_RELAXED), -EINVAL);
	ck_assert_int_eq(vmmem_load(m, 0x40, 4, NULL, VMMEM_ORDER_RELAXED), -EINVAL);
	ck_assert_int_eq(vmmem_store(NULL, 0x40, 4, 0, VMMEM_ORDER_RELAXED), -EINVAL);
	vmmem_free(m);
}
END_TEST

START_TEST(misaligned_host)
{
	uint8_t *buf = malloc(8192 + 16);
	struct vmmem_region *r = NULL;
	struct vmmem *m = NULL;
	uint64_t v = 0;

	ck_assert_ptr_nonnull(buf);
	memset(buf, 0, 8192 + 16);
	/* buf is at least 8-aligned, so buf + 1 is odd */
	ck_assert_int_eq(vmmem_region_new_raw(&r, buf + 1, 8192, NULL, NULL, 0), 0);
	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(m, 0, r), 0);
	vmmem_region_unref(r);

	for (size_t i = 1; i < N(sizes); i++) {
		for (uint64_t gpa = 0; gpa < 64; gpa += sizes[i]) {
			ck_assert_int_eq(vmmem_load(m, gpa, sizes[i], &v,
						    VMMEM_ORDER_RELAXED), -EINVAL);
			ck_assert_int_eq(vmmem_store(m, gpa, sizes[i], ~0ull,
						     VMMEM_ORDER_RELAXED), -EINVAL);
		}
	}
	for (int i = 0; i < 80; i++)
		ck_assert_uint_eq(buf[i], 0);
	ck_assert_int_eq(vmmem_store(m, 8, 1, 0xAB, VMMEM_ORDER_SEQ_CST), 0);
	ck_assert_uint_eq(buf[9], 0xAB);
	ck_assert_int_eq(vmmem_load(m, 8, 1, &v, VMMEM_ORDER_SEQ_CST), 0);
	ck_assert_uint_eq(v, 0xAB);
	/* plain reads/writes have no alignment requirement */
	ck_assert_int_eq(vmmem_write_le64(m, 16, 0x0102030405060708ull), 0);
	ck_assert_int_eq(vmmem_read_le64(m, 16, &v), 0);
	ck_assert_uint_eq(v, 0x0102030405060708ull);
	vmmem_free(m);
	free(buf);
}
END_TEST

START_TEST(unbacked_and_crossing)
{
	static const uint64_t gpa[] = { 0, 4100 };
	static const uint64_t size[] = { 4100, 4096 };
	struct vmmem *m = test_space(2, gpa, size);
	static const uint64_t gpa1[] = { 0 };
	static const uint64_t size1[] = { 4100 };
	struct vmmem *lone = test_space(1, gpa1, size1);
	uint64_t v = 42;

	/* 8 bytes at 4096: 4 in the first region, 4 in the second */
	ck_assert_int_eq(vmmem_load(m, 4096, 8, &v, VMMEM_ORDER_RELAXED), -ERANGE);
	ck_assert_int_eq(vmmem_store(m, 4096, 8, ~0ull, VMMEM_ORDER_RELAXED), -ERANGE);
	ck_assert_uint_eq(v, 42);
	ck_assert_int_eq(vmmem_read_le64(m, 4096, &v), 0);
	ck_assert_uint_eq(v, 0);
	/* 4 bytes at 4096 fit in the first region */
	ck_assert_int_eq(vmmem_store(m, 4096, 4, 0xCAFEF00Du, VMMEM_ORDER_RELEASE), 0);
	ck_assert_int_eq(vmmem_load(m, 4096, 4, &v, VMMEM_ORDER_ACQUIRE), 0);
	ck_assert_uint_eq(v, 0xCAFEF00Du);

	/* the same without the second region: partly unbacked */
	ck_assert_int_eq(vmmem_load(lone, 4096, 8, &v, VMMEM_ORDER_RELAXED), -EFAULT);
	ck_assert_int_eq(vmmem_store(lone, 4096, 8, 0, VMMEM_ORDER_RELAXED), -EFAULT);
	ck_assert_int_eq(vmmem_load(lone, 8192, 8, &v, VMMEM_ORDER_RELAXED), -EFAULT);
	ck_assert_int_eq(vmmem_store(lone, 8192, 4, 0, VMMEM_ORDER_RELAXED), -EFAULT);
	ck_assert_int_eq(vmmem_load(lone, UINT64_MAX - 7, 8, &v, VMMEM_ORDER_RELAXED),
			 -EFAULT);
	ck_assert_int_eq(vmmem_load(m, 4100 + 4096, 1, &v, VMMEM_ORDER_RELAXED), -EFAULT);
	vmmem_free(lone);
	vmmem_free(m);
}
END_TEST

/* --------------------------------------------------------------- tearing */

#define TEAR_GPA 0x1000ull
#define TEAR_SECS 0.25

enum tear_mode { TEAR_RW, TEAR_LOADSTORE };

struct tear {
	struct vmmem *m;
	size_t size;
	enum tear_mode mode;
	uint64_t pat[2];
	int stop;                     /* atomic */
	unsigned long reads;          /* atomic */
	unsigned long writes;         /* atomic */
	unsigned long torn;           /* atomic */
	unsigned long errors;         /* atomic */
	uint64_t torn_value;
};

struct tear_thread {
	struct tear *t;
	int id;
};

static int do_write(struct tear *t, uint64_t v)
{
	if (t->mode == TEAR_LOADSTORE)
		return vmmem_store(t->m, TEAR_GPA, t->size, v, VMMEM_ORDER_RELAXED);
	switch (t->size) {
	case 2: { uint16_t x = (uint16_t)v;
		return (int)vmmem_write(t->m, TEAR_GPA, &x, 2) == 2 ? 0 : -1; }
	case 4: { uint32_t x = (uint32_t)v;
		return (int)vmmem_write(t->m, TEAR_GPA, &x, 4) == 4 ? 0 : -1; }
	default:
		return (int)vmmem_write(t->m, TEAR_GPA, &v, 8) == 8 ? 0 : -1;
	}
}

static int do_read(struct tear *t, uint64_t *v)
{
	if (t->mode == TEAR_LOADSTORE)
		return vmmem_load(t->m, TEAR_GPA, t->size, v, VMMEM_ORDER_RELAXED);
	switch (t->size) {
	case 2: { uint16_t x;
		if (vmmem_read(t->m, TEAR_GPA, &x, 2) != 2)
			return -1;
		*v = x; return 0; }
	case 4: { uint32_t x;
		if (vmmem_read(t->m, TEAR_GPA, &x, 4) != 4)
			return -1;
		*v = x; return 0; }
	default:
		return vmmem_read(t->m, TEAR_GPA, v, 8) == 8 ? 0 : -1;
	}
}

static void *tear_writer(void *arg)
{
	struct tear_thread *tt = arg;
	struct tear *t = tt->t;
	unsigned long n = 0;

	while (!__atomic_load_n(&t->stop, __ATOMIC_RELAXED)) {
		for (int i = 0; i < 64; i++, n++)
			if (do_write(t, t->pat[(n + (unsigned)tt->id) & 1]))
				__atomic_add_fetch(&t->errors, 1, __ATOMIC_RELAXED);
	}
	__atomic_add_fetch(&t->writes, n, __ATOMIC_RELAXED);
	return NULL;
}

static void *tear_reader(void *arg)
{
	struct tear_thread *tt = arg;
	struct tear *t = tt->t;
	unsigned long n = 0;

	while (!__atomic_load_n(&t->stop, __ATOMIC_RELAXED)) {
		for (int i = 0; i < 64; i++, n++) {
			uint64_t v = 0;

			if (do_read(t, &v)) {
				__atomic_add_fetch(&t->errors, 1, __ATOMIC_RELAXED);
			} else if (v != t->pat[0] && v != t->pat[1]) {
				__atomic_store_n(&t->torn_value, v, __ATOMIC_RELAXED);
				__atomic_add_fetch(&t->torn, 1, __ATOMIC_RELAXED);
			}
		}
	}
	__atomic_add_fetch(&t->reads, n, __ATOMIC_RELAXED);
	return NULL;
}

static void run_tear(size_t size, enum tear_mode mode)
{
	struct tear t = { .size = size, .mode = mode };
	struct tear_thread tt[4];
	pthread_t th[4];
	struct timespec ts = { 0, (long)(TEAR_SECS * 1e9) };

	t.m = one_region();
	t.pat[0] = 0x0123456789abcdefull & mask_of(size);
	t.pat[1] = ~0x0123456789abcdefull & mask_of(size);
	ck_assert_int_eq(do_write(&t, t.pat[0]), 0);
	for (int i = 0; i < 4; i++) {
		tt[i].t = &t;
		tt[i].id = i;
		ck_assert_int_eq(pthread_create(&th[i], NULL,
						i < 2 ? tear_writer : tear_reader,
						&tt[i]), 0);
	}
	nanosleep(&ts, NULL);
	__atomic_store_n(&t.stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	vmmem_free(t.m);

	ck_assert_msg(t.torn == 0, "size %zu mode %d: %lu torn reads (e.g. 0x%llx)",
		      size, (int)mode, t.torn, (unsigned long long)t.torn_value);
	ck_assert_uint_eq(t.errors, 0);
	ck_assert_uint_ge(t.reads, 10000);
	ck_assert_uint_ge(t.writes, 10000);
}

START_TEST(tear_rw)
{
	run_tear(sizes[_i + 1], TEAR_RW);
}
END_TEST

START_TEST(tear_loadstore)
{
	run_tear(sizes[_i + 1], TEAR_LOADSTORE);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("atomic");
	TCase *tc;

	tc = tcase_create("load_store");
	tcase_add_test(tc, load_store_all_orders);
	tcase_add_test(tc, store_truncates_load_zero_extends);
	tcase_add_test(tc, invalid_orders);
	tcase_add_test(tc, invalid_size_and_alignment);
	tcase_add_test(tc, misaligned_host);
	tcase_add_test(tc, unbacked_and_crossing);
	suite_add_tcase(s, tc);

	tc = tcase_create("tearing");
	tcase_set_timeout(tc, 20);
	/* _i = 0, 1, 2: sizes 2, 4, 8 */
	tcase_add_loop_test(tc, tear_rw, 0, 3);
	tcase_add_loop_test(tc, tear_loadstore, 0, 3);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run(suite());
}
