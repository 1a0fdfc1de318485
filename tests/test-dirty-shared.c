/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The vhost-user front-end's shared dirty log: every write path checked
 * bit for bit against it, with and without the library's own log, writes
 * the log does not cover, the errors of each call, and the log replaced
 * while writers run. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

/* A [0, 0x10000)  B [0x10000, 0x20000)  hole  C [0x40000, 0x50000)  hole
 * D [0x7F000, 0x81000): the log of LOG_BYTES covers pages 0 .. 127, so
 * D's second page is past it. */
#define LOG_BYTES 16
#define LOG_PAGES (LOG_BYTES * 8)
#define D_GPA 0x7F000ull
#define IOVA 0x900000ull               /* IOVA of GPA 0x44000 */

static struct vmmem *mk_space(void)
{
	static const uint64_t gpa[] = { 0, 0x10000, 0x40000, D_GPA };
	static const uint64_t size[] = { 0x10000, 0x10000, 0x10000, 0x2000 };

	return test_space(4, gpa, size);
}

/* A memfd of LOG_BYTES, as the front-end sends it, and the test's own
 * view of it. */
struct flog {
	int fd;
	uint8_t *bits;
};

static struct flog flog_new(void)
{
	struct flog l;

	l.fd = memfd_create("log", 0);
	ck_assert_int_ge(l.fd, 0);
	ck_assert_int_eq(ftruncate(l.fd, 4096), 0);
	l.bits = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, l.fd, 0);
	ck_assert_ptr_ne(l.bits, MAP_FAILED);
	return l;
}

static void flog_free(struct flog *l)
{
	munmap(l->bits, 4096);
	close(l->fd);
}

/* Checks the log holds exactly pages[0 .. n), then clears it. */
static void expect_pages(uint8_t *bits, const uint64_t *pages, size_t n,
			 const char *what)
{
	uint8_t want[LOG_BYTES] = { 0 };

	for (size_t i = 0; i < n; i++)
		want[pages[i] / 8] |= (uint8_t)(1u << (pages[i] % 8));
	for (size_t i = 0; i < LOG_BYTES; i++)
		ck_assert_msg(bits[i] == want[i],
			      "%s: log byte %zu is %#x, want %#x", what, i,
			      bits[i], want[i]);
	memset(bits, 0, LOG_BYTES);
}

#define EXPECT(bits, what, ...)                                               \
	do {                                                                  \
		static const uint64_t _p[] = { __VA_ARGS__ };                 \
		expect_pages((bits), _p, sizeof(_p) / sizeof(_p[0]), (what)); \
	} while (0)
#define EXPECT_NONE(bits, what) expect_pages((bits), NULL, 0, (what))

static int data_fd(void)
{
	int fd = test_filled_memfd(0x100, 0x5a);

	ck_assert_int_ge(fd, 0);
	return fd;
}

