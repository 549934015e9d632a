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
        mov     $ap_start, %esi         # trampoline -> 0x8000
        mov     $0x8000, %edi
        mov     $ap_end - ap_start, %ecx
        rep movsb
        movl    $0x1ff, 0xfee000f0      # LAPIC software enable
        movl    $0x01000000, 0xfee00310 # ICR high: APIC 1
        movl    $0x00004500, 0xfee00300 # INIT
        movl    $0x00004608, 0xfee00300 # SIPI, vector 0x08
        movl    $0x00004608, 0xfee00300
1:      cmpl    $1, FLAG
        je      2f
        pause
        jmp     1b
2:      mov     $msg_ok, %esi
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
        mov     $COM1 + 5, %dx
1:      in      %dx, %al
        test    $0x20, %al
        jz      1b
        mov     $COM1, %dx
        mov     $'A', %al
        out     %al, %dx
        xor     %ax, %ax
        mov     %ax, %ds
        movl    $1, FLAG
        cli
2:      jmp     2b                      # spin
ap_end:
        .code32

msg:    .asciz  "spin: "
msg_ok: .asciz  "ok\n"
PVH_NOTE(_start)
