/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * kvm-demo: a tiny virtual machine whose RAM is libvmmem guest memory.
 *
 * Three regions of memfd-backed, shareable memory are placed in one guest
 * physical address space, two side by side and one after a gap:
 *
 *   A  0x000000-0x00ffff  guest program at 0x1000, message buffer (start)
 *   B  0x010000-0x01ffff  message buffer (end), reply at 0x11000
 *      0x020000-0x0fffff  gap: no memory
 *   C  0x100000-0x10ffff  mailbox at 0x100000, descriptor table at 0x101000,
 *                         message pieces at 0x102000
 *
 * Each region becomes a KVM memory slot at the host address libvmmem reports,
 * with KVM's dirty logging on.  The VMM loads a small 32-bit guest program and
 * its data through libvmmem.  The guest walks the descriptor table to gather
 * the message pieces into a buffer that crosses the boundary between A and B,
 * checksums it and knocks on I/O port 0x10; the VMM checks the message, prints
 * it to stdout straight from guest memory and writes a reply; the guest
 * checksums the reply, knocks on port 0x11 and halts.  Finally the VMM checks
 * both dirty logs: KVM's for the pages the guest wrote, libvmmem's for the
 * pages the VMM wrote.
 *
 * Protocol.  The mailbox (request block) at GPA 0x100000 holds little-endian
 * 32-bit fields, written by the side named:
 *
 *   +0x00 desc       VMM    GPA of the descriptor table
 *   +0x04 buf        VMM    GPA of the buffer to gather the message into
 *   +0x08 msg_len    guest  bytes gathered
 *   +0x0c msg_sum    guest  sum of the gathered bytes, modulo 2^32
 *   +0x10 reply      guest  GPA where the VMM is to write its reply
 *   +0x14 reply_len  VMM    length of the reply, stored last (release)
 *   +0x18 reply_sum  guest  sum of the reply bytes, modulo 2^32
 *
 * A descriptor is { u32 gpa; u32 len; }; a descriptor of length 0 ends the
 * table.  The guest signals with one-byte OUTs (the byte is ignored): port
 * 0x10 "message gathered, please reply", port 0x11 "reply checksummed, done";
 * then it executes HLT.
 *
 * Without a usable /dev/kvm the demo says so and runs the memory-only part
 * (regions, loading, libvmmem's dirty log): it exits 0, or 77 (skipped) when
 * VMMEM_TEST is set, as `make check` does.  VMMEM_KVM_DEVICE names another
 * device than /dev/kvm, to try that path.
 *
 *   cc kvm-demo.c $(pkg-config --cflags --libs libvmmem)
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/kvm.h>

#include <libvmmem.h>

/* The guest program is x86 code; elsewhere only the memory part runs. */
#if defined(__x86_64__) || defined(__i386__)
#define X86 1
#else
#define X86 0
#endif

#define PAGE         4096u               /* x86 page: both dirty logs use it */
#define REGION_SIZE  (64u * 1024)
#define REGION_PAGES (REGION_SIZE / PAGE)
#define NSLOTS       3
#define A_GPA        0x000000u
#define B_GPA        0x010000u           /* right after A: a boundary */
#define C_GPA        0x100000u           /* after a gap */
#define SPACE_END    (C_GPA + REGION_SIZE)
#define PAGE_OF(gpa) ((uint64_t)(gpa) & ~(uint64_t)(PAGE - 1))
#define NELEM(a)     (sizeof(a) / sizeof((a)[0]))

#define CODE_GPA     0x001000u           /* in A */
#define BUF_GPA      (B_GPA - 32)        /* 32 bytes in A, the rest in B */
#define REPLY_GPA    0x011000u           /* in B, chosen by the guest */
#define MAILBOX      C_GPA
#define DESC_GPA     0x101000u
#define PIECES_GPA   0x102000u

/* Mailbox fields, as offsets from MAILBOX. */
#define MB_DESC      0x00
#define MB_BUF       0x04
#define MB_MSG_LEN   0x08
#define MB_MSG_SUM   0x0c
#define MB_REPLY     0x10
#define MB_REPLY_LEN 0x14
#define MB_REPLY_SUM 0x18

#define PORT_MESSAGE 0x10
#define PORT_DONE    0x11

_Static_assert(B_GPA == A_GPA + REGION_SIZE, "A and B must touch");
_Static_assert(C_GPA > B_GPA + REGION_SIZE, "there must be a gap before C");
_Static_assert(MAILBOX == 0x100000 && REPLY_GPA == 0x11000,
	       "guest_code has these two addresses built in");

/*
 * The guest program, loaded at CODE_GPA and entered in 32-bit protected mode
 * with flat segments and paging off, so a GPA is an address.  Hand-assembled;
 * the source is beside the bytes.  It uses no stack, so it writes no memory
 * but the message buffer and the mailbox.
 */
static const unsigned char guest_code[] = {
	/* offset, source (Intel syntax) */
	0xbb, 0x00, 0x00, 0x10, 0x00, /* 00 mov  ebx, 0x100000  ; mailbox */
	0x8b, 0x2b,                   /* 05 mov  ebp, [ebx+0x00] ; desc */
	0x8b, 0x7b, 0x04,             /* 07 mov  edi, [ebx+0x04] ; buf */
	0xfc,                         /* 0a cld */
	/* walk: copy each descriptor's bytes to edi, up to one of length 0 */
	0x8b, 0x4d, 0x04,             /* 0b mov  ecx, [ebp+4]    ; len */
	0xe3, 0x0a,                   /* 0e jecxz gathered (1a) */
	0x8b, 0x75, 0x00,             /* 10 mov  esi, [ebp+0]    ; gpa */
	0xf3, 0xa4,                   /* 13 rep movsb */
	0x83, 0xc5, 0x08,             /* 15 add  ebp, 8 */
	0xeb, 0xf1,                   /* 18 jmp  walk (0b) */
	/* gathered: store the length and the sum of the bytes */
	0x8b, 0x73, 0x04,             /* 1a mov  esi, [ebx+0x04] ; buf */
	0x89, 0xf9,                   /* 1d mov  ecx, edi */
	0x29, 0xf1,                   /* 1f sub  ecx, esi */
	0x89, 0x4b, 0x08,             /* 21 mov  [ebx+0x08], ecx ; msg_len */
	0x31, 0xc0,                   /* 24 xor  eax, eax */
	0xe3, 0x08,                   /* 26 jecxz sum1_done (30) */
	/* sum1: */
	0x0f, 0xb6, 0x16,             /* 28 movzx edx, byte [esi] */
	0x01, 0xd0,                   /* 2b add  eax, edx */
	0x46,                         /* 2d inc  esi */
	0xe2, 0xf8,                   /* 2e loop sum1 (28) */
	/* sum1_done: ask for the reply at 0x11000 */
	0x89, 0x43, 0x0c,             /* 30 mov  [ebx+0x0c], eax ; msg_sum */
	0xc7, 0x43, 0x10,             /* 33 mov  dword [ebx+0x10], 0x11000 */
	0x00, 0x10, 0x01, 0x00,       /*                         ; reply */
	0xe6, 0x10,                   /* 3a out  0x10, al */
	/* the VMM has answered: sum the reply */
	0x8b, 0x4b, 0x14,             /* 3c mov  ecx, [ebx+0x14] ; reply_len */
	0x8b, 0x73, 0x10,             /* 3f mov  esi, [ebx+0x10] ; reply */
	0x31, 0xc0,                   /* 42 xor  eax, eax */
	0xe3, 0x08,                   /* 44 jecxz sum2_done (4e) */
	/* sum2: */
	0x0f, 0xb6, 0x16,             /* 46 movzx edx, byte [esi] */
	0x01, 0xd0,                   /* 49 add  eax, edx */
	0x46,                         /* 4b inc  esi */
	0xe2, 0xf8,                   /* 4c loop sum2 (46) */
	/* sum2_done: */
	0x89, 0x43, 0x18,             /* 4e mov  [ebx+0x18], eax ; reply_sum */
	0xe6, 0x11,                   /* 51 out  0x11, al */
	/* stop: */
	0xf4,                         /* 53 hlt */
	0xeb, 0xfd,                   /* 54 jmp  stop (53) */
};

/* The message, in the pieces the descriptor table lists. */
static const char *const pieces[] = {
	"Hello, VMM! ",
	"I gathered these 3 pieces ",
	"across the A|B boundary.",
};
#define NPIECES NELEM(pieces)

static const char *const slot_role[NSLOTS] = {
	"A: program, message buffer (start)",
	"B: message buffer (end), reply",
	"C: mailbox, descriptors, pieces",
};
static const uint64_t slot_gpa[NSLOTS] = { A_GPA, B_GPA, C_GPA };

struct demo {
	struct vmmem *mem;
	struct vmmem_region *region[NSLOTS];
	int kvm, vm, vcpu;           /* -1 when not open */
	struct kvm_run *run;         /* the vCPU's shared page(s), or NULL */
	size_t run_size;
	char message[160];           /* what the guest should gather */
	uint32_t message_len;
	char reply[96];              /* what the VMM answered */
	uint32_t reply_len;
	int stage;                   /* last port knocked on, 0 before */
};

/* A set of guest pages, in increasing GPA order. */
#define MAX_PAGES 8
struct pages {
	unsigned int n;              /* may exceed MAX_PAGES: then truncated */
	uint64_t gpa[MAX_PAGES];
};

/* Says what failed, with the errno value err if it is not 0. */
static int fail(const char *what, int err)
{
	if (err)
		fprintf(stderr, "kvm-demo: %s: %s\n", what, strerror(err));
	else
		fprintf(stderr, "kvm-demo: %s\n", what);
	return -1;
}

static uint32_t checksum(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t sum = 0;

	while (len--)
		sum += *p++;
	return sum;
}

/* ------------------------------------------------------ guest memory */

static int setup_memory(struct demo *d)
{
	struct vmmem_region_opts opts = {
		.sz = sizeof(opts), .flags = VMMEM_REGION_SHAREABLE,
		.name = "kvm-demo-ram",
	};
	int ret = vmmem_new(&d->mem, 0);

	for (int i = 0; i < NSLOTS && ret == 0; i++) {
		ret = vmmem_region_new(&d->region[i], REGION_SIZE, &opts);
		if (ret == 0)
			ret = vmmem_add_region(d->mem, slot_gpa[i],
					       d->region[i]);
	}
	if (ret < 0)
		return fail("setting up guest memory", -ret);

	printf("guest memory: %d regions of memfd-backed, shareable memory\n",
	       vmmem_num_regions(d->mem));
	for (int i = 0; i < NSLOTS; i++) {
		void *host = NULL;

		vmmem_region_host_address(d->region[i], &host);
		printf("  GPA 0x%06" PRIx64 "-0x%06" PRIx64 "  %3u KiB  host %p"
		       "  %s\n", slot_gpa[i], slot_gpa[i] + REGION_SIZE - 1,
		       REGION_SIZE / 1024, host, slot_role[i]);
		if (i == 1)
			printf("  GPA 0x%06x-0x%06x  %3u KiB  gap: no memory\n",
			       B_GPA + REGION_SIZE, C_GPA - 1,
			       (C_GPA - B_GPA - REGION_SIZE) / 1024);
	}
	/* The gap must really be a hole: an access that reaches it fails. */
	ret = vmmem_check_range(d->mem, B_GPA + REGION_SIZE - 1, 2);
	if (ret != -EFAULT) {
		fprintf(stderr, "kvm-demo: an access into the gap gave %d, "
			"not -EFAULT\n", ret);
		return -1;
	}
	return 0;
}

/* Writes the program, the message pieces (in reverse order, so that only
 * following the descriptors puts them back together), the descriptor table
 * and the mailbox, all through libvmmem. */
static int load_guest(struct demo *d)
{
	uint64_t at = PIECES_GPA;
	int ret = vmmem_write_exact(d->mem, CODE_GPA, guest_code,
				    sizeof(guest_code));

	for (size_t i = NPIECES; i-- > 0 && ret == 0;) {
		uint32_t len = (uint32_t)strlen(pieces[i]);
		uint64_t desc = DESC_GPA + 8 * i;

		if ((ret = vmmem_write_exact(d->mem, at, pieces[i], len)) ||
		    (ret = vmmem_write_le32(d->mem, desc, (uint32_t)at)) ||
		    (ret = vmmem_write_le32(d->mem, desc + 4, len)))
			break;
		at += len;
	}
	if (ret == 0 &&
	    !(ret = vmmem_write_le32(d->mem, DESC_GPA + 8 * NPIECES + 4, 0)) &&
	    !(ret = vmmem_write_le32(d->mem, MAILBOX + MB_DESC, DESC_GPA)))
		ret = vmmem_write_le32(d->mem, MAILBOX + MB_BUF, BUF_GPA);
	if (ret < 0)
		return fail("loading the guest", -ret);

	d->message[0] = '\0';
	for (size_t i = 0; i < NPIECES; i++)
		strcat(d->message, pieces[i]);
	d->message_len = (uint32_t)strlen(d->message);
	printf("loaded through libvmmem: the %zu-byte guest program at 0x%x, "
	       "%zu message pieces\n  at 0x%x, their descriptors at 0x%x, "
	       "the mailbox at 0x%x\n", sizeof(guest_code), CODE_GPA, NPIECES,
	       PIECES_GPA, DESC_GPA, MAILBOX);
	return 0;
}

/* ---------------------------------------------------------- dirty logs */

static void pages_add(struct pages *p, const uint64_t *bitmap, uint64_t base,
		      uint64_t npages)
{
	for (uint64_t i = 0; i < npages; i++) {
		if (!((bitmap[i / 64] >> (i % 64)) & 1))
			continue;
		if (p->n < MAX_PAGES)
			p->gpa[p->n] = base + i * PAGE;
		p->n++;
	}
}

/* Prints a page set and whether it is exactly the one expected. */
static bool check_pages(const char *what, const struct pages *got,
			const uint64_t *want, unsigned int nwant)
{
	bool ok = got->n == nwant;

	printf("%-46s", what);
	for (unsigned int i = 0; i < got->n && i < MAX_PAGES; i++) {
		printf(" 0x%" PRIx64, got->gpa[i]);
		ok = ok && got->gpa[i] == want[i];
	}
	if (got->n > MAX_PAGES)
		fputs(" ...", stdout);
	else if (got->n == 0)
		fputs(" (none)", stdout);
	if (ok) {
		printf("  ok\n");
		return true;
	}
	printf("  WRONG, expected:");
	for (unsigned int i = 0; i < nwant; i++)
		printf(" 0x%" PRIx64, want[i]);
	printf("\n");
	return false;
}

/* What the VMM wrote since the last harvest, from libvmmem's log. */
static int harvest_vmmem(struct demo *d, struct pages *p)
{
	uint64_t bitmap[(SPACE_END / PAGE + 63) / 64];
	int ret = vmmem_dirty_harvest(d->mem, 0, SPACE_END, bitmap);

	if (ret < 0)
		return fail("vmmem_dirty_harvest", -ret);
	p->n = 0;
	pages_add(p, bitmap, 0, SPACE_END / PAGE);
	return 0;
}

/* What the guest wrote, from KVM's log: one bitmap per memory slot. */
static int harvest_kvm(struct demo *d, struct pages *p)
{
	p->n = 0;
	for (int slot = 0; slot < NSLOTS; slot++) {
		uint64_t bitmap[(REGION_PAGES + 63) / 64] = { 0 };
		struct kvm_dirty_log log = {
			.slot = (uint32_t)slot, .dirty_bitmap = bitmap,
		};

		if (ioctl(d->vm, KVM_GET_DIRTY_LOG, &log) < 0)
			return fail("KVM_GET_DIRTY_LOG", errno);
		pages_add(p, bitmap, slot_gpa[slot], REGION_PAGES);
	}
	return 0;
}

/* -------------------------------------------------------------- KVM */

/* Opens KVM and creates a VM: 0 on success, 1 if KVM is not usable here. */
static int open_kvm(struct demo *d, const char *dev)
{
	int api;

	if (!X86) {
		printf("KVM: the guest program is x86 code, and this host is "
		       "not x86\n");
		return 1;
	}
	d->kvm = open(dev, O_RDWR | O_CLOEXEC);
	if (d->kvm < 0) {
		printf("KVM: cannot open %s: %s\n", dev, strerror(errno));
		return 1;
	}
	api = ioctl(d->kvm, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION) {
		printf("KVM: %s: KVM_GET_API_VERSION gave %d (%s), not %d\n",
		       dev, api, api < 0 ? strerror(errno) : "wrong version",
		       KVM_API_VERSION);
		return 1;
	}
	d->vm = ioctl(d->kvm, KVM_CREATE_VM, 0);
	if (d->vm < 0) {
		printf("KVM: %s: KVM_CREATE_VM: %s\n", dev, strerror(errno));
		return 1;
	}
	printf("KVM: %s, API version %d\n", dev, api);
	return 0;
}

static int setup_vcpu(struct demo *d);

/* Gives the VM its memory and a vCPU about to run the guest program. */
static int setup_vm(struct demo *d)
{
	int size;

#if X86
	/* A vCPU starts in real mode, which KVM emulates with a TSS of three
	 * pages on Intel CPUs without "unrestricted guest": put it at the
	 * usual place, far from our memory.  Harmless elsewhere. */
	if (ioctl(d->vm, KVM_SET_TSS_ADDR, 0xfffbd000ul) < 0)
		return fail("KVM_SET_TSS_ADDR", errno);
#endif

	for (int slot = 0; slot < NSLOTS; slot++) {
		struct kvm_userspace_memory_region mr = {
			.slot = (uint32_t)slot,
			.flags = KVM_MEM_LOG_DIRTY_PAGES,
			.guest_phys_addr = slot_gpa[slot],
			.memory_size = REGION_SIZE,
		};
		void *host;
		int ret = vmmem_region_host_address(d->region[slot], &host);

		if (ret < 0)
			return fail("vmmem_region_host_address", -ret);
		mr.userspace_addr = (uint64_t)(uintptr_t)host;
		if (ioctl(d->vm, KVM_SET_USER_MEMORY_REGION, &mr) < 0)
			return fail("KVM_SET_USER_MEMORY_REGION", errno);
	}

	d->vcpu = ioctl(d->vm, KVM_CREATE_VCPU, 0);
	if (d->vcpu < 0)
		return fail("KVM_CREATE_VCPU", errno);
	size = ioctl(d->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(struct kvm_run))
		return fail("KVM_GET_VCPU_MMAP_SIZE",
			    size < 0 ? errno : EINVAL);
	d->run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      d->vcpu, 0);
	if (d->run == MAP_FAILED) {
		d->run = NULL;
		return fail("mmap of the vCPU's kvm_run", errno);
	}
	d->run_size = (size_t)size;
	return setup_vcpu(d);
}

