#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds vmstack-guest-hyperv_<version>_all.deb from this directory.
# Usage: build-deb.sh VERSION OUTPUT_DIR
set -eu
version=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
umask 022
chmod 0755 "$stage"

install -d "$stage/DEBIAN" "$stage/usr/share/initramfs-tools/hooks" "$stage/usr/lib/modules-load.d" \
        "$stage/usr/lib/udev/rules.d" "$stage/usr/share/doc/vmstack-guest-hyperv"
sed -e "/^#/d" -e "s/@VERSION@/$version/" "$here/debian/control.in" >"$stage/DEBIAN/control"
install -m 0755 "$here/debian/postinst" "$here/debian/postrm" "$stage/DEBIAN/"
install -m 0755 "$here/initramfs-tools/hooks/vmstack-hyperv" "$stage/usr/share/initramfs-tools/hooks/"
install -m 0644 "$here/modules-load.d/vmstack-hyperv.conf" "$stage/usr/lib/modules-load.d/"
install -m 0644 "$here/udev/66-vmstack-hv-storage.rules" "$stage/usr/lib/udev/rules.d/"
printf 'vmstack-guest-hyperv: see docs/guest-vsc.md in the vmstack sources.\n' \
        >"$stage/usr/share/doc/vmstack-guest-hyperv/README"
mkdir -p "$out"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out/vmstack-guest-hyperv_${version}_all.deb" >/dev/null
echo "$out/vmstack-guest-hyperv_${version}_all.deb"
