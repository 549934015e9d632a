#!/bin/bash
# SPDX-License-Identifier: MIT
# Worker ends vmms did not ask for: kill -9 (Crashed, with the reason, and
# the restart policy applied with back-off and a limit), guest reboot (worker
# exit VMWP_EXIT_RESET restarts the VM), setup failure, start timeout; the
# cause of a failed start in ExitReason (disk, not an ELF, missing kernel).
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
t_pick_worker
t_start_vmms --restart-burst=3 --restart-window=60 --start-timeout=2

wait_restarts() { # VM N
  for _ in $(seq 200); do [ "$(vm_prop "$1" Restarts)" = "u $2" ] || [ "$(vm_prop "$1" Restarts)" = "$2" ] && break; sleep 0.1; done
}

note "kill -9 of the worker, restart policy never: Crashed with the reason"
t_crash_by_kill never1
[ "$(vm_prop never1 Restarts)" = 0 ] || fail "never restarted"
[ "$(vm_prop never1 WorkerPid)" = 0 ] || fail "WorkerPid after the end"
expect_rc 0 vmctl start never1 --timeout=120
expect_rc 0 vmctl kill never1

note "kill -9, restart policy on-failure: restarted after the back-off"
t_create onf "" ',"restart_policy":"on-failure"'
expect_rc 0 vmctl start onf --timeout=120
P1=$(vm_prop onf WorkerPid)
kill -9 "$P1"
wait_restarts onf 1
wait_state onf Running 120
P2=$(vm_prop onf WorkerPid)
[ "$P2" != "$P1" ] && [ "$P2" -gt 0 ] || fail "no new worker ($P1 -> $P2)"
[ "$(vm_prop onf ExitReason)" = "worker killed by signal KILL" ] || fail "reason kept: $(vm_prop onf ExitReason)"
grep -q "vm onf: restarting in 100 ms (restart policy on-failure)" "$T/vmms.log" || fail "no back-off logged"
note "vmctl wait sees a Crashed the restart ended before it looked"
# Each transition's signal carries the State: a waiter that subscribed
# before the crash is told of it even when it reads its bus only after the
# restart (stopped here with SIGSTOP until the VM runs again).
t_create brief "" ',"restart_policy":"on-failure"'
expect_rc 0 vmctl start brief --timeout=120
BP=$(vm_path brief)
"$VMCTL_BIN" --address="$ADDR" wait brief Crashed --timeout=60 >"$T/wait-brief.out" 2>&1 &
WAITER=$!
# Stopped, it would outlive a failing test: ended at exit until reaped.
t_on_exit '[ -n "${WAITER:-}" ] && kill -KILL "$WAITER"'
# The only match rule that names brief's path is the waiter's.
wait_for 30 "vmctl wait's match on brief" sh -c "busctl --address='$ADDR' call org.freedesktop.DBus /org/freedesktop/DBus \
  org.freedesktop.DBus.Debug.Stats GetAllMatchRules | grep -qF '$BP'"
kill -STOP "$WAITER"
kill -9 "$(vm_prop brief WorkerPid)"
wait_for 60 "brief restarted" grep -q "vm brief: Crashed -> Starting" "$T/vmms.log"
wait_state brief Running 120
kill -CONT "$WAITER"
wait "$WAITER" || fail "vmctl wait missed the Crashed (rc $?): $(cat "$T/wait-brief.out")"
WAITER=
expect_rc 0 vmctl kill brief

