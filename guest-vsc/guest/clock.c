// SPDX-License-Identifier: MIT
/* Time for the test guest: the TSC (readable at CPL0 and CPL3), with its
 * frequency from the best reference available: Hyper-V's frequency MSRs,
 * Hyper-V's reference counter (100 ns units, §1.5), CPUID 0x15, the ACPI PM
 * timer (3.579545 MHz), the PIT. Every wait on the host is bounded by it. */
#include "guest.h"

#define PM_TIMER_HZ 3579545ull
#define PIT_HZ 1193182ull
#define CALIBRATE_NS 5000000ull /* 5 ms */
#define IDLE_SLICE_NS 10000000ull

uint32_t lapic_timer_measure(uint64_t tsc_ticks);

/* State of the vCPU's clock (like a per-CPU variable, not library state). */
static struct {
        uint64_t tsc0, tsc_hz, mult, lapic_hz;
        const char *source;
} clk;

static uint64_t calibrate_refcount(void) {
        uint64_t r0 = rdmsr(HV_X64_MSR_TIME_REF_COUNT), t0 = rdtsc(), r1, t1;
        do {
                r1 = rdmsr(HV_X64_MSR_TIME_REF_COUNT);
                t1 = rdtsc();
        } while (r1 - r0 < CALIBRATE_NS / 100 && r1 >= r0);
        return r1 > r0 ? (t1 - t0) * 10000000ull / (r1 - r0) : 0;
}

static uint64_t calibrate_pm_timer(uint16_t port) {
        uint32_t first = inl(port) & 0xffffff, now = first;
        for (int i = 0; i < 1000 && now == first; i++)
                now = inl(port) & 0xffffff;
        if (now == first)
                return 0; /* not ticking: no PM timer there */
        uint64_t ticks = 0, goal = PM_TIMER_HZ * CALIBRATE_NS / 1000000000ull;
        uint32_t prev = now;
        uint64_t t0 = rdtsc();
        while (ticks < goal) {
                now = inl(port) & 0xffffff;
                ticks += (now - prev) & 0xffffff; /* 24-bit counter */
                prev = now;
        }
        return (rdtsc() - t0) * PM_TIMER_HZ / ticks;
}

static uint64_t calibrate_pit(void) {
        uint64_t count = PIT_HZ * CALIBRATE_NS / 1000000000ull;
        outb(0x61, (uint8_t)((inb(0x61) & ~0x02) | 0x01)); /* gate on, speaker off */
        outb(0x43, 0xb0);                                  /* channel 2, lobyte/hibyte, mode 0 */
        outb(0x42, (uint8_t)count);
        outb(0x42, (uint8_t)(count >> 8));
        uint64_t t0 = rdtsc();
        for (uint64_t i = 0; !(inb(0x61) & 0x20); i++)
                if (i > 10000000)
                        return 0; /* OUT2 never rose: no PIT */
        return (rdtsc() - t0) * PIT_HZ / count;
}

/* KVM's pvclock (kvmclock, MSR_KVM_SYSTEM_TIME_NEW): the host tells us
 * the TSC-to-ns scale it uses; enabled just long enough to read it. Under
 * QEMU's microvm, which has neither CPUID leaf 0x15 nor a PM timer, the
 * PIT calibration came out hundreds of times too slow on the PVM host. */
struct pvclock_vcpu_time_info {
        uint32_t version, pad0;
        uint64_t tsc_timestamp, system_time;
        uint32_t tsc_to_system_mul;
        int8_t tsc_shift;
        uint8_t flags, pad[2];
} __attribute__((packed));

