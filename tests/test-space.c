/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* struct vmmem: creation, building from ranges, adding and removing regions
 * and the queries on the region table. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testutil.h"

#define GIB (1ull << 30)
#define TOP UINT64_MAX

/* ------------------------------------------------------------ helpers */

/* The region holding gpa, as a new reference, and gpa's offset in it. */
static struct vmmem_region *region_at(struct vmmem *m, uint64_t gpa,
				      uint64_t *offset)
{
	struct vmmem_region *r = NULL;

	ck_assert_int_eq(vmmem_find_region(m, gpa, &r, offset), 0);
	ck_assert_ptr_nonnull(r);
	return r;
}

static uint64_t size_of(const struct vmmem_region *r)
{
	uint64_t size = 0;

	ck_assert_int_eq(vmmem_region_size(r, &size), 0);
	return size;
}

/* Records what vmmem_foreach_region() visits. */
struct visit {
	int n;
	uint64_t gpa[16];
	struct vmmem_region *region[16];
	uint64_t size[16];
	int stop_at;            /* return stop_ret at this visit (1-based) */
	int stop_ret;
	struct vmmem *mem;      /* for the callbacks that modify it */
};

static int record(uint64_t gpa, struct vmmem_region *r, void *opaque)
{
	struct visit *v = opaque;

	ck_assert_int_lt(v->n, 16);
	v->gpa[v->n] = gpa;
	v->region[v->n] = r;
	v->size[v->n] = size_of(r);
	v->n++;
	return v->n == v->stop_at ? v->stop_ret : 0;
}

/* Warms up whatever the library and libc allocate once per process (RCU
 * registration, stdio), so counting mappings afterwards is meaningful. */
static void warm_up(void)
{
	const struct vmmem_range rg = { .gpa = 0, .size = 64 * KIB, .fd = -1 };
	struct vmmem *m = NULL;

	ck_assert_int_eq(vmmem_new_from_ranges(&m, &rg, 1, NULL), 0);
	ck_assert_int_eq(vmmem_check_range(m, 0, 1), 0);
	vmmem_free(m);
	test_count_maps();
	test_count_fds();
}

/* ---------------------------------------------------------- vmmem_new */

static int never_called(uint64_t gpa, struct vmmem_region *r, void *opaque)
{
	ck_abort_msg("callback on an empty vmmem");
	return -1;
}

START_TEST(new_empty)
{
	struct vmmem *m = NULL;
	struct vmmem_region *r = NULL;
	uint64_t last = 1234, off = 5;

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(vmmem_num_regions(m), 0);
	ck_assert_int_eq(vmmem_last_addr(m, &last), -ENOENT);
	ck_assert_int_eq(vmmem_check_range(m, 0, 1), -EFAULT);
	ck_assert_int_eq(vmmem_check_range(m, 0, 0), 0);
	ck_assert_int_eq(vmmem_find_region(m, 0, &r, &off), -EFAULT);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(vmmem_foreach_region(m, never_called, NULL), 0);
	ck_assert_int_eq(vmmem_remove_region(m, 0, 4096, NULL), -ENOENT);
	vmmem_free(m);
}
END_TEST

START_TEST(new_bad_args)
{
	struct vmmem *m = NULL;

	ck_assert_int_eq(vmmem_new(&m, 1), -EINVAL);
	ck_assert_int_eq(vmmem_new(&m, 1u << 31), -EINVAL);
	ck_assert_int_eq(vmmem_new(&m, ~0u), -EINVAL);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(vmmem_new(NULL, 0), -EINVAL);
	vmmem_free(NULL);
}
END_TEST

