#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vsock-switch authors
#
# Command-line behaviour of the real binary: every bad argument is refused with a
# clear message and exit status 1, never a crash; a stale socket file is reused;
# the switch starts and stops cleanly with --no-huge and (when the machine has
# them) with hugepages.
#   test-cli.sh <vsock-switch binary>
set -u
sw=$1
dir=$(mktemp -d /tmp/vs-cli.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
eal=(-l 0-1 --no-huge -m 256 --no-pci --log-level=lib.eal:error --log-level=lib.vhost.*:error)
pass=0
fail=0

ok() { echo "ok: $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; fail=$((fail + 1)); }

# refuse <expected message part> <app args...>
refuse() {
	local want=$1 out rc
	shift
	out=$("$sw" "${eal[@]}" --file-prefix "vscli$$" -- "$@" 2>&1)
	rc=$?
	if [ "$rc" -eq 1 ] && grep -qF -- "$want" <<<"$out"; then
		ok "refused ($want): $*"
	else
		bad "expected exit 1 and '$want' for: $* (exit $rc)"
		echo "$out" | tail -5
	fi
}

# wait_ready <log> <seconds>
wait_ready() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		grep -q "^Ready" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

refuse "CID 2 is reserved" --guest "cid=2,socket=$dir/a.sock"
refuse "CID 0 is reserved" --guest "cid=0,socket=$dir/a.sock"
refuse "CID 1 is reserved" --guest "cid=1,socket=$dir/a.sock"
refuse "CID 4294967295 is reserved" --guest "cid=4294967295,socket=$dir/a.sock"
refuse "CID 3 given twice" --guest "cid=3,socket=$dir/a.sock" --guest "cid=3,socket=$dir/b.sock"
refuse "given twice" --guest "cid=3,socket=$dir/a.sock" --guest "cid=4,socket=$dir/a.sock"
refuse "needs exactly one cid= and one socket=" --guest "cid=3"
refuse "cid is not a number" --guest "cid=abc,socket=$dir/a.sock"
refuse "expected cid=<N>,socket=<path>" --guest "cid=3,socket=$dir/a.sock,colour=red"
refuse "lcore is not one of the EAL's lcores" --guest "cid=3,socket=$dir/a.sock,lcore=9"
refuse "does not exist" --guest "cid=3,socket=$dir/missing/a.sock"
refuse "exists and is not a socket" --guest "cid=3,socket=/etc/hostname"
refuse "longer than a UNIX socket address allows" \
	--guest "cid=3,socket=$dir/$(printf 'x%.0s' $(seq 120))"
refuse "unknown option" --frobnicate
refuse "expected a number" --max-flows lots

# Configuration file: same meaning as the command line.
printf '[switch]\nmax-flows = lots\n' >"$dir/bad1.conf"
refuse "expected a number" --config "$dir/bad1.conf"
printf '[guests]\ncid = 3\n' >"$dir/bad2.conf"
refuse "unknown section [guests]" --config "$dir/bad2.conf"
printf '[guest 3]\ncid = 2\nsocket = %s/a.sock\n' "$dir" >"$dir/bad3.conf"
refuse "CID 2 is reserved" --config "$dir/bad3.conf"
refuse "cannot read configuration file" --config "$dir/missing.conf"
printf '[switch]\nconfig = %s/bad1.conf\n' "$dir" >"$dir/bad4.conf"
refuse "cannot name another" --config "$dir/bad4.conf"
refuse "--pcap" --pcap "$dir/x.pcap,snaplen=10"
refuse "--pcap" --pcap ",cid=3"

# Start-up mistakes the EAL or the pool report, with a hint.
refuse "give the EAL more memory" --guest "cid=3,socket=$dir/m.sock" --mbufs 16777216
eal_save=("${eal[@]}")
"$sw" "${eal[@]}" --file-prefix "vscli5$$" -- --guest "cid=3,socket=$dir/p1.sock" \
	>"$dir/p1.log" 2>&1 &
p=$!
if wait_ready "$dir/p1.log" 20; then
	out=$("$sw" "${eal[@]}" --file-prefix "vscli5$$" -- --guest "cid=4,socket=$dir/p2.sock" 2>&1)
	rc=$?
	[ "$rc" -eq 1 ] && grep -q "same --file-prefix" <<<"$out" && ok "second switch, same prefix" ||
		{ bad "second switch with the same prefix (exit $rc)"; echo "$out" | tail -3; }
	kill -INT $p; wait $p
else
	bad "switch did not start"; kill $p
fi
eal=("${eal_save[@]}")

# --help is not an error.
if "$sw" "${eal[@]}" --file-prefix "vscli$$" -- --help 2>&1 | grep -q -- "--guest cid=<N>"; then
	ok "--help"
else
	bad "--help"
fi

# A live socket is refused; a stale one (nobody listening) is taken over.
"$sw" "${eal[@]}" --file-prefix "vscli1$$" -- --guest "cid=3,socket=$dir/live.sock" \
	>"$dir/live.log" 2>&1 &
pids+=($!)
if wait_ready "$dir/live.log" 20; then
	refuse "is in use by a running process" --guest "cid=5,socket=$dir/live.sock"
else
	bad "switch with one guest did not start"; cat "$dir/live.log"
fi
# A live SEQPACKET listener (say, another switch's hybrid socket) counts too.
python3 -c "import socket,sys,time
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.bind(sys.argv[1]); s.listen()
time.sleep(30)" "$dir/seq.sock" &
pids+=($!)
for _ in $(seq 50); do [ -S "$dir/seq.sock" ] && break; sleep 0.1; done
refuse "is in use by a running process" --guest "cid=6,socket=$dir/seq.sock"
[ -S "$dir/seq.sock" ] && ok "live SEQPACKET listener's socket left in place" ||
	bad "live SEQPACKET listener's socket was removed"
python3 -c "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" "$dir/stale.sock"
"$sw" "${eal[@]}" --file-prefix "vscli2$$" -- --guest "cid=3,socket=$dir/stale.sock" \
	>"$dir/stale.log" 2>&1 &
p=$!
if wait_ready "$dir/stale.log" 20; then
	kill -INT $p; wait $p; rc=$?
	[ "$rc" -eq 0 ] && ok "stale socket reused, clean exit on SIGINT" || bad "exit $rc after SIGINT"
	[ -e "$dir/stale.sock" ] && bad "socket left behind after exit" || ok "socket removed on exit"
else
	bad "stale socket not reused"; cat "$dir/stale.log"; kill $p
fi

# A configuration file's guests plus the command line's, and its settings.
printf '[switch]\nmax-flows = 4096\n\n[guest 3]\ncid = 3\nsocket = %s/c3.sock\n' "$dir" \
	>"$dir/good.conf"
"$sw" "${eal[@]}" --file-prefix "vscli4$$" -- --config "$dir/good.conf" \
	--guest "cid=4,socket=$dir/c4.sock" >"$dir/conf.log" 2>&1 &
p=$!
if wait_ready "$dir/conf.log" 20; then
	out=$(echo /vsock/config | dpdk-telemetry.py -f "vscli4$$" 2>&1)
	g=$(echo /vsock/guests | dpdk-telemetry.py -f "vscli4$$" 2>&1)
	grep -q '"max_flows_per_lcore": 4096' <<<"$out" && ok "config file setting applied" ||
		bad "config file setting: $out"
	grep -q '\[3, 4\]' <<<"$g" && ok "config file guest plus command-line guest" ||
		bad "guests: $g"
	kill -INT $p; wait $p
else
	bad "switch with a config file did not start"; cat "$dir/conf.log"; kill $p
fi

# Hugepages: the same start and stop without --no-huge.
free_hp=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
if [ "${free_hp:-0}" -ge 128 ] && grep -qs hugetlbfs /proc/mounts; then
	"$sw" -l 0-1 -m 256 --no-pci --file-prefix "vscli3$$" --log-level=lib.eal:error -- \
		--guest "cid=3,socket=$dir/huge.sock" >"$dir/huge.log" 2>&1 &
	p=$!
	if wait_ready "$dir/huge.log" 30; then
		kill -INT $p; wait $p; rc=$?
		[ "$rc" -eq 0 ] && ok "hugepage run" || bad "hugepage run exit $rc"
	else
		bad "hugepage run did not start"; cat "$dir/huge.log"; kill $p
	fi
else
	echo "skip: hugepage run (need 128 free hugepages and hugetlbfs; have ${free_hp:-0})"
fi

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
