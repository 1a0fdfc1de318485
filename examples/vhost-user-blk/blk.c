/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include <endian.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk.h"

#define SECTOR 512u
#define VIRTIO_BLK_T_IN     0
#define VIRTIO_BLK_T_OUT    1
#define VIRTIO_BLK_T_FLUSH  4
#define VIRTIO_BLK_T_GET_ID 8
#define HEADER_SIZE 16u
#define SEG_MAX (VQ_MAX_SEGS - 2)  /* buffers besides header and status */

int vub_blk_open(struct vub_blk *b, const char *path)
{
	struct stat st;

	memset(b, 0, sizeof(*b));
	b->fd = open(path, O_RDWR | O_CLOEXEC);
	if (b->fd < 0)
		return -errno;
	if (fstat(b->fd, &st) < 0 || st.st_size < (off_t)SECTOR) {
		close(b->fd);
		return -EINVAL;
	}
	b->sectors = (uint64_t)st.st_size / SECTOR;
	snprintf(b->serial, sizeof(b->serial), "vmmem-%llx",
		 (unsigned long long)st.st_ino);
	return 0;
}

void vub_blk_close(struct vub_blk *b)
{
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
}

static void put_le(uint8_t *p, uint64_t v, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

size_t vub_blk_config(const struct vub_blk *b, uint8_t *buf, size_t size)
{
	/* struct virtio_blk_config up to num_queues: capacity at 0, seg_max
	 * at 12, blk_size at 20, num_queues at 34. */
	uint8_t cfg[36] = { 0 };

	put_le(cfg + 0, b->sectors, 8);
	put_le(cfg + 12, SEG_MAX, 4);
	put_le(cfg + 20, SECTOR, 4);
	put_le(cfg + 34, 1, 2);
	memset(buf, 0, size);
	memcpy(buf, cfg, size < sizeof(cfg) ? size : sizeof(cfg));
	return size;
}

struct span {
	uint64_t addr, len;
};

/* The bytes of the request's buffers in one direction, without the first
 * head and the last tail bytes, as pieces of guest memory. */
static unsigned int spans(const struct vq_req *req, bool write, uint64_t head,
			  uint64_t tail, struct span *out, uint64_t *total)
{
	uint64_t all = 0, pos = 0, end;
	unsigned int n = 0;

	for (unsigned int i = 0; i < req->nseg; i++)
		if (req->seg[i].write == write)
			all += req->seg[i].len;
	*total = 0;
	if (all < head + tail)
		return 0;
	end = all - tail;
	for (unsigned int i = 0; i < req->nseg; i++) {
		const struct vq_seg *s = &req->seg[i];
		uint64_t from, to;

		if (s->write != write)
			continue;
		from = pos > head ? pos : head;
		to = pos + s->len < end ? pos + s->len : end;
		if (from < to) {
			out[n++] = (struct span){ s->addr + (from - pos), to - from };
			*total += to - from;
		}
		pos += s->len;
	}
	return n;
}

static int gather(const struct vub_access *a, const struct span *sp,
		  unsigned int n, void *buf, uint64_t len)
{
	uint8_t *p = buf;

	for (unsigned int i = 0; i < n && len; i++) {
		uint64_t chunk = sp[i].len < len ? sp[i].len : len;
		int ret = vub_read(a, sp[i].addr, p, (size_t)chunk);

		if (ret < 0)
			return ret;
		p += chunk;
		len -= chunk;
	}
	return len ? -EINVAL : 0;
}

/* Moves the data of an IN (file to guest) or OUT (guest to file) request. */
static int move_data(struct vub_blk *b, const struct vub_access *a,
		     const struct span *sp, unsigned int n, uint64_t total,
		     uint64_t sector, bool to_guest)
{
	off_t off;

	if (total % SECTOR || sector > b->sectors ||
	    total / SECTOR > b->sectors - sector)
		return -EINVAL;
	off = (off_t)(sector * SECTOR);
	for (unsigned int i = 0; i < n; i++) {
		int ret;

		if (sp[i].len > SIZE_MAX)
			return -EINVAL;
		b->above_4g += sp[i].addr >> 32 != 0;
		ret = to_guest ?
			vub_from_file(a, sp[i].addr, b->fd, (size_t)sp[i].len, off) :
			vub_to_file(a, sp[i].addr, b->fd, (size_t)sp[i].len, off);
		if (ret < 0)
			return ret;
		off += (off_t)sp[i].len;
	}
	return 0;
}

static int execute(struct vub_blk *b, const struct vub_access *a,
		   const struct vq_req *req, uint32_t type, uint64_t sector,
		   uint64_t *data_in)
{
	struct span sp[VQ_MAX_SEGS];
	uint64_t total;
	unsigned int n;

	*data_in = 0;
	switch (type) {
	case VIRTIO_BLK_T_IN:
		n = spans(req, true, 0, 1, sp, &total);
		*data_in = total;
		return move_data(b, a, sp, n, total, sector, true);
	case VIRTIO_BLK_T_OUT:
		n = spans(req, false, HEADER_SIZE, 0, sp, &total);
		return move_data(b, a, sp, n, total, sector, false);
	case VIRTIO_BLK_T_FLUSH:
		return fdatasync(b->fd) < 0 ? -EIO : 0;
	case VIRTIO_BLK_T_GET_ID:
		n = spans(req, true, 0, 1, sp, &total);
		if (!n)
			return -EINVAL;
		*data_in = sp[0].len < sizeof(b->serial) ? sp[0].len :
							   sizeof(b->serial);
		return vub_write(a, sp[0].addr, b->serial, (size_t)*data_in);
	default:
		return -ENOTSUP;
	}
}

int vub_blk_serve(struct vub_blk *b, const struct vub_access *a,
		  const struct vq_req *req, uint32_t *written)
{
	struct span sp[VQ_MAX_SEGS], status;
	uint8_t header[HEADER_SIZE], code = VIRTIO_BLK_S_OK;
	uint64_t total, data_in = 0;
	unsigned int n;
	int ret;

	/* The status byte is the last byte of the chain's last buffer. */
	if (!req->last.write || req->last.addr + req->last.len < req->last.addr)
		return -EPROTO;
	status = (struct span){ req->last.addr + req->last.len - 1, 1 };

	n = spans(req, false, 0, 0, sp, &total);
	ret = req->bad ? -EINVAL : gather(a, sp, n, header, sizeof(header));
	if (ret == 0) {
		uint32_t type;
		uint64_t sector;

		memcpy(&type, header, sizeof(type));
		memcpy(&sector, header + 8, sizeof(sector));
		ret = execute(b, a, req, le32toh(type), le64toh(sector),
			      &data_in);
	}
	if (ret == -EAGAIN)
		return ret;
	if (ret == -ENOTSUP)
		code = VIRTIO_BLK_S_UNSUPP;
	else if (ret < 0)
		code = VIRTIO_BLK_S_IOERR;
	b->requests++;
	b->errors += code != VIRTIO_BLK_S_OK;
	ret = vub_write(a, status.addr, &code, 1);
	if (ret < 0)
		return ret == -EAGAIN ? ret : -EPROTO;
	if (code != VIRTIO_BLK_S_OK)
		data_in = 0;
	*written = data_in < UINT32_MAX ? (uint32_t)data_in + 1 : UINT32_MAX;
	return 0;
}
