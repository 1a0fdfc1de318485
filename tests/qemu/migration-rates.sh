#!/bin/bash
# migration-rates.sh - how often scenario e's full data check passes with the
# back-end logging into QEMU's shared dirty log, and with logging
# deliberately off (VMMEM_QEMU_NOLOG=1), N runs each, alternating.  Not run
# by CI: under TCG the migrated guest breaks at times with or without the
# log (see check_e in run-qemu.sh), so this is a rate, not a gate.
#
# Usage (from the build tree, after make check-qemu has filled the cache):
#   tests/qemu/migration-rates.sh [N]        (default 10; about 2-4 min a run)
# Prints one line a run, then "logging on: P/N passed, logging off: P/N passed".
# Each run's output is kept in tests/qemu/work/rates-{on,off}-K.log.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
export top_builddir=$(cd "${top_builddir:-.}" && pwd)
N=${1:-10}
W=$top_builddir/tests/qemu/work
mkdir -p "$W"
on=0 off=0
for k in $(seq "$N"); do
    for mode in on off; do
        out=$W/rates-$mode-$k.log
        if [ "$mode" = on ]; then
            env -u VMMEM_QEMU_NOLOG VMMEM_QEMU_E_ATTEMPTS=1 bash "$here/run-qemu.sh" e > "$out" 2>&1
        else
            VMMEM_QEMU_NOLOG=1 bash "$here/run-qemu.sh" e > "$out" 2>&1
        fi
        if grep -q '^DATA: e: pass' "$out"; then
            verdict=pass
            if [ "$mode" = on ]; then on=$((on + 1)); else off=$((off + 1)); fi
        else
            verdict=fail
        fi
        echo "run $k logging $mode: data $verdict; $(grep -E '^(PASS|FAIL): e' "$out" | sed 's/^\(PASS\|FAIL\): e: live migration: /gate \1: /')"
    done
done
echo "logging on: $on/$N passed, logging off: $off/$N passed"
