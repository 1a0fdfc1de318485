/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Exact accesses by IOVA are all or nothing under hotplug: a range that
 * spans two IOTLB entries backed by two regions is written, read or filled
 * while another thread removes the second region and adds it back.  Every
 * call must either move every byte or none. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

/* Region A at GPA 0, region B right after it; IOVA [IOVA, IOVA + LEN) maps
 * the second half of A through one entry and the first half of B through
 * another, so the access is two pieces in two regions. */
#define REGION  (64 * KIB)
#define A_GPA   0ull
#define B_GPA   REGION
#define HALF    (REGION / 2)
#define LEN     (2 * HALF)
#define IOVA    0x100000ull
#define RW      (VMMEM_PERM_READ | VMMEM_PERM_WRITE)

struct plug {
	struct vmmem *m;
	struct vmmem_region *b;
	int stop;
	long cycles;
};

/* Removes B and adds it back, as fast as it can. */
static void *plug_loop(void *arg)
{
	struct plug *p = arg;

	while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
		ck_assert_int_eq(vmmem_remove_region(p->m, B_GPA, REGION, NULL), 0);
		ck_assert_int_eq(vmmem_add_region(p->m, B_GPA, p->b), 0);
		__atomic_fetch_add(&p->cycles, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

enum op { OP_WRITE, OP_FILL, OP_READ };

struct fixture {
	struct vmmem *m;
	struct vmmem_iommu *io;
	struct plug plug;
	pthread_t th;
	uint8_t *a, *b;               /* host bytes of the range in A and B */
};

static void setup(struct fixture *f)
{
	struct vmmem_region *a = test_region(REGION);

	f->plug.b = test_region(REGION);
	ck_assert_int_eq(vmmem_new(&f->m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(f->m, A_GPA, a), 0);
	ck_assert_int_eq(vmmem_add_region(f->m, B_GPA, f->plug.b), 0);
	f->a = (uint8_t *)test_region_host(a) + HALF;
	f->b = test_region_host(f->plug.b);
	vmmem_region_unref(a);
	ck_assert_int_eq(vmmem_iommu_new(&f->io, f->m, NULL), 0);
	ck_assert_int_eq(vmmem_iommu_update(f->io, IOVA, HALF, A_GPA + HALF, RW), 0);
	ck_assert_int_eq(vmmem_iommu_update(f->io, IOVA + HALF, HALF, B_GPA, RW), 0);
	f->plug.m = f->m;
	ck_assert_int_eq(pthread_create(&f->th, NULL, plug_loop, &f->plug), 0);
}

static void teardown(struct fixture *f)
{
	__atomic_store_n(&f->plug.stop, 1, __ATOMIC_RELEASE);
	ck_assert_int_eq(pthread_join(f->th, NULL), 0);
	vmmem_iommu_free(f->io);
	vmmem_free(f->m);
	vmmem_region_unref(f->plug.b);
}

/* One exact access with byte `v`: a write or fill stores v everywhere, a
 * read (of memory holding `v`) into a buffer holding `sentinel`. */
static int access_once(struct fixture *f, enum op op, uint8_t v,
		       uint8_t *buf, uint8_t sentinel)
{
	switch (op) {
	case OP_WRITE:
		memset(buf, v, LEN);
		return vmmem_iommu_write_exact(f->io, IOVA, buf, LEN);
	case OP_FILL:
		return vmmem_iommu_fill(f->io, IOVA, v, LEN);
	default:
		memset(buf, sentinel, LEN);
		return vmmem_iommu_read_exact(f->io, IOVA, buf, LEN);
	}
}

/* Runs accesses while B comes and goes, for at most 3 s or `max` calls;
 * each outcome is checked whole. */
static void all_or_nothing(enum op op)
{
	static uint8_t buf[LEN];
	struct fixture f = { 0 };
	uint8_t held = 0;             /* what A and B hold now */
	long ok = 0, refused = 0, torn = 0;
	int max = test_under_valgrind() ? 200 : 200000;
	time_t end = time(NULL) + 3;

	setup(&f);
	memset(f.a, held, HALF);
	memset(f.b, held, HALF);
	for (int i = 1; i <= max && !torn; i++) {
		uint8_t v = op == OP_READ ? held : (uint8_t)(i % 251 + 1);
		int ret = access_once(&f, op, v, buf, 0xEE);

		ck_assert_msg(ret == 0 || ret == -EFAULT, "ret %d", ret);
		if (ret == 0)
			held = v, ok++;
		else
			refused++;
		if (op == OP_READ)
			torn += !test_all_bytes(buf, ret ? 0xEE : held, LEN);
		else
			torn += !test_all_bytes(f.a, held, HALF) ||
				!test_all_bytes(f.b, held, HALF);
		if (torn)
			ck_abort_msg("%s returned %d after moving part of the "
				     "range (A starts 0x%02x, B 0x%02x, want "
				     "0x%02x; %ld ok, %ld refused before)",
				     op == OP_READ ? "read_exact" :
				     op == OP_WRITE ? "write_exact" : "fill",
				     ret, op == OP_READ ? buf[0] : f.a[0],
				     op == OP_READ ? buf[LEN - 1] : f.b[0],
				     op == OP_READ ? (ret ? 0xEE : held) : held,
				     ok, refused);
		if (time(NULL) >= end)
			break;
	}
	teardown(&f);
}

START_TEST(write_exact_under_hotplug)
{
	all_or_nothing(OP_WRITE);
}
END_TEST

START_TEST(fill_under_hotplug)
{
	all_or_nothing(OP_FILL);
}
END_TEST

START_TEST(read_exact_under_hotplug)
{
	all_or_nothing(OP_READ);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("iommu-hotplug");
	TCase *tc = tcase_create("exact");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, write_exact_under_hotplug);
	tcase_add_test(tc, fill_under_hotplug);
	tcase_add_test(tc, read_exact_under_hotplug);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run(suite());
}
