#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vsock-switch authors
#
# Two Linux guests (QEMU TCG) on one vsock-switch process run Linux's own
# tools/testing/vsock vsock_test against each other: the server in guest CID 3,
# the client in guest CID 4, guest to guest through the switch. The TCP
# control channel of vsock_test runs over a QEMU "-netdev socket" link between
# the two guests.
#
# Usage: run-vsock-test.sh [options] <vsock-switch binary>
#   -k, --kernel SERIES   lab kernel + vsock_test series: 6.1 (default) or 6.12
#   -d, --dir DIR         work/log directory (default: a new /tmp/vsock-vm.*)
#   -t, --timeout SECS    bound for the whole run (default 1000)
#   -s, --skip IDS        comma-separated vsock_test IDs not to run
#   -r, --rounds N        at most N guest boots (default: tests + 1)
#   -R, --reverse         server in guest CID 4, client in guest CID 3
#
# vsock_test stops at the first failing test, so after a failure the guests
# are booted again, the tests already decided given to the client's --skip, until
# every test has a result, the budget is spent, or a round makes no progress.
#
# Environment: VS_LAB_CACHE (see build-lab.sh), VS_VM_KERNEL, VS_VM_TIMEOUT,
# VS_VM_ROUNDS, VS_VM_SKIP, VS_VM_IDLE (seconds without console output before a
# round is abandoned, default 240), VS_VM_EAL_ARGS (replaces the EAL
# arguments), VS_VM_SWITCH_ARGS (extra switch arguments after the --guest
# options), VS_VM_QEMU (QEMU binary), VS_VM_KEEP=1 (keep the work directory
# also on success).
#
# Output: one line per test "vm: [<series>] <id> <name>: PASS|FAIL|SKIP ...",
# then exactly "vm: N passed, N failed". Exit 0 all passed, 1 failures,
# 77 skipped (no QEMU, lab cannot be built).

set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SERIES=${VS_VM_KERNEL:-6.1}
DIR=${VS_VM_DIR:-}
TIMEOUT=${VS_VM_TIMEOUT:-1000}
SKIP_IDS=${VS_VM_SKIP:-}
ROUNDS=${VS_VM_ROUNDS:-}
IDLE=${VS_VM_IDLE:-240}
CTRL_PORT=1234
REVERSE=${VS_VM_REVERSE:-0}
NET_PREFIX=10.77.0

usage() { sed -n '/^# Usage/,/^# Environment/p' "$0" | sed 's/^# \{0,1\}//' | head -n -1; exit 2; }

while [ $# -gt 0 ]; do
	case $1 in
	-k|--kernel) SERIES=$2; shift 2 ;;
	--kernel=*) SERIES=${1#*=}; shift ;;
	-d|--dir) DIR=$2; shift 2 ;;
	--dir=*) DIR=${1#*=}; shift ;;
	-t|--timeout) TIMEOUT=$2; shift 2 ;;
	--timeout=*) TIMEOUT=${1#*=}; shift ;;
	-s|--skip) SKIP_IDS=$2; shift 2 ;;
	--skip=*) SKIP_IDS=${1#*=}; shift ;;
	-r|--rounds) ROUNDS=$2; shift 2 ;;
	-R|--reverse) REVERSE=1; shift ;;
	--rounds=*) ROUNDS=${1#*=}; shift ;;
	-h|--help) usage ;;
	--) shift; break ;;
	-*) echo "unknown option $1" >&2; usage ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || usage
SWITCH=$1
if [ "$REVERSE" = 1 ]; then SRV=4; CLI=3; else SRV=3; CLI=4; fi
TAG=$SERIES
[ "$REVERSE" = 1 ] && TAG="$SERIES reverse"

T0=$(date +%s)
DEADLINE=$((T0 + TIMEOUT))
elapsed() { echo $(($(now) - T0)); }
log() { echo "vm: [$(elapsed)s] $*" >&2; }
skip() { echo "SKIP: $*"; exit 77; }
# shellcheck source=lab.sh
. "$HERE/lab.sh"

