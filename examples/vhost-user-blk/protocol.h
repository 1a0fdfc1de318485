/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The front-end's requests, applied to the device. */
#ifndef VUB_PROTOCOL_H
#define VUB_PROTOCOL_H

#include "device.h"

#define VUB_FEATURES                                                        \
	(1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_BLK_SIZE |     \
	 1ull << VIRTIO_BLK_F_FLUSH | 1ull << VHOST_F_LOG_ALL |             \
	 1ull << VIRTIO_RING_F_INDIRECT_DESC |                              \
	 1ull << VIRTIO_RING_F_EVENT_IDX |                                  \
	 1ull << VHOST_USER_F_PROTOCOL_FEATURES | 1ull << VIRTIO_F_VERSION_1 | \
	 1ull << VIRTIO_F_IOMMU_PLATFORM)
#define VUB_PROTOCOL_FEATURES                                               \
	(1ull << VU_PROTOCOL_F_LOG_SHMFD | 1ull << VU_PROTOCOL_F_REPLY_ACK |  \
	 1ull << VU_PROTOCOL_F_BACKEND_REQ | 1ull << VU_PROTOCOL_F_CONFIG |   \
	 1ull << VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS)

/* Receives and handles one message.  1: go on, 0: the front-end closed the
 * connection, negative errno: the connection must be closed (a malformed
 * message the protocol gives no way to refuse, or a socket error). */
int vub_protocol_serve(struct vub_dev *d);

#endif /* VUB_PROTOCOL_H */
