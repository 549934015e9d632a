# SPDX-License-Identifier: MIT
# load: 0x100000
# elf: yes
# Two vCPUs through vmwp: the BSP prints "smp: ", copies the AP trampoline
# to 0x8000, wakes APIC 1 with INIT + SIPI (vector 0x08); the AP prints 'A'
# and sets a flag; the BSP waits for it, prints "ok\n" and powers off.
#include "vmwp_pvh.h"
#define FLAG 0x9000
        .code32
        .globl _start
_start:
        mov     $0x200000, %esp
        movl    $0, FLAG
        mov     $'s', %al
        call    putc
        mov     $'m', %al
        call    putc
        mov     $'p', %al
        call    putc
        mov     $':', %al
        call    putc
        mov     $' ', %al
        call    putc
        AP_WAKE ap_start, ap_end, FLAG
        mov     $'o', %al
        call    putc
        mov     $'k', %al
        call    putc
        mov     $'\n', %al
        call    putc
        mov     $PM1A_CNT, %dx
        mov     $SLP_S5, %ax
        out     %ax, %dx
3:      cli
        hlt
        jmp     3b

putc:
        push    %edx
        push    %eax
1:      mov     $COM1 + 5, %dx
        in      %dx, %al
        test    $0x20, %al
        jz      1b
        pop     %eax
        mov     $COM1, %dx
        out     %al, %dx
        pop     %edx
        ret

        .code16
ap_start:                               # runs at 0x8000 in real mode
        AP_SAY_HELLO FLAG
2:      cli
        hlt
        jmp     2b
ap_end:
        .code32
PVH_NOTE(_start)
