#!/bin/bash
# SPDX-License-Identifier: MIT
# A firmware VM's BootStatus (docs/firmware.md "Nothing bootable") goes
# with the VM: its restored worker saw no boot and reports none, so vmms
# carries it (the channel's request, docs/migration.md; vmms's runtime
# record, for a restarted vmms):
#   a live migration A -> B: B's BootStatus is the source's;
#   a quick migration B -> A of the Running VM: A's too;
#   a save and resume on A keeps it, so does a vmms restart after it;
#   a Saved VM moved A -> B keeps it, and its resume there.
# The fake worker acts out SeaBIOS's decision (vmms-fake-firmware.c) and,
# as vmwp, acts out nothing when restored (a saved state, an incoming
# migration): the destination can only have the status from the source.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
VMMS_TEST_WORKER=fake
t_pick_worker
read -r PA PB PC < <(t_free_ports 3)
[ -n "$PC" ] || fail "no free ports"
P=$T/pool FW=$T/fw
mkdir -p "$P" "$FW"
head -c 262144 /dev/zero >"$FW/bios.bin"
truncate -s 1M "$P/empty.img"
t_start_vmms --migration-insecure --migration-listen=127.0.0.1:$PA --storage-pool="$P" --firmware-dir="$FW"
t_host_b_start "$PB" --migration-insecure --storage-pool="$P" --firmware-dir="$FW"
boot_on() { [ "$(ADDR=$1 vm_prop "$2" BootStatus)" = "$3" ]; }
gone_from() { ! "$VMCTL_BIN" --address="$1" show "$2" >/dev/null 2>&1; }

expect_rc 0 vmctl create --name=none --disk="$P/empty.img" --firmware="$FW/bios.bin"
expect_rc 0 vmctl start none
wait_for 10 "BootStatus no-bootable-device on A" boot_on "$ADDR" none no-bootable-device

note "live A -> B: the destination's BootStatus is the source's"
expect_rc 0 vmctl migrate none 127.0.0.1:$PB
ADDR=$ADDRB wait_state none Running 30
boot_on "$ADDRB" none no-bootable-device || fail "B's BootStatus: '$(vm_prop_b none BootStatus)'"
wait_for 30 "none gone from A" gone_from "$ADDR" none
id=$(vm_prop_b none Id)
! grep -q "firmware: No bootable device." "$B/log/$id.worker.log" ||
  fail "B's worker acted out the boot again: $(cat "$B/log/$id.worker.log")"

note "quick B -> A of the Running VM: A's BootStatus too"
ADDR=$ADDRB expect_rc 0 vmctl migrate none 127.0.0.1:$PA --quick
wait_state none Running 30
boot_on "$ADDR" none no-bootable-device || fail "A's BootStatus after --quick: '$(vm_prop none BootStatus)'"
wait_for 30 "none gone from B" gone_from "$ADDRB" none

note "save and resume on A keep it; so does a vmms restart while the resumed worker runs"
expect_rc 0 vmctl save none
[ "$(vm_prop none State)" = Saved ] || fail "State: $(vm_prop none State)"
boot_on "$ADDR" none no-bootable-device || fail "a Saved VM's BootStatus: '$(vm_prop none BootStatus)'"
expect_rc 0 vmctl start none
wait_state none Running 30
boot_on "$ADDR" none no-bootable-device || fail "after the resume: '$(vm_prop none BootStatus)'"
t_stop_vmms
t_start_vmms --migration-insecure --migration-listen=127.0.0.1:$PA --storage-pool="$P" --firmware-dir="$FW"
wait_for 10 "BootStatus after re-attach" boot_on "$ADDR" none no-bootable-device

note "a Saved VM moved A -> B keeps it, and its resume there"
expect_rc 0 vmctl save none
expect_rc 0 vmctl migrate none 127.0.0.1:$PB
[ "$(vm_prop_b none State)" = Saved ] || fail "State on B: $(vm_prop_b none State)"
boot_on "$ADDRB" none no-bootable-device || fail "B's Saved VM's BootStatus: '$(vm_prop_b none BootStatus)'"
ADDR=$ADDRB expect_rc 0 vmctl start none
ADDR=$ADDRB wait_state none Running 30
boot_on "$ADDRB" none no-bootable-device || fail "B's resumed VM's BootStatus: '$(vm_prop_b none BootStatus)'"
ADDR=$ADDRB expect_rc 0 vmctl kill none
ADDR=$ADDRB wait_state none Off
boot_on "$ADDRB" none "" || fail "after the run: '$(vm_prop_b none BootStatus)'"
alive "$VMMS_PID" || fail "vmms A is gone"
alive "$BVMMS" || fail "vmms B is gone"
echo "PASS"
