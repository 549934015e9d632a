#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue #19's soak: the test guest in vsc.mode=soak (docs/guest-vsc.md "Soak
# mode"), writing and reading back checksummed blocks on its disk while it
# pings a UDP echo peer through a bridge, saved (vmctl save) and resumed in a
# new worker (vmctl start) 20 times in a row through vmms, each save in the
# middle of both kinds of traffic; then the host's stop datagram ends the
# run and the guest reads every block once more. It must finish with
# result=ok: no bad block (a request storvsp lost, doubled, completed early
# or replayed after the newer write shows as one), no duplicated, corrupt or
# never-sent reply, every ping answered or counted lost, at most a window's
# worth lost per save (the echoes that reach the bridge while no worker
# holds the VM's TAP); vmms must have announced Running -> Saving -> Saved
# -> Starting -> Running for every save, and no worker log may hold a
# sanitizer report.
set -u
source "$(dirname "$0")/vmms-lib.sh"
source "$(dirname "$0")/hostile-lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespace, bridge)"; exit 77; }
command -v ip >/dev/null || { echo "SKIP: iproute2 (ip) not installed"; exit 77; }
if [ -z "${SAVE_SOAK_IN_NETNS:-}" ]; then
  unshare -n true 2>/dev/null || { echo "SKIP: cannot create a network namespace"; exit 77; }
  exec unshare -n env SAVE_SOAK_IN_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
t_setup
t_need_guest_vsc
PEER_BIN=$VM_BUILD_DIR/bench/bench-net-guest
[ -x "$PEER_BIN" ] || { echo "SKIP: $PEER_BIN is not built"; exit 77; }
SAVES=20
WINDOW=8
STOP_PORT=7797
t_start_vmms

# State changes as vmms announces them (PropertiesChanged), one per line.
busctl --address="$ADDR" monitor --json=short org.vmstack.VMMS1 >"$T/signals.json" 2>"$T/monitor.err" &
MON=$!
# ready once it sees our own calls
for _ in $(seq 100); do
  bus call org.vmstack.VMMS1 /org/vmstack/VMMS1 org.vmstack.VMMS1.Manager ListVMs >/dev/null
  grep -q '"member":"ListVMs"' "$T/signals.json" && break
  sleep 0.1
done
grep -q '"member":"ListVMs"' "$T/signals.json" || fail "busctl monitor sees nothing: $(cat "$T/monitor.err")"
ip link add ssoakbr0 type bridge || fail "ip link add bridge"
ip addr add 10.96.0.1/24 dev ssoakbr0
ip link set ssoakbr0 up
"$PEER_BIN" --echo 10.96.0.1:7796 --seconds 600 2>"$T/peer.log" &
PEER=$!
t_on_exit 'kill $PEER $MON'

truncate -s 64M "$T/images/soak.img"
printf '{"name":"soak","memory_mib":128,"vcpus":1,"boot":{"kernel":"%s","cmdline":"%s"},"disks":[{"path":"%s"}],"nics":[{"mac":"02:00:5e:10:00:96","bridge":"ssoakbr0"}],"restart_policy":"never"}' \
  "$GUEST" "vsc.mode=soak vsc.ip=10.96.0.2 vsc.peer=10.96.0.1 vsc.port=7796 vsc.soak.ms=600000 vsc.soak.stop_port=$STOP_PORT vsc.soak.window=$WINDOW vsc.soak.ping_timeout_ms=1000 vsc.soak.progress_ms=100 vsc.timeout_ms=30000" \
  "$T/images/soak.img" >"$T/soak.json"
expect_rc 0 vmctl create "$T/soak.json"
expect_rc 0 vmctl start soak --timeout=120
path=$(vm_path soak)

CONSOLE=$(vm_prop soak ConsoleLog)
# The guest's progress lines so far, complete ones only: a save may land in
# the middle of a line (its end follows the resume).
progress() {
  cp "$CONSOLE" "$T/console.snap"
  [ -z "$(tail -c 1 "$T/console.snap")" ] || sed -i '$d' "$T/console.snap"
  grep '^VSC soak_progress ' "$T/console.snap"
}
# KEY= on the guest's last progress line, or on line N
prog() { progress | sed -n "${2:-\$}s/.* $1=\([0-9]*\).*/\1/p"; }
progress_lines() { progress | wc -l; }
# wait_guest WHAT COMMAND...: until the command succeeds; a guest that ended
# fails at once
wait_guest() {
  local what=$1
  shift
  for _ in $(seq 600); do
    "$@" && return 0
    console_has soak '^VSC result=' && fail "the guest ended before $what: $(console soak | grep -E '^VSC (error|result)=' | tr '\n' ' ')"
    sleep 0.1
  done
  fail "timed out waiting for $what"
}
# both halves moved past the values given: blocks written, pings answered
moved() { [ "$(prog written)" -gt "$1" ] 2>/dev/null && [ "$(prog answered)" -gt "$2" ] 2>/dev/null; }
lines_past() { [ "$(progress_lines)" -gt "$1" ]; }
resolved_past() { [ "$(prog resolved)" -ge "$1" ] 2>/dev/null; }

