#!/bin/bash
# SPDX-License-Identifier: MIT
# Quick migration and the move of a Saved VM between two vmms
# (docs/migration.md "Quick migration"), host A (the usual test vmms) and
# host B (vmms-lib.sh's t_host_b_start) on loopback, with a guest that dirties and
# checks 12 MiB (tests/guests/vmwp_basic.S 'w': a lost write prints "dirty
# BAD"; its sweeps print dots, so its progress shows after each move):
#   a Running VM --quick A->B: Running on B, gone from A (configuration and
#     state file), the guest sweeps on without a bad page;
#   a Saved VM B->A without options: Saved on A (its .vmrs there, gone from
#     B); Start on A resumes it;
#   the save failing (fake worker only): the VM runs on, B hears nothing;
#   refused by B's policy (a VM of that name there): a Running VM is asked
#     about first and never paused (the same worker runs on, it was never
#     Saving), a Saved one stays Saved; B keeps nothing;
#   a Running VM's question to a destination that never answers, cancelled:
#     it runs on, never paused;
#   a fake source sending B a truncated file, random bytes with the right
#     CRC, a file with a wrong CRC: B refuses, keeps no VM and no file;
#   a source that ends the channel after B stored the VM (no "released"):
#     B keeps it Saved and never starts it (two Saved copies, by design);
#   CancelMigration against a destination that never answers: Saved here;
#   over TLS: --quick --no-start A->B leaves it Saved on B, then B->A
#     --start resumes it on A.
# Without /dev/kvm it runs with vmms-fake-vmwp (fake.vmstate: its save is a
# real saved-state file, which the destination checks), without the
# guest's progress checks.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
t_pick_worker
read -r PA PB PC < <(t_free_ports 3)
[ -n "$PC" ] || fail "no free ports"
t_start_vmms --migration-insecure --migration-listen=127.0.0.1:$PA
t_host_b_start "$PB" --migration-insecure

# sweeping ADDRESS VM: Running there, the guest sweeps on, no BAD.
sweeping() {
  [ "$(ADDR=$1 vm_prop "$2" State)" = Running ] || fail "$2 on $1: $(ADDR=$1 vm_prop "$2" State)"
  t_sweeping "$1" "$2"
}
gone() { # ADDRESS STATEDIR VM ID: no VM, no files
  wait_for 30 "$3 gone from $1" sh -c "! '$VMCTL_BIN' --address='$1' show '$3' >/dev/null 2>&1"
  ! ls "$2" | grep -q "^$4" || fail "files of $3 left in $2: $(ls "$2")"
}

if [ "$WORKER_KIND" = real ]; then
  printf '{"name":"dirty","memory_mib":64,"vcpus":1,"boot":{"kernel":"%s","cmdline":"w"}}' \
    "$VM_BUILD_DIR/tests/tg_vmwp_basic.elf" >"$T/dirty.json"
else
  vm_json dirty fake.vmstate >"$T/dirty.json"
fi
expect_rc 0 vmctl create "$T/dirty.json"
expect_rc 0 vmctl start dirty --timeout=60
wait_state dirty Running 30
[ "$WORKER_KIND" = fake ] || wait_for 30 "the guest sweeping" sh -c "grep -q '\.\.' '$(vm_prop dirty ConsoleLog)'"
id=$(vm_prop dirty Id)
cp "$T/state/$id.json" "$T/dirty-config.json"
owner=$(vm_prop dirty Owner)

note "a Running VM, --quick A -> B: it runs on B, the guest goes on"
t0=$(date +%s%N)
expect_rc 0 vmctl migrate dirty 127.0.0.1:$PB --quick
echo "quick migration A->B: $(( ($(date +%s%N) - t0) / 1000000 )) ms ($(echo "$LAST_OUT" | tail -1))"
echo "$LAST_OUT" | grep -q "dirty migrated to 127.0.0.1:$PB in .* s (quick); it runs there now" || fail "vmctl said: $LAST_OUT"
echo "$LAST_OUT" | grep -Eq "^moving dirty: [0-9.]+ MiB of its saved state sent" || fail "no progress line: $LAST_OUT"
[ "$(vm_prop_b dirty Id)" = "$id" ] || fail "the id on B: $(vm_prop_b dirty Id)"
ADDR=$ADDRB wait_state dirty Running 30
[ -f "$B/state/$id.json" ] || fail "B did not store the configuration"
[ ! -e "$B/state/$id.vmrs" ] || fail "B kept the consumed state file"
gone "$ADDR" "$T/state" dirty "$id"
sweeping "$ADDRB" dirty
grep -q "moved to 127.0.0.1:$PB .* running there" "$T/vmms.log" || fail "A's log: $(grep dirty "$T/vmms.log" | tail -3)"

