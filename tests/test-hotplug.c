/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Concurrency: accesses from several threads while another thread adds and
 * removes a region, mappings of a region removed under them, and dirty
 * logging switched on and off under running writers. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "testutil.h"

/* Fixed: F0 [0, 0x10000)  F1 [0x10000, 0x20000)  F2 [0x30000, 0x40000).
 * The hot region comes and goes at [0x20000, 0x30000), exactly between F1
 * and F2 (contiguous with both), or sometimes at FAR_GPA. */
#define HOT_GPA  0x20000ull
#define HOT_SIZE 0x10000ull
#define HOT_END  (HOT_GPA + HOT_SIZE)
#define FAR_GPA  0x1000000ull
#define NWORKERS 4
#define AREA     0x100
#define EDGE     0x80

static struct vmmem *mk_fixed(void)
{
	static const uint64_t gpa[] = { 0, 0x10000, 0x30000 };
	static const uint64_t size[] = { 0x10000, 0x10000, 0x10000 };

	return test_space(3, gpa, size);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

static void pattern(uint8_t *buf, size_t len, unsigned id, unsigned long iter)
{
	uint32_t x = (uint32_t)(id * 0x9E3779B1u) ^ (uint32_t)(iter * 0x85EBCA77u);

	if (!x)
		x = 0x2545F491u;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (uint8_t)x;
	}
}

struct shared {
	struct vmmem *m;
	struct vmmem_region *hot;
	int stop;                          /* atomic */
	unsigned long errors;              /* atomic */
	char first_error[160];
	unsigned long fixed_ops;           /* atomic */
	unsigned long hot_ok, hot_fault;   /* atomic */
	unsigned long edge_ok, edge_fault; /* atomic */
	unsigned long cycles;              /* atomic */
};

struct worker {
	struct shared *sh;
	unsigned id;
};

static void note_error(struct shared *sh, const char *what, long got)
{
	if (__atomic_fetch_add(&sh->errors, 1, __ATOMIC_RELAXED) == 0)
		snprintf(sh->first_error, sizeof(sh->first_error), "%s (got %ld)",
			 what, got);
}

static bool stopped(struct shared *sh)
{
	return __atomic_load_n(&sh->stop, __ATOMIC_RELAXED);
}

/* ------------------------------------------------ workers and hotplug */

static const uint64_t fixed_area[NWORKERS] = {
	0xFF80,        /* crosses F0/F1 */
	0x4000,
	0x30100,
	0x18000,
};

