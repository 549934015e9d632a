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
#include "hv/vmstack.h"
#include "vid/vid.h"
#include "vmwp/acpi.h"
#include "vmwp/pm.h"

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
        pm->pm1_sts |= ACPI_PM1_PWRBTN_STS;
        update_sci(pm);
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
