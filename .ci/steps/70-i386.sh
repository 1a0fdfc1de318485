#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# CI step: the 32-bit build (issue 14, part 2).
#
# Debian multiarch on the amd64 machine: the i386 architecture is added,
# gcc-i686-linux-gnu and the i386 -dev packages of the dependencies are
# installed (check, liburcu-dev, libnuma-dev; Debian has no i386 Xen, so
# the build is without the Xen backend), and a clean export of the tree is
# configured --host=i686-linux-gnu --enable-werror, built, and its whole
# make check is run natively where the amd64 kernel runs i386 programs.
# A kernel built without IA32 emulation (this project's CI machines:
# "Exec format error" for any 32-bit program) cannot: there the test
# programs are built here and make check runs inside Debian 12's amd64
# Linux (IA32 emulation on) under qemu-system-x86_64 with TCG, 2 vCPUs,
# the machine's root file system shared read-only over 9p and the build
# tree writable (make check-in-guest, tests/qemu/run-in-guest.sh); the
# kernel is the one make check-qemu downloads.  pkg-config is pointed at
# the i386 .pc files alone.  Natively a few minutes on CI's 2 cores; in
# the guest 14 to 21 minutes (measured on 2 shared cores), most of it
# make check under TCG.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive

if ! dpkg --print-foreign-architectures | grep -qx i386; then
	echo "+ dpkg --add-architecture i386"
	dpkg --add-architecture i386
fi
echo "+ apt-get update; apt-get install gcc-i686-linux-gnu and the i386 -dev packages"
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends \
	gcc-i686-linux-gnu g++-i686-linux-gnu libc6-dev:i386 \
	check:i386 liburcu-dev:i386 libnuma-dev:i386 \
	binutils autoconf automake libtool make pkg-config mandoc groff-base \
	qemu-system-x86 cpio xz-utils >/dev/null

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
git ls-files -z | xargs -0 cp --parents -t "$dir"
# the kernel make check-qemu (step 35) downloaded into the in-tree build
if [ -f tests/qemu/cache/debs/.done ]; then
	mkdir -p "$dir/tests/qemu/cache"
	cp -r tests/qemu/cache/debs "$dir/tests/qemu/cache/"
fi
log=$dir/i386.log
status=0
printf 'int main(void) { return 0; }\n' > "$dir/probe.c"
runs_i386=yes
if ! i686-linux-gnu-gcc -o "$dir/probe" "$dir/probe.c" || ! "$dir/probe" 2>/dev/null; then
	runs_i386=no
	echo "  this kernel cannot run i386 programs: make check runs in a QEMU guest (Debian 12's kernel)"
fi
rm -f "$dir/probe" "$dir/probe.c"
check=check
[ $runs_i386 = yes ] || check=check-in-guest
(cd "$dir" && autoreconf -fi &&
	PKG_CONFIG_LIBDIR=/usr/lib/i386-linux-gnu/pkgconfig:/usr/share/pkgconfig \
		./configure --host=i686-linux-gnu --enable-werror &&
	make -j"$(nproc)" && readelf -h .libs/libvmmem.so.1 | grep Class &&
	make -j"$(nproc)" $check) >"$log" 2>&1 || status=$?
grep -E 'Class:|^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):|^(FAIL|ERROR):' "$log" | sed 's/^/  /' || true
if [ $status -ne 0 ]; then
	tail -n 60 "$log"
	.ci/lib/show-failed-tests.sh "$dir"
	echo "i386: the build or make check failed (exit $status)" >&2
	exit 1
fi
if [ $runs_i386 = yes ]; then
	echo "i386: build with -Werror and make check passed"
else
	echo "i386: build with -Werror passed, and make check in a QEMU guest running Debian 12's amd64 kernel"
fi
