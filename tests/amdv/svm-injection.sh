#!/bin/bash
# SPDX-License-Identifier: MIT
# The emulated host's QEMU against its interrupt-injection fault
# (docs/amdv-host.md, "Where TCG lets it through"): guest-stress.sh boots
# a stock kernel three times, busy for 40 s each, on a host under
# single-threaded TCG, where Debian 12's own QEMU crashed every such
# guest within 21 s. Runs on amdv-host.sh's default, the patched QEMU
# (tests/amdv/qemu-patched.sh), unless AMDV_QEMU names another:
# AMDV_QEMU=system shows the fault.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
: "${VM_BUILD_DIR:?run through ctest}"
VM_BUILD_DIR="$VM_BUILD_DIR" "$src/tests/lib/debian-kernel.sh" >/dev/null || exit $?
exec bash "$src/tests/amdv/amdv-host.sh" --tcg single --timeout 1200 -- \
	env VM_BUILD_DIR="$VM_BUILD_DIR" VM_SOURCE_DIR="$src" bash "$src/tests/amdv/guest-stress.sh" 3
