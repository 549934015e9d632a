# SPDX-License-Identifier: MIT
# load: 0xa000
# AP of vid_xmod_bsp.S, in real mode after SIPI: flips the byte at 0x1800
# between int3 and 0x66 until the BSP sets 0xb001; then reports on 0x12.
        .code16
        .globl _start
_start:
        xor     %ax, %ax
        mov     %ax, %ds
1:      movb    $0xcc, 0x1800
        movb    $1, 0xb000              # flipping
        movb    $0x66, 0x1800
        cmpb    $0, 0xb001
        je      1b
        mov     $0xa1, %al
        out     %al, $0x12
2:      hlt
        jmp     2b
