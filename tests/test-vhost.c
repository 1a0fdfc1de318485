/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* vhost-user memory messages: SET_MEM_TABLE, ADD_MEM_REG, REM_MEM_REG and
 * IOTLB_MSG applied to a struct vmmem, and the front-end address
 * translation.  The layouts are those QEMU 7.2 sent in the lab trace
 * (/work/shared/vhost-user-lab/README.md, step 3); every malformed message
 * must leave the table exactly as it was. */
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "testutil.h"

#define GIB (1ull << 30)
#define PAGE 4096ull

/* A sparse memfd of size bytes: only the pages written are allocated. */
static int sparse_memfd(uint64_t size)
{
	int fd = memfd_create("vhost-test", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static void put_file(int fd, uint64_t off, const void *buf, size_t len)
{
	ck_assert_int_eq(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
}

static void get_file(int fd, uint64_t off, void *buf, size_t len)
{
	ck_assert_int_eq(pread(fd, buf, len, (off_t)off), (ssize_t)len);
}

/* The process has n descriptors open.  Polled for up to 2 s: a sanitizer's
 * runtime may hold one for a moment (TSan's background thread reads
 * /proc); a descriptor the library leaked stays. */
static void expect_fds(int n)
{
	for (int i = 0; i < 200 && test_count_fds() != n; i++)
		usleep(10000);
	ck_assert_int_eq(test_count_fds(), n);
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* --------------------------------------------------- table snapshots */

/* What a failed call must leave unchanged: each region's object and GPA. */
struct snapshot {
	int n;
	uint64_t gpa[16];
	struct vmmem_region *region[16];
};

static int snap_one(uint64_t gpa, struct vmmem_region *r, void *opaque)
{
	struct snapshot *s = opaque;

	ck_assert_int_lt(s->n, 16);
	s->gpa[s->n] = gpa;
	s->region[s->n++] = r;      /* pointer identity only */
	return 0;
}

static struct snapshot snap(struct vmmem *m)
{
	struct snapshot s = { 0 };

	ck_assert_int_eq(vmmem_foreach_region(m, snap_one, &s), 0);
	return s;
}

static void expect_same(struct vmmem *m, const struct snapshot *before)
{
	struct snapshot now = snap(m);

	ck_assert_int_eq(now.n, before->n);
	for (int i = 0; i < now.n; i++) {
		ck_assert_uint_eq(now.gpa[i], before->gpa[i]);
		ck_assert_ptr_eq(now.region[i], before->region[i]);
	}
}

static struct vmmem_region *region_at(struct vmmem *m, uint64_t gpa)
{
	struct vmmem_region *r = NULL;

	ck_assert_int_eq(vmmem_find_region(m, gpa, &r, NULL), 0);
	vmmem_region_unref(r);      /* still held by the space */
	return r;
}

/* ------------------------------------------------ lab layouts (step 3) */

/* Boot of a 512 MiB guest: one ADD_MEM_REG, and the vring addresses of
 * the trace translate to the GPAs the proxy printed. */
static const struct vmmem_vhost_region lab512 = {
	.guest_phys_addr = 0x0, .memory_size = 0x20000000,
	.userspace_addr = 0x7f8d23fff000, .mmap_offset = 0x0 };

START_TEST(test_lab_512m)
{
	static const uint64_t ua[] = { 0x7f8d43fdc000, 0x7f8d43fdd000,
				       0x7f8d43fdc800, 0x7f8d43eba000,
				       0x7f8d43eba940, 0x7f8d43eba800 };
	static const uint64_t gpa[] = { 0x1ffdd000, 0x1ffde000, 0x1ffdd800,
					0x1febb000, 0x1febb940, 0x1febb800 };
	int fd = sparse_memfd(lab512.memory_size), fds0 = test_count_fds();
	struct vmmem *m;
	uint8_t buf[16], back[16];
	void *host;
	uint64_t g;

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_vhost_add_mem_reg(m, &lab512, fd, NULL), 0);
	ck_assert(fd_open(fd));     /* the caller's fd stays the caller's */
	expect_fds(fds0 + 1);   /* the library's dup */
	for (unsigned i = 0; i < 6; i++) {
		ck_assert_int_eq(vmmem_uaddr_to_gpa(m, ua[i], 16, &g), 0);
		ck_assert_uint_eq(g, gpa[i]);
		/* the host pointer and the GPA reach the same bytes */
		test_pattern(buf, sizeof(buf), i);
		ck_assert_int_eq(vmmem_uaddr_to_host(m, ua[i], 16, &host), 0);
		memcpy(host, buf, sizeof(buf));
		ck_assert_int_eq(vmmem_read_exact(m, gpa[i], back, 16), 0);
		ck_assert_mem_eq(back, buf, 16);
		get_file(fd, gpa[i], back, 16);
		ck_assert_mem_eq(back, buf, 16);
	}
	vmmem_free(m);
	expect_fds(fds0);
	close(fd);
}
END_TEST

/* A 3 GiB q35 guest: one memfd, two regions, the second at GPA 4 GiB from
 * file offset 2 GiB; sent as SET_MEM_TABLE (two descriptors of the memfd)
 * and as two ADD_MEM_REG. */
static const struct vmmem_vhost_region lab3g[2] = {
	{ .guest_phys_addr = 0x0, .memory_size = 0x80000000,
	  .userspace_addr = 0x7f855ffff000, .mmap_offset = 0x0 },
	{ .guest_phys_addr = 0x100000000, .memory_size = 0x40000000,
	  .userspace_addr = 0x7f85dffff000, .mmap_offset = 0x80000000 },
};

static void check_lab3g(struct vmmem *m, int fd)
{
	uint8_t buf[64], back[64];
	uint64_t g;

	test_pattern(buf, sizeof(buf), 7);
	ck_assert_int_eq(vmmem_write_exact(m, 0x10176e000, buf, 64), 0);
	get_file(fd, 0x80000000 + 0x176e000, back, 64);
	ck_assert_mem_eq(back, buf, 64);
	ck_assert_int_eq(vmmem_uaddr_to_gpa(m, 0x7f85dffff000 + 0x176e000, 64,
					    &g), 0);
	ck_assert_uint_eq(g, 0x10176e000);
	/* the last byte of the low region and the first of the high one */
	ck_assert_int_eq(vmmem_uaddr_to_gpa(m, 0x7f85dfffefff, 1, &g), 0);
	ck_assert_uint_eq(g, 0x7fffffff);
	ck_assert_int_eq(vmmem_uaddr_to_gpa(m, 0x7f85dffff000, 1, &g), 0);
	ck_assert_uint_eq(g, 0x100000000);
	/* adjacent in the front-end, not in the guest: not one range */
	ck_assert_int_eq(vmmem_uaddr_to_gpa(m, 0x7f85dfffeff0, 32, &g),
			 -EFAULT);
	ck_assert_int_eq(vmmem_uaddr_to_gpa(m, 0x7f855fffefff, 1, &g),
			 -EFAULT);
	ck_assert_int_eq(vmmem_uaddr_to_gpa(m, 0x7f861ffff000, 1, &g),
			 -EFAULT);
}

START_TEST(test_lab_3g)
{
	int fd, fds[2];
	struct vmmem *m;

	if (sizeof(void *) < 8)
		return;             /* 3 GiB of mappings: 64-bit hosts only */
	fd = sparse_memfd(3 * GIB);
	fds[0] = dup(fd);
	fds[1] = dup(fd);
	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_vhost_set_mem_table(m, lab3g, fds, 2, NULL), 0);
	ck_assert_int_eq(vmmem_num_regions(m), 2);
	check_lab3g(m, fd);
	vmmem_free(m);

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_vhost_add_mem_reg(m, &lab3g[1], fds[1], NULL), 0);
	ck_assert_int_eq(vmmem_vhost_add_mem_reg(m, &lab3g[0], fds[0], NULL), 0);
	check_lab3g(m, fd);
	vmmem_free(m);
	close(fds[0]);
	close(fds[1]);
	close(fd);
}
END_TEST

/* Memory hotplug: a pc-dimm with its own memfd added at run time, then
 * removed by a REM_MEM_REG with the same fields and no fd. */
START_TEST(test_lab_hotplug_dimm)
{
	const struct vmmem_vhost_region dimm = {
		.guest_phys_addr = 0x100000000, .memory_size = 0x10000000,
		.userspace_addr = 0x7f8d00000000, .mmap_offset = 0x0 };
	int base = sparse_memfd(lab512.memory_size);
	int fd = sparse_memfd(dimm.memory_size), fds0;
	struct vmmem *m;
	uint64_t g;
	uint8_t b = 0x5a, back = 0;

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_vhost_add_mem_reg(m, &lab512, base, NULL), 0);
	fds0 = test_count_fds();
	ck_assert_int_eq(vmmem_vhost_add_mem_reg(m, &dimm, fd, NULL), 0);
	ck_assert_int_eq(vmmem_write_exact(m, 0x100000000 + 0x1234, &b, 1), 0);
	get_file(fd, 0x1234, &back, 1);
	ck_assert_int_eq(back, 0x5a);
	ck_assert_int_eq(vmmem_uaddr_to_gpa(m, 0x7f8d00001234, 1, &g), 0);
	ck_assert_uint_eq(g, 0x100001234);
	ck_assert_int_eq(vmmem_vhost_rem_mem_reg(m, &dimm), 0);
	ck_assert_int_eq(vmmem_num_regions(m), 1);
	ck_assert_int_eq(vmmem_uaddr_to_gpa(m, 0x7f8d00001234, 1, &g), -EFAULT);
	ck_assert_int_eq(vmmem_check_range(m, 0x100000000, 1), -EFAULT);
	ck_assert_int_eq(vmmem_vhost_rem_mem_reg(m, &dimm), -ENOENT);
	vmmem_free(m);
	expect_fds(fds0 - 1);
	close(fd);
	close(base);
}
END_TEST