/* Every write path, each followed by the exact pages it must set. */
static void every_write_path(struct vmmem *m, uint8_t *bits)
{
	static const uint8_t buf[0x2000];
	struct vmmem_iommu *io = NULL;
	struct vmmem_ring *ring = NULL;
	uint64_t len = 0x1000, v;
	void *h = NULL;
	int fd = data_fd();

	ck_assert_int_eq(vmmem_write(m, 0x3000, buf, 8), 8);
	EXPECT(bits, "write, 8 bytes", 3);
	ck_assert_int_eq(vmmem_write(m, 0x1FF8, buf, 16), 16);
	EXPECT(bits, "write over a page boundary", 1, 2);
	ck_assert_int_eq(vmmem_write(m, 0xFFFC, buf, 8), 8);
	EXPECT(bits, "write over a region boundary", 15, 16);
	ck_assert_int_eq(vmmem_write(m, 0x5000, buf, 0x2000), 0x2000);
	EXPECT(bits, "bulk write", 5, 6);
	ck_assert_int_eq(vmmem_write(m, 0x1F000, buf, 0x2000), 0x1000);
	EXPECT(bits, "partial write up to a hole", 31);
	ck_assert_int_eq(vmmem_write_exact(m, 0x11000, buf, 4), 0);
	EXPECT(bits, "write_exact", 17);
	ck_assert_int_eq(vmmem_write_exact(m, 0x1F000, buf, 0x1800), -EFAULT);
	EXPECT_NONE(bits, "write_exact refused");
	ck_assert_int_eq(vmmem_store(m, 0x12000, 8, 1, VMMEM_ORDER_RELEASE), 0);
	EXPECT(bits, "store", 18);
	ck_assert_int_eq(vmmem_fill(m, 0x13800, 1, 0x1000), 0);
	EXPECT(bits, "fill", 19, 20);
	ck_assert_int_eq(vmmem_copy(m, 0x40000, 0, 0x1001), 0);
	EXPECT(bits, "copy", 64, 65);
	ck_assert_int_eq(vmmem_read_fd(m, 0x41000, fd, 0x10), 0x10);
	EXPECT(bits, "read_fd", 65);
	ck_assert_int_eq(vmmem_pread_fd(m, 0x42FF0, fd, 0x20, 0), 0x20);
	EXPECT(bits, "pread_fd", 66, 67);
	ck_assert_int_eq(vmmem_write_fd(m, 0x42000, fd, 0x10), 0x10);
	ck_assert_int_eq(vmmem_read(m, 0x42000, &v, 8), 8);
	EXPECT_NONE(bits, "reads of guest memory");
	ck_assert_int_eq(vmmem_map(m, 0x43000, &len, VMMEM_MAP_WRITE, &h), 0);
	ck_assert_int_eq(vmmem_unmap(m, h, 0x10), 0);
	EXPECT(bits, "unmap", 67);
	ck_assert_int_eq(vmmem_dirty_mark(m, 0x4F000, 0x1000), 0);
	EXPECT(bits, "dirty_mark", 79);
	ck_assert_int_eq(vmmem_write_le16(m, 0x18FFF, 1), 0);
	EXPECT(bits, "write_le16 over a page boundary", 24, 25);
	ck_assert_int_eq(vmmem_write_le64(m, 0x1A000, 1), 0);
	EXPECT(bits, "write_le64", 26);
	ck_assert_int_eq(vmmem_ring_new(&ring, m, 0x15000, 0x2000,
					VMMEM_MAP_READ | VMMEM_MAP_WRITE), 0);
	ck_assert_int_eq(vmmem_ring_store16(ring, 0x1002, 1,
					    VMMEM_ORDER_RELEASE), 0);
	EXPECT(bits, "ring_store16", 22);
	ck_assert_int_eq(vmmem_ring_store64(ring, 0x8, 1, VMMEM_ORDER_RELAXED),
			 0);
	EXPECT(bits, "ring_store64", 21);
	ck_assert_int_eq(vmmem_ring_write(ring, 0xFFC, buf, 8), 0);
	EXPECT(bits, "ring_write over a page boundary", 21, 22);
	vmmem_ring_free(ring);

	ck_assert_int_eq(vmmem_iommu_new(&io, m, NULL), 0);
	ck_assert_int_eq(vmmem_iommu_update(io, IOVA, 0x8000, 0x44000,
					    VMMEM_PERM_READ | VMMEM_PERM_WRITE), 0);
	ck_assert_int_eq(vmmem_iommu_write(io, IOVA, buf, 4), 4);
	EXPECT(bits, "iommu_write", 68);
	ck_assert_int_eq(vmmem_iommu_write_exact(io, IOVA + 0x1000, buf, 0x1001), 0);
	EXPECT(bits, "iommu_write_exact", 69, 70);
	ck_assert_int_eq(vmmem_iommu_fill(io, IOVA + 0x3000, 0, 1), 0);
	EXPECT(bits, "iommu_fill", 71);
	ck_assert_int_eq(vmmem_iommu_store(io, IOVA + 0x4000, 4, 1,
					   VMMEM_ORDER_RELAXED), 0);
	EXPECT(bits, "iommu_store", 72);
	ck_assert_int_eq(vmmem_iommu_read_fd(io, IOVA + 0x5000, fd, 0x10), 0x10);
	EXPECT(bits, "iommu_read_fd", 73);
	ck_assert_int_eq(vmmem_iommu_pread_fd(io, IOVA + 0x5FF8, fd, 0x10, 0),
			 0x10);
	EXPECT(bits, "iommu_pread_fd", 73, 74);
	len = 0x10;
	ck_assert_int_eq(vmmem_iommu_map(io, IOVA + 0x6000, &len,
					 VMMEM_MAP_WRITE, &h), 0);
	ck_assert_int_eq(vmmem_iommu_unmap(io, h, 1), 0);
	EXPECT(bits, "iommu_unmap", 74);
	ck_assert_int_eq(vmmem_iommu_ring_new(&ring, io, IOVA + 0x7000, 0x100,
					      VMMEM_MAP_READ | VMMEM_MAP_WRITE), 0);
	ck_assert_int_eq(vmmem_ring_store32(ring, 0x10, 1, VMMEM_ORDER_RELEASE),
			 0);
	EXPECT(bits, "IOVA ring_store32", 75);
	vmmem_ring_free(ring);
	vmmem_iommu_free(io);
	close(fd);
}

