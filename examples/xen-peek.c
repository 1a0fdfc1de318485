/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * xen-peek: read or write the memory of a Xen domain by guest physical
 * address, from dom0, through libvmmem.
 *
 * It shows the foreign mapping of libvmmem's Xen backend: the frames behind
 * the range are mapped in advance as one region (VMMEM_XEN_FOREIGN, the
 * value a vhost-user Xen memory-region message carries), the region is
 * placed in a struct vmmem at its guest address, and from then on the
 * domain's memory is read and written by guest physical address like any
 * other guest memory.  When frames cannot be mapped (a hole in the guest's
 * memory map), opts.frame_errors says which ones and why.
 *
 *   xen-peek --domid 5 --gpa 0x1000 --len 64            hexdump
 *   xen-peek --domid 5 --gpa 0x1000 --write 48656c6c6f  write "Hello"
 *   xen-peek --domid 5 --gpa 0x1000 --len 4096 --fill 0
 *
 * Run it as root in dom0.  The frames mapped are gpa >> 12 onwards: guest
 * frames of an HVM or PVH domain, machine frames for a PV domain.  Exits 0
 * on success, 1 on failure, 2 on bad arguments.
 *
 *   cc xen-peek.c $(pkg-config --cflags --libs libvmmem xencontrol)
 *
 * For debian/tests/consumer, which builds and runs every example:
 * consumer-modules: xencontrol
 * consumer-run: --help
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xenctrl.h>
#include <libvmmem.h>

#define PAGE            UINT64_C(4096)
#define MAX_LEN         (UINT64_C(64) << 20)   /* a peek, not a dump of the guest */
#define MAX_FRAME_LINES 8

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xen-peek --domid N --gpa ADDR --len LEN\n"
		"       xen-peek --domid N --gpa ADDR [--len LEN] --write HEX\n"
		"       xen-peek --domid N --gpa ADDR --len LEN --fill BYTE\n"
		"Prints LEN bytes of domain N's memory at guest physical address\n"
		"ADDR as a hexdump, or writes the bytes HEX (e.g. 48656c6c6f) or\n"
		"LEN copies of BYTE there, then prints the range.\n");
}

/* A number in C syntax (0x1000, 4096); not "-1" or " -1", which strtoull()
 * would take for 2^64 - 1. */
static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || !isdigit((unsigned char)*s) || *end || v > max)
		return false;
	*out = v;
	return true;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "48656c6c6f" -> 5 bytes; NULL if the string is not whole hex bytes. */
static unsigned char *parse_hex(const char *s, size_t *len)
{
	size_t n = strlen(s);
	unsigned char *buf;

	if (!n || n % 2 || n / 2 > MAX_LEN)
		return NULL;
	buf = malloc(n / 2);
	for (size_t i = 0; buf && i < n / 2; i++) {
		int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			free(buf);
			return NULL;
		}
		buf[i] = (unsigned char)(hi << 4 | lo);
	}
	*len = n / 2;
	return buf;
}

/* xxd style, 16 bytes a line, offsets are guest physical addresses. */
static int hexdump(struct vmmem *mem, uint64_t gpa, uint64_t len)
{
	for (uint64_t off = 0; off < len; off += 16) {
		uint64_t at = gpa + off;
		unsigned char b[16];
		size_t n = len - off < 16 ? (size_t)(len - off) : 16;
		ssize_t got = vmmem_read(mem, at, b, n);

		if (got < 0) {
			fprintf(stderr, "xen-peek: reading GPA 0x%" PRIx64 ": %s\n",
				at, strerror((int)-got));
			return -1;
		}
		n = (size_t)got;        /* the whole line: it is all mapped */
		printf("%08" PRIx64 ":", at);
		for (size_t i = 0; i < 16; i++) {
			if (i % 2 == 0)
				putchar(' ');
			if (i < n)
				printf("%02x", b[i]);
			else
				fputs("  ", stdout);
		}
		fputs("  ", stdout);
		for (size_t i = 0; i < n; i++)
			putchar(b[i] >= 0x20 && b[i] < 0x7f ? b[i] : '.');
		putchar('\n');
	}
	return 0;
}

/* Whether domain domid exists: 1, 0, or -1 with a message. */
static int domain_exists(uint32_t domid)
{
	xc_interface *xch = xc_interface_open(NULL, NULL, 0);
	xc_dominfo_t info;
	int n;

	if (!xch) {
		fprintf(stderr, "xen-peek: cannot open the hypervisor interface: "
			"%s\n", strerror(errno));
		return -1;
	}
	/* The first domain from domid on, if any: domid itself if it exists;
	 * ESRCH if no domain has an id that large. */
	n = xc_domain_getinfo(xch, domid, 1, &info);
	if (n < 0 && errno == ESRCH)
		n = 0;
	else if (n < 0)
		fprintf(stderr, "xen-peek: xc_domain_getinfo: %s\n",
			strerror(errno));
	xc_interface_close(xch);
	return n < 0 ? -1 : n == 1 && info.domid == domid;
}

static void report_frames(uint32_t domid, uint64_t first, const int *err,
			  size_t pages)
{
	size_t failed = 0, shown = 0;

	for (size_t i = 0; i < pages; i++)
		failed += err[i] != 0;
	fprintf(stderr, "xen-peek: %zu of the %zu frames of domain %" PRIu32
		" cannot be mapped:\n", failed, pages, domid);
	for (size_t i = 0; i < pages && shown < MAX_FRAME_LINES; i++)
		if (err[i]) {
			/* 0 or a negative errno value per frame */
			fprintf(stderr, "  gfn 0x%" PRIx64 ": %s\n",
				first / PAGE + i, strerror(-err[i]));
			shown++;
		}
	if (failed > shown)
		fprintf(stderr, "  ... and %zu more\n", failed - shown);
}

