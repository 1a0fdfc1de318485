/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* What the fuzzing harnesses share: the poll() that keeps liburcu's
 * call_rcu worker from sleeping, and the reader of the input bytes.
 * Included once per harness (poll() is defined here). */
#ifndef VMMEM_FUZZ_COMMON_H
#define VMMEM_FUZZ_COMMON_H

#include <poll.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ poll */

/*
 * liburcu's call_rcu worker sleeps poll(NULL, 0, 10) after every wake-up to
 * batch callbacks, and vmmem_free() waits for it (urcu_bp_barrier()), so
 * every input would cost 10 to 20 ms and a long run would be impossible.
 * Sleeping in poll() with no file descriptor is only a delay: the harness
 * makes that case a yield.  (Its definition takes precedence over the
 * sanitizer runtime's weak interceptor.)  Every other poll() is the
 * system call.
 */
int poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	struct timespec ts, *tp = NULL;

	if (!nfds) {
		sched_yield();
		return 0;
	}
	if (timeout >= 0) {
		ts.tv_sec = timeout / 1000;
		ts.tv_nsec = (long)(timeout % 1000) * 1000000L;
		tp = &ts;
	}
	return (int)syscall(SYS_ppoll, fds, nfds, tp, NULL, (size_t)8);
}

/* ----------------------------------------------------------------- input */

static const uint8_t *in_p;
static size_t in_n;

static inline uint8_t u8(void)
{
	if (!in_n)
		return 0;
	in_n--;
	return *in_p++;
}

static inline uint16_t u16(void)
{
	uint16_t lo = u8();

	return (uint16_t)(lo | (uint16_t)(u8() << 8));
}

static inline uint32_t u32(void)
{
	uint32_t lo = u16();

	return lo | (uint32_t)u16() << 16;
}

static inline uint64_t u64(void)
{
	uint64_t lo = u32();

	return lo | (uint64_t)u32() << 32;
}

#endif
