/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Regions: creation (anonymous, memfd, fd + offset, raw), the option struct,
 * reference counting, the queries and vmmem_region_discard(). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static uint64_t ps;            /* system page size */
static char tmpdir[256];       /* per-TCase scratch directory */

/* ------------------------------------------------------------ helpers */

static int fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* Forks a child that writes byte c to p; returns once it has exited. */
static void child_writes(void *p, int c)
{
	pid_t pid = fork();
	int st;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		*(volatile unsigned char *)p = (unsigned char)c;
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* Resource-limit tests run in a child: see test_run_in_child. */

static void common_setup(void)
{
	ps = (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Unchecked fixture: runs in the parent, so the directory is removed even
 * when a test fails half-way. */
static void tmpdir_setup(void)
{
	const char *base = getenv("TMPDIR");

	common_setup();
	snprintf(tmpdir, sizeof(tmpdir), "%s/vmmem-region-XXXXXX",
		 base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir))
		tmpdir[0] = 0;   /* tests then fail to create their files */
}

static void tmpdir_teardown(void)
{
	struct dirent *e;
	DIR *d;

	if (!tmpdir[0] || !(d = opendir(tmpdir)))
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	rmdir(tmpdir);
}

/* A regular file in tmpdir of size bytes filled with c, opened O_RDWR. */
static int tmpfile_of(const char *name, uint64_t size, int c, char *path,
		      size_t pathlen)
{
	int fd;

	ck_assert_int_lt(snprintf(path, pathlen, "%s/%s", tmpdir, name),
			 (int)pathlen);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	test_fill_fd(fd, size, c);
	return fd;
}

/* ------------------------------------------------------- anonymous */

START_TEST(anon_default)
{
	static const unsigned char zero[64 * 1024];
	struct vmmem_region *r = NULL;
	unsigned int flags = 1234;
	uint64_t size = 0, off = 77;
	unsigned char *h;
	char perms[5];

	ck_assert_int_eq(vmmem_region_new(&r, MIB, NULL), 0);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(vmmem_region_size(r, &size), 0);
	ck_assert_uint_eq(size, MIB);
	h = test_region_host(r);
	ck_assert_uint_eq((uintptr_t)h % ps, 0);
	ck_assert_int_eq(vmmem_region_flags(r, &flags), 0);
	ck_assert_uint_eq(flags, 0);
	ck_assert_int_eq(vmmem_region_fd(r, &off), -ENOENT);
	ck_assert_int_eq(vmmem_region_fd(r, NULL), -ENOENT);

	/* Fresh anonymous memory reads zero and is writable everywhere. */
	for (uint64_t o = 0; o < MIB; o += sizeof(zero))
		ck_assert_mem_eq(h + o, zero, sizeof(zero));
	h[0] = 0x11;
	h[MIB - 1] = 0x22;
	ck_assert_uint_eq(h[0], 0x11);
	ck_assert_uint_eq(h[MIB - 1], 0x22);

	/* Private: the mapping is "p" and a forked child's write stays in
	 * the child. */
	test_maps_perms(h, perms);
	ck_assert_str_eq(perms, "rw-p");
	child_writes(h + 4096, 0x77);
	ck_assert_uint_eq(h[4096], 0);
	vmmem_region_unref(r);
}
END_TEST

START_TEST(anon_with_zeroed_opts)
{
	struct vmmem_region_opts o = test_region_opts(0);
	struct vmmem_region *r = NULL;
	uint64_t size = 0;
	unsigned char *h;

	ck_assert_int_eq(vmmem_region_new(&r, 64 * KIB, &o), 0);
	ck_assert_int_eq(vmmem_region_size(r, &size), 0);
	ck_assert_uint_eq(size, 64 * KIB);
	h = test_region_host(r);
	h[64 * KIB - 1] = 3;
	ck_assert_uint_eq(h[64 * KIB - 1], 3);
	ck_assert_int_eq(vmmem_region_fd(r, NULL), -ENOENT);
	vmmem_region_unref(r);
}
END_TEST

START_TEST(anon_odd_size)
{
	struct vmmem_region *r = NULL;
	uint64_t size = 0;
	unsigned char *h;

	/* Not a multiple of the page size: the region keeps its exact size. */
	ck_assert_int_eq(vmmem_region_new(&r, 5000, NULL), 0);
	ck_assert_int_eq(vmmem_region_size(r, &size), 0);
	ck_assert_uint_eq(size, 5000);
	h = test_region_host(r);
	h[4999] = 9;
	ck_assert_uint_eq(h[4999], 9);
	vmmem_region_unref(r);
}
END_TEST

START_TEST(two_regions_distinct)
{
	struct vmmem_region *a = test_region(64 * KIB);
	struct vmmem_region *b = test_region(64 * KIB);
	unsigned char *ha = test_region_host(a), *hb = test_region_host(b);

	ck_assert_ptr_ne(a, b);
	ck_assert(ha + 64 * KIB <= hb || hb + 64 * KIB <= ha);
	ha[0] = 1;
	ck_assert_uint_eq(hb[0], 0);
	vmmem_region_unref(a);
	vmmem_region_unref(b);
}
END_TEST

/* ---------------------------------------------------------- memfd */

START_TEST(shareable_memfd)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_SHAREABLE);
	struct vmmem_region *r = NULL;
	unsigned int flags = 0;
	uint64_t off = 99;
	struct stat st;
	char link[PATH_MAX], path[64], buf[8], perms[5];
	unsigned char *h;
	ssize_t n;
	int fd, fds = test_count_fds();

	ck_assert_int_eq(vmmem_region_new(&r, MIB, &o), 0);
	fd = vmmem_region_fd(r, &off);
	ck_assert_int_ge(fd, 0);
	ck_assert_uint_eq(off, 0);
	ck_assert_int_eq(vmmem_region_fd(r, NULL), fd);
	ck_assert_int_eq(test_count_fds(), fds + 1);
	ck_assert_int_eq(vmmem_region_flags(r, &flags), 0);
	ck_assert_uint_eq(flags, VMMEM_REGION_SHAREABLE);

	/* A close-on-exec memfd named "vmmem", as large as the region. */
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)MIB);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	ck_assert_int_gt(n, 0);
	link[n] = 0;
	ck_assert_msg(strncmp(link, "/memfd:vmmem", 12) == 0, "fd is %s", link);
	/* Created without SEAL: sealing is not allowed. */
	ck_assert_int_eq(fcntl(fd, F_GET_SEALS), F_SEAL_SEAL);

	/* The memory is the fd's content, both ways. */
	h = test_region_host(r);
	ck_assert_int_eq(pwrite(fd, "hello", 5, 8192), 5);
	ck_assert_mem_eq(h + 8192, "hello", 5);
	memcpy(h + MIB - 5, "world", 5);
	ck_assert_int_eq(pread(fd, buf, 5, (off_t)(MIB - 5)), 5);
	ck_assert_mem_eq(buf, "world", 5);

	/* Shared: a forked child's write is seen by the parent. */
	test_maps_perms(h, perms);
	ck_assert_str_eq(perms, "rw-s");
	child_writes(h + 100, 0x42);
	ck_assert_uint_eq(h[100], 0x42);

	/* The region owns the fd: closed at the last unref. */
	ck_assert_ptr_eq(vmmem_region_ref(r), r);
	vmmem_region_unref(r);
	ck_assert(fd_is_open(fd));
	vmmem_region_unref(r);
	ck_assert(!fd_is_open(fd));
	ck_assert_int_eq(test_count_fds(), fds);
}
END_TEST

