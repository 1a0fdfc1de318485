/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* vmmem_read_fd / pread_fd / write_fd / pwrite_fd. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "testutil.h"

/* A [0, 0x3000)  B [0x3000, 0x4008) (odd)  C [0x4008, 0x6008): contiguous;
 * hole [0x6008, 0x10000); D [0x10000, 0x11000). */
#define B_GPA 0x3000ull
#define C_GPA 0x4008ull
#define END_C 0x6008ull
#define D_GPA 0x10000ull

#define FILE_SIZE 0x8000

static uint8_t file_data[FILE_SIZE];

static struct vmmem *mk_space(void)
{
	static const uint64_t gpa[] = { 0, B_GPA, C_GPA, D_GPA };
	static const uint64_t size[] = { 0x3000, 0x1008, 0x2000, 0x1000 };

	return test_space(4, gpa, size);
}

/* A temporary file holding file_data. */
static int mk_file(void)
{
	int fd = test_tmpfile();

	test_pattern(file_data, sizeof(file_data), 1);
	ck_assert_int_eq(pwrite(fd, file_data, sizeof(file_data), 0), FILE_SIZE);
	return fd;
}

static off_t pos(int fd)
{
	return lseek(fd, 0, SEEK_CUR);
}

static void expect_zero(struct vmmem *m, uint64_t gpa, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t b = 0xFF;

		ck_assert_int_eq(vmmem_read(m, gpa + i, &b, 1), 1);
		ck_assert_uint_eq(b, 0);
	}
}

/* --------------------------------------------------------- file -> guest */

START_TEST(read_fd_one_region)
{
	struct vmmem *m = mk_space();
	int fd = mk_file();

	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(vmmem_read_fd(m, 0x100, fd, 100), 100);
	test_expect_bytes(m, 0x100, file_data, 100);
	expect_zero(m, 0xFF, 1);
	expect_zero(m, 0x164, 1);
	ck_assert_int_eq(pos(fd), 100);
	/* the next read continues at the file position */
	ck_assert_int_eq(vmmem_read_fd(m, 0x1000, fd, 50), 50);
	test_expect_bytes(m, 0x1000, file_data + 100, 50);
	ck_assert_int_eq(pos(fd), 150);
	close(fd);
	vmmem_free(m);
}
END_TEST

START_TEST(pread_fd_one_region)
{
	struct vmmem *m = mk_space();
	int fd = mk_file();

	ck_assert_int_eq(lseek(fd, 7, SEEK_SET), 7);
	ck_assert_int_eq(vmmem_pread_fd(m, 0x200, fd, 100, 50), 100);
	test_expect_bytes(m, 0x200, file_data + 50, 100);
	ck_assert_int_eq(pos(fd), 7);
	ck_assert_int_eq(vmmem_pread_fd(m, D_GPA, fd, 0x1000, 0x2000), 0x1000);
	test_expect_bytes(m, D_GPA, file_data + 0x2000, 0x1000);
	ck_assert_int_eq(pos(fd), 7);
	close(fd);
	vmmem_free(m);
}
END_TEST

START_TEST(read_fd_vectored)
{
	struct vmmem *m = mk_space();
	int fd = mk_file();

	/* two regions: 16 bytes each side of B_GPA */
	ck_assert_int_eq(vmmem_pread_fd(m, B_GPA - 16, fd, 32, 0x100), 32);
	test_expect_bytes(m, B_GPA - 16, file_data + 0x100, 32);
	expect_zero(m, B_GPA - 17, 1);
	expect_zero(m, B_GPA + 16, 1);

	/* three regions: A tail, all of B, C head */
	ck_assert_int_eq(lseek(fd, 0x300, SEEK_SET), 0x300);
	ck_assert_int_eq(vmmem_read_fd(m, B_GPA - 0x10, fd, 0x1008 + 0x30),
			 0x1008 + 0x30);
	ck_assert_int_eq(pos(fd), 0x300 + 0x1008 + 0x30);
	test_expect_bytes(m, B_GPA - 0x10, file_data + 0x300, 0x1008 + 0x30);
	/* bytes on both sides of each boundary */
	{
		uint8_t b[2];

		ck_assert_int_eq(vmmem_read_exact(m, B_GPA - 1, b, 2), 0);
		ck_assert_uint_eq(b[0], file_data[0x300 + 0x0F]);
		ck_assert_uint_eq(b[1], file_data[0x300 + 0x10]);
		ck_assert_int_eq(vmmem_read_exact(m, C_GPA - 1, b, 2), 0);
		ck_assert_uint_eq(b[0], file_data[0x300 + 0x10 + 0x1007]);
		ck_assert_uint_eq(b[1], file_data[0x300 + 0x10 + 0x1008]);
	}
	expect_zero(m, C_GPA + 0x20, 1);
	close(fd);
	vmmem_free(m);
}
END_TEST

