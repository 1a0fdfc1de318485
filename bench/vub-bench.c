/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * vub-bench: a host-side vhost-user-blk front-end that keeps a split ring
 * full of 4 KiB requests, as fast as the back-end answers, and measures the
 * back-end: requests per second and its CPU time per request (utime +
 * stime of the whole process, all threads, from /proc/PID/stat).  It runs
 * two back-ends in one run, each on its own image of the same size in the
 * same directory, alternating per workload, and prints their ratio:
 *   examples/vhost-user-blk (libvmmem), and
 *   qemu-storage-daemon --export type=vhost-user-blk (QEMU's libvhost-user),
 *   when /usr/bin/qemu-storage-daemon (Debian: qemu-system-common) exists.
 *
 * Usage: vub-bench [--seconds S] [--depths D,D..] [--backend PATH]
 *                  [--qsd PATH|none] [--qsd-aio threads|io_uring] [--dir DIR]
 * Defaults: 3 s a workload, depths 1,32, the back-end under top_builddir
 * (or .), /usr/bin/qemu-storage-daemon with its default aio=threads (a
 * thread pool does the file I/O; the libvmmem back-end calls preadv and
 * pwritev itself in its poll loop), DIR $TMPDIR or /tmp.
 *
 * The front-end negotiates VERSION_1 and the protocol features, no
 * EVENT_IDX (both back-ends then notify after each batch unless the avail
 * ring says not to), gives one memfd with SET_MEM_TABLE, and waits for
 * completions on the call eventfd (poll), so it spends no CPU spinning that
 * the back-ends would lack on this 2-core machine.  It kicks only when the
 * used ring does not carry VRING_USED_F_NO_NOTIFY.  Every completion's
 * status must be VIRTIO_BLK_S_OK, or the bench fails.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../examples/vhost-user-blk/channel.h"

#define QSIZE      256u
#define MAX_DEPTH  (QSIZE / 3)
#define MEM_SIZE   (2u << 20)
#define DESC       0x0000u                 /* 16 * QSIZE */
#define AVAIL      0x1000u                 /* 4 + 2 * QSIZE */
#define USED       0x2000u                 /* 4 + 8 * QSIZE */
#define HDRS       0x4000u                 /* 16 per slot */
#define STATUSES   0x5000u                 /* 1 per slot */
#define DATA       0x10000u                /* 4 KiB per slot */
#define BLOCK      4096u
#define IMAGE_SIZE (64u << 20)
#define F_NEXT     1
#define F_WRITE    2
#define T_IN       0
#define T_OUT      1

struct peer {
	const char *name;
	pid_t pid;
	int sock, kick, call, memfd;
	uint8_t *mem;
	uint16_t avail_idx, used_seen;
	char path[256], image[256];
};

static void die(const char *what)
{
	fprintf(stderr, "vub-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void fail(const char *name, const char *what)
{
	fprintf(stderr, "vub-bench: %s: %s\n", name, what);
	exit(1);
}

static void send_msg(struct peer *p, uint32_t req, const void *body,
		     uint32_t size, const int *fds, unsigned int nfds)
{
	if (vu_send_fds(p->sock, req, 0, body, size, fds, nfds) < 0)
		fail(p->name, "sendmsg failed (back-end gone?)");
}

static uint64_t get_u64(struct peer *p, uint32_t req)
{
	struct vu_header h;
	uint64_t v = 0;

	send_msg(p, req, NULL, 0, NULL, 0);
	if (recv(p->sock, &h, sizeof(h), MSG_WAITALL) != sizeof(h) ||
	    h.request != req || h.size != 8 ||
	    recv(p->sock, &v, 8, MSG_WAITALL) != 8)
		fail(p->name, "bad reply");
	return v;
}

static void put_desc(struct peer *p, unsigned int i, uint64_t off,
		     uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = p->mem + DESC + 16 * i;
	uint64_t a = htole64(off);   /* guest memory starts at GPA 0 */
	uint32_t l = htole32(len);
	uint16_t f = htole16(flags), n = htole16(next);

	memcpy(d, &a, 8);
	memcpy(d + 8, &l, 4);
	memcpy(d + 12, &f, 2);
	memcpy(d + 14, &n, 2);
}

/* Slot s: descriptors 3s..3s+2, header, 4 KiB data, status byte. */
static void prepare(struct peer *p, unsigned int s, uint32_t type, uint64_t sector)
{
	uint32_t t = htole32(type);
	uint64_t sec = htole64(sector);
	uint8_t *hdr = p->mem + HDRS + 16 * s;

	memset(hdr, 0, 16);
	memcpy(hdr, &t, 4);
	memcpy(hdr + 8, &sec, 8);
	p->mem[STATUSES + s] = 0xee;
	put_desc(p, 3 * s, HDRS + 16 * s, 16, F_NEXT, (uint16_t)(3 * s + 1));
	put_desc(p, 3 * s + 1, DATA + (uint64_t)BLOCK * s, BLOCK,
		 (uint16_t)(F_NEXT | (type == T_IN ? F_WRITE : 0)), (uint16_t)(3 * s + 2));
	put_desc(p, 3 * s + 2, STATUSES + s, 1, F_WRITE, 0);
}

static volatile uint16_t *ring16(struct peer *p, unsigned int off)
{
	return (volatile uint16_t *)(void *)(p->mem + off);
}

static void post(struct peer *p, unsigned int s)
{
	uint64_t one = 1;

	*ring16(p, AVAIL + 4 + 2 * (p->avail_idx % QSIZE)) = htole16((uint16_t)(3 * s));
	p->avail_idx++;
	__atomic_store_n(ring16(p, AVAIL + 2), htole16(p->avail_idx), __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!(le16toh(*ring16(p, USED)) & 1) &&   /* VRING_USED_F_NO_NOTIFY */
	    write(p->kick, &one, 8) != 8)
		die("kick");
}

/* Waits for completions; returns the slots done, in done[]. */
static unsigned int reap(struct peer *p, unsigned int *done)
{
	unsigned int n = 0;
	uint64_t v;

	for (;;) {
		uint16_t used = le16toh(__atomic_load_n(ring16(p, USED + 2), __ATOMIC_ACQUIRE));

		while (p->used_seen != used) {
			uint32_t id;

			memcpy(&id, p->mem + USED + 4 + 8 * (p->used_seen % QSIZE), 4);
			id = le32toh(id);
			if (id % 3 || id / 3 >= MAX_DEPTH)
				fail(p->name, "bad used id");
			if (p->mem[STATUSES + id / 3] != 0)
				fail(p->name, "request failed (status not VIRTIO_BLK_S_OK)");
			done[n++] = id / 3;
			p->used_seen++;
		}
		if (n)
			return n;
		struct pollfd pfd = { p->call, POLLIN, 0 };
		if (poll(&pfd, 1, 10000) != 1)
			fail(p->name, "no completion in 10 s");
		if (read(p->call, &v, 8) != 8 && errno != EAGAIN)
			die("call");
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The back-end's CPU seconds (user + system, all threads). */
static double cpu_seconds(pid_t pid)
{
	char path[64], buf[1024], *s;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f))
		die(path);
	fclose(f);
	s = strrchr(buf, ')');
	if (!s || sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &st) != 2)
		fail(path, "unparsable");
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

struct result {
	double rps, cpu_us;
};

static struct result run(struct peer *p, uint32_t type, unsigned int depth,
			 double seconds)
{
	unsigned int done[QSIZE], sectors = IMAGE_SIZE / 512, next = 0;
	uint64_t completed = 0;
	double t0, t1, c0, c1;

	c0 = cpu_seconds(p->pid);
	t0 = now();
	for (unsigned int s = 0; s < depth; s++) {
		prepare(p, s, type, (uint64_t)(next++ * 8u) % sectors);
		post(p, s);
	}
	do {
		unsigned int n = reap(p, done);

		completed += n;
		for (unsigned int i = 0; i < n; i++) {
			prepare(p, done[i], type, (uint64_t)(next++ * 8u) % sectors);
			post(p, done[i]);
		}
	} while (now() - t0 < seconds);
	for (uint64_t left = depth; left;)   /* drain */
		left -= reap(p, done);
	t1 = now();
	c1 = cpu_seconds(p->pid);
	completed += depth;
	return (struct result){ completed / (t1 - t0), (c1 - c0) * 1e6 / completed };
}

static void wait_socket(struct peer *p)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(p->path) >= sizeof(sa.sun_path))
		fail(p->path, "socket path too long (--dir)");
	memcpy(sa.sun_path, p->path, strlen(p->path) + 1);
	for (int i = 0; i < 400; i++) {
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (s < 0)
			die("socket");
		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			p->sock = s;
			return;
		}
		close(s);
		if (waitpid(p->pid, NULL, WNOHANG) == p->pid)
			fail(p->name, "exited before listening");
		usleep(25000);
	}
	fail(p->name, "socket never appeared");
}

