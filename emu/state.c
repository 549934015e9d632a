// SPDX-License-Identifier: MIT
/* The emulated devices' sections (emu/state.h): descriptors, the pure
 * decoders, and the i8042's state (the RTC's is in rtc.c, beside the time
 * arithmetic it needs). */
#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "emu/state.h"

#define F(id_, kind_, type_, m_) VMSTATE_FIELD(id_, kind_, type_, m_)

static const struct vmstate_field_desc rtc_fields[] = {
        F(1, VMSTATE_U8, struct rtc_state, index),       F(2, VMSTATE_BYTES, struct rtc_state, cmos),
        F(3, VMSTATE_U64, struct rtc_state, guest_sec),  F(4, VMSTATE_U32, struct rtc_state, guest_nsec),
        F(5, VMSTATE_BOOL, struct rtc_state, frozen),    F(6, VMSTATE_U64, struct rtc_state, last_sec),
        F(7, VMSTATE_U64, struct rtc_state, periodic_ns), F(8, VMSTATE_U64, struct rtc_state, epoch_ns),
        F(9, VMSTATE_BOOL, struct rtc_state, irq_level),
};
const struct vmstate_desc rtc_state_desc = {
        .tag = RTC_STATE_TAG, .version = 1, .fields = rtc_fields, .n_fields = ARRAY_SIZE(rtc_fields), .name = "RTC",
};

static const struct vmstate_field_desc i8042_fields[] = {
        F(1, VMSTATE_BYTES, struct i8042_state, ram),
        F(2, VMSTATE_U8, struct i8042_state, out),
        F(3, VMSTATE_BOOL, struct i8042_state, obf),
        F(4, VMSTATE_BOOL, struct i8042_state, last_was_cmd),
        F(5, VMSTATE_BOOL, struct i8042_state, sys_flag),
        F(6, VMSTATE_U8, struct i8042_state, pending),
        F(7, VMSTATE_U8, struct i8042_state, outport),
        VMSTATE_ARRAY(8, VMSTATE_VARBYTES, struct i8042_state, cq, cq_len),
        F(9, VMSTATE_BOOL, struct i8042_state, irq_level),
        F(10, VMSTATE_BOOL, struct i8042_state, kbd_full),
        VMSTATE_ARRAY(11, VMSTATE_VARBYTES, struct i8042_state, kq, kq_len),
        F(12, VMSTATE_U8, struct i8042_state, kbd_pending),
        F(13, VMSTATE_U8, struct i8042_state, kbd_set),
        F(14, VMSTATE_BOOL, struct i8042_state, kbd_scanning),
        F(15, VMSTATE_U8, struct i8042_state, kbd_leds),
        F(16, VMSTATE_U8, struct i8042_state, kbd_typematic),
        F(17, VMSTATE_U8, struct i8042_state, kbd_last),
};
const struct vmstate_desc i8042_state_desc = {
        .tag = I8042_STATE_TAG, .version = 1, .fields = i8042_fields, .n_fields = ARRAY_SIZE(i8042_fields),
        .name = "i8042",
};

/* Register C's flags that raise IRQF when register B enables them. */
static bool rtc_irqf_due(uint8_t b, uint8_t c) {
        return ((c & RTC_C_PF) && (b & RTC_B_PIE)) || ((c & RTC_C_AF) && (b & RTC_B_AIE)) ||
               ((c & RTC_C_UF) && (b & RTC_B_UIE));
}

/* What rtc.c never holds (docs/saved-state.md, "RTC "): the index port keeps
 * 7 bits (bit 7 is the NMI mask, not stored); register A's UIP is computed
 * on read, never stored; register C's low nibble is always 0 and IRQF only
 * follows an enabled flag, with the line's level; register D is VRT only;
 * the clock stands exactly when SET or the divider reset says so; times and
 * intervals stay where the arithmetic on them cannot overflow. */
static const char *rtc_state_bad(const struct rtc_state *st) {
        const uint8_t a = st->cmos[0x0a], b = st->cmos[0x0b], c = st->cmos[0x0c], d = st->cmos[0x0d];
        const bool reset = (a & 0x70u) == 0x60u || (a & 0x70u) == 0x70u;
        if (st->index >= RTC_CMOS_SIZE)
                return "index";
        if (st->guest_nsec >= 1000000000u)
                return "nanoseconds";
        if ((a & RTC_A_UIP) || (c & 0x0fu) || d != RTC_D_VRT)
                return "register A, C or D";
        if ((c & RTC_C_IRQF) && !rtc_irqf_due(b, c))
                return "register C's IRQF without an enabled flag";
        if (st->irq_level != !!(c & RTC_C_IRQF))
                return "IRQ 8's level against register C's IRQF";
        if (st->frozen != ((b & RTC_B_SET) || reset))
                return "frozen against SET and the divider";
        if ((int64_t)st->guest_sec > RTC_STATE_SEC_MAX || (int64_t)st->guest_sec < -RTC_STATE_SEC_MAX ||
            (int64_t)st->last_sec > RTC_STATE_SEC_MAX || (int64_t)st->last_sec < -RTC_STATE_SEC_MAX)
                return "time";
        if (st->periodic_ns > RTC_STATE_NS_MAX || st->epoch_ns > RTC_STATE_NS_MAX)
                return "interval";
        return NULL;
}

