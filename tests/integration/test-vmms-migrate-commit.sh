#!/bin/bash
# SPDX-License-Identifier: MIT
# The commit point of a live migration through two vmms (docs/migration.md
# "One running copy"), with the fake worker (no KVM needed: it speaks the
# stream and the commit exactly as vmwp does, without RAM):
#   a plain move A->B->A, the image lock taken over by each destination
#     once the source's worker is gone;
#   the destination's RUNNING lost after it took the COMMIT
#     (fake.lose_running): the source stays paused and Migrating, asks B,
#     learns B has the VM, stops its copy: the VM runs on B only;
#   the source's COMMIT lost on the way (fake.lose_commit): B never runs
#     the VM; A asks, learns B gave it up, resumes: it runs on A only;
#   CancelMigration is refused while the commit is unresolved;
#   the RUNNING lost and vmms A restarted while B cannot tell yet: the
#     question is in the worker's runtime record, the new vmms asks again;
#   post-copy: no cancel after its COMMIT, and the image lock B's once B
#     runs, while A still serves pages;
#   Migrate's options (vmctl migrate --no-auto-converge --max-downtime)
#     reach the source's worker's migrate-send, and nothing when not given;
#   the source's worker killed after the COMMIT (fake.delay_running_ms
#     holds B between the COMMIT and running): A holds the worker's end
#     back, asks, learns B has the VM, removes it and restarts nothing;
#   the source's worker killed mid-transfer (fake.migrate_ms): B never
#     runs it, A asks, then applies the restart policy;
#   the destination's worker killed mid-transfer, and the network cut
#     mid-transfer (a TCP relay between the two, killed) for longer than
#     --migration-recover-ms: A runs on, B forgets the VM;
#   the network cut and back within it: the channel resumes and the move
#     completes; a post-copy's network cut after its COMMIT for longer than
#     it: both ends hold (the VM's memory is split), resume when the link
#     is back, the move completes; a cancel (vmctl migrate-cancel) reaches
#     B at once (ABORT); Ctrl-C on vmctl migrate cancels the move;
#   vmctl migrate-reconnect: a cut channel resumed at another address of B
#     (B directly, the relay gone); refused for a VM not migrating;
#   vmms A, then vmms B, told to exit (SIGTERM) during a post-copy: each
#     exits once the post-copy is done, the VM on B;
#   owners travel by user name: B maps the name to its own uid and refuses
#     a name, or a uid without a name, that it lacks;
#   a Saved VM arriving twice at once: the second move is refused.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
VMMS_TEST_WORKER=fake
t_pick_worker
read -r PA PB PC < <(t_free_ports 3)
[ -n "$PC" ] || fail "no free ports"
t_start_vmms --migration-insecure --migration-listen=127.0.0.1:$PA --migration-recover-ms=6000
t_host_b_start "$PB" --migration-insecure --migration-recover-ms=6000

gone_from() { ! "$VMCTL_BIN" --address="$1" show "$2" >/dev/null 2>&1; }
b_committed() { grep -q 'fake-vmwp: committed' "$(ADDR=$ADDRB vm_prop "$1" ConsoleLog)"; }
b_has_worker() { [ "$(ADDR=$ADDRB vm_prop "$1" WorkerPid)" -gt 0 ]; }
on_b() { "$VMCTL_BIN" --address="$ADDRB" show "$1" >/dev/null 2>&1; }
# start_vm NAME CMDLINE [JSON members]: created and Running on A; PID its worker.
start_vm() {
  t_create "$1" "$2" "${3:-}"
  expect_rc 0 vmctl start "$1" --timeout=30
  wait_state "$1" Running
  PID=$(vm_prop "$1" WorkerPid)
}
# migrate_bg NAME PORT: vmctl migrate in the background (MIG; its output in $T/NAME.out).
migrate_bg() { vmctl migrate "$1" "127.0.0.1:$2" >"$T/$1.out" 2>&1 & MIG=$!; }
# migrate_done NAME RC [TEXT]: vmctl migrate ended with RC, saying TEXT.
migrate_done() {
  local rc
  wait "$MIG"; rc=$?
  [ "$rc" = "$2" ] || fail "vmctl migrate $1 exited $rc: $(cat "$T/$1.out")"
  [ -z "${3:-}" ] || grep -q "$3" "$T/$1.out" || fail "vmctl migrate $1 said: $(cat "$T/$1.out")"
}
# stays_on_a NAME: Running on A with its worker PID, gone from B.
stays_on_a() {
  wait_state "$1" Running
  [ "$(vm_prop "$1" WorkerPid)" = "$PID" ] || fail "$1's worker on A changed"
  wait_for 70 "$1 gone from B" gone_from "$ADDRB" "$1"
}

