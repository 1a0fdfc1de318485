/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The registry of IOTLB readers and the wait of invalidations (see
 * readers.h).
 *
 * A thread's record lives in its TLS and is pushed on the registry, a
 * lock-free list, at its first section; a thread-specific key's destructor
 * unlinks it when the thread exits.  Unlinking and scanning take
 * registry_lock, so a scan never reads a record whose thread has gone
 * (and a thread exiting while an invalidation waits for a blocked fd
 * transfer waits with it); pushing takes no lock, so a thread's first
 * access never waits for a waiter.  A thread whose record cannot be given a destructor (no key, or
 * the key's storage could not be allocated) is never listed: its sections hold
 * unlisted_lock for reading, and every wait takes it for writing. */
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <urcu/arch.h>

#include "iommu/readers.h"

__thread struct iotlb_reader iotlb_self;

static struct iotlb_reader *registry;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t unlisted_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_key_t exit_key;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static bool registry_usable;       /* the key and fork handler exist */

static void unlist(void *arg)
{
	struct iotlb_reader *r = arg, *head = r, *p;

	pthread_mutex_lock(&registry_lock);
	if (!__atomic_compare_exchange_n(&registry, &head, r->next, false,
					 __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE)) {
		/* Not the head: only the head moves without the lock.  The
		 * acquire pairs with the push that made `head` the head. */
		for (p = head; __atomic_load_n(&p->next, __ATOMIC_ACQUIRE) != r;
		     p = __atomic_load_n(&p->next, __ATOMIC_ACQUIRE))
			;
		__atomic_store_n(&p->next, r->next, __ATOMIC_RELAXED);
	}
	r->listed = false;
	pthread_mutex_unlock(&registry_lock);
}

/* In a child, the other threads are gone, sections and locks included:
 * only the forking thread's record (never inside a section while it forks)
 * stays listed. */
static void forget_other_threads(void)
{
	struct iotlb_reader *self = &iotlb_self;

	pthread_mutex_init(&registry_lock, NULL);
	pthread_rwlock_init(&unlisted_lock, NULL);
	self->next = NULL;
	registry = self->listed ? self : NULL;
}

/* Without a key (all taken) or a fork handler (out of memory), no thread
 * can be listed: every section takes unlisted_lock, slower but correct. */
static void init(void)
{
	registry_usable = !pthread_key_create(&exit_key, unlist) &&
			  !pthread_atfork(NULL, NULL, forget_other_threads);
}

void iotlb_readers_init(void)
{
	pthread_once(&init_once, init);
}

void reader_enter_slow(struct vmmem_iommu *iommu, uint64_t first,
		       uint64_t last)
{
	struct iotlb_reader *r = &iotlb_self;

	if (!r->listed && !r->locked) {
		/* vmmem_iommu_new() ran iotlb_readers_init(). */
		if (!registry_usable || pthread_setspecific(exit_key, r)) {
			r->locked = true;
		} else {
			r->next = __atomic_load_n(&registry, __ATOMIC_RELAXED);
			while (!__atomic_compare_exchange_n(&registry, &r->next, r,
							    true, __ATOMIC_SEQ_CST,
							    __ATOMIC_RELAXED))
				;
			r->listed = true;
		}
	}
	if (r->locked)
		pthread_rwlock_rdlock(&unlisted_lock);
	else
		reader_try_enter(iommu, first, last);
}

void reader_exit_locked(void)
{
	pthread_rwlock_unlock(&unlisted_lock);
}

/* Whether r's section, if the one the caller saw, may use [first, last]
 * of iommu; read after its ctr, so a later section's fields only make the
 * caller look at ctr again. */
static bool must_wait(struct iotlb_reader *r, struct vmmem_iommu *iommu,
		      uint64_t first, uint64_t last)
{
	return __atomic_load_n(&r->iommu, __ATOMIC_RELAXED) == iommu &&
	       __atomic_load_n(&r->first, __ATOMIC_RELAXED) <= last &&
	       first <= __atomic_load_n(&r->last, __ATOMIC_RELAXED);
}

/* A copy ends within nanoseconds; an fd transfer may block for as long
 * as its fd does: spin briefly, then sleep longer and
 * longer, up to a millisecond. */
static void backoff(unsigned int round)
{
	if (round < 50) {
		caa_cpu_relax();
	} else if (round < 90) {
		sched_yield();
	} else {
		struct timespec ts = {
			0, round >= 100 ? 1000000L : 1000L << (round - 90)
		};

		nanosleep(&ts, NULL);
	}
}

/* The caller published its table with a sequentially consistent store
 * (iotlb.c): either a reader's entering store comes before it in their
 * single total order, and the load of ctr below sees the section, or the
 * reader's load of the table, after its store, sees the new table. */
void iotlb_wait(struct vmmem_iommu *iommu, uint64_t first, uint64_t last)
{
	pthread_rwlock_wrlock(&unlisted_lock);
	pthread_rwlock_unlock(&unlisted_lock);
	pthread_mutex_lock(&registry_lock);
	for (struct iotlb_reader *r = __atomic_load_n(&registry, __ATOMIC_ACQUIRE);
	     r; r = __atomic_load_n(&r->next, __ATOMIC_ACQUIRE)) {
		unsigned long c = __atomic_load_n(&r->ctr, __ATOMIC_SEQ_CST);

		if (!(c & 1))
			continue;
		for (unsigned int round = 0;
		     __atomic_load_n(&r->ctr, __ATOMIC_ACQUIRE) == c &&
		     must_wait(r, iommu, first, last); round++)
			backoff(round < 100 ? round : 100);
	}
	pthread_mutex_unlock(&registry_lock);
}
