#!/bin/bash
# SPDX-License-Identifier: MIT
# Checkpoints of a running VM in the middle of disk and network traffic
# (docs/checkpoints.md), with the real worker and the test guest in
# vsc.mode=soak (checksummed blocks written and read back on a VHDX disk,
# UDP pings through a bridge): checkpoints taken while it writes (the
# worker saves, moves onto the children and runs on), reverts to them (the
# guest goes back to that moment, memory and disk together: a block that
# reads as a write the guest never saw complete, or misses one it did, is
# a bad block), checkpoints deleted while it runs (merged while it runs, by
# its worker: the VM is on its own image again before it stops).
# The guest reads a block before writing it again from its second round
# over the area on: the checkpoints are taken past that (a small area, its
# rounds short), so that blocks written after a checkpoint are read by the
# guest reverted to it (a disk left unreverted fails at once).
# The guest must end with result=ok after a final pass over every block;
# then the VM is on its own image again, which qemu-img finds clean, and
# nothing vmms made is left.
set -u
source "$(dirname "$0")/vmms-lib.sh"
source "$(dirname "$0")/hostile-lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespace, bridge)"; exit 77; }
command -v ip >/dev/null || { echo "SKIP: iproute2 (ip) not installed"; exit 77; }
command -v qemu-img >/dev/null || { echo "SKIP: qemu-img missing (scripts/deps.sh installs qemu-utils)"; exit 77; }
if [ -z "${CKPT_SOAK_IN_NETNS:-}" ]; then
  unshare -n true 2>/dev/null || { echo "SKIP: cannot create a network namespace"; exit 77; }
  exec unshare -n env CKPT_SOAK_IN_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
t_setup
t_need_guest_vsc
PEER_BIN=$VM_BUILD_DIR/bench/bench-net-guest
[ -x "$PEER_BIN" ] || { echo "SKIP: $PEER_BIN is not built"; exit 77; }
STOP_PORT=7797
t_start_vmms
ip link add csoakbr0 type bridge || fail "ip link add bridge"
ip addr add 10.97.0.1/24 dev csoakbr0
ip link set csoakbr0 up
"$PEER_BIN" --echo 10.97.0.1:7796 --seconds 600 2>"$T/peer.log" &
PEER=$!
t_on_exit 'kill $PEER'

I=$T/images
expect_rc 0 vmctl disk create "$I/soak.vhdx" 64M
printf '{"name":"soak","memory_mib":128,"vcpus":1,"boot":{"kernel":"%s","cmdline":"%s"},"disks":[{"path":"%s"}],"nics":[{"mac":"02:00:5e:10:00:97","bridge":"csoakbr0"}],"restart_policy":"never"}' \
  "$GUEST" "vsc.mode=soak vsc.ip=10.97.0.2 vsc.peer=10.97.0.1 vsc.port=7796 vsc.soak.blocks=64 vsc.soak.ms=600000 vsc.soak.stop_port=$STOP_PORT vsc.soak.ping_timeout_ms=1000 vsc.soak.progress_ms=100 vsc.timeout_ms=30000" \
  "$I/soak.vhdx" >"$T/soak.json"
expect_rc 0 vmctl create "$T/soak.json"
expect_rc 0 vmctl start soak --timeout=120
CONSOLE=$(vm_prop soak ConsoleLog)
# KEY= on the guest's last complete progress line (the console log is
# rewritten from the start by each new worker's guest output only).
prog() { grep '^VSC soak_progress ' "$(vm_prop soak ConsoleLog)" | tail -n 2 | head -n 1 | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
written_past() { [ "$(prog written)" -gt "$1" ] 2>/dev/null; }
wait_guest() { # WHAT COMMAND...
  local what=$1
  shift
  for _ in $(seq 600); do
    "$@" && return 0
    console_has soak '^VSC result=' && fail "the guest ended before $what: $(console soak | grep -E '^VSC (soak_bad|error|result)=' | tr '\n' ' ')"
    sleep 0.1
  done
  fail "timed out waiting for $what"
}
more_writes() { local w; w=$(prog written); wait_guest "$1" written_past "${w:-0}"; }
ckpt_ms=""
take() {
  more_writes "writes before checkpoint $1"
  local t0=$(date +%s%N)
  expect_rc 0 vmctl checkpoint soak "$1"
  ckpt_ms="$ckpt_ms $(( ($(date +%s%N) - t0) / 1000000 ))"
  [ "$(vm_prop soak State)" = Running ] || fail "State after checkpoint $1: $(vm_prop soak State)"
}

note "checkpoints while it writes and pings"
wait_guest "the second round over the area" written_past 128
take c1
take c2
pid=$(vm_prop soak WorkerPid)
more_writes "writes after the checkpoints"
[ "$(vm_prop soak WorkerPid)" = "$pid" ] || fail "the worker changed without a revert"

note "revert to c1, then to c2: the guest goes on from there, disk and memory together"
for c in c1 c2; do
  expect_rc 0 vmctl revert soak "$c"
  wait_state soak Running 60
  more_writes "writes after reverting to $c"
  more_writes "more writes after reverting to $c"
done

note "delete both while it runs; one more checkpoint, reverted to and deleted"
expect_rc 0 vmctl checkpoint-delete soak c1
expect_rc 0 vmctl checkpoint-delete soak c2
take c3
expect_rc 0 vmctl revert soak c3
wait_state soak Running 60
more_writes "writes after reverting to c3"
expect_rc 0 vmctl checkpoint-delete soak c3
# Merged by the running worker: the configuration names the VM's own image
# again while the guest goes on writing.
wait_for 60 "the merges while it runs" grep -q "\"$I/soak.vhdx\"" "$T/state/$(vm_prop soak Id).json"
[ "$(vm_prop soak State)" = Running ] || fail "State after the merges: $(vm_prop soak State)"
grep -q "the worker merged disks\[0\] while the VM ran" "$T/vmms.log" || fail "no merge while the VM ran: $(grep -i merg "$T/vmms.log" | tail -5)"
grep "the worker merged" "$T/vmms.log" | sed 's/^/  /'
more_writes "writes after the merges"

note "stop the run: every block is read once more"
for _ in $(seq 60); do
  console_has soak '^VSC soak_stop=' && break
  echo VSCSOAK-STOP >"/dev/udp/10.97.0.2/$STOP_PORT" 2>/dev/null
  sleep 0.5
done
wait_state soak Off 300
out=$(console soak)
echo "$out" | grep -E '^VSC (soak_(start|stop|disk|net|bad)|error|result)' | sed 's/^/  [soak] /'
echo "$out" | grep -Eq '^VSC (soak_bad|error)=' && fail "$(echo "$out" | grep -E '^VSC (soak_bad|error)=')"
echo "$out" | grep -q '^VSC soak_disk=.* bad=0 ' || fail "bad blocks"
echo "$out" | grep -q '^VSC result=ok status=0$' || fail "the guest did not finish with result=ok"
echo "  vmctl checkpoint ms:$ckpt_ms"

note "merged back: the VM on its own image, clean, nothing of vmms's left"
wait_for 60 "the merges" grep -q "\"$I/soak.vhdx\"" "$T/state/$(vm_prop soak Id).json"
wait_for 30 "the last merge's end" sh -c "[ \"\$(cd '$I' && ls *.avhdx 2>/dev/null)\" = '' ]"
qemu-img check -q "$I/soak.vhdx" || fail "qemu-img check soak.vhdx"
sanitizer_clean "$T/log/$(vm_prop soak Id).worker.log" soak
[ $fail -eq 0 ] || exit 1
echo PASS
