// SPDX-License-Identifier: MIT
/* The platform devices' saved-state sections (vmwp/uart.h "UART",
 * vmwp/pm.h "ACPM"): the input is taken as each section's payload and goes
 * through the pure decoder a restore runs before it applies anything; a
 * state that decodes must encode back to one that decodes the same, and
 * apply to a fresh device without harm. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/vmstate.h"
#include "tests/fuzz/fuzz-check.h"
#include "vmwp/pm.h"
#include "vmwp/uart.h"

static void round_trip(const struct vmstate_desc *d, const void *st, size_t size,
                       int (*decode)(const struct vmstate_section *, void *, char *, size_t)) {
        int fd = memfd_create("fuzz", MFD_CLOEXEC);
        struct vmstate_writer *w;
        CHECK(fd >= 0 && vmstate_writer_new(fd, 0, &w) == 0);
        CHECK(vmstate_encode(w, d, 0, st) == 0 && vmstate_finish(w) == 0);
        size_t len = (size_t)vmstate_written(w);
        vmstate_writer_free(w);
        uint8_t *buf = malloc(len);
        CHECK(buf && pread(fd, buf, len, 0) == (ssize_t)len);
        struct vmstate_section secs[2];
        struct vmstate_header h;
        char err[256];
        CHECK(vmstate_index(buf, len, &h, secs, 2, err, sizeof err) == 1);
        void *back = calloc(1, size);
        CHECK(back && decode(&secs[0], back, err, sizeof err) == 0);
        CHECK(memcmp(back, st, size) == 0);
        free(back);
        free(buf);
        close(fd);
}

static int uart_decode(const struct vmstate_section *s, void *out, char *err, size_t errlen) {
        return uart_state_decode(s, out, err, errlen);
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
                round_trip(&uart_state_desc, us, sizeof *us, uart_decode);
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
                round_trip(&acpi_pm_state_desc, &ps, sizeof ps, pm_decode);
                struct acpi_pm *pm;
                CHECK(acpi_pm_new(&(struct acpi_pm_ops){ 0 }, NULL, 5, &pm) == 0);
                acpi_pm_set_state(pm, &ps);
                (void)acpi_pm_timer(pm);
                acpi_pm_free(pm);
        }
        return 0;
}
