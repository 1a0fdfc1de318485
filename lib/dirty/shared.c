/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The vhost-user front-end's shared dirty log (VHOST_USER_PROTOCOL_F_LOG_
 * SHMFD, VHOST_USER_SET_LOG_BASE): one bit per 4 KiB page from GPA 0, set
 * with an atomic OR by every write path while it is active.
 *
 * It is a flat dirty_log (dirty/log.h) carried by the region table, so the
 * write paths mark it through the same dirty_note() as the library's own
 * log.  Replacing or stopping it publishes a new table and waits for a
 * grace period: when the call returns no writer can still use the old
 * log, and the front-end may read it, or the caller unmap it. */
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirty/dirty.h"

#define SHARED_FLAGS VMMEM_DIRTY_SHARED_ONLY

/* Makes writers mark log (NULL: none), only (without the library's log)
 * or not; once no writer can still mark the old one, releases it and the
 * mapping the library made for it, and keeps map, the new one's. */
struct shared_switch {
	struct dirty_change c;
	struct dirty_log *log;
	bool only;
	struct shared_map map;
	/* set by shared_apply(): */
	struct dirty_log *was;
	struct shared_map gone;
	uint64_t was_missed;          /* was's count, added when published */
};

static int shared_apply(struct vmmem *m, struct dirty_change *c)
{
	struct shared_switch *s = (struct shared_switch *)c;
	struct dirty_log *was = m->table->shared;
	int ret;

	if (!s->log && !was)
		return -ENOENT;
	ret = dirty_republish(m, s->log, s->only, m->table->log, 0, c);
	if (ret)
		return ret;
	s->was = was;
	s->gone = m->shared_map;
	m->shared_map = s->map;
	/* Counted now, and what writers add until the grace period ends
	 * counted then: vmmem_dirty_shared_missed() never goes back. */
	if (was) {
		s->was_missed = __atomic_load_n(&was->missed, __ATOMIC_RELAXED);
		m->shared_missed += s->was_missed;
	}
	return 0;
}

static void shared_retire(struct vmmem *m, struct dirty_change *c)
{
	struct shared_switch *s = (struct shared_switch *)c;

	if (s->was) {
		m->shared_missed += __atomic_load_n(&s->was->missed,
						    __ATOMIC_RELAXED) -
				    s->was_missed;
		log_free(s->was, false);
	}
	if (s->gone.base)
		munmap(s->gone.base, s->gone.len);
	table_free(c->old);
}

/* To the log of bytes at base (mapped by the library as map, or the
 * caller's own), or, base NULL, to none; on failure nothing changed. */
static int shared_switch(struct vmmem *m, uint64_t *base, uint64_t bytes,
			 unsigned int flags, struct shared_map map)
{
	struct shared_switch s = {
		.c = { .apply = shared_apply, .retire = shared_retire },
		.only = flags & VMMEM_DIRTY_SHARED_ONLY,
		.map = map,
	};
	int ret;

	if (base && !(s.log = log_flat(base, bytes)))
		return -ENOMEM;
	ret = dirty_switch(m, &s.c);
	if (ret)
		log_free(s.log, false);
	return ret;
}

VMMEM_EXPORT int vmmem_dirty_shared_set(struct vmmem *m, void *log,
					uint64_t size, unsigned int flags)
{
	/* Bits are set in whole 64-bit words: a size the words do not fill
	 * would have the last one reach past the caller's buffer. */
	if (!m || !log || !size || size > SIZE_MAX || (flags & ~SHARED_FLAGS) ||
	    (((uintptr_t)log | size) & 7) || range_wraps((uintptr_t)log, size))
		return -EINVAL;
	return shared_switch(m, log, size, flags, (struct shared_map){ 0 });
}

VMMEM_EXPORT int vmmem_dirty_shared_set_fd(struct vmmem *m, int fd,
					   uint64_t mmap_size,
					   uint64_t mmap_offset,
					   unsigned int flags)
{
	uint64_t page = system_page_size(), skip = mmap_offset & (page - 1);
	struct shared_map map;
	struct stat st;
	void *p;
	int ret;

	if (!m || !mmap_size || (flags & ~SHARED_FLAGS) ||
	    range_wraps(mmap_offset, mmap_size) || mmap_offset > INT64_MAX ||
	    mmap_size > SIZE_MAX - skip || (skip & 7))
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	if (fstat(fd, &st))
		return -errno;
	/* Past the end of a file, the front-end's log would raise SIGBUS. */
	if (S_ISREG(st.st_mode) &&
	    ((uint64_t)st.st_size < mmap_offset ||
	     (uint64_t)st.st_size - mmap_offset < mmap_size))
		return -ENXIO;
	map.len = (size_t)(mmap_size + skip);
	p = mmap(NULL, map.len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 (off_t)(mmap_offset - skip));
	if (p == MAP_FAILED)
		return -errno;
	map.base = p;
	ret = shared_switch(m, (uint64_t *)((uint8_t *)p + skip), mmap_size,
			   flags, map);
	if (ret)
		munmap(p, map.len);
	return ret;
}

VMMEM_EXPORT int vmmem_dirty_shared_stop(struct vmmem *m)
{
	if (!m)
		return -EINVAL;
	return shared_switch(m, NULL, 0, 0, (struct shared_map){ 0 });
}

VMMEM_EXPORT int vmmem_dirty_shared_missed(struct vmmem *m, uint64_t *missed)
{
	if (!m || !missed)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	*missed = m->shared_missed +
		  (m->table->shared ? __atomic_load_n(&m->table->shared->missed,
						      __ATOMIC_RELAXED) : 0);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

void dirty_shared_release(struct vmmem *m)
{
	log_free(m->table->shared, false);
	if (m->shared_map.base)
		munmap(m->shared_map.base, m->shared_map.len);
}
