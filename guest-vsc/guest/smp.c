// SPDX-License-Identifier: MIT
/* Application processors of the test guest: started with INIT + SIPI into
 * the trampoline in entry.S, each on its own stacks and TSS (cpu.c), then
 * waiting in hlt for jobs the boot CPU posts in its mailbox and wakes it
 * for with an IPI (VEC_WAKE). A job runs at CPL3 with interrupts off, the
 * way the boot CPU runs its hot loops, so a data path polls on each CPU. */
#include "guest.h"

extern const uint8_t ap_trampoline[], ap_trampoline_end[];
extern uint64_t ap_boot_rsp;
extern uint32_t ap_boot_cpu;

#define KSTACK_BYTES 16384
static uint8_t ap_kstack[GUEST_MAX_CPUS][KSTACK_BYTES] __attribute__((section(".bss.noinit"), aligned(16)));

/* One job at a time per AP. state: 0 idle, 1 posted, 2 done. */
struct mailbox {
        long (*fn)(void *);
        void *arg;
        long result;
        uint32_t state;
        uint32_t up;
};
static struct mailbox mbox[GUEST_MAX_CPUS];
static unsigned n_cpus = 1;

static inline uint32_t load_acquire(const uint32_t *p) {
        return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline void store_release(uint32_t *p, uint32_t v) {
        __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

void ap_main(unsigned cpu);
__attribute__((noreturn)) void ap_main(unsigned cpu) {
        struct mailbox *m = &mbox[cpu];
        cpu_init_ap(cpu);
        lapic_enable_ap();
        store_release(&m->up, 1);
        for (;;) {
                /* sti; hlt: an IPI that comes after the check still ends the hlt */
                while (load_acquire(&m->state) != 1)
                        __asm__ volatile("sti; hlt; cli" ::: "memory");
                m->result = cpu_run_user_on(cpu, m->fn, m->arg, false);
                store_release(&m->state, 2);
        }
}

int smp_start(unsigned cpus, uint64_t timeout_ns) {
        if (cpus > GUEST_MAX_CPUS)
                return guest_fail(-EINVAL, "smp: %u CPUs asked, the guest runs at most %u", cpus, GUEST_MAX_CPUS);
        memcpy((void *)(uintptr_t)AP_TRAMPOLINE_ADDR, ap_trampoline, (size_t)(ap_trampoline_end - ap_trampoline));
        for (unsigned cpu = n_cpus; cpu < cpus; cpu++) {
                /* one AP at a time: they share ap_boot_rsp/ap_boot_cpu */
                ap_boot_rsp = (uint64_t)(uintptr_t)(ap_kstack[cpu] + KSTACK_BYTES);
                ap_boot_cpu = cpu;
                __atomic_thread_fence(__ATOMIC_SEQ_CST);
                uint64_t start = clock_ns(), deadline = start + timeout_ns;
                lapic_start_ap(cpu, AP_TRAMPOLINE_ADDR >> 12);
                while (!load_acquire(&mbox[cpu].up)) {
                        if (clock_ns() >= deadline)
                                return guest_fail(-ETIMEDOUT,
                                                  "smp: CPU %u (APIC ID %u) did not start within %lu ms (does the VM "
                                                  "have %u vCPUs?)",
                                                  cpu, cpu, timeout_ns / 1000000, cpus);
                        cpu_relax();
                }
                report("smp_cpu=%u started_us=%lu", cpu, (clock_ns() - start) / 1000);
                n_cpus = cpu + 1;
        }
        return 0;
}

unsigned smp_cpus(void) {
        return n_cpus;
}

int smp_post(unsigned cpu, long (*fn)(void *), void *arg) {
        if (cpu == 0 || cpu >= n_cpus)
                return -EINVAL;
        struct mailbox *m = &mbox[cpu];
        uint32_t st = load_acquire(&m->state);
        if (st == 1)
                return -EBUSY;
        m->fn = fn;
        m->arg = arg;
        store_release(&m->state, 1);
        lapic_send_ipi(cpu, VEC_WAKE);
        return 0;
}

int smp_join(unsigned cpu, uint64_t deadline_ns, long *result) {
        if (cpu == 0 || cpu >= n_cpus)
                return -EINVAL;
        struct mailbox *m = &mbox[cpu];
        while (load_acquire(&m->state) == 1) {
                if (clock_ns() >= deadline_ns)
                        return -ETIMEDOUT;
                cpu_relax();
        }
        if (load_acquire(&m->state) != 2)
                return -EINVAL; /* nothing was posted */
        *result = m->result;
        store_release(&m->state, 0);
        return 0;
}