START_TEST(every_path_sets_its_bits)
{
	struct vmmem *m = mk_space();
	struct flog l = flog_new();
	uint64_t missed = 1;

	ck_assert_int_eq(vmmem_dirty_shared_set_fd(m, l.fd, LOG_BYTES, 0, 0), 0);
	/* the fd is the caller's: the library's mapping outlives it */
	every_write_path(m, l.bits);
	ck_assert_int_eq(vmmem_dirty_shared_missed(m, &missed), 0);
	ck_assert_uint_eq(missed, 0);
	ck_assert_int_eq(vmmem_dirty_shared_stop(m), 0);
	ck_assert_int_eq(vmmem_write(m, 0x3000, "x", 1), 1);
	EXPECT_NONE(l.bits, "write after stop");
	flog_free(&l);
	vmmem_free(m);
}
END_TEST

START_TEST(caller_mapping_and_offset)
{
	struct vmmem *m = mk_space();
	struct flog l = flog_new();
	uint64_t *mine = aligned_alloc(64, 64);

	/* a caller's mapping: used in place, never freed by the library */
	ck_assert_ptr_nonnull(mine);
	memset(mine, 0, 64);
	ck_assert_int_eq(vmmem_dirty_shared_set(m, mine, LOG_BYTES, 0), 0);
	every_write_path(m, (uint8_t *)mine);
	ck_assert_int_eq(vmmem_dirty_shared_stop(m), 0);
	mine[0] = 1;                 /* still the caller's */
	free(mine);
	/* an fd log at an offset the page size does not divide */
	ck_assert_int_eq(vmmem_dirty_shared_set_fd(m, l.fd, LOG_BYTES, 0x108, 0), 0);
	ck_assert_int_eq(vmmem_write(m, 0x9000, "x", 1), 1);
	ck_assert_uint_eq(l.bits[0x109], 2);
	/* replaced by a log at offset 0, then freed with the space */
	ck_assert_int_eq(vmmem_dirty_shared_set_fd(m, l.fd, LOG_BYTES, 0, 0), 0);
	ck_assert_int_eq(vmmem_write(m, 0x9000, "x", 1), 1);
	ck_assert_uint_eq(l.bits[1], 2);
	vmmem_free(m);
	flog_free(&l);
}
END_TEST

START_TEST(with_and_instead_of_own_log)
{
	struct vmmem *m = mk_space();
	struct flog l = flog_new();

	ck_assert_int_eq(vmmem_dirty_start(m, 4096), 0);
	ck_assert_int_eq(vmmem_dirty_shared_set_fd(m, l.fd, LOG_BYTES, 0, 0), 0);
	ck_assert_int_eq(vmmem_write(m, 0x2000, "x", 1), 1);
	EXPECT(l.bits, "both logs: shared", 2);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x2000), 1);
	ck_assert_int_eq(vmmem_dirty_clear(m, 0, 0x20000), 0);
	/* instead of the library's log */
	ck_assert_int_eq(vmmem_dirty_shared_set_fd(m, l.fd, LOG_BYTES, 0,
						   VMMEM_DIRTY_SHARED_ONLY), 0);
	ck_assert_int_eq(vmmem_write(m, 0x2000, "x", 1), 1);
	ck_assert_int_eq(vmmem_fill(m, 0x10000, 0, 0x2000), 0);
	EXPECT(l.bits, "shared only", 2, 16, 17);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x2000), 0);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x10000), 0);
	/* starting the library's log again keeps it unmarked */
	ck_assert_int_eq(vmmem_dirty_stop(m), 0);
	ck_assert_int_eq(vmmem_dirty_start(m, 4096), 0);
	ck_assert_int_eq(vmmem_write(m, 0x2000, "x", 1), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x2000), 0);
	EXPECT(l.bits, "shared only, own log restarted", 2);
	/* the shared log stopped: the library's log is marked again */
	ck_assert_int_eq(vmmem_dirty_shared_stop(m), 0);
	ck_assert_int_eq(vmmem_write(m, 0x2000, "x", 1), 1);
	ck_assert_int_eq(vmmem_dirty_test(m, 0x2000), 1);
	EXPECT_NONE(l.bits, "stopped");
	vmmem_free(m);
	flog_free(&l);
}
END_TEST

