// SPDX-License-Identifier: MIT
/* vsc.mode=smp: the application processors (smp.c). Starts vsc.cpus CPUs
 * (2..GUEST_MAX_CPUS, default 2) and gives each AP a job at CPL3 while the
 * boot CPU runs the same job: every job adds to one shared counter with
 * atomic adds (so the CPUs ran at once and saw the same memory) and makes a
 * CPL0 round trip from CPL3 (#UD through its own TSS) that reads the local
 * APIC ID of the CPU it runs on. Then each AP gets a second job (the
 * mailbox is reused). Lines: smp_cpu=N started_us= (smp.c), then
 * smp=ok cpus= adds= apic_ids=. */
#include "guest.h"

#define ADDS 200000u

struct job {
        uint64_t *counter;
        unsigned cpu;
        uint32_t apic_id;
        uint64_t ns;
};

static long read_apic_id(void *arg) {
        (void)arg;
        return (long)(*(volatile uint32_t *)(uintptr_t)0xfee00020u >> 24);
}

static long job_run(void *arg) {
        struct job *j = arg;
        uint64_t t0 = clock_ns();
        for (unsigned i = 0; i < ADDS; i++)
                __atomic_fetch_add(j->counter, 1, __ATOMIC_RELAXED);
        j->apic_id = (uint32_t)cpu_kernel_call(read_apic_id, NULL);
        j->ns = clock_ns() - t0;
        return 1000 + (long)j->cpu;
}

static int run_round(struct guest *g, unsigned cpus, struct job *jobs, uint64_t *counter) {
        for (unsigned c = 0; c < cpus; c++)
                jobs[c] = (struct job){ .counter = counter, .cpu = c, .apic_id = ~0u };
        for (unsigned c = 1; c < cpus; c++) {
                int r = smp_post(c, job_run, &jobs[c]);
                if (r < 0)
                        return guest_fail(r, "smp: cannot post a job to CPU %u", c);
        }
        long r0 = cpu_run_user(job_run, &jobs[0], false);
        if (r0 != 1000)
                return guest_fail(-EIO, "smp: the boot CPU's job returned %ld", r0);
        for (unsigned c = 1; c < cpus; c++) {
                long res = 0;
                int r = smp_join(c, clock_ns() + g->timeout_ns, &res);
                if (r < 0)
                        return guest_fail(r, "smp: CPU %u did not finish its job", c);
                if (res != 1000 + (long)c)
                        return guest_fail(-EIO, "smp: CPU %u's job returned %ld", c, res);
        }
        for (unsigned c = 0; c < cpus; c++)
                if (jobs[c].apic_id != c)
                        return guest_fail(-EIO, "smp: CPU %u's job ran on APIC ID %u", c, jobs[c].apic_id);
        return 0;
}

int mode_smp(struct guest *g) {
        unsigned cpus = (unsigned)guest_opt(g, "vsc.cpus", 2, 2, GUEST_MAX_CPUS);
        int r = smp_start(cpus, g->timeout_ns);
        if (r < 0)
                return r;
        static struct job jobs[GUEST_MAX_CPUS];
        static uint64_t counter;
        for (int round = 0; round < 2; round++) {
                r = run_round(g, cpus, jobs, &counter);
                if (r < 0)
                        return r;
        }
        uint64_t want = 2 * (uint64_t)cpus * ADDS;
        if (counter != want)
                return guest_fail(-EIO, "smp: the shared counter is %lu, expected %lu", counter, want);
        char ids[64];
        size_t n = 0;
        for (unsigned c = 0; c < cpus; c++)
                n += (size_t)vsc_snprintf(ids + n, sizeof ids - n, c ? ",%u" : "%u", jobs[c].apic_id);
        report("smp=ok cpus=%u adds=%lu apic_ids=%s", smp_cpus(), counter, ids);
        return 0;
}