START_TEST(null_mem)
{
	struct vmmem_region *r = test_region(4096), *got = NULL;
	struct vmmem *m = NULL;
	uint64_t last;
	struct visit v = { 0 };

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_num_regions(NULL), -EINVAL);
	ck_assert_int_eq(vmmem_last_addr(NULL, &last), -EINVAL);
	ck_assert_int_eq(vmmem_add_region(m, 0, r), 0);
	ck_assert_int_eq(vmmem_last_addr(m, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_check_range(NULL, 0, 1), -EINVAL);
	ck_assert_int_eq(vmmem_find_region(NULL, 0, &got, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_foreach_region(NULL, record, &v), -EINVAL);
	ck_assert_int_eq(v.n, 0);
	ck_assert_int_eq(vmmem_add_region(NULL, 0, r), -EINVAL);
	ck_assert_int_eq(vmmem_add_region(m, 1 << 20, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_remove_region(NULL, 0, 4096, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_num_regions(m), 1);
	vmmem_region_unref(r);
	vmmem_free(m);
}
END_TEST

/* ---------------------------------------------- vmmem_new_from_ranges */

START_TEST(ranges_anonymous)
{
	const struct vmmem_range rg[] = {
		{ .gpa = 0, .size = MIB, .fd = -1 },
		{ .gpa = 4 * GIB, .size = 2 * MIB, .fd = -1 },
	};
	struct vmmem_region *r;
	struct vmmem *m = NULL;
	unsigned int flags = 99;
	uint64_t off = 0, last = 0;
	unsigned char *h;

	ck_assert_int_eq(vmmem_new_from_ranges(&m, rg, 2, NULL), 0);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(vmmem_num_regions(m), 2);
	ck_assert_int_eq(vmmem_last_addr(m, &last), 0);
	ck_assert_uint_eq(last, 4 * GIB + 2 * MIB - 1);
	ck_assert_int_eq(vmmem_check_range(m, 0, MIB), 0);
	ck_assert_int_eq(vmmem_check_range(m, 4 * GIB, 2 * MIB), 0);
	ck_assert_int_eq(vmmem_check_range(m, MIB, 1), -EFAULT);

	r = region_at(m, 4 * GIB + 5, &off);
	ck_assert_uint_eq(off, 5);
	ck_assert_uint_eq(size_of(r), 2 * MIB);
	ck_assert_int_eq(vmmem_region_flags(r, &flags), 0);
	ck_assert_uint_eq(flags, 0);
	ck_assert_int_eq(vmmem_region_fd(r, NULL), -ENOENT);
	h = test_region_host(r);
	ck_assert(test_all_bytes(h, 0, 4096));
	vmmem_region_unref(r);

	r = region_at(m, 0, &off);
	ck_assert_uint_eq(off, 0);
	ck_assert_uint_eq(size_of(r), MIB);
	vmmem_region_unref(r);
	vmmem_free(m);
}
END_TEST

START_TEST(ranges_files)
{
	int fa = test_filled_memfd(MIB, 'A');
	int fb = test_filled_memfd(256 * KIB, 'B');
	const struct vmmem_range rg[] = {
		{ .gpa = 0x100000, .size = 64 * KIB, .fd = fa,
		  .offset = 128 * KIB },
		{ .gpa = 0, .size = 64 * KIB, .fd = fb, .offset = 0 },
		{ .gpa = 0x200000, .size = 64 * KIB, .fd = -1 },
	};
	struct vmmem_region *r;
	struct vmmem *m = NULL;
	unsigned int flags = 0;
	uint64_t off = 0;
	unsigned char *h;
	char buf[8];
	int rfd;

	ck_assert_int_eq(vmmem_new_from_ranges(&m, rg, 3, NULL), 0);
	ck_assert_int_eq(vmmem_num_regions(m), 3);

	/* The region of the first range: fa at 128 KiB (duplicated). */
	r = region_at(m, 0x100000, NULL);
	rfd = vmmem_region_fd(r, &off);
	ck_assert_int_ge(rfd, 0);
	ck_assert_int_ne(rfd, fa);
	ck_assert_uint_eq(off, 128 * KIB);
	ck_assert_int_eq(vmmem_region_flags(r, &flags), 0);
	ck_assert_uint_eq(flags, VMMEM_REGION_FD);
	h = test_region_host(r);
	ck_assert(test_all_bytes(h, 'A', 64 * KIB));
	vmmem_region_unref(r);

	/* Our own fds may go: the regions hold theirs. */
	close(fa);
	fa = -1;

	/* Guest writes land in the file, at the range's offset... */
	memcpy(h + 10, "xyz", 3);
	r = region_at(m, 0x100000, NULL);
	ck_assert_int_eq(pread(vmmem_region_fd(r, NULL), buf, 3,
			       128 * KIB + 10), 3);
	ck_assert_mem_eq(buf, "xyz", 3);
	vmmem_region_unref(r);
	ck_assert_int_eq(vmmem_write_exact(m, 0x100000 + 100, "pqrs", 4), 0);
	r = region_at(m, 0x100000, NULL);
	ck_assert_int_eq(pread(vmmem_region_fd(r, NULL), buf, 4,
			       128 * KIB + 100), 4);
	ck_assert_mem_eq(buf, "pqrs", 4);
	vmmem_region_unref(r);

	/* ... and file writes are seen by the guest. */
	ck_assert_int_eq(pwrite(fb, "qq", 2, 100), 2);
	ck_assert_int_eq(vmmem_read_exact(m, 100, buf, 2), 0);
	ck_assert_mem_eq(buf, "qq", 2);
	ck_assert_int_eq(vmmem_read_exact(m, 0, buf, 1), 0);
	ck_assert_int_eq(buf[0], 'B');

	/* The anonymous range has no fd. */
	r = region_at(m, 0x200000 + 1, NULL);
	ck_assert_int_eq(vmmem_region_fd(r, NULL), -ENOENT);
	vmmem_region_unref(r);
	vmmem_free(m);
	close(fb);
}
END_TEST

START_TEST(ranges_unsorted)
{
	const struct vmmem_range rg[] = {
		{ .gpa = 8 * MIB, .size = MIB, .fd = -1 },
		{ .gpa = 0, .size = 2 * MIB, .fd = -1 },
		{ .gpa = 4 * MIB, .size = 64 * KIB, .fd = -1 },
		{ .gpa = 2 * MIB, .size = MIB, .fd = -1 },
	};
	struct visit v = { 0 };
	struct vmmem *m = NULL;

	ck_assert_int_eq(vmmem_new_from_ranges(&m, rg, 4, NULL), 0);
	ck_assert_int_eq(vmmem_foreach_region(m, record, &v), 0);
	ck_assert_int_eq(v.n, 4);
	ck_assert_uint_eq(v.gpa[0], 0);
	ck_assert_uint_eq(v.size[0], 2 * MIB);
	ck_assert_uint_eq(v.gpa[1], 2 * MIB);
	ck_assert_uint_eq(v.size[1], MIB);
	ck_assert_uint_eq(v.gpa[2], 4 * MIB);
	ck_assert_uint_eq(v.size[2], 64 * KIB);
	ck_assert_uint_eq(v.gpa[3], 8 * MIB);
	ck_assert_uint_eq(v.size[3], MIB);
	/* 0 .. 3 MiB is contiguous. */
	ck_assert_int_eq(vmmem_check_range(m, 0, 3 * MIB), 0);
	vmmem_free(m);
}
END_TEST

START_TEST(ranges_policy_opts)
{
	int fd = test_filled_memfd(64 * KIB, 0);
	const struct vmmem_range rg[] = {
		{ .gpa = 0, .size = 64 * KIB, .fd = -1 },
		{ .gpa = MIB, .size = 64 * KIB, .fd = fd },
	};
	struct vmmem_region_opts o;
	struct vmmem_region *r;
	struct vmmem *m = NULL;
	unsigned int flags = 0;

	memset(&o, 0, sizeof(o));
	o.sz = sizeof(o);
	o.flags = VMMEM_REGION_DONTDUMP;
	ck_assert_int_eq(vmmem_new_from_ranges(&m, rg, 2, &o), 0);
	r = region_at(m, 0, NULL);
	ck_assert_int_eq(vmmem_region_flags(r, &flags), 0);
	ck_assert_uint_eq(flags, VMMEM_REGION_DONTDUMP);
	vmmem_region_unref(r);
	r = region_at(m, MIB, NULL);
	ck_assert_int_eq(vmmem_region_flags(r, &flags), 0);
	ck_assert_uint_eq(flags, VMMEM_REGION_DONTDUMP | VMMEM_REGION_FD);
	vmmem_region_unref(r);
	vmmem_free(m);

	/* FD in opts is refused, whatever the ranges. */
	m = NULL;
	o.flags = VMMEM_REGION_FD;
	o.fd = fd;
	ck_assert_int_eq(vmmem_new_from_ranges(&m, rg, 1, &o), -EINVAL);
	ck_assert_int_eq(vmmem_new_from_ranges(&m, rg, 2, &o), -EINVAL);
	o.flags = VMMEM_REGION_FD | VMMEM_REGION_DONTDUMP;
	ck_assert_int_eq(vmmem_new_from_ranges(&m, rg + 1, 1, &o), -EINVAL);
	ck_assert_ptr_null(m);
	close(fd);
}
END_TEST

START_TEST(ranges_overlap)
{
	const struct vmmem_range partial[] = {
		{ .gpa = 0, .size = MIB, .fd = -1 },
		{ .gpa = MIB / 2, .size = MIB, .fd = -1 },
	};
	const struct vmmem_range same[] = {
		{ .gpa = 4 * MIB, .size = MIB, .fd = -1 },
		{ .gpa = 4 * MIB, .size = MIB, .fd = -1 },
	};
	const struct vmmem_range inside[] = {
		{ .gpa = MIB, .size = 4096, .fd = -1 },
		{ .gpa = 0, .size = 8 * MIB, .fd = -1 },
		{ .gpa = 16 * MIB, .size = 4096, .fd = -1 },
	};
	const struct vmmem_range last_byte[] = {
		{ .gpa = 0, .size = MIB, .fd = -1 },
		{ .gpa = MIB - 1, .size = MIB, .fd = -1 },
	};
	struct vmmem *m = NULL;
	int fds, maps;

	warm_up();
	fds = test_count_fds();
	maps = test_count_maps();
	ck_assert_int_eq(vmmem_new_from_ranges(&m, partial, 2, NULL), -EEXIST);
	ck_assert_int_eq(vmmem_new_from_ranges(&m, same, 2, NULL), -EEXIST);
	ck_assert_int_eq(vmmem_new_from_ranges(&m, inside, 3, NULL), -EEXIST);
	ck_assert_int_eq(vmmem_new_from_ranges(&m, last_byte, 2, NULL),
			 -EEXIST);
	ck_assert_ptr_null(m);
	/* Nothing left behind. */
	ck_assert_int_eq(test_count_fds(), fds);
	ck_assert_int_eq(test_count_maps(), maps);
}
END_TEST

START_TEST(ranges_invalid)
{
	const struct vmmem_range ok = { .gpa = 0, .size = MIB, .fd = -1 };
	const struct vmmem_range zero[] = {
		{ .gpa = 0, .size = MIB, .fd = -1 },
		{ .gpa = 2 * MIB, .size = 0, .fd = -1 },
	};
	const struct vmmem_range wrap[] = {
		{ .gpa = TOP - 4095, .size = 8192, .fd = -1 },
	};
	const struct vmmem_range wrap2[] = {
		{ .gpa = 0, .size = MIB, .fd = -1 },
		{ .gpa = TOP, .size = 2, .fd = -1 },
	};
	struct vmmem *m = NULL;
	int fds, maps;

	warm_up();
	fds = test_count_fds();
	maps = test_count_maps();
	ck_assert_int_eq(vmmem_new_from_ranges(&m, zero, 2, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_new_from_ranges(&m, wrap, 1, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_new_from_ranges(&m, wrap2, 2, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_new_from_ranges(&m, &ok, 0, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_new_from_ranges(&m, NULL, 1, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_new_from_ranges(&m, NULL, 0, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_new_from_ranges(NULL, &ok, 1, NULL), -EINVAL);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(test_count_fds(), fds);
	ck_assert_int_eq(test_count_maps(), maps);
}
END_TEST

START_TEST(ranges_bad_fd)
{
	int shortf = test_filled_memfd(64 * KIB, 0);
	/* A closed fd number that the regions' own dups will not take. */
	int closed = dup2(shortf, 900);
	const struct vmmem_range bad[] = {
		{ .gpa = 0, .size = MIB, .fd = -1 },
		{ .gpa = 2 * MIB, .size = 64 * KIB, .fd = shortf },
		{ .gpa = MIB, .size = 64 * KIB, .fd = closed },
	};
	const struct vmmem_range eof[] = {
		{ .gpa = 0, .size = MIB, .fd = -1 },
		{ .gpa = MIB, .size = 64 * KIB, .fd = shortf,
		  .offset = 4096 },
	};
	const struct vmmem_range unaligned[] = {
		{ .gpa = 0, .size = MIB, .fd = -1 },
		{ .gpa = MIB, .size = 4096, .fd = shortf, .offset = 100 },
	};
	struct vmmem *m = NULL;
	int fds, maps;

	ck_assert_int_ge(closed, 0);
	close(closed);
	warm_up();
	fds = test_count_fds();
	maps = test_count_maps();
	ck_assert_int_eq(vmmem_new_from_ranges(&m, bad, 3, NULL), -EBADF);
	ck_assert_int_eq(vmmem_new_from_ranges(&m, eof, 2, NULL), -ENXIO);
	ck_assert_int_eq(vmmem_new_from_ranges(&m, unaligned, 2, NULL),
			 -EINVAL);
	ck_assert_ptr_null(m);
	/* The regions made before the bad range are gone again. */
	ck_assert_int_eq(test_count_fds(), fds);
	ck_assert_int_eq(test_count_maps(), maps);
	close(shortf);
}
END_TEST

/* Spec: opts->sz too small for flags (-EINVAL, from vmmem_region_new) or
 * larger with a non-zero tail (-E2BIG); an anonymous range whose offset is
 * not 0 (-EINVAL).  Nothing is left behind and *out is not modified. */
START_TEST(ranges_bad_opts)
{
	const struct vmmem_range rg[] = {
		{ .gpa = 0, .size = MIB, .fd = -1 },
		{ .gpa = 4 * MIB, .size = MIB, .fd = -1 },
	};
	const struct vmmem_range anon_offset[] = {
		{ .gpa = 0, .size = MIB, .fd = -1 },
		{ .gpa = 4 * MIB, .size = MIB, .fd = -1, .offset = 4096 },
	};
	struct {
		struct vmmem_region_opts o;
		uint64_t extra;
	} big;
	struct vmmem_region_opts small = test_region_opts(0);
	struct vmmem *m = NULL;
	int fds, maps;

	warm_up();
	fds = test_count_fds();
	maps = test_count_maps();
	small.sz = sizeof(size_t);
	ck_assert_int_eq(vmmem_new_from_ranges(&m, rg, 2, &small), -EINVAL);
	memset(&big, 0, sizeof(big));
	big.o.sz = sizeof(big);
	big.extra = 1;
	ck_assert_int_eq(vmmem_new_from_ranges(&m, rg, 2, &big.o), -E2BIG);
	ck_assert_int_eq(vmmem_new_from_ranges(&m, anon_offset, 2, NULL),
			 -EINVAL);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(test_count_fds(), fds);
	ck_assert_int_eq(test_count_maps(), maps);

	/* The same options with a zero tail are accepted. */
	big.extra = 0;
	big.o.flags = VMMEM_REGION_SHAREABLE;
	ck_assert_int_eq(vmmem_new_from_ranges(&m, rg, 2, &big.o), 0);
	ck_assert_int_eq(vmmem_num_regions(m), 2);
	vmmem_free(m);
}
END_TEST

/* ---------------------------------------------------- add and remove */

START_TEST(add_takes_reference)
{
	struct test_release_log log = { 0 };
	struct vmmem *m = NULL;
	void *mem;
	struct vmmem_region *r = test_raw_region(64 * KIB, &log, &mem);
	unsigned char b = 0;

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(m, 0x10000, r), 0);
	vmmem_region_unref(r);
	ck_assert_int_eq(log.calls, 0);

	/* Still usable through mem. */
	ck_assert_int_eq(vmmem_write_exact(m, 0x10000 + 7, "\x42", 1), 0);
	ck_assert_uint_eq(((unsigned char *)mem)[7], 0x42);
	((unsigned char *)mem)[8] = 0x43;
	ck_assert_int_eq(vmmem_read_exact(m, 0x10000 + 8, &b, 1), 0);
	ck_assert_uint_eq(b, 0x43);

	/* Freeing mem drops the last reference. */
	vmmem_free(m);
	ck_assert_int_eq(log.calls, 1);
	ck_assert_ptr_eq(log.addr, mem);
	ck_assert_uint_eq(log.size, 64 * KIB);
	munmap(mem, 64 * KIB);
}
END_TEST

START_TEST(add_anonymous_unref)
{
	struct vmmem_region *r = test_region(MIB), *got;
	struct vmmem *m = NULL;
	unsigned char *h = test_region_host(r);

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(m, 2 * MIB, r), 0);
	vmmem_region_unref(r);
	got = region_at(m, 3 * MIB - 1, NULL);
	ck_assert_ptr_eq(got, r);
	ck_assert_ptr_eq(test_region_host(got), h);
	h[MIB - 1] = 0x99;
	ck_assert_uint_eq(((unsigned char *)test_region_host(got))[MIB - 1],
			  0x99);
	vmmem_region_unref(got);
	vmmem_free(m);
}
END_TEST

START_TEST(add_overlap)
{
	struct test_release_log log = { 0 };
	struct vmmem *m = NULL;
	struct vmmem_region *a = test_region(MIB);
	struct vmmem_region *small = test_region(64 * KIB);
	struct vmmem_region *big = test_region(4 * MIB);
	void *mem;
	struct vmmem_region *raw = test_raw_region(64 * KIB, &log, &mem);

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(m, MIB, a), 0);
	/* Across the start, across the end, inside, around, last byte. */
	ck_assert_int_eq(vmmem_add_region(m, MIB - 4096, small), -EEXIST);
	ck_assert_int_eq(vmmem_add_region(m, 2 * MIB - 4096, small), -EEXIST);
	ck_assert_int_eq(vmmem_add_region(m, MIB + MIB / 2, small), -EEXIST);
	ck_assert_int_eq(vmmem_add_region(m, MIB, small), -EEXIST);
	ck_assert_int_eq(vmmem_add_region(m, 0, big), -EEXIST);
	ck_assert_int_eq(vmmem_add_region(m, 2 * MIB - 1, small), -EEXIST);
	ck_assert_int_eq(vmmem_add_region(m, MIB - 64 * KIB + 1, small),
			 -EEXIST);
	ck_assert_int_eq(vmmem_add_region(m, MIB, raw), -EEXIST);
	ck_assert_int_eq(vmmem_num_regions(m), 1);

	/* Right next to it on either side is fine. */
	ck_assert_int_eq(vmmem_add_region(m, 2 * MIB, small), 0);
	ck_assert_int_eq(vmmem_add_region(m, MIB - 64 * KIB, raw), 0);
	ck_assert_int_eq(vmmem_num_regions(m), 3);
	ck_assert_int_eq(vmmem_check_range(m, MIB - 64 * KIB,
					   MIB + 128 * KIB), 0);

	/* Failed adds took no reference: the raw region is released by the
	 * removal once we dropped ours. */
	vmmem_region_unref(raw);
	ck_assert_int_eq(log.calls, 0);
	ck_assert_int_eq(vmmem_remove_region(m, MIB - 64 * KIB, 64 * KIB,
					     NULL), 0);
	vmmem_free(m);
	ck_assert_int_eq(log.calls, 1);
	vmmem_region_unref(a);
	vmmem_region_unref(small);
	vmmem_region_unref(big);
	munmap(mem, 64 * KIB);
}
END_TEST

/* Aliases, as QEMU's alias regions and a vhost-user fd mapped twice: the
 * same memory reachable at two GPAs. */
START_TEST(add_same_region_twice)
{
	struct vmmem_region *r = test_region(64 * KIB);
	struct vmmem *m = NULL;
	unsigned char b = 0;

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(m, 0, r), 0);
	ck_assert_int_eq(vmmem_add_region(m, GIB, r), 0);
	/* GPA overlap is still refused, alias or not. */
	ck_assert_int_eq(vmmem_add_region(m, 32 * KIB, r), -EEXIST);
	ck_assert_int_eq(vmmem_num_regions(m), 2);
	ck_assert_int_eq(vmmem_write_exact(m, 100, "A", 1), 0);
	ck_assert_int_eq(vmmem_read_exact(m, GIB + 100, &b, 1), 0);
	ck_assert_int_eq(b, 'A');
	ck_assert_int_eq(vmmem_remove_region(m, 0, 64 * KIB, NULL), 0);
	ck_assert_int_eq(vmmem_read_exact(m, GIB + 100, &b, 1), 0);
	ck_assert_int_eq(b, 'A');
	vmmem_free(m);
	/* Only our reference is left: it still works. */
	((volatile unsigned char *)test_region_host(r))[0] = 1;
	vmmem_region_unref(r);
}
END_TEST

START_TEST(add_host_overlap)
{
	struct vmmem_region *r1 = NULL, *half = NULL;
	struct vmmem *m = NULL;
	unsigned char *mem = mmap(NULL, 128 * KIB, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char b = 0;

	ck_assert_ptr_ne(mem, MAP_FAILED);
	ck_assert_int_eq(vmmem_region_new_raw(&r1, mem, 64 * KIB, NULL, NULL,
					      0), 0);
	ck_assert_int_eq(vmmem_region_new_raw(&half, mem + 32 * KIB, 64 * KIB,
					      NULL, NULL, 0), 0);
	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(m, 0, r1), 0);
	/* Partly the same host memory, at another GPA. */
	ck_assert_int_eq(vmmem_add_region(m, MIB, half), 0);
	ck_assert_int_eq(vmmem_write_exact(m, 40 * KIB, "Z", 1), 0);
	ck_assert_int_eq(vmmem_read_exact(m, MIB + 8 * KIB, &b, 1), 0);
	ck_assert_int_eq(b, 'Z');
	vmmem_free(m);
	vmmem_region_unref(r1);
	vmmem_region_unref(half);
	munmap(mem, 128 * KIB);
}
END_TEST

START_TEST(add_wrap)
{
	struct vmmem_region *r = test_region(8192);
	struct vmmem *m = NULL;

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(m, TOP - 4095, r), -EINVAL);
	ck_assert_int_eq(vmmem_add_region(m, TOP, r), -EINVAL);
	ck_assert_int_eq(vmmem_add_region(m, TOP - 8190, r), -EINVAL);
	ck_assert_int_eq(vmmem_num_regions(m), 0);
	vmmem_free(m);
	vmmem_region_unref(r);
}
END_TEST

START_TEST(add_at_top)
{
	const uint64_t size = 64 * KIB, gpa = 0 - size;
	struct vmmem_region *r = test_region(size), *got;
	struct vmmem *m = NULL;
	unsigned char *h = test_region_host(r), b = 0;
	uint64_t last = 0, off = 0;

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(m, gpa, r), 0);
	ck_assert_int_eq(vmmem_num_regions(m), 1);
	ck_assert_int_eq(vmmem_last_addr(m, &last), 0);
	ck_assert_uint_eq(last, TOP);
	ck_assert_int_eq(vmmem_check_range(m, gpa, size), 0);
	ck_assert_int_eq(vmmem_check_range(m, TOP, 1), 0);
	ck_assert_int_eq(vmmem_check_range(m, gpa - 1, 2), -EFAULT);
	ck_assert_int_eq(vmmem_check_range(m, TOP, 2), -EINVAL);
	got = region_at(m, TOP, &off);
	ck_assert_ptr_eq(got, r);
	ck_assert_uint_eq(off, size - 1);
	vmmem_region_unref(got);

	/* The last byte of the address space is readable and writable. */
	h[size - 1] = 0xee;
	ck_assert_int_eq(vmmem_read_exact(m, TOP, &b, 1), 0);
	ck_assert_uint_eq(b, 0xee);
	ck_assert_int_eq(vmmem_write_exact(m, TOP, "\x5f", 1), 0);
	ck_assert_uint_eq(h[size - 1], 0x5f);

	/* A second region below it, and removal of the top one. */
	{
		struct vmmem_region *below = test_region(size);

		ck_assert_int_eq(vmmem_add_region(m, gpa - size, below), 0);
		vmmem_region_unref(below);
	}
	ck_assert_int_eq(vmmem_check_range(m, gpa - size, 2 * size), 0);
	ck_assert_int_eq(vmmem_remove_region(m, gpa, size, NULL), 0);
	ck_assert_int_eq(vmmem_last_addr(m, &last), 0);
	ck_assert_uint_eq(last, gpa - 1);
	ck_assert_int_eq(vmmem_check_range(m, TOP, 1), -EFAULT);
	vmmem_free(m);
	vmmem_region_unref(r);
}
END_TEST

START_TEST(ranges_at_top)
{
	const struct vmmem_range rg[] = {
		{ .gpa = 0 - MIB, .size = MIB, .fd = -1 },
		{ .gpa = 0, .size = MIB, .fd = -1 },
	};
	struct vmmem *m = NULL;
	uint64_t last = 0;
	unsigned char b = 1;

	ck_assert_int_eq(vmmem_new_from_ranges(&m, rg, 2, NULL), 0);
	ck_assert_int_eq(vmmem_last_addr(m, &last), 0);
	ck_assert_uint_eq(last, TOP);
	ck_assert_int_eq(vmmem_read_exact(m, TOP, &b, 1), 0);
	ck_assert_uint_eq(b, 0);
	vmmem_free(m);
}
END_TEST

START_TEST(remove_exact)
{
	static const uint64_t gpa[] = { 0, MIB, 4 * MIB };
	static const uint64_t size[] = { MIB, MIB, 64 * KIB };
	struct vmmem *m = test_space(3, gpa, size);

	/* Only base and size of a region as placed. */
	ck_assert_int_eq(vmmem_remove_region(m, 0, 2 * MIB, NULL), -ENOENT);
	ck_assert_int_eq(vmmem_remove_region(m, 0, MIB / 2, NULL), -ENOENT);
	ck_assert_int_eq(vmmem_remove_region(m, 4096, MIB - 4096, NULL),
			 -ENOENT);
	ck_assert_int_eq(vmmem_remove_region(m, MIB, MIB + 1, NULL), -ENOENT);
	ck_assert_int_eq(vmmem_remove_region(m, 4 * MIB + 4096, 60 * KIB,
					     NULL), -ENOENT);
	ck_assert_int_eq(vmmem_remove_region(m, 8 * MIB, MIB, NULL), -ENOENT);
	ck_assert_int_eq(vmmem_num_regions(m), 3);

	ck_assert_int_eq(vmmem_remove_region(m, MIB, MIB, NULL), 0);
	ck_assert_int_eq(vmmem_num_regions(m), 2);
	ck_assert_int_eq(vmmem_check_range(m, MIB, 1), -EFAULT);
	ck_assert_int_eq(vmmem_check_range(m, 0, MIB), 0);
	ck_assert_int_eq(vmmem_check_range(m, 4 * MIB, 64 * KIB), 0);
	ck_assert_int_eq(vmmem_remove_region(m, MIB, MIB, NULL), -ENOENT);

	ck_assert_int_eq(vmmem_remove_region(m, 4 * MIB, 64 * KIB, NULL), 0);
	ck_assert_int_eq(vmmem_remove_region(m, 0, MIB, NULL), 0);
	ck_assert_int_eq(vmmem_num_regions(m), 0);
	vmmem_free(m);
}
END_TEST

START_TEST(remove_gives_reference)
{
	struct test_release_log log = { 0 };
	struct vmmem_region *removed = NULL;
	struct vmmem *m = NULL;
	void *mem;
	struct vmmem_region *r = test_raw_region(64 * KIB, &log, &mem);

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(m, 0x40000, r), 0);
	vmmem_region_unref(r);
	ck_assert_int_eq(vmmem_remove_region(m, 0x40000, 64 * KIB, &removed),
			 0);
	ck_assert_ptr_eq(removed, r);
	ck_assert_int_eq(vmmem_num_regions(m), 0);
	/* Ours now: not released, still a whole region. */
	ck_assert_int_eq(log.calls, 0);
	ck_assert_uint_eq(size_of(removed), 64 * KIB);
	ck_assert_ptr_eq(test_region_host(removed), mem);
	vmmem_free(m);
	ck_assert_int_eq(log.calls, 0);

	/* It can go into another space. */
	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(m, GIB, removed), 0);
	vmmem_region_unref(removed);
	ck_assert_int_eq(log.calls, 0);
	ck_assert_int_eq(vmmem_check_range(m, GIB, 64 * KIB), 0);
	vmmem_free(m);
	ck_assert_int_eq(log.calls, 1);
	munmap(mem, 64 * KIB);
}
END_TEST

START_TEST(remove_null_out)
{
	struct test_release_log log = { 0 };
	struct vmmem *m = NULL;
	void *mem;
	struct vmmem_region *r = test_raw_region(64 * KIB, &log, &mem);

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(m, 0, r), 0);
	vmmem_region_unref(r);
	ck_assert_int_eq(vmmem_remove_region(m, 0, 64 * KIB, NULL), 0);
	ck_assert_int_le(log.calls, 1);
	ck_assert_int_eq(vmmem_num_regions(m), 0);
	vmmem_free(m);
	/* Released exactly once, by now. */
	ck_assert_int_eq(log.calls, 1);
	munmap(mem, 64 * KIB);
}
END_TEST

