/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * vhost-iotlb: both sides of the vhost-user IOTLB protocol in one process.
 *
 * The front-end (the VMM) owns guest memory, two regions in memfds, and the
 * guest's IOMMU page table.  The back-end (the device) maps the same memfds,
 * as it would after VHOST_USER_SET_MEM_TABLE, and reaches guest memory only
 * by I/O virtual address, through a struct vmmem_iommu:
 *
 *   1. the device reads a virtio descriptor by IOVA: the IOTLB is empty, the
 *      access misses, the miss handler queues a VHOST_IOTLB_MISS;
 *   2. the front-end answers with a VHOST_IOTLB_UPDATE, the back-end calls
 *      vmmem_iommu_update(), and the retried access succeeds;
 *   3. the device reads the request, and writes its reply through the IOMMU
 *      (and is refused when it tries to write a device-readable buffer);
 *   4. the guest unmaps the reply buffer: the front-end sends a
 *      VHOST_IOTLB_INVALIDATE, the back-end calls vmmem_iommu_invalidate(),
 *      and the next access misses again.
 *
 * Messages travel through function calls here; a real pair uses the
 * vhost-user socket one way and the back-end request channel the other.
 * Exits 0 only if every step behaves as described.
 *
 *   cc vhost-iotlb.c $(pkg-config --cflags --libs libvmmem)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <libvmmem.h>

#define REGION_SIZE (64 * 1024)
#define LOW_GPA     0x0ull          /* region 0: descriptor table */
#define HIGH_GPA    0x100000ull     /* region 1: data buffers */
#define PAGE        0x1000ull

/* struct vhost_iotlb_msg of <linux/vhost_types.h>, which vhost-user reuses. */
#define VHOST_IOTLB_MISS        1
#define VHOST_IOTLB_UPDATE      2
#define VHOST_IOTLB_INVALIDATE  3
#define VHOST_ACCESS_RO         0x1
#define VHOST_ACCESS_WO         0x2
#define VHOST_ACCESS_RW         0x3

struct iotlb_msg {
	uint64_t iova;
	uint64_t size;
	uint64_t uaddr;   /* front-end virtual address of the backing */
	uint8_t perm;
	uint8_t type;
};

