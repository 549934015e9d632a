# SPDX-License-Identifier: MIT
# load: 0x1000
# Enters long mode from the flat 32-bit entry (identity map of 4 GiB with
# 2 MiB pages), installs a 64-bit IDT and enables the LAPIC; each interrupt
# on vector 0x40 writes a count to port 0x11 and EOIs; an NMI writes 0x4e.
# Port 0x1e: ready.
# (Long mode because the PVM emulator cannot execute a 32-bit IRET at CPL0.)
#define LONGMODE_STACK 0x9000
#include "vid_longmode.inc"
        LONGMODE_GATE handler, 0x40
        LONGMODE_GATE nmi_handler, 2
        mov     $0xfee00000, %ebx       # LAPIC base (above 2 GiB: via a register)
        movl    $0x1ff, 0xf0(%rbx)      # software enable
        xor     %ecx, %ecx
        sti
        out     %al, $0x1e
3:      hlt
        jmp     3b
handler:
        inc     %ecx
        mov     %ecx, %eax
        out     %al, $0x11
        movl    $0, 0xb0(%rbx)          # EOI
        iretq
nmi_handler:
        push    %rax
        mov     $0x4e, %al
        out     %al, $0x11
        pop     %rax
        iretq

        LONGMODE_TABLES
