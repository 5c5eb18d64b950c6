#!/bin/busybox sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vsock-switch authors
#
# /init of the VM lab initramfs (see build-lab.sh). Loads the virtio, vsock
# and virtio-net modules, configures the point-to-point lab network, runs the
# command given on the kernel command line and powers off.
#
# Kernel command line parameters (all optional):
#   vsockcmd="<shell command>"  command to run (sh -c); default: a shell
#   vslab_ip=<addr/len>         IPv4 address for eth0 (e.g. 10.77.0.3/24)
#   vslab_peer=<addr>           wait until this address answers ping
#   vslab_wait=<seconds>        how long to wait for the peer (default 120)
#
# Console markers parsed by run-vsock-test.sh:
#   VSLAB: ...                  progress
#   VSLAB-OUT: <line>           replay of the command's output (no printk
#                               interleaving) after it finished
#   VSLAB-EXIT: <status>        the command's exit status, last thing printed

/bin/busybox mkdir -p /proc /sys /dev /tmp /run /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
[ -c /dev/console ] && exec </dev/console >/dev/console 2>&1

say() { echo "VSLAB: $*"; }

finish() {
	sync
	# Quiet the console so nothing interleaves with the last markers.
	dmesg -n 1 2>/dev/null
	if [ -f /tmp/cmd.out ]; then
		while IFS= read -r line || [ -n "$line" ]; do
			echo "VSLAB-OUT: $line"
		done </tmp/cmd.out
	fi
	echo "VSLAB-EXIT: $1"
	sync
	poweroff -f
	sleep 2
	echo o >/proc/sysrq-trigger
	sleep 5
	reboot -f
}

param() { # param NAME: value of NAME=... (no spaces) from /proc/cmdline
	for w in $(cat /proc/cmdline); do
		case "$w" in "$1="*) echo "${w#*=}"; return 0 ;; esac
	done
	return 1
}

say "init on Linux $(uname -r), cmdline: $(cat /proc/cmdline)"

if [ -f /lib/modules/load-order ]; then
	while read -r m; do
		[ -n "$m" ] || continue
		insmod "/lib/modules/$m.ko" || say "insmod $m failed"
	done </lib/modules/load-order
fi

# virtio-vsock: did the driver bind, and which CID did the device give us?
n=0
while [ $n -lt 50 ]; do
	[ -e /dev/vsock ] && break
	sleep 0.1; n=$((n + 1))
done
vdev=$(ls -d /sys/bus/virtio/drivers/vmw_vsock_virtio_transport/virtio* 2>/dev/null | head -n 1)
if [ -n "$vdev" ]; then
	say "virtio-vsock probed ($(basename "$vdev")), local cid $(vslab-cid 2>&1)"
else
	say "virtio-vsock NOT probed"
fi

ip link set lo up
ipaddr=$(param vslab_ip)
if [ -n "$ipaddr" ]; then
	n=0
	while [ $n -lt 50 ] && ! ip link show eth0 >/dev/null 2>&1; do
		sleep 0.1; n=$((n + 1))
	done
	ip link set eth0 up && ip addr add "$ipaddr" dev eth0 &&
		say "eth0 $ipaddr up" || say "eth0 setup failed"
fi

peer=$(param vslab_peer)
if [ -n "$peer" ]; then
	wait_s=$(param vslab_wait || echo 120)
	t0=$(date +%s)
	until ping -c 1 -W 1 "$peer" >/dev/null 2>&1; do
		if [ $(($(date +%s) - t0)) -ge "$wait_s" ]; then
			say "peer $peer unreachable after ${wait_s}s"
			break
		fi
		sleep 0.5
	done
	ping -c 1 -W 1 "$peer" >/dev/null 2>&1 &&
		say "peer $peer reachable after $(($(date +%s) - t0))s"
fi

# The kernel hands unknown name=value parameters to init as environment;
# fall back to /proc/cmdline when it did not.
if [ -z "$vsockcmd" ]; then
	vsockcmd=$(sed -n 's/.*vsockcmd="\([^"]*\)".*/\1/p' /proc/cmdline)
fi
if [ -z "$vsockcmd" ]; then
	say "no vsockcmd= given, starting a shell"
	setsid cttyhack sh
	finish 0
fi

say "running: $vsockcmd"
cd /tmp || exit 1
# stdout of the command is a pipe here, so its output reaches the console a
# little late; the replay at the end is complete and in order.
{ sh -c "$vsockcmd" 2>&1; echo $? >/tmp/cmd.rc; } | tee /tmp/cmd.out
rc=$(cat /tmp/cmd.rc 2>/dev/null || echo 255)
say "command exited with status $rc"
finish "$rc"