note "a plain move A -> B -> A; the image lock moves along"
truncate -s 1M "$T/plain.img"
image_locked() { ! flock -n -x "$T/plain.img" true; }
t_create plain "" ",\"disks\":[{\"path\":\"$T/plain.img\"}]"
expect_rc 0 vmctl start plain --timeout=30
wait_state plain Running
image_locked || fail "A's worker does not hold the image lock"
expect_rc 0 vmctl migrate plain 127.0.0.1:$PB
ADDR=$ADDRB wait_state plain Running
wait_for 10 "plain gone from A" gone_from "$ADDR" plain
# A's worker is gone, and with it its lock: B's vmms takes it over.
wait_for 10 "B holding the image lock" image_locked
grep -q "plain.*took over the image lock of 1 disk from the source" "$B/vmms.log" || fail "B did not log the lock"
ADDR=$ADDRB expect_rc 0 vmctl migrate plain 127.0.0.1:$PA
wait_state plain Running
wait_for 10 "plain gone from B" gone_from "$ADDRB" plain
wait_for 10 "A holding the image lock again" image_locked
# Another VM on that image is refused while the moved one runs.
t_create other "" ",\"disks\":[{\"path\":\"$T/plain.img\"}]"
expect_rc 1 vmctl start other --timeout=30
echo "$LAST_OUT" | grep -q "in use by another VM" || fail "a second VM on the image: $LAST_OUT"

note "RUNNING lost: B has the VM; A asks, then stops its copy"
start_vm lr "fake.lose_running"
expect_rc 0 vmctl migrate lr 127.0.0.1:$PB
ADDR=$ADDRB wait_state lr Running
wait_for 10 "lr gone from A" gone_from "$ADDR" lr
wait_for 10 "A's worker of lr ended" sh -c "! kill -0 $PID"
grep -q "lr.*the VM stays paused here while 127.0.0.1:$PB is asked who has it" "$T/vmms.log" ||
  fail "A did not log the unconfirmed commit: $(grep lr "$T/vmms.log" | tail -5)"
grep -q "lr.*the destination has the VM" "$T/vmms.log" || fail "A did not log B's answer"
grep -q "migration query from .* about VM" "$B/vmms.log" || fail "B did not log the query"

note "RUNNING lost and vmms A restarted before B could answer: the new vmms asks again"
start_vm rr "fake.lose_running fake.delay_running_ms=6000"
migrate_bg rr "$PB"
wait_for 20 "the unconfirmed commit" grep -q "rr.*is asked who has it" "$T/vmms.log"
t_stop_vmms
wait "$MIG"
alive "$PID" || fail "A's paused worker went with vmms"
grep -rEq "\"migration_unresolved\": *\"127.0.0.1:$PB\"" "$T/run/vms" || fail "the worker's record does not keep the question"
t_start_vmms --migration-insecure --migration-listen=127.0.0.1:$PA --migration-recover-ms=6000
wait_for 10 "A asking again" grep -q "rr.*committed without an answer before vmms restarted" "$T/vmms.log"
ADDR=$ADDRB wait_state rr Running 30
wait_for 20 "rr gone from A" gone_from "$ADDR" rr
wait_for 10 "A's worker of rr ended" sh -c "! kill -0 $PID"

