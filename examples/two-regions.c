/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * two-regions: the smallest tour of libvmmem.  Two regions sit side by side
 * in guest physical memory, one anonymous and one in a shareable memfd; a
 * message is written straight across the boundary between them, read back,
 * and the dirty log shows which guest pages the write touched.
 *
 *   cc two-regions.c $(pkg-config --cflags --libs libvmmem)
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <libvmmem.h>

#define REGION_SIZE (64 * 1024)

static int fail(const char *what, int err)
{
	fprintf(stderr, "two-regions: %s: %s\n", what, strerror(-err));
	return 1;
}

static int show_region(uint64_t gpa, struct vmmem_region *r, void *opaque)
{
	uint64_t size = 0;
	int fd = vmmem_region_fd(r, NULL);

	(void)opaque;
	vmmem_region_size(r, &size);
	printf("  region at GPA 0x%06" PRIx64 "-0x%06" PRIx64 " (%3" PRIu64
	       " KiB, %s)\n", gpa, gpa + size - 1, size >> 10,
	       fd >= 0 ? "memfd, shareable" : "anonymous");
	return 0;
}

int main(void)
{
	const char msg[] = "hello across the region boundary";
	const uint64_t boundary = REGION_SIZE;
	const uint64_t at = boundary - 10;      /* 10 bytes before, the rest after */
	struct vmmem_region_opts shareable = {
		.sz = sizeof(shareable), .flags = VMMEM_REGION_SHAREABLE,
	};
	struct vmmem_region *low = NULL, *high = NULL;
	struct vmmem *mem = NULL;
	char back[sizeof(msg)] = { 0 };
	uint64_t bitmap[1] = { 0 };
	struct iovec iov[2];
	int ret, n, status = 1;

	if ((ret = vmmem_new(&mem, 0)) ||
	    (ret = vmmem_region_new(&low, REGION_SIZE, NULL)) ||
	    (ret = vmmem_region_new(&high, REGION_SIZE, &shareable)) ||
	    (ret = vmmem_add_region(mem, 0, low)) ||
	    (ret = vmmem_add_region(mem, boundary, high))) {
		status = fail("setting up guest memory", ret);
		goto out;
	}
	printf("guest memory: %d regions\n", vmmem_num_regions(mem));
	vmmem_foreach_region(mem, show_region, NULL);

	if ((ret = vmmem_dirty_start(mem, 4096)) ||
	    (ret = vmmem_write_exact(mem, at, msg, sizeof(msg))) ||
	    (ret = vmmem_read_exact(mem, at, back, sizeof(back)))) {
		status = fail("writing across the boundary", ret);
		goto out;
	}
	printf("wrote %zu bytes at GPA 0x%" PRIx64 ", read back: \"%s\"\n",
	       sizeof(msg), at, back);

	n = vmmem_iovec(mem, at, sizeof(msg), iov, 2);
	if (n < 0) {
		status = fail("vmmem_iovec", n);
		goto out;
	}
	printf("the range is %d host pieces: %zu bytes + %zu bytes\n", n,
	       iov[0].iov_len, n > 1 ? iov[1].iov_len : 0);

	ret = vmmem_dirty_harvest(mem, 0, 2 * REGION_SIZE, bitmap);
	if (ret < 0) {
		status = fail("vmmem_dirty_harvest", ret);
		goto out;
	}
	printf("dirty 4 KiB pages: %d:", ret);
	for (int page = 0; page < 64; page++)
		if (bitmap[0] & (1ull << page))
			printf(" %d (GPA 0x%x)", page, page * 4096);
	printf("\n");

	if (strcmp(back, msg) != 0 || n != 2 || ret != 2 ||
	    bitmap[0] != (3ull << (at / 4096))) {
		fprintf(stderr, "two-regions: unexpected result\n");
		goto out;
	}
	printf("ok\n");
	status = 0;
out:
	vmmem_region_unref(low);
	vmmem_region_unref(high);
	vmmem_free(mem);
	return status;
}
