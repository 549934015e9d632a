#!/bin/bash
# SPDX-License-Identifier: MIT
# Disks and NICs of a VM through vmms (docs/vmms.md "Disks and NICs of a
# running VM"): AttachDisk, DetachDisk, ResizeDisk, AttachNic and
# DetachNic, through vmctl and busctl, with the fake worker answering the
# worker's ops as vmwp does (vmms-fake-hotplug.c). A running VM: the image
# opened and locked for the worker (a VHDX with its parent), the stored
# configuration after each change (the index shift of a detach, a NIC's
# instance GUID kept, a new NIC's not the one of its index when that is
# taken), a detached image unlocked, TAPs made under free names, on a
# bridge, gone with their NIC (an admin's stays), a raw image grown and
# shrunk back when the worker refuses; the refusals (a paused VM, a bad
# index, shrinking, a VHDX, the same image or MAC again, IDE, a JSON that
# is not an entry, outside the pools, another change in progress, Save
# meanwhile), a worker that ends mid-change (nothing stored); a VM started
# without disks or NICs takes them ("hot_plug"); `vmctl show`; a restart
# keeps what was added. An Off VM: its configuration only (IDE too), the
# path policy, a resize of an image another VM runs with refused.
# vmms runs in a network namespace of its own, where its TAPs are made.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
VMMS_TEST_WORKER=fake
t_pick_worker
t_vmms_netns vmshp
ip -n "$NS" link add hpbr0 type bridge || fail "bridge"
t_start_vmms

I=$T/images
for f in a b c d e f g; do truncate -s 64M "$I/$f.img"; done
"$VMCTL_BIN" disk create "$I/base.vhdx" 64M >/dev/null || fail "vmctl disk create base.vhdx"
"$VMCTL_BIN" disk create "$I/child.avhdx" --parent="$I/base.vhdx" >/dev/null || fail "vmctl disk create child"

# The Config property (through vmctl show --json), the same way.
prop_cfg() {
  vmctl --json show "$1" | python3 -c 'import json,sys; c=json.load(sys.stdin)["Config"]; print(eval(sys.argv[1]))' "$2"
}
locked() { ! flock -n -x "$1" true; } # some process holds a lock on the image
vmpath() { vm_path "$1"; }

note "a running VM: attach a disk, a read-only one, a VHDX with its parent"
t_create h1 "" ",\"disks\":[{\"path\":\"$I/a.img\"}],\"nics\":[{\"mac\":\"00:15:5d:00:09:01\"}]"
expect_rc 0 vmctl start h1
wait_for 10 "h1 booted" console_has h1 "^fake-vmwp: nics\[0\] tap=vt"
TAP0=$(console h1 | sed -n 's/^fake-vmwp: nics\[0\] tap=\([^ ]*\) .*/\1/p' | head -1)
INST0=$(console h1 | sed -n 's/^fake-vmwp: nics\[0\] .* instance=\(.*\)$/\1/p' | head -1)
ip -n "$NS" link show "$TAP0" >/dev/null 2>&1 || fail "no TAP $TAP0"
expect_rc 0 vmctl disk attach h1 "$I/b.img"
echo "$LAST_OUT" | grep -q "^h1: disks\[1\] attached ($I/b.img)$" || fail "disk attach: $LAST_OUT"
console_has h1 "^fake-vmwp: disk-attach disks\[1\] $I/b.img rw parents=0 size=67108864$" ||
  fail "the worker's disk-attach: $(console h1 | grep disk-attach)"
[ "$(stored_cfg h1 'c["disks"][1]["path"], c["disks"][1]["lun"]')" = "('$I/b.img', 1)" ] ||
  fail "stored: the next free LUN: $(stored_cfg h1 'c["disks"]')"
locked "$I/b.img" || fail "b.img is not locked while the VM uses it"
expect_rc 0 vmctl --json disk attach h1 "$I/c.img,ro"
echo "$LAST_OUT" | grep -q '^{"index":2,"disk":{"path":"'"$I"'/c.img","read_only":true' || fail "--json: $LAST_OUT"
console_has h1 "^fake-vmwp: disk-attach disks\[2\] $I/c.img ro parents=0" || fail "read-only: $(console h1 | grep disk-attach)"
expect_rc 0 vmctl disk attach h1 "$I/child.avhdx,controller=1"
console_has h1 "^fake-vmwp: disk-attach disks\[3\] $I/child.avhdx rw parents=1" ||
  fail "a VHDX with its parent: $(console h1 | grep disk-attach)"
