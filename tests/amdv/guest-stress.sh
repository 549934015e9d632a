#!/bin/bash
# SPDX-License-Identifier: MIT
# guest-stress.sh [BOOTS]: run inside the emulated AMD-V host
# (svm-injection.sh). Boots Debian 12's kernel with a busybox initramfs
# (stress-init: both vCPUs busy with system calls and interrupts for 40 s)
# BOOTS times in a row (default 3) under vmms and our worker; each boot
# must run its 40 s and power off. A guest that crashes, hangs or resets
# fails the run, with its console's first oops line. Under Debian 12's
# own QEMU with single-threaded TCG every such guest crashed within 21 s
# (docs/amdv-host.md, "Where TCG lets it through").
set -uo pipefail
src=${VM_SOURCE_DIR:?}
. "$src/tests/integration/vmms-lib.sh"
boots=${1:-3}
kroot=$("$src/tests/lib/debian-kernel.sh") || exit $?
kernel=$kroot/boot/vmlinux-extracted
[ -s "$kernel" ] || kernel=$(ls "$kroot"/boot/vmlinuz-*)
t_setup
WORKER=$REAL_WORKER
VM_INITRAMFS_MODULES="hv_vmbus" VM_INITRAMFS_INIT="$src/tests/amdv/stress-init" \
	"$src/tests/linux/build-initramfs.sh" "$kroot" "$T/images" >/dev/null || fail "building the initramfs"
cat >"$T/stress.json" <<JSON
{ "name": "stress", "memory_mib": 512, "vcpus": 2,
  "boot": { "kind": "linux", "kernel": "$kernel", "initrd": "$T/images/initrd.cpio",
            "cmdline": "console=ttyS0 panic=-1 init_on_alloc=0 stress_s=40" },
  "integration": { "shutdown": false, "heartbeat": false, "timesync": false, "kvp": false, "vss": false, "fcopy": false },
  "stop_timeout_s": 5 }
JSON
t_start_vmms --storage-pool="$kroot"
expect_rc 0 vmctl create "$T/stress.json"
bad=0
for i in $(seq "$boots"); do
	t0=$(date +%s)
	log=$(vm_prop stress ConsoleLog)
	# The console log goes on from boot to boot: this boot's part only.
	from=$(($(stat -c %s "$log" 2>/dev/null || echo 0) + 1))
	expect_rc 0 vmctl start stress
	log=$(vm_prop stress ConsoleLog)
	st=Running
	while [ $(($(date +%s) - t0)) -lt 300 ]; do
		st=$(vm_prop stress State)
		[ "$st" = Off ] || [ "$st" = Crashed ] && break
		sleep 2
	done
	[ "$st" = Running ] && { vmctl kill stress >/dev/null 2>&1; sleep 5; }
	[ "$(stat -c %s "$log" 2>/dev/null || echo 0)" -ge "$from" ] || from=1
	tail -c +"$from" "$log" >"$T/console-$i.log"
	txt=$(tr -d '\r' <"$T/console-$i.log")
	if [ "$st" = Off ] && grep -q "^STRESS done" <<<"$txt"; then
		note "boot $i: ran its 40 s and powered off ($(($(date +%s) - t0)) s)"
	else
		bad=$((bad + 1))
		note "boot $i: FAILED: state $st after $(($(date +%s) - t0)) s ($(vm_prop stress ExitReason | head -c 200))"
		grep -m3 -E "BUG:|Oops|general protection|Kernel panic" <<<"$txt" | sed 's/^/    /'
	fi
done
[ "$bad" = 0 ] || fail "$bad of $boots boots failed (consoles: $T/console-*.log)"
echo PASS
