#!/bin/busybox sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# /init of the guest that tests/qemu/run-in-guest.sh boots: the host's
# root file system (9p tag "root", read-only) becomes the root of a
# chroot, with fresh /proc, /sys, /dev, /dev/shm, /tmp, /run and the
# host's directory guest.dir (9p tag "work", writable) at its own path;
# /command (bash, written by the host) runs there; "GUEST: exit N" is the
# last line, then the guest powers off.
guest_fail() { echo "GUEST: FAIL $*"; }
. /guest-boot.sh

DIR=$(tr ' ' '\n' < /proc/cmdline | sed -n 's/^guest\.dir=//p' | tail -1)
R=/newroot
P9=trans=virtio,version=9p2000.L,msize=512000
status=125
mkdir -p $R
if mount -t 9p -o "$P9,ro,cache=loose" root $R &&
    mount -t proc proc $R/proc && mount -t sysfs sysfs $R/sys &&
    mount -t devtmpfs devtmpfs $R/dev &&
    mkdir -p $R/dev/shm $R/dev/pts && mount -t tmpfs tmpfs $R/dev/shm &&
    mount -t devpts devpts $R/dev/pts &&
    mount -t tmpfs tmpfs $R/tmp && mount -t tmpfs tmpfs $R/run &&
    { [ -d "$R$DIR" ] || mkdir -p "$R$DIR"; } &&
    mount -t 9p -o "$P9" work "$R$DIR" &&
    cp /command $R/run/guest-command; then
    chroot $R /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
        HOME=/root LANG=C.UTF-8 /bin/bash /run/guest-command
    status=$?
else
    guest_fail "cannot mount the host's file systems"
fi
echo "GUEST: exit $status"
sync
poweroff -f
