#!/bin/bash
# SPDX-License-Identifier: MIT
# The integration services end to end (docs/integration-services.md): vmms +
# the real vmwp + the guest-vsc test guest in vsc.mode=services, which runs
# the guest side as hv_utils does. Checked through vmctl, raw D-Bus and the
# guest's report lines on its console log:
#   heartbeat -> Heartbeat property "ok" with a recent time, vmctl show
#   KVP: the guest's items (host name, OS, IP) in GuestKVP / vmctl kvp; host
#        items set and removed reach the guest's pool 0; kept over a reboot
#   time sync: SYNC after negotiation (v4), SAMPLEs, SYNC after resume
#   vmctl reboot through the shutdown service (the guest resets), vmctl stop
#        through it (the guest runs its shutdown path, "powered off")
#   fallbacks: no shutdown service (config off) -> ACPI power button;
#        shutdown service not opened and power button ignored -> stop after
#        the timeout.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
# The fake worker has no guest to run services: this test needs the real one.
t_need_guest_vsc
t_start_vmms
V="org.vmstack.VMMS1"

# svc_json NAME CMDLINE [INTEGRATION-JSON] [EXTRA]: the services guest.
svc_json() {
  printf '{"name":"%s","memory_mib":128,"vcpus":1,"boot":{"kernel":"%s","cmdline":"vsc.mode=services %s"},"integration":{%s},"stop_timeout_s":30%s}' \
    "$1" "$GUEST" "$2" "${3:-\"timesync_interval_s\":2}" "${4:-}"
}
create_svc() { svc_json "$@" >"$T/$1.json"; expect_rc 0 vmctl create "$T/$1.json"; }

note "start the services guest"
create_svc svc "vsc.hostname=guest-svc vsc.ip=10.1.2.3"
expect_rc 0 vmctl start svc --timeout=60
wait_for 60 "the guest to open its services" console_has svc '^VSC services=open shutdown=1 heartbeat=1 timesync=1 kvp=1$'
for s in shutdown:3.2 heartbeat:3.0 timesync:4.0 kvp:4.0; do
  console_has svc "^VSC ic=${s%%:*} negotiated=1 framework=3.0 version=${s#*:}$" || fail "negotiation of ${s%%:*}: $(console svc)"
done

note "heartbeat: Heartbeat property ok with a recent time"
hb_ok() { vm_prop svc Heartbeat | grep -q '^"ok" [0-9]'; }
wait_for 30 "Heartbeat ok" hb_ok
last=$(vm_prop svc Heartbeat | awk '{print $2}')
now=$(($(date +%s%N) / 1000))
[ $((now - last)) -lt 10000000 ] || fail "last heartbeat $(( (now - last) / 1000000 )) s ago"
expect_rc 0 vmctl show svc
echo "$LAST_OUT" | grep -Eq '^Heartbeat +ok \(last: ' || fail "vmctl show heartbeat: $LAST_OUT"

note "KVP: the guest's items through vmctl and D-Bus"
wait_for 30 "the guest's host name" sh -c "'$VMCTL_BIN' --address='$ADDR' kvp svc FullyQualifiedDomainName | grep -qx guest-svc"
expect_rc 0 vmctl kvp svc OSName
[ "$LAST_OUT" = vsc-guest ] || fail "OSName: $LAST_OUT"
expect_rc 0 vmctl kvp svc NetworkAddressIPv4
[ "$LAST_OUT" = 10.1.2.3 ] || fail "NetworkAddressIPv4: $LAST_OUT"
bus get-property $V "$(vm_path svc)" org.vmstack.VMMS1.VM GuestKVP | grep -q '"OSName" "vsc-guest"' ||
  fail "GuestKVP: $(bus get-property $V "$(vm_path svc)" org.vmstack.VMMS1.VM GuestKVP)"
expect_rc 0 vmctl show svc
echo "$LAST_OUT" | grep -Eq '^ +ProcessorArchitecture=x86_64$' || fail "vmctl show GuestKVP: $LAST_OUT"
expect_rc 1 vmctl kvp svc NoSuchKey

note "KVP: host items reach the guest's pool 0"
expect_rc 0 vmctl kvp svc Greeting=hello
wait_for 20 "the guest to store Greeting" console_has svc '^VSC kvp=set pool=0 key=Greeting value=hello status=0x0$'
expect_rc 0 vmctl --json kvp svc
echo "$LAST_OUT" | grep -q '"Greeting": *"hello"' || fail "vmctl kvp --json: $LAST_OUT"
bus call $V "$(vm_path svc)" org.vmstack.VMMS1.VM SetKVP ss Keep "over reboots" || fail "SetKVP through busctl"
bus get-property $V "$(vm_path svc)" org.vmstack.VMMS1.VM HostKVP | grep -q '"Keep" "over reboots"' || fail "HostKVP"
expect_rc 0 vmctl kvp svc --delete Greeting
wait_for 20 "the guest to delete Greeting" console_has svc '^VSC kvp=delete pool=0 key=Greeting value=hello status=0x0$'
expect_rc 4 vmctl kvp svc --delete Greeting    # no such host item
expect_rc 4 vmctl kvp svc =novalue              # empty key
# The intrinsic host items Hyper-V gives (pool 3).
console_has svc '^VSC kvp=set pool=3 key=VirtualMachineName value=svc status=0x0$' || fail "intrinsic items: $(console svc)"

