#!/bin/bash
# SPDX-License-Identifier: MIT
# The processor limit's accuracy (issue #58, docs/vmms.md "Processor
# limit"): at 10, 25, 50 and 90 % the share of each vCPU's time a guest
# spinning on both vCPUs gets, from the host's accounting
# (/proc/PID/task/TID/schedstat of the vCPU threads, 3 s windows, windows
# in which the host kept them waiting for a CPU taken again), through
# tests/component/test-vmwp-cpu-limit.c's accuracy case (/dev/kvm), ROUNDS
# runs, medians. Prints RESULT rows for bench/run.sh:
#   RESULT <metric> <ours> <baseline> <unit> <target>
# Usage: bench/bench-cpu-limit.sh [build-dir] [rounds]
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
build=$(realpath "${1:-build/release}")
rounds=${2:-3}
t=$build/tests/test-vmwp-cpu-limit
[ -x "$t" ] || { echo "bench-cpu-limit: $t is not built" >&2; exit 1; }
[ -w /dev/kvm ] || { echo "bench-cpu-limit: needs /dev/kvm" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
median() { grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : -1 }'; }
for ((k = 0; k < rounds; k++)); do
        VM_BUILD_DIR=$build "$t" accuracy_at_10_25_50_90 >"$tmp/r.$k" 2>&1 ||
                echo "bench-cpu-limit: round $k: $(grep -m1 -E 'assert|SKIP' "$tmp/r.$k")" >&2
done
for l in 10 25 50 90; do
        got=$(cat "$tmp"/r.* | sed -n "s/^  limit *$l %: \([0-9.]*\) %.*/\1/p" | median)
        printf 'RESULT\tcpu limit %s %%: each vCPU'"'"'s share (host accounting)\t%s\t%s\t%%\t%s +- 2\n' "$l" "$got" "$l" "$l"
done
