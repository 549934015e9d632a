#!/bin/bash
# SPDX-License-Identifier: MIT
# Debian's installer booting from a Generation 1 VM's DVD
# (tests/integration/test-vmms-debian-installer.sh) on the emulated AMD-V
# host (docs/amdv-host.md): the installer ISO is built (or found in its
# cache) here, where the network is, then the test runs there.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
: "${VM_BUILD_DIR:?run through ctest}"
"$src/tests/lib/debian-installer-iso.sh" >/dev/null || exit $?
exec bash "$src/tests/amdv/amdv-host.sh" --timeout 1200 -- \
	env VM_BUILD_DIR="$VM_BUILD_DIR" VM_SOURCE_DIR="$src" bash "$src/tests/integration/test-vmms-debian-installer.sh"
