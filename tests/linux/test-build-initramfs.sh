#!/bin/bash
# SPDX-License-Identifier: MIT
# build-initramfs.sh against fake kernel packages in each layout a
# distribution ships (unit tier: no kernel download, no /dev/kvm):
#   lib/modules/<ver>/kernel/.../<m>.ko          Debian 12
#   usr/lib/modules/<ver>/kernel/.../<m>.ko.xz   Debian 13 (merged /usr)
#   usr/lib/modules/<ver>/kernel/.../<m>.ko.zst  Ubuntu, Fedora
#   usr/lib/modules/<ver>/kernel/.../<m>.ko.gz
# Each initramfs must hold every module decompressed, byte for byte, at
# /lib/modules/<m>.ko (where /init insmods it); with .BTF stripping on, the
# stripped module must be the decompressed ELF without its .BTF section.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for t in xz zstd gzip cpio objcopy readelf; do
        command -v "$t" >/dev/null || { echo "SKIP: $t not installed (scripts/deps.sh)"; exit 77; }
done
mods=(hv_vmbus scsi_common scsi_mod scsi_transport_fc hv_storvsc sd_mod hv_netvsc hv_utils vsock hv_sock
  hv_balloon hyperv_fb hyperv-keyboard hid hid-generic hid-hyperv evdev)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# A stand-in busybox: build-initramfs.sh only copies it.
printf '#!/bin/sh\nexit 0\n' >"$tmp/busybox"
chmod 755 "$tmp/busybox"

# One small ELF object per module, named inside so that a mix-up shows,
# with a .BTF section to strip.
mkdir -p "$tmp/orig"
for m in "${mods[@]}"; do
        echo "fake module $m" >"$tmp/orig/$m.bin"
        echo "btf of $m" >"$tmp/orig/$m.btf"
        (cd "$tmp/orig" && objcopy -I binary -O elf64-x86-64 "$m.bin" "$m.ko" &&
                objcopy --add-section .BTF="$m.btf" "$m.ko") || { echo "FAIL: cannot make $m.ko"; exit 1; }
done

subdir() {
        case "$1" in
        hv_vmbus | hv_utils) echo drivers/hv ;;
        hv_netvsc) echo drivers/net/hyperv ;;
        vsock | hv_sock) echo net/vmw_vsock ;;
        *) echo drivers/scsi ;;
        esac
}

# fake_package DIR PREFIX VERSION EXT: a kernel package tree.
fake_package() {
        local dir=$1 prefix=$2 ver=$3 ext=$4 m d
        mkdir -p "$dir/boot"
        : >"$dir/boot/vmlinuz-$ver"
        for m in "${mods[@]}"; do
                d="$dir/$prefix/modules/$ver/kernel/$(subdir "$m")"
                mkdir -p "$d"
                case "$ext" in
                ko) cp "$tmp/orig/$m.ko" "$d/$m.ko" ;;
                ko.xz) xz -c "$tmp/orig/$m.ko" >"$d/$m.ko.xz" ;;
                ko.zst) zstd -q -c "$tmp/orig/$m.ko" >"$d/$m.ko.zst" ;;
                ko.gz) gzip -c "$tmp/orig/$m.ko" >"$d/$m.ko.gz" ;;
                esac
        done
}

# build NAME KROOT STRIP: runs the builder, unpacks its initrd into $tmp/NAME.x
build() {
        local name=$1 kroot=$2 strip=$3
        if ! VM_INITRAMFS_BUSYBOX="$tmp/busybox" VM_INITRAMFS_STRIP_BTF=$strip \
                bash "$here/build-initramfs.sh" "$kroot" "$tmp/$name.out" >"$tmp/$name.log" 2>&1; then
                bad "$name: build-initramfs.sh failed: $(tail -3 "$tmp/$name.log")"
                return 1
        fi
        mkdir -p "$tmp/$name.x"
        (cd "$tmp/$name.x" && cpio -id --quiet <"$tmp/$name.out/initrd.cpio") || { bad "$name: cpio -i failed"; return 1; }
        for f in init bin/busybox pattern.bin; do
                [ -f "$tmp/$name.x/$f" ] || bad "$name: /$f missing from the initramfs"
        done
}

