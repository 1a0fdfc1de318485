#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# The ABI gate.  abi/libvmmem.abi is the ABI of libvmmem.so.1 as released,
# as abidw (abigail-tools) describes it from the library's DWARF, restricted
# to the types of the public header.
#
#   check-abi.sh check  BASELINE LIBRARY HEADERS_DIR   (make check-abi)
#   check-abi.sh update BASELINE LIBRARY HEADERS_DIR   (make update-abi)
#
# check describes LIBRARY the same way and compares the two with abidiff.
# It passes only if nothing changed, or if the only change is functions
# added in a version node that the baseline does not have (a new
# LIBVMMEM_x.y node of lib/libvmmem.map, see docs/RELEASING.md).  Anything
# else fails, including a change abidiff calls compatible: abidiff exits
# with 4 (ABI change) for a changed parameter type, not only 8 (incompatible
# change), so every non-zero status fails unless it is a pure addition.
#
# update rewrites BASELINE from LIBRARY: a release step, never a way to make
# check pass.  LIBRARY must be built with debug information (-g, the
# default CFLAGS); the baseline is per architecture (x86_64 here), and on
# another one check says so and does not compare.
#
# Exit status: 0 pass (or another architecture), 1 ABI change or error.
set -eu

ABIDW=${ABIDW:-abidw}
ABIDIFF=${ABIDIFF:-abidiff}
READELF=${READELF:-readelf}

usage() {
	echo "usage: $0 check|update BASELINE LIBRARY HEADERS_DIR" >&2
	exit 1
}
[ $# -eq 4 ] || usage
mode=$1 baseline=$2 lib=$3 headers=$4
case $mode in check|update) ;; *) usage ;; esac

for tool in "$ABIDW" "$ABIDIFF" "$READELF"; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "check-abi: $tool not found (Debian: apt-get install abigail-tools binutils)" >&2
		exit 1
	fi
done
if [ ! -f "$lib" ]; then
	echo "check-abi: no library $lib: build it first (make)" >&2
	exit 1
fi
# Without DWARF abidw sees symbol names only and every type change would
# pass unnoticed.
if ! "$READELF" -S "$lib" | grep -q '\.debug_info'; then
	echo "check-abi: $lib has no debug information; build with -g (the default CFLAGS)" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT HUP INT TERM

# The one description of the ABI, for the baseline and for the check alike:
# only what the public header defines (--headers-dir, --drop-private-types),
# only exported interfaces, and nothing that depends on where or from which
# directory the library was built.
describe() {
	"$ABIDW" --headers-dir "$headers" --drop-private-types --no-show-locs \
		--no-corpus-path --no-comp-dir-path --no-elf-needed --exported-interfaces-only \
		--out-file "$2" "$1"
}

if [ "$mode" = update ]; then
	describe "$lib" "$tmp/new.abi"
	mv "$tmp/new.abi" "$baseline"
	echo "check-abi: wrote $baseline:" \
		"$(grep -c '<elf-symbol ' "$baseline") symbols in version node(s)" \
		"$(sed -n "s/.*<elf-symbol .* version='\([^']*\)'.*/\1/p" "$baseline" | sort -u | paste -sd ' ')"
	exit 0
fi

if [ ! -f "$baseline" ]; then
	echo "check-abi: no baseline $baseline" >&2
	exit 1
fi
describe "$lib" "$tmp/new.abi"

arch() { sed -n "1s/.* architecture='\([^']*\)'.*/\1/p" "$1"; }
if [ "$(arch "$baseline")" != "$(arch "$tmp/new.abi")" ]; then
	echo "check-abi: SKIPPED: the baseline is for $(arch "$baseline")," \
		"this library is $(arch "$tmp/new.abi"); nothing compared"
	exit 0
fi

# Exported symbols as name@version, one a line: functions and variables.
symbols() {
	sed -n "s/.*<elf-symbol name='\([^']*\)'\( version='\([^']*\)'\)\{0,1\}.*/\1@\3/p" "$1" |
		LC_ALL=C sort -u
}
symbols "$baseline" > "$tmp/old.syms"
symbols "$tmp/new.abi" > "$tmp/new.syms"
sed 's/.*@//' "$tmp/old.syms" | LC_ALL=C sort -u > "$tmp/old.nodes"
LC_ALL=C comm -13 "$tmp/old.syms" "$tmp/new.syms" > "$tmp/added"
LC_ALL=C comm -23 "$tmp/old.syms" "$tmp/new.syms" > "$tmp/removed"

status=0
"$ABIDIFF" "$baseline" "$tmp/new.abi" > "$tmp/report" 2>&1 || status=$?
if [ $status -eq 0 ] && [ ! -s "$tmp/added" ] && [ ! -s "$tmp/removed" ]; then
	echo "check-abi: ABI unchanged: $(wc -l < "$tmp/new.syms") symbols," \
		"the same types as $(basename "$baseline")"
	exit 0
fi

fail=0
explain() { echo "check-abi: FAIL: $*"; fail=1; }
# abidiff's status is a bit mask: 1 error, 2 usage error, 4 ABI change,
# 8 incompatible ABI change.
if [ $((status & 3)) -ne 0 ]; then
	explain "abidiff could not compare (exit $status)"
elif [ $((status & 8)) -ne 0 ]; then
	explain "abidiff reports an incompatible ABI change (exit $status)"
elif [ $status -ne 0 ]; then
	# A change abidiff calls compatible: allowed only if it is nothing but
	# added symbols, which is what abidiff finds when told not to look at
	# additions.
	status2=0
	"$ABIDIFF" --no-added-syms "$baseline" "$tmp/new.abi" > "$tmp/report2" 2>&1 || status2=$?
	if [ $status2 -ne 0 ]; then
		explain "abidiff reports an ABI change other than added symbols (exit $status, $status2 without additions)"
	fi
fi
if [ -s "$tmp/removed" ]; then
	explain "symbols removed or moved out of their version node:"
	sed 's/^/    /' "$tmp/removed"
fi
while IFS=@ read -r sym node; do
	if [ -z "$node" ]; then
		explain "$sym is exported without a version node"
	elif grep -qxF "$node" "$tmp/old.nodes"; then
		explain "$sym was added to $node, which is released: add it to a new node (docs/RELEASING.md)"
	fi
done < "$tmp/added"

if [ $fail -ne 0 ]; then
	echo "check-abi: abidiff $(basename "$baseline") <built library>, exit $status:"
	sed 's/^/    /' "$tmp/report"
	echo "check-abi: the ABI of $lib differs from $baseline (see above)."
	echo "check-abi: if the change is intended for a new release, docs/RELEASING.md says what to do."
	exit 1
fi
echo "check-abi: ABI compatible: only additions, in new version node(s):"
sed 's/^/    /' "$tmp/added"
exit 0