START_TEST(read_fd_partial_backing)
{
	struct vmmem *m = mk_space();
	int fd = mk_file();

	/* only the 8 bytes before the hole are backed */
	ck_assert_int_eq(vmmem_pread_fd(m, END_C - 8, fd, 0x100, 0x40), 8);
	test_expect_bytes(m, END_C - 8, file_data + 0x40, 8);
	ck_assert_int_eq(lseek(fd, 0x80, SEEK_SET), 0x80);
	ck_assert_int_eq(vmmem_read_fd(m, END_C - 0x1000, fd, 0x2000), 0x1000);
	test_expect_bytes(m, END_C - 0x1000, file_data + 0x80, 0x1000);
	ck_assert_int_eq(pos(fd), 0x80 + 0x1000);
	close(fd);
	vmmem_free(m);
}
END_TEST

START_TEST(read_fd_eof)
{
	struct vmmem *m = mk_space();
	int fd = mk_file();

	ck_assert_int_eq(vmmem_pread_fd(m, 0, fd, 0x100, FILE_SIZE), 0);
	ck_assert_int_eq(vmmem_pread_fd(m, 0, fd, 0x100, FILE_SIZE + 0x1000), 0);
	/* short at EOF, across a region boundary */
	ck_assert_int_eq(vmmem_pread_fd(m, B_GPA - 4, fd, 0x100, FILE_SIZE - 10), 10);
	test_expect_bytes(m, B_GPA - 4, file_data + FILE_SIZE - 10, 10);
	expect_zero(m, B_GPA + 6, 1);
	ck_assert_int_eq(lseek(fd, 0, SEEK_END), FILE_SIZE);
	ck_assert_int_eq(vmmem_read_fd(m, 0, fd, 0x100), 0);
	expect_zero(m, 0, 0x10);
	close(fd);
	vmmem_free(m);
}
END_TEST

/* --------------------------------------------------------- guest -> file */

START_TEST(write_fd_one_and_vectored)
{
	static uint8_t g[0x2000], f[0x2000];
	struct vmmem *m = mk_space();
	int fd = mk_file();

	test_pattern(g, sizeof(g), 7);
	ck_assert_int_eq(vmmem_write_exact(m, 0x400, g, 0x200), 0);
	ck_assert_int_eq(lseek(fd, 0x10, SEEK_SET), 0x10);
	ck_assert_int_eq(vmmem_write_fd(m, 0x400, fd, 0x200), 0x200);
	ck_assert_int_eq(pos(fd), 0x210);
	ck_assert_int_eq(pread(fd, f, 0x202, 0xF), 0x202);
	ck_assert_uint_eq(f[0], file_data[0xF]);
	ck_assert_mem_eq(f + 1, g, 0x200);
	ck_assert_uint_eq(f[0x201], file_data[0x210]);

	/* three regions with pwrite_fd, position unchanged */
	ck_assert_int_eq(vmmem_write_exact(m, B_GPA - 0x20, g, 0x1008 + 0x40), 0);
	ck_assert_int_eq(vmmem_pwrite_fd(m, B_GPA - 0x20, fd, 0x1008 + 0x40, 0x1000),
			 0x1008 + 0x40);
	ck_assert_int_eq(pos(fd), 0x210);
	ck_assert_int_eq(pread(fd, f, 0x1008 + 0x40, 0x1000), 0x1008 + 0x40);
	ck_assert_mem_eq(f, g, 0x1008 + 0x40);
	/* both sides of each boundary */
	ck_assert_uint_eq(f[0x1F], g[0x1F]);
	ck_assert_uint_eq(f[0x20], g[0x20]);
	ck_assert_uint_eq(f[0x20 + 0x1007], g[0x20 + 0x1007]);
	ck_assert_uint_eq(f[0x20 + 0x1008], g[0x20 + 0x1008]);
	/* the file around it untouched */
	ck_assert_int_eq(pread(fd, f, 1, 0xFFF), 1);
	ck_assert_uint_eq(f[0], file_data[0xFFF]);
	ck_assert_int_eq(pread(fd, f, 1, 0x1000 + 0x1048), 1);
	ck_assert_uint_eq(f[0], file_data[0x1000 + 0x1048]);

	/* writing past EOF extends the file */
	ck_assert_int_eq(vmmem_pwrite_fd(m, D_GPA, fd, 0x10, FILE_SIZE + 0x10), 0x10);
	ck_assert_int_eq(lseek(fd, 0, SEEK_END), FILE_SIZE + 0x20);
	close(fd);
	vmmem_free(m);
}
END_TEST

