// SPDX-License-Identifier: MIT
/* The MC146818 RTC register decoder (emu/rtc.c, rtc-time.c) with a
 * synthetic clock: formats, the update-in-progress window, SET and the
 * divider reset, periodic/update/alarm flags, IRQ 8 and the host timer it
 * asks for, CMOS contents, the calendar arithmetic, and the saved state:
 * its decoder's refusals and a restore that raises nothing before resume. */
#include <time.h>

#include "common/macro.h"
#include "common/test.h"
#include "emu/rtc.h"
#include "emu/state.h"
#include "tests/lib/vmstate-roundtrip.h"

#define NS 1000000000ll
#define T0 1709251198ll /* 2024-02-29 23:59:58 UTC, a Thursday */

static bool level;
static unsigned edges;
static int64_t armed;

static void on_irq(void *o, bool l) {
        if (l && !level)
                edges++;
        level = l;
}
static void on_arm(struct rtc *r, int64_t deadline) {
        armed = deadline;
}
static const struct rtc_ops ops = { .irq = on_irq };

/* Host time T0 + dt ns (real), monotonic = 1000 s + dt. */
static struct rtc_clock at(int64_t dt) {
        int64_t real = T0 * NS + dt;
        return (struct rtc_clock){ .real_sec = real / NS, .real_nsec = (uint32_t)(real % NS), .mono_ns = 1000 * NS + dt };
}

static void init(struct rtc *r, uint64_t low, uint64_t high) {
        level = false;
        edges = 0;
        armed = -1;
        struct rtc_config cfg = { .low_ram_bytes = low, .high_ram_bytes = high };
        struct rtc_clock c = at(0);
        rtc_init(r, &cfg, &ops, NULL, &c);
        r->arm = on_arm;
}

static uint8_t rd(struct rtc *r, uint8_t idx, int64_t dt) {
        struct rtc_clock c = at(dt);
        rtc_write(r, RTC_INDEX_PORT, idx, &c);
        return rtc_read(r, RTC_DATA_PORT, &c);
}

static void wr(struct rtc *r, uint8_t idx, uint8_t v, int64_t dt) {
        struct rtc_clock c = at(dt);
        rtc_write(r, RTC_INDEX_PORT, idx, &c);
        rtc_write(r, RTC_DATA_PORT, v, &c);
}

TEST(time_in_bcd_binary_and_12_hour) {
        struct rtc r;
        init(&r, 64 << 20, 0);
        ASSERT_EQ(rd(&r, 0, 0), 0x58);
        ASSERT_EQ(rd(&r, 2, 0), 0x59);
        ASSERT_EQ(rd(&r, 4, 0), 0x23);
        ASSERT_EQ(rd(&r, 6, 0), 0x05); /* Thursday: Sunday is 1 */
        ASSERT_EQ(rd(&r, 7, 0), 0x29);
        ASSERT_EQ(rd(&r, 8, 0), 0x02);
        ASSERT_EQ(rd(&r, 9, 0), 0x24);
        ASSERT_EQ(rd(&r, RTC_CENTURY_INDEX, 0), 0x20);
        /* Two seconds on: the leap day rolls over into March. */
        ASSERT_EQ(rd(&r, 0, 2 * NS), 0x00);
        ASSERT_EQ(rd(&r, 4, 2 * NS), 0x00);
        ASSERT_EQ(rd(&r, 7, 2 * NS), 0x01);
        ASSERT_EQ(rd(&r, 8, 2 * NS), 0x03);
        ASSERT_EQ(rd(&r, 6, 2 * NS), 0x06);
        wr(&r, 0x0b, RTC_B_DM | RTC_B_24H, 0);
        ASSERT_EQ(rd(&r, 4, 0), 23);
        ASSERT_EQ(rd(&r, 9, 0), 24);
        wr(&r, 0x0b, RTC_B_DM, 0); /* 12-hour: 11 PM */
        ASSERT_EQ(rd(&r, 4, 0), 0x80 | 11);
        wr(&r, 0x0b, 0, 0);
        ASSERT_EQ(rd(&r, 4, 0), 0x91); /* BCD 11, PM */
        ASSERT_EQ(rd(&r, 4, 2 * NS), 0x12); /* midnight is 12 AM */
        rtc_destroy(&r);
}

