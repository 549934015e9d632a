// SPDX-License-Identifier: MIT
/* Fuzz the MC146818 RTC register decoder (emu/rtc.c): register accesses,
 * timer expiries and a clock that moves forward (and the host's real time
 * sometimes back, as NTP may), in any order. Checks: IRQ 8 is asserted
 * exactly while register C has IRQF, the timer is never asked for a
 * moment in the past, register D always reads valid, and the time
 * registers always hold encodable values.
 *
 * Input: a sequence of [op u8][index u8][value u8][dt u16 le (x 65536 ns)]. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emu/rtc.h"
#include "tests/fuzz/fuzz-check.h"


static bool level;
static int64_t now_mono, armed;

static void on_irq(void *o, bool l) {
        CHECK(l != level);
        level = l;
}
static void on_arm(struct rtc *r, int64_t deadline) {
        CHECK(deadline == 0 || deadline > now_mono);
        armed = deadline;
}
static const struct rtc_ops ops = { .irq = on_irq };

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size) {
        static struct rtc r;
        level = false;
        armed = 0;
        now_mono = 1000000000000ll;
        struct rtc_clock c = { .real_sec = 1700000000, .real_nsec = 0, .mono_ns = now_mono };
        struct rtc_config cfg = { .low_ram_bytes = 1u << 30, .high_ram_bytes = 1ull << 33 };
        rtc_init(&r, &cfg, &ops, NULL, &c);
        r.arm = on_arm;
        for (size_t i = 0; i + 5 <= size; i += 5) {
                const uint8_t *p = in + i;
                int64_t dt = (int64_t)(p[3] | p[4] << 8) * 65536;
                now_mono += dt;
                c.mono_ns = now_mono;
                int64_t real = c.real_sec * 1000000000ll + c.real_nsec + ((p[0] & 0x80) ? -dt : dt);
                c.real_sec = real / 1000000000ll;
                c.real_nsec = (uint32_t)(real % 1000000000ll);
                switch (p[0] % 4) {
                case 0:
                        rtc_write(&r, RTC_INDEX_PORT, p[1], &c);
                        rtc_write(&r, RTC_DATA_PORT, p[2], &c);
                        break;
                case 1:
                        rtc_write(&r, RTC_INDEX_PORT, p[1], &c);
                        (void)rtc_read(&r, RTC_DATA_PORT, &c);
                        break;
                case 2:
                        rtc_tick(&r, &c);
                        break;
                case 3:
                        rtc_write(&r, RTC_INDEX_PORT, 0x0d, &c);
                        CHECK(rtc_read(&r, RTC_DATA_PORT, &c) == RTC_D_VRT);
                        break;
                }
                CHECK(level == ((r.cmos[0x0c] & RTC_C_IRQF) != 0));
        }
        rtc_destroy(&r);
        return 0;
}
