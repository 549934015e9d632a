# SPDX-License-Identifier: MIT
# load: 0x1000
# Cross-modifying code (vid/pvm.c, reexecute): the AP (vid_xmod_ap.S, at
# 0xa000) keeps flipping the first byte of a 2-byte NOP at 0x1800 between
# int3 (0xcc) and 0x66, as Linux's text_poke_bp does to a live jump label,
# while this BSP runs it 20000 times in long mode at CPL0. The #BP handler
# treats an int3 there as the NOP (resumes after it) and counts it. Flags
# at 0xb000 (the AP flips) and 0xb001 (the AP stops). Reports on port 0x14:
# the passes run, the int3s taken, the handler's mistakes; 0x1f when done.
#define LONGMODE_STACK 0xf000
#include "vid_longmode.inc"
        LONGMODE_GATE bp_handler, 3
        mov     $0xfee00000, %ebx       # LAPIC base (above 2 GiB: via a register)
        movl    $0x1ff, 0xf0(%rbx)      # software enable
        movl    $0x01000000, 0x310(%rbx) # ICR high: destination APIC 1
        movl    $0x00004500, 0x300(%rbx) # INIT, assert
        movl    $0x0000460a, 0x300(%rbx) # SIPI, vector 0x0a -> 0xa000
        movl    $0x0000460a, 0x300(%rbx)
        xor     %r8d, %r8d              # int3s taken
        xor     %r9d, %r9d              # handler mistakes
1:      pause                           # until the AP flips
        cmpb    $0, 0xb000
        je      1b
        mov     $20000, %ecx
        xor     %edx, %edx              # passes run
        jmp     site

        .org    0x800                   # 0x1800, where the AP writes
site:   .byte   0x66, 0x90              # xchg %ax, %ax; an int3 while flipped
        inc     %edx
        dec     %ecx
        jnz     site
        movb    $1, 0xb001              # the AP stops
        mov     %edx, %eax
        out     %eax, $0x14
        mov     %r8d, %eax
        out     %eax, $0x14
        mov     %r9d, %eax
        out     %eax, $0x14
        out     %al, $0x1f
1:      hlt
        jmp     1b

bp_handler:
        lea     site + 1(%rip), %rax    # the trap's RIP: after the int3
        cmp     %rax, (%rsp)
        je      2f
        inc     %r9d
2:      inc     %rax                    # resume after the whole NOP
        mov     %rax, (%rsp)
        inc     %r8d
        iretq

        LONGMODE_TABLES