/* ------------------------------------------------------ SET_MEM_TABLE */

#define TSIZE (1 * MIB)

static void two_regions(struct vmmem_vhost_region vr[2])
{
	vr[0] = (struct vmmem_vhost_region){ .guest_phys_addr = 0,
		.memory_size = TSIZE, .userspace_addr = 0x7f0000000000,
		.mmap_offset = 0 };
	vr[1] = (struct vmmem_vhost_region){ .guest_phys_addr = 0x100000,
		.memory_size = TSIZE, .userspace_addr = 0x7f0000100000,
		.mmap_offset = TSIZE };
}

/* QEMU resends an identical table at every device start: the regions
 * keep their objects, mappings, pins and dirty bits. */
START_TEST(test_set_identical_keeps_everything)
{
	struct vmmem_vhost_region vr[2];
	int fd = sparse_memfd(2 * TSIZE), fds[2];
	struct vmmem_region *r0, *r1;
	struct vmmem *m;
	uint64_t len = 64;
	void *pin, *host;
	uint8_t b = 1;

	two_regions(vr);
	fds[0] = fds[1] = fd;
	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_vhost_set_mem_table(m, vr, fds, 2, NULL), 0);
	r0 = region_at(m, 0);
	r1 = region_at(m, 0x100000);
	ck_assert_int_eq(vmmem_map(m, 0x100010, &len, VMMEM_MAP_WRITE, &pin), 0);
	ck_assert_int_eq(vmmem_dirty_start(m, PAGE), 0);
	ck_assert_int_eq(vmmem_write_exact(m, 0x3000, &b, 1), 0);
	/* new descriptors of the same file, as QEMU sends them */
	fds[0] = dup(fd);
	fds[1] = dup(fd);
	ck_assert_int_eq(vmmem_vhost_set_mem_table(m, vr, fds, 2, NULL), 0);
	ck_assert_ptr_eq(region_at(m, 0), r0);
	ck_assert_ptr_eq(region_at(m, 0x100000), r1);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x3000), 1);
	ck_assert_int_eq(vmmem_host_address(m, 0x100010, 64, &host), 0);
	ck_assert_ptr_eq(host, pin);
	memset(pin, 0x77, 64);
	ck_assert_int_eq(vmmem_unmap(m, pin, 64), 0);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x100010), 1);
	close(fds[0]);
	close(fds[1]);
	vmmem_free(m);
	close(fd);
}
END_TEST

