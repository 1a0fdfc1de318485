# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# guest-boot.sh - sourced first by the /init of every guest that
# guest-kernel.sh's guest_initrd builds (busybox sh): the pseudo file
# systems, and the modules of /modules.order loaded.  guest_fail MSG is
# called for a module that does not load.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp

while read -r m; do
    [ -n "$m" ] && { insmod "/lib/modules/$m.ko" || guest_fail "insmod $m"; }
done < /modules.order