START_TEST(shareable_named)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_SHAREABLE);
	struct vmmem_region *r = NULL;
	char link[PATH_MAX], path[64];
	ssize_t n;
	int fd;

	o.name = "guest-ram";
	ck_assert_int_eq(vmmem_region_new(&r, 64 * KIB, &o), 0);
	fd = vmmem_region_fd(r, NULL);
	ck_assert_int_ge(fd, 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	ck_assert_int_gt(n, 0);
	link[n] = 0;
	ck_assert_msg(strncmp(link, "/memfd:guest-ram", 16) == 0, "fd is %s",
		      link);
	vmmem_region_unref(r);
}
END_TEST

/* The child's file descriptors, -1 when they cannot be read (no ck_assert
 * in the child; test_child_count_maps counts its mappings). */
static int child_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Spec: "-EMFILE when no file descriptor is left": a shareable region needs
 * one for its memfd, an fd region one for its duplicate; anonymous memory
 * needs none.  The failures leave no mapping behind. */
static int no_fd_left_child(void)
{
	struct vmmem_region_opts o;
	struct vmmem_region *r = NULL;
	struct rlimit rl;
	int fillers[128], n = 0, src, maps;

	src = memfd_create("vmmem-src", MFD_CLOEXEC);
	TEST_CHILD_EXPECT(src >= 0 && ftruncate(src, 64 * KIB) == 0);
	o = test_region_opts(VMMEM_REGION_SHAREABLE);
	TEST_CHILD_EXPECT(vmmem_region_new(&r, 64 * KIB, &o) == 0);  /* warm-up */
	vmmem_region_unref(r);
	r = NULL;
	maps = test_child_count_maps();
	TEST_CHILD_EXPECT(maps > 0);

	TEST_CHILD_EXPECT(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 64)
		rl.rlim_cur = 64;
	else
		rl.rlim_cur = rl.rlim_max;
	TEST_CHILD_EXPECT(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	for (;;) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			TEST_CHILD_EXPECT(errno == EMFILE);
			break;
		}
		TEST_CHILD_EXPECT(n < (int)(sizeof(fillers) / sizeof(fillers[0])));
		fillers[n++] = fd;
	}

	o = test_region_opts(VMMEM_REGION_SHAREABLE);
	TEST_CHILD_EXPECT(vmmem_region_new(&r, 64 * KIB, &o) == -EMFILE);
	o = test_region_opts(VMMEM_REGION_FD);
	o.fd = src;
	TEST_CHILD_EXPECT(vmmem_region_new(&r, 64 * KIB, &o) == -EMFILE);
	TEST_CHILD_EXPECT(r == NULL);
	TEST_CHILD_EXPECT(vmmem_region_new(&r, 64 * KIB, NULL) == 0);
	vmmem_region_unref(r);
	r = NULL;

	while (n)
		close(fillers[--n]);
	TEST_CHILD_EXPECT(test_child_count_maps() == maps);
	/* With descriptors to be had again, the same calls succeed. */
	o = test_region_opts(VMMEM_REGION_SHAREABLE);
	TEST_CHILD_EXPECT(vmmem_region_new(&r, 64 * KIB, &o) == 0);
	TEST_CHILD_EXPECT(vmmem_region_fd(r, NULL) >= 0);
	vmmem_region_unref(r);
	close(src);
	return 0;
}

START_TEST(shareable_no_fd_left)
{
	test_run_in_child(no_fd_left_child, "no file descriptor left");
}
END_TEST

/* Spec: any other failure of ftruncate(2) is returned as its negated errno
 * value, and leaves no file descriptor or mapping behind.  Sizing the memfd
 * past RLIMIT_FSIZE fails with EFBIG (SIGXFSZ ignored). */
static int file_size_limit_child(void)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_SHAREABLE);
	struct vmmem_region *r = NULL;
	struct rlimit rl;
	int fds, maps;

	TEST_CHILD_EXPECT(signal(SIGXFSZ, SIG_IGN) != SIG_ERR);
	TEST_CHILD_EXPECT(vmmem_region_new(&r, 64 * KIB, &o) == 0);  /* warm-up */
	vmmem_region_unref(r);
	r = NULL;
	fds = child_count_fds();
	maps = test_child_count_maps();
	TEST_CHILD_EXPECT(fds > 0 && maps > 0);

	TEST_CHILD_EXPECT(getrlimit(RLIMIT_FSIZE, &rl) == 0);
	TEST_CHILD_EXPECT(rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= 64 * KIB);
	rl.rlim_cur = 64 * KIB;
	TEST_CHILD_EXPECT(setrlimit(RLIMIT_FSIZE, &rl) == 0);
	TEST_CHILD_EXPECT(vmmem_region_new(&r, MIB, &o) == -EFBIG);
	TEST_CHILD_EXPECT(r == NULL);
	TEST_CHILD_EXPECT(child_count_fds() == fds);
	TEST_CHILD_EXPECT(test_child_count_maps() == maps);
	/* Up to the limit is fine. */
	TEST_CHILD_EXPECT(vmmem_region_new(&r, 64 * KIB, &o) == 0);
	vmmem_region_unref(r);
	return 0;
}

