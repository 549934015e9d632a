#!/bin/bash
# SPDX-License-Identifier: MIT
# Two hosts on one machine (docs/migration.md, issue #20's test set-up):
# vmms A and vmms B each in a network namespace of their own, joined by a
# veth pair (10.94.0.1 and .2), migrating over TLS on the default port with
# certificates for those addresses; the fake worker, so no KVM is needed
# (its stream and commit are vmwp's; the guest's own checks are the real
# worker's tests). A VM with a disk moves A->B->A ten times: after each
# move it runs on exactly one side, the other has forgotten it, and the
# image lock is the new side's. A move whose TCP connection is killed
# mid-transfer resumes on a new one (TLS) and completes. Then the link is
# cut mid-transfer (the
# veth down): A's worker gives up and runs on; once the link is back, B
# learns the stream ended and forgets the VM.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
VMMS_TEST_WORKER=fake
t_pick_worker
NSA=vmsmiga$$ NSB=vmsmigb$$ VA=vmsa$$ VB=vmsb$$
ip netns add "$NSA" 2>/dev/null || { echo "SKIP: cannot create a network namespace"; exit 77; }
t_on_exit "ip netns del $NSA"
ip netns add "$NSB" || fail "netns $NSB"
t_on_exit "ip netns del $NSB"
ip link add "$VA" netns "$NSA" type veth peer name "$VB" netns "$NSB" || fail "veth"
ip -n "$NSA" addr add 10.94.0.1/24 dev "$VA" && ip -n "$NSB" addr add 10.94.0.2/24 dev "$VB" || fail "addresses"
for ns in "$NSA" "$NSB"; do ip -n "$ns" link set lo up; done
ip -n "$NSA" link set "$VA" up && ip -n "$NSB" link set "$VB" up || fail "links up"

t_migration_pki "$T/pki" IP:10.94.0.1 IP:10.94.0.2
# vmms runs inside its host's namespace (its workers with it); the buses
# are files, reachable from both.
for h in a b; do
  ns=$NSA; [ $h = b ] && ns=$NSB
  printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$ns" "$VMMS" >"$T/vmms-$h"
  chmod +x "$T/vmms-$h"
done
REAL_VMMS=$VMMS
VMMS=$T/vmms-a
# shellcheck disable=SC2046
t_start_vmms $(tls hosta) --migration-listen=10.94.0.1 --migration-allow=hostb
VMMS=$T/vmms-b
# shellcheck disable=SC2046
t_host_b_start 7390 $(tls hostb) --migration-allow=hosta --migration-listen=10.94.0.2
VMMS=$REAL_VMMS
# t_host_b_start listens on 127.0.0.1 in B's namespace too; the last
# --migration-listen wins, so give B's own address last.
grep -q "accepting migrations" "$B/vmms.log" || fail "B does not listen"
gone_from() { ! "$VMCTL_BIN" --address="$1" show "$2" >/dev/null 2>&1; }
image_locked() { ! flock -n -x "$T/mv.img" true; }

note "ten round trips over the veth with TLS"
truncate -s 1M "$T/mv.img"
t_create mv "" ",\"disks\":[{\"path\":\"$T/mv.img\"}]"
expect_rc 0 vmctl start mv --timeout=30
wait_state mv Running
id=$(vm_prop mv Id)
times=()
for i in $(seq 10); do
  t0=$(date +%s%N)
  expect_rc 0 vmctl migrate mv 10.94.0.2
  ADDR=$ADDRB wait_state mv Running
  wait_for 10 "mv gone from A ($i)" gone_from "$ADDR" mv
  wait_for 10 "B holding the image lock ($i)" image_locked
  t1=$(date +%s%N)
  ADDR=$ADDRB expect_rc 0 vmctl migrate mv 10.94.0.1
  wait_state mv Running
  wait_for 10 "mv gone from B ($i)" gone_from "$ADDRB" mv
  wait_for 10 "A holding the image lock ($i)" image_locked
  t2=$(date +%s%N)
  times+=("$(( (t1 - t0) / 1000000 ))/$(( (t2 - t1) / 1000000 ))")
  [ "$(vm_prop mv Id)" = "$id" ] || fail "the id changed"
done
echo "A->B/B->A, ms to the VM running on the other side and forgotten here: ${times[*]}"
[ "$(grep -c "mv: migrated to 10.94.0.2" "$T/vmms.log")" = 10 ] || fail "A did not log 10 moves"
grep -q "accepting migrations on 10.94.0.2.* (TLS)" "$B/vmms.log" || fail "B not on its veth address with TLS"

note "the channel's TCP connection killed mid-transfer (ss -K in A): the TLS channel resumes, the move completes"
t_create rs "fake.migrate_ms=3000"
expect_rc 0 vmctl start rs --timeout=30
wait_state rs Running
vmctl migrate rs 10.94.0.2 >"$T/rs.out" 2>&1 &
MIG=$!
wait_for 20 "rs arriving on B" sh -c "'$VMCTL_BIN' --address='$ADDRB' show rs >/dev/null 2>&1"
sleep 0.3
ip netns exec "$NSA" ss -K dst 10.94.0.2 dport = 7390 >/dev/null 2>&1 || fail "ss -K"
wait "$MIG"; rc=$?
[ "$rc" = 0 ] || fail "vmctl migrate rs exited $rc: $(tail -2 "$T/rs.out")"
ADDR=$ADDRB wait_state rs Running
wait_for 10 "rs gone from A" gone_from "$ADDR" rs
grep -q "rs: the migration channel to 10.94.0.2:7390 was cut" "$T/vmms.log" || fail "A saw no cut: ss -K killed nothing?"
grep -q "rs: the migration channel to 10.94.0.2:7390 is back after" "$T/vmms.log" || fail "A did not log the resume"
echo "  ($(grep -o "rs: the migration channel .* is back after [0-9]* ms" "$T/vmms.log"))"
ADDR=$ADDRB expect_rc 0 vmctl stop rs --timeout=30

note "the link cut mid-transfer: A runs on; B forgets the VM once the link is back"
expect_rc 0 vmctl stop mv --timeout=30
expect_rc 0 vmctl delete mv
t_create cut "fake.migrate_ms=3000"
expect_rc 0 vmctl start cut --timeout=30
wait_state cut Running
pid=$(vm_prop cut WorkerPid)
vmctl migrate cut 10.94.0.2 >"$T/cut.out" 2>&1 &
MIG=$!
wait_for 20 "cut arriving on B" sh -c "'$VMCTL_BIN' --address='$ADDRB' show cut >/dev/null 2>&1"
ip -n "$NSA" link set "$VA" down
wait "$MIG"; rc=$?
[ "$rc" = 1 ] || fail "vmctl migrate exited $rc: $(cat "$T/cut.out")"
wait_state cut Running
[ "$(vm_prop cut WorkerPid)" = "$pid" ] || fail "cut's worker on A changed"
ip -n "$NSA" link set "$VA" up
wait_for 60 "cut gone from B" gone_from "$ADDRB" cut
echo "  ($(cat "$T/cut.out"))"
echo "PASS"