START_TEST(write_fd_partial_backing)
{
	static uint8_t g[0x100], f[0x100];
	struct vmmem *m = mk_space();
	int fd = mk_file();

	test_pattern(g, sizeof(g), 8);
	ck_assert_int_eq(vmmem_write_exact(m, END_C - 8, g, 8), 0);
	ck_assert_int_eq(vmmem_pwrite_fd(m, END_C - 8, fd, 0x100, 0x20), 8);
	ck_assert_int_eq(pread(fd, f, 10, 0x20), 10);
	ck_assert_mem_eq(f, g, 8);
	ck_assert_uint_eq(f[8], file_data[0x28]);
	ck_assert_uint_eq(f[9], file_data[0x29]);
	ck_assert_int_eq(lseek(fd, 0x40, SEEK_SET), 0x40);
	ck_assert_int_eq(vmmem_write_fd(m, END_C - 8, fd, 0x100), 8);
	ck_assert_int_eq(pos(fd), 0x48);
	close(fd);
	vmmem_free(m);
}
END_TEST

/* ------------------------------------------------------------- errors */

START_TEST(errors)
{
	struct vmmem *m = mk_space();
	int fd = mk_file(), closed;

	/* unbacked start */
	ck_assert_int_eq(vmmem_read_fd(m, END_C, fd, 16), -EFAULT);
	ck_assert_int_eq(vmmem_pread_fd(m, 0x8000, fd, 16, 0), -EFAULT);
	ck_assert_int_eq(vmmem_write_fd(m, END_C, fd, 16), -EFAULT);
	ck_assert_int_eq(vmmem_pwrite_fd(m, D_GPA - 1, fd, 16, 0), -EFAULT);
	ck_assert_int_eq(pos(fd), 0);
	/* fd -1 */
	ck_assert_int_eq(vmmem_read_fd(m, 0, -1, 16), -EBADF);
	ck_assert_int_eq(vmmem_pread_fd(m, 0, -1, 16, 0), -EBADF);
	ck_assert_int_eq(vmmem_write_fd(m, 0, -1, 16), -EBADF);
	ck_assert_int_eq(vmmem_pwrite_fd(m, 0, -1, 16, 0), -EBADF);
	/* a closed fd */
	closed = dup(fd);
	ck_assert_int_ge(closed, 0);
	close(closed);
	ck_assert_int_eq(vmmem_read_fd(m, 0, closed, 16), -EBADF);
	ck_assert_int_eq(vmmem_pread_fd(m, 0, closed, 16, 0), -EBADF);
	ck_assert_int_eq(vmmem_write_fd(m, 0, closed, 16), -EBADF);
	ck_assert_int_eq(vmmem_pwrite_fd(m, 0, closed, 16, 0), -EBADF);
	/* negative offset */
	ck_assert_int_eq(vmmem_pread_fd(m, 0, fd, 16, -1), -EINVAL);
	ck_assert_int_eq(vmmem_pwrite_fd(m, 0, fd, 16, -4096), -EINVAL);
	/* len 0 */
	ck_assert_int_eq(vmmem_read_fd(m, 0, fd, 0), 0);
	ck_assert_int_eq(vmmem_pread_fd(m, 0, fd, 0, 0), 0);
	ck_assert_int_eq(vmmem_write_fd(m, 0, fd, 0), 0);
	ck_assert_int_eq(vmmem_pwrite_fd(m, 0, fd, 0, 0), 0);
	/* NULL mem, wrap, len > SSIZE_MAX */
	ck_assert_int_eq(vmmem_read_fd(NULL, 0, fd, 16), -EINVAL);
	ck_assert_int_eq(vmmem_pwrite_fd(NULL, 0, fd, 16, 0), -EINVAL);
	ck_assert_int_eq(vmmem_read_fd(m, UINT64_MAX - 7, fd, 16), -EINVAL);
	ck_assert_int_eq(vmmem_write_fd(m, 0, fd, (size_t)SSIZE_MAX + 1), -EINVAL);
	/* other syscall errors come back as -errno: a read-only fd written */
	{
		char path[] = "/tmp/test-fdio-ro-XXXXXX";
		int w = mkstemp(path), ro;

		ck_assert_int_ge(w, 0);
		ro = open(path, O_RDONLY);
		ck_assert_int_ge(ro, 0);
		unlink(path);
		ck_assert_int_eq(vmmem_pwrite_fd(m, 0, ro, 16, 0), -EBADF);
		int dir = open("/", O_RDONLY | O_DIRECTORY);

		ck_assert_int_ge(dir, 0);
		ck_assert_int_eq(vmmem_read_fd(m, 0, dir, 16), -EISDIR);
		close(dir);
		close(ro);
		close(w);
	}
	expect_zero(m, 0, 0x20);
	close(fd);
	vmmem_free(m);
}
END_TEST

