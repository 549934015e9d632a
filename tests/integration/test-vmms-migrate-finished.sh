#!/bin/bash
# SPDX-License-Identifier: MIT
# MigrationFinished (docs/dbus-api.md "Migrate"): the source's VM object
# says how every move ended, for clients other than Migrate's caller. Two
# vmms with the fake worker on loopback (insecure): a live move (moved,
# the destination, Running there, no message), a quick move that leaves
# the VM Saved there (moved, Saved), a live move to a port nobody listens
# on (failed, Migrate's message) and a live move cancelled with vmctl
# migrate-cancel (cancelled). Each once, before VMRemoved when it moved.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
command -v dbus-monitor >/dev/null || { echo "SKIP: dbus-monitor missing (scripts/deps.sh: dbus)"; exit 77; }
WORKER=$FAKE_WORKER WORKER_KIND=fake
read -r PORTB PORT_NONE <<<"$(t_free_ports 2)"
t_start_vmms --migration-insecure
t_host_b_start "$PORTB" --migration-insecure
DEST=127.0.0.1:$PORTB

dbus-monitor --address "$ADDR" "type='signal',interface='org.vmstack.VMMS1.VM',member='MigrationFinished'" \
  "type='signal',interface='org.vmstack.VMMS1.Manager',member='VMRemoved'" >"$T/signals" 2>&1 &
MON=$!
t_on_exit "kill $MON"
wait_for 5 "dbus-monitor" grep -q NameAcquired "$T/signals"

# finished PATH: the string arguments of the MigrationFinished signals of
# the VM at PATH (its object path: a VM that moved has none any more), one line each
finished() {
  awk -v path="$1" '
    /^signal / { on = ($0 ~ "path=" path ";" && /member=MigrationFinished/); if (on) { n++; line[n] = "" }; next }
    on && /^ *string "/ { s = $0; sub(/^ *string "/, "", s); sub(/"$/, "", s); line[n] = line[n] (line[n] == "" ? "" : "|") s }
    END { for (i = 1; i <= n; i++) print line[i] }' "$T/signals"
}
# wait_finished NAME PATH: NAME's object at PATH sent it
wait_finished() { wait_for 20 "$1's MigrationFinished" grep -q "path=$2;.*member=MigrationFinished" "$T/signals"; }

note "a live move: moved, the destination, Running there, no message; before VMRemoved"
t_create live "fake.migrate_ms=300"
expect_rc 0 vmctl start live
wait_state live Running
P_LIVE=$(vm_path live)
expect_rc 0 vmctl migrate live "$DEST"
wait_finished live "$P_LIVE"
wait_for 10 "live's VMRemoved" grep -q "member=VMRemoved" "$T/signals"
out=$(finished "$P_LIVE")
[ "$out" = "moved|$DEST|Running|" ] || fail "live's MigrationFinished: '$out'"
grep 'member=MigrationFinished\|member=VMRemoved' "$T/signals" | head -1 | grep -q MigrationFinished ||
  fail "MigrationFinished did not come before VMRemoved: $(grep member= "$T/signals")"

note "a quick move with --no-start: moved, Saved there"
t_create quick "fake.vmstate fake.save_ms=200"
expect_rc 0 vmctl start quick
wait_state quick Running
P_QUICK=$(vm_path quick)
expect_rc 0 vmctl migrate --quick --no-start quick "$DEST"
wait_finished quick "$P_QUICK"
out=$(finished "$P_QUICK")
[ "$out" = "moved|$DEST|Saved|" ] || fail "quick's MigrationFinished: '$out'"

note "nobody listening: failed, with Migrate's message"
t_create stays "fake.migrate_ms=60000"
expect_rc 0 vmctl start stays
wait_state stays Running
expect_rc 1 vmctl migrate stays "127.0.0.1:$PORT_NONE"
P_STAYS=$(vm_path stays)
wait_finished stays "$P_STAYS"
out=$(finished "$P_STAYS")
[[ "$out" == "failed|127.0.0.1:$PORT_NONE||cannot migrate VM 'stays' to 127.0.0.1: "* ]] || fail "the failed move's signal: '$out'"
[ "$(echo "$out" | wc -l)" = 1 ] || fail "more than one MigrationFinished for one move: $out"

note "a cancelled move: cancelled"
"$VMCTL_BIN" --address="$ADDR" migrate stays "$DEST" >"$T/cancelled.out" 2>&1 &
MIG=$!
wait_state stays Migrating
expect_rc 0 vmctl migrate-cancel stays
wait "$MIG" && fail "the cancelled vmctl migrate succeeded: $(cat "$T/cancelled.out")"
wait_for 20 "the second MigrationFinished" sh -c "[ \"\$(grep -c 'member=MigrationFinished' '$T/signals')\" -ge 4 ]"
out=$(finished "$P_STAYS" | tail -1)
[[ "$out" == "cancelled|$DEST||cannot migrate VM 'stays' to 127.0.0.1: cancelled" ]] || fail "the cancelled move's signal: '$out'"
wait_state stays Running
echo "PASS"
