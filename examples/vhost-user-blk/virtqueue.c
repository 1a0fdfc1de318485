/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include <endian.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "virtqueue.h"

#define VRING_DESC_F_NEXT      1
#define VRING_DESC_F_WRITE     2
#define VRING_DESC_F_INDIRECT  4
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define DESC_SIZE 16u
/* Ring sizes (2.7) with the EVENT_IDX fields: flags, idx, the entries,
 * then used_event (avail) or avail_event (used). */
#define AVAIL_SIZE(n) (6 + 2 * (uint64_t)(n))
#define USED_SIZE(n) (6 + 8 * (uint64_t)(n))

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

void vq_init(struct vq *q)
{
	memset(q, 0, sizeof(*q));
	q->kick_fd = q->call_fd = q->err_fd = -1;
}

int vq_set_addr(struct vq *q, uint64_t desc, uint64_t avail, uint64_t used)
{
	uint64_t n = q->num;

	/* Sizes (2.7): descriptors 16 n, avail 6 + 2 n, used 6 + 8 n; the
	 * alignments make every index and element access naturally aligned. */
	if (!n || desc % 16 || avail % 2 || used % 4 ||
	    desc + DESC_SIZE * n < desc || avail + AVAIL_SIZE(n) < avail ||
	    used + USED_SIZE(n) < used)
		return -EINVAL;
	vq_unmap(q);
	q->desc = desc;
	q->avail = avail;
	q->used = used;
	q->addressed = true;
	return 0;
}

bool vq_ready(const struct vq *q)
{
	return q->num && q->addressed && q->enabled && q->started && !q->broken;
}

void vq_unmap(struct vq *q)
{
	vub_ring_close(&q->desc_ring);
	vub_ring_close(&q->avail_ring);
	vub_ring_close(&q->used_ring);
}

static void count_open(struct vq *q, const struct vub_ring *r)
{
	if (r->pinned)
		q->rings_pinned++;
	else
		q->rings_per_call++;
}

/* Opens the rings unless they are: 0, or -EAGAIN for an IOTLB miss
 * (sent; the update brings the queue back).  A ring the device cannot
 * reach fails at its first access. */
static int map_rings(struct vq *q, const struct vub_access *a)
{
	int ret;

	if (vub_ring_usable(&q->desc_ring) && vub_ring_usable(&q->avail_ring) &&
	    vub_ring_usable(&q->used_ring))
		return 0;
	vq_unmap(q);
	ret = vub_ring_open(&q->desc_ring, a, q->desc,
			    DESC_SIZE * (size_t)q->num, VMMEM_MAP_READ);
	if (ret == 0)
		ret = vub_ring_open(&q->avail_ring, a, q->avail,
				    AVAIL_SIZE(q->num), VMMEM_MAP_READ);
	if (ret == 0)
		ret = vub_ring_open(&q->used_ring, a, q->used,
				    USED_SIZE(q->num),
				    VMMEM_MAP_READ | VMMEM_MAP_WRITE);
	if (ret < 0) {
		vq_unmap(q);
		return ret;
	}
	count_open(q, &q->desc_ring);
	count_open(q, &q->avail_ring);
	count_open(q, &q->used_ring);
	return 0;
}

static int broken(struct vq *q)
{
	q->broken = true;
	return -EPROTO;
}

/* An access error on the ring itself: a miss is retried, anything else
 * means the driver put the ring or a table where the device cannot go. */
static int ring_error(struct vq *q, int err)
{
	return err == -EAGAIN ? err : broken(q);
}

/* Entry i of a descriptor table: the queue's, or an indirect one. */
static int read_desc(const struct vub_access *a, const struct vub_ring *table,
		     uint16_t i, struct vring_desc *d)
{
	unsigned char raw[DESC_SIZE];
	int ret = vub_ring_read(table, a, (size_t)i * DESC_SIZE, raw,
				sizeof(raw));

	if (ret < 0)
		return ret;
	memcpy(d, raw, sizeof(*d));
	d->addr = le64toh(d->addr);
	d->len = le32toh(d->len);
	d->flags = le16toh(d->flags);
	d->next = le16toh(d->next);
	return 0;
}

static void add_seg(struct vq_req *req, const struct vring_desc *d)
{
	bool write = d->flags & VRING_DESC_F_WRITE;

	if (!d->len)
		return;
	req->last = (struct vq_seg){ d->addr, d->len, write };
	/* 2.7.4.2: device-readable buffers come before writable ones. */
	if (d->addr + d->len < d->addr || req->nseg == VQ_MAX_SEGS ||
	    (!write && req->nseg && req->seg[req->nseg - 1].write)) {
		req->bad = true;
		return;
	}
	req->seg[req->nseg++] = (struct vq_seg){ d->addr, d->len, write };
}

/* Walks the chain at head.  Every step counts against the size of the
 * table it is in, so a loop ends when the count exceeds it. */
