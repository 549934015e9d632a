#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds once, and caches, a BIOS-bootable ISO of Debian 12's installer
# for the DVD tests (docs/firmware.md "Test guests"):
#
#   tests/lib/debian-installer-iso.sh [--rebuild]
#
# prints the path of debian-12-installer.iso under
# ${VM_CACHE_DIR:-/var/cache/vmstack}/debian-installer-iso/KEY/, KEY a hash
# of this script and the installer's build (its version.info): a change to
# either builds a new ISO, a cached one is used without the network or any
# tool (the emulated AMD-V host sees this machine's files read-only).
# --rebuild builds it again. Exit status 77 (the test suite's "skip") with
# the reason on stderr when it cannot be built here: the package cannot be
# fetched, no grub-mkrescue (grub-common) with GRUB's BIOS modules
# (grub-pc-bin) or no xorriso (scripts/deps.sh installs them).
#
# The ISO: the kernel and initrd of debian-installer-12-netboot-amd64
# (Debian's package; its files under /usr/lib/debian-installer/images/12/
# amd64/text) in /install, GRUB for BIOS (grub-mkrescue: El Torito, no
# emulation) with its terminal and the kernel's console on COM1 (115200),
# no menu wait, and the installer's text frontend (DEBIAN_FRONTEND=text),
# so that its first question ("Select a language") is plain lines on the
# serial console. Volume label DEBIAN12_INSTALLER.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
skip() {
  echo "debian-installer-iso: $*" >&2
  exit 77
}
rebuild=false
case "${1:-}" in
--rebuild) rebuild=true ;;
"") ;;
*) echo "usage: $0 [--rebuild]" >&2; exit 2 ;;
esac

PKG=debian-installer-12-netboot-amd64
LABEL=DEBIAN12_INSTALLER
pkg=$("$here/debian-package.sh" "$PKG") || exit $?
images=$pkg/usr/lib/debian-installer/images/12/amd64/text
di=$images/debian-installer/amd64
[ -r "$di/linux" ] && [ -r "$di/initrd.gz" ] || skip "$PKG has no $di/linux and initrd.gz"
build=$(sed -n 's/^Installer build: *//p' "$images/version.info" 2>/dev/null)
[ -n "$build" ] || skip "$PKG has no installer build in $images/version.info"
key=$({ printf 'installer=%s\n' "$build"; cat "$here/debian-installer-iso.sh"; } | sha256sum | cut -c1-16)
cache=${VM_CACHE_DIR:-/var/cache/vmstack}/debian-installer-iso
out=$cache/$key
iso=$out/debian-12-installer.iso
if ! $rebuild && [ -e "$out/.complete" ]; then
  echo "$iso"
  exit 0
fi

for c in grub-mkrescue xorriso flock; do
  command -v "$c" >/dev/null || skip "$c not available (scripts/deps.sh installs it)"
done
[ -r /usr/lib/grub/i386-pc/boot.img ] || skip "GRUB's BIOS modules are missing (grub-pc-bin; scripts/deps.sh)"
mkdir -p "$cache" 2>/dev/null || skip "cannot create $cache (set VM_CACHE_DIR)"
exec 9>"$cache/.lock" || skip "cannot write to $cache"
flock 9 || skip "cannot lock $cache/.lock"
if ! $rebuild && [ -e "$out/.complete" ]; then # built while we waited
  echo "$iso"
  exit 0
fi

tmp=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
tree=$tmp/tree
mkdir -p "$tree/boot/grub" "$tree/install"
cp "$di/linux" "$tree/install/vmlinuz"
cp "$di/initrd.gz" "$tree/install/initrd.gz"
cat >"$tree/boot/grub/grub.cfg" <<CFG
serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1
terminal_input serial console
terminal_output serial console
set timeout=0
set default=0
menuentry 'Debian 12 installer ($build, serial console)' {
	echo 'vmstack-grub: loading the installer'
	linux /install/vmlinuz console=ttyS0,115200n8 DEBIAN_FRONTEND=text
	initrd /install/initrd.gz
	echo 'vmstack-grub: booting the installer'
}
CFG
grub-mkrescue -d /usr/lib/grub/i386-pc -o "$tmp/out.iso" "$tree" -- -volid "$LABEL" >"$tmp/log" 2>&1 ||
  { cat "$tmp/log" >&2; echo "debian-installer-iso: grub-mkrescue failed" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"
mv "$tmp/out.iso" "$iso"
touch "$out/.complete"
echo "$iso"
