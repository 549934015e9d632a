# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Sourced by debian-image.sh: customize_tree TREE configures the
# mmdebstrap tree of the Debian 12 test image (docs/firmware.md "Test
# guests") before it becomes the root file system.
customize_tree() {
  local t=$1
  # cloud-init replaces it from meta-data's local-hostname.
  echo debian >"$t/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$t/etc/hosts"

  # A root shell on the serial console, no password (a test image).
  mkdir -p "$t/etc/systemd/system/serial-getty@ttyS0.service.d"
  cat >"$t/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --keep-baud 115200,57600,38400,9600 %I $TERM
EOF

  # The line tests wait for.
  cat >"$t/etc/systemd/system/vmstack-guest-ready.service" <<'EOF'
[Unit]
Description=Tell the host (COM1) that multi-user.target is reached
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo "vmstack-guest: multi-user reached" >/dev/ttyS0'

[Install]
WantedBy=multi-user.target
EOF

  # DHCP on the first NIC (hv_netvsc's eth0: net.ifnames=0 on the kernel
  # command line), by systemd-networkd; cloud-init's network-config may
  # add its own in /run/systemd/network.
  mkdir -p "$t/etc/systemd/network"
  printf '[Match]\nName=eth0\n\n[Network]\nDHCP=yes\n' >"$t/etc/systemd/network/20-eth0.network"
  # cloud-init's network stage waits for network-online.target: without a
  # NIC or a DHCP server systemd-networkd-wait-online would hold the boot
  # for its default 2 minutes; 15 s, any one link, is enough for tests.
  mkdir -p "$t/etc/systemd/system/systemd-networkd-wait-online.service.d"
  printf '[Service]\nExecStart=\nExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=15\n' \
    >"$t/etc/systemd/system/systemd-networkd-wait-online.service.d/vmstack.conf"

  # cloud-init: the NoCloud seed (cidata) only, no network metadata
  # services to wait for; C.UTF-8 (the image has no locales package, its
  # default en_US.UTF-8 fails); no SSH host keys (no SSH server).
  mkdir -p "$t/etc/cloud/cloud.cfg.d"
  printf 'datasource_list: [ NoCloud, None ]\nlocale: C.UTF-8\nssh_genkeytypes: []\n' \
    >"$t/etc/cloud/cloud.cfg.d/90-vmstack.cfg"

  systemctl --root="$t" enable vmstack-guest-ready.service systemd-networkd.service \
    serial-getty@ttyS0.service >/dev/null 2>&1
  # hyperv-daemons (enabled by their packages too): each service is bound
  # (BindsTo=) to its misc device, vmbus!hv_kvp, hv_vss, hv_fcopy, so it
  # runs only where hv_utils found that VMBus channel.
  local u
  for u in hv-kvp-daemon hv-vss-daemon hv-fcopy-daemon; do
    [ -e "$t/lib/systemd/system/$u.service" ] && systemctl --root="$t" enable "$u.service" >/dev/null 2>&1
  done
  # A fresh machine-id at first boot.
  : >"$t/etc/machine-id"
  rm -f "$t/var/lib/dbus/machine-id"
}
