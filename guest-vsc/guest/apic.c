// SPDX-License-Identifier: MIT
/* Local APIC (xAPIC MMIO at its default base): EOI, a one-shot timer for
 * wait deadlines, self IPIs for the probe. The page is mapped uncached by
 * entry.S (top GiB below 4 GiB). */
#include "guest.h"

#define LAPIC_BASE 0xfee00000ul
#define LAPIC_EOI 0x0b0
#define LAPIC_SVR 0x0f0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3e0
#define LAPIC_MASKED (1u << 16)
#define ICR_SELF (1u << 18) /* destination shorthand: self */

static inline void lapic_write(uint32_t reg, uint32_t v) {
        *(volatile uint32_t *)(LAPIC_BASE + reg) = v;
}
static inline uint32_t lapic_read(uint32_t reg) {
        return *(volatile uint32_t *)(LAPIC_BASE + reg);
}

/* The firmware (SeaBIOS under QEMU) leaves the 8259 PICs at the real-mode
 * vector base 8, so the PIT's IRQ 0 would arrive as "#DF" the first time
 * interrupts are enabled. Move them to 0x20..0x2f and mask every line. */
static void pic_disable(void) {
        static const uint8_t init[2][4] = { { 0x11, 0x20, 0x04, 0x01 }, { 0x11, 0x28, 0x02, 0x01 } };
        for (int i = 0; i < 2; i++) {
                uint16_t cmd = i ? 0xa0 : 0x20, data = (uint16_t)(cmd + 1);
                for (int j = 0; j < 4; j++)
                        outb(j ? data : cmd, init[i][j]); /* ICW1..ICW4 */
                outb(data, 0xff);
        }
}

void lapic_init(void) {
        pic_disable();
        /* IA32_APIC_BASE: make sure the xAPIC is enabled at the default base. */
        uint64_t base = rdmsr(0x1b);
        if (!(base & (1u << 11)))
                wrmsr(0x1b, base | (1u << 11));
        lapic_write(LAPIC_SVR, 0x100 | VEC_SPURIOUS); /* software enable */
        lapic_write(LAPIC_TIMER_DIV, 0xb);              /* divide by 1 */
        lapic_write(LAPIC_LVT_TIMER, LAPIC_MASKED | VEC_TIMER);
}

void lapic_eoi(void) {
        lapic_write(LAPIC_EOI, 0);
}

/* Counts down from 0xffffffff for the TSC interval given; clock.c turns
 * that into the timer frequency. */
uint32_t lapic_timer_measure(uint64_t tsc_ticks);
uint32_t lapic_timer_measure(uint64_t tsc_ticks) {
        lapic_write(LAPIC_LVT_TIMER, LAPIC_MASKED | VEC_TIMER);
        lapic_write(LAPIC_TIMER_INIT, 0xffffffffu);
        uint64_t start = rdtsc();
        while (rdtsc() - start < tsc_ticks)
                cpu_relax();
        uint32_t left = lapic_read(LAPIC_TIMER_CUR);
        lapic_write(LAPIC_TIMER_INIT, 0);
        return 0xffffffffu - left;
}

void lapic_timer_oneshot(uint64_t ns) {
        struct guest_clock_info ci;
        clock_info(&ci);
        uint64_t count = ci.lapic_hz ? ns * (ci.lapic_hz / 1000) / 1000000 : ns;
        if (count == 0)
                count = 1;
        if (count > 0xffffffffu)
                count = 0xffffffffu;
        lapic_write(LAPIC_LVT_TIMER, VEC_TIMER); /* one-shot, unmasked */
        lapic_write(LAPIC_TIMER_INIT, (uint32_t)count);
}

void lapic_self_ipi(uint8_t vector) {
        lapic_write(LAPIC_ICR_HI, 0);
        lapic_write(LAPIC_ICR_LO, ICR_SELF | vector); /* fixed, edge */
}

void lapic_enable_ap(void) {
        lapic_write(LAPIC_SVR, 0x100 | VEC_SPURIOUS); /* software enable; the PICs are the boot CPU's */
}

/* Fixed (or INIT/SIPI) IPI to one APIC ID, physical destination. */
static void send_ipi(uint32_t apic_id, uint32_t lo) {
        lapic_write(LAPIC_ICR_HI, apic_id << 24);
        lapic_write(LAPIC_ICR_LO, lo);
}

void lapic_send_ipi(uint32_t apic_id, uint8_t vector) {
        send_ipi(apic_id, vector); /* fixed, edge, assert */
}

void lapic_start_ap(uint32_t apic_id, uint32_t start_page) {
        send_ipi(apic_id, 0x4500);             /* INIT, level assert */
        send_ipi(apic_id, 0x4600 | start_page); /* STARTUP; twice, as the MP specification says */
        send_ipi(apic_id, 0x4600 | start_page);
}
