#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# The public surface has four descriptions that must agree: the version
# script, the dynamic symbols the library exports, the functions the header
# declares and the man pages.  Any symbol missing from one of them fails.
set -eu
map="$top_srcdir/lib/libvmmem.map"
hdr="$top_srcdir/include/libvmmem.h"
lib="$top_builddir/.libs/libvmmem.so"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sed -n 's/^[[:space:]]*\(vmmem_[a-z0-9_]*\);.*/\1/p' "$map" | sort > "$tmp/map"
# Exported functions, each bound to the version node.
${NM:-nm} -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' > "$tmp/dyn.raw"
sed 's/@.*//' "$tmp/dyn.raw" | sort > "$tmp/dyn"
# Each symbol bound to the node of the version script that lists it.
awk '/^LIBVMMEM_[0-9.]+ *\{/ { node = $1 }
     /^[[:space:]]*vmmem_[a-z0-9_]*;/ { sub(/^[[:space:]]*/, ""); sub(/;.*/, "");
					print $0 "@@" node }' "$map" | sort > "$tmp/map.versioned"
grep -v '^LIBVMMEM' "$tmp/dyn.raw" | sort | comm -23 - "$tmp/map.versioned" \
	> "$tmp/unversioned" || true
# Declarations: a line that starts with a type and names vmmem_x( --
# static inline helpers and typedefs are not exported functions.
grep -E '^[a-z].*[ *]vmmem_[a-z0-9_]+\(' "$hdr" | grep -v '^static\|^typedef' |
	sed -E 's/.*[ *](vmmem_[a-z0-9_]+)\(.*/\1/' | sort > "$tmp/hdr"
ls "$top_srcdir/man" | sed -n 's/^\(vmmem_[a-z0-9_]*\)\.3$/\1/p' |
	grep -v '^vmmem_\(read\|write\)_le' | grep -v -E '^vmmem_ring_(load|store)[0-9]+$|^vmmem_ring_(read|write)$' | sort > "$tmp/man"

fail=0
for set in dyn hdr man; do
	if ! diff -u "$tmp/map" "$tmp/$set" > "$tmp/diff"; then
		echo "FAIL: lib/libvmmem.map and the $set set differ:"; cat "$tmp/diff"; fail=1
	fi
done
if [ -s "$tmp/unversioned" ]; then
	echo "FAIL: exported without the version node that lists them in lib/libvmmem.map:"; cat "$tmp/unversioned"; fail=1
fi
# Only functions leave the library: no data symbols, nothing from lib/ internals.
if ${NM:-nm} -D --defined-only "$lib" | awk '$2 != "T" && $2 != "A"' | grep .; then
	echo "FAIL: non-function symbols exported"; fail=1
fi
# A library must not print or end the process on its callers' behalf: no
# output or exit function is imported (liburcu's own paths: README, Security).
# A coverage build links gcov's runtime into the library, which writes its
# counters with stdio and may abort: every other build checks this.
if ${NM:-nm} "$lib" | grep -q ' __gcov_'; then
	echo "exports: coverage build (gcov's runtime is linked in): the import check is left to the other builds"
elif ${NM:-nm} -D --undefined-only "$lib" | awk '{ sub(/@.*/, "", $2); print $2 }' |
	grep -E '^(_IO_)?(f?printf|v?f?printf|__[a-z]*printf_chk|puts|fputs|putchar|fputc|putc|fwrite|perror|abort|exit|_exit|__assert_fail|err|errx|warn|warnx|syslog)$'; then
	echo "FAIL: the library imports functions that print or exit"; fail=1
fi
# Nor is liburcu's call_rcu or rcu_barrier used: call_rcu prints and aborts
# when it cannot start its thread, and rcu_barrier prints inside a section;
# retired tables go to the library's own reclaim worker (lib/space/reclaim.c).
if ${NM:-nm} -D --undefined-only "$lib" | awk '{ sub(/@.*/, "", $2); print $2 }' |
	grep -E '^(urcu_bp_(call_rcu|rcu_barrier|defer_rcu|get_default_call_rcu_data|create_call_rcu_data)|(call_rcu|rcu_barrier|defer_rcu)_bp)'; then
	echo "FAIL: the library uses liburcu's call_rcu"; fail=1
fi
[ $fail -eq 0 ] && echo "exports: $(wc -l < "$tmp/map") symbols agree in map, library, header and man pages"
exit $fail
