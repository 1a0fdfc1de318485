/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* libfault.so: the LD_PRELOAD interposer of the fault-injection tests.
 *
 * It defines the libc (and libnuma) functions libvmmem calls through its
 * PLT, so that the dynamic linker binds libvmmem's calls to them; each one
 * forwards to the next definition (dlsym(RTLD_NEXT)), except when the test
 * armed it to fail.  See fault.h for the control interface.
 *
 * Only calls whose return address lies in libvmmem.so count (and
 * registrations of fork handlers on behalf of libvmmem's image).  Calls from
 * libc itself, liburcu (its call_rcu thread and reader registry), Check and
 * the test program pass straight through and are not tracked, with one
 * exception: free(), munmap() and close() of something libvmmem created
 * are tracked whoever calls them.
 *
 * Written for LP64 glibc, where libvmmem imports the plain names (mmap,
 * ftruncate, fstat, ...), not their *64 variants; on an ILP32 ABI
 * test-faults skips. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <numaif.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "fault.h"

#define EXPORT __attribute__((visibility("default")))

/* The control interface (fault.h). */
EXPORT fault_ready_fn fault_ready;
EXPORT fault_begin_fn fault_begin;
EXPORT fault_arm_fn fault_arm;
EXPORT fault_end_fn fault_end;
EXPORT fault_get_fn fault_get;
EXPORT fault_balance_fn fault_balance;

/* ------------------------------------------------------ the next symbols */

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void (*real_free)(void *);

/* dlsym() may allocate: while the allocator is being looked up, requests
 * are served from this buffer (zeroed, never freed). */
static _Alignas(64) unsigned char boot_heap[64 << 10];
static size_t boot_used;
static int alloc_resolving;

static void *boot_alloc(size_t n)
{
	void *p;

	n = (n + 63) & ~(size_t)63;
	if (n > sizeof(boot_heap) - boot_used)
		return NULL;
	p = boot_heap + boot_used;
	boot_used += n;
	return p;
}

static bool is_boot(const void *p)
{
	return (const unsigned char *)p >= boot_heap &&
	       (const unsigned char *)p < boot_heap + sizeof(boot_heap);
}

static void resolve_alloc(void)
{
	if (alloc_resolving)
		return;
	alloc_resolving = 1;
	real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
	real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
	real_posix_memalign =
		(int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
	real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	alloc_resolving = 0;
}

/* The next definition of a non-allocator function, looked up on first use;
 * its type is that of libc's declaration. */
#define NEXT(name)                                                            \
	static __typeof__(name) *next_##name;                                 \
	if (!next_##name)                                                     \
		next_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name);   \
	if (!next_##name) {                                                   \
		errno = ENOSYS;                                               \
		return -1;                                                    \
	}

/* ------------------------------------------------ where libvmmem's code is */

#define MAX_SEGS 8
static struct { uintptr_t lo, hi; } segs[MAX_SEGS];
static int nsegs;
static uintptr_t lib_base;
static uintptr_t img_lo, img_hi;         /* all its segments */

static int find_lib_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	const char *name = info->dlpi_name, *base;

	(void)size;
	(void)data;
	if (!name || !*name)
		return 0;
	base = strrchr(name, '/');
	base = base ? base + 1 : name;
	if (strncmp(base, "libvmmem.so", 11) != 0)
		return 0;
	for (int i = 0; i < info->dlpi_phnum && nsegs < MAX_SEGS; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD)
			continue;
		if (!img_lo || info->dlpi_addr + ph->p_vaddr < img_lo)
			img_lo = info->dlpi_addr + ph->p_vaddr;
		if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > img_hi)
			img_hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
		if (!(ph->p_flags & PF_X))
			continue;
		segs[nsegs].lo = info->dlpi_addr + ph->p_vaddr;
		segs[nsegs].hi = segs[nsegs].lo + ph->p_memsz;
		nsegs++;
	}
	lib_base = info->dlpi_addr;
	return 1;
}

static void find_lib(void)
{
	if (!__atomic_load_n(&nsegs, __ATOMIC_ACQUIRE))
		dl_iterate_phdr(find_lib_cb, NULL);
}