note "COMMIT lost: B never runs the VM; A asks, then resumes it"
start_vm lc "fake.lose_commit"
migrate_bg lc "$PB"
wait_for 10 "the unconfirmed commit" grep -q "lc.*is asked who has it" "$T/vmms.log"
# Unresolved: no cancel (the VM may be running there, for all A knows).
if [ "$(vm_prop lc State)" = Migrating ]; then
  out=$(bus call org.vmstack.VMMS1 "$(vm_path lc)" org.vmstack.VMMS1.VM CancelMigration 2>&1) &&
    fail "CancelMigration was taken while the commit is unresolved"
  echo "$out" | grep -q "committed" || echo "$out" | grep -q "no migration" || fail "cancel said: $out"
fi
migrate_done lc 1 "the destination did not take the VM"
stays_on_a lc
ls "$B/state" | grep -q "$(vm_prop lc Id)" && fail "B stored the VM"
expect_rc 0 vmctl stop lc --timeout=30

note "Migrate's options reach the source's worker: vmctl migrate --no-auto-converge --max-downtime; the throttle in the progress"
start_vm opts "fake.migrate_ms=2000 fake.throttle_pct=40"
log=$(vm_prop opts ConsoleLog)
vmctl migrate opts "127.0.0.1:$PB" --no-auto-converge --max-downtime=7 --postcopy >"$T/opts.out" 2>&1 & MIG=$!
wait_for 20 "the worker's migrate-send" grep -q "fake-vmwp: migrate-send" "$log"
grep -q "fake-vmwp: migrate-send max_downtime_ms=7 auto_converge=false postcopy=true" "$log" || fail "options: $(grep migrate-send "$log")"
wait_for 10 "a throttled pass" sh -c "[ \"\$(busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path opts)' org.vmstack.VMMS1.VM MigrationThrottle 2>/dev/null)\" = 'u 40' ]"
migrate_done opts 0
grep -q "^migrating opts: pass [0-9]*, [0-9]*.0 MiB sent, 256 pages dirty (5120 pages/s), expected downtime 4 ms" "$T/opts.out" ||
  fail "vmctl migrate's progress: $(head -3 "$T/opts.out")"
grep -q "^migrating opts: pass [0-9]*, .*, expected downtime 4 ms, vCPUs throttled 40 %$" "$T/opts.out" ||
  fail "vmctl migrate does not show the throttle: $(tail -3 "$T/opts.out")"
ADDR=$ADDRB wait_state opts Running
start_vm opts2 "fake.migrate_ms=2000"
log=$(vm_prop opts2 ConsoleLog)
migrate_bg opts2 "$PB"
wait_for 20 "the worker's migrate-send" grep -q "fake-vmwp: migrate-send" "$log"
grep -q "fake-vmwp: migrate-send max_downtime_ms=- auto_converge=- postcopy=-" "$log" || fail "defaults: $(grep migrate-send "$log")"
migrate_done opts2 0
ADDR=$ADDRB wait_state opts2 Running

note "post-copy after its COMMIT: no cancel (the VM runs on B on pages from A); B has the image lock while A still serves pages; the move completes"
truncate -s 1M "$T/pc.img"
start_vm pc "fake.postcopy_ms=4000" ",\"disks\":[{\"path\":\"$T/pc.img\"}]"
migrate_bg pc "$PB"
wait_for 20 "the post-copy commit" grep -q "post-copy: committed, the VM runs on 127.0.0.1:$PB" "$T/vmms.log"
out=$(bus call org.vmstack.VMMS1 "$(vm_path pc)" org.vmstack.VMMS1.VM CancelMigration 2>&1) && fail "a post-copy's cancel after its COMMIT was taken"
echo "$out" | grep -q "the migration is committed" || fail "cancel said: $out"
expect_rc 5 vmctl migrate-cancel pc
echo "$LAST_OUT" | grep -q "the migration is committed" || fail "vmctl migrate-cancel said: $LAST_OUT"
# The source lets the lock go at B's RUNNING, not when its worker ends:
# B runs guarded although the pages take longer than the hand-over waits.
wait_for 3 "B taking pc's image lock" grep -q "pc.*took over the image lock of 1 disk from the source" "$B/vmms.log"
kill -0 "$MIG" 2>/dev/null || fail "the post-copy ended before B took the lock: nothing shown"
flock -n -x "$T/pc.img" true && fail "nobody holds pc's image lock during the post-copy"
migrate_done pc 0
grep -q "post-copy: 80 pages served after the switch-over (40 asked for by the destination) in 4000.0 ms" "$T/vmms.log" ||
  fail "A's log of the post-copy: $(grep post-copy "$T/vmms.log" | tail -2)"
