#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# make check-valgrind (issue 8, part 3): runs each test program under
# valgrind's memcheck, from the build tree, and fails on any memcheck error,
# any definitely or indirectly lost block, any failed test and any timeout.
#
#   valgrind-check.sh 'PROGRAM [ARG]...'...
#
# Each argument is one test: a program of the build tree (a libtool wrapper
# is fine: it runs through `libtool --mode=execute`) and its arguments.
# From the environment (make check-valgrind sets them):
#   LIBTOOL            the build's libtool (default: ./libtool)
#   VALGRIND           valgrind (default: valgrind)
#   VALGRIND_FLAGS     memcheck's options (default below, with
#                      tests/valgrind.supp, which says why each entry is
#                      intended)
#   top_srcdir         where tests/valgrind.supp is (default: .)
#   VALGRIND_JOBS      programs run at once (default: nproc)
#   VALGRIND_TIMEOUT   seconds one program may take (default 900)
# A test's log is PROGRAM.valgrind.log beside the program (with its
# arguments appended to the name: bench/vmmem-bench_--check.valgrind.log),
# its verdict PROGRAM.valgrind.trs.
#
# Check programs run with CK_FORK=no: one process per program, so that
# memcheck's errors set its exit status and the leak check at its exit
# covers all its tests.  In fork mode each test would end in a child of its
# own, with a summary of its own over a copy of the parent's heap, and
# Check would report memcheck's verdict only as an "early exit".  Without a
# fork Check enforces no test timeout (CK_TIMEOUT_MULTIPLIER does nothing
# there), so the slow timing-based tests (hotplug, atomic tearing, IOMMU
# concurrency) simply take the time they need, and VALGRIND_TIMEOUT bounds
# each program instead.  VMMEM_TEST_VALGRIND=1 tells tests/testutil.h not
# to count /proc/self/maps lines: valgrind's own mappings come and go with
# the program's mallocs (RUNNING_ON_VALGRIND says the same where
# <valgrind/valgrind.h> was installed when the tests were built).
set -euo pipefail

LIBTOOL=${LIBTOOL:-./libtool}
VALGRIND=${VALGRIND:-valgrind}
top_srcdir=${top_srcdir:-.}
VALGRIND_FLAGS=${VALGRIND_FLAGS:---tool=memcheck --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect --track-origins=yes --num-callers=30 --suppressions=$top_srcdir/tests/valgrind.supp}
VALGRIND_JOBS=${VALGRIND_JOBS:-$(nproc)}
VALGRIND_TIMEOUT=${VALGRIND_TIMEOUT:-900}
export LIBTOOL VALGRIND VALGRIND_FLAGS VALGRIND_TIMEOUT

# The name of a test's log and verdict, less .log or .trs.
base() {
	printf '%s.valgrind' "$(printf '%s' "$1" | tr ' ' '_')"
}

# One test.
if [ "${1:-}" = --one ]; then
	test=$2
	log=$(base "$test").log
	start=$SECONDS
	status=0
	# shellcheck disable=SC2086 # the flags and the test's words split
	env CK_FORK=no VMMEM_TEST=1 VMMEM_TEST_VALGRIND=1 \
		timeout -k 30 "$VALGRIND_TIMEOUT" \
		$LIBTOOL --mode=execute $VALGRIND $VALGRIND_FLAGS $test \
		>"$log" 2>&1 </dev/null || status=$?
	secs=$((SECONDS - start))
	why=
	case $status in
	0) ;;
	77) ;;
	99) why="memcheck errors" ;;
	124|137) why="timed out after $VALGRIND_TIMEOUT s" ;;
	*) why="exit status $status" ;;
	esac
	# Second line of defence: memcheck's own summaries, every process's
	# (the tests' forked children included).
	# (A child that a test expects to die of a signal exits with that
	# signal, not with --error-exitcode.)
	if [ "$status" != 99 ] && grep -q -E 'ERROR SUMMARY: [1-9]' "$log"; then
		why="${why:+$why; }memcheck errors (ERROR SUMMARY)"
	fi
	if grep -q -E '(definitely|indirectly) lost: [1-9]' "$log"; then
		why="${why:+$why; }blocks definitely or indirectly lost"
	fi
	# A failed Check test leaks what it had allocated (CK_FORK=no): say
	# which came first.
	if grep -q -E '^[0-9]+%: Checks: [0-9]+, (Failures: [1-9]|Failures: [0-9]+, Errors: [1-9])' "$log"; then
		why="Check tests failed (:F: or :E: lines in the log); $why"
	fi
	if ! grep -q 'ERROR SUMMARY:' "$log"; then
		why="${why:+$why; }no memcheck summary: did valgrind run?"
	fi
	checks=$(sed -n 's/^[0-9]*%: Checks: \([0-9]*\),.*/\1/p' "$log" | head -n 1)
	if [ -n "$why" ]; then
		verdict=FAIL
	elif [ "$status" = 77 ]; then
		verdict=SKIP
	else
		verdict=PASS
	fi
	echo "$verdict: $test (${secs} s${checks:+, $checks Check tests})${why:+: $why}"
	printf '%s %s\n' "$verdict" "${checks:-0}" >"$(base "$test").trs"
	exit 0
fi

if [ $# -eq 0 ]; then
	echo "usage: $0 'PROGRAM [ARG]...'..." >&2
	exit 2
fi
if ! command -v "$VALGRIND" >/dev/null; then
	echo "$0: $VALGRIND not found (Debian: apt-get install valgrind)" >&2
	exit 2
fi
for t in "$@"; do
	rm -f "$(base "$t").log" "$(base "$t").trs"
done
echo "valgrind: $($VALGRIND --version), $# programs, $VALGRIND_JOBS at a time"
start=$SECONDS
# A program whose run went wrong in the script itself leaves no verdict,
# and counts as failed below.
printf '%s\0' "$@" | xargs -0 -n 1 -P "$VALGRIND_JOBS" bash "$0" --one || true

pass=0 fail=0 skip=0 checks=0
for t in "$@"; do
	res=$(base "$t").trs
	if [ ! -f "$res" ]; then
		echo "FAIL: $t: no verdict"
		fail=$((fail + 1))
		continue
	fi
	read -r verdict n <"$res"
	checks=$((checks + n))
	case $verdict in
	PASS) pass=$((pass + 1)) ;;
	SKIP) skip=$((skip + 1)) ;;
	*)
		fail=$((fail + 1))
		echo "---- $(base "$t").log (the last 80 lines)"
		tail -n 80 "$(base "$t").log"
		;;
	esac
done
echo "valgrind: $checks Check tests in $# programs, $((SECONDS - start)) s; logs in PROGRAM.valgrind.log"
echo "valgrind: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