static uint64_t kvmclock_tsc_hz(void) {
        static struct pvclock_vcpu_time_info pv __attribute__((aligned(32)));
        uint32_t r[4];
        cpuid(0x40000000, 0, r);
        if (r[1] != 0x4b4d564b || r[2] != 0x564b4d56 || r[0] < 0x40000001) /* "KVMKVMKVM" */
                return 0;
        cpuid(0x40000001, 0, r);
        if (!(r[0] & (1u << 3))) /* KVM_FEATURE_CLOCKSOURCE2 */
                return 0;
        wrmsr(0x4b564d01, (uint64_t)(uintptr_t)&pv | 1);
        uint32_t version = *(volatile uint32_t *)&pv.version;
        uint32_t mul = *(volatile uint32_t *)&pv.tsc_to_system_mul;
        int8_t shift = *(volatile int8_t *)&pv.tsc_shift;
        wrmsr(0x4b564d01, 0);
        if (!mul || !version || (version & 1)) /* not written, or written as we read */
                return 0;
        uint64_t hz = (1000000000ull << 32) / mul;
        return shift >= 0 ? hz >> shift : hz << -shift;
}

static uint64_t cpuid_tsc_hz(void) {
        uint32_t r[4];
        cpuid(0, 0, r);
        if (r[0] < 0x15)
                return 0;
        cpuid(0x15, 0, r);
        return r[0] && r[1] && r[2] ? (uint64_t)r[2] * r[1] / r[0] : 0;
}

static void pick_tsc_hz(const struct vsc_hv_info *hv, bool hyperv, uint16_t pm_tmr) {
        if (hyperv && (hv->features & HV_ACCESS_FREQUENCY_MSRS) && (hv->misc & HV_FEATURE_FREQUENCY_MSRS_AVAILABLE)) {
                clk.tsc_hz = rdmsr(HV_X64_MSR_TSC_FREQUENCY);
                clk.lapic_hz = rdmsr(HV_X64_MSR_APIC_FREQUENCY);
                clk.source = "hv-frequency-msrs";
        } else if (hyperv && (hv->features & HV_MSR_TIME_REF_COUNT_AVAILABLE) && (clk.tsc_hz = calibrate_refcount())) {
                clk.source = "hv-reference-counter";
        } else if ((clk.tsc_hz = cpuid_tsc_hz())) {
                clk.source = "cpuid-15";
        } else if ((clk.tsc_hz = kvmclock_tsc_hz())) {
                clk.source = "kvmclock";
        } else if (pm_tmr && (clk.tsc_hz = calibrate_pm_timer(pm_tmr))) {
                clk.source = "acpi-pm-timer";
        } else if ((clk.tsc_hz = calibrate_pit())) {
                clk.source = "pit";
        }
        if (clk.tsc_hz < 1000000) {
                clk.tsc_hz = 1000000000ull; /* no reference at all: a guess, reported as such */
                clk.source = "assumed-1ghz";
        }
}

void clock_init(const struct vsc_hv_info *hv, bool hyperv, uint16_t pm_tmr) {
        clk.tsc0 = rdtsc();
        pick_tsc_hz(hv, hyperv, pm_tmr);
        clk.mult = (1000000000ull << 32) / clk.tsc_hz;
        if (!clk.lapic_hz)
                clk.lapic_hz = (uint64_t)lapic_timer_measure(clk.tsc_hz / 1000) * 1000;
}

uint64_t clock_tsc_to_ns(uint64_t ticks) {
        return (uint64_t)(((unsigned __int128)ticks * clk.mult) >> 32);
}

uint64_t clock_ns(void) {
        return clock_tsc_to_ns(rdtsc() - clk.tsc0);
}

void clock_info(struct guest_clock_info *out) {
        out->tsc_hz = clk.tsc_hz;
        out->lapic_hz = clk.lapic_hz;
        out->source = clk.source;
}

void clock_idle(uint64_t deadline_ns) {
        if (current_cpl() != 0) {
                cpu_relax(); /* CPL3 cannot hlt: poll */
                return;
        }
        uint64_t now = clock_ns();
        if (now >= deadline_ns)
                return;
        uint64_t ns = deadline_ns - now < IDLE_SLICE_NS ? deadline_ns - now : IDLE_SLICE_NS;
        /* The timer bounds the wait even if an interrupt slips between the
         * caller's last check and hlt; SINT2 wakes us earlier. */
        lapic_timer_oneshot(ns);
        __asm__ volatile("sti; hlt; cli" ::: "memory");
}
