# SPDX-License-Identifier: MIT
# load: 0x1000
# State that must survive a save and restore into a new partition, checked
# by the guest itself (tests/component/test-vid-state.c). In long mode with
# the LAPIC timer ticking (vector 0x40, periodic; each tick increments
# TICKS), the guest loads xmm0-7 and r12-r15 with patterns, writes
# KERNEL_GS_BASE, STAR and LSTAR (LSTAR is the PVM layer's hidden state on
# a PVM host), reports ready on port 0x1e and halts until the host sets
# FLAG. Then it checks everything, waits for three more ticks (the timer
# survived), writes 0 (all fine) or the number of the first failed check
# to port 0x11 and the tick count it saw at FLAG to port 0x14, and says
# done on port 0x1f.
        .set TICKS, 0x10000
        .set FLAG, 0x10008
        .set BUF, 0x10010
        .set LAPIC, 0xfee00000
        .set MSR_KGS, 0xc0000102
        .set MSR_STAR, 0xc0000081
        .set MSR_LSTAR, 0xc0000082
        .set KGS_VAL, 0x1234567890ab
        .set STAR_VAL, 0x0023001000000000
        .set LSTAR_VAL, 0xffffffff81234560

#define LONGMODE_STACK 0x20000
#include "vid_longmode.inc"
        LONGMODE_GATE handler, 0x40

        mov     $MSR_KGS, %ecx
        mov     $KGS_VAL, %rax
        mov     %rax, %rdx
        shr     $32, %rdx
        wrmsr
        mov     $MSR_STAR, %ecx
        mov     $STAR_VAL, %rax
        mov     %rax, %rdx
        shr     $32, %rdx
        wrmsr
        mov     $MSR_LSTAR, %ecx
        mov     $LSTAR_VAL, %rax
        mov     %rax, %rdx
        shr     $32, %rdx
        wrmsr

        movdqu  pat + 0 * 16(%rip), %xmm0
        movdqu  pat + 1 * 16(%rip), %xmm1
        movdqu  pat + 2 * 16(%rip), %xmm2
        movdqu  pat + 3 * 16(%rip), %xmm3
        movdqu  pat + 4 * 16(%rip), %xmm4
        movdqu  pat + 5 * 16(%rip), %xmm5
        movdqu  pat + 6 * 16(%rip), %xmm6
        movdqu  pat + 7 * 16(%rip), %xmm7
        movabs  $0x1111222233334444, %r12
        movabs  $0x5555666677778888, %r13
        movabs  $0x9999aaaabbbbcccc, %r14
        movabs  $0xddddeeeeffff0000, %r15

        mov     $LAPIC, %ebx
        movl    $0x1ff, 0xf0(%rbx)      # software enable
        movl    $0xb, 0x3e0(%rbx)       # divide by 1
        movl    $0x20040, 0x320(%rbx)   # LVT timer: periodic, vector 0x40
        movl    $5000000, 0x380(%rbx)   # ~5 ms at KVM's 1 GHz APIC bus
        sti
        out     %al, $0x1e              # ready
3:      hlt
        cmpq    $0, FLAG
        je      3b

        mov     TICKS, %rax
        mov     %eax, %esi              # ticks seen at FLAG
        mov     $1, %edi                # check number
        .irp    n, 0, 1, 2, 3, 4, 5, 6, 7
        movdqu  %xmm\n, BUF
        mov     BUF, %rax
        cmp     pat + \n * 16(%rip), %rax
        jne     fail
        mov     BUF + 8, %rax
        cmp     pat + \n * 16 + 8(%rip), %rax
        jne     fail
        inc     %edi
        .endr
        movabs  $0x1111222233334444, %rax    # 9
        cmp     %rax, %r12
        jne     fail
        inc     %edi
        movabs  $0x5555666677778888, %rax    # 10
        cmp     %rax, %r13
        jne     fail
        inc     %edi
        movabs  $0x9999aaaabbbbcccc, %rax    # 11
        cmp     %rax, %r14
        jne     fail
        inc     %edi
        movabs  $0xddddeeeeffff0000, %rax    # 12
        cmp     %rax, %r15
        jne     fail
        inc     %edi
        mov     $MSR_KGS, %ecx                # 13
        mov     $KGS_VAL, %r8
        call    check_msr
        mov     $MSR_STAR, %ecx               # 14
        mov     $STAR_VAL, %r8
        call    check_msr
        mov     $MSR_LSTAR, %ecx              # 15
        mov     $LSTAR_VAL, %r8
        call    check_msr
        lea     3(%rsi), %edx                 # 16: three more ticks arrive
4:      hlt
        cmp     TICKS, %edx
        ja      4b
        xor     %edi, %edi
fail:   mov     %edi, %eax
        out     %al, $0x11
        mov     %esi, %eax
        out     %eax, $0x14
        out     %al, $0x1f
5:      hlt
        jmp     5b

# rdmsr ecx == r8, else fail with the check number in edi
check_msr:
        rdmsr
        shl     $32, %rdx
        or      %rdx, %rax
        cmp     %r8, %rax
        jne     1f
        inc     %edi
        ret
1:      add     $8, %rsp
        jmp     fail

handler:
        push    %rax
        incq    TICKS
        mov     $LAPIC + 0xb0, %eax     # EOI
        movl    $0, (%rax)
        pop     %rax
        iretq

        .p2align 4
pat:    .quad   0x0101010101010101, 0x0202020202020202
        .quad   0x0303030303030303, 0x0404040404040404
        .quad   0x0505050505050505, 0x0606060606060606
        .quad   0x0707070707070707, 0x0808080808080808
        .quad   0x1111111111111111, 0x1212121212121212
        .quad   0x1313131313131313, 0x1414141414141414
        .quad   0x1515151515151515, 0x1616161616161616
        .quad   0x1717171717171717, 0x1818181818181818
        LONGMODE_TABLES
