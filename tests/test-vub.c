/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * A hostile vhost-user front-end against examples/vhost-user-blk: each test
 * starts the back-end on one end of a socketpair, plays the front-end on the
 * other (a memfd as guest memory, one split ring), and sends malformed
 * messages or rings built to attack it: descriptor loops, indices past the
 * ring, lengths that wrap, buffers outside guest memory, indirect tables in
 * indirect tables, a header in a write-only buffer.  The back-end must
 * answer VIRTIO_BLK_S_IOERR, stop the queue (needs reset), refuse the
 * message or close the connection, and never crash, hang, or write guest
 * memory it was not given: the memfd is twice the size of the region the
 * back-end is told about, and its second half must stay untouched.
 *
 * Synchronisation: the back-end serves kicks before messages in one poll
 * loop, so the reply to a message sent after a kick means the kick has been
 * handled.
 */
#include <stdbool.h>
#include <endian.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "testutil.h"
#include "../examples/vhost-user-blk/channel.h"

#define MEM_SIZE   (1 * MIB)          /* what the back-end is given */
#define FILE_SIZE  (2 * MIB)          /* the memfd; the rest is a canary */
#define CANARY     0xa5
#define UADDR      0x7f1200000000ull  /* the front-end's "virtual address" */
#define QSIZE      8u
#define DESC       0x0000ull
#define AVAIL      0x1000ull
#define USED       0x2000ull
#define INDIRECT   0x3000ull
#define HDR        0x4000ull
#define STATUS     0x5000ull
#define DATA       0x10000ull
#define DATA2      0x20000ull
#define BIG_TABLE  0x40000ull
#define IMAGE_SIZE (1 * MIB)

#define F_NEXT     1
#define F_WRITE    2
#define F_INDIRECT 4

struct fe {
	pid_t pid;
	int sock, kick, call, memfd;
	uint8_t *mem;
	char image[64];
	uint16_t avail_idx;
};

static struct fe fe;

static const char *backend_path(void)
{
	static char path[4096];
	const char *top = getenv("top_builddir");

	snprintf(path, sizeof(path), "%s/examples/vhost-user-blk/vhost-user-blk",
		 top ? top : ".");
	return path;
}

static void send_fds(uint32_t req, uint32_t flags, const void *p, uint32_t size,
		     const int *fds, unsigned int nfds)
{
	ck_assert_int_eq(vu_send_fds(fe.sock, req, flags, p, size, fds, nfds), 0);
}

static void send_msg(uint32_t req, uint32_t flags, const void *p, uint32_t size)
{
	send_fds(req, flags, p, size, NULL, 0);
}

/* The reply's payload size, or -1 when the back-end closed the connection.
 * Fails the test if nothing comes within 10 s (a hung back-end). */
static int recv_reply(uint32_t req, void *p, size_t max)
{
	struct pollfd pfd = { fe.sock, POLLIN, 0 };
	struct vu_header h;
	ssize_t n;

	ck_assert_msg(poll(&pfd, 1, 10000) == 1, "back-end did not answer");
	n = recv(fe.sock, &h, sizeof(h), MSG_WAITALL);
	if (n <= 0)
		return -1;
	ck_assert_int_eq(n, sizeof(h));
	ck_assert_uint_eq(h.request, req);
	ck_assert_uint_eq(h.flags, VU_FLAG_VERSION | VU_FLAG_REPLY);
	ck_assert_uint_le(h.size, max);
	if (h.size)
		ck_assert_int_eq(recv(fe.sock, p, h.size, MSG_WAITALL), h.size);
	return (int)h.size;
}

/* Sends with NEED_REPLY and returns the back-end's status (0: done). */
static uint64_t acked_fds(uint32_t req, const void *p, uint32_t size,
			  const int *fds, unsigned int nfds)
{
	uint64_t status = ~0ull;

	send_fds(req, VU_FLAG_NEED_REPLY, p, size, fds, nfds);
	ck_assert_int_eq(recv_reply(req, &status, sizeof(status)), 8);
	return status;
}

static uint64_t acked(uint32_t req, const void *p, uint32_t size)
{
	return acked_fds(req, p, size, NULL, 0);
}

static uint64_t get_u64(uint32_t req)
{
	uint64_t v = 0;

	send_msg(req, 0, NULL, 0);
	ck_assert_int_eq(recv_reply(req, &v, sizeof(v)), 8);
	return v;
}

/* The back-end is alive and has handled everything sent before. */
static void sync_backend(void)
{
	ck_assert_uint_ne(get_u64(VU_GET_FEATURES), 0);
}

static void write_guest(uint64_t gpa, const void *p, size_t n)
{
	memcpy(fe.mem + gpa, p, n);
}

static void put_desc(uint64_t table, unsigned int i, uint64_t addr,
		     uint32_t len, uint16_t flags, uint16_t next)
{
	uint64_t a = htole64(addr);
	uint32_t l = htole32(len);
	uint16_t f = htole16(flags), nx = htole16(next);
	uint64_t at = table + 16ull * i;

	write_guest(at, &a, 8);
	write_guest(at + 8, &l, 4);
	write_guest(at + 12, &f, 2);
	write_guest(at + 14, &nx, 2);
}

static uint16_t used_idx(void)
{
	return le16toh(__atomic_load_n((uint16_t *)(void *)(fe.mem + USED + 2),
				       __ATOMIC_ACQUIRE));
}

static uint32_t used_len(uint16_t idx)
{
	uint32_t l;

	memcpy(&l, fe.mem + USED + 4 + 8 * (idx % QSIZE) + 4, 4);
	return le32toh(l);
}