/* Points the vCPU at the guest program, in 32-bit protected mode. */
static int setup_vcpu(struct demo *d)
{
#if X86
	struct kvm_segment seg = {
		.base = 0, .limit = 0xffffffff, .selector = 0x08, .type = 0xb,
		.present = 1, .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1,
	};
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	/* Protected mode straight away: KVM loads the segment registers'
	 * hidden parts from sregs, so no GDT is needed as long as the guest
	 * never reloads a segment register, and this one does not. */
	if (ioctl(d->vcpu, KVM_GET_SREGS, &sregs) < 0)
		return fail("KVM_GET_SREGS", errno);
	sregs.cs = seg;                          /* code: execute/read */
	seg.type = 0x3;                          /* data: read/write */
	seg.selector = 0x10;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = seg;
	sregs.cr0 |= 1;                          /* CR0.PE; paging stays off */
	if (ioctl(d->vcpu, KVM_SET_SREGS, &sregs) < 0)
		return fail("KVM_SET_SREGS", errno);

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;                       /* bit 1 is always set */
	regs.rip = CODE_GPA;
	if (ioctl(d->vcpu, KVM_SET_REGS, &regs) < 0)
		return fail("KVM_SET_REGS", errno);
	printf("KVM: %d memory slots at the regions' host addresses, dirty "
	       "logging on;\n     one vCPU in 32-bit protected mode at 0x%x\n",
	       NSLOTS, CODE_GPA);
	return 0;
#else
	(void)d;
	return fail("the guest program needs an x86 vCPU", 0);
#endif
}

