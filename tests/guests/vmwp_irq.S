# SPDX-License-Identifier: MIT
# load: 0x100000
# elf: yes
# Interrupts through vmwp's devices, in long mode (the PVM emulator cannot
# execute a 32-bit IRET at CPL0). Routes IOAPIC pin 4 (COM1, edge) to
# vector 0x24 and pin 9 (SCI, level, active high) to 0x29, enables the
# UART's receive interrupt and PM1 PWRBTN_EN, prints "irq ready\n" and
# idles in HLT. COM1 input is echoed from the interrupt handler ('.' powers
# off); a power-button SCI prints "power button\n" and powers off (S5).
#include "vmwp_pvh.h"
#define IOAPIC 0xfec00000
#define LAPIC 0xfee00000
        .code32
        .globl _start
_start:
        mov     $0xff, %al              # mask both 8259s: IOAPIC only
        out     %al, $0x21
        out     %al, $0xa1
        movl    $pdpt + 3, pml4
        xor     %ecx, %ecx
1:      mov     %ecx, %eax
        shl     $12, %eax
        add     $pd + 3, %eax
        mov     %eax, pdpt(,%ecx,8)
        inc     %ecx
        cmp     $4, %ecx
        jne     1b
        xor     %ecx, %ecx
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
        or      $0x20, %eax
        mov     %eax, %cr4
        mov     $0xc0000080, %ecx
        rdmsr
        or      $0x100, %eax
        wrmsr
        lgdt    gdtr
        mov     %cr0, %eax
        or      $0x80000000, %eax
        mov     %eax, %cr0
        ljmp    $0x08, $long_mode

        .code64
long_mode:
        mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     $0x200000, %rsp
        lea     uart_isr(%rip), %rax
        mov     $0x24, %edi
        call    set_gate
        lea     sci_isr(%rip), %rax
        mov     $0x29, %edi
        call    set_gate
        lidt    idtr(%rip)
        mov     $LAPIC, %ebx
        movl    $0x1ff, 0xf0(%rbx)      # LAPIC software enable
        mov     $IOAPIC, %ebp
        movl    $0x18, (%rbp)           # pin 4 low: vector 0x24, edge, high
        movl    $0x24, 0x10(%rbp)
        movl    $0x19, (%rbp)
        movl    $0, 0x10(%rbp)
        movl    $0x22, (%rbp)           # pin 9 low: vector 0x29, level, high
        movl    $0x8029, 0x10(%rbp)
        movl    $0x23, (%rbp)
        movl    $0, 0x10(%rbp)
        # The FIFO stays off (16450 mode): enabling it would clear input
        # that arrived before the guest got here, which the socket test
        # writes without waiting for "irq ready" (lost if it came before
        # the client connected).
        mov     $COM1 + 4, %dx          # MCR: DTR RTS OUT2
        mov     $0x0b, %al
        out     %al, %dx
        mov     $COM1 + 1, %dx          # IER: received data
        mov     $0x01, %al
        out     %al, %dx
        mov     $PM1A_EVT + 2, %dx      # PM1_EN: PWRBTN_EN
        mov     $0x100, %ax
        out     %ax, %dx
        lea     msg_ready(%rip), %rsi
        call    puts
        sti
3:      hlt
        jmp     3b

# RAX = handler, EDI = vector
set_gate:
        shl     $4, %edi
        lea     idt(%rip), %rdx
        add     %rdi, %rdx
        mov     %ax, (%rdx)
        movw    $0x08, 2(%rdx)
        movw    $0x8e00, 4(%rdx)
        shr     $16, %rax
        mov     %ax, 6(%rdx)
        shr     $16, %rax
        mov     %eax, 8(%rdx)
        movl    $0, 12(%rdx)
        ret

uart_isr:
        push    %rax
        push    %rdx
1:      mov     $COM1 + 5, %dx
        in      %dx, %al
        test    $1, %al
        jz      2f
        mov     $COM1, %dx
        in      %dx, %al
        call    putc
        cmp     $'.', %al
        je      poweroff
        jmp     1b
2:      mov     $LAPIC + 0xb0, %edx     # EOI
        movl    $0, (%rdx)
        pop     %rdx
        pop     %rax
        iretq

sci_isr:
        push    %rax
        push    %rdx
        mov     $PM1A_EVT, %dx
        in      %dx, %ax
        test    $0x100, %ax
        jz      1f
        out     %ax, %dx                # write-1-to-clear PWRBTN_STS
        lea     msg_button(%rip), %rsi
        call    puts
        jmp     poweroff
1:      mov     $LAPIC + 0xb0, %edx
        movl    $0, (%rdx)
        pop     %rdx
        pop     %rax
        iretq

poweroff:
        mov     $PM1A_CNT, %dx
        mov     $SLP_S5, %ax
        out     %ax, %dx
4:      cli
        hlt
        jmp     4b

putc:
        push    %rdx
        push    %rax
1:      mov     $COM1 + 5, %dx
        in      %dx, %al
        test    $0x20, %al
        jz      1b
        pop     %rax
        mov     $COM1, %dx
        out     %al, %dx
        pop     %rdx
        ret
puts:
1:      mov     (%rsi), %al
        test    %al, %al
        jz      2f
        call    putc
        inc     %rsi
        jmp     1b
2:      ret

msg_ready:  .asciz "irq ready\n"
msg_button: .asciz "power button\n"
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
        .code32
PVH_NOTE(_start)
