#!/bin/bash
# SPDX-License-Identifier: MIT
# CopyFile / vmctl copy-to (docs/integration-services.md "File copy") with
# the fake worker, which reads the descriptor vmms passes as the guest
# would get it and prints what it read (bytes, FNV-1a 64): the file arrives
# whole under the name asked (the descriptor checks: test-vmms-fcopy.c);
# the refusals: a relative or directory
# destination, a source that is not a regular file, a VM not running,
# without the service, a guest without it, a file that exists (and
# --force), a guest without its daemon; Save, Checkpoint and a second copy
# are Busy while one runs; a copy cancelled (vmctl copy-cancel, Ctrl-C of
# copy-to) fails as cancelled; a worker that dies during a copy fails it.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
VMMS_TEST_WORKER=fake t_pick_worker
t_start_vmms
fnv() { python3 -c '
import sys
h = 0xcbf29ce484222325
for b in open(sys.argv[1], "rb").read():
    h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
print("%016x" % h)' "$1"; }

head -c 100000 /dev/urandom >"$T/src.bin"
t_create f1 "fake.fcopy=1" ',"integration":{"fcopy":true}'
note "refused while the VM is off"
expect_rc 5 vmctl copy-to f1 "$T/src.bin" /tmp/dst.bin
expect_rc 0 vmctl start f1 --timeout=30

note "a file arrives whole, under the name asked"
expect_rc 0 vmctl copy-to f1 "$T/src.bin" /tmp/dst.bin
echo "$LAST_OUT" | grep -q "^copied 100000 bytes to f1:/tmp/dst.bin" || fail "copy-to: $LAST_OUT"
console_has f1 "^fake-vmwp: fcopy /tmp/dst.bin 100000 fnv=$(fnv "$T/src.bin")\$" ||
  fail "the guest did not get the file: $(console f1 | grep fcopy)"
expect_rc 0 vmctl --json copy-to f1 "$T/src.bin" /top.bin
echo "$LAST_OUT" | grep -q '"bytes":100000' || fail "json: $LAST_OUT"
console_has f1 "^fake-vmwp: fcopy /top.bin 100000 " || fail "a file in the guest's root: $(console f1 | grep fcopy)"
: >"$T/empty"
expect_rc 0 vmctl copy-to f1 "$T/empty" /tmp/empty
console_has f1 "^fake-vmwp: fcopy /tmp/empty 0 " || fail "an empty file"

note "refused: destinations, sources"
expect_rc 4 vmctl copy-to f1 "$T/src.bin" tmp/dst.bin
echo "$LAST_OUT" | grep -q "absolute path" || fail "relative: $LAST_OUT"
expect_rc 4 vmctl copy-to f1 "$T/src.bin" /tmp/
expect_rc 4 vmctl copy-to f1 "$T/src.bin" /tmp/..
expect_rc 4 vmctl copy-to f1 "$T/src.bin" "/tmp/$(printf 'x%.0s' $(seq 300))"
echo "$LAST_OUT" | grep -q "259 bytes at most" || fail "long name: $LAST_OUT"
expect_rc 4 vmctl copy-to f1 "$T" /tmp/dir
echo "$LAST_OUT" | grep -q "regular file" || fail "a directory as the source: $LAST_OUT"
expect_rc 1 vmctl copy-to f1 "$T/nonexistent" /tmp/x

note "busy while a copy runs: Save, Checkpoint, a second copy"
expect_rc 0 vmctl kill f1
expect_rc 0 vmctl edit f1 --cmdline="fake.fcopy=1 fake.copy_ms=3000"
expect_rc 0 vmctl start f1 --timeout=30
vmctl copy-to f1 "$T/src.bin" /tmp/slow.bin >"$T/slow.out" 2>&1 &
bg=$!
wait_for 10 "the copy to start" sh -c "busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path f1)' org.vmstack.VMMS1.VM FileCopyProgress | grep -q '100000\$'"
expect_rc 11 vmctl save f1
echo "$LAST_OUT" | grep -q "a file copy into it is in progress" || fail "save: $LAST_OUT"
expect_rc 11 vmctl checkpoint f1 c
expect_rc 11 vmctl copy-to f1 "$T/src.bin" /tmp/second.bin
wait $bg || fail "the slow copy failed: $(cat "$T/slow.out")"
expect_rc 0 vmctl save f1 # and after it, the VM saves
expect_rc 0 vmctl start f1 --timeout=30

note "cancelled: copy-cancel, and Ctrl-C of copy-to; nothing to cancel"
expect_rc 5 vmctl copy-cancel f1
echo "$LAST_OUT" | grep -q "no file copy is in progress" || fail "copy-cancel without a copy: $LAST_OUT"
vmctl copy-to f1 "$T/src.bin" /tmp/cancelled.bin >"$T/cancelled.out" 2>&1 &
bg=$!
wait_for 10 "the copy to start" sh -c "busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path f1)' org.vmstack.VMMS1.VM FileCopyProgress | grep -q '100000\$'"
expect_rc 0 vmctl copy-cancel f1
wait $bg && fail "a cancelled copy succeeded"
grep -q "the copy was cancelled" "$T/cancelled.out" || fail "cancelled: $(cat "$T/cancelled.out")"
console_has f1 "^fake-vmwp: fcopy cancelled" || fail "the worker was not asked to cancel"
"$VMCTL_BIN" --address="$ADDR" copy-to f1 "$T/src.bin" /tmp/interrupted.bin >"$T/int.out" 2>&1 & # vmctl itself gets the signal
bg=$!
wait_for 10 "the copy to start" sh -c "busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path f1)' org.vmstack.VMMS1.VM FileCopyProgress | grep -q '100000\$'"
kill -INT $bg
wait $bg && fail "an interrupted copy succeeded"
grep -q "cancelling the copy" "$T/int.out" && grep -q "the copy was cancelled" "$T/int.out" ||
  fail "Ctrl-C: $(cat "$T/int.out")"
[ "$(console f1 | grep -c '^fake-vmwp: fcopy cancelled')" = 2 ] || fail "Ctrl-C did not cancel in the worker"
expect_rc 0 vmctl save f1 # nothing left in progress
expect_rc 0 vmctl start f1 --timeout=30

note "the worker dies during a copy: the copy fails, the VM can copy again"
vmctl copy-to f1 "$T/src.bin" /tmp/killed.bin >"$T/killed.out" 2>&1 &
bg=$!
wait_for 10 "the copy to start" sh -c "busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path f1)' org.vmstack.VMMS1.VM FileCopyProgress | grep -q '100000\$'"
expect_rc 0 vmctl kill f1
wait $bg && fail "a copy succeeded with its worker killed"
grep -q "the worker ended during the copy" "$T/killed.out" || fail "killed: $(cat "$T/killed.out")"
[ "$(bus get-property org.vmstack.VMMS1 "$(vm_path f1)" org.vmstack.VMMS1.VM FileCopyProgress)" = "(tt) 0 0" ] ||
  fail "FileCopyProgress after the end"

note "the guest refuses: a file that exists (--force replaces it), no daemon, no service"
expect_rc 0 vmctl edit f1 --cmdline="fake.fcopy=2"
expect_rc 0 vmctl start f1 --timeout=30
expect_rc 1 vmctl copy-to f1 "$T/src.bin" /tmp/dst.bin
echo "$LAST_OUT" | grep -q "the file exists in the guest (overwrite replaces it) (status 0x80070050" || fail "exists: $LAST_OUT"
expect_rc 0 vmctl copy-to f1 "$T/src.bin" /tmp/dst.bin --force
expect_rc 0 vmctl kill f1
expect_rc 0 vmctl edit f1 --cmdline="fake.fcopy=3"
expect_rc 0 vmctl start f1 --timeout=30
expect_rc 1 vmctl copy-to f1 "$T/src.bin" /tmp/dst.bin --create-path
echo "$LAST_OUT" | grep -q "hv_fcopy_daemon is not running" || fail "no daemon: $LAST_OUT"
expect_rc 0 vmctl kill f1
expect_rc 0 vmctl edit f1 --cmdline=""
expect_rc 0 vmctl start f1 --timeout=30
expect_rc 1 vmctl copy-to f1 "$T/src.bin" /tmp/dst.bin
echo "$LAST_OUT" | grep -q "has not started its file-copy service" || fail "no guest service: $LAST_OUT"
expect_rc 0 vmctl kill f1
expect_rc 0 vmctl edit f1 --patch=- <<<'{"integration":{"fcopy":false}}'
expect_rc 0 vmctl start f1 --timeout=30
expect_rc 5 vmctl copy-to f1 "$T/src.bin" /tmp/dst.bin
echo "$LAST_OUT" | grep -q "no file-copy integration service" || fail "no service: $LAST_OUT"
expect_rc 0 vmctl kill f1
echo PASS
