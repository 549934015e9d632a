#!/bin/bash
# SPDX-License-Identifier: MIT
# The Heartbeat property's signals (docs/dbus-api.md): a beat (one a second
# from the fake worker, as from a guest's hv_utils) moves the time a read
# returns, and sends no PropertiesChanged; a change of the status does
# (fake.hb_lost_after: "ok" for 3 beats, then "lost"). Before, every beat
# of every running VM went to every client of the system bus: 100 VMs, 100
# signals a second, and the Cockpit page redrew a row for each
# (bench/bench-cockpit.sh, docs/cockpit.md "Speed"). The same for the
# Memory properties of a VM with Dynamic Memory, whose worker reports with
# each beat: a report that changes no figure sends nothing.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
VMMS_TEST_WORKER=fake t_pick_worker
t_start_vmms

# Appended to (O_APPEND), so that emptying the log between the steps works.
busctl --address="$ADDR" monitor --json=short org.vmstack.VMMS1 >>"$T/signals.json" 2>"$T/monitor.err" &
MON=$!
t_on_exit "kill $MON 2>/dev/null"
sleep 0.5

# hb_signals [STATUS]: the PropertiesChanged signals that carried
# Heartbeat (with STATUS only), in the monitor's log so far;
# hb_signals --memory: those of the Memory interface.
hb_signals() {
  python3 - "$T/signals.json" "${1:-}" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]):
    try:
        m = json.loads(line)
    except ValueError:
        continue  # a line being written
    if m.get("member") != "PropertiesChanged":
        continue
    iface, changed = m["payload"]["data"][0], m["payload"]["data"][1]
    if sys.argv[2] == "--memory":
        n += iface == "org.vmstack.VMMS1.Memory"
        continue
    hb = changed.get("Heartbeat")
    if hb and (not sys.argv[2] or hb["data"][0] == sys.argv[2]):
        n += 1
print(n)
PY
}

note "a running VM's beats: the time moves, no signal"
t_create hb
expect_rc 0 vmctl start hb --timeout=30
wait_for 10 "Heartbeat ok" sh -c "'$VMCTL_BIN' --address='$ADDR' show hb | grep -Eq '^Heartbeat +ok'"
t1=$(vm_prop hb Heartbeat | awk '{print $2}')
sleep 3.5
t2=$(vm_prop hb Heartbeat | awk '{print $2}')
[ "$(vm_prop hb Heartbeat | awk '{print $1}')" = '"ok"' ] || fail "Heartbeat $(vm_prop hb Heartbeat)"
[ $((t2 - t1)) -ge 2000000 ] || fail "the last beat's time moved by $(( (t2 - t1) / 1000 )) ms in 3.5 s: $t1 -> $t2"
# The state changes carry Heartbeat with the others (docs/dbus-api.md):
# Starting and Running; then the first beat's "no-contact" -> "ok".
n=$(hb_signals) ok=$(hb_signals ok)
[ "$ok" = 1 ] && [ "$n" = 3 ] || fail "$n PropertiesChanged carried Heartbeat ($ok of them ok) in about 5 s of beats; want 3 (1 ok)"
note "$n signals with Heartbeat ($ok ok) over $(( (t2 - t1) / 1000000 ))+ beats"
expect_rc 0 vmctl kill hb

note "a change of the status is signalled: ok -> lost"
: >"$T/signals.json"
t_create lost "fake.hb_lost_after=3"
expect_rc 0 vmctl start lost --timeout=30
wait_for 15 "Heartbeat lost" sh -c "'$VMCTL_BIN' --address='$ADDR' show lost | grep -Eq '^Heartbeat +lost'"
lost_seen() { [ "$(hb_signals lost)" -ge 1 ]; }
wait_for 5 "the signal of lost" lost_seen
sleep 1.5 # a beat more would have come
[ "$(hb_signals lost)" = 1 ] && [ "$(hb_signals ok)" = 1 ] ||
  fail "lost signalled $(hb_signals lost) times, ok $(hb_signals ok) times; want once each"
last=$(vm_prop lost Heartbeat | awk '{print $2}')
[ "$last" -gt 0 ] || fail "a lost heartbeat's last beat: $(vm_prop lost Heartbeat)"
expect_rc 0 vmctl kill lost

note "Dynamic Memory's reports with each beat: signalled when a figure changes"
t_create dm "" ',"dynamic_memory":{"enabled":true,"minimum_mib":32,"maximum_mib":256}'
expect_rc 0 vmctl start dm --timeout=30
wait_for 10 "Heartbeat ok" sh -c "'$VMCTL_BIN' --address='$ADDR' show dm | grep -Eq '^Heartbeat +ok'"
sleep 2 # its first reports, the balancer's first round
: >"$T/signals.json"
sleep 3.5
n=$(hb_signals --memory)
[ "$n" = 0 ] || fail "$n Memory PropertiesChanged in 3.5 s of unchanged reports"
note "none in 3.5 s of unchanged reports"
expect_rc 0 vmctl memory dm 128M
mem_seen() { [ "$(hb_signals --memory)" -ge 1 ]; }
wait_for 5 "a Memory signal of the new target" mem_seen
expect_rc 0 vmctl kill dm
echo PASS
