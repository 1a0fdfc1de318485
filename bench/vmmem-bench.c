/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * vmmem-bench: libvmmem's access paths against an ideal in-binary baseline.
 *
 * Every measurement runs twice in this process on the same memory and the
 * same pseudo-random addresses: through libvmmem, and through "raw" code
 * that does the same work the ideal way (a flat sorted array of regions, a
 * branch-free binary search, one length check, a direct load, store or
 * memcpy, all inlined).  Each figure is the median of 5 repetitions of at
 * least 0.2 s, the repetitions taken round-robin over the whole run so that
 * drifts of the machine hit every measurement alike.
 *
 * Output: one line per figure, name<TAB>variant<TAB>value<TAB>unit, then
 * the ratios against the project's targets.  --check runs every workload
 * briefly and verifies the bytes it moved instead of timing (make check).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>

#include <libvmmem.h>

#define MIB (1ull << 20)
#define REGION_SIZE (2 * MIB)
#define REGION_STRIDE (4 * MIB)
#define NADDR 4096                       /* addresses per pass, L1/L2-sized */
#define REPS 5

static double min_seconds = 0.2;
static bool check_mode;
static const char *only;           /* --only: measure these names alone */

/* Whether name starts with one of the comma-separated prefixes of list. */
static bool named_in(const char *name, const char *list)
{
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");

		if (n && !strncmp(name, p, n))
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

/* ------------------------------------------------------------- the raw side */

struct raw_region {
	uint64_t gpa;
	uint64_t len;
	uint8_t *host;
};

struct raw_space {
	size_t n;
	struct raw_region *r;
};

static inline __attribute__((always_inline)) uint8_t *
raw_translate(const struct raw_space *s, uint64_t gpa, uint64_t size)
{
	const struct raw_region *base = s->r;
	size_t n = s->n;

	while (n > 1) {
		size_t half = n / 2;

		base = base[half].gpa <= gpa ? base + half : base;
		n -= half;
	}
	if (gpa - base->gpa > base->len - size)  /* also catches gpa < start */
		return NULL;
	return base->host + (gpa - base->gpa);
}

/* ------------------------------------------------------------- workloads */

struct space {
	struct vmmem *mem;
	struct raw_space raw;
	size_t nregions;
};

struct work {
	struct space *sp;
	uint64_t addr[NADDR];
	uint64_t salt;
	struct vmmem_iommu *iommu;
	uint64_t iova_base;
	int fd;                          /* /dev/shm file for the fd workload */
	int churn_readers;               /* iotlb_churn: busy IOVA readers */
	uint64_t *bitmap;                /* raw side's dirty bitmap */
	uint64_t bitmap_words;
	struct vq *vq;                   /* the ring workloads */
};

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static int die(const char *what, int err)
{
	fprintf(stderr, "vmmem-bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static struct space *space_new(size_t nregions, uint64_t stride)
{
	struct vmmem_region_opts o = { .sz = sizeof(o), .flags = VMMEM_REGION_POPULATE };
	struct space *sp = calloc(1, sizeof(*sp));
	int ret;

	sp->nregions = nregions;
	sp->raw.n = nregions;
	sp->raw.r = calloc(nregions, sizeof(*sp->raw.r));
	if ((ret = vmmem_new(&sp->mem, 0)))
		die("vmmem_new", ret);
	for (size_t i = 0; i < nregions; i++) {
		struct vmmem_region *r;
		void *host = NULL;

		if ((ret = vmmem_region_new(&r, REGION_SIZE, &o)) ||
		    (ret = vmmem_add_region(sp->mem, i * stride, r)) ||
		    (ret = vmmem_region_host_address(r, &host)))
			die("setting up regions", ret);
		vmmem_region_unref(r);
		sp->raw.r[i] = (struct raw_region){ i * stride, REGION_SIZE, host };
		memset(host, (int)i, REGION_SIZE);
	}
	return sp;
}

static void space_free(struct space *sp)
{
	vmmem_free(sp->mem);
	free(sp->raw.r);
	free(sp);
}

/* Random addresses in random regions, aligned to `align`, leaving room for
 * `size` bytes; the same array serves both sides. */
static void fill_addresses(struct work *w, uint64_t align, uint64_t size,
			   uint64_t seed)
{
	for (size_t i = 0; i < NADDR; i++) {
		uint64_t reg = xorshift64(&seed) % w->sp->nregions;
		uint64_t off = xorshift64(&seed) % (REGION_SIZE - size + 1);

		w->addr[i] = reg * REGION_STRIDE + off / align * align;
	}
}

typedef uint64_t (*work_fn)(struct work *w, uint64_t iters);

#define EACH_ADDR(w, iters, i, a)                                          \
	for (uint64_t i = 0, a; i < (iters) && ((a = (w)->addr[i % NADDR]), 1); i++)

static uint64_t lib_translate(struct work *w, uint64_t iters)
{
	uint64_t sum = 0;

	EACH_ADDR(w, iters, i, a) {
		void *p;

		if (vmmem_host_address(w->sp->mem, a, 8, &p))
			die("vmmem_host_address", EFAULT);
		sum += (uintptr_t)p;
	}
	return sum;
}

static uint64_t raw_translate_fn(struct work *w, uint64_t iters)
{
	uint64_t sum = 0;

	EACH_ADDR(w, iters, i, a) {
		uint8_t *p = raw_translate(&w->sp->raw, a, 8);

		if (!p)
			die("raw_translate", EFAULT);
		sum += (uintptr_t)p;
	}
	return sum;
}

static uint64_t lib_read64(struct work *w, uint64_t iters)
{
	uint64_t sum = 0;

	EACH_ADDR(w, iters, i, a) {
		uint64_t v;

		if (vmmem_read_exact(w->sp->mem, a, &v, 8))
			die("vmmem_read_exact", EFAULT);
		sum += v;
	}
	return sum;
}

static uint64_t raw_read64(struct work *w, uint64_t iters)
{
	uint64_t sum = 0;

	EACH_ADDR(w, iters, i, a) {
		uint8_t *p = raw_translate(&w->sp->raw, a, 8);
		uint64_t v;

		if (!p)
			die("raw read", EFAULT);
		memcpy(&v, p, 8);
		sum += v;
	}
	return sum;
}

static uint64_t lib_write64(struct work *w, uint64_t iters)
{
	EACH_ADDR(w, iters, i, a) {
		uint64_t v = a ^ w->salt;

		if (vmmem_write_exact(w->sp->mem, a, &v, 8))
			die("vmmem_write_exact", EFAULT);
	}
	return 0;
}

static uint64_t raw_write64(struct work *w, uint64_t iters)
{
	EACH_ADDR(w, iters, i, a) {
		uint8_t *p = raw_translate(&w->sp->raw, a, 8);
		uint64_t v = a ^ w->salt;

		if (!p)
			die("raw write", EFAULT);
		memcpy(p, &v, 8);
	}
	return 0;
}

/* The raw side of a dirty-logged write: check before set, as the library. */
static uint64_t raw_write64_dirty(struct work *w, uint64_t iters)
{
	EACH_ADDR(w, iters, i, a) {
		uint8_t *p = raw_translate(&w->sp->raw, a, 8);
		uint64_t v = a ^ w->salt, page = a >> 12;
		uint64_t *word = &w->bitmap[page / 64], bit = 1ull << (page % 64);

		if (!p)
			die("raw write", EFAULT);
		memcpy(p, &v, 8);
		if (!(__atomic_load_n(word, __ATOMIC_RELAXED) & bit))
			__atomic_fetch_or(word, bit, __ATOMIC_RELEASE);
	}
	return 0;
}

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static uint64_t lib_desc(struct work *w, uint64_t iters)
{
	uint64_t sum = 0;

	EACH_ADDR(w, iters, i, a) {
		struct desc d;

		if (vmmem_read_exact(w->sp->mem, a, &d, sizeof(d)))
			die("vmmem_read_exact", EFAULT);
		sum += d.addr + d.len + d.next;
	}
	return sum;
}

static uint64_t raw_desc(struct work *w, uint64_t iters)
{
	uint64_t sum = 0;

	EACH_ADDR(w, iters, i, a) {
		uint8_t *p = raw_translate(&w->sp->raw, a, sizeof(struct desc));
		struct desc d;

		if (!p)
			die("raw desc", EFAULT);
		memcpy(&d, p, sizeof(d));
		sum += d.addr + d.len + d.next;
	}
	return sum;
}

static uint64_t lib_store32(struct work *w, uint64_t iters)
{
	EACH_ADDR(w, iters, i, a)
		if (vmmem_store(w->sp->mem, a, 4, (uint32_t)(a ^ w->salt),
				VMMEM_ORDER_RELAXED))
			die("vmmem_store", EFAULT);
	return 0;
}

static uint64_t raw_store32(struct work *w, uint64_t iters)
{
	EACH_ADDR(w, iters, i, a) {
		uint8_t *p = raw_translate(&w->sp->raw, a, 4);

		if (!p)
			die("raw store", EFAULT);
		__atomic_store_n((uint32_t *)p, (uint32_t)(a ^ w->salt),
				 __ATOMIC_RELAXED);
	}
	return 0;
}

static uint64_t lib_load32(struct work *w, uint64_t iters)
{
	uint64_t sum = 0;

	EACH_ADDR(w, iters, i, a) {
		uint64_t v;

		if (vmmem_load(w->sp->mem, a, 4, &v, VMMEM_ORDER_ACQUIRE))
			die("vmmem_load", EFAULT);
		sum += v;
	}
	return sum;
}

static uint64_t raw_load32(struct work *w, uint64_t iters)
{
	uint64_t sum = 0;

	EACH_ADDR(w, iters, i, a) {
		uint8_t *p = raw_translate(&w->sp->raw, a, 4);

		if (!p)
			die("raw load", EFAULT);
		sum += __atomic_load_n((uint32_t *)p, __ATOMIC_ACQUIRE);
	}
	return sum;
}

static uint8_t bulk_buf[MIB] __attribute__((aligned(64)));

static uint64_t lib_write4k(struct work *w, uint64_t iters)
{
	EACH_ADDR(w, iters, i, a)
		if (vmmem_write_exact(w->sp->mem, a, bulk_buf, 4096))
			die("vmmem_write_exact", EFAULT);
	return 0;
}

static uint64_t raw_write4k(struct work *w, uint64_t iters)
{
	EACH_ADDR(w, iters, i, a) {
		uint8_t *p = raw_translate(&w->sp->raw, a, 4096);

		if (!p)
			die("raw write", EFAULT);
		memcpy(p, bulk_buf, 4096);
	}
	return 0;
}

static uint64_t lib_read4k(struct work *w, uint64_t iters)
{
	uint64_t sum = 0;

	EACH_ADDR(w, iters, i, a) {
		if (vmmem_read_exact(w->sp->mem, a, bulk_buf, 4096))
			die("vmmem_read_exact", EFAULT);
		sum += bulk_buf[i % 4096];
	}
	return sum;
}

static uint64_t raw_read4k(struct work *w, uint64_t iters)
{
	uint64_t sum = 0;

	EACH_ADDR(w, iters, i, a) {
		uint8_t *p = raw_translate(&w->sp->raw, a, 4096);

		if (!p)
			die("raw read", EFAULT);
		memcpy(bulk_buf, p, 4096);
		__asm__ volatile("" ::: "memory");
		sum += bulk_buf[i % 4096];
	}
	return sum;
}

static uint64_t lib_write1m(struct work *w, uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++)
		if (vmmem_write_exact(w->sp->mem, (i % w->sp->nregions) * REGION_STRIDE,
				      bulk_buf, MIB))
			die("vmmem_write_exact", EFAULT);
	return 0;
}

static uint64_t raw_write1m(struct work *w, uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++) {
		uint8_t *p = raw_translate(&w->sp->raw,
					   (i % w->sp->nregions) * REGION_STRIDE, MIB);

		if (!p)
			die("raw write", EFAULT);
		memcpy(p, bulk_buf, MIB);
		__asm__ volatile("" ::: "memory");
	}
	return 0;
}

/* Two contiguous regions: a u64 written across the boundary. */
static uint64_t lib_cross(struct work *w, uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++) {
		uint64_t v = i ^ w->salt;

		if (vmmem_write_exact(w->sp->mem, REGION_SIZE - 4, &v, 8))
			die("vmmem_write_exact", EFAULT);
	}
	return 0;
}