/* Puts head on the available ring (or any raw entry), kicks, and waits for
 * the back-end to have handled the kick. */
static void post_raw(uint16_t entry, uint16_t new_idx)
{
	uint16_t e = htole16(entry), idx = htole16(new_idx);
	uint64_t one = 1;

	write_guest(AVAIL + 4 + 2 * (fe.avail_idx % QSIZE), &e, 2);
	__atomic_store_n((uint16_t *)(void *)(fe.mem + AVAIL + 2), idx,
			 __ATOMIC_RELEASE);
	fe.avail_idx = new_idx;
	ck_assert_int_eq(write(fe.kick, &one, 8), 8);
	sync_backend();
}

static void post(uint16_t head)
{
	post_raw(head, (uint16_t)(fe.avail_idx + 1));
}

static void blk_header(uint32_t type, uint64_t sector)
{
	uint32_t t = htole32(type);
	uint64_t s = htole64(sector);

	memset(fe.mem + HDR, 0, 16);
	write_guest(HDR, &t, 4);
	write_guest(HDR + 8, &s, 8);
	fe.mem[STATUS] = 0xee;
}

/* A three-descriptor request at descriptors 0..2. */
static void blk_request(uint32_t type, uint64_t sector, uint64_t data,
			uint32_t len, bool data_write)
{
	blk_header(type, sector);
	put_desc(DESC, 0, HDR, 16, F_NEXT, 1);
	put_desc(DESC, 1, data, len, (uint16_t)(F_NEXT | (data_write ? F_WRITE : 0)), 2);
	put_desc(DESC, 2, STATUS, 1, F_WRITE, 0);
}

static void setup_ring(void)
{
	struct vu_vring_state num = { 0, QSIZE }, base = { 0, 0 }, en = { 0, 1 };
	struct vu_vring_addr addr = {
		.index = 0, .desc = UADDR + DESC, .avail = UADDR + AVAIL,
		.used = UADDR + USED,
	};
	uint64_t idx = 0;

	memset(fe.mem, 0, 0x3000);
	fe.avail_idx = 0;
	ck_assert_uint_eq(acked(VU_SET_VRING_NUM, &num, sizeof(num)), 0);
	ck_assert_uint_eq(acked(VU_SET_VRING_BASE, &base, sizeof(base)), 0);
	ck_assert_uint_eq(acked(VU_SET_VRING_ADDR, &addr, sizeof(addr)), 0);
	ck_assert_uint_eq(acked_fds(VU_SET_VRING_CALL, &idx, 8, &fe.call, 1), 0);
	ck_assert_uint_eq(acked_fds(VU_SET_VRING_KICK, &idx, 8, &fe.kick, 1), 0);
	ck_assert_uint_eq(acked(VU_SET_VRING_ENABLE, &en, sizeof(en)), 0);
}

/* GET_VRING_BASE stops the ring: how a front-end resets a broken queue. */
static void reset_ring(void)
{
	struct vu_vring_state s = { 0, 0 };

	send_msg(VU_GET_VRING_BASE, 0, &s, sizeof(s));
	ck_assert_int_eq(recv_reply(VU_GET_VRING_BASE, &s, sizeof(s)), 8);
	setup_ring();
}

