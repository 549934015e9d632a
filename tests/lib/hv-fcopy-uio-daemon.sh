#!/bin/bash
# SPDX-License-Identifier: MIT
# hv-fcopy-uio-daemon.sh KERNEL_PACKAGE: Linux's hv_fcopy_uio_daemon (the
# file-copy daemon of Linux 6.10 on, on uio_hv_generic) built from the
# tools/hv of that kernel package's own source, fetched from Debian's
# archive (apt-get source): Debian ships the program in no package
# (hyperv-daemons 6.12 has hv_kvp_daemon and hv_vss_daemon only). Built
# once with this host's compiler and libc, cached under
# ${VM_CACHE_DIR:-/var/cache/vmstack}/hv-fcopy-uio-daemon; prints its path.
# VM_DEBIAN_SUITE as for debian-package.sh (debian-apt.sh). Exit status 77
# with the reason on stderr when it cannot be had: no apt, no network, no
# compiler.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/debian-apt.sh"
pkg=${1:?usage: hv-fcopy-uio-daemon.sh KERNEL_PACKAGE}
case "$pkg" in *[!a-z0-9.+-]*) echo "hv-fcopy-uio-daemon: bad package name: $pkg" >&2; exit 2 ;; esac
skip() {
  echo "hv-fcopy-uio-daemon: $*" >&2
  exit 77
}
cache=${VM_CACHE_DIR:-/var/cache/vmstack}/hv-fcopy-uio-daemon${VM_DEBIAN_SUITE:+/$VM_DEBIAN_SUITE}
out=$cache/$pkg/hv_fcopy_uio_daemon
if [ ! -x "$out" ]; then
  for t in apt-get apt-cache tar xz cc; do command -v $t >/dev/null || skip "$t not available"; done
  mkdir -p "$cache/$pkg" 2>/dev/null || skip "cannot create $cache (set VM_CACHE_DIR)"
  exec 9>"$cache/.$pkg.lock" || skip "cannot write to $cache"
  flock 9 || skip "cannot lock $cache/.$pkg.lock"
fi
if [ ! -x "$out" ]; then
  debian_apt_setup "$cache" || skip "no package lists for suite $VM_DEBIAN_SUITE"
  info=$(apt-cache "${APT_OPTS[@]}" show --no-all-versions "$pkg" 2>/dev/null) || skip "apt knows no $pkg"
  # Source: "linux", or "linux (VERSION)" when it differs from the binary's.
  src=$(sed -n 's/^Source: \([^ ]*\).*/\1/p' <<<"$info" | head -1)
  ver=$(sed -n 's/^Source: [^ ]* (\(.*\))$/\1/p' <<<"$info" | head -1)
  [ -n "$ver" ] || ver=$(sed -n 's/^Version: //p' <<<"$info" | head -1)
  [ -n "$ver" ] || skip "no version for $pkg"
  tmp=$(mktemp -d "$cache/.build.XXXXXX") || skip "cannot write to $cache"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get "${APT_OPTS[@]}" source --download-only -q "${src:-linux}=$ver" >/dev/null 2>"$tmp/err") ||
    skip "apt-get source ${src:-linux}=$ver failed: $(tail -1 "$tmp/err")"
  orig=$(ls "$tmp"/*.orig.tar.* 2>/dev/null | head -1)
  [ -n "$orig" ] || skip "no orig tarball for ${src:-linux} $ver"
  # Only the daemon's three files (the whole tree is 1.5 GB unpacked).
  tar -xf "$orig" -C "$tmp" --wildcards '*/tools/hv/hv_fcopy_uio_daemon.c' '*/tools/hv/vmbus_bufring.[ch]' ||
    skip "$orig has no tools/hv/hv_fcopy_uio_daemon.c (a kernel before 6.10?)"
  d=$(dirname "$(find "$tmp" -path '*/tools/hv/hv_fcopy_uio_daemon.c' | head -1)")
  # tools/hv/Makefile's flags; the uapi <linux/hyperv.h> is the host's.
  cc -O2 -g -D_GNU_SOURCE -Wno-address-of-packed-member -o "$out.tmp" "$d/hv_fcopy_uio_daemon.c" \
    "$d/vmbus_bufring.c" 2>"$tmp/cc.err" || skip "building hv_fcopy_uio_daemon failed: $(tail -3 "$tmp/cc.err")"
  mv "$out.tmp" "$out"
fi
echo "$out"