static bool from_lib(const void *ra)
{
	uintptr_t a = (uintptr_t)ra;
	int n = __atomic_load_n(&nsegs, __ATOMIC_ACQUIRE);

	for (int i = 0; i < n; i++)
		if (a >= segs[i].lo && a < segs[i].hi)
			return true;
	return false;
}

/* ------------------------------------------------------------------ state */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* The window. */
static int win_open;
static unsigned long win_n, win_nth, win_fn_n;
static const char *win_fn;              /* NULL: any function counts */
static char win_fn_buf[32];
static int win_err;
static struct fault_call calls[FAULT_MAX_CALLS];

/* Heap blocks of libvmmem: open addressing, linear probing, deletion by
 * backward shift (no tombstones). */
#define HBITS 16
#define HSIZE (1u << HBITS)
static struct { uintptr_t key; size_t size; } htab[HSIZE];
static long h_live, h_bytes;

static size_t h_slot(uintptr_t k)
{
	return (size_t)(((uint64_t)(k >> 4) * 0x9e3779b97f4a7c15ull) >> (64 - HBITS));
}

static void h_add(void *p, size_t size)
{
	uintptr_t k = (uintptr_t)p;
	size_t i = h_slot(k);

	if (h_live >= (long)(HSIZE / 2))
		return;                 /* far more than any test holds */
	while (htab[i].key && htab[i].key != k)
		i = (i + 1) & (HSIZE - 1);
	if (htab[i].key == k)
		h_bytes -= (long)htab[i].size;
	else
		h_live++;
	htab[i].key = k;
	htab[i].size = size;
	h_bytes += (long)size;
}

static void h_del(const void *p)
{
	uintptr_t k = (uintptr_t)p;
	size_t i = h_slot(k), j;

	while (htab[i].key && htab[i].key != k)
		i = (i + 1) & (HSIZE - 1);
	if (!htab[i].key)
		return;
	h_live--;
	h_bytes -= (long)htab[i].size;
	/* Shift back the entries of the run that follows. */
	for (j = (i + 1) & (HSIZE - 1); htab[j].key; j = (j + 1) & (HSIZE - 1)) {
		size_t home = h_slot(htab[j].key);

		/* Entry j may move to the hole at i unless its home lies
		 * cyclically in (i, j]. */
		if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
			continue;
		htab[i] = htab[j];
		i = j;
	}
	htab[i].key = 0;
	htab[i].size = 0;
}

/* File descriptors of libvmmem. */
#define MAX_FD 65536
static uint64_t fdset[MAX_FD / 64];
static long fd_live;

static void fd_add(int fd)
{
	if (fd < 0 || fd >= MAX_FD || (fdset[fd / 64] & (1ull << (fd % 64))))
		return;
	fdset[fd / 64] |= 1ull << (fd % 64);
	fd_live++;
}

static void fd_del(int fd)
{
	if (fd < 0 || fd >= MAX_FD || !(fdset[fd / 64] & (1ull << (fd % 64))))
		return;
	fdset[fd / 64] &= ~(1ull << (fd % 64));
	fd_live--;
}

/* Mappings of libvmmem: sorted, disjoint [lo, hi) intervals. */
#define MAX_IV 1024
static struct iv { uintptr_t lo, hi; } ivs[MAX_IV], iv_tmp[MAX_IV];
static size_t n_iv;
static uintptr_t page_mask = 4095;

static void iv_sub(uintptr_t lo, uintptr_t hi)
{
	size_t n = 0;

	for (size_t i = 0; i < n_iv; i++) {
		struct iv v = ivs[i];

		if (v.hi <= lo || v.lo >= hi) {
			iv_tmp[n++] = v;
			continue;
		}
		if (v.lo < lo && n < MAX_IV)
			iv_tmp[n++] = (struct iv){ v.lo, lo };
		if (v.hi > hi && n < MAX_IV)
			iv_tmp[n++] = (struct iv){ hi, v.hi };
	}
	memcpy(ivs, iv_tmp, n * sizeof(ivs[0]));
	n_iv = n;
}

static void iv_add(uintptr_t lo, uintptr_t hi)
{
	size_t pos = 0;

	iv_sub(lo, hi);
	if (n_iv == MAX_IV)
		return;
	while (pos < n_iv && ivs[pos].lo < lo)
		pos++;
	memmove(&ivs[pos + 1], &ivs[pos], (n_iv - pos) * sizeof(ivs[0]));
	ivs[pos] = (struct iv){ lo, hi };
	n_iv++;
}

