#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vsock-switch authors
#
# A real Linux guest (QEMU TCG) talks to host programs through vsock-switch:
# the path of doc/getting_started.rst ("Talk to it from the host"), with the
# switch and QEMU started the way that guide shows. One guest, CID 3, with a
# hybrid socket (uds=) and the switch's control socket; the guest runs a list
# of vslab-peer steps, vm-host.py the matching host side:
#
#   hybrid-stream-host-to-guest      CONNECT 5001 on <uds>, host half-closes first
#   hybrid-stream-guest-to-host      guest -> CID 2 port 5002 = <uds>_5002 listener
#   control-stream-connect           vs-ctl.py connect 3 5003 (both ways at once)
#   control-stream-listen            vs-ctl.py listen 5004 --once (both ways at once)
#   hybrid-seqpacket-host-to-guest   CONNECT 5005 on <uds>_seqpacket
#   hybrid-seqpacket-guest-to-host   SOCK_SEQPACKET listener <uds>_5006
#   control-seqpacket-connect        CONNECT 3 5007 seqpacket, socket by SCM_RIGHTS
#   control-seqpacket-listen         LISTEN 5008 3, ACCEPT line + socket
#   control-connect-refused          vs-ctl.py connect 3 5999: ERR ECONNREFUSED
#   hybrid-connect-refused           CONNECT 5999 on <uds>: closed without a word
#   guest-connect-refused            guest -> CID 2 port 5998: ECONNREFUSED
#   switch-counters                  STATS: no credit violation, no protocol error
#
# Every connection carries a known pattern both ways (4 MiB per direction for
# STREAM, 1 MiB in messages of 1 B .. 100000 B for SEQPACKET), checked byte by
# byte and by CRC32 at both ends, with SHUT_WR ending each direction.
#
# Usage: run-host-test.sh [options] <vsock-switch binary>
#   -k, --kernel SERIES   lab kernel: 6.1 (default) or 6.12
#   -d, --dir DIR         work/log directory (default: a new /tmp/vsock-vmhost.*)
#   -t, --timeout SECS    bound for the guest's cases (default 600)
#
# Environment: VS_LAB_CACHE (see build-lab.sh), VS_VM_KERNEL, VS_VM_QEMU,
# VS_VM_KEEP=1 (keep the work directory also on success),
# VS_VM_STREAM_BYTES (default 4M), VS_VM_SEQ_BYTES (default 1M),
# VS_VM_EAL_ARGS (replaces the EAL arguments), VS_VM_SWITCH_ARGS (appended).
#
# Output: "vm-host: <case>: PASS|FAIL (...)" per case, then exactly
# "vm-host: N passed, N failed". Exit 0 all passed, 1 failures, 77 skipped
# (no QEMU, no python3, lab cannot be built).

set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SERIES=${VS_VM_KERNEL:-6.1}
DIR=${VS_VM_DIR:-}
TIMEOUT=${VS_VM_TIMEOUT:-600}
T0=$(date +%s)

usage() { sed -n '/^# Usage/,/^# Environment/p' "$0" | sed 's/^# \{0,1\}//' | head -n -1; exit 2; }
elapsed() { echo $(($(date +%s) - T0)); }
log() { echo "vm-host: [$(elapsed)s] $*" >&2; }
skip() { echo "SKIP: $*"; exit 77; }
# shellcheck source=lab.sh
. "$HERE/lab.sh"

while [ $# -gt 0 ]; do
	case $1 in
	-k|--kernel) SERIES=$2; shift 2 ;;
	--kernel=*) SERIES=${1#*=}; shift ;;
	-d|--dir) DIR=$2; shift 2 ;;
	--dir=*) DIR=${1#*=}; shift ;;
	-t|--timeout) TIMEOUT=$2; shift 2 ;;
	--timeout=*) TIMEOUT=${1#*=}; shift ;;
	-h|--help) usage ;;
	--) shift; break ;;
	-*) echo "unknown option $1" >&2; usage ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || usage

fail_all() { # fail_all REASON: the run could not start
	echo "vm-host: setup: FAIL ($*)"
	echo "vm-host: 0 passed, 1 failed"
	exit 1
}

lab_need_qemu
command -v python3 >/dev/null 2>&1 || skip "python3 not found"
SWITCH=$(lab_switch_path "$1") || fail_all "switch binary $1 not found or not executable"
VSCTL=$(readlink -f "$HERE/../../usertools/vs-ctl.py")
[ -f "$VSCTL" ] || fail_all "usertools/vs-ctl.py not found"

# The lab, with vslab-peer in its initramfs. Another checkout with an older
# build-lab.sh may rebuild the shared cache at any time, so the kernel and
# initramfs are copied under the cache's lock and checked.
lab_prepare "$SERIES"
if [ -z "$DIR" ]; then
	DIR=$(mktemp -d /tmp/vsock-vmhost.XXXXXX) || fail_all "mktemp failed"
else
	mkdir -p "$DIR" || fail_all "cannot create $DIR"
	rm -rf "$DIR/vs"
