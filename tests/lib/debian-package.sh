#!/bin/bash
# SPDX-License-Identifier: MIT
# debian-package.sh PACKAGE: fetches a Debian package once (apt-get
# download, not installed on this host) and caches it extracted under
# ${VM_DEBIAN_PACKAGE_CACHE:-${VM_CACHE_DIR:-/var/cache/vmstack}/debian-package}/PACKAGE;
# prints that directory. The stock-Linux acceptance test takes
# hv_vss_daemon and hv_fcopy_daemon from hyperv-daemons this way, for its
# guest, and debian-kernel.sh its kernel. Exit status 77 (the test suite's
# "skip") with the reason on stderr when the package cannot be had: no
# apt, no network, no permission. A cached package is used without apt.
# With VM_DEBIAN_SUITE (debian-apt.sh) the package comes from that suite
# and is cached under a directory of that name.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/debian-apt.sh"
pkg=${1:?usage: debian-package.sh PACKAGE}
case "$pkg" in *[!a-z0-9.+-]*) echo "debian-package: bad package name: $pkg" >&2; exit 2 ;; esac
skip() {
  echo "debian-package: $*" >&2
  exit 77
}
cache=${VM_DEBIAN_PACKAGE_CACHE:-${VM_CACHE_DIR:-/var/cache/vmstack}/debian-package}
cache=$cache${VM_DEBIAN_SUITE:+/$VM_DEBIAN_SUITE}
root=$cache/$pkg
if [ ! -e "$root/.complete" ]; then
  command -v apt-get >/dev/null || skip "apt-get not available"
  command -v dpkg-deb >/dev/null || skip "dpkg-deb not available"
  mkdir -p "$cache" 2>/dev/null || skip "cannot create $cache (set VM_CACHE_DIR)"
  # One fetch at a time per package (scripts/test.sh --ci fetches ahead
  # while a test may ask too): the second caller waits, then finds it.
  exec 9>"$cache/.$pkg.lock" || skip "cannot write to $cache"
  flock 9 || skip "cannot lock $cache/.$pkg.lock"
  debian_apt_setup "$cache" || skip "no package lists for suite $VM_DEBIAN_SUITE"
fi
if [ ! -e "$root/.complete" ]; then
  tmp=$(mktemp -d "$cache/.download.XXXXXX") || skip "cannot write to $cache"
  trap 'rm -rf "$tmp"' EXIT
  # Package lists may be missing (a fresh machine): refreshed once, as
  # root, after the first failure. A mirror or resolver that fails for a
  # while ("Temporary failure resolving", seen in CI: twice in a row over
  # about 15 s, then fine) gets more tries, about two minutes in all.
  ok=false tries=8
  for try in $(seq $tries); do
    if (cd "$tmp" && apt-get "${APT_OPTS[@]}" download -q "$pkg" >/dev/null 2>"$tmp/err"); then
      ok=true
      break
    fi
    [ "$try" -eq 1 ] && debian_apt_update && continue
    [ "$try" -lt $tries ] && sleep $((try * 5))
  done
  $ok || skip "apt-get download $pkg failed: $(tail -1 "$tmp/err" 2>/dev/null)"
  deb=$(ls "$tmp"/*.deb 2>/dev/null | head -1)
  [ -n "$deb" ] || skip "apt-get download $pkg produced no .deb"
  mkdir -p "$tmp/root"
  dpkg-deb -x "$deb" "$tmp/root" || skip "dpkg-deb -x failed on $deb"
  rm -rf "$root"
  mv "$tmp/root" "$root"
  touch "$root/.complete"
fi
echo "$root"