note "time sync: SYNC (v4 with the reference time), SAMPLEs every 2 s, SYNC after resume"
console_has svc '^VSC timesync=sync version=4.0 host_unix_s=[0-9]+\.[0-9]{7} reftime=[1-9][0-9]* n=1$' ||
  fail "first time sync: $(console svc | grep timesync)"
host_s=$(console svc | sed -n 's/^VSC timesync=sync .*host_unix_s=\([0-9]*\)\..*n=1$/\1/p')
[ $(( $(date +%s) - host_s )) -lt 120 ] || fail "time sync sent $host_s, now $(date +%s)"
wait_for 20 "a time sample" console_has svc '^VSC timesync=sample version=4.0 '
syncs=$(console_count svc '^VSC timesync=sync ')
expect_rc 0 vmctl pause svc
sleep 1
expect_rc 0 vmctl resume svc
wait_for 20 "a SYNC after resume" sh -c "[ \$(grep -Ec '^VSC timesync=sync ' '$(vm_prop svc ConsoleLog)') -gt $syncs ]"
wait_for 20 "Heartbeat ok after resume" hb_ok

note "reboot through the shutdown service"
P1=$(vm_prop svc WorkerPid)
expect_rc 0 vmctl reboot svc
wait_for 60 "a new worker" sh -c "[ \"\$('$VMCTL_BIN' --address='$ADDR' --json show svc | sed -n 's/.*\"WorkerPid\": *\\([0-9]*\\).*/\\1/p')\" != $P1 ]"
wait_state svc Running 60
console_has svc '^VSC shutdown=request flags=0x3 action=reboot$' || fail "reboot request: $(console svc | tail)"
console_has svc '^VSC shutdown_path=ran channels_closed=4 action=reset$' || fail "reboot path: $(console svc | tail)"
[ "$(vm_prop svc Restarts)" = 1 ] || fail "Restarts after reboot: $(vm_prop svc Restarts)"
grep -q "guest accepted the shutdown request" "$T/vmms.log" || fail "vmms did not log the guest's answer"
# The host item set before the reboot is given to the new guest.
wait_for 30 "Keep pushed again" sh -c "[ \$(grep -c '^VSC kvp=set pool=0 key=Keep value=over_reboots status=0x0' '$(vm_prop svc ConsoleLog)') -ge 2 ]"

note "stop through the shutdown service"
wait_for 30 "the guest to open its services again" sh -c "[ \$(grep -c '^VSC ic=shutdown negotiated=1' '$(vm_prop svc ConsoleLog)') -ge 2 ]"
expect_rc 0 vmctl stop svc --timeout=60
[ "$(vm_prop svc State)" = Off ] || fail "svc not Off"
[ "$(vm_prop svc ExitReason)" = "powered off (ACPI S5) (exit status 0)" ] || fail "svc: $(vm_prop svc ExitReason)"
console_has svc '^VSC shutdown=request flags=0x1 action=poweroff$' || fail "shutdown request: $(console svc | tail)"
console_has svc '^VSC shutdown_path=ran channels_closed=4 action=poweroff$' || fail "shutdown path: $(console svc | tail)"
console svc | tail -n 3 | grep -q '^VSC result=ok status=0$' || fail "guest result: $(console svc | tail -n 3)"
[ "$(vm_prop svc Heartbeat)" = '"unknown" 0' ] || fail "Heartbeat after stop: $(vm_prop svc Heartbeat)"
kvp_after=$(bus get-property $V "$(vm_path svc)" org.vmstack.VMMS1.VM GuestKVP HostKVP | tr '\n' ' ')
[ "$kvp_after" = "a{ss} 0 a{ss} 0 " ] || fail "KVP items after power-off: $kvp_after"
expect_rc 5 vmctl kvp svc Greeting=again        # not running

note "fallback: no shutdown service -> ACPI power button"
create_svc nosd "" '"shutdown":false'
expect_rc 0 vmctl start nosd --timeout=60
wait_for 60 "nosd's services" console_has nosd '^VSC services=open shutdown=0 heartbeat=1 timesync=1 kvp=1$'
expect_rc 0 vmctl stop nosd --timeout=60
[ "$(vm_prop nosd ExitReason)" = "powered off (ACPI S5) (exit status 0)" ] || fail "nosd: $(vm_prop nosd ExitReason)"
console_has nosd '^VSC power_button=pressed$' || fail "nosd did not see the power button"
console_has nosd '^VSC services=done reason=power-button ' || fail "nosd: $(console nosd | tail)"

note "fallback: shutdown service not opened, power button ignored -> stopped after the timeout"
create_svc deaf "vsc.ic=heartbeat,kvp vsc.power_button=ignore" '"timesync":false' ',"restart_policy":"never"'
expect_rc 0 vmctl edit deaf --stop-timeout=3
expect_rc 0 vmctl start deaf --timeout=60
wait_for 60 "deaf's services" console_has deaf '^VSC services=open shutdown=0 heartbeat=1 timesync=0 kvp=1$'
expect_rc 0 vmctl stop deaf --timeout=60
[ "$(vm_prop deaf ExitReason)" = "stopped by vmms (exit status 14)" ] || fail "deaf: $(vm_prop deaf ExitReason)"
grep -q "did not take the shutdown request" "$T/vmms.log" || fail "no fallback logged for deaf"
grep -q "did not shut down within 3 s" "$T/vmms.log" || fail "no timeout logged for deaf"

echo "PASS (worker: $WORKER_KIND)"
