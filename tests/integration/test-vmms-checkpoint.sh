#!/bin/bash
# SPDX-License-Identifier: MIT
# Checkpoints through vmms and vmctl (docs/checkpoints.md) with the fake
# worker, which saves, takes "disk-push" and prints what it got: the disk
# logic is vmms's, checked byte for byte through the images' chains:
#   an Off VM: take (a child per VHDX disk, the VM goes on on it), revert
#     (the disk reads as it did then, the discarded present image goes),
#     delete (the present image merges into a parent nothing else needs,
#     until the VM is on its own image again; qemu-img finds it clean);
#   a Saved VM: the checkpoint keeps its state, the VM's own is consumed;
#   a Running VM: saved, the worker moves onto the children (disk-push) and
#     runs on; an Update meanwhile is Busy (the take would undo it); a
#     failing push leaves everything as it was; revert kills it,
#     brings the state back and starts it; a delete merges once it stops;
#   production checkpoints: the guest frozen (VSS) around the push, no
#     state, a revert boots; a guest that cannot freeze gets a standard one
#     (production) or a refusal (production-only); one that cannot thaw
#     keeps its checkpoint; checkpoint_type's default and "disabled"; a
#     worker that dies during a take leaves nothing behind and no Busy VM;
#   refused: a raw disk without reflinks (nothing left behind), a name
#     taken, an unknown checkpoint, migration of a VM with checkpoints;
#     a merge stopped by vmms's end completes when vmms starts again;
#     the tree survives a vmms restart; a damaged index is a Problem and
#     refuses checkpoint operations; deleting the VM removes its index.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
VMMS_TEST_WORKER=fake t_pick_worker
H=$VM_BUILD_DIR/tests/vhdx-test-helper
[ -x "$H" ] || fail "$H is not built"
command -v qemu-img >/dev/null || { echo "SKIP: qemu-img missing (scripts/deps.sh installs qemu-utils)"; exit 77; }
t_start_vmms
I=$T/images
byte() { "$H" byte "$1" "$2"; }            # IMAGE KIB: the byte the disk reads there
# the VM's first disk as vmms stored its configuration
disk_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["disks"][0]["path"])' "$T/state/$(vm_prop "$1" Id).json"; }
nckpt() { busctl --address="$ADDR" get-property org.vmstack.VMMS1 "$(vm_path "$1")" org.vmstack.VMMS1.Checkpoints Count | cut -d' ' -f2; }
images() { (cd "${1:-$I}" && ls | grep -v '^kernel$' | sort | tr '\n' ' '); }

$H dynamic "$I/d.vhdx" 16 || fail "cannot make d.vhdx"
$H fill "$I/d.vhdx" 0 1 || fail "fill"
t_create c1 "" ",\"disks\":[{\"path\":\"$I/d.vhdx\"}]"

