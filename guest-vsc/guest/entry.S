/* SPDX-License-Identifier: MIT */
/* PVH entry of the test guest (Xen PVH start-info protocol, as QEMU,
 * Firecracker, Cloud Hypervisor and our vmwp load it): entered in flat
 * 32-bit protected mode, paging off, EBX = physical address of
 * hvm_start_info. We switch to long mode at once: the PVM emulator cannot
 * execute a 32-bit IRET at CPL0 (docs/pvm.md), so nothing here takes an
 * interrupt before long mode. */
#include "hv/vmstack.h"
#include "layout.h"

/* XEN_ELFNOTE_PHYS32_ENTRY (18): a 64-bit field like Linux's _ASM_PTR, read
 * by QEMU as 8 bytes; the entry address itself is below 4 GiB. */
        .section .note.Xen, "a"
        .balign 4
        .long 4                 /* namesz: "Xen\0" */
        .long 8                 /* descsz */
        .long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
        .asciz "Xen"
        .balign 4
        .quad pvh_entry

/* From flat 32-bit protected mode into long mode at `target` (64-bit
 * code): our page tables, PAE, EFER.LME, paging. The boot CPU and every AP
 * take this step. */
        .macro ENTER_LONG_MODE target
        mov     $boot_pml4, %eax
        mov     %eax, %cr3
        mov     %cr4, %eax
        or      $0x20, %eax             /* PAE */
        mov     %eax, %cr4
        mov     $0xc0000080, %ecx       /* EFER.LME */
        rdmsr
        or      $0x100, %eax
        wrmsr
        mov     %cr0, %eax
        or      $0x80010000, %eax       /* PG, WP */
        mov     %eax, %cr0
        ljmp    $SEL_KCODE, $\target
        .endm

        .section .text.entry, "ax"
        .code32
        .globl pvh_entry
pvh_entry:
        /* The very first thing: tell the worker we run (VMSTACK_MARKER_PORT). */
        mov     $VMSTACK_MARKER_PORT, %dx
        mov     $VMSTACK_MARKER_FIRST_INSN, %al
        outb    %al, %dx
        cli
        cld
        rdtsc
        mov     %eax, boot_tsc
        mov     %edx, boot_tsc + 4
        mov     %ebx, boot_start_info
        lgdt    gdt_ptr
        mov     $SEL_KDATA, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     $boot_stack + STACK_BYTES, %esp

        ENTER_LONG_MODE long_entry

        .code64
long_entry:
        mov     $SEL_KDATA, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        xor     %eax, %eax
        mov     %ax, %fs
        mov     %ax, %gs
        mov     $boot_stack + STACK_BYTES, %rsp
        mov     $__bss_start, %edi
        mov     $__bss_end, %ecx
        sub     %edi, %ecx
        shr     $3, %ecx
        xor     %eax, %eax
        rep stosq
        /* "booted": in long mode (VMSTACK_MARKER_BOOTED). */
        mov     $VMSTACK_MARKER_PORT, %dx
        mov     $VMSTACK_MARKER_BOOTED, %al
        outb    %al, %dx
        mov     boot_start_info(%rip), %edi
        call    guest_main
6:      cli
        hlt
        jmp     6b

/* An application processor's start (smp.c copies ap_trampoline to
 * AP_TRAMPOLINE_ADDR and sends INIT + SIPI): real mode, CS = the page, IP 0.
 * Into protected mode with our GDT, then in ap_entry32 the same way to long
 * mode as pvh_entry, and on to ap_main(cpu) on the stack smp.c left in
 * ap_boot_rsp. Every instruction here is emulated on the PVM host: few. */
        .code16
        .globl ap_trampoline, ap_trampoline_end
ap_trampoline:
        cli
        xor     %ax, %ax
        mov     %ax, %ds
        lgdtl   AP_TRAMPOLINE_ADDR + (ap_trampoline_gdtr - ap_trampoline)
        mov     %cr0, %eax
        or      $1, %eax                /* PE */
        mov     %eax, %cr0
        ljmpl   $SEL_KCODE32, $ap_entry32
        .balign 4
ap_trampoline_gdtr:
        .word   gdt_end - gdt - 1
        .long   gdt
ap_trampoline_end:

        .code32
ap_entry32:
        mov     $SEL_KDATA, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        ENTER_LONG_MODE ap_long

        .code64
ap_long:
        mov     $SEL_KDATA, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        xor     %eax, %eax
        mov     %ax, %fs
        mov     %ax, %gs
        mov     ap_boot_rsp(%rip), %rsp
        mov     ap_boot_cpu(%rip), %edi
        call    ap_main
7:      cli
        hlt
        jmp     7b

        .data
        .balign 8
        .globl ap_boot_rsp, ap_boot_cpu
ap_boot_rsp:                            /* written by smp.c before each SIPI */
        .quad   0
ap_boot_cpu:
        .long   0

        .data
        .balign 16
        .globl gdt
gdt:    .quad   0
        .quad   0x00af9a000000ffff      /* SEL_KCODE: 64-bit code, DPL 0 */
        .quad   0x00cf92000000ffff      /* SEL_KDATA */
        .quad   0x00cff2000000ffff      /* SEL_UDATA: DPL 3 */
        .quad   0x00affa000000ffff      /* SEL_UCODE: 64-bit code, DPL 3 */
        .quad   0, 0                    /* SEL_TSS, filled by cpu.c */
        .quad   0x00cf9a000000ffff      /* SEL_KCODE32: 32-bit code, DPL 0 */
        .fill   2 * (GUEST_MAX_CPUS - 1), 8, 0 /* SEL_TSS_AP(1..), filled by cpu.c */
gdt_end:
        .globl gdt_ptr
gdt_ptr:
        .word   gdt_end - gdt - 1
        .quad   gdt
        .globl boot_tsc
boot_tsc:
        .quad   0
boot_start_info:
        .long   0

/* The identity map of the first 4 GiB with 2 MiB pages, the top GiB (MMIO:
 * LAPIC, IOAPIC) uncached, built by the assembler: the loader copies it in
 * for free, where filling 2048 entries in a loop costs tens of ms at CPL0
 * on the PVM host (every instruction emulated). mem.c maps RAM above 4 GiB. */
        .data
        .balign 4096
        .globl boot_pml4, boot_pdpt, boot_pd
boot_pml4:
        .quad   boot_pdpt + PTE_TABLE
        .fill   511, 8, 0
boot_pdpt:
        .set    gib, 0
        .rept   BOOT_MAP_GIB
        .quad   boot_pd + gib * 4096 + PTE_TABLE
        .set    gib, gib + 1
        .endr
        .fill   512 - BOOT_MAP_GIB, 8, 0
boot_pd:
        .set    pde, 0
        .rept   BOOT_MAP_GIB * 512
        .if     pde >= MMIO_HOLE_2M_INDEX
        .quad   (pde << 21) | PTE_2M | PTE_PCD | PTE_PWT
        .else
        .quad   (pde << 21) | PTE_2M
        .endif
        .set    pde, pde + 1
        .endr

        /* Written before use: not zeroed at boot. */
        .section .bss.noinit, "aw", @nobits
        .balign 4096
        .globl boot_stack
boot_stack:
        .skip   STACK_BYTES

        .section .note.GNU-stack, "", @progbits