START_TEST(shareable_file_size_limit)
{
	test_run_in_child(file_size_limit_child, "RLIMIT_FSIZE");
}
END_TEST

/* ------------------------------------------------------------ fd */

START_TEST(fd_tmpfile_shared)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_FD);
	struct vmmem_region *r = NULL;
	char path[PATH_MAX], buf[16], perms[5];
	unsigned int flags = 0;
	uint64_t off = 0;
	unsigned char *h;
	int fd, rfd, fd2;

	fd = tmpfile_of("shared", 256 * KIB, 0, path, sizeof(path));
	ck_assert_int_eq(pwrite(fd, "file-data", 9, 64 * KIB), 9);
	o.fd = fd;
	o.offset = 64 * KIB;
	ck_assert_int_eq(vmmem_region_new(&r, 128 * KIB, &o), 0);

	/* The region has its own duplicate of the fd, at the offset. */
	rfd = vmmem_region_fd(r, &off);
	ck_assert_int_ge(rfd, 0);
	ck_assert_int_ne(rfd, fd);
	ck_assert_uint_eq(off, 64 * KIB);
	ck_assert_int_eq(vmmem_region_flags(r, &flags), 0);
	ck_assert_uint_eq(flags, VMMEM_REGION_FD);

	h = test_region_host(r);
	ck_assert_mem_eq(h, "file-data", 9);
	test_maps_perms(h, perms);
	ck_assert_str_eq(perms, "rw-s");

	/* MAP_SHARED: writes land in the file (read back by path). */
	memcpy(h + 4096, "via-host", 8);
	fd2 = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd2, 0);
	ck_assert_int_eq(pread(fd2, buf, 8, 64 * KIB + 4096), 8);
	ck_assert_mem_eq(buf, "via-host", 8);

	/* The caller's fd is the caller's: closing it changes nothing. */
	ck_assert_int_eq(close(fd), 0);
	memcpy(h + 128 * KIB - 4, "tail", 4);
	ck_assert_int_eq(pread(fd2, buf, 4, 192 * KIB - 4), 4);
	ck_assert_mem_eq(buf, "tail", 4);
	ck_assert(fd_is_open(rfd));
	vmmem_region_unref(r);
	ck_assert(!fd_is_open(rfd));
	close(fd2);
}
END_TEST

START_TEST(fd_memfd)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_FD);
	struct vmmem_region *r = NULL;
	unsigned char *h;
	char buf[8];
	int fd = test_filled_memfd(64 * KIB, 0);

	o.fd = fd;
	ck_assert_int_eq(vmmem_region_new(&r, 64 * KIB, &o), 0);
	ck_assert_int_ge(vmmem_region_fd(r, NULL), 0);
	ck_assert_int_ne(vmmem_region_fd(r, NULL), fd);
	h = test_region_host(r);
	ck_assert_int_eq(pwrite(fd, "abcd", 4, 12345), 4);
	ck_assert_mem_eq(h + 12345, "abcd", 4);
	memcpy(h + 40000, "wxyz", 4);
	ck_assert_int_eq(pread(fd, buf, 4, 40000), 4);
	ck_assert_mem_eq(buf, "wxyz", 4);
	vmmem_region_unref(r);
	/* Our fd survives the region. */
	ck_assert(fd_is_open(fd));
	close(fd);
}
END_TEST

START_TEST(fd_dev_shm)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_FD);
	struct vmmem_region *r = NULL;
	char path[] = "/dev/shm/vmmem-test-XXXXXX", buf[8];
	unsigned char *h;
	uint64_t off = 0;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(ftruncate(fd, 64 * KIB), 0);
	o.fd = fd;
	o.offset = 4096;
	ck_assert_int_eq(vmmem_region_new(&r, 8192, &o), 0);
	ck_assert_int_ge(vmmem_region_fd(r, &off), 0);
	ck_assert_uint_eq(off, 4096);
	h = test_region_host(r);
	memcpy(h + 8188, "shm!", 4);
	ck_assert_int_eq(pread(fd, buf, 4, 4096 + 8188), 4);
	ck_assert_mem_eq(buf, "shm!", 4);
	ck_assert_int_eq(pwrite(fd, "back", 4, 4096), 4);
	ck_assert_mem_eq(h, "back", 4);
	vmmem_region_unref(r);
	close(fd);
}
END_TEST

START_TEST(fd_private)
{
	struct vmmem_region_opts o =
		test_region_opts(VMMEM_REGION_FD | VMMEM_REGION_PRIVATE);
	struct vmmem_region *r = NULL;
	char path[PATH_MAX], perms[5];
	unsigned char buf[64];
	unsigned int flags = 0;
	unsigned char *h;
	int fd = tmpfile_of("private", 64 * KIB, 'A', path, sizeof(path));

	o.fd = fd;
	ck_assert_int_eq(vmmem_region_new(&r, 64 * KIB, &o), 0);
	ck_assert_int_eq(vmmem_region_flags(r, &flags), 0);
	ck_assert_uint_eq(flags, VMMEM_REGION_FD | VMMEM_REGION_PRIVATE);
	h = test_region_host(r);
	ck_assert(test_all_bytes(h, 'A', 64 * KIB));
	test_maps_perms(h, perms);
	ck_assert_str_eq(perms, "rw-p");

	/* Writes stay in the process, the file keeps its data. */
	memset(h + 100, 'B', sizeof(buf));
	ck_assert_int_eq(pread(fd, buf, sizeof(buf), 100), (ssize_t)sizeof(buf));
	ck_assert(test_all_bytes(buf, 'A', sizeof(buf)));
	ck_assert_uint_eq(h[100], 'B');
	vmmem_region_unref(r);
	close(fd);
}
END_TEST

/* An fd that is not a regular file: only regular files are checked against
 * offset + size, so any size maps.  MAP_SHARED /dev/zero is shared
 * anonymous memory: zero at first, writable, and vmmem_region_check() finds
 * no file that could have shrunk under it. */