note "Off: take 'one', write, take 'two', write"
expect_rc 0 vmctl checkpoint c1 one
d1=$(disk_of c1)
[[ "$d1" == "$I/d_"*.avhdx ]] || fail "the VM's disk after a checkpoint: $d1"
[ "$(byte "$d1" 0)" = 1 ] || fail "the child reads $(byte "$d1" 0), not its parent's 1"
$H fill "$d1" 0 2 || fail "fill"
expect_rc 0 vmctl checkpoint c1 two
d2=$(disk_of c1)
$H fill "$d2" 0 3 && $H fill "$d2" 8 3 || fail "fill"
[ "$(nckpt c1)" = 2 ] || fail "Count: $(nckpt c1)"
expect_rc 0 vmctl checkpoints c1
echo "$LAST_OUT" | grep -q "^one " || fail "list: $LAST_OUT"
echo "$LAST_OUT" | grep -q "└─ two .*<- now" || fail "list: $LAST_OUT"
expect_rc 0 vmctl --json checkpoints c1
[ "$(echo "$LAST_OUT" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 2 ] || fail "json list: $LAST_OUT"

note "revert to 'one': the disk reads 1 again, the discarded image goes"
expect_rc 0 vmctl revert c1 one
[ "$(vm_prop c1 State)" = Off ] || fail "State after the revert: $(vm_prop c1 State)"
r1=$(disk_of c1)
[ "$(byte "$r1" 0)" = 1 ] && [ "$(byte "$r1" 8)" = 0 ] || fail "after reverting to one: $(byte "$r1" 0) $(byte "$r1" 8)"
[ ! -e "$d2" ] || fail "the discarded present image $d2 is still there"
[ -e "$d1" ] || fail "two's image $d1 went"
expect_rc 0 vmctl revert c1 two
r2=$(disk_of c1)
[ "$(byte "$r2" 0)" = 2 ] || fail "after reverting to two: $(byte "$r2" 0)"
$H fill "$r2" 4 4 || fail "fill"

note "delete 'two': the present image merges into two's image, which the VM goes on on"
expect_rc 0 vmctl checkpoint-delete c1 two
[ "$(disk_of c1)" = "$d1" ] || fail "after deleting two the VM is on $(disk_of c1), not $d1"
[ ! -e "$r2" ] || fail "the merged image $r2 is still there"
[ "$(byte "$d1" 0)" = 2 ] && [ "$(byte "$d1" 4)" = 4 ] || fail "after the merge: $(byte "$d1" 0) $(byte "$d1" 4)"
note "delete 'one': the VM is on its own image again, which holds everything"
expect_rc 0 vmctl checkpoint-delete c1 one
[ "$(disk_of c1)" = "$I/d.vhdx" ] || fail "after deleting one: $(disk_of c1)"
[ "$(images)" = "d.vhdx " ] || fail "images left: $(images)"
[ "$(byte "$I/d.vhdx" 0)" = 2 ] && [ "$(byte "$I/d.vhdx" 4)" = 4 ] && [ "$(byte "$I/d.vhdx" 8)" = 0 ] ||
  fail "d.vhdx after both merges: $(byte "$I/d.vhdx" 0) $(byte "$I/d.vhdx" 4) $(byte "$I/d.vhdx" 8)"
qemu-img check -q "$I/d.vhdx" || fail "qemu-img check d.vhdx"
[ "$(nckpt c1)" = 0 ] || fail "Count: $(nckpt c1)"

note "Saved: the checkpoint keeps the state; the VM's own is consumed at start"
expect_rc 0 vmctl start c1 --timeout=30
expect_rc 0 vmctl save c1
expect_rc 0 vmctl checkpoint c1 saved
ls "$T/state/$(vm_prop c1 Id).checkpoints/"*.vmrs >/dev/null 2>&1 || fail "no state in the checkpoint"
expect_rc 0 vmctl start c1 --timeout=30
[ -e "$T/state/$(vm_prop c1 Id).vmrs" ] && fail "the VM's saved state was not consumed"
ls "$T/state/$(vm_prop c1 Id).checkpoints/"*.vmrs >/dev/null 2>&1 || fail "the checkpoint's state went with the VM's"

note "Running: saved, moved onto the children by the worker, running on"
pid=$(vm_prop c1 WorkerPid)
expect_rc 0 vmctl checkpoint c1 live
[ "$(vm_prop c1 State)" = Running ] && [ "$(vm_prop c1 WorkerPid)" = "$pid" ] || fail "after a live checkpoint: $(vm_prop c1 State)"
live=$(disk_of c1)
wait_for 10 "the push" console_has c1 "fake-vmwp: disk-push disk 0 ino=$(stat -c %i "$live") rw"
flock -n -x "$live" true && fail "the new image is not locked while the worker uses it"

note "Running, an Update during a take: Busy, so the take cannot undo it"
# The take installs the configuration it began from, with the new disks:
# an Update between its start and its end would be lost, though answered.
U=$T/uimages # apart from c1's, whose merges are counted below
mkdir -p "$U"
$H dynamic "$U/s.vhdx" 16 || fail "cannot make s.vhdx"
t_create cu "fake.save_ms=3000" ",\"disks\":[{\"path\":\"$U/s.vhdx\"}],\"checkpoint_type\":\"standard\""
expect_rc 0 vmctl start cu --timeout=30
bg vmctl checkpoint cu slow
wait_for 10 "the take" sh -c "busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path cu)' org.vmstack.VMMS1.Checkpoints Operation | grep -q creating"
expect_rc 11 vmctl edit cu --stop-timeout=77
echo "$LAST_OUT" | grep -q "VM 'cu': a checkpoint operation is in progress; try again when it is done" || fail "edit during a take: $LAST_OUT"
wait_bg
[ "$(nckpt cu)" = 1 ] || fail "Count after the slow take: $(nckpt cu)"
expect_rc 0 vmctl edit cu --stop-timeout=77
[ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stop_timeout_s"])' "$T/state/$(vm_prop cu Id).json")" = 77 ] ||
  fail "the Update after the take was not stored"
expect_rc 0 vmctl kill cu
expect_rc 0 vmctl delete cu

note "Running, the worker refuses the push: nothing changes, the VM runs on"
$H dynamic "$I/e.vhdx" 16 || fail "cannot make e.vhdx"
t_create c3 "fake.push_fail" ",\"disks\":[{\"path\":\"$I/e.vhdx\"}]"
expect_rc 0 vmctl start c3 --timeout=30
before=$(images)
expect_rc 1 vmctl checkpoint c3 nope
echo "$LAST_OUT" | grep -q "could not move its disks" || fail "push_fail: $LAST_OUT"
[ "$(images)" = "$before" ] || fail "a failed checkpoint left files: $before -> $(images)"
[ "$(disk_of c3)" = "$I/e.vhdx" ] && [ "$(vm_prop c3 State)" = Running ] || fail "after a failed checkpoint"
[ "$(nckpt c3)" = 0 ] || fail "Count after a failed checkpoint: $(nckpt c3)"
expect_rc 0 vmctl kill c3
expect_rc 0 vmctl delete c3
rm -f "$I/e.vhdx"

ckpt_field() { # VM NAME FIELD: a field of the checkpoint in vmctl --json checkpoints
  vmctl --json checkpoints "$1" | python3 -c 'import json,sys; print([c for c in json.load(sys.stdin) if c["name"] == sys.argv[1]][0][sys.argv[2]])' "$2" "$3"
}
note "production: freeze, push while frozen, thaw; no state; the VM runs on"
P=$T/pimages # apart from c1's, whose merges are counted below
mkdir -p "$P"
$H dynamic "$P/p.vhdx" 16 || fail "cannot make p.vhdx"
$H fill "$P/p.vhdx" 0 5 || fail "fill"
t_create c4 "fake.vss=1" ",\"disks\":[{\"path\":\"$P/p.vhdx\"}],\"integration\":{\"vss\":true}"
expect_rc 0 vmctl start c4 --timeout=30
pid4=$(vm_prop c4 WorkerPid)
expect_rc 0 vmctl checkpoint c4 p1 # checkpoint_type's default: production
[ "$(console c4 | grep -E '^fake-vmwp: (vss|disk-push frozen)' | tr '\n' '|')" = \
  "fake-vmwp: vss freeze|fake-vmwp: disk-push frozen|fake-vmwp: vss thaw|" ] ||
  fail "freeze, push, thaw: $(console c4 | grep fake-vmwp)"
[ "$(ckpt_field c4 p1 type)" = production ] && [ "$(ckpt_field c4 p1 has_state)" = False ] ||
  fail "p1: $(vmctl --json checkpoints c4)"
ls "$T/state/$(vm_prop c4 Id).checkpoints/"*.vmrs >/dev/null 2>&1 && fail "a production checkpoint kept a state"
[ "$(vm_prop c4 State)" = Running ] && [ "$(vm_prop c4 WorkerPid)" = "$pid4" ] || fail "after p1: $(vm_prop c4 State)"
expect_rc 0 vmctl checkpoints c4
echo "$LAST_OUT" | grep -q "^p1 .* production  *off " || fail "list: $LAST_OUT"
$H fill "$(disk_of c4)" 0 6 || fail "fill"
expect_rc 0 vmctl checkpoint c4 s1 --standard
[ "$(ckpt_field c4 s1 type)" = standard ] && [ "$(ckpt_field c4 s1 has_state)" = True ] || fail "s1: $(vmctl --json checkpoints c4)"
[ "$(console_count c4 '^fake-vmwp: vss')" = 2 ] || fail "a standard checkpoint asked the guest to freeze"
note "revert to a production checkpoint: the running VM is killed and boots from its disks"
expect_rc 0 vmctl revert c4 p1
wait_state c4 Running 30
[ "$(vm_prop c4 WorkerPid)" != "$pid4" ] || fail "the same worker after the revert"
[ "$(byte "$(disk_of c4)" 0)" = 5 ] || fail "p1's disk reads $(byte "$(disk_of c4)" 0), not 5"
console_has c4 "saved state" && fail "a production checkpoint's revert restored a state"
expect_rc 0 vmctl kill c4
expect_rc 0 vmctl checkpoint-delete c4 s1
expect_rc 0 vmctl checkpoint-delete c4 p1

note "a guest that cannot freeze: standard (production), refused (production-only); nor thaw: taken"
expect_rc 0 vmctl edit c4 --cmdline=fake.vss=2
expect_rc 0 vmctl start c4 --timeout=30
before=$(images "$P")
expect_rc 0 vmctl checkpoint c4 fb
[ "$(ckpt_field c4 fb type)" = standard ] && [ "$(ckpt_field c4 fb has_state)" = True ] || fail "fb: $(vmctl --json checkpoints c4)"
grep -q "no production checkpoint (the guest could not freeze its file systems" "$T/vmms.log" || fail "no warning for the fallback"
before=$(images "$P")
expect_rc 1 vmctl checkpoint c4 po --production-only
echo "$LAST_OUT" | grep -q "production-only checkpoint needs the guest's file systems frozen" || fail "po: $LAST_OUT"
[ "$(images "$P")" = "$before" ] && [ "$(nckpt c4)" = 1 ] || fail "a refused production-only checkpoint left: $(images "$P")"
[ "$(vm_prop c4 State)" = Running ] || fail "after po: $(vm_prop c4 State)"
expect_rc 0 vmctl kill c4
expect_rc 0 vmctl edit c4 --cmdline=fake.vss=3
expect_rc 0 vmctl start c4 --timeout=30
expect_rc 0 vmctl checkpoint c4 nothaw
[ "$(ckpt_field c4 nothaw type)" = production ] || fail "nothaw: $(vmctl --json checkpoints c4)"
grep -q "the guest could not thaw its file systems" "$T/vmms.log" || fail "no warning for the failed thaw"
note "no VSS service: production-only is refused at once; checkpoint_type disabled refuses all"
expect_rc 0 vmctl kill c4
expect_rc 0 vmctl edit c4 --patch=- <<<'{"integration":{"vss":false}}'
expect_rc 0 vmctl start c4 --timeout=30
expect_rc 5 vmctl checkpoint c4 po --production-only
echo "$LAST_OUT" | grep -q "without the backup (VSS) integration service" || fail "po without vss: $LAST_OUT"
expect_rc 0 vmctl edit c4 --checkpoint-type=disabled # while it runs
expect_rc 5 vmctl checkpoint c4 off
echo "$LAST_OUT" | grep -q "checkpoints are disabled" || fail "disabled: $LAST_OUT"
expect_rc 1 bus call org.vmstack.VMMS1 "$(vm_path c4)" org.vmstack.VMMS1.Checkpoints Create sa{sv} x 1 type s disabled
echo "$LAST_OUT" | grep -q "type 'disabled' (production, production-only or standard)" || fail "type disabled: $LAST_OUT"
expect_rc 0 vmctl kill c4

note "the worker dies during a take: undone, the VM is not left Busy"
$H dynamic "$P/k.vhdx" 16 || fail "cannot make k.vhdx"
# The save takes 30 s unless killed: the kill lands inside it however slow
# the wait for "creating" is (an ASan build at a load of 15 once needed 4 s).
t_create c5 "fake.save_ms=30000" ",\"disks\":[{\"path\":\"$P/k.vhdx\"}]"
expect_rc 0 vmctl start c5 --timeout=30
before=$(images "$P")
vmctl checkpoint c5 k >"$T/k.out" 2>&1 &
bg=$!
wait_for 10 "the take" sh -c "busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path c5)' org.vmstack.VMMS1.Checkpoints Operation | grep -q creating"
expect_rc 0 vmctl kill c5
wait $bg && fail "the checkpoint succeeded with its worker killed: $(cat "$T/k.out")"
grep -q "the worker ended during the checkpoint" "$T/k.out" || fail "killed take: $(cat "$T/k.out")"
[ "$(images "$P")" = "$before" ] && [ "$(nckpt c5)" = 0 ] && [ "$(disk_of c5)" = "$P/k.vhdx" ] ||
  fail "a killed take left: $(images "$P"), $(disk_of c5)"
ls "$T/state/$(vm_prop c5 Id).checkpoints/"*.vmrs* >/dev/null 2>&1 && fail "a killed take left its state file"
expect_rc 0 vmctl start c5 --timeout=30
expect_rc 0 vmctl kill c5
expect_rc 0 vmctl delete c5

note "revert a running VM: killed, its state back, started again"
expect_rc 0 vmctl revert c1 saved
wait_state c1 Running 30
[ "$(vm_prop c1 WorkerPid)" != "$pid" ] || fail "the same worker after a revert"

note "delete while it runs: the merge waits for the worker's end"
expect_rc 0 vmctl checkpoint-delete c1 live
expect_rc 0 vmctl checkpoint-delete c1 saved
[ "$(nckpt c1)" = 0 ] || fail "Count: $(nckpt c1)"
expect_rc 0 vmctl stop c1 --timeout=30
wait_for 30 "the merges" sh -c "[ \"\$(cd '$I' && ls *.*vhdx)\" = d.vhdx ]"
wait_for 10 "the VM on its own image" grep -q "\"$I/d.vhdx\"" "$T/state/$(vm_prop c1 Id).json"
qemu-img check -q "$I/d.vhdx" || fail "qemu-img check d.vhdx"

note "refused: a raw disk without reflinks, a taken name, an unknown checkpoint, migration"
truncate -s 8M "$I/r.img"
t_create c2 "" ",\"disks\":[{\"path\":\"$I/r.img\"}]"
if cp --reflink=always "$I/r.img" "$T/probe" 2>/dev/null; then
  expect_rc 0 vmctl checkpoint c2 raw # this file system clones
else
  expect_rc 1 vmctl checkpoint c2 raw
  echo "$LAST_OUT" | grep -q "without reflinks.*vmctl disk convert" || fail "raw: $LAST_OUT"
  [ "$(cd "$I" && ls r.img*)" = r.img ] || fail "a refused raw checkpoint left: $(cd "$I" && ls r.img*)"
fi
expect_rc 0 vmctl checkpoint c1 first
expect_rc 10 vmctl checkpoint c1 first
expect_rc 4 vmctl revert c1 nosuch
expect_rc 4 vmctl checkpoint-delete c1 nosuch
expect_rc 4 vmctl checkpoint c1 "bad/name"
expect_rc 0 vmctl start c1 --timeout=30
expect_rc 5 vmctl migrate c1 127.0.0.1:1
echo "$LAST_OUT" | grep -q "has 1 checkpoint(s)" || fail "migrate: $LAST_OUT"
expect_rc 0 vmctl kill c1

note "a merge cut short by vmms's end goes on when vmms starts again"
$H dynamic "$P/m.vhdx" 640 && $H fill "$P/m.vhdx" 0 5 || fail "cannot make m.vhdx"
t_create c6 "" ",\"disks\":[{\"path\":\"$P/m.vhdx\"}]"
expect_rc 0 vmctl checkpoint c6 m1
m1=$(disk_of c6)
$H fill "$m1" 1024 6 $((512 * 1024)) || fail "fill" # 512 MiB in the child: a merge that takes a while
vmctl checkpoint-delete c6 m1 >"$T/m.out" 2>&1 &
bg=$!
wait_for 30 "the merge" sh -c "busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path c6)' \
  org.vmstack.VMMS1.Checkpoints Operation | grep -q merging || [ ! -e '$m1' ]"
t_stop_vmms
wait $bg
if grep -q "merge into .* stopped: vmms is ending" "$T/vmms.log"; then note "(stopped mid-merge)"; else note "(the merge ended first)"; fi
t_start_vmms
wait_for 60 "the merge after the restart" sh -c "[ ! -e '$m1' ] && grep -q '\"$P/m.vhdx\"' '$T/state/$(vm_prop c6 Id).json'"
[ "$(byte "$P/m.vhdx" 0)" = 5 ] && [ "$(byte "$P/m.vhdx" 1024)" = 6 ] && [ "$(byte "$P/m.vhdx" $((513 * 1024 - 4)))" = 6 ] &&
  [ "$(byte "$P/m.vhdx" $((513 * 1024)))" = 0 ] ||
  fail "m.vhdx after the merge: $(byte "$P/m.vhdx" 0) $(byte "$P/m.vhdx" 1024) $(byte "$P/m.vhdx" $((513 * 1024)))"
qemu-img check -q "$P/m.vhdx" || fail "qemu-img check m.vhdx"
expect_rc 0 vmctl delete c6
rm -f "$P/m.vhdx"

note "vmms restart: the tree is read back; a damaged index refuses checkpoint operations"
t_stop_vmms
t_start_vmms
[ "$(nckpt c1)" = 1 ] || fail "Count after a restart: $(nckpt c1)"
idx="$T/state/$(vm_prop c1 Id).checkpoints/index.json"
t_stop_vmms
echo '{"checkpoints": [' >"$idx"
t_start_vmms
expect_rc 0 vmctl host
bus get-property org.vmstack.VMMS1 /org/vmstack/VMMS1 org.vmstack.VMMS1.Manager Problems | grep -q "index.json" ||
  fail "no Problem for a damaged index"
expect_rc 1 vmctl checkpoint c1 after
echo "$LAST_OUT" | grep -q "checkpoint index is damaged" || fail "damaged: $LAST_OUT"
expect_rc 0 vmctl delete c1
[ ! -e "$(dirname "$idx")" ] || fail "the VM's checkpoint directory outlived it"
echo PASS
