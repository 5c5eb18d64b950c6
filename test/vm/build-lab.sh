#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vsock-switch authors
#
# Build the VM lab: Debian cloud kernels, an initramfs with busybox, the
# virtio/vsock/virtio-net modules, Linux's own vsock_test and our guest
# helpers (vslab-cid, vslab-peer), all from Debian
# 12 packages (apt-get download + dpkg -x; nothing is installed on the host).
#
# Usage: build-lab.sh [SERIES...]      SERIES: 6.1 (default), 6.12
#   VS_LAB_CACHE   cache directory (default /var/cache/vsock-switch-lab, or
#                  ~/.cache/vsock-switch-lab when that is not writable)
#   VS_LAB_KERNELS series to build when none are given (default "6.1 6.12")
#
# Result, per series, in $VS_LAB_CACHE/<series>/:
#   vmlinuz  initrd.gz  vsock_test  tests.list  info  stamp
# Re-running is cheap: downloads are kept in $VS_LAB_CACHE/debs and a series
# is rebuilt only when its inputs (packages, this script, init.sh and the
# guest helpers vslab-cid.c and vslab-peer.c) change.
#
# Exit status: 0 all requested series built, 1 a build failed,
# 77 nothing could be built for lack of packages (callers treat as skip).

set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -n "${VS_LAB_CACHE:-}" ]; then
	CACHE=$VS_LAB_CACHE
elif mkdir -p /var/cache/vsock-switch-lab 2>/dev/null && [ -w /var/cache/vsock-switch-lab ]; then
	CACHE=/var/cache/vsock-switch-lab
else   # not root: fall back to the user's cache
	CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/vsock-switch-lab
fi
DEBS=$CACHE/debs

log() { echo "build-lab: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Modules wanted in the guest; dependencies are resolved from .modinfo and
# built-in ones (modules.builtin) are left out.
WANT_MODULES="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev
virtio_pci vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport
failover net_failover virtio_net"

if [ $# -gt 0 ]; then
	SERIES_LIST="$*"
else
	SERIES_LIST=${VS_LAB_KERNELS:-"6.1 6.12"}
fi

for tool in apt-get apt-cache dpkg-deb tar xz gzip make cc; do
	command -v "$tool" >/dev/null 2>&1 || { log "missing host tool: $tool"; exit 77; }
done

mkdir -p "$DEBS" || die "cannot create $DEBS"
exec 9>"$CACHE/.lock"
flock 9 || die "cannot lock $CACHE/.lock"

# Name of the kernel image package for a series, from apt's package lists.
image_pkg() {
	local series=$1 meta pat name
	case $series in
	6.1)  meta=linux-image-cloud-amd64;      pat='linux-image-6\.1\.0-[0-9]+-cloud-amd64' ;;
	6.12) meta=linux-image-6.12-cloud-amd64; pat='linux-image-6\.12\.[0-9]+\+deb12-cloud-amd64' ;;
	*) return 1 ;;
	esac
	name=$(apt-cache depends "$meta" 2>/dev/null | grep -oE "$pat" | head -n 1)
	if [ -z "$name" ]; then
		name=$(apt-cache pkgnames linux-image-"$series" 2>/dev/null |
			grep -E "^$pat\$" | sort -V | tail -n 1)
	fi
	[ -n "$name" ] && echo "$name"
}

