#!/bin/bash
# SPDX-License-Identifier: MIT
# Hyper-V sockets, vmms's part (docs/hvsock.md), with the fake worker as
# the guest's side: a guest connect to a configured port reaches the Unix
# socket configured for it (vmms connects and hands the worker the socket;
# the bytes go both ways), a port nobody configured and a service nobody
# listens on are refused with their errno, the worker gets the VM's socket
# path and HvSocket shows it; configurations vmms refuses: a socket path of
# the caller's, relative or non-plain service paths, duplicate ports; a
# worker asking for a VM whose hv_sock is off gets EPERM. The worker's part (TL_CONNECT_REQUEST, offers, bytes) is tests/unit/test-hvsock.c
# and the stock-Linux test (tests/linux/test-linux.sh).
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
VMMS_TEST_WORKER=fake t_pick_worker
t_start_vmms
tool=$VM_BUILD_DIR/tests/linux/hvsock-tool
[ -x "$tool" ] || fail "hvsock-tool not built"
"$tool" unix-serve "$T/svc.sock" 2>"$T/svc.log" &
t_on_exit "kill $! 2>/dev/null"
wait_for 10 "the host service" test -S "$T/svc.sock"

note "a guest connect reaches the configured service, both ways"
t_create h1 "fake.hvsock_port=5000" ',"hvsock":{"enabled":true,"services":[{"port":5000,"path":"'"$T"'/svc.sock"},{"port":5001,"path":"'"$T"'/nobody.sock"}]}'
expect_rc 0 vmctl start h1 --timeout=30
wait_for 10 "the guest's reply" sh -c "cat \"\$(busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path h1)' org.vmstack.VMMS1.VM ConsoleLog | cut -d'\"' -f2)\" | grep -q 'hvsock port=5000 reply='"
console_has h1 '^fake-vmwp: hvsock port=5000 reply=host-echo:from-fake-guest$' ||
  fail "the exchange: $(console h1 | grep hvsock)"
sock=$(vm_prop h1 HvSocket)
[ -n "$sock" ] && [ "${sock##*/}" = hvsock.sock ] || fail "HvSocket: '$sock'"
console_has h1 "^fake-vmwp: hvsock socket=$sock\$" || fail "the worker's socket path: $(console h1 | grep 'hvsock socket')"
expect_rc 0 vmctl kill h1
[ -z "$(vm_prop h1 HvSocket)" ] || fail "HvSocket of a VM that is off: $(vm_prop h1 HvSocket)"

note "refused: a port nobody configured, a service nobody listens on"
expect_rc 0 vmctl edit h1 --cmdline="fake.hvsock_port=6000"
expect_rc 0 vmctl start h1 --timeout=30
wait_for 10 "the refusal" sh -c "cat \"\$(busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path h1)' org.vmstack.VMMS1.VM ConsoleLog | cut -d'\"' -f2)\" | grep -q 'hvsock port=6000 refused'"
console_has h1 "^fake-vmwp: hvsock port=6000 refused errno=111\$" || fail "port 6000: $(console h1 | grep hvsock)"
expect_rc 0 vmctl kill h1
expect_rc 0 vmctl edit h1 --cmdline="fake.hvsock_port=5001"
expect_rc 0 vmctl start h1 --timeout=30
wait_for 10 "the refusal" sh -c "cat \"\$(busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path h1)' org.vmstack.VMMS1.VM ConsoleLog | cut -d'\"' -f2)\" | grep -q 'hvsock port=5001 refused'"
console_has h1 "^fake-vmwp: hvsock port=5001 refused errno=2\$" || fail "port 5001: $(console h1 | grep hvsock)"
expect_rc 0 vmctl kill h1

note "a worker of a VM without hv_sock asks anyway: refused"
t_create h6 "fake.hvsock_port=5000" ',"hvsock":{"enabled":false,"services":[{"port":5000,"path":"'"$T"'/svc.sock"}]}'
expect_rc 0 vmctl start h6 --timeout=30
wait_for 10 "the refusal" sh -c "cat \"\$(busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path h6)' org.vmstack.VMMS1.VM ConsoleLog | cut -d'\"' -f2)\" | grep -q 'hvsock port=5000 refused'"
console_has h6 "^fake-vmwp: hvsock port=5000 refused errno=1\$" || fail "hv_sock off: $(console h6 | grep hvsock)"
[ -z "$(vm_prop h6 HvSocket)" ] || fail "HvSocket with hv_sock off: $(vm_prop h6 HvSocket)"
expect_rc 0 vmctl kill h6

note "configurations vmms refuses"
t_create h2 "" ',"hvsock":{"enabled":true,"socket":"'"$T"'/mine.sock"}' 4
echo "$LAST_OUT" | grep -q "hvsock.socket: set by vmms" || fail "a socket path: $LAST_OUT"
t_create h3 "" ',"hvsock":{"services":[{"port":1,"path":"'"$T"'/../x.sock"}]}' 4
echo "$LAST_OUT" | grep -q "needs a plain absolute path" || fail "a non-plain path: $LAST_OUT"
t_create h4 "" ',"hvsock":{"services":[{"port":1,"path":"x.sock"}]}' 4
echo "$LAST_OUT" | grep -q "hvsock.services\[0\].path: must be an absolute path" || fail "a relative path: $LAST_OUT"
t_create h5 "" ',"hvsock":{"services":[{"port":1,"path":"/a"},{"port":1,"path":"/b"}]}' 4
echo "$LAST_OUT" | grep -q "duplicates services\[0\]" || fail "a duplicate port: $LAST_OUT"
echo PASS
