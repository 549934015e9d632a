#!/bin/bash
# SPDX-License-Identifier: MIT
# Metering, vmms's part (docs/metering.md), with the fake worker, whose
# "stats" counters grow by a known step per request (vmms-fake-stats.c):
# GetMetrics reads the worker fresh (the totals are exactly the worker's
# counters by disk and NIC index, paths and MACs from the configuration);
# ResetMetering zeroes them (the next read is one step); the totals
# survive the worker's end exactly (its exit event's final counters) and
# vmms restarts (the re-attached worker counted against the reset's base,
# an Off VM's totals and a reset kept) and add up over the next run; rates come with
# a window once vmms sampled twice; GetMetricsHistory returns the rounds'
# documents, oldest first, to anyone; `vmctl stats` shows them as text (and
# again with --watch),
# --json and --prometheus, the latter and vmms's --metrics-file accepted
# by promtool (Debian's prometheus package) and written atomically; a
# caller outside the group reads the figures but may not reset them; a
# worker's malformed reply is refused, vmms lives on. The worker's own
# counters: tests/unit/test-disk-iostat.c; the pure half:
# tests/unit/test-vmms-metering.c; the real guest: test-vmms-metering-kvm.sh.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
command -v setpriv >/dev/null || { echo "SKIP: setpriv (util-linux) missing"; exit 77; }
WORKER=$FAKE_WORKER WORKER_KIND=fake
t_vmms_netns vmsmet
PROM=$T/metrics/vmstack.prom
mkdir -p "$T/metrics"
# A long interval: the test's own reads are the only "stats" requests
# between two rounds, so each read is one step of the fake's counters.
t_start_vmms --metering-interval-ms=3000 --metrics-file="$PROM"
NOBODY=$(id -u nobody)
as_nobody() { setpriv --reuid="$NOBODY" --regid="$(id -g nobody)" --clear-groups "$VMCTL_BIN" --address="$ADDR" "$@"; }

I=$T/images
truncate -s 16M "$I/a.img" "$I/b \"odd\".img"
DISKS="\"disks\":[{\"path\":\"$I/a.img\"},{\"path\":\"$I/b \\\"odd\\\".img\",\"lun\":1}]"
vm_json m1 "" ",$DISKS,\"nics\":[{\"mac\":\"00:15:5d:00:0a:01\"}]" | sed 's/"vcpus":1/"vcpus":2/' >"$T/m1.json"
expect_rc 0 vmctl create "$T/m1.json"

# metric VM PYTHON-EXPR: an expression over the GetMetrics document d, raw D-Bus
metric() {
  bus --json=short call org.vmstack.VMMS1 "$(vm_path "$1")" org.vmstack.VMMS1.Metering GetMetrics |
    python3 -c 'import json,sys; d=json.loads(json.load(sys.stdin)["data"][0]); print(eval(sys.argv[1]))' "$2"
}

note "a VM that is off: zeros, no error"
[ "$(metric m1 'd["state"], d["uptime_us"], d["cpu"]["total_ns"]')" = "('Off', 0, 0)" ] ||
  fail "off: $(metric m1 'd')"

expect_rc 0 vmctl start m1 --timeout=30
note "GetMetrics reads the worker: the totals are its counters"
# after k requests (rounds of vmms's own included): each disk 4096*k
# bytes written and 512*k read in k ops each, 1 ms each; vCPUs 10 ms*k;
# each NIC 1500*k bytes in and 1000*k out in k packets: one document
# holds them all for one k
got=$(metric m1 '(lambda k: (k >= 1, d["disks"][0]["write_bytes"] == 4096 * k, d["disks"][1]["read_bytes"] == 512 * k, d["disks"][1]["read_ops"] == k, d["disks"][0]["read_latency_ns"] == 1000000 * k, d["disks"][1]["flush_ops"] == k, d["cpu"]["vcpus"][1]["ns"] == 10000000 * k, d["cpu"]["total_ns"] == 20000000 * k, d["nics"][0]["rx_bytes"] == 1500 * k, d["nics"][0]["tx_packets"] == k, d["nics"][0]["rx_dropped"] == k // 2))(d["disks"][0]["write_ops"])')
[ "$got" = "(True, True, True, True, True, True, True, True, True, True, True)" ] || fail "totals: $got: $(metric m1 'd')"
got=$(metric m1 '(d["disks"][1]["path"], len(d["cpu"]["vcpus"]), d["nics"][0]["mac"], len(d["disks"]), len(d["nics"]))')
[ "$got" = "('$I/b \"odd\".img', 2, '00:15:5d:00:0a:01', 2, 1)" ] || fail "names and counts: $got"
K=$(metric m1 'd["disks"][0]["write_ops"]')
K2=$(metric m1 'd["disks"][0]["write_ops"]')
[ "$K2" -gt "$K" ] || fail "GetMetrics does not read the worker afresh: $K then $K2"
[ "$(metric m1 'd["memory"]["assigned_bytes"]')" = $((64 << 20)) ] || fail "memory assigned: $(metric m1 'd["memory"]')"
[ "$(metric m1 'd["uptime_us"] > 0 and d["cpu"]["worker_ns"] >= 0')" = True ] || fail "uptime: $(metric m1 'd')"