START_TEST(writes_past_the_log_counted)
{
	struct vmmem *m = mk_space();
	struct flog l = flog_new();
	uint64_t missed = 0;

	ck_assert_int_eq(vmmem_dirty_shared_set_fd(m, l.fd, LOG_BYTES, 0, 0), 0);
	ck_assert_int_eq(vmmem_write(m, D_GPA + 0xFF8, "0123456789abcdef", 16), 16);
	EXPECT(l.bits, "write at the end of the log", 127);
	ck_assert_int_eq(vmmem_dirty_shared_missed(m, &missed), 0);
	ck_assert_uint_eq(missed, 1);
	ck_assert_int_eq(vmmem_fill(m, D_GPA + 0x1000, 0, 0x1000), 0);
	ck_assert_int_eq(vmmem_store(m, D_GPA + 0x1008, 8, 0, VMMEM_ORDER_RELAXED), 0);
	/* counted across a replacement and a stop */
	ck_assert_int_eq(vmmem_dirty_shared_set_fd(m, l.fd, LOG_BYTES, 0, 0), 0);
	ck_assert_int_eq(vmmem_write(m, D_GPA + 0x1000, "x", 1), 1);
	ck_assert_int_eq(vmmem_dirty_shared_stop(m), 0);
	ck_assert_int_eq(vmmem_dirty_shared_missed(m, &missed), 0);
	ck_assert_uint_eq(missed, 4);
	EXPECT_NONE(l.bits, "past the log");
	vmmem_free(m);
	flog_free(&l);
}
END_TEST

/* A log whose size is not whole words (vmmem_dirty_shared_set_fd(3)):
 * the last, partial word's bits are set, and the bytes past the log are
 * left as they were. */
START_TEST(partial_last_word)
{
	struct vmmem *m = mk_space();
	struct flog l = flog_new();
	uint64_t missed = 0;

	memset(l.bits + 12, 0xA5, 4);
	ck_assert_int_eq(vmmem_dirty_shared_set_fd(m, l.fd, 12, 0, 0), 0);
	ck_assert_int_eq(vmmem_write(m, 0x4F000, "x", 1), 1);   /* page 79 */
	ck_assert_int_eq(vmmem_write(m, D_GPA, "y", 1), 1);     /* 127: past */
	ck_assert_uint_eq(l.bits[9], 0x80);
	for (int i = 12; i < 16; i++)
		ck_assert_uint_eq(l.bits[i], 0xA5);
	ck_assert_int_eq(vmmem_dirty_shared_missed(m, &missed), 0);
	ck_assert_uint_eq(missed, 1);
	ck_assert_int_eq(vmmem_dirty_shared_stop(m), 0);
	vmmem_free(m);
	flog_free(&l);
}
END_TEST