if [ "$WORKER_KIND" = fake ]; then
  note "a crashing guest hits the restart limit"
  t_create crashy "fake.exit_after_ms=50" ',"restart_policy":"always"'
  expect_rc 0 vmctl start crashy
  for _ in $(seq 100); do
    vm_prop crashy ExitReason | grep -q "restart limit reached" && break; sleep 0.1
  done
  [ "$(vm_prop crashy State)" = Crashed ] || fail "crashy: $(vm_prop crashy State)"
  [ "$(vm_prop crashy Restarts)" = 3 ] || fail "crashy restarts: $(vm_prop crashy Restarts)"
  vm_prop crashy ExitReason | grep -q "^guest crashed: exit requested by fake.exit_after_ms (exit status 13) (restart limit reached: 3 restarts in 60 s)$" ||
    fail "crashy reason: $(vm_prop crashy ExitReason)"
  grep -q "restarting in 200 ms" "$T/vmms.log" && grep -q "restarting in 400 ms" "$T/vmms.log" || fail "no exponential back-off"

  note "guest reboot (exit status 10) starts a new worker at once, policy never"
  t_create resetter "fake.exit_after_ms=100 fake.exit_status=10" ',"restart_policy":"never"'
  expect_rc 0 vmctl start resetter
  wait_restarts resetter 2
  expect_rc 0 vmctl kill resetter
  grep -q "vm resetter: worker ended: reset: exit requested by fake.exit_after_ms (exit status 10)" "$T/vmms.log" || fail "no reset logged"

  note "guest power-off with policy always restarts; on-failure does not"
  t_create poweroff "fake.exit_after_ms=50 fake.exit_status=0" ',"restart_policy":"on-failure"'
  expect_rc 0 vmctl start poweroff
  wait_state poweroff Off
  sleep 0.5
  [ "$(vm_prop poweroff State)" = Off ] && [ "$(vm_prop poweroff Restarts)" = 0 ] || fail "on-failure restarted a clean power-off"

  note "setup failure: Crashed with the worker's reason"
  t_create broken "fake.setup_fail"
  expect_rc 1 vmctl start broken
  echo "$LAST_OUT" | grep -q "setup failed on request (fake.setup_fail) (exit status 3)" || fail "start of broken: $LAST_OUT"
  vm_json broken2 "fake.setup_fail" >"$T/broken2.json"
  expect_rc 1 vmctl create "$T/broken2.json" --start
  echo "$LAST_OUT" | grep -q "the VM was created but did not start; it stays defined" || fail "create --start: $LAST_OUT"
  vm_prop broken2 State >/dev/null || fail "create --start: the VM is not defined"

  note "start timeout: killed and Crashed"
  t_create slow "fake.ready_ms=10000"
  expect_rc 1 vmctl start slow
  [ "$(vm_prop slow ExitReason)" = "the worker did not report ready within 2 s" ] || fail "slow: $(vm_prop slow ExitReason)"

  note "worker binary missing: a clear error, the VM stays Off"
fi

note "a failed start says why in ExitReason: a disk vmms cannot open"
# Create checks that the image exists (docs/vmms.md "Host files"); it is
# gone by the time the VM starts.
truncate -s 1M "$T/images/nodisk.img"
t_create nodisk "" ",\"disks\":[{\"path\":\"$T/images/nodisk.img\"}]"
rm "$T/images/nodisk.img"
expect_rc 1 vmctl start nodisk
want="cannot start: disks[0].path: $T/images/nodisk.img: No such file or directory"
[ "$(vm_prop nodisk ExitReason)" = "$want" ] || fail "nodisk: $(vm_prop nodisk ExitReason)"
[ "$(vm_prop nodisk ExitStatus)" = "-1" ] || fail "nodisk status: $(vm_prop nodisk ExitStatus)"
if [ "$WORKER_KIND" = real ]; then
  note "the worker's setup errors reach ExitReason: not an ELF (under a long path), a missing kernel"
  LONG=$T/images/$(printf 'd%.0s' $(seq 200))/$(printf 'e%.0s' $(seq 200))
  mkdir -p "$LONG" && echo "not an elf" >"$LONG/notelf"
  printf '{"name":"notelf","memory_mib":64,"boot":{"kernel":"%s"}}' "$LONG/notelf" >"$T/notelf.json"
  expect_rc 0 vmctl create "$T/notelf.json"
  expect_rc 1 vmctl start notelf
  want="setup failed: kernel $LONG/notelf: not an ELF file (bad magic) (exit status 3)"
  [ "$(vmctl --json show notelf | jq -r .ExitReason)" = "$want" ] || fail "notelf: $(vmctl --json show notelf | jq -r .ExitReason)"
  [ "$(vm_prop notelf ExitReason)" = "$want" ] || fail "notelf (busctl): $(vm_prop notelf ExitReason)"
  [ "$(vm_prop notelf State)" = Crashed ] && [ "$(vm_prop notelf ExitStatus)" = 3 ] || fail "notelf state"
  printf '{"name":"nokernel","memory_mib":64,"boot":{"kernel":"%s"}}' "$T/images/missing" >"$T/nokernel.json"
  cp "$(t_guest_kernel)" "$T/images/missing"
  expect_rc 0 vmctl create "$T/nokernel.json"
  rm "$T/images/missing" # vmms opens the kernel at start and hands the worker its fd
  expect_rc 1 vmctl start nokernel
  echo "$LAST_OUT" | grep -qF "boot.kernel: $T/images/missing: No such file or directory" || fail "start of nokernel: $LAST_OUT"
  want="cannot start: boot.kernel: $T/images/missing: No such file or directory"
  [ "$(vm_prop nokernel ExitReason)" = "$want" ] || fail "nokernel: $(vm_prop nokernel ExitReason)"
