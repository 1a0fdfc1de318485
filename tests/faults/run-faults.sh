#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# Runs tests/faults/test-faults with libfault.so preloaded, for that program
# only (the rest of make check runs without it).
#
# Run by make check with top_builddir in the environment; by hand, from the
# build directory: sh tests/faults/run-faults.sh
# Exit status: that of test-faults; 77 (skipped) for a sanitizer build.
set -u

top_builddir=${top_builddir:-.}
dir="$top_builddir/tests/faults"
prog="$dir/test-faults"
la="$dir/libfault.la"

if [ ! -x "$prog" ] || [ ! -f "$la" ]; then
	echo "run-faults.sh: $prog or $la is not built (make check builds them)" >&2
	exit 99
fi
# The shared object libtool built: dlname in the .la, in its objdir.
dlname=$(sed -n "s/^dlname='\(.*\)'\$/\1/p" "$la")
lib=
for objdir in .libs _libs; do
	if [ -n "$dlname" ] && [ -f "$dir/$objdir/$dlname" ]; then
		lib="$dir/$objdir/$dlname"
		break
	fi
done
if [ -z "$lib" ]; then
	echo "run-faults.sh: no shared object for $la" >&2
	exit 99
fi
lib=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")

# Under make check-valgrind, valgrind's allocator would replace libfault's.
case ${VMMEM_TEST_VALGRIND:-0} in
0|"") ;;
*) echo "run-faults.sh: SKIP: fault injection does not run under valgrind"; exit 77 ;;
esac

# A sanitizer build (ASan aborts when a library is preloaded ahead of its
# runtime) and an ILP32 build exit 77 here, before anything is preloaded.
FAULTS_PROBE=1 "$prog"
status=$?
if [ "$status" -ne 0 ]; then
	[ "$status" -eq 77 ] && echo "run-faults.sh: SKIP: $prog skips here (its reason is above)"
	exit "$status"
fi

LD_PRELOAD="$lib${LD_PRELOAD:+ $LD_PRELOAD}"
export LD_PRELOAD
exec "$prog"
