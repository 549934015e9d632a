#!/bin/bash
# SPDX-License-Identifier: MIT
# The processor limit through vmctl and vmms with the fake worker
# (docs/vmms.md "Processor limit"): `vmctl create --cpu-limit` stores it
# and the worker gets it at start; `vmctl edit --cpu-limit` on a running
# VM reaches the worker ("processor" op) before the configuration changes,
# within a second; bad limits (0, 200, a word) are refused by vmctl and,
# sent raw over D-Bus, by vmms, with named errors, and change nothing; a
# worker that refuses leaves the configuration as it was; a Saved VM's
# limit changes in its configuration and the restoring worker gets it.
# The weight (--cpu-weight): stored, changed on a running VM; on a host
# without systemd as PID 1 (these machines) vmms says at each start and
# change that it is not enforced. The limit's effect on a real guest is
# tests/component/test-vmwp-cpu-limit.c; the scopes and cgroup values
# under systemd, tests/amdv/cpu-scope.sh (the emulated AMD-V host).
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
VMMS_TEST_WORKER=fake t_pick_worker
t_start_vmms
limit_of() { vm_prop "$1" Config | tr -d ' \\n' | sed -n 's/.*"processor":{"limit_pct":\([0-9]*\)[,}].*/\1/p'; }
weight_of() { vm_prop "$1" Config | tr -d ' \\n' | sed -n 's/.*"processor":{[^}]*"weight":\([0-9]*\)}.*/\1/p'; }

note "create --cpu-limit: stored, and the worker gets it at start"
vm_json c1 >"$T/c1.json"
expect_rc 0 vmctl create "$T/c1.json" --cpu-limit=25
[ "$(limit_of c1)" = 25 ] || fail "Config after create: $(vm_prop c1 Config)"
expect_rc 0 vmctl start c1 --timeout=30
wait_for 10 "the worker's limit at boot" console_has c1 '^fake-vmwp: processor limit=25$'

note "edit --cpu-limit on the running VM reaches the worker within a second"
t0=$(date +%s%N)
expect_rc 0 vmctl edit c1 --cpu-limit=60
t1=$(date +%s%N)
console_has c1 '^fake-vmwp: processor limit=60$' || fail "the worker did not get 60: $(console c1 | grep processor)"
[ $(((t1 - t0) / 1000000)) -lt 1000 ] || fail "the change took $(((t1 - t0) / 1000000)) ms"
[ "$(limit_of c1)" = 60 ] || fail "Config after edit: $(vm_prop c1 Config)"
[ "$(vm_prop c1 State)" = Running ] || fail "state after the edit: $(vm_prop c1 State)"
expect_rc 0 vmctl edit c1 --cpu-limit=100
console_has c1 '^fake-vmwp: processor limit=100$' || fail "the worker did not get 100"
[ -z "$(limit_of c1)" ] || fail "no limit is written as none: $(vm_prop c1 Config)"

note "bad limits: named errors, nothing changes"
expect_rc 0 vmctl edit c1 --cpu-limit=40
n=$(console_count c1 '^fake-vmwp: processor limit=')
for bad in 0 200 fifty; do
  expect_rc 4 vmctl edit c1 --cpu-limit=$bad
  echo "$LAST_OUT" | grep -q -- "--cpu-limit: needs a number from 1 to 100" || fail "vmctl, $bad: $LAST_OUT"
done
for bad in 0 200; do
  json=$(vm_json c1 "" ',"processor":{"limit_pct":'$bad'}')
  out=$(bus call org.vmstack.VMMS1 "$(vm_path c1)" org.vmstack.VMMS1.VM Update s "$json" 2>&1) &&
    fail "Update with limit_pct $bad was accepted"
  echo "$out" | grep -q "processor.limit_pct: must be an integer from 1 to 100" || fail "D-Bus, $bad: $out"
done
[ "$(limit_of c1)" = 40 ] || fail "Config after the refusals: $(vm_prop c1 Config)"
[ "$(console_count c1 '^fake-vmwp: processor limit=')" = "$n" ] || fail "the worker was told: $(console c1 | grep processor)"

note "a worker that refuses: the configuration stays"
expect_rc 0 vmctl kill c1
expect_rc 0 vmctl edit c1 --cmdline=fake.processor_fail
expect_rc 0 vmctl start c1 --timeout=30
expect_rc 1 vmctl edit c1 --cpu-limit=70
echo "$LAST_OUT" | grep -q "processor: the worker of VM 'c1' did not apply it (fake-vmwp: processor_fail); nothing changed" ||
  fail "the refusal: $LAST_OUT"
[ "$(limit_of c1)" = 40 ] || fail "Config after the worker's refusal: $(vm_prop c1 Config)"
expect_rc 0 vmctl kill c1

note "a Saved VM: the configuration changes, the restoring worker gets it"
expect_rc 0 vmctl edit c1 --cmdline=
expect_rc 0 vmctl start c1 --timeout=30
expect_rc 0 vmctl save c1
wait_state c1 Saved
expect_rc 0 vmctl edit c1 --cpu-limit=15
[ "$(limit_of c1)" = 15 ] || fail "Config of the Saved VM: $(vm_prop c1 Config)"
expect_rc 0 vmctl start c1 --timeout=30
wait_for 10 "the restored worker's limit" console_has c1 '^fake-vmwp: processor limit=15$'
expect_rc 0 vmctl kill c1

note "the weight: stored, changed while running; not enforced here, and said so"
vm_json w1 >"$T/w1.json"
expect_rc 0 vmctl create "$T/w1.json" --cpu-weight=300
[ "$(weight_of w1)" = 300 ] || fail "Config after create: $(vm_prop w1 Config)"
expect_rc 4 vmctl edit w1 --cpu-weight=0
echo "$LAST_OUT" | grep -q -- "--cpu-weight: needs a number from 1 to 10000" || fail "weight 0: $LAST_OUT"
out=$(bus call org.vmstack.VMMS1 "$(vm_path w1)" org.vmstack.VMMS1.VM Update s \
  "$(vm_json w1 "" ',"processor":{"weight":20000}')" 2>&1) && fail "weight 20000 was accepted"
echo "$out" | grep -q "processor.weight: must be an integer from 1 to 10000" || fail "D-Bus, weight 20000: $out"
expect_rc 0 vmctl start w1 --timeout=30
expect_rc 0 vmctl edit w1 --cpu-weight=500
[ "$(weight_of w1)" = 500 ] || fail "Config after edit: $(vm_prop w1 Config)"
if [ ! -d /run/systemd/system ]; then
  grep -q "vm w1: processor weight 300 not enforced: systemd is not PID 1" "$T/vmms.log" ||
    fail "no word of the weight at start: $(grep w1 "$T/vmms.log")"
  grep -q "vm w1: processor weight 500 not enforced: systemd is not PID 1" "$T/vmms.log" ||
    fail "no word of the new weight: $(grep w1 "$T/vmms.log")"
fi
expect_rc 0 vmctl kill w1
echo PASS
