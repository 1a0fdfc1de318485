#!/bin/busybox sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# dom0-init.sh - /init of the Xen dom0 initramfs that tests/xen/run-xen.sh
# builds (busybox sh).  Loads the Xen userspace drivers, runs the programs
# listed in /etc/vmmem-xen/programs ("NAME PATH [ARG...]" a line) in order
# and powers the machine off.  Every line for the host starts "VMMEM-XEN:":
#   VMMEM-XEN: run NAME          before a program
#   VMMEM-XEN: exit NAME STATUS  after it (STATUS as $? gives it)
#   VMMEM-XEN: error: WHY        something dom0 itself could not do
#   VMMEM-XEN: poweroff          the end of this script
/bin/busybox --install -s /bin
export PATH=/bin HOME=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/null >/dev/console 2>&1
mkdir -p /dev/shm /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t devpts devpts /dev/pts
echo "VMMEM-XEN: dom0 /init after $(cut -d ' ' -f 1 /proc/uptime) s of dom0 uptime"

# privcmd: libxencall and libxenforeignmemory; evtchn: libxenevtchn (which
# libxenctrl opens); gntdev: libxengnttab; gntalloc: libxengntshr;
# xenfs: /proc/xen.
for m in xen-privcmd xen-evtchn xen-gntdev xen-gntalloc xenfs; do
	insmod "/lib/modules/vmmem-xen/$m.ko" || echo "VMMEM-XEN: error: insmod $m failed"
done
mkdir -p /proc/xen
mount -t xenfs xenfs /proc/xen || echo "VMMEM-XEN: error: cannot mount xenfs on /proc/xen"
echo "VMMEM-XEN: hypervisor $(cat /sys/hypervisor/type 2>/dev/null)" \
	"$(cat /sys/hypervisor/version/major 2>/dev/null).$(cat /sys/hypervisor/version/minor 2>/dev/null)$(cat /sys/hypervisor/version/extra 2>/dev/null)," \
	"/dev/xen: $(cd /dev/xen 2>/dev/null && echo *)"

# LD_LIBRARY_PATH and the host's CK_* and VMMEM_* variables.
# shellcheck source=/dev/null # written by run-xen.sh
. /etc/vmmem-xen/env
# /tmp is the initramfs itself, no tmpfs over it: the programs may have
# been copied there (a build tree under /tmp).
cd /tmp || echo "VMMEM-XEN: error: no /tmp"
set -f # the arguments are split on spaces, never globbed
while read -r name cmd <&3; do
	echo "VMMEM-XEN: run $name"
	t0=$(cut -d ' ' -f 1 /proc/uptime)
	# shellcheck disable=SC2086 # split into the program and its arguments
	$cmd
	status=$?
	t1=$(cut -d ' ' -f 1 /proc/uptime)
	echo "VMMEM-XEN: exit $name $status"
	echo "VMMEM-XEN: time $name $(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }") s"
done 3</etc/vmmem-xen/programs
sync
echo "VMMEM-XEN: poweroff"
poweroff -f
