#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# run-xen.sh - run programs of the build tree inside a real Xen dom0.
#
# Boots Debian's Xen 4.17 hypervisor with Debian's Linux as a PV dom0 under
# qemu-system-x86_64 (TCG: no KVM and no Xen needed on the host).  The dom0
# initramfs holds busybox, the Xen userspace driver modules and, for each
# PROGRAM, the binary and every shared library ldd lists for it, at the same
# absolute paths as on the host (so a libtool -no-install binary finds the
# build tree's .libs through its rpath).  /init (dom0-init.sh beside this
# script) runs the programs in the order given and powers the machine off.
#
# Usage: run-xen.sh [--skip-unavailable] 'PROGRAM [ARG...]'...
#   Each argument is one program to run in dom0: its path (absolute, or
#   relative to the current directory), then its arguments, separated by
#   spaces (no quoting: an argument cannot contain a space).  A program must
#   be an ELF binary (link libtool programs with -no-install).  An argument
#   that is the absolute path of an ELF binary (a program the program runs)
#   is copied into dom0 as well, with its libraries.
#   --skip-unavailable: when a host tool is missing or the Debian packages
#   cannot be downloaded, print the reason and exit 77 (skipped) instead of 1.
#
# Exit status: 0 when every program exited 0, at least one line
# "xen-suite: N passed, N failed, N skipped" was printed and all such lines
# say 0 failed, /init reported no error (insmod, xenfs) and dom0 powered the
# machine off by itself; 77 skipped (see above); 2 usage error; 1 otherwise
# (then the last 40 lines of the console and the reasons are printed).  stdout shows the lines of the console
# that start with PASS:, FAIL:, SKIP:, BENCH:, xen-suite: or VMMEM-XEN:.
#
# Environment:
#   top_builddir       the build tree (default: the current directory if it
#                      holds config.status, else this script's ../..)
#   VMMEM_XEN_CACHE    downloaded .debs and what is extracted from them
#                      (default $top_builddir/tests/xen/cache; about 80 MB)
#   VMMEM_XEN_LOG      the whole serial console, each line with the time
#                      since QEMU started (default $top_builddir/tests/xen/serial.log)
#   VMMEM_XEN_TIMEOUT  seconds for the whole QEMU run (default 600)
#   VMMEM_XEN_VERBOSE  1: copy the whole console to stdout as well
#   VMMEM_XEN_QEMU     the QEMU binary (default qemu-system-x86_64)
#   Host variables named CK_* (Check's settings) and VMMEM_* are exported
#   to the programs in dom0, and LSAN_OPTIONS names lsan.supp beside this
#   script (copied into dom0) for programs built with ASan.
# The package lists are refreshed (apt-get update) once when apt knows no
# candidate or a download fails (stale lists); without network or root for
# that, the last packages downloaded into the cache are used.
set -euo pipefail

me=run-xen
XEN_PKG=xen-hypervisor-4.17-amd64
KERNEL_META=linux-image-amd64
BUSYBOX_PKG=busybox-static
MODULES="xen-privcmd xen-evtchn xen-gntdev xen-gntalloc xenfs"
QEMU=${VMMEM_XEN_QEMU:-qemu-system-x86_64}
TIMEOUT=${VMMEM_XEN_TIMEOUT:-600}
# The guest: qemu64 includes svm; +npt lets Xen create HVM/PVH domains (HAP).
# Not -cpu max: its SMAP makes the PV dom0 fault at once.  -smp 1: a second
# vCPU only slows TCG down on a small host.
QEMU_CPU=qemu64,+svm,+npt
XEN_CMDLINE="console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M loglvl=all guest_loglvl=all bootscrub=0"
DOM0_CMDLINE="console=hvc0 earlyprintk=xen rdinit=/init panic=-1"

usage() {
	echo "usage: $0 [--skip-unavailable] 'PROGRAM [ARG...]'..."
}

skip_unavailable=no
while [ $# -gt 0 ]; do
	case $1 in
	--skip-unavailable) skip_unavailable=yes; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	-*) usage >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || { usage >&2; exit 2; }

