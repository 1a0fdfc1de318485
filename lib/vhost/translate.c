/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Front-end addresses (vring addresses, IOTLB uaddr) to guest addresses
 * and host pointers, through the published table's second index. */
#include "vhost/vhost.h"

/* Either result, from one read-side section. */
static int translate(struct vmmem *m, uint64_t uaddr, uint64_t len,
		     uint64_t *gpa, void **host)
{
	const struct slot *s;

	if (!m || !len || range_wraps(uaddr, len))
		return -EINVAL;
	s = table_lookup_uaddr(space_enter(m), uaddr, len);
	if (s && gpa)
		*gpa = s->gpa + (uaddr - s->uaddr);
	if (s && host)
		*host = s->host + (uaddr - s->uaddr);
	space_exit();
	return s ? 0 : -EFAULT;
}

VMMEM_EXPORT int vmmem_uaddr_to_gpa(struct vmmem *m, uint64_t uaddr,
				    uint64_t len, uint64_t *gpa)
{
	return gpa ? translate(m, uaddr, len, gpa, NULL) : -EINVAL;
}

VMMEM_EXPORT int vmmem_uaddr_to_host(struct vmmem *m, uint64_t uaddr,
				     uint64_t len, void **host)
{
	return host ? translate(m, uaddr, len, NULL, host) : -EINVAL;
}
