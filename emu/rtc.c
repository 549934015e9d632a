// SPDX-License-Identifier: MIT
/* The MC146818A register model (see emu/rtc.h). Register semantics from
 * the Motorola MC146818A data sheet: "Address Map", "Time, Calendar and
 * Alarm Locations" (Table 3: binary and BCD formats, 12-hour PM bit, alarm
 * "don't care" codes C0-FF), "Registers" A-D, "Interrupts", Table 5
 * (periodic rates for the 32.768 kHz time base), Table 6 (UIP timing). */
#include <string.h>
#include <time.h>

#include "common/macro.h"
#include "emu/rtc.h"
#include "emu/state.h"

#define NSEC 1000000000ll
#define REG_A 0x0au
#define REG_B 0x0bu
#define REG_C 0x0cu
#define REG_D 0x0du
#define DV_MASK 0x70u
#define DV_RESET 0x60u /* DV2 and DV1 set: divider chain held in reset */
#define UIP_BEFORE_NS 244000ll
#define UIP_AFTER_NS (1984000ll - UIP_BEFORE_NS)
#define TICK_HZ 32768ll

void rtc_clock_now(struct rtc_clock *c) {
        struct timespec r, m;
        clock_gettime(CLOCK_REALTIME, &r);
        clock_gettime(CLOCK_MONOTONIC, &m);
        *c = (struct rtc_clock){ .real_sec = r.tv_sec, .real_nsec = (uint32_t)r.tv_nsec,
                                 .mono_ns = (int64_t)m.tv_sec * NSEC + m.tv_nsec };
}

/* ---- guest time ---- */

static void guest_time(const struct rtc *r, const struct rtc_clock *now, int64_t *sec, uint32_t *nsec) {
        if (r->frozen) {
                *sec = r->frozen_sec, *nsec = r->frozen_nsec;
                return;
        }
        int64_t ns = (int64_t)now->real_nsec + r->off_nsec;
        *sec = now->real_sec + r->off_sec + ns / NSEC;
        *nsec = (uint32_t)(ns % NSEC);
}

/* Sets the offset so that the guest time is now sec.nsec. */
static void set_guest_time(struct rtc *r, const struct rtc_clock *now, int64_t sec, uint32_t nsec) {
        int64_t ns = (int64_t)nsec - now->real_nsec;
        int64_t borrow = ns < 0;
        r->off_sec = sec - now->real_sec - borrow;
        r->off_nsec = (uint32_t)(ns + borrow * NSEC);
        r->last_sec = sec;
}

static bool binary(const struct rtc *r) {
        return r->cmos[REG_B] & RTC_B_DM;
}

static uint8_t enc(const struct rtc *r, unsigned v) {
        v %= 100;
        return binary(r) ? (uint8_t)v : (uint8_t)((v / 10) << 4 | (v % 10));
}

/* Decoding what a guest wrote; invalid BCD digits count as their value. */
static unsigned dec(const struct rtc *r, uint8_t v) {
        return binary(r) ? v : (unsigned)(v >> 4) * 10u + (v & 0x0fu);
}

static uint8_t enc_hour(const struct rtc *r, unsigned h) {
        if (r->cmos[REG_B] & RTC_B_24H)
                return enc(r, h);
        unsigned h12 = h % 12 ? h % 12 : 12;
        return (uint8_t)(enc(r, h12) | (h >= 12 ? 0x80u : 0));
}

static unsigned dec_hour(const struct rtc *r, uint8_t v) {
        if (r->cmos[REG_B] & RTC_B_24H)
                return dec(r, v);
        return dec(r, v & 0x7fu) % 12 + ((v & 0x80u) ? 12 : 0);
}

/* Registers 0-9 and the century byte for a guest time. */
static void fill_time(struct rtc *r, int64_t sec) {
        struct rtc_date d;
        rtc_civil_from_seconds(sec, &d);
        uint8_t *c = r->cmos;
        c[0] = enc(r, d.second), c[2] = enc(r, d.minute), c[4] = enc_hour(r, d.hour);
        c[6] = enc(r, d.weekday + 1), c[7] = enc(r, d.day), c[8] = enc(r, d.month);
        int64_t y = d.year < 0 ? 0 : d.year;
        c[9] = enc(r, (unsigned)(y % 100));
        c[RTC_CENTURY_INDEX] = enc(r, (unsigned)(y / 100 % 100));
}

