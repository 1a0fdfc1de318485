#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# CI step: the arm64 cross build (issue 14, part 1).
#
# Debian multiarch on the amd64 machine: the arm64 architecture is added,
# crossbuild-essential-arm64 and the arm64 -dev packages of the
# dependencies are installed, Xen's included (Debian builds Xen for arm64).
# Then, from clean exports of the tree:
#   1. ./configure --host=aarch64-linux-gnu --with-xen=yes --enable-werror,
#      make (library, examples, benchmark) and make check TESTS= (every test
#      program, the Xen suite included, built but not run: they are arm64
#      programs);
#   2. dpkg-buildpackage -a arm64 -Pcross,nocheck -us -uc -b, and lintian on
#      the packages it made.
# libxen-dev is not multiarch: its arm64 package replaces the amd64 one,
# which is put back at the end (the steps before this one use it).  About
# 3 minutes on CI's 2 cores, most of it apt-get.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive
arch=arm64 triplet=aarch64-linux-gnu

had_xen_dev=
dpkg-query -W -f='${Status}' "libxen-dev:$(dpkg --print-architecture)" 2>/dev/null |
	grep -q 'ok installed' && had_xen_dev=yes
dir=$(mktemp -d)
cleanup() {
	rm -rf "$dir"
	if [ -n "$had_xen_dev" ]; then
		echo "+ apt-get install libxen-dev (the build architecture's, again)"
		apt-get install -y -q --no-install-recommends "libxen-dev:$(dpkg --print-architecture)" >/dev/null
	fi
}
trap cleanup EXIT

if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
	echo "+ dpkg --add-architecture $arch"
	dpkg --add-architecture "$arch"
fi
echo "+ apt-get update; apt-get install crossbuild-essential-$arch and the $arch -dev packages"
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends \
	"crossbuild-essential-$arch" "check:$arch" "liburcu-dev:$arch" \
	"libnuma-dev:$arch" "libxen-dev:$arch" \
	autoconf automake libtool make pkg-config binutils dpkg-dev debhelper \
	lintian >/dev/null

export_tree() { mkdir -p "$1"; git ls-files -z | xargs -0 cp --parents -t "$1"; }

# 1. configure, make, and build every test program.
export_tree "$dir/build"
log=$dir/build.log
status=0
(cd "$dir/build" && autoreconf -fi &&
	PKG_CONFIG_LIBDIR=/usr/lib/$triplet/pkgconfig:/usr/share/pkgconfig \
		./configure --host=$triplet --with-xen=yes --enable-werror &&
	make -j"$(nproc)" && make -j"$(nproc)" check TESTS= &&
	readelf -h .libs/libvmmem.so.1 tests/xen/test-xen examples/xen-peek |
		grep -E 'Machine:' | sort | uniq -c) >"$log" 2>&1 || status=$?
grep -E 'Xen backend:|unit tests:|Machine:' "$log" | sed 's/^/  /' || true
if [ $status -ne 0 ]; then
	tail -n 60 "$log"
	echo "$arch: the cross build failed (exit $status; the last 60 lines of its log are above)" >&2
	exit 1
fi
if grep -q 'Machine:.*X86' "$log" || ! grep -q 'Machine:.*AArch64' "$log"; then
	echo "$arch: the programs built are not all AArch64" >&2
	exit 1
fi
echo "$arch: library, examples and every test program cross-built with -Werror"

# 2. The Debian package, cross-built as a buildd would.
export_tree "$dir/pkg/src"
log=$dir/pkg.log
status=0
(cd "$dir/pkg/src" &&
	apt-get build-dep -y -q --no-install-recommends -a "$arch" -Pcross,nocheck . &&
	DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
		dpkg-buildpackage -a "$arch" -Pcross,nocheck -us -uc -b) >"$log" 2>&1 || status=$?
if [ $status -ne 0 ]; then
	tail -n 60 "$log"
	echo "$arch: dpkg-buildpackage -a $arch -Pcross,nocheck failed (the last 60 lines of its log are above)" >&2
	exit 1
fi
(cd "$dir/pkg" && ls -1 ./*.deb) | sed 's/^/  built /'
status=0
lintian --fail-on error,warning "$dir"/pkg/libvmmem_*_"$arch".changes >"$dir/lintian.log" 2>&1 || status=$?
grep -v '^running with root privileges is not recommended!$' "$dir/lintian.log" | sed 's/^/  /' || true
if [ $status -ne 0 ]; then
	echo "$arch: lintian reports errors or warnings on the $arch packages" >&2
	exit 1
fi
echo "$arch: dpkg-buildpackage -a $arch -Pcross,nocheck and lintian passed"
