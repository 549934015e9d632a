#!/bin/bash
# SPDX-License-Identifier: MIT
# A NIC's bandwidth caps through vmms (docs/netvsp.md "Bandwidth caps",
# docs/dbus-api.md SetNicQoS), with the fake worker answering nic-qos as
# vmwp checks it (vmms-fake-hotplug.c): vmctl create --nic=...,max-in-bps=
# stores them and the worker makes the NIC with them; vmctl nic qos and
# busctl change them on the running VM (the worker's op reaches it, a
# setting left out keeps its value), also on a TAP the admin made and on a
# paused VM; the stored configuration follows; a save and the restore keep
# them; bad settings (0 < cap < 1 Mbit/s, negative, absurd, no such NIC)
# get named errors and change nothing; an Off VM's configuration changes;
# Update of a running VM's caps names SetNicQoS. The caps' effect on
# traffic: tests/unit/test-netvsp-qos.c.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
VMMS_TEST_WORKER=fake
t_pick_worker
[ "$WORKER_KIND" = fake ] || { echo "SKIP: needs the fake worker"; exit 77; }
t_vmms_netns vmsnq
ip -n "$NS" tuntap add mode tap name nqadmin || fail "tuntap add"
t_start_vmms


note "vmctl create --nic=...,max-in-bps=: stored, and the worker makes the NIC with it"
expect_rc 0 vmctl create --name=n1 --memory=64 --kernel="$(t_kernel)" \
  --nic=mac=00:15:5d:00:0a:01,max-in-bps=100000000,max-out-bps=50000000 --nic=mac=00:15:5d:00:0a:02,tap=nqadmin
[ "$(stored_cfg n1 'c["nics"][0]["qos"]')" = "{'max_in_bps': 100000000, 'max_out_bps': 50000000}" ] ||
  fail "stored: $(stored_cfg n1 'c["nics"]')"
[ "$(stored_cfg n1 '"qos" in c["nics"][1]')" = False ] || fail "the uncapped NIC has qos: $(stored_cfg n1 'c["nics"][1]')"
expect_rc 0 vmctl start n1
wait_for 10 "n1 booted" console_has n1 "^fake-vmwp: nics\[0\] qos max_in_bps=100000000 max_out_bps=50000000$"
console_has n1 "^fake-vmwp: nics\[1\] qos" && fail "nics[1] made with caps"

note "vmctl nic qos on the running VM: the worker's op, the configuration follows"
expect_rc 0 vmctl nic qos n1 0 --max-out-bps=20000000
echo "$LAST_OUT" | grep -qF "n1: nics[0] max_in_bps=100000000 max_out_bps=20000000" || fail "print: $LAST_OUT"
console_has n1 "^fake-vmwp: nic-qos nics\[0\] max_in_bps=100000000 max_out_bps=20000000$" ||
  fail "the worker's nic-qos: $(console n1 | grep nic-qos)"
[ "$(stored_cfg n1 'c["nics"][0]["qos"]')" = "{'max_in_bps': 100000000, 'max_out_bps': 20000000}" ] ||
  fail "stored after the change: $(stored_cfg n1 'c["nics"][0]')"
expect_rc 0 vmctl nic qos n1 0
echo "$LAST_OUT" | grep -qF "max_in_bps=100000000 max_out_bps=20000000" || fail "show: $LAST_OUT"
expect_rc 0 vmctl --json nic qos n1 0
[ "$LAST_OUT" = '{"index":0,"max_in_bps":100000000,"max_out_bps":20000000,"min_weight":0}' ] || fail "json: $LAST_OUT"
note "the admin's TAP is capped too (netvsp enforces the caps)"
bus call $(vm_iface n1) SetNicQoS utt 1 1000000 0 || fail "SetNicQoS over D-Bus"
console_has n1 "^fake-vmwp: nic-qos nics\[1\] max_in_bps=1000000 max_out_bps=0$" || fail "busctl's"
[ "$(stored_cfg n1 'c["nics"][1]["qos"]')" = "{'max_in_bps': 1000000}" ] || fail "stored nics[1]: $(stored_cfg n1 'c["nics"][1]')"

