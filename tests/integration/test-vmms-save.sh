#!/bin/bash
# SPDX-License-Identifier: MIT
# Hyper-V's Saved state through vmms (docs/vm-state.md, docs/vmms.md "Saved
# state") with the real worker and the guest-vsc test guest in
# vsc.mode=services (its VMBus channels open, heartbeat answered, KVP and
# time sync running):
#   vmctl save -> Saved, <id>.vmrs in place (no .tmp), SavedStateSize and
#     SaveProgress, the worker gone; Stop and device changes refused;
#   vmms restarted -> still Saved;
#   vmctl start -> the guest goes on: heartbeat beats again, KVP answers, a
#     time SYNC after the resume, the shutdown service shuts it down; the
#     file is consumed;
#   a corrupt state -> Start fails, the VM stays Saved with the reason;
#   discard-saved -> Off, the file gone; delete of a Saved VM removes it;
#   the test guest's disk-check saved and resumed 20 times mid-I/O, its
#     pattern read back and compared;
#   a worker killed while saving -> the save fails, no file, never Saved;
#   a VM with an IDE disk saves and resumes.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
t_need_guest_vsc
t_start_vmms

# soak_wait_off VM SECONDS STALL: until the disk-check guest VM is Off,
# for at most SECONDS. Its failure says whether the guest was stuck (no new
# disk-check line for STALL seconds or more, where disk_progress comes
# every 10 s of guest time) or slow but moving, with its last lines and,
# twice 5 s apart, its worker's threads (state, CPU time: a vCPU thread
# that gains CPU time runs the guest) and I/O counters.
soak_wait_off() {
  local vm=$1 secs=$2 stall=$3 pid last="" line same=0 i why
  pid=$(vm_prop "$vm" WorkerPid)
  for ((i = 0; i < secs; i++)); do
    [ "$(vm_prop "$vm" State)" = Off ] && return 0
    line=$(console "$vm" | grep -E '^VSC (disk_(progress|write|flush|read|unmap)|bad_request|error|result)' | tail -n 1)
    if [ "$line" = "$last" ]; then same=$((same + 1)); else same=0 last=$line; fi
    sleep 1
  done
  if [ $same -ge "$stall" ]; then
    why="stuck: no new line for $same s"
  else
    why="slow: still moving, its last line $same s ago"
  fi
  echo "  $vm is not Off after $secs s ($why); its last lines:"
  console "$vm" | grep -E '^VSC (disk_(progress|write|flush|read)|error|result)' | tail -n 4 | sed 's/^/  [dsk] /'
  for i in 1 2; do
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || break
    echo "  worker $pid threads (tid stat cputime wchan comm), I/O:"
    ps -L -o tid=,stat=,time=,wchan:28=,comm= -p "$pid" | sed 's/^/    /'
    grep -E '^(rchar|wchar|syscr|syscw)' "/proc/$pid/io" | tr '\n' ' ' | sed 's/^/    /'
    echo
    [ $i = 2 ] || sleep 5
  done
  fail "$vm did not reach Off after its 20th resume ($why; it is $(vm_prop "$vm" State))"
}

svc_json() {
  printf '{"name":"%s","memory_mib":128,"vcpus":1,"boot":{"kernel":"%s","cmdline":"vsc.mode=services vsc.hostname=%s"},"integration":{"timesync_interval_s":2},"stop_timeout_s":60%s}' \
    "$1" "$GUEST" "$1" "${2:-}"
}
hb_after() { # VM MICROSECONDS: a heartbeat "ok" newer than that
  local hb
  hb=$(vm_prop "$1" Heartbeat)
  case "$hb" in '"ok" '*) [ "${hb#\"ok\" }" -gt "$2" ] ;; *) return 1 ;; esac
}

svc_json svc >"$T/svc.json"
expect_rc 0 vmctl create "$T/svc.json"
expect_rc 0 vmctl start svc --timeout=60
wait_for 60 "the services to open" console_has svc '^VSC services=open shutdown=1 heartbeat=1 timesync=1 kvp=1$'
wait_for 30 "a heartbeat" hb_after svc 0
id=$(vm_prop svc Id)
vmrs=$T/state/$id.vmrs

note "save the running guest"
expect_rc 0 vmctl save svc
echo "$LAST_OUT" | grep -Eq '^svc saved \([0-9.]+ MiB in [0-9.]+ s\)' || fail "vmctl save said: $LAST_OUT"
[ "$(vm_prop svc State)" = Saved ] || fail "State after save: $(vm_prop svc State)"
[ -f "$vmrs" ] && [ ! -e "$vmrs.tmp" ] || fail "state file: $(ls -l "$T/state")"
size=$(vm_prop svc SavedStateSize)
[ "$size" = "$(stat -c %s "$vmrs")" ] || fail "SavedStateSize $size, file $(stat -c %s "$vmrs")"
[ "$(vm_prop svc SaveProgress)" = "$size $size" ] || fail "SaveProgress: $(vm_prop svc SaveProgress)"
[ "$(vm_prop svc WorkerPid)" = 0 ] || fail "a worker after save"
[ "$(head -c 8 "$vmrs" | od -An -c | tr -d ' ')" = 'VMSTACK032' ] || fail "not a saved state: $(head -c 8 "$vmrs" | od -c)"

