#!/bin/bash
# SPDX-License-Identifier: MIT
# build-initramfs.sh KERNEL_ROOT OUT_DIR: an uncompressed initramfs (the
# kernel unpacks it at emulated CPL0 on PVM hosts: no gzip) with Debian's
# busybox-static, the kernel's hv_* modules (hv_sock with vsock too; hv_balloon;
# hyperv_fb, hyperv-keyboard and hid-hyperv with hid and evdev) and their
# dependencies, our /init
# and a 1 MiB pattern the guest writes to its disk. Writes OUT_DIR/initrd.cpio
# and OUT_DIR/pattern.bin.
#
# On a PVM host the modules lose their .BTF section (BPF type information;
# code and data untouched): the kernel verifies a module's BTF, and first
# all of vmlinux's, when the module loads, which took minutes of emulated
# CPL0 time per module there (docs/linux-guests.md). Elsewhere the modules
# are copied as they are.
#
# Kernel packages lay their modules out two ways: lib/modules/<ver>/ (Debian
# 12) or usr/lib/modules/<ver>/ (merged /usr: Debian 13, current Ubuntu and
# Fedora), each module as .ko or compressed (.ko.xz, .ko.zst, .ko.gz).
# busybox's insmod loads only plain ELF objects, so a compressed module is
# decompressed into the initramfs; /init always finds /lib/modules/<m>.ko.
#
# Environment (tests/linux/test-build-initramfs.sh): VM_INITRAMFS_BUSYBOX,
# the busybox to copy (default /bin/busybox); VM_INITRAMFS_STRIP_BTF, 1 or 0
# to strip .BTF or not (default: 1 on a PVM host); VM_INITRAMFS_BINS,
# programs (paths, space-separated) that go to /usr/sbin with the shared
# libraries ldd names for them (hv_vss_daemon from Debian's hyperv-daemons:
# built for this distribution's libc, as the host's); VM_INITRAMFS_MODULES,
# the modules instead of the list below (space-separated, in load order);
# VM_INITRAMFS_EXTRA_MODULES, modules added to the list;
# VM_INITRAMFS_INIT, the /init instead of initramfs/init (a shorter test's:
# tests/linux/test-linux-fcopy-uio.sh).
set -euo pipefail
kroot=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
mods=(hv_vmbus scsi_common scsi_mod scsi_transport_fc hv_storvsc sd_mod hv_netvsc hv_utils vsock hv_sock
  hv_balloon hyperv_fb hyperv-keyboard hid hid-generic hid-hyperv evdev)
[ -n "${VM_INITRAMFS_MODULES:-}" ] && read -r -a mods <<<"$VM_INITRAMFS_MODULES"
# More after them (uio uio_hv_generic: file copy on Linux 6.10 on).
[ -n "${VM_INITRAMFS_EXTRA_MODULES:-}" ] && read -r -a extra <<<"$VM_INITRAMFS_EXTRA_MODULES" && mods+=("${extra[@]}")
init=${VM_INITRAMFS_INIT:-$here/initramfs/init}
bb=${VM_INITRAMFS_BUSYBOX:-/bin/busybox}
[ -x "$bb" ] || { echo "busybox-static missing: $bb" >&2; exit 77; }
strip_btf=${VM_INITRAMFS_STRIP_BTF:-$([ -e /sys/module/kvm_pvm ] && echo 1 || echo 0)}

# find_module NAME: the path of NAME.ko[.xz|.zst|.gz] in either layout.
find_module() {
  local d
  for d in "$kroot"/lib/modules/*/kernel "$kroot"/usr/lib/modules/*/kernel; do
    [ -d "$d" ] || continue
    find "$d" \( -name "$1.ko" -o -name "$1.ko.xz" -o -name "$1.ko.zst" -o -name "$1.ko.gz" \) -print -quit
  done | head -1
}

# copy_module SRC DST: DST is SRC as a plain .ko.
copy_module() {
  local tool
  case "$1" in
  *.ko) cp "$1" "$2"; return ;;
  *.ko.xz) tool=xz ;;
  *.ko.zst) tool=zstd ;;
  *.ko.gz) tool=gzip ;;
  esac
  command -v "$tool" >/dev/null || { echo "$tool missing: cannot decompress $1" >&2; exit 1; }
  "$tool" -dc "$1" >"$2" || { echo "$tool -d failed on $1" >&2; exit 1; }
}

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,lib/modules,usr/bin,usr/sbin}
cp "$bb" "$root/bin/busybox"
install -m 755 "$init" "$root/init"
install -m 755 "$here/initramfs/udhcpc.sh" "$root/etc/udhcpc.sh"
install -m 755 "$here/initramfs/fcopy-uio-bind" "$root/usr/sbin/fcopy-uio-bind"
for m in "${mods[@]}"; do
  f=$(find_module "$m")
  [ -n "$f" ] || { echo "module $m not in $kroot/{,usr/}lib/modules" >&2; exit 1; }
  copy_module "$f" "$root/lib/modules/$m.ko"
  if [ "$strip_btf" = 1 ]; then
    objcopy --remove-section=.BTF "$root/lib/modules/$m.ko" || { echo "objcopy failed on $m.ko" >&2; exit 1; }
  fi
done
for b in ${VM_INITRAMFS_BINS:-}; do
  [ -x "$b" ] || { echo "not a program: $b" >&2; exit 1; }
  cp "$b" "$root/usr/sbin/"
  for l in $(ldd "$b" | grep -Eo '/[^ ]+'); do
    mkdir -p "$root$(dirname "$l")"
    cp -L "$l" "$root$l"
  done
done
mkdir -p "$out"
head -c 1048576 /dev/urandom >"$out/pattern.bin"
cp "$out/pattern.bin" "$root/pattern.bin"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$out/initrd.cpio"