/* --------------------------------------------------------------- pipes */

START_TEST(pipe_read_write)
{
	static uint8_t g[0x200], f[0x200];
	struct vmmem *m = mk_space();
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	test_pattern(g, sizeof(g), 9);
	/* pipe -> guest, across the A/B boundary */
	ck_assert_int_eq(write(p[1], g, 0x100), 0x100);
	ck_assert_int_eq(vmmem_read_fd(m, B_GPA - 0x80, p[0], 0x100), 0x100);
	test_expect_bytes(m, B_GPA - 0x80, g, 0x100);
	/* a short read: only what is in the pipe */
	ck_assert_int_eq(write(p[1], g + 0x100, 0x10), 0x10);
	ck_assert_int_eq(vmmem_read_fd(m, 0x800, p[0], 0x100), 0x10);
	test_expect_bytes(m, 0x800, g + 0x100, 0x10);
	/* guest -> pipe, across B/C */
	ck_assert_int_eq(vmmem_write_exact(m, C_GPA - 0x40, g, 0x180), 0);
	ck_assert_int_eq(vmmem_write_fd(m, C_GPA - 0x40, p[1], 0x180), 0x180);
	ck_assert_int_eq(read(p[0], f, sizeof(f)), 0x180);
	ck_assert_mem_eq(f, g, 0x180);
	/* positional I/O on a pipe: the syscall's error */
	ck_assert_int_eq(vmmem_pread_fd(m, 0, p[0], 16, 0), -ESPIPE);
	ck_assert_int_eq(vmmem_pwrite_fd(m, 0, p[1], 16, 0), -ESPIPE);
	/* EOF on a pipe */
	close(p[1]);
	ck_assert_int_eq(vmmem_read_fd(m, 0, p[0], 16), 0);
	close(p[0]);
	vmmem_free(m);
}
END_TEST

/* --------------------------------------------------------------- dirty */

