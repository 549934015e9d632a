// SPDX-License-Identifier: MIT
/* The platform devices' rows of the device table (devices.h): the UART and
 * ACPI PM, with their sections (docs/saved-state.md, "UART", "ACPM"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/vmstate.h"
#include "devices.h"
#include "vm-internal.h"

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

static const uint32_t uart_tags[] = { UART_STATE_TAG, 0 };

static const struct device_ops uart_row = {
        .name = "uart", .quiesce = uart_row_quiesce, .resume = uart_row_resume,
        .save = uart_row_save, .restore = uart_row_restore, .tags = uart_tags,
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

static const uint32_t pm_tags[] = { ACPI_PM_STATE_TAG, 0 };

static const struct device_ops pm_row = {
        .name = "acpi-pm", .quiesce = pm_row_quiesce, .resume = pm_row_resume,
        .save = pm_row_save, .restore = pm_row_restore, .tags = pm_tags,
};

int vmwp_vm_add_platform_rows(struct vmwp_vm *vm) {
        int r = vmwp_devices_add(&vm->devices, &uart_row, vm->uart);
        return r < 0 ? r : vmwp_devices_add(&vm->devices, &pm_row, vm->pm);
}
