#!/bin/bash
# SPDX-License-Identifier: MIT
# Console and worker logs stay bounded (--log-max-size: copied to <log>.1 and
# truncated, on the --log-check-interval-ms timer and when a worker ends)
# while a chatty guest (the fake worker's fake.chatter) prints without end;
# a symlink at <log>.1 is replaced, never written through; DeleteVM removes
# the logs, except a serial_log root put outside the log directory.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
WORKER=$FAKE_WORKER WORKER_KIND=fake
MAX=16384
t_start_vmms --log-max-size=$MAX --log-check-interval-ms=100
size() { stat -c %s "$1" 2>/dev/null || echo 0; }
nul_free() { [ "$(tr -d '\000' <"$1" | wc -c)" = "$(size "$1")" ]; }

note "a guest printing ~100 KB/s: the console and worker logs stay bounded"
t_create chatty "fake.chatter=1000"
ID=$(vm_prop chatty Id)
LOG=$T/log/$ID.console.log WLOG=$T/log/$ID.worker.log
echo "precious" >"$T/victim"
ln -s "$T/victim" "$LOG.1" # must be replaced, not followed
expect_rc 0 vmctl start chatty
biggest=0 wbiggest=0
for _ in $(seq 30); do
  sleep 0.1
  s=$(size "$LOG") w=$(size "$WLOG")
  [ "$s" -gt "$biggest" ] && biggest=$s
  [ "$w" -gt "$wbiggest" ] && wbiggest=$w
done
echo "largest console log seen: $biggest bytes, worker log: $wbiggest (limit $MAX)"
[ "$biggest" -le $((4 * MAX)) ] || fail "the console log grew to $biggest bytes (limit $MAX)"
[ "$wbiggest" -le $((4 * MAX)) ] || fail "the worker log grew to $wbiggest bytes (limit $MAX)"
[ -f "$LOG.1" ] && [ ! -L "$LOG.1" ] || fail "no rotated console log $LOG.1"
[ "$(cat "$T/victim")" = precious ] || fail "rotation wrote through the symlink at $LOG.1"
[ "$(size "$LOG.1")" -gt 0 ] && [ "$(size "$LOG.1")" -le $MAX ] || fail "$LOG.1 has $(size "$LOG.1") bytes"
grep -q "fake-vmwp: chatter" "$LOG.1" && nul_free "$LOG.1" || fail "$LOG.1 is not the console's text"
[ -f "$WLOG.1" ] && grep -q "fake-vmwp: chatter" "$WLOG.1" || fail "no rotated worker log $WLOG.1"
[ "$(stat -c %a "$LOG.1")" = "$(stat -c %a "$LOG")" ] || fail "$LOG.1 has another mode than the log"

note "when the worker ends, its logs are checked once more"
expect_rc 0 vmctl kill chatty
[ "$(size "$LOG")" -le $MAX ] || fail "the console log has $(size "$LOG") bytes after the VM stopped"
[ "$(size "$WLOG")" -le $MAX ] || fail "the worker log has $(size "$WLOG") bytes after the VM stopped"
nul_free "$LOG" || fail "the console log has a hole after truncation (a writer without O_APPEND?)"

note "delete removes the logs"
expect_rc 0 vmctl delete chatty
for f in "$LOG" "$LOG.1" "$WLOG" "$WLOG.1"; do [ -e "$f" ] && fail "$f outlived its VM"; done
[ "$(cat "$T/victim")" = precious ] || fail "delete touched the victim"

note "a serial_log root chose outside the log directory is root's and stays; one inside is removed"
mkdir -p "$T/keep"
t_create mine "" ",\"serial_log\":\"$T/keep/mine.log\""
t_create inlog "" ",\"serial_log\":\"$T/log/inlog.log\""
for vm in mine inlog; do expect_rc 0 vmctl start $vm; expect_rc 0 vmctl kill $vm; done
[ -s "$T/keep/mine.log" ] && [ -s "$T/log/inlog.log" ] || fail "the explicit console logs were not written"
expect_rc 0 vmctl delete mine
expect_rc 0 vmctl delete inlog
[ -f "$T/keep/mine.log" ] || fail "root's serial_log outside the log directory was removed"
[ -e "$T/log/inlog.log" ] && fail "a serial_log inside the log directory outlived its VM"
echo PASS
