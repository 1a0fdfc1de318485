#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# CI step: the libFuzzer harness of tests/fuzz, for 60 seconds on a copy of
# the seed corpus (make fuzz).  A crash, a leak, a sanitizer report, a
# timeout or a mismatch with the harness's reference model fails the step;
# the input that caused it is printed (base64) and left in tests/fuzz/.
# Run from the top of the tree by .ci/run, after the README's build.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# clang and its fuzzer/sanitizer runtime (Debian 12: clang 14).
need=()
command -v clang >/dev/null || need+=(clang)
dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q 'ok installed' ||
	need+=(libclang-rt-14-dev)
if [ ${#need[@]} -gt 0 ]; then
	echo "  installing ${need[*]}"
	apt-get install -y -q "${need[@]}" >/dev/null ||
		{ apt-get update -q >/dev/null && apt-get install -y -q "${need[@]}" >/dev/null; }
fi

# The harness stops itself after FUZZ_SECONDS; the timeout only guards
# against a hang of the build or of the fuzzer's own shutdown.
status=0
timeout 240 make fuzz FUZZ_SECONDS=60 || status=$?
if [ $status -ne 0 ]; then
	for f in tests/fuzz/crash-* tests/fuzz/leak-* tests/fuzz/timeout-* tests/fuzz/oom-*; do
		[ -e "$f" ] || continue
		echo "CI: fuzzing finding $f (reproduce: $f is an input of tests/fuzz/vmmem-fuzz," \
			"run it with VMMEM_FUZZ_TRACE=1); base64:" >&2
		base64 -w0 "$f" >&2
		echo >&2
	done
	echo "CI: make fuzz failed (exit $status)" >&2
	exit 1
fi
make fuzz-clean >/dev/null