/* ----------------------------------------------------------- fault points */

/* Records a fault point of libvmmem (lib) if a window is open; returns the
 * errno to fail it with, or 0. */
static int point_if(bool lib, const char *fn, long detail, const void *ra)
{
	int err = 0;

	if (!__atomic_load_n(&win_open, __ATOMIC_ACQUIRE) || !lib)
		return 0;
	pthread_mutex_lock(&lock);
	if (win_open) {
		unsigned long n = ++win_n;
		bool fail;

		if (!win_fn)
			fail = n == win_nth;
		else
			fail = !strcmp(fn, win_fn) && ++win_fn_n == win_nth;

		if (n <= FAULT_MAX_CALLS)
			calls[n - 1] = (struct fault_call){
				.fn = fn, .detail = detail,
				.site = (uintptr_t)ra - lib_base, .failed = fail };
		if (fail)
			err = win_err;
	}
	pthread_mutex_unlock(&lock);
	return err;
}

/* The same for a call whose return address says who made it. */
static int point(const char *fn, long detail, const void *ra)
{
	return point_if(from_lib(ra), fn, detail, ra);
}

int fault_ready(void)
{
	find_lib();
	return __atomic_load_n(&nsegs, __ATOMIC_ACQUIRE) > 0;
}

static void begin(const char *fn, unsigned long nth, int err)
{
	find_lib();
	pthread_mutex_lock(&lock);
	win_n = 0;
	win_fn_n = 0;
	win_fn = NULL;
	if (fn) {
		snprintf(win_fn_buf, sizeof(win_fn_buf), "%s", fn);
		win_fn = win_fn_buf;
	}
	win_nth = nth;
	win_err = err;
	memset(calls, 0, sizeof(calls));
	__atomic_store_n(&win_open, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&lock);
}

void fault_begin(unsigned long nth, int err)
{
	begin(NULL, nth, err);
}

void fault_arm(const char *fn, unsigned long nth, int err)
{
	begin(fn, nth, err);
}

unsigned long fault_end(void)
{
	unsigned long n;

	pthread_mutex_lock(&lock);
	__atomic_store_n(&win_open, 0, __ATOMIC_RELEASE);
	n = win_n;
	pthread_mutex_unlock(&lock);
	return n;
}

int fault_get(unsigned long i, struct fault_call *out)
{
	int ok = 0;

	pthread_mutex_lock(&lock);
	if (i >= 1 && i <= win_n && i <= FAULT_MAX_CALLS) {
		*out = calls[i - 1];
		ok = 1;
	}
	pthread_mutex_unlock(&lock);
	return ok;
}

void fault_balance(struct fault_balance *out)
{
	long mb = 0;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_iv; i++)
		mb += (long)(ivs[i].hi - ivs[i].lo);
	out->blocks = h_live;
	out->bytes = h_bytes;
	out->fds = fd_live;
	out->map_bytes = mb;
	pthread_mutex_unlock(&lock);
}

/* -------------------------------------------------------------- the heap */

static void track_alloc(void *p, size_t size)
{
	pthread_mutex_lock(&lock);
	h_add(p, size);
	pthread_mutex_unlock(&lock);
}

void *malloc(size_t n)
{
	const void *ra = __builtin_return_address(0);
	int err;
	void *p;

	if (!real_malloc) {
		resolve_alloc();
		if (!real_malloc)
			return boot_alloc(n);
	}
	if (!from_lib(ra))
		return real_malloc(n);
	if ((err = point("malloc", 0, ra))) {
		errno = err;
		return NULL;
	}
	p = real_malloc(n);
	if (p)
		track_alloc(p, n);
	return p;
}

void *calloc(size_t n, size_t size)
{
	const void *ra = __builtin_return_address(0);
	int err;
	void *p;

	if (!real_calloc) {
		resolve_alloc();
		if (!real_calloc)
			return size && n > SIZE_MAX / size ? NULL
							   : boot_alloc(n * size);
	}
	if (!from_lib(ra))
		return real_calloc(n, size);
	if ((err = point("calloc", 0, ra))) {
		errno = err;
		return NULL;
	}
	p = real_calloc(n, size);
	if (p)
		track_alloc(p, n * size);
	return p;
}

