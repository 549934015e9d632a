// SPDX-License-Identifier: MIT
/* Descriptor tables, traps and interrupts of the test guest (long mode,
 * per CPU). Interrupts are taken only in long mode (iretq): the PVM
 * emulator cannot execute a 32-bit IRET at CPL0 (docs/pvm.md). */
#include "guest.h"

/* The TSS with an I/O permission bitmap allowing every port, for hosts
 * that ignore the IOPL we give CPL3 (see cpu_run_user). */
struct tss64 {
        uint32_t reserved0;
        uint64_t rsp[3];
        uint64_t reserved1;
        uint64_t ist[7];
        uint64_t reserved2;
        uint16_t reserved3;
        uint16_t iomap_base;
        uint8_t iomap[65536 / 8];
        uint8_t iomap_end; /* 0xff: the CPU may read one byte past the map */
} __attribute__((packed));
_Static_assert(offsetof(struct tss64, iomap) == 104, "tss64");

struct idt_gate {
        uint16_t off0, sel;
        uint8_t ist, type_attr;
        uint16_t off1;
        uint32_t off2, reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct idt_gate) == 16, "idt gate");

extern uint64_t gdt[GDT_ENTRIES];
extern const uint8_t isr_stubs[];
extern const uint8_t isr_user_call[], isr_int3[];

/* Per-CPU state (CPU 0 the boot CPU, 1.. the APs smp.c starts): each CPU
 * has its own TSS (its RSP0 and IST stacks) and CPL3 stack; the IDT is
 * shared. Counters are the guest's, any CPU adds to them. */
#define NOINIT __attribute__((section(".bss.noinit"), aligned(16))) /* not zeroed at boot */
/* .data, not .bss: the loader provides the zeroed I/O bitmaps, entry.S does
 * not have to clear 8 KiB per CPU with emulated instructions. */
static struct tss64 tss[GUEST_MAX_CPUS] __attribute__((section(".data")));
static struct idt_gate idt[256]; /* zero: not present, unless cpu_init sets it */
static uint8_t rsp0_stack[GUEST_MAX_CPUS][STACK_BYTES] NOINIT;
static uint8_t ist_stack[GUEST_MAX_CPUS][4096] NOINIT;
static uint8_t user_stack[GUEST_MAX_CPUS][STACK_BYTES] NOINIT;
static struct cpu_counters counters;
static bool sint_auto_eoi;

static void set_gate(unsigned vec, const void *handler, unsigned dpl, unsigned ist) {
        uint64_t a = (uint64_t)(uintptr_t)handler;
        idt[vec] = (struct idt_gate){
                .off0 = (uint16_t)a, .sel = SEL_KCODE, .ist = (uint8_t)ist,
                .type_attr = (uint8_t)(0x8e | dpl << 5), /* present, 64-bit interrupt gate */
                .off1 = (uint16_t)(a >> 16), .off2 = (uint32_t)(a >> 32),
        };
}

static void load_tss(unsigned cpu) {
        struct tss64 *t = &tss[cpu];
        uint64_t base = (uint64_t)(uintptr_t)t, limit = sizeof *t - 1;
        unsigned sel = cpu == 0 ? SEL_TSS : SEL_TSS_AP(cpu);
        t->rsp[0] = (uint64_t)(uintptr_t)(rsp0_stack[cpu] + STACK_BYTES);
        t->ist[0] = (uint64_t)(uintptr_t)(ist_stack[cpu] + sizeof ist_stack[cpu]);
        t->iomap_base = offsetof(struct tss64, iomap); /* all zero: every port allowed */
        t->iomap_end = 0xff;
        gdt[sel / 8] = (limit & 0xffff) | (base & 0xffffff) << 16 | 0x89ull << 40 | ((limit >> 16) & 0xf) << 48 |
                       ((base >> 24) & 0xff) << 56;
        gdt[sel / 8 + 1] = base >> 32;
        __asm__ volatile("ltr %w0" : : "r"(sel));
}

static void load_idt(void) {
        struct {
                uint16_t limit;
                uint64_t base;
        } __attribute__((packed)) idtr = { sizeof idt - 1, (uint64_t)(uintptr_t)idt };
        __asm__ volatile("lidt %0" : : "m"(idtr));
}

/* Only the vectors that can occur get a gate (each gate costs emulated
 * instructions at boot on the PVM host); anything else arrives as #NP with
 * the vector in the error code and is reported as a fault. */
static const uint8_t used_vectors[] = { VEC_SELF_IPI, VEC_WAKE, VEC_TIMER, VEC_SINT, VEC_SPURIOUS };

