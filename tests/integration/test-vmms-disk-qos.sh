#!/bin/bash
# SPDX-License-Identifier: MIT
# A disk's Storage QoS through vmms (docs/storvsp.md "Storage QoS",
# docs/dbus-api.md SetDiskQoS), with the fake worker answering disk-qos as
# vmwp checks it (vmms-fake-hotplug.c): vmctl create --disk=...,max-iops=
# stores it and the worker opens the disk with it; vmctl disk qos and
# busctl change it on the running VM (the worker's op reaches it, a
# setting left out keeps its value) and on a paused one; the stored
# configuration follows; a save and the restore keep it (the restored
# worker opens the disk with it); bad settings (a minimum above the
# maximum, negative, absurd, no such disk) get named errors and change
# nothing; an Off VM's configuration changes.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
VMMS_TEST_WORKER=fake
t_pick_worker
[ "$WORKER_KIND" = fake ] || { echo "SKIP: needs the fake worker"; exit 77; }
t_start_vmms

I=$T/images
truncate -s 64M "$I/a.img" "$I/b.img"

note "vmctl create --disk=...,max-iops=: stored, and the worker opens the disk with it"
expect_rc 0 vmctl create --name=q1 --memory=64 --kernel="$(t_kernel)" --disk="$I/a.img,max-iops=500,min-iops=100" \
  --disk="$I/b.img"
[ "$(stored_cfg q1 'c["disks"][0]["qos"]')" = "{'max_iops': 500, 'min_iops': 100}" ] || fail "stored: $(stored_cfg q1 'c["disks"]')"
[ "$(stored_cfg q1 '"qos" in c["disks"][1]')" = False ] || fail "the uncapped disk has qos: $(stored_cfg q1 'c["disks"][1]')"
expect_rc 0 vmctl start q1
wait_for 10 "q1 booted" console_has q1 "^fake-vmwp: disks\[0\] qos max_iops=500 min_iops=100 max_bytes_per_s=0$"
console_has q1 "^fake-vmwp: disks\[1\] qos" && fail "disks[1] opened with a QoS"

note "vmctl disk qos on the running VM: the worker's op, the configuration follows"
expect_rc 0 vmctl disk qos q1 0 --max-iops=800 --max-bytes-per-s=1048576
echo "$LAST_OUT" | grep -qF "q1: disks[0] max_iops=800 min_iops=100 max_bytes_per_s=1048576" || fail "print: $LAST_OUT"
console_has q1 "^fake-vmwp: disk-qos disks\[0\] max_iops=800 min_iops=100 max_bytes_per_s=1048576$" ||
  fail "the worker's disk-qos: $(console q1 | grep disk-qos)"
[ "$(stored_cfg q1 'c["disks"][0]["qos"]')" = "{'max_iops': 800, 'min_iops': 100, 'max_bytes_per_s': 1048576}" ] ||
  fail "stored after the change: $(stored_cfg q1 'c["disks"][0]')"
expect_rc 0 vmctl disk qos q1 0
echo "$LAST_OUT" | grep -qF "max_iops=800 min_iops=100" || fail "show: $LAST_OUT"
bus call $(vm_iface q1) SetDiskQoS uttt 1 300 0 0 || fail "SetDiskQoS over D-Bus"
console_has q1 "^fake-vmwp: disk-qos disks\[1\] max_iops=300 min_iops=0 max_bytes_per_s=0$" || fail "busctl's"
[ "$(stored_cfg q1 'c["disks"][1]["qos"]')" = "{'max_iops': 300}" ] || fail "stored disks[1]: $(stored_cfg q1 'c["disks"][1]')"

