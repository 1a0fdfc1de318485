/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "protocol.h"

/* A handler returns a negative errno to refuse the message, or 0; one that
 * answers with a payload (GET_*) fills *reply and sets *reply_size. */
struct answer {
	union vu_payload reply;
	uint32_t size;             /* 0: no payload of its own */
};

/* Shapes: the payload size and the number of fds a message must carry. */
static int shape(const struct vu_msg *m, uint32_t size, unsigned int nfds)
{
	return m->hdr.size == size && m->nfds == nfds ? 0 : -EINVAL;
}

static int take_fd(struct vu_msg *m, unsigned int i)
{
	int fd = m->fds[i];

	m->fds[i] = -1;
	return fd;
}

static void replace_fd(int *slot, int fd)
{
	if (*slot >= 0)
		close(*slot);
	*slot = fd;
}

static struct vq *queue(struct vub_dev *d, uint32_t index)
{
	return index < VU_MAX_QUEUES ? &d->vq[index] : NULL;
}

static bool has_protocol(const struct vub_dev *d, unsigned int bit)
{
	return d->protocol_features >> bit & 1;
}

static int answer_u64(struct answer *ans, uint64_t v)
{
	ans->reply.u64 = v;
	ans->size = sizeof(v);
	return 0;
}

static int set_vring_addr(struct vub_dev *d, const struct vu_vring_addr *a)
{
	struct vq *vq = queue(d, a->index);
	uint64_t desc = a->desc, avail = a->avail, used = a->used, n;
	int ret = 0;

	if (!vq || !vq->num || a->flags & ~VU_VRING_F_LOG)
		return -EINVAL;
	/* Without an IOMMU the addresses are the front-end's virtual
	 * addresses: turn them into GPAs, stable across memory hotplug. */
	n = vq->num;
	if (!d->access.iova) {
		ret = vub_memory_to_gpa(d->memory, a->desc, 16 * n, &desc);
		if (ret == 0)
			ret = vub_memory_to_gpa(d->memory, a->avail, 6 + 2 * n, &avail);
		if (ret == 0)
			ret = vub_memory_to_gpa(d->memory, a->used, 6 + 8 * n, &used);
	}
	return ret < 0 ? ret : vq_set_addr(vq, desc, avail, used);
}

/* SET_VRING_KICK, _CALL, _ERR: the queue index, and bit 8 for "no fd". */
static int vring_fd(struct vu_msg *m, struct vub_dev *d, struct vq **vq,
		    int *fd)
{
	uint64_t v = m->payload.u64;
	bool nofd = v & VU_VRING_NOFD;

	if (m->hdr.size != sizeof(v) || v & ~(uint64_t)(VU_VRING_NOFD |
						    VU_VRING_IDX_MASK) ||
	    m->nfds != (nofd ? 0u : 1u) || !(*vq = queue(d, (uint32_t)v & VU_VRING_IDX_MASK)))
		return -EINVAL;
	*fd = nofd ? -1 : take_fd(m, 0);
	return 0;
}

static int kick_call_err(struct vu_msg *m, struct vub_dev *d)
{
	struct vq *vq;
	int fd, ret = vring_fd(m, d, &vq, &fd);

	if (ret < 0)
		return ret;
	switch (m->hdr.request) {
	case VU_SET_VRING_KICK:
		replace_fd(&vq->kick_fd, fd);
		vq->started = true;
		vq->broken = false;
		/* Without protocol features a ring is enabled when started. */
		if (!(d->features >> VHOST_USER_F_PROTOCOL_FEATURES & 1))
			vq->enabled = true;
		vub_dev_process(d, (unsigned int)(vq - d->vq));
		break;
	case VU_SET_VRING_CALL:
		replace_fd(&vq->call_fd, fd);
		break;
	default:
		replace_fd(&vq->err_fd, fd);
		break;
	}
	return 0;
}

