#!/bin/bash
# SPDX-License-Identifier: MIT
# The built-in test guest (vsc-guest.elf) under Debian's QEMU: PVH boot with
# -kernel, report lines on the serial console, ACPI power off. With KVM if
# it works here, else TCG. No VMBus under QEMU: the guest must say so (CPUID)
# and a VMBus mode must fail cleanly instead of hanging.
set -uo pipefail
build=${VM_BUILD_DIR:-$(dirname "$0")/../../build/debug}
elf=$build/guest-vsc/guest/vsc-guest.elf
command -v qemu-system-x86_64 >/dev/null ||
        { echo "SKIP: qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"; exit 77; }
[ -f "$elf" ] || { echo "FAIL: $elf not built"; exit 1; }

fail=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# qemu_run ACCEL MEM CMDLINE: output in $out, returns QEMU's exit status;
# $smp vCPUs (1 unless set).
qemu_run() {
        timeout 180 qemu-system-x86_64 -accel "$1" -smp "${smp:-1}" -m "$2" -kernel "$elf" -append "$3" \
                -nographic -serial stdio -monitor none -no-reboot </dev/null >"$out" 2>&1
}

# The boot case with KVM when it works here (on the PVM host QEMU's firmware
# alone takes seconds at CPL0), everything with TCG, which is fast for a
# guest this small. tests/component/test-guest-vid.c covers our own KVM path.
accel=tcg
if [ -w /dev/kvm ] && qemu_run kvm 128 vsc.mode=boot && grep -q '^VSC booted=1' "$out"; then
        accel=kvm
fi
echo "boot accelerator: $accel"

# expect CMDLINE MEM 'regex'...: every regex must match a line; the last
# VSC line must be the result line (nothing after it).
expect() {
        local cmd=$1 mem=$2 rc
        shift 2
        qemu_run "$accel" "$mem" "$cmd"
        rc=$?
        if [ $rc -ne 0 ]; then
                echo "FAIL [$cmd]: qemu exit status $rc (124: timeout, the guest did not power off)"
                fail=1
        fi
        for re in "$@"; do
                grep -Eq "$re" "$out" || { echo "FAIL [$cmd]: no line matching /$re/"; fail=1; }
        done
        grep '^VSC ' "$out" | tail -1 | grep -q '^VSC result=' ||
                { echo "FAIL [$cmd]: the last report line is not the result"; fail=1; }
        grep '^VSC ' "$out" | sed "s/^/  [$cmd] /"
}

expect "vsc.mode=boot" 128 '^VSC guest=vsc-guest version=' '^VSC booted=1 ' '^VSC hyperv=absent vendor=' \
        '^VSC detail=no VMBus here' '^VSC memory_mib=12[0-9] .*memmap=loader' '^VSC acpi=tables pm1a_cnt=0x604' \
        '^VSC mode=boot$' '^VSC result=ok status=0$'
accel=tcg
# The default mode is boot.
expect "" 128 '^VSC mode=boot$' '^VSC result=ok status=0$'
# The application processors under another x86 (TCG: every mode switch of
# the AP trampoline done by QEMU's own emulation), jobs on all four CPUs.
smp=4 expect "vsc.mode=smp vsc.cpus=4 vsc.timeout_ms=20000" 128 '^VSC smp_cpu=3 started_us=[0-9]+$' \
        '^VSC smp=ok cpus=4 adds=1600000 apic_ids=0,1,2,3$' '^VSC result=ok status=0$'
# VMBus needs Hyper-V: a clear error and ENODEV, not a hang.
expect "vsc.mode=enumerate vsc.timeout_ms=2000" 128 '^VSC error=this mode needs Hyper-V' \
        '^VSC result=fail status=19$'
# The balloon modes (bench-dm) without their devices: a clear error, ENODEV.
expect "vsc.mode=balloon vsc.balloon.touch_mib=16" 128 '^VSC error=this mode needs Hyper-V' \
        '^VSC result=fail status=19$'
expect "vsc.mode=virtio-balloon vsc.balloon.touch_mib=16" 128 '^VSC error=no virtio-balloon among the virtio-mmio' \
        '^VSC result=fail status=19$'
expect "vsc.mode=no-such-mode" 128 '^VSC error=unknown vsc.mode=no-such-mode' '^VSC result=fail status=22$'
# CPL3 <-> CPL0 switching, port I/O at CPL3 and interrupts.
expect "vsc.mode=probe vsc.probe=user_call,int80,ud2,port_exit,self_ipi" 128 \
        '^VSC probe=user_call cpl=0 ' '^VSC probe=int80 cpl=3 ' '^VSC probe=ud2 cpl=3 ' \
        '^VSC probe=port_exit cpl=3 ' '^VSC probe=self_ipi cpl=0 ' '^VSC probe=self_ipi cpl=3 ' \
        '^VSC result=ok status=0$'
# RAM above 4 GiB is identity-mapped too (QEMU puts 2 GiB of 5 above it).
expect "vsc.mode=boot" 5G '^VSC pool_base=.* mapped_gib=6$' '^VSC result=ok status=0$'

[ $fail -eq 0 ] && echo "PASS" || echo "FAIL"
exit $fail
