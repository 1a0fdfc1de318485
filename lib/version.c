/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The run-time version: that of the header the library was built with. */
#include "vmmem-private.h"

VMMEM_EXPORT uint32_t vmmem_version(void)
{
	return VMMEM_VERSION;
}
