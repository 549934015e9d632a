#!/bin/bash
# SPDX-License-Identifier: MIT
# Checkpoints of a raw disk on a file system with reflinks (docs/checkpoints.md
# "Raw disks"), with the fake worker, on an XFS image of the test's own
# (reflink=1) mounted through a loop device:
#   an Off VM: take (a reflinked copy <disk>.<8 hex>.ckpt sharing the disk's
#     blocks: no space used), revert (the disk reads as it did, same size,
#     the copy stays for the checkpoint), delete (the copy goes, the disk
#     keeps its content);
#   a Running VM: saved, copied while paused, runs on with the same worker;
#     revert ends the worker and copies back;
#   a second checkpoint whose copy cannot be made (the file system full)
#     is refused with nothing left behind and the disk unchanged; a revert on
#     a full file system works (the disk's blocks go before the clone).
# Skips where loop devices or mkfs.xfs are missing (scripts/deps.sh installs
# xfsprogs).
set -u
source "$(dirname "$0")/vmms-lib.sh"
command -v mkfs.xfs >/dev/null || { echo "SKIP: mkfs.xfs missing (scripts/deps.sh installs xfsprogs)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: mounting the XFS image needs root"; exit 77; }
t_setup
VMMS_TEST_WORKER=fake t_pick_worker
X=$T/xfs
mkdir -p "$X"
truncate -s 320M "$T/xfs.img" && mkfs.xfs -q -m reflink=1 "$T/xfs.img" || fail "mkfs.xfs"
mount -o loop "$T/xfs.img" "$X" 2>"$T/mount.err" || { echo "SKIP: cannot mount a loop device: $(cat "$T/mount.err")"; exit 77; }
t_on_exit "umount -l '$X'"
# its own pool: a path policy never crosses a mount point
VMMS_POOLS="--storage-pool=$X --storage-pool=$T --storage-pool=$VM_BUILD_DIR" t_start_vmms
disk_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["disks"][0]["path"])' "$T/state/$(vm_prop "$1" Id).json"; }
# byte FILE OFFSET: the byte there, as a number
byte() { od -An -tu1 -j "$2" -N1 "$1" | tr -d ' '; }
# fill FILE OFFSET COUNT BYTE: COUNT bytes of BYTE at OFFSET (as the guest writes)
fill() { python3 -c 'import os,sys; f=os.open(sys.argv[1],os.O_WRONLY); os.pwrite(f,bytes([int(sys.argv[4])])*int(sys.argv[3]),int(sys.argv[2])); os.fsync(f)' "$@"; }
used_kib() { df -k --output=used "$X" | tail -1 | tr -d ' '; }
copies() { (cd "$X" && ls | grep '\.ckpt$' | tr '\n' ' '); }

D=$X/r.img
truncate -s 64M "$D" && fill "$D" 0 $((64 << 20)) 1 || fail "cannot make r.img"
t_create c1 "" ",\"disks\":[{\"path\":\"$D\"}]"

note "Off: take 'one': a reflinked copy, no space used"
before=$(used_kib)
expect_rc 0 vmctl checkpoint c1 one
[ "$(disk_of c1)" = "$D" ] || fail "a raw disk stays the VM's disk: $(disk_of c1)"
copy=$(ls "$X"/r.img.*.ckpt 2>/dev/null)
[ -n "$copy" ] && [ "$(copies)" = "$(basename "$copy") " ] || fail "copies after a take: $(copies)"
cmp -s "$D" "$copy" || fail "the copy differs from the disk"
grown=$(( $(used_kib) - before ))
[ "$grown" -lt 4096 ] || fail "the copy took $grown KiB: not shared"
[ "$(stat -c %U:%a "$copy")" = "$(stat -c %U:%a "$D")" ] || [ "$(stat -c %U "$copy")" = "$(stat -c %U "$D")" ] ||
  fail "the copy's owner: $(stat -c %U "$copy"), the disk's: $(stat -c %U "$D")"