START_TEST(read_fd_marks_dirty)
{
	struct vmmem *m = mk_space();
	int fd = mk_file();
	uint64_t bm[1];

	ck_assert_int_eq(vmmem_dirty_start(m, 4096), 0);
	ck_assert_int_eq(vmmem_pread_fd(m, 0x1000 - 4, fd, 8, 0), 8);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x0), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x1000), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x2000), 0);
	bm[0] = ~0ull;
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0, END_C, bm), 2);
	ck_assert_uint_eq(bm[0], 0x3);

	/* read_fd too, across B and C */
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(vmmem_read_fd(m, C_GPA - 0x10, fd, 0x20), 0x20);
	bm[0] = ~0ull;
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0, END_C, bm), 2);
	ck_assert_uint_eq(bm[0], (1ull << 3) | (1ull << 4));

	/* a short read marks only the pages that received data */
	ck_assert_int_eq(vmmem_pread_fd(m, 0x800, fd, 0x3000, FILE_SIZE - 0x100), 0x100);
	bm[0] = ~0ull;
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0, END_C, bm), 1);
	ck_assert_uint_eq(bm[0], 1);
	/* EOF: nothing read, nothing marked */
	ck_assert_int_eq(vmmem_pread_fd(m, 0x2000, fd, 0x100, FILE_SIZE), 0);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x2000), 0);
	/* guest -> file does not mark */
	ck_assert_int_eq(vmmem_pwrite_fd(m, 0x2000, fd, 0x100, 0), 0x100);
	ck_assert_int_eq(vmmem_write_fd(m, 0x5000, fd, 0x100), 0x100);
	bm[0] = ~0ull;
	ck_assert_int_eq(vmmem_dirty_harvest(m, 0, END_C, bm), 0);
	ck_assert_uint_eq(bm[0], 0);
	close(fd);
	vmmem_free(m);
}
END_TEST

/* ------------------------------------------------------ many regions */

/* Spec: fewer bytes than requested may be transferred when the range
 * crosses a very large number of regions; calling again for the rest moves
 * all of it.  200 adjacent one-page regions, file -> guest -> file. */
#define MANY 200

/* A read from a pipe into [0, 0x2000) of a space with one region there,
 * blocked in its syscall while the main thread replaces the region. */
struct blocked_read {
	struct vmmem *m;
	int fd;
	pid_t tid;                   /* atomic: set once running */
	ssize_t ret;
};

static void *blocked_reader(void *arg)
{
	struct blocked_read *b = arg;

	__atomic_store_n(&b->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	b->ret = vmmem_read_fd(b->m, 0x1000, b->fd, 0x10);
	return NULL;
}

/* Waits until the thread sleeps, which it does only in its read. */
static void wait_blocked(const struct blocked_read *b)
{
	char path[64], buf[256];
	pid_t tid;

	while (!(tid = __atomic_load_n(&b->tid, __ATOMIC_ACQUIRE)))
		sched_yield();
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	for (;;) {
		FILE *f = fopen(path, "r");
		char *p = NULL;

		ck_assert_ptr_nonnull(f);
		if (fgets(buf, sizeof(buf), f))
			p = strrchr(buf, ')');
		fclose(f);
		if (p && p[1] == ' ' && p[2] == 'S')
			return;
		sched_yield();
	}
}

/* The pages an fd read wrote are logged only if the region it wrote to is
 * still placed where it was: replaced by another region meanwhile, the
 * GPA now shows memory the read never touched; placed back, it is the same
 * memory, written. */
static void read_while_replaced(bool same_region)
{
	struct vmmem *m = NULL;
	struct vmmem_region *r = test_region(0x2000), *other = test_region(0x2000);
	struct blocked_read b = { 0 };
	uint8_t *rh = test_region_host(r), *oh = test_region_host(other);
	int p[2];
	pthread_t th;

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(m, 0, r), 0);
	ck_assert_int_eq(vmmem_dirty_start(m, 4096), 0);
	ck_assert_int_eq(pipe(p), 0);
	b.m = m;
	b.fd = p[0];
	ck_assert_int_eq(pthread_create(&th, NULL, blocked_reader, &b), 0);
	wait_blocked(&b);
	ck_assert_int_eq(vmmem_remove_region(m, 0, 0x2000, NULL), 0);
	ck_assert_int_eq(vmmem_add_region(m, 0, same_region ? r : other), 0);
	ck_assert_int_eq(write(p[1], "0123456789abcdef", 0x10), 0x10);
	pthread_join(th, NULL);
	ck_assert_int_eq(b.ret, 0x10);
	/* the data went to the region mapped when the read started */
	ck_assert_int_eq(memcmp(rh + 0x1000, "0123456789abcdef", 0x10), 0);
	if (!same_region)
		ck_assert_int_eq(test_all_bytes(oh, 0, 0x2000), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x1000), (same_region ? 1 : 0));
	ck_assert_int_eq(vmmem_dirty_test(m, 0), 0);
	close(p[0]);
	close(p[1]);
	vmmem_region_unref(r);
	vmmem_region_unref(other);
	vmmem_free(m);
}

START_TEST(read_fd_region_replaced)
{
	read_while_replaced(false);
}
END_TEST