/* ------------------------------------------------------------- find */

START_TEST(find_region_ref)
{
	struct test_release_log log = { 0 };
	struct vmmem_region *got = NULL;
	struct vmmem *m = NULL;
	uint64_t off = 0;
	void *mem;
	struct vmmem_region *r = test_raw_region(64 * KIB, &log, &mem);

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(m, 0x10000, r), 0);
	vmmem_region_unref(r);
	ck_assert_int_eq(vmmem_find_region(m, 0x10123, &got, &off), 0);
	ck_assert_ptr_eq(got, r);
	ck_assert_uint_eq(off, 0x123);

	/* A reference of our own: the region outlives mem. */
	ck_assert_int_eq(vmmem_remove_region(m, 0x10000, 64 * KIB, NULL), 0);
	vmmem_free(m);
	ck_assert_int_eq(log.calls, 0);
	ck_assert_uint_eq(size_of(got), 64 * KIB);
	vmmem_region_unref(got);
	ck_assert_int_eq(log.calls, 1);
	munmap(mem, 64 * KIB);
}
END_TEST

START_TEST(find_region_optional_outs)
{
	static const uint64_t gpa[] = { 0, 2 * MIB };
	static const uint64_t size[] = { MIB, MIB };
	struct vmmem *m = test_space(2, gpa, size);
	struct vmmem_region *got = NULL, *first;
	uint64_t off = 0;

	first = region_at(m, 0, NULL);
	ck_assert_int_eq(vmmem_find_region(m, 2 * MIB + 77, NULL, NULL), 0);
	ck_assert_int_eq(vmmem_find_region(m, 2 * MIB + 77, NULL, &off), 0);
	ck_assert_uint_eq(off, 77);
	ck_assert_int_eq(vmmem_find_region(m, MIB - 1, &got, NULL), 0);
	ck_assert_ptr_eq(got, first);
	vmmem_region_unref(got);
	got = region_at(m, 3 * MIB - 1, &off);
	ck_assert_ptr_ne(got, first);
	ck_assert_uint_eq(off, MIB - 1);
	vmmem_region_unref(got);
	vmmem_region_unref(first);
	vmmem_free(m);
}
END_TEST

