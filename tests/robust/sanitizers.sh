#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# Sanitizer runs (issue 8, part 2): builds a sanitizer variant of the tree
# in a directory of its own and runs the tests there.
#
#   tests/robust/sanitizers.sh asan [SRCDIR]   ASan + UBSan, the whole make check
#   tests/robust/sanitizers.sh tsan [SRCDIR]   TSan, the concurrency tests
#
# SRCDIR (default: the tree this script is in) must be a git checkout: its
# tracked files, and new ones git does not ignore, are copied as they are in
# the working tree, so a build there is left alone.  The copy goes to
# $SANITIZER_DIR if set (made empty first, kept), else to a temporary
# directory removed afterwards.  make check-asan and make check-tsan run
# this; so does .ci/steps/40-sanitizers.sh.
#
# asan: ./configure --enable-sanitizers=address,undefined; make check runs
#   every test, the Check programs in fork mode (one child per test, so
#   LeakSanitizer's report on a test's exit names that test), then all again
#   with CK_FORK=no (all of a Check program's tests in one process, as
#   valgrind runs them: state carried from test to test, leaks at the end).
# tsan: ./configure --enable-sanitizers=thread; make check runs
#   tests/test-hotplug, tests/test-atomic, tests/test-iommu,
#   tests/test-iommu-hotplug, tests/test-iommu-invalidate, tests/test-lazy
#   (the map cache of on-demand regions, lib/xen/mapcache.c),
#   tests/test-fastpath (fast paths under hotplug), tests/test-section (grace
#   periods against the fast paths, calls inside sections), tests/test-fork
#   (fork under load), tests/test-vhost (SET_MEM_TABLE replacement under
#   access), tests/test-dirty-race (the dirty log under writers and hotplug),
#   tests/test-dirty-shared (the shared log replaced under writers),
#   tests/test-ring (ring stores through vmmem_dirty_start()) and the
#   benchmark's --check, with tests/tsan.supp (it says why each entry is a
#   false report).
#
# Any failed test, and any sanitizer report in any test's log (a second line
# of defence: a report that did not fail its test), fails the run.
set -euo pipefail
# The Xen suite runs in a dom0 under QEMU, out of reach of this run's
# instrumentation; make check-xen (CI step 30) runs it.
export VMMEM_XEN_SKIP=1

mode=${1:-}
here=$(cd "$(dirname "$0")/../.." && pwd)
src=$(cd "${2:-$here}" && pwd)
jobs=${JOBS:-$(nproc)}
case $mode in
asan|tsan) ;;
*) echo "usage: $0 asan|tsan [SRCDIR]" >&2; exit 2 ;;
esac
if ! git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	echo "$0: $src is not a git checkout (the sanitizer builds copy its files)" >&2
	exit 2
fi

if [ -n "${SANITIZER_DIR:-}" ]; then
	dir=$SANITIZER_DIR
	rm -rf "$dir"
	mkdir -p "$dir"
else
	dir=$(mktemp -d "${TMPDIR:-/tmp}/vmmem-$mode.XXXXXX")
	trap 'rm -rf "$dir"' EXIT
fi
dir=$(cd "$dir" && pwd)

(cd "$src" && git ls-files -z --cached --others --exclude-standard |
	while IFS= read -r -d '' f; do
		[ -e "$f" ] && printf '%s\0' "$f"
	done | xargs -0 cp --parents -t "$dir")

# UBSan: tests/ubsan.supp lists liburcu's header misalignment.  A UBSan
# suppression only takes effect for a check built to recover (the abort
# variants of its handlers die whatever the suppressions say), so configure
# leaves them recoverable and halt_on_error=1 makes every report that is not
# suppressed fatal.
ubsan="halt_on_error=1:print_stacktrace=1:report_error_type=1"
ubsan="$ubsan:suppressions=$dir/tests/ubsan.supp"
# ASan: leaks are checked (the default on Linux) at every process exit.
# handle_sigbus=0: test-shrink's touching_the_lost_part_is_sigbus forks a
# child that must die of SIGBUS (a store past the end of a shrunk file);
# ASan's handler would turn that into a report and exit(1).  A SIGBUS
# anywhere else still fails its test, only without ASan's stack trace.
# (test-policy's touch_in_child resets SIGSEGV and SIGBUS to SIG_DFL in its
# child, so its guard-page faults need nothing here.)
asan="detect_leaks=1:detect_stack_use_after_return=1:print_summary=1"
asan="$asan:handle_sigbus=0"
# TSan: report every race of a run, not only the first (the test still
# fails: exit code 66); die_after_fork=0 because test-hotplug's
# fork_after_hotplug forks a multi-threaded process whose child starts
# liburcu's call_rcu thread, which TSan otherwise refuses; not remembering
# each reported address (suppress_equal_addresses=0) keeps TSan from
# searching an ever longer list on every racy byte of guest memory, which
# made test-iommu's invalidate_waits_for_accesses take 2 minutes.
tsan="halt_on_error=0:second_deadlock_stack=1:die_after_fork=0"
tsan="$tsan:suppress_equal_addresses=0:suppressions=$dir/tests/tsan.supp"

