#!/bin/bash
# SPDX-License-Identifier: MIT
# ExportSavedState/ImportSavedState (docs/vm-state.md "Export and import"),
# through vmctl export-saved/import-saved:
#   a Saved VM's state copied out (0600, as big as SavedStateSize, the VM
#     stays Saved), and with --config its configuration with its id; an
#     existing file kept unless --force; a VM that is not
#     Saved refused (5); a caller who may not manage VMs refused (6);
#   on "another host" (host B: a vmms of its own) the VM defined from the
#     exported configuration and made Saved from the file; Start resumes it:
#     the guest (a memory sweep that prints "dirty BAD" on a lost page)
#     goes on where it was saved, the state is consumed;
#   refused, leaving the VM Off and no file in the state directory: a
#     truncated state, a flipped byte (CRC), random bytes, an empty file, a
#     directory, a file larger than the VM's memory allows; a Running VM
#     refused (5); Start while an import runs: Busy, never a start inside it.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
t_pick_worker
t_start_vmms
read -r PB < <(t_free_ports 1)
t_host_b_start "$PB" --migration-insecure

if [ "$WORKER_KIND" = real ]; then
  printf '{"name":"x","memory_mib":64,"vcpus":1,"boot":{"kernel":"%s","cmdline":"w"}}' \
    "$VM_BUILD_DIR/tests/tg_vmwp_basic.elf" >"$T/x.json"
else
  vm_json x fake.vmstate >"$T/x.json"
fi
no_files() { # DIR ID: no state file or temporary left
  ! ls "$1" | grep -q "^$2\.vmrs" || fail "state files left: $(ls "$1")"
}

note "export-saved: a Saved VM's state copied out"
expect_rc 0 vmctl create "$T/x.json"
id=$(vm_prop x Id)
expect_rc 5 vmctl export-saved x "$T/x.vmrs"
echo "$LAST_OUT" | grep -q "ExportSavedState is not possible while the VM is Off" || fail "export of an Off VM: $LAST_OUT"
expect_rc 0 vmctl start x --timeout=60
t_sweeping "$ADDR" x
expect_rc 0 vmctl save x
size=$(vm_prop x SavedStateSize)
expect_rc 0 vmctl export-saved x "$T/x.vmrs"
echo "$LAST_OUT" | grep -q "x: saved state exported to $T/x.vmrs" || fail "vmctl said: $LAST_OUT"
[ "$(stat -c %s "$T/x.vmrs")" = "$size" ] || fail "exported $(stat -c %s "$T/x.vmrs") bytes, SavedStateSize $size"
[ "$(stat -c %a "$T/x.vmrs")" = 600 ] || fail "mode $(stat -c %a "$T/x.vmrs")"
cmp -s "$T/x.vmrs" "$T/state/$id.vmrs" || fail "the copy differs from the state file"
[ "$(vm_prop x State)" = Saved ] || fail "State after export: $(vm_prop x State)"
expect_rc 10 vmctl export-saved x "$T/x.vmrs"
expect_rc 0 vmctl export-saved x "$T/x.vmrs" --force --config="$T/x-b.json"
grep -q "\"id\": *\"$id\"" "$T/x-b.json" || fail "the exported configuration lacks the id: $(cat "$T/x-b.json")"
NOBODY=$(id -u nobody)
out=$(setpriv --reuid="$NOBODY" --regid="$(id -g nobody)" --clear-groups "$VMCTL_BIN" --address="$ADDR" \
  export-saved x /tmp/nobody-$$.vmrs 2>&1)
rc=$?
rm -f /tmp/nobody-$$.vmrs
[ $rc = 6 ] || fail "nobody's export: rc $rc: $out"

note "import-saved on another host: Start resumes the guest"
expect_rc 0 vmctlb create "$T/x-b.json" # the same id: a state fits its own VM's devices only
ADDR=$ADDRB expect_rc 0 vmctl import-saved x "$T/x.vmrs"
echo "$LAST_OUT" | grep -q "x: saved state imported" || fail "vmctl said: $LAST_OUT"
[ "$(vm_prop_b x State)" = Saved ] || fail "State on B: $(vm_prop_b x State)"
[ "$(vm_prop_b x SavedStateSize)" = "$size" ] || fail "SavedStateSize on B: $(vm_prop_b x SavedStateSize)"
idb=$(vm_prop_b x Id)
[ "$(stat -c %a "$B/state/$idb.vmrs")" = 600 ] || fail "B's state file: $(ls -l "$B/state")"
expect_rc 0 vmctl delete x # the copy here is not needed any more
ADDR=$ADDRB expect_rc 0 vmctl start x --timeout=60
echo "$LAST_OUT" | grep -q "resuming from its saved state" || fail "start on B: $LAST_OUT"
ADDR=$ADDRB wait_state x Running
t_sweeping "$ADDRB" x
no_files "$B/state" "$idb"
grep -q "vm x: saved state imported ($size bytes)" "$B/vmms.log" || fail "B's log: $(grep 'vm x' "$B/vmms.log" | tail -3)"

