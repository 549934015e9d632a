# SPDX-License-Identifier: MIT
# load: 0x1000
# Enters long mode from the flat 32-bit entry (identity map of 4 GiB with
# 2 MiB pages), installs a 64-bit IDT and enables the LAPIC; each interrupt
# on vector 0x40 writes a count to port 0x11 and EOIs. Port 0x1e: ready.
# (Long mode because the PVM emulator cannot execute a 32-bit IRET at CPL0.)
        .code32
        .globl _start
_start:
        lgdt    gdtr
        # PML4[0] -> PDPT, PDPT[0..3] -> PD0..3, PDs map 2 MiB pages
        movl    $pdpt + 3, pml4
        mov     $0, %ecx
1:      mov     %ecx, %eax
        shl     $12, %eax
        add     $pd + 3, %eax
        mov     %eax, pdpt(,%ecx,8)
        inc     %ecx
        cmp     $4, %ecx
        jne     1b
        mov     $0, %ecx
2:      mov     %ecx, %eax
        shl     $21, %eax
        or      $0x83, %eax
        mov     %eax, pd(,%ecx,8)
        inc     %ecx
        cmp     $2048, %ecx
        jne     2b
        mov     $pml4, %eax
        mov     %eax, %cr3
        mov     %cr4, %eax
        or      $0x20, %eax             # PAE
        mov     %eax, %cr4
        mov     $0xc0000080, %ecx       # EFER.LME
        rdmsr
        or      $0x100, %eax
        wrmsr
        mov     %cr0, %eax
        or      $0x80000000, %eax       # PG
        mov     %eax, %cr0
        ljmp    $0x08, $long_mode

        .code64
long_mode:
        mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     $0x9000, %rsp
        lea     handler(%rip), %rax     # 16-byte gate for vector 0x40
        lea     idt + 0x40 * 16(%rip), %rdi
        mov     %ax, (%rdi)
        movw    $0x08, 2(%rdi)
        movw    $0x8e00, 4(%rdi)
        shr     $16, %rax
        mov     %ax, 6(%rdi)
        shr     $16, %rax
        mov     %eax, 8(%rdi)
        lidt    idtr(%rip)
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

        .p2align 3
gdt:    .quad   0
        .quad   0x00af9a000000ffff      # 0x08 64-bit code
        .quad   0x00cf92000000ffff      # 0x10 data
gdtr:   .word   gdtr - gdt - 1
        .long   gdt
        .p2align 3
idtr:   .word   256 * 16 - 1
        .quad   idt
        .p2align 12
pml4:   .fill   512, 8, 0
pdpt:   .fill   512, 8, 0
pd:     .fill   2048, 8, 0
idt:    .fill   256 * 16, 1, 0