START_TEST(find_region_holes)
{
	static const uint64_t gpa[] = { MIB, 4 * MIB };
	static const uint64_t size[] = { MIB, MIB };
	struct vmmem *m = test_space(2, gpa, size);
	struct vmmem_region *got = NULL;
	uint64_t off = 0;

	ck_assert_int_eq(vmmem_find_region(m, 0, &got, &off), -EFAULT);
	ck_assert_int_eq(vmmem_find_region(m, MIB - 1, &got, &off), -EFAULT);
	ck_assert_int_eq(vmmem_find_region(m, 2 * MIB, &got, &off), -EFAULT);
	ck_assert_int_eq(vmmem_find_region(m, 4 * MIB - 1, NULL, NULL),
			 -EFAULT);
	ck_assert_int_eq(vmmem_find_region(m, 5 * MIB, &got, NULL), -EFAULT);
	ck_assert_int_eq(vmmem_find_region(m, TOP, &got, &off), -EFAULT);
	ck_assert_ptr_null(got);
	ck_assert_int_eq(vmmem_find_region(m, 4 * MIB, NULL, &off), 0);
	ck_assert_uint_eq(off, 0);
	ck_assert_int_eq(vmmem_find_region(m, 2 * MIB - 1, NULL, &off), 0);
	ck_assert_uint_eq(off, MIB - 1);
	vmmem_free(m);
}
END_TEST