[ "$(stored_cfg h1 'c["disks"][3]["controller"], c["disks"][3]["lun"], c["disks"][3]["format"]')" = "(1, 0, 'vhdx')" ] ||
  fail "stored VHDX: $(stored_cfg h1 'c["disks"][3]')"
[ "$(prop_cfg h1 'len(c["disks"])')" = 4 ] || fail "Config property: $(prop_cfg h1 'c["disks"]')"

note "the refusals of a running VM"
expect_rc 10 vmctl disk attach h1 "$I/a.img"
echo "$LAST_OUT" | grep -q "disks\[4\].path: $I/a.img is disks\[0\] already" || fail "the same image: $LAST_OUT"
expect_rc 10 vmctl disk attach h1 "$I/d.img,lun=0"
echo "$LAST_OUT" | grep -q "disks\[4\].lun: duplicates disks\[0\]" || fail "the same LUN: $LAST_OUT"
expect_rc 4 vmctl disk attach h1 "$I/d.img,bus=ide"
echo "$LAST_OUT" | grep -q "IDE disks cannot be added to a running VM" || fail "IDE: $LAST_OUT"
expect_rc 4 vmctl disk attach h1 "$I/d.img,sector-size=1000"
echo "$LAST_OUT" | grep -q "disks\[4\].sector_size: must be 512 or 4096" || fail "a field: $LAST_OUT"
expect_rc 4 vmctl disk attach h1 "$I/d.img,color=red"
echo "$LAST_OUT" | grep -q "unknown option \"color=red\"" || fail "a bad spec: $LAST_OUT"
expect_rc 6 vmctl disk attach h1 /etc/hostname
echo "$LAST_OUT" | grep -q "not in a storage pool" || fail "outside the pools: $LAST_OUT"
expect_rc 4 vmctl disk detach h1 9
echo "$LAST_OUT" | grep -q "disks\[9\]: no such disk (the VM has 4)" || fail "bad index: $LAST_OUT"
expect_rc 2 vmctl disk detach h1 first
expect_rc 4 vmctl disk resize h1 0 32M
echo "$LAST_OUT" | grep -q "holds 67108864 bytes; shrinking a disk is not supported" || fail "shrinking: $LAST_OUT"
expect_rc 4 vmctl disk resize h1 3 128M
echo "$LAST_OUT" | grep -q "child.avhdx): a differencing image has its parent's size (merge it first)" ||
  fail "a VHDX with checkpoints: $LAST_OUT"
expect_rc 4 vmctl disk resize h1 2 128M
echo "$LAST_OUT" | grep -q "disks\[2\] is read-only" || fail "read-only: $LAST_OUT"
out=$(bus call $(vm_iface h1) ResizeDisk ut 0 1000 2>&1) && fail "1000 bytes accepted"
echo "$out" | grep -q "not a size of whole 512-byte sectors" || fail "not whole sectors: $out"
out=$(gdbus call --address "$ADDR" --dest org.vmstack.VMMS1 --object-path "$(vm_path h1)" \
  --method org.vmstack.VMMS1.VM.AttachDisk '[1]' 2>&1) && fail "an array accepted"
echo "$out" | grep -q "org.vmstack.Error.InvalidConfig: cannot attach the disk to VM 'h1': disk: must be one JSON object" ||
  fail "not an entry: $out"
out=$(gdbus call --address "$ADDR" --dest org.vmstack.VMMS1 --object-path "$(vm_path h1)" \
  --method org.vmstack.VMMS1.VM.AttachDisk "{\"path\":\"$I/d.img\",\"path\":\"$I/e.img\"}" 2>&1) && fail "a key twice"
