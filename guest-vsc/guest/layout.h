/* SPDX-License-Identifier: MIT */
/* Constants shared by the test guest's assembly and C code. */
#pragma once

#define GUEST_LOAD_ADDR 0x100000 /* 1 MiB, above the legacy holes */

/* GDT selectors (gdt in entry.S; the TSS descriptor is filled in by cpu.c). */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA 0x18 /* DPL 3 */
#define SEL_UCODE 0x20 /* DPL 3, 64-bit */
#define SEL_TSS 0x28   /* 16-byte system descriptor */
#define GDT_ENTRIES 7

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
#define VEC_SINT 0xf3        /* SynIC SINT2 (VMBus), §3.1 */
#define VEC_SPURIOUS 0xff

#define STACK_BYTES 16384
#define RFLAGS_IF 0x200
#define RFLAGS_IOPL3 0x3000
#define RFLAGS_RSVD1 0x2
