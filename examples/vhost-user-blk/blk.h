/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The virtio-blk device (virtio 1.x, 5.2): its configuration space and its
 * requests IN, OUT, FLUSH and GET_ID, served from a raw image file.
 */
#ifndef VUB_BLK_H
#define VUB_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "virtqueue.h"

#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2
#define VIRTIO_BLK_ID_BYTES 20

struct vub_blk {
	int fd;
	uint64_t sectors;          /* 512-byte sectors */
	char serial[VIRTIO_BLK_ID_BYTES];
	uint64_t requests, errors;
	uint64_t above_4g;          /* data buffers at or above 4 GiB */
};

int vub_blk_open(struct vub_blk *b, const char *path);
void vub_blk_close(struct vub_blk *b);
/* The configuration space, as GET_CONFIG returns it. */
size_t vub_blk_config(const struct vub_blk *b, uint8_t *buf, size_t size);

/* Serves one request.  0: answered (status written), *written is the
 * number of bytes written to the driver's buffers; -EAGAIN: an IOTLB miss,
 * retry the whole request later; -EPROTO: the request has no status byte
 * the device can write, so it cannot be answered. */
int vub_blk_serve(struct vub_blk *b, const struct vub_access *a,
		  const struct vq_req *req, uint32_t *written);

#endif /* VUB_BLK_H */