echo "$out" | grep -q "InvalidConfig.*path: appears twice" || fail "a key twice: $out"
expect_rc 0 vmctl pause h1
expect_rc 5 vmctl disk attach h1 "$I/d.img"
echo "$LAST_OUT" | grep -q "AttachDisk is not possible while the VM is Paused (possible in: Off, Running, Crashed); resume it first" ||
  fail "paused: $LAST_OUT"
expect_rc 5 vmctl nic detach h1 0
expect_rc 0 vmctl resume h1
[ "$(stored_cfg h1 'len(c["disks"])')" = 4 ] || fail "a refusal changed the configuration: $(stored_cfg h1 'c["disks"]')"
locked "$I/d.img" && fail "a refused image stayed open"

note "resize: the file grown as the caller, the worker told; a refusal shrinks it back"
expect_rc 0 vmctl disk resize h1 0 128M
[ "$(stat -c %s "$I/a.img")" = 134217728 ] || fail "a.img: $(stat -c %s "$I/a.img")"
console_has h1 "^fake-vmwp: disk-resize disks\[0\] size=134217728 grown=true$" || fail "the worker's resize"
expect_rc 7 vmctl disk resize h1 0 65G
echo "$LAST_OUT" | grep -q "more than this worker may write (65536 MiB)" || fail "past max_file_size: $LAST_OUT"
[ "$(stat -c %s "$I/a.img")" = 134217728 ] || fail "not shrunk back: $(stat -c %s "$I/a.img")"

note "NICs: a TAP under a free name, on a bridge"
expect_rc 0 vmctl nic attach h1 mac=00:15:5d:00:09:02,bridge=hpbr0
echo "$LAST_OUT" | grep -q "^h1: nics\[1\] attached (mac 00:15:5d:00:09:02)$" || fail "nic attach: $LAST_OUT"
line=$(console h1 | grep "^fake-vmwp: nic-attach nics\[1\] ") || fail "the worker's nic-attach: $(console h1 | tail -3)"
TAP1=$(echo "$line" | sed -n 's/.* tap=\([^ ]*\) .*/\1/p')
INST1=$(echo "$line" | sed -n 's/.* instance=\(.*\)$/\1/p')
ip -n "$NS" link show "$TAP1" | grep -q "master hpbr0" || fail "$TAP1 not on the bridge: $(ip -n "$NS" link show "$TAP1")"
[ "$(stored_cfg h1 'c["nics"][1]["instance"]')" = "$INST1" ] || fail "instance not stored: $(stored_cfg h1 'c["nics"]')"
[ "$(stored_cfg h1 '"tap" in c["nics"][1]')" = False ] || fail "vmms's TAP name stored: $(stored_cfg h1 'c["nics"][1]')"
expect_rc 10 vmctl nic attach h1 mac=00:15:5d:00:09:02
echo "$LAST_OUT" | grep -q "nics\[2\].mac: duplicates nics\[1\]" || fail "the same MAC: $LAST_OUT"
ip -n "$NS" tuntap add mode tap name hpadmin || fail "tuntap add"
expect_rc 0 vmctl nic attach h1 mac=00:15:5d:00:09:03,tap=hpadmin
console_has h1 "^fake-vmwp: nic-attach nics\[2\] tap=hpadmin queues=1" || fail "an admin's TAP"

note "detach: the later entries move down, the NICs keep their instances, the image is free"
expect_rc 0 vmctl disk detach h1 0
echo "$LAST_OUT" | grep -q "^h1: disks\[0\] detached" || fail "detach: $LAST_OUT"
console_has h1 "^fake-vmwp: disk-detach disks\[0\] $I/a.img$" || fail "the worker's detach"
locked "$I/a.img" && fail "a.img is still locked after its detach"
[ "$(stored_cfg h1 '[d["path"] for d in c["disks"]]')" = "['$I/b.img', '$I/c.img', '$I/child.avhdx']" ] ||
  fail "index shift: $(stored_cfg h1 'c["disks"]')"
expect_rc 0 vmctl nic detach h1 0
ip -n "$NS" link show "$TAP0" >/dev/null 2>&1 && fail "vmms's TAP $TAP0 outlived its NIC"
[ "$(stored_cfg h1 '[n["mac"] for n in c["nics"]], c["nics"][0]["instance"]')" = "(['00:15:5d:00:09:02', '00:15:5d:00:09:03'], '$INST1')" ] ||
  fail "NIC shift: $(stored_cfg h1 'c["nics"]')"