/* A changed region gets a new object, the unchanged one keeps its own;
 * regions not in the message leave, regions placed by vmmem_add_region()
 * too (the message describes all of guest memory). */
START_TEST(test_set_changed)
{
	struct vmmem_vhost_region vr[2];
	int fd = sparse_memfd(2 * TSIZE), other = sparse_memfd(2 * TSIZE);
	int fds[2] = { fd, fd };
	struct vmmem_region *r0, *r1, *plain = test_region(PAGE);
	struct vmmem *m;
	uint8_t b = 0x42, back;
	uint64_t g;

	two_regions(vr);
	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_vhost_set_mem_table(m, vr, fds, 2, NULL), 0);
	ck_assert_int_eq(vmmem_add_region(m, 0x10000000, plain), 0);
	r0 = region_at(m, 0);
	r1 = region_at(m, 0x100000);

	/* same fields, another file: changed */
	fds[1] = other;
	ck_assert_int_eq(vmmem_vhost_set_mem_table(m, vr, fds, 2, NULL), 0);
	ck_assert_ptr_eq(region_at(m, 0), r0);
	ck_assert_ptr_ne(region_at(m, 0x100000), r1);
	ck_assert_int_eq(vmmem_num_regions(m), 2);
	ck_assert_int_eq(vmmem_write_exact(m, 0x100000, &b, 1), 0);
	get_file(other, TSIZE, &back, 1);
	ck_assert_int_eq(back, 0x42);
	r1 = region_at(m, 0x100000);

	/* another front-end address: changed, and translated anew */
	vr[0].userspace_addr = 0x7e0000000000;
	ck_assert_int_eq(vmmem_vhost_set_mem_table(m, vr, fds, 2, NULL), 0);
	ck_assert_ptr_ne(region_at(m, 0), r0);
	ck_assert_ptr_eq(region_at(m, 0x100000), r1);
	ck_assert_int_eq(vmmem_uaddr_to_gpa(m, 0x7f0000000010, 1, &g), -EFAULT);
	ck_assert_int_eq(vmmem_uaddr_to_gpa(m, 0x7e0000000010, 1, &g), 0);
	ck_assert_uint_eq(g, 0x10);

	/* an empty table empties the space */
	ck_assert_int_eq(vmmem_vhost_set_mem_table(m, NULL, NULL, 0, NULL), 0);
	ck_assert_int_eq(vmmem_num_regions(m), 0);
	vmmem_region_unref(plain);
	vmmem_free(m);
	close(fd);
	close(other);
}
END_TEST

/* An mmap_offset that is not page aligned maps the file from the page
 * below it; the bytes are the file's at mmap_offset. */
START_TEST(test_unaligned_offset)
{
	struct vmmem_vhost_region vr = { .guest_phys_addr = 0x10000,
		.memory_size = 3 * PAGE, .userspace_addr = 0x7f0000001234,
		.mmap_offset = 0x1234 };
	int fd = sparse_memfd(5 * PAGE), fds0 = test_count_fds();
	uint8_t file[3 * PAGE], back[3 * PAGE];
	struct vmmem *m;
	void *host;

	test_pattern(file, sizeof(file), 3);
	put_file(fd, 0x1234, file, sizeof(file));
	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_vhost_add_mem_reg(m, &vr, fd, NULL), 0);
	ck_assert_int_eq(vmmem_read_exact(m, 0x10000, back, sizeof(back)), 0);
	ck_assert_mem_eq(back, file, sizeof(back));
	ck_assert_int_eq(vmmem_uaddr_to_host(m, 0x7f0000001234, 1, &host), 0);
	ck_assert_int_eq(*(uint8_t *)host, file[0]);
	ck_assert_int_eq(vmmem_check_range(m, 0x10000, 3 * PAGE), 0);
	ck_assert_int_eq(vmmem_check_range(m, 0x10000 + 3 * PAGE, 1), -EFAULT);
	/* identical resend keeps it; removal releases everything */
	{
		struct vmmem_region *r = region_at(m, 0x10000);

		ck_assert_int_eq(vmmem_vhost_set_mem_table(m, &vr, &fd, 1, NULL),
				 0);
		ck_assert_ptr_eq(region_at(m, 0x10000), r);
	}
	ck_assert_int_eq(vmmem_vhost_rem_mem_reg(m, &vr), 0);
	vmmem_free(m);
	expect_fds(fds0);

	/* past the end of the file by the remainder's worth: refused */
	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	vr.memory_size = 4 * PAGE;
	ck_assert_int_eq(vmmem_vhost_add_mem_reg(m, &vr, fd, NULL), -ENXIO);
	ck_assert_int_eq(vmmem_num_regions(m), 0);
	vmmem_free(m);
	expect_fds(fds0);
	close(fd);
}
END_TEST

