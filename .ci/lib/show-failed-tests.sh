#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# Used by the CI steps that run make check in a build tree of their own:
# prints the name and the last lines of the log of every test that failed,
# since the tree is removed when the step ends.
#   .ci/lib/show-failed-tests.sh BUILD_DIR
dir=$1
for f in "$dir"/tests/*.log "$dir"/tests/*/*.log "$dir"/examples/*.log; do
	[ "$(basename "$f")" = test-suite.log ] && continue
	grep -q -E '^(FAIL|ERROR)' "$f" 2>/dev/null || continue
	echo "--- $f"
	tail -n 30 "$f"
done
exit 0
