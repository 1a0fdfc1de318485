#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# make check: every benchmark workload, briefly, with its bytes verified.
exec "${top_builddir:-.}/bench/vmmem-bench" --check