note "refused files leave the VM Off and nothing behind"
ADDR=$ADDRB expect_rc 0 vmctl kill x
ADDR=$ADDRB wait_state x Off,Crashed
head -c $((size / 2)) "$T/x.vmrs" >"$T/half.vmrs"
cp "$T/x.vmrs" "$T/flip.vmrs"
printf '\xff' | dd of="$T/flip.vmrs" bs=1 seek=$((size - 100)) conv=notrunc status=none
head -c "$size" /dev/urandom >"$T/random.vmrs"
: >"$T/empty.vmrs"
mkdir -p "$T/dir.vmrs"
truncate -s 2G "$T/huge.vmrs"
for f in half flip random; do
  ADDR=$ADDRB expect_rc 1 vmctl import-saved x "$T/$f.vmrs"
  echo "$LAST_OUT" | grep -q "import refused: the state file is not a complete saved state" || fail "$f: $LAST_OUT"
  [ "$(vm_prop_b x State)" != Saved ] || fail "$f: the VM is Saved"
  no_files "$B/state" "$idb"
done
ADDR=$ADDRB expect_rc 4 vmctl import-saved x "$T/empty.vmrs"
echo "$LAST_OUT" | grep -q "0 bytes; a saved state of this VM (64 MiB) is 1 to" || fail "empty: $LAST_OUT"
ADDR=$ADDRB expect_rc 4 vmctl import-saved x "$T/huge.vmrs"
echo "$LAST_OUT" | grep -q "2147483648 bytes; a saved state of this VM" || fail "huge: $LAST_OUT"
ADDR=$ADDRB expect_rc 4 vmctl import-saved x "$T/dir.vmrs"
echo "$LAST_OUT" | grep -q "not a regular file" || fail "dir: $LAST_OUT"
no_files "$B/state" "$idb"

note "a running VM refused; Start during an import: Busy"
ADDR=$ADDRB expect_rc 0 vmctl start x --timeout=60
ADDR=$ADDRB expect_rc 5 vmctl import-saved x "$T/x.vmrs"
ADDR=$ADDRB expect_rc 0 vmctl kill x
ADDR=$ADDRB wait_state x Off,Crashed
# A slow import: nearly the largest file this VM takes (zeros: refused
# at the end, after the copy). Start is tried once the import runs: Busy,
# or (if the import already ended) a start after it; vmms's log must never
# show a start between the import's beginning and its end.
big=$T/big.vmrs
truncate -s 300M "$big"
ADDR=$ADDRB bg vmctl import-saved x "$big"
path=$(ADDR=$ADDRB vm_path x)
busy=0
for _ in $(seq 500); do
  op=$(busctl --address="$ADDRB" get-property org.vmstack.VMMS1 "$path" org.vmstack.VMMS1.Checkpoints Operation 2>/dev/null)
  if [ "$op" = 's "importing"' ]; then
    out=$(vmctlb start x 2>&1); rc=$?
    [ $rc = 11 ] && echo "$out" | grep -q "an import of a saved state is in progress" && busy=1
    break
  fi
  grep -q "vm x: saved state import refused" "$B/vmms.log" && break
  sleep 0.01
done
wait_bg
awk '/vm x: importing a saved state/ { imp = 1 } /vm x: saved state import refused/ { imp = 0 }
     imp && /vm x: Off -> Starting/ { bad = 1 } END { exit bad }' "$B/vmms.log" || fail "x started during its import"
[ $busy = 1 ] || echo "(the import ended before Start could be tried during it)"
[ "$(vm_prop_b x State)" = Running ] && { ADDR=$ADDRB expect_rc 0 vmctl kill x; ADDR=$ADDRB wait_state x Off,Crashed; }
[ "$(vm_prop_b x State)" = Off ] || [ "$(vm_prop_b x State)" = Crashed ] || fail "after the refused import: $(vm_prop_b x State)"
no_files "$B/state" "$idb"
echo PASS
