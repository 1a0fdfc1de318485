/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * vhost-user-blk: a vhost-user block device back-end on libvmmem.
 *
 *   vhost-user-blk --socket PATH --image FILE [--log-check] [--no-log]
 *   vhost-user-blk --fd N --image FILE          (an already connected socket)
 *
 * Serves the raw image FILE to one front-end (QEMU's vhost-user-blk-pci)
 * connecting to the unix socket PATH, and exits when it disconnects, with
 * a line of counters on stderr.  One thread: it handles the front-end's
 * messages and the queue's kicks in one poll loop, and serves requests
 * synchronously, moving data between the image and guest memory with
 * libvmmem's positional fd I/O (no copy in the back-end).
 *
 * --log-check (for tests): while logging for migration, compares the pages
 * libvmmem wrote for the back-end with the pages it set in the front-end's
 * dirty log; the counters report both.  --no-log (a negative control for
 * tests): offer VHOST_F_LOG_ALL but never mark the log.
 *
 * Files: main.c (this loop), protocol.c (messages), channel.c (framing),
 * memory.c (memory table, IOTLB, dirty log), device.c (request loop),
 * virtqueue.c (split rings), blk.c (virtio-blk requests), access.c
 * (GPA or IOVA access).
 */
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "protocol.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int listen_accept(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int ls, s;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "vhost-user-blk: socket path too long\n");
		return -1;
	}
	strcpy(sa.sun_path, path);
	ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(path);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(ls, 1) < 0) {
		perror("vhost-user-blk: listen");
		if (ls >= 0)
			close(ls);
		return -1;
	}
	do
		s = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	while (s < 0 && errno == EINTR && !stop);
	if (s < 0 && !stop)
		perror("vhost-user-blk: accept");
	close(ls);
	unlink(path);
	return s;
}

/* Drains a kick eventfd; the queue is served whatever it held. */
static void drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: already drained */
	}
}

static int serve(struct vub_dev *d)
{
	while (!stop) {
		struct pollfd p[1 + VU_MAX_QUEUES];
		unsigned int n = 1;
		bool more = false;
		int ret;

		p[0] = (struct pollfd){ .fd = d->sock, .events = POLLIN };
		for (unsigned int i = 0; i < VU_MAX_QUEUES; i++) {
			p[n++] = (struct pollfd){ .fd = d->vq[i].kick_fd,
						  .events = POLLIN };
			more |= d->vq[i].more;
		}
		/* A queue the guest keeps full is served a batch per turn,
		 * so the front-end's messages are never starved. */
		if (poll(p, n, more ? 0 : -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (unsigned int i = 0; i < VU_MAX_QUEUES; i++) {
			if (p[1 + i].revents & POLLIN)
				drain(p[1 + i].fd);
			if (p[1 + i].revents & POLLIN || d->vq[i].more)
				vub_dev_process(d, i);
		}
		if (p[0].revents) {
			ret = vub_protocol_serve(d);
			if (ret <= 0)
				return ret;
		}
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: vhost-user-blk (--socket PATH | --fd N) "
		"--image FILE [--log-check] [--no-log]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "fd", required_argument, NULL, 'f' },
		{ "image", required_argument, NULL, 'i' },
		{ "log-check", no_argument, NULL, 'l' },
		{ "no-log", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *socket_path = NULL, *image = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	struct vub_dev dev;
	bool log_check = false, no_log = false;
	int sock = -1, c, ret;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': socket_path = optarg; break;
		case 'f': sock = atoi(optarg); break;
		case 'i': image = optarg; break;
		case 'l': log_check = true; break;
		case 'n': no_log = true; break;
		default: usage();
		}
	}
	if (!image || (!socket_path) == (sock < 0) || optind != argc)
		usage();
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	ret = vub_dev_init(&dev, -1, image, log_check, no_log);
	if (ret < 0) {
		fprintf(stderr, "vhost-user-blk: %s: %s\n", image, strerror(-ret));
		return 1;
	}
	if (socket_path)
		sock = listen_accept(socket_path);
	if (sock >= 0) {
		dev.sock = sock;
		ret = serve(&dev);
		if (ret < 0)
			fprintf(stderr, "vhost-user-blk: connection closed: %s\n",
				strerror(-ret));
		close(sock);
	}
	vub_dev_report(&dev);
	vub_dev_destroy(&dev);
	return sock < 0 && !stop;
}