ADDR=$ADDRB wait_state pc Running

note "the source's worker killed after the COMMIT: B has the VM; A asks, removes it, restarts nothing"
start_vm ks "fake.delay_running_ms=3000" ',"restart_policy":"always"'
migrate_bg ks "$PB"
wait_for 20 "B's copy committed" b_committed ks
kill -9 "$PID"
migrate_done ks 0
ADDR=$ADDRB wait_state ks Running
wait_for 10 "ks gone from A" gone_from "$ADDR" ks
grep -q "ks.*the worker ended during the migration" "$T/vmms.log" || fail "A did not hold the worker's end back"
grep -q "ks.*restarting" "$T/vmms.log" && fail "A restarted a VM that runs on B"

note "the source's worker killed mid-transfer: B never runs it; A applies its restart policy"
start_vm km "fake.migrate_ms=4000" ',"restart_policy":"always"'
migrate_bg km "$PB"
wait_for 20 "km arriving on B" on_b km
sleep 0.5
kill -9 "$PID"
migrate_done km 1 "the worker ended during the migration, and the destination does not have the VM"
wait_state km Running 30
[ "$(vm_prop km WorkerPid)" != "$PID" ] || fail "km was not restarted"
wait_for 10 "km gone from B" gone_from "$ADDRB" km
expect_rc 0 vmctl stop km --timeout=30

note "the destination's worker killed mid-transfer: A runs on"
start_vm kd "fake.migrate_ms=4000"
migrate_bg kd "$PB"
wait_for 20 "kd's worker on B" b_has_worker kd
sleep 0.5
kill -9 "$(ADDR=$ADDRB vm_prop kd WorkerPid)"
migrate_done kd 1
stays_on_a kd

# start_relay: a TCP relay PC -> PB (RELAY its pid), the network between the two.
start_relay() {
  python3 -c 'import socket,sys,threading
l=socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); l.bind(("127.0.0.1", int(sys.argv[1]))); l.listen(4)
def pump(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d: break
            b.sendall(d)
    except OSError: pass
    for s in (a, b):
        try: s.shutdown(socket.SHUT_RDWR)
        except OSError: pass
while True:
    c, _ = l.accept(); u = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
    threading.Thread(target=pump, args=(c, u), daemon=True).start()
    threading.Thread(target=pump, args=(u, c), daemon=True).start()' "$PC" "$PB" &
  RELAY=$!
  t_on_exit "kill $RELAY 2>/dev/null"
  wait_for 10 "the relay" sh -c "ss -ltn | grep -q ':$PC '"
}

note "the network cut mid-transfer and back within --migration-recover-ms: the channel resumes, the move completes"
start_relay
start_vm blip "fake.migrate_ms=4000"
migrate_bg blip "$PC"
wait_for 20 "blip arriving on B" on_b blip
sleep 0.5
kill -9 "$RELAY"; wait "$RELAY" 2>/dev/null
wait_for 10 "A noticing the cut" grep -q "blip.*the migration channel to 127.0.0.1:$PC was cut" "$T/vmms.log"
sleep 1
start_relay
migrate_done blip 0
ADDR=$ADDRB wait_state blip Running
wait_for 10 "blip gone from A" gone_from "$ADDR" blip
grep -q "blip.*the migration channel to 127.0.0.1:$PC is back after [0-9]* ms" "$T/vmms.log" || fail "A did not log the resume"
echo "  ($(grep -o "the migration channel to 127.0.0.1:$PC is back after [0-9]* ms" "$T/vmms.log"))"
grep -q "incoming migration channel from 127.0.0.1 is back after" "$B/vmms.log" || fail "B did not log the resume"
grep -q "; the channel is cut (.*), reconnecting$" "$T/blip.out" || fail "vmctl migrate did not show the cut: $(tail -3 "$T/blip.out")"
kill "$RELAY"; wait "$RELAY" 2>/dev/null