START_TEST(read_fd_region_placed_back)
{
	read_while_replaced(true);
}
END_TEST

static struct vmmem *mk_many(uint64_t ps)
{
	static uint64_t gpa[MANY], size[MANY];

	for (size_t i = 0; i < MANY; i++) {
		gpa[i] = i * ps;
		size[i] = ps;
	}
	return test_space(MANY, gpa, size);
}

START_TEST(many_regions_call_again)
{
	const uint64_t ps = (uint64_t)sysconf(_SC_PAGESIZE), len = MANY * ps;
	struct vmmem *m = mk_many(ps);
	uint8_t *src = malloc(len), *back = malloc(len);
	int in = test_tmpfile(), out = test_tmpfile(), calls;
	uint64_t done;

	ck_assert_ptr_nonnull(src);
	ck_assert_ptr_nonnull(back);
	ck_assert_int_eq(vmmem_num_regions(m), MANY);
	test_pattern(src, len, 7);
	ck_assert_int_eq(pwrite(in, src, len, 0), (ssize_t)len);

	/* file -> guest, positional: each call moves a non-empty prefix. */
	for (done = 0, calls = 0; done < len && calls < MANY; calls++) {
		ssize_t n = vmmem_pread_fd(m, done, in, len - done, (off_t)done);

		ck_assert_int_gt(n, 0);
		ck_assert_uint_le((uint64_t)n, len - done);
		done += (uint64_t)n;
	}
	ck_assert_uint_eq(done, len);
	ck_assert_int_eq(pos(in), 0);           /* positional: untouched */
	for (uint64_t off = 0; off < len; off += 0x10000)
		test_expect_bytes(m, off, src + off,
				  len - off < 0x10000 ? len - off : 0x10000);

	/* guest -> file, at the file position, which advances. */
	for (done = 0, calls = 0; done < len && calls < MANY; calls++) {
		ssize_t n = vmmem_write_fd(m, done, out, len - done);

		ck_assert_int_gt(n, 0);
		ck_assert_uint_le((uint64_t)n, len - done);
		done += (uint64_t)n;
	}
	ck_assert_uint_eq(done, len);
	ck_assert_int_eq(pos(out), (off_t)len);
	ck_assert_int_eq(pread(out, back, len, 0), (ssize_t)len);
	ck_assert_mem_eq(back, src, len);

	/* file -> guest again, at the file position, which advances. */
	memset(back, 0, len);
	ck_assert_int_eq(vmmem_fill(m, 0, 0, len), 0);
	ck_assert_int_eq(lseek(in, 0, SEEK_SET), 0);
	for (done = 0, calls = 0; done < len && calls < MANY; calls++) {
		ssize_t n = vmmem_read_fd(m, done, in, len - done);

		ck_assert_int_gt(n, 0);
		done += (uint64_t)n;
	}
	ck_assert_uint_eq(done, len);
	ck_assert_int_eq(pos(in), (off_t)len);
	ck_assert_int_eq(vmmem_read_exact(m, 0, back, len), 0);
	ck_assert_mem_eq(back, src, len);

	free(src);
	free(back);
	close(in);
	close(out);
	vmmem_free(m);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fdio");
	TCase *tc;

	tc = tcase_create("file_to_guest");
	tcase_add_test(tc, read_fd_one_region);
	tcase_add_test(tc, pread_fd_one_region);
	tcase_add_test(tc, read_fd_vectored);
	tcase_add_test(tc, read_fd_partial_backing);
	tcase_add_test(tc, read_fd_eof);
	suite_add_tcase(s, tc);

	tc = tcase_create("guest_to_file");
	tcase_add_test(tc, write_fd_one_and_vectored);
	tcase_add_test(tc, write_fd_partial_backing);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, errors);
	tcase_add_test(tc, pipe_read_write);
	suite_add_tcase(s, tc);

	tc = tcase_create("dirty");
	tcase_add_test(tc, read_fd_marks_dirty);
	tcase_add_test(tc, read_fd_region_replaced);
	tcase_add_test(tc, read_fd_region_placed_back);
	suite_add_tcase(s, tc);

	tc = tcase_create("many_regions");
	tcase_add_test(tc, many_regions_call_again);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run(suite());
}
