#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# Installs what building libvmmem from a git checkout and running its tests
# need, on Debian 12: as root directly, otherwise through sudo.  The Xen
# development files only where Debian builds Xen (amd64, arm64).
# README.md's quick start runs it; so does CI (.ci/run), as root.
set -eu
pkgs="build-essential autoconf automake libtool pkg-config check liburcu-dev
libnuma-dev mandoc groff-base"
case $(dpkg --print-architecture) in
amd64|arm64) pkgs="$pkgs libxen-dev" ;;
esac
if [ "$(id -u)" -eq 0 ]; then
	as_root=
elif command -v sudo >/dev/null 2>&1; then
	as_root=sudo
else
	echo "install-deps.sh: installing packages needs root: run it as root, or install and set up sudo" >&2
	exit 1
fi
set -x
$as_root apt-get update
# shellcheck disable=SC2086 # one package a word
$as_root apt-get install -y $pkgs
