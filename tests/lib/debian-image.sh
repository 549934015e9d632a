#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds once, and caches, a bootable Debian 12 system disk for tests
# (docs/firmware.md "Test guests"):
#
#   tests/lib/debian-image.sh [--rebuild]
#
# prints the paths of debian-12.raw and debian-12.vhdx (one a line) under
# ${VM_CACHE_DIR:-/var/cache/vmstack}/debian-image/KEY/, KEY a hash of this
# script, debian-image-key.sh, the suite and the package list: a change to
# any of them builds a new image, a cached one is used without the network.
# --rebuild builds it again. Exit status 77 (the test suite's "skip") with
# the reason on stderr when it cannot be built here: no mmdebstrap, sfdisk,
# mke2fs or qemu-img, not root, or Debian's archive unreachable.
#
# The image: msdos partition table, one ext4 root partition from sector
# 2048 (mke2fs -d fills it from the mmdebstrap tree, no loop device or
# mount), GRUB i386-pc's boot.img in the MBR and core.img in the gap after
# it, GRUB and the kernel on COM1 (115200), Debian's cloud kernel with a
# small initramfs (ata_piix, hv_vmbus, hv_storvsc, ext4), systemd with an
# autologin root shell on ttyS0, systemd-networkd DHCP on eth0, cloud-init
# (NoCloud only: cloud-init-seed.sh makes the seed), hyperv-daemons, and
# a unit that writes "vmstack-guest: multi-user reached" to /dev/ttyS0.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/debian-image-key.sh"

skip() {
  echo "debian-image: $*" >&2
  exit 77
}
die() {
  echo "debian-image: $*" >&2
  exit 1
}

rebuild=false
case "${1:-}" in
--rebuild) rebuild=true ;;
"") ;;
*) echo "usage: $0 [--rebuild]" >&2; exit 2 ;;
esac

