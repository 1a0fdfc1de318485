/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The vhost-user wire format this back-end speaks (QEMU's
 * docs/interop/vhost-user.rst), and the virtio constants it needs.
 * Every payload is little endian; this back-end runs on little-endian hosts
 * only, as vhost-user itself assumes the front-end's byte order.
 */
#ifndef VUB_VHOST_USER_H
#define VUB_VHOST_USER_H

#include <stdint.h>

/* Front-end requests (VHOST_USER_*). */
enum {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_RESET_OWNER = 4,
	VU_SET_MEM_TABLE = 5,
	VU_SET_LOG_BASE = 6,
	VU_SET_LOG_FD = 7,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_SET_VRING_ERR = 14,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
	VU_SET_BACKEND_REQ_FD = 21,   /* SET_SLAVE_REQ_FD in QEMU 7.2 */
	VU_IOTLB_MSG = 22,
	VU_GET_CONFIG = 24,
	VU_SET_CONFIG = 25,
	VU_GET_MAX_MEM_SLOTS = 36,
	VU_ADD_MEM_REG = 37,
	VU_REM_MEM_REG = 38,
};

/* Back-end requests, on the channel of SET_BACKEND_REQ_FD. */
enum {
	VU_BACKEND_IOTLB_MSG = 1,
};

#define VU_FLAG_VERSION     0x1u
#define VU_FLAG_REPLY       0x4u
#define VU_FLAG_NEED_REPLY  0x8u
#define VU_FLAG_VERSION_MASK 0x3u

/* Protocol features. */
#define VU_PROTOCOL_F_LOG_SHMFD           1
#define VU_PROTOCOL_F_REPLY_ACK           3
#define VU_PROTOCOL_F_BACKEND_REQ         5
#define VU_PROTOCOL_F_CONFIG              9
#define VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS 15

/* Feature bits (virtio 1.x and vhost). */
#define VIRTIO_BLK_F_SEG_MAX        2
#define VIRTIO_BLK_F_BLK_SIZE       6
#define VIRTIO_BLK_F_FLUSH          9
#define VHOST_F_LOG_ALL             26
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX     29
#define VHOST_USER_F_PROTOCOL_FEATURES 30
#define VIRTIO_F_VERSION_1          32
#define VIRTIO_F_IOMMU_PLATFORM     33

#define VU_MAX_MEM_SLOTS   32
#define VU_MAX_QUEUES      1
#define VU_MAX_CONFIG_SIZE 256
#define VU_MAX_PAYLOAD     4096   /* larger messages are malformed */
#define VU_MAX_FDS         8

#define VU_VRING_IDX_MASK  0xffu
#define VU_VRING_NOFD      0x100u
#define VU_VRING_F_LOG     0x1u    /* SET_VRING_ADDR flags: log the used ring */

struct vu_header {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
};

struct vu_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;     /* front-end virtual addresses, or IOVAs */
	uint64_t used;
	uint64_t avail;
	uint64_t log;      /* guest physical address of the used ring */
};

struct vu_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uaddr;
	uint64_t mmap_offset;
};

struct vu_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vu_mem_region regions[VU_MAX_MEM_SLOTS];
};

struct vu_mem_single {
	uint64_t padding;
	struct vu_mem_region region;
};

struct vu_log {
	uint64_t mmap_size;
	uint64_t mmap_offset;
};

/* struct vhost_iotlb_msg of <linux/vhost_types.h>. */
#define VHOST_IOTLB_MISS        1
#define VHOST_IOTLB_UPDATE      2
#define VHOST_IOTLB_INVALIDATE  3
#define VHOST_ACCESS_RO         0x1
#define VHOST_ACCESS_WO         0x2
struct vu_iotlb {
	uint64_t iova;
	uint64_t size;
	uint64_t uaddr;
	uint8_t perm;
	uint8_t type;
	uint8_t padding[6];
};

struct vu_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t region[VU_MAX_CONFIG_SIZE];
};

union vu_payload {
	uint64_t u64;
	struct vu_vring_state state;
	struct vu_vring_addr addr;
	struct vu_mem_table table;
	struct vu_mem_single single;
	struct vu_log log;
	struct vu_iotlb iotlb;
	struct vu_config config;
	uint8_t bytes[VU_MAX_PAYLOAD];
};

struct vu_msg {
	struct vu_header hdr;
	union vu_payload payload;
	int fds[VU_MAX_FDS];
	unsigned int nfds;
};

#endif /* VUB_VHOST_USER_H */