/* ------------------------------------------------- malformed messages */

struct bad_case {
	const char *what;
	struct vmmem_vhost_region vr;
	int err;
};

/* Against a space holding two_regions() from a 2 MiB memfd. */
static const struct bad_case bad_cases[] = {
	{ "size 0", { 0x400000, 0, 0x7f0000400000, 0 }, -EINVAL },
	{ "gpa wraps", { UINT64_MAX - PAGE + 1, 2 * PAGE, 0x7f0000400000, 0 },
	  -EINVAL },
	{ "uaddr wraps", { 0x400000, 2 * PAGE, UINT64_MAX - PAGE + 1, 0 },
	  -EINVAL },
	{ "offset wraps", { 0x400000, 2 * PAGE, 0x7f0000400000,
			    UINT64_MAX - PAGE + 1 }, -EINVAL },
	{ "offset past the end", { 0x400000, PAGE, 0x7f0000400000, 2 * TSIZE },
	  -ENXIO },
	{ "size past the end", { 0x400000, TSIZE + PAGE, 0x7f0000400000,
				 TSIZE }, -ENXIO },
	{ "offset beyond off_t", { 0x400000, PAGE, 0x7f0000400000,
				   1ull << 63 }, -EINVAL },
	{ "gpa overlap", { 0x1ff000, 2 * PAGE, 0x7f0000400000, 0 }, -EEXIST },
	{ "uaddr overlap", { 0x400000, PAGE, 0x7f00001ff000, 0 }, -EEXIST },
};

static struct vmmem *two_region_space(int fd)
{
	struct vmmem_vhost_region vr[2];
	int fds[2] = { fd, fd };
	struct vmmem *m;

	two_regions(vr);
	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_vhost_set_mem_table(m, vr, fds, 2, NULL), 0);
	return m;
}

START_TEST(test_add_bad)
{
	const struct bad_case *c = &bad_cases[_i];
	int fd = sparse_memfd(2 * TSIZE), fds0;
	struct vmmem *m = two_region_space(fd);
	struct snapshot before = snap(m);

	fds0 = test_count_fds();
	ck_assert_msg(vmmem_vhost_add_mem_reg(m, &c->vr, fd, NULL) == c->err,
		      "ADD_MEM_REG %s", c->what);
	expect_same(m, &before);
	expect_fds(fds0);
	ck_assert(fd_open(fd));
	vmmem_free(m);
	close(fd);
}
END_TEST

/* The same region as the third of a SET_MEM_TABLE whose first two are
 * good (and one of them new): nothing of it may stay. */
START_TEST(test_set_bad)
{
	const struct bad_case *c = &bad_cases[_i];
	int fd = sparse_memfd(2 * TSIZE), fds0;
	struct vmmem *m = two_region_space(fd);
	struct snapshot before = snap(m);
	struct vmmem_vhost_region vr[3];
	int fds[3] = { fd, fd, fd };

	two_regions(vr);
	vr[1].guest_phys_addr = 0x800000;       /* moved: a new region */
	vr[1].userspace_addr = 0x7f0000800000;
	vr[2] = c->vr;
	if (c->err == -EEXIST) {                /* overlap with vr[0] */
		vr[2].guest_phys_addr = vr[2].guest_phys_addr == 0x1ff000 ?
					0xff000 : vr[2].guest_phys_addr;
		vr[2].userspace_addr = vr[2].userspace_addr == 0x7f00001ff000 ?
				       0x7f00000ff000 : vr[2].userspace_addr;
	}
	fds0 = test_count_fds();
	ck_assert_msg(vmmem_vhost_set_mem_table(m, vr, fds, 3, NULL) == c->err,
		      "SET_MEM_TABLE %s", c->what);
	expect_same(m, &before);
	expect_fds(fds0);
	vmmem_free(m);
	close(fd);
}
END_TEST

