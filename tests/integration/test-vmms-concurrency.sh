#!/bin/bash
# SPDX-License-Identifier: MIT
# Many VMs and many clients at once: concurrent creates, starts, pauses and
# stops; racing operations on one VM (exactly one wins); the limit on VMs
# starting at the same time; vmms stays responsive throughout.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
t_pick_worker
N=${VMMS_TEST_VMS:-24}
[ "$WORKER_KIND" = real ] && N=${VMMS_TEST_VMS:-8}
t_start_vmms

note "create $N VMs concurrently"
for i in $(seq $N); do vm_json "vm$i" >"$T/vm$i.json"; done
for i in $(seq $N); do bg vmctl -q create "$T/vm$i.json" >"$T/create$i.out" 2>&1; done
wait_bg
[ "$(vmctl list | grep -c '^vm')" = "$N" ] || fail "not $N VMs: $(vmctl list)"
[ "$(ls "$T"/state/*.json | wc -l)" = "$N" ] || fail "not $N configuration files"

note "two racing creates of one name: one wins"
vm_json twin >"$T/twin.json"
vmctl -q create "$T/twin.json" >/dev/null 2>&1 & A=$!
vmctl -q create "$T/twin.json" >/dev/null 2>&1 & B=$!
wait $A; ra=$?; wait $B; rb=$?
[ $((ra == 0 ? 1 : 0)) -ne $((rb == 0 ? 1 : 0)) ] && { [ $ra = 10 ] || [ $rb = 10 ]; } || fail "twin creates: $ra $rb"

note "start all concurrently"
for i in $(seq $N); do bg vmctl start "vm$i" --timeout=300 >"$T/start$i.out" 2>&1; done
wait_bg
for i in $(seq $N); do [ "$(vm_prop "vm$i" State)" = Running ] || fail "vm$i: $(vm_prop "vm$i" State) $(cat "$T/start$i.out")"; done
[ "$(ls "$T"/run/vms/*/worker.json | wc -l)" = "$N" ] || fail "not $N runtime records"

note "racing Start and Kill on one VM; racing Pauses"
expect_rc 0 vmctl start twin --no-wait
vmctl start twin --no-wait >/dev/null 2>&1; rc=$?
[ $rc = 5 ] || fail "second start of a starting VM: $rc"
wait_state twin Running 300
for _ in 1 2 3; do bg vmctl pause twin >/dev/null 2>&1; done
wait_bg
[ "$(vm_prop twin State)" = Paused ] || fail "twin not paused"
expect_rc 0 vmctl kill twin

note "pause, resume and list while everything runs"
for i in $(seq $N); do bg vmctl pause "vm$i" >/dev/null 2>&1; bg vmctl list >/dev/null 2>&1; done
wait_bg
[ "$(vmctl list | grep -c ' Paused ')" = "$N" ] || fail "not all paused: $(vmctl list)"
for i in $(seq $N); do bg vmctl resume "vm$i" >/dev/null 2>&1; done
wait_bg
[ "$(vmctl list | grep -c ' Running ')" = "$N" ] || fail "not all running again"

note "stop all concurrently"
for i in $(seq $N); do bg vmctl stop "vm$i" --shutdown-timeout=2 --timeout=120 >"$T/stop$i.out" 2>&1; done
wait_bg
[ "$(vmctl list | grep -c ' Off ')" = "$((N + 1))" ] || fail "not all Off: $(vmctl list)"
ls "$T"/run/vms/*/worker.json >/dev/null 2>&1 && fail "runtime records left"

if [ "$WORKER_KIND" = fake ]; then
  note "--max-starting: the third concurrent start is refused"
  t_stop_vmms
  t_start_vmms --max-starting=2
  for v in s1 s2 s3; do t_create $v "fake.ready_ms=3000"; done
  expect_rc 0 vmctl start s1 --no-wait
  expect_rc 0 vmctl start s2 --no-wait
  expect_rc 7 vmctl start s3 --no-wait
  echo "$LAST_OUT" | grep -q "2 VMs are starting already (--max-starting)" || fail "limit message: $LAST_OUT"
  wait_state s1 Running
  expect_rc 0 vmctl start s3 --timeout=30
fi
echo "PASS ($N VMs, worker: $WORKER_KIND)"