note "refused while Saved: stop, kill, a device change"
expect_rc 5 vmctl stop svc
echo "$LAST_OUT" | grep -q "Stop is not possible while the VM is Saved" || fail "stop: $LAST_OUT"
expect_rc 5 vmctl kill svc
expect_rc 5 vmctl edit svc --memory=256
echo "$LAST_OUT" | grep -q "DiscardSavedState" || fail "edit: $LAST_OUT"

note "a vmms restart keeps it Saved"
t_stop_vmms
t_start_vmms
[ "$(vm_prop svc State)" = Saved ] || fail "State after the vmms restart: $(vm_prop svc State)"
[ "$(vm_prop svc SavedStateSize)" = "$size" ] || fail "SavedStateSize after the restart"

note "resume: the guest goes on where it was"
syncs=$(console_count svc '^VSC timesync=sync ')
before=$(($(date +%s%N) / 1000))
expect_rc 0 vmctl start svc --timeout=60
echo "$LAST_OUT" | grep -q "resuming from its saved state" || fail "vmctl start said: $LAST_OUT"
[ "$(vm_prop svc State)" = Running ] || fail "State after the resume: $(vm_prop svc State)"
[ ! -e "$vmrs" ] || fail "the consumed state file is still there"
[ "$(vm_prop svc SavedStateSize)" = 0 ] || fail "SavedStateSize after the resume"
wait_for 30 "a heartbeat after the resume" hb_after svc "$before"
wait_for 30 "a time SYNC after the resume" sh -c "[ \$('$VMCTL_BIN' --address='$ADDR' show svc >/dev/null; cat '$(vm_prop svc ConsoleLog)' | grep -Ec '^VSC timesync=sync ') -gt $syncs ]"
expect_rc 0 vmctl kvp svc FullyQualifiedDomainName
[ "$LAST_OUT" = svc ] || fail "KVP after the resume: $LAST_OUT"
[ "$(console_count svc '^VSC services=open ')" = 1 ] || fail "the guest opened its services again: $(console svc)"

note "save from Paused, twice in a row"
expect_rc 0 vmctl pause svc
expect_rc 0 vmctl save svc
expect_rc 0 vmctl start svc --timeout=60
[ "$(vm_prop svc State)" = Running ] || fail "a VM saved while paused resumes running: $(vm_prop svc State)"
expect_rc 0 vmctl save svc
expect_rc 0 vmctl start svc --timeout=60
wait_for 30 "a heartbeat after the third resume" hb_after svc "$(($(date +%s%N) / 1000 - 1000000))"

note "a corrupt state is refused and stays"
expect_rc 0 vmctl save svc
printf 'X' | dd of="$vmrs" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
expect_rc 1 vmctl start svc --timeout=60
[ "$(vm_prop svc State)" = Saved ] || fail "State after a refused restore: $(vm_prop svc State)"
vm_prop svc ExitReason | grep -q "saved state" || fail "ExitReason: $(vm_prop svc ExitReason)"
[ -f "$vmrs" ] || fail "the refused state file was removed"

note "discard-saved: Off, the file gone; then a fresh boot"
expect_rc 0 vmctl discard-saved svc
[ "$(vm_prop svc State)" = Off ] && [ ! -e "$vmrs" ] || fail "after discard: $(vm_prop svc State), $(ls "$T/state")"
expect_rc 5 vmctl discard-saved svc
expect_rc 0 vmctl start svc --timeout=60
wait_for 60 "the services after a fresh boot" sh -c "[ \$(cat '$(vm_prop svc ConsoleLog)' | grep -c '^VSC services=open ') -ge 2 ]"

note "the guest still shuts down through its shutdown service after a resume"
expect_rc 0 vmctl save svc
expect_rc 0 vmctl start svc --timeout=60
expect_rc 0 vmctl stop svc --timeout=60
vm_prop svc ExitReason | grep -q "powered off" || fail "stop after a resume: $(vm_prop svc ExitReason)"

note "delete of a Saved VM removes its state"
expect_rc 0 vmctl start svc --timeout=60
wait_for 60 "the services" sh -c "[ \$(cat '$(vm_prop svc ConsoleLog)' | grep -c '^VSC services=open ') -ge 3 ]"
expect_rc 0 vmctl save svc
expect_rc 0 vmctl delete svc
[ ! -e "$vmrs" ] || fail "delete left the state file"