static void *worker(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	struct vmmem *m = sh->m;
	const uint64_t fa = fixed_area[w->id];
	const uint64_t ha = HOT_GPA + 0x1000 + w->id * 0x1000;
	/* worker 0: F1 -> hot, worker 1: hot -> F2, others none */
	const uint64_t ea = w->id == 0 ? HOT_GPA - EDGE / 2 : HOT_END - EDGE / 2;
	const bool has_edge = w->id < 2;
	uint8_t pat[AREA], got[AREA], hot_want[AREA], edge_want[EDGE];
	unsigned long fixed_ops = 0, hot_ok = 0, hot_fault = 0;
	unsigned long edge_ok = 0, edge_fault = 0;
	ssize_t n;
	int r;

	memset(hot_want, 0, sizeof(hot_want));   /* a fresh region reads 0 */
	memset(edge_want, 0, sizeof(edge_want));
	for (unsigned long it = 0; !stopped(sh); it++) {
		/* fixed memory: always there, always right */
		pattern(pat, AREA, w->id, it);
		if (it & 1) {
			if ((r = vmmem_write_exact(m, fa, pat, AREA)))
				note_error(sh, "write_exact fixed", r);
			memset(got, 0, AREA);
			if ((r = vmmem_read_exact(m, fa, got, AREA)))
				note_error(sh, "read_exact fixed", r);
		} else {
			if ((n = vmmem_write(m, fa, pat, AREA)) != AREA)
				note_error(sh, "write fixed", n);
			memset(got, 0, AREA);
			if ((n = vmmem_read(m, fa, got, AREA)) != AREA)
				note_error(sh, "read fixed", n);
		}
		if (memcmp(got, pat, AREA))
			note_error(sh, "fixed memory: wrong bytes", (long)w->id);
		fixed_ops++;

		/* hot memory: right bytes or -EFAULT */
		pattern(pat, AREA, w->id + 100, it);
		r = vmmem_write_exact(m, ha, pat, AREA);
		if (r == 0)
			memcpy(hot_want, pat, AREA);
		else if (r != -EFAULT)
			note_error(sh, "write_exact hot", r);
		r = vmmem_read_exact(m, ha, got, AREA);
		if (r == 0) {
			hot_ok++;
			if (memcmp(got, hot_want, AREA))
				note_error(sh, "hot memory: wrong bytes", (long)w->id);
		} else if (r == -EFAULT) {
			hot_fault++;
		} else {
			note_error(sh, "read_exact hot", r);
		}
		n = vmmem_read(m, ha + 8, got, 16);
		if (n == 16) {
			if (memcmp(got, hot_want + 8, 16))
				note_error(sh, "hot memory (read): wrong bytes", (long)w->id);
		} else if (n != -EFAULT) {
			note_error(sh, "read hot", n);
		}

		if (!has_edge)
			continue;
		/* edge: exact, all or nothing */
		pattern(pat, EDGE, w->id + 200, it);
		r = vmmem_write_exact(m, ea, pat, EDGE);
		if (r == 0) {
			memcpy(edge_want, pat, EDGE);
			edge_ok++;
		} else if (r == -EFAULT) {
			edge_fault++;
		} else {
			note_error(sh, "write_exact edge", r);
		}
		/* the fixed half is always readable and was not half-written */
		{
			uint64_t fixed_half = w->id == 0 ? ea : HOT_END;
			const uint8_t *want = w->id == 0 ? edge_want : edge_want + EDGE / 2;

			if ((r = vmmem_read_exact(m, fixed_half, got, EDGE / 2)))
				note_error(sh, "read_exact edge fixed half", r);
			else if (memcmp(got, want, EDGE / 2))
				note_error(sh, "edge fixed half: wrong bytes", (long)w->id);
		}
		r = vmmem_read_exact(m, ea, got, EDGE);
		if (r == 0) {
			if (memcmp(got, edge_want, EDGE))
				note_error(sh, "edge: wrong bytes", (long)w->id);
		} else if (r != -EFAULT) {
			note_error(sh, "read_exact edge", r);
		}
		/* edge: partial, stops at the hole */
		pattern(pat, EDGE, w->id + 300, it);
		n = vmmem_write(m, ea, pat, EDGE);
		if (w->id == 0 && (n == EDGE / 2 || n == EDGE))
			memcpy(edge_want, pat, (size_t)n);
		else if (w->id == 1 && n == EDGE)
			memcpy(edge_want, pat, EDGE);
		else if (!(w->id == 1 && n == -EFAULT))
			note_error(sh, "write edge", n);
		memset(got, 0, EDGE);
		n = vmmem_read(m, ea, got, EDGE);
		if (w->id == 0 && (n == EDGE / 2 || n == EDGE)) {
			if (memcmp(got, edge_want, (size_t)n))
				note_error(sh, "edge (read): wrong bytes", (long)n);
		} else if (w->id == 1 && n == EDGE) {
			if (memcmp(got, edge_want, EDGE))
				note_error(sh, "edge (read): wrong bytes", (long)n);
		} else if (!(w->id == 1 && n == -EFAULT)) {
			note_error(sh, "read edge", n);
		}
	}
	__atomic_add_fetch(&sh->fixed_ops, fixed_ops, __ATOMIC_RELAXED);
	__atomic_add_fetch(&sh->hot_ok, hot_ok, __ATOMIC_RELAXED);
	__atomic_add_fetch(&sh->hot_fault, hot_fault, __ATOMIC_RELAXED);
	__atomic_add_fetch(&sh->edge_ok, edge_ok, __ATOMIC_RELAXED);
	__atomic_add_fetch(&sh->edge_fault, edge_fault, __ATOMIC_RELAXED);
	return NULL;
}

/* Adds and removes the same region object: its memory, and so what the
 * workers wrote, persists across cycles. */