static uint64_t raw_cross(struct work *w, uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++) {
		uint64_t v = i ^ w->salt, gpa = REGION_SIZE - 4;
		uint8_t *p = raw_translate(&w->sp->raw, gpa, 1);
		uint64_t first = REGION_SIZE - gpa;
		uint8_t *q = raw_translate(&w->sp->raw, gpa + first, 8 - first);

		if (!p || !q)
			die("raw cross", EFAULT);
		memcpy(p, &v, first);
		memcpy(q, (uint8_t *)&v + first, 8 - first);
		__asm__ volatile("" ::: "memory");
	}
	return 0;
}

#define FD_CHUNK (64 * 1024)

static uint64_t lib_pread_fd(struct work *w, uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++) {
		uint64_t gpa = (i % w->sp->nregions) * REGION_STRIDE;

		if (vmmem_pread_fd(w->sp->mem, gpa, w->fd, FD_CHUNK, 0) != FD_CHUNK)
			die("vmmem_pread_fd", EIO);
	}
	return 0;
}

static uint64_t raw_pread_fd(struct work *w, uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++) {
		uint64_t gpa = (i % w->sp->nregions) * REGION_STRIDE;
		uint8_t *p = raw_translate(&w->sp->raw, gpa, FD_CHUNK);

		if (!p || pread(w->fd, p, FD_CHUNK, 0) != FD_CHUNK)
			die("pread", EIO);
	}
	return 0;
}

static uint64_t iommu_read64(struct work *w, uint64_t iters)
{
	uint64_t sum = 0;

	EACH_ADDR(w, iters, i, a) {
		uint64_t v;

		if (vmmem_iommu_read_exact(w->iommu, w->iova_base + a, &v, 8))
			die("vmmem_iommu_read_exact", EFAULT);
		sum += v;
	}
	return sum;
}


/* ------------------------------------------------------------- rings */

/* One split virtqueue in its own address space: descriptor table, avail
 * and used rings in the first page group, request headers and status
 * bytes in the data area, chains of 3 descriptors (header, data, status).
 * Each ring workload runs three ways on the same memory: the per-call API
 * ("per-call"), ring accessors ("ring") and direct host pointers ("raw");
 * the request a fourth, "rings-only", to take it apart. */
#define QSIZE 256u
#define CHAINS (QSIZE / 3)
#define VQ_DESC 0x0000ull
#define VQ_AVAIL 0x1000ull
#define VQ_USED 0x2000ull
#define VQ_DATA 0x10000ull
#define VQ_AVAIL_LEN (4 + 2 * QSIZE + 2)
#define VQ_USED_LEN (4 + 8 * QSIZE + 2)

struct vq {
	struct vmmem *mem;
	uint8_t *host;                   /* the region: the raw side's view */
	struct raw_space raw;
	struct vmmem_ring *desc, *avail, *used;
	uint64_t used_gpa;               /* VQ_USED, read at run time */
	uint16_t used_idx;
};

