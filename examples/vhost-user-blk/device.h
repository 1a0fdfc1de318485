/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The vhost-user-blk device: its state and its request loop. */
#ifndef VUB_DEVICE_H
#define VUB_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "access.h"
#include "blk.h"
#include "memory.h"
#include "virtqueue.h"

struct vub_dev {
	int sock;                  /* the front-end's connection */
	int backend_fd;            /* SET_BACKEND_REQ_FD, or -1 */
	uint64_t features;         /* acknowledged by SET_FEATURES */
	uint64_t protocol_features;
	struct vub_memory *memory;
	struct vub_access access;
	struct vq vq[VU_MAX_QUEUES];
	struct vub_blk blk;
	bool miss_pending;         /* an IOTLB miss sent, no update since */
	uint64_t iotlb_misses;
	uint64_t broken_queues;
};

int vub_dev_init(struct vub_dev *d, int sock, const char *image,
		 bool log_check, bool no_log);
void vub_dev_destroy(struct vub_dev *d);
void vub_dev_set_features(struct vub_dev *d, uint64_t features);
/* Serves what queue q has available, until it is empty, waits for an IOTLB
 * update, or breaks. */
void vub_dev_process(struct vub_dev *d, unsigned int q);
void vub_dev_process_all(struct vub_dev *d);
/* Stops queue q (GET_VRING_BASE, disconnect). */
void vub_dev_stop_queue(struct vub_dev *d, unsigned int q);
/* Releases every queue's rings (a memory-table change): they are pinned
 * again in the new table at their next use. */
void vub_dev_unmap_rings(struct vub_dev *d);
void vub_dev_report(const struct vub_dev *d);

#endif /* VUB_DEVICE_H */