int rtc_state_decode(const struct vmstate_section *s, struct rtc_state *out, char *err, size_t errlen) {
        memset(out, 0, sizeof *out);
        int r = vmstate_decode(s, &rtc_state_desc, out, err, errlen);
        if (r < 0)
                return r;
        const char *bad = rtc_state_bad(out);
        return bad ? errorf(err, errlen, -EINVAL, "section RTC: %s out of range (index %u, registers A-D %02x %02x "
                                                  "%02x %02x)", bad, out->index, out->cmos[0x0a], out->cmos[0x0b],
                            out->cmos[0x0c], out->cmos[0x0d])
                   : 0;
}

/* The controller commands that wait for a data byte (i8042.c). */
static bool kbc_pending_ok(uint8_t p) {
        return p == 0 || (p >= 0x60 && p <= 0x7f) || p == 0xd1 || p == 0xd2 || p == 0xd3 || p == 0xd4;
}

int i8042_state_decode(const struct vmstate_section *s, struct i8042_state *out, char *err, size_t errlen) {
        memset(out, 0, sizeof *out);
        int r = vmstate_decode(s, &i8042_state_desc, out, err, errlen);
        if (r < 0)
                return r;
        if (!kbc_pending_ok(out->pending))
                return errorf(err, errlen, -EINVAL, "section KBC: pending command 0x%02x", out->pending);
        if (out->kbd_set != 1 && out->kbd_set != 2)
                return errorf(err, errlen, -EINVAL, "section KBC: scan code set %u", out->kbd_set);
        if (out->kbd_pending && out->kbd_pending != 0xed && out->kbd_pending != 0xf0 && out->kbd_pending != 0xf3)
                return errorf(err, errlen, -EINVAL, "section KBC: keyboard command 0x%02x", out->kbd_pending);
        return 0;
}

void i8042_get_state(struct i8042 *k, struct i8042_state *out) {
        pthread_mutex_lock(&k->lock);
        *out = (struct i8042_state){
                .out = k->out, .obf = k->obf, .last_was_cmd = k->last_was_cmd, .sys_flag = k->sys_flag,
                .pending = k->pending, .outport = k->outport, .cq_len = k->cq_count, .irq_level = k->irq_level,
                .kbd_full = k->kbd_full, .kq_len = k->kbd.count, .kbd_pending = k->kbd.pending,
                .kbd_set = k->kbd.set, .kbd_scanning = k->kbd.scanning, .kbd_leds = k->kbd.leds,
                .kbd_typematic = k->kbd.typematic, .kbd_last = k->kbd.last,
        };
        memcpy(out->ram, k->ram, sizeof out->ram);
        for (unsigned i = 0; i < k->cq_count; i++)
                out->cq[i] = k->cq[(k->cq_head + i) % I8042_CTRL_QUEUE];
        for (unsigned i = 0; i < k->kbd.count; i++)
                out->kq[i] = k->kbd.q[(k->kbd.head + i) % I8042_KBD_QUEUE];
        pthread_mutex_unlock(&k->lock);
}

void i8042_set_state(struct i8042 *k, const struct i8042_state *st) {
        pthread_mutex_lock(&k->lock);
        memcpy(k->ram, st->ram, sizeof k->ram);
        k->out = st->out, k->obf = st->obf, k->last_was_cmd = st->last_was_cmd, k->sys_flag = st->sys_flag;
        k->pending = st->pending, k->outport = st->outport;
        k->cq_head = 0, k->cq_count = st->cq_len;
        memcpy(k->cq, st->cq, st->cq_len);
        /* The line's level is in the restored IOAPIC. */
        k->irq_level = st->irq_level, k->kbd_full = st->kbd_full;
        k->kbd.head = 0, k->kbd.count = st->kq_len;
        memcpy(k->kbd.q, st->kq, st->kq_len);
        k->kbd.pending = st->kbd_pending, k->kbd.set = st->kbd_set, k->kbd.scanning = st->kbd_scanning;
        k->kbd.leds = st->kbd_leds, k->kbd.typematic = st->kbd_typematic, k->kbd.last = st->kbd_last;
        pthread_mutex_unlock(&k->lock);
}