SUITE=bookworm
MIRROR=${VM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${VM_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
PACKAGES=(linux-image-cloud-amd64 grub-pc systemd-sysv udev cloud-init hyperv-daemons
  initramfs-tools zstd)
# The initramfs's modules (and their dependencies): the root disk on the
# emulated IDE controller or on VMBus storage, its file system.
INITRD_MODULES=(ata_piix ata_generic sd_mod hv_vmbus hv_storvsc ext4)
IMAGE_MIB=2048
PART_START=2048 # sectors

key=$(debian_image_key "$here" "$SUITE" "${PACKAGES[@]}" "${INITRD_MODULES[@]/#/module:}" "size:$IMAGE_MIB")
[ -n "$key" ] || die "cannot hash the image's inputs"
cache=${VM_CACHE_DIR:-/var/cache/vmstack}/debian-image
out=$cache/$key
print_paths() { printf '%s\n%s\n' "$out/debian-12.raw" "$out/debian-12.vhdx"; }

if ! $rebuild && [ -e "$out/.complete" ]; then
  print_paths
  exit 0
fi

for c in mmdebstrap sfdisk mke2fs qemu-img flock; do
  command -v "$c" >/dev/null || skip "$c not available (scripts/deps.sh installs it)"
done
[ "$(id -u)" -eq 0 ] || skip "building the image needs root (mmdebstrap's root mode, mke2fs -d keeping owners)"
mkdir -p "$cache" 2>/dev/null || skip "cannot create $cache (set VM_CACHE_DIR)"
exec 9>"$cache/.lock" || skip "cannot write to $cache"
flock 9 || skip "cannot lock $cache/.lock"
if ! $rebuild && [ -e "$out/.complete" ]; then # built while we waited
  print_paths
  exit 0
fi

tmp=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
tree=$tmp/tree
log=$tmp/mmdebstrap.log
start=$(date +%s)

# Before the packages: the initramfs's configuration (a small one: the
# listed modules only, zstd), so the kernel's postinst builds it once.
essential_hook='mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/usr/share/initramfs-tools/modules.d" &&
printf "MODULES=list\nCOMPRESS=zstd\nCOMPRESSLEVEL=19\n" >"$1/etc/initramfs-tools/conf.d/vmstack.conf" &&
printf "%s\n" '"${INITRD_MODULES[*]}"' >"$1/usr/share/initramfs-tools/modules.d/vmstack.conf"'

echo "debian-image: mmdebstrap $SUITE (minbase + ${PACKAGES[*]}) into $tree" >&2
if ! nice -n 10 mmdebstrap --variant=minbase --mode=root --format=directory \
  --include="$(IFS=,; echo "${PACKAGES[*]}")" \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --essential-hook="$essential_hook" \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb' \
  "$SUITE" "$tree" \
  "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" "deb $SECURITY $SUITE-security main" \
  >"$log" 2>&1; then
  tail -20 "$log" >&2
  if grep -qE 'Failed to fetch|Temporary failure|Could not resolve|Unable to connect|Could not connect|apt-get update.*failed|Release.*not found' "$log"; then
    skip "Debian's archive ($MIRROR) is not reachable"
  fi
  die "mmdebstrap failed (log above)"
fi
echo "debian-image: tree done after $(($(date +%s) - start)) s" >&2

. "$here/debian-image-tree.sh"
customize_tree "$tree"

kernel=$(cd "$tree" && ls boot/vmlinuz-* | sort -V | tail -1)
initrd=$(cd "$tree" && ls boot/initrd.img-* | sort -V | tail -1)
[ -n "$kernel" ] && [ -n "$initrd" ] || die "no kernel or initrd in the tree's /boot"
uuid=$(cat /proc/sys/kernel/random/uuid)
printf 'UUID=%s / ext4 errors=remount-ro 0 1\n' "$uuid" >"$tree/etc/fstab"
mkdir -p "$tree/boot/grub/i386-pc"
debian_image_grub_cfg "$uuid" "/$kernel" "/$initrd" >"$tree/boot/grub/grub.cfg"
cp "$tree"/usr/lib/grub/i386-pc/*.mod "$tree"/usr/lib/grub/i386-pc/*.lst "$tree/boot/grub/i386-pc/"

# GRUB's core image (grub-install's job, without its probing of a block
# device): the early configuration finds the root file system by UUID.
printf 'search --no-floppy --fs-uuid --set=root %s\nset prefix=($root)/boot/grub\n' "$uuid" >"$tree/early.cfg"
chroot "$tree" grub-mkimage -O i386-pc -d /usr/lib/grub/i386-pc -o /core.img -c /early.cfg \
  -p /boot/grub biosdisk part_msdos ext2 search search_fs_uuid normal linux configfile echo \
  serial terminal test
mv "$tree/core.img" "$tmp/core.img"
cp "$tree/usr/lib/grub/i386-pc/boot.img" "$tmp/boot.img"
rm -f "$tree/early.cfg"
core_sectors=$((($(stat -c %s "$tmp/core.img") + 511) / 512))
[ "$core_sectors" -lt $((PART_START - 1)) ] || die "core.img ($core_sectors sectors) does not fit before sector $PART_START"

raw=$tmp/debian-12.raw
truncate -s "${IMAGE_MIB}M" "$raw"
printf 'label: dos\nstart=%d, type=83, bootable\n' "$PART_START" | sfdisk -q "$raw"
part_kib=$(((IMAGE_MIB * 1024 * 1024 - PART_START * 512) / 1024))
# The file system at the partition's offset, filled from the tree.
mke2fs -q -t ext4 -F -E offset=$((PART_START * 512)) -U "$uuid" -L vmstack-root -d "$tree" "$raw" "${part_kib}k"
# boot.img's code (446 - 6 bytes: up to the disk signature; the
# partition table stays), core.img from sector 1: grub-mkimage made its
# block list for a contiguous core at sector 2 onward, as boot.img's
# sector-1 pointer and diskboot.img expect.
dd if="$tmp/boot.img" of="$raw" bs=440 count=1 conv=notrunc status=none
dd if="$tmp/core.img" of="$raw" bs=512 seek=1 conv=notrunc status=none
qemu-img convert -f raw -O vhdx -o subformat=dynamic "$raw" "$tmp/debian-12.vhdx"

{
  echo "suite=$SUITE"
  echo "packages=${PACKAGES[*]}"
  echo "kernel=/$kernel"
  echo "initrd=/$initrd $(stat -c %s "$tree/$initrd")"
  echo "root_uuid=$uuid"
  echo "build_seconds=$(($(date +%s) - start))"
  grep -E '^(linux-image|cloud-init|systemd|grub-pc|hyperv-daemons) ' <(chroot "$tree" dpkg-query -W) || true
} >"$tmp/info"
rm -rf "$out"
mkdir -p "$out"
mv "$raw" "$tmp/debian-12.vhdx" "$tmp/info" "$out/"
touch "$out/.complete"
echo "debian-image: built in $(($(date +%s) - start)) s" >&2
print_paths
