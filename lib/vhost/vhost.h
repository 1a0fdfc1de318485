/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Regions made from vhost-user memory-table messages (lib/vhost/). */
#ifndef VMMEM_VHOST_H
#define VMMEM_VHOST_H

#include "space/table.h"

/* -EINVAL unless vr is a region (not NULL) and one the spec allows: a size, and
 * no range (guest, front-end, file) that wraps. */
int vhost_region_check(const struct vmmem_vhost_region *vr);

/* Maps vr from fd (which stays the caller's) with the caller's policy
 * options, into a slot at its guest and front-end addresses; the slot holds
 * the only reference to its region. */
int vhost_slot_new(struct slot *s, const struct vmmem_vhost_region *vr,
		   int fd, const struct vmmem_region_opts *opts);

/* 1 if slot s was made from a region equal to vr over the same file (a
 * message that repeats it changes nothing), 0 if not, -errno if fd cannot
 * be told. */
int vhost_slot_same(const struct slot *s, const struct vmmem_vhost_region *vr,
		    int fd);

#endif