/* The time registers as written (SET) back to seconds; impossible values
 * are clamped into range rather than refused (the chip would just count
 * from them). */
static int64_t compose_time(const struct rtc *r) {
        const uint8_t *c = r->cmos;
        int64_t year = (int64_t)(dec(r, c[RTC_CENTURY_INDEX]) % 100) * 100 + dec(r, c[9]) % 100;
        unsigned month = CLAMP(dec(r, c[8]), 1u, 12u);
        unsigned day = CLAMP(dec(r, c[7]), 1u, rtc_days_in_month(year, month));
        unsigned hour = MIN(dec_hour(r, c[4]), 23u), min = MIN(dec(r, c[2]), 59u), s = MIN(dec(r, c[0]), 59u);
        return rtc_days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + s;
}

/* ---- interrupt flags ---- */

/* Periodic interrupt period in 32.768 kHz ticks (Table 5), 0 = off. */
static int64_t period_ticks(const struct rtc *r) {
        unsigned rs = r->cmos[REG_A] & 0x0fu;
        if (rs == 0 || (r->cmos[REG_A] & DV_MASK) == DV_RESET || (r->cmos[REG_A] & DV_MASK) == 0x70u)
                return 0;
        return rs <= 2 ? (int64_t)(rs == 1 ? 128 : 256) : (int64_t)1 << (rs - 1);
}

static int64_t ticks_since(const struct rtc *r, int64_t mono) {
        return (int64_t)((__int128)(mono - r->pf_epoch) * TICK_HZ / NSEC);
}

/* The first second after `after` whose time of day matches the alarm
 * registers (C0-FF in a field: any value), or INT64_MIN if none can. */
static int64_t next_alarm(const struct rtc *r, int64_t after) {
        int want[3]; /* hour, minute, second; -1: any */
        const uint8_t regs[3] = { r->cmos[5], r->cmos[3], r->cmos[1] };
        const unsigned max[3] = { 23, 59, 59 };
        for (int i = 0; i < 3; i++) {
                if (regs[i] >= 0xc0) {
                        want[i] = -1;
                        continue;
                }
                unsigned v = i == 0 ? dec_hour(r, regs[i]) : dec(r, regs[i]);
                uint8_t back = i == 0 ? enc_hour(r, v) : enc(r, v);
                if (v > max[i] || back != regs[i])
                        return INT64_MIN; /* no time of day is encoded like this */
                want[i] = (int)v;
        }
        int64_t t = after + 1;
        for (int iter = 0; iter < 256; iter++) {
                int64_t tod = t % 86400;
                if (tod < 0)
                        tod += 86400;
                int h = (int)(tod / 3600), m = (int)(tod / 60 % 60), s = (int)(tod % 60);
                if (want[0] >= 0 && h != want[0])
                        t += 3600 - (m * 60 + s);
                else if (want[1] >= 0 && m != want[1])
                        t += 60 - s;
                else if (want[2] >= 0 && s != want[2])
                        t += s < want[2] ? want[2] - s : 60 - s;
                else
                        return t;
        }
        return INT64_MIN;
}

static uint8_t irqf(const struct rtc *r) {
        uint8_t c = r->cmos[REG_C], b = r->cmos[REG_B];
        return ((c & RTC_C_PF) && (b & RTC_B_PIE)) || ((c & RTC_C_AF) && (b & RTC_B_AIE)) ||
                               ((c & RTC_C_UF) && (b & RTC_B_UIE))
                       ? RTC_C_IRQF
                       : 0;
}

/* Brings the flags of register C up to `now`. */
static void advance(struct rtc *r, const struct rtc_clock *now) {
        int64_t p = period_ticks(r);
        if (p && now->mono_ns > r->last_mono && ticks_since(r, now->mono_ns) / p > ticks_since(r, r->last_mono) / p)
                r->cmos[REG_C] |= RTC_C_PF;
        r->last_mono = MAX(r->last_mono, now->mono_ns);
        if (r->frozen)
                return; /* SET or divider reset: no updates */
        int64_t sec;
        uint32_t nsec;
        guest_time(r, now, &sec, &nsec);
        if (sec > r->last_sec) {
                r->cmos[REG_C] |= RTC_C_UF;
                int64_t a = next_alarm(r, r->last_sec);
                if (a != INT64_MIN && a <= sec)
                        r->cmos[REG_C] |= RTC_C_AF;
                r->last_sec = sec;
        }
}