void cpu_init(void) {
        for (unsigned v = 0; v < 48; v++) /* exceptions, then the (masked) 8259 range */
                set_gate(v, isr_stubs + 16 * v, 0, 0);
        for (size_t i = 0; i < sizeof used_vectors; i++)
                set_gate(used_vectors[i], isr_stubs + 16 * used_vectors[i], 0, 0);
        set_gate(2, isr_stubs + 16 * 2, 0, 1); /* NMI and #DF on their own stack */
        set_gate(8, isr_stubs + 16 * 8, 0, 1);
        set_gate(3, isr_int3, 3, 0); /* DPL 3: the way back from CPL3 (isr.S) */
        set_gate(VEC_USER_CALL, isr_user_call, 3, 0);
        load_tss(0);
        load_idt();
}

void cpu_init_ap(unsigned cpu) {
        load_tss(cpu);
        load_idt();
}

long cpu_run_user(long (*fn)(void *), void *arg, bool interrupts) {
        return cpu_run_user_on(0, fn, arg, interrupts);
}

long cpu_run_user_on(unsigned cpu, long (*fn)(void *), void *arg, bool interrupts) {
        /* CPL3 code rings the doorbell and writes the console itself: IOPL 3
         * on a real CPU; the PVM host ignores IOPL at CPL3 but honours the
         * TSS I/O bitmap (all ports allowed, load_tss). The same host makes
         * cli/sti at CPL3 fault, so IF is chosen here, once: clear in the
         * steady state (poll, no interrupts). */
        uint64_t fl = RFLAGS_IOPL3 | RFLAGS_RSVD1 | (interrupts ? RFLAGS_IF : 0);
        return guest_user_call(fn, arg, fl, user_stack[cpu] + STACK_BYTES);
}

long cpu_kernel_call(long (*fn)(void *), void *arg) {
        if (current_cpl() == 0)
                return fn(arg);
        long r;
        __asm__ volatile("ud2; nopl (%%rax)" : "=a"(r) : "D"(fn), "S"(arg) : "memory");
        return r;
}

void cpu_set_sint_auto_eoi(bool auto_eoi) {
        sint_auto_eoi = auto_eoi;
}

void cpu_counters(struct cpu_counters *out) {
        *out = counters;
}

static const char *const exception_names[32] = {
        "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "15",
        "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "22",  "23",  "24",  "25",  "26",  "27",  "28",  "29",  "#SX", "31",
};

__attribute__((noreturn)) static void fatal_exception(const struct trap_frame *f) {
        uint64_t cr2;
        __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
        report("fault=%s vector=%lu error=0x%lx rip=0x%lx cs=0x%lx rsp=0x%lx rflags=0x%lx cr2=0x%lx",
               exception_names[f->vector & 31], f->vector, f->error, f->rip, f->cs, f->rsp, f->rflags, cr2);
        guest_exit(-EFAULT);
}

/* #UD from CPL3. On the PVM host a software interrupt (`int n`) executed at
 * CPL3 does not reach its DPL 3 gate: the guest gets #UD with RIP at the
 * int instruction (measured, docs/guest-vsc.md). The probe's `int 0x80` is
 * given the meaning its gate has elsewhere, and `ud2; nop` is a null
 * CPL0 round trip for the probe too. */
static bool user_ud(struct trap_frame *f) {
        const uint8_t *insn = (const uint8_t *)(uintptr_t)f->rip;
        if ((f->cs & 3) != 3)
                return false;
        if (insn[0] == 0xcd && insn[1] == VEC_USER_CALL) {
                counters.user_ud_int++;
                f->rip += 2;
                return true;
        }
        if (insn[0] == 0x0f && insn[1] == 0x0b && insn[2] == 0x0f && insn[3] == 0x1f && insn[4] == 0x00) {
                /* ud2; nopl (%rax): cpu_kernel_call */
                long (*fn)(void *) = (long (*)(void *))(uintptr_t)f->rdi;
                f->rax = (uint64_t)fn((void *)(uintptr_t)f->rsi);
                f->rip += 5;
                return true;
        }
        if (insn[0] == 0x0f && insn[1] == 0x0b && insn[2] == 0x90) { /* ud2; nop: a CPL0 round trip */
                counters.user_ud2++;
                f->rip += 3;
                return true;
        }
        return false;
}

void guest_trap(struct trap_frame *f) {
        switch (f->vector) {
        case 6:
                if (user_ud(f))
                        return;
                break;
        case VEC_SINT:
                counters.sint++;
                /* §1.8: without auto-EOI (deprecate-AEOI hint) we EOI ourselves. */
                if (!sint_auto_eoi)
                        lapic_eoi();
                return;
        case VEC_TIMER:
                counters.timer++;
                lapic_eoi();
                return;
        case VEC_SELF_IPI:
                counters.self_ipi++;
                lapic_eoi();
                return;
        case VEC_WAKE: /* smp.c: the AP looks at its mailbox after the hlt */
                lapic_eoi();
                return;
        case VEC_SPURIOUS:
                counters.spurious++; /* no EOI for the spurious vector */
                return;
        case 3: /* int3 from the probe: a trap, RIP already past it */
                return;
        default:
                break;
        }
        if (f->vector < 32)
                fatal_exception(f);
        counters.other++;
        lapic_eoi();
}