static void vq_layout(uint8_t *h)
{
	memset(h, 0, VQ_DATA + QSIZE * 64);
	for (unsigned c = 0; c < CHAINS; c++)
		for (unsigned k = 0; k < 3; k++) {
			unsigned i = 3 * c + k;
			uint64_t addr = VQ_DATA + 64 * (uint64_t)i;
			uint32_t len = k == 0 ? 16 : k == 1 ? 512 : 1;
			uint16_t flags = (k < 2 ? 1 : 0) | (k == 2 ? 2 : 0);
			uint16_t next = (uint16_t)(k < 2 ? i + 1 : 0);

			memcpy(h + VQ_DESC + 16 * i, &addr, 8);
			memcpy(h + VQ_DESC + 16 * i + 8, &len, 4);
			memcpy(h + VQ_DESC + 16 * i + 12, &flags, 2);
			memcpy(h + VQ_DESC + 16 * i + 14, &next, 2);
			if (k == 0)
				for (unsigned b = 0; b < 16; b++)
					h[addr + b] = (uint8_t)(c * 7 + b);
		}
	for (unsigned i = 0; i < QSIZE; i++) {
		uint16_t head = (uint16_t)(3 * (i % CHAINS));

		memcpy(h + VQ_AVAIL + 4 + 2 * i, &head, 2);
	}
	h[VQ_AVAIL + 2] = 0x34;                  /* avail idx */
	h[VQ_AVAIL + 3] = 0x12;
}

static struct vq *vq_new(bool dirty)
{
	struct vmmem_region_opts o = { .sz = sizeof(o), .flags = VMMEM_REGION_POPULATE };
	struct vq *q = calloc(1, sizeof(*q));
	struct vmmem_region *r = NULL;
	void *host = NULL;
	int ret;

	if ((ret = vmmem_new(&q->mem, 0)) ||
	    (ret = vmmem_region_new(&r, REGION_SIZE, &o)) ||
	    (ret = vmmem_add_region(q->mem, 0, r)) ||
	    (ret = vmmem_region_host_address(r, &host)))
		die("setting up the virtqueue", ret);
	vmmem_region_unref(r);
	q->host = host;
	q->used_gpa = VQ_USED;
	q->raw.n = 1;
	q->raw.r = calloc(1, sizeof(*q->raw.r));
	q->raw.r[0] = (struct raw_region){ 0, REGION_SIZE, q->host };
	vq_layout(q->host);
	if ((ret = vmmem_ring_new(&q->desc, q->mem, VQ_DESC, 16 * QSIZE,
				  VMMEM_MAP_READ)) ||
	    (ret = vmmem_ring_new(&q->avail, q->mem, VQ_AVAIL, VQ_AVAIL_LEN,
				  VMMEM_MAP_READ)) ||
	    (ret = vmmem_ring_new(&q->used, q->mem, VQ_USED, VQ_USED_LEN,
				  VMMEM_MAP_READ | VMMEM_MAP_WRITE)))
		die("vmmem_ring_new", ret);
	if (dirty && (ret = vmmem_dirty_start(q->mem, 4096)))
		die("vmmem_dirty_start", ret);
	return q;
}

static void vq_free(struct vq *q)
{
	vmmem_ring_free(q->desc);
	vmmem_ring_free(q->avail);
	vmmem_ring_free(q->used);
	vmmem_free(q->mem);
	free(q->raw.r);
	free(q);
}

/* The raw side's dirty log: check before set, as the library. */
static inline __attribute__((always_inline)) void
raw_mark(struct work *w, uint64_t gpa)
{
	uint64_t page = gpa >> 12;
	uint64_t *word = &w->bitmap[page / 64], bit = 1ull << (page % 64);

	if (!w->bitmap)
		return;
	if (!(__atomic_load_n(word, __ATOMIC_RELAXED) & bit))
		__atomic_fetch_or(word, bit, __ATOMIC_RELEASE);
}

#define RING_FAIL(what) die(what, EFAULT)

static uint64_t ring_load16(struct work *w, uint64_t iters)
{
	const struct vmmem_ring *avail = w->vq->avail;
	uint64_t sum = 0;

	for (uint64_t i = 0; i < iters; i++) {
		uint16_t v;

		if (vmmem_ring_load16(avail, 4 + 2 * (i % QSIZE), &v,
				      VMMEM_ORDER_ACQUIRE))
			RING_FAIL("vmmem_ring_load16");
		sum += v;
	}
	return sum;
}

static uint64_t rawq_load16(struct work *w, uint64_t iters)
{
	const uint8_t *avail = w->vq->host + VQ_AVAIL;
	uint64_t sum = 0;

	for (uint64_t i = 0; i < iters; i++)
		sum += __atomic_load_n((const uint16_t *)(const void *)
				       (avail + 4 + 2 * (i % QSIZE)),
				       __ATOMIC_ACQUIRE);
	return sum;
}

static uint64_t ring_store16(struct work *w, uint64_t iters)
{
	struct vmmem_ring *used = w->vq->used;

	for (uint64_t i = 0; i < iters; i++)
		if (vmmem_ring_store16(used, 2, (uint16_t)(i ^ w->salt),
				       VMMEM_ORDER_RELEASE))
			RING_FAIL("vmmem_ring_store16");
	return 0;
}

/* The raw stores mark the page of used_gpa + off.  The "raw" ideal passes
 * the constant VQ_USED, so that gcc folds page, word and bit; "raw-rtgpa"
 * the ring's GPA as a device knows it, at run time (a field of its queue),
 * and computes them as the library must. */
static inline __attribute__((always_inline)) uint64_t
rawq_store16_at(struct work *w, uint64_t iters, uint64_t used_gpa)
{
	uint8_t *used = w->vq->host + VQ_USED;

	for (uint64_t i = 0; i < iters; i++) {
		__atomic_store_n((uint16_t *)(void *)(used + 2),
				 (uint16_t)(i ^ w->salt), __ATOMIC_RELEASE);
		raw_mark(w, used_gpa + 2);
	}
	return 0;
}

static uint64_t rawq_store16(struct work *w, uint64_t iters)
{
	return rawq_store16_at(w, iters, VQ_USED);
}

static uint64_t rawrt_store16(struct work *w, uint64_t iters)
{
	return rawq_store16_at(w, iters, w->vq->used_gpa);
}

static uint64_t ring_desc(struct work *w, uint64_t iters)
{
	const struct vmmem_ring *desc = w->vq->desc;
	uint64_t sum = 0;

	for (uint64_t i = 0; i < iters; i++) {
		struct desc d;

		if (vmmem_ring_read(desc, 16 * (i % QSIZE), &d, sizeof(d)))
			RING_FAIL("vmmem_ring_read");
		sum += d.addr + d.len + d.next;
	}
	return sum;
}

static uint64_t rawq_desc(struct work *w, uint64_t iters)
{
	const uint8_t *desc = w->vq->host + VQ_DESC;
	uint64_t sum = 0;

	for (uint64_t i = 0; i < iters; i++) {
		struct desc d;

		memcpy(&d, desc + 16 * (i % QSIZE), sizeof(d));
		sum += d.addr + d.len + d.next;
	}
	return sum;
}

static uint64_t ring_used_elem(struct work *w, uint64_t iters)
{
	struct vmmem_ring *used = w->vq->used;

	for (uint64_t i = 0; i < iters; i++) {
		uint32_t e[2] = { (uint32_t)(i ^ w->salt), 1 };

		if (vmmem_ring_write(used, 4 + 8 * (i % QSIZE), e, 8))
			RING_FAIL("vmmem_ring_write");
	}
	return 0;
}

static inline __attribute__((always_inline)) uint64_t
rawq_used_elem_at(struct work *w, uint64_t iters, uint64_t used_gpa)
{
	uint8_t *used = w->vq->host + VQ_USED;

	for (uint64_t i = 0; i < iters; i++) {
		uint32_t e[2] = { (uint32_t)(i ^ w->salt), 1 };
		uint64_t off = 4 + 8 * (i % QSIZE);

		memcpy(used + off, e, 8);
		raw_mark(w, used_gpa + off);
	}
	return 0;
}

static uint64_t rawq_used_elem(struct work *w, uint64_t iters)
{
	return rawq_used_elem_at(w, iters, VQ_USED);
}

static uint64_t rawrt_used_elem(struct work *w, uint64_t iters)
{
	return rawq_used_elem_at(w, iters, w->vq->used_gpa);
}

/* A whole request as a device processes it: avail idx (acquire), one avail
 * entry, a chain of 3 descriptors, the 16-byte request header, the 1-byte
 * status, the used element, the used idx (release).  The sum covers what
 * was read; the used ring and status bytes what was written. */