static void spawn(struct peer *p, char *const argv[])
{
	p->pid = fork();
	if (p->pid < 0)
		die("fork");
	if (p->pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	wait_socket(p);
}

static void setup(struct peer *p)
{
	uint64_t features = 1ull << VIRTIO_F_VERSION_1 |
			    1ull << VHOST_USER_F_PROTOCOL_FEATURES;
	uint64_t proto = 0, idx = 0;
	struct vu_mem_table table = { .nregions = 1 };
	struct vu_vring_state num = { 0, QSIZE }, base = { 0, 0 }, en = { 0, 1 };
	struct vu_vring_addr addr = { 0 };

	p->memfd = memfd_create("vub-bench", MFD_CLOEXEC);
	if (p->memfd < 0 || ftruncate(p->memfd, MEM_SIZE) < 0)
		die("memfd");
	p->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, p->memfd, 0);
	if (p->mem == MAP_FAILED)
		die("mmap");
	memset(p->mem + DATA, 0x5a, MEM_SIZE - DATA);
	p->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	p->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->kick < 0 || p->call < 0)
		die("eventfd");
	if ((get_u64(p, VU_GET_FEATURES) & features) != features)
		fail(p->name, "lacks VERSION_1 or PROTOCOL_FEATURES");
	send_msg(p, VU_SET_OWNER, NULL, 0, NULL, 0);
	send_msg(p, VU_SET_FEATURES, &features, 8, NULL, 0);
	(void)get_u64(p, VU_GET_PROTOCOL_FEATURES);
	send_msg(p, VU_SET_PROTOCOL_FEATURES, &proto, 8, NULL, 0);
	table.regions[0] = (struct vu_mem_region){
		0, MEM_SIZE, (uint64_t)(uintptr_t)p->mem, 0 };
	send_msg(p, VU_SET_MEM_TABLE, &table,
		 (uint32_t)(8 + sizeof(struct vu_mem_region)), &p->memfd, 1);
	addr.desc = (uint64_t)(uintptr_t)p->mem + DESC;
	addr.avail = (uint64_t)(uintptr_t)p->mem + AVAIL;
	addr.used = (uint64_t)(uintptr_t)p->mem + USED;
	send_msg(p, VU_SET_VRING_NUM, &num, sizeof(num), NULL, 0);
	send_msg(p, VU_SET_VRING_BASE, &base, sizeof(base), NULL, 0);
	send_msg(p, VU_SET_VRING_ADDR, &addr, sizeof(addr), NULL, 0);
	send_msg(p, VU_SET_VRING_CALL, &idx, 8, &p->call, 1);
	send_msg(p, VU_SET_VRING_KICK, &idx, 8, &p->kick, 1);
	send_msg(p, VU_SET_VRING_ENABLE, &en, sizeof(en), NULL, 0);
	(void)get_u64(p, VU_GET_FEATURES);   /* everything before is handled */
}

