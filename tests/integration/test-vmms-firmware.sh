#!/bin/bash
# SPDX-License-Identifier: MIT
# Firmware VMs under vmms (issue #57, docs/firmware.md): `vmctl create`
# without --kernel makes a firmware VM with its --disk on the IDE bus; vmms
# opens the firmware image from its firmware directories (--firmware-dir)
# itself and the DVD drives' ISOs as the owner, and the worker receives
# both as fds (the fake worker reports each fd's inode on the console). A
# firmware image outside the firmware directories and an ISO outside the
# storage pools are refused with the field named.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
WORKER=$FAKE_WORKER WORKER_KIND=fake # the checks are vmms's; the worker only receives fds

P=$T/pool FW=$T/fw
mkdir -p "$P" "$FW"
head -c 262144 /dev/zero >"$FW/bios.bin"
cp "$FW/bios.bin" "$P/bios.bin"
truncate -s 4M "$P/web.img"
head -c 65536 /dev/zero >"$P/d.iso"
head -c 65536 /dev/zero >"$P/e.iso"
VMMS_POOLS= t_start_vmms --storage-pool="$P" --firmware-dir="$FW"

note "vmctl create without --kernel: a firmware VM, its disk on IDE, the DVD at the secondary master"
expect_rc 0 vmctl create --name=web --disk="$P/web.img" --firmware="$FW/bios.bin" --dvd="$P/d.iso" \
  --boot-order=dvd,disk
cfg=$(vm_prop web Config)
[ "$(echo "$cfg" | sed 's/\\"/"/g' | grep -o '"kind":"firmware"')" ] || fail "not a firmware VM: $cfg"
json=$(vmctl show web --json)
show_cfg() { vmctl show web --json | jq -r ".Config$1"; }
[ "$(show_cfg '.boot.kind')" = firmware ] || fail "boot kind: $json"
[ "$(show_cfg '.boot.firmware')" = "$FW/bios.bin" ] || fail "firmware: $json"
[ "$(show_cfg '.disks[0].bus')" = ide ] || fail "disk bus: $json"
[ "$(show_cfg '.disks[0].lun')" = 0 ] || fail "disk lun: $json"
[ "$(show_cfg '.dvd_drives[0].channel')" = 1 ] || fail "dvd channel: $json"
[ "$(show_cfg '.dvd_drives[0].path')" = "$P/d.iso" ] || fail "dvd path: $json"

note "Start: the worker gets the firmware image and the ISO as fds, read-only"
expect_rc 0 vmctl start web
wait_for 10 "the fds' report" console_has web "fake-vmwp: dvd 0:"
console_has web "fake-vmwp: file firmware: ino=$(stat -c %i "$FW/bios.bin") ro" || fail "firmware fd: $(console web)"
console_has web "fake-vmwp: dvd 0: ino=$(stat -c %i "$P/d.iso") ro" || fail "ISO fd: $(console web)"
expect_rc 0 vmctl kill web
wait_state web Off

note "kernel VMs stay as they were: SCSI disks, no firmware file"
K=$T/kernel && echo kernel >"$K" && cp "$K" "$P/kernel"
expect_rc 0 vmctl create --name=k1 --kernel="$P/kernel" --disk="$P/web.img,ro"
[ "$(vmctl show k1 --json | jq -r '.Config.disks[0].bus // "scsi"')" = scsi ] || fail "k1: $(vmctl show k1 --json)"
expect_rc 0 vmctl start k1
wait_state k1 Running
! console_has k1 "file firmware" || fail "a kernel VM got a firmware fd: $(console k1)"
expect_rc 0 vmctl kill k1

note "a firmware image outside the firmware directories is refused, whoever asks"
expect_rc 6 vmctl create --name=bad1 --disk="$P/web.img,ro" --firmware="$P/bios.bin"
echo "$LAST_OUT" | grep -qF "boot.firmware: $P/bios.bin: not in a firmware directory ($FW; vmms --firmware-dir adds one)" ||
  fail "firmware in a pool: $LAST_OUT"
expect_rc 6 vmctl create --name=bad2 --firmware=/etc/passwd
echo "$LAST_OUT" | grep -qF "boot.firmware: /etc/passwd: not in a firmware directory" || fail "/etc/passwd: $LAST_OUT"
ln -s /etc/shadow "$FW/shadow-link"
expect_rc 6 vmctl create --name=bad3 --firmware="$FW/shadow-link"
echo "$LAST_OUT" | grep -qF "leads out of $FW" || fail "symlink out of the firmware directory: $LAST_OUT"
expect_rc 4 vmctl create --name=bad4 --firmware="$FW/missing.bin"
echo "$LAST_OUT" | grep -qF "boot.firmware: $FW/missing.bin" || fail "missing firmware: $LAST_OUT"
expect_rc 4 vmctl create --name=bad4 --firmware="$FW/../pool/bios.bin"
echo "$LAST_OUT" | grep -qF "plain absolute path" || fail "dot-dot: $LAST_OUT"

