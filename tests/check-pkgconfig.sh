#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# libvmmem.pc, as configured in the build tree: `pkg-config --cflags --libs
# libvmmem` must work with no other .pc file on the search path (a dynamic
# consumer needs neither liburcu's nor Xen's -dev files) and give only the
# include path and -lvmmem; `--static --libs` must still name what a static
# link needs (liburcu-bp, libnuma, threads, the Xen libraries when built).
# Where the build made a static library (--enable-static), an example is
# linked statically with those flags and run.
#
# Run by `make check` with top_srcdir, top_builddir, CC and HAVE_XEN in the
# environment.
set -eu
pc_dir=$(cd "$top_builddir/pkgconfig" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT HUP INT TERM
mkdir "$tmp/empty"
pc() { PKG_CONFIG_LIBDIR="$tmp/empty" PKG_CONFIG_PATH="$pc_dir" "${PKG_CONFIG:-pkg-config}" "$@"; }
fail=0

if ! dyn=$(pc --cflags --libs libvmmem 2>"$tmp/err"); then
	echo "FAIL: pkg-config --cflags --libs libvmmem, with no other .pc file:"
	cat "$tmp/err"
	exit 1
fi
echo "dynamic: $dyn"
for word in $dyn; do
	case $word in
	-I*|-L*|-lvmmem) ;;
	*) echo "FAIL: a dynamic consumer gets '$word'"; fail=1 ;;
	esac
done
if ! static=$(pc --static --libs libvmmem 2>"$tmp/err"); then
	echo "FAIL: pkg-config --static --libs libvmmem:"
	cat "$tmp/err"
	exit 1
fi
echo "static: $static"
need="-lvmmem -lurcu-bp -lnuma -pthread"
[ "${HAVE_XEN:-no}" = yes ] && need="$need -lxenforeignmemory -lxengnttab -lxentoollog"
for lib in $need; do
	case " $static " in
	*" $lib "*) ;;
	*) echo "FAIL: pkg-config --static --libs lacks $lib"; fail=1 ;;
	esac
done

if [ -f "$top_builddir/.libs/libvmmem.a" ]; then
	# -L first so that the static archive of the build tree is the one found.
	# shellcheck disable=SC2086 # pkg-config's words
	if ! ${CC:-cc} -static-libgcc -o "$tmp/two-regions" \
		-I"$top_srcdir/include" "$top_srcdir/examples/two-regions.c" \
		"$top_builddir/.libs/libvmmem.a" $(pc --static --libs libvmmem | sed 's/-lvmmem//') \
		> "$tmp/err" 2>&1; then
		echo "FAIL: a static link with pkg-config --static --libs:"
		cat "$tmp/err"
		fail=1
	elif ! "$tmp/two-regions" > "$tmp/out" 2>&1; then
		echo "FAIL: the statically linked two-regions failed:"
		cat "$tmp/out"
		fail=1
	else
		echo "static link of examples/two-regions: ran"
	fi
fi
exit $fail