/* Port 0x10: check the gathered message, print it, write the reply. */
static int on_message(struct demo *d)
{
	static char prefix[] = "            \"", suffix[] = "\"\n";
	uint32_t len = 0, sum = 0, reply_gpa = 0;
	char buf[sizeof(d->message)];
	struct iovec iov[4];
	ssize_t written;
	int n, ret;

	if ((ret = vmmem_read_le32(d->mem, MAILBOX + MB_MSG_LEN, &len)) ||
	    (ret = vmmem_read_le32(d->mem, MAILBOX + MB_MSG_SUM, &sum)) ||
	    (ret = vmmem_read_le32(d->mem, MAILBOX + MB_REPLY, &reply_gpa)))
		return fail("reading the mailbox", -ret);
	printf("  OUT 0x%02x  message gathered: %" PRIu32 " bytes at 0x%x, "
	       "checksum 0x%" PRIx32 "\n", PORT_MESSAGE, len, BUF_GPA, sum);
	if (len != d->message_len)
		return fail("the guest gathered the wrong length", 0);
	if ((ret = vmmem_read_exact(d->mem, BUF_GPA, buf, len)) < 0)
		return fail("vmmem_read_exact of the message", -ret);
	if (memcmp(buf, d->message, len) != 0)
		return fail("the guest gathered the wrong bytes", 0);
	if (sum != checksum(d->message, len))
		return fail("the guest's checksum is wrong", 0);

	/* Print the message from guest memory itself, one piece per region. */
	n = vmmem_iovec(d->mem, BUF_GPA, len, iov + 1, 2);
	if (n < 0)
		return fail("vmmem_iovec", -n);
	if (n != 2)
		return fail("the message should span two regions", 0);
	printf("            both right; it spans regions A and B (%zu + %zu "
	       "bytes), so writev\n            prints it from 2 host pieces:\n",
	       iov[1].iov_len, iov[2].iov_len);
	iov[0] = (struct iovec){ prefix, sizeof(prefix) - 1 };
	iov[3] = (struct iovec){ suffix, sizeof(suffix) - 1 };
	fflush(stdout);                  /* keep stdio's text in order */
	written = writev(STDOUT_FILENO, iov, 4);
	if (written != (ssize_t)(sizeof(prefix) - 1 + len + sizeof(suffix) - 1))
		return fail("writev to stdout", written < 0 ? errno : EIO);

	/* The reply goes where the guest asked, if that is guest memory. */
	n = snprintf(d->reply, sizeof(d->reply), "thanks, guest: %" PRIu32
		     " bytes, checksum 0x%" PRIx32 ", all correct", len, sum);
	if (n < 0 || (size_t)n >= sizeof(d->reply))
		return fail("formatting the reply", EOVERFLOW);
	d->reply_len = (uint32_t)n;
	if ((ret = vmmem_check_range(d->mem, reply_gpa, d->reply_len)) < 0)
		return fail("the guest's reply address", -ret);
	if ((ret = vmmem_write_exact(d->mem, reply_gpa, d->reply,
				     d->reply_len)) < 0)
		return fail("vmmem_write_exact of the reply", -ret);
	/* Length last, with release order: whoever reads it then sees the
	 * reply.  Host byte order is the guest's here: both are x86. */
	if ((ret = vmmem_store(d->mem, MAILBOX + MB_REPLY_LEN, 4, d->reply_len,
			       VMMEM_ORDER_RELEASE)) < 0)
		return fail("vmmem_store of the reply length", -ret);
	printf("            reply written: %" PRIu32 " bytes at 0x%" PRIx32
	       " (where the guest asked),\n            then its length, with "
	       "release order\n", d->reply_len, reply_gpa);
	return 0;
}