note "an ISO outside the storage pools is refused"
expect_rc 6 vmctl create --name=bad5 --disk="$P/web.img,ro" --firmware="$FW/bios.bin" --dvd=/etc/passwd
echo "$LAST_OUT" | grep -qF "dvd_drives[0].path: /etc/passwd: not in a storage pool" || fail "ISO: $LAST_OUT"
expect_rc 6 vmctl edit web --dvd="$FW/bios.bin"
echo "$LAST_OUT" | grep -qF "dvd_drives[0].path: $FW/bios.bin: not in a storage pool" || fail "edit ISO: $LAST_OUT"

note "an ISO gone since Create: Start says which"
expect_rc 0 vmctl edit web --dvd="$P/e.iso"
rm "$P/e.iso"
expect_rc 1 vmctl start web
echo "$LAST_OUT" | grep -qF "dvd_drives[0].path: $P/e.iso" || fail "start without the ISO: $LAST_OUT"
[ "$(vm_prop web State)" = Off ] || fail "web is $(vm_prop web State)"

note "InsertDvd/EjectDvd on an Off VM: the configuration"
head -c 65536 /dev/zero >"$P/e.iso"
expect_rc 0 vmctl dvd eject web
[ "$(show_cfg '.dvd_drives[0].path')" = null ] || fail "eject (off): $(vmctl show web --json | jq .Config.dvd_drives)"
expect_rc 0 vmctl dvd insert web "$P/e.iso"
[ "$(show_cfg '.dvd_drives[0].path')" = "$P/e.iso" ] || fail "insert (off): $(vmctl show web --json | jq .Config.dvd_drives)"

note "on a running VM: the worker changes the disc (the ISO as an fd), the configuration follows"
expect_rc 0 vmctl start web
wait_for 10 "the ISO at start" console_has web "fake-vmwp: dvd 0: ino=$(stat -c %i "$P/e.iso") ro"
M=/org/vmstack/VMMS1 VP=$(vm_path web)
bus call org.vmstack.VMMS1 "$VP" org.vmstack.VMMS1.VM EjectDvd u 0 || fail "EjectDvd over D-Bus"
console_has web "fake-vmwp: dvd-eject drive 0" || fail "eject did not reach the worker: $(console web)"
[ "$(show_cfg '.dvd_drives[0].path')" = null ] || fail "eject (running): $(vmctl show web --json | jq .Config.dvd_drives)"
bus call org.vmstack.VMMS1 "$VP" org.vmstack.VMMS1.VM InsertDvd us 0 "$P/d.iso" || fail "InsertDvd over D-Bus"
console_has web "fake-vmwp: dvd-insert drive 0: ino=$(stat -c %i "$P/d.iso") ro $P/d.iso" ||
  fail "insert did not reach the worker: $(console web)"
[ "$(show_cfg '.dvd_drives[0].path')" = "$P/d.iso" ] || fail "insert (running): $(vmctl show web --json | jq .Config.dvd_drives)"
expect_rc 6 vmctl dvd insert web /etc/passwd
echo "$LAST_OUT" | grep -qF "dvd_drives[0].path: /etc/passwd: not in a storage pool" || fail "ISO out of the pools: $LAST_OUT"
expect_rc 4 vmctl dvd insert web "$P/e.iso" --drive=3
echo "$LAST_OUT" | grep -qF "has no DVD drive 3" || fail "no such drive: $LAST_OUT"
! console_has web "dvd-insert drive 3" || fail "a refused insert reached the worker"
[ "$(show_cfg '.dvd_drives[0].path')" = "$P/d.iso" ] || fail "a refused insert changed the configuration"
expect_rc 5 vmctl edit web --dvd="$P/e.iso"
echo "$LAST_OUT" | grep -qF "a running VM's DVD disc changes with InsertDvd, EjectDvd (vmctl dvd insert|eject)" ||
  fail "edit of a running VM's disc: $LAST_OUT"
expect_rc 0 vmctl pause web
expect_rc 5 vmctl dvd eject web
echo "$LAST_OUT" | grep -qF "EjectDvd is not possible while the VM is Paused" || fail "paused: $LAST_OUT"
expect_rc 0 vmctl resume web

note "the disc inserted while it ran is in after a restart"
expect_rc 0 vmctl kill web
wait_state web Off
expect_rc 0 vmctl start web
wait_for 10 "the ISO after the restart" sh -c "[ \$(grep -c 'fake-vmwp: dvd 0: ino=$(stat -c %i "$P/d.iso") ro' '$(vm_prop web ConsoleLog)') -ge 2 ]"
expect_rc 0 vmctl kill web

note "nothing refused was stored"
[ "$(ls "$T/state" | grep -c '\.json$')" = 2 ] || fail "VMs stored: $(ls "$T/state")"
alive "$VMMS_PID" || fail "vmms is gone"
echo "PASS"
