/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The dirty log under concurrency, checked the way live migration uses it:
 * start logging, copy all memory, then harvest and copy the dirty pages
 * until the writers stop; the copy must then equal the source.  Every
 * write stamps its pages with a value never written before, so a page the
 * log lost shows as a stale page in the copy.
 *
 * start_under_writers: writers run while logging starts (a write that
 *   started before vmmem_dirty_start() returned must be logged or done).
 * hotplug_keeps_bits: regions are removed and placed back at the same GPA
 *   while writers run (a write in flight during a removal must be logged).
 * Both are bounded in rounds and time. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

/* ThreadSanitizer: the writers copy into the same guest pages at once and
 * the migration copies them while they do, on purpose, as a guest and a
 * migration thread do: the guest bytes are marked (TEST_GUEST_RACES_OK). */
#define PS 4096ull
#define NWRITERS 2
#define CHUNK_PAGES 32                 /* pages per write */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The guest: nregions regions of region_pages pages each, placed back to
 * back from GPA 0; the source of truth is the regions' own memory. */
struct guest {
	struct vmmem *m;
	struct vmmem_region *r[4];
	uint8_t *host[4];
	size_t nregions;
	uint64_t region_pages;
	uint64_t pages;
	int stop;                          /* atomic */
	unsigned long stamp;               /* atomic: next stamp */
	unsigned long writes;              /* atomic: writes that landed */
	unsigned long cycles;              /* atomic: hotplug cycles */
};

static void guest_init(struct guest *g, size_t nregions, uint64_t region_pages)
{
	memset(g, 0, sizeof(*g));
	ck_assert_int_eq(vmmem_new(&g->m, 0), 0);
	g->nregions = nregions;
	g->region_pages = region_pages;
	g->pages = nregions * region_pages;
	for (size_t i = 0; i < nregions; i++) {
		g->r[i] = test_region(region_pages * PS);
		g->host[i] = test_region_host(g->r[i]);
		TEST_GUEST_RACES_OK(g->host[i], region_pages * PS,
				    "guest memory (test-dirty-race)");
		ck_assert_int_eq(vmmem_add_region(g->m, i * region_pages * PS,
						  g->r[i]), 0);
	}
}

static void guest_fini(struct guest *g)
{
	for (size_t i = 0; i < g->nregions; i++)
		vmmem_region_unref(g->r[i]);
	vmmem_free(g->m);
}

static const uint8_t *guest_page(const struct guest *g, uint64_t page)
{
	return g->host[page / g->region_pages] +
	       (page % g->region_pages) * PS;
}