/* The next moment (monotonic ns) an enabled flag will be set, or 0. */
static int64_t next_event(const struct rtc *r, const struct rtc_clock *now) {
        int64_t best = INT64_MAX, p = period_ticks(r);
        uint8_t b = r->cmos[REG_B];
        if ((b & RTC_B_PIE) && p) {
                int64_t k = ticks_since(r, now->mono_ns) / p + 1;
                best = r->pf_epoch + (int64_t)(((__int128)k * p * NSEC + TICK_HZ - 1) / TICK_HZ);
        }
        if (!r->frozen && (b & (RTC_B_UIE | RTC_B_AIE))) {
                int64_t sec;
                uint32_t nsec;
                guest_time(r, now, &sec, &nsec);
                int64_t target = sec + 1;
                if (!(b & RTC_B_UIE)) {
                        target = next_alarm(r, sec);
                        if (target == INT64_MIN)
                                target = INT64_MAX;
                }
                if (target != INT64_MAX && target - sec < 2 * 86400) {
                        int64_t at = now->mono_ns + (target - sec) * NSEC - nsec;
                        best = MIN(best, at);
                }
        }
        return best == INT64_MAX ? 0 : MAX(best, now->mono_ns + 1);
}

/* After any change: the interrupt line and the host timer. */
static void settle(struct rtc *r, const struct rtc_clock *now) {
        advance(r, now);
        uint8_t f = irqf(r);
        r->cmos[REG_C] = (uint8_t)((r->cmos[REG_C] & ~RTC_C_IRQF) | f);
        bool level = f != 0;
        if (level != r->irq_level) {
                r->irq_level = level;
                if (level)
                        r->stats.interrupts++;
                if (r->ops && r->ops->irq)
                        r->ops->irq(r->opaque, level);
        }
        /* Nothing can change the line until register C is read. */
        if (r->arm)
                r->arm(r, level ? 0 : next_event(r, now));
}

/* ---- CMOS contents (IBM PC/AT Technical Reference, "CMOS RAM address
 * map"; 5Bh-5Dh is the convention QEMU and SeaBIOS use for RAM above
 * 4 GiB) ---- */

static void put16(uint8_t *c, unsigned at, uint64_t v) {
        v = MIN(v, 0xffffu);
        c[at] = (uint8_t)v;
        c[at + 1] = (uint8_t)(v >> 8);
}

static void cmos_defaults(struct rtc *r, const struct rtc_config *cfg) {
        uint8_t *c = r->cmos;
        c[REG_A] = 0x26; /* 32.768 kHz time base, 1024 Hz periodic rate: what a BIOS sets */
        c[REG_B] = RTC_B_24H;
        c[REG_D] = RTC_D_VRT; /* the RAM and time are valid */
        c[0x14] = 0x02;       /* equipment: math coprocessor, no diskette drive */
        put16(c, 0x15, 640);  /* base memory, KiB */
        uint64_t low = cfg ? cfg->low_ram_bytes : 0, high = cfg ? cfg->high_ram_bytes : 0;
        uint64_t ext_kib = low > (1u << 20) ? (low - (1u << 20)) >> 10 : 0;
        put16(c, 0x17, ext_kib); /* extended memory above 1 MiB, KiB (and its POST copy) */
        put16(c, 0x30, ext_kib);
        put16(c, 0x34, low > (16u << 20) ? (low - (16u << 20)) >> 16 : 0); /* above 16 MiB, 64 KiB units */
        uint64_t high64k = MIN(high >> 16, 0xffffffull);
        c[0x5b] = (uint8_t)high64k, c[0x5c] = (uint8_t)(high64k >> 8), c[0x5d] = (uint8_t)(high64k >> 16);
        unsigned sum = 0; /* checksum of 10h-2Dh, big-endian at 2Eh */
        for (unsigned i = 0x10; i <= 0x2d; i++)
                sum += c[i];
        c[0x2e] = (uint8_t)(sum >> 8);
        c[0x2f] = (uint8_t)sum;
}

