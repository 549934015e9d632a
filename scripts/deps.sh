#!/bin/bash
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages the build, the tests and the demo need,
# only those that are missing. Run as root (apt-get); idempotent.
set -euo pipefail

PKGS=(
  # build
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  liburing-dev libnl-3-dev libnl-route-3-dev libjson-c-dev libsystemd-dev
  libseccomp-dev libgnutls28-dev
  # tests and tools they drive
  acpica-tools dbus iproute2 busybox-static cpio fio kmod xz-utils zstd lz4
  qemu-system-x86 qemu-utils dpkg-dev fakeroot systemd procps util-linux openssl e2fsprogs
  xfsprogs python3 curl jq libglib2.0-bin
  # Generation 1 VMs: the BIOS they boot through (docs/firmware.md)
  seabios
  # ISO images for the DVD drive's tests (El Torito boot images) and
  # cloud-init seeds (tests/lib/cloud-init-seed.sh)
  xorriso
  # the Debian installer's boot ISO (tests/lib/debian-installer-iso.sh):
  # grub-mkrescue (grub-common) with GRUB's BIOS modules (grub-pc-bin)
  grub-pc-bin grub-common
  # the Debian 12 test guest's system disk (tests/lib/debian-image.sh):
  # mmdebstrap builds the tree, sfdisk partitions the image
  mmdebstrap fdisk
  # the Debian package (debian/, packaging/mkdeb.sh) and its test: debhelper
  # builds it, lintian checks it, man checks the man pages
  debhelper lintian man-db
  # the Pacemaker resource agent's tests: ocf-tester, ocf-shellfuncs, xmllint
  resource-agents libxml2-utils
  # the two-node cluster test: Corosync and Pacemaker in namespaces
  pacemaker pacemaker-cli-utils corosync
  # the console (docs/console.md): VNC server library, PNG screenshots; a real
  # VNC client, noVNC with websockify and headless Chromium for its tests
  libvncserver-dev libpng-dev libjpeg-dev vncsnapshot novnc websockify chromium
  # systemd-machined, which lists the running VMs (machinectl; docs/vmms.md
  # "Processor limit"), for tests/amdv/cpu-scope.sh on the emulated host
  systemd-container
  # the emulated AMD-V host's patched QEMU (tests/amdv/qemu-patched.sh
  # builds Debian's qemu source with our fix of TCG's interrupt injection)
  meson libglib2.0-dev libpixman-1-dev libslirp-dev libfdt-dev
  # metering's Prometheus exposition: promtool checks it (docs/metering.md)
  prometheus
  # the guest's keyboard layouts for the console (vmdisplay --keymap)
  libxkbcommon-dev xkb-data
  # the Cockpit page (docs/cockpit.md): node and npm build it (npm ci of
  # cockpit/package-lock.json, esbuild); its test serves it with cockpit-ws
  # and a local cockpit-bridge to headless Chromium (above), on its own and
  # in Cockpit's shell (cockpit-system)
  nodejs cockpit-ws cockpit-bridge cockpit-system
)
# Debian's npm, unless an npm is there already (NodeSource's nodejs has its
# own, and conflicts with Debian's npm package).
command -v npm >/dev/null || PKGS+=(npm)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages: ${missing[*]}; run as root to install them" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists when they are absent or older than a day.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]; then
  apt-get update -qq
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