/* Port 0x11: the guest has checksummed the reply. */
static int on_done(struct demo *d)
{
	uint32_t sum = 0;
	int ret = vmmem_read_le32(d->mem, MAILBOX + MB_REPLY_SUM, &sum);

	if (ret < 0)
		return fail("reading the mailbox", -ret);
	if (sum != checksum(d->reply, d->reply_len))
		return fail("the guest's checksum of the reply is wrong", 0);
	printf("  OUT 0x%02x  done: the guest's checksum of the reply, 0x%"
	       PRIx32 ", is right\n", PORT_DONE, sum);
	return 0;
}

static int unexpected_exit(struct demo *d, const char *why)
{
#if X86
	struct kvm_regs regs;
#endif
	struct kvm_run *run = d->run;

	fprintf(stderr, "kvm-demo: unexpected exit from the guest: %s "
		"(exit reason %" PRIu32, why, (uint32_t)run->exit_reason);
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		fprintf(stderr, ": %s port 0x%x, size %u, count %u",
			run->io.direction == KVM_EXIT_IO_OUT ? "OUT" : "IN",
			run->io.port, run->io.size, run->io.count);
		break;
	case KVM_EXIT_MMIO:         /* an access where no slot is: the gap */
		fprintf(stderr, ": MMIO at 0x%" PRIx64,
			(uint64_t)run->mmio.phys_addr);
		break;
	case KVM_EXIT_SHUTDOWN:
		fprintf(stderr, ": shutdown, a triple fault");
		break;
	case KVM_EXIT_FAIL_ENTRY:
		fprintf(stderr, ": entry failed, hardware reason 0x%" PRIx64,
			(uint64_t)
			run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		fprintf(stderr, ": internal error %" PRIu32,
			(uint32_t)run->internal.suberror);
		break;
	}
#if X86
	if (ioctl(d->vcpu, KVM_GET_REGS, &regs) == 0)
		fprintf(stderr, ", RIP 0x%" PRIx64, (uint64_t)regs.rip);
#endif
	fprintf(stderr, ")\n");
	return -1;
}