/* ---------------------------------------------------------- foreach */

START_TEST(foreach_order)
{
	static const uint64_t gpa[] = { 5 * MIB, MIB, 3 * MIB, 0, 8 * GIB };
	static const uint64_t size[] = { MIB, 4096, MIB, 64 * KIB, 2 * MIB };
	struct vmmem *m = test_space(5, gpa, size);
	struct visit v = { 0 };

	ck_assert_int_eq(vmmem_foreach_region(m, record, &v), 0);
	ck_assert_int_eq(v.n, 5);
	ck_assert_uint_eq(v.gpa[0], 0);
	ck_assert_uint_eq(v.gpa[1], MIB);
	ck_assert_uint_eq(v.gpa[2], 3 * MIB);
	ck_assert_uint_eq(v.gpa[3], 5 * MIB);
	ck_assert_uint_eq(v.gpa[4], 8 * GIB);
	ck_assert_uint_eq(v.size[0], 64 * KIB);
	ck_assert_uint_eq(v.size[1], 4096);
	ck_assert_uint_eq(v.size[4], 2 * MIB);
	for (int i = 0; i < 5; i++) {
		struct vmmem_region *r = region_at(m, v.gpa[i], NULL);

		ck_assert_ptr_eq(v.region[i], r);
		vmmem_region_unref(r);
	}
	vmmem_free(m);
}
END_TEST