static void start(void)
{
	uint64_t features = 1ull << VIRTIO_F_VERSION_1 |
			    1ull << VIRTIO_RING_F_INDIRECT_DESC |
			    1ull << VIRTIO_RING_F_EVENT_IDX |
			    1ull << VHOST_USER_F_PROTOCOL_FEATURES;
	uint64_t proto = 1ull << VU_PROTOCOL_F_REPLY_ACK |
			 1ull << VU_PROTOCOL_F_CONFIG |
			 1ull << VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS;
	struct vu_mem_single reg = { 0, { 0, MEM_SIZE, UADDR, 0 } };
	int sv[2], img;
	char fdarg[16];

	strcpy(fe.image, "/tmp/test-vub-XXXXXX");
	img = mkstemp(fe.image);
	ck_assert_int_ge(img, 0);
	ck_assert_int_eq(ftruncate(img, IMAGE_SIZE), 0);
	close(img);
	fe.memfd = memfd_create("test-vub", MFD_CLOEXEC);
	ck_assert_int_ge(fe.memfd, 0);
	ck_assert_int_eq(ftruncate(fe.memfd, FILE_SIZE), 0);
	fe.mem = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      fe.memfd, 0);
	ck_assert_ptr_ne(fe.mem, MAP_FAILED);
	memset(fe.mem + MEM_SIZE, CANARY, FILE_SIZE - MEM_SIZE);
	fe.kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	fe.call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	fe.pid = fork();
	ck_assert_int_ge(fe.pid, 0);
	if (fe.pid == 0) {
		int fd = dup(sv[1]);   /* without FD_CLOEXEC */

		snprintf(fdarg, sizeof(fdarg), "%d", fd);
		execl(backend_path(), "vhost-user-blk", "--fd", fdarg,
		      "--image", fe.image, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	fe.sock = sv[0];
	ck_assert_uint_eq(get_u64(VU_GET_FEATURES) & features, features);
	send_msg(VU_SET_FEATURES, 0, &features, 8);
	ck_assert_uint_eq(get_u64(VU_GET_PROTOCOL_FEATURES) & proto, proto);
	send_msg(VU_SET_PROTOCOL_FEATURES, 0, &proto, 8);
	ck_assert_uint_eq(acked_fds(VU_ADD_MEM_REG, &reg, sizeof(reg), &fe.memfd, 1), 0);
	setup_ring();
}

static bool canary_intact(void)
{
	for (size_t i = MEM_SIZE; i < FILE_SIZE; i++)
		if (fe.mem[i] != CANARY)
			return false;
	return true;
}

/* Closes the connection: the back-end must exit by itself, not by a
 * signal, having touched nothing outside the memory it was given. */
static int stop(void)
{
	int status = 0;

	close(fe.sock);
	for (int i = 0; i < 1000 && waitpid(fe.pid, &status, WNOHANG) == 0; i++)
		usleep(10000);
	if (waitpid(fe.pid, &status, WNOHANG) == 0) {
		kill(fe.pid, SIGKILL);
		waitpid(fe.pid, &status, 0);
		ck_abort_msg("back-end did not exit after the disconnect");
	}
	ck_assert_msg(WIFEXITED(status), "back-end killed by signal %d",
		      WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	ck_assert_msg(canary_intact(), "back-end wrote outside guest memory");
	unlink(fe.image);
	munmap(fe.mem, FILE_SIZE);
	close(fe.memfd);
	close(fe.kick);
	close(fe.call);
	return WEXITSTATUS(status);
}

/* Expects the request just posted to be answered with `status`. */
static void expect_status(uint16_t before, uint8_t status)
{
	ck_assert_uint_eq(used_idx(), (uint16_t)(before + 1));
	ck_assert_uint_eq(fe.mem[STATUS], status);
}

/* Expects the queue to be stopped (no answer), then a reset to revive it. */
static void expect_broken_then_reset(uint16_t before)
{
	uint8_t buf[512];

	ck_assert_uint_eq(used_idx(), before);
	post(0);           /* a broken queue serves nothing more */
	ck_assert_uint_eq(used_idx(), before);
	reset_ring();
	memset(buf, 0x5a, sizeof(buf));
	write_guest(DATA, buf, sizeof(buf));
	blk_request(1, 3, DATA, sizeof(buf), false);
	post(0);
	expect_status(0, 0);
}

/* ------------------------------------------------------------ baseline */

START_TEST(write_then_read)
{
	uint8_t out[8192], in[8192];

	start();
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 7 + 3);
	write_guest(DATA, out, sizeof(out));
	blk_request(1, 8, DATA, sizeof(out), false);
	post(0);
	expect_status(0, 0);
	ck_assert_uint_eq(used_len(0), 1);
	blk_request(0, 8, DATA2, sizeof(in), true);
	post(0);
	expect_status(1, 0);
	ck_assert_uint_eq(used_len(1), sizeof(in) + 1);
	memcpy(in, fe.mem + DATA2, sizeof(in));
	ck_assert_mem_eq(in, out, sizeof(out));
	ck_assert_int_eq(stop(), 0);
}
END_TEST

START_TEST(flush_get_id_unsupported)
{
	start();
	blk_header(4, 0);
	put_desc(DESC, 0, HDR, 16, F_NEXT, 1);
	put_desc(DESC, 1, STATUS, 1, F_WRITE, 0);
	post(0);
	expect_status(0, 0);
	blk_request(8, 0, DATA, 20, true);
	post(0);
	expect_status(1, 0);
	ck_assert_int_eq(memcmp(fe.mem + DATA, "vmmem-", 6), 0);
	blk_request(99, 0, DATA, 512, true);
	post(0);
	expect_status(2, 2);
	ck_assert_int_eq(stop(), 0);
}
END_TEST

START_TEST(indirect_request)
{
	uint8_t buf[1024];

	start();
	memset(buf, 0x3c, sizeof(buf));
	write_guest(DATA, buf, sizeof(buf));
	blk_header(1, 2);
	put_desc(INDIRECT, 0, HDR, 16, F_NEXT, 1);
	put_desc(INDIRECT, 1, DATA, 512, F_NEXT, 2);
	put_desc(INDIRECT, 2, DATA + 512, 512, F_NEXT, 3);
	put_desc(INDIRECT, 3, STATUS, 1, F_WRITE, 0);
	put_desc(DESC, 0, INDIRECT, 4 * 16, F_INDIRECT, 0);
	post(0);
	expect_status(0, 0);
	ck_assert_int_eq(stop(), 0);
}
END_TEST

/* ------------------------------------------------ rings built to attack */

START_TEST(head_past_ring)
{
	start();
	post_raw(QSIZE + 100, 1);
	expect_broken_then_reset(0);
	ck_assert_int_eq(stop(), 0);
}
END_TEST

START_TEST(avail_index_jump)
{
	start();
	blk_request(0, 0, DATA, 512, true);
	post_raw(0, QSIZE + 1);   /* more entries than the ring holds */
	expect_broken_then_reset(0);
	ck_assert_int_eq(stop(), 0);
}
END_TEST

/* Chains the device cannot walk: each stops the queue until a reset. */
struct desc_spec {
	uint64_t table, addr;
	unsigned int i;
	uint32_t len;
	uint16_t flags, next;
};

static const struct {
	const char *what;
	struct desc_spec d[4];
} unwalkable[] = {
	{ "loop", {
		{ DESC, HDR, 0, 16, F_NEXT, 1 },
		{ DESC, DATA, 1, 512, F_NEXT | F_WRITE, 0 } } },
	{ "loop in an indirect table", {
		{ INDIRECT, HDR, 0, 16, F_NEXT, 1 },
		{ INDIRECT, DATA, 1, 512, F_NEXT | F_WRITE, 0 },
		{ DESC, INDIRECT, 0, 2 * 16, F_INDIRECT, 0 } } },
	{ "next past the table", {
		{ DESC, HDR, 0, 16, F_NEXT, 200 } } },
	{ "indirect table in an indirect table", {
		{ INDIRECT, INDIRECT + 0x100, 0, 32, F_INDIRECT, 0 },
		{ INDIRECT + 0x100, HDR, 0, 16, F_NEXT, 1 },
		{ INDIRECT + 0x100, STATUS, 1, 1, F_WRITE, 0 },
		{ DESC, INDIRECT, 0, 16, F_INDIRECT, 0 } } },
	{ "indirect with next", {
		{ DESC, INDIRECT, 0, 16, F_INDIRECT | F_NEXT, 1 },
		{ INDIRECT, STATUS, 0, 1, F_WRITE, 0 } } },
};

START_TEST(unwalkable_chain)
{
	start();
	blk_header(0, 0);
	for (unsigned int k = 0; k < 4; k++) {
		const struct desc_spec *d = &unwalkable[_i].d[k];

		if (d->len)
			put_desc(d->table, d->i, d->addr, d->len, d->flags, d->next);
	}
	post(0);
	ck_assert_msg(used_idx() == 0, "%s: answered", unwalkable[_i].what);
	expect_broken_then_reset(0);
	ck_assert_int_eq(stop(), 0);
}
END_TEST

START_TEST(indirect_bad_table)
{
	start();
	put_desc(DESC, 0, INDIRECT, 24, F_INDIRECT, 0);     /* not n * 16 */
	post(0);
	expect_broken_then_reset(0);
	put_desc(DESC, 0, MEM_SIZE + 0x1000, 32, F_INDIRECT, 0); /* outside */
	post(0);
	expect_broken_then_reset(1);
	put_desc(DESC, 0, ~0ull - 15, 32, F_INDIRECT, 0);   /* wraps */
	post(0);
	expect_broken_then_reset(1);
	ck_assert_int_eq(stop(), 0);
}
END_TEST

START_TEST(ring_outside_memory)
{
	struct vu_vring_addr addr = {
		.index = 0, .desc = UADDR + MEM_SIZE - 16, .avail = UADDR + AVAIL,
		.used = UADDR + USED,
	};

	start();
	/* The table would run past the region: refused, the ring unchanged. */
	ck_assert_uint_ne(acked(VU_SET_VRING_ADDR, &addr, sizeof(addr)), 0);
	addr.desc = 0x1000;   /* not a front-end address the table knows */
	ck_assert_uint_ne(acked(VU_SET_VRING_ADDR, &addr, sizeof(addr)), 0);
	addr.desc = UADDR + 8;   /* misaligned */
	ck_assert_uint_ne(acked(VU_SET_VRING_ADDR, &addr, sizeof(addr)), 0);
	blk_request(0, 0, DATA, 512, true);
	post(0);
	expect_status(0, 0);
	ck_assert_int_eq(stop(), 0);
}
END_TEST

/* The front-end swaps the memory under a running queue (REM_MEM_REG, then
 * ADD_MEM_REG of other memory at the same addresses): the rings must be
 * read from the new memory, not from the removed region's pinned one. */
START_TEST(rings_follow_memory_table)
{
	struct vu_mem_single reg = { 0, { 0, MEM_SIZE, UADDR, 0 } };
	uint8_t *old;
	int memfd;

	start();
	blk_request(0, 0, DATA, 512, true);
	post(0);
	expect_status(0, 0);
	memfd = memfd_create("test-vub-2", MFD_CLOEXEC);
	ck_assert_int_ge(memfd, 0);
	ck_assert_int_eq(ftruncate(memfd, MEM_SIZE), 0);
	old = fe.mem;
	fe.mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      memfd, 0);
	ck_assert_ptr_ne(fe.mem, MAP_FAILED);
	memcpy(fe.mem, old, MEM_SIZE);
	ck_assert_uint_eq(acked(VU_REM_MEM_REG, &reg, sizeof(reg)), 0);
	ck_assert_uint_eq(acked_fds(VU_ADD_MEM_REG, &reg, sizeof(reg), &memfd, 1), 0);
	blk_request(0, 0, DATA, 512, true);
	post(0);
	expect_status(1, 0);
	munmap(fe.mem, MEM_SIZE);
	close(memfd);
	fe.mem = old;
	ck_assert_uint_eq(used_idx(), 1);
	ck_assert_int_eq(stop(), 0);
}
END_TEST