START_TEST(fd_char_device)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_FD);
	struct vmmem_region *r = NULL;
	uint64_t off = 1;
	unsigned char *h;
	int fd = open("/dev/zero", O_RDWR | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	o.fd = fd;
	ck_assert_int_eq(vmmem_region_new(&r, MIB, &o), 0);
	close(fd);                      /* the region has its own */
	h = test_region_host(r);
	ck_assert(test_all_bytes(h, 0, MIB));
	memset(h + MIB - ps, 0x7e, ps);
	ck_assert(test_all_bytes(h + MIB - ps, 0x7e, ps));
	ck_assert_int_ge(vmmem_region_fd(r, &off), 0);
	ck_assert_uint_eq(off, 0);
	ck_assert_int_eq(vmmem_region_check(r), 0);
	vmmem_region_unref(r);
}
END_TEST

START_TEST(fd_past_eof)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_FD);
	struct vmmem_region *r = NULL;
	char path[PATH_MAX];
	int fd = tmpfile_of("short", 64 * KIB, 0, path, sizeof(path));
	int empty = memfd_create("empty", MFD_CLOEXEC);
	int fds, maps;

	ck_assert_int_ge(empty, 0);
	fds = test_count_fds();
	test_count_maps();
	maps = test_count_maps();
	o.fd = fd;
	ck_assert_int_eq(vmmem_region_new(&r, 128 * KIB, &o), -ENXIO);
	o.offset = 64 * KIB;
	ck_assert_int_eq(vmmem_region_new(&r, 4096, &o), -ENXIO);
	o.offset = 32 * KIB;
	ck_assert_int_eq(vmmem_region_new(&r, 32 * KIB + 1, &o), -ENXIO);
	o.fd = empty;
	o.offset = 0;
	ck_assert_int_eq(vmmem_region_new(&r, 4096, &o), -ENXIO);
	/* Nothing left behind by the failures. */
	ck_assert_int_eq(test_count_fds(), fds);
	ck_assert_int_eq(test_count_maps(), maps);

	/* Exactly up to the end of the file is fine. */
	o.fd = fd;
	o.offset = 60 * KIB;
	ck_assert_int_eq(vmmem_region_new(&r, 4 * KIB, &o), 0);
	vmmem_region_unref(r);
	close(empty);
	close(fd);
}
END_TEST

START_TEST(fd_unaligned_offset)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_FD);
	struct vmmem_region *r = NULL;
	int fd = test_filled_memfd(256 * KIB, 0);
	int fds = test_count_fds();

	o.fd = fd;
	o.offset = 100;
	ck_assert_int_eq(vmmem_region_new(&r, 4096, &o), -EINVAL);
	o.offset = ps + 1;
	ck_assert_int_eq(vmmem_region_new(&r, 4096, &o), -EINVAL);
	o.offset = 2 * ps - 1;
	ck_assert_int_eq(vmmem_region_new(&r, 4096, &o), -EINVAL);
	ck_assert_int_eq(test_count_fds(), fds);
	close(fd);
}
END_TEST

START_TEST(fd_bad)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_FD);
	struct vmmem_region *r = NULL;
	int closed = memfd_create("closed", MFD_CLOEXEC);
	int fds;

	ck_assert_int_ge(closed, 0);
	ck_assert_int_eq(close(closed), 0);
	fds = test_count_fds();
	o.fd = -1;
	ck_assert_int_eq(vmmem_region_new(&r, 4096, &o), -EBADF);
	o.fd = -42;
	ck_assert_int_eq(vmmem_region_new(&r, 4096, &o), -EBADF);
	o.fd = closed;
	ck_assert_int_eq(vmmem_region_new(&r, 4096, &o), -EBADF);
	ck_assert_int_eq(test_count_fds(), fds);
}
END_TEST

START_TEST(fd_directory)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_FD);
	struct vmmem_region *r = NULL;
	int dfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int fds, ret;

	ck_assert_int_ge(dfd, 0);
	fds = test_count_fds();
	o.fd = dfd;
	ret = vmmem_region_new(&r, 4096, &o);
	/* Spec (vmmem_region_new(3), ERRORS): a directory is -EISDIR. */
	ck_assert_int_eq(ret, -EISDIR);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(test_count_fds(), fds);
	close(dfd);
}
END_TEST

/* --------------------------------------------------------- options */

START_TEST(opts_unknown_flags)
{
	static const unsigned int bad[] = {
		1u << 13, 1u << 20, 1u << 31, ~0u,
		VMMEM_REGION_DONTDUMP | (1u << 14),
	};
	struct vmmem_region *r = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vmmem_region_opts o = test_region_opts(bad[i]);

		ck_assert_msg(vmmem_region_new(&r, 4096, &o) == -EINVAL,
			      "flags %#x", bad[i]);
	}
}
END_TEST

START_TEST(opts_sz_too_small)
{
	struct vmmem_region_opts o = test_region_opts(0);
	struct vmmem_region *r = NULL;
	unsigned int flags = 1;

	o.sz = 0;
	ck_assert_int_eq(vmmem_region_new(&r, 4096, &o), -EINVAL);
	o.sz = 1;
	ck_assert_int_eq(vmmem_region_new(&r, 4096, &o), -EINVAL);
	o.sz = sizeof(size_t);
	ck_assert_int_eq(vmmem_region_new(&r, 4096, &o), -EINVAL);
	o.sz = sizeof(size_t) + sizeof(unsigned int) - 1;
	ck_assert_int_eq(vmmem_region_new(&r, 4096, &o), -EINVAL);

	/* Just big enough for flags: an older caller.  The fields past sz
	 * are not part of its struct and must be ignored. */
	o = test_region_opts(VMMEM_REGION_SHAREABLE);
	o.sz = sizeof(size_t) + sizeof(unsigned int);
	o.name = "ignored";     /* invalid with... nothing: past sz */
	o.seals = 0x7777;       /* invalid if it were read */
	o.numa_node = 5;        /* invalid without NUMA_BIND if read */
	o.hugepage_size = 3;    /* invalid if read */
	ck_assert_int_eq(vmmem_region_new(&r, 4096, &o), 0);
	ck_assert_int_eq(vmmem_region_flags(r, &flags), 0);
	ck_assert_uint_eq(flags, VMMEM_REGION_SHAREABLE);
	ck_assert_int_ge(vmmem_region_fd(r, NULL), 0);
	vmmem_region_unref(r);
}
END_TEST

