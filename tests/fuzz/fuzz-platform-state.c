// SPDX-License-Identifier: MIT
/* The platform devices' saved-state sections (emu/uart.h "UART",
 * emu/acpi-pm.h "ACPM", emu/fwcfg.h "FWCF"): the input is taken as each section's payload and
 * goes through the pure decoder a restore runs before it applies anything; a
 * state that decodes must encode back to one that decodes the same, and
 * apply to a fresh device without harm. */
#include <stdlib.h>
#include <string.h>

#include "common/vmstate.h"
#include "emu/acpi-pm.h"
#include "emu/fwcfg.h"
#include "emu/uart.h"
#include "tests/fuzz/fuzz-check.h"
#include "tests/lib/vmstate-roundtrip.h"

static int uart_decode(const struct vmstate_section *s, void *out, char *err, size_t errlen) {
        return uart_state_decode(s, out, err, errlen);
}

static int fwcfg_decode(const struct vmstate_section *s, void *out, char *err, size_t errlen) {
        return fwcfg_state_decode(s, out, err, errlen);
}

static int pm_decode(const struct vmstate_section *s, void *out, char *err, size_t errlen) {
        return acpi_pm_state_decode(s, out, err, errlen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char err[256];
        struct vmstate_section raw = { .version = 1, .payload = data, .length = size, .tag = UART_STATE_TAG };
        struct uart_state *us = calloc(1, sizeof *us);
        CHECK(us);
        if (uart_state_decode(&raw, us, err, sizeof err) == 0) {
                CHECK(vmstate_test_round_trip(&uart_state_desc, 0, us, sizeof *us, uart_decode));
                struct uart *u;
                CHECK(uart_new(&(struct uart_ops){ 0 }, NULL, &u) == 0);
                uart_set_state(u, us);
                for (unsigned r = 0; r < UART_NREGS; r++)
                        (void)uart_read(u, r);
                uart_free(u);
        }
        free(us);
        raw.tag = ACPI_PM_STATE_TAG;
        struct acpi_pm_state ps;
        if (acpi_pm_state_decode(&raw, &ps, err, sizeof err) == 0) {
                CHECK(vmstate_test_round_trip(&acpi_pm_state_desc, 0, &ps, sizeof ps, pm_decode));
                struct acpi_pm *pm;
                CHECK(acpi_pm_new(&(struct acpi_pm_ops){ 0 }, NULL, 5, &pm) == 0);
                acpi_pm_set_state(pm, &ps);
                (void)acpi_pm_timer(pm);
                acpi_pm_free(pm);
        }
        raw.tag = FWCFG_STATE_TAG;
        struct fwcfg_state fs;
        if (fwcfg_state_decode(&raw, &fs, err, sizeof err) == 0) {
                CHECK(vmstate_test_round_trip(&fwcfg_state_desc, 0, &fs, sizeof fs, fwcfg_decode));
                /* Applied to a device with no files: refused unless its CRC
                 * and offset fit; either way reads stay in bounds. */
                struct fwcfg *f;
                CHECK(fwcfg_new(NULL, NULL, &f) == 0);
                (void)fwcfg_set_state(f, &fs, err, sizeof err);
                for (unsigned i = 0; i < 8; i++)
                        (void)fwcfg_read(f, FWCFG_PORT_DATA, 1);
                fwcfg_free(f);
        }
        return 0;
}
