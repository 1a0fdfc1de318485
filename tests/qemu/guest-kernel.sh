# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# guest-kernel.sh - sourced by the scripts that boot Debian 12's Linux under
# qemu-system-x86_64 (run-qemu.sh, run-in-guest.sh): the kernel and busybox
# downloaded once, the kernel's vmlinux and modules, an initramfs.
# The sourcing script defines CACHE (the download cache) and log().
# Needs apt-get, dpkg-deb, xz, cpio, strings.

# Debian bookworm's linux-image-amd64 and busybox-static into $CACHE/debs.
guest_fetch() {
    local d=$CACHE/debs kpkg
    [ -f "$d/.done" ] && return 0
    rm -rf "$d"; mkdir -p "$d"
    apt-cache show busybox-static >/dev/null 2>&1 || apt-get update -qq || true
    kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
    [ -n "$kpkg" ] || return 1
    log "downloading $kpkg busybox-static into $d"
    (cd "$d" && apt-get download -q -o APT::Sandbox::User=root "$kpkg" busybox-static >/dev/null) || return 1
    touch "$d/.done"
}

# $CACHE/vmlinux and, under $CACHE/x, busybox and the modules the guests
# load (virtio, block, 9p).  The stamp names the module set: a cache made
# for a smaller set is extracted again.
guest_extract() {
    local x=$CACHE/x off f
    [ -f "$x/.done-9p" ] && return 0
    rm -rf "$x"; mkdir -p "$x"
    dpkg-deb -x "$CACHE"/debs/busybox-static_*.deb "$x"
    dpkg-deb --fsys-tarfile "$CACHE"/debs/linux-image-*.deb | tar -x -C "$x" --wildcards \
        './boot/vmlinuz-*' './lib/modules/*/modules.builtin' \
        './lib/modules/*/kernel/drivers/virtio/*' './lib/modules/*/kernel/drivers/block/*' \
        './lib/modules/*/kernel/fs/9p/*' './lib/modules/*/kernel/net/9p/*' \
        './lib/modules/*/kernel/fs/netfs/*' './lib/modules/*/kernel/fs/fscache/*'
    # vmlinux (PVH entry): skips the bzImage's slow decompression under TCG
    f=$(echo "$x"/boot/vmlinuz-*)
    off=$(LC_ALL=C grep -abo $'\xfd7zXZ' "$f" | head -1 | cut -d: -f1)
    tail -c +$((off + 1)) "$f" > "$x/vmlinux.xz"
    xz -dc --single-stream < "$x/vmlinux.xz" > "$CACHE/vmlinux" || cp "$f" "$CACHE/vmlinux"
    rm -f "$x/vmlinux.xz"
    touch "$x/.done-9p"
}

# Modules to load for $1, dependencies first (Debian's package has no
# modules.dep: the depends= field of each module's .modinfo gives them).
SEEN=" "
guest_module_closure() {
    local m=$1 f dep
    case "$SEEN" in *" $m "*) return ;; esac
    SEEN="$SEEN$m "
    grep -qE "/${m//_/[-_]}\.ko$" "$KDIR/modules.builtin" && return
    f=$(find "$KDIR/kernel" -name "$m.ko" -o -name "${m//_/-}.ko" | head -1)
    [ -n "$f" ] || { log "module $m not found"; return 1; }
    for dep in $(strings -a "$f" | sed -n 's/^depends=//p' | tr ',' ' '); do guest_module_closure "$dep"; done
    echo "$f"
}

# guest_initrd OUT INIT "MODULE..." [FILE...]: an initramfs with busybox,
# INIT as /init, guest-boot.sh (which INIT sources) and FILEs in /, and
# the MODULEs with their dependencies in /lib/modules, in load order in
# /modules.order.
guest_initrd() {
    local out=$1 init=$2 modules=$3 r m f
    shift 3
    r=$(mktemp -d "$CACHE/root.XXXXXX")
    mkdir -p "$r"/{bin,dev,proc,sys,tmp,lib/modules}
    cp "$CACHE/x/bin/busybox" "$r/bin/"
    KDIR=$(echo "$CACHE"/x/lib/modules/*)
    SEEN=" "
    : > "$r/modules.order"
    # one subshell: SEEN keeps a shared dependency from loading twice
    for f in $(for m in $modules; do guest_module_closure "$m"; done); do
        cp "$f" "$r/lib/modules/"
        basename "$f" .ko >> "$r/modules.order"
    done
    install -m 755 "$init" "$r/init"
    cp "$(dirname "${BASH_SOURCE[0]}")/guest-boot.sh" "$@" "$r/"
    (cd "$r" && find . | cpio -o -H newc --quiet | gzip -1 > "$out")
    rm -rf "$r"
}
