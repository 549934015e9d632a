#!/bin/bash
# SPDX-License-Identifier: MIT
# The pure parts of the Debian 12 test image (tests/lib/debian-image.sh):
# its cache key changes with each input (suite, packages, each of the
# image's scripts) and not with the packages' order; a cached image is
# found by that key without building anything (no mmdebstrap, no network);
# its grub.cfg puts GRUB and the kernel on COM1 with the root by UUID; and
# cloud-init-seed.sh writes a "cidata" ISO with user-data and meta-data.
set -u
src=${VM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
. "$src/tests/lib/debian-image-key.sh"

lib=$src/tests/lib
k1=$(debian_image_key "$lib" bookworm a b c) || fail "key failed"
[[ "$k1" =~ ^[0-9a-f]{16}$ ]] || fail "key format: $k1"
[ "$(debian_image_key "$lib" bookworm c a b)" = "$k1" ] || fail "key depends on the order"
[ "$(debian_image_key "$lib" trixie a b c)" != "$k1" ] || fail "suite not in the key"
[ "$(debian_image_key "$lib" bookworm a b c d)" != "$k1" ] || fail "package list not in the key"
for f in debian-image.sh debian-image-key.sh debian-image-tree.sh; do
  mkdir -p "$T/lib-$f"
  cp "$lib"/debian-image.sh "$lib"/debian-image-key.sh "$lib"/debian-image-tree.sh "$T/lib-$f/"
  echo "# changed" >>"$T/lib-$f/$f"
  [ "$(debian_image_key "$T/lib-$f" bookworm a b c)" != "$k1" ] || fail "$f not in the key"
done
debian_image_key "$T/nonexistent" bookworm a >/dev/null 2>&1 && fail "a missing script gave a key"

# Without mmdebstrap (a PATH with only the tools the key needs): skip.
mkdir -p "$T/bin"
for c in dirname sha256sum cut sort cat; do ln -s "$(command -v $c)" "$T/bin/$c"; done
out=$(VM_CACHE_DIR=$T/probe PATH=$T/bin /bin/bash "$lib/debian-image.sh" 2>&1)
rc=$?
[ $rc -eq 77 ] || fail "without mmdebstrap: rc $rc ($out), want 77 (skip)"
grep -q "mmdebstrap not available" <<<"$out" || fail "skip reason: $out"
[ ! -e "$T/probe" ] || fail "a skipped build left $T/probe"
# The script's own key: recompute with the same inputs it passes.
mkdir -p "$T/c"
cat >"$T/keyof.sh" <<'EOF'
set -euo pipefail
here=$1
. "$here/debian-image-key.sh"
eval "$(sed -n '/^SUITE=/p;/^PACKAGES=(/,/)$/p;/^INITRD_MODULES=(/p;/^IMAGE_MIB=/p' "$here/debian-image.sh")"
debian_image_key "$here" "$SUITE" "${PACKAGES[@]}" "${INITRD_MODULES[@]/#/module:}" "size:$IMAGE_MIB"
EOF
k=$(bash "$T/keyof.sh" "$lib") || fail "cannot compute the script's key"
mkdir -p "$T/c/debian-image/$k"
touch "$T/c/debian-image/$k/.complete"
got=$(VM_CACHE_DIR=$T/c PATH=$T/bin /bin/bash "$lib/debian-image.sh") || fail "cached image not used (rc $?)"
[ "$got" = "$T/c/debian-image/$k/debian-12.raw
$T/c/debian-image/$k/debian-12.vhdx" ] || fail "cached paths: $got"
/bin/bash "$lib/debian-image.sh" --bogus >/dev/null 2>&1
[ $? -eq 2 ] || fail "a bad option is not a usage error"

cfg=$(debian_image_grub_cfg 0123-uuid /boot/vmlinuz-x /boot/initrd.img-x)
grep -q '^serial --unit=0 --speed=115200' <<<"$cfg" || fail "grub.cfg: no serial"
grep -q '^terminal_output serial' <<<"$cfg" || fail "grub.cfg: output not on serial"
grep -q '^set timeout=0' <<<"$cfg" || fail "grub.cfg: timeout"
grep -q 'search --no-floppy --fs-uuid --set=root 0123-uuid' <<<"$cfg" || fail "grub.cfg: root search"
grep -qE '^\s+linux /boot/vmlinuz-x root=UUID=0123-uuid .*console=ttyS0,115200' <<<"$cfg" || fail "grub.cfg: linux line"
grep -qE '^\s+initrd /boot/initrd.img-x$' <<<"$cfg" || fail "grub.cfg: initrd line"

if command -v xorriso >/dev/null; then
  seed=$T/seed.iso
  bash "$lib/cloud-init-seed.sh" "$seed" --hostname web1 >/dev/null || fail "seed not made"
  grep -q 'Volume Id *: cidata$' <<<"$(xorriso -indev "$seed" -pvd_info 2>/dev/null)" || fail "seed label"
  xorriso -osirrox on -indev "$seed" -extract / "$T/x" >/dev/null 2>&1 || fail "seed unreadable"
  grep -qx 'local-hostname: web1' "$T/x/meta-data" || fail "meta-data: $(cat "$T/x/meta-data")"
  grep -qx 'instance-id: web1' "$T/x/meta-data" || fail "instance-id"
  head -1 "$T/x/user-data" | grep -qx '#cloud-config' || fail "user-data"
  bash "$lib/cloud-init-seed.sh" "$T/bad.iso" --hostname 'a b' >/dev/null 2>&1
  [ $? -eq 2 ] || fail "a bad host name was accepted"
  [ ! -e "$T/bad.iso" ] || fail "a seed with a bad host name was written"
fi
echo PASS
