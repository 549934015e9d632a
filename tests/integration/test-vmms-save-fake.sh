#!/bin/bash
# SPDX-License-Identifier: MIT
# Hyper-V's Saved state through vmctl and vmms with the fake worker
# (tests/integration/vmms-fake-ops.c's "save" op), so it runs on every
# machine (test-vmms-save.sh does the same with the real worker and guest):
#   vmctl save: Running -> Saving -> Saved, its progress lines, the
#     SaveProgress and SavedStateSize properties, <id>.vmrs in place (no
#     .tmp), the worker gone;
#   Save refused on a VM that is not running (Off), DiscardSavedState
#     refused on one that is not Saved;
#   a save the worker fails: the VM runs on, no file;
#   vmctl start resumes a Saved VM (the file consumed); a state the worker
#     refuses leaves the VM Saved with the reason;
#   vmctl discard-saved: Off, the file gone.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
VMMS_TEST_WORKER=fake t_pick_worker
t_start_vmms

BYTES=262144 # FAKE_STATE_BYTES

t_create s1 "fake.save_ms=800"
t_create off1
t_create bad1 "fake.save_fail"
ID=$(vm_prop s1 Id)
expect_rc 0 vmctl start s1 --timeout=30
expect_rc 0 vmctl start bad1 --timeout=30

note "Save and DiscardSavedState refused where they make no sense"
out=$(vmctl save off1 2>&1) && fail "save of an Off VM succeeded: $out"
echo "$out" | grep -q "Off" || fail "save of an Off VM: $out"
out=$(vmctl discard-saved s1 2>&1) && fail "discard-saved of a Running VM succeeded: $out"
echo "$out" | grep -q "Running" || fail "discard-saved of a Running VM: $out"
[ "$(vm_prop s1 State)" = Running ] || fail "s1 is $(vm_prop s1 State) after the refused discard"

note "a save the worker fails: the VM runs on"
out=$(vmctl save bad1 2>&1) && fail "a failing save succeeded: $out"
echo "$out" | grep -q "No space left on device" || fail "failed save: $out"
[ "$(vm_prop bad1 State)" = Running ] || fail "bad1 is $(vm_prop bad1 State) after a failed save"
ls "$T/state/" | grep -q '\.vmrs' && fail "a failed save left a file: $(ls "$T/state")"

note "vmctl save: Running -> Saving -> Saved, with progress"
pid=$(vm_prop s1 WorkerPid)
# The states as the bus announced them: the save's 800 ms of Saving is
# shorter than a poll of the property takes on a slow host (the emulated
# AMD-V host's TCG missed it).
t_monitor "$T/s1-signals.log" --dest org.vmstack.VMMS1 --object-path "$(vm_path s1)"
vmctl save s1 >"$T/save.out" 2>&1 || fail "vmctl save failed: $(cat "$T/save.out")"
states() { grep -o "'State': <'[A-Za-z]*'>" "$T/s1-signals.log" | sed "s/.*<'\(.*\)'>/\1/" | tr '\n' ' '; }
wait_for 10 "the Saved state's signal" sh -c "grep -q \"'State': <'Saved'>\" '$T/s1-signals.log'"
[ "$(states)" = "Saving Saved " ] || fail "the states a save announced: $(states) (Saving Saved wanted)"
kill "$MON"
grep -Eq '^saving s1: [0-9.]+ MiB of 0\.2 MiB \([0-9]+%\)$' "$T/save.out" ||
  fail "no progress line: $(cat "$T/save.out")"
grep -q '^s1 saved (0\.2 MiB in .* s); `vmctl start s1` resumes it$' "$T/save.out" ||
  fail "no final line: $(cat "$T/save.out")"
[ "$(vm_prop s1 State)" = Saved ] || fail "s1 is $(vm_prop s1 State) after save"
[ "$(vm_prop s1 SaveProgress)" = "$BYTES $BYTES" ] || fail "SaveProgress: $(vm_prop s1 SaveProgress)"
[ "$(vm_prop s1 SavedStateSize)" = "$BYTES" ] || fail "SavedStateSize: $(vm_prop s1 SavedStateSize)"
[ "$(stat -c %s "$T/state/$ID.vmrs")" = "$BYTES" ] || fail "state file: $(ls -l "$T/state")"
[ -e "$T/state/$ID.vmrs.tmp" ] && fail "the temporary file was left"
alive "$pid" && fail "the worker still runs after the save"
expect_rc 5 vmctl save s1 # a second save of a Saved VM: refused, the state named
echo "$LAST_OUT" | grep -q "while the VM is Saved" || fail "save of a Saved VM: $LAST_OUT"

note "vmctl start resumes it; the file is consumed"
expect_rc 0 vmctl start s1 --timeout=30
[ "$(vm_prop s1 State)" = Running ] || fail "s1 is $(vm_prop s1 State) after start"
is_consumed() { [ ! -e "$T/state/$ID.vmrs" ]; }
wait_for 10 "the saved state to be consumed" is_consumed
[ "$(vm_prop s1 SavedStateSize)" = 0 ] || fail "SavedStateSize after the resume: $(vm_prop s1 SavedStateSize)"

note "a state the worker refuses: Start fails, the VM stays Saved"
expect_rc 0 vmctl save s1
printf 'JUNKJUNK' | dd of="$T/state/$ID.vmrs" conv=notrunc status=none
out=$(vmctl start s1 --timeout=30 2>&1) && fail "start with a corrupt state succeeded: $out"
wait_state s1 Saved
vm_prop s1 ExitReason | grep -q "saved state: not a state this worker saved" ||
  fail "reason: $(vm_prop s1 ExitReason)"
[ -e "$T/state/$ID.vmrs" ] || fail "the refused state file was removed"

note "vmctl discard-saved: Off, the file gone"
expect_rc 0 vmctl discard-saved s1
[ "$LAST_OUT" = "s1: saved state discarded; the VM is Off" ] || fail "discard-saved output: $LAST_OUT"
[ "$(vm_prop s1 State)" = Off ] || fail "s1 is $(vm_prop s1 State) after discard-saved"
[ -e "$T/state/$ID.vmrs" ] && fail "the state file outlived discard-saved"
[ "$(vm_prop s1 ExitReason)" = "saved state discarded" ] || fail "reason: $(vm_prop s1 ExitReason)"
expect_rc 0 vmctl start s1 --timeout=30 # boots afresh

note "a save longer than a worker request's 10 s and D-Bus's default 25 s call timeout completes (its progress keeps it alive)"
t_create long1 "fake.save_ms=27000"
expect_rc 0 vmctl start long1 --timeout=30
t0=$(date +%s)
vmctl save long1 >"$T/long.out" 2>&1 || fail "a 27 s save failed after $(( $(date +%s) - t0 )) s: $(tail -2 "$T/long.out")"
[ "$(vm_prop long1 State)" = Saved ] || fail "long1 is $(vm_prop long1 State) after its save"
grep -q '^long1 saved (0\.2 MiB in 2[7-9]\.' "$T/long.out" || fail "long save: $(tail -1 "$T/long.out")"
echo "PASS (worker: $WORKER_KIND)"
