# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vsock-switch authors
# shellcheck shell=bash
#
# Shell functions shared by the VM tests (sourced by run-vsock-test.sh and
# run-host-test.sh; not a program of its own). The caller defines:
#   log MSG...    progress on stderr
#   skip MSG...   print "SKIP: MSG" and exit 77
# and may set VS_LAB_CACHE and VS_VM_QEMU before sourcing.

# The lab cache: $VS_LAB_CACHE, else /var/cache/vsock-switch-lab if we may
# write there, else the user's cache (the same choice build-lab.sh makes).
if [ -n "${VS_LAB_CACHE:-}" ]; then
	CACHE=$VS_LAB_CACHE
elif mkdir -p /var/cache/vsock-switch-lab 2>/dev/null && [ -w /var/cache/vsock-switch-lab ]; then
	CACHE=/var/cache/vsock-switch-lab
else
	CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/vsock-switch-lab
fi
QEMU=${VS_VM_QEMU:-qemu-system-x86_64}
LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

now() { date +%s; }

# lab_need_qemu: skip unless $QEMU exists and has vhost-user-vsock-pci.
lab_need_qemu() {
	command -v "$QEMU" >/dev/null 2>&1 || skip "$QEMU not found (apt-get install qemu-system-x86)"
	"$QEMU" -device help 2>/dev/null | grep -q '"vhost-user-vsock-pci"' ||
		skip "$QEMU has no vhost-user-vsock-pci device"
}

# lab_switch_path BINARY: the switch's absolute path on stdout, 1 if missing.
lab_switch_path() {
	local sw=$1
	case $sw in */*) ;; *) sw=./$sw ;; esac
	[ -e "$sw" ] && sw=$(readlink -f "$sw")
	echo "$sw"
	[ -x "$sw" ]
}

# lab_prepare SERIES [FILE...]: (re)build the lab of SERIES with build-lab.sh
# and set LAB to its directory. Skips (exit 77) when it cannot be built and no
# usable one exists. Each FILE (e.g. tests.list) must exist in the lab.
lab_prepare() {
	local series=$1 rc f
	shift
	LAB=$CACHE/$series
	VS_LAB_CACHE=$CACHE "$LAB_DIR/build-lab.sh" "$series" >&2
	rc=$?
	[ $rc -eq 0 ] && return 0
	for f in vmlinuz initrd.gz "$@"; do
		[ -f "$LAB/$f" ] ||
			skip "cannot build the VM lab for kernel $series in $CACHE (build-lab.sh exit $rc)"
	done
	log "build-lab.sh failed ($rc); using the existing lab in $LAB"
}

# stop_pid PID: TERM, then KILL after 5 s; only our own children.
stop_pid() {
	local pid=$1 _
	[ -n "$pid" ] || return 0
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# lab_eal_rundir PREFIX: where the EAL keeps the runtime files of --file-prefix PREFIX.
lab_eal_rundir() {
	if [ "$(id -u)" = 0 ]; then
		echo "/var/run/dpdk/$1"
	else
		echo "${XDG_RUNTIME_DIR:-/tmp}/dpdk/$1"
	fi
}

# lab_wait_sockets PID LOG SOCKET...: wait (60 s at most) until the switch
# PID created every SOCKET. 0 when it did; otherwise prints why and the tail
# of LOG on stderr and returns 1.
lab_wait_sockets() {
	local pid=$1 slog=$2 t s missing
	shift 2
	t=$(now)
	while :; do
		missing=
		for s in "$@"; do [ -S "$s" ] || { missing=$s; break; }; done
		[ -z "$missing" ] && return 0
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			log "switch exited with status $? before creating $missing; switch log:"
			break
		fi
		if [ $(($(now) - t)) -ge 60 ]; then
			log "switch did not create $missing within 60 s; switch log:"
			break
		fi
		sleep 0.2
	done
	tail -n 30 "$slog" | sed 's/^/  switch| /' >&2
	return 1
}

# lab_qemu_cmd SOCKET CONSOLE_LOG APPEND: set the array LAB_QEMU to the QEMU
# command line of one lab guest (TCG, 256 MiB of shared memfd memory, serial
# console to CONSOLE_LOG, vhost-user-vsock-pci on SOCKET). Callers add
# devices (e.g. a -netdev) to the array.
lab_qemu_cmd() {
	# shellcheck disable=SC2034,SC2054  # used by the caller; commas are QEMU's
	LAB_QEMU=("$QEMU" -accel tcg -cpu max -smp 1 -m 256 -nodefaults -no-user-config
		-display none -no-reboot -serial "file:$2"
		-kernel "$LAB/vmlinuz" -initrd "$LAB/initrd.gz" -append "$3"
		-object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem
		-chardev "socket,id=c0,path=$1" -device vhost-user-vsock-pci,chardev=c0)
}

# lab_excerpt FILE [N]: the last N (25) console lines worth showing.
lab_excerpt() {
	tr -d '\r' <"$1" 2>/dev/null | grep -v '^VSLAB-OUT: ' | tail -n "${2:-25}" | sed 's/^/    | /'
}
