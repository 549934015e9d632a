# SPDX-License-Identifier: MIT
# load: 0x100000
# elf: yes
# Two vCPUs spinning for the processor limit's test
# (tests/component/test-vmwp-cpu-limit.c): the BSP prints "spin: ",
# wakes APIC 1 (INIT + SIPI, vector 0x08) as vmwp_smp.S does, the AP
# prints 'A', sets a flag and spins; the BSP waits for it, prints "ok\n"
# and spins too. Both with interrupts off and no exit of their own: all
# the time they do not run is the host's (the limit, or no CPU).
#include "vmwp_pvh.h"
#define FLAG 0x9000
        .code32
        .globl _start
_start:
        mov     $0x200000, %esp
        movl    $0, FLAG
        mov     $msg, %esi
        call    puts
        AP_WAKE ap_start, ap_end, FLAG
        mov     $msg_ok, %esi
        call    puts
        cli
3:      jmp     3b                      # spin

puts:                                   # ESI: a NUL-terminated string
        push    %edx
        push    %eax
1:      mov     (%esi), %al
        test    %al, %al
        jz      3f
        mov     $COM1 + 5, %dx
2:      in      %dx, %al
        test    $0x20, %al
        jz      2b
        mov     (%esi), %al
        mov     $COM1, %dx
        out     %al, %dx
        inc     %esi
        jmp     1b
3:      pop     %eax
        pop     %edx
        ret

        .code16
ap_start:                               # runs at 0x8000 in real mode
        AP_SAY_HELLO FLAG
        cli
2:      jmp     2b                      # spin
ap_end:
        .code32

msg:    .asciz  "spin: "
msg_ok: .asciz  "ok\n"
PVH_NOTE(_start)
