# SPDX-License-Identifier: MIT
# load: 0x1000
# Long mode at CPL0, then instructions the PVM emulator cannot execute
# (docs/pvm-host-notes.md): int3 (handler on vector 3), fwait, stac/clac,
# rdtscp, lsl and lar (Linux's GET_PERCPU_BASE, in an NMI's entry). Reports
# on port 0x11/0x14; port 0x1f when done.
        .code32
        .globl _start
_start:
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

        int3                            # -> bp_handler writes 0xb3
after_int3:
        mov     $0xa1, %al
        out     %al, $0x11
        fwait
        mov     $0xa2, %al
        out     %al, $0x11
        stac
        pushf
        pop     %rax
        shr     $18, %rax               # AC
        and     $1, %al
        out     %al, $0x11              # 1
        clac
        pushf
        pop     %rax
        shr     $18, %rax
        and     $1, %al
        out     %al, $0x11              # 0
        mov     $0xffffffff, %ecx
        rdtscp                          # EDX:EAX = TSC, ECX = TSC_AUX
        mov     %ecx, %ebx
        shl     $32, %rdx
        or      %rax, %rdx
        mov     %rdx, %rsi
        rdtscp
        shl     $32, %rdx
        or      %rax, %rdx
        cmp     %rsi, %rdx
        seta    %al
        out     %al, $0x11              # 1: the TSC advanced
        mov     %ebx, %eax
        out     %eax, $0x14             # TSC_AUX

        mov     $0x1b, %eax             # the per-CPU entry, as Linux reads it
        lsl     %rax, %rax
        mov     %rax, %r10
        setz    %al
        out     %al, $0x11              # 1
        mov     %r10, %rax
        out     %al, $0x11              # 0xa5: its limit
        shr     $8, %r10
        mov     %r10b, %al
        out     %al, $0x11              # 0: nothing above it
        mov     $0x23, %ecx             # RPL 3 above DPL 0: refused
        mov     $0x77, %edx
        lsl     %ecx, %edx
        setz    %al
        out     %al, $0x11              # 0
        mov     %dl, %al
        out     %al, $0x11              # 0x77: unchanged
        mov     $0x83, %ecx             # beyond the GDT's limit: refused
        lsl     %ecx, %edx
        setz    %al
        out     %al, $0x11              # 0
        mov     $0x10, %ecx             # 4 GiB flat data: G scales the limit
        lsl     %ecx, %r9d
        mov     %r9d, %eax
        out     %eax, $0x14             # 0xffffffff
        mov     $0x08, %ebx             # the 64-bit code segment's access rights
        lar     %ebx, %esi
        mov     %esi, %eax
        out     %eax, $0x14             # 0x00a09b00
        mov     $0x1b, %ax              # 16-bit operands: only DI changes
        mov     $0x12345678, %edi
        lsl     %ax, %di
        mov     %edi, %eax
        out     %eax, $0x14             # 0x123400a5
        out     %al, $0x1f
1:      hlt
        jmp     1b

bp_handler:
        mov     $0xb3, %al
        out     %al, $0x11
        lea     after_int3(%rip), %rax  # the pushed RIP must be the next instruction
        cmp     %rax, (%rsp)
        sete    %al
        out     %al, $0x11              # 1 if correct
        iretq

        .p2align 3
gdt:    .quad   0
        # The code segment with its accessed bit set, as Linux's GDT has
        # it: whether a far jump sets it is the CPU's business (real ones
        # and KVM's emulator do; QEMU's TCG, under the emulated AMD-V test
        # host, does not), and LAR must return it either way.
        .quad   0x00af9b000000ffff
        .quad   0x00cf92000000ffff
        .quad   0x0040f500000000a5      # DPL 3 data, limit 0xa5 (Linux's per-CPU entry)
        .quad   0x00cf92000000ffff      # DPL 0 data
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
