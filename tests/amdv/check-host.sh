#!/bin/bash
# SPDX-License-Identifier: MIT
# Run inside the emulated AMD-V host (amdv-host.sh): checks that it is the
# host the tests there rely on, one line per fact, and fails if one does
# not hold. Then COMMAND (amdv/component: the component tier, with
# test-vid), or without one test-vid, whose checks of the instructions the
# PVM layer completes elsewhere run natively here, with that layer off.
#
#   check-host.sh [COMMAND ARG...]
set -uo pipefail
build=${VM_BUILD_DIR:?VM_BUILD_DIR: the build whose tests run here}
failed=0
check() { # what command...
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then
		echo "ok: $what"
	else
		echo "FAIL: $what ($*)"
		failed=1
	fi
}
[ "${AMDV_HOST:-}" = 1 ] || { echo "FAIL: not on the emulated AMD-V host (AMDV_HOST unset)"; exit 1; }
check "systemd is PID 1" test "$(cat /proc/1/comm)" = systemd
check "cgroup v2 (unified)" test "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs
check "cgroup v2 has the memory controller" grep -qw memory /sys/fs/cgroup/cgroup.controllers
check "cgroup v2 has the cpu controller" grep -qw cpu /sys/fs/cgroup/cgroup.controllers
check "a virtual machine, not a container" test "$(systemd-detect-virt)" = qemu
check "the system bus answers" busctl --system status
check "/dev/kvm" test -c /dev/kvm
check "KVM is kvm_amd (AMD-V)" test -d /sys/module/kvm_amd
check "nested paging on" grep -qxE "1|Y" /sys/module/kvm_amd/parameters/npt
check "no PVM KVM (our PVM layer stays off)" test ! -e /sys/module/kvm_pvm
check "not a PVM guest kernel" sh -c '! grep -q pvm /proc/cmdline'
check "the TSC is the clocksource" grep -qx tsc /sys/devices/system/clocksource/clocksource0/current_clocksource
check "the TSC was never marked unstable" sh -c '! dmesg | grep -q "Marking TSC unstable"'
check "a KVM VM held for the run, every CPU online again (kvm-hold.py)" sh -c 'pgrep -f "^python3 .*kvm-hold.py" >/dev/null && test "$(nproc)" -ge 2'
echo "kernel: $(uname -r); CPUs: $(nproc); memory: $(awk '/MemTotal/ {print $2 / 1024 " MiB"}' /proc/meminfo)"
[ "$failed" = 0 ] || exit 1
[ $# -gt 0 ] && exec "$@"
# vid_partition_is_pvm() false: the PVM instruction test's counters must
# stay 0 here (tests/component/test-vid.c); the whole program runs.
exec "$build/tests/test-vid"
