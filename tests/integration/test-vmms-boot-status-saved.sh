#!/bin/bash
# SPDX-License-Identifier: MIT
# A Saved VM's BootStatus survives a vmms restart (kept in
# <state-dir>/<id>.state beside the saved state, docs/vmms.md), and a
# checkpoint with a state keeps the BootStatus of that state in its record
# (index.json "boot_status"), which a revert gives back (docs/checkpoints.md):
# taken of a Saved VM and of a running one; a discarded saved state and
# a revert to Off leave it empty. The fake worker acts out SeaBIOS's
# decision (tests/integration/vmms-fake-firmware.c).
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
WORKER=$FAKE_WORKER WORKER_KIND=fake # vmms's side
P=$T/pool FW=$T/fw
mkdir -p "$P" "$FW"
head -c 262144 /dev/zero >"$FW/bios.bin"
truncate -s 1M "$P/boot.img"
printf '\x55\xaa' | dd of="$P/boot.img" bs=1 seek=510 conv=notrunc status=none
start_vmms() { VMMS_POOLS= t_start_vmms --storage-pool="$P" --firmware-dir="$FW"; }
restart_vmms() { t_stop_vmms; start_vmms; }
boot_is() { [ "$(vm_prop "$1" BootStatus)" = "$2" ]; }
start_vmms

expect_rc 0 vmctl create --name=good --disk="$P/boot.img,ro" --firmware="$FW/bios.bin"
ID=$(vm_prop good Id)
expect_rc 0 vmctl start good
wait_for 10 "BootStatus booted" boot_is good booted

note "a Saved VM's BootStatus across a vmms restart"
expect_rc 0 vmctl save good
[ "$(vm_prop good State)" = Saved ] || fail "State: $(vm_prop good State)"
boot_is good booted || fail "the Saved VM's BootStatus: '$(vm_prop good BootStatus)'"
[ "$(jq -r .boot_status "$T/state/$ID.state")" = booted ] || fail "$ID.state: $(cat "$T/state/$ID.state")"
restart_vmms
[ "$(vm_prop good State)" = Saved ] || fail "State after the restart: $(vm_prop good State)"
boot_is good booted || fail "after the restart: '$(vm_prop good BootStatus)'"

note "a checkpoint of the Saved VM keeps it; discard, then revert gives it back"
expect_rc 0 vmctl checkpoint good saved
[ "$(jq -r '.checkpoints[] | select(.name == "saved") | .boot_status' "$T/state/$ID.checkpoints/index.json")" = booted ] ||
  fail "index.json: $(cat "$T/state/$ID.checkpoints/index.json")"
expect_rc 0 vmctl discard-saved good
[ "$(vm_prop good State)" = Off ] || fail "State after the discard: $(vm_prop good State)"
boot_is good "" || fail "BootStatus after the discard: '$(vm_prop good BootStatus)'"
[ ! -e "$T/state/$ID.state" ] || fail "an Off VM's $ID.state: $(cat "$T/state/$ID.state")"
restart_vmms
boot_is good "" || fail "an Off VM's BootStatus after a restart: '$(vm_prop good BootStatus)'"
expect_rc 0 vmctl revert good saved --no-start
[ "$(vm_prop good State)" = Saved ] || fail "State after the revert: $(vm_prop good State)"
boot_is good booted || fail "BootStatus after the revert: '$(vm_prop good BootStatus)'"
restart_vmms
boot_is good booted || fail "the reverted Saved VM's after a restart: '$(vm_prop good BootStatus)'"

note "a checkpoint of the running VM: its BootStatus then, back at the revert"
expect_rc 0 vmctl start good
wait_state good Running 30
boot_is good booted || fail "the resumed VM's BootStatus: '$(vm_prop good BootStatus)'"
expect_rc 0 vmctl checkpoint good live
wait_state good Running 30
expect_rc 0 vmctl kill good
wait_state good Off
boot_is good "" || fail "after the run: '$(vm_prop good BootStatus)'"
expect_rc 0 vmctl revert good live --no-start
[ "$(vm_prop good State)" = Saved ] || fail "State after reverting to live: $(vm_prop good State)"
boot_is good booted || fail "BootStatus after reverting to live: '$(vm_prop good BootStatus)'"
expect_rc 0 vmctl start good
wait_state good Running 30
boot_is good booted || fail "resumed from the checkpoint's state: '$(vm_prop good BootStatus)'"
[ ! -e "$T/state/$ID.state" ] || fail "a running VM's $ID.state: $(cat "$T/state/$ID.state")"
expect_rc 0 vmctl kill good
wait_state good Off
alive "$VMMS_PID" || fail "vmms is gone"
echo "PASS"
