#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# vub-guest.sh - examples/vhost-user-blk under a Linux guest's own I/O:
# boots the guest of tests/qemu (QEMU 7.2, TCG) twice, once reading and once
# writing N 4 KiB blocks of /dev/vda with dd and O_DIRECT (one request a
# block, queue depth 1), and prints what the guest measured (its
# /proc/uptime around dd) and the back-end's CPU time (user + system, from
# the shell's `times` for its child) per request it served (the boot's few
# requests included).  TCG limits the guest: bench/vub-bench drives the
# back-end from the host instead.  docs/PERFORMANCE.md has the numbers.
#
# Usage, from the build tree after make check-qemu filled tests/qemu/cache:
#   bench/vub-guest.sh [N]          (default 8192, at most 16384)
set -euo pipefail
top_builddir=$(cd "${top_builddir:-.}" && pwd)
CACHE=$top_builddir/tests/qemu/cache
BACKEND=$top_builddir/examples/vhost-user-blk/vhost-user-blk
N=${1:-8192}
[ -f "$CACHE/initrd.img" ] && [ -f "$CACHE/vmlinux" ] ||
    { echo "vub-guest: no $CACHE/initrd.img (run make check-qemu once)" >&2; exit 77; }
command -v qemu-system-x86_64 >/dev/null ||
    { echo "vub-guest: qemu-system-x86_64 is not installed" >&2; exit 77; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

printf '%-6s %8s %10s %12s %10s %12s\n' op requests guest-s guest-req/s backend-req cpu-us/req
for op in read write; do
    truncate -s 64M "$W/disk.img"
    # the back-end's CPU: `times` in its parent subshell, once it has exited
    ( "$BACKEND" --socket "$W/vub.sock" --image "$W/disk.img" 2> "$W/backend.log"; times > "$W/times" ) &
    for _ in $(seq 200); do [ -S "$W/vub.sock" ] && break; sleep 0.05; done
    timeout 600 qemu-system-x86_64 -accel tcg -cpu max -smp 1 -m 512M \
        -object memory-backend-memfd,id=mem,size=512M,share=on \
        -machine q35,memory-backend=mem -nodefaults -no-user-config -display none \
        -monitor none -serial stdio -no-reboot \
        -kernel "$CACHE/vmlinux" -initrd "$CACHE/initrd.img" \
        -append "console=ttyS0 rdinit=/init panic=-1 quiet vub.bench=$op:$N" \
        -chardev socket,id=vub0,path="$W/vub.sock" \
        -device vhost-user-blk-pci,chardev=vub0,num-queues=1 < /dev/null > "$W/serial" 2>&1
    wait
    secs=$(sed -n 's/.*VUB: bench [a-z]* [0-9]* requests of 4096 bytes in \([0-9.]*\) s.*/\1/p' "$W/serial")
    [ -n "$secs" ] || { echo "vub-guest: the guest did not report" >&2; tail "$W/serial" >&2; exit 1; }
    reqs=$(sed -n 's/.*requests \([0-9]*\) errors.*/\1/p' "$W/backend.log" | tail -1)
    cpu=$(sed -n 2p "$W/times" | awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] } print s }')
    awk -v op="$op" -v n="$N" -v s="$secs" -v r="$reqs" -v c="$cpu" 'BEGIN {
        printf "%-6s %8d %10.2f %12.0f %10d %12.1f\n", op, n, s, n / s, r, c * 1e6 / r }'
done
