#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vsock-switch authors
#
# What limits the number of guests of one switch process is refused at start-up
# with a clear message and exit status 1:
#  - more guests than the hard RLIMIT_NOFILE allows (the soft limit is raised
#    to the hard one first: a low soft limit alone is not an error);
#  - more vhost-user sockets than librte_vhost's 1024-fd poll set holds
#    (two per server-mode guest, one per client-mode guest);
#  - a bad value of the client key, and a configuration-file line without '='
#    (a bare "client", which rte_cfgfile would skip silently).
#   limits.sh <vsock-switch binary>
set -u
sw=$1
dir=$(mktemp -d /tmp/vs-limits.XXXXXX)
trap 'rm -rf "$dir"; rm -rf /var/run/dpdk/vslim$$' EXIT
eal=(-l 0-1 --no-huge -m 256 --no-pci --log-level=lib.eal:error --log-level=lib.vhost.*:error)
pass=0
fail=0

ok() { echo "ok: $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; fail=$((fail + 1)); }

# guests <n> <first cid> <suffix>: --guest arguments
guests() {
	local i
	for ((i = 0; i < $1; i++)); do
		printf -- '--guest\ncid=%d,socket=%s/g%d.sock%s\n' $(($2 + i)) "$dir" $(($2 + i)) "$3"
	done
}

# refuse <expected message part> <hard fd limit or -> <app args...>
refuse() {
	local want=$1 lim=$2 out rc
	shift 2
	if [ "$lim" = - ]; then
		out=$("$sw" "${eal[@]}" --file-prefix "vslim$$" -- "$@" 2>&1)
	else
		out=$(ulimit -n "$lim" && "$sw" "${eal[@]}" --file-prefix "vslim$$" -- "$@" 2>&1)
	fi
	rc=$?
	if [ "$rc" -eq 1 ] && grep -qF -- "$want" <<<"$out"; then
		ok "refused: $want"
	else
		bad "expected exit 1 and '$want' (exit $rc)"
		echo "$out" | tail -5
	fi
}

# starts <expected message part> <soft fd limit> <app args...>: runs, prints it, stops cleanly
nstarts=0
starts() {
	local want=$1 lim=$2 pid i out
	shift 2
	# a file of its own: the previous run's "Ready." must not be seen
	nstarts=$((nstarts + 1))
	out="$dir/out.$nstarts"
	(ulimit -Sn "$lim" && exec "$sw" "${eal[@]}" --file-prefix "vslim$$" -- "$@") \
		>"$out" 2>&1 &
	pid=$!
	for ((i = 0; i < 300; i++)); do
		grep -q "Ready." "$out" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if grep -qF -- "$want" "$out"; then
		ok "starts: $want"
	else
		bad "expected '$want' in the banner"
		tail -5 "$out"
	fi
	kill -TERM "$pid" 2>/dev/null
	if wait "$pid"; then
		ok "and stops with status 0"
	else
		bad "exit status $? on SIGTERM"
	fi
}

mapfile -t g300 < <(guests 300 3 ,client)
refuse "the hard limit (RLIMIT_NOFILE) is 1000" 1000 "${g300[@]}"

mapfile -t g600 < <(guests 600 3 "")
refuse "need 1201 of the 1024 descriptors librte_vhost polls" - "${g600[@]}"

mapfile -t gmix < <(guests 400 3 ""; guests 300 403 ,client)
refuse "400 server-mode and 300 client-mode guests need 1101" - "${gmix[@]}"

refuse "client takes no value, or yes/no" - --guest "cid=3,socket=$dir/x.sock,client=maybe"

# 300 client guests with a soft limit of 256: raised to the hard limit, they start
if [ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge 4096 ]; then
	starts "300 guests" 256 "${g300[@]}"
else
	echo "skip: hard fd limit $(ulimit -Hn) is below 4096"
fi

# the configuration file: "client = yes" is client mode; a bare "client" is refused
# (rte_cfgfile would skip it silently and leave the guest in server mode)
printf '[guest 3]\ncid = 3\nsocket = %s/g3.sock\nclient\n' "$dir" >"$dir/bare.conf"
refuse "bare.conf:4: 'client' has no value (write 'client = yes'" - --config "$dir/bare.conf"
printf '[guest 3]\ncid = 3\nsocket = %s/g3.sock\nclient = yes\n' "$dir" >"$dir/yes.conf"
starts "connects to $dir/g3.sock (client mode): no frontend listening yet" 1024 \
	--config "$dir/yes.conf"

mapfile -t g1 < <(guests 1 3 ,client=no)
starts "guest cid 3 on lcore 1: $dir/g3.sock" 1024 "${g1[@]}"

echo "limits: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
