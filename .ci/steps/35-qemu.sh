#!/bin/bash
# CI step: examples/vhost-user-blk under QEMU 7.2 and Debian 12's Linux.
#
# make check-qemu (tests/qemu/Makefile.inc) boots qemu-system-x86_64 under
# TCG (CI has no usable KVM) with a vhost-user-blk-pci disk served by the
# back-end and runs the scenarios of tests/qemu/run-qemu.sh: I/O patterns,
# a 3 GiB split memory table, memory hotplug, a translating vIOMMU, live
# migration.  It downloads Debian's linux-image-amd64 and busybox-static
# (about 75 MB) into tests/qemu/cache once.  About 4 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive

missing=()
for p in qemu-system-x86 qemu-system-common cpio python3 xz-utils binutils; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "+ apt-get install -y -q --no-install-recommends ${missing[*]}"
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null &&
		  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
fi
qemu-system-x86_64 --version | head -n 1 | sed 's/^/  /'

if [ ! -f config.status ]; then
	echo "qemu: no in-tree build (the README's commands make it)" >&2
	exit 1
fi
make -j"$(nproc)" check-qemu
