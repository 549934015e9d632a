# SPDX-License-Identifier: MIT
# load: 0x1000
# CPL3 user code issues SYSCALL; the LSTAR entry reports CS/SS/RCX and SYSRETs.
        .code32
        .globl _start
_start:
        lgdt    gdtr
        movl    $pdpt + 7, pml4
        movl    $pd + 7, pdpt
        movl    $0x87, pd               # 0-2 MiB identity, user accessible
        mov     $pml4, %eax
        mov     %eax, %cr3
        mov     %cr4, %eax
        or      $0x20, %eax
        mov     %eax, %cr4
        mov     $0xc0000080, %ecx
        rdmsr
        or      $0x101, %eax            # LME | SCE
        wrmsr
        mov     %cr0, %eax
        or      $0x80000000, %eax
        mov     %eax, %cr0
        ljmp    $0x10, $long_mode
        .code64
long_mode:
        mov     $0x18, %ax
        mov     %ax, %ds
        mov     %ax, %ss
        mov     $0x9000, %rsp
        mov     $0xc0000081, %ecx       # STAR
        xor     %eax, %eax
        mov     $0x00230010, %edx
        wrmsr
        mov     $0xc0000082, %ecx       # LSTAR
        lea     entry(%rip), %rax
        mov     %rax, %rdx
        shr     $32, %rdx
        wrmsr
        mov     $0xc0000084, %ecx       # FMASK: clear IF, TF, DF, AC
        mov     $0x47700, %eax
        xor     %edx, %edx
        wrmsr

        # iretq to CPL3
        pushq   $0x2b
        pushq   $0x7000
        pushq   $0x3002                 # IOPL 3
        pushq   $0x33
        lea     user(%rip), %rax
        push    %rax
        iretq
user:
        mov     $0xc3, %al
        out     %al, $0x11
        syscall
after_syscall:
        mov     $0xee, %al              # back after sysret
        out     %al, $0x11
        out     %al, $0x1f
2:      jmp     2b
entry:
        mov     %cs, %ax
        out     %al, $0x11              # expect 0x10
        mov     %ss, %ax
        out     %al, $0x11              # expect 0x18
        lea     after_syscall(%rip), %rax
        cmp     %rax, %rcx              # RCX must be the user return RIP
        sete    %al
        out     %al, $0x11
        # Walk the trampoline's PML4 entry the way the guest kernel's own
        # walkers do: the PDPT must be RAM the guest maps (here: the first
        # 2 MiB, identity-mapped) and present.
        mov     pml4 + 509 * 8(%rip), %rax
        mov     $0x000ffffffffff000, %rdx
        and     %rdx, %rax
        cmp     $0x200000, %rax
        jae     1f
        mov     (%rax), %rax            # PDPT[0]
        and     $1, %eax
        jmp     2f
1:      xor     %eax, %eax
2:      out     %al, $0x11
        sysretq
        .p2align 3
gdt:    .quad   0
        .quad   0
        .quad   0x00af9a000000ffff      # 0x10 kernel code64
        .quad   0x00cf92000000ffff      # 0x18 kernel data
        .quad   0x00cffa000000ffff      # 0x20 user32 code (0x23)
        .quad   0x00cff2000000ffff      # 0x28 user data (0x2b)
        .quad   0x00affa000000ffff      # 0x30 user code64 (0x33)
tssd:   .quad   0                       # 0x38 TSS (filled below? static)
        .quad   0
gdtr:   .word   gdtr - gdt - 1
        .long   gdt
tss_sel: .word 0x38
        .p2align 12
pml4:   .fill   512, 8, 0
pdpt:   .fill   512, 8, 0
pd:     .fill   512, 8, 0
