#!/bin/bash
# SPDX-License-Identifier: MIT
# Fetches a stock Debian cloud kernel (linux-image-*-cloud-amd64-unsigned) once
# and caches it, extracted, under ${VM_CACHE_DIR:-/var/cache/vmstack}. Used by
# the bzImage loader tests and the stock-Linux acceptance test (issue #12).
#
#   tests/lib/debian-kernel.sh            print the cached package root (the
#                                         directory holding boot/ and the
#                                         modules: lib/modules/ up to Debian
#                                         12, usr/lib/modules/ from 13 on,
#                                         .ko or .ko.xz/.zst; the initramfs
#                                         builder takes either)
#   tests/lib/debian-kernel.sh --vmlinuz  print the path of boot/vmlinuz-*
#
# Package choice: $VM_DEBIAN_KERNEL_PKG if set, else the newest
# linux-image-6.1.0-<abi>-cloud-amd64-unsigned apt knows about (docs/pvm-host-notes.md
# uses the 6.1 series), else the newest cloud-amd64-unsigned kernel of any series
# (a distribution without 6.1). $VM_DEBIAN_KERNEL_SERIES instead of 6.1 (a prefix
# of the version: 6.12). With $VM_DEBIAN_SUITE (debian-apt.sh) from that suite:
# VM_DEBIAN_SUITE=bookworm-backports VM_DEBIAN_KERNEL_SERIES=6.12, Debian 13's
# kernel built for Debian 12. Exit status 77 (the test suite's "skip") with the
# reason on stderr when the kernel cannot be had: no apt, no network, no permission.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/debian-apt.sh"

skip() {
        echo "debian-kernel: $*" >&2
        exit 77
}

want=root
case "${1:-}" in
--vmlinuz) want=vmlinuz ;;
"") ;;
*) echo "usage: $0 [--vmlinuz]" >&2; exit 2 ;;
esac

cache="${VM_CACHE_DIR:-/var/cache/vmstack}/debian-kernel"
# A suite's kernels apart (debian-package.sh puts them there too): the
# cache look-up below never takes one for the default kernel.
scache=$cache${VM_DEBIAN_SUITE:+/$VM_DEBIAN_SUITE}

# The newest 6.1 (or $VM_DEBIAN_KERNEL_SERIES) cloud kernel, else the newest
# of any series (Debian 13: linux-image-6.12.<n>+deb13-cloud-amd64-unsigned).
newest_cloud_kernel() {
        local all want
        all=$(apt-cache "${APT_OPTS[@]}" search --names-only '^linux-image-[0-9][^ ]*-cloud-amd64-unsigned$' 2>/dev/null |
                awk '{print $1}' | sort -V)
        if [ -n "${VM_DEBIAN_KERNEL_SERIES:-}" ]; then
                want="^linux-image-${VM_DEBIAN_KERNEL_SERIES//./\\.}[.-]"
        else
                want='^linux-image-6\.1\.0-[0-9]+-cloud-amd64-unsigned$'
        fi
        { grep -E "$want" <<<"$all" || echo "$all"; } | tail -1
}

pick_package() {
        if [ -n "${VM_DEBIAN_KERNEL_PKG:-}" ]; then
                echo "$VM_DEBIAN_KERNEL_PKG"
                return
        fi
        command -v apt-cache >/dev/null || skip "apt-cache not available"
        mkdir -p "$scache" 2>/dev/null || skip "cannot create $scache (set VM_CACHE_DIR)"
        debian_apt_setup "$scache" || skip "no package lists for suite $VM_DEBIAN_SUITE"
        local p
        p=$(newest_cloud_kernel)
        if [ -z "$p" ]; then
                debian_apt_update || true
                p=$(newest_cloud_kernel)
        fi
        [ -n "$p" ] || skip "no linux-image-*-cloud-amd64-unsigned package known to apt"
        echo "$p"
}

# A previously cached package is used as is (no apt call at all), so the
# tests run offline once the cache is filled.
existing=""
# Without a series, as newest_cloud_kernel: the 6.1 series first, any
# other only where there is none (a 6.12 fetched with VM_DEBIAN_KERNEL_SERIES
# must not become every later run's kernel).
cached() { # NAME-PREFIX
        find "$scache" -mindepth 1 -maxdepth 1 -type d -name "linux-image-$1*" -exec test -e '{}/.complete' ';' -print \
                2>/dev/null | sort -V | tail -1
}
if [ -z "${VM_DEBIAN_KERNEL_PKG:-}" ] && [ -d "$scache" ]; then
        if [ -n "${VM_DEBIAN_KERNEL_SERIES:-}" ]; then
                existing=$(cached "$VM_DEBIAN_KERNEL_SERIES")
        else
                existing=$(cached "6.1.0-")
                [ -n "$existing" ] || existing=$(cached "")
        fi
fi
if [ -n "$existing" ]; then
        root="$existing"
else
        pkg=$(pick_package)
        root=$(VM_DEBIAN_PACKAGE_CACHE="$cache" "$(dirname "$0")/debian-package.sh" "$pkg") || exit $?
fi

case "$want" in
root) echo "$root" ;;
vmlinuz)
        v=$(ls "$root"/boot/vmlinuz-* 2>/dev/null | head -1)
        [ -n "$v" ] || skip "no boot/vmlinuz-* in $root"
        echo "$v"
        ;;
esac