int posix_memalign(void **out, size_t align, size_t n)
{
	const void *ra = __builtin_return_address(0);
	int err;

	if (!real_posix_memalign) {
		resolve_alloc();
		if (!real_posix_memalign)
			return ENOMEM;
	}
	if (!from_lib(ra))
		return real_posix_memalign(out, align, n);
	if ((err = point("posix_memalign", 0, ra)))
		return err;             /* and *out untouched, as libc does */
	err = real_posix_memalign(out, align, n);
	if (!err)
		track_alloc(*out, n);
	return err;
}

void free(void *p)
{
	if (!p || is_boot(p))
		return;
	if (!real_free) {
		resolve_alloc();
		if (!real_free)
			return;
	}
	if (__atomic_load_n(&h_live, __ATOMIC_RELAXED)) {
		pthread_mutex_lock(&lock);
		h_del(p);
		pthread_mutex_unlock(&lock);
	}
	real_free(p);
}

/* ------------------------------------------------------ memory mappings */

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	const void *ra = __builtin_return_address(0);
	static void *(*next)(void *, size_t, int, int, int, off_t);
	bool lib = from_lib(ra);
	int err;
	void *p;

	if (!next)
		next = (void *(*)(void *, size_t, int, int, int, off_t))
			dlsym(RTLD_NEXT, "mmap");
	if (!next) {
		errno = ENOSYS;
		return MAP_FAILED;
	}
	if (lib && (err = point("mmap", flags, ra))) {
		errno = err;
		return MAP_FAILED;
	}
	p = next(addr, len, prot, flags, fd, off);
	if (lib && p != MAP_FAILED) {
		pthread_mutex_lock(&lock);
		iv_add((uintptr_t)p, ((uintptr_t)p + len + page_mask) & ~page_mask);
		pthread_mutex_unlock(&lock);
	}
	return p;
}

int munmap(void *addr, size_t len)
{
	NEXT(munmap);
	int ret = next_munmap(addr, len);

	if (ret == 0 && __atomic_load_n(&n_iv, __ATOMIC_RELAXED)) {
		pthread_mutex_lock(&lock);
		iv_sub((uintptr_t)addr,
		       ((uintptr_t)addr + len + page_mask) & ~page_mask);
		pthread_mutex_unlock(&lock);
	}
	return ret;
}

int madvise(void *addr, size_t len, int advice)
{
	NEXT(madvise);
	int err = point("madvise", advice, __builtin_return_address(0));

	if (err) {
		errno = err;
		return -1;
	}
	return next_madvise(addr, len, advice);
}

int mlock(const void *addr, size_t len)
{
	NEXT(mlock);
	int err = point("mlock", 0, __builtin_return_address(0));

	if (err) {
		errno = err;
		return -1;
	}
	return next_mlock(addr, len);
}

long mbind(void *start, unsigned long len, int mode,
	   const unsigned long *nmask, unsigned long maxnode, unsigned flags)
{
	NEXT(mbind);
	int err = point("mbind", mode, __builtin_return_address(0));

	if (err) {
		errno = err;
		return -1;
	}
	return next_mbind(start, len, mode, nmask, maxnode, flags);
}

/* ------------------------------------------------------ file descriptors */

int memfd_create(const char *name, unsigned int flags)
{
	const void *ra = __builtin_return_address(0);
	NEXT(memfd_create);
	int err = point("memfd_create", (long)flags, ra), fd;

	if (err) {
		errno = err;
		return -1;
	}
	fd = next_memfd_create(name, flags);
	if (fd >= 0 && from_lib(ra)) {
		pthread_mutex_lock(&lock);
		fd_add(fd);
		pthread_mutex_unlock(&lock);
	}
	return fd;
}

/* Every fcntl command libvmmem uses takes an int or no argument; a pointer
 * argument is passed through as the same register-sized value. */