/* IOVA rings: an IOTLB invalidation over the rings makes them invalid;
 * the queue waits for the front-end's update and then pins them again. */
/* The rings at IOVA UADDR + offset, buffers at IOVA = GPA. */
static const struct vu_iotlb iova_rings = {
	.iova = UADDR, .size = 0x3000, .uaddr = UADDR,
	.perm = VHOST_ACCESS_RO | VHOST_ACCESS_WO, .type = VHOST_IOTLB_UPDATE
};

/* start() with VIRTIO_F_IOMMU_PLATFORM, the rings and buffers mapped. */
static void start_iova(void)
{
	uint64_t features = 1ull << VIRTIO_F_VERSION_1 |
			    1ull << VIRTIO_RING_F_INDIRECT_DESC |
			    1ull << VIRTIO_RING_F_EVENT_IDX |
			    1ull << VHOST_USER_F_PROTOCOL_FEATURES |
			    1ull << VIRTIO_F_IOMMU_PLATFORM;
	struct vu_iotlb bufs = iova_rings;

	bufs.iova = 0;
	bufs.size = MEM_SIZE;
	start();
	ck_assert_uint_eq(acked(VU_SET_FEATURES, &features, 8), 0);
	ck_assert_uint_eq(acked(VU_IOTLB_MSG, &iova_rings, sizeof(iova_rings)), 0);
	ck_assert_uint_eq(acked(VU_IOTLB_MSG, &bufs, sizeof(bufs)), 0);
	reset_ring();
}

