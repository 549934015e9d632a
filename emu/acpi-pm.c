// SPDX-License-Identifier: MIT
/* ACPI PM1a event/control, PM timer, reset register (ACPI 6.5 §4.8.3)
 * and the marker port. (The 8042's reset command is the i8042's, emu/.) */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/vmstate.h"
#include "hv/vmstack.h"
#include "vid/vid.h"
#include "emu/acpi-pm.h"

/* Reset control register (0xCF9): SYS_RST (bit 1) + RST_CPU (bit 2) is a
 * hard reset (0x6), with FULL_RST (bit 3) a full one (0xE). */
#define RST_CNT_MASK 0x0e
#define PM1_EN_MASK 0x0721u /* TMR, GBL, PWRBTN, SLPBTN, RTC */

struct acpi_pm {
        pthread_mutex_t lock;
        const struct acpi_pm_ops *ops;
        void *opaque;
        uint8_t slp_typ_s5;
        uint64_t start_ns;

        uint16_t pm1_sts, pm1_en, pm1_cnt;
        uint32_t tmr_epoch; /* timer bit-23 period at the last TMR_STS clear */
        uint8_t rst_cnt;
        bool sci_level;
        bool quiesced, button_held; /* a press while quiesced waits for resume */
        struct acpi_pm_stats stats;
};

static uint64_t mono_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Full-width tick count since creation (the register shows 24 bits). */
static uint64_t ticks(const struct acpi_pm *pm) {
        unsigned __int128 t = (unsigned __int128)(mono_ns() - pm->start_ns) * ACPI_PM_TIMER_HZ;
        return (uint64_t)(t / 1000000000u);
}

int acpi_pm_new(const struct acpi_pm_ops *ops, void *opaque, uint8_t slp_typ_s5, struct acpi_pm **out) {
        struct acpi_pm *pm = calloc(1, sizeof *pm);
        if (!pm)
                return -ENOMEM;
        pthread_mutex_init(&pm->lock, NULL);
        pm->ops = ops;
        pm->opaque = opaque;
        pm->slp_typ_s5 = slp_typ_s5;
        pm->start_ns = mono_ns();
        /* No SMI_CMD in the FADT: always in ACPI mode, SCI_EN reads 1. */
        pm->pm1_cnt = ACPI_PM1_SCI_EN;
        *out = pm;
        return 0;
}

void acpi_pm_free(struct acpi_pm *pm) {
        if (!pm)
                return;
        pthread_mutex_destroy(&pm->lock);
        free(pm);
}

uint32_t acpi_pm_timer(struct acpi_pm *pm) {
        return (uint32_t)(ticks(pm) & 0xffffff);
}

/* TMR_STS is set whenever bit 23 of the counter has toggled since the guest
 * last cleared it; computed when read rather than by a host timer. */
static uint16_t status(struct acpi_pm *pm) {
        uint16_t s = pm->pm1_sts;
        if ((uint32_t)(ticks(pm) >> 23) != pm->tmr_epoch)
                s |= ACPI_PM1_TMR_STS;
        return s;
}

static void update_sci(struct acpi_pm *pm) {
        bool level = (status(pm) & pm->pm1_en & (ACPI_PM1_TMR_STS | ACPI_PM1_PWRBTN_STS)) != 0;
        if (level != pm->sci_level) {
                pm->sci_level = level;
                if (pm->ops->sci)
                        pm->ops->sci(pm->opaque, level);
        }
}

/* Byte view of a register block: PM1a_EVT is status then enable. */
static uint32_t read_block(struct acpi_pm *pm, uint16_t port) {
        if (port == VMSTACK_PM1A_EVT_PORT)
                return status(pm) | ((uint32_t)pm->pm1_en << 16);
        if (port == VMSTACK_PM1A_CNT_PORT)
                return pm->pm1_cnt;
        if (port == VMSTACK_PM_TMR_PORT)
                return acpi_pm_timer(pm);
        return 0xffffffffu;
}

uint32_t acpi_pm_read(struct acpi_pm *pm, uint16_t port, unsigned len) {
        static const uint16_t blocks[3] = { VMSTACK_PM1A_EVT_PORT, VMSTACK_PM1A_CNT_PORT, VMSTACK_PM_TMR_PORT };
        static const unsigned sizes[3] = { 4, 2, 4 };
        uint32_t v = 0xffffffffu;
        pthread_mutex_lock(&pm->lock);
        if (port == VMSTACK_RESET_PORT) {
                v = pm->rst_cnt;
        } else {
                for (size_t i = 0; i < 3; i++)
                        if (port >= blocks[i] && port + len <= blocks[i] + sizes[i]) {
                                unsigned shift = 8u * (unsigned)(port - blocks[i]);
                                v = read_block(pm, blocks[i]) >> shift;
                        }
        }
        update_sci(pm);
        pthread_mutex_unlock(&pm->lock);
        return len >= 4 ? v : v & ((1u << (8 * len)) - 1);
}