static int vring_state(struct vu_msg *m, struct vub_dev *d, struct answer *ans)
{
	struct vu_vring_state s = m->payload.state;
	struct vq *vq = queue(d, s.index);

	if (shape(m, sizeof(s), 0) < 0 || !vq)
		return -EINVAL;
	switch (m->hdr.request) {
	case VU_SET_VRING_NUM:
		if (!s.num || s.num > VQ_MAX_SIZE || s.num & (s.num - 1))
			return -EINVAL;
		vq->num = (uint16_t)s.num;
		vq->addressed = false;
		vq_unmap(vq);
		return 0;
	case VU_SET_VRING_BASE:
		if (s.num > UINT16_MAX)
			return -EINVAL;
		vq->last_avail = vq->used_idx = (uint16_t)s.num;
		return 0;
	case VU_SET_VRING_ENABLE:
		if (s.num > 1)
			return -EINVAL;
		vq->enabled = s.num;
		if (s.num)
			vub_dev_process(d, s.index);
		return 0;
	default: /* GET_VRING_BASE: nothing is in flight, requests are served
		  * synchronously, so the front-end may sync its log now. */
		vub_dev_stop_queue(d, s.index);
		ans->reply.state = (struct vu_vring_state){ s.index, vq->last_avail };
		ans->size = sizeof(ans->reply.state);
		return 0;
	}
}

static int config(struct vu_msg *m, struct vub_dev *d, struct answer *ans)
{
	struct vu_config *c = &m->payload.config;

	if (m->hdr.request == VU_SET_CONFIG)
		return -ENOTSUP;   /* nothing in the config space is writable */
	if (m->nfds || c->size > VU_MAX_CONFIG_SIZE || c->offset ||
	    m->hdr.size != offsetof(struct vu_config, region) + c->size)
		return -EINVAL;
	ans->reply.config = *c;
	vub_blk_config(&d->blk, ans->reply.config.region, c->size);
	ans->size = m->hdr.size;
	return 0;
}

/* A ring pins its region: after a table change the rings must be pinned
 * in the new table (or the queue breaks), never served from a removed
 * region's mapping.  QEMU keeps rings out of what it removes; a hostile
 * front-end need not.  An added region cannot move a ring. */
static int rings_follow(struct vub_dev *d, int ret)
{
	if (ret == 0)
		vub_dev_unmap_rings(d);
	return ret;
}

static int mem_table(struct vu_msg *m, struct vub_dev *d)
{
	const struct vu_mem_table *t = &m->payload.table;

	if (t->nregions > VU_MAX_MEM_SLOTS ||
	    shape(m, 8 + (uint32_t)sizeof(t->regions[0]) * t->nregions,
		  t->nregions) < 0)
		return -EINVAL;
	return rings_follow(d, vub_memory_set_table(d->memory, t->regions,
						    m->fds, t->nregions));
}

static int mem_region(struct vu_msg *m, struct vub_dev *d)
{
	const struct vu_mem_region *r = &m->payload.single.region;

	if (m->hdr.request == VU_ADD_MEM_REG)
		return shape(m, sizeof(m->payload.single), 1) < 0 ? -EINVAL :
		       vub_memory_add(d->memory, r, m->fds[0]);
	/* REM_MEM_REG: QEMU 7.2 sends no fd; older front-ends send one. */
	if (m->hdr.size != sizeof(m->payload.single) || m->nfds > 1)
		return -EINVAL;
	return rings_follow(d, vub_memory_remove(d->memory, r));
}

static int iotlb(struct vu_msg *m, struct vub_dev *d)
{
	int ret;

	if (m->nfds || m->hdr.size < offsetof(struct vu_iotlb, padding) ||
	    m->hdr.size > sizeof(m->payload.iotlb))
		return -EINVAL;
	ret = vub_memory_iotlb(d->memory, &m->payload.iotlb);
	if (ret == 0 && m->payload.iotlb.type == VHOST_IOTLB_UPDATE) {
		d->miss_pending = false;
		vub_dev_process_all(d);
	}
	return ret;
}

