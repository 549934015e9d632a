#!/bin/bash
# SPDX-License-Identifier: MIT
# A firmware VM's BootStatus (issue #57, docs/firmware.md "Nothing
# bootable"): the worker's "firmware" event becomes the property, with a
# PropertiesChanged, a line in vmms's log and a note under `vmctl list`;
# a disk with a boot signature says "booted"; the property is empty once
# the run ends and for a kernel VM. The fake worker acts out SeaBIOS's
# decision (tests/integration/vmms-fake-firmware.c); the real worker's
# side is tests/component/test-vmwp-firmware.c (nothing_bootable_says_so).
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
WORKER=$FAKE_WORKER WORKER_KIND=fake # vmms's side; the real worker's needs KVM

P=$T/pool FW=$T/fw
mkdir -p "$P" "$FW"
head -c 262144 /dev/zero >"$FW/bios.bin"
truncate -s 1M "$P/empty.img" "$P/boot.img"
printf '\x55\xaa' | dd of="$P/boot.img" bs=1 seek=510 conv=notrunc status=none
VMMS_POOLS= t_start_vmms --storage-pool="$P" --firmware-dir="$FW"
boot_is() { [ "$(vm_prop "$1" BootStatus)" = "$2" ]; }

note "nothing bootable: BootStatus says so, vmms logs it, vmctl list and show tell"
expect_rc 0 vmctl create --name=none --disk="$P/empty.img" --firmware="$FW/bios.bin"
[ "$(vm_prop none BootStatus)" = "" ] || fail "an Off VM's BootStatus: $(vm_prop none BootStatus)"
VP=$(vm_path none)
bus monitor --match "type='signal',path='$VP',member='PropertiesChanged'" >"$T/signals" 2>&1 &
MON=$!
t_on_exit "kill $MON 2>/dev/null"
sleep 0.5
expect_rc 0 vmctl start none
wait_for 10 "BootStatus no-bootable-device" boot_is none no-bootable-device
[ "$(vm_prop none State)" = Running ] || fail "state: $(vm_prop none State)"
wait_for 5 "the PropertiesChanged" grep -q 'no-bootable-device' "$T/signals"
grep -q "found nothing to boot" "$T/vmms.log" || fail "vmms's log: $(tail -n 20 "$T/vmms.log")"
grep -q "firmware: No bootable device." "$T/log/$(vm_prop none Id).worker.log" || fail "the worker's log"
console_has none "No bootable device." || fail "console: $(console none)"
out=$(vmctl list 2>"$T/list.err") || fail "vmctl list: $out"
echo "$out" | grep -Eq '^none +Running ' || fail "vmctl list's table changed: $out"
grep -qF "none: the firmware found nothing to boot (No bootable device.)" "$T/list.err" ||
  fail "vmctl list's note: $(cat "$T/list.err")"
[ "$(vmctl list --json | jq -r '.[] | select(.name == "none") | .boot_status')" = no-bootable-device ] ||
  fail "vmctl list --json: $(vmctl list --json)"
vmctl show none | grep -Eq '^BootStatus +no-bootable-device$' || fail "vmctl show: $(vmctl show none)"

note "the run ends: BootStatus is empty again"
expect_rc 0 vmctl kill none
wait_state none Off
[ "$(vm_prop none BootStatus)" = "" ] || fail "after the run: $(vm_prop none BootStatus)"

note "a disk with a boot signature: booted, and no note"
expect_rc 0 vmctl create --name=good --disk="$P/boot.img" --firmware="$FW/bios.bin"
expect_rc 0 vmctl start good
wait_state good Running
wait_for 10 "BootStatus booted" boot_is good booted
vmctl list 2>"$T/list.err" >/dev/null
[ ! -s "$T/list.err" ] || fail "a note for a booted VM: $(cat "$T/list.err")"

note "after a vmms restart the worker's status reply says it again"
t_stop_vmms
VMMS_POOLS= t_start_vmms --storage-pool="$P" --firmware-dir="$FW"
wait_for 10 "BootStatus after re-attach" boot_is good booted
expect_rc 0 vmctl kill good
wait_state good Off

note "a kernel VM has none, whatever its worker says"
K=$P/kernel && echo kernel >"$K"
expect_rc 0 vmctl create --name=k --kernel="$K" --disk="$P/empty.img,ro"
expect_rc 0 vmctl start k
wait_state k Running
[ "$(vm_prop k BootStatus)" = "" ] || fail "a kernel VM's BootStatus: $(vm_prop k BootStatus)"
expect_rc 0 vmctl kill k
alive "$VMMS_PID" || fail "vmms is gone"
echo "PASS"
