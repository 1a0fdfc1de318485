#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# Runs the fuzzing harness on a copy of the seed corpus for a bounded time:
#   run-fuzz.sh PROG SEEDS SECONDS UBSAN_SUPPRESSIONS [libFuzzer options...]
# Prints the executions and the coverage reached; exits non-zero on any
# finding (crash, leak, sanitizer report, timeout, mismatch with the model),
# whose input libFuzzer leaves beside PROG as crash-*, leak-* or timeout-*.
set -eu
prog=$1 seeds=$2 seconds=$3 supp=$4
shift 4
dir=$(dirname "$prog")
run=$dir/run
rm -rf "$run"
mkdir -p "$run/corpus"
cp "$seeds"/* "$run/corpus/"
nseeds=$(ls "$run/corpus" | wc -l)

UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$supp"
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:allocator_may_return_null=0"
export UBSAN_OPTIONS ASAN_OPTIONS
echo "fuzz: $prog for ${seconds} s on a copy of $seeds ($nseeds seeds)"
status=0
"$prog" -max_total_time="$seconds" -max_len=2048 -timeout=30 \
	-rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$dir/" \
	"$@" "$run/corpus" > "$run/log" 2>&1 || status=$?

last=$(grep -E '^#[0-9]+' "$run/log" | tail -n 1 || true)
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$run/log" | tail -n 1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$run/log" | tail -n 1)
cov=$(printf '%s\n' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
ft=$(printf '%s\n' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
corp=$(printf '%s\n' "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
if [ "$status" -ne 0 ] || grep -qE '^(==[0-9]+==ERROR|SUMMARY: |vmmem-fuzz: MISMATCH)' "$run/log"; then
	tail -n 80 "$run/log"
	echo "fuzz: FINDING after ${execs:-?} executions (exit $status);" \
		"the input is $(ls "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* \
		"$dir"/oom-* 2>/dev/null | tr '\n' ' ')" >&2
	exit 1
fi
echo "fuzz: ${execs:-?} executions in ${seconds} s (${rate:-?} exec/s)," \
	"cov: ${cov:-?}, ft: ${ft:-?}, corpus: ${corp:-?} inputs" \
	"(from $nseeds seeds); no finding"
