/* SPDX-License-Identifier: MIT */
/* ACPI fixed hardware (ACPI 6.5 §4.8): the PM1a event block (status and
 * enable), the PM1a control block (SLP_TYP/SLP_EN), the 24-bit PM timer at
 * 3.579545 MHz, and the FADT reset register (0xCF9); plus our marker port.
 * Ports come from hvdefs/include/hv/vmstack.h. The keyboard controller's
 * reset command is the emulated i8042's (emu/i8042.h).
 *
 * The SCI is level-triggered (MADT override, vmwp/acpi.c): asserted while
 * any enabled status bit is set, dropped when the guest clears it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/device.h"
#include "common/vmstate.h"

struct vid_partition;
struct acpi_pm;

#define ACPI_PM_TIMER_HZ 3579545u

/* PM1 status/enable bits (ACPI 6.5 §4.8.3.1) and PM1 control bits (§4.8.3.2). */
#define ACPI_PM1_TMR_STS 0x0001u
#define ACPI_PM1_PWRBTN_STS 0x0100u
#define ACPI_PM1_WAK_STS 0x8000u
#define ACPI_PM1_TMR_EN 0x0001u
#define ACPI_PM1_PWRBTN_EN 0x0100u
#define ACPI_PM1_SCI_EN 0x0001u
#define ACPI_PM1_SLP_TYP_SHIFT 10
#define ACPI_PM1_SLP_TYP_MASK (7u << ACPI_PM1_SLP_TYP_SHIFT)
#define ACPI_PM1_SLP_EN 0x2000u

struct acpi_pm_ops {
        void (*power_off)(void *opaque);                 /* SLP_EN with SLP_TYP = S5 */
        void (*reset)(void *opaque, const char *source); /* reset register */
        void (*sci)(void *opaque, bool level);
        void (*marker)(void *opaque, uint32_t value);    /* VMSTACK_MARKER_PORT write */
};

struct acpi_pm_stats {
        uint64_t unsupported_sleep; /* SLP_EN with a sleep type we do not offer */
};

int acpi_pm_new(const struct acpi_pm_ops *ops, void *opaque, uint8_t slp_typ_s5, struct acpi_pm **out);
void acpi_pm_free(struct acpi_pm *pm);

/* Register access by absolute port (len 1, 2 or 4). */
uint32_t acpi_pm_read(struct acpi_pm *pm, uint16_t port, unsigned len);
void acpi_pm_write(struct acpi_pm *pm, uint16_t port, unsigned len, uint32_t value);

/* Press the power button: PWRBTN_STS, then an SCI if PWRBTN_EN is set. */
void acpi_pm_power_button(struct acpi_pm *pm);
/* The PM timer value now (24 bits). */
uint32_t acpi_pm_timer(struct acpi_pm *pm);
void acpi_pm_get_stats(struct acpi_pm *pm, struct acpi_pm_stats *out);

/* Quiesce (docs/vm-state.md): a power-button press waits for resume. */
void acpi_pm_quiesce(struct acpi_pm *pm);
void acpi_pm_resume(struct acpi_pm *pm);

/* The guest-visible state as plain data (docs/saved-state.md, "ACPM"):
 * the registers and the PM timer's full count, which continues from the
 * saved value on restore. */
#define ACPI_PM_STATE_TAG VMSTATE_TAG('A', 'C', 'P', 'M')
struct acpi_pm_state {
        uint16_t pm1_sts, pm1_en, pm1_cnt;
        uint32_t tmr_epoch;
        uint8_t rst_cnt;
        uint64_t ticks;
        bool button_held;
};
struct vmstate_section;
extern const struct vmstate_desc acpi_pm_state_desc;
void acpi_pm_get_state(struct acpi_pm *pm, struct acpi_pm_state *out);
/* Pure: decodes and checks an ACPM section. */
int acpi_pm_state_decode(const struct vmstate_section *s, struct acpi_pm_state *out, char *err, size_t errlen);
/* Before the vCPUs first run; the SCI level is the restored IOAPIC's. */
void acpi_pm_set_state(struct acpi_pm *pm, const struct acpi_pm_state *s);

/* Claims the PM1a event/control blocks, the PM timer and the marker port on p. */
int acpi_pm_register(struct acpi_pm *pm, struct vid_partition *p);
/* Claims the reset register 0xCF9 as a port of its own. A VM with the PCI
 * host bridge (emu/pci.h) does not: 0xCF9 sits inside CONFIG_ADDRESS there,
 * and the bridge forwards byte accesses to acpi_pm_read/acpi_pm_write. */
int acpi_pm_register_reset(struct acpi_pm *pm, struct vid_partition *p);

/* The ACPI PM block's row of the worker's device table (common/device.h,
 * emu/state.c): section "ACPM"; its dev is the struct acpi_pm. */
extern const struct device_ops acpi_pm_device_ops;
