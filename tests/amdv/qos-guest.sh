#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue #58's integration tests that need /dev/kvm, on the emulated AMD-V
# host (docs/amdv-host.md; docs/metering.md "What checks what"): CI's
# machines have none, so there they skip. Runs each of them there; one
# that skips (exit 77: no /dev/kvm, no test guest) fails here, since this
# is where they must run.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
if [ "${AMDV_HOST:-}" != 1 ]; then
	build=${VM_BUILD_DIR:?run through ctest}
	exec bash "$src/tests/amdv/amdv-host.sh" --timeout 600 -- env VM_BUILD_DIR="$build" bash "$0" "$@"
fi
export VM_BUILD_DIR VM_SOURCE_DIR=$src
rc=0
for t in test-guest-disk-qos test-vmms-metering-kvm; do
	echo "== $t"
	bash "$src/tests/integration/$t.sh"
	r=$?
	[ "$r" = 0 ] || { echo "FAIL: $t exited $r"; rc=1; }
done
[ "$rc" = 0 ] && echo PASS
exit "$rc"