int fcntl(int fd, int cmd, ...)
{
	const void *ra = __builtin_return_address(0);
	NEXT(fcntl);
	va_list ap;
	void *arg;
	int err, ret;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	if ((err = point("fcntl", cmd, ra))) {
		errno = err;
		return -1;
	}
	ret = next_fcntl(fd, cmd, arg);
	if (ret >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) &&
	    from_lib(ra)) {
		pthread_mutex_lock(&lock);
		fd_add(ret);
		pthread_mutex_unlock(&lock);
	}
	return ret;
}

int close(int fd)
{
	NEXT(close);

	if (__atomic_load_n(&fd_live, __ATOMIC_RELAXED)) {
		pthread_mutex_lock(&lock);
		fd_del(fd);
		pthread_mutex_unlock(&lock);
	}
	return next_close(fd);
}

int ftruncate(int fd, off_t len)
{
	NEXT(ftruncate);
	int err = point("ftruncate", 0, __builtin_return_address(0));

	if (err) {
		errno = err;
		return -1;
	}
	return next_ftruncate(fd, len);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
	NEXT(fallocate);
	int err = point("fallocate", mode, __builtin_return_address(0));

	if (err) {
		errno = err;
		return -1;
	}
	return next_fallocate(fd, mode, off, len);
}

int fstat(int fd, struct stat *st)
{
	NEXT(fstat);
	int err = point("fstat", 0, __builtin_return_address(0));

	if (err) {
		errno = err;
		return -1;
	}
	return next_fstat(fd, st);
}

int fstatfs(int fd, struct statfs *st)
{
	NEXT(fstatfs);
	int err = point("fstatfs", 0, __builtin_return_address(0));

	if (err) {
		errno = err;
		return -1;
	}
	return next_fstatfs(fd, st);
}

/* -------------------------------------------------------- vectored I/O */

ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	NEXT(readv);
	int err = point("readv", 0, __builtin_return_address(0));

	if (err) {
		errno = err;
		return -1;
	}
	return next_readv(fd, iov, cnt);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	NEXT(writev);
	int err = point("writev", 0, __builtin_return_address(0));

	if (err) {
		errno = err;
		return -1;
	}
	return next_writev(fd, iov, cnt);
}

ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	NEXT(preadv);
	int err = point("preadv", 0, __builtin_return_address(0));

	if (err) {
		errno = err;
		return -1;
	}
	return next_preadv(fd, iov, cnt, off);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	NEXT(pwritev);
	int err = point("pwritev", 0, __builtin_return_address(0));

	if (err) {
		errno = err;
		return -1;
	}
	return next_pwritev(fd, iov, cnt, off);
}

/* ------------------------------------------------------------ syscall() */

/* libvmmem calls syscall() for membarrier(2) only; liburcu calls it for
 * futexes and membarrier too, but from its own code, so those pass. */
long syscall(long number, ...)
{
	NEXT(syscall);
	long a[6];
	va_list ap;
	int err;

	va_start(ap, number);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if ((err = point("syscall", number, __builtin_return_address(0)))) {
		errno = err;
		return -1;
	}
	return next_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* -------------------------------------------------------- pthread_atfork */

/* pthread_atfork() is a static stub (libc_nonshared.a) linked into each
 * object, which calls this with the object's __dso_handle; libvmmem's stub
 * is reached by a tail call, so the dso handle, not the return address,
 * says whose registration it is. */
int __register_atfork(void (*prepare)(void), void (*parent)(void),
		      void (*child)(void), void *dso);

int __register_atfork(void (*prepare)(void), void (*parent)(void),
		      void (*child)(void), void *dso)
{
	NEXT(__register_atfork);
	uintptr_t d = (uintptr_t)dso;
	bool lib = img_hi && d >= img_lo && d < img_hi;
	int err = point_if(lib, "pthread_atfork", 0, (const void *)lib_base);

	if (err)
		return err;             /* an errno value, as pthread_atfork */
	return next___register_atfork(prepare, parent, child, dso);
}

/* ----------------------------------------------------------------- setup */

static void before_fork(void)
{
	pthread_mutex_lock(&lock);
}

static void after_fork(void)
{
	pthread_mutex_unlock(&lock);
}

__attribute__((constructor)) static void fault_init(void)
{
	long ps = sysconf(_SC_PAGESIZE);

	if (ps > 0)
		page_mask = (uintptr_t)ps - 1;
	resolve_alloc();
	find_lib();
	pthread_atfork(before_fork, after_fork, after_fork);
}