/* A split-ring descriptor (virtio 1.x, little endian). */
#define VIRTQ_DESC_F_NEXT   1
#define VIRTQ_DESC_F_WRITE  2
struct virtq_desc {
	uint64_t addr;    /* an IOVA, with VIRTIO_F_IOMMU_PLATFORM */
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* --------------------------------------------------------- front-end */

struct viommu_map {             /* what the guest programmed its IOMMU with */
	uint64_t iova, gpa, size;
	uint8_t perm;
	bool mapped;
};

struct frontend {
	struct vmmem *mem;
	struct vmmem_region *region[2];
	struct viommu_map map[3];
	struct iotlb_msg pending[8];  /* misses the back-end sent */
	int npending;
};

/* --------------------------------------------------------- back-end */

struct mem_table_entry {        /* one region of VHOST_USER_SET_MEM_TABLE */
	uint64_t gpa, size, uaddr;
};

struct backend {
	struct vmmem *mem;            /* its own mappings of the memfds */
	struct vmmem_iommu *iommu;
	struct mem_table_entry table[2];
	struct frontend *peer;        /* where its messages go */
	int misses;
};

static const char *type_name(uint8_t type)
{
	return type == VHOST_IOTLB_MISS ? "VHOST_IOTLB_MISS" :
	       type == VHOST_IOTLB_UPDATE ? "VHOST_IOTLB_UPDATE" :
	       type == VHOST_IOTLB_INVALIDATE ? "VHOST_IOTLB_INVALIDATE" : "?";
}

static const char *perm_name(uint8_t perm)
{
	return perm == VHOST_ACCESS_RO ? "RO" : perm == VHOST_ACCESS_WO ? "WO" :
	       perm == VHOST_ACCESS_RW ? "RW" : "none";
}

static void print_msg(const char *dir, const struct iotlb_msg *m)
{
	printf("    %s %s iova=0x%" PRIx64, dir, type_name(m->type), m->iova);
	if (m->type != VHOST_IOTLB_MISS)
		printf(" size=0x%" PRIx64, m->size);
	if (m->type == VHOST_IOTLB_UPDATE)
		printf(" uaddr=0x%" PRIx64, m->uaddr);
	if (m->type != VHOST_IOTLB_INVALIDATE)
		printf(" perm=%s", perm_name(m->perm));
	printf("\n");
}

/* The back-end's miss handler: it only sends the message.  The access
 * returns -EAGAIN; the device retries once the update has arrived. */
static void on_iotlb_miss(uint64_t iova, uint64_t len, unsigned int perm,
			  void *opaque)
{
	struct backend *be = opaque;
	struct frontend *fe = be->peer;
	struct iotlb_msg m = {
		.type = VHOST_IOTLB_MISS, .iova = iova,
		.perm = (uint8_t)((perm & VMMEM_PERM_READ ? VHOST_ACCESS_RO : 0) |
				  (perm & VMMEM_PERM_WRITE ? VHOST_ACCESS_WO : 0)),
	};

	(void)len;
	be->misses++;
	print_msg("back-end  -> front-end:", &m);
	if (fe->npending < (int)(sizeof(fe->pending) / sizeof(fe->pending[0])))
		fe->pending[fe->npending++] = m;
}

/* The back-end handling a message from the front-end.  An update names the
 * backing by front-end virtual address; the memory table turns it into the
 * guest physical address the back-end's struct vmmem is keyed by. */
static int backend_handle(struct backend *be, const struct iotlb_msg *m)
{
	unsigned int perm = (m->perm & VHOST_ACCESS_RO ? VMMEM_PERM_READ : 0) |
			    (m->perm & VHOST_ACCESS_WO ? VMMEM_PERM_WRITE : 0);

	print_msg("front-end -> back-end: ", m);
	if (m->type == VHOST_IOTLB_INVALIDATE)
		return vmmem_iommu_invalidate(be->iommu, m->iova, m->size);
	if (m->type != VHOST_IOTLB_UPDATE)
		return -EINVAL;
	for (int i = 0; i < 2; i++) {
		const struct mem_table_entry *t = &be->table[i];

		if (m->uaddr >= t->uaddr && m->uaddr - t->uaddr < t->size &&
		    m->size <= t->size - (m->uaddr - t->uaddr))
			return vmmem_iommu_update(be->iommu, m->iova, m->size,
						  t->gpa + (m->uaddr - t->uaddr),
						  perm);
	}
	return -EFAULT;
}

/* The front-end answering the misses: an update for each IOVA the guest
 * has mapped; nothing for the others (a real VMM reports a fault). */
static int frontend_serve(struct frontend *fe, struct backend *be)
{
	int answered = 0;

	for (int p = 0; p < fe->npending; p++) {
		const struct iotlb_msg *miss = &fe->pending[p];
		const struct viommu_map *v = NULL;

		for (int i = 0; i < 3; i++)
			if (fe->map[i].mapped && miss->iova >= fe->map[i].iova &&
			    miss->iova - fe->map[i].iova < fe->map[i].size)
				v = &fe->map[i];
		if (!v || (v->perm & miss->perm) != miss->perm) {
			printf("    front-end: IOVA 0x%" PRIx64 " is not mapped %s by the"
			       " guest: no update\n", miss->iova, perm_name(miss->perm));
			continue;
		}
		{
			struct vmmem_region *r = NULL;
			uint64_t off = 0;
			void *host = NULL;
			struct iotlb_msg up = { .type = VHOST_IOTLB_UPDATE,
						.iova = v->iova, .size = v->size,
						.perm = v->perm };

			if (vmmem_find_region(fe->mem, v->gpa, &r, &off) ||
			    vmmem_region_host_address(r, &host)) {
				vmmem_region_unref(r);
				continue;
			}
			vmmem_region_unref(r);
			up.uaddr = (uint64_t)(uintptr_t)host + off;
			if (backend_handle(be, &up) == 0)
				answered++;
		}
	}
	fe->npending = 0;
	return answered;
}

static const char *result(int ret)
{
	return ret == 0 ? "ok" : ret == -EAGAIN ? "-EAGAIN (IOTLB miss)" :
	       ret == -EACCES ? "-EACCES (not permitted)" : strerror(-ret);
}

/* A device access: on a miss, let the front-end answer, then retry. */
static int device_access(struct backend *be, bool write, uint64_t iova,
			 void *buf, size_t len, int *tries)
{
	int ret;

	for (*tries = 1;; ++*tries) {
		ret = write ? vmmem_iommu_write_exact(be->iommu, iova, buf, len)
			    : vmmem_iommu_read_exact(be->iommu, iova, buf, len);
		printf("  device: %s %zu bytes at IOVA 0x%" PRIx64 ": %s\n",
		       write ? "write" : "read", len, iova, result(ret));
		if (ret != -EAGAIN || *tries == 3 || !frontend_serve(be->peer, be))
			return ret;
	}
}

static uint64_t le(const unsigned char *b, unsigned n)
{
	uint64_t v = 0;

	while (n--)
		v = (v << 8) | b[n];
	return v;
}

static void put_le(unsigned char *b, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++, v >>= 8)
		b[i] = (unsigned char)v;
}