/* Called with the lock held; the power-off callback runs after unlocking. */
static void write_cnt(struct acpi_pm *pm, uint16_t v, bool *power_off) {
        pm->pm1_cnt = (uint16_t)(ACPI_PM1_SCI_EN | (v & ACPI_PM1_SLP_TYP_MASK));
        if (v & ACPI_PM1_SLP_EN) {
                unsigned typ = (v & ACPI_PM1_SLP_TYP_MASK) >> ACPI_PM1_SLP_TYP_SHIFT;
                if (typ == pm->slp_typ_s5)
                        *power_off = true;
                else
                        pm->stats.unsupported_sleep++; /* only \_S5 is offered */
        }
}

void acpi_pm_write(struct acpi_pm *pm, uint16_t port, unsigned len, uint32_t value) {
        bool power_off = false, reset = false;
        pthread_mutex_lock(&pm->lock);
        if (port == VMSTACK_PM1A_EVT_PORT || port == VMSTACK_PM1A_EVT_PORT + 1) {
                /* Status bits are write-one-to-clear; a dword write reaches
                 * the enable register too. */
                unsigned shift = 8u * (unsigned)(port - VMSTACK_PM1A_EVT_PORT);
                uint16_t clear = (uint16_t)((value << shift) & (len == 1 ? 0xffu << shift : 0xffffu));
                if (clear & ACPI_PM1_TMR_STS)
                        pm->tmr_epoch = (uint32_t)(ticks(pm) >> 23);
                pm->pm1_sts &= (uint16_t)~clear;
                if (len == 4)
                        pm->pm1_en = (uint16_t)((value >> 16) & PM1_EN_MASK);
        } else if (port == VMSTACK_PM1A_EVT_PORT + 2 || port == VMSTACK_PM1A_EVT_PORT + 3) {
                unsigned shift = 8u * (unsigned)(port - VMSTACK_PM1A_EVT_PORT - 2);
                uint16_t mask = (uint16_t)(len == 1 ? 0xffu << shift : 0xffffu);
                pm->pm1_en = (uint16_t)(((pm->pm1_en & ~mask) | ((value << shift) & mask)) & PM1_EN_MASK);
        } else if (port == VMSTACK_PM1A_CNT_PORT && len >= 2) {
                write_cnt(pm, (uint16_t)value, &power_off);
        } else if (port == VMSTACK_PM1A_CNT_PORT + 1 && len == 1) {
                write_cnt(pm, (uint16_t)((pm->pm1_cnt & 0xff) | (value << 8)), &power_off);
        } else if (port == VMSTACK_RESET_PORT) {
                pm->rst_cnt = (uint8_t)(value & RST_CNT_MASK);
                reset = (value & 0x06) == 0x06;
        }
        update_sci(pm);
        pthread_mutex_unlock(&pm->lock);
        /* Outside the lock: these stop the partition. */
        if (power_off && pm->ops->power_off)
                pm->ops->power_off(pm->opaque);
        if (reset && pm->ops->reset)
                pm->ops->reset(pm->opaque, "reset register 0xCF9");
}

void acpi_pm_power_button(struct acpi_pm *pm) {
        pthread_mutex_lock(&pm->lock);
        if (pm->quiesced) {
                pm->button_held = true;
        } else {
                pm->pm1_sts |= ACPI_PM1_PWRBTN_STS;
                update_sci(pm);
        }
        pthread_mutex_unlock(&pm->lock);
}

/* ---- quiesce, save, restore (docs/vm-state.md) ---------------------- */

void acpi_pm_quiesce(struct acpi_pm *pm) {
        pthread_mutex_lock(&pm->lock);
        pm->quiesced = true;
        pthread_mutex_unlock(&pm->lock);
}

void acpi_pm_resume(struct acpi_pm *pm) {
        pthread_mutex_lock(&pm->lock);
        pm->quiesced = false;
        if (pm->button_held) {
                pm->button_held = false;
                pm->pm1_sts |= ACPI_PM1_PWRBTN_STS;
        }
        update_sci(pm);
        pthread_mutex_unlock(&pm->lock);
}

void acpi_pm_get_state(struct acpi_pm *pm, struct acpi_pm_state *out) {
        memset(out, 0, sizeof *out);
        pthread_mutex_lock(&pm->lock);
        *out = (struct acpi_pm_state){ .pm1_sts = pm->pm1_sts, .pm1_en = pm->pm1_en, .pm1_cnt = pm->pm1_cnt,
                                       .tmr_epoch = pm->tmr_epoch, .rst_cnt = pm->rst_cnt, .ticks = ticks(pm),
                                       .button_held = pm->button_held };
        pthread_mutex_unlock(&pm->lock);
}

#define F(id, kind, m) VMSTATE_FIELD(id, kind, struct acpi_pm_state, m)
static const struct vmstate_field_desc pm_fields[] = {
        F(1, VMSTATE_U16, pm1_sts), F(2, VMSTATE_U16, pm1_en),    F(3, VMSTATE_U16, pm1_cnt),
        F(4, VMSTATE_U32, tmr_epoch), F(5, VMSTATE_U8, rst_cnt), F(6, VMSTATE_U64, ticks),
        F(7, VMSTATE_BOOL, button_held),
};
#undef F

