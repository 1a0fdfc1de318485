/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The Xen entry points of a build without the Xen backend: argument checks
 * first, then -EOPNOTSUPP; non-Xen regions are "not Xen" (-ENOENT). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testutil.h"

static struct vmmem_xen_opts xen_opts(uint32_t xen_flags)
{
	struct vmmem_xen_opts o;

	memset(&o, 0, sizeof(o));
	o.sz = sizeof(o);
	o.xen_flags = xen_flags;
	o.domid = 1;
	o.gpa = 0x100000;
	o.fd = -1;
	return o;
}

/* -------------------------------------------------------- constants */

START_TEST(constants)
{
	ck_assert_uint_eq(VMMEM_XEN_UNIX, 0);
	ck_assert_uint_eq(VMMEM_XEN_FOREIGN, 1);
	ck_assert_uint_eq(VMMEM_XEN_GRANT, 2);
	ck_assert_uint_eq(VMMEM_XEN_NO_ADVANCE_MAP, 8);
	ck_assert_uint_eq(VMMEM_XEN_READONLY, 1);
	/* Usable in the 32-bit field of the options. */
	ck_assert_uint_eq(sizeof(((struct vmmem_xen_opts *)0)->xen_flags), 4);
}
END_TEST

/* ----------------------------------------------------- region_new_xen */

START_TEST(new_xen_not_supported)
{
	static const uint32_t refs[4] = { 10, 11, 12, 13 };
	struct vmmem_region *r = NULL;
	struct vmmem_xen_opts o;
	int fd = memfd_create("vmmem-xen-test", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 1 << 20), 0);

	o = xen_opts(VMMEM_XEN_FOREIGN);
	ck_assert_int_eq(vmmem_region_new_xen(&r, 1 << 20, &o), -EOPNOTSUPP);
	o = xen_opts(VMMEM_XEN_FOREIGN | VMMEM_XEN_NO_ADVANCE_MAP);
	ck_assert_int_eq(vmmem_region_new_xen(&r, 1 << 20, &o), -EOPNOTSUPP);
	o = xen_opts(VMMEM_XEN_GRANT);
	o.grant_refs = refs;
	o.num_grant_refs = 4;
	o.flags = VMMEM_XEN_READONLY;
	ck_assert_int_eq(vmmem_region_new_xen(&r, 4 * 4096, &o), -EOPNOTSUPP);
	o = xen_opts(VMMEM_XEN_GRANT);
	ck_assert_int_eq(vmmem_region_new_xen(&r, 4096, &o), -EOPNOTSUPP);
	o = xen_opts(VMMEM_XEN_UNIX);
	o.fd = fd;
	ck_assert_int_eq(vmmem_region_new_xen(&r, 1 << 20, &o), -EOPNOTSUPP);
	/* Nothing was made. */
	ck_assert_ptr_null(r);
	close(fd);
}
END_TEST

START_TEST(new_xen_bad_args)
{
	struct vmmem_xen_opts o = xen_opts(VMMEM_XEN_FOREIGN);
	struct vmmem_region *r = NULL;

	ck_assert_int_eq(vmmem_region_new_xen(NULL, 1 << 20, &o), -EINVAL);
	ck_assert_int_eq(vmmem_region_new_xen(&r, 1 << 20, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_region_new_xen(&r, 0, &o), -EINVAL);
	ck_assert_int_eq(vmmem_region_new_xen(NULL, 0, NULL), -EINVAL);
	ck_assert_ptr_null(r);
}
END_TEST

/* -------------------------------------------------------- region_xen */

START_TEST(region_xen_not_xen)
{
	struct vmmem_region_opts ro;
	struct vmmem_region *r = test_region(1 << 16), *m = NULL, *raw = NULL;
	static unsigned char buf[4096];
	uint32_t domid = 77, flags = 88;

	ck_assert_int_eq(vmmem_region_xen(r, &domid, &flags), -ENOENT);

	memset(&ro, 0, sizeof(ro));
	ro.sz = sizeof(ro);
	ro.flags = VMMEM_REGION_SHAREABLE;
	ck_assert_int_eq(vmmem_region_new(&m, 1 << 16, &ro), 0);
	ck_assert_int_eq(vmmem_region_xen(m, &domid, &flags), -ENOENT);

	ck_assert_int_eq(vmmem_region_new_raw(&raw, buf, sizeof(buf), NULL,
					      NULL, 0), 0);
	ck_assert_int_eq(vmmem_region_xen(raw, &domid, &flags), -ENOENT);

	vmmem_region_unref(r);
	vmmem_region_unref(m);
	vmmem_region_unref(raw);
}
END_TEST

START_TEST(region_xen_bad_args)
{
	struct vmmem_region *r = test_region(1 << 16);
	uint32_t domid, flags;

	ck_assert_int_eq(vmmem_region_xen(NULL, &domid, &flags), -EINVAL);
	ck_assert_int_eq(vmmem_region_xen(r, NULL, &flags), -EINVAL);
	ck_assert_int_eq(vmmem_region_xen(r, &domid, NULL), -EINVAL);
	ck_assert_int_eq(vmmem_region_xen(NULL, NULL, NULL), -EINVAL);
	vmmem_region_unref(r);
}
END_TEST

/* -------------------------------------------- region_xen_invalidate */

START_TEST(invalidate)
{
	struct vmmem_region *r = test_region(1 << 16);
	unsigned char *h;
	void *hv = NULL;

	ck_assert_int_eq(vmmem_region_host_address(r, &hv), 0);
	h = hv;
	h[0] = 0x5a;
	ck_assert_int_eq(vmmem_region_xen_invalidate(r), -EOPNOTSUPP);
	/* The region is unharmed. */
	ck_assert_uint_eq(h[0], 0x5a);
	ck_assert_int_eq(vmmem_region_xen_invalidate(NULL), -EINVAL);
	vmmem_region_unref(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("xen-stub");
	TCase *tc;

	tc = tcase_create("constants");
	tcase_add_test(tc, constants);
	suite_add_tcase(s, tc);

	tc = tcase_create("new");
	tcase_add_test(tc, new_xen_not_supported);
	tcase_add_test(tc, new_xen_bad_args);
	suite_add_tcase(s, tc);

	tc = tcase_create("query");
	tcase_add_test(tc, region_xen_not_xen);
	tcase_add_test(tc, region_xen_bad_args);
	tcase_add_test(tc, invalidate);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	return test_run(suite());
}
