#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vsock-switch authors
#
# Install missing dependencies and build.
#   vs-build.sh [builddir [meson options...]]     (default builddir: build)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/usertools/vs-deps.sh"
dir=${1:-build}
[ $# -gt 0 ] && shift
cd "$top"
if [ -f "$dir/build.ninja" ]; then
	[ $# -gt 0 ] && meson configure "$dir" "$@"
else
	meson setup "$dir" "$@"
fi
ninja -C "$dir"