START_TEST(foreach_stop)
{
	static const uint64_t gpa[] = { 0, MIB, 2 * MIB, 3 * MIB };
	static const uint64_t size[] = { 4096, 4096, 4096, 4096 };
	struct vmmem *m = test_space(4, gpa, size);
	struct visit v = { .stop_at = 2, .stop_ret = 42 };

	ck_assert_int_eq(vmmem_foreach_region(m, record, &v), 42);
	ck_assert_int_eq(v.n, 2);
	ck_assert_uint_eq(v.gpa[1], MIB);

	memset(&v, 0, sizeof(v));
	v.stop_at = 4;
	v.stop_ret = -7;
	ck_assert_int_eq(vmmem_foreach_region(m, record, &v), -7);
	ck_assert_int_eq(v.n, 4);

	memset(&v, 0, sizeof(v));
	v.stop_at = 1;
	v.stop_ret = 1;
	ck_assert_int_eq(vmmem_foreach_region(m, record, &v), 1);
	ck_assert_int_eq(v.n, 1);
	vmmem_free(m);
}
END_TEST

/* Removes the region after the one visited first, and the visited one. */
static int remove_some(uint64_t gpa, struct vmmem_region *r, void *opaque)
{
	struct visit *v = opaque;
	uint64_t size = size_of(r);

	record(gpa, r, opaque);
	if (v->n == 1)
		ck_assert_int_eq(vmmem_remove_region(v->mem, MIB, MIB, NULL),
				 0);
	if (v->n == 3)
		ck_assert_int_eq(vmmem_remove_region(v->mem, gpa, size, NULL),
				 0);
	return 0;
}

