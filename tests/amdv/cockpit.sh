#!/bin/bash
# SPDX-License-Identifier: MIT
# The Cockpit page through the real cockpit.socket with a PAM login (issue
# #59, docs/cockpit.md), on the emulated AMD-V host (docs/amdv-host.md),
# where systemd is PID 1: the .deb installed as README says (as
# tests/amdv/install.sh does), `systemctl enable --now cockpit.socket`
# (cockpit-tls with the self-signed certificate cockpit makes,
# cockpit-ws, cockpit-session's PAM stack), then headless Chromium
# (tests/amdv/cockpit-login.py) logs in on cockpit's own login page:
#   - alice (in the vmstack group, a password): Cockpit's shell shows the
#     vmstack page in its menu and frame, and the page lists the VM alice
#     made with vmctl, Off, with no alert and no JavaScript error;
#   - bob (a password, outside the group): the page lists the VM,
#     read-only with vmms's reason (its Start disabled); vmms itself
#     refuses bob's Start (PermissionDenied) and the VM stays Off.
# Screenshots in the run's folder (kept/tmp/vm-test.cockpit-*/).
#
# Run here (ctest amdv/cockpit, label amdv-linux): packages VM_BUILD_DIR
# with packaging/mkdeb.sh on this machine (the page must be built: the
# package ships it), then boots the emulated host and runs itself there.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
step() { echo "--- $*"; }
fail() {
	echo "FAIL: $*"
	if [ "${AMDV_HOST:-}" = 1 ]; then
		systemctl status cockpit.socket cockpit.service --no-pager 2>&1 | tail -n 30
		journalctl -u cockpit -u cockpit.socket -u 'cockpit-wsinstance*' -u vmms -t cockpit-session \
			-t cockpit-ws --no-pager -n 80
	fi
	exit 1
}
# shellcheck source=tests/amdv/lib.sh
. "$src/tests/amdv/lib.sh"

if [ "${AMDV_HOST:-}" != 1 ]; then
	build=${VM_BUILD_DIR:?run through ctest}
	# The emulated host's root is this machine's: what is installed here is there.
	for b in cockpit-ws cockpit-tls cockpit-session; do
		[ -x "/usr/lib/cockpit/$b" ] || skip "cockpit-ws is not installed: no /usr/lib/cockpit/$b (scripts/deps.sh)"
	done
	command -v cockpit-bridge >/dev/null || skip "cockpit-bridge is not installed (scripts/deps.sh)"
	[ -d /usr/share/cockpit/shell ] || skip "Cockpit's shell is not installed: cockpit-system (scripts/deps.sh)"
	command -v chromium >/dev/null || skip "chromium is not installed (scripts/deps.sh)"
	[ -f "$build/cockpit/dist/index.js" ] || skip "the page is not built ($build/cockpit/dist; VMSTACK_COCKPIT)"
	amdv_deb_run cockpit 900 "$0"
fi

debs=${1:?the package folder}
amdv_require_systemd
shots=$(mktemp -d /tmp/vm-test.cockpit-XXXXXX) # kept/ by keep-artifacts.sh (vm-test.* under /tmp)
chmod 755 "$shots"
step "users: alice (vmstack) and bob (not), each with a password"
useradd -m -s /bin/bash alice || fail "useradd alice"
useradd -m -s /bin/bash bob || fail "useradd bob"
printf 'alice:Alice-pw-59\nbob:Bob-pw-59\n' | chpasswd || fail "chpasswd"

amdv_readme_install "$debs" alice
id -nG alice | grep -qw vmstack || fail "alice not in vmstack"
id -nG bob | grep -qw vmstack && fail "bob is in vmstack"
[ -f /usr/share/cockpit/vmstack/manifest.json ] || fail "the package has no Cockpit page (/usr/share/cockpit/vmstack)"

step "alice makes a VM with vmctl"
install -m 644 "$VM_BUILD_DIR/tests/tg_vmwp_irq.elf" /var/lib/vmstack/images/page.elf
vmctl_as alice create --name=page-vm --memory=32 --kernel=/var/lib/vmstack/images/page.elf || fail "vmctl create"
vmctl_as alice list | grep -q page-vm || fail "vmctl list: $(vmctl_as alice list 2>&1)"

step "systemctl enable --now cockpit.socket"
# The command runs before the emulated host reaches multi-user, while
# /run/nologin still says "System is booting up" (pam_nologin refuses every
# login but root's): what systemd-user-sessions.service removes at boot.
systemctl start systemd-user-sessions.service || fail "systemd-user-sessions"
[ ! -e /run/nologin ] || fail "/run/nologin is still there"
systemctl enable --now cockpit.socket || fail "enable cockpit.socket"
systemctl is-active cockpit.socket | grep -qx active || fail "cockpit.socket not active"
# The first connection starts cockpit.service (its certificate made first).
ok=
for _ in $(seq 120); do
	if curl -ksf -o /dev/null https://127.0.0.1:9090/; then ok=1; break; fi
	sleep 1
done
[ -n "$ok" ] || fail "https://127.0.0.1:9090/ did not answer within 120 s"
echo "  cockpit answers: $(curl -ks -o /dev/null -w '%{http_code} %{ssl_verify_result}' https://127.0.0.1:9090/) (HTTP status, certificate check: the self-signed one)"
systemctl is-active cockpit.service | grep -qx active || fail "cockpit.service not active"

browser() { # USER PASSWORD member|refused
	step "the browser as $1 ($3)"
	python3 "$src/tests/amdv/cockpit-login.py" "$(command -v chromium)" https://127.0.0.1:9090 "$shots" \
		"$1" "$2" page-vm "$3" || fail "the browser as $1"
}
browser alice Alice-pw-59 member
browser bob Bob-pw-59 refused
out=$(vmctl_as bob start page-vm 2>&1) && fail "vmms let bob (outside the vmstack group) start page-vm"
echo "  vmctl start as bob: $out"
case $out in *"may not do this"*) ;; *) fail "bob's start was refused for another reason: $out" ;; esac
loginctl list-sessions --no-legend 2>/dev/null | grep -E 'alice|bob' | sed 's/^/  logind: /'
vmctl_as alice wait page-vm Off --timeout=5 || fail "page-vm is not Off: $(vmctl_as alice show page-vm)"
vmctl_as alice delete page-vm || fail "vmctl delete"
ls "$shots"
echo "cockpit: ok"
