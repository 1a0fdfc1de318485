/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* vmmem_version() and the VMMEM_VERSION_* macros. */
#include <stdio.h>

#include "testutil.h"

/* The library built from this tree reports the header's version. */
START_TEST(runtime_is_header_version)
{
	ck_assert_uint_eq(vmmem_version(), VMMEM_VERSION);
	ck_assert_uint_eq(vmmem_version() >> 16, VMMEM_VERSION_MAJOR);
	ck_assert_uint_eq((vmmem_version() >> 8) & 0xff, VMMEM_VERSION_MINOR);
	ck_assert_uint_eq(vmmem_version() & 0xff, VMMEM_VERSION_MICRO);
}
END_TEST

/* The header's version is the package's (AC_INIT in configure.ac, through
 * config.h): a release that moves one moves the other. */
START_TEST(header_is_package_version)
{
	char v[32];

	snprintf(v, sizeof(v), "%d.%d.%d", VMMEM_VERSION_MAJOR,
		 VMMEM_VERSION_MINOR, VMMEM_VERSION_MICRO);
	ck_assert_str_eq(v, PACKAGE_VERSION);
}
END_TEST

/* The encoding orders versions as numbers compare. */
START_TEST(encoding_orders_versions)
{
	ck_assert_uint_lt(VMMEM_VERSION_ENCODE(1, 0, 255), VMMEM_VERSION_ENCODE(1, 1, 0));
	ck_assert_uint_lt(VMMEM_VERSION_ENCODE(1, 255, 255), VMMEM_VERSION_ENCODE(2, 0, 0));
	ck_assert_uint_eq(VMMEM_VERSION_ENCODE(1, 2, 3), 0x010203);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("version");
	TCase *tc = tcase_create("version");

	tcase_add_test(tc, runtime_is_header_version);
	tcase_add_test(tc, header_is_package_version);
	tcase_add_test(tc, encoding_orders_versions);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run(suite());
}