START_TEST(test_bad_arguments)
{
	int fd = sparse_memfd(2 * TSIZE), bad[2] = { -1, -1 };
	struct vmmem *m = two_region_space(fd);
	struct snapshot before = snap(m);
	struct vmmem_vhost_region vr[2], many[VMMEM_VHOST_MAX_REGIONS + 1];
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_FD);
	int fds[2] = { fd, fd };

	two_regions(vr);
	vr[0].guest_phys_addr = 0x400000;
	vr[0].userspace_addr = 0x7f0000400000;
	ck_assert_int_eq(vmmem_vhost_add_mem_reg(NULL, vr, fd, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_vhost_add_mem_reg(m, NULL, fd, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_vhost_add_mem_reg(m, vr, -1, NULL), -EBADF);
	ck_assert_int_eq(vmmem_vhost_add_mem_reg(m, vr, fd, &o), -EINVAL);
	o = test_region_opts(VMMEM_REGION_SHAREABLE);
	ck_assert_int_eq(vmmem_vhost_add_mem_reg(m, vr, fd, &o), -EINVAL);
	o = test_region_opts(0);
	o.offset = PAGE;
	ck_assert_int_eq(vmmem_vhost_add_mem_reg(m, vr, fd, &o), -EINVAL);
	o = test_region_opts(0);
	o.sz = 1;
	ck_assert_int_eq(vmmem_vhost_add_mem_reg(m, vr, fd, &o), -EINVAL);
	ck_assert_int_eq(vmmem_vhost_set_mem_table(NULL, vr, fds, 2, NULL),
			 -EINVAL);
	ck_assert_int_eq(vmmem_vhost_set_mem_table(m, NULL, fds, 2, NULL),
			 -EINVAL);
	ck_assert_int_eq(vmmem_vhost_set_mem_table(m, vr, NULL, 2, NULL),
			 -EINVAL);
	ck_assert_int_eq(vmmem_vhost_set_mem_table(m, vr, bad, 2, NULL),
			 -EBADF);
	memset(many, 0, sizeof(many));
	ck_assert_int_eq(vmmem_vhost_set_mem_table(m, many, fds,
						   VMMEM_VHOST_MAX_REGIONS + 1,
						   NULL), -E2BIG);
	/* two regions of one message overlapping each other */
	vr[1] = vr[0];
	vr[1].userspace_addr = 0x7f0000900000;
	ck_assert_int_eq(vmmem_vhost_set_mem_table(m, vr, fds, 2, NULL),
			 -EEXIST);
	ck_assert_int_eq(vmmem_vhost_rem_mem_reg(NULL, vr), -EINVAL);
	ck_assert_int_eq(vmmem_vhost_rem_mem_reg(m, NULL), -EINVAL);
	/* removal matches guest address, size and front-end address */
	two_regions(vr);
	vr[0].memory_size = 0;
	ck_assert_int_eq(vmmem_vhost_rem_mem_reg(m, &vr[0]), -EINVAL);
	two_regions(vr);
	vr[0].userspace_addr += PAGE;
	ck_assert_int_eq(vmmem_vhost_rem_mem_reg(m, &vr[0]), -ENOENT);
	two_regions(vr);
	vr[0].memory_size -= PAGE;
	ck_assert_int_eq(vmmem_vhost_rem_mem_reg(m, &vr[0]), -ENOENT);
	two_regions(vr);
	vr[0].guest_phys_addr = 0x200000;
	ck_assert_int_eq(vmmem_vhost_rem_mem_reg(m, &vr[0]), -ENOENT);
	expect_same(m, &before);
	two_regions(vr);
	vr[0].mmap_offset = 0x5000;     /* not compared, as libvhost-user */
	ck_assert_int_eq(vmmem_vhost_rem_mem_reg(m, &vr[0]), 0);
	ck_assert_int_eq(vmmem_num_regions(m), 1);
	vmmem_free(m);
	close(fd);
}
END_TEST

/* Descriptors the kernel will not map as guest memory: every one
 * refused, the space unchanged, the descriptor still the caller's. */
START_TEST(test_unmappable_fds)
{
	int fd = sparse_memfd(2 * TSIZE), fds0;
	struct vmmem *m = two_region_space(fd);
	struct snapshot before = snap(m);
	struct vmmem_vhost_region vr = { 0x400000, PAGE, 0x7f0000400000, 0 };
	struct vmmem_region_opts big[2];
	char path[64];
	int dir = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int pipefd[2], ro, sealed;

	ck_assert_int_ge(dir, 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    pipefd), 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(ro, 0);
	sealed = memfd_create("sealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	ck_assert_int_ge(sealed, 0);
	ck_assert_int_eq(ftruncate(sealed, PAGE), 0);
	ck_assert_int_eq(fcntl(sealed, F_ADD_SEALS, F_SEAL_WRITE), 0);
	memset(big, 0, sizeof(big));
	big[0].sz = sizeof(big);
	((char *)big)[sizeof(big) - 1] = 1;
	fds0 = test_count_fds();
	ck_assert_int_eq(vmmem_vhost_add_mem_reg(m, &vr, dir, NULL), -EISDIR);
	ck_assert_int_eq(vmmem_vhost_add_mem_reg(m, &vr, pipefd[0], NULL),
			 -ENODEV);
	ck_assert_int_eq(vmmem_vhost_add_mem_reg(m, &vr, ro, NULL), -EACCES);
	ck_assert_int_eq(vmmem_vhost_add_mem_reg(m, &vr, sealed, NULL), -EPERM);
	ck_assert_int_eq(vmmem_vhost_add_mem_reg(m, &vr, fd, big), -E2BIG);
	ck_assert_int_eq(vmmem_vhost_set_mem_table(m, &vr, &dir, 1, NULL),
			 -EISDIR);
	ck_assert_int_eq(vmmem_vhost_set_mem_table(m, &vr, &ro, 1, NULL),
			 -EACCES);
	ck_assert_int_eq(vmmem_vhost_set_mem_table(m, &vr, &fd, 1, big),
			 -E2BIG);
	expect_fds(fds0);
	expect_same(m, &before);
	ck_assert(fd_open(dir) && fd_open(ro) && fd_open(sealed));
	close(dir);
	close(pipefd[0]);
	close(pipefd[1]);
	close(ro);
	close(sealed);
	vmmem_free(m);
	close(fd);
}
END_TEST

/* A region placed by vmmem_add_region() has no front-end address: REM_MEM_REG
 * does not find it, translation does not reach it. */
START_TEST(test_plain_regions_have_no_uaddr)
{
	struct vmmem_region *r = test_region(PAGE);
	struct vmmem_vhost_region vr = { 0, PAGE, 0, 0 };
	struct vmmem *m;
	uint64_t g;

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(m, 0, r), 0);
	ck_assert_int_eq(vmmem_vhost_rem_mem_reg(m, &vr), -ENOENT);
	ck_assert_int_eq(vmmem_uaddr_to_gpa(m, 0, 1, &g), -EFAULT);
	ck_assert_int_eq(vmmem_remove_region(m, 0, PAGE, NULL), 0);
	vmmem_region_unref(r);
	vmmem_free(m);
}
END_TEST

/* The region limit: VMMEM_VHOST_MAX_REGIONS through ADD_MEM_REG, one more
 * refused. */
START_TEST(test_add_too_many)
{
	int fd = sparse_memfd(PAGE);
	struct vmmem *m;
	struct vmmem_vhost_region vr = { 0, PAGE, 0x7f0000000000, 0 };
	struct snapshot before;

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	for (unsigned i = 0; i < VMMEM_VHOST_MAX_REGIONS; i++) {
		vr.guest_phys_addr = i * 2 * PAGE;
		vr.userspace_addr = 0x7f0000000000 + i * 2 * PAGE;
		ck_assert_int_eq(vmmem_vhost_add_mem_reg(m, &vr, fd, NULL), 0);
	}
	vr.guest_phys_addr = 1ull << 40;
	vr.userspace_addr = 1ull << 44;
	ck_assert_int_eq(vmmem_num_regions(m), VMMEM_VHOST_MAX_REGIONS);
	ck_assert_int_eq(vmmem_vhost_add_mem_reg(m, &vr, fd, NULL), -ENOSPC);
	ck_assert_int_eq(vmmem_num_regions(m), VMMEM_VHOST_MAX_REGIONS);
	vmmem_free(m);
	(void)before;
	close(fd);
}
END_TEST

/* ------------------------------------------------------- translation */

START_TEST(test_translate_errors)
{
	int fd = sparse_memfd(2 * TSIZE);
	struct vmmem *m = two_region_space(fd);
	uint64_t g;
	void *h;

	ck_assert_int_eq(vmmem_uaddr_to_gpa(NULL, 0x7f0000000000, 1, &g),
			 -EINVAL);
	ck_assert_int_eq(vmmem_uaddr_to_gpa(m, 0x7f0000000000, 1, NULL),
			 -EINVAL);
	ck_assert_int_eq(vmmem_uaddr_to_gpa(m, 0x7f0000000000, 0, &g), -EINVAL);
	ck_assert_int_eq(vmmem_uaddr_to_gpa(m, UINT64_MAX, 2, &g), -EINVAL);
	ck_assert_int_eq(vmmem_uaddr_to_host(NULL, 0x7f0000000000, 1, &h),
			 -EINVAL);
	ck_assert_int_eq(vmmem_uaddr_to_host(m, 0x7f0000000000, 1, NULL),
			 -EINVAL);
	ck_assert_int_eq(vmmem_uaddr_to_host(m, 0x7f0000000000, 0, &h),
			 -EINVAL);
	ck_assert_int_eq(vmmem_uaddr_to_host(m, UINT64_MAX, 2, &h), -EINVAL);
	/* whole regions, and one byte more */
	ck_assert_int_eq(vmmem_uaddr_to_gpa(m, 0x7f0000000000, TSIZE, &g), 0);
	ck_assert_uint_eq(g, 0);
	ck_assert_int_eq(vmmem_uaddr_to_gpa(m, 0x7f0000000000, TSIZE + 1, &g),
			 -EFAULT);
	ck_assert_int_eq(vmmem_uaddr_to_host(m, 0x7f0000100000, TSIZE + 1, &h),
			 -EFAULT);
	ck_assert_int_eq(vmmem_uaddr_to_gpa(m, 0x7effffffffff, 1, &g), -EFAULT);
	ck_assert_int_eq(vmmem_uaddr_to_gpa(m, 0x7f0000200000, 1, &g), -EFAULT);
	ck_assert_int_eq(vmmem_uaddr_to_gpa(m, 0, 1, &g), -EFAULT);
	ck_assert_int_eq(vmmem_uaddr_to_host(m, 0x7f00000fffff, 2, &h), -EFAULT);
	ck_assert_int_eq(vmmem_uaddr_to_host(m, 0x7f00001fffff, 1, &h), 0);
	ck_assert_ptr_eq(h, test_host_of_gpa(m, 0x1fffff));
	vmmem_free(m);
	close(fd);
}
END_TEST

/* --------------------------------------------------------------- IOTLB */

struct misses {
	int n;
	uint64_t iova;
	unsigned int perm;
};

static void on_miss(uint64_t iova, uint64_t len, unsigned int perm,
		    void *opaque)
{
	struct misses *ms = opaque;

	(void)len;
	ms->n++;
	ms->iova = iova;
	ms->perm = perm;
}

START_TEST(test_iotlb_msg)
{
	int fd = sparse_memfd(2 * TSIZE);
	struct vmmem *m = two_region_space(fd);
	struct misses ms = { 0 };
	struct vmmem_iommu_opts o = { .sz = sizeof(o), .miss = on_miss,
				      .miss_opaque = &ms };
	struct vmmem_iommu *io;
	struct vmmem_vhost_iotlb_msg msg;
	uint8_t buf[8] = "ringpage", back[8];

	ck_assert_uint_eq(sizeof(msg), 32);     /* the wire payload */
	ck_assert_int_eq(vmmem_iommu_new(&io, m, &o), 0);
	ck_assert_int_eq(vmmem_write_exact(m, 0x101000, buf, 8), 0);
	/* the vIOMMU run's update: one page, read-write */
	msg = (struct vmmem_vhost_iotlb_msg){ .iova = 0x1feb9000,
		.size = 0x1000, .uaddr = 0x7f0000101000, .perm = 3,
		.type = VMMEM_VHOST_IOTLB_UPDATE };
	ck_assert_int_eq(vmmem_vhost_iotlb_msg(io, &msg), 0);
	ck_assert_int_eq(vmmem_iommu_read_exact(io, 0x1feb9000, back, 8), 0);
	ck_assert_mem_eq(back, buf, 8);
	/* read-only: a write is refused */
	msg.perm = 1;
	ck_assert_int_eq(vmmem_vhost_iotlb_msg(io, &msg), 0);
	ck_assert_int_eq(vmmem_iommu_write_exact(io, 0x1feb9000, buf, 8),
			 -EACCES);
	msg.type = VMMEM_VHOST_IOTLB_INVALIDATE;
	ck_assert_int_eq(vmmem_vhost_iotlb_msg(io, &msg), 0);
	ck_assert_int_eq(vmmem_iommu_read_exact(io, 0x1feb9000, back, 8),
			 -EAGAIN);
	ck_assert_int_eq(ms.n, 1);
	ck_assert_uint_eq(ms.iova, 0x1feb9000);
	ck_assert_uint_eq(ms.perm, VMMEM_PERM_READ);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 0);

	/* malformed */
	msg = (struct vmmem_vhost_iotlb_msg){ .iova = 0x1000, .size = 0x1000,
		.uaddr = 0x7f0000101000, .perm = 3,
		.type = VMMEM_VHOST_IOTLB_UPDATE };
	ck_assert_int_eq(vmmem_vhost_iotlb_msg(NULL, &msg), -EINVAL);
	ck_assert_int_eq(vmmem_vhost_iotlb_msg(io, NULL), -EINVAL);
	msg.uaddr = 0x7e0000000000;             /* no region there */
	ck_assert_int_eq(vmmem_vhost_iotlb_msg(io, &msg), -EFAULT);
	msg.uaddr = 0x7f00001ff000;             /* runs past the region */
	msg.size = 0x2000;
	ck_assert_int_eq(vmmem_vhost_iotlb_msg(io, &msg), -EFAULT);
	msg.uaddr = 0x7f0000101000;
	msg.size = 0;
	ck_assert_int_eq(vmmem_vhost_iotlb_msg(io, &msg), -EINVAL);
	msg.size = 0x1000;
	msg.perm = 0;
	ck_assert_int_eq(vmmem_vhost_iotlb_msg(io, &msg), -EINVAL);
	msg.perm = 4;
	ck_assert_int_eq(vmmem_vhost_iotlb_msg(io, &msg), -EINVAL);
	msg.perm = 3;
	msg.iova = UINT64_MAX;
	ck_assert_int_eq(vmmem_vhost_iotlb_msg(io, &msg), -EINVAL);
	msg.iova = 0x1000;
	msg.type = VMMEM_VHOST_IOTLB_MISS;
	ck_assert_int_eq(vmmem_vhost_iotlb_msg(io, &msg), -EINVAL);
	msg.type = VMMEM_VHOST_IOTLB_ACCESS_FAIL;
	ck_assert_int_eq(vmmem_vhost_iotlb_msg(io, &msg), -EINVAL);
	msg.type = 0;
	ck_assert_int_eq(vmmem_vhost_iotlb_msg(io, &msg), -EINVAL);
	msg.type = VMMEM_VHOST_IOTLB_INVALIDATE;
	msg.size = 0;
	ck_assert_int_eq(vmmem_vhost_iotlb_msg(io, &msg), -EINVAL);
	ck_assert_int_eq(vmmem_iommu_num_entries(io), 0);
	vmmem_iommu_free(io);
	vmmem_free(m);
	close(fd);
}
END_TEST

