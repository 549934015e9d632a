#!/bin/bash
# SPDX-License-Identifier: MIT
# Boot time of the built-in test guest (vsc-guest.elf, vsc.mode=boot: from
# process start to ACPI power off) on our vmwp beside QEMU with the same
# ELF (-kernel, PVH), and the guest's own figure from its first instruction
# to long mode. Prints RESULT rows for bench/run.sh:
#   RESULT <metric> <ours> <baseline> <unit> <target>
# Usage: bench/bench-guest-boot.sh [build-dir] [runs]
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
runs=${2:-3}
elf=$build/guest-vsc/guest/vsc-guest.elf
vmwp=$build/vmwp/vmwp
[ -f "$elf" ] || { echo "bench-guest-boot: $elf not built" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# median of the numbers on stdin
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'; }

# boot_qemu ACCEL: prints the wall time in ms of one boot, or nothing on failure.
boot_qemu() {
        local t0 t1
        t0=$(now_ms)
        timeout 180 qemu-system-x86_64 -accel "$1" -m 128 -kernel "$elf" -append vsc.mode=boot \
                -nographic -serial stdio -monitor none -no-reboot </dev/null >"$tmp/qemu.out" 2>&1 || return
        t1=$(now_ms)
        grep -q '^VSC result=ok' "$tmp/qemu.out" && echo $((t1 - t0))
}

boot_vmwp() {
        local t0 t1
        cat >"$tmp/vm.json" <<JSON
{ "name": "bench-guest-boot", "memory_mib": 128, "vcpus": 1,
  "boot": { "kind": "pvh", "kernel": "$(realpath "$elf")", "cmdline": "vsc.mode=boot" } }
JSON
        t0=$(now_ms)
        timeout 180 "$vmwp" --config "$tmp/vm.json" --serial stdio </dev/null >"$tmp/vmwp.out" 2>&1 || return
        t1=$(now_ms)
        grep -q '^VSC result=ok' "$tmp/vmwp.out" && echo $((t1 - t0))
}

series() { for _ in $(seq "$runs"); do "$@"; done | median; }

qemu_kvm=-
qemu_tcg=-
if command -v qemu-system-x86_64 >/dev/null; then
        [ -w /dev/kvm ] && qemu_kvm=$(series boot_qemu kvm)
        qemu_tcg=$(series boot_qemu tcg)
else
        echo "bench-guest-boot: qemu-system-x86_64 not installed: no baseline" >&2
fi
[ -n "$qemu_kvm" ] || qemu_kvm=-
[ -n "$qemu_tcg" ] || qemu_tcg=-

if [ -x "$vmwp" ]; then
        ours=$(series boot_vmwp)
        [ -n "$ours" ] || ours=FAILED
        printf 'RESULT\tguest boot to power-off, vmwp vs QEMU -accel kvm\t%s\t%s\tms\tbelow QEMU\n' "$ours" "$qemu_kvm"
        inner=$(grep -o 'entry_to_long_mode_us=[0-9]*' "$tmp/vmwp.out" | cut -d= -f2)
        printf 'RESULT\tguest first instruction to long mode (vmwp)\t%s\t-\tus\t-\n' "${inner:--}"
else
        echo "bench-guest-boot: $vmwp not built: QEMU figures only" >&2
fi
printf 'RESULT\tguest boot to power-off, QEMU -accel kvm\t%s\t-\tms\t-\n' "$qemu_kvm"
printf 'RESULT\tguest boot to power-off, QEMU TCG\t%s\t-\tms\t-\n' "$qemu_tcg"
