/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Helpers shared by the Check test programs. */
#ifndef VMMEM_TESTUTIL_H
#define VMMEM_TESTUTIL_H

#include <check.h>
#include <stdlib.h>

#include "libvmmem.h"

#define MIB (1ull << 20)

/* An anonymous private region of size bytes. */
static inline struct vmmem_region *test_region(uint64_t size)
{
	struct vmmem_region *r = NULL;

	ck_assert_int_eq(vmmem_region_new(&r, size, NULL), 0);
	return r;
}

/* A struct vmmem holding one anonymous region per (gpa, size) pair. */
static inline struct vmmem *test_space(size_t n, const uint64_t *gpa,
				       const uint64_t *size)
{
	struct vmmem *m = NULL;

	ck_assert_int_eq(vmmem_new(&m, 0), 0);
	for (size_t i = 0; i < n; i++) {
		struct vmmem_region *r = test_region(size[i]);

		ck_assert_int_eq(vmmem_add_region(m, gpa[i], r), 0);
		vmmem_region_unref(r);
	}
	return m;
}

/* Runs one suite; the exit status is what automake's test driver reads. */
static inline int test_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
