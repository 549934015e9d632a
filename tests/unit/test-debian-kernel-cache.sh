#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/lib/debian-kernel.sh picks from its cache as it picks from apt: the
# 6.1 series unless VM_DEBIAN_KERNEL_SERIES names another. A 6.12 once
# fetched with VM_DEBIAN_KERNEL_SERIES=6.12 became every later run's
# kernel (the newest by version), the emulated AMD-V host's included,
# whose modules it could not find.
set -u
src=${VM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
mk() { mkdir -p "$T/debian-kernel/$1" && touch "$T/debian-kernel/$1/.complete"; }
mk linux-image-6.1.0-57-cloud-amd64-unsigned
mk linux-image-6.1.0-9-cloud-amd64-unsigned
mk linux-image-6.12.117+deb12-cloud-amd64-unsigned
got=$(VM_CACHE_DIR=$T bash "$src/tests/lib/debian-kernel.sh") || fail "no kernel: $got"
[ "$(basename "$got")" = linux-image-6.1.0-57-cloud-amd64-unsigned ] || fail "default: $got"
got=$(VM_CACHE_DIR=$T VM_DEBIAN_KERNEL_SERIES=6.12 bash "$src/tests/lib/debian-kernel.sh") || fail "no 6.12: $got"
[ "$(basename "$got")" = linux-image-6.12.117+deb12-cloud-amd64-unsigned ] || fail "series 6.12: $got"
rm -rf "$T/debian-kernel/linux-image-6.1.0-"*
got=$(VM_CACHE_DIR=$T bash "$src/tests/lib/debian-kernel.sh") || fail "no kernel: $got"
[ "$(basename "$got")" = linux-image-6.12.117+deb12-cloud-amd64-unsigned ] || fail "without a 6.1: $got"
echo "ok"
