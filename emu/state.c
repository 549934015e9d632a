// SPDX-License-Identifier: MIT
/* The emulated devices' sections (emu/state.h): descriptors, the pure
 * decoders, and the i8042's state (the RTC's is in rtc.c, beside the time
 * arithmetic it needs); the rows of the worker's device table that
 * quiesce, save and restore them (emu/devices.h), the UART ("UART") and
 * the ACPI PM block ("ACPM") and fw_cfg ("FWCF"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "disk/disk.h"
#include "emu/acpi-pm.h"
#include "emu/devices.h"
#include "emu/fwcfg.h"
#include "emu/ide.h"
#include "emu/service.h"
#include "emu/state.h"
#include "emu/uart.h"

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

/* ---- the row of the worker's device table (emu/devices.h) ---- */

/* Their service thread parked (the IDE backend's disk reads completed
 * first, emu_service_on_pause), the RTC's timer and keyboard input
 * waiting. */
static int row_quiesce(void *dev) {
        struct emu_devices *e = dev;
        int r = emu_service_pause(e->svc);
        /* Nothing in flight: a VHDX's metadata goes to the file now. */
        for (unsigned i = 0; r == 0 && i < ARRAY_SIZE(e->disks); i++)
                if (e->disks[i])
                        r = disk_sync_metadata(e->disks[i]);
        return r;
}

static void row_resume(void *dev) {
        struct emu_devices *e = dev;
        /* A restored RTC raises what came due only now (emu/state.h). */
        struct rtc_clock now;
        rtc_clock_now(&now);
        rtc_resume(&e->rtc, &now);
        emu_service_resume(e->svc);
}

/* With IDE disks each channel ("IDEC"); with a PCI bus its functions
 * ("PIIX"). */
static int pci_save(struct emu_devices *e, struct vmstate_writer *w) {
        struct ide_channel_state *st = malloc(sizeof *st);
        struct piix_state *ps = malloc(sizeof *ps);
        int r = st && ps ? 0 : -ENOMEM;
        for (unsigned c = 0; r == 0 && e->ide && c < IDE_CHANNELS; c++)
                if ((r = ide_get_state(e->ide, c, st)) == 0)
                        r = vmstate_encode(w, &ide_channel_state_desc, c, st);
        if (r == 0) {
                piix_get_state(&e->piix, ps);
                r = vmstate_encode(w, &piix_state_desc, 0, ps);
        }
        free(st);
        free(ps);
        return r;
}

static int pci_restore(struct emu_devices *e, const struct vmstate_section *secs, size_t n, char *err,
                       size_t errlen) {
        const struct vmstate_section *cs[IDE_CHANNELS], *px = vmstate_find(secs, n, PIIX_STATE_TAG, 0);
        for (unsigned c = 0; c < IDE_CHANNELS; c++)
                cs[c] = vmstate_find(secs, n, IDE_STATE_TAG, c);
        if (!e->ide && cs[0])
                return errorf(err, errlen, -EINVAL, "the state has IDE disks, this VM has none");
        if (e->ide && (!cs[0] || !cs[1] || !px))
                return errorf(err, errlen, -EINVAL, "the state has no IDE controller, this VM has IDE disks");
        if (!e->piix_ok)
                return px ? errorf(err, errlen, -EINVAL, "the state has a PCI bus, this VM has none") : 0;
        if (!px) /* a display VM saved before its bus existed: the bus as built */
                return 0;
        struct ide_channel_state *st = malloc(IDE_CHANNELS * sizeof *st);
        struct piix_state *ps = malloc(sizeof *ps);
        int r = st && ps ? 0 : -ENOMEM;
        for (unsigned c = 0; r == 0 && e->ide && c < IDE_CHANNELS; c++)
                r = ide_channel_state_decode(cs[c], &st[c], err, errlen);
        if (r == 0)
                r = piix_state_decode(px, ps, err, errlen);
        if (r == 0)
                r = piix_set_state(&e->piix, ps, err, errlen);
        for (unsigned c = 0; r == 0 && e->ide && c < IDE_CHANNELS; c++)
                r = ide_set_state(e->ide, c, &st[c], err, errlen);
        free(st);
        free(ps);
        return r;
}

/* The RTC ("RTC "), the i8042 ("KBC ") and the IDE controller,
 * docs/saved-state.md. */