TEST(update_in_progress_window) {
        struct rtc r;
        init(&r, 0, 0);
        /* T0 is on a second boundary: UIP from 244 us before to 1740 us after. */
        ASSERT_EQ(rd(&r, 0x0a, NS - 300000) & RTC_A_UIP, 0);
        ASSERT_EQ(rd(&r, 0x0a, NS - 200000) & RTC_A_UIP, RTC_A_UIP);
        ASSERT_EQ(rd(&r, 0x0a, NS + 1000000) & RTC_A_UIP, RTC_A_UIP);
        ASSERT_EQ(rd(&r, 0x0a, NS + 1800000) & RTC_A_UIP, 0);
        ASSERT_EQ(rd(&r, 0x0a, 0) & 0x7f, 0x26);
        wr(&r, 0x0b, RTC_B_SET | RTC_B_24H, NS - 100000); /* SET clears UIP */
        ASSERT_EQ(rd(&r, 0x0a, NS - 100000) & RTC_A_UIP, 0);
        rtc_destroy(&r);
}

TEST(set_freezes_then_starts_the_new_time) {
        struct rtc r;
        init(&r, 0, 0);
        wr(&r, 0x0b, RTC_B_SET | RTC_B_24H | RTC_B_UIE, 0);
        ASSERT_EQ(rd(&r, 0x0b, 0), RTC_B_SET | RTC_B_24H); /* SET clears UIE */
        wr(&r, RTC_CENTURY_INDEX, 0x20, 0);
        wr(&r, 9, 0x31, 0);
        wr(&r, 8, 0x07, 0);
        wr(&r, 7, 0x04, 0);
        wr(&r, 4, 0x13, 0);
        wr(&r, 2, 0x34, 0);
        wr(&r, 0, 0x56, 0);
        ASSERT_EQ(rd(&r, 0, 5 * NS), 0x56); /* frozen while SET */
        wr(&r, 0x0b, RTC_B_24H, 5 * NS);
        ASSERT_EQ(rd(&r, 0, 5 * NS + NS / 2), 0x56);
        ASSERT_EQ(rd(&r, 0, 6 * NS + NS / 2), 0x57);
        ASSERT_EQ(rd(&r, 6, 6 * NS), 0x06); /* 2031-07-04: Friday */
        ASSERT_EQ(rd(&r, 9, 6 * NS), 0x31);
        struct rtc_stats st;
        rtc_get_stats(&r, &st);
        ASSERT_EQ(st.time_sets, 1u);
        /* Impossible values are clamped: day 31 of February. */
        wr(&r, 0x0b, RTC_B_SET | RTC_B_24H, 7 * NS);
        wr(&r, 8, 0x02, 7 * NS);
        wr(&r, 7, 0x31, 7 * NS);
        wr(&r, 0x0b, RTC_B_24H, 7 * NS);
        ASSERT_EQ(rd(&r, 7, 7 * NS), 0x28);
        /* A write while running moves the time, keeping the fraction. */
        wr(&r, 2, 0x00, 7 * NS + NS / 4);
        ASSERT_EQ(rd(&r, 2, 7 * NS + NS / 2), 0x00);
        ASSERT_EQ(rd(&r, 0, 8 * NS + NS / 2), 0x59); /* 58 when SET was set at 7 s, + 1.5 s */
        rtc_destroy(&r);
}

TEST(divider_reset_holds_the_clock) {
        struct rtc r;
        init(&r, 0, 0);
        uint8_t s = rd(&r, 0, NS / 10);
        wr(&r, 0x0a, 0x70, NS / 10); /* DV = 111: divider chain in reset */
        ASSERT_EQ(rd(&r, 0, 5 * NS), s);
        wr(&r, 0x0a, 0x26, 5 * NS);
        ASSERT_EQ(rd(&r, 0, 5 * NS + 490000000), s); /* the first update comes 500 ms later */
        ASSERT_EQ(rd(&r, 0, 5 * NS + 510000000), (uint8_t)(s + 1));
        rtc_destroy(&r);
}