note "the network cut mid-transfer for longer than --migration-recover-ms (a TCP relay killed): A runs on, B forgets"
start_relay
start_vm cut "fake.migrate_ms=4000"
migrate_bg cut "$PC"
wait_for 20 "cut arriving on B" on_b cut
sleep 0.5
kill -9 "$RELAY"
migrate_done cut 1
stays_on_a cut
grep -q "incoming migration channel from 127.0.0.1 ended: the channel was cut (.*) and the source did not come back within 6000 ms" "$B/vmms.log" ||
  fail "B's end of the cut channel: $(grep 'incoming migration channel' "$B/vmms.log" | tail -2)"

note "post-copy: the network cut after the COMMIT for longer than --migration-recover-ms: both ends hold, the move completes"
start_relay
start_vm held "fake.postcopy_ms=14000"
migrate_bg held "$PC"
wait_for 20 "the post-copy commit" grep -q "held.*post-copy: committed, the VM runs on 127.0.0.1:$PC" "$T/vmms.log"
wait_for 10 "B holding the channel" grep -q "held.*post-copy: runs here while its last pages come from 127.0.0.1; the channel waits out any cut" "$B/vmms.log"
ended=$(grep -c "incoming migration channel from 127.0.0.1 ended" "$B/vmms.log")
kill -9 "$RELAY"; wait "$RELAY" 2>/dev/null
wait_for 10 "A noticing the cut" grep -q "held.*the migration channel to 127.0.0.1:$PC was cut (.*); reconnecting until it is back" "$T/vmms.log"
wait_for 10 "B noticing the cut" grep -q "incoming migration channel from 127.0.0.1 cut (.*); waiting for the source until it is back" "$B/vmms.log"
vm_prop held MigrationChannel | grep -q '^"cut" true 1 "' || fail "A's MigrationChannel in the cut: $(vm_prop held MigrationChannel)"
ADDR=$ADDRB vm_prop held MigrationChannel | grep -q '^"cut" true 1 "' ||
  fail "B's MigrationChannel in the cut: $(ADDR=$ADDRB vm_prop held MigrationChannel)"
"$VMCTL_BIN" --address="$ADDRB" show held | grep -Eq '^MigrationChannel cut for [0-9.]+ ?[a-z]+, reconnecting until it is back \(post-copy\), 1 cut \(last: .+\)$' ||
  fail "vmctl show on B: $("$VMCTL_BIN" --address="$ADDRB" show held | grep Migration)"
vmctl show held --json | python3 -c 'import json,sys; c=json.load(sys.stdin)["MigrationChannel"]; sys.exit(not (c[0] == "cut" and c[1] is True and c[2] == 1))' ||
  fail "vmctl show --json on A: $(vmctl show held --json)"
sleep 8 # the window is 6 s
kill -0 "$MIG" 2>/dev/null || fail "the held migration ended during the cut: $(cat "$T/held.out")"
[ "$(grep -c "incoming migration channel from 127.0.0.1 ended" "$B/vmms.log")" = "$ended" ] ||
  fail "B gave the held channel up: $(grep "incoming migration channel from 127.0.0.1 ended" "$B/vmms.log" | tail -1)"
start_relay
migrate_done held 0
ADDR=$ADDRB wait_state held Running
wait_for 10 "held gone from A" gone_from "$ADDR" held
ms=$(grep -o "held.*the migration channel to 127.0.0.1:$PC is back after [0-9]* ms" "$T/vmms.log" | grep -o "[0-9]* ms$")
[ -n "$ms" ] && [ "${ms% ms}" -ge 8000 ] || fail "A's resume: '$ms'"
echo "  (A: back after $ms)"
grep -q "; the channel is cut (.*), reconnecting until it is back$" "$T/held.out" || fail "vmctl migrate did not show the held cut"
ADDR=$ADDRB vm_prop held MigrationChannel | grep -q '^"closed" false 1 "' ||
  fail "B's MigrationChannel after the move: $(ADDR=$ADDRB vm_prop held MigrationChannel)"
wait_for 10 "B's worker reading the stream to its end" grep -q "fake-vmwp: post-copy: the stream ended" "$(ADDR=$ADDRB vm_prop held ConsoleLog)"
kill "$RELAY"; wait "$RELAY" 2>/dev/null

