/* SPDX-License-Identifier: MIT */
/* The test guest's runtime (freestanding, one vCPU): what its files share. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "vsc/fmt.h"
#include "vsc/vsc.h"

/* ---- hvm_start_info (Xen PVH, arch/x86/hvm/start_info.h) ---- */
#define PVH_START_MAGIC 0x336ec578u
struct pvh_start_info {
        uint32_t magic;
        uint32_t version;
        uint32_t flags;
        uint32_t nr_modules;
        uint64_t modlist_paddr;
        uint64_t cmdline_paddr;
        uint64_t rsdp_paddr;
        uint64_t memmap_paddr; /* version >= 1 */
        uint32_t memmap_entries;
        uint32_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct pvh_start_info) == 56, "hvm_start_info v1");

struct pvh_memmap_entry {
        uint64_t addr;
        uint64_t size;
        uint32_t type; /* 1 = RAM (E820) */
        uint32_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct pvh_memmap_entry) == 24, "hvm_memmap_table_entry");
#define PVH_MEMMAP_RAM 1u

/* ---- boot facts gathered by boot.c ---- */
#define GUEST_MAX_RAM_REGIONS 16
#define GUEST_CMDLINE_MAX 512
struct guest_boot {
        uint64_t boot_tsc;
        uint64_t rsdp;
        char cmdline[GUEST_CMDLINE_MAX];
        struct {
                uint64_t base, size;
        } ram[GUEST_MAX_RAM_REGIONS];
        unsigned n_ram;
        uint64_t ram_bytes;
        bool memmap_from_loader;
};

/* ---- low level (cpu.c) ---- */
struct trap_frame {
        uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
        uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
        uint64_t vector, error;
        uint64_t rip, cs, rflags, rsp, ss;
};

/* The boot CPU's tables (IDT, GDT's TSS); cpu_init_ap: an AP's (smp.c). */
void cpu_init(void);
void cpu_init_ap(unsigned cpu);
void guest_trap(struct trap_frame *f);
/* isr.S: keeps the caller's stack pointer in the top 8 bytes of the user
 * stack (CPL3 starts below them), where the int3 return finds it. */
long guest_user_call(long (*fn)(void *), void *arg, uint64_t rflags, void *user_stack_top);
/* Runs fn(arg) at CPL3 with port I/O allowed and RFLAGS.IF = interrupts
 * (off in the steady state), returns its result; on the boot CPU, and
 * cpu_run_user_on on the CPU given (which must be the one running it). */
long cpu_run_user(long (*fn)(void *), void *arg, bool interrupts);
long cpu_run_user_on(unsigned cpu, long (*fn)(void *), void *arg, bool interrupts);
/* From CPL3: fn(arg) at CPL0 (in the #UD handler that `ud2; nopl (%rax)`
 * enters; fn may sti/hlt), its result; at CPL0 a plain call. For waits
 * that should sleep, not spin. */
long cpu_kernel_call(long (*fn)(void *), void *arg);
void cpu_set_sint_auto_eoi(bool auto_eoi);

struct cpu_counters {
        uint64_t sint, timer, self_ipi, spurious, other;
        uint64_t user_ud_int, user_ud2; /* CPL3 -> CPL0 round trips through #UD */
};
void cpu_counters(struct cpu_counters *out);

static inline void outb(uint16_t port, uint8_t v) {
        __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t v) {
        __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v) {
        __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port) {
        uint8_t v;
        __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
        return v;
}
static inline uint32_t inl(uint16_t port) {
        uint32_t v;
        __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
        return v;
}
static inline uint64_t rdtsc(void) {
        uint32_t lo, hi;
        __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
        return (uint64_t)hi << 32 | lo;
}
static inline uint64_t rdmsr(uint32_t msr) {
        uint32_t lo, hi;
        __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
        return (uint64_t)hi << 32 | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v) {
        __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
        __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}
static inline unsigned current_cpl(void) {
        uint16_t cs;
        __asm__ volatile("mov %%cs, %0" : "=r"(cs));
        return cs & 3u;
}
static inline void cpu_relax(void) {
        __asm__ volatile("pause" ::: "memory");
}

/* ---- local APIC (apic.c) ---- */
void lapic_init(void);
void lapic_eoi(void);
/* One-shot timer interrupt (VEC_TIMER) after ns (needs clock_init first). */
void lapic_timer_oneshot(uint64_t ns);
void lapic_self_ipi(uint8_t vector);
/* APs (smp.c): software-enable this CPU's APIC; a fixed IPI (any CPL: the
 * APIC page is mapped for CPL3 too); INIT and two SIPIs to start_page. */
void lapic_enable_ap(void);
void lapic_send_ipi(uint32_t apic_id, uint8_t vector);
void lapic_start_ap(uint32_t apic_id, uint32_t start_page);

/* ---- application processors (smp.c) ---- */
/* CPL0: starts CPUs 1..cpus-1 (APIC IDs 1.., as vmwp numbers them), each
 * waiting for jobs; -ETIMEDOUT naming the first that did not come up. */
int smp_start(unsigned cpus, uint64_t timeout_ns);
/* CPUs running: 1 + the APs started. */
unsigned smp_cpus(void);
/* Any CPL: gives AP cpu the job fn(arg) at CPL3 (interrupts off), which
 * must be idle (-EBUSY otherwise). */