expect_rc 0 vmctl nic detach h1 1
ip -n "$NS" link show hpadmin >/dev/null 2>&1 || fail "the admin's TAP went with its NIC"
expect_rc 0 vmctl nic attach h1 mac=00:15:5d:00:09:04
line=$(console h1 | grep "^fake-vmwp: nic-attach nics\[1\] " | tail -1)
INST2=$(echo "$line" | sed -n 's/.* instance=\(.*\)$/\1/p')
[ -n "$INST2" ] && [ "$INST2" != "$INST1" ] || fail "the new NIC took nics[0]'s instance: $line"
[ "$(echo "$line" | sed -n 's/.* tap=\([^ ]*\) .*/\1/p')" != "$TAP1" ] || fail "the new NIC took $TAP1's name: $line"

note "vmctl show lists them"
expect_rc 0 vmctl show h1
echo "$LAST_OUT" | grep -q "^Disks  *\[0\] $I/b.img (scsi 0:1, raw, rw)$" || fail "show disks: $LAST_OUT"
echo "$LAST_OUT" | grep -q "^  *\[2\] $I/child.avhdx (scsi 1:0, vhdx, rw)$" || fail "show disks: $LAST_OUT"
echo "$LAST_OUT" | grep -q "^NICs  *\[0\] 00:15:5d:00:09:02, bridge hpbr0 (instance $INST1)$" || fail "show NICs: $LAST_OUT"

note "one change at a time; Save waits for it"
t_create h2 "fake.hotplug_ms=3000" ",\"disks\":[{\"path\":\"$I/e.img\"}]"
expect_rc 0 vmctl start h2
wait_state h2 Running
bg vmctl disk attach h2 "$I/f.img"
wait_for 10 "the first change under way" console_has h2 "^fake-vmwp: hot-plug op waits$"
expect_rc 11 vmctl disk detach h2 0
echo "$LAST_OUT" | grep -q "another change of its disks or NICs is in progress" || fail "a second change: $LAST_OUT"
expect_rc 11 vmctl save h2
wait_bg
[ "$(stored_cfg h2 '[d["path"] for d in c["disks"]]')" = "['$I/e.img', '$I/f.img']" ] || fail "h2: $(stored_cfg h2 'c["disks"]')"
expect_rc 0 vmctl kill h2
wait_state h2 Off

note "a worker that ends mid-change: nothing stored"
t_create h3 "fake.hotplug_die" ",\"disks\":[{\"path\":\"$I/g.img\"}]"
expect_rc 0 vmctl start h3
wait_state h3 Running
expect_rc 1 vmctl disk attach h3 "$I/f.img,ro"
echo "$LAST_OUT" | grep -q "the worker went away before it answered" || fail "a worker that died: $LAST_OUT"
wait_state h3 Crashed
[ "$(stored_cfg h3 'len(c["disks"])')" = 1 ] || fail "stored after the worker died: $(stored_cfg h3 'c["disks"]')"

note "a VM started without disks or NICs takes them (hot_plug)"
t_create h4 "" ""
expect_rc 0 vmctl start h4
wait_state h4 Running
expect_rc 0 vmctl disk attach h4 "$I/d.img"
expect_rc 0 vmctl nic attach h4
console_has h4 "^fake-vmwp: nic-attach nics\[0\] tap=vt" || fail "h4's NIC"
expect_rc 0 vmctl kill h4
wait_state h4 Off

note "an Off VM: its configuration only"
expect_rc 0 vmctl nic attach h4 mac=00:15:5d:00:09:05
expect_rc 0 vmctl disk attach h4 "$I/e.img,bus=ide"
[ "$(stored_cfg h4 '[(d["path"], d["bus"]) for d in c["disks"]], len(c["nics"])')" = "([('$I/d.img', 'scsi'), ('$I/e.img', 'ide')], 2)" ] ||
  fail "Off attach: $(stored_cfg h4 'c["disks"], c["nics"]')"