static void make_image(struct peer *p, const char *dir)
{
	int fd;

	snprintf(p->image, sizeof(p->image), "%s/vub-bench-%d-%s.img", dir,
		 (int)getpid(), p->name);
	snprintf(p->path, sizeof(p->path), "%s/vub-bench-%d-%s.sock", dir,
		 (int)getpid(), p->name);
	unlink(p->path);
	fd = open(p->image, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, IMAGE_SIZE) < 0)
		die(p->image);
	close(fd);
}

static void stop(struct peer *p)
{
	close(p->sock);
	kill(p->pid, SIGTERM);
	waitpid(p->pid, NULL, 0);
	unlink(p->image);
	unlink(p->path);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "depths", required_argument, NULL, 'd' },
		{ "backend", required_argument, NULL, 'b' },
		{ "qsd", required_argument, NULL, 'q' },
		{ "qsd-aio", required_argument, NULL, 'a' },
		{ "dir", required_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 },
	};
	const char *top = getenv("top_builddir"), *dir = getenv("TMPDIR");
	const char *qsd = "/usr/bin/qemu-storage-daemon", *depths = "1,32";
	const char *aio = "threads";
	char backend[512], bdev[600], exp[700];
	double seconds = 3;
	struct peer peers[2] = { { .name = "libvmmem" }, { .name = "qsd" } };
	unsigned int npeers = 2;
	int c;

	snprintf(backend, sizeof(backend), "%s/examples/vhost-user-blk/vhost-user-blk",
		 top ? top : ".");
	if (!dir)
		dir = "/tmp";
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': seconds = atof(optarg); break;
		case 'd': depths = optarg; break;
		case 'b': snprintf(backend, sizeof(backend), "%s", optarg); break;
		case 'q': qsd = optarg; break;
		case 'a': aio = optarg; break;
		case 'D': dir = optarg; break;
		default:
			fprintf(stderr, "usage: %s [--seconds S] [--depths D,D..] "
				"[--backend PATH] [--qsd PATH|none] [--qsd-aio MODE] [--dir DIR]\n", argv[0]);
			return 2;
		}
	}
	if (strcmp(qsd, "none") == 0 || access(qsd, X_OK) != 0) {
		printf("# no qemu-storage-daemon (%s): libvmmem's back-end alone\n", qsd);
		npeers = 1;
	}
	signal(SIGPIPE, SIG_IGN);

	make_image(&peers[0], dir);
	spawn(&peers[0], (char *[]){ backend, "--socket", peers[0].path,
				     "--image", peers[0].image, NULL });
	if (npeers == 2) {
		make_image(&peers[1], dir);
		snprintf(bdev, sizeof(bdev), "driver=file,node-name=disk0,aio=%s,filename=%s",
			 aio, peers[1].image);
		snprintf(exp, sizeof(exp), "type=vhost-user-blk,id=exp0,node-name=disk0,"
			 "addr.type=unix,addr.path=%s,writable=on,num-queues=1",
			 peers[1].path);
		spawn(&peers[1], (char *[]){ (char *)qsd, "--blockdev", bdev,
					     "--export", exp, NULL });
	}
	for (unsigned int i = 0; i < npeers; i++)
		setup(&peers[i]);

	printf("# 4 KiB requests on one split ring (%u entries), %.1f s each; images of %u MiB in %s (page cache); qsd aio=%s\n",
	       QSIZE, seconds, IMAGE_SIZE >> 20, dir, aio);
	printf("%-6s %5s %12s %12s %12s %12s %9s %9s\n", "op", "depth",
	       "libvmmem/s", "cpu-us/req", "qsd/s", "cpu-us/req", "rps-ratio", "cpu-ratio");
	for (const char *d = depths; *d;) {
		unsigned int depth = (unsigned int)strtoul(d, (char **)&d, 10);

		if (*d == ',')
			d++;
		if (depth < 1 || depth > MAX_DEPTH) {
			fprintf(stderr, "vub-bench: depth must be 1..%u\n", MAX_DEPTH);
			return 2;
		}
		for (uint32_t type = T_IN; type <= T_OUT; type++) {
			struct result r[2] = { { 0, 0 }, { 0, 0 } };

			for (unsigned int i = 0; i < npeers; i++)
				r[i] = run(&peers[i], type, depth, seconds);
			printf("%-6s %5u %12.0f %12.2f", type == T_IN ? "read" : "write",
			       depth, r[0].rps, r[0].cpu_us);
			if (npeers == 2)
				printf(" %12.0f %12.2f %9.2f %9.2f", r[1].rps, r[1].cpu_us,
				       r[0].rps / r[1].rps, r[0].cpu_us / r[1].cpu_us);
			printf("\n");
			fflush(stdout);
		}
	}
	for (unsigned int i = 0; i < npeers; i++)
		stop(&peers[i]);
	return 0;
}