void rtc_init(struct rtc *r, const struct rtc_config *cfg, const struct rtc_ops *ops, void *opaque,
              const struct rtc_clock *now) {
        memset(r, 0, sizeof *r);
        pthread_mutex_init(&r->lock, NULL);
        r->ops = ops;
        r->opaque = opaque;
        r->timer_fd = -1;
        cmos_defaults(r, cfg);
        set_guest_time(r, now, now->real_sec, now->real_nsec);
        r->last_mono = r->pf_epoch = now->mono_ns;
        fill_time(r, now->real_sec);
}

void rtc_destroy(struct rtc *r) {
        pthread_mutex_destroy(&r->lock);
}

void rtc_get_stats(struct rtc *r, struct rtc_stats *out) {
        pthread_mutex_lock(&r->lock);
        *out = r->stats;
        pthread_mutex_unlock(&r->lock);
}

/* ---- registers ---- */

static bool is_time_reg(unsigned i) {
        return i == 0 || i == 2 || i == 4 || (i >= 6 && i <= 9) || i == RTC_CENTURY_INDEX;
}

static bool divider_reset(uint8_t a) {
        return (a & DV_MASK) == DV_RESET || (a & DV_MASK) == 0x70u;
}

static bool uip(const struct rtc *r, const struct rtc_clock *now) {
        if (r->frozen)
                return false; /* SET clears UIP and inhibits updates */
        int64_t sec;
        uint32_t nsec;
        guest_time(r, now, &sec, &nsec);
        return nsec >= NSEC - UIP_BEFORE_NS || nsec < UIP_AFTER_NS;
}

static uint8_t read_reg(struct rtc *r, unsigned i, const struct rtc_clock *now) {
        if (is_time_reg(i) && !(r->cmos[REG_B] & RTC_B_SET)) {
                int64_t sec;
                uint32_t nsec;
                guest_time(r, now, &sec, &nsec);
                fill_time(r, sec);
        }
        switch (i) {
        case REG_A:
                return (uint8_t)((r->cmos[REG_A] & 0x7fu) | (uip(r, now) ? RTC_A_UIP : 0));
        case REG_C: {
                uint8_t v = r->cmos[REG_C];
                r->cmos[REG_C] = 0; /* reading C clears every flag */
                return v;
        }
        case REG_D:
                return RTC_D_VRT;
        default:
                return r->cmos[i];
        }
}

/* Freezes or resumes the clock after register A or B changed. */
static void update_frozen(struct rtc *r, const struct rtc_clock *now) {
        bool want = (r->cmos[REG_B] & RTC_B_SET) || divider_reset(r->cmos[REG_A]);
        if (want && !r->frozen) {
                guest_time(r, now, &r->frozen_sec, &r->frozen_nsec);
                r->frozen = true;
        } else if (!want && r->frozen) {
                r->frozen = false;
                set_guest_time(r, now, r->frozen_sec, r->frozen_nsec);
        }
}

static void write_time_reg(struct rtc *r, unsigned i, uint8_t v, const struct rtc_clock *now) {
        if (r->cmos[REG_B] & RTC_B_SET) {
                r->cmos[i] = v; /* taken over when SET is cleared */
                return;
        }
        int64_t sec;
        uint32_t nsec;
        guest_time(r, now, &sec, &nsec);
        fill_time(r, sec);
        r->cmos[i] = v;
        r->stats.time_sets++;
        if (r->frozen)
                r->frozen_sec = compose_time(r), r->last_sec = r->frozen_sec;
        else
                set_guest_time(r, now, compose_time(r), nsec);
}

static void write_reg_a(struct rtc *r, uint8_t v, const struct rtc_clock *now) {
        bool was_reset = divider_reset(r->cmos[REG_A]);
        r->cmos[REG_A] = v & 0x7fu; /* UIP is read-only */
        bool reset = divider_reset(v);
        if (was_reset && !reset) {
                /* "The first update cycle begins one-half second later." */
                r->frozen_nsec = NSEC / 2;
                r->pf_epoch = r->last_mono = now->mono_ns;
        }
        update_frozen(r, now);
}

