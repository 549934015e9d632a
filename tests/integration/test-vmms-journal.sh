#!/bin/bash
# SPDX-License-Identifier: MIT
# Logging under systemd: when JOURNAL_STREAM names vmms's stderr (as systemd
# sets it for a journal-connected service), vmms sends its log to journald's
# native socket with structured fields, VMSTACK_VM_ID and VMSTACK_VM_NAME on
# every line about a VM. journald is played by a datagram socket bound over
# /run/systemd/journal/socket in a private mount namespace; without
# JOURNAL_STREAM the same lines go to stderr with a "vm <name>:" prefix.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
command -v unshare >/dev/null || { echo "SKIP: unshare (util-linux) missing"; exit 77; }
unshare -m true 2>/dev/null || { echo "SKIP: cannot create a mount namespace here"; exit 77; }
WORKER=$FAKE_WORKER WORKER_KIND=fake
H=$VM_BUILD_DIR/vmms/vmms-test-helper
ID=77777777-7777-4777-8777-777777777777
printf '{"id":"%s","name":"jvm","boot":{"kernel":"%s"}}' $ID "$(t_kernel)" >"$T/state/$ID.json"

"$H" listen "$T/journal.sock" 8 >"$T/journal.out" 2>&1 &
L=$!
for _ in $(seq 50); do [ -S "$T/journal.sock" ] && break; sleep 0.1; done
: >"$T/vmms.log"
JS=$(stat -c '%d:%i' "$T/vmms.log")
# A private /run/systemd with our socket in journald's place; vmms's stderr
# is vmms.log, whose device:inode JOURNAL_STREAM names.
unshare -m sh -c '
  mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/journal &&
  touch /run/systemd/journal/socket && mount --bind "$1" /run/systemd/journal/socket &&
  exec env JOURNAL_STREAM="$2" "$3" --bus-address="$4" --state-dir="$5/state" --runtime-dir="$5/run" \
    --log-dir="$5/log" --worker="$6" --no-polkit --storage-pool="$5" --storage-pool="$7"' \
  sh "$T/journal.sock" "$JS" "$VMMS" "$ADDR" "$T" "$WORKER" "$VM_BUILD_DIR" \
  >>"$T/vmms.log" 2>&1 &
VMMS_PID=$!
for _ in $(seq 100); do bus status org.vmstack.VMMS1 >/dev/null 2>&1 && break; sleep 0.05; done
expect_rc 0 vmctl start jvm
expect_rc 0 vmctl kill jvm
wait $L
grep -q "^MESSAGE=vm jvm: Off -> Starting$" "$T/journal.out" || fail "no journal message: $(head -20 "$T/journal.out")"
awk -v RS= '/MESSAGE=vm jvm: Off -> Starting/' "$T/journal.out" >"$T/entry"
grep -qx "VMSTACK_VM_ID=$ID" "$T/entry" && grep -qx "VMSTACK_VM_NAME=jvm" "$T/entry" && grep -qx "PRIORITY=6" "$T/entry" &&
  grep -qx "SYSLOG_IDENTIFIER=vmms" "$T/entry" || fail "fields: $(cat "$T/entry")"
awk -v RS= '/MESSAGE=loaded 1 VM configuration/' "$T/journal.out" | grep -q "^CODE_FILE=" || fail "no CODE_FILE on daemon lines"
grep -q "vm jvm: Off -> Starting" "$T/vmms.log" && fail "logged to stderr although the journal is connected"

note "without JOURNAL_STREAM: stderr"
t_stop_vmms
t_start_vmms
expect_rc 0 vmctl start jvm
grep -q "^vmms: vm jvm: Off -> Starting$" "$T/vmms.log" || fail "stderr: $(cat "$T/vmms.log")"
echo "PASS"