static int row_save(void *dev, struct vmstate_writer *w, char *err, size_t errlen) {
        struct emu_devices *e = dev;
        int ri = e->piix_ok ? pci_save(e, w) : 0;
        if (ri < 0)
                return errorf(err, errlen, ri, "writing the PCI bus's sections: %s", strerror(-ri));
        struct rtc_clock now;
        rtc_clock_now(&now);
        struct rtc_state rs;
        rtc_get_state(&e->rtc, &now, &rs);
        struct i8042_state *ks = malloc(sizeof *ks);
        if (!ks)
                return -ENOMEM;
        i8042_get_state(&e->kbd, ks);
        int r = vmstate_encode(w, &rtc_state_desc, 0, &rs);
        if (r == 0)
                r = vmstate_encode(w, &i8042_state_desc, 0, ks);
        free(ks);
        return r < 0 ? errorf(err, errlen, r, "writing the emulated devices' sections: %s", strerror(-r)) : 0;
}

static int row_restore(void *dev, const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        struct emu_devices *e = dev;
        const struct vmstate_section *rsec = vmstate_find(secs, n, RTC_STATE_TAG, 0);
        const struct vmstate_section *ksec = vmstate_find(secs, n, I8042_STATE_TAG, 0);
        if (!rsec || !ksec)
                return errorf(err, errlen, -EINVAL, "the state has no %s section", rsec ? "KBC" : "RTC");
        struct rtc_state rs;
        struct i8042_state *ks = malloc(sizeof *ks);
        int r = !ks ? -ENOMEM : rtc_state_decode(rsec, &rs, err, errlen);
        if (r == 0)
                r = i8042_state_decode(ksec, ks, err, errlen);
        if (r == 0)
                r = pci_restore(e, secs, n, err, errlen);
        if (r == 0) {
                struct rtc_clock now;
                rtc_clock_now(&now);
                rtc_set_state(&e->rtc, &rs, &now);
                i8042_set_state(&e->kbd, ks);
        }
        free(ks);
        return r;
}

static void row_stats(void *dev, struct json_object *into) {
        struct emu_devices *e = dev;
        struct rtc_stats rs;
        struct i8042_stats ks;
        rtc_get_stats(&e->rtc, &rs);
        i8042_get_stats(&e->kbd, &ks);
        device_stat_add(into, "rtc_interrupts", rs.interrupts);
        device_stat_add(into, "rtc_time_sets", rs.time_sets);
        device_stat_add(into, "kbd_keys", ks.keys);
        device_stat_add(into, "kbd_dropped_keys", ks.dropped_keys);
        device_stat_add(into, "kbd_controller_commands", ks.commands);
        if (!e->ide)
                return;
        struct ide_stats is;
        ide_get_stats(e->ide, &is);
        device_stat_add(into, "ide_commands", is.commands);
        device_stat_add(into, "ide_aborted", is.aborted);
        device_stat_add(into, "ide_pio_bytes", is.pio_bytes);
        device_stat_add(into, "ide_dma_bytes", is.dma_bytes);
        device_stat_add(into, "ide_dma_errors", is.dma_errors);
        device_stat_add(into, "ide_io_errors", is.io_errors);
        device_stat_add(into, "ide_ignored", is.ignored_writes);
        device_stat_add(into, "ide_resets", is.resets);
}

static const uint32_t row_tags[] = { RTC_STATE_TAG, I8042_STATE_TAG, IDE_STATE_TAG, PIIX_STATE_TAG, 0 };

const struct device_ops emu_device_ops = {
        .name = "emulated devices", .quiesce = row_quiesce, .resume = row_resume,
        .save = row_save, .restore = row_restore, .tags = row_tags, .stats = row_stats,
};

/* ---- the UART's and ACPI PM's rows (emu/uart.h, emu/acpi-pm.h) ---- */

static int uart_row_quiesce(void *dev) {
        uart_quiesce(dev);
        return 0;
}

static void uart_row_resume(void *dev) {
        uart_resume(dev);
}

static int uart_row_save(void *dev, struct vmstate_writer *w, char *err, size_t errlen) {
        struct uart_state s;
        uart_get_state(dev, &s);
        int r = vmstate_encode(w, &uart_state_desc, 0, &s);
        return r < 0 ? errorf(err, errlen, r, "writing the UART section: %s", strerror(-r)) : 0;
}

/* One section of this tag, instance 0: missing is an error (a file of this
 * build always has it; an older file without it would need a default). */
static const struct vmstate_section *find_one(const struct vmstate_section *secs, size_t n, uint32_t tag,
                                              char *err, size_t errlen) {
        const struct vmstate_section *s = vmstate_find(secs, n, tag, 0);
        if (!s) {
                char name[5];
                vmstate_tag_name(tag, name);
                errorf(err, errlen, -ENOENT, "the state has no %s section", name);
        }
        return s;
}