die() { echo "$me: error: $*" >&2; exit 1; }
note() { echo "$me: $*"; }
# Something this host lacks: a skip with --skip-unavailable, else an error.
unavailable() {
	if [ "$skip_unavailable" = yes ]; then
		echo "$me: SKIP: $*"
		exit 77
	fi
	die "$* (--skip-unavailable would skip instead)"
}
now_us() { local t=${EPOCHREALTIME/./}; echo $((10#$t)); }
secs() { printf '%d.%d' $(($1 / 1000000)) $(($1 % 1000000 / 100000)); }
t_start=$(now_us)

# ------------------------------------------------------------ prerequisites
missing=
for tool in "$QEMU" cpio apt-get apt-cache dpkg-deb ldd timeout gzip tar; do
	command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
[ -z "$missing" ] || unavailable "missing host tools:$missing (Debian: apt-get install qemu-system-x86 cpio)"
case $TIMEOUT in '' | *[!0-9]*) die "VMMEM_XEN_TIMEOUT must be a number of seconds, not '$TIMEOUT'" ;; esac

here=$(cd "$(dirname "$0")" && pwd)
init_script=$here/dom0-init.sh
lsan_supp=$here/lsan.supp
[ -f "$init_script" ] || die "$init_script is missing"
if [ -n "${top_builddir:-}" ]; then
	top_builddir=$(cd "$top_builddir" && pwd)
elif [ -f config.status ]; then
	top_builddir=$PWD
else
	top_builddir=$(cd "$here/../.." && pwd)
fi
cache=${VMMEM_XEN_CACHE:-$top_builddir/tests/xen/cache}
serial=${VMMEM_XEN_LOG:-$top_builddir/tests/xen/serial.log}

# ------------------------------------------------------------ the programs
# prog_path[i] (absolute), prog_args[i], prog_name[i] (basename);
# copy_paths: the ELF binaries to copy into dom0 (programs and arguments)
prog_path=() prog_args=() prog_name=() copy_paths=()
is_elf() { [ -f "$1" ] && [ "$(head -c 4 "$1" | tr -d '\177')" = ELF ]; }
for spec in "$@"; do
	read -r -a words <<<"$spec"
	[ ${#words[@]} -gt 0 ] || die "empty program argument"
	p=${words[0]}
	case $p in /*) ;; *) p=$PWD/$p ;; esac
	[ -f "$p" ] || die "no program $p (build it first)"
	[ -x "$p" ] || die "$p is not executable"
	[ "$(head -c 4 "$p" | tr -d '\177')" = ELF ] ||
		die "$p is not an ELF binary (a libtool wrapper script? link the program with -no-install)"
	prog_path+=("$p")
	prog_args+=("${words[*]:1}")
	prog_name+=("${p##*/}")
	copy_paths+=("$p")
	for w in "${words[@]:1}"; do
		case $w in /*) ! is_elf "$w" || copy_paths+=("$w") ;; esac
	done
done

# ------------------------------------------------------------ the Debian packages
# Downloaded once into $cache/debs (named as apt-get download names them),
# extracted once into $cache/boot-KEY, KEY naming the three .deb files.
mkdir -p "$cache/debs" || die "cannot create $cache"
cache=$(cd "$cache" && pwd)
if command -v flock >/dev/null 2>&1; then
	exec 9>"$cache/.lock"
	flock 9
fi

apt_q() { apt-get -q -o APT::Sandbox::User=root "$@"; }
deb_names=() need=()
# Fills deb_names[] with the candidate .deb file names and need[] with the
# packages whose file is not in the cache; fails if apt knows no candidate.
resolve() {
	local kpkg pkg ver arch
	deb_names=() need=()
	kpkg=$(apt-cache show --no-all-versions "$KERNEL_META" 2>/dev/null |
		sed -n 's/^Depends: \(linux-image-[0-9][^ ,]*\).*/\1/p' | head -n 1)
	[ -n "$kpkg" ] || return 1
	while read -r pkg ver arch; do
		deb_names+=("${pkg}_${ver//:/%3a}_$arch.deb")
		[ -s "$cache/debs/${deb_names[-1]}" ] || need+=("$pkg")
	done < <(apt-cache show --no-all-versions "$XEN_PKG" "$kpkg" "$BUSYBOX_PKG" 2>/dev/null |
		awk '/^Package:/ { p = $2 } /^Version:/ { v = $2 } /^Architecture:/ { a = $2 }
		     /^$/ { if (p != "") print p, v, a; p = "" } END { if (p != "") print p, v, a }')
	# in the order deb_names[] is used below: Xen, kernel, busybox
	[ ${#deb_names[@]} -eq 3 ] && [ "${deb_names[0]%%_*}" = "$XEN_PKG" ] &&
		[ "${deb_names[1]%%_*}" = "$kpkg" ] && [ "${deb_names[2]%%_*}" = "$BUSYBOX_PKG" ]
}
download() {
	local tmp rc=0 pkg f
	[ ${#need[@]} -gt 0 ] || return 0
	note "downloading ${need[*]} into $cache/debs"
	tmp=$(mktemp -d "$cache/debs/tmp.XXXXXX")
	(cd "$tmp" && apt_q download "${need[@]}") >"$tmp.log" 2>&1 || rc=$?
	if [ $rc -eq 0 ]; then
		for f in "${deb_names[@]}"; do
			[ -s "$cache/debs/$f" ] || [ -s "$tmp/$f" ] || { rc=1; echo "no $f" >>"$tmp.log"; }
			[ ! -s "$tmp/$f" ] || mv -f "$tmp/$f" "$cache/debs/$f"
		done
	fi
	[ $rc -eq 0 ] || sed 's/^/  /' "$tmp.log" >&2
	rm -rf "$tmp" "$tmp.log"
	return $rc
}
updated=no
update_lists() {
	updated=yes
	note "refreshing the package lists (apt-get update)"
	apt_q update >/dev/null 2>&1
}
fetched=no
if resolve && download; then
	fetched=yes
elif [ $updated = no ] && update_lists && resolve && download; then
	# unknown packages or a 404 from stale lists: once more with fresh lists
	fetched=yes
elif [ -f "$cache/debs/last" ]; then
	# no network or no root for apt-get update: the last set that worked
	mapfile -t deb_names <"$cache/debs/last"
	for f in "${deb_names[@]}"; do [ -s "$cache/debs/$f" ] || deb_names=(); done
	[ ${#deb_names[@]} -eq 3 ] && note "cannot reach the Debian archive; using the cached ${deb_names[*]}" && fetched=yes
fi
[ $fetched = yes ] || unavailable "cannot download $XEN_PKG, the kernel of $KERNEL_META and $BUSYBOX_PKG with apt-get"
printf '%s\n' "${deb_names[@]}" >"$cache/debs/last"

key=$(printf '%s\n' "${deb_names[@]}" | cksum | cut -d ' ' -f 1)
boot=$cache/boot-$key
if [ ! -f "$boot/.done" ]; then
	note "extracting ${deb_names[*]}"
	rm -rf "$boot" "$boot.tmp"
	mkdir -p "$boot.tmp/x" "$boot.tmp/modules"
	x=$boot.tmp/x
	dpkg-deb -x "$cache/debs/${deb_names[0]}" "$x"
	dpkg-deb -x "$cache/debs/${deb_names[2]}" "$x"
	# From the kernel only vmlinuz and the five modules (not 400 MB of it).
	wild=('./boot/vmlinuz-*')
	for m in $MODULES; do wild+=("*/$m.ko"); done
	dpkg-deb --fsys-tarfile "$cache/debs/${deb_names[1]}" |
		tar -x -C "$x" --wildcards "${wild[@]}"
	# QEMU's multiboot loader wants the ELF image of Xen, not the .gz.
	set -- "$x"/boot/xen-*.gz
	if [ $# -ne 1 ] || [ ! -f "$1" ]; then die "no single boot/xen-*.gz in ${deb_names[0]}"; fi
	gzip -dc "$1" >"$boot.tmp/xen"
	set -- "$x"/boot/vmlinuz-*
	if [ $# -ne 1 ] || [ ! -f "$1" ]; then die "no single boot/vmlinuz-* in ${deb_names[1]}"; fi
	mv "$1" "$boot.tmp/vmlinuz"
	mv "$x/bin/busybox" "$boot.tmp/busybox"
	for m in $MODULES; do
		f=$(find "$x/lib/modules" -name "$m.ko" | head -n 1)
		[ -n "$f" ] || die "no $m.ko in ${deb_names[1]}"
		mv "$f" "$boot.tmp/modules/"
	done
	rm -rf "$x"
	touch "$boot.tmp/.done"
	mv -T "$boot.tmp" "$boot"
	# Drop what older package versions left in the cache.
	for f in "$cache"/boot-*; do [ "$f" = "$boot" ] || rm -rf "$f"; done
	for f in "$cache"/debs/*.deb; do
		case " ${deb_names[*]} " in *" ${f##*/} "*) ;; *) rm -f "$f" ;; esac
	done
fi
exec 9>&- # release the cache lock

# ------------------------------------------------------------ the initramfs
work=$(mktemp -d "${TMPDIR:-/tmp}/vmmem-xen.XXXXXX")
trap 'rm -rf "$work"' EXIT
case $work in *[\ ,]*) die "the temporary directory $work has a space or a comma (set TMPDIR)" ;; esac
root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,run,etc/vmmem-xen,lib/modules/vmmem-xen}
cp "$boot/busybox" "$root/bin/busybox"
cp "$boot"/modules/*.ko "$root/lib/modules/vmmem-xen/"
cp "$init_script" "$root/init"
cp "$lsan_supp" "$root/etc/vmmem-xen/lsan.supp"
chmod 755 "$root/init" "$root/bin/busybox"

# copy_file HOSTPATH: the file (symlinks followed) at the same path in dom0.
copy_file() {
	[ -e "$root$1" ] && return 0
	mkdir -p "$root${1%/*}"
	cp -L "$1" "$root$1"
}
libdirs=" "
for p in "${copy_paths[@]}"; do
	copy_file "$p"
	ldd_out=$(ldd "$p" 2>&1) || die "ldd $p failed: $ldd_out"
	if grep -q 'not found' <<<"$ldd_out"; then
		die "ldd $p: $(grep 'not found' <<<"$ldd_out" | tr -s ' \t\n' ' ')"
	fi
	while read -r lib; do
		copy_file "$lib"
		case $libdirs in *" ${lib%/*} "*) ;; *) libdirs="$libdirs${lib%/*} " ;; esac
	done < <(sed -n 's/^[[:space:]]*[^ ]* => \(\/[^ ]*\) (0x.*$/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (0x.*$/\1/p' <<<"$ldd_out")
done
# glibc loads libgcc_s.so.1 at run time (pthread_cancel, pthread_exit,
# backtraces); ldd does not list it.  Take the one beside libc.
for d in $libdirs; do
	if [ -e "$d/libc.so.6" ] && [ -e "$d/libgcc_s.so.1" ]; then
		copy_file "$d/libgcc_s.so.1"
	fi
done

for i in "${!prog_path[@]}"; do
	printf '%s %s %s\n' "${prog_name[$i]}" "${prog_path[$i]}" "${prog_args[$i]}"
done >"$root/etc/vmmem-xen/programs"
{
	# The dynamic loader has no ld.so.cache in dom0: the libraries' own
	# directories, in the order ldd found them.
	dirs=${libdirs# }
	dirs=${dirs% }
	echo "LD_LIBRARY_PATH='${dirs// /:}'; export LD_LIBRARY_PATH"
	# Read only by programs built with ASan (LeakSanitizer): Check's own
	# allocations, not libvmmem's (see lsan.supp).
	echo "LSAN_OPTIONS='suppressions=/etc/vmmem-xen/lsan.supp'; export LSAN_OPTIONS"
	while IFS= read -r name; do
		v=${!name}
		echo "$name='${v//\'/\'\\\'\'}'; export $name"
	done < <(compgen -e | grep -E '^(CK|VMMEM)_' || true)
} >"$root/etc/vmmem-xen/env"

# Uncompressed: the emulated CPU would spend longer in gunzip than QEMU
# spends loading the larger file.
(cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet) >"$work/initrd.img"
ln -s "$boot/xen" "$work/xen"
ln -s "$boot/vmlinuz" "$work/vmlinuz"
t_prep=$(($(now_us) - t_start))

# ------------------------------------------------------------ the boot
mkdir -p "${serial%/*}"
: >"$serial"
note "booting Xen and dom0 under QEMU TCG: ${prog_name[*]} (timeout ${TIMEOUT} s; console: $serial)"
# -no-reboot: a crash or panic of dom0 or Xen ends QEMU instead of a reboot loop.
# -initrd "KERNEL CMDLINE,INITRD": the multiboot modules, dom0's kernel first.
qemu_cmd=("$QEMU" -accel tcg -cpu "$QEMU_CPU" -smp 1 -m 2048
	-nodefaults -no-user-config -display none -monitor none -serial stdio -no-reboot
	-kernel "$work/xen" -append "$XEN_CMDLINE"
	-initrd "$work/vmlinuz $DOM0_CMDLINE,$work/initrd.img")
verbose=${VMMEM_XEN_VERBOSE:-0}
marker='^(PASS|FAIL|SKIP|BENCH|xen-suite|VMMEM-XEN):'
t0=$(now_us)
set +e
timeout -k 10 "$TIMEOUT" "${qemu_cmd[@]}" </dev/null 2>&1 | {
	# No fork per line: QEMU needs the host's CPUs.
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line//$'\r'/}
		t=${EPOCHREALTIME/./}
		t=$((10#$t - t0))
		printf '[%4d.%02d] %s\n' $((t / 1000000)) $((t % 1000000 / 10000)) "$line" >&3
		if [ "$verbose" = 1 ] || [[ $line =~ $marker ]]; then
			printf '%s\n' "$line"
		fi
	done 3>>"$serial"
}
qemu_rc=${PIPESTATUS[0]}
set -e
t_boot=$(($(now_us) - t0))

# ------------------------------------------------------------ the verdict
console() { sed 's/^\[ *[0-9]*\.[0-9]*\] //' "$serial"; }
problems=()
if [ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ]; then
	problems+=("QEMU did not power off within $TIMEOUT s (VMMEM_XEN_TIMEOUT)")
elif [ "$qemu_rc" -ne 0 ]; then
	problems+=("QEMU exited with status $qemu_rc")
fi
mapfile -t exits < <(console | sed -n 's/^VMMEM-XEN: exit \([^ ]*\) \([0-9]*\)$/\1 \2/p')
for i in "${!prog_name[@]}"; do
	e=${exits[$i]:-}
	if [ -z "$e" ] || [ "${e% *}" != "${prog_name[$i]}" ]; then
		problems+=("${prog_name[$i]} did not finish (no 'VMMEM-XEN: exit ${prog_name[$i]}' line)")
	elif [ "${e#* }" != 0 ]; then
		problems+=("${prog_name[$i]} exited with status ${e#* }")
	fi
done
mapfile -t errors < <(console | sed -n 's/^VMMEM-XEN: error: //p')
for e in "${errors[@]}"; do problems+=("dom0: $e"); done
mapfile -t sums < <(console | grep -E '^xen-suite: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped' || true)
if [ ${#sums[@]} -eq 0 ]; then
	problems+=("no 'xen-suite: N passed, N failed, N skipped' line")
fi
for s in "${sums[@]}"; do
	case $s in *" 0 failed,"*) ;; *) problems+=("$s") ;; esac
done
if ! console | grep -q '^VMMEM-XEN: poweroff$'; then
	problems+=("dom0 did not reach the end of /init")
fi

times="prepare $(secs $t_prep) s, QEMU $(secs $t_boot) s"
if [ ${#problems[@]} -eq 0 ]; then
	note "PASS: ${prog_name[*]} in Xen dom0 ($times; console: $serial)"
	exit 0
fi
echo "$me: the last 40 lines of the console ($serial):"
tail -n 40 "$serial" | sed 's/^/  | /'
for p in "${problems[@]}"; do echo "$me: FAIL: $p"; done
note "FAIL ($times; console: $serial)"
exit 1