locked "$I/e.img" && fail "an Off VM's attach opened the image"
expect_rc 6 vmctl disk attach h4 /etc/hostname
expect_rc 0 vmctl nic detach h4 0
expect_rc 0 vmctl disk detach h4 0
[ "$(stored_cfg h4 '[d["path"] for d in c["disks"]], [n["mac"] for n in c["nics"]]')" = "(['$I/e.img'], ['00:15:5d:00:09:05'])" ] ||
  fail "Off detach: $(stored_cfg h4 'c["disks"], c["nics"]')"
expect_rc 0 vmctl disk resize h4 0 96M
[ "$(stat -c %s "$I/e.img")" = 100663296 ] || fail "Off resize: $(stat -c %s "$I/e.img")"
expect_rc 0 vmctl start h2
wait_state h2 Running
expect_rc 11 vmctl disk resize h4 0 128M
echo "$LAST_OUT" | grep -q "e.img is in use by another VM" || fail "an image another VM runs with: $LAST_OUT"
expect_rc 0 vmctl kill h2

note "a VHDX disk grows by its metadata: an Off VM's by vmms, a running VM's by its worker"
"$VMCTL_BIN" disk create "$I/g.vhdx" 64M >/dev/null || fail "vmctl disk create g.vhdx"
t_create h5 "" ",\"disks\":[{\"path\":\"$I/g.vhdx\",\"format\":\"vhdx\"}]"
expect_rc 0 vmctl disk resize h5 0 96M
"$VMCTL_BIN" disk info "$I/g.vhdx" | grep -q "^virtual size: .*(100663296 bytes)" ||
  fail "Off VHDX resize: $("$VMCTL_BIN" disk info "$I/g.vhdx")"
expect_rc 4 vmctl disk resize h5 0 32M
echo "$LAST_OUT" | grep -q "from its 100663296 bytes" || fail "shrinking a VHDX: $LAST_OUT"
expect_rc 0 vmctl start h5
wait_state h5 Running
expect_rc 0 vmctl disk resize h5 0 160M
console_has h5 "^fake-vmwp: disk-resize disks\[0\] size=167772160 grown=true$" || fail "the worker's VHDX resize"
"$VMCTL_BIN" disk info "$I/g.vhdx" | grep -q "^virtual size: .*(167772160 bytes)" ||
  fail "running VHDX resize: $("$VMCTL_BIN" disk info "$I/g.vhdx")"
if command -v qemu-img >/dev/null; then
  qemu-img check -q -f vhdx "$I/g.vhdx" || fail "qemu-img check of the grown VHDX"
fi
expect_rc 0 vmctl kill h5

note "a restart keeps what was added"
expect_rc 0 vmctl stop h1
wait_state h1 Off
expect_rc 0 vmctl start h1
wait_state h1 Running
wait_for 5 "h1 booted again" sh -c "[ \$(grep -c 'booting (3 disks, 2 nics)' '$(vm_prop h1 ConsoleLog)') -ge 1 ]"
log=$(console h1 | sed -n '/booting (3 disks, 2 nics)/,$p')
echo "$log" | grep -q "^fake-vmwp: disks\[2\] $I/child.avhdx$" || fail "restart: disks: $log"
echo "$log" | grep -q "^fake-vmwp: nics\[0\] tap=.* instance=$INST1$" || fail "restart: nics[0]'s instance: $log"
echo "$log" | grep -q "^fake-vmwp: nics\[1\] tap=.* instance=$INST2$" || fail "restart: nics[1]'s instance: $log"
expect_rc 0 vmctl kill h1

note "vmms holds no image or TAP open"
all=$(ls -l "/proc/$VMMS_PID/fd") && grep -q socket: <<<"$all" || fail "cannot list vmms's fds"
fds=$(grep -E "$I/|/dev/net/tun" <<<"$all")
[ -z "$fds" ] || fail "vmms kept fds open: $fds"

note "introspection"
bus introspect org.vmstack.VMMS1 "$(vm_path h1)" org.vmstack.VMMS1.VM | grep -q '^\.AttachDisk  *method  *s  *u ' ||
  fail "AttachDisk not introspected"
echo PASS
