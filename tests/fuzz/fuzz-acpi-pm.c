// SPDX-License-Identifier: MIT
/* Fuzz the ACPI fixed hardware (emu/acpi-pm.c): any sequence of guest
 * reads and writes of any width at and around the PM1a event and control
 * blocks, the PM timer, the reset register and the marker port, and power
 * button presses. Checks: the SCI is only reported when it changes and is
 * asserted exactly while an enabled status bit is set; power-off comes only
 * from SLP_EN with the S5 type; reset only from a write of 0x06 bits to
 * 0xCF9; the PM timer stays within 24 bits.
 *
 * Input: a sequence of [op u8][port u8][len u8][value u32 le]. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hv/vmstack.h"
#include "emu/acpi-pm.h"
#include "tests/fuzz/fuzz-check.h"


#define S5 5u

static bool sci;
static unsigned power_offs, resets;

static void on_power_off(void *o) {
        (void)o;
        power_offs++;
}
static void on_reset(void *o, const char *source) {
        (void)o;
        CHECK(source != NULL);
        resets++;
}
static void on_sci(void *o, bool l) {
        (void)o;
        CHECK(l != sci);
        sci = l;
}
static const struct acpi_pm_ops ops = { .power_off = on_power_off, .reset = on_reset, .sci = on_sci };

/* Ports near each block, so that partial and straddling accesses happen. */
static uint16_t pick_port(uint8_t b) {
        static const uint16_t base[] = { VMSTACK_PM1A_EVT_PORT, VMSTACK_PM1A_CNT_PORT, VMSTACK_PM_TMR_PORT,
                                         VMSTACK_RESET_PORT - 2, VMSTACK_MARKER_PORT - 2 };
        return (uint16_t)(base[(b >> 3) % 5] + (b & 7) - 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size) {
        struct acpi_pm *pm;
        sci = false;
        power_offs = resets = 0;
        if (acpi_pm_new(&ops, NULL, S5, &pm) < 0)
                return 0;
        for (size_t i = 0; i + 7 <= size; i += 7) {
                uint16_t port = pick_port(in[i + 1]);
                unsigned len = 1u << (in[i + 2] % 3);
                uint32_t v;
                memcpy(&v, in + i + 3, 4);
                unsigned po = power_offs, rs = resets;
                switch (in[i] % 3) {
                case 0: {
                        uint32_t r = acpi_pm_read(pm, port, len);
                        if (len < 4)
                                CHECK(r < (1u << (8 * len)));
                        break;
                }
                case 1:
                        acpi_pm_write(pm, port, len, v);
                        if (power_offs != po)
                                CHECK((port == VMSTACK_PM1A_CNT_PORT && len >= 2 && (v & (1u << 13)) &&
                                       ((v >> 10) & 7) == S5) ||
                                      (port == VMSTACK_PM1A_CNT_PORT + 1 && len == 1 && (v & (1u << 5)) &&
                                       ((v >> 2) & 7) == S5));
                        if (resets != rs)
                                CHECK(port == VMSTACK_RESET_PORT && (v & 0x06) == 0x06);
                        break;
                default:
                        acpi_pm_power_button(pm);
                        break;
                }
                CHECK(acpi_pm_timer(pm) < (1u << 24));
                /* PM1 status (low half) & enable (high half): the SCI. */
                uint32_t evt = acpi_pm_read(pm, VMSTACK_PM1A_EVT_PORT, 4);
                CHECK(sci == (((evt & 0xffff) & (evt >> 16)) != 0));
        }
        acpi_pm_free(pm);
        return 0;
}