int smp_post(unsigned cpu, long (*fn)(void *), void *arg);
/* Any CPL: waits for cpu's job to end; its result in *result.
 * -ETIMEDOUT at deadline_ns (the job goes on). */
int smp_join(unsigned cpu, uint64_t deadline_ns, long *result);

/* ---- time (clock.c) ---- */
struct guest_clock_info {
        uint64_t tsc_hz, lapic_hz;
        const char *source;
};
void clock_init(const struct vsc_hv_info *hv, bool hyperv, uint16_t pm_tmr_port);
uint64_t clock_ns(void);                 /* since clock_init, any CPL */
uint64_t clock_tsc_to_ns(uint64_t ticks); /* a TSC delta in ns */
void clock_info(struct guest_clock_info *out);
/* CPL0: sti; hlt until an interrupt or at most max_ns; CPL3: pause. */
void clock_idle(uint64_t deadline_ns);

/* ---- console (console.c) ---- */
void con_init(void);
void con_write(const char *s, size_t n);
/* One report line "VSC <text>\n" (docs/guest-vsc.md: report-line format). */
void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- boot information, memory (boot.c, mem.c) ---- */
int boot_parse(uint32_t start_info_pa, struct guest_boot *b);
/* Value of "key=" on the command line into out; 0, or -ENOENT. */
int boot_cmdline_get(const struct guest_boot *b, const char *key, char *out, size_t len);
int mem_init(const struct guest_boot *b);
void *mem_alloc_pages(size_t n);
/* Contents unspecified: the first touch of each page is what costs at
 * emulated CPL0 (docs/guest-vsc.md, "NIC open"). */
void *mem_alloc_pages_unzeroed(size_t n);
void mem_free_pages(void *p, size_t n);
/* Identity-maps [start, end) above the boot map (1 GiB pages where the CPU
 * has them, else 2 MiB): memory the host adds at run time (Dynamic
 * Memory's hot-add). Only entries that were not present change, so no
 * TLB flush is needed and CPL3 may call it. 0, -ENOMEM, -ERANGE (past
 * 512 GiB). */
int mem_map_identity(uint64_t start, uint64_t end);
struct mem_stats {
        uint64_t pool_base, pool_pages, free_pages, mapped_top;
};
void mem_stats(struct mem_stats *out);

/* ---- ACPI power off (acpi.c) ---- */
struct acpi_power {
        uint64_t dsdt;
        uint16_t pm1a_cnt, pm_tmr;
        uint8_t slp_typ_s5;
        bool from_tables;
};
void acpi_find_power(uint64_t rsdp_hint, struct acpi_power *out);
__attribute__((noreturn)) void acpi_power_off(const struct acpi_power *p);

/* ---- the vsc_ops of this guest (platform.c) ---- */
extern const struct vsc_ops guest_vsc_ops;

/* ---- C library pieces the compiler may call (libc.c) ---- */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);
uint64_t parse_u64(const char *s, bool *ok);

/* ---- modes (main.c, mode-*.c) ---- */
struct guest {
        struct guest_boot boot;
        struct acpi_power power;
        bool hyperv;
        struct vsc_hv_info hv;
        struct vsc_bus bus;
        uint64_t timeout_ns;
        bool reset_on_exit; /* guest_exit resets instead of powering off (a reboot) */
};
struct guest_mode {
        const char *name;
        int (*run)(struct guest *g); /* 0 or negative errno */
};
int mode_boot(struct guest *g);
int mode_enumerate(struct guest *g);
int mode_probe(struct guest *g);
int mode_echo(struct guest *g);
int mode_services(struct guest *g);
int mode_net_check(struct guest *g); /* mode-net-check.c */
int mode_net_bench(struct guest *g); /* mode-net-bench.c */
int mode_disk_check(struct guest *g); /* mode-disk-check.c */
int mode_disk_bench(struct guest *g); /* mode-disk-bench.c */
int mode_soak(struct guest *g);       /* mode-soak.c: disk and network together */
int mode_hostile(struct guest *g);    /* hostile.c (docs/hostile-guests.md) */
int mode_balloon(struct guest *g);    /* mode-balloon.c: Dynamic Memory's guest side (bench-dm) */
int mode_virtio_balloon(struct guest *g); /* mode-virtio-balloon.c: the same under QEMU (bench-dm) */
int mode_video(struct guest *g);      /* mode-video.c: the synthetic video's guest side (VRAM migration) */
int mode_smp(struct guest *g);        /* mode-smp.c: the application processors */
/* Hyper-V enabled and VMBus connected / UNLOAD and disable (mode-enumerate.c). */
int guest_vmbus_connect(struct guest *g);
int guest_vmbus_disconnect(struct guest *g);
/* An in-band packet of len bytes on ch, waiting up to 5 s while its
 * outbound ring is full (mode-enumerate.c): 0, -ETIMEDOUT or the ring's
 * error. */
int guest_channel_send(struct vsc_channel *ch, const void *buf, size_t len);
/* Final report line ("result=ok status=0" or "result=fail status=N" with N
 * the positive errno), then ACPI power off. */
__attribute__((noreturn)) void guest_exit(int status);
/* The option `name` (e.g. "vsc.soak.qd") as a number within [min, max],
 * else def (with a warning= line if it was given but bad). */
uint64_t guest_opt(const struct guest *g, const char *name, uint64_t def, uint64_t min, uint64_t max);
/* Report a failure line "error=..." and return r. */
int guest_fail(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
