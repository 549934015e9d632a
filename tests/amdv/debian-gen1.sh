#!/bin/bash
# SPDX-License-Identifier: MIT
# The Generation 1 boot of a real Debian 12 system
# (tests/integration/test-vmms-debian-gen1.sh) on the emulated AMD-V host
# (docs/amdv-host.md), where SeaBIOS, GRUB and the kernel run in about a
# minute: the test image is built (or found in its cache) here, where the
# network is, then the test runs there (in CI, scripts/test.sh builds the
# image from the run's start; this waits on its lock). 1500 s: in one boot
# it passed in 500-700 s with the host's (2026-12-02), twice and more the
# worst; a boot that hangs ends at the test's own 900 s wait.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
: "${VM_BUILD_DIR:?run through ctest}"
"$src/tests/lib/debian-image.sh" >/dev/null || exit $?
exec bash "$src/tests/amdv/amdv-host.sh" --timeout 1500 -- \
	env VM_BUILD_DIR="$VM_BUILD_DIR" VM_SOURCE_DIR="$src" bash "$src/tests/integration/test-vmms-debian-gen1.sh"
