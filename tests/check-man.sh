#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# The man pages: every page must lint clean with mandoc and groff, every
# exported symbol of lib/libvmmem.map must have its page man/<symbol>.3 (and
# no page may document a function that is not exported, apart from the
# static inline helpers of the header), every alias page must point at a page
# that exists, and man/Makefile.inc must install exactly the pages of man/.
#
# Run by `make check` with top_srcdir and top_builddir in the environment;
# by hand: top_srcdir=. sh tests/check-man.sh
# Exit status: 0 all good, 1 failure, 77 (skipped) if mandoc or groff is
# missing and nothing else failed.
set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
mandir=$(cd "$top_srcdir/man" && pwd) || { echo "FAIL: no man/ directory in $top_srcdir"; exit 1; }
map="$top_srcdir/lib/libvmmem.map"
makeinc="$mandir/Makefile.inc"
# The header helpers documented in man3 but not exported by the library.
helpers="vmmem_read_le16 vmmem_read_le32 vmmem_read_le64 vmmem_write_le16 vmmem_write_le32 vmmem_write_le64
vmmem_ring_load16 vmmem_ring_load32 vmmem_ring_load64 vmmem_ring_store16
vmmem_ring_store32 vmmem_ring_store64 vmmem_ring_read vmmem_ring_write"

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT HUP INT TERM
# Alias pages say ".so man3/<page>.3", which roff resolves from the current
# directory, as man(1) does from the root of a man hierarchy: lint from a
# directory where man3 (and man7) is the source man/ directory.
ln -s "$mandir" "$tmp/man3"
ln -s "$mandir" "$tmp/man7"

fail=0
missing=
have() { command -v "$1" > /dev/null 2>&1; }
have mandoc || missing="$missing mandoc"
have groff || missing="$missing groff"

pages=$(cd "$mandir" && ls | grep -E '^[a-z0-9_]+\.[37]$' | LC_ALL=C sort)
if [ -z "$pages" ]; then
	echo "FAIL: no man page in $mandir"
	exit 1
fi