note "save and resume $SAVES times while the guest writes, reads and pings"
wait_guest "the soak to run" moved 0 0
saves=0 times="" lost_per_save=""
while [ $saves -lt $SAVES ]; do
  w=$(prog written) a=$(prog answered)
  wait_guest "disk and network traffic before save $((saves + 1))" moved "$w" "$a"
  [ "$(vm_prop soak State)" = Running ] || fail "State before save $((saves + 1)): $(vm_prop soak State)"
  t0=$(date +%s%N)
  expect_rc 0 vmctl save soak
  t1=$(date +%s%N)
  [ "$(vm_prop soak State)" = Saved ] || fail "State after save $((saves + 1)): $(vm_prop soak State)"
  n=$(progress_lines) lost0=$(prog lost)
  expect_rc 0 vmctl start soak --timeout=120
  t2=$(date +%s%N)
  saves=$((saves + 1))
  times="$times $(((t1 - t0) / 1000000))/$(((t2 - t1) / 1000000))"
  # The pings in flight at the save are below the count on a progress line
  # begun after the resume: line n + 2 (n + 1 may be one the save cut in
  # two, its figures from before). Once every ping below it is answered or
  # lost, the save's losses are known.
  wait_guest "progress after resume $saves" lines_past $((n + 1))
  first=$(prog pings $((n + 2)))
  wait_guest "the pings in flight at save $saves to be answered or lost" resolved_past "$first"
  lost=$(($(prog lost) - lost0))
  lost_per_save="$lost_per_save $lost"
  [ "$lost" -ge 0 ] && [ "$lost" -le $WINDOW ] || fail "save $saves lost $lost pings (at most the $WINDOW in flight)"
done
echo "  $saves saves; vmctl save/start ms:$times"
echo "  pings lost per save:$lost_per_save (sum $(($(echo "$lost_per_save" | tr ' ' '+'))))"
w=$(prog written) a=$(prog answered)
wait_guest "traffic after the last resume" moved "$w" "$a"

note "stop the run: every block is read once more"
for _ in $(seq 60); do
  console_has soak '^VSC soak_stop=' && break
  echo VSCSOAK-STOP >"/dev/udp/10.96.0.2/$STOP_PORT" 2>/dev/null
  sleep 0.5
done
wait_state soak Off 300
# The State values vmms announced (PropertiesChanged of the VM interface
# carrying State), one after another, each followed by a space.
announced_states() {
  grep -F "\"path\":\"$path\"" "$T/signals.json" | grep -F '"member":"PropertiesChanged"' |
    sed -n 's/.*"State":{"type":"s","data":"\([A-Za-z]*\)".*/\1/p' | tr '\n' ' '
}
# The monitor writes the last PropertiesChanged a moment after the property
# reads Off: wait for it before stopping the monitor.
for _ in $(seq 100); do
  case "$(announced_states)" in *"Off ") break ;; esac
  sleep 0.1
done
kill $MON 2>/dev/null
console soak | grep -E '^VSC (soak_(start|stop|disk|net|bad)|net_stats|error|result)' | sed 's/^/  [soak] /'

out=$(console soak)
v() { echo "$out" | sed -n "s/^VSC $1.* $2=\([0-9]*\).*/\1/p" | tail -n 1; }
echo "$out" | grep -q '^VSC soak_stop=datagram ' || fail "the guest did not stop on the datagram"
echo "$out" | grep -Eq '^VSC (soak_bad|warning|error)=' && fail "$(echo "$out" | grep -E '^VSC (soak_bad|warning|error)=')"
blocks=$(v soak_start= blocks) written=$(v soak_disk= written) read=$(v soak_disk= read) final=$(v soak_disk= final_read)
[ "$(v soak_disk= bad)" = 0 ] || fail "bad blocks: $(v soak_disk= bad)"
[ "${written:-0}" -gt $((2 * blocks)) ] || fail "only $written blocks written"
[ "$read" = $((2 * written)) ] || fail "read $read for $written written: a read went missing or came twice"
[ "$final" = "$blocks" ] || fail "the final pass read $final of $blocks blocks"
pings=$(v soak_net pings) ans=$(v soak_net answered) lost=$(v soak_net lost)
[ "$(v soak_net dup)" = 0 ] && [ "$(v soak_net corrupt)" = 0 ] || fail "duplicated or corrupt replies"
[ $((ans + lost)) = "$pings" ] || fail "pings $pings: $ans answered + $lost lost"
[ "$lost" -le $((SAVES * WINDOW)) ] || fail "$lost pings lost in $SAVES saves (at most $WINDOW each)"
[ "$ans" -gt $((pings / 2)) ] || fail "only $ans of $pings pings answered"
echo "$out" | grep -q '^VSC result=ok status=0$' || fail "the guest did not finish with result=ok"
echo "  measured: $SAVES saves, $written blocks written and read back ($read reads verified, $final in the final pass)," \
  "$pings pings, $lost lost ($(awk "BEGIN { printf \"%.2f\", $lost / $SAVES }") per save), late $(v soak_net late)," \
  "reordered $(v soak_net reordered)"

note "vmms announced every step of every save"
states=$(announced_states)
want="Starting Running $(for _ in $(seq $SAVES); do printf 'Saving Saved Starting Running '; done)Off "
[ "$states" = "$want" ] || fail "state changes: $states
expected: $want"

sanitizer_clean "$T/log/$(vm_prop soak Id).worker.log" soak
[ $fail -eq 0 ] || exit 1
echo PASS
