#!/bin/bash
# SPDX-License-Identifier: MIT
# vmms restarts while VMs run: the workers keep running and the new vmms
# re-attaches to them (runtime records + the workers' control listeners),
# including a paused VM; a worker that died while vmms was away is reported
# Crashed and its restart policy applied; a corrupt runtime record is kept
# aside and reported; a Crashed VM stays Crashed with its ExitReason; a
# second vmms on the same runtime directory refuses; a worker that takes
# longer than a request may wait to become ready (as vmwp restoring a large
# saved state) still gets its re-attach listener, says so, and re-attaches.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
t_pick_worker
t_start_vmms

note "three running VMs, one paused, one off"
for v in a b c; do t_create "$v"; expect_rc 0 vmctl start "$v" --timeout=120; done
t_create off1
t_create gone "" ',"restart_policy":"on-failure"'
expect_rc 0 vmctl start gone --timeout=120
expect_rc 0 vmctl pause b
note "a VM that crashed (kill -9 of its worker, restart policy never)"
t_crash_by_kill crashed
PA=$(vm_prop a WorkerPid) PB=$(vm_prop b WorkerPid) PC=$(vm_prop c WorkerPid) PG=$(vm_prop gone WorkerPid)
SINCE_A=$(vm_prop a RunningSince)

note "a second vmms on the same runtime directory refuses to start"
"$VMMS" --bus-address="$ADDR" --state-dir="$T/state" --runtime-dir="$T/run" --log-dir="$T/log" \
  --worker="$WORKER" --no-polkit >"$T/second.log" 2>&1 && fail "a second vmms started"
grep -q "another vmms uses $T/run" "$T/second.log" || fail "second vmms: $(cat "$T/second.log")"

note "stop vmms (SIGTERM): the VMs keep running"
t_stop_vmms
for p in $PA $PB $PC $PG; do alive "$p" || fail "worker $p died with vmms"; done
grep -q "exiting; running VMs keep running" "$T/vmms.log" || fail "no exit message"

note "while vmms is away: one worker dies, one record gets corrupted"
kill -9 "$PG"
ID_C=$(sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' "$T/state"/*.json | while read -r id; do
  grep -q '"name": *"c"' "$T/state/$id.json" && echo "$id"; done)
[ -n "$ID_C" ] || fail "cannot find c's id"
cp "$T/run/vms/$ID_C/worker.json" "$T/c-record.json"
echo "{ not json" >"$T/run/vms/$ID_C/worker.json"

note "start vmms again: re-attached"
t_start_vmms
[ "$(vm_prop a State)" = Running ] || fail "a: $(vm_prop a State)"
[ "$(vm_prop a WorkerPid)" = "$PA" ] || fail "a has a new worker"
[ "$(vm_prop a RunningSince)" = "$SINCE_A" ] || fail "a's RunningSince changed"
for _ in $(seq 50); do [ "$(vm_prop b State)" = Paused ] && break; sleep 0.1; done
[ "$(vm_prop b State)" = Paused ] || fail "b: $(vm_prop b State) (paused before the restart)"
[ "$(vm_prop off1 State)" = Off ] || fail "off1"
grep -q "vm a: re-attached to worker $PA" "$T/vmms.log" || fail "no re-attach logged"

note "the crashed VM is still Crashed, with its ExitReason"
[ "$(vm_prop crashed State)" = Crashed ] || fail "crashed after the restart: $(vm_prop crashed State)"
[ "$(vm_prop crashed ExitReason)" = "worker killed by signal KILL" ] || fail "crashed's reason: $(vm_prop crashed ExitReason)"
[ "$(vm_prop crashed ExitStatus)" = "-1" ] || fail "crashed's status: $(vm_prop crashed ExitStatus)"
expect_rc 0 vmctl start crashed --timeout=120
expect_rc 0 vmctl kill crashed
ID_X=$(vm_prop crashed Id)
[ -e "$T/state/$ID_X.state" ] && fail "the saved Crashed state outlived the VM's next run"

note "the dead worker: Crashed, restart policy applied"
wait_state gone Running 120
[ "$(vm_prop gone ExitReason)" = "the worker ended while vmms was not running" ] || fail "gone: $(vm_prop gone ExitReason)"
[ "$(vm_prop gone Restarts)" = 1 ] || fail "gone restarts"

note "the corrupt record: kept aside and reported"
[ -f "$T/run/vms/$ID_C/worker.json.corrupt" ] || fail "corrupt record not kept"
bus get-property org.vmstack.VMMS1 /org/vmstack/VMMS1 org.vmstack.VMMS1.Manager Problems | grep -q "corrupt runtime record" ||
  fail "Problems: $(bus get-property org.vmstack.VMMS1 /org/vmstack/VMMS1 org.vmstack.VMMS1.Manager Problems)"
alive "$PC" || fail "c's worker was killed"
kill -9 "$PC"

note "re-attached VMs are fully managed"
expect_rc 0 vmctl resume b
expect_rc 0 vmctl pause a
expect_rc 0 vmctl resume a
if [ "$WORKER_KIND" = fake ]; then
  out=$(echo "after restart" | vmctl console a --timeout=10)
  echo "$out" | grep -q "echo: after restart" || fail "console after re-attach: $out"
fi
expect_rc 0 vmctl stop a --timeout=60
[ "$(vm_prop a State)" = Off ] || fail "a not Off"
[ "$(vm_prop a ExitStatus)" = "0" ] || [ "$(vm_prop a ExitStatus)" = "14" ] || fail "a's exit status unknown: $(vm_prop a ExitStatus)"
alive "$PA" && fail "a's worker still runs"
expect_rc 0 vmctl kill b
expect_rc 0 vmctl kill gone

if [ "$WORKER_KIND" = fake ]; then
  note "a worker without re-attach support ends with vmms; reported Crashed"
  t_create old "fake.no_reattach"
  expect_rc 0 vmctl start old
  PO=$(vm_prop old WorkerPid)
  t_stop_vmms
  for _ in $(seq 50); do alive "$PO" || break; sleep 0.1; done
  alive "$PO" && fail "the old worker survived the lost control connection"
  t_start_vmms
  [ "$(vm_prop old State)" = Crashed ] || fail "old: $(vm_prop old State)"

  # vmwp reads no request until it has built its VM, which for a restored
  # saved state or an incoming migration can take longer than vmms's 10 s
  # for a request: its re-attach listener's request waits for it (vmms
  # said "will not survive a vmms restart" and recorded so while the
  # worker took the listener late and survived: 2026-12-02).
  note "a worker that builds its VM for longer than a request may wait re-attaches"
  t_create slow "fake.build_ms=11000"
  expect_rc 0 vmctl start slow --timeout=60
  PS=$(vm_prop slow WorkerPid) ID_S=$(vm_prop slow Id)
  wait_for 5 "slow's runtime record to say reattach: true" grep -q '"reattach": *true' "$T/run/vms/$ID_S/worker.json"
  grep -q "vm slow: .*cannot re-attach" "$T/vmms.log" && fail "$(grep "vm slow: " "$T/vmms.log")"
  t_stop_vmms
  alive "$PS" || fail "slow's worker ended with vmms"
  t_start_vmms
  [ "$(vm_prop slow State)" = Running ] || fail "slow after the restart: $(vm_prop slow State)"
  [ "$(vm_prop slow WorkerPid)" = "$PS" ] || fail "slow has a new worker"
  expect_rc 0 vmctl kill slow
fi
echo "PASS (worker: $WORKER_KIND)"
