#!/bin/bash
# SPDX-License-Identifier: MIT
# cloud-init seeds (issue #57, docs/vmms.md "cloud-init seeds"): `vmctl
# create --cloud-init=USER_DATA[,meta-data=F][,network-config=F]` sends
# the files' bytes (CreateVMWithCloudInit); vmms makes the NoCloud seed in
# its state directory and puts it in a DVD drive: the seed's label and
# files as blkid and xorriso read them, the default meta-data, the drive
# beside a --dvd disc, the worker getting the seed's fd at Start. Refused
# with the file named and nothing created: a user-data over 1 MiB, an empty
# one, a missing one, unknown keys; another VM's seed as a disc. Delete
# removes the seed.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
WORKER=$FAKE_WORKER WORKER_KIND=fake # the seed is vmms's; the worker only receives its fd

P=$T/pool FW=$T/fw S=$T/state
mkdir -p "$P" "$FW"
head -c 262144 /dev/zero >"$FW/bios.bin"
truncate -s 4M "$P/web.img" "$P/two.img"
head -c 65536 /dev/zero >"$P/d.iso"
printf '#cloud-config\nhostname: web\nwrite_files:\n- path: /run/seeded\n  content: yes\n' >"$T/ud"
printf 'version: 2\nethernets:\n  eth0:\n    dhcp4: true\n' >"$T/nc"
printf 'instance-id: two-1\nlocal-hostname: two\n' >"$T/md"
chmod 600 "$T/ud" # the caller's private file: vmctl reads it, vmms never opens it
VMMS_POOLS= t_start_vmms --storage-pool="$P" --firmware-dir="$FW"
show_cfg() { vmctl show "$1" --json | jq -r ".Config$2"; }
seeds() { ls "$S" | grep -c '\.cidata\.iso$'; }

note "create --cloud-init: the seed in the state directory, in the secondary master DVD drive"
expect_rc 0 vmctl create --name=web --disk="$P/web.img" --firmware="$FW/bios.bin" \
  --cloud-init="$T/ud,network-config=$T/nc"
id=$(vm_prop web Id)
seed=$S/$id.cidata.iso
[ "$(show_cfg web '.dvd_drives[0].path')" = "$seed" ] || fail "drive: $(vmctl show web --json | jq .Config.dvd_drives)"
[ "$(show_cfg web '.dvd_drives[0].channel')" = 1 ] || fail "channel: $(vmctl show web --json | jq .Config.dvd_drives)"
[ "$(show_cfg web '.dvd_drives[0].position')" = 0 ] || fail "position: $(vmctl show web --json | jq .Config.dvd_drives)"
[ "$(stat -c '%a %u' "$seed")" = "600 $(id -u)" ] || fail "seed mode/owner: $(stat -c '%a %u' "$seed")"
[ $(($(stat -c %s "$seed") % 2048)) = 0 ] || fail "seed size $(stat -c %s "$seed") is not whole 2 KiB blocks"

note "the seed as others read it: LABEL=cidata (blkid), the files by name (xorriso, osirrox)"
if command -v blkid >/dev/null; then
  [ "$(blkid -p -o value -s LABEL "$seed")" = cidata ] || fail "label: $(blkid -p "$seed")"
  [ "$(blkid -p -o value -s TYPE "$seed")" = iso9660 ] || fail "type: $(blkid -p "$seed")"
else
  echo "NOTE: blkid not installed (util-linux): the label is not checked"
fi
if command -v osirrox >/dev/null; then
  osirrox -indev "$seed" -extract / "$T/x" >/dev/null 2>&1 || fail "osirrox could not read the seed"
  [ "$(ls "$T/x" | tr '\n' ' ')" = "meta-data network-config user-data " ] || fail "files: $(ls "$T/x")"
  cmp -s "$T/x/user-data" "$T/ud" || fail "user-data differs"
  cmp -s "$T/x/network-config" "$T/nc" || fail "network-config differs"
  printf 'instance-id: "%s"\nlocal-hostname: "web"\n' "$id" | cmp -s - "$T/x/meta-data" ||
    fail "default meta-data: $(cat "$T/x/meta-data")"
else
  echo "NOTE: xorriso not installed (scripts/deps.sh): the files are not checked"
fi

note "Start: the worker gets the seed as the drive's fd"
expect_rc 0 vmctl start web
wait_for 10 "the seed's fd" console_has web "fake-vmwp: dvd 0:"
console_has web "fake-vmwp: dvd 0: ino=$(stat -c %i "$seed") ro" || fail "seed fd: $(console web)"
expect_rc 0 vmctl kill web
wait_state web Off

note "with --dvd and meta-data: the disc keeps the secondary master, the seed takes the slave"
expect_rc 0 vmctl create --name=two --disk="$P/two.img" --firmware="$FW/bios.bin" --dvd="$P/d.iso" \
  --cloud-init="$T/ud,meta-data=$T/md"
seed2=$S/$(vm_prop two Id).cidata.iso
[ "$(show_cfg two '.dvd_drives[0].path')" = "$P/d.iso" ] || fail "two's disc: $(vmctl show two --json | jq .Config.dvd_drives)"
[ "$(show_cfg two '.dvd_drives[1].path')" = "$seed2" ] || fail "two's seed: $(vmctl show two --json | jq .Config.dvd_drives)"
[ "$(show_cfg two '.dvd_drives[1].channel') $(show_cfg two '.dvd_drives[1].position')" = "1 1" ] ||
  fail "two's seed drive: $(vmctl show two --json | jq .Config.dvd_drives)"
if command -v osirrox >/dev/null; then
  osirrox -indev "$seed2" -extract / "$T/y" >/dev/null 2>&1 || fail "osirrox could not read two's seed"
  cmp -s "$T/y/meta-data" "$T/md" || fail "two's meta-data differs"
  [ ! -e "$T/y/network-config" ] || fail "two's seed has a network-config"
