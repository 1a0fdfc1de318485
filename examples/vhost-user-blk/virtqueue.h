/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Split virtqueues (virtio 1.x, 2.7): taking descriptor chains from the
 * available ring and returning them on the used ring, with every value the
 * driver controls checked.  A chain the device cannot walk (a loop, an
 * index past the table, an indirect table inside an indirect table, a table
 * outside guest memory) makes the queue broken: it is not touched again
 * until the front-end restarts it, which is what a virtio device does when
 * it sets DEVICE_NEEDS_RESET.
 *
 * The three rings are reached through libvmmem's ring accessors (ring.h):
 * opened when the queue is first served, released when it stops.  An IOVA
 * ring an IOTLB message invalidated is pinned again at its next use (the
 * front-end resends the mapping after a miss).  A memory-table change
 * releases them too (vq_unmap()): opened again in the new table at their
 * next use, or the queue breaks, so a removed region is never served from
 * its stale pinned mapping.
 */
#ifndef VUB_VIRTQUEUE_H
#define VUB_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "access.h"
#include "ring.h"

#define VQ_MAX_SIZE 1024u          /* largest queue the device accepts */
#define VQ_MAX_SEGS 256u           /* buffers per request */
#define VQ_MAX_INDIRECT 1024u      /* descriptors per indirect table */

struct vq_seg {
	uint64_t addr;
	uint32_t len;
	bool write;                /* device-writable */
};

struct vq_req {
	uint16_t head;
	bool bad;                  /* walkable, but not a valid request */
	unsigned int nseg;
	struct vq_seg seg[VQ_MAX_SEGS];
	struct vq_seg last;        /* the chain's last buffer, even past
				    * VQ_MAX_SEGS: where the status byte is */
};

struct vq {
	uint16_t num;              /* 0: not set */
	uint64_t desc, avail, used; /* device addresses (GPA or IOVA) */
	bool addressed;            /* SET_VRING_ADDR accepted */
	uint16_t last_avail;       /* next available entry to take */
	uint16_t used_idx;         /* next used entry to fill */
	int kick_fd, call_fd, err_fd;
	bool enabled;              /* SET_VRING_ENABLE */
	bool started;              /* a kick fd was given */
	bool broken;               /* needs a reset by the front-end */
	bool more;                 /* a full batch served: come back soon */
	bool indirect, event_idx;  /* negotiated features */
	/* Open while the queue is served, all three or none. */
	struct vub_ring desc_ring, avail_ring, used_ring;
	uint64_t rings_pinned, rings_per_call;   /* rings opened each way */
};

void vq_init(struct vq *q);
/* Checks and sets the ring addresses (the ring must fit num entries). */
int vq_set_addr(struct vq *q, uint64_t desc, uint64_t avail, uint64_t used);
bool vq_ready(const struct vq *q);
/* Releases the rings: the queue stops, its addresses, size or address
 * space change, or the memory table does.  The next use pins them again. */
void vq_unmap(struct vq *q);

/* 1: *req filled, 0: nothing available, -EAGAIN: IOTLB miss (nothing was
 * taken, retry later), -EPROTO: the queue is now broken. */
int vq_pop(struct vq *q, const struct vub_access *a, struct vq_req *req);
/* Puts head on the used ring with the number of bytes written. */
int vq_push(struct vq *q, const struct vub_access *a, uint16_t head,
	    uint32_t written);
/* With EVENT_IDX, asks for a kick at the next entry: true if entries
 * arrived meanwhile (process them before sleeping). */
bool vq_rearm(struct vq *q, const struct vub_access *a);
/* Signals the call eventfd if the driver wants an interrupt for the
 * entries used since old_used. */
void vq_notify(struct vq *q, const struct vub_access *a, uint16_t old_used);

#endif /* VUB_VIRTQUEUE_H */