static void *hotplugger(void *arg)
{
	struct shared *sh = arg;
	unsigned long cycles = 0;
	int r;

	while (!stopped(sh)) {
		uint64_t gpa = (cycles % 4 == 3) ? FAR_GPA : HOT_GPA;

		if ((r = vmmem_add_region(sh->m, gpa, sh->hot)))
			note_error(sh, "add_region", r);
		sleep_us(300);
		if ((r = vmmem_remove_region(sh->m, gpa, HOT_SIZE, NULL)))
			note_error(sh, "remove_region", r);
		sleep_us(200);
		cycles++;
		__atomic_add_fetch(&sh->cycles, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

START_TEST(hotplug_under_access)
{
	struct shared sh = { 0 };
	struct worker w[NWORKERS];
	pthread_t th[NWORKERS + 1];
	double t0 = now();

	sh.m = mk_fixed();
	sh.hot = test_region(HOT_SIZE);
	for (unsigned i = 0; i < NWORKERS; i++) {
		w[i].sh = &sh;
		w[i].id = i;
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker, &w[i]), 0);
	}
	ck_assert_int_eq(pthread_create(&th[NWORKERS], NULL, hotplugger, &sh), 0);
	/* Two seconds, or longer until 50 hotplug cycles have been done:
	 * valgrind runs one thread at a time, and the sleeping hotplugger
	 * may get few turns (once 10 cycles in 2 s). */
	while (now() - t0 < 2.0 ||
	       (__atomic_load_n(&sh.cycles, __ATOMIC_RELAXED) < 50 &&
		now() - t0 < 60.0))
		sleep_us(20000);
	__atomic_store_n(&sh.stop, 1, __ATOMIC_RELAXED);
	for (unsigned i = 0; i <= NWORKERS; i++)
		pthread_join(th[i], NULL);

	ck_assert_msg(sh.errors == 0, "%lu errors, first: %s", sh.errors,
		      sh.first_error);
	ck_assert_uint_ge(sh.fixed_ops, 2000);
	ck_assert_uint_ge(sh.cycles, 50);
	/* the hot region was seen both present and absent */
	ck_assert_uint_gt(sh.hot_ok, 0);
	ck_assert_uint_gt(sh.hot_fault, 0);
	ck_assert_uint_gt(sh.edge_ok, 0);
	ck_assert_uint_gt(sh.edge_fault, 0);
	/* the hot region is out; the fixed ones are intact */
	ck_assert_int_eq(vmmem_num_regions(sh.m), 3);
	ck_assert_int_eq(vmmem_check_range(sh.m, 0, HOT_GPA), 0);
	ck_assert_int_eq(vmmem_check_range(sh.m, HOT_GPA, 1), -EFAULT);
	vmmem_region_unref(sh.hot);
	vmmem_free(sh.m);
}
END_TEST

/* --------------------------------------- mapping of a region removed */

struct mapper {
	struct shared *sh;
	void *host;
	uint64_t len;
	int mapped;                  /* atomic */
	unsigned long writes;        /* atomic */
};

static void *map_writer(void *arg)
{
	struct mapper *mp = arg;
	struct shared *sh = mp->sh;
	uint8_t *p;
	int r;

	mp->len = 0x1000;
	r = vmmem_map(sh->m, HOT_GPA + 0x100, &mp->len,
		      VMMEM_MAP_READ | VMMEM_MAP_WRITE, &mp->host);
	if (r || mp->len != 0x1000) {
		note_error(sh, "map", r);
		__atomic_store_n(&mp->mapped, -1, __ATOMIC_RELEASE);
		return NULL;
	}
	__atomic_store_n(&mp->mapped, 1, __ATOMIC_RELEASE);
	p = mp->host;
	for (unsigned long it = 0; !stopped(sh); it++) {
		uint8_t v = (uint8_t)(it * 7 + 1);

		memset(p, v, mp->len);
		for (uint64_t i = 0; i < mp->len; i += 61)
			if (p[i] != v)
				note_error(sh, "mapping: wrong byte", (long)i);
		__atomic_add_fetch(&mp->writes, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Until both threads have done `more` more operations each (bounded: 20 s
 * at most).  Progress, not time: under valgrind, which runs one thread at
 * a time on a loaded machine, 50 ms once gave the reader no turn at all. */
static void wait_progress(struct shared *sh, struct mapper *mp,
			  unsigned long more)
{
	unsigned long ops = __atomic_load_n(&sh->fixed_ops, __ATOMIC_RELAXED);
	unsigned long writes = __atomic_load_n(&mp->writes, __ATOMIC_RELAXED);
	double end = now() + 20;

	while (now() < end &&
	       (__atomic_load_n(&sh->fixed_ops, __ATOMIC_RELAXED) < ops + more ||
		__atomic_load_n(&mp->writes, __ATOMIC_RELAXED) < writes + more))
		sleep_us(1000);
}

/* Accesses by GPA while the region goes: old bytes or -EFAULT or, once a
 * new region is placed there, that region's bytes, never anything else. */
static void *gpa_reader(void *arg)
{
	struct shared *sh = arg;

	while (!stopped(sh)) {
		uint8_t b[64];
		int r = vmmem_read_exact(sh->m, HOT_GPA + 0x2000, b, sizeof(b));

		if (r == 0) {
			for (size_t i = 0; i < sizeof(b); i++)
				if (b[i] != 0x11 && b[i] != 0x22)
					note_error(sh, "gpa reader: wrong byte", b[i]);
		} else if (r != -EFAULT) {
			note_error(sh, "gpa reader", r);
		}
		__atomic_add_fetch(&sh->fixed_ops, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

START_TEST(map_survives_concurrent_remove)
{
	struct shared sh = { 0 };
	struct mapper mp = { .sh = &sh };
	struct test_release_log log = { 0 };
	struct vmmem_region *r, *repl;
	pthread_t tw, tr;
	void *mem;
	uint8_t b[4];

	sh.m = mk_fixed();
	r = test_raw_region(HOT_SIZE, &log, &mem);
	ck_assert_int_eq(vmmem_add_region(sh.m, HOT_GPA, r), 0);
	vmmem_region_unref(r);
	ck_assert_int_eq(vmmem_fill(sh.m, HOT_GPA + 0x2000, 0x11, 64), 0);

	ck_assert_int_eq(pthread_create(&tw, NULL, map_writer, &mp), 0);
	ck_assert_int_eq(pthread_create(&tr, NULL, gpa_reader, &sh), 0);
	while (!__atomic_load_n(&mp.mapped, __ATOMIC_ACQUIRE))
		sleep_us(1000);
	ck_assert_int_eq(mp.mapped, 1);
	wait_progress(&sh, &mp, 10);
	ck_assert_int_eq(vmmem_remove_region(sh.m, HOT_GPA, HOT_SIZE, NULL), 0);
	wait_progress(&sh, &mp, 10);
	/* a different region at the same place */
	repl = test_region(HOT_SIZE);
	{
		void *rh = NULL;

		/* its bytes are set before it becomes visible to the reader */
		ck_assert_int_eq(vmmem_region_host_address(repl, &rh), 0);
		memset((uint8_t *)rh + 0x2000, 0x22, 64);
	}
	ck_assert_int_eq(vmmem_add_region(sh.m, HOT_GPA, repl), 0);
	vmmem_region_unref(repl);
	ck_assert_int_eq(vmmem_fill(sh.m, HOT_GPA + 0x100, 0xEE, 0x1000), 0);
	wait_progress(&sh, &mp, 1000);
	__atomic_store_n(&sh.stop, 1, __ATOMIC_RELAXED);
	pthread_join(tw, NULL);
	pthread_join(tr, NULL);

	ck_assert_msg(sh.errors == 0, "%lu errors, first: %s", sh.errors,
		      sh.first_error);
	ck_assert_uint_ge(mp.writes, 20);
	ck_assert_uint_ge(sh.fixed_ops, 1000);
	/* the mapping never saw the new region's bytes, nor it the mapping's */
	ck_assert_ptr_eq(mp.host, (uint8_t *)mem + 0x100);
	ck_assert_int_eq(vmmem_read_exact(sh.m, HOT_GPA + 0x100, b, 4), 0);
	ck_assert_uint_eq(b[0], 0xEE);
	ck_assert_uint_eq(b[3], 0xEE);
	ck_assert_int_eq(__atomic_load_n(&log.calls, __ATOMIC_RELAXED), 0);
	((uint8_t *)mp.host)[0] = 0x5A;
	ck_assert_int_eq(vmmem_unmap(sh.m, mp.host, mp.len), 0);
	vmmem_free(sh.m);
	ck_assert_int_eq(__atomic_load_n(&log.calls, __ATOMIC_RELAXED), 1);
	ck_assert_uint_eq(((uint8_t *)mem)[0x100], 0x5A);
	munmap(mem, HOT_SIZE);
}
END_TEST

/* ------------------------------------- dirty start/stop under writers */

static void *dirty_writer(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	const uint64_t fa = fixed_area[w->id];
	uint8_t pat[AREA], got[AREA];
	int r;

	for (unsigned long it = 0; !stopped(sh); it++) {
		pattern(pat, AREA, w->id, it);
		if ((r = vmmem_write_exact(sh->m, fa, pat, AREA)))
			note_error(sh, "write_exact", r);
		/* the areas are 8-byte aligned; the stored value is 8 bytes
		 * whatever the size of unsigned long */
		const uint64_t stored = it;

		if ((r = vmmem_store(sh->m, fa, 8, stored, VMMEM_ORDER_RELEASE)))
			note_error(sh, "store", r);
		memcpy(pat, &stored, sizeof(stored));
		if ((r = vmmem_read_exact(sh->m, fa, got, AREA)))
			note_error(sh, "read_exact", r);
		if (memcmp(got, pat, AREA))
			note_error(sh, "dirty writer: wrong bytes", (long)w->id);
		if ((r = vmmem_fill(sh->m, fa + AREA, (int)w->id, 16)))
			note_error(sh, "fill", r);
		__atomic_add_fetch(&sh->fixed_ops, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

START_TEST(dirty_start_stop_under_writers)
{
	struct shared sh = { 0 };
	struct worker w[3];
	pthread_t th[4];
	unsigned long found = 0;
	static uint64_t bm[(0x40000 / 4096 + 63) / 64];

	sh.m = mk_fixed();
	sh.hot = test_region(HOT_SIZE);
	for (unsigned i = 0; i < 3; i++) {
		w[i].sh = &sh;
		w[i].id = i;
		ck_assert_int_eq(pthread_create(&th[i], NULL, dirty_writer, &w[i]), 0);
	}
	ck_assert_int_eq(pthread_create(&th[3], NULL, hotplugger, &sh), 0);
	for (int cycle = 0; cycle < 12; cycle++) {
		uint64_t ps = cycle % 3 == 2 ? 2 * MIB : 4096;
		int r;

		ck_assert_int_eq(vmmem_dirty_start(sh.m, ps), 0);
		sleep_us(10000);
		if (ps == 4096) {
			r = vmmem_dirty_harvest(sh.m, 0, 0x40000, bm);
			ck_assert_int_ge(r, 0);
			found += (unsigned long)r;
		} else {
			r = vmmem_dirty_harvest(sh.m, 0, 2 * MIB, bm);
			ck_assert_int_ge(r, 0);
			ck_assert_int_le(r, 1);
		}
		ck_assert_int_eq(vmmem_dirty_stop(sh.m), 0);
		sleep_us(2000);
	}
	/* The threads' share of the run, however few turns valgrind gave
	 * them (bounded: 60 s). */
	for (double end = now() + 60;
	     now() < end &&
	     (__atomic_load_n(&sh.fixed_ops, __ATOMIC_RELAXED) < 500 ||
	      __atomic_load_n(&sh.cycles, __ATOMIC_RELAXED) < 10);)
		sleep_us(2000);
	__atomic_store_n(&sh.stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);

	ck_assert_msg(sh.errors == 0, "%lu errors, first: %s", sh.errors,
		      sh.first_error);
	ck_assert_uint_ge(sh.fixed_ops, 500);
	ck_assert_uint_ge(found, 1);
	ck_assert_uint_ge(sh.cycles, 10);
	/* logging still works afterwards */
	ck_assert_int_eq(vmmem_dirty_start(sh.m, 0), 0);
	ck_assert_int_eq(vmmem_dirty_test(sh.m, 0x4000), 0);
	ck_assert_int_eq(vmmem_write(sh.m, 0x4000, "x", 1), 1);
	ck_assert_int_eq(vmmem_dirty_test(sh.m, 0x4000), 1);
	ck_assert_int_eq(vmmem_dirty_stop(sh.m), 0);
	vmmem_region_unref(sh.hot);
	vmmem_free(sh.m);
}
END_TEST

/* Old tables are released by the library's reclaim thread, which a forked
 * child does not inherit: a child must still be able to go on hotplugging
 * and free its address space, its releases done, without hanging. */
START_TEST(fork_after_hotplug)
{
	struct vmmem_region *r = test_region(4096);
	struct vmmem *m = NULL;
	int status = -1;
	pid_t pid;

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(vmmem_add_region(m, 0, r), 0);
		ck_assert_int_eq(vmmem_remove_region(m, 0, 4096, NULL), 0);
	}
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int ok = 1;

		alarm(10);              /* a hang fails the test */
		for (int i = 0; i < 20; i++)
			ok &= vmmem_add_region(m, 0, r) == 0 &&
			      vmmem_remove_region(m, 0, 4096, NULL) == 0;
		vmmem_free(m);
		vmmem_region_unref(r);
		_exit(ok ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "child status 0x%x", status);
	vmmem_free(m);
	vmmem_region_unref(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("hotplug");
	TCase *tc;

	tc = tcase_create("concurrency");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, hotplug_under_access);
	tcase_add_test(tc, map_survives_concurrent_remove);
	tcase_add_test(tc, dirty_start_stop_under_writers);
	tcase_add_test(tc, fork_after_hotplug);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run(suite());
}