/* A guest that loops forever never comes back from KVM_RUN: give up. */
static void watchdog(int sig)
{
	static const char msg[] =
		"kvm-demo: the guest did not finish within 10 seconds\n";
	ssize_t ignored = write(STDERR_FILENO, msg, sizeof(msg) - 1);

	(void)ignored;
	(void)sig;
	_exit(1);
}

/* Runs the guest until it halts, answering its two requests in order. */
static int run_guest(struct demo *d)
{
	struct kvm_run *run = d->run;

	printf("running the guest:\n");
	for (;;) {
		int ret = -1;

		if (ioctl(d->vcpu, KVM_RUN, 0) < 0)
			return fail("KVM_RUN", errno);
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			if (run->io.direction != KVM_EXIT_IO_OUT ||
			    run->io.size != 1 || run->io.count != 1)
				return unexpected_exit(d, "not a one-byte OUT");
			if (run->io.port == PORT_MESSAGE && d->stage == 0)
				ret = on_message(d);
			else if (run->io.port == PORT_DONE &&
				 d->stage == PORT_MESSAGE)
				ret = on_done(d);
			else
				return unexpected_exit(d, "port out of turn");
			if (ret < 0)
				return ret;
			d->stage = run->io.port;
			break;
		case KVM_EXIT_HLT:
			if (d->stage != PORT_DONE)
				return unexpected_exit(d, "HLT too early");
			printf("  HLT       the guest has stopped\n");
			return 0;
		default:
			return unexpected_exit(d, "not OUT nor HLT");
		}
	}
}

