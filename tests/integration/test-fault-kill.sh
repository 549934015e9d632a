#!/bin/bash
# SPDX-License-Identifier: MIT
# A worker killed in the middle of writing, through vmms (docs/hostile-
# guests.md, "Fault matrix"; the worker-level test is
# test-guest-disk-durability.sh). The test guest writes numbered blocks
# and says which ones it may call durable (FUA, or covered by a SYNCHRONIZE
# CACHE: docs/storvsp.md, "Durability"); the test SIGKILLs the sandboxed
# worker vmms started, after a random number of acknowledgements. vmms must
# mark the VM Crashed with the reason, and during the restart back-off
# (no worker holds the image) every acknowledged block is in the image;
# then the on-failure restart policy starts a new worker, which runs, and
# Kill ends the VM Off.
set -u
source "$(dirname "$0")/vmms-lib.sh"
source "$(dirname "$0")/hostile-lib.sh"
t_setup
t_need_guest_vsc
tmp=$T
# A back-off long enough for the image check to run inside it on a busy
# machine (4 s was not, beside a build) and on the emulated AMD-V host,
# where the check runs translated by TCG (10 s was not there: 980 blocks,
# docs/amdv-host.md "What differs").
BACKOFF_MS=30000
t_start_vmms --restart-delay-ms=$BACKOFF_MS

SEED=$(( (RANDOM << 15 | RANDOM) + 1 ))
AFTER=$((20 + RANDOM % 300))
IMG=$T/images/durable.img
truncate -s 64M "$IMG"
# 16000 blocks of 4 KiB fill most of the image: the guest is still writing
# when the test kills it and when it looks at the restarted worker, also
# where the guest is fast and the test's own commands slow (the emulated
# AMD-V host, where 4000 blocks were done before the test looked).
printf '{"name":"durable","memory_mib":128,"vcpus":1,"restart_policy":"on-failure","boot":{"kernel":"%s","cmdline":"%s"},"disks":[{"path":"%s"}]}' \
  "$GUEST" "vsc.mode=disk-check vsc.disk.seed=$SEED vsc.disk.durable_blocks=16000" "$IMG" >"$T/durable.json"
expect_rc 0 vmctl create "$T/durable.json"
expect_rc 0 vmctl start durable --timeout=120
LOG=$(vm_prop durable ConsoleLog)
P1=$(vm_prop durable WorkerPid)

note "kill -9 of the worker after $AFTER acknowledgements"
for _ in $(seq 3000); do
  [ "$(grep -c '^VSC ack=' "$LOG")" -ge "$AFTER" ] && break
  alive "$P1" || fail "the worker ended by itself: $(vm_prop durable ExitReason)"
  sleep 0.05
done
kill -9 "$P1"
cp "$LOG" "$T/first-run.console"
wait_state durable Crashed 30
[ "$(vm_prop durable ExitReason)" = "worker killed by signal KILL" ] || bad "reason: $(vm_prop durable ExitReason)"
[ "$(vm_prop durable WorkerPid)" = 0 ] || bad "WorkerPid $(vm_prop durable WorkerPid) while Crashed"
grep -q '^VSC durable_done=' "$T/first-run.console" && fail "the run finished before the kill"

note "during the back-off: every acknowledged block is in the image"
t0=$(date +%s)
# Only whole lines count: the kill may cut the last one.
sed -n 's/^VSC ack=\([0-9]*\)$/VSC fault_ack=\1/p' "$T/first-run.console" >"$T/acks"
check_acked durable "$IMG" "$T/acks" "$SEED"
echo "  killed after $(wc -l <"$T/acks") acknowledgements"
[ "$(vm_prop durable State)" = Crashed ] ||
  bad "restarted before the back-off ended: $(vm_prop durable State) (the check took $(($(date +%s) - t0)) s of the ${BACKOFF_MS} ms)"

note "the restart policy starts a new worker"
for _ in $(seq $((BACKOFF_MS / 100 + 300))); do [ "$(vm_prop durable Restarts)" = 1 ] && break; sleep 0.1; done
[ "$(vm_prop durable Restarts)" = 1 ] || bad "Restarts: $(vm_prop durable Restarts)"
wait_state durable Running 120
P2=$(vm_prop durable WorkerPid)
[ "$P2" != "$P1" ] && [ "$P2" -gt 0 ] || bad "no new worker ($P1 -> $P2)"
grep -q "vm durable: restarting in $BACKOFF_MS ms (restart policy on-failure)" "$T/vmms.log" || bad "no back-off logged"
expect_rc 0 vmctl kill durable
wait_state durable Off 30
for f in "$T"/log/*.worker.log; do sanitizer_clean "$f" "$(basename "$f")"; done
finish
