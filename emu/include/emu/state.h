/* SPDX-License-Identifier: MIT */
/* The emulated devices' saved state as plain data (docs/saved-state.md,
 * sections "RTC ", "KBC "; docs/vm-state.md): what the guest can read back
 * from the MC146818 RTC and the i8042 with its keyboard. Time is saved as
 * guest time and as intervals, never as host timestamps: a restored RTC
 * goes on from the guest time it had when the VM was paused (the time-sync
 * integration service sets the guest's clock after a resume), and its
 * periodic interrupt keeps its phase. Decoders are pure (fuzzed by
 * tests/fuzz/fuzz-emu-state.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/vmstate.h"
#include "emu/i8042.h"
#include "emu/rtc.h"

#define RTC_STATE_TAG VMSTATE_TAG('R', 'T', 'C', ' ')
#define I8042_STATE_TAG VMSTATE_TAG('K', 'B', 'C', ' ')

struct rtc_state {
        uint8_t index;
        uint8_t cmos[RTC_CMOS_SIZE];
        uint64_t guest_sec; /* int64 as two's complement: the guest's time at the pause */
        uint32_t guest_nsec;
        bool frozen;        /* SET or divider reset: the time stands at guest_sec */
        uint64_t last_sec;  /* update/alarm flags computed up to this guest second */
        uint64_t periodic_ns; /* since the periodic flag was last brought up to date */
        uint64_t epoch_ns;    /* since the divider chain started */
        bool irq_level;
};

struct i8042_state {
        uint8_t ram[32];
        uint8_t out;
        bool obf, last_was_cmd, sys_flag;
        uint8_t pending, outport;
        uint32_t cq_len;
        uint8_t cq[I8042_CTRL_QUEUE]; /* oldest first */
        bool irq_level, kbd_full;
        /* the keyboard */
        uint32_t kq_len;
        uint8_t kq[I8042_KBD_QUEUE]; /* oldest first */
        uint8_t kbd_pending, kbd_set;
        bool kbd_scanning;
        uint8_t kbd_leds, kbd_typematic, kbd_last;
};

extern const struct vmstate_desc rtc_state_desc;
extern const struct vmstate_desc i8042_state_desc;

void rtc_get_state(struct rtc *r, const struct rtc_clock *now, struct rtc_state *out);
/* Pure: refuses an index or register value the device never holds. */
int rtc_state_decode(const struct vmstate_section *s, struct rtc_state *out, char *err, size_t errlen);
void rtc_set_state(struct rtc *r, const struct rtc_state *st, const struct rtc_clock *now);

void i8042_get_state(struct i8042 *k, struct i8042_state *out);
int i8042_state_decode(const struct vmstate_section *s, struct i8042_state *out, char *err, size_t errlen);
void i8042_set_state(struct i8042 *k, const struct i8042_state *st);