note "ResetMetering zeroes the totals"
expect_rc 0 vmctl stats --reset m1
echo "$LAST_OUT" | grep -q "^m1: metering reset$" || fail "reset output: $LAST_OUT"
# the reset read k0, this read k0+1: one step (unless a round came between)
got=$(metric m1 '(d["disks"][0]["write_bytes"], d["disks"][0]["write_ops"], d["nics"][0]["tx_bytes"])')
[ "$got" = "(4096, 1, 1000)" ] || [ "$got" = "(8192, 2, 2000)" ] || fail "after the reset: $got"

note "a caller outside the group reads, but may not reset"
expect_rc 0 as_nobody stats m1
echo "$LAST_OUT" | grep -q "^  disk 0 *$I/a.img$" || fail "nobody's stats: $LAST_OUT"
expect_rc 6 as_nobody stats --reset m1
echo "$LAST_OUT" | grep -q "user $NOBODY may not do this" || fail "nobody's reset: $LAST_OUT"

note "rates over the window of two rounds"
wait_for 15 "a window" sh -c "[ \"\$(busctl --address='$ADDR' --json=short call org.vmstack.VMMS1 '$(vm_path m1)' org.vmstack.VMMS1.Metering GetMetrics | python3 -c 'import json,sys; print(json.loads(json.load(sys.stdin)[\"data\"][0])[\"window_s\"] > 0)')\" = True ]"
[ "$(metric m1 'd["disks"][0]["write_bytes_per_s"] > 0 and d["cpu"]["use_percent"] > 0')" = True ] ||
  fail "rates: $(metric m1 'd')"

note "GetMetricsHistory: the rounds' documents, oldest first, for anyone"
# hist [AS-NOBODY] PYTHON-EXPR: an expression over the history's list d
hist() {
  local pre=()
  [ "$1" = nobody ] && { pre=(setpriv --reuid="$NOBODY" --regid="$(id -g nobody)" --clear-groups); shift; }
  "${pre[@]}" busctl --address="$ADDR" --json=short call org.vmstack.VMMS1 "$(vm_path m1)" org.vmstack.VMMS1.Metering \
    GetMetricsHistory | python3 -c 'import json,sys; d=json.loads(json.load(sys.stdin)["data"][0]); print(eval(sys.argv[1]))' "$1"
}
# The history keeps the rounds from before the reset above (each says its
# reset_at_us): the totals grow from round to round since the same reset.
# (CI, 2026-12-01: a round 150 ms before the reset, one after it.)
since_reset='[x for x in d if x["reset_at_us"] == d[-1]["reset_at_us"]]'
two_rounds() { [ "$(hist "len($since_reset) >= 2")" = True ]; }
wait_for 10 "two rounds in the history since the reset" two_rounds
got=$(hist "(all(x['name'] == 'm1' and x['state'] == 'Running' for x in d), all(a['sampled_at_us'] < b['sampled_at_us'] for a, b in zip(d, d[1:])), all(a['reset_at_us'] <= b['reset_at_us'] for a, b in zip(d, d[1:])), all(a['disks'][0]['write_bytes'] < b['disks'][0]['write_bytes'] for a, b in zip($since_reset, $since_reset[1:])), d[-1]['window_s'] > 0)")
[ "$got" = "(True, True, True, True, True)" ] || fail "history: $got: $(hist 'd')"
[ "$(hist nobody 'len(d) >= 2')" = True ] || fail "a caller outside the group cannot read the history"
expect_rc 0 vmctl stats --history m1
echo "$LAST_OUT" | head -1 | grep -Eq "^m1: [0-9]+ samples of vmms's rounds" || fail "vmctl stats --history: $LAST_OUT"
echo "$LAST_OUT" | sed -n 2p | grep -Eq '^TIME +CPU +MEMORY +DEMAND +DISK READ +DISK WRITE +NET RX +NET TX$' ||
  fail "vmctl stats --history's header: $LAST_OUT"
