#!/bin/bash
# SPDX-License-Identifier: MIT
# Hyper-V's enlightened IDE with a real Linux guest (docs/storvsp.md "IDE
# accelerator channels"): the stock Debian 12 image (tests/lib/debian-image.sh)
# as a firmware VM under vmms with the real, sandboxed worker. SeaBIOS and
# GRUB read the IDE disk through the emulated controller; the kernel's
# ata_piix leaves the ATA disk alone on our "Microsoft Corporation" /
# "Virtual Machine" SMBIOS; hv_storvsc binds the disk's IDE channel on
# VMBus and the root file system mounts from it (before this channel the
# initramfs gave up: "UUID=... does not exist"); the unit that runs at
# multi-user writes its line on COM1. Needs /dev/kvm, Debian's seabios and
# the image (built once, cached; skips without them). Minutes on an
# emulated host (the test's timeout: tests/CMakeLists.txt).
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
[ -x "$REAL_WORKER" ] && [ -w /dev/kvm ] || { echo "SKIP: needs the real vmwp and /dev/kvm"; exit 77; }
[ -r /usr/share/seabios/bios-256k.bin ] || { echo "SKIP: Debian's seabios is not installed"; exit 77; }
src=${VM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
images=$("$src/tests/lib/debian-image.sh" 2>"$T/image.err") # minutes the first time
rc=$?
[ $rc -eq 77 ] && { echo "SKIP: no Debian image: $(tail -1 "$T/image.err")"; exit 77; }
[ $rc -eq 0 ] || fail "debian-image.sh exit $rc: $(tail -5 "$T/image.err")"
raw=$(echo "$images" | grep '\.raw$')
[ -r "$raw" ] || fail "debian-image.sh printed no raw image: $images"
WORKER=$REAL_WORKER WORKER_KIND=real

P=$T/pool
mkdir -p "$P"
cp --sparse=always "$raw" "$P/debian.raw" # the cached image stays as built
VMMS_POOLS= t_start_vmms --storage-pool="$P"

note "the Debian image boots from its IDE disk and mounts its root through VMBus"
expect_rc 0 vmctl create --name=deb --memory=1024 --vcpus=2 --disk="$P/debian.raw"
[ "$(vmctl show deb --json | jq -r '.Config.disks[0].bus')" = ide ] || fail "disk bus: $(vmctl show deb --json)"
expect_rc 0 vmctl start deb --timeout=60
wait_for 900 "multi-user (or the initramfs giving up)" \
  console_has deb "vmstack-guest: multi-user reached|does not exist|Kernel panic"
console_has deb "vmstack-guest: multi-user reached" ||
  fail "the guest did not reach multi-user: $(console deb | tail -30)"
# ata_piix stepped aside for the disk (our SMBIOS), storvsc took it over
console_has deb "ATA device ignore set" || fail "no ata_piix ignore message: $(console deb | grep -i ata | tail)"
console_has deb "storvsc_host_t" || fail "no storvsc host: $(console deb | grep -i scsi | tail)"
console_has deb "sd [0-9]+:0:0:0: \[sda\]" || fail "no sda on target 0: $(console deb | grep -i 'sd ' | tail)"
[ "$(vm_prop deb State)" = Running ] || fail "deb is $(vm_prop deb State): $(vm_prop deb ExitReason)"
expect_rc 0 vmctl kill deb
alive "$VMMS_PID" || fail "vmms is gone"
echo "PASS"