fi
copy_lab() {
	(
		flock 9 || exit 1
		grep -q 'vslab-peer' "$LAB/info" 2>/dev/null || exit 1
		cp "$LAB/vmlinuz" "$LAB/initrd.gz" "$LAB/info" "$DIR/"
	) 9>"$CACHE/.lock"
}
if ! copy_lab; then
	log "the lab in $LAB has no vslab-peer (rebuilt by an older build-lab.sh?); building again"
	lab_prepare "$SERIES"
	copy_lab || fail_all "the lab in $LAB has no vslab-peer"
fi
LAB=$DIR   # boot the copy
log "kernel $(grep '^kernel=' "$DIR/info" | cut -d= -f2), logs in $DIR"

SWITCH_PID=
FINAL_RC=1
cleanup() {
	stop_pid "$SWITCH_PID"; SWITCH_PID=
	[ -n "${EAL_RUNDIR:-}" ] && [ -d "$EAL_RUNDIR" ] && rm -rf "$EAL_RUNDIR"
	if [ "$FINAL_RC" = 0 ] && [ "${VS_VM_KEEP:-0}" != 1 ] && [[ $DIR == /tmp/vsock-vmhost.* ]]; then
		rm -rf "$DIR"
	fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

# ---- the switch, as doc/getting_started.rst starts it --------------------------
# (the doc's /tmp/vs is $DIR/vs here, its --file-prefix vs is vmhost-<pid>)
VS=$DIR/vs
mkdir -p "$VS"
FILE_PREFIX=vmhost-$$
EAL_RUNDIR=$(lab_eal_rundir "$FILE_PREFIX")
# shellcheck disable=SC2206
EAL_ARGS=(${VS_VM_EAL_ARGS:--l 0-1 --no-huge -m 512 --no-pci --file-prefix $FILE_PREFIX})
# shellcheck disable=SC2206
EXTRA_ARGS=(${VS_VM_SWITCH_ARGS:-})
SWITCH_CMD=("$SWITCH" "${EAL_ARGS[@]}" --
	--guest "cid=3,socket=$VS/g3.sock,uds=$VS/g3.vsock"
	--control "$VS/control.sock" "${EXTRA_ARGS[@]}")
echo "${SWITCH_CMD[*]}" >"$DIR/switch.cmd"
log "starting switch: ${SWITCH_CMD[*]}"
"${SWITCH_CMD[@]}" </dev/null >"$DIR/switch.log" 2>&1 &
SWITCH_PID=$!
lab_wait_sockets "$SWITCH_PID" "$DIR/switch.log" "$VS/g3.sock" "$VS/g3.vsock" \
	"$VS/control.sock" || { SWITCH_PID=; fail_all "the switch did not start"; }
log "switch up (pid $SWITCH_PID)"

# ---- the guest and the host side ------------------------------------------------
# vm-host.py replaces @VSOCKCMD@ by the guest's list of vslab-peer steps.
lab_qemu_cmd "$VS/g3.sock" "$DIR/g3.log" \
	'console=ttyS0 panic=-1 loglevel=5 mitigations=off vsockcmd="@VSOCKCMD@"'
echo "${LAB_QEMU[*]}" >"$DIR/qemu.cmd"
python3 "$HERE/vm-host.py" --uds "$VS/g3.vsock" --control "$VS/control.sock" \
	--console "$DIR/g3.log" --vs-ctl "$VSCTL" --timeout "$TIMEOUT" \
	--stream-bytes "${VS_VM_STREAM_BYTES:-4M}" --seq-bytes "${VS_VM_SEQ_BYTES:-1M}" \
	--no-summary -- "${LAB_QEMU[@]}" | tee "$DIR/results"
rc=$?

if ! kill -0 "$SWITCH_PID" 2>/dev/null; then
	wait "$SWITCH_PID"
	log "the switch exited (status $?) during the test; last lines of switch.log:"
	tail -n 30 "$DIR/switch.log" | sed 's/^/  switch| /' >&2
	SWITCH_PID=
	rc=1
fi
# Stop the switch here: a sanitizer build reports what it found on its way out.
stop_pid "$SWITCH_PID"; SWITCH_PID=
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$DIR/switch.log"; then
	log "the switch's sanitizer reported errors; switch.log:"
	grep -E -A 12 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$DIR/switch.log" |
		head -n 40 | sed 's/^/  switch| /' >&2
	echo "vm-host: switch-sanitizer: FAIL (see $DIR/switch.log)" | tee -a "$DIR/results"
	rc=1
fi
if [ $rc -ne 0 ]; then
	log "guest console tail ($DIR/g3.log):"
	lab_excerpt "$DIR/g3.log" 30 >&2
	log "logs kept in $DIR"
fi
pass=$(grep -c '^vm-host: [^ ]*: PASS' "$DIR/results")
fail=$(grep -c '^vm-host: [^ ]*: FAIL' "$DIR/results")
[ $((pass + fail)) -gt 0 ] || { echo "vm-host: host side: FAIL (vm-host.py exit $rc)"; fail=1; }
[ "$fail" -gt 0 ] && rc=1
log "done"
echo "vm-host: $pass passed, $fail failed"
FINAL_RC=$rc
exit $rc