static void write_reg_b(struct rtc *r, uint8_t v, const struct rtc_clock *now) {
        uint8_t old = r->cmos[REG_B];
        if (v & RTC_B_SET)
                v &= (uint8_t)~RTC_B_UIE; /* SET clears UIE (data sheet, register B) */
        if (!(old & RTC_B_SET) && (v & RTC_B_SET)) {
                int64_t sec;
                uint32_t nsec;
                guest_time(r, now, &sec, &nsec);
                fill_time(r, sec); /* the guest edits the current time */
        }
        r->cmos[REG_B] = v;
        if ((old & RTC_B_SET) && !(v & RTC_B_SET)) {
                /* The new time starts at the beginning of its second. */
                r->stats.time_sets++;
                r->frozen_sec = compose_time(r);
                r->frozen_nsec = 0;
                r->last_sec = r->frozen_sec;
        }
        update_frozen(r, now);
}

uint8_t rtc_read(struct rtc *r, uint16_t port, const struct rtc_clock *now) {
        if (port != RTC_DATA_PORT)
                return 0xff; /* the index register is write-only */
        pthread_mutex_lock(&r->lock);
        r->stats.reads++;
        advance(r, now);
        uint8_t v = read_reg(r, r->index, now);
        settle(r, now);
        pthread_mutex_unlock(&r->lock);
        return v;
}

void rtc_write(struct rtc *r, uint16_t port, uint8_t v, const struct rtc_clock *now) {
        pthread_mutex_lock(&r->lock);
        if (port == RTC_INDEX_PORT) {
                r->index = v & 0x7fu; /* bit 7 masks NMIs on a PC: there are none to mask */
        } else if (port == RTC_DATA_PORT) {
                r->stats.writes++;
                advance(r, now);
                unsigned i = r->index;
                if (is_time_reg(i))
                        write_time_reg(r, i, v, now);
                else if (i == REG_A)
                        write_reg_a(r, v, now);
                else if (i == REG_B)
                        write_reg_b(r, v, now);
                else if (i != REG_C && i != REG_D)
                        r->cmos[i] = v; /* alarms and RAM; C and D are read-only */
                settle(r, now);
        }
        pthread_mutex_unlock(&r->lock);
}

void rtc_tick(struct rtc *r, const struct rtc_clock *now) {
        pthread_mutex_lock(&r->lock);
        settle(r, now);
        pthread_mutex_unlock(&r->lock);
}

/* ---- saved state (emu/state.h) ---- */

void rtc_get_state(struct rtc *r, const struct rtc_clock *now, struct rtc_state *out) {
        pthread_mutex_lock(&r->lock);
        advance(r, now);
        int64_t sec;
        uint32_t nsec;
        guest_time(r, now, &sec, &nsec);
        *out = (struct rtc_state){
                .index = r->index, .guest_sec = (uint64_t)sec, .guest_nsec = nsec, .frozen = r->frozen,
                .last_sec = (uint64_t)r->last_sec, .periodic_ns = (uint64_t)MAX(now->mono_ns - r->last_mono, 0),
                .epoch_ns = (uint64_t)MAX(now->mono_ns - r->pf_epoch, 0), .irq_level = r->irq_level,
        };
        memcpy(out->cmos, r->cmos, sizeof out->cmos);
        pthread_mutex_unlock(&r->lock);
}

void rtc_set_state(struct rtc *r, const struct rtc_state *st, const struct rtc_clock *now) {
        pthread_mutex_lock(&r->lock);
        memcpy(r->cmos, st->cmos, sizeof r->cmos);
        r->index = st->index;
        /* No time passed while saved: the guest time goes on from where it
         * stood (time sync corrects the guest's clock after a resume). */
        set_guest_time(r, now, (int64_t)st->guest_sec, st->guest_nsec);
        r->frozen = st->frozen;
        r->frozen_sec = (int64_t)st->guest_sec, r->frozen_nsec = st->guest_nsec;
        r->last_sec = (int64_t)st->last_sec;
        r->last_mono = now->mono_ns - (int64_t)st->periodic_ns;
        r->pf_epoch = now->mono_ns - (int64_t)st->epoch_ns;
        /* The line's level is in the restored IOAPIC already: settle only
         * signals a change from here on, and not before the VM resumes
         * (rtc_resume): nothing may reach the interrupt controller while
         * the restore is still applying state. */
        r->irq_level = st->irq_level;
        r->settle_owed = true;
        pthread_mutex_unlock(&r->lock);
}

void rtc_resume(struct rtc *r, const struct rtc_clock *now) {
        pthread_mutex_lock(&r->lock);
        if (r->settle_owed) {
                r->settle_owed = false;
                settle(r, now);
        }
        pthread_mutex_unlock(&r->lock);
}
