#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vsock-switch authors
#
# The whole test suite, from a fresh Debian 12 machine: dependencies, hugepages,
# a normal build and an ASan+UBSan build, every suite in both.
#   vs-test.sh              everything
#   VS_TEST_SUITES="unit integration" vs-test.sh    some suites only
#   VS_TEST_NO_ASAN=1 vs-test.sh                     skip the sanitizer build
# The fuzz suite builds its own clang+libFuzzer+ASan binaries: it runs once.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
"$top/usertools/vs-deps.sh" --test

# Hugepages for the hugepage run of the switch (tests use --no-huge otherwise).
if [ "$(id -u)" -eq 0 ]; then
	have=$(cat /proc/sys/vm/nr_hugepages)
	[ "$have" -ge 256 ] || echo 256 > /proc/sys/vm/nr_hugepages || true
	grep -qs hugetlbfs /proc/mounts || { mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages; } || true
fi

suites=${VS_TEST_SUITES:-"unit integration fuzz vm"}
pass=0
fail=0
skip=0
status=0
# count <builddir>: add the results of the last meson test run to the totals.
count() {
	[ -f "$1/meson-logs/testlog.json" ] || return 0
	set -- $(python3 -c '
import json, sys
r = [json.loads(l)["result"] for l in open(sys.argv[1]) if l.strip()]
print(sum(x in ("OK", "EXPECTEDFAIL") for x in r), sum(x == "SKIP" for x in r),
      sum(x not in ("OK", "EXPECTEDFAIL", "SKIP") for x in r))' "$1/meson-logs/testlog.json")
	pass=$((pass + $1)); skip=$((skip + $2)); fail=$((fail + $3))
}
run() { # name builddir [suite to leave out]
	for s in $suites; do
		[ "$s" = "${3:-}" ] && continue
		echo "=== $1: suite $s"
		rm -f "$2/meson-logs/testlog.json"
		meson test -C "$2" --suite "$s" --print-errorlogs --num-processes 1 || status=1
		count "$2"
	done
}

"$top/usertools/vs-build.sh" build
run normal build
if [ -z "${VS_TEST_NO_ASAN:-}" ]; then
	"$top/usertools/vs-build.sh" build-asan -Db_sanitize=address,undefined -Db_lundef=false \
		-Dbuildtype=debug
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		run asan build-asan fuzz
fi
echo "tests: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ "$status" -eq 0 ]
