#!/bin/bash
# SPDX-License-Identifier: MIT
# `vmctl stats` over every VM (issue #59, docs/metering.md "Cost"): N
# running VMs on the fake worker (it answers "stats" with the counters of
# 2 vCPUs, 2 disks and a NIC, tests/integration/vmms-fake-stats.c), and
# vmctl's D-Bus calls to vmms (counted by dbus-monitor) and wall time
# (median of REPS) for `vmctl stats` with no VM named (one GetAllMetrics)
# beside the same run's baseline, the VMs named (one GetVM and one
# GetMetrics each, which asks each worker: what `vmctl stats` did before
# for every VM, with one ListVMs instead of the GetVMs). VMCTL_OLD=PATH
# measures that binary's `vmctl stats` too (an older vmctl, for a
# before/after). Prints RESULT rows for bench/run.sh.
# Usage: bench/bench-vmctl-stats.sh [build-dir] [N] [REPS]
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
VM_BUILD_DIR=$(realpath "${1:-build/release}")
N=${2:-50}
REPS=${3:-5}
export VM_BUILD_DIR VM_SOURCE_DIR=$PWD
[ -x "$VM_BUILD_DIR/vmms/vmms" ] || { echo "bench-vmctl-stats: $VM_BUILD_DIR is not built" >&2; exit 1; }
command -v dbus-monitor >/dev/null || { echo "bench-vmctl-stats: dbus-monitor missing (scripts/deps.sh)" >&2; exit 1; }
source tests/integration/vmms-lib.sh
t_setup
WORKER=$FAKE_WORKER WORKER_KIND=fake
t_start_vmms
NAMES=()
for i in $(seq "$N"); do
  NAMES+=("s$i")
  vm_json "s$i" >"$T/s$i.json"
  vmctl create "$T/s$i.json" >/dev/null || fail "create s$i"
  vmctl start "s$i" >/dev/null || fail "start s$i"
done
wait_state "s$N" Running

# calls BINARY ARGS...: the method calls to vmms one run makes
calls() {
  dbus-monitor --address "$ADDR" "type='method_call',destination='org.vmstack.VMMS1'" >"$T/mon" 2>/dev/null &
  local mon=$! n
  sleep 0.5 # the monitor is on the bus
  "$1" --address="$ADDR" stats "${@:2}" >/dev/null || fail "$* failed"
  sleep 0.5
  kill "$mon"; wait "$mon" 2>/dev/null
  n=$(grep -c '^method call' "$T/mon")
  echo "$n"
}
# ms BINARY ARGS...: the median wall time of REPS runs, in ms
ms() {
  local i a b t=()
  for i in $(seq "$REPS"); do
    a=$(now_us)
    "$1" --address="$ADDR" stats "${@:2}" >/dev/null || fail "$* failed"
    b=$(now_us)
    t+=($(((b - a) / 1000)))
  done
  printf '%s\n' "${t[@]}" | sort -n | sed -n "$(((REPS + 1) / 2))p"
}
# the same output either way (the figures differ: fresh against sampled)
diff <("$VMCTL_BIN" --address="$ADDR" --json stats | jq -r '.[].name') \
  <("$VMCTL_BIN" --address="$ADDR" --json stats "${NAMES[@]}" | jq -r '.[].name') >/dev/null ||
  fail "vmctl stats and vmctl stats NAMES... list other VMs"

all_calls=$(calls "$VMCTL_BIN") all_ms=$(ms "$VMCTL_BIN")
named_calls=$(calls "$VMCTL_BIN" "${NAMES[@]}") named_ms=$(ms "$VMCTL_BIN" "${NAMES[@]}")
echo "bench-vmctl-stats: $N VMs: vmctl stats $all_calls calls, $all_ms ms; named: $named_calls calls, $named_ms ms" >&2
printf 'RESULT\tvmctl stats, %s VMs: D-Bus calls (vs each VM named)\t%s\t%s\tcalls\treport\n' "$N" "$all_calls" "$named_calls"
printf 'RESULT\tvmctl stats, %s VMs: wall time (vs each VM named)\t%s\t%s\tms\treport\n' "$N" "$all_ms" "$named_ms"
if [ -n "${VMCTL_OLD:-}" ]; then
  old_calls=$(calls "$VMCTL_OLD") old_ms=$(ms "$VMCTL_OLD")
  echo "bench-vmctl-stats: $VMCTL_OLD stats: $old_calls calls, $old_ms ms" >&2
  printf 'RESULT\tvmctl stats, %s VMs: D-Bus calls (vs %s)\t%s\t%s\tcalls\treport\n' "$N" "$VMCTL_OLD" "$all_calls" "$old_calls"
  printf 'RESULT\tvmctl stats, %s VMs: wall time (vs %s)\t%s\t%s\tms\treport\n' "$N" "$VMCTL_OLD" "$all_ms" "$old_ms"
fi
