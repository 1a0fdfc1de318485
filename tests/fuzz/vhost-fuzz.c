/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * vhost-fuzz: a libFuzzer harness for the vhost-user memory messages
 * (SET_MEM_TABLE, ADD_MEM_REG, REM_MEM_REG, IOTLB_MSG) and the front-end
 * address translation, checked against a model kept here.
 *
 * Each input is decoded into messages whose fields come from small sets on
 * the boundaries (0, page edges, unaligned offsets, the end of the file,
 * the top of the 64-bit space) over three memfds of FILE bytes, one of
 * them sometimes replaced by a bad descriptor.  The model is the table the
 * messages describe: (gpa, size, uaddr, mmap_offset, file) per region, the
 * bytes of the files, the pages written while logging was on (the log is
 * indexed by GPA: a page's bit outlives the region placed there), and the region
 * object each entry was first seen with (a reference is held, so a new
 * region cannot reuse the address).  Every call's result must be the
 * model's: success, or one of the errors the man pages give for what is
 * wrong with the message; a failed message leaves the table, the objects,
 * the bytes and the dirty bits exactly as they were; an unchanged region
 * keeps its object and dirty bits across a SET_MEM_TABLE; accesses reach
 * the file bytes at mmap_offset, aligned or not; translations and IOTLB
 * updates land where the model says.  No descriptor may leak.
 *
 * The front-end's shared dirty log (SET_LOG_BASE) is a fourth memfd of
 * LOGFILE bytes that the harness maps itself, as the front-end would.  The
 * model is its bytes, the part of it the active log covers (offset, size,
 * VMMEM_DIRTY_SHARED_ONLY or not) and the count of pages written past that
 * log's end; each write sets bit gpa / 4096 from the log's first byte, or
 * counts as missed.  After every op the file must hold exactly the model's
 * bytes and vmmem_dirty_shared_missed() give its count; after the log ops
 * the library must have one mapping of the file while it uses one it
 * mapped, none otherwise, and must never close or keep the descriptor it
 * was given.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "libvmmem.h"

#include "fuzz-common.h"

#define PAGE    4096ull
#define FILE    (64 * 1024ull)
#define NFILES  3
#define MAXOPS  64
#define MAXREG  6                /* per message, and in the model */
#define BADFD   NFILES           /* file index of a descriptor never open */
#define LOGFILE 0x22000ull       /* the front-end's log file: covers 4 GiB */

static const uint64_t gpas[] = { 0, PAGE, 0x8000, FILE, 2 * FILE,
				 1ull << 32, UINT64_MAX - PAGE + 1,
				 UINT64_MAX - FILE + 1 };
static const uint64_t sizes[] = { 0, 1, PAGE, 3 * PAGE, 0x8000, FILE,
				  FILE + PAGE, UINT64_MAX };
static const uint64_t offsets[] = { 0, PAGE, 0x123, 0x8000, FILE, FILE - 1,
				    1ull << 63, UINT64_MAX - PAGE + 1 };
static const uint64_t uaddrs[] = { 0x7f0000000000, 0x7f0000001000,
				   0x7f0000008000, 0x7f0000010000,
				   0x7f0000020000, 0, UINT64_MAX - PAGE + 1,
				   0x7f0000100123 };

struct mreg {
	struct vmmem_vhost_region vr;
	int file;
	struct vmmem_region *obj;     /* referenced: identity across calls */
};

static struct {
	struct vmmem *m;
	struct vmmem_iommu *io;
	int fds[NFILES + 1];
	uint8_t bytes[NFILES][FILE];
	struct mreg reg[MAXREG];
	int n;
	bool logging;
	uint64_t dirty[MAXOPS];       /* GPA pages written while logging */
	int ndirty;
	/* the front-end's shared log */
	int logfd;
	uint8_t *logmap;              /* the harness's own mapping of it */
	uint8_t logbytes[LOGFILE];    /* what the file must hold */
	bool shared;                  /* a shared log is active: */
	uint64_t log_off, log_size;   /* its bytes in the file */
	bool log_only;                /* VMMEM_DIRTY_SHARED_ONLY */
	bool log_by_fd;               /* mapped by the library */
	bool log_given;               /* a set call has seen the file */
	uint64_t missed;
} s;

static char trace[MAXOPS * 2][160];
static int ntrace;

typedef unsigned long long ull;

/* A message and its result, for the report of a mismatch. */
static void note(const char *msg, ull a, ull b, ull c, ull d, long ret)
{
	if (ntrace < (int)(sizeof(trace) / sizeof(trace[0])))
		snprintf(trace[ntrace++], sizeof(trace[0]),
			 "%s %#llx %#llx %#llx %#llx -> %ld", msg, a, b, c, d,
			 ret);
	if (getenv("VMMEM_FUZZ_TRACE") && ntrace)
		fprintf(stderr, "%s\n", trace[ntrace - 1]);
}

static void fail(const char *what, long got)
{
	fprintf(stderr, "vhost-fuzz: MISMATCH: %s (got %ld)\n", what, got);
	for (int i = 0; i < ntrace; i++)
		fprintf(stderr, "  %s\n", trace[i]);
	abort();
}

#define CHECK(cond, what, got)  do { if (!(cond)) fail(what, (long)(got)); } while (0)

/* ------------------------------------------------------ the model's rules */

static bool wraps(uint64_t a, uint64_t n)
{
	return n && a + (n - 1) < a;
}

static bool overlap(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
	return a <= b + (bn - 1) && b <= a + (an - 1);
}

/* Errors of the fields alone (vhost_region_check). */
static bool fields_bad(const struct vmmem_vhost_region *vr)
{
	return !vr->memory_size || wraps(vr->guest_phys_addr, vr->memory_size) ||
	       wraps(vr->userspace_addr, vr->memory_size) ||
	       wraps(vr->mmap_offset, vr->memory_size);
}

/* Error bits (1 << errno) of mapping a region with good fields: a bad
 * descriptor and a bad size may both apply, and either may be found first. */
static uint64_t file_errors(const struct vmmem_vhost_region *vr, int file)
{
	uint64_t e = 0;

	if (file == BADFD)
		e |= 1ull << EBADF;
	if (vr->mmap_offset > (uint64_t)INT64_MAX)
		e |= 1ull << EINVAL;
	if (vr->mmap_offset > FILE || vr->memory_size > FILE - vr->mmap_offset)
		e |= 1ull << ENXIO | 1ull << EINVAL;   /* EINVAL: absurd sizes */
	return e;
}

static bool same_region(const struct mreg *r, const struct vmmem_vhost_region *vr,
			int file)
{
	return r->file == file && r->vr.guest_phys_addr == vr->guest_phys_addr &&
	       r->vr.memory_size == vr->memory_size &&
	       r->vr.userspace_addr == vr->userspace_addr &&
	       r->vr.mmap_offset == vr->mmap_offset;
}

static bool conflicts(const struct vmmem_vhost_region *a,
		      const struct vmmem_vhost_region *b)
{
	return overlap(a->guest_phys_addr, a->memory_size, b->guest_phys_addr,
		       b->memory_size) ||
	       overlap(a->userspace_addr, a->memory_size, b->userspace_addr,
		       b->memory_size);
}

static void expect(long ret, uint64_t allowed, const char *what)
{
	if (!allowed)
		CHECK(ret == 0, what, ret);
	else
		CHECK(ret < 0 && ret > -64 && (allowed >> -ret & 1), what, ret);
}

/* ------------------------------------------------------ checking state */

static struct vmmem_region *region_of(uint64_t gpa)
{
	struct vmmem_region *r = NULL;

	if (vmmem_find_region(s.m, gpa, &r, NULL))
		return NULL;
	vmmem_region_unref(r);
	return r;
}

static bool page_dirty(uint64_t page)
{
	for (int i = 0; i < s.ndirty; i++)
		if (s.dirty[i] == page)
			return true;
	return false;
}

/* The space holds the model's regions, with their objects, bytes and
 * dirty bits. */
static void check_table(void)
{
	CHECK(vmmem_num_regions(s.m) == s.n, "number of regions",
	      vmmem_num_regions(s.m));
	for (int i = 0; i < s.n; i++) {
		const struct mreg *r = &s.reg[i];
		uint64_t gpa = r->vr.guest_phys_addr, size = r->vr.memory_size;
		uint64_t g, off[3] = { 0, size / 2, size - 1 };
		uint8_t b;

		CHECK(region_of(gpa) == r->obj, "region object kept", i);
		for (int k = 0; k < 3; k++) {
			CHECK(vmmem_read_exact(s.m, gpa + off[k], &b, 1) == 0,
			      "read in a region", k);
			CHECK(b == s.bytes[r->file][r->vr.mmap_offset + off[k]],
			      "byte at mmap_offset", b);
			CHECK(vmmem_uaddr_to_gpa(s.m, r->vr.userspace_addr + off[k],
						 1, &g) == 0 && g == gpa + off[k],
			      "uaddr translation", k);
			if (s.logging)
				CHECK(vmmem_dirty_test(s.m, gpa + off[k]) ==
				      page_dirty((gpa + off[k]) / PAGE),
				      "dirty bit", k);
		}
		CHECK(vmmem_check_range(s.m, gpa, size) == 0, "whole region", i);
	}
}

static void model_add(const struct vmmem_vhost_region *vr, int file,
		      const struct mreg *kept)
{
	struct mreg *r = &s.reg[s.n++];

	if (kept) {
		*r = *kept;
		return;
	}
	memset(r, 0, sizeof(*r));
	r->vr = *vr;
	r->file = file;
	r->obj = vmmem_region_ref(region_of(vr->guest_phys_addr));
	CHECK(r->obj, "new region placed", 0);
}

/* A byte written at gpa: the library's own log (unless the shared log
 * replaces it) and the shared log, or its count of missed pages. */
static void model_written(uint64_t gpa)
{
	uint64_t page = gpa / PAGE;

	if (s.logging && !(s.shared && s.log_only) && !page_dirty(page) &&
	    s.ndirty < MAXOPS)
		s.dirty[s.ndirty++] = page;
	if (!s.shared)
		return;
	if (page / 8 < s.log_size)
		s.logbytes[s.log_off + page / 8] |= (uint8_t)(1u << page % 8);
	else
		s.missed++;
}

/* ------------------------------------------------------------ messages */

static void draw(struct vmmem_vhost_region *vr, int *file)
{
	uint8_t a = u8(), b = u8();

	vr->guest_phys_addr = gpas[a & 7];
	vr->memory_size = sizes[a >> 3 & 7];
	vr->userspace_addr = uaddrs[b & 7];
	vr->mmap_offset = offsets[b >> 3 & 7];
	*file = (a >> 6) % (NFILES + 1);
	if (b >> 6 == 3)        /* mostly good files */
		*file = BADFD;
	else if (*file == BADFD)
		*file = 0;
}

static void op_set(void)
{
	struct vmmem_vhost_region vr[MAXREG];
	struct mreg old[MAXREG];
	int file[MAXREG], fds[MAXREG], n = u8() % (MAXREG + 1), nold = s.n;
	uint64_t allowed = 0;
	long ret;

	uint8_t how = u8();

	for (int i = 0; i < n; i++)
		draw(&vr[i], &file[i]);
	/* As QEMU does at every device start: the table again, in another
	 * order (QEMU's own is sorted), maybe with one region changed and
	 * the drawn ones after it. */
	if (how & 1) {
		int k = s.n < n ? s.n : n;

		for (int i = 0; i < k; i++) {
			vr[i] = s.reg[(i + how / 2) % s.n].vr;
			file[i] = s.reg[(i + how / 2) % s.n].file;
		}
		if (k && (how & 0x10))
			vr[how % k].userspace_addr ^= PAGE;
		if (k && (how & 0x20))
			file[how % k] = (file[how % k] + 1) % NFILES;
		if (k && (how & 0x40))
			vr[how % k].mmap_offset ^= 0x8000;
	}
	for (int i = 0; i < n; i++)
		fds[i] = s.fds[file[i]];
	/* the first region with bad fields or descriptor, in message order */
	for (int i = 0; i < n && !allowed; i++)
		if (fields_bad(&vr[i]))
			allowed = 1ull << EINVAL;
		else if (file[i] == BADFD)
			allowed = 1ull << EBADF;
	for (int i = 0; i < n && !allowed; i++)
		for (int j = 0; j < i; j++)
			if (conflicts(&vr[i], &vr[j]))
				allowed = 1ull << EEXIST;
	/* then mapping the regions it does not repeat */
	for (int i = 0; i < n && !(allowed & (1ull << EEXIST | 1ull << EBADF |
					      1ull << EINVAL)); i++) {
		bool kept = false;

		for (int j = 0; j < s.n; j++)
			kept |= same_region(&s.reg[j], &vr[i], file[i]);
		if (!kept)
			allowed |= file_errors(&vr[i], file[i]);
	}
	ret = vmmem_vhost_set_mem_table(s.m, vr, fds, (size_t)n, NULL);
	note("SET_MEM_TABLE n, first gpa, size, offset", (ull)n,
	     n ? vr[0].guest_phys_addr : 0, n ? vr[0].memory_size : 0,
	     n ? vr[0].mmap_offset : 0, ret);
	expect(ret, allowed, "SET_MEM_TABLE result");
	if (ret)
		return;
	memcpy(old, s.reg, sizeof(old));
	s.n = 0;
	for (int i = 0; i < n; i++) {
		const struct mreg *kept = NULL;

		for (int j = 0; j < nold; j++)
			if (old[j].obj && same_region(&old[j], &vr[i], file[i]))
				kept = &old[j];
		model_add(&vr[i], file[i], kept);
		if (kept)
			old[kept - old].obj = NULL;    /* moved */
	}
	for (int j = 0; j < nold; j++)
		vmmem_region_unref(old[j].obj);
}

static void op_add(void)
{
	struct vmmem_vhost_region vr;
	uint64_t allowed = 0;
	int file;
	long ret;

	draw(&vr, &file);
	if (fields_bad(&vr)) {
		allowed = 1ull << EINVAL;
	} else {
		allowed = file_errors(&vr, file);
		for (int j = 0; j < s.n && !allowed; j++)
			if (conflicts(&vr, &s.reg[j].vr))
				allowed = 1ull << EEXIST;
		if (!allowed && s.n == MAXREG)
			return;         /* the model's own bound */
	}
	ret = vmmem_vhost_add_mem_reg(s.m, &vr, s.fds[file], NULL);
	note("ADD_MEM_REG gpa, size, uaddr, offset",
	     vr.guest_phys_addr, vr.memory_size, vr.userspace_addr,
	     vr.mmap_offset, ret);
	expect(ret, allowed, "ADD_MEM_REG result");
	if (!ret)
		model_add(&vr, file, NULL);
}

static void op_rem(void)
{
	struct vmmem_vhost_region vr;
	int file, match = -1;
	uint64_t allowed = 0;
	long ret;

	if (s.n && u8() % 2) {          /* a region of the table, maybe altered */
		uint8_t k = u8();

		vr = s.reg[k % s.n].vr;
		if (k & 0x10)
			vr.mmap_offset ^= PAGE;         /* not compared */
		if (k & 0x20)
			vr.userspace_addr += PAGE;
	} else {
		draw(&vr, &file);
	}
	if (fields_bad(&vr))
		allowed = 1ull << EINVAL;
	for (int j = 0; j < s.n && !allowed; j++)
		if (s.reg[j].vr.guest_phys_addr == vr.guest_phys_addr &&
		    s.reg[j].vr.memory_size == vr.memory_size &&
		    s.reg[j].vr.userspace_addr == vr.userspace_addr)
			match = j;
	if (!allowed && match < 0)
		allowed = 1ull << ENOENT;
	ret = vmmem_vhost_rem_mem_reg(s.m, &vr);
	note("REM_MEM_REG gpa, size, uaddr, offset",
	     vr.guest_phys_addr, vr.memory_size, vr.userspace_addr,
	     vr.mmap_offset, ret);
	expect(ret, allowed, "REM_MEM_REG result");
	if (ret)
		return;
	vmmem_region_unref(s.reg[match].obj);
	s.reg[match] = s.reg[--s.n];
}

/* The model region holding [uaddr, uaddr + len) in the front-end, or -1. */
static int region_of_uaddr(uint64_t uaddr, uint64_t len)
{
	for (int j = 0; j < s.n; j++) {
		uint64_t u = s.reg[j].vr.userspace_addr;

		if (uaddr >= u && uaddr + (len - 1) <= u + (s.reg[j].vr.memory_size - 1))
			return j;
	}
	return -1;
}

static uint64_t draw_uaddr(uint64_t *len)
{
	static const uint64_t lens[] = { 0, 1, 16, PAGE, FILE, UINT64_MAX };
	uint8_t a = u8();
	uint64_t u = uaddrs[a & 7];

	if (s.n && a & 0x80)
		u = s.reg[a % s.n].vr.userspace_addr + (u8() % 4) * 0x7ff;
	*len = lens[(a >> 3) % 6];
	return u;
}

static void op_translate(void)
{
	uint64_t len, uaddr = draw_uaddr(&len), gpa = 0;
	void *host = NULL, *want;
	int j = -1;
	long ret, ret2;

	ret = vmmem_uaddr_to_gpa(s.m, uaddr, len, &gpa);
	ret2 = vmmem_uaddr_to_host(s.m, uaddr, len, &host);
	note("uaddr_to_gpa uaddr, len, gpa, host", uaddr, len, gpa,
	     (ull)(uintptr_t)host, ret);
	CHECK(ret == ret2, "uaddr_to_host agrees", ret2);
	if (!len || wraps(uaddr, len)) {
		CHECK(ret == -EINVAL, "translate: bad range", ret);
		return;
	}
	j = region_of_uaddr(uaddr, len);
	if (j < 0) {
		CHECK(ret == -EFAULT, "translate: outside", ret);
		return;
	}
	CHECK(ret == 0, "translate: inside", ret);
	CHECK(gpa == s.reg[j].vr.guest_phys_addr + (uaddr - s.reg[j].vr.userspace_addr),
	      "translated gpa", gpa);
	CHECK(vmmem_host_address(s.m, gpa, 1, &want) == 0 && want == host,
	      "translated host pointer", 0);
}

static void op_write(void)
{
	uint8_t k = u8(), b = u8();
	struct mreg *r;
	uint64_t off;

	if (!s.n)
		return;
	r = &s.reg[k % s.n];
	off = (uint64_t)u8() * 0x101 % r->vr.memory_size;
	CHECK(vmmem_write_exact(s.m, r->vr.guest_phys_addr + off, &b, 1) == 0,
	      "write", 0);
	note("write gpa, byte", r->vr.guest_phys_addr + off, b, 0, 0, 0);
	/* every region over the same file bytes sees the write */
	s.bytes[r->file][r->vr.mmap_offset + off] = b;
	model_written(r->vr.guest_phys_addr + off);
}

static void op_iotlb(void)
{
	struct vmmem_vhost_iotlb_msg msg;
	uint64_t len, uaddr = draw_uaddr(&len), allowed = 0, off;
	uint8_t a = u8();
	int j;
	long ret;

	memset(&msg, 0, sizeof(msg));
	msg.iova = (a & 1) ? UINT64_MAX - PAGE + 1 : (uint64_t)(a >> 1) * PAGE;
	msg.size = len;
	msg.uaddr = uaddr;
	msg.perm = u8() % 5;
	msg.type = (uint8_t)(u8() % 5);
	/* Where several errors apply, any of them. */
	if (msg.type != VMMEM_VHOST_IOTLB_UPDATE &&
	    msg.type != VMMEM_VHOST_IOTLB_INVALIDATE)
		allowed = 1ull << EINVAL;
	if (!len || wraps(msg.iova, len))
		allowed |= 1ull << EINVAL;
	if (msg.type == VMMEM_VHOST_IOTLB_UPDATE) {
		if (!len || wraps(uaddr, len))
			allowed |= 1ull << EINVAL;
		else if (region_of_uaddr(uaddr, len) < 0)
			allowed |= 1ull << EFAULT;
		if (!msg.perm || msg.perm > 3)
			allowed |= 1ull << EINVAL;
	}
	ret = vmmem_vhost_iotlb_msg(s.io, &msg);
	note("IOTLB_MSG type, iova, size, uaddr", msg.type, msg.iova, msg.size,
	     msg.uaddr, ret);
	expect(ret, allowed, "IOTLB_MSG result");
	if (ret)
		return;
	if (msg.type == VMMEM_VHOST_IOTLB_INVALIDATE) {
		uint8_t b;

		CHECK(vmmem_iommu_read_exact(s.io, msg.iova, &b, 1) == -EAGAIN,
		      "invalidated IOVA misses", 0);
		return;
	}
	j = region_of_uaddr(uaddr, len);
	off = s.reg[j].vr.mmap_offset + (uaddr - s.reg[j].vr.userspace_addr);
	if (msg.perm & 2) {             /* a write by IOVA, logged at its GPA */
		uint8_t b = (uint8_t)(msg.iova >> 12 ^ 0xa5);

		CHECK(vmmem_iommu_write_exact(s.io, msg.iova, &b, 1) == 0,
		      "write through the IOTLB", 0);
		note("iommu write iova, gpa, byte", msg.iova,
		     s.reg[j].vr.guest_phys_addr +
			     (uaddr - s.reg[j].vr.userspace_addr), b, 0, 0);
		s.bytes[s.reg[j].file][off] = b;
		model_written(s.reg[j].vr.guest_phys_addr +
			      (uaddr - s.reg[j].vr.userspace_addr));
	}
	if (msg.perm & 1) {
		uint8_t b = 0;

		CHECK(vmmem_iommu_read_exact(s.io, msg.iova, &b, 1) == 0 &&
		      b == s.bytes[s.reg[j].file][off], "byte through the IOTLB", b);
	}
}

static void op_dirty(void)
{
	if (s.logging)
		return;
	CHECK(vmmem_dirty_start(s.m, PAGE) == 0, "dirty start", 0);
	s.logging = true;
}

/* ------------------------------------------------- the shared dirty log */

/* Offsets and sizes in the log file: 8-byte and page edges, unaligned,
 * the end of the file, one bit short of the page of GPA 4 GiB and just
 * covering it, sizes not a multiple of 8, past the file, absurd. */
static const uint64_t log_offsets[] = { 0, 8, 4, PAGE, PAGE + 8, 0x123,
					LOGFILE, 1ull << 63 };
static const uint64_t log_sizes[] = { 0, 1, 12, 8, 0x20000, 0x20008,
				      LOGFILE - PAGE, UINT64_MAX - 7 };

static unsigned int draw_log_flags(uint8_t a)
{
	static const unsigned int flags[] = { 0, VMMEM_DIRTY_SHARED_ONLY, 0,
					      VMMEM_DIRTY_SHARED_ONLY | 4 };

	return flags[a & 3];
}

/* Mappings of the log file in this process (read whole: a name may
 * straddle two reads; not malloc'ed: libFuzzer runs an input again to
 * look for a leak when it allocates more than it frees). */
static int count_log_maps(void)
{
	static char buf[1 << 20];
	size_t len = 0;
	ssize_t got;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC), n = 0;

	if (fd < 0)
		abort();
	do {
		got = read(fd, buf + len, sizeof(buf) - 1 - len);
		len += got > 0 ? (size_t)got : 0;
	} while (got > 0 && len < sizeof(buf) - 1);
	close(fd);
	if (len == sizeof(buf) - 1)
		abort();
	buf[len] = 0;
	for (char *p = buf; (p = strstr(p, "memfd:vhost-fuzz-log")); p++)
		n++;
	return n;
}

