#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds the vmstack Debian package from a configured and built CMake tree:
#   packaging/mkdeb.sh BUILD_DIR OUT_DIR     (prints the .deb's path)
# Uses `cmake --install` (packaging/CMakeLists.txt says what goes where) and
# dpkg-deb; needs no root (--root-owner-group).
set -euo pipefail
build=$(realpath "$1") out=$(realpath "$2")
src=$(cd "$(dirname "$0")/.." && pwd)
command -v dpkg-deb >/dev/null || { echo "mkdeb: dpkg-deb missing (apt-get install dpkg-dev)" >&2; exit 1; }
stage=$(mktemp -d)
chmod 0755 "$stage" # the package root: ./ in the archive
trap 'rm -rf "$stage"' EXIT
DESTDIR="$stage" cmake --install "$build" --prefix /usr >/dev/null
[ -x "$stage/usr/libexec/vmstack/vmwp" ] || echo "mkdeb: warning: vmwp is not built; the package has no worker" >&2
version=$(sed -n 's/^project(vmstack VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
arch=$(dpkg --print-architecture)
size=$(du -sk "$stage/usr" | cut -f1)
# The shared libraries the programs link (vmms GnuTLS, vmwp libseccomp,
# vmdisplay LibVNCServer, ...) become Depends as Debian's own packages
# compute them: dpkg-shlibdeps, over every ELF file, from a scratch
# debian/control it needs beside them.
command -v dpkg-shlibdeps >/dev/null || { echo "mkdeb: dpkg-shlibdeps missing (apt-get install dpkg-dev)" >&2; exit 1; }
mapfile -t elfs < <(find "$stage/usr" -type f -exec sh -c 'head -c4 "$1" | grep -q "^.ELF"' _ {} \; -print)
[ ${#elfs[@]} -gt 0 ] || { echo "mkdeb: no program in the build" >&2; exit 1; }
mkdir -p "$stage/debian"
printf 'Source: vmstack\n\nPackage: vmstack\nArchitecture: any\n' >"$stage/debian/control"
shlibs=$(cd "$stage" && dpkg-shlibdeps -O "${elfs[@]/#$stage\//}" 2>"$stage/shlibdeps.err" | sed -n 's/^shlibs:Depends=//p') ||
  true
rm -rf "$stage/debian"
[ -n "$shlibs" ] || { echo "mkdeb: dpkg-shlibdeps: $(cat "$stage/shlibdeps.err")" >&2; exit 1; }
rm -f "$stage/shlibdeps.err"
mkdir -p "$stage/DEBIAN"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@SHLIBS@/$shlibs/" \
  "$src/packaging/debian/control.in" >"$stage/DEBIAN/control"
for s in postinst prerm postrm; do install -m 0755 "$src/packaging/debian/$s" "$stage/DEBIAN/$s"; done
find "$stage/usr" -type d -exec chmod 0755 {} +
find "$stage/usr" -type f ! -perm -u+x -exec chmod 0644 {} +
deb="$out/vmstack_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
