#!/bin/sh
# make check: every benchmark workload, briefly, with its bytes verified.
exec "${top_builddir:-.}/bench/vmmem-bench" --check
