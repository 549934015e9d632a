#!/bin/bash
# SPDX-License-Identifier: MIT
# Debian's installer boots from the DVD of a Generation 1 VM (issue #57,
# docs/firmware.md "Test guests"): the installer ISO (tests/lib/
# debian-installer-iso.sh: Debian's netboot kernel and initrd behind GRUB
# for BIOS, console on COM1) in the DVD drive, an empty VHDX as the disk,
# boot order DVD first, the real sandboxed worker under vmms. SeaBIOS
# boots the DVD through El Torito, GRUB reads the kernel and initrd over
# ATAPI, and the installer asks its first question on the serial console
# ("Select a language", its text frontend). Then, on the running guest,
# `vmctl dvd eject` and `vmctl dvd insert` of another ISO: the worker
# takes both, the configuration follows, and the installer still answers
# (its next question after the default language). BootStatus says
# "booted" (SeaBIOS jumped into the DVD's boot image).
#
# Runs where a boot costs about a minute: on hardware virtualization or the
# emulated AMD-V host (ctest amdv/debian-installer). On PVM it skips, as
# test-vmms-debian-gen1.sh does.
set -u
source "$(dirname "$0")/vmms-lib.sh"
src=$(cd "$(dirname "$0")/../.." && pwd)
t_setup
[ -x "$REAL_WORKER" ] && [ -w /dev/kvm ] || { echo "SKIP: needs the real vmwp and /dev/kvm"; exit 77; }
[ -d /sys/module/kvm_pvm ] && { echo "SKIP: PVM KVM: a firmware boot takes tens of minutes here (run amdv/debian-installer)"; exit 77; }
[ -r /usr/share/seabios/bios-256k.bin ] || { echo "SKIP: Debian's seabios is not installed"; exit 77; }
command -v xorriso >/dev/null || { echo "SKIP: xorriso missing (scripts/deps.sh)"; exit 77; }
iso=$("$src/tests/lib/debian-installer-iso.sh") || { rc=$?; [ $rc = 77 ] && echo "SKIP: no installer ISO"; exit $rc; }
WORKER=$REAL_WORKER WORKER_KIND=real
P=$T/pool
mkdir -p "$P" "$T/second"
"$VMCTL_BIN" disk create "$P/target.vhdx" 8G --format=vhdx >/dev/null || fail "the empty VHDX"
echo "the second disc" >"$T/second/readme.txt"
xorriso -as mkisofs -quiet -V VMSTACK_SECOND -o "$P/second.iso" "$T/second" 2>/dev/null || fail "the second ISO"

VMMS_POOLS= t_start_vmms --storage-pool="$P" --storage-pool="$(dirname "$iso")"
expect_rc 0 vmctl create --name=inst --memory=1G --vcpus=2 --disk="$P/target.vhdx" --dvd="$iso" --boot-order=dvd,disk
CON=$(vm_prop inst ConsoleLog)
# guest_wait SECONDS WHAT REGEX [N]: vmms-lib.sh's console_wait for inst.
guest_wait() { console_wait inst "$@"; }
t0=$(date +%s)
expect_rc 0 vmctl start inst --timeout=60

note "boot: SeaBIOS from the DVD, GRUB, the installer's kernel, its first question"
guest_wait 120 "SeaBIOS's banner" "SeaBIOS \(version"
guest_wait 120 "the DVD boot" "Booting from DVD/CD"
guest_wait 300 "GRUB booting the installer" "vmstack-grub: booting the installer"
guest_wait 900 "the installer's first question" "Select a language|Choose the language"
echo "first question after $(($(date +%s) - t0)) s"
[ "$(vm_prop inst BootStatus)" = booted ] || fail "BootStatus: $(vm_prop inst BootStatus)"

note "eject and insert on the running guest"
expect_rc 0 vmctl dvd eject inst
[ "$(vmctl show inst --json | jq -r '.Config.dvd_drives[0].path')" = null ] || fail "eject: $(vmctl show inst --json | jq .Config.dvd_drives)"
expect_rc 0 vmctl dvd insert inst "$P/second.iso"
[ "$(vmctl show inst --json | jq -r '.Config.dvd_drives[0].path')" = "$P/second.iso" ] ||
	fail "insert: $(vmctl show inst --json | jq .Config.dvd_drives)"
[ "$(vm_prop inst State)" = Running ] || fail "inst is $(vm_prop inst State): $(vm_prop inst ExitReason)"

note "the installer still answers: the default language, then its next question"
(sleep 1; printf '\n'; sleep 3) | vmctl console inst --timeout=10 >/dev/null 2>&1
guest_wait 300 "the installer's next question" "Select your location|Choose a country|Select a country|Country, territory or area"
expect_rc 0 vmctl kill inst
wait_state inst Off
alive "$VMMS_PID" || fail "vmms is gone"
echo "PASS"
