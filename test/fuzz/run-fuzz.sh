#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vsock-switch authors
#
# Build every libFuzzer harness with clang (-fsanitize=fuzzer,address,undefined)
# straight from the sources it tests, then run each for a while over its seed
# corpus (test/fuzz/corpus/<harness>/). The normal build uses gcc; this script is
# the only place clang is needed.
#
#   run-fuzz.sh                 every harness, VS_FUZZ_SECONDS (default 60) each
#   run-fuzz.sh fuzz_virtq      one harness
#   VS_FUZZ_SECONDS=3600 run-fuzz.sh fuzz_switch    a long run by hand
#
# Environment:
#   VS_FUZZ_SECONDS  seconds per harness (default 60)
#   VS_FUZZ_OUT      where binaries, the growing corpus and crash files go
#                    (default: a new directory under /tmp, kept and printed)
#   VS_CONFIG_DIR    directory holding the build's vs_config.h (default: one
#                    written here with the meson option defaults)
#   VS_FUZZ_FLAGS    more libFuzzer flags (e.g. -jobs=2 -workers=2)
#   CC               the clang to use (default: clang, else clang-14)
#
# Exit status: 0 all clean, 1 a harness failed to build or found a crash,
# 77 (meson's "skipped") when clang or its fuzzer runtime is missing.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
secs=${VS_FUZZ_SECONDS:-60}
all="fuzz_virtq fuzz_vsock_hdr fuzz_hp_line fuzz_switch"
harnesses=${*:-$all}

cc=${CC:-}
if [ -z "$cc" ] || ! "$cc" --version 2>/dev/null | grep -qi clang; then
	cc=
	for c in clang clang-14; do
		if command -v "$c" >/dev/null 2>&1; then
			cc=$c
			break
		fi
	done
fi
if [ -z "$cc" ]; then
	echo "fuzz: SKIP: no clang (apt-get install clang-14 libclang-rt-14-dev)"
	exit 77
fi

out=${VS_FUZZ_OUT:-}
if [ -z "$out" ]; then
	out=$(mktemp -d /tmp/vs-fuzz-XXXXXX)
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)

# Is the fuzzer runtime there? (libclang-rt-14-dev)
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)\n{ (void)d; (void)n; return 0; }\n' \
	> "$out/probe.c"
if ! "$cc" -fsanitize=fuzzer,address,undefined -o "$out/probe" "$out/probe.c" \
	>"$out/probe.log" 2>&1; then
	echo "fuzz: SKIP: $cc cannot link -fsanitize=fuzzer (apt-get install libclang-rt-14-dev):"
	tail -3 "$out/probe.log"
	exit 77
fi

cfg=${VS_CONFIG_DIR:-}
if [ -z "$cfg" ] || [ ! -f "$cfg/vs_config.h" ]; then
	cfg="$out/config"
	mkdir -p "$cfg"
	cat > "$cfg/vs_config.h" <<-EOF
	#pragma once
	#define VS_BURST 32
	#define VS_MAX_GUESTS 1024
	#define VS_VERSION "fuzz"
	EOF
fi

cflags="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
	-fno-sanitize-recover=undefined -std=gnu11 -D_GNU_SOURCE -DALLOW_EXPERIMENTAL_API
	-Wall -Wextra -Wno-unused-parameter -I$here -I$cfg -I$top/lib/vsock -I$top/lib/virtq"

have_dpdk() {
	pkg-config --exists libdpdk 2>/dev/null
}

# build <harness>: compile it into $out/<harness>.
build() {
	h=$1
	log="$out/$h.build.log"
	case $h in
	fuzz_virtq)
		# shellcheck disable=SC2086
		"$cc" $cflags -o "$out/$h" "$here/$h.c" "$top/lib/virtq/virtq.c" >"$log" 2>&1
		;;
	fuzz_vsock_hdr)
		# shellcheck disable=SC2086
		"$cc" $cflags -o "$out/$h" "$here/$h.c" >"$log" 2>&1
		;;
	fuzz_hp_line)
		# hp_line.c needs DPDK's headers only: its callees are stubs in the harness.
		have_dpdk || { echo "no libdpdk pkg-config" >"$log"; return 1; }
		# shellcheck disable=SC2086
		"$cc" $cflags $(pkg-config --cflags libdpdk) -I"$top/drivers/host_port" \
			-I"$top/lib/switch" -I"$top/lib/flow" -I"$top/lib/capture" \
			-o "$out/$h" "$here/$h.c" "$top/drivers/host_port/hp_line.c" >"$log" 2>&1
		;;
	fuzz_switch)
		# The real lib/switch, lib/flow, lib/capture and lib/virtq over a real EAL.
		have_dpdk || { echo "no libdpdk pkg-config" >"$log"; return 1; }
		# shellcheck disable=SC2086
		"$cc" $cflags $(pkg-config --cflags libdpdk libpcap) -I"$top/lib/switch" \
			-I"$top/lib/flow" -I"$top/lib/capture" \
			-o "$out/$h" "$here/$h.c" $(ls "$top"/lib/switch/*.c | grep -v '/vs_switch\.c$') \
			"$top/lib/flow/vs_flow.c" \
			"$top/lib/capture/vs_capture.c" "$top/lib/virtq/virtq.c" \
			$(pkg-config --libs libdpdk libpcap) -lnuma -lpthread >"$log" 2>&1
		;;
	*)
		echo "unknown harness $h" >"$log"
		return 1
		;;
	esac
}

pass=0
fail=0
for h in $harnesses; do
	if ! build "$h"; then
		echo "$h: FAIL: does not build"
		sed 's/^/    /' "$out/$h.build.log" | tail -20
		fail=$((fail + 1))
		continue
	fi
	mkdir -p "$out/corpus/$h"
	seeds="$here/corpus/$h"
	[ -d "$seeds" ] || seeds=
	log="$out/$h.log"
	# Leaks are checked too; the EAL's own allocations are not ours.
	lsan=detect_leaks=1
	[ "$h" = fuzz_switch ] && lsan=detect_leaks=0
	# shellcheck disable=SC2086
	ASAN_OPTIONS="$lsan:abort_on_error=0:allocator_may_return_null=1" \
	UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
		"$out/$h" -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 \
		-print_final_stats=1 -artifact_prefix="$out/$h-" ${VS_FUZZ_FLAGS:-} \
		"$out/corpus/$h" $seeds >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
	if [ "$rc" -eq 0 ] && [ -n "$runs" ]; then
		echo "$h: ok: ${runs} executions in ${secs} s, ${cov:-cov: ?} edges," \
			"corpus $(ls "$out/corpus/$h" | wc -l) inputs"
		pass=$((pass + 1))
	else
		echo "$h: FAIL (exit $rc) after ${runs:-?} executions; log $log"
		grep -E 'ERROR|INVARIANT|SUMMARY|runtime error|Test unit written' "$log" | head -10 |
			sed 's/^/    /'
		ls "$out/$h"-crash-* "$out/$h"-leak-* "$out/$h"-timeout-* "$out/$h"-oom-* \
			2>/dev/null | sed 's/^/    input: /'
		echo "    to reproduce: $out/$h <input>; add the input to test/fuzz/corpus/$h/"
		fail=$((fail + 1))
	fi
done
echo "output in $out"
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
