#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# run-in-guest.sh - runs a command in DIR under Debian 12's amd64 Linux in
# qemu-system-x86_64 (TCG, 2 vCPUs), for what this machine's kernel cannot
# run: i386 programs where it lacks IA32 emulation (Debian's kernel has
# it).  The guest sees this machine's root file system read-only over 9p,
# DIR writable at the same path (what the command writes there stays),
# fresh /tmp, /run, /dev/shm; its output comes to stdout; the exit status
# is the command's.  The kernel and busybox are guest-kernel.sh's download.
#
# Usage: run-in-guest.sh [--env NAME=VALUE]... DIR COMMAND [ARG...]
#   (the command runs with a clean environment: PATH, HOME, LANG and the
#   --env variables)
# Environment: top_builddir (its tests/qemu/cache, default .),
# VMMEM_GUEST_TIMEOUT (s, default 3600), VMMEM_GUEST_MEM (default 4G).
# Exit 125: the guest did not report the command's status.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top_builddir=$(cd "${top_builddir:-.}" && pwd)
CACHE=$top_builddir/tests/qemu/cache
log() { printf '[run-in-guest] %s\n' "$*" >&2; }

envs=()
while [ "${1:-}" = --env ]; do envs+=("$2"); shift 2; done
[ $# -ge 2 ] || { log "usage: run-in-guest.sh [--env NAME=VALUE]... DIR COMMAND [ARG...]"; exit 2; }
dir=$(cd "$1" && pwd); shift
for tool in qemu-system-x86_64 cpio apt-get dpkg-deb xz strings; do
    command -v "$tool" >/dev/null || { log "$tool is not installed"; exit 125; }
done

# shellcheck source=guest-kernel.sh
. "$here/guest-kernel.sh"
mkdir -p "$CACHE"
guest_fetch || { log "cannot download linux-image-amd64 and busybox-static (apt-get download)"; exit 125; }
guest_extract
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
    printf 'cd %q || exit 125\n' "$dir"
    for e in "${envs[@]}"; do printf 'export %q\n' "$e"; done
    printf 'exec'; printf ' %q' "$@"; printf '\n'
} > "$tmp/command"
guest_initrd "$tmp/initrd.img" "$here/guest-run.sh" "virtio_pci 9pnet_virtio 9p" "$tmp/command"

rc=0
timeout -k 5 "${VMMEM_GUEST_TIMEOUT:-3600}" \
    qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m "${VMMEM_GUEST_MEM:-4G}" \
    -nodefaults -no-user-config -display none -monitor none -serial stdio -no-reboot \
    -kernel "$CACHE/vmlinux" -initrd "$tmp/initrd.img" \
    -append "console=ttyS0 rdinit=/init panic=-1 quiet loglevel=3 guest.dir=$dir" \
    -virtfs local,path=/,mount_tag=root,security_model=none,readonly=on,multidevs=remap \
    -virtfs local,path="$dir",mount_tag=work,security_model=none,multidevs=remap \
    < /dev/null | tee "$tmp/serial" || rc=$?
status=$(sed -n 's/^GUEST: exit \([0-9]*\).*/\1/p' "$tmp/serial" | tail -1)
if [ -z "$status" ]; then
    log "the guest did not finish (QEMU exit status $rc)"
    exit 125
fi
exit "$status"