case $mode in
asan)
	flags=address,undefined
	# Built with -Werror, as a git checkout is.
	cfg=(--enable-werror)
	tests=
	timeout_mult=2
	;;
tsan)
	flags=thread
	# Built with -Werror too: configure keeps GCC's -Wtsan (TSan ignores
	# atomic_thread_fence, lib/dirty/dirty.h) a warning.
	cfg=(--enable-werror)
	tests="tests/test-hotplug tests/test-atomic tests/test-iommu tests/test-iommu-hotplug tests/test-iommu-invalidate tests/test-lazy tests/test-fastpath tests/test-section tests/test-fork tests/test-vhost tests/test-dirty-race tests/test-dirty-shared tests/test-ring bench/check-bench.sh"
	timeout_mult=3
	;;
esac

log=$dir/sanitizers.log
step() { echo "  $mode: $*"; }
fail() {
	echo "$mode: $*" >&2
	exit 1
}

cd "$dir"
step "autoreconf, configure --enable-sanitizers=$flags, make ($dir)"
if ! { autoreconf -fi && ./configure --enable-sanitizers="$flags" "${cfg[@]}" &&
	make -j"$jobs"; } >"$log" 2>&1; then
	tail -n 60 "$log"
	fail "the build failed (the last 60 lines of its log are above)"
fi

# Every test's .log (make check writes them all anew each run).
scan_logs() {
	local pat='ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer|SUMMARY: (AddressSanitizer|LeakSanitizer|ThreadSanitizer|UndefinedBehaviorSanitizer)'
	local hits
	hits=$(find tests examples bench -name '*.log' -print0 |
		xargs -0 -r grep -l -E "$pat" || true)
	if [ -n "$hits" ]; then
		for f in $hits; do
			echo "---- $f"
			grep -E -B2 -A40 "$pat" "$f" | head -n 120
		done
		fail "sanitizer reports in: $(echo "$hits" | tr '\n' ' ')"
	fi
}

# make check, $1 naming the run; its summary is printed.
run_check() {
	local what=$1 start=$SECONDS status=0
	shift
	env UBSAN_OPTIONS="$ubsan" ASAN_OPTIONS="$asan" TSAN_OPTIONS="$tsan" \
		CK_TIMEOUT_MULTIPLIER="$timeout_mult" "$@" \
		make -j"$jobs" check ${tests:+TESTS="$tests"} >"$log" 2>&1 || status=$?
	grep -E '^(PASS|FAIL|SKIP|XFAIL|XPASS|ERROR):' "$log" | sed 's/^/    /' || true
	grep -h -E '^[0-9]+%: Checks:' tests/*.log 2>/dev/null |
		awk '{ n += $3 + 0 } END { printf "    Check tests run: %d\n", n }'
	sed -n 's/^# \(TOTAL\|PASS\|SKIP\|FAIL\|ERROR\):/    \1:/p' "$log"
	step "$what: $((SECONDS - start)) s"
	if [ $status -ne 0 ]; then
		sed -n 's/^\(FAIL\|ERROR\): \(.*\)$/\2/p' "$log" | while read -r f; do
			echo "---- $f.log"
			tail -n 80 "$f.log"
		done
		fail "make check failed ($what)"
	fi
	grep -q '^# TOTAL: *[1-9]' "$log" || fail "make check ran no test ($what)"
	scan_logs
}

case $mode in
asan)
	run_check "make check, Check in fork mode"
	run_check "make check again, CK_FORK=no" CK_FORK=no
	;;
tsan)
	run_check "make check TESTS='$tests'"
	;;
esac
echo "$mode: no sanitizer reports"
