#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# CI step: the Xen backend against the real Xen 4.17 hypervisor.
#
# make check-xen (tests/xen/Makefile.inc) boots Debian's Xen with a Debian
# Linux PV dom0 under qemu-system-x86_64 (TCG: CI has no KVM) and runs the
# Xen suite (tests/xen/test-xen), examples/xen-peek and tests/xen/xen-bench
# in dom0; it fails if any of them fails, if the suite reports a failure or
# if dom0 does not power off by itself.  This step installs QEMU and cpio,
# then runs it in the README's in-tree build.  Should that build lack the
# Xen backend (libxen-dev came after its ./configure), it runs in a clean
# export configured --with-xen=yes instead.  The Debian packages booted
# (about 75 MB) are downloaded into tests/xen/cache; a boot takes about
# 10 s.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive

apt_install() {
	echo "+ apt-get install -y -q --no-install-recommends $*"
	apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "$@" >/dev/null; }
}
missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
command -v cpio >/dev/null || missing+=(cpio)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
qemu-system-x86_64 --version | head -n 1 | sed 's/^/  /'

if [ ! -f config.status ]; then
	echo "xen: no in-tree build (the README's commands make it)" >&2
	exit 1
fi
tree=.
if ! grep -qx 'S\["HAVE_XEN_TRUE"\]=""' config.status; then
	echo "xen: the in-tree build has no Xen backend; building a clean export with --with-xen=yes"
	pkg-config --exists xenforeignmemory xengnttab xencontrol || apt_install libxen-dev
	tree=$(mktemp -d)
	trap 'rm -rf "$tree"' EXIT
	git ls-files -z | xargs -0 cp --parents -t "$tree"
	if ! (cd "$tree" && autoreconf -fi && ./configure --with-xen=yes && make -j"$(nproc)") \
		>"$tree/build.log" 2>&1; then
		tail -n 60 "$tree/build.log"
		echo "xen: the --with-xen=yes build failed (the last 60 lines of its log are above)" >&2
		exit 1
	fi
fi

echo "+ make check-xen"
start=$SECONDS
status=0
make -C "$tree" -j"$(nproc)" check-xen || status=$?
if [ $status -ne 0 ]; then
	echo "xen: FAIL: make check-xen failed (exit $status) after $((SECONDS - start)) s" >&2
	exit 1
fi
echo "xen: make check-xen passed in $((SECONDS - start)) s"
