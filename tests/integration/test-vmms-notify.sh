#!/bin/bash
# SPDX-License-Identifier: MIT
# Readiness: with NOTIFY_SOCKET set (as systemd's Type=notify does) vmms
# sends READY=1 and a STATUS= line once it owns its bus name; without it,
# vmms runs the same (every other test). vmms exits when its bus goes away.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
WORKER=$FAKE_WORKER WORKER_KIND=fake
H=$VM_BUILD_DIR/vmms/vmms-test-helper

printf '{"id":"66666666-6666-4666-8666-666666666666","name":"pre","boot":{"kernel":"%s"}}' "$(t_kernel)" \
  >"$T/state/66666666-6666-4666-8666-666666666666.json"
"$H" notify "$T/notify.sock" 20 >"$T/notify.log" 2>&1 &
L=$!
for _ in $(seq 50); do [ -S "$T/notify.sock" ] && break; sleep 0.1; done
NOTIFY_SOCKET="$T/notify.sock" t_start_vmms
wait $L || fail "no READY=1: $(cat "$T/notify.log")"
grep -q "READY=1" "$T/notify.log" && grep -q "STATUS=1 VMs, 0 running" "$T/notify.log" || fail "notify: $(cat "$T/notify.log")"
busctl --address="$ADDR" status org.vmstack.VMMS1 >/dev/null || fail "not on the bus when ready"

note "vmms exits when the bus goes away"
kill "$DBUS_PID"; wait "$DBUS_PID" 2>/dev/null; DBUS_PID=
for _ in $(seq 50); do kill -0 "$VMMS_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$VMMS_PID" 2>/dev/null && fail "vmms still runs without its bus"
VMMS_PID=
echo "PASS"