#define REQUEST_BODY(LOAD16, READ_DESC, READ_HDR, WRITE_STATUS, WRITE_USED,   \
		     STORE_USED_IDX)                                           \
	uint64_t sum = 0;                                                      \
	for (uint64_t i = 0; i < iters; i++) {                                 \
		uint16_t avail_idx, head, idx;                                 \
		struct desc d[3];                                              \
		uint8_t hdr[16], status = (uint8_t)(i ^ w->salt);              \
		uint32_t elem[2];                                              \
									       \
		LOAD16(2, avail_idx, VMMEM_ORDER_ACQUIRE);                     \
		LOAD16(4 + 2 * (i % QSIZE), head, VMMEM_ORDER_RELAXED);        \
		idx = head;                                                    \
		for (int k = 0; k < 3; k++) {                                  \
			if (idx >= QSIZE)                                      \
				die("descriptor index", EINVAL);               \
			READ_DESC(idx, d[k]);                                  \
			idx = d[k].next;                                       \
		}                                                              \
		READ_HDR(d[0].addr, hdr);                                      \
		WRITE_STATUS(d[2].addr, status);                               \
		elem[0] = head;                                                \
		elem[1] = 1;                                                   \
		WRITE_USED(4 + 8 * (uint64_t)(w->vq->used_idx % QSIZE), elem); \
		STORE_USED_IDX((uint16_t)(++w->vq->used_idx));                 \
		sum += avail_idx + head + d[1].len + hdr[i % 16];              \
	}                                                                      \
	return sum;

#define LIB_LOAD16(off, v, order) do {                                         \
	uint64_t t_;                                                           \
	if (vmmem_load(w->vq->mem, VQ_AVAIL + (off), 2, &t_, order))           \
		die("vmmem_load", EFAULT);                                     \
	v = (uint16_t)t_;                                                      \
} while (0)
#define LIB_READ_DESC(i, d)                                                    \
	if (vmmem_read_exact(w->vq->mem, VQ_DESC + 16 * (uint64_t)(i), &d, 16)) \
		die("vmmem_read_exact", EFAULT)
#define LIB_READ_HDR(gpa, h)                                                   \
	if (vmmem_read_exact(w->vq->mem, gpa, h, 16))                          \
		die("vmmem_read_exact", EFAULT)
#define LIB_WRITE_STATUS(gpa, s)                                               \
	if (vmmem_write_exact(w->vq->mem, gpa, &s, 1))                         \
		die("vmmem_write_exact", EFAULT)
#define LIB_WRITE_USED(off, e)                                                 \
	if (vmmem_write_exact(w->vq->mem, VQ_USED + (off), e, 8))              \
		die("vmmem_write_exact", EFAULT)
#define LIB_STORE_USED_IDX(v)                                                  \
	if (vmmem_store(w->vq->mem, VQ_USED + 2, 2, v, VMMEM_ORDER_RELEASE))   \
		die("vmmem_store", EFAULT)

#define RING_LOAD16(off, v, order)                                             \
	if (vmmem_ring_load16(ra, off, &v, order))                               \
		RING_FAIL("vmmem_ring_load16")
#define RING_READ_DESC(i, d)                                                   \
	if (vmmem_ring_read(rd, 16 * (size_t)(i), &d, 16))                       \
		RING_FAIL("vmmem_ring_read")
#define RING_WRITE_USED(off, e)                                                \
	if (vmmem_ring_write(ru, off, e, 8))                                     \
		RING_FAIL("vmmem_ring_write")
#define RING_STORE_USED_IDX(v)                                                 \
	if (vmmem_ring_store16(ru, 2, v, VMMEM_ORDER_RELEASE))                   \
		RING_FAIL("vmmem_ring_store16")

#define RAW_LOAD16(off, v, order)                                              \
	v = __atomic_load_n((uint16_t *)(void *)(host + VQ_AVAIL + (off)), \
			    order == VMMEM_ORDER_ACQUIRE ? __ATOMIC_ACQUIRE :  \
							   __ATOMIC_RELAXED)
#define RAW_READ_DESC(i, d)                                                    \
	memcpy(&d, host + VQ_DESC + 16 * (uint64_t)(i), 16)
#define RAW_READ_HDR(gpa, h) do {                                              \
	uint8_t *p_ = raw_translate(&w->vq->raw, gpa, 16);                     \
	if (!p_)                                                               \
		die("raw header", EFAULT);                                     \
	memcpy(h, p_, 16);                                                     \
} while (0)
#define RAW_WRITE_STATUS(gpa, s) do {                                          \
	uint8_t *p_ = raw_translate(&w->vq->raw, gpa, 1);                      \
	if (!p_)                                                               \
		die("raw status", EFAULT);                                     \
	*p_ = s;                                                               \
	raw_mark(w, gpa);                                                      \
} while (0)
#define RAW_WRITE_USED(off, e) do {                                            \
	memcpy(host + VQ_USED + (off), e, 8);                           \
	raw_mark(w, used_gpa + (off));                                         \
} while (0)
#define RAW_STORE_USED_IDX(v) do {                                             \
	__atomic_store_n((uint16_t *)(void *)(host + VQ_USED + 2), v,   \
			 __ATOMIC_RELEASE);                                    \
	raw_mark(w, used_gpa + 2);                                             \
} while (0)

static uint64_t lib_request(struct work *w, uint64_t iters)
{
	REQUEST_BODY(LIB_LOAD16, LIB_READ_DESC, LIB_READ_HDR, LIB_WRITE_STATUS,
		     LIB_WRITE_USED, LIB_STORE_USED_IDX)
}

/* The handles in locals, as a device's loop holds them. */
static uint64_t ring_request(struct work *w, uint64_t iters)
{
	const struct vmmem_ring *ra = w->vq->avail, *rd = w->vq->desc;
	struct vmmem_ring *ru = w->vq->used;

	REQUEST_BODY(RING_LOAD16, RING_READ_DESC, LIB_READ_HDR, LIB_WRITE_STATUS,
		     RING_WRITE_USED, RING_STORE_USED_IDX)
}

/* The request's two parts apart: ring accessors for the rings, and the
 * ideal's own header read and status write (raw_translate()).  Not a way a
 * device can take (a device reaches its buffers through the per-call
 * API); it tells how much of "ring" against "raw" is the rings and how
 * much the two per-call accesses (docs/PERFORMANCE.md). */
static uint64_t ring_rawdata_request(struct work *w, uint64_t iters)
{
	const struct vmmem_ring *ra = w->vq->avail, *rd = w->vq->desc;
	struct vmmem_ring *ru = w->vq->used;

	REQUEST_BODY(RING_LOAD16, RING_READ_DESC, RAW_READ_HDR, RAW_WRITE_STATUS,
		     RING_WRITE_USED, RING_STORE_USED_IDX)
}

static inline __attribute__((always_inline)) uint64_t
rawq_request_at(struct work *w, uint64_t iters, uint64_t used_gpa)
{
	uint8_t *host = w->vq->host;

	REQUEST_BODY(RAW_LOAD16, RAW_READ_DESC, RAW_READ_HDR, RAW_WRITE_STATUS,
		     RAW_WRITE_USED, RAW_STORE_USED_IDX)
}

static uint64_t rawq_request(struct work *w, uint64_t iters)
{
	return rawq_request_at(w, iters, VQ_USED);
}

static uint64_t rawrt_request(struct work *w, uint64_t iters)
{
	return rawq_request_at(w, iters, w->vq->used_gpa);
}

/* --check: the three ways of a workload read the same sums and leave the
 * same bytes in the used ring and the status bytes. */