note "a Saved VM, B -> A without options: Saved on A; Start resumes it"
ADDR=$ADDRB expect_rc 0 vmctl save dirty
size=$(vm_prop_b dirty SavedStateSize)
ADDR=$ADDRB expect_rc 0 vmctl migrate dirty 127.0.0.1:$PA
echo "$LAST_OUT" | grep -q "dirty migrated to 127.0.0.1:$PA in .* s (quick); it is Saved there now" || fail "vmctl said: $LAST_OUT"
[ "$(vm_prop dirty State)" = Saved ] || fail "State on A: $(vm_prop dirty State)"
[ "$(vm_prop dirty SavedStateSize)" = "$size" ] || fail "SavedStateSize on A: $(vm_prop dirty SavedStateSize), B had $size"
[ "$(stat -c %s "$T/state/$id.vmrs")" = "$size" ] || fail "the state file on A: $(ls -l "$T/state")"
[ -f "$T/state/$id.json" ] || fail "A did not store the configuration"
gone "$ADDRB" "$B/state" dirty "$id"
expect_rc 0 vmctl start dirty --timeout=60
wait_state dirty Running 30
sweeping "$ADDR" dirty

note "refused by B's policy (a VM named dirty there): the Running VM is never paused"
expect_rc 0 vmctlb create "$T/dirty.json"
pid=$(vm_prop dirty WorkerPid)
expect_rc 1 vmctl migrate dirty 127.0.0.1:$PB --quick
echo "$LAST_OUT" | grep -q "the destination refused: a VM named 'dirty' exists here; it runs here (never paused)" || fail "refusal: $LAST_OUT"
[ "$(vm_prop dirty State)" = Running ] || fail "State: $(vm_prop dirty State)"
[ "$(vm_prop dirty WorkerPid)" = "$pid" ] || fail "the worker changed: it was saved and resumed"
grep -q "incoming migration from .* refused: a VM named 'dirty' exists here" "$B/vmms.log" || fail "B's log: $(tail -3 "$B/vmms.log")"
sweeping "$ADDR" dirty
! ls "$B/state" | grep -q "^$id" || fail "B kept files: $(ls "$B/state")"

note "refused by B's policy: a Saved VM stays Saved on A"
expect_rc 0 vmctl save dirty
expect_rc 1 vmctl migrate dirty 127.0.0.1:$PB
echo "$LAST_OUT" | grep -q "the destination refused: a VM named 'dirty' exists here; it stays Saved here" || fail "refusal: $LAST_OUT"
[ "$(vm_prop dirty State)" = Saved ] || fail "State: $(vm_prop dirty State)"
[ -f "$T/state/$id.vmrs" ] || fail "A lost its state file"
expect_rc 0 vmctlb delete dirty

if [ "$WORKER_KIND" = fake ]; then
  note "the save fails (fake.save_fail): the VM runs on here, B never hears of it"
  vm_json sf "fake.save_fail fake.vmstate" >"$T/sf.json"
  expect_rc 0 vmctl create "$T/sf.json"
  expect_rc 0 vmctl start sf --timeout=60
  wait_state sf Running 30
  expect_rc 1 vmctl migrate sf 127.0.0.1:$PB --quick
  echo "$LAST_OUT" | grep -q "cannot be migrated to 127.0.0.1: the save failed: .*; it runs here" || fail "save failure: $LAST_OUT"
  [ "$(vm_prop sf State)" = Running ] || fail "State after the failed save: $(vm_prop sf State)"
  ! vmctlb show sf >/dev/null 2>&1 || fail "B knows sf"
  expect_rc 0 vmctl kill sf
  expect_rc 0 vmctl delete sf
fi