# a line a sample: the first of the run has no window ("-"), the others
# the fake worker's growing counters' rates
rows=$(echo "$LAST_OUT" | grep -Ec '^[0-9]{2}:[0-9]{2}:[0-9]{2} ')
[ "$rows" -ge 2 ] || fail "vmctl stats --history: $rows lines: $LAST_OUT"
echo "$LAST_OUT" | tail -1 | grep -Eq '^[0-9:]{8} +[0-9.]+ % +64\.0 MiB .* [0-9.]+ (B|KiB)/s +[0-9.]+ (B|KiB)/s$' ||
  fail "vmctl stats --history's last line: $LAST_OUT"
expect_rc 0 vmctl --json stats --history m1
echo "$LAST_OUT" | python3 -c 'import json,sys; a=json.load(sys.stdin); assert len(a) >= 2 and a[0]["name"] == "m1", a' ||
  fail "vmctl --json stats --history: $LAST_OUT"
expect_rc 2 vmctl stats --history
expect_rc 2 vmctl stats --history --prometheus m1
expect_rc 3 vmctl stats --history nosuchvm

note "vmctl stats: text, --json, --prometheus"
expect_rc 0 vmctl stats m1
echo "$LAST_OUT" | grep -q "^m1: Running, up" || fail "vmctl stats: $LAST_OUT"
echo "$LAST_OUT" | grep -Eq "^    vcpu1 " || fail "vmctl stats, vCPUs: $LAST_OUT"
echo "$LAST_OUT" | grep -Eq "^  nic 0 +00:15:5d:00:0a:01$" || fail "vmctl stats, NIC: $LAST_OUT"
expect_rc 124 timeout 2.5 "$VMCTL_BIN" --address="$ADDR" stats --watch=1 m1
[ "$(echo "$LAST_OUT" | grep -c "^m1: Running")" -ge 2 ] || fail "vmctl stats --watch=1 showed it once: $LAST_OUT"
expect_rc 2 vmctl stats --watch=0 m1
expect_rc 0 vmctl --json stats
echo "$LAST_OUT" | python3 -c 'import json,sys; a=json.load(sys.stdin); assert [d["name"] for d in a] == ["m1"], a' ||
  fail "vmctl --json stats: $LAST_OUT"
if command -v dbus-monitor >/dev/null; then
  # every VM in one call (GetAllMetrics), with --watch too: no GetMetrics, no ListVMs
  dbus-monitor --address "$ADDR" "type='method_call',destination='org.vmstack.VMMS1'" >"$T/calls" 2>&1 &
  MON=$!
  wait_for 5 "dbus-monitor" grep -q NameAcquired "$T/calls"
  expect_rc 0 vmctl stats
  expect_rc 124 timeout 2.5 "$VMCTL_BIN" --address="$ADDR" stats --watch=1
  [ "$(echo "$LAST_OUT" | grep -c "^m1: Running")" -ge 2 ] || fail "vmctl stats --watch=1 (every VM) showed it once: $LAST_OUT"
  sleep 0.3
  kill "$MON"; wait "$MON" 2>/dev/null
  grep '^method call' "$T/calls" | grep -o 'member=[A-Za-z]*' | sort | uniq -c >"$T/calls.sum"
  grep -q 'member=GetAllMetrics' "$T/calls.sum" && ! grep -Eq 'member=(GetMetrics|ListVMs)' "$T/calls.sum" ||
    fail "vmctl stats of every VM called: $(cat "$T/calls.sum")"
  [ "$(grep 'member=GetAllMetrics' "$T/calls.sum" | awk '{print $1}')" -ge 3 ] ||
    fail "one GetAllMetrics per showing: $(cat "$T/calls.sum")"
else
  note "dbus-monitor missing: vmctl stats's calls are not counted"
fi
expect_rc 0 vmctl stats --prometheus
echo "$LAST_OUT" >"$T/vmctl.prom"
grep -q "^vmstack_disk_write_bytes_total{vm=\"m1\",disk=\"1\",path=\"$I/b \\\\\"odd\\\\\".img\"} [0-9]*$" "$T/vmctl.prom" ||
  fail "the escaped path label: $(grep disk_write_bytes "$T/vmctl.prom")"