static int dispatch(struct vu_msg *m, struct vub_dev *d, struct answer *ans)
{
	uint64_t v = m->payload.u64;

	switch (m->hdr.request) {
	case VU_GET_FEATURES:
		return shape(m, 0, 0) ?: answer_u64(ans, VUB_FEATURES);
	case VU_SET_FEATURES:
		if (shape(m, 8, 0) < 0 || v & ~VUB_FEATURES)
			return -EINVAL;
		vub_dev_set_features(d, v);
		return 0;
	case VU_GET_PROTOCOL_FEATURES:
		return shape(m, 0, 0) ?: answer_u64(ans, VUB_PROTOCOL_FEATURES);
	case VU_SET_PROTOCOL_FEATURES:
		if (shape(m, 8, 0) < 0 || v & ~VUB_PROTOCOL_FEATURES)
			return -EINVAL;
		d->protocol_features = v;
		return 0;
	case VU_GET_QUEUE_NUM:
		return shape(m, 0, 0) ?: answer_u64(ans, VU_MAX_QUEUES);
	case VU_GET_MAX_MEM_SLOTS:
		return shape(m, 0, 0) ?: answer_u64(ans, VMMEM_VHOST_MAX_REGIONS);
	case VU_SET_OWNER:
	case VU_RESET_OWNER:
		return shape(m, 0, 0);
	case VU_SET_MEM_TABLE:
		return mem_table(m, d);
	case VU_ADD_MEM_REG:
	case VU_REM_MEM_REG:
		return mem_region(m, d);
	case VU_SET_LOG_BASE:
		if (shape(m, sizeof(m->payload.log), 1) < 0)
			return -EINVAL;
		/* The front-end waits for this reply: it has a payload. */
		ans->size = sizeof(ans->reply.u64);
		return vub_memory_set_log(d->memory, m->fds[0], &m->payload.log);
	case VU_SET_LOG_FD:
		return shape(m, 0, 1);     /* legacy, unused with LOG_SHMFD */
	case VU_SET_VRING_NUM:
	case VU_SET_VRING_BASE:
	case VU_GET_VRING_BASE:
	case VU_SET_VRING_ENABLE:
		return vring_state(m, d, ans);
	case VU_SET_VRING_ADDR:
		return shape(m, sizeof(m->payload.addr), 0) ?:
		       set_vring_addr(d, &m->payload.addr);
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR:
		return kick_call_err(m, d);
	case VU_SET_BACKEND_REQ_FD:
		if (shape(m, 0, 1) < 0)
			return -EINVAL;
		replace_fd(&d->backend_fd, take_fd(m, 0));
		return 0;
	case VU_IOTLB_MSG:
		return iotlb(m, d);
	case VU_GET_CONFIG:
	case VU_SET_CONFIG:
		return config(m, d, ans);
	default:
		return -ENOSYS;
	}
}

static bool has_own_reply(uint32_t request)
{
	switch (request) {
	case VU_GET_FEATURES:
	case VU_GET_PROTOCOL_FEATURES:
	case VU_GET_QUEUE_NUM:
	case VU_GET_MAX_MEM_SLOTS:
	case VU_GET_VRING_BASE:
	case VU_GET_CONFIG:
	case VU_SET_LOG_BASE:
		return true;
	default:
		return false;
	}
}

int vub_protocol_serve(struct vub_dev *d)
{
	static struct vu_msg m;
	static struct answer ans;
	bool ack;
	int ret = vu_recv(d->sock, &m);

	if (ret <= 0)
		return ret;
	ans.size = 0;
	ret = dispatch(&m, d, &ans);
	vu_close_fds(&m);
	ack = m.hdr.flags & VU_FLAG_NEED_REPLY &&
	      has_protocol(d, VU_PROTOCOL_F_REPLY_ACK);
	if (has_own_reply(m.hdr.request)) {
		/* A refused request that expects a payload cannot be
		 * answered in band (SET_LOG_BASE can: its reply is a status). */
		if (ret < 0 && m.hdr.request != VU_SET_LOG_BASE)
			return ret;
		if (m.hdr.request == VU_SET_LOG_BASE)
			ans.reply.u64 = ret < 0 ? 1 : 0;
		return vu_send(d->sock, m.hdr.request, VU_FLAG_REPLY, &ans.reply,
			       ans.size) ?: 1;
	}
	if (ack) {
		uint64_t status = ret < 0 ? (uint64_t)-ret : 0;

		return vu_send(d->sock, m.hdr.request, VU_FLAG_REPLY, &status,
			       sizeof(status)) ?: 1;
	}
	/* Refused, and no way to say so: the front-end would go on with a
	 * device that did not do what it asked; close the connection. */
	return ret < 0 ? ret : 1;
}