START_TEST(opts_sz_larger)
{
	struct {
		struct vmmem_region_opts o;
		uint64_t extra[2];
	} big;
	struct vmmem_region *r = NULL;
	unsigned int flags = 0;

	memset(&big, 0, sizeof(big));
	big.o.sz = sizeof(big);
	big.o.flags = VMMEM_REGION_SHAREABLE;
	big.extra[1] = 1;
	ck_assert_int_eq(vmmem_region_new(&r, 4096, &big.o), -E2BIG);
	big.extra[1] = 0;
	big.extra[0] = 1ull << 63;
	ck_assert_int_eq(vmmem_region_new(&r, 4096, &big.o), -E2BIG);

	/* An all-zero tail is accepted. */
	big.extra[0] = 0;
	ck_assert_int_eq(vmmem_region_new(&r, 4096, &big.o), 0);
	ck_assert_int_eq(vmmem_region_flags(r, &flags), 0);
	ck_assert_uint_eq(flags, VMMEM_REGION_SHAREABLE);
	vmmem_region_unref(r);
}
END_TEST

START_TEST(opts_bad_combinations)
{
	struct vmmem_region_opts o;
	struct vmmem_region *r = NULL;
	int mfd = test_filled_memfd(64 * KIB, 0);
	int fds = test_count_fds();

	/* SHAREABLE and FD. */
	o = test_region_opts(VMMEM_REGION_SHAREABLE | VMMEM_REGION_FD);
	o.fd = mfd;
	ck_assert_int_eq(vmmem_region_new(&r, 4096, &o), -EINVAL);
	/* PRIVATE without FD. */
	o = test_region_opts(VMMEM_REGION_PRIVATE);
	ck_assert_int_eq(vmmem_region_new(&r, 4096, &o), -EINVAL);
	o = test_region_opts(VMMEM_REGION_PRIVATE | VMMEM_REGION_SHAREABLE);
	ck_assert_int_eq(vmmem_region_new(&r, 4096, &o), -EINVAL);
	/* hugepage_size without HUGETLB. */
	o = test_region_opts(0);
	o.hugepage_size = 2 * MIB;
	ck_assert_int_eq(vmmem_region_new(&r, 2 * MIB, &o), -EINVAL);
	o = test_region_opts(VMMEM_REGION_SHAREABLE);
	o.hugepage_size = 2 * MIB;
	ck_assert_int_eq(vmmem_region_new(&r, 2 * MIB, &o), -EINVAL);
	/* seals without SEAL. */
	o = test_region_opts(VMMEM_REGION_SHAREABLE);
	o.seals = F_SEAL_GROW;
	ck_assert_int_eq(vmmem_region_new(&r, 4096, &o), -EINVAL);
	/* name without SHAREABLE. */
	o = test_region_opts(0);
	o.name = "nope";
	ck_assert_int_eq(vmmem_region_new(&r, 4096, &o), -EINVAL);
	o = test_region_opts(VMMEM_REGION_FD);
	o.fd = mfd;
	o.name = "nope";
	ck_assert_int_eq(vmmem_region_new(&r, 4096, &o), -EINVAL);
	/* numa_node without NUMA_BIND. */
	o = test_region_opts(0);
	o.numa_node = 1;
	ck_assert_int_eq(vmmem_region_new(&r, 4096, &o), -EINVAL);
	/* Nothing was left open by any of these. */
	ck_assert_int_eq(test_count_fds(), fds);
	close(mfd);
}
END_TEST

/* The page: "fill in the fields the chosen flags use; leave the other
 * fields zero".  The fields of VMMEM_REGION_FD without that flag, an
 * offset or a file descriptor, are refused like the other fields given
 * without their flag, and leave nothing open. */
START_TEST(opts_fd_fields_without_fd)
{
	struct vmmem_region_opts o;
	struct vmmem_region *r = NULL;
	int mfd = test_filled_memfd(64 * KIB, 0);
	int fds = test_count_fds();

	o = test_region_opts(0);
	o.offset = ps;
	ck_assert_int_eq(vmmem_region_new(&r, 4096, &o), -EINVAL);
	o = test_region_opts(VMMEM_REGION_SHAREABLE);
	o.offset = ps;
	ck_assert_int_eq(vmmem_region_new(&r, 4096, &o), -EINVAL);
	o = test_region_opts(0);
	o.fd = mfd;
	ck_assert_int_eq(vmmem_region_new(&r, 4096, &o), -EINVAL);
	o = test_region_opts(VMMEM_REGION_SHAREABLE);
	o.fd = mfd;
	ck_assert_int_eq(vmmem_region_new(&r, 4096, &o), -EINVAL);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(test_count_fds(), fds);
	close(mfd);
}
END_TEST