static int check_ring_way(struct work *w, work_fn fn, const char *name,
			  uint64_t *sum, uint8_t *after, bool first)
{
	static uint8_t snap[VQ_DATA + QSIZE * 64];
	uint64_t got;

	vq_layout(w->vq->host);
	w->vq->used_idx = 0;
	w->salt = 0x5a;
	got = fn(w, 3 * QSIZE + 5);
	memcpy(snap, w->vq->host, sizeof(snap));
	if (first) {
		*sum = got;
		memcpy(after, snap, sizeof(snap));
		return 0;
	}
	if (got != *sum || memcmp(after, snap, sizeof(snap))) {
		fprintf(stderr, "vmmem-bench: %s: %s from the other ways\n", name,
			got != *sum ? "sum differs" : "bytes written differ");
		return 1;
	}
	return 0;
}

static int check_rings(void)
{
	static uint8_t after[VQ_DATA + QSIZE * 64];
	static const struct { const char *name; work_fn fn[5]; } ways[] = {
		{ "u16-load", { rawq_load16, ring_load16, NULL } },
		{ "u16-store", { rawq_store16, ring_store16, rawrt_store16, NULL } },
		{ "desc16", { rawq_desc, ring_desc, NULL } },
		{ "used-elem", { rawq_used_elem, ring_used_elem, rawrt_used_elem, NULL } },
		{ "request", { rawq_request, ring_request, lib_request, rawrt_request,
			       ring_rawdata_request } },
	};
	int failures = 0;

	for (int dirty = 0; dirty < 2; dirty++) {
		struct vq *q = vq_new(dirty);
		struct work w = { .vq = q };
		uint64_t sum = 0, bm[REGION_SIZE / 4096 / 64];

		for (size_t i = 0; i < sizeof(ways) / sizeof(ways[0]); i++)
			for (int k = 0; k < 5 && ways[i].fn[k]; k++)
				failures += check_ring_way(&w, ways[i].fn[k],
							   ways[i].name, &sum,
							   after, k == 0);
		/* with logging on, the ring stores logged the used ring and
		 * the status bytes */
		if (dirty) {
			if (vmmem_dirty_harvest(q->mem, 0, REGION_SIZE, bm) < 0)
				die("vmmem_dirty_harvest", EFAULT);
			if (!(bm[0] & (1ull << (VQ_USED >> 12))) ||
			    !(bm[0] & (1ull << (VQ_DATA >> 12)))) {
				fprintf(stderr, "vmmem-bench: ring stores not logged\n");
				failures++;
			}
			(void)ring_used_elem(&w, 1);
			if (vmmem_dirty_harvest(q->mem, 0, REGION_SIZE, bm) != 1 ||
			    bm[0] != 1ull << (VQ_USED >> 12)) {
				fprintf(stderr, "vmmem-bench: ring write not logged\n");
				failures++;
			}
		}
		vq_free(q);
	}
	return failures;
}

/* ------------------------------------------------------------- threads */

struct thread_arg {
	struct work *w;
	volatile bool *stop;
	uint64_t ops;
};

static void *reader_thread(void *p)
{
	struct thread_arg *t = p;
	uint64_t ops = 0;

	while (!*t->stop) {
		lib_read64(t->w, NADDR);
		ops += NADDR;
	}
	t->ops = ops;
	return NULL;
}

static void *hotplug_thread(void *p)
{
	struct thread_arg *t = p;
	struct vmmem_region *r;
	struct timespec half = { 0, 500000 };
	uint64_t gpa = 1ull << 40;
	int ret;

	if ((ret = vmmem_region_new(&r, REGION_SIZE, NULL)))
		die("vmmem_region_new", ret);
	while (!*t->stop) {
		if ((ret = vmmem_add_region(t->w->sp->mem, gpa, r)))
			die("vmmem_add_region", ret);
		nanosleep(&half, NULL);
		if ((ret = vmmem_remove_region(t->w->sp->mem, gpa, REGION_SIZE, NULL)))
			die("vmmem_remove_region", ret);
		nanosleep(&half, NULL);
		t->ops++;
	}
	vmmem_region_unref(r);
	return NULL;
}

static volatile uint64_t sink;

/* A strict guest IOMMU: every DMA unmap is an IOTLB invalidation, every
 * map an update, while the device keeps reading through other entries.
 * One op is an update and an invalidation of a 4 KiB page of IOVA space
 * apart from the readers' entries, with w->churn_readers threads reading
 * by IOVA (iommu_read64 on w) all along. */
#define CHURN_IOVA (1ull << 45)

static void *iova_reader_thread(void *p)
{
	struct thread_arg *t = p;
	uint64_t sum = 0;

	while (!__atomic_load_n(t->stop, __ATOMIC_ACQUIRE)) {
		sum += iommu_read64(t->w, NADDR);
		__atomic_add_fetch(&t->ops, NADDR, __ATOMIC_RELAXED);
	}
	__atomic_add_fetch(&t->ops, sum & 1, __ATOMIC_RELAXED);   /* used */
	return NULL;
}

/* The ideal an invalidation is measured against: the one membarrier()
 * any scheme whose readers announce themselves with plain stores needs. */
static bool churn_raw(struct work *w, uint64_t i)
{
	(void)w;
	(void)i;
	return syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
}

static bool churn_lib(struct work *w, uint64_t i)
{
	uint64_t iova = CHURN_IOVA + (i % 64) * 4096;

	return !vmmem_iommu_update(w->iommu, iova, 4096, i % 64 * 4096,
				   VMMEM_PERM_READ | VMMEM_PERM_WRITE) &&
	       !vmmem_iommu_invalidate(w->iommu, iova, 4096);
}

static uint64_t iotlb_churn_with(struct work *w, uint64_t iters,
				 bool (*pair)(struct work *, uint64_t))
{
	struct thread_arg ta[2];
	pthread_t th[2];
	volatile bool stop = false;

	for (int i = 0; i < w->churn_readers; i++) {
		ta[i] = (struct thread_arg){ .w = w, .stop = &stop };
		pthread_create(&th[i], NULL, iova_reader_thread, &ta[i]);
	}
	for (int i = 0; i < w->churn_readers; i++)      /* busy already */
		while (!__atomic_load_n(&ta[i].ops, __ATOMIC_RELAXED))
			sched_yield();
	for (uint64_t i = 0; i < iters; i++)
		if (!pair(w, i))
			die("update+invalidate or membarrier", EIO);
	__atomic_store_n(&stop, true, __ATOMIC_RELEASE);
	for (int i = 0; i < w->churn_readers; i++)
		pthread_join(th[i], NULL);
	return 0;
}

static uint64_t iotlb_churn(struct work *w, uint64_t iters)
{
	return iotlb_churn_with(w, iters, churn_lib);
}

