/* SPDX-License-Identifier: MIT */
/* Constants shared by the test guest's assembly and C code. */
#pragma once

#define GUEST_LOAD_ADDR 0x100000 /* 1 MiB, above the legacy holes */

/* vCPUs the guest can run (smp.c); CPU 0 is the one the loader starts. */
#define GUEST_MAX_CPUS 4

/* GDT selectors (gdt in entry.S; the TSS descriptors are filled in by cpu.c,
 * one per CPU: a busy TSS cannot be loaded by a second CPU). */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA 0x18   /* DPL 3 */
#define SEL_UCODE 0x20   /* DPL 3, 64-bit */
#define SEL_TSS 0x28     /* CPU 0's, a 16-byte system descriptor */
#define SEL_KCODE32 0x38 /* 32-bit code: the AP trampoline's step to long mode */
#define SEL_TSS_AP(cpu) (0x40 + 16 * ((cpu) - 1)) /* CPU 1.. */
#define GDT_ENTRIES (8 + 2 * (GUEST_MAX_CPUS - 1))

/* Where an AP starts (SIPI vector AP_TRAMPOLINE_ADDR >> 12): a page below
 * 1 MiB that the PVH loader leaves free (between the zero page and the
 * page tables it writes for Linux). */
#define AP_TRAMPOLINE_ADDR 0x8000

/* Page-table entry bits. U/S is set everywhere: CPL3 code may touch all of
 * memory (a test guest, not an OS; SMEP/SMAP stay off). */
#define PTE_P 0x001
#define PTE_W 0x002
#define PTE_U 0x004
#define PTE_PWT 0x008
#define PTE_PCD 0x010
#define PTE_PS 0x080
#define PTE_TABLE (PTE_P | PTE_W | PTE_U)
#define PTE_2M (PTE_P | PTE_W | PTE_U | PTE_PS)
#define MMIO_HOLE_2M_INDEX 1536 /* 3 GiB: uncached from here to 4 GiB */
#define BOOT_MAP_GIB 4

/* Interrupt vectors. */
#define VEC_USER_CALL 0x80 /* DPL 3 gate: CPL3 -> CPL0 null service (round-trip probe) */
#define VEC_TIMER 0xef       /* LAPIC one-shot timer (wait deadlines) */
#define VEC_SELF_IPI 0xee    /* probe: self IPI */
#define VEC_WAKE 0xed        /* an AP woken for its next job (smp.c) */
#define VEC_SINT 0xf3        /* SynIC SINT2 (VMBus), §3.1 */
#define VEC_SPURIOUS 0xff

#define STACK_BYTES 16384
#define RFLAGS_IF 0x200
#define RFLAGS_IOPL3 0x3000
#define RFLAGS_RSVD1 0x2