/* -------------------------------------- replacement under access */

/* Two tables swapped back and forth: region A (GPA 0) is in both,
 * unchanged; B and C (at 1 MiB and 2 MiB, adjacent) come from file 1,
 * filled with 0xb1, in one table and from file 2, filled with 0xb2, in the
 * other, at other front-end addresses.  Readers copy across B and C in one
 * access: every byte must be one table's, all of them the same table's; and
 * translate front-end addresses: each result must be one table's. */
#define SWAPS 2000
#define READS 20000
#define SPAN (64 * KIB)

struct stress {
	struct vmmem *m;
	int stop;
	unsigned long reads, errors;
	char first_error[128];
};

static void note_error(struct stress *st, const char *what, unsigned v)
{
	if (__atomic_fetch_add(&st->errors, 1, __ATOMIC_RELAXED) == 0)
		snprintf(st->first_error, sizeof(st->first_error), "%s %#x",
			 what, v);
}

/* B and C sit at other front-end addresses in each table: a translation
 * is one table's, or -EFAULT where the current table has none there. */
static const uint64_t swap_uaddr[2] = { 0x7f1000000000, 0x7f2000000000 };

static void check_uaddrs(struct stress *st)
{
	uint64_t g;
	int ret;

	for (int t = 0; t < 2; t++) {
		ret = vmmem_uaddr_to_gpa(st->m, swap_uaddr[t] + TSIZE + 0x800,
					 2 * PAGE, &g);
		if (ret != 0 && ret != -EFAULT)
			note_error(st, "uaddr_to_gpa: -errno", (unsigned)-ret);
		else if (ret == 0 && g != 0x200800)
			note_error(st, "uaddr translated to", (unsigned)g);
	}
	ret = vmmem_uaddr_to_gpa(st->m, 0x7f0000000800, 1, &g);
	if (ret || g != 0x800)
		note_error(st, "region A uaddr:", ret ? (unsigned)-ret : (unsigned)g);
}