START_TEST(errors)
{
	struct vmmem *m = mk_space();
	struct flog l = flog_new();
	uint64_t missed, *mine = aligned_alloc(64, 64);
	int rdonly;

	ck_assert_ptr_nonnull(mine);
	ck_assert_int_eq(vmmem_dirty_shared_set_fd(NULL, l.fd, 16, 0, 0), -EINVAL);
	ck_assert_int_eq(vmmem_dirty_shared_set_fd(m, l.fd, 0, 0, 0), -EINVAL);
	ck_assert_int_eq(vmmem_dirty_shared_set_fd(m, l.fd, 16, 0, 2), -EINVAL);
	ck_assert_int_eq(vmmem_dirty_shared_set_fd(m, l.fd, 16, UINT64_MAX - 7, 0),
			 -EINVAL);
	ck_assert_int_eq(vmmem_dirty_shared_set_fd(m, l.fd, 16, 4, 0), -EINVAL);
	ck_assert_int_eq(vmmem_dirty_shared_set_fd(m, -1, 16, 0, 0), -EBADF);
	ck_assert_int_eq(vmmem_dirty_shared_set_fd(m, 1000, 16, 0, 0), -EBADF);
	ck_assert_int_eq(vmmem_dirty_shared_set_fd(m, l.fd, 4097, 0, 0), -ENXIO);
	ck_assert_int_eq(vmmem_dirty_shared_set_fd(m, l.fd, 8, 4096, 0), -ENXIO);
	rdonly = test_filled_memfd(4096, 0);
	ck_assert_int_ge(rdonly, 0);
	{
		char path[64];
		int ro;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", rdonly);
		ro = open(path, O_RDONLY);
		ck_assert_int_ge(ro, 0);
		ck_assert_int_eq(vmmem_dirty_shared_set_fd(m, ro, 16, 0, 0), -EACCES);
		close(ro);
	}
	close(rdonly);
	{
		int pp[2];

		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, pp), 0);
		ck_assert_int_eq(vmmem_dirty_shared_set_fd(m, pp[0], 16, 0, 0),
				 -ENODEV);
		close(pp[0]);
		close(pp[1]);
	}
	ck_assert_int_eq(vmmem_dirty_shared_set(NULL, mine, 16, 0), -EINVAL);
	ck_assert_int_eq(vmmem_dirty_shared_set(m, NULL, 16, 0), -EINVAL);
	ck_assert_int_eq(vmmem_dirty_shared_set(m, mine, 0, 0), -EINVAL);
	ck_assert_int_eq(vmmem_dirty_shared_set(m, (uint8_t *)mine + 4, 16, 0),
			 -EINVAL);
	ck_assert_int_eq(vmmem_dirty_shared_set(m, mine, 16, 0x10), -EINVAL);
	/* the log is marked in whole 64-bit words: 12 bytes would have the
	 * library write 4 bytes past the caller's buffer */
	ck_assert_int_eq(vmmem_dirty_shared_set(m, mine, 12, 0), -EINVAL);
	ck_assert_int_eq(vmmem_dirty_shared_stop(NULL), -EINVAL);
	ck_assert_int_eq(vmmem_dirty_shared_stop(m), -ENOENT);
	ck_assert_int_eq(vmmem_dirty_shared_missed(NULL, &missed), -EINVAL);
	ck_assert_int_eq(vmmem_dirty_shared_missed(m, NULL), -EINVAL);
	/* nothing was started by the failed calls */
	ck_assert_int_eq(vmmem_dirty_mark(m, 0, 1), -ENOENT);
	free(mine);
	vmmem_free(m);
	flog_free(&l);
}
END_TEST

/* ------------------------------------------- replacement under load */

#define NLOGS 24
#define GUEST_PAGES 1024
#define SW_WRITERS 2
#define SW_CHUNK 16                    /* pages per write */

struct switching {
	struct vmmem *m;
	uint64_t *logs[NLOGS];
	int gen;                           /* atomic: logs[gen] is active */
	int stop;                          /* atomic */
	/* per page: the highest generation a write of it started under,
	 * -1 none; pages belong to writer page / SW_CHUNK % SW_WRITERS */
	int page_gen[GUEST_PAGES];
	unsigned long writes[SW_WRITERS];
};

struct sw_writer {
	struct switching *sw;
	unsigned int id;
};

