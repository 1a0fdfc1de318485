#!/bin/busybox sh
# /init of the guest that tests/qemu/run-qemu.sh boots: loads the virtio
# modules, runs the I/O jobs of the kernel command line on /dev/vda (the
# vhost-user-blk disk), prints "VUB:" lines the host parses, powers off.
#   vub.token=T         run token, part of every pattern (stale data fails)
#   vub.io=OFF:SIZE,..  jobs: job N writes pattern.awk's bytes for T-jN,
#                       SIZE bytes at byte OFF (OFF a multiple of SIZE), with
#                       O_DIRECT in one request, and reads them back with
#                       O_DIRECT; SIZE a multiple of 4096
#   vub.rounds=N        run the jobs N times (default 1)
#   vub.hotplug=1       memory hotplug: announce, wait for a new memory
#                       block while doing I/O, online it movable, do I/O,
#                       announce, wait for it to go while doing I/O
#   vub.migrate=1       announce after round 0 and keep doing rounds until
#                       /proc/cmdline's vub.rounds are done (host migrates)
#   vub.bench=OP:N      instead of the jobs: OP (read or write) N 4 KiB
#                       blocks from offset 0 with dd and O_DIRECT, timed by
#                       /proc/uptime (bench/vub-guest.sh)
guest_fail() { echo "VUB: FAIL $*"; }
. /guest-boot.sh

arg() {
    v=$(tr ' ' '\n' < /proc/cmdline | sed -n "s/^vub\.$1=//p" | tail -1)
    echo "${v:-$2}"
}
TOKEN=$(arg token none)
IO=$(arg io 1048576:1048576)
ROUNDS=$(arg rounds 1)
HOTPLUG=$(arg hotplug 0)
MIGRATE=$(arg migrate 0)
BENCH=$(arg bench "")
ok=0 bad=0

finish() {
    echo "VUB: done $ok ok $bad bad"
    sync
    poweroff -f
}

i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -b /dev/vda ] || { echo "VUB: FAIL no /dev/vda"; bad=1; finish; }
echo "VUB: /dev/vda $(cat /sys/block/vda/size) sectors, driver $(basename "$(readlink /sys/block/vda/device/driver)")"
[ -d /sys/class/iommu ] && echo "VUB: iommu groups $(ls /sys/kernel/iommu_groups | wc -l)"

if [ -n "$BENCH" ]; then
    op=${BENCH%%:*} n=${BENCH##*:}
    t0=$(cut -d' ' -f1 /proc/uptime)
    if [ "$op" = write ]; then
        dd if=/dev/zero of=/dev/vda bs=4096 count="$n" oflag=direct conv=notrunc status=none
    else
        dd if=/dev/vda of=/dev/null bs=4096 count="$n" iflag=direct status=none
    fi && ok=1 || bad=1
    t1=$(cut -d' ' -f1 /proc/uptime)
    echo "VUB: bench $op $n requests of 4096 bytes in $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s"
    finish
fi

job() { # job N OFF SIZE: write and read back one pattern with O_DIRECT
    awk -v t="$TOKEN-j$1" -v size="$3" -f /pattern.awk > /tmp/p
    exp=$(sha256sum < /tmp/p | cut -d' ' -f1)
    dd if=/tmp/p of=/dev/vda bs="$3" seek=$(($2 / $3)) count=1 oflag=direct conv=notrunc status=none ||
        echo "VUB: FAIL write job $1"
    got=$(dd if=/dev/vda bs="$3" skip=$(($2 / $3)) count=1 iflag=direct status=none | sha256sum | cut -d' ' -f1)
    if [ "$got" = "$exp" ]; then ok=$((ok + 1)); else
        bad=$((bad + 1)); echo "VUB: FAIL job $1 at $2 size $3: read back $got, wrote $exp"
    fi
}

round() {
    n=0
    for j in $(echo "$IO" | tr ',' ' '); do
        job $n "${j%%:*}" "${j##*:}"
        n=$((n + 1))
    done
    echo "VUB: round $1 ok $ok bad $bad"
}

blocks() { # memory blocks in state $1
    grep -l "^$1" /sys/devices/system/memory/memory*/state 2>/dev/null | wc -l
}

r=0
round $r
if [ "$HOTPLUG" = 1 ]; then
    before=$(ls -d /sys/devices/system/memory/memory* | wc -l)
    echo "VUB: hotplug ready, $before memory blocks"
    i=0
    while [ "$(ls -d /sys/devices/system/memory/memory* | wc -l)" = "$before" ] && [ $i -lt 60 ]; do
        r=$((r + 1)); round $r; i=$((i + 1))
    done
    for s in $(grep -l '^offline' /sys/devices/system/memory/memory*/state); do
        echo online_movable > "$s" || echo "VUB: FAIL online $s"
    done
    echo "VUB: hotplug onlined $(($(ls -d /sys/devices/system/memory/memory* | wc -l) - before)) blocks, $(grep MemTotal /proc/meminfo)"
    # Fresh user pages come from ZONE_MOVABLE, the new memory, first.
    r=$((r + 1)); round $r
    IO_SAVE=$IO; IO="50331648:16777216"; r=$((r + 1)); round $r; IO=$IO_SAVE
    echo "VUB: unplug ready"
    i=0
    while [ "$(ls -d /sys/devices/system/memory/memory* | wc -l)" != "$before" ] && [ $i -lt 60 ]; do
        r=$((r + 1)); round $r; i=$((i + 1))
    done
    echo "VUB: unplugged, $(ls -d /sys/devices/system/memory/memory* | wc -l) memory blocks"
fi
if [ "$MIGRATE" = 1 ]; then
    echo "VUB: migrate ready"
fi
while [ $((r + 1)) -lt "$ROUNDS" ]; do
    r=$((r + 1)); round $r
done
finish