expect_rc 2 vmctl stats --reset
expect_rc 3 vmctl stats nosuchvm

note "the metrics file: written each round, atomically"
wait_for 10 "the metrics file" grep -q '^vmstack_vm_cpu_seconds_total{vm="m1",vcpu="1"}' "$PROM"
[ ! -e "$PROM.tmp" ] || sleep 0.5
[ ! -e "$PROM.tmp" ] || fail "a temporary file left behind"
if command -v promtool >/dev/null; then
  promtool check metrics <"$PROM" || fail "promtool refuses the metrics file: $(cat "$PROM")"
  promtool check metrics <"$T/vmctl.prom" || fail "promtool refuses vmctl stats --prometheus"
else
  note "promtool (Debian's prometheus) missing: the exposition is not checked by it"
fi

note "the totals outlive vmms: a restart goes on from them, not from the worker's own counters"
# vmms again with rounds too rare to fall in here, so that every step is
# the test's: the worker re-attaches with the base of the reset
# (<state-dir>/<id>.metering, docs/metering.md)
T1=$(metric m1 'd["disks"][0]["write_ops"]')
t_stop_vmms
ls "$T"/state/*.metering >/dev/null 2>&1 || fail "no metering file in the state directory"
t_start_vmms --metering-interval-ms=3600000 --metrics-file="$PROM"
before=$(metric m1 'd["disks"][0]["write_ops"]')
# one step for this read, and one for each 3 s round that fell before the
# stop (seen: two); counted from the worker's start it would be the
# reset's k0 (at least 7: the reads above and the reset's) more
[ $((before - T1)) -ge 1 ] && [ $((before - T1)) -le 5 ] ||
  fail "after a vmms restart: $before write ops, $T1 before it (the reset forgotten?)"

note "the totals outlive the worker (its exit event's final counters) and add up over the next run"
expect_rc 0 vmctl stop m1 --timeout=30
wait_state m1 Off
off=$(metric m1 'd["disks"][0]["write_ops"]')
# the exit event counted exactly one step past the last read
[ "$off" = $((before + 1)) ] || fail "totals after the end: $off, expected the exit's $((before + 1))"
[ "$(metric m1 '(d["state"], d["uptime_us"], d["disks"][0]["write_bytes"] == 4096 * d["disks"][0]["write_ops"])')" = "('Off', 0, True)" ] ||
  fail "an Off VM's document: $(metric m1 'd')"
t_stop_vmms
t_start_vmms --metering-interval-ms=3600000 --metrics-file="$PROM"
off2=$(metric m1 'd["disks"][0]["write_ops"]')
[ "$off2" = "$off" ] || fail "an Off VM's totals after a vmms restart: $off2, were $off"
expect_rc 0 vmctl start m1 --timeout=30
again=$(metric m1 'd["disks"][0]["write_ops"]')
# the new worker counts from 1
[ "$again" = $((off + 1)) ] || fail "the next run's first read: $again, expected $((off + 1))"

note "a reset outlives vmms too; Delete removes the file"
expect_rc 0 vmctl stop m1 --timeout=30
wait_state m1 Off
expect_rc 0 vmctl stats --reset m1
t_stop_vmms
t_start_vmms --metering-interval-ms=3600000 --metrics-file="$PROM"
[ "$(metric m1 '(sum(x["write_ops"] for x in d["disks"]), d["cpu"]["total_ns"])')" = "(0, 0)" ] ||
  fail "after a reset and a vmms restart: $(metric m1 'd')"
expect_rc 0 vmctl start m1 --timeout=30

note "a malformed reply is refused; vmms lives on"
t_create bad "fake.stats_bad"
expect_rc 0 vmctl start bad --timeout=30
expect_rc 1 vmctl stats bad
echo "$LAST_OUT" | grep -q "cannot take VM 'bad''s figures" || fail "a malformed reply: $LAST_OUT"
expect_rc 0 vmctl stats m1
kill -0 "$VMMS_PID" || fail "vmms died"
expect_rc 0 vmctl stop m1 --timeout=30
wait_state m1 Off
expect_rc 0 vmctl stats m1 # made its metering state again
mid=$(vm_prop m1 Id)
expect_rc 0 vmctl delete m1
[ ! -e "$T/state/$mid.metering" ] || fail "Delete left $mid.metering"
echo "PASS"