note "bad settings: named errors, nothing changes"
n0=$(console_count n1 "^fake-vmwp: nic-qos")
expect_rc 4 vmctl nic qos n1 0 --max-in-bps=999999
echo "$LAST_OUT" | grep -qF "nics[0].qos.max_in_bps: must be 0 (no cap) or 1000000..1000000000000" ||
  fail "below 1 Mbit/s: $LAST_OUT"
expect_rc 2 vmctl nic qos n1 0 --max-out-bps=-1
echo "$LAST_OUT" | grep -qF -- "--max-out-bps must be a number of bits/s" || fail "negative: $LAST_OUT"
expect_rc 4 vmctl nic qos n1 0 --max-out-bps=99999999999999
echo "$LAST_OUT" | grep -qF "nics[0].qos.max_out_bps: must be 0 (no cap) or" || fail "absurd: $LAST_OUT"
expect_rc 4 vmctl nic qos n1 5 --max-in-bps=1000000
echo "$LAST_OUT" | grep -qF "n1 has no nics[5]" || fail "no such NIC: $LAST_OUT"
out=$(bus call $(vm_iface n1) SetNicQoS utt 0 5 0 2>&1) && fail "busctl 5 bits/s accepted"
echo "$out" | grep -qF "nics[0].qos.max_in_bps: must be 0 (no cap)" || fail "busctl's error: $out"
out=$(bus call $(vm_iface n1) SetNicQoS utt 9 1000000 0 2>&1) && fail "busctl: no such NIC accepted"
[ "$(console_count n1 "^fake-vmwp: nic-qos")" = "$n0" ] || fail "a refused setting reached the worker"
[ "$(stored_cfg n1 'c["nics"][0]["qos"]')" = "{'max_in_bps': 100000000, 'max_out_bps': 20000000}" ] ||
  fail "a refused setting changed the configuration: $(stored_cfg n1 'c["nics"][0]')"
exp=$(vmctl --json show n1 | python3 -c 'import json,sys; c=json.load(sys.stdin)["Config"]; c["nics"][0]["qos"]["max_in_bps"]=3000000; print(json.dumps(c))')
out=$(bus call $(vm_iface n1) Update s "$exp" 2>&1) && fail "Update of a running VM's caps accepted"
echo "$out" | grep -qF "nics[].qos: can only change while the VM is Off or Crashed" || fail "Update: $out"
echo "$out" | grep -qF "SetNicQoS" || fail "Update does not name SetNicQoS: $out"

note "a paused VM: the worker takes it"
expect_rc 0 vmctl pause n1
expect_rc 0 vmctl nic qos n1 0 --max-in-bps=0
console_has n1 "^fake-vmwp: nic-qos nics\[0\] max_in_bps=0 max_out_bps=20000000$" || fail "paused"
expect_rc 0 vmctl resume n1

note "a save and its restore keep them"
expect_rc 0 vmctl save n1
wait_state n1 Saved
[ "$(stored_cfg n1 'c["nics"][0]["qos"]')" = "{'max_out_bps': 20000000}" ] || fail "saved: $(stored_cfg n1 'c["nics"][0]')"
expect_rc 0 vmctl nic qos n1 1 --max-out-bps=7000000
[ "$(stored_cfg n1 'c["nics"][1]["qos"]')" = "{'max_in_bps': 1000000, 'max_out_bps': 7000000}" ] ||
  fail "a Saved VM's: $(stored_cfg n1 'c["nics"][1]')"
expect_rc 0 vmctl start n1
restored() { [ "$(console_count n1 '^fake-vmwp: nics\[0\] qos max_in_bps=0 max_out_bps=20000000$')" -ge 1 ]; }
wait_for 10 "n1 restored with its caps" restored
console_has n1 "^fake-vmwp: nics\[1\] qos max_in_bps=1000000 max_out_bps=7000000$" || fail "restored nics[1]"
expect_rc 0 vmctl kill n1

note "an Off VM: the configuration"
wait_state n1 Off
expect_rc 0 vmctl nic qos n1 0 --max-out-bps=0
[ "$(stored_cfg n1 '"qos" in c["nics"][0]')" = False ] || fail "cleared: $(stored_cfg n1 'c["nics"][0]')"

note "introspection"
bus introspect org.vmstack.VMMS1 "$(vm_path n1)" org.vmstack.VMMS1.VM | grep -q '^\.SetNicQoS  *method  *utt ' ||
  fail "SetNicQoS not introspected"
echo PASS