static void *stress_reader(void *arg)
{
	struct stress *st = arg;
	static __thread uint8_t buf[2 * SPAN];
	while (!__atomic_load_n(&st->stop, __ATOMIC_RELAXED)) {
		int ret = vmmem_read_exact(st->m, 0x200000 - SPAN, buf,
					   sizeof(buf));
		uint8_t a;

		if (ret) {
			note_error(st, "read_exact: -errno", (unsigned)-ret);
			continue;
		}
		if (buf[0] != 0xb1 && buf[0] != 0xb2)
			note_error(st, "byte of no table:", buf[0]);
		for (size_t i = 1; i < sizeof(buf); i++)
			if (buf[i] != buf[0]) {
				note_error(st, "tables mixed at byte",
					   (unsigned)i);
				break;
			}
		if (vmmem_read_exact(st->m, 0x1000, &a, 1) || a != 0xa0)
			note_error(st, "region A byte:", a);
		check_uaddrs(st);
		__atomic_add_fetch(&st->reads, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

START_TEST(test_set_under_access)
{
	struct vmmem_vhost_region vr[2][3];
	int fa = test_filled_memfd(TSIZE, 0xa0);
	int f1 = test_filled_memfd(2 * TSIZE, 0xb1);
	int f2 = test_filled_memfd(2 * TSIZE, 0xb2);
	int fds[2][3] = { { fa, f1, f1 }, { fa, f2, f2 } };
	struct stress st = { 0 };
	pthread_t th[2];
	struct vmmem_region *a;
	time_t t0;

	for (int t = 0; t < 2; t++) {
		vr[t][0] = (struct vmmem_vhost_region){ 0x0, TSIZE,
							0x7f0000000000, 0 };
		vr[t][1] = (struct vmmem_vhost_region){ 0x100000, TSIZE,
							swap_uaddr[t], 0 };
		vr[t][2] = (struct vmmem_vhost_region){ 0x200000, TSIZE,
							swap_uaddr[t] + TSIZE,
							TSIZE };
	}
	ck_assert_int_eq(vmmem_new(&st.m, 0), 0);
	ck_assert_int_eq(vmmem_vhost_set_mem_table(st.m, vr[0], fds[0], 3,
						   NULL), 0);
	a = region_at(st.m, 0);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, stress_reader,
						&st), 0);
	/* Bounded: SWAPS replacements, more until the readers have done
	 * READS accesses (the two cores are shared), 10 s at most. */
	t0 = time(NULL);
	for (int i = 1; i <= SWAPS ||
	     (__atomic_load_n(&st.reads, __ATOMIC_RELAXED) < READS &&
	      time(NULL) - t0 < 10); i++) {
		ck_assert_int_eq(vmmem_vhost_set_mem_table(st.m, vr[i % 2],
							   fds[i % 2], 3, NULL), 0);
		if (i % 16 == 0)
			sched_yield();
	}
	__atomic_store_n(&st.stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	ck_assert_msg(st.errors == 0, "%lu errors, first: %s", st.errors,
		      st.first_error);
	ck_assert_uint_gt(st.reads, 0);
	ck_assert_ptr_eq(region_at(st.m, 0), a);
	vmmem_free(st.m);
	close(fa);
	close(f1);
	close(f2);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("vhost");
	TCase *tc = tcase_create("messages");
	int nbad = (int)(sizeof(bad_cases) / sizeof(bad_cases[0]));

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_lab_512m);
	tcase_add_test(tc, test_lab_3g);
	tcase_add_test(tc, test_lab_hotplug_dimm);
	tcase_add_test(tc, test_set_identical_keeps_everything);
	tcase_add_test(tc, test_set_changed);
	tcase_add_test(tc, test_unaligned_offset);
	tcase_add_loop_test(tc, test_add_bad, 0, nbad);
	tcase_add_loop_test(tc, test_set_bad, 0, nbad);
	tcase_add_test(tc, test_bad_arguments);
	tcase_add_test(tc, test_unmappable_fds);
	tcase_add_test(tc, test_plain_regions_have_no_uaddr);
	tcase_add_test(tc, test_add_too_many);
	tcase_add_test(tc, test_translate_errors);
	tcase_add_test(tc, test_iotlb_msg);
	tcase_add_test(tc, test_set_under_access);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run(suite());
}
