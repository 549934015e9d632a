#!/bin/bash
# SPDX-License-Identifier: MIT
# build-initramfs.sh KERNEL_ROOT OUT_DIR: an uncompressed initramfs (the
# kernel unpacks it at emulated CPL0 on PVM hosts: no gzip) with Debian's
# busybox-static, the kernel's hv_* modules and their dependencies, our /init
# and a 1 MiB pattern the guest writes to its disk. Writes OUT_DIR/initrd.cpio
# and OUT_DIR/pattern.bin.
#
# On a PVM host the modules lose their .BTF section (BPF type information;
# code and data untouched): the kernel verifies a module's BTF, and first
# all of vmlinux's, when the module loads, which took minutes of emulated
# CPL0 time per module there (docs/linux-guests.md). Elsewhere the modules
# are copied as they are.
set -euo pipefail
kroot=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
mods=(hv_vmbus scsi_common scsi_mod scsi_transport_fc hv_storvsc sd_mod hv_netvsc hv_utils)
bb=/bin/busybox
[ -x "$bb" ] || { echo "busybox-static missing: $bb" >&2; exit 77; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,lib/modules,usr/bin,usr/sbin}
cp "$bb" "$root/bin/busybox"
install -m 755 "$here/initramfs/init" "$root/init"
install -m 755 "$here/initramfs/udhcpc.sh" "$root/etc/udhcpc.sh"
for m in "${mods[@]}"; do
  f=$(find "$kroot"/lib/modules/*/kernel -name "$m.ko" -print -quit)
  [ -n "$f" ] || { echo "module $m not in $kroot" >&2; exit 1; }
  cp "$f" "$root/lib/modules/$m.ko"
  if [ -e /sys/module/kvm_pvm ]; then
    objcopy --remove-section=.BTF "$root/lib/modules/$m.ko" || { echo "objcopy failed on $m.ko" >&2; exit 1; }
  fi
done
mkdir -p "$out"
head -c 1048576 /dev/urandom >"$out/pattern.bin"
cp "$out/pattern.bin" "$root/pattern.bin"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$out/initrd.cpio"
