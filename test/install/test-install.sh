#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vsock-switch authors
#
# 'meson install' into a staging directory puts everything an operator needs in
# place: the binary, the Python tools, the man page, the sample configuration
# and the systemd unit (pointing at the installed binary).
#   test-install.sh <build dir>
set -u
build=$1
stage=$(mktemp -d /tmp/vs-install.XXXXXX)
trap 'rm -rf "$stage"' EXIT
pass=0
fail=0
check() { # description, command...
	d=$1
	shift
	if "$@" >/dev/null 2>&1; then
		echo "ok: $d"; pass=$((pass + 1))
	else
		echo "FAIL: $d"; fail=$((fail + 1))
	fi
}

if ! DESTDIR="$stage" meson install -C "$build" --no-rebuild --quiet >"$stage.log" 2>&1; then
	echo "FAIL: meson install"; cat "$stage.log"; rm -f "$stage.log"; exit 1
fi
rm -f "$stage.log"
prefix=$(meson introspect "$build" --buildoptions |
	python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"][0])')
root="$stage$prefix"
check "binary installed and runs" "$root/bin/vsock-switch" --no-huge --no-pci -m 64 \
	--file-prefix "vs-install-$$" --log-level=lib.eal:error -- --help
check "vs-ctl.py installed, executable" test -x "$root/bin/vs-ctl.py"
check "vs-top.py installed, executable" test -x "$root/bin/vs-top.py"
check "vs-bench.py installed, executable" test -x "$root/bin/vs-bench.py"
check "vs-ctl.py --help" python3 "$root/bin/vs-ctl.py" --help
check "man page installed" test -f "$root/share/man/man8/vsock-switch.8"
check "man page renders" sh -c "man -l '$root/share/man/man8/vsock-switch.8' | grep -q 'vhost-user'"
conf=$(find "$stage" -name vsock-switch.conf | head -1)
check "sample configuration installed" test -n "$conf"
unit=$(find "$stage" -name vsock-switch.service | head -1)
check "systemd unit installed" test -n "$unit"
check "unit starts the installed binary" grep -q "^ExecStart=$prefix/bin/vsock-switch " "$unit"
check "unit is sandboxed" grep -q "^ProtectSystem=strict" "$unit"
# systemd-analyze: only complaints about the unit itself count (the binary and the
# man page are in the staging directory, not where the unit will find them).
if command -v systemd-analyze >/dev/null 2>&1; then
	check "unit passes systemd-analyze verify" sh -c \
		"! systemd-analyze verify '$unit' 2>&1 | grep -v -e 'is not executable' -e 'man vsock-switch' | grep -q ."
fi
# The sample configuration is accepted by the installed binary.
sed "s|/run/vsock-switch|$stage|" "$conf" >"$stage/test.conf"
out=$(timeout -s INT 5 "$root/bin/vsock-switch" -l 0 --no-huge --no-pci -m 256 \
	--file-prefix "vs-install2-$$" --log-level=lib.eal:error -- --config "$stage/test.conf" 2>&1)
check "sample configuration starts the switch" sh -c "printf '%s' \"\$1\" | grep -q '^Ready'" _ "$out"

echo "install: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