static void *sw_write(void *arg)
{
	struct sw_writer *w = arg;
	struct switching *sw = w->sw;
	static __thread uint8_t buf[SW_CHUNK * 4096];
	unsigned int seed = w->id + 1;

	while (!__atomic_load_n(&sw->stop, __ATOMIC_RELAXED)) {
		uint64_t chunk = (uint64_t)rand_r(&seed) %
				 (GUEST_PAGES / SW_CHUNK / SW_WRITERS) *
				 SW_WRITERS + w->id;
		int gen = __atomic_load_n(&sw->gen, __ATOMIC_ACQUIRE);

		ck_assert_int_eq(vmmem_write(sw->m, chunk * SW_CHUNK * 4096, buf,
					     sizeof(buf)), (ssize_t)sizeof(buf));
		for (uint64_t p = chunk * SW_CHUNK; p < (chunk + 1) * SW_CHUNK; p++)
			if (sw->page_gen[p] < gen)
				sw->page_gen[p] = gen;
		__atomic_add_fetch(&sw->writes[w->id], 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static bool log_bit(const uint64_t *log, uint64_t page)
{
	return ((const uint8_t *)log)[page / 8] & (1u << (page % 8));
}

/* Logs replaced while writers run: once a replacement returned, no bit
 * appears in the old log any more; every page is set in the log that was
 * active when its last write started, or a later one. */
START_TEST(replaced_under_load)
{
	static struct switching sw;
	static uint64_t snap[NLOGS][GUEST_PAGES / 64];
	struct sw_writer w[SW_WRITERS];
	pthread_t th[SW_WRITERS];

	memset(&sw, 0, sizeof(sw));
	sw.m = test_space(1, (const uint64_t[]){ 0 },
			  (const uint64_t[]){ GUEST_PAGES * 4096 });
	for (int i = 0; i < NLOGS; i++) {
		sw.logs[i] = aligned_alloc(64, GUEST_PAGES / 8);
		ck_assert_ptr_nonnull(sw.logs[i]);
		memset(sw.logs[i], 0, GUEST_PAGES / 8);
	}
	for (int p = 0; p < GUEST_PAGES; p++)
		sw.page_gen[p] = -1;
	ck_assert_int_eq(vmmem_dirty_shared_set(sw.m, sw.logs[0], GUEST_PAGES / 8, 0), 0);
	for (unsigned int i = 0; i < SW_WRITERS; i++) {
		w[i] = (struct sw_writer){ .sw = &sw, .id = i };
		ck_assert_int_eq(pthread_create(&th[i], NULL, sw_write, &w[i]), 0);
	}
	for (int g = 1; g < NLOGS; g++) {
		for (unsigned long w0 = __atomic_load_n(&sw.writes[0], __ATOMIC_RELAXED) +
					__atomic_load_n(&sw.writes[1], __ATOMIC_RELAXED);
		     __atomic_load_n(&sw.writes[0], __ATOMIC_RELAXED) +
		     __atomic_load_n(&sw.writes[1], __ATOMIC_RELAXED) < w0 + 4;)
			sched_yield();
		ck_assert_int_eq(vmmem_dirty_shared_set(sw.m, sw.logs[g],
							GUEST_PAGES / 8, 0), 0);
		/* the old log is the front-end's now: nothing may change it */
		memcpy(snap[g - 1], sw.logs[g - 1], GUEST_PAGES / 8);
		__atomic_store_n(&sw.gen, g, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&sw.stop, 1, __ATOMIC_RELAXED);
	for (unsigned int i = 0; i < SW_WRITERS; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(vmmem_dirty_shared_stop(sw.m), 0);
	for (int g = 0; g + 1 < NLOGS; g++)
		ck_assert_msg(!memcmp(snap[g], sw.logs[g], GUEST_PAGES / 8),
			      "log %d changed after it was replaced", g);
	for (int p = 0; p < GUEST_PAGES; p++) {
		bool found = sw.page_gen[p] < 0;

		for (int g = sw.page_gen[p]; !found && g < NLOGS; g++)
			found = log_bit(sw.logs[g], (uint64_t)p);
		ck_assert_msg(found, "page %d, written under log %d, set in none "
			      "from there on", p, sw.page_gen[p]);
	}
	for (int i = 0; i < NLOGS; i++)
		free(sw.logs[i]);
	vmmem_free(sw.m);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dirty-shared");
	TCase *tc = tcase_create("paths");

	tcase_add_test(tc, every_path_sets_its_bits);
	tcase_add_test(tc, caller_mapping_and_offset);
	tcase_add_test(tc, with_and_instead_of_own_log);
	tcase_add_test(tc, writes_past_the_log_counted);
	tcase_add_test(tc, partial_last_word);
	tcase_add_test(tc, errors);
	suite_add_tcase(s, tc);
	tc = tcase_create("replace");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, replaced_under_load);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run(suite());
}
