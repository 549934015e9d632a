#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds the vmstack Debian packages from a configured and built CMake tree:
#   packaging/mkdeb.sh BUILD_DIR OUT_DIR
# writes vmstack_<version>_amd64.deb and vmstack-dbgsym_<version>_amd64.deb
# (the programs' detached debug symbols) to OUT_DIR and prints the first's
# path. The packaging is debhelper's (debian/ at the top of the source
# tree, which `dpkg-buildpackage -us -uc -b` also builds from scratch):
# dpkg-buildpackage runs on a scratch copy of debian/ with
# VMSTACK_PREBUILT=BUILD_DIR, so that debian/rules installs BUILD_DIR
# (`cmake --install`, packaging/CMakeLists.txt says what goes where)
# instead of building a tree of its own. Needs no root
# (Rules-Requires-Root: no).
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 BUILD_DIR OUT_DIR" >&2; exit 2; }
build=$(realpath "$1") out=$(realpath "$2")
src=$(cd "$(dirname "$0")/.." && pwd)
for t in dpkg-buildpackage:dpkg-dev dh:debhelper; do
  command -v "${t%:*}" >/dev/null || { echo "mkdeb: ${t%:*} missing (apt-get install ${t#*:}; scripts/deps.sh)" >&2; exit 1; }
done
[ -f "$build/CMakeCache.txt" ] || { echo "mkdeb: $build is not a CMake build tree" >&2; exit 1; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/vmstack"
# debian/ without what a dpkg-buildpackage in the source tree left there
# (the .gitignore entries): its build tree, its staged packages, and its
# generated snippets, which would be added a second time.
(cd "$src" && tar -cf - --exclude=debian/.debhelper --exclude=debian/build --exclude=debian/vmstack \
  --exclude=debian/vmstack-dbgsym --exclude=debian/tmp --exclude=debian/files --exclude='debian/*.substvars' \
  --exclude='debian/*.debhelper' --exclude='debian/*.debhelper.log' --exclude=debian/debhelper-build-stamp debian) |
  tar -xf - -C "$stage/vmstack"
log=$stage/build.log
if ! (cd "$stage/vmstack" && VMSTACK_PREBUILT=$build dpkg-buildpackage -us -uc -b) >"$log" 2>&1; then
  echo "mkdeb: dpkg-buildpackage failed:" >&2
  tail -30 "$log" >&2
  exit 1
fi
[ -x "$stage/vmstack/debian/vmstack/usr/libexec/vmstack/vmwp" ] ||
  echo "mkdeb: warning: vmwp is not built; the package has no worker" >&2
[ -f "$stage/vmstack/debian/vmstack/usr/share/cockpit/vmstack/manifest.json" ] ||
  echo "mkdeb: warning: the Cockpit page is not built (VMSTACK_COCKPIT, docs/cockpit.md); the package has none" >&2
version=$(cd "$stage/vmstack" && dpkg-parsechangelog -S Version)
cmake_version=$(sed -n 's/^project(vmstack VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[ "$version" = "$cmake_version" ] ||
  echo "mkdeb: warning: debian/changelog is at $version, CMakeLists.txt at $cmake_version" >&2
arch=$(dpkg --print-architecture)
for p in vmstack vmstack-dbgsym; do
  cp "$stage/${p}_${version}_${arch}.deb" "$out/"
done
echo "$out/vmstack_${version}_${arch}.deb"