START_TEST(foreach_remove_inside)
{
	static const uint64_t gpa[] = { 0, MIB, 2 * MIB, 3 * MIB };
	static const uint64_t size[] = { MIB, MIB, MIB, MIB };
	struct vmmem *m = test_space(4, gpa, size);
	struct visit v = { 0 };

	v.mem = m;
	ck_assert_int_eq(vmmem_foreach_region(m, remove_some, &v), 0);
	/* One snapshot: every region of it was visited, removed or not. */
	ck_assert_int_eq(v.n, 4);
	ck_assert_uint_eq(v.gpa[1], MIB);
	ck_assert_uint_eq(v.size[1], MIB);
	ck_assert_int_eq(vmmem_num_regions(m), 2);
	ck_assert_int_eq(vmmem_check_range(m, MIB, 1), -EFAULT);
	ck_assert_int_eq(vmmem_check_range(m, 2 * MIB, 1), -EFAULT);
	ck_assert_int_eq(vmmem_check_range(m, 0, MIB), 0);
	ck_assert_int_eq(vmmem_check_range(m, 3 * MIB, MIB), 0);

	/* The next walk sees the new table. */
	memset(&v, 0, sizeof(v));
	ck_assert_int_eq(vmmem_foreach_region(m, record, &v), 0);
	ck_assert_int_eq(v.n, 2);
	ck_assert_uint_eq(v.gpa[0], 0);
	ck_assert_uint_eq(v.gpa[1], 3 * MIB);
	vmmem_free(m);
}
END_TEST

/* Adds a region from inside the walk. */
static int add_one(uint64_t gpa, struct vmmem_region *r, void *opaque)
{
	struct visit *v = opaque;

	record(gpa, r, opaque);
	if (v->n == 1) {
		struct vmmem_region *n = test_region(4096);

		ck_assert_int_eq(vmmem_add_region(v->mem, 10 * MIB, n), 0);
		vmmem_region_unref(n);
	}
	return 0;
}

START_TEST(foreach_add_inside)
{
	static const uint64_t gpa[] = { 0, MIB };
	static const uint64_t size[] = { 4096, 4096 };
	struct vmmem *m = test_space(2, gpa, size);
	struct visit v = { 0 };

	v.mem = m;
	ck_assert_int_eq(vmmem_foreach_region(m, add_one, &v), 0);
	ck_assert_int_eq(v.n, 2);
	ck_assert_int_eq(vmmem_num_regions(m), 3);
	vmmem_free(m);
}
END_TEST

