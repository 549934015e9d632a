/* SPDX-License-Identifier: MIT */
/* rtc: a Motorola MC146818A real-time clock with 128 bytes of CMOS RAM at
 * ports 0x70 (index; bit 7 the NMI mask, ignored) and 0x71 (data), IRQ 8
 * (docs/emulated-devices.md). Time and date come from the host clock
 * (CLOCK_REALTIME, UTC) plus an offset the guest sets; BCD or binary and
 * 12/24-hour formats per register B; the update-in-progress bit rises
 * 244 us before each second's update and falls 1984 us after it, as in
 * the data sheet (Table 6); periodic, alarm and update-ended interrupt
 * flags in register C (cleared by reading it), enabled by register B.
 *
 * The register decoder (rtc_read/rtc_write/rtc_tick) is pure: it takes
 * the time as an argument (fuzz-rtc.c). Flags are computed from the time
 * that passed, so the host needs a timer only while an enabled interrupt
 * is not yet pending: at most one expiry per read of register C. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vid_partition;
struct emu_service;

#define RTC_INDEX_PORT 0x70u
#define RTC_DATA_PORT 0x71u
#define RTC_IRQ 8u
#define RTC_CMOS_SIZE 128u
#define RTC_CENTURY_INDEX 0x32u /* IBM PC/AT century byte; the FADT's CENTURY field */

/* Register A-D bits (MC146818A data sheet, "Registers"). */
#define RTC_A_UIP 0x80u
#define RTC_B_SET 0x80u
#define RTC_B_PIE 0x40u
#define RTC_B_AIE 0x20u
#define RTC_B_UIE 0x10u
#define RTC_B_DM 0x04u /* binary */
#define RTC_B_24H 0x02u
#define RTC_C_IRQF 0x80u
#define RTC_C_PF 0x40u
#define RTC_C_AF 0x20u
#define RTC_C_UF 0x10u
#define RTC_D_VRT 0x80u

struct rtc_clock {
        int64_t real_sec;  /* CLOCK_REALTIME */
        uint32_t real_nsec;
        int64_t mono_ns;   /* CLOCK_MONOTONIC */
};
void rtc_clock_now(struct rtc_clock *c);

struct rtc_config {
        uint64_t low_ram_bytes;  /* RAM below 4 GiB (CMOS memory sizes) */
        uint64_t high_ram_bytes; /* RAM above 4 GiB */
};

struct rtc_ops {
        void (*irq)(void *opaque, bool level); /* IRQ 8 */
};

struct rtc_stats {
        uint64_t reads, writes, interrupts, time_sets;
};

struct rtc {
        pthread_mutex_t lock;
        const struct rtc_ops *ops;
        void *opaque;
        uint8_t index;
        uint8_t cmos[RTC_CMOS_SIZE];
        /* Guest time = host real time + offset (off_nsec in [0, 1e9)), or
         * frozen while the divider is held in reset or SET is set. */
        int64_t off_sec;
        uint32_t off_nsec;
        bool frozen;
        int64_t frozen_sec;
        uint32_t frozen_nsec;
        /* Interrupt flags are brought up to date from these. */
        int64_t last_mono;     /* periodic flag computed up to here */
        int64_t last_sec;      /* update/alarm flags computed up to this guest second */
        int64_t pf_epoch;      /* when the divider chain started (periodic boundaries) */
        bool irq_level;
        bool settle_owed; /* restored: rtc_resume settles (emu/state.h) */
        /* The host timer (rtc-pio.c); arm(0) disarms. NULL: none (fuzzer). */
        void (*arm)(struct rtc *r, int64_t mono_deadline_ns);
        int timer_fd;
        struct rtc_stats stats;
};

void rtc_init(struct rtc *r, const struct rtc_config *cfg, const struct rtc_ops *ops, void *opaque,
              const struct rtc_clock *now);
void rtc_destroy(struct rtc *r);
/* port: RTC_INDEX_PORT or RTC_DATA_PORT. */
uint8_t rtc_read(struct rtc *r, uint16_t port, const struct rtc_clock *now);
void rtc_write(struct rtc *r, uint16_t port, uint8_t value, const struct rtc_clock *now);
/* The host timer expired. */
void rtc_tick(struct rtc *r, const struct rtc_clock *now);
void rtc_get_stats(struct rtc *r, struct rtc_stats *out);

/* Claims the ports and runs the timer on the service thread (a timerfd). */
int rtc_attach(struct rtc *r, struct vid_partition *p, struct emu_service *s);

/* ---- calendar helpers (rtc-time.c), proleptic Gregorian, UTC ---- */
struct rtc_date {
        int64_t year;
        unsigned month, day, hour, minute, second, weekday; /* weekday 0 = Sunday */
};
int64_t rtc_days_from_civil(int64_t y, unsigned m, unsigned d);
void rtc_civil_from_seconds(int64_t sec, struct rtc_date *out);
unsigned rtc_days_in_month(int64_t y, unsigned m);
