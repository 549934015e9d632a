#!/bin/bash
# SPDX-License-Identifier: MIT
# VHDX disks through vmms (docs/vmms.md "VHDX disks") with the fake worker,
# which prints each parent fd it received (inode and mode) on the console:
#   a differencing disk's chain arrives after all other fds, nearest parent
#     first, read-only, and stays locked shared while the VM runs (no writer,
#     neither another VM nor another process);
#   refused at start, naming the disk and the parent: a missing parent, a
#     parent changed since the child was made, a parent a writer holds
#     (another VM or a process with flock -x), a parent outside the storage
#     pools (an absolute locator), a parent the VM's owner may not read.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
command -v flock >/dev/null || { echo "SKIP: flock (util-linux) missing"; exit 77; }
command -v setpriv >/dev/null || { echo "SKIP: setpriv (util-linux) missing"; exit 77; }
VMMS_TEST_WORKER=fake t_pick_worker # the chain is vmms's; the worker only reports what it got
H=$VM_BUILD_DIR/tests/vhdx-test-helper
[ -x "$H" ] || fail "$H is not built"
GROUP=staff
GID=$(getent group $GROUP | cut -d: -f3)
[ -n "$GID" ] || { echo "SKIP: no group '$GROUP' to test with"; exit 77; }
NOBODY=$(id -u nobody)
t_start_vmms --group=$GROUP
I=$T/images
ino() { stat -c %i "$1"; }
disk() { printf ',"disks":[{"path":"%s"}]' "$1"; }
# refused VM PATTERN: Start fails and says PATTERN; the VM stays Off.
refused() {
  expect_rc 1 vmctl start "$1" --timeout=30
  echo "$LAST_OUT" | grep -qF -- "$2" || fail "start $1: expected '$2', got: $LAST_OUT"
  [ "$(vm_prop "$1" State)" = Off ] || fail "$1 is $(vm_prop "$1" State)"
}

$H dynamic "$I/base.vhdx" 16 && $H child "$I/base.vhdx" "$I/child.avhdx" base.vhdx &&
  $H child "$I/child.avhdx" "$I/grand.avhdx" ./child.avhdx || fail "cannot make the images"
truncate -s 16M "$I/raw.img"

note "a VM on a differencing disk gets its parent, read-only"
t_create v1 "" "$(disk "$I/child.avhdx")"
expect_rc 0 vmctl start v1 --timeout=30
wait_for 10 "v1's parent report" console_has v1 "fake-vmwp: disk 0 parent 0: ino=$(ino "$I/base.vhdx") ro"
[ "$(console_count v1 'parent [0-9]+:')" = 1 ] || fail "v1 got: $(console v1 | grep parent)"

note "while v1 runs its parent has readers only"
flock -n -x "$I/base.vhdx" true && fail "a writer could lock base.vhdx under v1"
flock -n -s "$I/base.vhdx" true || fail "a reader could not share base.vhdx"
t_create w1 "" "$(disk "$I/base.vhdx")"
refused w1 "disks[0].path: $I/base.vhdx is in use by another VM"

note "a chain whose parent another VM writes is refused"
t_create v2 "" ",\"disks\":[{\"path\":\"$I/raw.img\"},{\"path\":\"$I/grand.avhdx\",\"lun\":1,\"read_only\":true}]"
refused v2 "disks[1].path: $I/grand.avhdx: parent $I/child.avhdx is in use by another VM"

note "two parents, nearest first, after every other fd"
expect_rc 0 vmctl stop v1 --timeout=30
expect_rc 0 vmctl start v2 --timeout=30
wait_for 10 "v2's parent report" console_has v2 "fake-vmwp: disk 1 parent 1:"
console_has v2 "fake-vmwp: disk 1 parent 0: ino=$(ino "$I/child.avhdx") ro" || fail "v2: $(console v2 | grep parent)"
console_has v2 "fake-vmwp: disk 1 parent 1: ino=$(ino "$I/base.vhdx") ro" || fail "v2: $(console v2 | grep parent)"
console_has v2 "disk 0 parent" && fail "the raw disk got parents: $(console v2 | grep parent)"
expect_rc 0 vmctl stop v2 --timeout=30

note "a missing parent"
$H dynamic "$I/gone.vhdx" 16 && $H child "$I/gone.vhdx" "$I/orphan.avhdx" gone.vhdx || fail "images"
rm "$I/gone.vhdx"
t_create m1 "" "$(disk "$I/orphan.avhdx")"
refused m1 "disks[0].path: $I/orphan.avhdx: parent $I/gone.vhdx: No such file or directory"

note "a parent written since the child was made"
$H dynamic "$I/p2.vhdx" 16 && $H child "$I/p2.vhdx" "$I/c2.avhdx" p2.vhdx && $H write "$I/p2.vhdx" || fail "images"
t_create m2 "" "$(disk "$I/c2.avhdx")"
refused m2 "disks[0].path: $I/c2.avhdx: parent $I/p2.vhdx: the parent was changed after the differencing image was made"

note "a parent another process holds for writing"
# the locking shell becomes the sleep: killing it drops the lock
bash -c 'exec 9<"$1" && flock -x 9 && exec sleep 60' locker "$I/base.vhdx" &
LOCKER=$!
t_on_exit "kill $LOCKER"
wait_for 10 "the lock" sh -c "! flock -n -s '$I/base.vhdx' true"
refused v1 "disks[0].path: $I/child.avhdx: parent $I/base.vhdx is in use by another VM"
kill $LOCKER; wait $LOCKER 2>/dev/null
expect_rc 0 vmctl start v1 --timeout=30
expect_rc 0 vmctl stop v1 --timeout=30

note "a parent outside the storage pools (an absolute locator)"
OUT=$(mktemp -d /tmp/vmms-vhdx-outside.XXXXXX)
t_on_exit "rm -rf $OUT"
$H dynamic "$OUT/secret.vhdx" 16 && $H child "$OUT/secret.vhdx" "$I/escape.avhdx" - "$OUT/secret.vhdx" || fail "images"
t_create m3 "" "$(disk "$I/escape.avhdx")"
refused m3 "disks[0].path: $I/escape.avhdx: parent $OUT/secret.vhdx: not in a storage pool"

note "a parent the VM's owner may not read"
M=$I/member
mkdir -p "$M" && chown "$NOBODY" "$M"
$H dynamic "$M/private.vhdx" 16 && $H child "$M/private.vhdx" "$M/mine.avhdx" private.vhdx || fail "images"
chmod 600 "$M/private.vhdx" && chown "$NOBODY" "$M/mine.avhdx" && chmod 600 "$M/mine.avhdx"
vm_json m4 "" "$(disk "$M/mine.avhdx")" >"$T/m4.json"
as_member() { setpriv --reuid="$NOBODY" --regid="$(id -g nobody)" --groups="$GID" "$VMCTL_BIN" --address="$ADDR" "$@"; }
expect_rc 0 as_member create "$T/m4.json"
expect_rc 1 as_member start m4 --timeout=30
echo "$LAST_OUT" | grep -qF "disks[0].path: $M/mine.avhdx: parent $M/private.vhdx: permission denied for uid $NOBODY" ||
  fail "m4: $LAST_OUT"
chown "$NOBODY" "$M/private.vhdx" # now the owner's: it starts
expect_rc 0 as_member start m4 --timeout=30
wait_for 10 "m4's parent report" console_has m4 "fake-vmwp: disk 0 parent 0: ino=$(ino "$M/private.vhdx") ro"
echo "PASS"