note "vmctl migrate-reconnect: a cut channel dials the destination at another address and resumes there"
ADDR=$ADDRB expect_rc 5 vmctl migrate-reconnect opts2 127.0.0.1:$PA
echo "$LAST_OUT" | grep -q "ReconnectMigration is not possible while the VM is Running" || fail "reconnect of a Running VM: $LAST_OUT"
start_relay
start_vm rc "fake.migrate_ms=5000"
migrate_bg rc "$PC"
wait_for 20 "rc arriving on B" on_b rc
expect_rc 4 vmctl migrate-reconnect rc "127.0.0.1:99999"
kill -9 "$RELAY"; wait "$RELAY" 2>/dev/null
wait_for 10 "A noticing the cut" grep -q "rc.*the migration channel to 127.0.0.1:$PC was cut" "$T/vmms.log"
expect_rc 0 vmctl migrate-reconnect rc "127.0.0.1:$PB"
[ "$LAST_OUT" = "the migration channel of rc reconnects to 127.0.0.1:$PB" ] || fail "migrate-reconnect said: $LAST_OUT"
migrate_done rc 0
ADDR=$ADDRB wait_state rc Running
grep -q "rc.*the migration channel reconnects to 127.0.0.1:$PB from now on" "$T/vmms.log" || fail "A did not log the new address"
grep -q "rc.*the migration channel to 127.0.0.1:$PB is back after [0-9]* ms" "$T/vmms.log" || fail "A did not resume at the new address"

note "a cancel reaches the destination at once (ABORT), not after the recover window"
start_vm ab "fake.migrate_ms=8000"
migrate_bg ab "$PB"
wait_for 20 "ab arriving on B" on_b ab
t0=$(date +%s%N)
expect_rc 0 vmctl migrate-cancel ab
[ "$LAST_OUT" = "the migration of ab is cancelled: it stays here" ] || fail "vmctl migrate-cancel said: $LAST_OUT"
wait_for 10 "ab gone from B" gone_from "$ADDRB" ab
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -lt 2500 ] || fail "B forgot the cancelled VM only after $ms ms"
grep -q "incoming migration channel from 127.0.0.1 ended: the peer ended the channel" "$B/vmms.log" || fail "B did not hear the ABORT"
migrate_done ab 1 "cancelled"
wait_state ab Running

note "Ctrl-C on vmctl migrate cancels the move: the VM runs on here"
start_vm cc "fake.migrate_ms=8000"
migrate_bg cc "$PB"
wait_for 20 "cc arriving on B" on_b cc
kill -INT "$(pgrep -P "$MIG" -x vmctl || echo "$MIG")" # migrate_bg's subshell runs vmctl
migrate_done cc 1 "cancelled"
grep -q "vmctl: migrate: cancelling (Ctrl-C again: stop waiting; vmms goes on with it)" "$T/cc.out" || fail "vmctl's cancel: $(cat "$T/cc.out")"
wait_state cc Running
wait_for 10 "cc gone from B" gone_from "$ADDRB" cc

# exit_waits VM PID LOG: the vmms PID (its log LOG), told to exit during
# VM's post-copy, puts its exit off until the move is done, then exits.
exit_waits() {
  kill -TERM "$2"
  wait_for 5 "vmms putting its exit off" grep -q "signal 15: exiting once 1 migration past its commit is done (a post-copy" "$3"
  sleep 1
  kill -0 "$2" 2>/dev/null || fail "vmms exited during $1's post-copy"
  migrate_done "$1" 0
  wait "$2" 2>/dev/null
  grep -q "the migrations past their commit are done: exiting" "$3" || fail "the exit: $(tail -3 "$3")"
}