note "bad arguments"
expect_rc 2 vmctl migrate dirty 127.0.0.1:$PB --live --quick
expect_rc 2 vmctl migrate dirty 127.0.0.1:$PB --live --start
expect_rc 4 vmctl migrate dirty 127.0.0.1:$PB --live
echo "$LAST_OUT" | grep -q "is Saved: it moves with mode quick" || fail "live on Saved: $LAST_OUT"

note "a fake source: truncated, corrupt, wrong CRC; B keeps nothing"
fake_source() { # KIND: prints B's answer and its step
  python3 - "$PB" "$T/dirty-config.json" "$owner" "$1" "$T/state/$id.vmrs" <<'PY'
import json, os, socket, struct, sys
port, cfgpath, owner, kind, state = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
T = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    T.append(c)
def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = T[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF
def frame(kind, body):
    return b"VMMC" + struct.pack("<HHII", 1, kind, len(body), 0) + body
def recv_frame(s):
    h = b""
    while len(h) < 16:
        k = s.recv(16 - len(h))
        if not k:
            return "(closed)"
        h += k
    n = struct.unpack("<I", h[8:12])[0]
    b = b""
    while len(b) < n:
        k = s.recv(n - len(b))
        if not k:
            break
        b += k
    return b.decode()
data = open(state, "rb").read() if kind == "unreleased" else os.urandom(256 * 1024)
size = len(data)
req = json.dumps({"config": open(cfgpath).read(), "owner": owner, "mode": "saved", "size": size, "start": True})
s = socket.create_connection(("127.0.0.1", port))
s.sendall(frame(1, req.encode()))
print("answer", recv_frame(s))
if kind == "truncated":
    s.sendall(data[: size // 3])
    s.close()
    sys.exit(0)
s.sendall(data)
crc = crc32c(data) ^ (1 if kind == "badcrc" else 0)
s.sendall(frame(3, json.dumps({"step": "sent", "crc32c": crc}).encode()))
print("step", recv_frame(s))
# unreleased: the channel ends right after "stored", without "released".
PY
}
refusals() { grep -c "incoming Saved VM 'dirty' refused" "$B/vmms.log"; }
for kind in truncated corrupt badcrc; do
  n=$(refusals)
  out=$(fake_source $kind) || fail "fake source ($kind): $out"
  echo "$out" | grep -q 'answer {"ok":true}' || fail "B's answer ($kind): $out"
  case $kind in
    corrupt) echo "$out" | grep -q '"step":"refused","error":"the state file is not a complete saved state' || fail "$kind: $out" ;;
    badcrc) echo "$out" | grep -q '"step":"refused","error":"the state file.s CRC-32C is' || fail "$kind: $out" ;;
  esac
  wait_for 30 "B refusing the $kind transfer" sh -c "[ \$(grep -c \"incoming Saved VM 'dirty' refused\" '$B/vmms.log') -gt $n ]"
  gone "$ADDRB" "$B/state" dirty "$id"
done

note "a source that ends after B stored the VM, never releasing it: B keeps it Saved, never starts it"
out=$(fake_source unreleased) || fail "fake source: $out"
echo "$out" | grep -q '"step":"stored"' || fail "B did not store it: $out"
wait_for 30 "B noticing the missing release" grep -q "VM 'dirty' is stored here but its source never released it" "$B/vmms.log"
for _ in $(seq 50); do [ "$(vm_prop_b dirty State)" = Saved ] && break; sleep 0.1; done
[ "$(vm_prop_b dirty State)" = Saved ] || fail "State on B: $(vm_prop_b dirty State)"
grep -q "stored here but never released by 127.0.0.1: it stays Saved" "$B/vmms.log" || fail "B's log: $(tail -3 "$B/vmms.log")"
[ -f "$B/state/$id.vmrs" ] && [ -f "$B/state/$id.json" ] || fail "B's files: $(ls "$B/state")"
[ "$(vm_prop_b dirty WorkerPid)" = 0 ] || fail "B started it"
[ "$(vm_prop dirty State)" = Saved ] || fail "A's copy: $(vm_prop dirty State)"
expect_rc 0 vmctlb delete dirty

note "cancel against a destination that never answers: the Saved VM stays Saved here"
t_silent_listener "$PC"
vmctl migrate dirty 127.0.0.1:$PC >"$T/cancel.out" 2>&1 &
MIG=$!
wait_for 10 "Migrating" sh -c "[ \"\$(busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path dirty)' org.vmstack.VMMS1.VM State)\" = 's \"Migrating\"' ]"
expect_rc 5 vmctl delete dirty
bus call org.vmstack.VMMS1 "$(vm_path dirty)" org.vmstack.VMMS1.VM CancelMigration >/dev/null || fail "CancelMigration"
wait "$MIG"; rc=$?
[ "$rc" = 1 ] || fail "vmctl migrate after the cancel exited $rc: $(cat "$T/cancel.out")"
grep -q "cannot be migrated to 127.0.0.1: cancelled; it stays Saved here" "$T/cancel.out" || fail "cancel: $(cat "$T/cancel.out")"
[ "$(vm_prop dirty State)" = Saved ] || fail "State after the cancel: $(vm_prop dirty State)"
[ -f "$T/state/$id.vmrs" ] || fail "the state file went"
kill $SILENT 2>/dev/null

note "a Running VM's question to a destination that never answers, cancelled: it runs on, never paused"
expect_rc 0 vmctl start dirty --timeout=60
wait_state dirty Running 30
pid=$(vm_prop dirty WorkerPid)
t_silent_listener "$PC"
# This move's own line: the first steps' moves logged the same words.
asked=$(grep -c "asking it first, then saving" "$T/vmms.log")
vmctl migrate dirty 127.0.0.1:$PC --quick >"$T/cancel2.out" 2>&1 &
MIG=$!
wait_for 10 "the question asked" sh -c "[ \$(grep -c 'asking it first, then saving' '$T/vmms.log') -gt $asked ]"
bus call org.vmstack.VMMS1 "$(vm_path dirty)" org.vmstack.VMMS1.VM CancelMigration >/dev/null || fail "CancelMigration"
wait "$MIG"; rc=$?
[ "$rc" = 1 ] || fail "vmctl migrate after the cancel exited $rc: $(cat "$T/cancel2.out")"
grep -q "cannot be migrated to 127.0.0.1: cancelled; it runs here (never paused)" "$T/cancel2.out" || fail "cancel: $(cat "$T/cancel2.out")"
[ "$(vm_prop dirty State)" = Running ] && [ "$(vm_prop dirty WorkerPid)" = "$pid" ] || fail "after the cancel: $(vm_prop dirty State)"
kill $SILENT 2>/dev/null
out=$(bus call org.vmstack.VMMS1 "$(vm_path dirty)" org.vmstack.VMMS1.VM CancelMigration 2>&1) && fail "a second cancel: $out"
echo "$out" | grep -q "no migration to cancel" || fail "a cancel with nothing to cancel: $out"
expect_rc 0 vmctl save dirty

note "TLS: --quick --no-start A -> B leaves it Saved on B; B -> A --start resumes it on A"
t_migration_pki "$T/pki"
expect_rc 0 vmctl start dirty --timeout=60
wait_state dirty Running 30
t_stop_vmms
# shellcheck disable=SC2046
t_start_vmms $(tls hosta) --migration-listen=127.0.0.1:$PA --migration-allow=hostb
t_host_b_stop
# shellcheck disable=SC2046
t_host_b_start "$PB" $(tls hostb) --migration-allow=hosta
grep -q "accepting migrations on 127.0.0.1:$PB (TLS)" "$B/vmms.log" || fail "B does not listen with TLS"
[ "$(vm_prop dirty State)" = Running ] || fail "the VM after the vmms restart: $(vm_prop dirty State)"
expect_rc 0 vmctl migrate dirty localhost:$PB --quick --no-start
echo "$LAST_OUT" | grep -q "it is Saved there now" || fail "vmctl said: $LAST_OUT"
[ "$(vm_prop_b dirty State)" = Saved ] || fail "State on B: $(vm_prop_b dirty State)"
gone "$ADDR" "$T/state" dirty "$id"
t0=$(date +%s%N)
ADDR=$ADDRB expect_rc 0 vmctl migrate dirty localhost:$PA --start
echo "Saved VM moved B->A with TLS and resumed: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
echo "$LAST_OUT" | grep -q "it runs there now" || fail "vmctl said: $LAST_OUT"
wait_state dirty Running 30
gone "$ADDRB" "$B/state" dirty "$id"
sweeping "$ADDR" dirty
expect_rc 0 vmctl kill dirty
echo "PASS"