note "bad settings: named errors, nothing changes"
n0=$(console_count q1 "^fake-vmwp: disk-qos")
expect_rc 4 vmctl disk qos q1 0 --min-iops=900
echo "$LAST_OUT" | grep -qF "disks[0].qos.min_iops: is above max_iops" || fail "min above max: $LAST_OUT"
expect_rc 2 vmctl disk qos q1 0 --max-iops=-1
echo "$LAST_OUT" | grep -qF -- "--max-iops must be a number, 0 or more" || fail "negative: $LAST_OUT"
expect_rc 4 vmctl disk qos q1 0 --max-iops=99999999999
echo "$LAST_OUT" | grep -qF "disks[0].qos.max_iops: must be at most 10000000" || fail "absurd: $LAST_OUT"
expect_rc 4 vmctl disk qos q1 5 --max-iops=1
echo "$LAST_OUT" | grep -qF "q1 has no disks[5]" || fail "no such disk: $LAST_OUT"
out=$(bus call $(vm_iface q1) SetDiskQoS uttt 0 100 200 0 2>&1) && fail "busctl min above max accepted"
echo "$out" | grep -qF "disks[0].qos.min_iops: is above max_iops" || fail "busctl's error: $out"
out=$(bus call $(vm_iface q1) SetDiskQoS uttt 9 1 0 0 2>&1) && fail "busctl: no such disk accepted"
[ "$(console_count q1 "^fake-vmwp: disk-qos")" = "$n0" ] || fail "a refused setting reached the worker"
[ "$(stored_cfg q1 'c["disks"][0]["qos"]')" = "{'max_iops': 800, 'min_iops': 100, 'max_bytes_per_s': 1048576}" ] ||
  fail "a refused setting changed the configuration: $(stored_cfg q1 'c["disks"][0]')"

note "a paused VM: the worker takes it"
expect_rc 0 vmctl pause q1
expect_rc 0 vmctl disk qos q1 0 --max-iops=500 --max-bytes-per-s=0
console_has q1 "^fake-vmwp: disk-qos disks\[0\] max_iops=500 min_iops=100 max_bytes_per_s=0$" || fail "paused"
expect_rc 0 vmctl resume q1

note "a save and its restore keep it"
expect_rc 0 vmctl save q1
wait_state q1 Saved
[ "$(stored_cfg q1 'c["disks"][0]["qos"]')" = "{'max_iops': 500, 'min_iops': 100}" ] || fail "saved: $(stored_cfg q1 'c["disks"][0]')"
expect_rc 0 vmctl disk qos q1 1 --max-iops=400
[ "$(stored_cfg q1 'c["disks"][1]["qos"]')" = "{'max_iops': 400}" ] || fail "a Saved VM's: $(stored_cfg q1 'c["disks"][1]')"
expect_rc 0 vmctl start q1
restored() { [ "$(console_count q1 '^fake-vmwp: disks\[0\] qos max_iops=500 min_iops=100 max_bytes_per_s=0$')" -ge 2 ]; }
wait_for 10 "q1 restored with its QoS" restored
console_has q1 "^fake-vmwp: disks\[1\] qos max_iops=400 min_iops=0 max_bytes_per_s=0$" || fail "restored disks[1]"
expect_rc 0 vmctl kill q1

note "an Off VM: the configuration"
wait_state q1 Off
expect_rc 0 vmctl disk qos q1 0 --max-iops=0 --min-iops=0
[ "$(stored_cfg q1 '"qos" in c["disks"][0]')" = False ] || fail "cleared: $(stored_cfg q1 'c["disks"][0]')"

note "the worker's disk-qos event: logged, signalled; a malformed one ignored"
truncate -s 64M "$I/c.img"
t_create q2 "fake.disk_qos_unmet=0" ",\"disks\":[{\"path\":\"$I/c.img\",\"qos\":{\"min_iops\":100}}]"
bus monitor --match "type='signal',member='DiskQoSMinimum'" >"$T/monitor.out" 2>&1 &
MON=$!
sleep 0.5
expect_rc 0 vmctl start q2
unmet() { grep -qF "disks[0]: the Storage QoS minimum of 100 IOPS is not met: 42 normalised IOPS delivered" "$T/vmms.log"; }
wait_for 10 "the unmet minimum in vmms's log" unmet
wait_for 5 "the DiskQoSMinimum signal" grep -q 'UINT64 42' "$T/monitor.out"
kill $MON 2>/dev/null
[ "$(vm_prop q2 State)" = Running ] || fail "q2: $(vm_prop q2 State)"
expect_rc 0 vmctl kill q2

note "introspection"
bus introspect org.vmstack.VMMS1 "$(vm_path q1)" org.vmstack.VMMS1.VM | grep -q '^\.SetDiskQoS  *method  *uttt ' ||
  fail "SetDiskQoS not introspected"
bus introspect org.vmstack.VMMS1 "$(vm_path q1)" org.vmstack.VMMS1.VM | grep -q '^\.DiskQoSMinimum  *signal  *ubtt ' ||
  fail "DiskQoSMinimum not introspected"
echo PASS