note "vmms A asked to exit during a post-copy: it exits once the post-copy is done (its VM's memory is split), not before"
start_vm px "fake.postcopy_ms=3000"
migrate_bg px "$PB"
wait_for 20 "the post-copy commit" grep -q "px.*post-copy: committed, the VM runs on 127.0.0.1:$PB" "$T/vmms.log"
exit_waits px "$VMMS_PID" "$T/vmms.log"
VMMS_PID=
ADDR=$ADDRB wait_state px Running
wait_for 10 "B's worker reading px's stream to its end" grep -q "fake-vmwp: post-copy: the stream ended" "$(ADDR=$ADDRB vm_prop px ConsoleLog)"
t_start_vmms --migration-insecure --migration-listen=127.0.0.1:$PA --migration-recover-ms=6000
gone_from "$ADDR" px || fail "px came back on A after its move"

note "vmms B asked to exit during a post-copy: it exits once the pages are all there, and the VM runs on"
start_vm py "fake.postcopy_ms=3000"
migrate_bg py "$PB"
wait_for 20 "B holding py's channel" grep -q "py.*post-copy: runs here while its last pages come from" "$B/vmms.log"
exit_waits py "$BVMMS" "$B/vmms.log"
BVMMS=
t_host_b_start "$PB" --migration-insecure --migration-recover-ms=6000
ADDR=$ADDRB wait_state py Running
grep -q "fake-vmwp: post-copy: the stream ended" "$(ADDR=$ADDRB vm_prop py ConsoleLog)" || fail "B's worker of py lost its stream"

note "owners by name: B maps a user name to its own uid, refuses names and uids it lacks"
nouid=4242; while getent passwd "$nouid" >/dev/null; do nouid=$((nouid + 1)); done
vm_json owned "" ',"id":"0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"' >"$T/owned.json"
ask_b() { # OWNER [OWNER_NAME]: a raw request to B; prints its answer
  python3 -c 'import json,socket,struct,sys
req={"config":open(sys.argv[2]).read(),"owner":int(sys.argv[3]),"mode":"live"}
if len(sys.argv) > 4: req["owner_name"]=sys.argv[4]
body=json.dumps(req).encode()
s=socket.create_connection(("127.0.0.1",int(sys.argv[1])))
s.sendall(b"VMMC"+struct.pack("<HHII",1,1,len(body),0)+body)
h=s.recv(16,socket.MSG_WAITALL)
print(s.recv(struct.unpack("<I",h[8:12])[0],socket.MSG_WAITALL).decode())' "$PB" "$T/owned.json" "$@"
}
out=$(ask_b "$nouid" nosuchuser-vmstack)
echo "$out" | grep -q "owner: user 'nosuchuser-vmstack' (uid $nouid on the source) does not exist here" ||
  fail "an unknown user name: $out"
out=$(ask_b "$nouid")
echo "$out" | grep -q "owner: uid $nouid is not a user here" || fail "an unknown uid without a name: $out"
out=$(ask_b "$nouid" root)
echo "$out" | grep -q '"ok":true' || fail "root by name: $out"
grep -q "owner 'root' is uid $nouid there, 0 here" "$B/vmms.log" || fail "B did not map the owner"
wait_for 20 "B forgetting the VM that never came" sh -c "! '$VMCTL_BIN' --address='$ADDRB' show owned >/dev/null 2>&1"

note "one VM arriving twice at once (a Saved VM's move is defined only once stored): the second is refused"
out=$(python3 -c 'import json,socket,struct,sys,time
def ask(port, cfg):
    body=json.dumps({"config":cfg,"owner":0,"mode":"saved","size":4096,"start":False}).encode()
    s=socket.create_connection(("127.0.0.1",port))
    s.sendall(b"VMMC"+struct.pack("<HHII",1,1,len(body),0)+body)
    h=s.recv(16,socket.MSG_WAITALL)
    return s, s.recv(struct.unpack("<I",h[8:12])[0],socket.MSG_WAITALL).decode()
cfg=open(sys.argv[2]).read()
first, a1 = ask(int(sys.argv[1]), cfg)
second, a2 = ask(int(sys.argv[1]), cfg)
print(a1); print(a2)' "$PB" "$T/owned.json")
echo "$out" | head -1 | grep -q '"ok":true' || fail "the first move: $out"
echo "$out" | tail -1 | grep -q "is arriving here already" || fail "the second move of the same VM: $out"
wait_for 20 "B's temporary state file gone" sh -c "! ls '$B/state' | grep -q vmrs"

echo "PASS"