note "the guest writes; revert to 'one': the disk reads as it did"
fill "$D" 4096 8192 2 && fill "$D" $((60 << 20)) 4096 3 || fail "fill"
expect_rc 0 vmctl revert c1 one
[ "$(byte "$D" 4096)" = 1 ] && [ "$(byte "$D" $((60 << 20)))" = 1 ] || fail "after the revert: $(byte "$D" 4096) $(byte "$D" $((60 << 20)))"
[ "$(stat -c %s "$D")" = $((64 << 20)) ] || fail "size after the revert: $(stat -c %s "$D")"
cmp -s "$D" "$copy" || fail "the disk differs from the checkpoint's copy after the revert"
[ -e "$copy" ] || fail "the revert used up the checkpoint's copy"

note "Running: saved, copied while paused, runs on; revert ends the worker and copies back"
expect_rc 0 vmctl start c1 --timeout=30
pid=$(vm_prop c1 WorkerPid)
fill "$D" 0 4096 4 || fail "fill"
expect_rc 0 vmctl checkpoint c1 live
[ "$(vm_prop c1 State)" = Running ] && [ "$(vm_prop c1 WorkerPid)" = "$pid" ] || fail "after a live checkpoint: $(vm_prop c1 State)"
live=$(ls -t "$X"/r.img.*.ckpt | head -1)
[ "$live" != "$copy" ] && [ "$(byte "$live" 0)" = 4 ] || fail "the live checkpoint's copy: $live $(byte "$live" 0)"
fill "$D" 0 4096 5 || fail "fill"
expect_rc 0 vmctl revert c1 live
wait_state c1 Running 30
[ "$(vm_prop c1 WorkerPid)" != "$pid" ] || fail "the same worker after a revert"
[ "$(byte "$D" 0)" = 4 ] || fail "after reverting to live: $(byte "$D" 0)"
expect_rc 0 vmctl kill c1

note "a copy that does not fit (the file system full) is refused; nothing is left, the disk unchanged"
expect_rc 0 vmctl revert c1 one
# Fill the file system: a reflink needs new metadata blocks, the copy
# itself needs none, so fallocate most of what is left.
fallocate -l $(( ($(df -k --output=avail "$X" | tail -1) - 64) * 1024 )) "$X/ballast" 2>/dev/null
sum=$(md5sum <"$D")
n=$(copies)
if vmctl checkpoint c1 full >"$T/full.out" 2>&1; then
  note "(the file system still had room for the copy's metadata: taken)"
  expect_rc 0 vmctl checkpoint-delete c1 full
else
  grep -q "cannot checkpoint VM .c1.: .*No space left on device" "$T/full.out" || fail "the refusal: $(cat "$T/full.out")"
  [ "$(copies)" = "$n" ] || fail "a refused take left: $(copies) (before: $n)"
fi
[ "$(md5sum <"$D")" = "$sum" ] || fail "the disk changed"
rm -f "$X/ballast"
note "a revert on a full file system works: the disk's own blocks go before the clone"
fill "$D" 0 $((64 << 20)) 6 || fail "fill" # every block the disk's own again
fallocate -l $(( ($(df -k --output=avail "$X" | tail -1) - 16) * 1024 )) "$X/ballast2" 2>/dev/null
[ "$(df -k --output=avail "$X" | tail -1)" -lt 1024 ] || fail "the file system is not full: $(df -k "$X")"
expect_rc 0 vmctl revert c1 one
[ "$(byte "$D" 0)" = 1 ] && cmp -s "$D" "$copy" || fail "after the revert: $(byte "$D" 0)"
rm -f "$X/ballast2"

note "delete both: their copies go, the disk keeps its content"
expect_rc 0 vmctl checkpoint-delete c1 live
expect_rc 0 vmctl checkpoint-delete c1 one
[ -z "$(copies)" ] || fail "copies left: $(copies)"
[ "$(byte "$D" 4096)" = 1 ] || fail "the disk after the deletes: $(byte "$D" 4096)"
expect_rc 0 vmctl delete c1
echo PASS