static int walk(struct vq *q, const struct vub_access *a, uint16_t head,
		struct vq_req *req)
{
	struct vub_ring indirect;
	const struct vub_ring *table = &q->desc_ring;
	uint32_t size = q->num, steps = 0;
	uint16_t i = head;

	req->head = head;
	req->bad = false;
	req->nseg = 0;
	req->last = (struct vq_seg){ 0, 0, false };
	for (;;) {
		struct vring_desc d;
		int ret;

		if (i >= size || ++steps > size)
			return broken(q);
		ret = read_desc(a, table, i, &d);
		if (ret < 0)
			return ring_error(q, ret);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (table == &indirect || !q->indirect ||
			    d.flags & VRING_DESC_F_NEXT || !d.len ||
			    d.len % DESC_SIZE ||
			    d.len / DESC_SIZE > VQ_MAX_INDIRECT ||
			    d.addr + d.len < d.addr)
				return broken(q);
			indirect = vub_ring_per_call(d.addr, d.len);
			table = &indirect;
			size = d.len / DESC_SIZE;
			steps = 0;
			i = 0;
			continue;
		}
		add_seg(req, &d);
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		i = d.next;
	}
}

/* Ring indices: the driver publishes them with release stores. */
static int load_avail(const struct vq *q, const struct vub_access *a,
		      uint32_t off, uint16_t *val)
{
	return vub_ring_load16(&q->avail_ring, a, off, val, VMMEM_ORDER_ACQUIRE);
}

int vq_pop(struct vq *q, const struct vub_access *a, struct vq_req *req)
{
	uint16_t avail_idx = 0, head = 0;  /* gcc cannot follow the errors */
	int ret;

	if (!vq_ready(q))
		return 0;
	ret = map_rings(q, a);
	if (ret == 0)
		ret = load_avail(q, a, 2, &avail_idx);
	if (ret < 0)
		return ring_error(q, ret);
	if ((uint16_t)(avail_idx - q->last_avail) > q->num)
		return broken(q);
	if (avail_idx == q->last_avail)
		return 0;
	ret = load_avail(q, a, 4 + 2u * (q->last_avail % q->num), &head);
	if (ret < 0)
		return ring_error(q, ret);
	if (head >= q->num)
		return broken(q);
	ret = walk(q, a, head, req);
	if (ret < 0)
		return ret;
	q->last_avail++;
	return 1;
}

int vq_push(struct vq *q, const struct vub_access *a, uint16_t head,
	    uint32_t written)
{
	uint32_t elem[2] = { htole32(head), htole32(written) };
	int ret = map_rings(q, a);

	if (ret == 0)
		ret = vub_ring_write(&q->used_ring, a,
				     4 + 8u * (q->used_idx % q->num), elem,
				     sizeof(elem));
	if (ret == 0)
		ret = vub_ring_store16(&q->used_ring, a, 2,
				       (uint16_t)(q->used_idx + 1),
				       VMMEM_ORDER_RELEASE);
	if (ret < 0)
		return ring_error(q, ret);
	q->used_idx++;
	return 0;
}

bool vq_rearm(struct vq *q, const struct vub_access *a)
{
	uint16_t avail_idx;

	if (!q->event_idx || !vq_ready(q) || map_rings(q, a) < 0 ||
	    vub_ring_store16(&q->used_ring, a, 4 + 8u * q->num, q->last_avail,
			     VMMEM_ORDER_RELEASE) < 0)
		return false;
	/* The driver reads avail_event after publishing avail->idx: order
	 * our store before our re-read, or a kick could be lost. */
	atomic_thread_fence(memory_order_seq_cst);
	return load_avail(q, a, 2, &avail_idx) == 0 &&
	       avail_idx != q->last_avail;
}

void vq_notify(struct vq *q, const struct vub_access *a, uint16_t old_used)
{
	uint16_t v, now = q->used_idx;
	bool fire;

	if (now == old_used || q->call_fd < 0)
		return;
	atomic_thread_fence(memory_order_seq_cst);
	if (q->event_idx) {
		if (map_rings(q, a) < 0 || load_avail(q, a, 4 + 2u * q->num, &v) < 0)
			return;
		/* vring_need_event() of the spec (2.7.10). */
		fire = (uint16_t)(now - v - 1) < (uint16_t)(now - old_used);
	} else {
		fire = map_rings(q, a) < 0 || load_avail(q, a, 0, &v) < 0 ||
		       !(v & VRING_AVAIL_F_NO_INTERRUPT);
	}
	if (fire) {
		/* The front-end chose the fd: never block on it (a full pipe
		 * would stop the device). */
		struct pollfd p = { .fd = q->call_fd, .events = POLLOUT };
		uint64_t one = 1;

		if (poll(&p, 1, 0) == 1 && p.revents & POLLOUT &&
		    write(q->call_fd, &one, sizeof(one)) < 0) {
			/* eventfd at its maximum: an interrupt is pending */
		}
	}
}