/* The log file holds the model's bytes. */
static void check_log_bytes(void)
{
	if (memcmp(s.logmap, s.logbytes, LOGFILE))
		for (uint64_t i = 0; i < LOGFILE; i++)
			CHECK(s.logmap[i] == s.logbytes[i], "shared log byte",
			      (long)(i << 8 | s.logmap[i]));
}

/* ... and the library counted the model's missed pages. */
static void check_log(void)
{
	uint64_t missed = ~0ull;

	if (s.log_given)        /* the library cannot write a file unseen */
		check_log_bytes();
	CHECK(vmmem_dirty_shared_missed(s.m, &missed) == 0 && missed == s.missed,
	      "shared log missed count", (long)missed);
}

/* After a log op: the library maps the file once while it uses a log it
 * mapped, and not otherwise (an old log is unmapped when replaced). */
static void check_log_maps(void)
{
	int want = 1 + (s.shared && s.log_by_fd);

	CHECK(count_log_maps() == want, "library's mappings of the log file",
	      count_log_maps() - 1);
}

static void model_log_set(uint64_t off, uint64_t size, unsigned int flags,
			  bool by_fd)
{
	s.shared = true;
	s.log_off = off;
	s.log_size = size;
	s.log_only = flags & VMMEM_DIRTY_SHARED_ONLY;
	s.log_by_fd = by_fd;
}

