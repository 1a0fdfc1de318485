#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# CI step: sanitizer builds (issue 8, part 2).
#
# tests/robust/sanitizers.sh builds the tree twice more, each time from a
# clean export in a temporary directory (the README's in-tree build stays as
# it is for the steps after this one):
#   asan  ./configure --enable-sanitizers=address,undefined, then the whole
#         make check, once in Check's fork mode and once with CK_FORK=no;
#   tsan  ./configure --enable-sanitizers=thread, then make check of the
#         concurrency tests: test-hotplug, test-atomic, test-iommu, test-lazy,
#         test-fastpath and vmmem-bench --check (suppressions: tests/tsan.supp, with reasons).
# A failed build or test, or any sanitizer report in any test's log, fails
# the step.  About 2.5 minutes on CI's 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive

# The runtimes (libasan8, libubsan1, libtsan2) come with gcc's
# libgcc-12-dev, which build-essential installs; make sure of it.
if ! gcc -fsanitize=address,undefined -x c -o /dev/null - <<<'int main(void){return 0;}' 2>/dev/null ||
	! gcc -fsanitize=thread -x c -o /dev/null - <<<'int main(void){return 0;}' 2>/dev/null; then
	echo "+ apt-get install -y -q libasan8 libubsan1 libtsan2"
	apt-get install -y -q libasan8 libubsan1 libtsan2 >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null && apt-get install -y -q libasan8 libubsan1 libtsan2 >/dev/null; }
fi

for mode in asan tsan; do
	start=$SECONDS
	echo "+ tests/robust/sanitizers.sh $mode"
	bash tests/robust/sanitizers.sh "$mode"
	echo "  ($mode: $((SECONDS - start)) s)"
done