const struct vmstate_desc acpi_pm_state_desc = {
        .tag = ACPI_PM_STATE_TAG, .version = 1, .fields = pm_fields, .n_fields = ARRAY_SIZE(pm_fields),
        .name = "ACPI PM",
};

int acpi_pm_state_decode(const struct vmstate_section *s, struct acpi_pm_state *out, char *err, size_t errlen) {
        memset(out, 0, sizeof *out);
        int r = vmstate_decode(s, &acpi_pm_state_desc, out, err, errlen);
        if (r < 0)
                return r;
        const char *bad = NULL;
        if (out->pm1_en & (uint16_t)~PM1_EN_MASK)
                bad = "PM1 enable has bits no event uses";
        else if (!(out->pm1_cnt & ACPI_PM1_SCI_EN) || (out->pm1_cnt & ~(ACPI_PM1_SCI_EN | ACPI_PM1_SLP_TYP_MASK)))
                bad = "PM1 control is not SCI_EN plus a sleep type";
        else if (out->rst_cnt & (uint8_t)~RST_CNT_MASK)
                bad = "reset control has reserved bits set";
        else if (out->ticks >> 62)
                bad = "PM timer beyond a century";
        else if (out->tmr_epoch > (uint32_t)(out->ticks >> 23))
                bad = "PM timer status epoch after the timer";
        if (bad)
                return errorf(err, errlen, -EINVAL, "section ACPM: %s", bad);
        return 0;
}

void acpi_pm_set_state(struct acpi_pm *pm, const struct acpi_pm_state *s) {
        pthread_mutex_lock(&pm->lock);
        pm->pm1_sts = s->pm1_sts;
        pm->pm1_en = s->pm1_en;
        pm->pm1_cnt = s->pm1_cnt;
        pm->tmr_epoch = s->tmr_epoch;
        pm->rst_cnt = s->rst_cnt;
        pm->button_held = s->button_held;
        /* The timer goes on from its saved count: no time passed while saved. */
        uint64_t ns = (uint64_t)((unsigned __int128)s->ticks * 1000000000u / ACPI_PM_TIMER_HZ);
        pm->start_ns = mono_ns() - ns;
        pm->sci_level = (status(pm) & pm->pm1_en & (ACPI_PM1_TMR_STS | ACPI_PM1_PWRBTN_STS)) != 0;
        pthread_mutex_unlock(&pm->lock);
}

void acpi_pm_get_stats(struct acpi_pm *pm, struct acpi_pm_stats *out) {
        pthread_mutex_lock(&pm->lock);
        *out = pm->stats;
        pthread_mutex_unlock(&pm->lock);
}

/* ---- port glue ---- */

static void pio_read(void *opaque, struct vid_vp *vp, uint64_t off, void *data, unsigned len, uint16_t base) {
        uint32_t v = acpi_pm_read(opaque, (uint16_t)(base + off), len);
        memcpy(data, &v, MIN(len, 4u));
}

#define PORT_OPS(name, base)                                                                          \
        static void name##_read(void *o, struct vid_vp *vp, uint64_t off, void *d, unsigned len) {   \
                pio_read(o, vp, off, d, len, (base));                                                 \
        }                                                                                             \
        static void name##_write(void *o, struct vid_vp *vp, uint64_t off, const void *d, unsigned len) { \
                uint32_t v = 0;                                                                       \
                memcpy(&v, d, MIN(len, 4u));                                                          \
                acpi_pm_write(o, (uint16_t)((base) + off), len, v);                                   \
        }                                                                                             \
        static const struct vid_io_ops name##_ops = { .read = name##_read, .write = name##_write }

PORT_OPS(evt, VMSTACK_PM1A_EVT_PORT);
PORT_OPS(cnt, VMSTACK_PM1A_CNT_PORT);
PORT_OPS(tmr, VMSTACK_PM_TMR_PORT);
PORT_OPS(rst, VMSTACK_RESET_PORT);

static void marker_write(void *o, struct vid_vp *vp, uint64_t off, const void *d, unsigned len) {
        struct acpi_pm *pm = o;
        uint32_t v = 0;
        memcpy(&v, d, MIN(len, 4u));
        if (off == 0 && pm->ops->marker)
                pm->ops->marker(pm->opaque, v);
}

static const struct vid_io_ops marker_ops = { .write = marker_write };

int acpi_pm_register(struct acpi_pm *pm, struct vid_partition *p) {
        int r;
        if ((r = vid_register_pio(p, VMSTACK_PM1A_EVT_PORT, 4, &evt_ops, pm)) < 0 ||
            (r = vid_register_pio(p, VMSTACK_PM1A_CNT_PORT, 2, &cnt_ops, pm)) < 0 ||
            (r = vid_register_pio(p, VMSTACK_PM_TMR_PORT, 4, &tmr_ops, pm)) < 0 ||
            (r = vid_register_pio(p, VMSTACK_MARKER_PORT, 4, &marker_ops, pm)) < 0)
                return r;
        return 0;
}

int acpi_pm_register_reset(struct acpi_pm *pm, struct vid_partition *p) {
        return vid_register_pio(p, VMSTACK_RESET_PORT, 1, &rst_ops, pm);
}