START_TEST(foreach_bad_args)
{
	static const uint64_t gpa[] = { 0 };
	static const uint64_t size[] = { 4096 };
	struct vmmem *m = test_space(1, gpa, size);

	ck_assert_int_eq(vmmem_foreach_region(m, NULL, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_foreach_region(NULL, NULL, NULL), -EINVAL);
	vmmem_free(m);
}
END_TEST

/* ---------------------------------------------------------- queries */

START_TEST(num_and_last)
{
	struct vmmem *m = NULL;
	struct vmmem_region *a = test_region(MIB), *b = test_region(64 * KIB);
	uint64_t last = 0;

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_num_regions(m), 0);
	ck_assert_int_eq(vmmem_last_addr(m, &last), -ENOENT);
	ck_assert_int_eq(vmmem_add_region(m, 0, a), 0);
	ck_assert_int_eq(vmmem_num_regions(m), 1);
	ck_assert_int_eq(vmmem_last_addr(m, &last), 0);
	ck_assert_uint_eq(last, MIB - 1);
	ck_assert_int_eq(vmmem_add_region(m, 4 * GIB, b), 0);
	ck_assert_int_eq(vmmem_num_regions(m), 2);
	ck_assert_int_eq(vmmem_last_addr(m, &last), 0);
	ck_assert_uint_eq(last, 4 * GIB + 64 * KIB - 1);
	ck_assert_int_eq(vmmem_remove_region(m, 4 * GIB, 64 * KIB, NULL), 0);
	ck_assert_int_eq(vmmem_last_addr(m, &last), 0);
	ck_assert_uint_eq(last, MIB - 1);
	ck_assert_int_eq(vmmem_remove_region(m, 0, MIB, NULL), 0);
	ck_assert_int_eq(vmmem_num_regions(m), 0);
	last = 5;
	ck_assert_int_eq(vmmem_last_addr(m, &last), -ENOENT);
	vmmem_free(m);
	vmmem_region_unref(a);
	vmmem_region_unref(b);
}
END_TEST

START_TEST(check_range)
{
	static const uint64_t gpa[] = { 0, MIB, 3 * MIB };
	static const uint64_t size[] = { MIB, MIB, MIB };
	struct vmmem *m = test_space(3, gpa, size);

	/* Across contiguous regions. */
	ck_assert_int_eq(vmmem_check_range(m, 0, 2 * MIB), 0);
	ck_assert_int_eq(vmmem_check_range(m, MIB - 1, 2), 0);
	ck_assert_int_eq(vmmem_check_range(m, 2 * MIB - 1, 1), 0);
	ck_assert_int_eq(vmmem_check_range(m, 3 * MIB, MIB), 0);
	/* Across or into a hole. */
	ck_assert_int_eq(vmmem_check_range(m, 0, 2 * MIB + 1), -EFAULT);
	ck_assert_int_eq(vmmem_check_range(m, MIB, 3 * MIB), -EFAULT);
	ck_assert_int_eq(vmmem_check_range(m, 2 * MIB, 1), -EFAULT);
	ck_assert_int_eq(vmmem_check_range(m, 2 * MIB - 1, 2), -EFAULT);
	ck_assert_int_eq(vmmem_check_range(m, 3 * MIB - 1, 2), -EFAULT);
	ck_assert_int_eq(vmmem_check_range(m, 3 * MIB, MIB + 1), -EFAULT);
	ck_assert_int_eq(vmmem_check_range(m, 0, TOP), -EFAULT);
	ck_assert_int_eq(vmmem_check_range(m, TOP, 1), -EFAULT);
	/* len 0 is always fine, even in a hole. */
	ck_assert_int_eq(vmmem_check_range(m, 0, 0), 0);
	ck_assert_int_eq(vmmem_check_range(m, 2 * MIB, 0), 0);
	ck_assert_int_eq(vmmem_check_range(m, TOP, 0), 0);
	/* Wrapping past 2^64. */
	ck_assert_int_eq(vmmem_check_range(m, TOP, 2), -EINVAL);
	ck_assert_int_eq(vmmem_check_range(m, 2, TOP), -EINVAL);
	/* Up to the very last byte does not wrap: just unbacked. */
	ck_assert_int_eq(vmmem_check_range(m, 1, TOP), -EFAULT);
	ck_assert_int_eq(vmmem_check_range(m, 3 * MIB, TOP), -EINVAL);
	vmmem_free(m);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("space");
	TCase *tc;

	tc = tcase_create("new");
	tcase_add_test(tc, new_empty);
	tcase_add_test(tc, new_bad_args);
	tcase_add_test(tc, null_mem);
	suite_add_tcase(s, tc);

	tc = tcase_create("from-ranges");
	tcase_add_test(tc, ranges_anonymous);
	tcase_add_test(tc, ranges_files);
	tcase_add_test(tc, ranges_unsorted);
	tcase_add_test(tc, ranges_policy_opts);
	tcase_add_test(tc, ranges_overlap);
	tcase_add_test(tc, ranges_invalid);
	tcase_add_test(tc, ranges_bad_fd);
	tcase_add_test(tc, ranges_bad_opts);
	tcase_add_test(tc, ranges_at_top);
	suite_add_tcase(s, tc);

	tc = tcase_create("add-remove");
	tcase_add_test(tc, add_takes_reference);
	tcase_add_test(tc, add_anonymous_unref);
	tcase_add_test(tc, add_overlap);
	tcase_add_test(tc, add_same_region_twice);
	tcase_add_test(tc, add_host_overlap);
	tcase_add_test(tc, add_wrap);
	tcase_add_test(tc, add_at_top);
	tcase_add_test(tc, remove_exact);
	tcase_add_test(tc, remove_gives_reference);
	tcase_add_test(tc, remove_null_out);
	suite_add_tcase(s, tc);

	tc = tcase_create("find");
	tcase_add_test(tc, find_region_ref);
	tcase_add_test(tc, find_region_optional_outs);
	tcase_add_test(tc, find_region_holes);
	suite_add_tcase(s, tc);

	tc = tcase_create("foreach");
	tcase_add_test(tc, foreach_order);
	tcase_add_test(tc, foreach_stop);
	tcase_add_test(tc, foreach_remove_inside);
	tcase_add_test(tc, foreach_add_inside);
	tcase_add_test(tc, foreach_bad_args);
	suite_add_tcase(s, tc);

	tc = tcase_create("queries");
	tcase_add_test(tc, num_and_last);
	tcase_add_test(tc, check_range);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	return test_run(suite());
}