TEST(periodic_flag_interrupt_and_timer) {
        struct rtc r;
        init(&r, 0, 0);
        ASSERT_EQ(armed, -1);
        ASSERT_EQ(rd(&r, 0x0c, 2000000), RTC_C_PF); /* 1024 Hz: PF after 1 ms, not enabled: no IRQF */
        ASSERT_FALSE(level);
        wr(&r, 0x0a, 0x2f, 2000000); /* 2 Hz */
        wr(&r, 0x0b, RTC_B_PIE | RTC_B_24H, 2000000);
        ASSERT_FALSE(level);
        ASSERT_EQ(armed, 1000 * NS + NS / 2); /* the next 500 ms boundary since the divider started */
        struct rtc_clock c = at(NS / 2);
        rtc_tick(&r, &c);
        ASSERT_TRUE(level);
        ASSERT_EQ(armed, 0); /* nothing changes the line until C is read */
        ASSERT_EQ(rd(&r, 0x0c, NS / 2 + 10), RTC_C_IRQF | RTC_C_PF);
        ASSERT_FALSE(level);
        ASSERT_EQ(armed, 1000 * NS + NS);
        ASSERT_EQ(rd(&r, 0x0c, NS / 2 + 20), 0);
        ASSERT_EQ(edges, 1u);
        rtc_destroy(&r);
}

TEST(update_and_alarm_flags) {
        struct rtc r;
        init(&r, 0, 0);
        (void)rd(&r, 0x0c, 0);
        wr(&r, 0x0b, RTC_B_UIE | RTC_B_24H, 0);
        ASSERT_EQ(armed, 1000 * NS + NS); /* the next second boundary */
        ASSERT_FALSE(level);
        ASSERT_EQ(rd(&r, 0x0b, NS + 1), RTC_B_UIE | RTC_B_24H);
        ASSERT_TRUE(level);
        ASSERT_EQ(rd(&r, 0x0c, NS + 2), RTC_C_IRQF | RTC_C_UF | RTC_C_PF);
        /* Alarm at second 05 of any minute of any hour (C0h: don't care). */
        wr(&r, 0x0b, RTC_B_AIE | RTC_B_24H, NS + 3);
        wr(&r, 1, 0x05, NS + 4);
        wr(&r, 3, 0xc0, NS + 5);
        wr(&r, 5, 0xff, NS + 6);
        ASSERT_EQ(armed, 1000 * NS + 7 * NS); /* 23:59:59 + 6 s = 00:00:05 */
        ASSERT_EQ(rd(&r, 0x0c, 6 * NS + NS / 2) & RTC_C_AF, 0);
        struct rtc_clock c = at(7 * NS);
        rtc_tick(&r, &c);
        ASSERT_TRUE(level);
        ASSERT_EQ(rd(&r, 0x0c, 7 * NS + 1), RTC_C_IRQF | RTC_C_AF | RTC_C_UF | RTC_C_PF);
        /* An alarm no time of day encodes (seconds 0x60) never fires. */
        wr(&r, 1, 0x60, 7 * NS + 2);
        ASSERT_EQ(rd(&r, 0x0c, 70 * NS) & RTC_C_AF, 0);
        ASSERT_EQ(armed, 0);
        rtc_destroy(&r);
}