# ---- prerequisites ---------------------------------------------------------
lab_need_qemu
if ! SWITCH=$(lab_switch_path "$SWITCH"); then
	echo "vm: switch binary $SWITCH not found or not executable" >&2
	echo "vm: 0 passed, 1 failed"
	exit 1
fi

lab_prepare "$SERIES" tests.list

# Test list: ID<TAB>name, from the very vsock_test binary in the initramfs.
declare -A NAME=() RESULT=() DETAIL=()
IDS=()
while IFS=$'\t' read -r id name; do
	[[ $id =~ ^[0-9]+$ ]] || continue
	IDS+=("$id"); NAME[$id]=$name
done <"$LAB/tests.list"
[ ${#IDS[@]} -gt 0 ] || skip "no test list in $LAB/tests.list"
for id in ${SKIP_IDS//,/ }; do
	[ -n "${NAME[$id]:-}" ] && RESULT[$id]=SKIP && DETAIL[$id]="(--skip)"
done
[ -n "$ROUNDS" ] || ROUNDS=$((${#IDS[@]} + 1))

# ---- work directory and cleanup ----------------------------------------------
if [ -z "$DIR" ]; then
	DIR=$(mktemp -d /tmp/vsock-vm.XXXXXX) || { echo "vm: mktemp failed"; exit 1; }
else
	mkdir -p "$DIR" || exit 1
	rm -f "$DIR"/g3.sock "$DIR"/g4.sock
fi
log "kernel $(grep '^kernel=' "$LAB/info" 2>/dev/null | cut -d= -f2), ${#IDS[@]} tests, server CID $SRV, client CID $CLI, logs in $DIR"

SWITCH_PID=
SRV_PID=
CLI_PID=
FINAL_RC=1

cleanup() {
	stop_pid "$CLI_PID"; CLI_PID=
	stop_pid "$SRV_PID"; SRV_PID=
	stop_pid "$SWITCH_PID"; SWITCH_PID=
	[ -n "${EAL_RUNDIR:-}" ] && [ -d "$EAL_RUNDIR" ] && rm -rf "$EAL_RUNDIR"
	if [ "$FINAL_RC" = 0 ] && [ "${VS_VM_KEEP:-0}" != 1 ] && [[ $DIR == /tmp/vsock-vm.* ]]; then
		rm -rf "$DIR"
	fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

# ---- the switch --------------------------------------------------------------
# A file prefix of our own, so that runs do not collide; its runtime
# directory is removed when the switch has stopped.
FILE_PREFIX=vmtest-$$
EAL_RUNDIR=$(lab_eal_rundir "$FILE_PREFIX")
# shellcheck disable=SC2206
EAL_ARGS=(${VS_VM_EAL_ARGS:---no-huge -m 512 -l 0-1 --no-pci --file-prefix $FILE_PREFIX})
# shellcheck disable=SC2206
EXTRA_ARGS=(${VS_VM_SWITCH_ARGS:-})
SWITCH_CMD=("$SWITCH" "${EAL_ARGS[@]}" -- --guest "cid=3,socket=$DIR/g3.sock"
	--guest "cid=4,socket=$DIR/g4.sock" "${EXTRA_ARGS[@]}")
echo "${SWITCH_CMD[*]}" >"$DIR/switch.cmd"
log "starting switch: ${SWITCH_CMD[*]}"
"${SWITCH_CMD[@]}" </dev/null >"$DIR/switch.log" 2>&1 &
SWITCH_PID=$!

switch_alive() { kill -0 "$SWITCH_PID" 2>/dev/null; }

if ! lab_wait_sockets "$SWITCH_PID" "$DIR/switch.log" "$DIR/g3.sock" "$DIR/g4.sock"; then
	SWITCH_PID=
	for id in "${IDS[@]}"; do [ -n "${RESULT[$id]:-}" ] || echo "vm: [$TAG] $id ${NAME[$id]}: FAIL (not run: switch did not start)"; done
	echo "vm: 0 passed, ${#IDS[@]} failed"
	exit 1
fi
log "switch up (pid $SWITCH_PID)"

# ---- guests ------------------------------------------------------------------
free_port() {
	local p _
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 30000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo $p; return 0; }
	done
	echo 34567
}

# start_guest CID NETDEV_MODE PORT CMD LOG: starts QEMU, prints its pid
start_guest() {
	local cid=$1 mode=$2 port=$3 cmd=$4 log=$5 append
	append="console=ttyS0 panic=-1 loglevel=5 mitigations=off vslab_ip=$NET_PREFIX.$cid/24"
	[ "$cid" = "$CLI" ] && append="$append vslab_peer=$NET_PREFIX.$SRV"
	append="$append vsockcmd=\"$cmd\""
	lab_qemu_cmd "$DIR/g$cid.sock" "$log" "$append"
	"${LAB_QEMU[@]}" \
		-netdev "socket,id=n0,$mode=127.0.0.1:$port" \
		-device "virtio-net-pci,netdev=n0,mac=52:54:00:00:77:0$cid" \
		</dev/null >"${log%.log}.qemu.log" 2>&1 &
	echo $!
}

# parse_output FILE PREFIX: fills P_RES[id]=ok|skipped|fail, P_MSG[id],
# P_DONE=1 when vsock_test completed. Uses the clean "VSLAB-OUT:" replay if
# present, else the raw console.
declare -A P_RES=() P_MSG=()
P_DONE=0
P_ANY=0
parse_output() {
	local file=$1 lines cur="" line rest
	P_RES=(); P_MSG=(); P_DONE=0; P_ANY=0
	[ -f "$file" ] || return 0
	if grep -q '^VSLAB-OUT: ' "$file"; then
		lines=$(sed -n 's/^VSLAB-OUT: //p' "$file" | tr -d '\r')
	else
		lines=$(tr -d '\r' <"$file" | grep -v -E '^\[ *[0-9]+\.[0-9]+\]|^VSLAB')
	fi
	while IFS= read -r line; do
		if [[ $line =~ ^([0-9]+)\ -\ .*\.\.\.(.*)$ ]] && [ -n "${NAME[${BASH_REMATCH[1]}]:-}" ]; then
			cur=${BASH_REMATCH[1]}; rest=${BASH_REMATCH[2]}
			P_ANY=1
			case $rest in
			ok) P_RES[$cur]=ok; cur="" ;;
			skipped) P_RES[$cur]=skipped; cur="" ;;
			*) P_RES[$cur]=fail; P_MSG[$cur]=$rest ;;
			esac
		elif [[ $line == "All tests have been executed. Waiting other peer..."* ]]; then
			[[ $line == *"...ok" ]] && P_DONE=1
			cur=""
		elif [ -n "$cur" ] && [ -n "$line" ]; then
			P_MSG[$cur]="${P_MSG[$cur]:+${P_MSG[$cur]} | }$line"
		fi
	done <<<"$lines"
	return 0
}

excerpt() { lab_excerpt "$@"; }

side_desc() { # side_desc RESULT MSG
	case $1 in
	ok) echo "ok" ;;
	"") echo "did not reach it" ;;
	*) if [ -n "$2" ]; then echo "$2"; else echo "did not finish it"; fi ;;
	esac
}

