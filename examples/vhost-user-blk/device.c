/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "channel.h"
#include "device.h"

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* libvmmem calls this on an IOTLB miss; the access fails with -EAGAIN and
 * the request is retried when the front-end's update arrives. */
static void on_iotlb_miss(uint64_t iova, uint64_t len, unsigned int perm,
			  void *opaque)
{
	struct vub_dev *d = opaque;
	struct vu_iotlb msg = {
		.iova = iova, .type = VHOST_IOTLB_MISS,
		.perm = (uint8_t)((perm & VMMEM_PERM_READ ? VHOST_ACCESS_RO : 0) |
				  (perm & VMMEM_PERM_WRITE ? VHOST_ACCESS_WO : 0)),
	};

	(void)len;
	d->iotlb_misses++;
	if (d->miss_pending || d->backend_fd < 0)
		return;
	if (vu_send(d->backend_fd, VU_BACKEND_IOTLB_MSG, 0, &msg, sizeof(msg)) == 0)
		d->miss_pending = true;
}

int vub_dev_init(struct vub_dev *d, int sock, const char *image, bool log_check,
		 bool no_log)
{
	int ret;

	*d = (struct vub_dev){ .sock = sock, .backend_fd = -1 };
	for (unsigned int i = 0; i < VU_MAX_QUEUES; i++)
		vq_init(&d->vq[i]);
	ret = vub_blk_open(&d->blk, image);
	if (ret < 0)
		return ret;
	ret = vub_memory_new(&d->memory, on_iotlb_miss, d, log_check, no_log);
	if (ret < 0) {
		vub_blk_close(&d->blk);
		return ret;
	}
	d->access.memory = d->memory;
	return 0;
}

void vub_dev_stop_queue(struct vub_dev *d, unsigned int q)
{
	struct vq *vq = &d->vq[q];

	close_fd(&vq->kick_fd);
	vq_unmap(vq);
	vq->started = false;
	vq->broken = false;
}

void vub_dev_destroy(struct vub_dev *d)
{
	for (unsigned int i = 0; i < VU_MAX_QUEUES; i++) {
		vub_dev_stop_queue(d, i);
		close_fd(&d->vq[i].call_fd);
		close_fd(&d->vq[i].err_fd);
	}
	close_fd(&d->backend_fd);
	vub_memory_free(d->memory);
	vub_blk_close(&d->blk);
}

void vub_dev_unmap_rings(struct vub_dev *d)
{
	for (unsigned int i = 0; i < VU_MAX_QUEUES; i++)
		vq_unmap(&d->vq[i]);
}

void vub_dev_set_features(struct vub_dev *d, uint64_t features)
{
	d->features = features;
	d->access.iova = features >> VIRTIO_F_IOMMU_PLATFORM & 1;
	vub_dev_unmap_rings(d);    /* pinned in the old address space */
	for (unsigned int i = 0; i < VU_MAX_QUEUES; i++) {
		d->vq[i].indirect = features >> VIRTIO_RING_F_INDIRECT_DESC & 1;
		d->vq[i].event_idx = features >> VIRTIO_RING_F_EVENT_IDX & 1;
	}
	vub_memory_log_enable(d->memory, features >> VHOST_F_LOG_ALL & 1);
}

/* One request: -EAGAIN puts it back (an IOTLB miss), -EPROTO breaks the
 * queue (a request with no status byte cannot be answered). */
static int serve_one(struct vub_dev *d, struct vq *vq)
{
	static struct vq_req req;  /* large; one device thread */
	uint32_t written = 0;
	int ret = vq_pop(vq, &d->access, &req);

	if (ret <= 0)
		return ret;
	ret = vub_blk_serve(&d->blk, &d->access, &req, &written);
	if (ret == -EAGAIN) {
		vq->last_avail--;
		return ret;
	}
	if (ret < 0) {
		vq->broken = true;
		return ret;
	}
	ret = vq_push(vq, &d->access, req.head, written);
	return ret < 0 ? ret : 1;
}

void vub_dev_process(struct vub_dev *d, unsigned int q)
{
	struct vq *vq = &d->vq[q];
	uint16_t old_used = vq->used_idx;
	bool was_broken = vq->broken;
	unsigned int budget = vq->num;   /* then messages get their turn */
	int ret = 0;

	do {
		while (budget && (ret = serve_one(d, vq)) > 0)
			budget--;
	} while (budget && ret == 0 && vq_rearm(vq, &d->access));
	vq->more = vq->num && !budget;
	vub_memory_log_check(d->memory);
	vq_notify(vq, &d->access, old_used);
	if (vq->broken && !was_broken) {
		d->broken_queues++;
		fprintf(stderr, "vhost-user-blk: queue %u broken (needs reset): "
			"the driver's ring is invalid\n", q);
	}
}

void vub_dev_process_all(struct vub_dev *d)
{
	for (unsigned int i = 0; i < VU_MAX_QUEUES; i++)
		vub_dev_process(d, i);
}

void vub_dev_report(const struct vub_dev *d)
{
	struct vub_memory_stats s;
	uint64_t pinned = 0, per_call = 0;

	vub_memory_stats(d->memory, &s);
	for (unsigned int i = 0; i < VU_MAX_QUEUES; i++) {
		pinned += d->vq[i].rings_pinned;
		per_call += d->vq[i].rings_per_call;
	}
	fprintf(stderr, "vhost-user-blk: requests %" PRIu64 " errors %" PRIu64
		" data-above-4g %" PRIu64 " broken-queues %" PRIu64
		" regions-added %" PRIu64 " regions-removed %" PRIu64
		" iotlb-updates %" PRIu64
		" iotlb-misses %" PRIu64 " iotlb-invalidations %" PRIu64
		" log-pages %" PRIu64 " log-checked %" PRIu64
		" log-missed %" PRIu64 " rings-pinned %" PRIu64
		" rings-per-call %" PRIu64 "\n",
		d->blk.requests, d->blk.errors, d->blk.above_4g, d->broken_queues,
		s.regions_added, s.regions_removed,
		s.iotlb_updates, d->iotlb_misses, s.iotlb_invalidations,
		s.log_pages, s.log_checked, s.log_missed, pinned, per_call);
}