START_TEST(new_bad_args)
{
	struct vmmem_region_opts o = test_region_opts(0);
	struct vmmem_region *r = NULL;

	ck_assert_int_eq(vmmem_region_new(&r, 0, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_region_new(&r, 0, &o), -EINVAL);
	o.flags = VMMEM_REGION_SHAREABLE;
	ck_assert_int_eq(vmmem_region_new(&r, 0, &o), -EINVAL);
	ck_assert_int_eq(vmmem_region_new(NULL, 4096, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_region_new(NULL, 4096, &o), -EINVAL);
	ck_assert_ptr_null(r);
}
END_TEST

/* ------------------------------------------------------------ raw */

START_TEST(raw_basic)
{
	struct test_release_log log = { 0 };
	struct vmmem_region *r = NULL;
	unsigned int flags = 5;
	uint64_t size = 0, off = 0;
	void *mem = mmap(NULL, 64 * KIB, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(mem, MAP_FAILED);
	ck_assert_int_eq(vmmem_region_new_raw(&r, mem, 64 * KIB,
					      test_release_cb, &log, 0), 0);
	ck_assert_ptr_eq(test_region_host(r), mem);
	ck_assert_int_eq(vmmem_region_size(r, &size), 0);
	ck_assert_uint_eq(size, 64 * KIB);
	ck_assert_int_eq(vmmem_region_flags(r, &flags), 0);
	ck_assert_uint_eq(flags, 0);
	ck_assert_int_eq(vmmem_region_fd(r, &off), -ENOENT);

	/* release runs exactly once, at the last unref, with its args. */
	ck_assert_ptr_eq(vmmem_region_ref(r), r);
	ck_assert_ptr_eq(vmmem_region_ref(r), r);
	vmmem_region_unref(r);
	vmmem_region_unref(r);
	ck_assert_int_eq(log.calls, 0);
	vmmem_region_unref(r);
	ck_assert_int_eq(log.calls, 1);
	ck_assert_ptr_eq(log.addr, mem);
	ck_assert_uint_eq(log.size, 64 * KIB);
	ck_assert_ptr_eq(log.opaque, &log);
	/* The library never unmaps caller memory. */
	((volatile unsigned char *)mem)[0] = 1;
	munmap(mem, 64 * KIB);
}
END_TEST

START_TEST(raw_unaligned_no_release)
{
	static unsigned char buf[300];
	struct vmmem_region *r = NULL;
	uint64_t size = 0;

	ck_assert_int_eq(vmmem_region_new_raw(&r, buf + 3, 100, NULL, NULL, 0),
			 0);
	ck_assert_ptr_eq(test_region_host(r), buf + 3);
	ck_assert_int_eq(vmmem_region_size(r, &size), 0);
	ck_assert_uint_eq(size, 100);
	vmmem_region_unref(r);
	buf[3] = 1;   /* still ours */
	ck_assert_uint_eq(buf[3], 1);
}
END_TEST

START_TEST(raw_bad_args)
{
	static unsigned char buf[4096];
	struct test_release_log log = { 0 };
	struct vmmem_region *r = NULL;

	ck_assert_int_eq(vmmem_region_new_raw(&r, NULL, 4096, test_release_cb,
					      &log, 0), -EINVAL);
	ck_assert_int_eq(vmmem_region_new_raw(&r, buf, 0, test_release_cb,
					      &log, 0), -EINVAL);
	ck_assert_int_eq(vmmem_region_new_raw(&r, buf, 4096, test_release_cb,
					      &log, 1), -EINVAL);
	ck_assert_int_eq(vmmem_region_new_raw(&r, buf, 4096, test_release_cb,
					      &log, 1u << 31), -EINVAL);
	ck_assert_int_eq(vmmem_region_new_raw(NULL, buf, 4096, test_release_cb,
					      &log, 0), -EINVAL);
	/* addr + size wraps around the end of the address space (never
	 * dereferenced: the region is refused). */
	ck_assert_int_eq(vmmem_region_new_raw(&r, (void *)(UINTPTR_MAX - 4095),
					      8192, test_release_cb, &log, 0),
			 -EINVAL);
	ck_assert_int_eq(vmmem_region_new_raw(&r, (void *)(UINTPTR_MAX - 4095),
					      UINT64_MAX, test_release_cb,
					      &log, 0), -EINVAL);
	ck_assert_ptr_null(r);
	/* A refused region never calls release. */
	ck_assert_int_eq(log.calls, 0);
	/* Up to the last byte of the address space is not a wrap. */
	ck_assert_int_eq(vmmem_region_new_raw(&r, (void *)(UINTPTR_MAX - 4095),
					      4096, NULL, NULL, 0), 0);
	vmmem_region_unref(r);
}
END_TEST

/* ------------------------------------------------- ref and queries */

START_TEST(ref_unref_null)
{
	ck_assert_ptr_null(vmmem_region_ref(NULL));
	vmmem_region_unref(NULL);
}
END_TEST

START_TEST(ref_counts)
{
	struct test_release_log log = { 0 };
	static unsigned char buf[4096];
	struct vmmem_region *r = NULL;
	int i;

	ck_assert_int_eq(vmmem_region_new_raw(&r, buf, sizeof(buf),
					      test_release_cb, &log, 0), 0);
	for (i = 0; i < 10; i++)
		ck_assert_ptr_eq(vmmem_region_ref(r), r);
	for (i = 0; i < 10; i++) {
		vmmem_region_unref(r);
		ck_assert_int_eq(log.calls, 0);
	}
	vmmem_region_unref(r);
	ck_assert_int_eq(log.calls, 1);
}
END_TEST

START_TEST(queries_bad_args)
{
	struct vmmem_region *r = test_region(4096);
	unsigned int flags;
	uint64_t size, off;
	void *addr;

	ck_assert_int_eq(vmmem_region_size(NULL, &size), -EINVAL);
	ck_assert_int_eq(vmmem_region_size(r, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_region_host_address(NULL, &addr), -EINVAL);
	ck_assert_int_eq(vmmem_region_host_address(r, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_region_fd(NULL, &off), -EINVAL);
	ck_assert_int_eq(vmmem_region_fd(NULL, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_region_flags(NULL, &flags), -EINVAL);
	ck_assert_int_eq(vmmem_region_flags(r, NULL), -EINVAL);
	vmmem_region_unref(r);
}
END_TEST

START_TEST(flags_reported)
{
	const unsigned int want = VMMEM_REGION_SHAREABLE |
				  VMMEM_REGION_DONTDUMP |
				  VMMEM_REGION_DONTFORK;
	struct vmmem_region_opts o = test_region_opts(want);
	struct vmmem_region *r = NULL;
	unsigned int flags = 0;

	ck_assert_int_eq(vmmem_region_new(&r, 64 * KIB, &o), 0);
	ck_assert_int_eq(vmmem_region_flags(r, &flags), 0);
	ck_assert_uint_eq(flags, want);
	vmmem_region_unref(r);

	o = test_region_opts(VMMEM_REGION_DONTDUMP);
	ck_assert_int_eq(vmmem_region_new(&r, 64 * KIB, &o), 0);
	ck_assert_int_eq(vmmem_region_flags(r, &flags), 0);
	ck_assert_uint_eq(flags, VMMEM_REGION_DONTDUMP);
	vmmem_region_unref(r);
}
END_TEST

/* --------------------------------------------------------- discard */

START_TEST(discard_anon)
{
	struct vmmem_region *r = test_region(16 * ps);
	unsigned char *h = test_region_host(r);

	memset(h, 0xaa, 16 * ps);
	ck_assert_int_eq(vmmem_region_discard(r, 4 * ps, 4 * ps), 0);
	ck_assert(test_all_bytes(h, 0xaa, 4 * ps));
	ck_assert(test_all_bytes(h + 4 * ps, 0, 4 * ps));
	ck_assert(test_all_bytes(h + 8 * ps, 0xaa, 8 * ps));
	/* Whole region. */
	ck_assert_int_eq(vmmem_region_discard(r, 0, 16 * ps), 0);
	ck_assert(test_all_bytes(h, 0, 16 * ps));
	vmmem_region_unref(r);
}
END_TEST

START_TEST(discard_memfd)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_SHAREABLE);
	struct vmmem_region *r = NULL;
	unsigned char buf[4096];
	struct stat before, after;
	unsigned char *h;
	int fd;

	ck_assert_int_eq(vmmem_region_new(&r, MIB, &o), 0);
	h = test_region_host(r);
	fd = vmmem_region_fd(r, NULL);
	ck_assert_int_ge(fd, 0);
	memset(h, 0x5a, MIB);
	ck_assert_int_eq(fstat(fd, &before), 0);
	ck_assert_int_ge(before.st_blocks, (blkcnt_t)(MIB / 512));

	ck_assert_int_eq(vmmem_region_discard(r, 0, MIB / 2), 0);
	/* The pages went back to the host and the size stayed (looked at
	 * first: reading a shmem hole through the mapping allocates again). */
	ck_assert_int_eq(fstat(fd, &after), 0);
	ck_assert_int_le(after.st_blocks,
			 before.st_blocks - (blkcnt_t)(MIB / 2 / 512));
	ck_assert_int_eq(after.st_size, (off_t)MIB);
	ck_assert(test_all_bytes(h, 0, MIB / 2));
	ck_assert(test_all_bytes(h + MIB / 2, 0x5a, MIB / 2));
	ck_assert_int_eq(pread(fd, buf, sizeof(buf), 4096), (ssize_t)sizeof(buf));
	ck_assert(test_all_bytes(buf, 0, sizeof(buf)));
	vmmem_region_unref(r);
}
END_TEST

START_TEST(discard_fd_shared)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_FD);
	struct vmmem_region *r = NULL;
	unsigned char buf[4096];
	struct stat st;
	unsigned char *h;
	int fd = test_filled_memfd(64 * KIB, 'C');

	o.fd = fd;
	o.offset = 4 * KIB;
	ck_assert_int_eq(vmmem_region_new(&r, 32 * KIB, &o), 0);
	h = test_region_host(r);
	ck_assert_int_eq(vmmem_region_discard(r, 8 * KIB, 8 * KIB), 0);
	ck_assert(test_all_bytes(h, 'C', 8 * KIB));
	ck_assert(test_all_bytes(h + 8 * KIB, 0, 8 * KIB));
	ck_assert(test_all_bytes(h + 16 * KIB, 'C', 16 * KIB));
	/* Punched in the file, at the region's offset. */
	ck_assert_int_eq(pread(fd, buf, sizeof(buf), 12 * KIB), 4096);
	ck_assert(test_all_bytes(buf, 0, sizeof(buf)));
	ck_assert_int_eq(pread(fd, buf, sizeof(buf), 8 * KIB), 4096);
	ck_assert(test_all_bytes(buf, 'C', sizeof(buf)));
	ck_assert_int_eq(pread(fd, buf, sizeof(buf), 20 * KIB), 4096);
	ck_assert(test_all_bytes(buf, 'C', sizeof(buf)));
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, 64 * KIB);
	vmmem_region_unref(r);
	close(fd);
}
END_TEST

START_TEST(discard_fd_private)
{
	struct vmmem_region_opts o =
		test_region_opts(VMMEM_REGION_FD | VMMEM_REGION_PRIVATE);
	struct vmmem_region *r = NULL;
	unsigned char buf[4096];
	unsigned char *h;
	int fd = test_filled_memfd(64 * KIB, 'A');

	o.fd = fd;
	ck_assert_int_eq(vmmem_region_new(&r, 64 * KIB, &o), 0);
	h = test_region_host(r);
	memset(h + ps, 'B', 2 * ps);
	ck_assert_int_eq(vmmem_region_discard(r, ps, 2 * ps), 0);
	/* Reads back the file's content, not zero. */
	ck_assert(test_all_bytes(h, 'A', 64 * KIB));
	/* And the file itself was not touched. */
	for (off_t off = 0; off < (off_t)(64 * KIB); off += sizeof(buf)) {
		ck_assert_int_eq(pread(fd, buf, sizeof(buf), off), 4096);
		ck_assert(test_all_bytes(buf, 'A', sizeof(buf)));
	}
	vmmem_region_unref(r);
	close(fd);
}
END_TEST

/* Spec: any other failure of fallocate(2) is returned as its negated errno
 * value.  A memfd sealed with F_SEAL_FUTURE_WRITE refuses hole punching
 * (EPERM): the call fails and the contents stay, in the mapping and in the
 * file. */
START_TEST(discard_sealed_memfd)
{
	struct vmmem_region_opts o =
		test_region_opts(VMMEM_REGION_SHAREABLE | VMMEM_REGION_SEAL);
	struct vmmem_region *r = NULL;
	unsigned char buf[4096];
	unsigned char *h;
	int fd;

	o.seals = F_SEAL_FUTURE_WRITE;
	ck_assert_int_eq(vmmem_region_new(&r, 16 * ps, &o), 0);
	h = test_region_host(r);
	/* The region's own mapping predates the seal and stays writable. */
	memset(h, 0x6b, 16 * ps);
	ck_assert_int_eq(vmmem_region_discard(r, 4 * ps, 4 * ps), -EPERM);
	ck_assert(test_all_bytes(h, 0x6b, 16 * ps));
	fd = vmmem_region_fd(r, NULL);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, buf, sizeof(buf), (off_t)(4 * ps)),
			 (ssize_t)sizeof(buf));
	ck_assert(test_all_bytes(buf, 0x6b, sizeof(buf)));
	vmmem_region_unref(r);
}
END_TEST

