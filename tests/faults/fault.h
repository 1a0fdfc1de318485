/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The control interface of libfault.so, the LD_PRELOAD interposer of the
 * fault-injection tests (tests/faults/libfault.c).
 *
 * libfault wraps the libc (and libnuma) functions that libvmmem calls
 * through its PLT.  Only calls made from libvmmem's own code count: the
 * caller's return address must lie in an executable segment of
 * libvmmem.so (for pthread_atfork, whose stub libvmmem reaches by a tail
 * call, the dso handle it passes must lie in libvmmem's image), so the allocations and mappings of Check, liburcu (its
 * call_rcu thread, its reader registry) and libc itself are neither
 * counted nor failed nor tracked.
 *
 * Two services:
 *
 *  - a window (fault_begin() ... fault_end()) in which the "fault points"
 *    called by libvmmem are numbered 1, 2, ... in call order and recorded;
 *    the nth of them, if armed, fails with the errno given instead of
 *    reaching libc;
 *
 *  - balance counters, always on, of what libvmmem holds: heap blocks it
 *    allocated and nobody freed yet, file descriptors it created
 *    (memfd_create, fcntl F_DUPFD*) and nobody closed yet, and bytes of
 *    the mappings it made and nobody unmapped yet.
 *
 * The test program finds these functions with dlsym(RTLD_DEFAULT, ...), so
 * that it does not link against libfault and fails cleanly when it is run
 * without the preload. */
#ifndef VMMEM_FAULT_H
#define VMMEM_FAULT_H

#include <stddef.h>
#include <stdint.h>

/* One recorded fault point. */
struct fault_call {
	const char *fn;          /* "mmap", "madvise", "malloc", ... */
	long detail;             /* madvise: advice; fcntl: cmd; mmap: flags;
				  * syscall: number; mbind: mode;
				  * memfd_create: flags; fallocate: mode;
				  * otherwise 0 */
	uintptr_t site;          /* return address, as an offset in libvmmem
				  * (0 for pthread_atfork) */
	int failed;              /* this call was the injected failure */
};

/* What libvmmem holds right now. */
struct fault_balance {
	long blocks;             /* heap blocks */
	long bytes;              /* their total size */
	long fds;                /* file descriptors */
	long map_bytes;          /* bytes of mappings */
};

/* Whether libvmmem.so was found in the process: 1 yes, 0 no. */
typedef int fault_ready_fn(void);
/* Opens a window; nth = 0 fails nothing, else the nth fault point of the
 * window fails with err (a positive errno value). */
typedef void fault_begin_fn(unsigned long nth, int err);
/* The same, counting only the fault points of function fn ("mmap",
 * "pthread_atfork", ...): its nth call in the window fails. */
typedef void fault_arm_fn(const char *fn, unsigned long nth, int err);
/* Closes the window; returns the number of fault points it saw. */
typedef unsigned long fault_end_fn(void);
/* The ith (1-based) fault point of the last window; 0 if out of range. */
typedef int fault_get_fn(unsigned long i, struct fault_call *out);
typedef void fault_balance_fn(struct fault_balance *out);

/* Names of the symbols, for dlsym(). */
#define FAULT_READY_SYM   "fault_ready"
#define FAULT_BEGIN_SYM   "fault_begin"
#define FAULT_ARM_SYM     "fault_arm"
#define FAULT_END_SYM     "fault_end"
#define FAULT_GET_SYM     "fault_get"
#define FAULT_BALANCE_SYM "fault_balance"

/* The most fault points a window records. */
#define FAULT_MAX_CALLS 4096

#endif