/* A descriptor as the guest writes it: 16 little-endian bytes. */
static void encode_desc(unsigned char *b, const struct virtq_desc *d)
{
	put_le(b, d->addr, 8);
	put_le(b + 8, d->len, 4);
	put_le(b + 12, d->flags, 2);
	put_le(b + 14, d->next, 2);
}

static void decode_desc(struct virtq_desc *d, const unsigned char *b)
{
	d->addr = le(b, 8);
	d->len = (uint32_t)le(b + 8, 4);
	d->flags = (uint16_t)le(b + 12, 2);
	d->next = (uint16_t)le(b + 14, 2);
}

#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "vhost-iotlb: " __VA_ARGS__);         \
			fprintf(stderr, "\n");                                \
			goto out;                                             \
		}                                                             \
	} while (0)

int main(void)
{
	/* The guest's layout: a descriptor table in region 0, a request and a
	 * reply page in region 1, each behind its own IOVA. */
	const uint64_t desc_iova = 0x40000000, req_iova = 0x40001000,
		       reply_iova = 0x40002000;
	const uint64_t desc_gpa = LOW_GPA + 0x2000, req_gpa = HIGH_GPA + 0x3000,
		       reply_gpa = HIGH_GPA + 0x7000;
	struct vmmem_region_opts memfd = {
		.sz = sizeof(memfd), .flags = VMMEM_REGION_SHAREABLE,
	};
	struct frontend fe = {
		.map = {
			{ desc_iova, desc_gpa, PAGE, VHOST_ACCESS_RO, true },
			{ req_iova, req_gpa, PAGE, VHOST_ACCESS_RO, true },
			{ reply_iova, reply_gpa, PAGE, VHOST_ACCESS_WO, true },
		},
	};
	struct backend be = { .peer = &fe };
	struct vmmem_iommu_opts iopts = {
		.sz = sizeof(iopts), .miss = on_iotlb_miss, .miss_opaque = &be,
	};
	const char request[] = "ping";
	char reply[] = "pong";
	unsigned char ring[32];
	struct virtq_desc d[2];
	char got[32] = { 0 };
	struct iotlb_msg inval = { .type = VHOST_IOTLB_INVALIDATE,
				   .iova = reply_iova, .size = PAGE };
	int ret, tries, status = 1;

	/* ---- front-end: guest memory, two regions in memfds */
	ret = vmmem_new(&fe.mem, 0);
	for (int i = 0; i < 2 && !ret; i++) {
		ret = vmmem_region_new(&fe.region[i], REGION_SIZE, &memfd);
		if (!ret)
			ret = vmmem_add_region(fe.mem, i ? HIGH_GPA : LOW_GPA,
					       fe.region[i]);
	}
	CHECK(!ret, "front-end guest memory: %s", strerror(-ret));

	/* ---- back-end: SET_MEM_TABLE, its own mappings of the same fds */
	{
		struct vmmem_range ranges[2];

		for (int i = 0; i < 2; i++) {
			uint64_t offset = 0;
			void *host = NULL;

			ranges[i].gpa = i ? HIGH_GPA : LOW_GPA;
			ranges[i].size = REGION_SIZE;
			ranges[i].fd = vmmem_region_fd(fe.region[i], &offset);
			ranges[i].offset = offset;
			vmmem_region_host_address(fe.region[i], &host);
			be.table[i] = (struct mem_table_entry){
				.gpa = ranges[i].gpa, .size = REGION_SIZE,
				.uaddr = (uint64_t)(uintptr_t)host,
			};
			CHECK(ranges[i].fd >= 0, "region %d has no fd", i);
			printf("SET_MEM_TABLE region %d: GPA 0x%06" PRIx64
			       " size 0x%x uaddr 0x%" PRIx64 " fd %d\n", i,
			       ranges[i].gpa, REGION_SIZE, be.table[i].uaddr,
			       ranges[i].fd);
		}
		ret = vmmem_new_from_ranges(&be.mem, ranges, 2, NULL);
		CHECK(!ret, "back-end guest memory: %s", strerror(-ret));
	}
	ret = vmmem_iommu_new(&be.iommu, be.mem, &iopts);
	CHECK(!ret, "vmmem_iommu_new: %s", strerror(-ret));

	/* ---- the guest posts a request: two chained descriptors */
	d[0] = (struct virtq_desc){ req_iova, sizeof(request), VIRTQ_DESC_F_NEXT, 1 };
	d[1] = (struct virtq_desc){ reply_iova, sizeof(got), VIRTQ_DESC_F_WRITE, 0 };
	encode_desc(ring, &d[0]);
	encode_desc(ring + 16, &d[1]);
	ret = vmmem_write_exact(fe.mem, desc_gpa, ring, sizeof(ring));
	if (!ret)
		ret = vmmem_write_exact(fe.mem, req_gpa, request, sizeof(request));
	CHECK(!ret, "guest writes: %s", strerror(-ret));
	printf("guest: descriptors at IOVA 0x%" PRIx64 ", request \"%s\" at IOVA 0x%"
	       PRIx64 ", reply buffer at IOVA 0x%" PRIx64 "\n\n", desc_iova,
	       request, req_iova, reply_iova);

	/* ---- 1, 2: the descriptor table, through a miss and an update */
	printf("1. the device reads the descriptor table\n");
	memset(ring, 0, sizeof(ring));
	ret = device_access(&be, false, desc_iova, ring, sizeof(ring), &tries);
	CHECK(ret == 0 && tries == 2 && be.misses == 1,
	      "descriptor read: %s after %d tries, %d misses", strerror(-ret),
	      tries, be.misses);
	decode_desc(&d[0], ring);
	decode_desc(&d[1], ring + 16);
	printf("  device: desc[0] addr 0x%" PRIx64 " len %u flags 0x%x; desc[1] addr"
	       " 0x%" PRIx64 " len %u flags 0x%x\n", d[0].addr, d[0].len,
	       d[0].flags, d[1].addr, d[1].len, d[1].flags);
	CHECK(d[0].addr == req_iova && d[1].addr == reply_iova &&
	      (d[1].flags & VIRTQ_DESC_F_WRITE), "unexpected descriptors");

	/* ---- 3: the request, then the reply */
	printf("\n2. the device reads the request\n");
	ret = device_access(&be, false, d[0].addr, got, d[0].len, &tries);
	CHECK(ret == 0 && tries == 2 && be.misses == 2 &&
	      memcmp(got, request, sizeof(request)) == 0,
	      "request read: %s after %d tries", strerror(-ret), tries);
	printf("  device: request is \"%s\"\n", got);

	printf("\n3. the device writes into the request buffer (device-readable)\n");
	ret = device_access(&be, true, d[0].addr, reply, sizeof(reply),
			    &tries);
	CHECK(ret == -EACCES && tries == 1 && be.misses == 2,
	      "write to a read-only IOVA: %s", strerror(-ret));

	printf("\n4. the device writes its reply\n");
	ret = device_access(&be, true, d[1].addr, reply, sizeof(reply),
			    &tries);
	CHECK(ret == 0 && tries == 2 && be.misses == 3,
	      "reply write: %s after %d tries", strerror(-ret), tries);
	memset(got, 0, sizeof(got));
	ret = vmmem_read_exact(fe.mem, reply_gpa, got, sizeof(reply));
	CHECK(ret == 0 && memcmp(got, reply, sizeof(reply)) == 0,
	      "the guest does not see the reply");
	printf("  guest: reads \"%s\" at GPA 0x%" PRIx64 "\n", got, reply_gpa);
	printf("  back-end IOTLB: %d entries\n", vmmem_iommu_num_entries(be.iommu));
	CHECK(vmmem_iommu_num_entries(be.iommu) == 3, "expected 3 IOTLB entries");

	/* ---- 4: the guest unmaps the reply page */
	printf("\n5. the guest unmaps the reply buffer\n");
	fe.map[2].mapped = false;
	ret = backend_handle(&be, &inval);
	CHECK(ret == 0, "invalidate: %s", strerror(-ret));
	printf("  back-end IOTLB: %d entries\n", vmmem_iommu_num_entries(be.iommu));
	CHECK(vmmem_iommu_num_entries(be.iommu) == 2, "expected 2 IOTLB entries");
	ret = device_access(&be, true, d[1].addr, reply, sizeof(reply),
			    &tries);
	CHECK(ret == -EAGAIN && be.misses == 4,
	      "access after invalidation: %s, %d misses", strerror(-ret), be.misses);
	/* what is still mapped still works, without a miss */
	ret = device_access(&be, false, desc_iova, ring, 16, &tries);
	CHECK(ret == 0 && tries == 1 && be.misses == 4,
	      "descriptor re-read: %s", strerror(-ret));

	printf("\nok\n");
	status = 0;
out:
	vmmem_iommu_free(be.iommu);
	vmmem_free(be.mem);
	for (int i = 0; i < 2; i++)
		vmmem_region_unref(fe.region[i]);
	vmmem_free(fe.mem);
	return status;
}