/* Spec: any other failure of madvise(2) is returned as its negated errno
 * value.  The kernel refuses MADV_DONTNEED on locked pages (EINVAL), so a
 * discard from a VMMEM_REGION_MLOCK region fails and the contents stay. */
START_TEST(discard_mlocked)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_MLOCK);
	struct vmmem_region *r = NULL;
	unsigned char *h;

#ifdef __SANITIZE_ADDRESS__
	/* ASan replaces mlock() with a no-op: nothing is locked. */
	printf("test-region: SKIP discard_mlocked: mlock() is a no-op "
	       "under ASan\n");
	return;
#endif
	ck_assert_int_eq(vmmem_region_new(&r, 16 * ps, &o), 0);
	h = test_region_host(r);
	memset(h, 0x3c, 16 * ps);
	ck_assert_int_eq(vmmem_region_discard(r, 4 * ps, 4 * ps), -EINVAL);
	ck_assert(test_all_bytes(h, 0x3c, 16 * ps));
	vmmem_region_unref(r);
}
END_TEST

START_TEST(discard_bad_range)
{
	struct vmmem_region *r = test_region(16 * ps);
	unsigned char *h = test_region_host(r);

	memset(h, 0x33, 16 * ps);
	ck_assert_int_eq(vmmem_region_discard(r, 1, ps), -EINVAL);
	ck_assert_int_eq(vmmem_region_discard(r, ps / 2, ps), -EINVAL);
	ck_assert_int_eq(vmmem_region_discard(r, 0, 1), -EINVAL);
	ck_assert_int_eq(vmmem_region_discard(r, 0, ps + 100), -EINVAL);
	/* Past the end. */
	ck_assert_int_eq(vmmem_region_discard(r, 0, 17 * ps), -EINVAL);
	ck_assert_int_eq(vmmem_region_discard(r, 16 * ps, ps), -EINVAL);
	ck_assert_int_eq(vmmem_region_discard(r, 15 * ps, 2 * ps), -EINVAL);
	/* Wrapping past 2^64. */
	ck_assert_int_eq(vmmem_region_discard(r, ps, 0 - ps), -EINVAL);
	ck_assert_int_eq(vmmem_region_discard(r, 0 - ps, 2 * ps), -EINVAL);
	/* Ending exactly at 2^64: must not reach the memory below host. */
	ck_assert_int_eq(vmmem_region_discard(r, 0 - ps, ps), -EINVAL);
	ck_assert_int_eq(vmmem_region_discard(r, 0 - 16 * ps, 16 * ps), -EINVAL);
	ck_assert_int_eq(vmmem_region_discard(NULL, 0, ps), -EINVAL);
	/* None of it touched the data. */
	ck_assert(test_all_bytes(h, 0x33, 16 * ps));

	/* len 0 does nothing. */
	ck_assert_int_eq(vmmem_region_discard(r, 0, 0), 0);
	ck_assert_int_eq(vmmem_region_discard(r, 4 * ps, 0), 0);
	ck_assert(test_all_bytes(h, 0x33, 16 * ps));
	vmmem_region_unref(r);
}
END_TEST