/* Errors of the arguments both set functions check alike. */
static uint64_t log_arg_errors(struct vmmem *m, uint64_t size,
			       unsigned int flags)
{
	return (!m || !size || (flags & ~VMMEM_DIRTY_SHARED_ONLY)) ?
	       1ull << EINVAL : 0;
}

/* SET_LOG_BASE: the file by descriptor, as it comes, a copy of it the
 * harness closes after the call, reopened read-only or write-only, or a
 * descriptor that is not open. */
static void op_log_set_fd(void)
{
	uint8_t a = u8(), b = u8();
	uint64_t off = log_offsets[a & 7], size = log_sizes[a >> 3 & 7];
	unsigned int flags = draw_log_flags(b);
	struct vmmem *m = (b & 0x80) ? NULL : s.m;
	int kind = b >> 2 & 7, fd = s.logfd;
	uint64_t allowed = log_arg_errors(m, size, flags);
	char path[64];
	long ret;

	if (wraps(off, size) || off > (uint64_t)INT64_MAX ||
	    size > (uint64_t)INT64_MAX - off || size > SIZE_MAX || off % 8)
		allowed |= 1ull << EINVAL;
	if (off > LOGFILE || size > LOGFILE - off)
		allowed |= 1ull << ENXIO;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", s.logfd);
	if (kind == 3 || kind == 4) {
		fd = dup(s.logfd);
	} else if (kind == 5 || kind == 6) {
		fd = open(path, (kind == 5 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
		allowed |= 1ull << EACCES;
	} else if (kind == 7) {
		fd = -1;
		if (b & 0x40) {         /* a number just closed */
			fd = dup(s.logfd);
			close(fd);
		}
		allowed |= 1ull << EBADF;
	}
	if (kind >= 3 && kind <= 6 && fd < 0)
		abort();
	s.log_given = true;
	ret = vmmem_dirty_shared_set_fd(m, fd, size, off, flags);
	note("SET_LOG_BASE fd kind, size, offset, flags", (ull)kind, size, off,
	     flags | (m ? 0 : 0x100), ret);
	expect(ret, allowed, "SET_LOG_BASE result");
	if (fd >= 0)
		CHECK(fcntl(fd, F_GETFD) >= 0 || kind == 7,
		      "log descriptor still the caller's", fd);
	if (kind >= 3 && kind <= 6)
		close(fd);              /* the mapping must keep the file */
	if (!ret)
		model_log_set(off, size, flags, true);
	check_log_maps();
}

/* A log the caller mapped: the harness's own mapping, at an offset that
 * may be misaligned, or NULL. */
static void op_log_set(void)
{
	uint8_t a = u8(), b = u8();
	uint64_t off = log_offsets[a & 7], size = log_sizes[a >> 3 & 7];
	unsigned int flags = draw_log_flags(b);
	struct vmmem *m = (b & 0x80) ? NULL : s.m;
	uint8_t *log = off <= LOGFILE ? s.logmap + off : NULL;
	uint64_t allowed = log_arg_errors(m, size, flags);
	long ret;

	if (!log || size % 8 || off % 8 || wraps((uintptr_t)log, size) ||
	    size > SIZE_MAX)
		allowed |= 1ull << EINVAL;
	if (!allowed && size > LOGFILE - off)
		return;                 /* past the caller's mapping: its bug */
	s.log_given = true;
	ret = vmmem_dirty_shared_set(m, log, size, flags);
	note("shared_set offset, size, flags", off, size, flags | (m ? 0 : 0x100),
	     0, ret);
	expect(ret, allowed, "shared_set result");
	if (!ret)
		model_log_set(off, size, flags, false);
	check_log_maps();
}

static void op_log_stop(void)
{
	bool null = u8() % 8 == 0;
	long ret = vmmem_dirty_shared_stop(null ? NULL : s.m);

	note("shared_stop null", null, 0, 0, 0, ret);
	expect(ret, null ? 1ull << EINVAL : s.shared ? 0 : 1ull << ENOENT,
	       "shared_stop result");
	if (!ret)
		s.shared = false;
	check_log_maps();
}

/* vmmem_dirty_shared_missed() with NULL arguments (check_log() asks it
 * after every op), and the front-end clearing bits it has read: the
 * library must set them again. */
static void op_log_missed_or_clear(void)
{
	uint8_t a = u8();
	uint64_t n = 0, at = log_offsets[a >> 2 & 7] % LOGFILE, len;
	long ret;

	if (a & 1) {
		ret = vmmem_dirty_shared_missed((a & 2) ? s.m : NULL,
						(a & 2) ? NULL : &n);
		note("shared_missed null", a & 2, 0, 0, 0, ret);
		CHECK(ret == -EINVAL, "shared_missed with NULL", ret);
		return;
	}
	len = (a & 2) ? 8 : LOGFILE - at;
	memset(s.logmap + at, 0, len);
	memset(s.logbytes + at, 0, len);
	note("front-end clears log bytes at, len", at, len, 0, 0, 0);
}

/* ------------------------------------------------------------ the run */

/* Open memfds: the library's descriptors are duplicates of the harness's
 * memfds (other descriptors may come and go: the sanitizers' symbolizer
 * keeps pipes open). */
static int count_memfds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		abort();
	while ((e = readdir(d))) {
		char path[300], target[256];
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		target[len > 0 ? len : 0] = 0;
		n += strstr(target, "memfd:vhost-fuzz") != NULL;
	}
	closedir(d);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fds0 = count_memfds();

	in_p = data;
	in_n = size;
	ntrace = 0;
	memset(&s, 0, sizeof(s));
	if (vmmem_new(&s.m, 0) || vmmem_iommu_new(&s.io, s.m, NULL))
		abort();
	for (int f = 0; f < NFILES; f++) {
		s.fds[f] = memfd_create("vhost-fuzz", MFD_CLOEXEC);
		for (uint64_t i = 0; i < FILE; i++)
			s.bytes[f][i] = (uint8_t)(i * 7 + f * 61 + (i >> 8));
		if (s.fds[f] < 0 ||
		    pwrite(s.fds[f], s.bytes[f], FILE, 0) != (ssize_t)FILE)
			abort();
	}
	s.fds[BADFD] = -1;
	/* the front-end's log, with bits of its own the library must keep */
	s.logfd = memfd_create("vhost-fuzz-log", MFD_CLOEXEC);
	for (uint64_t i = 0; i < LOGFILE; i++)
		s.logbytes[i] = i % 61 == 7 ? 0x81 : 0;
	if (s.logfd < 0 ||
	    pwrite(s.logfd, s.logbytes, LOGFILE, 0) != (ssize_t)LOGFILE)
		abort();
	s.logmap = mmap(NULL, LOGFILE, PROT_READ | PROT_WRITE, MAP_SHARED,
			s.logfd, 0);
	if (s.logmap == MAP_FAILED)
		abort();
	for (int n = 0; n < MAXOPS && in_n; n++) {
		uint8_t op = u8();

		switch (op % 8) {
		case 0: op_set(); break;
		case 1: case 2: op_add(); break;
		case 3: op_rem(); break;
		case 4: op_translate(); break;
		case 5: op_write(); break;
		case 6: op_iotlb(); break;
		default:
			/* 0x07, 0x0f, 0x17, 0x1f: the library's log, as
			 * before the shared log ops came */
			switch (op >> 5) {
			case 1: case 2: op_log_set_fd(); break;
			case 3: op_log_set(); break;
			case 4: op_log_stop(); break;
			case 5: case 6: op_log_missed_or_clear(); break;
			default: op_dirty(); break;
			}
			break;
		}
		check_table();
		check_log();
	}
	for (int i = 0; i < s.n; i++)
		vmmem_region_unref(s.reg[i].obj);
	vmmem_iommu_free(s.io);
	vmmem_free(s.m);
	CHECK(count_log_maps() == 1, "log file mapped after vmmem_free",
	      count_log_maps() - 1);
	check_log_bytes();
	munmap(s.logmap, LOGFILE);
	close(s.logfd);
	for (int f = 0; f < NFILES; f++)
		close(s.fds[f]);
	CHECK(count_memfds() == fds0, "descriptors leaked", count_memfds() - fds0);
	return 0;
}