for layout in "lib ko" "usr/lib ko.xz" "usr/lib ko.zst" "usr/lib ko.gz"; do
        read -r prefix ext <<<"$layout"
        name=${prefix//\//-}-$ext
        fake_package "$tmp/$name" "$prefix" 6.12.9+deb13-cloud-amd64 "$ext"
        build "$name" "$tmp/$name" 0 || continue
        for m in "${mods[@]}"; do
                got="$tmp/$name.x/lib/modules/$m.ko"
                if [ ! -f "$got" ]; then
                        bad "$name: /lib/modules/$m.ko missing"
                elif ! cmp -s "$got" "$tmp/orig/$m.ko"; then
                        bad "$name: /lib/modules/$m.ko is not the decompressed $prefix/modules/.../$m.$ext"
                fi
        done
        n=$(find "$tmp/$name.x/lib/modules" -type f | wc -l)
        [ "$n" -eq ${#mods[@]} ] || bad "$name: $n files in /lib/modules, expected ${#mods[@]} (.ko only)"
        echo "ok: $prefix/modules/<ver>/kernel/**/*.$ext"
done

# .BTF stripping (PVM hosts) works on the decompressed module.
build strip "$tmp/usr-lib-ko.zst" 1 && for m in "${mods[@]}"; do
        got="$tmp/strip.x/lib/modules/$m.ko"
        readelf -S "$got" >"$tmp/sections" 2>&1 || { bad "strip: $m.ko is not an ELF object"; continue; }
        grep -q '\.BTF' "$tmp/sections" && bad "strip: $m.ko still has .BTF"
        grep -q '\.data' "$tmp/sections" || bad "strip: $m.ko lost its .data"
done && echo "ok: .BTF stripped from decompressed modules"

# VM_INITRAMFS_BINS: a dynamically linked program goes to /usr/sbin with
# the libraries it needs (the loader included), at their own paths.
prog=$(command -v cmp)
if VM_INITRAMFS_BUSYBOX="$tmp/busybox" VM_INITRAMFS_STRIP_BTF=0 VM_INITRAMFS_BINS="$prog" \
        bash "$here/build-initramfs.sh" "$tmp/lib-ko" "$tmp/bins.out" >"$tmp/bins.log" 2>&1; then
        mkdir -p "$tmp/bins.x"
        (cd "$tmp/bins.x" && cpio -id --quiet <"$tmp/bins.out/initrd.cpio")
        cmp -s "$tmp/bins.x/usr/sbin/cmp" "$prog" || bad "bins: /usr/sbin/cmp is not $prog"
        for l in $(ldd "$prog" | grep -Eo '/[^ ]+'); do
                [ -f "$tmp/bins.x$l" ] || bad "bins: $l missing"
        done
        echo "ok: a program with its libraries"
else
        bad "bins: build-initramfs.sh failed: $(tail -3 "$tmp/bins.log")"
fi

# A module missing from the package is an error, not a skip.
rm "$tmp/lib-ko/lib/modules/6.12.9+deb13-cloud-amd64/kernel/drivers/hv/hv_utils.ko"
VM_INITRAMFS_BUSYBOX="$tmp/busybox" VM_INITRAMFS_STRIP_BTF=0 \
        bash "$here/build-initramfs.sh" "$tmp/lib-ko" "$tmp/missing.out" >"$tmp/missing.log" 2>&1
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] || bad "a missing module: exit $rc, expected a failure"
grep -q "hv_utils" "$tmp/missing.log" || bad "a missing module: the error does not name it: $(cat "$tmp/missing.log")"

# /init parses whole in the guest's shell (busybox ash, or dash where
# busybox is missing): a stray line after its last loop once hid there,
# unseen because the loop never ends.
sh_bin=$(command -v busybox >/dev/null && echo "busybox sh" || echo sh)
$sh_bin -n "$here/initramfs/init" 2>"$tmp/parse.log" || bad "initramfs/init does not parse: $(cat "$tmp/parse.log")"

[ "$fail" -eq 0 ] && echo PASS
exit "$fail"
