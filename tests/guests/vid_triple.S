# SPDX-License-Identifier: MIT
# load: 0x1000
# Loads an empty IDT and faults: #GP -> #DF -> triple fault.
        .code32
        .globl _start
_start:
        lidt    idtr
        ud2
idtr:   .word   0
        .long   0