# fetch_deb PKG [GLOB]: path of PKG's .deb in the cache, downloading it if
# needed. Falls back to any cached .deb matching GLOB when apt cannot download.
fetch_deb() {
	local pkg=$1 glob=${2:-} f
	f=$(ls -1 "$DEBS/${pkg}_"*.deb 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$f" ] && [ -n "$pkg" ]; then
		log "downloading $pkg"
		(cd "$DEBS" && apt-get download "$pkg" >/dev/null 2>"$DEBS/.apt.err") ||
			log "apt-get download $pkg failed: $(tail -n 2 "$DEBS/.apt.err" | tr '\n' ' ')"
		f=$(ls -1 "$DEBS/${pkg}_"*.deb 2>/dev/null | sort -V | tail -n 1)
	fi
	if [ -z "$f" ] && [ -n "$glob" ]; then
		f=$(ls -1 "$DEBS/"$glob 2>/dev/null | sort -V | tail -n 1)
		[ -n "$f" ] && log "using cached $(basename "$f")"
	fi
	[ -n "$f" ] && echo "$f"
}

# Print the load order (dependencies first) of the wanted modules.
# $1: extracted /lib/modules/<kver> directory.
module_order() {
	local mdir=$1 done_list="" m
	declare -A path=()
	while IFS= read -r f; do
		local b=${f##*/}; b=${b%%.ko*}
		path[$b]=$f
		path[${b//-/_}]=$f
	done < <(cd "$mdir" && find kernel -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz')
	visit() {
		local mod=${1//-/_} f deps d
		case " $done_list " in *" $mod "*) return 0 ;; esac
		f=${path[$mod]:-}
		if [ -z "$f" ]; then
			if grep -qE "/${mod}\.ko\$|/${1}\.ko\$" "$mdir/modules.builtin" 2>/dev/null; then
				done_list="$done_list $mod"; return 0
			fi
			log "module $mod neither built as module nor built in"; return 1
		fi
		case $f in
		*.xz)  deps=$(xz -dc "$mdir/$f" | tr '\0' '\n' | grep -a '^depends=') ;;
		*.zst) deps=$(zstd -dc "$mdir/$f" | tr '\0' '\n' | grep -a '^depends=') ;;
		*.gz)  deps=$(gzip -dc "$mdir/$f" | tr '\0' '\n' | grep -a '^depends=') ;;
		*)     deps=$(tr '\0' '\n' <"$mdir/$f" | grep -a '^depends=') ;;
		esac
		deps=${deps#depends=}
		for d in ${deps//,/ }; do visit "$d" || return 1; done
		done_list="$done_list $mod"
		echo "$mod $f"
	}
	for m in $WANT_MODULES; do visit "$m" || return 1; done
}

build_series() {
	local series=$1 out=$CACHE/$1 img src bb key work
	local img_pkg
	img_pkg=$(image_pkg "$series") || true
	if [ -z "$img_pkg" ]; then
		log "series $series: no linux-image package known to apt (apt-cache policy shows the archives)"
		return 77
	fi
	img=$(fetch_deb "$img_pkg" "linux-image-${series}*-cloud-amd64_*.deb") ||
		{ log "series $series: cannot get $img_pkg"; return 77; }
	src=$(fetch_deb "linux-source-$series" "linux-source-${series}_*.deb") ||
		{ log "series $series: cannot get linux-source-$series"; return 77; }
	bb=$(fetch_deb busybox-static "busybox-static_*.deb") ||
		{ log "cannot get busybox-static"; return 77; }

	key=$( { basename "$img"; basename "$src"; basename "$bb"
		cat "$HERE/build-lab.sh" "$HERE/init.sh" "$HERE/vslab-cid.c" "$HERE/vslab-peer.c"
	} | sha256sum | cut -d' ' -f1)
	if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$key" ] &&
	   [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.gz" ]; then
		log "series $series: up to date in $out"
		return 0
	fi

	log "series $series: building from $(basename "$img"), $(basename "$src")"
	work=$(mktemp -d "$CACHE/.work-$series.XXXXXX") || return 1
	build_in "$work"
	local r=$?
	rm -rf "$work"
	return $r
}

# build_in WORKDIR: the build proper (uses series, out, img, src, bb, key).
build_in() {
	local work=$1 kroot kver

	# Kernel and modules.
	dpkg-deb -x "$img" "$work/kernel" || return 1
	kroot=$(ls -d "$work"/kernel/lib/modules/*/ 2>/dev/null | head -n 1)
	kroot=${kroot%/}
	[ -d "$kroot" ] || { log "no modules directory in $img"; return 1; }
	kver=${kroot##*/}
	mkdir -p "$work/initramfs/lib/modules" "$work/initramfs/bin"
	module_order "$kroot" >"$work/modules" || return 1
	: >"$work/initramfs/lib/modules/load-order"
	while read -r mod f; do
		case $f in
		*.xz)  xz -dc "$kroot/$f" ;;
		*.zst) zstd -dc "$kroot/$f" ;;
		*.gz)  gzip -dc "$kroot/$f" ;;
		*)     cat "$kroot/$f" ;;
		esac >"$work/initramfs/lib/modules/$mod.ko" || return 1
		echo "$mod" >>"$work/initramfs/lib/modules/load-order"
	done <"$work/modules"
	log "series $series: modules: $(tr '\n' ' ' <"$work/initramfs/lib/modules/load-order")"

	# vsock_test from the matching kernel source.
	mkdir -p "$work/src"
	dpkg-deb --fsys-tarfile "$src" |
		tar -xO "./usr/src/linux-source-$series.tar.xz" >"$work/src/src.tar.xz" || return 1
	tar -C "$work/src" -xJf "$work/src/src.tar.xz" --wildcards \
		"linux-source-$series/tools/testing/vsock" \
		"linux-source-$series/tools/include" || return 1
	rm -f "$work/src/src.tar.xz"
	local vt=$work/src/linux-source-$series/tools/testing/vsock
	make -C "$vt" LDFLAGS=-static vsock_test >"$work/make.log" 2>&1 ||
		{ tail -n 30 "$work/make.log" >&2; log "vsock_test build failed"; return 1; }
	# vsock_perf exists from 6.2 on; nice to have, not required.
	if grep -q '^vsock_perf:' "$vt/Makefile"; then
		make -C "$vt" LDFLAGS=-static vsock_perf >>"$work/make.log" 2>&1 ||
			log "vsock_perf build failed (ignored)"
	fi
	cp "$vt/vsock_test" "$work/initramfs/bin/" || return 1
	[ -x "$vt/vsock_perf" ] && cp "$vt/vsock_perf" "$work/initramfs/bin/"
	cc -static -O2 -Wall -o "$work/initramfs/bin/vslab-cid" "$HERE/vslab-cid.c" || return 1
	cc -static -O2 -Wall -pthread -o "$work/initramfs/bin/vslab-peer" "$HERE/vslab-peer.c" ||
		return 1

	# busybox and /init.
	dpkg-deb -x "$bb" "$work/bb" || return 1
	cp "$work/bb/bin/busybox" "$work/initramfs/bin/busybox" || return 1
	install -m 0755 "$HERE/init.sh" "$work/initramfs/init" || return 1
	mkdir -p "$work/initramfs/dev" "$work/initramfs/proc" "$work/initramfs/sys" \
		"$work/initramfs/tmp" "$work/initramfs/run"
	mknod -m 600 "$work/initramfs/dev/console" c 5 1 2>/dev/null || true

	local cpio_cmd
	if command -v cpio >/dev/null 2>&1; then
		cpio_cmd="cpio --quiet -o -H newc -R 0:0"
	else
		cpio_cmd="$work/bb/bin/busybox cpio -o -H newc -R 0:0"
	fi
	(cd "$work/initramfs" && find . | LC_ALL=C sort | $cpio_cmd 2>/dev/null) |
		gzip -9n >"$work/initrd.gz" || return 1

	# Publish.
	rm -rf "$out.new"
	mkdir -p "$out.new"
	cp "$work/kernel/boot/vmlinuz-$kver" "$out.new/vmlinuz" || return 1
	cp "$work/initrd.gz" "$out.new/initrd.gz"
	cp "$vt/vsock_test" "$out.new/vsock_test"
	"$vt/vsock_test" --list >"$out.new/tests.list" 2>/dev/null || true
	{
		echo "series=$series"
		echo "kernel=$kver"
		echo "image_deb=$(basename "$img")"
		echo "source_deb=$(basename "$src")"
		echo "busybox_deb=$(basename "$bb")"
		echo "helpers=vslab-cid vslab-peer"
		echo "modules=$(tr '\n' ' ' <"$work/initramfs/lib/modules/load-order")"
		echo "tests=$(grep -cE '^[0-9]+' "$out.new/tests.list")"
	} >"$out.new/info"
	echo "$key" >"$out.new/stamp"
	rm -rf "$out.old"
	[ -d "$out" ] && mv "$out" "$out.old"
	mv "$out.new" "$out" && rm -rf "$out.old"
	log "series $series: ready in $out ($(grep '^tests=' "$out/info"))"
	return 0
}

rc=0
built=0
for s in $SERIES_LIST; do
	build_series "$s"
	r=$?
	case $r in
	0) built=$((built + 1)) ;;
	77) [ $rc -eq 0 ] && rc=77 ;;
	*) rc=1 ;;
	esac
done
[ $rc -eq 77 ] && [ $built -gt 0 ] && [ $# -eq 0 ] && rc=0   # default set: partial is fine
exit $rc
