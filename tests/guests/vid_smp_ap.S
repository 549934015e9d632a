# SPDX-License-Identifier: MIT
# load: 0x8000
# AP: starts in real mode at 0x8000 after SIPI.
        .code16
        .globl _start
_start:
        mov     $0xa1, %al
        out     %al, $0x12
1:      hlt
        jmp     1b
