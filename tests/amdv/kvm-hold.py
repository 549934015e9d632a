#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# kvm-hold.py READY: holds one KVM VM (an in-kernel irqchip and one vCPU
# that never runs) open on the emulated AMD-V host for as long as the run's
# command lasts, and creates the file READY once it holds it. amdv-host.sh
# starts it before the command, with every CPU but the first offline.
#
# Why: KVM flips kernel static keys when the first VM is made and the last
# one goes (preempt_notifier_key, whose branch sits in __schedule; the
# LAPIC keys), and each flip patches live kernel text with int3
# (text_poke_bp). Tests that make and destroy partitions one after another
# (test-vid-state, test-vid) flip them dozens of times. Three component-tier
# runs hung with both emulated CPUs sitting on an int3 at __schedule's
# jump-label NOP (the NMI backtraces: RIP asm_exc_int3+0x0, interrupted at
# __schedule+0x2ac inside `0f 1f 44 00 00`), QEMU's TCG apparently running
# an int3 that memory no longer held. With one VM held the count never
# returns to zero, so __schedule is patched once, here, and not while tests
# run; and with one CPU online while it is patched, no other CPU can run
# into the int3 (measured: docs/amdv-host.md). On a real host nothing of
# this is needed.
import fcntl
import os
import signal
import sys

KVM_CREATE_VM = 0xAE01
KVM_CREATE_IRQCHIP = 0xAE60
KVM_CREATE_VCPU = 0xAE41

try:
    kvm = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    vm = fcntl.ioctl(kvm, KVM_CREATE_VM, 0)
    fcntl.ioctl(vm, KVM_CREATE_IRQCHIP, 0)
    vcpu = fcntl.ioctl(vm, KVM_CREATE_VCPU, 0)
except OSError as e:
    print(f"kvm-hold: no VM held: {e}", file=sys.stderr)
    vm = None
if len(sys.argv) > 1:
    open(sys.argv[1], "w").close()
if vm is None:
    sys.exit(0)
print(f"kvm-hold: holding a VM (fd {vm}, vCPU fd {vcpu}) while the run lasts", file=sys.stderr)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    signal.pause()
