/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Files that shrink under a mapping: what libvmmem promises about them.
 * A mapping past the end of a file is refused when the region is made; a
 * sealed memfd cannot shrink; and vmmem_region_check reports a region whose
 * file was truncated afterwards, before anything touches the missing part. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define SIZE (64 * KIB)

static struct vmmem_region *fd_region(int fd, uint64_t offset, uint64_t size)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_FD);
	struct vmmem_region *r = NULL;

	o.fd = fd;
	o.offset = offset;
	ck_assert_int_eq(vmmem_region_new(&r, size, &o), 0);
	return r;
}

START_TEST(whole_regions_pass)
{
	struct vmmem_region_opts shareable = test_region_opts(VMMEM_REGION_SHAREABLE);
	struct vmmem_region *anon = test_region(SIZE), *memfd = NULL, *file;
	int fd = test_tmpfile();

	ck_assert_int_eq(vmmem_region_new(&memfd, SIZE, &shareable), 0);
	ck_assert_int_eq(ftruncate(fd, 2 * SIZE), 0);
	file = fd_region(fd, SIZE, SIZE);
	ck_assert_int_eq(vmmem_region_check(anon), 0);
	ck_assert_int_eq(vmmem_region_check(memfd), 0);
	ck_assert_int_eq(vmmem_region_check(file), 0);
	ck_assert_int_eq(vmmem_region_check(NULL), -EINVAL);
	vmmem_region_unref(anon);
	vmmem_region_unref(memfd);
	vmmem_region_unref(file);
	close(fd);
}
END_TEST

START_TEST(past_eof_refused_up_front)
{
	struct vmmem_region_opts o = test_region_opts(VMMEM_REGION_FD);
	struct vmmem_region *r = NULL;
	int fd = test_tmpfile();

	ck_assert_int_eq(ftruncate(fd, SIZE), 0);
	o.fd = fd;
	ck_assert_int_eq(vmmem_region_new(&r, SIZE + 4096, &o), -ENXIO);
	o.offset = 4096;
	ck_assert_int_eq(vmmem_region_new(&r, SIZE, &o), -ENXIO);
	ck_assert_ptr_null(r);
	close(fd);
}
END_TEST

/* The file shrinks after the region was made: the check sees it, and the
 * part of the region still inside the file stays usable. */
START_TEST(truncated_file_reported)
{
	int fd = test_tmpfile();
	struct vmmem_region *r;
	struct vmmem *m = NULL;
	uint8_t b = 0;

	ck_assert_int_eq(ftruncate(fd, SIZE), 0);
	r = fd_region(fd, 0, SIZE);
	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	ck_assert_int_eq(vmmem_add_region(m, 0, r), 0);
	ck_assert_int_eq(vmmem_write_exact(m, 100, "x", 1), 0);

	ck_assert_int_eq(ftruncate(fd, SIZE / 2), 0);       /* another process */
	ck_assert_int_eq(vmmem_region_check(r), -ENXIO);
	ck_assert_int_eq(vmmem_read_exact(m, 100, &b, 1), 0);
	ck_assert_int_eq(b, 'x');

	/* Grown back, the region is whole again (the lost part reads zero). */
	ck_assert_int_eq(ftruncate(fd, SIZE), 0);
	ck_assert_int_eq(vmmem_region_check(r), 0);
	ck_assert_int_eq(vmmem_read_exact(m, SIZE - 1, &b, 1), 0);
	ck_assert_int_eq(b, 0);
	vmmem_free(m);
	vmmem_region_unref(r);
	close(fd);
}
END_TEST

/* Only the bytes the region maps count: a file shorter than before but
 * still covering offset + size is fine. */
START_TEST(truncation_outside_the_region)
{
	int fd = test_tmpfile();
	struct vmmem_region *r;

	ck_assert_int_eq(ftruncate(fd, 4 * SIZE), 0);
	r = fd_region(fd, SIZE, SIZE);
	ck_assert_int_eq(ftruncate(fd, 2 * SIZE), 0);
	ck_assert_int_eq(vmmem_region_check(r), 0);
	ck_assert_int_eq(ftruncate(fd, 2 * SIZE - 1), 0);
	ck_assert_int_eq(vmmem_region_check(r), -ENXIO);
	vmmem_region_unref(r);
	close(fd);
}
END_TEST

/* With F_SEAL_SHRINK no process can truncate a shared memfd region. */
START_TEST(sealed_memfd_cannot_shrink)
{
	struct vmmem_region_opts o =
		test_region_opts(VMMEM_REGION_SHAREABLE | VMMEM_REGION_SEAL);
	struct vmmem_region *r = NULL;
	int fd;

	o.seals = F_SEAL_SHRINK;
	ck_assert_int_eq(vmmem_region_new(&r, SIZE, &o), 0);
	fd = vmmem_region_fd(r, NULL);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, SIZE / 2), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(vmmem_region_check(r), 0);
	vmmem_region_unref(r);
}
END_TEST

/* What the check protects against: touching the lost part is SIGBUS. */
START_TEST(touching_the_lost_part_is_sigbus)
{
	int fd = test_tmpfile(), status = 0;
	struct vmmem_region *r;
	pid_t pid;

	ck_assert_int_eq(ftruncate(fd, SIZE), 0);
	r = fd_region(fd, 0, SIZE);
	ck_assert_int_eq(ftruncate(fd, 4096), 0);
	ck_assert_int_eq(vmmem_region_check(r), -ENXIO);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		signal(SIGBUS, SIG_DFL);        /* a sanitizer's handler must not catch it */
		((volatile uint8_t *)test_region_host(r))[SIZE - 1] = 1;
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status));
	ck_assert_int_eq(WTERMSIG(status), SIGBUS);
	vmmem_region_unref(r);
	close(fd);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("shrink");
	TCase *tc = tcase_create("shrink");

	tcase_add_test(tc, whole_regions_pass);
	tcase_add_test(tc, past_eof_refused_up_front);
	tcase_add_test(tc, truncated_file_reported);
	tcase_add_test(tc, truncation_outside_the_region);
	tcase_add_test(tc, sealed_memfd_cannot_shrink);
	tcase_add_test(tc, touching_the_lost_part_is_sigbus);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run(suite());
}