TEST(registers_cmos_and_index) {
        struct rtc r;
        init(&r, 3072ull << 20, 1ull << 30);
        ASSERT_EQ(rd(&r, 0x0d, 0), RTC_D_VRT);
        wr(&r, 0x0d, 0x00, 0); /* read-only */
        wr(&r, 0x0c, 0xff, 0);
        ASSERT_EQ(rd(&r, 0x0d, 0), RTC_D_VRT);
        ASSERT_EQ(rd(&r, 0x0c, 0) & RTC_C_IRQF, 0);
        ASSERT_EQ(rd(&r, 0x8d, 0), RTC_D_VRT); /* NMI mask bit ignored */
        struct rtc_clock c = at(0);
        ASSERT_EQ(rtc_read(&r, RTC_INDEX_PORT, &c), 0xff); /* write-only */
        ASSERT_EQ(rd(&r, 0x14, 0), 0x02);
        ASSERT_EQ(rd(&r, 0x15, 0) | rd(&r, 0x16, 0) << 8, 640);
        ASSERT_EQ(rd(&r, 0x17, 0) | rd(&r, 0x18, 0) << 8, 0xffff); /* capped */
        ASSERT_EQ(rd(&r, 0x30, 0) | rd(&r, 0x31, 0) << 8, 0xffff);
        ASSERT_EQ(rd(&r, 0x34, 0) | rd(&r, 0x35, 0) << 8, (3072 - 16) * 16);
        ASSERT_EQ(rd(&r, 0x5b, 0) | rd(&r, 0x5c, 0) << 8 | rd(&r, 0x5d, 0) << 16, 16384);
        unsigned sum = 0;
        for (uint8_t i = 0x10; i <= 0x2d; i++)
                sum += rd(&r, i, 0);
        ASSERT_EQ(rd(&r, 0x2e, 0) << 8 | rd(&r, 0x2f, 0), sum);
        wr(&r, 0x7f, 0xa5, 0); /* RAM */
        ASSERT_EQ(rd(&r, 0x7f, 0), 0xa5);
        rtc_destroy(&r);
}

TEST(calendar) {
        ASSERT_EQ(rtc_days_from_civil(1970, 1, 1), 0);
        ASSERT_EQ(rtc_days_from_civil(2000, 3, 1), 11017);
        ASSERT_EQ(rtc_days_in_month(2000, 2), 29u);
        ASSERT_EQ(rtc_days_in_month(2100, 2), 28u);
        ASSERT_EQ(rtc_days_in_month(2024, 2), 29u);
        for (int64_t s = -400ll * 86400 * 366; s < 400ll * 86400 * 366; s += 86400 * 17 + 3671) {
                struct rtc_date d;
                rtc_civil_from_seconds(s, &d);
                ASSERT_EQ(rtc_days_from_civil(d.year, d.month, d.day) * 86400 + d.hour * 3600 + d.minute * 60 + d.second,
                          s);
                time_t t = (time_t)s;
                struct tm tm;
                gmtime_r(&t, &tm);
                ASSERT_EQ(d.year, (int64_t)tm.tm_year + 1900);
                ASSERT_EQ(d.month, (unsigned)tm.tm_mon + 1);
                ASSERT_EQ(d.weekday, (unsigned)tm.tm_wday);
        }
}

/* st through the real writer and reader and rtc_state_decode. */
static int decode_rtc(const struct rtc_state *st, char *err, size_t errlen) {
        uint8_t *buf;
        size_t len;
        ASSERT_OK(vmstate_test_encode(&rtc_state_desc, 0, st, &buf, &len));
        struct vmstate_section secs[2];
        struct vmstate_header h;
        ASSERT_EQ(vmstate_index(buf, len, &h, secs, 2, err, errlen), 1);
        struct rtc_state back;
        int r = rtc_state_decode(&secs[0], &back, err, errlen);
        free(buf);
        return r;
}

/* The periodic flag came due (2 Hz, PIE on) before the save but no timer
 * tick brought IRQF up: the restore owes IRQ 8. It may raise it only at
 * resume, never while the restore applies state (the VM's other devices
 * and interrupt controller are not all restored yet). */
