#!/bin/bash
# SPDX-License-Identifier: MIT
# File copy into a current Linux (issue 60): from Linux 6.10 on, hv_utils
# has no file copy; the guest binds the channel to uio_hv_generic through
# sysfs and runs Linux's hv_fcopy_uio_daemon. The kernel is Debian 13's
# series (6.12, from bookworm-backports: built for Debian 12), the daemon
# built from that kernel's own source (tests/lib/hv-fcopy-uio-daemon.sh),
# booted with a small initramfs (initramfs/init-fcopy-uio: hv_vmbus,
# hv_utils, uio, uio_hv_generic; no disk, no NIC). vmctl copy-to writes a
# file, the guest reports its MD5; a second copy without --force is
# refused (the file exists). test-linux.sh covers hv_fcopy_daemon on 6.1.
# Slow on PVM hosts (minutes): ctest linux/fcopy-uio-kernel, label
# "linux-fcopy-uio".
#
# VM_DEBIAN_SUITE and VM_DEBIAN_KERNEL_SERIES choose another kernel
# (tests/lib/debian-kernel.sh). Artefacts (console log, milestones) are
# kept in $VM_BUILD_DIR/tests/linux-fcopy-uio-artifacts/.
set -uo pipefail
src=${VM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
export VM_BUILD_DIR=${VM_BUILD_DIR:-$src/build/debug}
export VM_DEBIAN_SUITE=${VM_DEBIAN_SUITE-bookworm-backports} VM_DEBIAN_KERNEL_SERIES=${VM_DEBIAN_KERNEL_SERIES-6.12}
. "$src/tests/integration/vmms-lib.sh"
. "$src/tests/lib/extract-vmlinux.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (/dev/kvm, vmms)"; exit 77; }
[ -w /dev/kvm ] || { echo "SKIP: /dev/kvm not usable"; exit 77; }
[ -x "$REAL_WORKER" ] || fail "vmwp not built"
art=$VM_BUILD_DIR/tests/linux-fcopy-uio-artifacts log=
mkdir -p "$art"
t_begin=$(date +%s)
kroot=$("$src/tests/lib/debian-kernel.sh") || exit $?
daemon=$("$src/tests/lib/hv-fcopy-uio-daemon.sh" "$(basename "$kroot")") || exit $?
kernel=$kroot/boot/vmlinux-extracted
[ -s "$kernel" ] || extract_vmlinux "$(ls "$kroot"/boot/vmlinuz-*)" "$kernel" || kernel=$(ls "$kroot"/boot/vmlinuz-*)

t_setup
WORKER=$REAL_WORKER
note "kernel: $kernel; daemon: $daemon"
VM_INITRAMFS_MODULES="hv_vmbus hv_utils uio uio_hv_generic" VM_INITRAMFS_INIT="$src/tests/linux/initramfs/init-fcopy-uio" \
	VM_INITRAMFS_BINS="$daemon" "$src/tests/linux/build-initramfs.sh" "$kroot" "$T/images" ||
	fail "building the initramfs"
cat >"$T/fcopy.json" <<JSON
{ "name": "fcopy", "memory_mib": 512, "vcpus": 2,
  "boot": { "kind": "linux", "kernel": "$kernel", "initrd": "$T/images/initrd.cpio",
            "cmdline": "console=ttyS0 earlycon=uart8250,io,0x3f8,115200 panic=-1 init_on_alloc=0" },
  "integration": { "shutdown": true, "heartbeat": false, "timesync": false, "kvp": false, "vss": false, "fcopy": true },
  "stop_timeout_s": 300 }
JSON
t_start_vmms --storage-pool="$kroot"
expect_rc 0 vmctl create "$T/fcopy.json"
start=$(date +%s)
expect_rc 0 vmctl start fcopy
log=$(vm_prop fcopy ConsoleLog)
[ -n "$log" ] || fail "no console log path"

# has REGEX: a console line matches (without the CRs of the guest's tty).
# Read whole first, not "tr | grep -q": grep leaving at its match could
# kill tr with SIGPIPE, which pipefail reports as no match.
has() {
	local text
	text=$(tr -d '\r' <"$log" 2>/dev/null)
	grep -Eq "$1" <<<"$text"
}
# Milestones: host seconds after Start at which a line first appears.
declare -A seen
order=()
wait_line() { # NAME REGEX TIMEOUT_S
	local deadline=$(( $(date +%s) + $3 ))
	while [ "$(date +%s)" -lt $deadline ]; do
		if has "$2"; then
			seen[$1]=$(( $(date +%s) - start ))
			order+=("$1")
			note "milestone $1 at +${seen[$1]} s"
			return 0
		fi
		[ "$(vm_prop fcopy State)" = Running ] || fail "VM left Running ($(vm_prop fcopy ExitReason)) waiting for $1"
		sleep 2
	done
	fail "no '$2' in the console after $3 s"
}
save_artifacts() {
	cp "$log" "$art/console.log" 2>/dev/null
	cp "$T/vmms.log" "$art/vmms.log" 2>/dev/null
	for k in "${order[@]}"; do echo "$k ${seen[$k]}"; done >"$art/milestones.txt"
	true
}
t_on_exit save_artifacts
check() { has "$1" || fail "guest did not report /$1/"; }

wait_line init '^LINUX init ' 1800
wait_line ready '^LINUX ready ' 900
for m in hv_vmbus hv_utils uio uio_hv_generic; do check "^LINUX module=$m loaded"; done
# Hyper-V's instance: the daemon opens /sys/bus/vmbus/devices/<it>/uio.
check '^LINUX fcopy device=eb765408-105f-49b6-b4aa-c123b64d17d4 driver=uio_hv_generic uio=uio[0-9]+'
check '^LINUX fcopy-daemon=started'

head -c 300000 /dev/urandom >"$T/copy.bin"
md5=$(md5sum <"$T/copy.bin" | cut -d' ' -f1)
note "copying 300000 bytes into the guest"
t0=$(date +%s%N)
# The daemon negotiates once it runs: until then the service is not ready.
ok=false
for _ in $(seq 60); do
	if out=$(vmctl copy-to fcopy "$T/copy.bin" /tmp/fcopy/in.bin --create-path 2>&1); then ok=true; break; fi
	sleep 2
done
$ok || fail "vmctl copy-to: $out"
seen[copy-ms]=$(( ($(date +%s%N) - t0) / 1000000 ))
order+=(copy-ms)
vmctl copy-to fcopy "$T/copy.bin" /tmp/fcopy/in.bin >"$T/second.out" 2>&1 &&
	fail "a second copy without --force succeeded"
grep -q "the file exists in the guest" "$T/second.out" || fail "a second copy without --force: $(cat "$T/second.out")"
wait_line copied "^LINUX fcopy md5=$md5 bytes=300000\$" 600
note "copy-to took ${seen[copy-ms]} ms"
n=$(tr -d '\r' <"$log" | grep -c '^LINUX fcopy-daemon=restarted')
[ "$n" -eq 0 ] || note "the guest started hv_fcopy_uio_daemon again $n time(s) (it had died)"

vmctl stop fcopy --shutdown-timeout=300 >/dev/null || fail "vmctl stop failed: $(vm_prop fcopy ExitReason)"
wait_state fcopy Off 600
seen[total-s]=$(( $(date +%s) - t_begin ))
order+=(total-s)
note "milestones: $(for k in "${order[@]}"; do printf '%s=%s ' "$k" "${seen[$k]}"; done)"
echo PASS
