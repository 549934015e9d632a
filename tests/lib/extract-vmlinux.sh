# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Sourced by the stock-Linux tests (tests/linux/test-linux*.sh).
# The uncompressed vmlinux inside the bzImage, booted through its PVH entry
# (docs/vmwp.md "Boot"): on PVM the decompressor would run emulated for
# minutes. Found by the compressor's magic, as scripts/extract-vmlinux does;
# cached beside the package. The bzImage path is test-vmwp-linux-debian's.
extract_vmlinux() { # BZIMAGE OUT
	local magic tool pos
	for m in '\x02\x21\x4c\x18:lz4 -dc' '\x28\xb5\x2f\xfd:zstd -dcq' '\xfd\x37\x7a\x58\x5a\x00:xz -dcq' \
		'\x1f\x8b\x08:gzip -dcq'; do
		magic=${m%%:*} tool=${m#*:}
		pos=$(LC_ALL=C grep -aboP -m1 "$magic" "$1" | head -1 | cut -d: -f1)
		[ -n "$pos" ] || continue
		tail -c+$((pos + 1)) "$1" | $tool >"$2.tmp" 2>/dev/null
		if [ "$(head -c4 "$2.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
			mv "$2.tmp" "$2"
			return 0
		fi
	done
	rm -f "$2.tmp"
	return 1
}