static uint64_t iotlb_churn_raw(struct work *w, uint64_t iters)
{
	return iotlb_churn_with(w, iters, churn_raw);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Reads per second of `readers` threads for min_seconds, with or without a
 * hotplug thread adding and removing a region 1000 times a second. */
static double threaded_reads(struct work *w, int readers, bool hotplug,
			     uint64_t *hotplugs)
{
	struct thread_arg ta[3];
	pthread_t th[3];
	volatile bool stop = false;
	uint64_t total = 0;
	double t0, t1;

	for (int i = 0; i < readers + hotplug; i++)
		ta[i] = (struct thread_arg){ .w = w, .stop = &stop };
	t0 = now();
	for (int i = 0; i < readers; i++)
		pthread_create(&th[i], NULL, reader_thread, &ta[i]);
	if (hotplug)
		pthread_create(&th[readers], NULL, hotplug_thread, &ta[readers]);
	while (now() - t0 < min_seconds)
		usleep(1000);
	stop = true;
	for (int i = 0; i < readers + hotplug; i++)
		pthread_join(th[i], NULL);
	t1 = now();
	for (int i = 0; i < readers; i++)
		total += ta[i].ops;
	if (hotplugs)
		*hotplugs = hotplug ? ta[readers].ops : 0;
	return total / (t1 - t0);
}

/* vhost-user memory tables: QEMU resends an unchanged SET_MEM_TABLE at
 * every device start.  The ideal is the one fstat(2) per region that tells
 * a repeated region from a new one; a changed table maps every region. */
static struct vhost_table {
	struct vmmem *mem;
	struct vmmem_vhost_region vr[2];
	int fds[2][2];                   /* two files: the same and another */
} vt;

static void vhost_table_init(void)
{
	int ret;

	for (int f = 0; f < 2; f++) {
		int fd = memfd_create("vmmem-bench", MFD_CLOEXEC);

		if (fd < 0 || ftruncate(fd, 4 * MIB))
			die("memfd", errno);
		vt.fds[f][0] = vt.fds[f][1] = fd;
	}
	for (int r = 0; r < 2; r++)
		vt.vr[r] = (struct vmmem_vhost_region){
			.guest_phys_addr = r * (1ull << 32),
			.memory_size = REGION_SIZE,
			.userspace_addr = 0x7f0000000000 + r * REGION_SIZE,
			.mmap_offset = r * REGION_SIZE };
	if ((ret = vmmem_new(&vt.mem, 0)) ||
	    (ret = vmmem_vhost_set_mem_table(vt.mem, vt.vr, vt.fds[0], 2, NULL)))
		die("vmmem_vhost_set_mem_table", ret);
}

/* Each returns the regions it found in place (2 per call). */
static uint64_t lib_set_same(struct work *w, uint64_t iters)
{
	uint64_t n = 0;

	(void)w;
	for (uint64_t i = 0; i < iters; i++)
		n += vmmem_vhost_set_mem_table(vt.mem, vt.vr, vt.fds[0], 2,
					       NULL) ? 0 : 2;
	return n;
}

static uint64_t raw_set_same(struct work *w, uint64_t iters)
{
	struct stat st;
	uint64_t n = 0;

	(void)w;
	for (uint64_t i = 0; i < iters; i++)
		for (int r = 0; r < 2; r++)
			n += !fstat(vt.fds[0][r], &st) && st.st_ino != 0;
	return n;
}

static uint64_t lib_set_changed(struct work *w, uint64_t iters)
{
	uint64_t n = 0;

	(void)w;
	for (uint64_t i = 0; i < iters; i++)
		n += vmmem_vhost_set_mem_table(vt.mem, vt.vr, vt.fds[(i + 1) % 2],
					       2, NULL) ? 0 : 2;
	/* back to the first file, for lib_set_same */
	return n + (vmmem_vhost_set_mem_table(vt.mem, vt.vr, vt.fds[0], 2,
					      NULL) ? 1 : 0);
}

/* ------------------------------------------------------------- the table */

enum unit { NS_PER_OP, GB_PER_S, MOPS_PER_S };

struct measure {
	const char *name;
	const char *variant;
	struct work *w;
	work_fn fn;
	uint64_t bytes;                  /* per op, for GB/s */
	int threads;                     /* >0: threaded_reads */
	bool hotplug;
	uint64_t iters;
	double sample[REPS];
	double median;
	enum unit unit;
};

#define MAX_MEASURES 96
static struct measure ms[MAX_MEASURES];
static int nms;

static struct measure *add(const char *name, const char *variant,
			   struct work *w, work_fn fn, uint64_t bytes)
{
	struct measure *m = &ms[nms++];

	*m = (struct measure){ .name = name, .variant = variant, .w = w,
			       .fn = fn, .bytes = bytes,
			       .unit = bytes ? GB_PER_S : NS_PER_OP };
	return m;
}

static void add_threads(const char *name, const char *variant, struct work *w,
			int threads, bool hotplug)
{
	struct measure *m = add(name, variant, w, NULL, 0);

	m->threads = threads;
	m->hotplug = hotplug;
	m->unit = MOPS_PER_S;
}

static double run_once(struct measure *m)
{
	double t0, t1;

	if (m->threads)
		return threaded_reads(m->w, m->threads, m->hotplug, NULL) / 1e6;
	t0 = now();
	sink += m->fn(m->w, m->iters);
	t1 = now();
	if (m->unit == GB_PER_S)
		return m->iters * m->bytes / (t1 - t0) / 1e9;
	return (t1 - t0) * 1e9 / m->iters;
}

static void calibrate(struct measure *m)
{
	uint64_t iters = 1024;

	if (m->threads)
		return;
	for (;;) {
		double t0 = now(), t;

		sink += m->fn(m->w, iters);
		t = now() - t0;
		if (t >= min_seconds || iters >= (1ull << 40)) {
			m->iters = iters;
			return;
		}
		iters = t < min_seconds / 16 ? iters * 8 :
			(uint64_t)(iters * min_seconds * 1.1 / t) + 1;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static const char *unit_name(enum unit u)
{
	return u == NS_PER_OP ? "ns/op" : u == GB_PER_S ? "GB/s" : "Mops/s";
}

static const struct measure *find(const char *name, const char *variant)
{
	for (int i = 0; i < nms; i++)
		if (!strcmp(ms[i].name, name) && !strcmp(ms[i].variant, variant))
			return &ms[i];
	return NULL;
}

/* A ratio against a target; for times lower is better, for rates higher. */
static int report_ratio(const char *label, const struct measure *a,
			const struct measure *b, double target, bool at_most)
{
	double r;
	bool ok;

	if (!a || !b)
		return 0;
	r = a->median / b->median;
	ok = at_most ? r <= target : r >= target;
	printf("%-36s %6.2f   %s %.2f  %s\n", label, r, at_most ? "<=" : ">=",
	       target, ok ? "ok" : "MISSED");
	return !ok;
}

/* ------------------------------------------------------------- checking */

static void verify_written(struct work *w, uint64_t size)
{
	for (size_t i = 0; i < NADDR; i++) {
		uint8_t *p = raw_translate(&w->sp->raw, w->addr[i], size);
		uint64_t v = 0, want = w->addr[i] ^ w->salt;

		memcpy(&v, p, size);
		if (size == 4)
			want = (uint32_t)want;
		if (v != want) {
			fprintf(stderr, "vmmem-bench: wrong bytes at 0x%" PRIx64
				": 0x%" PRIx64 ", want 0x%" PRIx64 "\n",
				w->addr[i], v, want);
			exit(1);
		}
	}
}

/* Each lib/raw pair must compute the same sums and leave the same bytes. */
static int check_all(void)
{
	int failures = 0;

	for (int i = 0; i < nms; i++) {
		struct measure *m = &ms[i];
		const struct measure *raw;
		uint64_t got, want;

		if (m->fn == iotlb_churn || m->fn == iotlb_churn_raw)
			m->fn(m->w, 64);
		if (m->threads ||
		    (strcmp(m->variant, "libvmmem") && strcmp(m->variant, "iommu")))
			continue;
		raw = find(m->name, "raw");
		if (!raw)
			raw = find(m->name, "direct");
		m->w->salt = 0x1111;
		got = m->fn(m->w, NADDR);
		if (m->fn == lib_write64 || m->fn == lib_store32)
			verify_written(m->w, m->fn == lib_store32 ? 4 : 8);
		if (!raw)
			continue;
		raw->w->salt = 0x2222;
		want = raw->fn(raw->w, NADDR);
		if (raw->fn == raw_write64 || raw->fn == raw_store32 ||
		    raw->fn == raw_write64_dirty)
			verify_written(raw->w, raw->fn == raw_store32 ? 4 : 8);
		if (got != want) {
			fprintf(stderr, "vmmem-bench: %s: libvmmem sum 0x%" PRIx64
				" != raw 0x%" PRIx64 "\n", m->name, got, want);
			failures++;
		}
	}
	return failures;
}

/* ------------------------------------------------------------- main */

static struct work *work_new(struct space *sp, uint64_t align, uint64_t size,
			     uint64_t seed)
{
	struct work *w = calloc(1, sizeof(*w));

	w->sp = sp;
	w->fd = -1;
	fill_addresses(w, align, size, seed);
	return w;
}

int main(int argc, char **argv)
{
	static const size_t rs[] = { 1, 4, 32, 256 };
	static const char *rnames[] = { "translate-R1", "translate-R4",
					"translate-R32", "translate-R256" };
	struct space *spaces[4], *pair;
	struct work *w4, *w256, *wdesc, *wpage, *whit, *wcross, *wdirty;
	struct work *wbulk, *wfd, *wiommu, *wt[4], *wring[2], *wchurn[3];
	struct vq *vqs[2];
	char shm_path[] = "/dev/shm/vmmem-bench-XXXXXX";
	int failures = 0, ret;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--check")) {
			check_mode = true;
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			min_seconds = atof(argv[++i]);
		} else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
			only = argv[++i];
		} else {
			fprintf(stderr, "usage: vmmem-bench [--check] [--seconds S] "
				"[--only NAME-PREFIX[,NAME-PREFIX...]]\n");
			return 2;
		}
	}

	for (int i = 0; i < 4; i++)
		spaces[i] = space_new(rs[i], REGION_STRIDE);
	pair = space_new(2, REGION_SIZE);       /* contiguous */

	for (int i = 0; i < 4; i++) {
		wt[i] = work_new(spaces[i], 8, 8, 42);
		add(rnames[i], "libvmmem", wt[i], lib_translate, 0);
		add(rnames[i], "raw", wt[i], raw_translate_fn, 0);
	}
	whit = work_new(spaces[3], 8, 8, 42);
	for (size_t i = 0; i < NADDR; i++)      /* one region, nearby addresses */
		whit->addr[i] = 7 * REGION_STRIDE + (i % 512) * 8;
	add("translate-hit-R256", "libvmmem", whit, lib_translate, 0);
	add("translate-hit-R256", "raw", whit, raw_translate_fn, 0);

	w4 = work_new(spaces[1], 8, 8, 7);
	w256 = work_new(spaces[3], 8, 8, 7);
	add("read-u64-R4", "libvmmem", w4, lib_read64, 0);
	add("read-u64-R4", "raw", w4, raw_read64, 0);
	add("read-u64-R256", "libvmmem", w256, lib_read64, 0);
	add("read-u64-R256", "raw", w256, raw_read64, 0);
	add("write-u64-R4", "libvmmem", w4, lib_write64, 0);
	add("write-u64-R4", "raw", w4, raw_write64, 0);
	add("write-u64-R256", "libvmmem", w256, lib_write64, 0);
	add("write-u64-R256", "raw", w256, raw_write64, 0);

	wdesc = work_new(spaces[1], 16, 16, 9);
	add("read-desc16-R4", "libvmmem", wdesc, lib_desc, 0);
	add("read-desc16-R4", "raw", wdesc, raw_desc, 0);
	add("store-u32-relaxed-R4", "libvmmem", w4, lib_store32, 0);
	add("store-u32-relaxed-R4", "raw", w4, raw_store32, 0);
	add("load-u32-acquire-R4", "libvmmem", w4, lib_load32, 0);
	add("load-u32-acquire-R4", "raw", w4, raw_load32, 0);

	wpage = work_new(spaces[1], 4096, 4096, 11);
	add("write-4KiB-R4", "libvmmem", wpage, lib_write4k, 4096);
	add("write-4KiB-R4", "raw", wpage, raw_write4k, 4096);
	add("read-4KiB-R4", "libvmmem", wpage, lib_read4k, 4096);
	add("read-4KiB-R4", "raw", wpage, raw_read4k, 4096);
	wbulk = work_new(spaces[1], 8, 8, 13);
	add("write-1MiB-R4", "libvmmem", wbulk, lib_write1m, MIB);
	add("write-1MiB-R4", "raw", wbulk, raw_write1m, MIB);

	wcross = work_new(pair, 8, 8, 15);
	add("write-u64-cross-region", "libvmmem", wcross, lib_cross, 0);
	add("write-u64-cross-region", "raw", wcross, raw_cross, 0);

	/* Dirty logging on a separate address space, so it stays on. */
	wdirty = work_new(space_new(4, REGION_STRIDE), 8, 8, 7);
	if ((ret = vmmem_dirty_start(wdirty->sp->mem, 4096)))
		die("vmmem_dirty_start", ret);
	wdirty->bitmap_words = (4 * REGION_STRIDE / 4096 + 63) / 64;
	wdirty->bitmap = calloc(wdirty->bitmap_words, 8);
	add("write-u64-dirty-R4", "libvmmem", wdirty, lib_write64, 0);
	add("write-u64-dirty-R4", "raw", wdirty, raw_write64_dirty, 0);
	add("write-u64-nodirty-R4", "libvmmem", w4, lib_write64, 0);

	wfd = work_new(spaces[1], 8, 8, 17);
	wfd->fd = mkstemp(shm_path);
	if (wfd->fd < 0)
		die("mkstemp /dev/shm", errno);
	unlink(shm_path);
	if (pwrite(wfd->fd, bulk_buf, FD_CHUNK, 0) != FD_CHUNK)
		die("pwrite", errno);
	add("pread-64KiB-shm", "libvmmem", wfd, lib_pread_fd, FD_CHUNK);
	add("pread-64KiB-shm", "raw", wfd, raw_pread_fd, FD_CHUNK);

	wiommu = work_new(spaces[1], 8, 8, 7);
	wiommu->iova_base = 1ull << 44;
	if ((ret = vmmem_iommu_new(&wiommu->iommu, spaces[1]->mem, NULL)))
		die("vmmem_iommu_new", ret);
	for (size_t i = 0; i < 4; i++)
		if ((ret = vmmem_iommu_update(wiommu->iommu,
					      wiommu->iova_base + i * REGION_STRIDE,
					      REGION_SIZE, i * REGION_STRIDE,
					      VMMEM_PERM_READ)))
			die("vmmem_iommu_update", ret);
	add("read-u64-iova-R4", "iommu", wiommu, iommu_read64, 0);
	add("read-u64-iova-R4", "direct", w4, lib_read64, 0);
	for (int i = 0; i < 3; i++) {
		static const char *names[] = { "iotlb-update+invalidate-0",
			"iotlb-update+invalidate-1", "iotlb-update+invalidate-2" };

		wchurn[i] = work_new(spaces[1], 8, 8, 7);
		*wchurn[i] = *wiommu;
		wchurn[i]->churn_readers = i;
		add(names[i], "libvmmem", wchurn[i], iotlb_churn, 0);
		add(names[i], "raw", wchurn[i], iotlb_churn_raw, 0);
	}

	vhost_table_init();
	add("set-mem-table-same-R2", "libvmmem", w4, lib_set_same, 0);
	add("set-mem-table-same-R2", "raw", w4, raw_set_same, 0);
	add("set-mem-table-changed-R2", "libvmmem", w4, lib_set_changed, 0);

	add_threads("reads-2threads-R4", "hotplug", w4, 2, true);
	add_threads("reads-2threads-R4", "static", w4, 2, false);
	add_threads("reads-threads-R4", "2", w4, 2, false);
	add_threads("reads-threads-R4", "1", w4, 1, false);

	for (int dirty = 0; dirty < 2; dirty++) {
		static const char *names[2][5] = {
			{ "ring-u16-load-acquire", "ring-u16-store-release",
			  "ring-desc16-read", "ring-used-elem-write", "ring-request" },
			{ "ring-u16-load-acquire-dirty", "ring-u16-store-release-dirty",
			  "ring-desc16-read-dirty", "ring-used-elem-write-dirty",
			  "ring-request-dirty" },
		};
		static const work_fn ring_fns[] = { ring_load16, ring_store16,
						    ring_desc, ring_used_elem };
		static const work_fn raw_fns[] = { rawq_load16, rawq_store16,
						   rawq_desc, rawq_used_elem };
		struct work *w = calloc(1, sizeof(*w));

		w->fd = -1;
		w->vq = vqs[dirty] = vq_new(dirty);
		wring[dirty] = w;
		if (dirty)
			w->bitmap = calloc(REGION_SIZE / 4096 / 64, 8);
		for (int i = 0; i < 4; i++) {
			add(names[dirty][i], "ring", w, ring_fns[i], 0);
			add(names[dirty][i], "raw", w, raw_fns[i], 0);
		}
		add(names[dirty][4], "per-call", w, lib_request, 0);
		add(names[dirty][4], "ring", w, ring_request, 0);
		add(names[dirty][4], "raw", w, rawq_request, 0);
		add(names[dirty][4], "rings-only", w, ring_rawdata_request, 0);
		if (dirty) {
			add(names[1][1], "raw-rtgpa", w, rawrt_store16, 0);
			add(names[1][3], "raw-rtgpa", w, rawrt_used_elem, 0);
			add(names[1][4], "raw-rtgpa", w, rawrt_request, 0);
		}
	}

	if (only) {                     /* keep the measures named so (also
					 * for --check: one pass of each
					 * under callgrind) */
		int kept = 0;

		for (int i = 0; i < nms; i++)
			if (named_in(ms[i].name, only))
				ms[kept++] = ms[i];
		nms = kept;
	}

	if (check_mode) {
		failures = check_all() + check_rings();
		printf("vmmem-bench --check: %d workloads, %d failures\n", nms, failures);
		goto out;
	}

	for (int i = 0; i < nms; i++)
		calibrate(&ms[i]);
	for (int rep = 0; rep < REPS; rep++)
		for (int i = 0; i < nms; i++)
			ms[i].sample[rep] = run_once(&ms[i]);
	for (int i = 0; i < nms; i++) {
		double s[REPS];

		memcpy(s, ms[i].sample, sizeof(s));
		qsort(s, REPS, sizeof(s[0]), cmp_double);
		ms[i].median = s[REPS / 2];
		printf("%s\t%s\t%.3f\t%s\n", ms[i].name, ms[i].variant,
		       ms[i].median, unit_name(ms[i].unit));
	}

	printf("\nratio (libvmmem / raw unless said)     value   target\n");
	for (int i = 0; i < 4; i++)
		failures += report_ratio(rnames[i], find(rnames[i], "libvmmem"),
					 find(rnames[i], "raw"), 1.3, true);
	failures += report_ratio("translate hit-R256 / R1 search",
				 find("translate-hit-R256", "libvmmem"),
				 find("translate-R1", "libvmmem"), 1.0, true);
	{
		static const char *le15[] = {
			"read-u64-R4", "read-u64-R256", "write-u64-R4",
			"write-u64-R256", "read-desc16-R4", "store-u32-relaxed-R4",
			"load-u32-acquire-R4", "write-u64-cross-region",
			"write-u64-dirty-R4",
		};

		for (size_t i = 0; i < sizeof(le15) / sizeof(le15[0]); i++)
			failures += report_ratio(le15[i], find(le15[i], "libvmmem"),
						 find(le15[i], "raw"), 1.5, true);
	}
	failures += report_ratio("write-4KiB-R4 (bandwidth)", find("write-4KiB-R4", "libvmmem"),
				 find("write-4KiB-R4", "raw"), 0.95, false);
	failures += report_ratio("read-4KiB-R4 (bandwidth)", find("read-4KiB-R4", "libvmmem"),
				 find("read-4KiB-R4", "raw"), 0.95, false);
	failures += report_ratio("write-1MiB-R4 (bandwidth)", find("write-1MiB-R4", "libvmmem"),
				 find("write-1MiB-R4", "raw"), 0.95, false);
	failures += report_ratio("pread-64KiB-shm (bandwidth)", find("pread-64KiB-shm", "libvmmem"),
				 find("pread-64KiB-shm", "raw"), 0.95, false);
	failures += report_ratio("read-u64-iova / direct", find("read-u64-iova-R4", "iommu"),
				 find("read-u64-iova-R4", "direct"), 2.0, true);
	failures += report_ratio("reads with hotplug / static", find("reads-2threads-R4", "hotplug"),
				 find("reads-2threads-R4", "static"), 0.95, false);
	failures += report_ratio("reads 2 threads / 1 thread", find("reads-threads-R4", "2"),
				 find("reads-threads-R4", "1"), 1.8, false);
	failures += report_ratio("set-mem-table same / 1 fstat per region",
				 find("set-mem-table-same-R2", "libvmmem"),
				 find("set-mem-table-same-R2", "raw"), 1.5, true);
	failures += report_ratio("set-mem-table same / changed",
				 find("set-mem-table-same-R2", "libvmmem"),
				 find("set-mem-table-changed-R2", "libvmmem"), 0.1, true);
	{
		static const char *r11[] = {
			"ring-u16-load-acquire", "ring-u16-store-release",
			"ring-desc16-read", "ring-used-elem-write",
			"ring-u16-load-acquire-dirty", "ring-u16-store-release-dirty",
			"ring-desc16-read-dirty", "ring-used-elem-write-dirty",
		};

		printf("\nring accessors (ring / raw unless said)\n");
		for (size_t i = 0; i < sizeof(r11) / sizeof(r11[0]); i++)
			failures += report_ratio(r11[i], find(r11[i], "ring"),
						 find(r11[i], "raw"), 1.1, true);
		/* The whole request, with logging off and on; "rings-only"
		 * (informational, no target of its own) is the rings' share,
		 * header and status done the ideal's way. */
		for (int dirty = 0; dirty < 2; dirty++) {
			static const struct {
				const char *a, *b;
				double target;
			} req[] = {
				{ "ring", "raw", 1.2 }, { "ring", "per-call", 0.5 },
				{ "per-call", "raw", 99 }, { "rings-only", "raw", 99 },
			};
			const char *name = dirty ? "ring-request-dirty" : "ring-request";

			for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
				char label[64];

				snprintf(label, sizeof(label), "%s: %s / %s",
					 dirty ? "request-dirty" : "request",
					 req[i].a, req[i].b);
				failures += report_ratio(label, find(name, req[i].a),
							 find(name, req[i].b),
							 req[i].target, true);
			}
		}
		/* The same, against an ideal that knows the ring's GPA only
		 * at run time, as a device does (docs/PERFORMANCE.md). */
		printf("\nring / raw with the GPA known at run time (raw-rtgpa)\n");
		for (size_t i = 0; i < 3; i++) {
			static const char *rt[] = { "ring-u16-store-release-dirty",
				"ring-used-elem-write-dirty", "ring-request-dirty" };

			failures += report_ratio(rt[i], find(rt[i], "ring"),
						 find(rt[i], "raw-rtgpa"),
						 i == 2 ? 1.2 : 1.1, true);
		}
	}
	for (int i = 0; i < 3; i++) {
		static const char *names[] = { "iotlb-update+invalidate-0",
			"iotlb-update+invalidate-1", "iotlb-update+invalidate-2" };
		const struct measure *m = find(names[i], "libvmmem");
		bool ok = m && m->median <= 10000;

		if (!m)
			continue;
		/* A guest unmapping 100,000 times a second leaves 10 us each;
		 * the ratio is against one membarrier() in the same setting,
		 * which a scheme of plain-store readers would need per pair. */
		failures += report_ratio(names[i], m, find(names[i], "raw"),
					 1.0, true);
		printf("%-36s %6.2f   <= 10.00  %s (us per pair)\n", names[i],
		       m->median / 1000, ok ? "ok" : "MISSED");
		failures += !ok;
	}
	printf("\n%d of the targets missed\n", failures);
	failures = 0;                   /* timings inform; they do not fail */
out:
	for (int i = 0; i < 2; i++) {
		vq_free(vqs[i]);
		free(wring[i]->bitmap);
		free(wring[i]);
	}
	vmmem_iommu_free(wiommu->iommu);
	vmmem_free(vt.mem);
	close(vt.fds[0][0]);
	close(vt.fds[1][0]);
	close(wfd->fd);
	for (int i = 0; i < 4; i++)
		space_free(spaces[i]);
	space_free(pair);
	space_free(wdirty->sp);
	free(wdirty->bitmap);
	for (struct work **wp = (struct work *[]){ w4, w256, wdesc, wpage, whit,
		 wcross, wdirty, wbulk, wfd, wiommu, wt[0], wt[1], wt[2], wt[3],
		 wchurn[0], wchurn[1], wchurn[2], NULL }; *wp; wp++)
		free(*wp);
	return failures ? 1 : 0;
}