fi
expect_rc 0 vmctl start two
wait_for 10 "two's fds" console_has two "fake-vmwp: dvd 1:"
console_has two "fake-vmwp: dvd 1: ino=$(stat -c %i "$seed2") ro" || fail "two's seed fd: $(console two)"
expect_rc 0 vmctl kill two
wait_state two Off

note "refusals name the file, and nothing is created"
n=$(seeds)
head -c 1048577 /dev/zero | tr '\0' 'a' >"$T/big"
expect_rc 4 vmctl create --name=big --firmware="$FW/bios.bin" --cloud-init="$T/big"
echo "$LAST_OUT" | grep -qF "cloud-init user-data: larger than a seed file may hold (1048576 bytes, 1 MiB)" ||
  fail "too large: $LAST_OUT"
expect_rc 4 vmctl create --name=big --firmware="$FW/bios.bin" --cloud-init="$T/ud,network-config=$T/big"
echo "$LAST_OUT" | grep -qF "cloud-init network-config: larger than a seed file may hold" || fail "large nc: $LAST_OUT"
: >"$T/empty"
expect_rc 4 vmctl create --name=big --firmware="$FW/bios.bin" --cloud-init="$T/empty"
echo "$LAST_OUT" | grep -qF "cloud-init user-data: empty" || fail "empty: $LAST_OUT"
expect_rc 4 vmctl create --name=big --firmware="$FW/bios.bin" --cloud-init="$T/missing"
echo "$LAST_OUT" | grep -qF -- "--cloud-init: user-data $T/missing: No such file or directory" || fail "missing: $LAST_OUT"
expect_rc 4 vmctl create --name=big --firmware="$FW/bios.bin" --cloud-init="$T/ud,vendor-data=$T/md"
echo "$LAST_OUT" | grep -qF "'vendor-data' is not a seed file" || fail "unknown key: $LAST_OUT"
expect_rc 4 vmctl create --name=big --firmware="$FW/bios.bin" --cloud-init="meta-data=$T/md"
echo "$LAST_OUT" | grep -qF "needs the user-data file first" || fail "no user-data: $LAST_OUT"
M=/org/vmstack/VMMS1 I=org.vmstack.VMMS1.Manager
cfg='{"name":"big","boot":{"kind":"firmware","firmware":"'$FW/bios.bin'"}}'
out=$(bus call org.vmstack.VMMS1 $M $I CreateVMWithCloudInit 'sa{say}' "$cfg" 1 meta-data 1 65 2>&1) &&
  fail "no user-data over D-Bus was accepted"
echo "$out" | grep -qF "user-data is required" || fail "D-Bus without user-data: $out"
out=$(bus call org.vmstack.VMMS1 $M $I CreateVMWithCloudInit 'sa{say}' "$cfg" 1 ../x 1 65 2>&1) &&
  fail "an unknown key over D-Bus was accepted"
echo "$out" | grep -qF "'../x' is not a seed file" || fail "D-Bus unknown key: $out"
out=$(bus call org.vmstack.VMMS1 $M $I CreateVMWithCloudInit 'sa{say}' "$cfg" 2 user-data 1 65 user-data 1 66 2>&1) &&
  fail "user-data twice over D-Bus was accepted"
echo "$out" | grep -qF "user-data appears twice" || fail "D-Bus twice: $out"
# All four IDE positions taken: no drive for the seed (InvalidConfig, 4).
truncate -s 1M "$P/three.img"
expect_rc 4 vmctl create --name=big --firmware="$FW/bios.bin" --disk="$P/web.img,ro" --disk="$P/two.img,ro" \
  --disk="$P/three.img,ro,lun=3" --dvd="$P/d.iso" --cloud-init="$T/ud"
echo "$LAST_OUT" | grep -qF "no DVD drive without a disc and no free IDE position for the cloud-init seed" ||
  fail "no position: $LAST_OUT"
[ -z "$(vm_path big)" ] || fail "a refused create left the VM big"
[ "$(seeds)" = "$n" ] || fail "a refused create left a seed: $(ls "$S")"

note "a VM's seed is its own: another VM cannot take it as a disc, the VM itself can"
expect_rc 6 vmctl create --name=thief --firmware="$FW/bios.bin" --dvd="$seed"
echo "$LAST_OUT" | grep -qF "dvd_drives[0].path: $seed: not in a storage pool" || fail "thief: $LAST_OUT"
expect_rc 0 vmctl dvd eject web
[ "$(show_cfg web '.dvd_drives[0].path')" = null ] || fail "eject: $(vmctl show web --json | jq .Config.dvd_drives)"
[ -f "$seed" ] || fail "an eject removed the seed"
expect_rc 6 vmctl edit web --disk="$seed,ro" # a disk is no seed's drive: the pool rules
echo "$LAST_OUT" | grep -qF "disks[1].path: $seed: not in a storage pool" || fail "seed as a disk: $LAST_OUT"
expect_rc 0 vmctl dvd insert web "$seed"
[ "$(show_cfg web '.dvd_drives[0].path')" = "$seed" ] || fail "re-insert: $(vmctl show web --json | jq .Config.dvd_drives)"

note "delete removes the seed"
expect_rc 0 vmctl delete web
[ ! -e "$seed" ] || fail "the seed outlived its VM"
[ -e "$seed2" ] || fail "deleting web removed two's seed"
expect_rc 0 vmctl delete two
[ "$(seeds)" = 0 ] || fail "seeds left: $(ls "$S")"
alive "$VMMS_PID" || fail "vmms is gone"
echo "PASS"
