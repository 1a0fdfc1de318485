/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The pin of vmmem_map(), for the other users of a pinned range. */
#ifndef VMMEM_MAP_H
#define VMMEM_MAP_H

#include "space/table.h"

struct mapping;

/* Pins up to *len bytes at gpa, fewer where the region ends (*len says
 * how many); NULL with *err set on failure. */
struct mapping *map_pin(struct vmmem *m, uint64_t gpa, uint64_t *len,
			unsigned int flags, int *err);
void map_unpin(struct mapping *rec);
uint8_t *map_host(const struct mapping *rec);
/* Whether rec's region is still placed in t where it was pinned; *slot is
 * the slot of rec's first byte (NULL: none). */
bool map_placed(const struct table *t, const struct mapping *rec,
		const struct slot **slot);
/* Logs [gpa, gpa + len) written through rec if its region is still placed
 * where it was pinned: the one call into lib/dirty of pinned writers. */
void map_log_written(struct vmmem *m, const struct mapping *rec,
		     uint64_t gpa, uint64_t len);

#endif
