# SPDX-License-Identifier: MIT
# load: 0x1000
# Cross-modifying code (vid/pvm.c, reexecute): the AP (vid_xmod_ap.S) keeps
# flipping the first byte of a 2-byte NOP at 0x1800 between int3 (0xcc) and
# 0x66, as Linux's text_poke_bp does to a live jump label, while this BSP
# runs it 20000 times in long mode at CPL0. The #BP handler treats an int3
# there as the NOP (resumes after it) and counts it. Reports on port 0x14:
# the loops run, the int3s taken, the handler's mistakes; port 0x1f when done.
        .code32
        .globl _start
_start:
        movl    $0x1ff, 0xfee000f0      # LAPIC software enable
        movl    $0x01000000, 0xfee00310 # ICR high: destination APIC 1
        movl    $0x00004500, 0xfee00300 # INIT, assert
        movl    $0x00004608, 0xfee00300 # SIPI, vector 0x08 -> 0x8000
        movl    $0x00004608, 0xfee00300
        lgdt    gdtr
        movl    $pdpt + 3, pml4
        movl    $pd + 3, pdpt
        movl    $0x83, pd               # 0-2 MiB identity
        mov     $pml4, %eax
        mov     %eax, %cr3
        mov     %cr4, %eax
        or      $0x20, %eax
        mov     %eax, %cr4
        mov     $0xc0000080, %ecx
        rdmsr
        or      $0x100, %eax
        wrmsr
        mov     %cr0, %eax
        or      $0x80000000, %eax
        mov     %eax, %cr0
        ljmp    $0x08, $long_mode

        .code64
long_mode:
        mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %ss
        mov     $0x9000, %rsp
        lea     bp_handler(%rip), %rax  # gate for vector 3
        lea     idt + 3 * 16(%rip), %rdi
        mov     %ax, (%rdi)
        movw    $0x08, 2(%rdi)
        movw    $0x8e00, 4(%rdi)
        shr     $16, %rax
        mov     %ax, 6(%rdi)
        shr     $16, %rax
        mov     %eax, 8(%rdi)
        lidt    idtr(%rip)
        xor     %r8d, %r8d              # int3s taken
        xor     %r9d, %r9d              # handler mistakes
1:      pause                           # until the AP flips
        cmpb    $0, 0x7f00
        je      1b
        mov     $20000, %ecx
        xor     %edx, %edx              # loops run
        jmp     site

        .org    0x800                   # 0x1800, where the AP writes
site:   .byte   0x66, 0x90              # xchg %ax, %ax; an int3 while flipped
        inc     %edx
        dec     %ecx
        jnz     site
        movb    $1, 0x7f01              # the AP stops
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

        .p2align 3
gdt:    .quad   0
        .quad   0x00af9a000000ffff
        .quad   0x00cf92000000ffff
gdtr:   .word   gdtr - gdt - 1
        .long   gdt
        .p2align 3
idtr:   .word   256 * 16 - 1
        .quad   idt
        .p2align 12
pml4:   .fill   512, 8, 0
pdpt:   .fill   512, 8, 0
pd:     .fill   512, 8, 0
idt:    .fill   256 * 16, 1, 0