fi
note "a Stop during the back-off cancels the restart"
# On its own vmms with a back-off of 3 s, on a VM that never restarted: the
# kill, the wait for the crash in the log and vmctl stop must fit in it. With
# the 100 ms of the rest of the test they did not under TCG (the emulated
# AMD-V host, where the scripts run translated too) nor always under the asan
# suite's load. Should the restart still come first, the next round's
# back-off is twice as long; 3 rounds are within --restart-burst=3.
t_stop_vmms
t_start_vmms --restart-burst=3 --restart-window=60 --start-timeout=2 --restart-delay-ms=3000
t_create bo "" ',"restart_policy":"on-failure"'
expect_rc 0 vmctl start bo --timeout=120
in_backoff=
for attempt in 1 2 3; do
  starts=$(grep -c "vm bo: worker [0-9]* started" "$T/vmms.log")
  crashes=$(grep -c "vm bo: Running -> Crashed" "$T/vmms.log")
  kill -9 "$(vm_prop bo WorkerPid)"
  wait_for 60 "bo's crash" sh -c "[ \$(grep -c 'vm bo: Running -> Crashed' '$T/vmms.log') -gt $crashes ]"
  expect_rc 0 vmctl stop bo
  ! grep -q "vm bo: restart limit reached" "$T/vmms.log" || fail "the restart limit, not the Stop, ended the restarts"
  if [ "$(grep -c "vm bo: worker [0-9]* started" "$T/vmms.log")" = "$starts" ]; then in_backoff=1; break; fi
  note "the restart came before the Stop (round $attempt); again with a longer back-off"
  wait_state bo Off
  expect_rc 0 vmctl start bo --timeout=120
done
[ -n "$in_backoff" ] || fail "no Stop landed in the back-off in 3 rounds"
grep -q "vm bo: restarting in $((3000 << (attempt - 1))) ms (restart policy on-failure)" "$T/vmms.log" ||
  fail "round $attempt's back-off not logged: $(grep 'vm bo: restarting' "$T/vmms.log")"
# Past the back-off's end: no worker started, the VM stays Crashed.
sleep $(((3 << (attempt - 1)) + 1))
[ "$(grep -c "vm bo: worker [0-9]* started" "$T/vmms.log")" = "$starts" ] || fail "a worker started after the Stop"
[ "$(vm_prop bo State)" = Crashed ] || fail "restarted although stopped: $(vm_prop bo State)"
[ "$(vm_prop bo WorkerPid)" = 0 ] || fail "bo's WorkerPid after the Stop: $(vm_prop bo WorkerPid)"

t_stop_vmms
t_start_vmms --worker=/nonexistent/vmwp
expect_rc 1 vmctl start never1
echo "$LAST_OUT" | grep -q "cannot execute the worker /nonexistent/vmwp: No such file or directory" || fail "missing worker: $LAST_OUT"
[ "$(vm_prop never1 State)" = Off ] || [ "$(vm_prop never1 State)" = Crashed ] || fail "state after failed start"
echo "PASS (worker: $WORKER_KIND)"
