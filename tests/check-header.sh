#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# The public header must compile on its own as strict C99 and as C++.
set -eu
hdr=$(cd "$top_srcdir/include" && pwd)/libvmmem.h
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf '#include "%s"\nint main(void) { return 0; }\n' "$hdr" > "$tmp/h.c"
cp "$tmp/h.c" "$tmp/h.cc"
fail=0
for std in c99 c11; do
	if ! ${CC:-cc} -std=$std -pedantic -Wall -Wextra -Werror -fsyntax-only "$tmp/h.c"; then
		echo "FAIL: libvmmem.h does not compile alone as $std"; fail=1
	fi
done
for std in c++11 c++17; do
	if ! ${CXX:-c++} -std=$std -pedantic -Wall -Wextra -Werror -fsyntax-only "$tmp/h.cc"; then
		echo "FAIL: libvmmem.h does not compile alone as $std"; fail=1
	fi
done
# Nothing compiler-specific may show through to users.
if grep -n '__attribute__\|__builtin' "$hdr"; then
	echo "FAIL: compiler attributes or builtins in the public header"; fail=1
fi
[ $fail -eq 0 ] && echo "header: C99, C11, C++11 and C++17 clean"
exit $fail
