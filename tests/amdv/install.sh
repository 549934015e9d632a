#!/bin/bash
# SPDX-License-Identifier: MIT
# README's "Installing on a host: vmms as a service", verbatim, on the
# emulated AMD-V host (issue #55, docs/amdv-host.md), where systemd is PID 1:
# the .deb installed with apt, `systemctl enable --now vmms` (the package's
# unit, D-Bus policy and activation, polkit actions, sysusers.d), a user
# added to the vmstack group managing a VM with vmctl (its worker
# sandboxed, as vmstack-worker), a vmms restart that keeps the VM running,
# a user outside the group refused, and vmms started again by D-Bus
# activation.
#
# Run here (ctest amdv/install): packages VM_BUILD_DIR with
# packaging/mkdeb.sh on this machine, then boots the emulated host and runs
# itself there with the package's folder.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
fail() {
	echo "FAIL: $*"
	if [ "${AMDV_HOST:-}" = 1 ]; then
		ls -ld /var/lib/vmstack /var/lib/vmstack/* 2>&1
		journalctl -u vmms --no-pager -n 60
	fi
	exit 1
}
step() { echo "--- $*"; }

# shellcheck source=tests/amdv/lib.sh
. "$src/tests/amdv/lib.sh"
[ "${AMDV_HOST:-}" = 1 ] || amdv_deb_run install 600 "$0"

debs=${1:?the package folder}
amdv_require_systemd
[ ! -e /sys/module/kvm_pvm ] || fail "a PVM KVM: the PVM layer would be on"

useradd -m -s /bin/bash alice || fail "useradd alice"
useradd -m -s /bin/bash bob || fail "useradd bob"
amdv_readme_install "$debs" alice

step "the service and what the package made"
systemctl is-enabled vmms | grep -qx enabled || fail "vmms not enabled"
systemctl is-active vmms | grep -qx active || fail "vmms not active: $(systemctl status vmms --no-pager)"
getent passwd vmstack-worker >/dev/null || fail "no vmstack-worker user (sysusers.d)"
id -nG alice | grep -qw vmstack || fail "alice not in vmstack"
vmctl_as alice host || fail "vmctl host as alice"

step "alice makes and starts a VM"
install -m 644 "$VM_BUILD_DIR/tests/tg_vmwp_irq.elf" /var/lib/vmstack/images/echo.elf
vmctl_as alice create --name=echo --memory=32 --kernel=/var/lib/vmstack/images/echo.elf || fail "create"
vmctl_as alice start echo || fail "start"
in_state() { vmctl_as alice wait echo "$1" --timeout="${2:-5}"; }
in_state Running || fail "not Running: $(vmctl_as alice show echo)"
wpid=$(pgrep -x vmwp) || fail "no vmwp process"
[ "$(stat -c %U /proc/"$wpid")" = vmstack-worker ] || fail "the worker runs as $(stat -c %U /proc/"$wpid"), not sandboxed as vmstack-worker"

step "bob, outside the group, is refused"
out=$(vmctl_as bob stop echo 2>&1) && fail "bob stopped the VM"
grep -q "may not do this" <<<"$out" || fail "bob's refusal: $out"

step "systemctl restart vmms keeps the VM"
systemctl restart vmms || fail "restart"
systemctl is-active vmms | grep -qx active || fail "vmms not active after the restart"
in_state Running || fail "not Running after the restart: $(vmctl_as alice show echo)"
[ "$(pgrep -x vmwp)" = "$wpid" ] || fail "the worker changed: $(pgrep -x vmwp) is not $wpid"
got=$( (sleep 0.5; printf 'hi.') | vmctl_as alice console echo --timeout=30 2>&1)
grep -q "hi" <<<"$got" || fail "the guest did not echo after the restart: $got"
in_state Off 30 || fail "the guest did not power off on '.': $(vmctl_as alice show echo)"

step "D-Bus activation starts a stopped vmms"
systemctl stop vmms || fail "stop"
vmctl_as alice list | grep -q echo || fail "vmctl list did not activate vmms"
systemctl is-active vmms | grep -qx active || fail "vmms not active after activation"
vmctl_as alice delete echo || fail "delete"
echo "install: ok"