/* Maps the whole pages that cover [gpa, gpa + len) of the domain as one
 * foreign region and places it in a new struct vmmem at its address. */
static int map_range(uint32_t domid, uint64_t gpa, uint64_t len, bool write,
		     struct vmmem **out)
{
	uint64_t first = gpa & ~(PAGE - 1);
	uint64_t size = ((gpa + (len - 1)) | (PAGE - 1)) - first + 1;
	size_t pages = (size_t)(size / PAGE);
	int *frame_errors = calloc(pages, sizeof(*frame_errors));
	struct vmmem_xen_opts xo = {
		.sz = sizeof(xo),
		.xen_flags = VMMEM_XEN_FOREIGN,
		.domid = domid,
		.gpa = first,
		.flags = write ? 0 : VMMEM_XEN_READONLY,
		.frame_errors = frame_errors,
	};
	struct vmmem_region *region = NULL;
	struct vmmem *mem = NULL;
	int ret;

	if (!frame_errors) {
		fprintf(stderr, "xen-peek: out of memory\n");
		return -1;
	}
	ret = vmmem_region_new_xen(&region, size, &xo);
	if (ret < 0) {
		size_t i = 0;

		while (i < pages && !frame_errors[i])
			i++;
		if (ret == -EOPNOTSUPP)
			fprintf(stderr, "xen-peek: this libvmmem was built "
				"without Xen support\n");
		else if (i < pages)
			report_frames(domid, first, frame_errors, pages);
		else
			fprintf(stderr, "xen-peek: mapping GPA 0x%" PRIx64
				"-0x%" PRIx64 " of domain %" PRIu32 ": %s\n",
				first, first + size - 1, domid, strerror(-ret));
		free(frame_errors);
		return -1;
	}
	free(frame_errors);
	ret = vmmem_new(&mem, 0);
	if (!ret)
		ret = vmmem_add_region(mem, first, region);
	vmmem_region_unref(region);     /* mem holds its own reference */
	if (ret < 0) {
		fprintf(stderr, "xen-peek: setting up guest memory: %s\n",
			strerror(-ret));
		vmmem_free(mem);
		return -1;
	}
	*out = mem;
	return 0;
}

static const char *opt_name(const struct option *opts, int val)
{
	while (opts->name && opts->val != val)
		opts++;
	return opts->name ? opts->name : "?";
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "domid", required_argument, NULL, 'd' },
		{ "gpa", required_argument, NULL, 'a' },
		{ "len", required_argument, NULL, 'l' },
		{ "write", required_argument, NULL, 'w' },
		{ "fill", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t domid = 0, gpa = 0, len = 0, fill = 0;
	bool have_domid = false, have_gpa = false, have_fill = false;
	unsigned char *data = NULL;     /* --write */
	size_t data_len = 0;
	struct vmmem *mem = NULL;
	const char *why = NULL;
	int opt, ret, status = 1;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		bool ok = true;

		switch (opt) {
		case 'd':
			ok = have_domid = parse_u64(optarg, DOMID_FIRST_RESERVED - 1,
						    &domid);
			break;
		case 'a': ok = have_gpa = parse_u64(optarg, UINT64_MAX, &gpa); break;
		case 'l': ok = parse_u64(optarg, MAX_LEN, &len) && len; break;
		case 'f': ok = have_fill = parse_u64(optarg, 255, &fill); break;
		case 'w':
			free(data);
			ok = (data = parse_hex(optarg, &data_len)) != NULL;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (!ok) {
			fprintf(stderr, "xen-peek: bad --%s: '%s'\n",
				opt_name(opts, opt), optarg);
			usage(stderr);
			free(data);
			return 2;
		}
	}
	if (data && !len)
		len = data_len;
	if (optind < argc)
		why = "too many arguments";
	else if (!have_domid || !have_gpa || !len)
		why = "--domid, --gpa and --len (or --write) are needed";
	else if (data && have_fill)
		why = "--write and --fill exclude each other";
	else if (data && len != data_len)
		why = "--len differs from the length of --write";
	else if (gpa + (len - 1) < gpa)
		why = "the range wraps around 2^64";
	if (why) {
		fprintf(stderr, "xen-peek: %s\n", why);
		usage(stderr);
		free(data);
		return 2;
	}

	/* "Not dom0" and "no such domain" are told apart from the failures
	 * of the mapping itself. */
	if (access("/dev/xen/privcmd", F_OK) != 0) {
		fprintf(stderr, "xen-peek: /dev/xen/privcmd does not exist: this "
			"is not a Xen dom0 (or the xen-privcmd driver is not "
			"loaded)\n");
		goto out;
	}
	ret = domain_exists((uint32_t)domid);
	if (ret == 0)
		fprintf(stderr, "xen-peek: domain %" PRIu64 " does not exist\n",
			domid);
	if (ret <= 0 ||
	    map_range((uint32_t)domid, gpa, len, data || have_fill, &mem) < 0)
		goto out;

	if (data) {
		ssize_t n = vmmem_write(mem, gpa, data, data_len);

		ret = n < 0 ? (int)n : (size_t)n == data_len ? 0 : -EFAULT;
	} else if (have_fill) {
		ret = vmmem_fill(mem, gpa, (int)fill, len);
	}
	if (ret < 0) {
		fprintf(stderr, "xen-peek: writing GPA 0x%" PRIx64 ": %s\n", gpa,
			strerror(-ret));
		goto out;
	}
	if (data || have_fill)
		printf("wrote %" PRIu64 " bytes at GPA 0x%" PRIx64 "\n", len,
		       gpa);
	if (hexdump(mem, gpa, len) == 0)
		status = 0;
out:
	vmmem_free(mem);
	free(data);
	return status;
}