undecided() {
	local id n=0
	for id in "${IDS[@]}"; do [ -n "${RESULT[$id]:-}" ] || n=$((n + 1)); done
	echo $n
}

# run_round N: one boot of both guests. Sets RESULT/DETAIL for decided tests.
ROUND_NOTE=""
run_round() {
	local r=$1 slog=$DIR/r$1-g$SRV.log clog=$DIR/r$1-g$CLI.log port skipargs="" id
	local t tlast size lastsize state
	ROUND_NOTE=""
	for id in "${IDS[@]}"; do
		[ -n "${RESULT[$id]:-}" ] && skipargs="$skipargs --skip=$id"
	done
	port=$(free_port)
	: >"$slog"; : >"$clog"
	SRV_PID=$(start_guest $SRV listen "$port" \
		"vsock_test --mode=server --control-port=$CTRL_PORT --peer-cid=$CLI" "$slog")
	log "round $r: guest $SRV (server) started, pid $SRV_PID"

	# Wait for the server's control socket.
	state="wait"; t=$(now)
	while :; do
		if grep -q 'Control socket listening' "$slog"; then state=ok; break; fi
		if ! kill -0 "$SRV_PID" 2>/dev/null; then state=died; break; fi
		if [ $(($(now) - t)) -ge "$IDLE" ]; then state=timeout; break; fi
		if [ "$(now)" -ge "$DEADLINE" ]; then state=timeout; break; fi
		sleep 0.5
	done 2>/dev/null
	if [ $state != ok ]; then
		ROUND_NOTE="guest $SRV (server) never listened on its control socket ($state)"
		log "round $r: $ROUND_NOTE; console:"; excerpt "$slog" >&2
		stop_pid "$SRV_PID"; SRV_PID=
		return 1
	fi
	grep -m1 'VSLAB: virtio-vsock' "$slog" | sed "s/^/vm: [$(elapsed)s] round $r: guest $SRV: /" >&2

	CLI_PID=$(start_guest $CLI connect "$port" \
		"vsock_test --mode=client --control-host=$NET_PREFIX.$SRV --control-port=$CTRL_PORT --peer-cid=$SRV$skipargs" "$clog")
	log "round $r: guest $CLI (client) started, pid $CLI_PID${skipargs:+, skipping$(echo "$skipargs" | sed 's/--skip=/ /g')}"

	# Wait for the client guest to power off; watch for a stall.
	tlast=$(now); lastsize=0; state="finished"
	while kill -0 "$CLI_PID" 2>/dev/null; do
		size=$(( $(stat -c %s "$slog") + $(stat -c %s "$clog") ))
		if [ "$size" != "$lastsize" ]; then lastsize=$size; tlast=$(now); fi
		if [ "$(now)" -ge "$DEADLINE" ]; then state=timeout; break; fi
		if [ $(($(now) - tlast)) -ge "$IDLE" ]; then state=idle; break; fi
		if ! switch_alive; then state=switchdied; break; fi
		sleep 1
	done
	if [ "$state" = finished ]; then
		# Give the server a moment to finish and power off by itself (less
		# when the client failed: the server is then usually stuck).
		local grace=30
		grep -q '^VSLAB-EXIT: 0' "$clog" || grace=10
		t=$(now)
		while kill -0 "$SRV_PID" 2>/dev/null && [ $(($(now) - t)) -lt $grace ]; do sleep 0.5; done
	fi
	stop_pid "$CLI_PID"; CLI_PID=
	stop_pid "$SRV_PID"; SRV_PID=
	grep -m1 'VSLAB: virtio-vsock' "$clog" | sed "s/^/vm: [$(elapsed)s] round $r: guest $CLI: /" >&2
	case $state in
	timeout) ROUND_NOTE="run time limit (${TIMEOUT}s) reached" ;;
	idle) ROUND_NOTE="no console output for ${IDLE}s" ;;
	switchdied) ROUND_NOTE="the switch exited" ;;
	esac
	[ -n "$ROUND_NOTE" ] && log "round $r: $ROUND_NOTE"

	# Decide: a test passes when both sides printed ok; the first one that did
	# not is the failure of this round; later ones stay undecided.
	declare -A CR=() CM=() SR=() SM=()
	local cdone sdone sany
	parse_output "$clog"
	for id in "${!P_RES[@]}"; do CR[$id]=${P_RES[$id]}; CM[$id]=${P_MSG[$id]:-}; done
	cdone=$P_DONE
	parse_output "$slog"
	for id in "${!P_RES[@]}"; do SR[$id]=${P_RES[$id]}; SM[$id]=${P_MSG[$id]:-}; done
	sdone=$P_DONE; sany=$P_ANY

	local progress=0 c s
	for id in "${IDS[@]}"; do
		[ -n "${RESULT[$id]:-}" ] && continue
		c=${CR[$id]:-}; s=${SR[$id]:-}
		[ -z "$c" ] && [ -z "$s" ] && break
		if [ "$c" = ok ] && { [ "$s" = ok ] || [ "$sany" = 0 ]; }; then
			RESULT[$id]=PASS; progress=1; continue
		fi
		if [ "$c" = ok ] && [ -z "$s" ] && [ "$sdone" = 0 ]; then
			# server output lost mid-way; trust the client only if it finished
			[ "$cdone" = 1 ] && { RESULT[$id]=PASS; progress=1; continue; }
			break
		fi
		RESULT[$id]=FAIL; progress=1
		DETAIL[$id]="client: $(side_desc "$c" "${CM[$id]:-}"); server: $(side_desc "$s" "${SM[$id]:-}")${ROUND_NOTE:+; $ROUND_NOTE}"
		FAIL_LOGS+=("$id:$r")
		break
	done
	if [ $progress = 0 ]; then
		[ -n "$ROUND_NOTE" ] || ROUND_NOTE="round $r gave no new test result"
		log "round $r: no progress: $ROUND_NOTE; guest $CLI (client) console:"
		excerpt "$clog" >&2
		return 1
	fi
	return 0
}

