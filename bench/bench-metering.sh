#!/bin/bash
# SPDX-License-Identifier: MIT
# Metering's cost in vmms (issue #58, docs/metering.md "Cost"): N VMs on
# the fake worker (it answers "stats" with the counters of 2 vCPUs, 2 disks
# and a NIC, tests/integration/vmms-fake-stats.c), and vmms's own CPU time
# (/proc/PID/stat, user + system) over SECONDS, in one run: first with
# metering's sampling off in effect (--metering-interval-ms=3600000: no
# round falls in the window), then the same VMs (re-attached: the workers
# outlive a vmms restart) sampled at the default 10 s and at 1 s with the
# Prometheus textfile written each round. Prints RESULT rows for
# bench/run.sh: vmms's share of one core, metering against the baseline.
# The workers' own cost is the worker's (one "stats" reply per round).
# Usage: bench/bench-metering.sh [build-dir] [N] [SECONDS]
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
VM_BUILD_DIR=$(realpath "${1:-build/release}")
N=${2:-50}
SECS=${3:-30}
export VM_BUILD_DIR VM_SOURCE_DIR=$PWD
[ -x "$VM_BUILD_DIR/vmms/vmms" ] || { echo "bench-metering: $VM_BUILD_DIR is not built" >&2; exit 1; }
source tests/integration/vmms-lib.sh
t_setup
WORKER=$FAKE_WORKER WORKER_KIND=fake
HZ=$(getconf CLK_TCK)

cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$VMMS_PID/stat"; }
# measure LABEL VMMS-OPTIONS...: vmms's share of a core (percent) over SECS
measure() {
  t_start_vmms "$@"
  sleep 2 # re-attach settles
  local a b
  a=$(cpu_ticks)
  sleep "$SECS"
  b=$(cpu_ticks)
  t_stop_vmms
  awk -v t=$((b - a)) -v hz="$HZ" -v s="$SECS" 'BEGIN { printf "%.3f", 100 * t / hz / s }'
}

t_start_vmms
truncate -s 1M "$T/images/a.img" "$T/images/b.img"
for i in $(seq "$N"); do
  vm_json "b$i" "" ",\"disks\":[{\"path\":\"$T/images/a.img\",\"read_only\":true},{\"path\":\"$T/images/b.img\",\"read_only\":true,\"lun\":1}]" |
    sed 's/"vcpus":1/"vcpus":2/' >"$T/b$i.json"
  vmctl create "$T/b$i.json" >/dev/null || fail "create b$i"
  vmctl start "b$i" >/dev/null || fail "start b$i"
done
t_stop_vmms

base=$(measure --metering-interval-ms=3600000)
def=$(measure)
fast=$(measure --metering-interval-ms=1000 --metrics-file="$T/vmstack.prom")
[ -s "$T/vmstack.prom" ] || fail "no metrics file written"
samples=$(grep -c '^vmstack_disk_read_bytes_total{' "$T/vmstack.prom")
echo "bench-metering: $N VMs, ${SECS}s each: vmms ${base}% of a core without sampling, ${def}% at 10 s, ${fast}% at 1 s with the textfile ($samples disk rows)" >&2
printf 'RESULT\tmetering: vmms CPU, %s VMs sampled every 10 s (vs no sampling)\t%s\t%s\t%% of a core\t< 1 %%\n' "$N" "$def" "$base"
printf 'RESULT\tmetering: vmms CPU, %s VMs every 1 s + textfile (vs no sampling)\t%s\t%s\t%% of a core\treport\n' "$N" "$fast" "$base"