START_TEST(iova_rings_pinned_again_after_invalidation)
{
	struct vu_iotlb rings = iova_rings;

	start_iova();
	blk_request(0, 0, DATA, 512, true);
	post(0);
	expect_status(0, 0);
	rings.type = VHOST_IOTLB_INVALIDATE;
	ck_assert_uint_eq(acked(VU_IOTLB_MSG, &rings, sizeof(rings)), 0);
	blk_request(0, 0, DATA, 512, true);
	post(0);
	ck_assert_uint_eq(used_idx(), 1);   /* waits for the mapping */
	rings.type = VHOST_IOTLB_UPDATE;
	ck_assert_uint_eq(acked(VU_IOTLB_MSG, &rings, sizeof(rings)), 0);
	expect_status(1, 0);
	ck_assert_int_eq(stop(), 0);
}
END_TEST

/* A descriptor table over two IOMMU pages the guest scattered in guest
 * memory: libvmmem cannot pin it as one range, so the device reads it per
 * call; requests are served as before. */
#define SCATTER_IOVA 0xa0000000ull
#define SCATTER_LO   0x6000ull        /* GPA of the table's first page */
#define SCATTER_HI   0x8000ull        /* ... and of its second: not 0x7000 */

START_TEST(iova_ring_over_scattered_pages)
{
	struct vu_iotlb lo = iova_rings, hi;
	/* descriptors 0 and 1 at the end of the first page, 2.. on the next */
	struct vu_vring_addr addr = {
		.index = 0, .desc = SCATTER_IOVA + 0x1000 - 32,
		.avail = UADDR + AVAIL, .used = UADDR + USED,
	};

	lo.iova = SCATTER_IOVA;
	lo.size = 0x1000;
	lo.uaddr = UADDR + SCATTER_LO;
	lo.perm = VHOST_ACCESS_RO;
	hi = lo;
	hi.iova += 0x1000;
	hi.uaddr = UADDR + SCATTER_HI;
	start_iova();
	ck_assert_uint_eq(acked(VU_IOTLB_MSG, &lo, sizeof(lo)), 0);
	ck_assert_uint_eq(acked(VU_IOTLB_MSG, &hi, sizeof(hi)), 0);
	ck_assert_uint_eq(acked(VU_SET_VRING_ADDR, &addr, sizeof(addr)), 0);
	for (uint16_t n = 0; n < 3; n++) {
		blk_request(n % 2, n, DATA, 512, n % 2 == 0);
		memcpy(fe.mem + SCATTER_LO + 0x1000 - 32, fe.mem + DESC, 32);
		memcpy(fe.mem + SCATTER_HI, fe.mem + DESC + 32, 16);
		post(0);
		expect_status(n, 0);
	}
	ck_assert_int_eq(stop(), 0);
}
END_TEST

/* --------------------------------------- requests answered with IOERR */

START_TEST(buffer_outside_memory)
{
	start();
	blk_request(0, 0, MEM_SIZE, 4096, true);   /* just past the region */
	post(0);
	expect_status(0, 1);
	blk_request(0, 0, MEM_SIZE - 512, 4096, true);   /* straddles its end */
	post(0);
	expect_status(1, 1);
	blk_request(1, 0, 0x40000000, 4096, false);
	post(0);
	expect_status(2, 1);
	ck_assert_int_eq(stop(), 0);
}
END_TEST

START_TEST(wrapping_length)
{
	start();
	blk_request(0, 0, ~0ull - 0xfff, 0x2000, true);
	post(0);
	expect_status(0, 1);
	blk_request(0, 0, DATA, 0xffffffffu, true);
	post(0);
	expect_status(1, 1);
	blk_request(1, 0, DATA, 0xfffffe00u, false);
	post(0);
	expect_status(2, 1);
	ck_assert_int_eq(stop(), 0);
}
END_TEST

START_TEST(header_in_write_only_buffer)
{
	start();
	blk_header(1, 0);
	put_desc(DESC, 0, HDR, 16, F_NEXT | F_WRITE, 1);
	put_desc(DESC, 1, STATUS, 1, F_WRITE, 0);
	post(0);
	expect_status(0, 1);
	/* A readable buffer after a writable one is out of order. */
	put_desc(DESC, 0, HDR, 16, F_NEXT, 1);
	put_desc(DESC, 1, DATA, 512, F_NEXT | F_WRITE, 2);
	put_desc(DESC, 2, DATA2, 512, F_NEXT, 3);
	put_desc(DESC, 3, STATUS, 1, F_WRITE, 0);
	post(0);
	expect_status(1, 1);
	ck_assert_int_eq(stop(), 0);
}
END_TEST

START_TEST(sectors_past_the_end)
{
	start();
	blk_request(0, IMAGE_SIZE / 512, DATA, 512, true);
	post(0);
	expect_status(0, 1);
	blk_request(0, IMAGE_SIZE / 512 - 1, DATA, 1024, true);
	post(0);
	expect_status(1, 1);
	blk_request(1, ~0ull - 1, DATA, 1024, false);   /* sector * 512 wraps */
	post(0);
	expect_status(2, 1);
	blk_request(0, 0, DATA, 100, true);   /* not whole sectors */
	post(0);
	expect_status(3, 1);
	ck_assert_int_eq(stop(), 0);
}
END_TEST

