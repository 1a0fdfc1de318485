/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The fd functions' file offsets are int64_t whatever the caller's
 * _FILE_OFFSET_BITS.  This program is built the way a plain consumer is,
 * without config.h (whose AC_SYS_LARGEFILE gives 32-bit hosts a 64-bit
 * off_t): on i386 an off_t in the header made vmmem_pwrite_fd(..., 0)
 * fail with -EINVAL, and an offset beyond 4 GiB could not be expressed.
 * Not a Check program: it checks the ABI as a consumer sees it. */
#define _GNU_SOURCE
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <libvmmem.h>

#define HIGH (INT64_C(1) << 32 | 16)   /* its low 32 bits are 16 */

static int fails;

static void expect(const char *what, long long got, long long want)
{
	if (got != want) {
		printf("FAIL: %s = %lld, expected %lld\n", what, got, want);
		fails++;
	}
}

int main(void)
{
	const struct vmmem_range ram = { .gpa = 0, .size = 0x10000, .fd = -1 };
	static const char msg[] = "offset beyond 4 GiB";
	char back[sizeof(msg)], want[sizeof(msg)];
	struct vmmem *m = NULL;
	int fd = memfd_create("test-offset-abi", 0);

	if (fd < 0) {
		perror("memfd_create");
		return 99;
	}
	printf("sizeof(off_t) here: %zu\n", sizeof(off_t));
	expect("vmmem_new_from_ranges", vmmem_new_from_ranges(&m, &ram, 1, NULL), 0);
	if (!m)
		return 1;
	expect("vmmem_write_exact", vmmem_write_exact(m, 0x100, msg, sizeof(msg)), 0);
	expect("vmmem_pwrite_fd at 0", vmmem_pwrite_fd(m, 0x100, fd, sizeof(msg), 0),
	       (long long)sizeof(msg));
	expect("vmmem_pwrite_fd at 2^32 + 16",
	       vmmem_pwrite_fd(m, 0x100, fd, sizeof(msg), HIGH), (long long)sizeof(msg));
	/* Nothing landed at 16, the offset truncated to 32 bits. */
	expect("vmmem_pread_fd at 16", vmmem_pread_fd(m, 0x1000, fd, sizeof(msg), 16),
	       (long long)sizeof(msg));
	expect("vmmem_read_exact", vmmem_read_exact(m, 0x1000, back, sizeof(back)), 0);
	memset(want, 0, sizeof(want));
	memcpy(want, msg + 16, sizeof(msg) - 16);
	expect("bytes at 16 are the first write's", memcmp(back, want, sizeof(want)), 0);
	expect("vmmem_pread_fd at 2^32 + 16",
	       vmmem_pread_fd(m, 0x2000, fd, sizeof(msg), HIGH), (long long)sizeof(msg));
	expect("vmmem_read_exact", vmmem_read_exact(m, 0x2000, back, sizeof(back)), 0);
	expect("bytes at 2^32 + 16", memcmp(back, msg, sizeof(msg)), 0);
	expect("vmmem_pread_fd at -1", vmmem_pread_fd(m, 0x2000, fd, 1, -1), -EINVAL);
	vmmem_free(m);
	close(fd);
	return fails ? 1 : 0;
}