/* ------------------------------------------------------------- main */

int main(void)
{
	const char *dev = getenv("VMMEM_KVM_DEVICE");
	const char *test = getenv("VMMEM_TEST");
	bool under_test = test && *test && strcmp(test, "0") != 0;
	const uint64_t loaded[] = { CODE_GPA, MAILBOX, DESC_GPA, PIECES_GPA };
	const uint64_t by_guest[] = { PAGE_OF(BUF_GPA), B_GPA, MAILBOX };
	const uint64_t by_vmm[] = { REPLY_GPA, MAILBOX };
	struct demo d = { .kvm = -1, .vm = -1, .vcpu = -1 };
	struct pages pages = { 0 };
	int ret, status = 1;
	bool ok;

	if (!dev || !*dev)
		dev = "/dev/kvm";
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("kvm-demo: a KVM guest whose RAM is libvmmem guest memory\n");

	/* The memory-only part: libvmmem alone. */
	if (setup_memory(&d) < 0)
		goto out;
	if ((ret = vmmem_dirty_start(d.mem, PAGE)) < 0) {
		fail("vmmem_dirty_start", -ret);
		goto out;
	}
	if (load_guest(&d) < 0 || harvest_vmmem(&d, &pages) < 0)
		goto out;
	ok = check_pages("libvmmem dirty log, VMM writes while loading:",
			 &pages, loaded, NELEM(loaded));

	ret = open_kvm(&d, dev);
	if (ret > 0) {
		/* Not an error: the libvmmem side has run and been checked. */
		printf("KVM is not usable here, so no guest runs; only the "
		       "memory part above was checked\nkvm-demo: %s\n",
		       !ok ? "FAILED" : under_test ?
		       "memory part passed; exit 77, test skipped" :
		       "memory part passed");
		status = !ok ? 1 : under_test ? 77 : 0;
		goto out;
	}
	if (setup_vm(&d) < 0)
		goto out;
	if (signal(SIGALRM, watchdog) == SIG_ERR) {
		fail("signal", errno);
		goto out;
	}
	alarm(10);
	ret = run_guest(&d);
	alarm(0);
	if (ret < 0 || harvest_kvm(&d, &pages) < 0)
		goto out;

	/* The guest's writes reach the memfds through KVM's page tables,
	 * which libvmmem does not see; the VMM's go through libvmmem, which
	 * KVM does not see.  So each log holds the pages of one side only. */
	ok &= check_pages("KVM dirty log, guest writes:", &pages, by_guest,
			  NELEM(by_guest));
	if (harvest_vmmem(&d, &pages) < 0)
		goto out;
	ok &= check_pages("libvmmem dirty log, VMM writes while running:",
			  &pages, by_vmm, NELEM(by_vmm));
	printf("kvm-demo: %s\n", ok ? "all checks passed" : "FAILED");
	status = ok ? 0 : 1;
out:
	if (d.run)
		munmap(d.run, d.run_size);
	if (d.vcpu >= 0)
		close(d.vcpu);
	if (d.vm >= 0)
		close(d.vm);
	if (d.kvm >= 0)
		close(d.kvm);
	vmmem_free(d.mem);
	for (int i = 0; i < NSLOTS; i++)
		vmmem_region_unref(d.region[i]);
	return status;
}
