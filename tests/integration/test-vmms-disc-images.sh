#!/bin/bash
# SPDX-License-Identifier: MIT
# Disc images vmms refuses with a clear error before a guest sees them
# (issue #57, docs/firmware.md "Disc images"): an ISO cut short (its ISO
# 9660 volume is larger than the file) at Start and at a running VM's
# InsertDvd, a file under one 2048-byte block, and a DVD image given as
# the disk a firmware VM boots; an isohybrid image (a boot sector in its
# system area) is a disk too, and an ISO as a data disk is the guest's. The worker never gets a refused image. Fake worker: these are
# vmms's checks (vmms/shared/iso-probe.c).
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
WORKER=$FAKE_WORKER WORKER_KIND=fake
command -v xorriso >/dev/null || { echo "SKIP: xorriso missing (scripts/deps.sh)"; exit 77; }

P=$T/pool FW=$T/fw
mkdir -p "$P" "$FW" "$T/tree"
head -c 262144 /dev/zero >"$FW/bios.bin"
truncate -s 1M "$P/disk.img"
head -c 1048576 /dev/urandom >"$T/tree/payload"
xorriso -as mkisofs -quiet -V GOOD -o "$P/good.iso" "$T/tree" 2>/dev/null || fail "xorriso"
size=$(stat -c %s "$P/good.iso")
head -c $((size / 2)) "$P/good.iso" >"$P/cut.iso"
head -c 100 "$P/good.iso" >"$P/tiny.iso"
cp "$P/good.iso" "$P/hybrid.iso"
printf '\x55\xaa' | dd of="$P/hybrid.iso" bs=1 seek=510 conv=notrunc status=none
VMMS_POOLS= t_start_vmms --storage-pool="$P" --firmware-dir="$FW"

note "a truncated ISO: Start says so, the VM stays Off"
expect_rc 0 vmctl create --name=web --disk="$P/disk.img" --firmware="$FW/bios.bin" --dvd="$P/cut.iso"
expect_rc 1 vmctl start web
echo "$LAST_OUT" | grep -qF "dvd_drives[0].path: $P/cut.iso: truncated: its ISO 9660 volume is $size bytes, the file $((size / 2))" ||
  fail "start with a truncated ISO: $LAST_OUT"
[ "$(vm_prop web State)" = Off ] || fail "web is $(vm_prop web State)"
vm_prop web ExitReason | grep -qF "truncated" || fail "ExitReason: $(vm_prop web ExitReason)"

note "InsertDvd on a running VM: a truncated or tiny ISO is refused, the disc stays"
expect_rc 0 vmctl dvd insert web "$P/good.iso"
expect_rc 0 vmctl start web
wait_for 10 "the ISO at start" console_has web "fake-vmwp: dvd 0: ino=$(stat -c %i "$P/good.iso") ro"
expect_rc 4 vmctl dvd insert web "$P/cut.iso"
echo "$LAST_OUT" | grep -qF "dvd_drives[0].path: $P/cut.iso: truncated" || fail "insert of a truncated ISO: $LAST_OUT"
expect_rc 4 vmctl dvd insert web "$P/tiny.iso"
echo "$LAST_OUT" | grep -qF "$P/tiny.iso: not a disc image: 100 bytes, less than one 2048-byte block" ||
  fail "insert of a tiny file: $LAST_OUT"
! console_has web "dvd-insert" || fail "a refused disc reached the worker: $(console web)"
[ "$(vmctl show web --json | jq -r '.Config.dvd_drives[0].path')" = "$P/good.iso" ] || fail "the disc changed"
expect_rc 0 vmctl kill web
wait_state web Off

note "an ISO given as a disk: Start says to use a DVD drive; an isohybrid image boots as a disk"
expect_rc 0 vmctl create --name=iso-disk --disk="$P/good.iso,ro" --firmware="$FW/bios.bin"
expect_rc 1 vmctl start iso-disk
echo "$LAST_OUT" | grep -qF "disks[0].path: $P/good.iso: a DVD image (ISO 9660, no boot sector for a disk): give it to a DVD drive" ||
  fail "an ISO as a disk: $LAST_OUT"
expect_rc 0 vmctl create --name=hybrid --disk="$P/hybrid.iso,ro" --firmware="$FW/bios.bin"
expect_rc 0 vmctl start hybrid
wait_state hybrid Running
expect_rc 0 vmctl kill hybrid
wait_state hybrid Off

note "an ISO as a data disk (not the one the BIOS boots) is the guest's to mount"
expect_rc 0 vmctl create --name=data --disk="$P/disk.img" --disk="$P/good.iso,ro" --firmware="$FW/bios.bin"
expect_rc 0 vmctl start data
wait_state data Running
expect_rc 0 vmctl kill data
K=$P/kernel && echo kernel >"$K"
expect_rc 0 vmctl create --name=k --kernel="$K" --disk="$P/good.iso,ro"
expect_rc 0 vmctl start k
wait_state k Running
expect_rc 0 vmctl kill k
alive "$VMMS_PID" || fail "vmms is gone"
echo "PASS"