TEST(restore_raises_irq8_only_at_resume) {
        struct rtc r;
        init(&r, 0, 0);
        wr(&r, 0x0a, 0x2f, 0);
        wr(&r, 0x0b, RTC_B_PIE | RTC_B_24H, 0);
        struct rtc_clock c = at(NS / 2 + 1000000);
        struct rtc_state st;
        rtc_get_state(&r, &c, &st);
        rtc_destroy(&r);
        ASSERT_EQ(st.cmos[0x0c], RTC_C_PF);
        ASSERT_FALSE(st.irq_level);
        char err[256] = "";
        ASSERT_OK(decode_rtc(&st, err, sizeof err));

        init(&r, 0, 0);
        c = at(10 * NS);
        rtc_set_state(&r, &st, &c);
        ASSERT_EQ(edges, 0u);
        ASSERT_FALSE(level);
        ASSERT_EQ(armed, -1); /* no timer either: the service is parked */
        rtc_resume(&r, &c);
        ASSERT_TRUE(level);
        ASSERT_EQ(edges, 1u);
        ASSERT_EQ(armed, 0);
        rtc_resume(&r, &c); /* once */
        ASSERT_EQ(edges, 1u);
        ASSERT_EQ(rd(&r, 0x0c, 10 * NS), RTC_C_IRQF | RTC_C_PF);
        ASSERT_FALSE(level);
        rtc_destroy(&r);
}

/* A state the device never holds is refused, naming what is wrong. */
TEST(saved_state_refusals) {
        struct rtc r;
        init(&r, 0, 0);
        struct rtc_clock c = at(0);
        struct rtc_state ok, bad;
        rtc_get_state(&r, &c, &ok);
        rtc_destroy(&r);
        char err[256] = "";
        ASSERT_OK(decode_rtc(&ok, err, sizeof err));
        static const struct {
                const char *why;
                unsigned at; /* a CMOS byte to set, or 0 */
                uint8_t v;
        } regs[] = {
                { "register A, C or D", 0x0a, 0xa6 },                  /* UIP stored */
                { "register A, C or D", 0x0c, 0x01 },                  /* C's low nibble */
                { "register A, C or D", 0x0d, 0x00 },                  /* D without VRT */
                { "IRQF without an enabled flag", 0x0c, RTC_C_IRQF | RTC_C_PF }, /* PIE off */
                { "frozen against SET", 0x0b, RTC_B_SET | RTC_B_24H },
                { "frozen against SET", 0x0a, 0x66 }, /* divider reset, not frozen */
        };
        for (size_t i = 0; i < ARRAY_SIZE(regs); i++) {
                bad = ok;
                bad.cmos[regs[i].at] = regs[i].v;
                ASSERT_EQ(decode_rtc(&bad, err, sizeof err), -EINVAL);
                if (!strstr(err, regs[i].why))
                        ASSERT_STREQ(err, regs[i].why);
        }
        bad = ok, bad.index = 128;
        ASSERT_EQ(decode_rtc(&bad, err, sizeof err), -EINVAL);
        ASSERT_NOT_NULL(strstr(err, "index out of range"));
        bad = ok, bad.guest_nsec = 1000000000u;
        ASSERT_EQ(decode_rtc(&bad, err, sizeof err), -EINVAL);
        bad = ok, bad.irq_level = true; /* IRQF clear */
        ASSERT_EQ(decode_rtc(&bad, err, sizeof err), -EINVAL);
        ASSERT_NOT_NULL(strstr(err, "IRQ 8's level"));
        bad = ok, bad.guest_sec = (uint64_t)INT64_MIN;
        ASSERT_EQ(decode_rtc(&bad, err, sizeof err), -EINVAL);
        ASSERT_NOT_NULL(strstr(err, "time out of range"));
        bad = ok, bad.epoch_ns = UINT64_MAX;
        ASSERT_EQ(decode_rtc(&bad, err, sizeof err), -EINVAL);
        ASSERT_NOT_NULL(strstr(err, "interval out of range"));
        /* Consistent: frozen with SET, IRQF with PIE and PF, the line high. */
        bad = ok, bad.cmos[0x0b] = RTC_B_SET | RTC_B_PIE, bad.frozen = true;
        bad.cmos[0x0c] = RTC_C_IRQF | RTC_C_PF, bad.irq_level = true;
        ASSERT_OK(decode_rtc(&bad, err, sizeof err));
}

TEST_MAIN();