for page in $pages; do
	src="$mandir/$page"
	case $(sed -n 1p "$src") in
	.so\ *)
		# An alias page: exactly one line, naming a full page that exists.
		target=$(sed -n 's|^\.so man3/\([a-z0-9_]*\.3\)$|\1|p' "$src")
		if [ "$(wc -l < "$src")" -ne 1 ] || [ -z "$target" ]; then
			echo "FAIL: $page: an alias page must be the single line '.so man3/<page>.3'"
			fail=1; continue
		fi
		if [ ! -f "$mandir/$target" ]; then
			echo "FAIL: $page: alias target man/$target does not exist"
			fail=1; continue
		fi
		if sed -n 1p "$mandir/$target" | grep -q '^\.so'; then
			echo "FAIL: $page: alias target man/$target is itself an alias"
			fail=1; continue
		fi
		;;
	esac
	section=${page##*.}
	if have mandoc; then
		# mandoc warns that ".so is fragile, better use ln(1)" on every
		# alias page.  The aliases are .so pages on purpose (one file per
		# symbol in the tarball, resolved by man(1) at run time); that
		# message alone is filtered, any other one fails.
		out=$(cd "$tmp" && mandoc -Tlint -W warning "man$section/$page" 2>&1 |
			grep -v 'WARNING: \.so is fragile, better use ln(1)')
		if [ -n "$out" ]; then
			echo "FAIL: mandoc -Tlint -W warning man/$page:"
			printf '%s\n' "$out"
			fail=1
		fi
	fi
	if have groff; then
		if ! (cd "$tmp" && groff -ww -z -man "man$section/$page") > "$tmp/groff.out" 2>&1 ||
		   [ -s "$tmp/groff.out" ]; then
			echo "FAIL: groff -ww -z -man man/$page:"
			cat "$tmp/groff.out"
			fail=1
		fi
	fi
done

# ERRORS, in man-pages(7) style: every function page that can fail has an
# ERRORS section right after RETURN VALUE, listing each error number as a
# .TP entry ".B \-EXXX", alphabetically within each list; RETURN VALUE only
# refers to it.  Only a page whose RETURN VALUE says "cannot fail" may lack
# ERRORS.
for page in $pages; do
	src="$mandir/$page"
	case $page in *.3) ;; *) continue ;; esac
	sed -n 1p "$src" | grep -q '^\.so' && continue
	out=$(awk '
	/^\.SH / {
		sec = substr($0, 5); gsub(/"/, "", sec)
		if (prev == "RETURN VALUE") after_rv = sec
		prev = sec; if (sec == "RETURN VALUE") have_rv = 1
		if (sec == "ERRORS") { have_err = 1; last = "" }
		tp = 0; next
	}
	sec == "RETURN VALUE" && /cannot fail/ { cannot = 1 }
	sec == "RETURN VALUE" && tp && /^\.B \\-E/ { print "an error entry under RETURN VALUE: " $0 }
	sec == "ERRORS" && tp {
		if ($0 !~ /^\.B \\-E[A-Z0-9]+$/) print "ERRORS entry is not \".B \\-EXXX\": " $0
		else { if (last != "" && $2 < last) print "ERRORS not in alphabetical order: " $2 " after " last; last = $2; entries++ }
	}
	sec == "ERRORS" && /^\.PP$/ { last = "" }
	{ tp = ($0 == ".TP") }
	END {
		if (!have_rv) print "no RETURN VALUE section"
		else if (!have_err && !cannot) print "no ERRORS section (and RETURN VALUE does not say \"cannot fail\")"
		else if (have_err && after_rv != "ERRORS") print "ERRORS does not follow RETURN VALUE"
		else if (have_err && !entries) print "ERRORS lists no error number"
	}' "$src")
	if [ -n "$out" ]; then
		echo "FAIL: man/$page:"
		printf '%s\n' "$out" | sed 's/^/  /'
		fail=1
	fi
done

# One page per exported symbol, and no page for a function that is not one.
sed -n 's/^[[:space:]]*\(vmmem_[a-z0-9_]*\);.*/\1/p' "$map" | LC_ALL=C sort > "$tmp/map"
if [ ! -s "$tmp/map" ]; then
	echo "FAIL: no symbol found in $map"
	fail=1
fi
printf '%s\n' $pages | sed -n 's/^\(vmmem_[a-z0-9_]*\)\.3$/\1/p' > "$tmp/man.all"
printf '%s\n' $helpers > "$tmp/helpers"
grep -v -x -F -f "$tmp/helpers" "$tmp/man.all" | LC_ALL=C sort > "$tmp/man"
if ! diff "$tmp/map" "$tmp/man" > "$tmp/diff"; then
	echo "FAIL: the symbols of lib/libvmmem.map and the man/*.3 pages differ"
	echo "      ('<' symbol without a page, '>' page without a symbol):"
	grep '^[<>]' "$tmp/diff"
	fail=1
fi
for h in $helpers; do
	if [ ! -f "$mandir/$h.3" ]; then
		echo "FAIL: the header helper $h has no page man/$h.3"
		fail=1
	fi
done

# man/Makefile.inc installs every page, and only pages that exist.
sed -n 's|.*\(man/[a-z0-9_]*\.[37]\).*|\1|p' "$makeinc" | LC_ALL=C sort > "$tmp/installed"
printf 'man/%s\n' $pages | LC_ALL=C sort > "$tmp/present"
if ! diff "$tmp/present" "$tmp/installed" > "$tmp/diff"; then
	echo "FAIL: man/Makefile.inc and the pages in man/ differ"
	echo "      ('<' page not installed, '>' installed page that does not exist):"
	grep '^[<>]' "$tmp/diff"
	fail=1
fi

if [ $fail -ne 0 ]; then
	exit 1
fi
if [ -n "$missing" ]; then
	echo "SKIP: not installed:$missing; the pages were not all linted"
	exit 77
fi
echo "man: $(echo "$pages" | wc -l | tr -d ' ') pages lint clean;" \
	"$(wc -l < "$tmp/map" | tr -d ' ') exported symbols each have a page"
exit 0
