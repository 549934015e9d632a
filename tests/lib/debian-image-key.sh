# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Sourced by debian-image.sh (and its unit test): the pure parts of the
# Debian 12 test image's build, no I/O beyond reading the files named.
#
# debian_image_key DIR SUITE INPUT...: prints the cache key, the first 16
# hex digits of a SHA-256 over the text of the image's scripts in DIR
# (debian-image.sh, debian-image-key.sh, debian-image-tree.sh), the suite
# and the inputs (package names, modules...; sorted, so their order does
# not matter). Any change to one of them names a new cache directory.
debian_image_key() {
  local dir=$1 suite=$2 f
  shift 2
  for f in debian-image.sh debian-image-key.sh debian-image-tree.sh; do
    [ -r "$dir/$f" ] || { echo "debian-image: cannot read $dir/$f" >&2; return 1; }
  done
  {
    printf 'suite=%s\n' "$suite"
    printf '%s\n' "$@" | LC_ALL=C sort -u
    for f in debian-image.sh debian-image-key.sh debian-image-tree.sh; do
      printf -- '--%s--\n' "$f"
      cat "$dir/$f"
    done
  } | sha256sum | cut -c1-16
}

# debian_image_grub_cfg UUID KERNEL INITRD: prints the image's grub.cfg.
# GRUB's terminal is on COM1 (115200 8n1) so the boot is visible on the
# serial port, the kernel's console too; no menu wait; root by UUID.
debian_image_grub_cfg() {
  local uuid=$1 kernel=$2 initrd=$3
  cat <<EOF
serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1
terminal_input serial console
terminal_output serial console
set timeout=0
set default=0
search --no-floppy --fs-uuid --set=root $uuid
menuentry 'Debian 12 (vmstack test guest)' {
	echo 'vmstack-grub: loading $kernel'
	linux $kernel root=UUID=$uuid ro console=tty0 console=ttyS0,115200 net.ifnames=0
	echo 'vmstack-grub: loading $initrd'
	initrd $initrd
	echo 'vmstack-grub: booting'
}
EOF
}
