/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* GPA ranges as host pointers and as scatter lists. */
#include "space/table.h"

static __attribute__((noinline)) int
host_address_slow(struct vmmem *m, uint64_t gpa, uint64_t len, void **host)
{
	const struct table *t;
	const struct slot *s;
	int ret = 0;

	if (!m || !host || !len || range_wraps(gpa, len))
		return -EINVAL;
	t = space_enter(m);
	s = table_lookup(t, gpa);
	if (!s)
		ret = -EFAULT;
	else if (len - 1 > s->last - gpa)
		ret = table_backed(t, gpa, len) == len ? -ERANGE : -EFAULT;
	else if (!s->host)
		ret = -ENXIO;
	else
		*host = s->host + (gpa - s->gpa);
	space_exit();
	return ret;
}

/* The fast path, in a section, slot s (NULL: none) looked up: no call, as
 * the transfers' (rw.c).  Leaves the section; what it does not take, the
 * slow path does or refuses. */
static inline __attribute__((always_inline)) bool
host_address_in(const struct slot *s, uint64_t gpa, uint64_t len, void **host)
{
	bool done = false;

	if (likely(s && len - 1 <= s->last - gpa && s->host)) {
		*host = s->host + (gpa - s->gpa);
		done = true;
	}
	space_fast_exit();
	return done;
}

/* The fast path of a table with a lookup hint (table_hinted()); t last,
 * so that the tail call to it moves no other argument. */
static __attribute__((noinline)) int
host_address_hinted(struct vmmem *m, uint64_t gpa, uint64_t len, void **host,
		    const struct table *t)
{
	if (host_address_in(table_lookup_hinted(t, gpa), gpa, len, host))
		return 0;
	return host_address_slow(m, gpa, len, host);
}

VMMEM_EXPORT int vmmem_host_address(struct vmmem *m, uint64_t gpa,
				    uint64_t len, void **host)
{
	const struct table *t;

	if (likely(m && host) && likely(space_fast_enter())) {
		t = __atomic_load_n(&m->table, __ATOMIC_CONSUME);
		if (unlikely(table_hinted(t)))
			return host_address_hinted(m, gpa, len, host, t);
		if (host_address_in(table_search(t, gpa), gpa, len, host))
			return 0;
	}
	return host_address_slow(m, gpa, len, host);
}

/* snprintf-like: the count needed is returned even when iovcnt is smaller,
 * so a caller can size its array with a first call of iovcnt 0. */
VMMEM_EXPORT int vmmem_iovec(struct vmmem *m, uint64_t gpa, uint64_t len,
			     struct iovec *iov, size_t iovcnt)
{
	const struct table *t;
	uint64_t done = 0;
	size_t needed = 0;
	int ret = 0;

	if (!m || (!iov && iovcnt) || range_wraps(gpa, len))
		return -EINVAL;
	t = space_enter(m);
	while (done < len) {
		const struct slot *s = table_lookup(t, gpa + done);
		uint64_t n;

		if (!s) {
			ret = -EFAULT;
			break;
		}
		if (!s->host) {
			ret = -ENXIO;
			break;
		}
		n = slot_avail(s, gpa + done, len - done);
		if (needed < iovcnt) {
			iov[needed].iov_base = s->host + (gpa + done - s->gpa);
			iov[needed].iov_len = n;
		}
		if (++needed > INT32_MAX) {
			ret = -E2BIG;
			break;
		}
		done += n;
	}
	space_exit();
	return ret ? ret : (int)needed;
}
