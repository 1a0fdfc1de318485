#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# check-qemu.sh - tests/qemu's scenarios in plain `make check`: runs
# run-qemu.sh beside this script with --cached-only, so it boots the guest
# when qemu-system-x86_64 (and cpio, python3, ...) are installed and a
# previous `make check-qemu` left Debian's kernel and busybox in
# tests/qemu/cache of this build tree; otherwise it skips (77) and says why.
# It never downloads: `make check-qemu` is the run that does, and fails
# instead of skipping.
#
# Environment: top_builddir (default .); VMMEM_QEMU_SCENARIOS (default
# "a b c d e"); VMMEM_QEMU_SKIP=REASON skips with that reason (make
# check-in-guest sets it: its guest would have to nest QEMU under TCG);
# the VMMEM_QEMU_* of run-qemu.sh.
set -eu
if [ -n "${VMMEM_QEMU_SKIP:-}" ]; then
	echo "SKIP: $VMMEM_QEMU_SKIP"
	exit 77
fi
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck disable=SC2086 # one scenario a word
exec bash "$here/run-qemu.sh" --cached-only ${VMMEM_QEMU_SCENARIOS:-a b c d e}
