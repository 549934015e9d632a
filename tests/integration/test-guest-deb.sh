#!/bin/bash
# SPDX-License-Identifier: MIT
# The Linux guest package (guest-vsc/linux): build it, check its metadata
# and contents with dpkg-deb -I/-c, run its initramfs hook against a stub
# hook-functions and its postinst against a stub update-initramfs. If this
# machine has initramfs-tools and a kernel with hv_vmbus, also build a real
# initramfs with the hook and look inside.
set -uo pipefail
src=${VM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${VM_BUILD_DIR:-$src/build/debug}
command -v dpkg-deb >/dev/null || { echo "SKIP: dpkg-deb not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

deb=$(ls "$build"/guest-vsc/linux/vmstack-guest-hyperv_*_all.deb 2>/dev/null | head -1)
[ -n "$deb" ] || deb=$(sh "$src/guest-vsc/linux/build-deb.sh" 0.0.0 "$tmp/out") || { bad "build-deb.sh failed"; exit 1; }
echo "package: $deb"

info=$(dpkg-deb -I "$deb")
for re in '^ Package: vmstack-guest-hyperv$' '^ Version: [0-9]' '^ Architecture: all$' \
          '^ Maintainer: .+' '^ Description: .+' ' postinst +#!/bin/sh' ' postrm +#!/bin/sh'; do
        grep -Eq "$re" <<<"$info" || bad "dpkg-deb -I: no /$re/"
done

# Every file, with owner and mode: nothing missing, nothing extra.
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $1, $2, $6 }' | sort >"$tmp/contents"
cat >"$tmp/expected" <<'LIST'
-rw-r--r-- root/root ./usr/lib/modules-load.d/vmstack-hyperv.conf
-rw-r--r-- root/root ./usr/lib/udev/rules.d/66-vmstack-hv-storage.rules
-rw-r--r-- root/root ./usr/share/doc/vmstack-guest-hyperv/README
-rwxr-xr-x root/root ./usr/share/initramfs-tools/hooks/vmstack-hyperv
LIST
diff -u "$tmp/expected" "$tmp/contents" || bad "dpkg-deb -c: contents differ"

dpkg-deb -x "$deb" "$tmp/root"
dpkg-deb -e "$deb" "$tmp/DEBIAN"
[ "$(grep -v '^#' "$tmp/root/usr/lib/modules-load.d/vmstack-hyperv.conf" | xargs)" = \
  "hv_vmbus hv_storvsc hv_netvsc hv_utils" ] || bad "modules-load.d: wrong module list"

# The hook, with hook-functions replaced by a stub that records force_load.
hook=$tmp/root/usr/share/initramfs-tools/hooks/vmstack-hyperv
[ -z "$(sh "$hook" prereqs)" ] || bad "hook prereqs: expected none"
printf 'force_load() { echo "$1" >>"%s/loaded"; }\n' "$tmp" >"$tmp/hook-functions"
sed "s|/usr/share/initramfs-tools/hook-functions|$tmp/hook-functions|" "$hook" >"$tmp/hook"
sh "$tmp/hook" || bad "hook failed"
[ "$(xargs <"$tmp/loaded")" = "hv_vmbus hv_storvsc hv_netvsc hv_utils" ] || bad "hook: force_load order/modules wrong"

# postinst/postrm run update-initramfs -u (a stub on PATH) and nothing fails without it.
mkdir -p "$tmp/bin"
printf '#!/bin/sh\necho "$*" >>"%s/update-initramfs.log"\n' "$tmp" >"$tmp/bin/update-initramfs"
chmod +x "$tmp/bin/update-initramfs"
PATH="$tmp/bin:$PATH" sh "$tmp/DEBIAN/postinst" configure || bad "postinst failed"
PATH="$tmp/bin:$PATH" sh "$tmp/DEBIAN/postrm" remove || bad "postrm failed"
[ "$(cat "$tmp/update-initramfs.log" 2>/dev/null | xargs)" = "-u -u" ] || bad "postinst/postrm: update-initramfs -u not run"
PATH=/nonexistent /bin/sh "$tmp/DEBIAN/postinst" configure || bad "postinst fails without update-initramfs"

# udev rules: only storvsc disks, the two attributes we justify in the file.
rules=$tmp/root/usr/lib/udev/rules.d/66-vmstack-hv-storage.rules
[ "$(grep -vc '^#' "$rules")" -eq 2 ] || bad "udev: expected exactly two rules"
grep -v '^#' "$rules" | grep -vq 'DRIVERS=="hv_storvsc"' && bad "udev: a rule not limited to hv_storvsc"
grep -q 'ATTR{device/timeout}="180"' "$rules" || bad "udev: no SCSI timeout rule"

# A real initramfs, where this machine can build one.
kver=$(ls /lib/modules 2>/dev/null | while read -r v; do
        find "/lib/modules/$v" -name 'hv_vmbus.ko*' 2>/dev/null | grep -q . && echo "$v"; done | head -1)
if command -v mkinitramfs >/dev/null && [ -n "$kver" ]; then
        mkdir -p "$tmp/conf/hooks" "$tmp/conf/conf.d" "$tmp/conf/scripts"
        cp /etc/initramfs-tools/initramfs.conf "$tmp/conf/" && cp "$hook" "$tmp/conf/hooks/"
        sed -i 's/^MODULES=.*/MODULES=dep/' "$tmp/conf/initramfs.conf"
        mkinitramfs -d "$tmp/conf" -o "$tmp/initrd.img" "$kver" || bad "mkinitramfs failed"
        # Listed once and searched after: "lsinitramfs | grep -q" can lose
        # lsinitramfs to SIGPIPE, which pipefail counts as a miss.
        listing=$(lsinitramfs "$tmp/initrd.img")
        for m in hv_vmbus hv_storvsc hv_netvsc hv_utils; do
                grep -q "/$m.ko" <<<"$listing" || bad "initramfs: $m missing"
        done
else
        echo "NOTE: no initramfs-tools or no kernel with hv_vmbus here: real mkinitramfs run skipped"
fi

[ $fail -eq 0 ] && echo PASS || echo FAIL
exit $fail
