#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# check-xen.sh - the Xen backend's test in `make check`: runs the Xen suite
# (tests/xen/test-xen) in a real Xen dom0 booted under QEMU by run-xen.sh
# beside this script.  Skipped (77) when the library was built without Xen
# (HAVE_XEN=no, set by tests/xen/Makefile.inc) or when this machine cannot
# boot it (no qemu-system-x86_64, no apt-get download of the Debian
# packages): `make check-xen` is the run that fails instead of skipping.
#
# Environment: HAVE_XEN (yes|no) and top_builddir from the Makefile;
# VMMEM_XEN_SKIP non-empty: skip (e.g. a package build without network);
# XEN_CHECK_PROGRAMS, the programs to run, one a word, without arguments
# (relative to top_builddir; default tests/xen/test-xen); VMMEM_XEN_LOG
# (default tests/xen/check-xen.serial.log) and the other VMMEM_XEN_* of
# run-xen.sh.
set -eu
case ${HAVE_XEN:-no} in
yes) ;;
*)
	echo "check-xen: SKIP: libvmmem was built without Xen"
	exit 77
	;;
esac
if [ -n "${VMMEM_XEN_SKIP:-}" ]; then
	echo "check-xen: SKIP: VMMEM_XEN_SKIP is set"
	exit 77
fi
here=$(cd "$(dirname "$0")" && pwd)
top_builddir=$(cd "${top_builddir:-.}" && pwd)
export top_builddir
cd "$top_builddir"
: "${VMMEM_XEN_LOG:=$top_builddir/tests/xen/check-xen.serial.log}"
export VMMEM_XEN_LOG
# shellcheck disable=SC2086 # one program a word
exec bash "$here/run-xen.sh" --skip-unavailable \
	${XEN_CHECK_PROGRAMS:-tests/xen/test-xen}
