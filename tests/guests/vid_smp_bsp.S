# SPDX-License-Identifier: MIT
# load: 0x1000
# BSP: wakes APIC 1 with INIT + SIPI (vector 0x08 -> 0x8000), then reports.
        .code32
        .globl _start
_start:
        movl    $0x1ff, 0xfee000f0      # LAPIC software enable
        movl    $0x01000000, 0xfee00310 # ICR high: destination APIC 1
        movl    $0x00004500, 0xfee00300 # INIT, assert
        movl    $0x00004608, 0xfee00300 # SIPI, vector 0x08
        movl    $0x00004608, 0xfee00300 # second SIPI, as the MP spec says
        mov     $0xb0, %al
        out     %al, $0x13
1:      hlt
        jmp     1b
