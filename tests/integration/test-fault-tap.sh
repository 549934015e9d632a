#!/bin/bash
# SPDX-License-Identifier: MIT
# The TAP removed under a running VM, through vmms (docs/hostile-guests.md,
# "Fault matrix"), in a network namespace of its own: vmms creates the VM's
# TAP; once the test guest (vsc.hostile=link) has its NIC up, `ip link del`
# removes the TAP. The guest must see the link go down (MEDIA_DISCONNECT),
# the media query say disconnected, its frames still be completed, the NIC
# close and open again; vmms must say Running all along and Off with the
# guest's own power-off after; a second VM with its own TAP is unaffected;
# no sanitizer report.
set -u
source "$(dirname "$0")/vmms-lib.sh"
source "$(dirname "$0")/hostile-lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespace, TAPs)"; exit 77; }
command -v ip >/dev/null || { echo "SKIP: iproute2 (ip) not installed"; exit 77; }
if [ -z "${FAULT_IN_NETNS:-}" ]; then
  unshare -n true 2>/dev/null || { echo "SKIP: cannot create a network namespace"; exit 77; }
  exec unshare -n env FAULT_IN_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
t_setup
t_need_guest_vsc
tmp=$T
t_start_vmms

has() { console "$1" | grep -Eq "$2" || bad "[$1] no console line /$2/"; }

note "a VM beside it, with a TAP of its own"
t_create calm "" ',"nics":[{"mac":"02:00:5e:10:00:21","tap":"faultb0"}]'
expect_rc 0 vmctl start calm --timeout=120
CALM=$(vm_prop calm WorkerPid)

note "the VM whose TAP goes away"
printf '{"name":"link","memory_mib":128,"vcpus":1,"boot":{"kernel":"%s","cmdline":"%s"},"nics":[{"mac":"02:00:5e:10:00:20","tap":"faulta0"}]}' \
  "$GUEST" "vsc.mode=hostile vsc.hostile=link vsc.hostile.pause_ms=500" >"$T/link.json"
expect_rc 0 vmctl create "$T/link.json"
expect_rc 0 vmctl start link --timeout=120
for _ in $(seq 600); do console link | grep -q '^VSC hostile_phase=link_wait$' && break; sleep 0.1; done
console link | grep -q '^VSC hostile_case=link/link_up_at_start ok=1' || fail "the guest's NIC did not come up: $(console link | tail -n 5)"
ip link show faulta0 >/dev/null || fail "vmms did not create the TAP faulta0"
ip link del faulta0 || fail "ip link del faulta0"
for _ in $(seq 300); do console link | grep -q '^VSC hostile_case=link/link_down_indicated' && break; sleep 0.1; done
# Still running, or (a fast host: the guest's last cases and its power-off
# can beat this check) Off by the guest's own power-off: either way the
# worker lived through its TAP's removal.
case "$(vm_prop link State)" in
  Running) ;;
  Off) [ "$(vm_prop link ExitReason)" = "powered off (ACPI S5) (exit status 0)" ] ||
         bad "[link] Off after the TAP went: $(vm_prop link ExitReason)" ;;
  *) bad "[link] $(vm_prop link State) after the TAP went: $(vm_prop link ExitReason)" ;;
esac
wait_state link Off 120
[ "$(vm_prop link ExitReason)" = "powered off (ACPI S5) (exit status 0)" ] || bad "[link] $(vm_prop link ExitReason)"
console link | grep -E '^VSC (hostile_case|hostile_alive|error|result)' | sed 's/^/  [link] /'
has link '^VSC hostile_case=link/link_down_indicated ok=1 '
has link '^VSC hostile_case=link/frame_completed_without_tap ok=1 frame_completed=1 media_state=1 link=down '
has link '^VSC hostile_case=link/media_state_disconnected ok=1 media_state=1$'
has link '^VSC hostile_alive=link scsi=0 nic=ok heartbeat=ok$'
has link '^VSC result=ok status=0$'
sanitizer_clean "$T/log/$(vm_prop link Id).worker.log" link

note "the other VM and its TAP are unaffected"
[ "$(vm_prop calm State)" = Running ] && [ "$(vm_prop calm WorkerPid)" = "$CALM" ] || bad "[calm] $(vm_prop calm State)"
ip link show faultb0 >/dev/null || bad "[calm] its TAP is gone"
expect_rc 0 vmctl stop calm --shutdown-timeout=30
sanitizer_clean "$T/log/$(vm_prop calm Id).worker.log" calm
finish
