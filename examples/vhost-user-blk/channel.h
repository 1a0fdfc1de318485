/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* vhost-user message framing on a unix socket, with file descriptors. */
#ifndef VUB_CHANNEL_H
#define VUB_CHANNEL_H

#include "vhost-user.h"

/* 1: *msg received (its fds are the caller's to close), 0: the peer closed
 * the connection, negative errno: a malformed message or a socket error
 * (nothing is left open). */
int vu_recv(int sock, struct vu_msg *msg);
/* Sends hdr and size bytes of payload, no fds. */
int vu_send(int sock, uint32_t request, uint32_t flags, const void *payload,
	    uint32_t size);
/* The same with nfds (at most VU_SEND_MAX_FDS) descriptors, which stay the
 * caller's: for front-ends (tests/test-vub, bench/vub-bench), which send
 * more than a back-end accepts when they attack it. */
#define VU_SEND_MAX_FDS 16
int vu_send_fds(int sock, uint32_t request, uint32_t flags, const void *payload,
		uint32_t size, const int *fds, unsigned int nfds);
void vu_close_fds(struct vu_msg *msg);

#endif /* VUB_CHANNEL_H */