FAIL_LOGS=()
round=0
stalls=0
LAST_NOTE=""
while [ "$(undecided)" -gt 0 ] && [ $round -lt "$ROUNDS" ]; do
	if [ $((DEADLINE - $(now))) -lt 30 ]; then LAST_NOTE="run time limit (${TIMEOUT}s) reached"; break; fi
	if ! switch_alive; then LAST_NOTE="the switch exited"; break; fi
	round=$((round + 1))
	if run_round $round; then
		stalls=0
	else
		LAST_NOTE=$ROUND_NOTE
		stalls=$((stalls + 1))
		[ $stalls -ge 2 ] && break
	fi
done

if ! switch_alive; then
	wait "$SWITCH_PID" 2>/dev/null; rc=$?; SWITCH_PID=
	log "the switch exited (status $rc); last lines of switch.log:"
	tail -n 30 "$DIR/switch.log" | sed 's/^/  switch| /' >&2
	LAST_NOTE=${LAST_NOTE:-the switch exited}
fi

# ---- report ------------------------------------------------------------------
pass=0; fail=0
for id in "${IDS[@]}"; do
	case ${RESULT[$id]:-} in
	PASS) pass=$((pass + 1)); echo "vm: [$TAG] $id ${NAME[$id]}: PASS" ;;
	SKIP) echo "vm: [$TAG] $id ${NAME[$id]}: SKIP ${DETAIL[$id]:-}" ;;
	FAIL) fail=$((fail + 1)); echo "vm: [$TAG] $id ${NAME[$id]}: FAIL (${DETAIL[$id]})" ;;
	*) fail=$((fail + 1)); echo "vm: [$TAG] $id ${NAME[$id]}: FAIL (not run${LAST_NOTE:+: $LAST_NOTE})" ;;
	esac
done
for fl in "${FAIL_LOGS[@]}"; do
	id=${fl%%:*}; r=${fl#*:}
	echo "vm: --- test $id failed in round $r; client (guest $CLI) console tail ($DIR/r$r-g$CLI.log):"
	excerpt "$DIR/r$r-g$CLI.log" 15
	echo "vm: --- server (guest $SRV) console tail ($DIR/r$r-g$SRV.log):"
	excerpt "$DIR/r$r-g$SRV.log" 15
done
log "$round round(s), switch log: $DIR/switch.log"
echo "vm: $pass passed, $fail failed"
if [ $fail -eq 0 ] && [ $pass -gt 0 ]; then FINAL_RC=0; fi
exit $FINAL_RC
