#!/bin/bash
# SPDX-License-Identifier: MIT
# qemu-patched.sh: the QEMU that `amdv-host.sh --qemu patched` emulates
# the AMD-V host with: Debian's own qemu source package (this host's
# suite, Debian's patches applied by dpkg-source) with two fixes of ours,
# tests/amdv/qemu-svm-evtinj.patch and qemu-ignne-race.patch
# (docs/amdv-host.md, "Where TCG lets it through" and "Looking inside
# TCG"), built once for x86_64 system emulation and cached under
# ${VM_CACHE_DIR:-/var/cache/vmstack}/qemu-patched/VERSION-PATCHSUM/.
# Prints the path of a wrapper that runs it with this host's firmware
# (qemu-system-data's option ROMs, SeaBIOS, iPXE: the source package's
# own are not built). The build takes about 5 minutes on 2 cores.
#
# --diag builds (and caches apart) the same with tests/amdv/qemu-tcg-diag.patch
# on top: the faults' diagnostics (docs/amdv-host.md, "Looking inside TCG").
#
# Exit status 77 (skip) with the reason on stderr when the source or the
# build tools cannot be had; 1 when the build fails (its log is kept).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
skip() {
	echo "qemu-patched: $*" >&2
	exit 77
}
patches=("$here/qemu-svm-evtinj.patch" "$here/qemu-ignne-race.patch")
case "${1:-}" in
"") ;;
--diag) patches+=("$here/qemu-tcg-diag.patch") ;;
*) echo "usage: qemu-patched.sh [--diag]" >&2; exit 2 ;;
esac
# The devices built in (configure --without-default-devices, then these):
# the q35 machine and what amdv-host.sh gives it (virtio-net, two
# vhost-user-fs), nothing else: 985 compile steps where the default
# devices took 1242 (4 min 38 s for the whole script on an idle 2-core
# machine, against about 5 minutes). Part of the cache's key.
devices="CONFIG_Q35=y CONFIG_VIRTIO_PCI=y CONFIG_VIRTIO_NET=y CONFIG_VHOST_USER_FS=y"
sum=$( (cat "${patches[@]}"; echo "$devices") | sha256sum | cut -c1-12)
cache=${VM_CACHE_DIR:-/var/cache/vmstack}/qemu-patched
found() {
	local d
	for d in "$cache"/*-"$sum"; do
		[ -e "$d/.complete" ] && { echo "$d/qemu-system-x86_64"; return 0; }
	done
	return 1
}
found && exit 0
for t in meson ninja pkg-config dpkg-source patch; do
	command -v "$t" >/dev/null || skip "$t is missing (scripts/deps.sh installs the build tools)"
done
mkdir -p "$cache" 2>/dev/null || skip "cannot create $cache (set VM_CACHE_DIR)"
exec 9>"$cache/.lock" || skip "cannot write to $cache"
flock 9
found && exit 0
# The source of this host's own suite (private package lists: this
# host's apt sources have no deb-src).
. /etc/os-release
export VM_DEBIAN_SUITE=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}
. "$here/../lib/debian-apt.sh"
debian_apt_setup "$cache" || skip "no package lists for $VM_DEBIAN_SUITE"
tmp=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get "${APT_OPTS[@]}" source --download-only -q qemu >"$tmp/apt.log" 2>&1) ||
	skip "apt-get source qemu failed: $(tail -1 "$tmp/apt.log")"
dsc=$(ls "$tmp"/qemu_*.dsc)
ver=$(sed -n 's/^Version: //p' "$dsc")
ver=${ver#*:}
dpkg-source -x "$dsc" "$tmp/src" >"$tmp/source.log" 2>&1 || { tail -5 "$tmp/source.log" >&2; exit 1; }
for p in "${patches[@]}"; do
	patch -d "$tmp/src" -p1 <"$p" >>"$tmp/patch.log" 2>&1 || { cat "$tmp/patch.log" >&2; exit 1; }
done
tr ' ' '\n' <<<"$devices" >"$tmp/src/configs/devices/i386-softmmu/default.mak"
mkdir "$tmp/build"
log=$cache/build-$ver-$sum.log
# Only what amdv-host.sh uses: TCG, q35, virtio and vhost-user devices,
# user-mode networking (slirp), the monitor; no display, no docs.
if ! (cd "$tmp/build" && "$tmp/src/configure" --target-list=x86_64-softmmu --without-default-devices --disable-docs --disable-werror \
	--enable-slirp --disable-gtk --disable-sdl --disable-opengl --disable-virglrenderer --disable-spice \
	--disable-xen --disable-user --disable-vnc && ninja qemu-system-x86_64) >"$log" 2>&1; then
	echo "qemu-patched: the build of QEMU $ver failed (log: $log):" >&2
	tail -15 "$log" >&2
	exit 1
fi
dir=$cache/$ver-$sum
rm -rf "$dir"
mkdir -p "$dir"
cp "$tmp/build/qemu-system-x86_64" "$dir/qemu-system-x86_64.bin"
cp "${patches[@]}" "$dir/"
cat >"$dir/qemu-system-x86_64" <<EOF
#!/bin/sh
exec "$dir/qemu-system-x86_64.bin" -L /usr/share/qemu -L /usr/share/seabios -L /usr/lib/ipxe/qemu "\$@"
EOF
chmod +x "$dir/qemu-system-x86_64"
touch "$dir/.complete"
echo "$dir/qemu-system-x86_64"
