#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vsock-switch authors
#
# Install what vsock-switch needs from Debian 12 packages.
#   vs-deps.sh          build and run dependencies
#   vs-deps.sh --test   also what the test suite needs (QEMU, busybox, ...)
# Installs only what is missing; needs root (or sudo) when something is.
set -eu

pkgs="build-essential meson ninja-build pkg-config libdpdk-dev dpdk-dev libnuma-dev libpcap-dev python3-pyelftools"
if [ "${1:-}" = "--test" ]; then
	pkgs="$pkgs clang libclang-rt-14-dev qemu-system-x86 busybox-static cpio xz-utils bc flex bison libelf-dev tshark gnuplot-nox python3-sphinx"
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# The VM lab downloads kernel packages: it needs package lists.
if [ "${1:-}" = "--test" ] && ! apt-cache show linux-source-6.1 >/dev/null 2>&1; then
	$SUDO apt-get update -q
fi

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "vs-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
