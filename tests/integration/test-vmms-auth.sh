#!/bin/bash
# SPDX-License-Identifier: MIT
# Authorization: anyone may read; only root, members of --group, or callers
# polkit authorizes may change VMs. Unprivileged calls run as `nobody` with
# setpriv. Also the per-user VM limit. polkit is played by a fake authority
# (vmms-test-helper polkit) on the private bus, then removed to check the
# fallback when polkit is absent.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
command -v setpriv >/dev/null || { echo "SKIP: setpriv (util-linux) missing"; exit 77; }
WORKER=$FAKE_WORKER WORKER_KIND=fake # authorization does not depend on the worker
NOBODY=$(id -u nobody)
GROUP=staff
GID=$(getent group $GROUP | cut -d: -f3)
[ -n "$GID" ] || { echo "SKIP: no group '$GROUP' to test with"; exit 77; }
id -nG nobody | grep -qw $GROUP && { echo "SKIP: nobody is in $GROUP already"; exit 77; }
as_nobody() { setpriv --reuid="$NOBODY" --regid="$(id -g nobody)" --clear-groups "$VMCTL_BIN" --address="$ADDR" "$@"; }
as_member() { setpriv --reuid="$NOBODY" --regid="$(id -g nobody)" --groups="$GID" "$VMCTL_BIN" --address="$ADDR" "$@"; }
H=$VM_BUILD_DIR/vmms/vmms-test-helper
t_start_vmms --group=$GROUP --max-vms-per-user=2

t_create rootvm
expect_rc 0 vmctl start rootvm

note "nobody may read"
expect_rc 0 as_nobody list
echo "$LAST_OUT" | grep -q rootvm || fail "nobody's list: $LAST_OUT"
expect_rc 0 as_nobody show rootvm
expect_rc 0 as_nobody host

note "nobody may not change anything"
for cmd in "start rootvm" "stop rootvm --no-wait" "kill rootvm" "pause rootvm" "reboot rootvm" "delete rootvm" \
           "console rootvm --timeout=1" "console rootvm --read-only --timeout=1"; do
  # shellcheck disable=SC2086
  expect_rc 6 as_nobody $cmd
  echo "$LAST_OUT" | grep -q "user $NOBODY may not do this: it is not root or in group '$GROUP', and polkit is disabled" ||
    fail "$cmd: $LAST_OUT"
done
vm_json nb1 >"$T/nb1.json"; chmod 644 "$T/nb1.json"
expect_rc 6 as_nobody create "$T/nb1.json"
expect_rc 6 as_nobody edit rootvm --memory=128
[ "$(vm_prop rootvm State)" = Running ] || fail "rootvm changed state"
out=$(setpriv --reuid="$NOBODY" --regid="$(id -g nobody)" --clear-groups gdbus call --address="$ADDR" --dest org.vmstack.VMMS1 \
  --object-path /org/vmstack/VMMS1 --method org.vmstack.VMMS1.Manager.CreateVM "$(vm_json nb2)" 2>&1)
echo "$out" | grep -q "org.vmstack.Error.PermissionDenied" || fail "raw CreateVM as nobody: $out"
out=$(setpriv --reuid="$NOBODY" --regid="$(id -g nobody)" --clear-groups gdbus call --address="$ADDR" --dest org.vmstack.VMMS1 \
  --object-path /org/vmstack/VMMS1 --method org.vmstack.VMMS1.Manager.CreateVMWithCloudInit "$(vm_json nb2)" \
  "{'user-data': [byte 0x23]}" 2>&1)
echo "$out" | grep -q "org.vmstack.Error.PermissionDenied" || fail "raw CreateVMWithCloudInit as nobody: $out"
[ -z "$(ls "$T/state" | grep '\.cidata\.iso$')" ] || fail "a refused CreateVMWithCloudInit left a seed: $(ls "$T/state")"

note "members of --group may manage; the per-user limit applies to them"
expect_rc 0 as_member create "$T/nb1.json"
[ "$(vm_prop nb1 Owner)" = "$NOBODY" ] || fail "owner: $(vm_prop nb1 Owner)"
[ "$(stat -c %u "$T/state/$(vm_prop nb1 Id).json")" = "$NOBODY" ] || fail "owner not kept with the file"
expect_rc 0 as_member start nb1
expect_rc 0 as_member console nb1 --read-only --timeout=1
expect_rc 0 as_member kill nb1
vm_json nb2 >"$T/nb2.json"; vm_json nb3 >"$T/nb3.json"; chmod 644 "$T"/nb*.json
expect_rc 0 as_member create "$T/nb2.json"
expect_rc 7 as_member create "$T/nb3.json"
echo "$LAST_OUT" | grep -q "user $NOBODY owns 2 VMs, the limit (--max-vms-per-user) is 2" || fail "limit: $LAST_OUT"
expect_rc 0 vmctl create "$T/nb3.json" # root is not limited per user
expect_rc 0 as_member delete nb2

note "polkit decides for others; the fallback when it is absent"
t_stop_vmms
"$H" polkit "$ADDR" "$NOBODY" org.vmstack.vmms.manage >"$T/polkit.log" 2>&1 &
PK=$!
for _ in $(seq 50); do grep -q ready "$T/polkit.log" && break; sleep 0.1; done
VMMS_NO_POLKIT= t_start_vmms --group=
vm_json pk1 >"$T/pk1.json"; chmod 644 "$T/pk1.json"
expect_rc 0 as_nobody create "$T/pk1.json"
grep -q "polkit: system-bus-name org.vmstack.vmms.manage uid=$NOBODY -> yes" "$T/polkit.log" || fail "polkit not asked: $(cat "$T/polkit.log")"
expect_rc 0 as_nobody start pk1
# GetCallerAccess asks polkit as a call does (and answers instead of acting)
access=(org.vmstack.VMMS1 /org/vmstack/VMMS1 org.vmstack.VMMS1.Manager GetCallerAccess)
out=$(setpriv --reuid="$NOBODY" --regid="$(id -g nobody)" --clear-groups busctl --address="$ADDR" call "${access[@]}")
[ "$out" = 'ss "manage" "polkit authorizes it"' ] || fail "GetCallerAccess with polkit: $out"
expect_rc 6 as_nobody console pk1 --read-only --timeout=1
echo "$LAST_OUT" | grep -q "polkit did not authorize it for org.vmstack.vmms.read" || fail "read action: $LAST_OUT"
kill "$PK"; wait "$PK" 2>/dev/null
expect_rc 6 as_nobody kill pk1
echo "$LAST_OUT" | grep -q "polkit is not available" || fail "no polkit: $LAST_OUT"
out=$(setpriv --reuid="$NOBODY" --regid="$(id -g nobody)" --clear-groups busctl --address="$ADDR" call "${access[@]}")
echo "$out" | grep -q '^ss "read" "user '"$NOBODY"' may not do this: .*polkit is not available for org.vmstack.vmms.manage' ||
  fail "GetCallerAccess without polkit: $out"
expect_rc 0 vmctl kill pk1
echo "PASS"