START_TEST(discard_raw)
{
	struct vmmem_region *r = NULL;
	unsigned char *mem = mmap(NULL, 4 * ps, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(mem, MAP_FAILED);
	memset(mem, 0x44, 4 * ps);
	ck_assert_int_eq(vmmem_region_new_raw(&r, mem, 4 * ps, NULL, NULL, 0),
			 0);
	ck_assert_int_eq(vmmem_region_discard(r, 0, ps), -EOPNOTSUPP);
	ck_assert_int_eq(vmmem_region_discard(r, ps, 3 * ps), -EOPNOTSUPP);
	ck_assert(test_all_bytes(mem, 0x44, 4 * ps));
	ck_assert_int_eq(vmmem_region_discard(r, 0, 0), 0);
	vmmem_region_unref(r);
	munmap(mem, 4 * ps);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("region");
	TCase *tc;

	tc = tcase_create("anonymous");
	tcase_add_checked_fixture(tc, common_setup, NULL);
	tcase_add_test(tc, anon_default);
	tcase_add_test(tc, anon_with_zeroed_opts);
	tcase_add_test(tc, anon_odd_size);
	tcase_add_test(tc, two_regions_distinct);
	suite_add_tcase(s, tc);

	tc = tcase_create("memfd");
	tcase_add_checked_fixture(tc, common_setup, NULL);
	tcase_add_test(tc, shareable_memfd);
	tcase_add_test(tc, shareable_named);
	tcase_add_test(tc, shareable_no_fd_left);
	tcase_add_test(tc, shareable_file_size_limit);
	suite_add_tcase(s, tc);

	tc = tcase_create("fd");
	tcase_add_unchecked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_add_test(tc, fd_tmpfile_shared);
	tcase_add_test(tc, fd_memfd);
	tcase_add_test(tc, fd_dev_shm);
	tcase_add_test(tc, fd_private);
	tcase_add_test(tc, fd_char_device);
	tcase_add_test(tc, fd_past_eof);
	tcase_add_test(tc, fd_unaligned_offset);
	tcase_add_test(tc, fd_bad);
	tcase_add_test(tc, fd_directory);
	suite_add_tcase(s, tc);

	tc = tcase_create("options");
	tcase_add_checked_fixture(tc, common_setup, NULL);
	tcase_add_test(tc, opts_unknown_flags);
	tcase_add_test(tc, opts_sz_too_small);
	tcase_add_test(tc, opts_sz_larger);
	tcase_add_test(tc, opts_bad_combinations);
	tcase_add_test(tc, opts_fd_fields_without_fd);
	tcase_add_test(tc, new_bad_args);
	suite_add_tcase(s, tc);

	tc = tcase_create("raw");
	tcase_add_test(tc, raw_basic);
	tcase_add_test(tc, raw_unaligned_no_release);
	tcase_add_test(tc, raw_bad_args);
	suite_add_tcase(s, tc);

	tc = tcase_create("refs-and-queries");
	tcase_add_test(tc, ref_unref_null);
	tcase_add_test(tc, ref_counts);
	tcase_add_test(tc, queries_bad_args);
	tcase_add_test(tc, flags_reported);
	suite_add_tcase(s, tc);

	tc = tcase_create("discard");
	tcase_add_checked_fixture(tc, common_setup, NULL);
	tcase_add_test(tc, discard_anon);
	tcase_add_test(tc, discard_memfd);
	tcase_add_test(tc, discard_fd_shared);
	tcase_add_test(tc, discard_fd_private);
	tcase_add_test(tc, discard_sealed_memfd);
	tcase_add_test(tc, discard_mlocked);
	tcase_add_test(tc, discard_bad_range);
	tcase_add_test(tc, discard_raw);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	return test_run(suite());
}
