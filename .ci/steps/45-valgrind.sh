#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# CI step: valgrind memcheck over the test suite (issue 8, part 3).
#
# make check-valgrind (tests/robust/Makefile.inc) in the README's in-tree
# build: every Check program with CK_FORK=no, the examples and
# vmmem-bench --check, each under memcheck with --leak-check=full and
# --errors-for-leak-kinds=definite,indirect (suppressions:
# tests/valgrind.supp, with reasons).  Any memcheck error, definitely or
# indirectly lost block, failed test or timeout fails the step; so does any
# "ERROR SUMMARY: <n>" with n > 0 or any such lost block in a log, checked
# again here.  Under a minute on CI's 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive

if [ ! -f Makefile ]; then
	echo "valgrind: no in-tree build (the README's commands make it)" >&2
	exit 1
fi
if ! command -v valgrind >/dev/null; then
	echo "+ apt-get install -y -q valgrind"
	apt-get install -y -q valgrind >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null && apt-get install -y -q valgrind >/dev/null; }
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "+ make check-valgrind"
make -j"$(nproc)" check-valgrind 2>&1 | tee "$log"

# Second line of defence: the logs themselves.
logs=$(find tests examples bench -name '*.valgrind.log')
if [ -z "$logs" ]; then
	echo "valgrind: make check-valgrind left no logs" >&2
	exit 1
fi
# shellcheck disable=SC2086 # one word per log
if grep -l -E 'ERROR SUMMARY: [1-9]|(definitely|indirectly) lost: [1-9]' $logs; then
	echo "valgrind: memcheck errors or lost blocks in the logs above" >&2
	exit 1
fi
if ! grep -q -E '^valgrind: [1-9][0-9]* passed, 0 failed' "$log"; then
	echo "valgrind: make check-valgrind did not report a clean run" >&2
	exit 1
fi
