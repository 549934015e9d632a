#!/bin/bash
# SPDX-License-Identifier: MIT
# The commit point of a live migration through two vmms (docs/migration.md
# "One running copy"), with the fake worker (no KVM needed: it speaks the
# stream and the commit exactly as vmwp does, without RAM):
#   a plain move A->B->A;
#   the destination's RUNNING lost after it took the COMMIT
#     (fake.lose_running): the source stays paused and Migrating, asks B,
#     learns B has the VM, stops its copy: the VM runs on B only;
#   the source's COMMIT lost on the way (fake.lose_commit): B never runs
#     the VM; A asks, learns B gave it up, resumes: it runs on A only;
#   CancelMigration is refused while the commit is unresolved.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
VMMS_TEST_WORKER=fake
t_pick_worker
read -r PA PB < <(t_free_ports 2)
[ -n "$PB" ] || fail "no free ports"
t_start_vmms --migration-insecure --migration-listen=127.0.0.1:$PA
t_host_b_start "$PB" --migration-insecure

gone_from() { ! "$VMCTL_BIN" --address="$1" show "$2" >/dev/null 2>&1; }

note "a plain move A -> B -> A"
t_create plain
expect_rc 0 vmctl start plain --timeout=30
wait_state plain Running
expect_rc 0 vmctl migrate plain 127.0.0.1:$PB
ADDR=$ADDRB wait_state plain Running
wait_for 10 "plain gone from A" gone_from "$ADDR" plain
ADDR=$ADDRB expect_rc 0 vmctl migrate plain 127.0.0.1:$PA
wait_state plain Running
wait_for 10 "plain gone from B" gone_from "$ADDRB" plain

note "RUNNING lost: B has the VM; A asks, then stops its copy"
t_create lr "fake.lose_running"
expect_rc 0 vmctl start lr --timeout=30
wait_state lr Running
pid=$(vm_prop lr WorkerPid)
expect_rc 0 vmctl migrate lr 127.0.0.1:$PB
ADDR=$ADDRB wait_state lr Running
wait_for 10 "lr gone from A" gone_from "$ADDR" lr
wait_for 10 "A's worker of lr ended" sh -c "! kill -0 $pid"
grep -q "lr.*the VM stays paused here while 127.0.0.1:$PB is asked who has it" "$T/vmms.log" ||
  fail "A did not log the unconfirmed commit: $(grep lr "$T/vmms.log" | tail -5)"
grep -q "lr.*the destination has the VM" "$T/vmms.log" || fail "A did not log B's answer"
grep -q "migration query from .* about VM" "$B/vmms.log" || fail "B did not log the query"

note "COMMIT lost: B never runs the VM; A asks, then resumes it"
t_create lc "fake.lose_commit"
expect_rc 0 vmctl start lc --timeout=30
wait_state lc Running
pid=$(vm_prop lc WorkerPid)
vmctl migrate lc 127.0.0.1:$PB >"$T/lc.out" 2>&1 &
MIG=$!
wait_for 10 "the unconfirmed commit" grep -q "lc.*is asked who has it" "$T/vmms.log"
# Unresolved: no cancel (the VM may be running there, for all A knows).
if [ "$(vm_prop lc State)" = Migrating ]; then
  out=$(bus call org.vmstack.VMMS1 "$(vm_path lc)" org.vmstack.VMMS1.VM CancelMigration 2>&1) &&
    fail "CancelMigration was taken while the commit is unresolved"
  echo "$out" | grep -q "committed" || echo "$out" | grep -q "no migration" || fail "cancel said: $out"
fi
wait "$MIG"; rc=$?
[ "$rc" = 1 ] || fail "vmctl migrate exited $rc: $(cat "$T/lc.out")"
grep -q "the destination did not take the VM" "$T/lc.out" || fail "vmctl migrate said: $(cat "$T/lc.out")"
wait_state lc Running
[ "$(vm_prop lc WorkerPid)" = "$pid" ] || fail "the source's worker changed"
wait_for 10 "lc gone from B" gone_from "$ADDRB" lc
ls "$B/state" | grep -q "$(vm_prop lc Id)" && fail "B stored the VM"
# It stops normally on A.
expect_rc 0 vmctl stop lc --timeout=30

echo "PASS"