START_TEST(no_status_byte)
{
	start();
	blk_header(0, 0);
	put_desc(DESC, 0, HDR, 16, F_NEXT, 1);
	put_desc(DESC, 1, DATA, 512, 0, 0);
	post(0);
	expect_broken_then_reset(0);
	/* A status byte the device cannot write: outside guest memory. */
	blk_header(0, 0);
	put_desc(DESC, 0, HDR, 16, F_NEXT, 1);
	put_desc(DESC, 1, MEM_SIZE + 16, 1, F_WRITE, 0);
	post(0);
	expect_broken_then_reset(1);
	ck_assert_int_eq(stop(), 0);
}
END_TEST

START_TEST(too_many_segments)
{
	start();
	/* An indirect table of 1024 one-sector buffers: more than seg_max. */
	blk_header(0, 0);
	put_desc(BIG_TABLE, 0, HDR, 16, F_NEXT, 1);
	for (unsigned int i = 1; i < 1023; i++)
		put_desc(BIG_TABLE, i, DATA, 512, F_NEXT | F_WRITE, (uint16_t)(i + 1));
	put_desc(BIG_TABLE, 1023, STATUS, 1, F_WRITE, 0);
	put_desc(DESC, 0, BIG_TABLE, 1024 * 16, F_INDIRECT, 0);
	post(0);
	ck_assert_uint_eq(used_idx(), 1);
	ck_assert_uint_eq(fe.mem[STATUS], 1);
	ck_assert_int_eq(stop(), 0);
}
END_TEST

START_TEST(call_fd_that_blocks)
{
	int p[2], filled = 0;
	uint64_t idx = 0;
	char junk[4096] = { 0 };

	start();
	/* A call fd the back-end cannot write without blocking: a full pipe. */
	ck_assert_int_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	while (write(p[1], junk, sizeof(junk)) > 0)
		filled++;
	ck_assert_int_gt(filled, 0);
	ck_assert_uint_eq(acked_fds(VU_SET_VRING_CALL, &idx, 8, &p[1], 1), 0);
	ck_assert_int_eq(fcntl(p[1], F_SETFL, 0), 0);   /* blocking again */
	blk_request(0, 0, DATA, 512, true);
	post(0);
	expect_status(0, 0);
	close(p[0]);
	close(p[1]);
	ck_assert_int_eq(stop(), 0);
}
END_TEST

START_TEST(log_shorter_than_announced)
{
	struct vu_log log = { .mmap_size = 1 * MIB, .mmap_offset = 0 };
	uint64_t features = 1ull << VIRTIO_F_VERSION_1 | 1ull << VHOST_F_LOG_ALL |
			    1ull << VHOST_USER_F_PROTOCOL_FEATURES;
	uint64_t proto = 1ull << VU_PROTOCOL_F_REPLY_ACK |
			 1ull << VU_PROTOCOL_F_LOG_SHMFD, status = ~0ull;
	int logfd = memfd_create("test-vub-log", MFD_CLOEXEC);

	start();
	ck_assert_int_ge(logfd, 0);
	ck_assert_int_eq(ftruncate(logfd, 4096), 0);
	send_msg(VU_SET_PROTOCOL_FEATURES, 0, &proto, 8);
	/* A log file shorter than mmap_size: marking past its end would be
	 * SIGBUS.  Refused (SET_LOG_BASE answers with a status payload). */
	send_fds(VU_SET_LOG_BASE, 0, &log, sizeof(log), &logfd, 1);
	ck_assert_int_eq(recv_reply(VU_SET_LOG_BASE, &status, 8), 8);
	ck_assert_uint_ne(status, 0);
	ck_assert_int_eq(ftruncate(logfd, 0), 0);
	log.mmap_size = 4096;
	send_fds(VU_SET_LOG_BASE, 0, &log, sizeof(log), &logfd, 1);
	ck_assert_int_eq(recv_reply(VU_SET_LOG_BASE, &status, 8), 8);
	ck_assert_uint_ne(status, 0);
	ck_assert_uint_eq(acked(VU_SET_FEATURES, &features, 8), 0);
	blk_request(0, 0, DATA, 512, true);
	post(0);
	expect_status(0, 0);
	close(logfd);
	ck_assert_int_eq(stop(), 0);
}
END_TEST

START_TEST(log_marks_written_pages)
{
	struct vu_log log = { .mmap_size = 4096, .mmap_offset = 0 };
	uint64_t features = 1ull << VIRTIO_F_VERSION_1 | 1ull << VHOST_F_LOG_ALL |
			    1ull << VHOST_USER_F_PROTOCOL_FEATURES;
	uint64_t proto = 1ull << VU_PROTOCOL_F_REPLY_ACK |
			 1ull << VU_PROTOCOL_F_LOG_SHMFD, status = ~0ull;
	int logfd = memfd_create("test-vub-log", MFD_CLOEXEC);
	uint8_t *bits;

	start();
	ck_assert_int_eq(ftruncate(logfd, 4096), 0);
	bits = mmap(NULL, 4096, PROT_READ, MAP_SHARED, logfd, 0);
	ck_assert_ptr_ne(bits, MAP_FAILED);
	send_msg(VU_SET_PROTOCOL_FEATURES, 0, &proto, 8);
	send_fds(VU_SET_LOG_BASE, 0, &log, sizeof(log), &logfd, 1);
	ck_assert_int_eq(recv_reply(VU_SET_LOG_BASE, &status, 8), 8);
	ck_assert_uint_eq(status, 0);
	ck_assert_uint_eq(acked(VU_SET_FEATURES, &features, 8), 0);
	blk_request(0, 0, DATA2, 8192, true);   /* pages 0x20, 0x21 */
	post(0);
	expect_status(0, 0);
	ck_assert_uint_eq(bits[0x20 / 8], 0x3);          /* the data */
	ck_assert_uint_eq(bits[(STATUS >> 12) / 8] >> ((STATUS >> 12) % 8) & 1, 1);
	ck_assert_uint_eq(bits[(USED >> 12) / 8] >> ((USED >> 12) % 8) & 1, 1);
	ck_assert_uint_eq(bits[(DATA >> 12) / 8], 0);    /* not written */
	munmap(bits, 4096);
	close(logfd);
	ck_assert_int_eq(stop(), 0);
}
END_TEST

