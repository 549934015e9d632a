#!/bin/bash
# SPDX-License-Identifier: MIT
# A firmware VM under vmms with the real, sandboxed worker (needs /dev/kvm
# and Debian's seabios; skips without them): `vmctl create` without
# --kernel, vmms hands the worker the firmware image and the ISO as fds,
# SeaBIOS runs (its banner on the console log through COM1) and finds
# nothing bootable on the empty IDE disk and the blank ISO, which
# BootStatus says (no-bootable-device) with the firmware's line in the
# worker's log; the disc is ejected and inserted while it runs, through the
# worker's service thread, and the configuration follows; a file under one
# block is refused by vmms before the worker sees it.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
[ -x "$REAL_WORKER" ] && [ -w /dev/kvm ] || { echo "SKIP: needs the real vmwp and /dev/kvm"; exit 77; }
[ -r /usr/share/seabios/bios-256k.bin ] || { echo "SKIP: Debian's seabios is not installed"; exit 77; }
WORKER=$REAL_WORKER WORKER_KIND=real

P=$T/pool
mkdir -p "$P"
truncate -s 1M "$P/empty.img"
head -c 1048576 /dev/zero >"$P/blank.iso"
head -c 1048576 /dev/zero >"$P/other.iso"
VMMS_POOLS= t_start_vmms --storage-pool="$P"

note "created without --kernel, started: SeaBIOS runs from the fd vmms opened"
expect_rc 0 vmctl create --name=gen1 --memory=128 --disk="$P/empty.img" --dvd="$P/blank.iso"
expect_rc 0 vmctl start gen1 --timeout=60
wait_for 60 "SeaBIOS's banner" console_has gen1 "SeaBIOS \(version"
[ "$(vm_prop gen1 State)" = Running ] || fail "gen1 is $(vm_prop gen1 State): $(vm_prop gen1 ExitReason)"

note "nothing bootable: BootStatus says so, the VM stays Running"
boot_is() { [ "$(vm_prop "$1" BootStatus)" = "$2" ]; }
wait_for 120 "BootStatus no-bootable-device" boot_is gen1 no-bootable-device
[ "$(vm_prop gen1 State)" = Running ] || fail "gen1 is $(vm_prop gen1 State): $(vm_prop gen1 ExitReason)"
grep -q "firmware: No bootable device." "$T/log/$(vm_prop gen1 Id).worker.log" || fail "the worker's log has no firmware line"

note "the disc changes while it runs"
expect_rc 0 vmctl dvd eject gen1
[ "$(vmctl show gen1 --json | jq -r '.Config.dvd_drives[0].path')" = null ] || fail "eject: $(vmctl show gen1 --json)"
expect_rc 0 vmctl dvd insert gen1 "$P/other.iso"
[ "$(vmctl show gen1 --json | jq -r '.Config.dvd_drives[0].path')" = "$P/other.iso" ] || fail "insert: $(vmctl show gen1 --json)"
head -c 100 /dev/zero >"$P/tiny.iso"
expect_rc 4 vmctl dvd insert gen1 "$P/tiny.iso"
echo "$LAST_OUT" | grep -qF "$P/tiny.iso: not a disc image: 100 bytes" || fail "a 100-byte ISO: $LAST_OUT"
[ "$(vm_prop gen1 State)" = Running ] || fail "gen1 is $(vm_prop gen1 State): $(vm_prop gen1 ExitReason)"
expect_rc 0 vmctl kill gen1
alive "$VMMS_PID" || fail "vmms is gone"
echo "PASS"