note "the test guest writing and verifying its disk, saved and resumed 20 times"
# disk-check writes a pattern into 64 regions of 4 MiB (its largest), flushes, reads it
# all back and compares (docs/guest-vsc.md); every save lands in the middle
# of its I/O (storvsp's requests in flight are completed at quiesce, their
# completions carried over in the state).
# It prints a disk_progress line every 10 s of its clock (vsc.disk.progress_ms,
# docs/guest-vsc.md): soak_wait_off tells a slow guest (a loaded host) from
# a stuck one.
truncate -s 2G "$T/images/soak.img"
printf '{"name":"dsk","memory_mib":128,"vcpus":1,"boot":{"kernel":"%s","cmdline":"vsc.mode=disk-check vsc.disk.seed=77 vsc.disk.regions=64 vsc.disk.region_kib=4096 vsc.disk.progress_ms=10000"},"disks":[{"path":"%s"}],"restart_policy":"never"}' \
  "$GUEST" "$T/images/soak.img" >"$T/dsk.json"
expect_rc 0 vmctl create "$T/dsk.json"
expect_rc 0 vmctl start dsk --timeout=60
saves=0 times="" rounds=1
while [ $saves -lt 20 ]; do
  t0=$(date +%s%N)
  if ! out=$(vmctl save dsk 2>&1); then
    # The guest finished its disk-check meanwhile: on hardware
    # virtualization (the emulated AMD-V host) a round takes seconds, so
    # it is booted again (the same pattern written and checked once more)
    # until 20 saves have landed; each round must end with result=ok.
    [ "$(vm_prop dsk State)" = Off ] || fail "vmctl save dsk failed with the VM $(vm_prop dsk State): $out"
    [ "$(console dsk | grep -c '^VSC result=ok status=0$')" -eq $rounds ] ||
      fail "dsk: round $rounds did not end with result=ok: $(console dsk | grep -E '^VSC (error|result)' | tail -n 2)"
    [ $rounds -lt 40 ] || fail "only $saves saves landed in $rounds rounds of the guest"
    expect_rc 0 vmctl start dsk --timeout=60
    rounds=$((rounds + 1))
    continue
  fi
  t1=$(date +%s%N)
  expect_rc 0 vmctl start dsk --timeout=60
  t2=$(date +%s%N)
  saves=$((saves + 1))
  times="$times $(( (t1 - t0) / 1000000 ))/$(( (t2 - t1) / 1000000 ))"
done
echo "  $saves saves in $rounds round(s) of the guest; vmctl save/start ms:$times"
soak_wait_off dsk 300 60
console dsk | grep -E '^VSC (disk_(write|flush|read)|error|result)' | sed 's/^/  [dsk] /'
! console dsk | grep -q '^VSC warning=' || fail "dsk: the guest ignored an option: $(console dsk | grep '^VSC warning=')"
console dsk | grep -q '^VSC disk_read=0:0 regions=64 bytes=268435456 .* compared=1$' || fail "dsk: the 256 MiB pattern was not read back"
[ "$(console dsk | grep -c '^VSC result=ok status=0$')" -eq $rounds ] &&
  ! console dsk | grep -E '^VSC result=' | grep -qv '^VSC result=ok status=0$' ||
  fail "dsk: not every one of its $rounds round(s) finished with result=ok: $(console dsk | grep -E '^VSC result=')"

note "a worker that dies while saving: the save fails, the VM is never Saved, no file is left"
svc_json dies ",\"restart_policy\":\"never\"" >"$T/dies.json"
expect_rc 0 vmctl create "$T/dies.json"
expect_rc 0 vmctl start dies --timeout=60
diesid=$(vm_prop dies Id)
pid=$(vm_prop dies WorkerPid)
kill -STOP "$pid"
vmctl save dies >"$T/dies.out" 2>&1 &
save_pid=$!
wait_for 10 "the save to start" sh -c "[ -e '$T/state/$diesid.vmrs.tmp' ]"
[ "$(vm_prop dies State)" = Saving ] || fail "State while saving: $(vm_prop dies State)"
kill -KILL "$pid"
wait $save_pid && fail "vmctl save succeeded with its worker killed: $(cat "$T/dies.out")"
grep -q "cannot save VM 'dies'" "$T/dies.out" || fail "vmctl save said: $(cat "$T/dies.out")"
wait_state dies Crashed
[ ! -e "$T/state/$diesid.vmrs" ] && [ ! -e "$T/state/$diesid.vmrs.tmp" ] || fail "a failed save left a file"

note "a VM with IDE disks is saved and resumed too"
truncate -s 1M "$T/images/ide.img"
svc_json ide ",\"disks\":[{\"path\":\"$T/images/ide.img\",\"bus\":\"ide\"}]" >"$T/ide.json"
expect_rc 0 vmctl create "$T/ide.json"
expect_rc 0 vmctl start ide --timeout=60
wait_for 60 "the services" sh -c "cat '$(vm_prop ide ConsoleLog)' | grep -q '^VSC services=open '"
expect_rc 0 vmctl save ide
expect_rc 0 vmctl start ide --timeout=60
expect_rc 0 vmctl kill ide

echo PASS