/* ------------------------------------------------- malformed messages */

START_TEST(refused_messages)
{
	struct vu_vring_state bad_num = { 0, 3 }, bad_idx = { 5, 8 };
	struct vu_mem_single overlap = { 0, { 0x1000, 0x1000, 0x9000000000ull, 0 } };
	struct vu_mem_single too_big = { 0, { 0x10000000, 16 * MIB, 0x9000000000ull, 0 } };
	struct vu_mem_single unaligned = { 0, { 0x10000000, 0x1000, 0x9000000000ull, 0x10 } };
	struct vu_mem_single wraps = { 0, { ~0ull - 0xfff, 0x2000, 0x9000000000ull, 0 } };
	struct vu_iotlb iotlb = { .iova = 0, .size = 0x1000, .uaddr = UADDR,
				  .perm = 3, .type = 9 };
	uint64_t unknown_feature = 1ull << 60, v = 0;
	int fds[2];

	start();
	ck_assert_uint_ne(acked(VU_SET_VRING_NUM, &bad_num, sizeof(bad_num)), 0);
	ck_assert_uint_ne(acked(VU_SET_VRING_NUM, &bad_idx, sizeof(bad_idx)), 0);
	ck_assert_uint_ne(acked(VU_ADD_MEM_REG, &overlap, sizeof(overlap)), 0);
	ck_assert_uint_ne(acked_fds(VU_ADD_MEM_REG, &overlap, sizeof(overlap), &fe.memfd, 1), 0);
	ck_assert_uint_ne(acked_fds(VU_ADD_MEM_REG, &too_big, sizeof(too_big), &fe.memfd, 1), 0);
	/* Not malformed: the spec does not promise a page-aligned
	 * mmap_offset, and libvmmem maps from the page below it. */
	ck_assert_uint_eq(acked_fds(VU_ADD_MEM_REG, &unaligned, sizeof(unaligned), &fe.memfd, 1), 0);
	ck_assert_uint_eq(acked(VU_REM_MEM_REG, &unaligned, sizeof(unaligned)), 0);
	ck_assert_uint_ne(acked_fds(VU_ADD_MEM_REG, &wraps, sizeof(wraps), &fe.memfd, 1), 0);
	ck_assert_uint_ne(acked(VU_REM_MEM_REG, &overlap, sizeof(overlap)), 0);
	ck_assert_uint_ne(acked(VU_IOTLB_MSG, &iotlb, sizeof(iotlb)), 0);
	iotlb.type = VHOST_IOTLB_UPDATE;
	iotlb.uaddr = 0x1000;    /* no region there */
	ck_assert_uint_ne(acked(VU_IOTLB_MSG, &iotlb, sizeof(iotlb)), 0);
	ck_assert_uint_ne(acked(VU_SET_FEATURES, &unknown_feature, 8), 0);
	ck_assert_uint_ne(acked(99, &v, 8), 0);
	ck_assert_uint_ne(acked(VU_SET_VRING_KICK, &v, 8), 0);   /* no fd */
	fds[0] = fds[1] = fe.memfd;
	ck_assert_uint_ne(acked_fds(VU_SET_VRING_CALL, &v, 8, fds, 2), 0);
	{
		static struct vu_mem_table t;

		t.nregions = VU_MAX_MEM_SLOTS + 1;
		ck_assert_uint_ne(acked(VU_SET_MEM_TABLE, &t, 8), 0);
		t.nregions = 2;   /* two entries, one fd */
		t.regions[0] = (struct vu_mem_region){ 0, MEM_SIZE, UADDR, 0 };
		t.regions[1] = (struct vu_mem_region){ 0x10000000, 0x1000, 0x9000000000ull, 0 };
		ck_assert_uint_ne(acked_fds(VU_SET_MEM_TABLE, &t, 8 + 2 * 32, &fe.memfd, 1), 0);
		fds[0] = fds[1] = fe.memfd;   /* overlapping entries */
		t.regions[1] = (struct vu_mem_region){ 0x1000, 0x1000, 0x9000000000ull, 0 };
		ck_assert_uint_ne(acked_fds(VU_SET_MEM_TABLE, &t, 8 + 2 * 32, fds, 2), 0);
		t.nregions = 1;   /* the same table again: kept, still served */
		ck_assert_uint_eq(acked_fds(VU_SET_MEM_TABLE, &t, 8 + 32, &fe.memfd, 1), 0);
	}
	/* Still serving. */
	blk_request(0, 0, DATA, 512, true);
	post(0);
	expect_status(0, 0);
	ck_assert_int_eq(stop(), 0);
}
END_TEST

/* Messages that cannot be refused in band: the back-end closes the
 * connection and exits cleanly. */
