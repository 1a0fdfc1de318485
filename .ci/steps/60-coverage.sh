#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# CI step: line and branch coverage of lib/ by make check (issue 8).
#
# Builds a clean export of the tree in a temporary directory with
# ./configure --enable-coverage, runs `make coverage` (tests/coverage/
# Makefile.inc: reset the counters, make check, gcovr report of lib/),
# prints the per-file tables and the summary, and fails if make check fails
# or if less than COVERAGE_MIN_LINES percent (default 90) of the lines of
# lib/ ran.  Runs from the top of the tree; under a minute on CI's machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive
# The Xen suite runs in a dom0 under QEMU, out of reach of this run's
# instrumentation; make check-xen (CI step 30) runs it.
export VMMEM_XEN_SKIP=1
min_lines=${COVERAGE_MIN_LINES:-90}

if ! grep -q '^include tests/coverage/Makefile.inc$' Makefile.am; then
	echo "coverage: Makefile.am does not include tests/coverage/Makefile.inc" >&2
	exit 1
fi

# gcovr (Debian package gcovr) turns gcov's counters into the report.
if ! command -v gcovr >/dev/null; then
	echo "+ apt-get install -y -q gcovr"
	apt-get install -y -q gcovr >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null && apt-get install -y -q gcovr >/dev/null; }
fi
gcovr --version | head -n 1 | sed 's/^/  /'

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
git ls-files -z | xargs -0 cp --parents -t "$dir"

log=$dir/coverage.log
status=0
(cd "$dir" && autoreconf -fi && ./configure --enable-coverage && make -j2 &&
	make -j2 coverage) >"$log" 2>&1 || status=$?

# What make check ran, then the report (the HTML one goes with $dir).
grep -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):|^(FAIL|ERROR):' "$log" | sed 's/^/  /' || true
sed -n '/^=== Line coverage of lib\//,/^branches:/p' "$log"

if [ $status -ne 0 ]; then
	tail -n 60 "$log"
	.ci/lib/show-failed-tests.sh "$dir"
	echo "coverage: the coverage build or make check failed (exit $status; the last 60 lines of its log are above)" >&2
	exit 1
fi

summary=$dir/coverage/summary.json
if [ ! -s "$summary" ]; then
	echo "coverage: no $summary was written" >&2
	exit 1
fi
read -r covered total percent < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(s["line_covered"], s["line_total"], "%.1f" % s["line_percent"])
' "$summary")
if ! [[ ${covered:-} =~ ^[0-9]+$ && ${total:-} =~ ^[0-9]+$ ]]; then
	echo "coverage: cannot read the line counts from $summary" >&2
	exit 1
fi
if [ "$total" -eq 0 ]; then
	echo "coverage: the report counts no line of lib/" >&2
	exit 1
fi
# Compared in whole lines, not in rounded percents.
if [ $((covered * 100)) -lt $((total * min_lines)) ]; then
	echo "coverage: FAIL: lib/ line coverage is $percent% ($covered of $total lines), below $min_lines%" >&2
	exit 1
fi
echo "coverage: lib/ line coverage $percent% ($covered of $total lines), at least $min_lines% required"
