#!/bin/bash
# SPDX-License-Identifier: MIT
# A hostile guest among others, through vmms (docs/hostile-guests.md): two
# VMs run side by side, a calm one (vmwp's tiny guest, idling) and the test
# guest in vsc.mode=hostile going through its malformed messages, GPADLs,
# ring corruption, floods and SCSI garbage. Checked through vmctl and raw
# D-Bus while it runs and after: the calm VM stays Running on the same
# worker, vmms stays up and answers, the hostile VM's state is true at
# every point (Running, then Off with the guest's own power-off as the
# reason), its guest got every answer it had to, its worker's fds, threads
# and anonymous memory are back where they were after the flood (within
# HOSTILE_FD_SLACK and HOSTILE_RSS_BOUND_KB), and no worker log has a
# sanitizer report.
set -u
source "$(dirname "$0")/vmms-lib.sh"
source "$(dirname "$0")/hostile-lib.sh"
t_setup
t_need_guest_vsc
t_start_vmms
MY_VMMS=$VMMS_PID

note "a calm VM"
t_create calm "" ',"restart_policy":"never"'
expect_rc 0 vmctl start calm --timeout=120
CALM=$(vm_prop calm WorkerPid)

note "a hostile VM beside it"
truncate -s 64M "$T/images/h0.img" "$T/images/h1.img"
printf '{"name":"hostile","memory_mib":128,"vcpus":1,"boot":{"kernel":"%s","cmdline":"%s"},"disks":[{"path":"%s"},{"path":"%s","controller":1}]}' \
  "$GUEST" "vsc.mode=hostile vsc.hostile=msg,gpadl,ring,flood,scsi vsc.hostile.pause_ms=1000" \
  "$T/images/h0.img" "$T/images/h1.img" >"$T/hostile.json"
expect_rc 0 vmctl create "$T/hostile.json"
expect_rc 0 vmctl start hostile --timeout=120
HOSTILE=$(vm_prop hostile WorkerPid)
LOG=$(vm_prop hostile ConsoleLog)
watch_phases "$HOSTILE" "$LOG" "$T/hostile.mem" &
WATCH=$!

note "while it runs: the calm VM, vmms and the hostile VM's state"
checks=0
while alive "$HOSTILE"; do
  st=$(vm_prop hostile State)
  [ "$st" = Running ] || [ "$st" = Off ] || fail "hostile VM is $st while its worker runs"
  [ "$(vm_prop calm State)" = Running ] || fail "calm VM is $(vm_prop calm State): $(vm_prop calm ExitReason)"
  [ "$(vm_prop calm WorkerPid)" = "$CALM" ] || fail "calm VM's worker changed"
  vmctl list >/dev/null || fail "vmctl list failed while the hostile VM runs"
  checks=$((checks + 1))
  sleep 1
done
wait "$WATCH"
echo "  $checks checks while the hostile guest ran"
[ "$checks" -ge 3 ] || fail "the hostile guest ran for less than 3 s: $(tail -n 5 "$LOG")"

note "after it: the hostile VM powered itself off, every case answered"
wait_state hostile Off 60
[ "$(vm_prop hostile ExitReason)" = "powered off (ACPI S5) (exit status 0)" ] || fail "hostile: $(vm_prop hostile ExitReason)"
grep -q '^VSC result=ok status=0' "$LOG" || fail "hostile guest: $(grep -E '^VSC (error|result)' "$LOG")"
! grep -q '^VSC hostile_case=.* ok=0' "$LOG" || fail "cases without their answer: $(grep 'ok=0' "$LOG")"
for sub in msg gpadl ring flood scsi; do
  grep -Eq "^VSC hostile_done=$sub cases=[0-9]+ unexpected=0$" "$LOG" || fail "sub-mode $sub did not finish"
done
check_bounded hostile "$T/hostile.mem" flood_start flood_end

note "the calm VM and vmms are unaffected"
[ "$(vm_prop calm State)" = Running ] || fail "calm VM is $(vm_prop calm State)"
[ "$(vm_prop calm WorkerPid)" = "$CALM" ] || fail "calm VM's worker changed"
alive "$MY_VMMS" || fail "vmms is gone"
expect_rc 0 vmctl stop calm --shutdown-timeout=30
[ "$(vm_prop calm State)" = Off ] || fail "calm VM did not stop: $(vm_prop calm State)"
for f in "$T"/log/*.worker.log; do
  [ -f "$f" ] && sanitizer_clean "$f" "$(basename "$f")"
done
finish
