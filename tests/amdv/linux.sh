#!/bin/bash
# SPDX-License-Identifier: MIT
# The stock-Linux acceptance test (tests/linux/test-linux.sh) on the
# emulated AMD-V host (docs/amdv-host.md): the Debian packages it boots
# and installs are fetched into their caches here (the emulated host has
# no network), then the test runs there with every check it has.
# VM_DEBIAN_SUITE / VM_DEBIAN_KERNEL_SERIES choose another kernel
# (tests/lib/debian-kernel.sh).
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
: "${VM_BUILD_DIR:?run through ctest}"
"$src/tests/lib/debian-kernel.sh" >/dev/null || exit $?
for p in hyperv-daemons ethtool; do
	"$src/tests/lib/debian-package.sh" "$p" >/dev/null || { echo "FAIL: $p cannot be had"; exit 1; }
done
exec bash "$src/tests/amdv/amdv-host.sh" --timeout 2400 -- env VM_BUILD_DIR="$VM_BUILD_DIR" VM_SOURCE_DIR="$src" \
	${VM_DEBIAN_SUITE:+VM_DEBIAN_SUITE=$VM_DEBIAN_SUITE} \
	${VM_DEBIAN_KERNEL_SERIES:+VM_DEBIAN_KERNEL_SERIES=$VM_DEBIAN_KERNEL_SERIES} \
	bash "$src/tests/linux/test-linux.sh"