static int uart_row_restore(void *dev, const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        const struct vmstate_section *sec = find_one(secs, n, UART_STATE_TAG, err, errlen);
        if (!sec)
                return -ENOENT;
        struct uart_state *s = malloc(sizeof *s); /* 4 KiB of input: not on the stack */
        if (!s)
                return -ENOMEM;
        int r = uart_state_decode(sec, s, err, errlen);
        if (r >= 0)
                uart_set_state(dev, s);
        free(s);
        return r;
}

static void uart_row_stats(void *dev, struct json_object *into) {
        struct uart_stats s;
        uart_get_stats(dev, &s);
        device_stat_add(into, "serial_tx_bytes", s.tx_bytes);
        device_stat_add(into, "serial_rx_bytes", s.rx_bytes);
        device_stat_add(into, "serial_overruns", s.overruns);
}

static const uint32_t uart_tags[] = { UART_STATE_TAG, 0 };

const struct device_ops uart_device_ops = {
        .name = "uart", .quiesce = uart_row_quiesce, .resume = uart_row_resume,
        .save = uart_row_save, .restore = uart_row_restore, .tags = uart_tags, .stats = uart_row_stats,
};

static int pm_row_quiesce(void *dev) {
        acpi_pm_quiesce(dev);
        return 0;
}

static void pm_row_resume(void *dev) {
        acpi_pm_resume(dev);
}

static int pm_row_save(void *dev, struct vmstate_writer *w, char *err, size_t errlen) {
        struct acpi_pm_state s;
        acpi_pm_get_state(dev, &s);
        int r = vmstate_encode(w, &acpi_pm_state_desc, 0, &s);
        return r < 0 ? errorf(err, errlen, r, "writing the ACPI PM section: %s", strerror(-r)) : 0;
}

static int pm_row_restore(void *dev, const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        const struct vmstate_section *sec = find_one(secs, n, ACPI_PM_STATE_TAG, err, errlen);
        if (!sec)
                return -ENOENT;
        struct acpi_pm_state s;
        int r = acpi_pm_state_decode(sec, &s, err, errlen);
        if (r >= 0)
                acpi_pm_set_state(dev, &s);
        return r;
}

static void pm_row_stats(void *dev, struct json_object *into) {
        struct acpi_pm_stats s;
        acpi_pm_get_stats(dev, &s);
        device_stat_add(into, "acpi_unsupported_sleep", s.unsupported_sleep);
}

static const uint32_t pm_tags[] = { ACPI_PM_STATE_TAG, 0 };

const struct device_ops acpi_pm_device_ops = {
        .name = "acpi-pm", .quiesce = pm_row_quiesce, .resume = pm_row_resume,
        .save = pm_row_save, .restore = pm_row_restore, .tags = pm_tags, .stats = pm_row_stats,
};

/* ---- fw_cfg's row (emu/fwcfg.h): it runs on vCPU threads only, which
 * are stopped while the devices are quiesced ---- */

static int fwcfg_row_quiesce(void *dev) {
        (void)dev;
        return 0;
}

static void fwcfg_row_resume(void *dev) {
        (void)dev;
}

static int fwcfg_row_save(void *dev, struct vmstate_writer *w, char *err, size_t errlen) {
        struct fwcfg_state s;
        fwcfg_get_state(dev, &s);
        int r = vmstate_encode(w, &fwcfg_state_desc, 0, &s);
        return r < 0 ? errorf(err, errlen, r, "writing the fw_cfg section: %s", strerror(-r)) : 0;
}

static int fwcfg_row_restore(void *dev, const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        const struct vmstate_section *sec = find_one(secs, n, FWCFG_STATE_TAG, err, errlen);
        if (!sec)
                return -ENOENT;
        struct fwcfg_state s;
        int r = fwcfg_state_decode(sec, &s, err, errlen);
        return r < 0 ? r : fwcfg_set_state(dev, &s, err, errlen);
}

static void fwcfg_row_stats(void *dev, struct json_object *into) {
        struct fwcfg_stats s;
        fwcfg_get_stats(dev, &s);
        device_stat_add(into, "fwcfg_dma_ops", s.dma_ops);
        device_stat_add(into, "fwcfg_dma_errors", s.dma_errors);
        device_stat_add(into, "fwcfg_dma_bytes", s.dma_bytes);
        device_stat_add(into, "fwcfg_pio_bytes", s.pio_bytes);
}

static const uint32_t fwcfg_tags[] = { FWCFG_STATE_TAG, 0 };

const struct device_ops fwcfg_device_ops = {
        .name = "fw_cfg", .quiesce = fwcfg_row_quiesce, .resume = fwcfg_row_resume,
        .save = fwcfg_row_save, .restore = fwcfg_row_restore, .tags = fwcfg_tags, .stats = fwcfg_row_stats,
};
