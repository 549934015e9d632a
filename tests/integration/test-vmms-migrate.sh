#!/bin/bash
# SPDX-License-Identifier: MIT
# Live migration between two vmms (docs/migration.md "vmms"): host A (the
# usual test vmms) and host B (a second dbus-daemon and vmms with their own
# state, runtime and log directories), on loopback in the insecure mode:
#   vmctl migrate A->B: the VM Running on B (stored there), gone from A;
#     and back B->A;
#   refusals leave the source running: nobody listening, a destination
#     that already has a VM of that name, a destination without the kernel
#     in its storage pools.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
VMMS_TEST_WORKER=${VMMS_TEST_WORKER:-real}
t_pick_worker
[ "$WORKER_KIND" = real ] || { echo "SKIP: needs the real worker"; exit 77; }
PA=$((20000 + RANDOM % 20000)); PB=$((PA + 1))
t_start_vmms --migration-insecure --migration-listen=127.0.0.1:$PA

# Host B.
B=$T/b; mkdir -p "$B/state" "$B/run" "$B/log"
sed "s|$T/bus|$B/bus|" "$T/bus.conf" >"$B/bus.conf"
dbus-daemon --config-file="$B/bus.conf" --nofork --nopidfile >"$B/dbus.log" 2>&1 &
BDBUS=$!
ADDRB="unix:path=$B/bus"
for _ in $(seq 100); do [ -S "$B/bus" ] && break; sleep 0.05; done
start_b() {
  "$VMMS" --bus-address="$ADDRB" --state-dir="$B/state" --runtime-dir="$B/run" --log-dir="$B/log" \
    --worker="$WORKER" --no-polkit --log-max-size=0 --storage-pool="$T" --storage-pool="$VM_BUILD_DIR" \
    --migration-insecure --migration-listen=127.0.0.1:$PB "$@" >>"$B/vmms.log" 2>&1 &
  BVMMS=$!
  for _ in $(seq 200); do
    busctl --address="$ADDRB" call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
      NameHasOwner s org.vmstack.VMMS1 2>/dev/null | grep -q "^b true" && return 0
    sleep 0.05
  done
  fail "vmms B did not start: $(tail "$B/vmms.log")"
}
stop_b() { kill "$BVMMS" 2>/dev/null; wait "$BVMMS" 2>/dev/null; }
b_workers() { # end B's workers by their runtime records
  for rec in "$B"/run/vms/*/worker.json; do
    [ -f "$rec" ] && kill -9 "$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$rec")" 2>/dev/null
  done
}
t_on_exit 'b_workers; stop_b; kill $BDBUS'
start_b
vmctlb() { "$VMCTL_BIN" --address="$ADDRB" "$@"; }
vm_prop_b() { ADDR=$ADDRB vm_prop "$@"; }

t_create mig
expect_rc 0 vmctl start mig --timeout=60
wait_state mig Running 60
id=$(vm_prop mig Id)

note "A -> B"
t0=$(date +%s%N)
expect_rc 0 vmctl migrate mig 127.0.0.1:$PB
echo "migration A->B through vmms: $(( ($(date +%s%N) - t0) / 1000000 )) ms ($LAST_OUT)"
echo "$LAST_OUT" | grep -q "mig migrated to 127.0.0.1:$PB" || fail "vmctl migrate said: $LAST_OUT"
[ "$(vm_prop_b mig State)" = Running ] || fail "State on B: $(vm_prop_b mig State)"
[ "$(vm_prop_b mig Id)" = "$id" ] || fail "the id changed on B"
[ -f "$B/state/$id.json" ] || fail "B did not store the configuration"
wait_for 30 "the VM gone from A" sh -c "! '$VMCTL_BIN' --address='$ADDR' show mig >/dev/null 2>&1"
[ ! -e "$T/state/$id.json" ] || fail "A kept the configuration"

note "B -> A"
ADDR=$ADDRB expect_rc 0 vmctl migrate mig 127.0.0.1:$PA
[ "$(vm_prop mig State)" = Running ] || fail "State on A after the way back: $(vm_prop mig State)"
wait_for 30 "the VM gone from B" sh -c "! '$VMCTL_BIN' --address='$ADDRB' show mig >/dev/null 2>&1"

note "refused: nobody listens there; the VM keeps running"
expect_rc 1 vmctl migrate mig 127.0.0.1:$((PB + 1))
echo "$LAST_OUT" | grep -q "cannot connect" || fail "no listener: $LAST_OUT"
[ "$(vm_prop mig State)" = Running ] || fail "State after a refused migration: $(vm_prop mig State)"

note "refused: the destination has a VM of that name"
vm_json mig >"$T/other.json"
expect_rc 0 vmctlb create "$T/other.json"
expect_rc 1 vmctl migrate mig 127.0.0.1:$PB
echo "$LAST_OUT" | grep -q "the destination refused: a VM named 'mig' exists here" || fail "name clash: $LAST_OUT"
[ "$(vm_prop mig State)" = Running ] || fail "State after the refusal: $(vm_prop mig State)"
expect_rc 0 vmctlb delete mig

note "refused: the kernel is outside the destination's storage pools"
stop_b
n=$(grep -c "accepting migrations" "$B/vmms.log")
"$VMMS" --bus-address="$ADDRB" --state-dir="$B/state" --runtime-dir="$B/run" --log-dir="$B/log" \
  --worker="$WORKER" --no-polkit --storage-pool="$B/log" --migration-insecure \
  --migration-listen=127.0.0.1:$PB >>"$B/vmms.log" 2>&1 &
BVMMS=$!
wait_for 20 "vmms B listening" sh -c "[ \$(grep -c 'accepting migrations' '$B/vmms.log') -gt $n ]"
expect_rc 1 vmctl migrate mig 127.0.0.1:$PB
echo "$LAST_OUT" | grep -q "the destination refused: .*boot.kernel" || fail "pools: $LAST_OUT"
[ "$(vm_prop mig State)" = Running ] || fail "State after the pool refusal: $(vm_prop mig State)"
expect_rc 0 vmctl stop mig --timeout=30
echo "PASS"
