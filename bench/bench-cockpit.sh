#!/bin/bash
# SPDX-License-Identifier: MIT
# The Cockpit page with many VMs (issue #59, docs/cockpit.md "Speed"): a
# vmms with the fake worker on a private bus, cockpit-ws on loopback with
# the built page (as tests/integration/test-cockpit.sh), headless Chromium
# (bench/cockpit-bench.py). Measured twice in one run, with 1 VM defined
# (the baseline) and with N: the time from opening the page to the list
# showing every VM (first render), and the time from a busctl Update of
# one VM's vCPUs (vmms's PropertiesChanged) to its row showing the new
# value (median of 10; the busctl call's own time beside it). With N, the
# other N-1 VMs run (the fake worker: metering's figures, uptimes). Then
# the page's steady CPU, left open on the list for STEADY_S seconds
# (default 30): the browser's processes, cockpit-ws and its bridge, and
# vmms, against vmms over the same time with no page open.
# Usage: bench/bench-cockpit.sh [build-dir] [N]
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
VM_BUILD_DIR=$(realpath "${1:-build/release}")
N=${2:-100}
STEADY_S=${STEADY_S:-30}
export VM_BUILD_DIR VM_SOURCE_DIR=$PWD STEADY_S
WS=/usr/lib/cockpit/cockpit-ws
PAGE=$VM_BUILD_DIR/cockpit/dist
[ -x "$VM_BUILD_DIR/vmms/vmms" ] || { echo "bench-cockpit: $VM_BUILD_DIR is not built" >&2; exit 1; }
[ -f "$PAGE/index.js" ] || { echo "bench-cockpit: the page is not built ($PAGE)" >&2; exit 1; }
[ -x "$WS" ] || { echo "bench-cockpit: cockpit-ws is not installed (scripts/deps.sh)" >&2; exit 1; }
BRIDGE=$(command -v cockpit-bridge) || { echo "bench-cockpit: cockpit-bridge is not installed" >&2; exit 1; }
CHROMIUM=$(command -v chromium || command -v chromium-browser) || { echo "bench-cockpit: chromium is not installed" >&2; exit 1; }
source tests/integration/vmms-lib.sh
t_setup
WORKER=$FAKE_WORKER WORKER_KIND=fake
t_start_vmms
mkdir -p "$T/share/cockpit"
ln -s "$PAGE" "$T/share/cockpit/vmstack"
# cockpit-ws for one measurement: its local session ends with the browser
# (a later page would get its login form), so each measurement has its own.
start_ws() {
  read -r PORT <<<"$(t_free_ports 1)"
  LANG=C.UTF-8 LC_ALL=C.UTF-8 DBUS_SYSTEM_BUS_ADDRESS=$ADDR XDG_DATA_HOME=$T/share XDG_CONFIG_HOME=$T/config \
    "$WS" --no-tls --address=127.0.0.1 --port="$PORT" --local-session="$BRIDGE" >>"$T/ws.log" 2>&1 &
  WSPID=$!
  URL=http://127.0.0.1:$PORT/cockpit/@localhost/vmstack/index.html
  wait_for 20 "cockpit-ws" curl -sf -o /dev/null "http://127.0.0.1:$PORT/cockpit/@localhost/vmstack/manifest.json"
}

# measure COUNT: the figures with COUNT VMs defined (vm0001 changes)
measure() {
  start_ws
  ADDR=$ADDR TMPDIR=$T VMMS_PID=$VMMS_PID WS_PID=$WSPID /usr/bin/python3 bench/cockpit-bench.py "$CHROMIUM" "$URL" "$1" vm0001 ||
    { echo "bench-cockpit: the page with $1 VMs failed" >&2; kill "$WSPID"; return 1; }
  kill "$WSPID"
  wait "$WSPID" 2>/dev/null || true
}
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
# vmms's share of one core over STEADY_S with no page open
vmms_alone() {
  local a b
  a=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$VMMS_PID/stat")
  sleep "$STEADY_S"
  b=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$VMMS_PID/stat")
  awk -v t=$((b - a)) -v hz="$(getconf CLK_TCK)" -v s="$STEADY_S" 'BEGIN { printf "%.2f", 100 * t / hz / s }'
}

t_create vm0001
one=$(measure 1) || exit 1
for i in $(seq 2 "$N"); do
  vm_json "$(printf 'vm%04d' "$i")" >"$T/vm.json"
  vmctl create "$T/vm.json" >/dev/null || fail "create vm$i"
  vmctl start "$(printf 'vm%04d' "$i")" >/dev/null || fail "start vm$i"
done
sleep 2 # the starts settle
alone=$(vmms_alone)
many=$(measure "$N") || exit 1
echo "bench-cockpit: 1 VM: $one; $N VMs: $many" >&2
printf 'RESULT\tcockpit: first render, %s VMs (vs 1 VM)\t%s\t%s\tms\treport\n' "$N" "$(field first_render_ms "$many")" "$(field first_render_ms "$one")"
printf 'RESULT\tcockpit: PropertiesChanged to screen, %s VMs (vs 1 VM)\t%s\t%s\tms\treport\n' "$N" "$(field change_ms "$many")" "$(field change_ms "$one")"
printf 'RESULT\tcockpit: the busctl Update call alone, %s VMs (vs 1 VM)\t%s\t%s\tms\treport\n' "$N" "$(field busctl_ms "$many")" "$(field busctl_ms "$one")"
printf 'RESULT\tcockpit: the open page steady, browser CPU, %s VMs (vs 1 VM)\t%s\t%s\t%% of a core\treport\n' "$N" "$(field browser_pct "$many")" "$(field browser_pct "$one")"
printf 'RESULT\tcockpit: the open page steady, cockpit-ws + bridge CPU, %s VMs (vs 1 VM)\t%s\t%s\t%% of a core\treport\n' "$N" "$(field cockpit_pct "$many")" "$(field cockpit_pct "$one")"
printf 'RESULT\tcockpit: vmms CPU with the page open, %s VMs (vs no page)\t%s\t%s\t%% of a core\treport\n' "$N" "$(field vmms_pct "$many")" "$alone"