static void expect_disconnect(uint32_t req, uint32_t flags, uint32_t size,
			      uint32_t sent)
{
	static uint8_t payload[VU_MAX_PAYLOAD + 16];
	struct vu_header h = { req, flags, size };
	uint8_t buf[64];

	start();
	ck_assert_int_eq(send(fe.sock, &h, sizeof(h), MSG_NOSIGNAL), sizeof(h));
	if (sent)
		ck_assert_int_eq(send(fe.sock, payload, sent, MSG_NOSIGNAL), sent);
	if (sent == size)
		ck_assert_int_eq(recv_reply(req, buf, sizeof(buf)), -1);
	else
		shutdown(fe.sock, SHUT_WR);   /* a truncated message */
	ck_assert_int_eq(stop(), 0);
}

START_TEST(oversized_message)
{
	expect_disconnect(VU_SET_MEM_TABLE, VU_FLAG_VERSION, VU_MAX_PAYLOAD + 8, 0);
}
END_TEST

START_TEST(bad_version)
{
	expect_disconnect(VU_GET_FEATURES, 0x2, 0, 0);
}
END_TEST

START_TEST(truncated_payload)
{
	expect_disconnect(VU_SET_VRING_ADDR, VU_FLAG_VERSION, 40, 12);
}
END_TEST

START_TEST(get_with_payload)
{
	expect_disconnect(VU_GET_FEATURES, VU_FLAG_VERSION, 8, 8);
}
END_TEST

START_TEST(too_many_fds)
{
	int fds[VU_MAX_FDS + 1];
	uint64_t v = 0;
	uint8_t buf[16];

	start();
	for (unsigned int i = 0; i <= VU_MAX_FDS; i++)
		fds[i] = fe.memfd;
	send_fds(VU_SET_VRING_CALL, VU_FLAG_NEED_REPLY, &v, 8, fds, VU_MAX_FDS + 1);
	ck_assert_int_eq(recv_reply(VU_SET_VRING_CALL, buf, sizeof(buf)), -1);
	ck_assert_int_eq(stop(), 0);
}
END_TEST

START_TEST(config_too_large)
{
	/* The payload the message claims: the header and 300 bytes. */
	static union {
		struct vu_config c;
		uint8_t bytes[12 + 300];
	} m = { .c = { .offset = 0, .size = 300 } };

	start();
	send_msg(VU_GET_CONFIG, 0, &m, sizeof(m.bytes));
	ck_assert_int_eq(recv_reply(VU_GET_CONFIG, &m, sizeof(m)), -1);
	ck_assert_int_eq(stop(), 0);
}
END_TEST

START_TEST(config_read)
{
	struct vu_config c = { .offset = 0, .size = 8 };
	uint64_t cap;

	start();
	send_msg(VU_GET_CONFIG, 0, &c, 12 + 8);
	ck_assert_int_eq(recv_reply(VU_GET_CONFIG, &c, sizeof(c)), 12 + 8);
	memcpy(&cap, c.region, 8);
	ck_assert_uint_eq(le64toh(cap), IMAGE_SIZE / 512);
	ck_assert_int_eq(stop(), 0);
}
END_TEST

START_TEST(refused_without_reply_disconnects)
{
	struct vu_vring_state bad = { 0, 3 };
	uint8_t buf[16];

	start();
	send_msg(VU_SET_VRING_NUM, 0, &bad, sizeof(bad));
	ck_assert_int_eq(recv_reply(VU_SET_VRING_NUM, buf, sizeof(buf)), -1);
	ck_assert_int_eq(stop(), 0);
}
END_TEST

static Suite *vub_suite(void)
{
	Suite *s = suite_create("vhost-user-blk");
	TCase *ring = tcase_create("ring"), *req = tcase_create("request"),
	      *msg = tcase_create("message");

	tcase_set_timeout(ring, 60);
	tcase_set_timeout(req, 60);
	tcase_set_timeout(msg, 60);
	tcase_add_test(ring, write_then_read);
	tcase_add_test(ring, rings_follow_memory_table);
	tcase_add_test(ring, iova_rings_pinned_again_after_invalidation);
	tcase_add_test(ring, iova_ring_over_scattered_pages);
	tcase_add_test(ring, flush_get_id_unsupported);
	tcase_add_test(ring, indirect_request);
	tcase_add_loop_test(ring, unwalkable_chain, 0,
			    sizeof(unwalkable) / sizeof(unwalkable[0]));
	tcase_add_test(ring, head_past_ring);
	tcase_add_test(ring, avail_index_jump);
	tcase_add_test(ring, indirect_bad_table);
	tcase_add_test(ring, ring_outside_memory);
	tcase_add_test(req, buffer_outside_memory);
	tcase_add_test(req, wrapping_length);
	tcase_add_test(req, header_in_write_only_buffer);
	tcase_add_test(req, sectors_past_the_end);
	tcase_add_test(req, no_status_byte);
	tcase_add_test(req, too_many_segments);
	tcase_add_test(req, call_fd_that_blocks);
	tcase_add_test(req, log_shorter_than_announced);
	tcase_add_test(req, log_marks_written_pages);
	tcase_add_test(msg, refused_messages);
	tcase_add_test(msg, oversized_message);
	tcase_add_test(msg, bad_version);
	tcase_add_test(msg, truncated_payload);
	tcase_add_test(msg, get_with_payload);
	tcase_add_test(msg, too_many_fds);
	tcase_add_test(msg, config_too_large);
	tcase_add_test(msg, config_read);
	tcase_add_test(msg, refused_without_reply_disconnects);
	suite_add_tcase(s, ring);
	suite_add_tcase(s, req);
	suite_add_tcase(s, msg);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(vub_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