/* Writes CHUNK_PAGES pages inside one region, each word the same stamp. */
static void *writer(void *arg)
{
	struct guest *g = arg;
	static __thread uint64_t buf[CHUNK_PAGES * PS / 8];
	unsigned int seed = (unsigned int)(uintptr_t)&seed;

	while (!__atomic_load_n(&g->stop, __ATOMIC_RELAXED)) {
		uint64_t stamp = __atomic_add_fetch(&g->stamp, 1, __ATOMIC_RELAXED);
		uint64_t region = (uint64_t)rand_r(&seed) % g->nregions;
		uint64_t page = region * g->region_pages +
				(uint64_t)rand_r(&seed) %
				(g->region_pages - CHUNK_PAGES + 1);

		for (size_t i = 0; i < sizeof(buf) / 8; i++)
			buf[i] = stamp;
		if (vmmem_write(g->m, page * PS, buf, sizeof(buf)) > 0)
			__atomic_add_fetch(&g->writes, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Removes a region and places it back at the same GPA, again and again. */
static void *hotplugger(void *arg)
{
	struct guest *g = arg;
	unsigned int seed = 7;

	while (!__atomic_load_n(&g->stop, __ATOMIC_RELAXED)) {
		size_t i = (size_t)rand_r(&seed) % g->nregions;
		uint64_t gpa = i * g->region_pages * PS;

		ck_assert_int_eq(vmmem_remove_region(g->m, gpa,
						     g->region_pages * PS, NULL), 0);
		ck_assert_int_eq(vmmem_add_region(g->m, gpa, g->r[i]), 0);
		__atomic_add_fetch(&g->cycles, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void copy_pages(const struct guest *g, uint8_t *dst, uint64_t first,
		       uint64_t n)
{
	for (uint64_t p = first; p < first + n; p++)
		memcpy(dst + p * PS, guest_page(g, p), PS);
}

/* One harvest of the whole guest, the dirty pages copied; how many. */
static uint64_t harvest_copy(struct guest *g, uint8_t *dst, uint64_t *bm)
{
	int n = vmmem_dirty_harvest(g->m, 0, g->pages * PS, bm);

	ck_assert_int_ge(n, 0);
	for (uint64_t p = 0; p < g->pages; p++)
		if (bm[p / 64] & (1ull << (p % 64)))
			copy_pages(g, dst, p, 1);
	return (uint64_t)n;
}

/* A migration with writers (and, if hotplug, a hotplugger) running from
 * before logging starts until a few harvests later; returns the pages of
 * the copy that differ from the source at the end. */
static uint64_t migrate_once(struct guest *g, bool hotplug)
{
	uint8_t *dst = malloc(g->pages * PS);
	uint64_t *bm = calloc(g->pages / 64 + 1, 8);
	pthread_t th[NWRITERS + 1];
	unsigned int nthreads = NWRITERS + (hotplug ? 1 : 0);
	uint64_t stale = 0;

	ck_assert_ptr_nonnull(dst);
	ck_assert_ptr_nonnull(bm);
	__atomic_store_n(&g->stop, 0, __ATOMIC_RELAXED);
	for (unsigned int i = 0; i < NWRITERS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, writer, g), 0);
	if (hotplug)
		ck_assert_int_eq(pthread_create(&th[NWRITERS], NULL,
						hotplugger, g), 0);
	/* let the writers get going */
	for (unsigned long w0 = __atomic_load_n(&g->writes, __ATOMIC_RELAXED);
	     __atomic_load_n(&g->writes, __ATOMIC_RELAXED) < w0 + 8;)
		sched_yield();
	ck_assert_int_eq(vmmem_dirty_start(g->m, PS), 0);
	copy_pages(g, dst, 0, g->pages);
	for (int round = 0; round < 3; round++)
		harvest_copy(g, dst, bm);
	__atomic_store_n(&g->stop, 1, __ATOMIC_RELAXED);
	for (unsigned int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	/* Every region is placed again: the hotplugger adds back what it
	 * removed before it looks at the stop flag. */
	ck_assert_int_eq(vmmem_num_regions(g->m), (int)g->nregions);
	harvest_copy(g, dst, bm);
	for (uint64_t p = 0; p < g->pages; p++)
		if (memcmp(dst + p * PS, guest_page(g, p), PS))
			stale++;
	ck_assert_int_eq(vmmem_dirty_stop(g->m), 0);
	free(bm);
	free(dst);
	return stale;
}

static void run_migrations(size_t nregions, uint64_t region_pages,
			   bool hotplug)
{
	struct guest g;
	uint64_t stale = 0, runs = 0, bad_runs = 0;
	double t0 = now();

	guest_init(&g, nregions, region_pages);
	/* 1.5 s or 40 runs, whichever comes first; at least 3 runs. */
	while (runs < 3 || (runs < 40 && now() - t0 < 1.5)) {
		uint64_t s = migrate_once(&g, hotplug);

		stale += s;
		bad_runs += s != 0;
		runs++;
	}
	ck_assert_msg(stale == 0,
		      "%llu stale pages of %llu in %llu of %llu runs "
		      "(%lu writes, %lu hotplug cycles)",
		      (unsigned long long)stale,
		      (unsigned long long)g.pages, (unsigned long long)bad_runs,
		      (unsigned long long)runs, g.writes, g.cycles);
	if (hotplug)
		ck_assert_uint_gt(g.cycles, 0);
	guest_fini(&g);
}

START_TEST(start_under_writers)
{
	run_migrations(1, 4096, false);
}
END_TEST

START_TEST(hotplug_keeps_bits)
{
	run_migrations(4, 256, true);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dirty-race");
	TCase *tc = tcase_create("migration");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, start_under_writers);
	tcase_add_test(tc, hotplug_keeps_bits);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run(suite());
}
