// SPDX-License-Identifier: MIT
/* The DSDT: \_S5 for ACPI power-off, the VMBus device and COM1.
 *
 * VMBus: Linux 6.1's hv_vmbus is an ACPI driver matching _HID "VMBus" and
 * needs a _CRS that evaluates, even if empty (docs/hyperv-guest-interface.md
 * §2.1, §2.3); storvsc/netvsc/hv_utils need no MMIO window, so there is no
 * VMOD/PCI0 parent. Shape as §2.3: _HID string, _UID 0, _DDN "VMBUS",
 * _STA 0x0F, empty ResourceTemplate. */
#include <errno.h>
#include <string.h>

#include "acpi-tables.h"
#include "vmwp/acpi.h"
#include "vmwp/aml.h"

static void add_s5(struct aml *a, uint8_t slp_typ) {
        /* \_S5 (ACPI 6.5 §7.4.2.5): SLP_TYPa, SLP_TYPb, reserved, reserved. */
        aml_name(a, "\\_S5");
        aml_package_open(a, 4);
        aml_integer(a, slp_typ);
        aml_integer(a, slp_typ);
        aml_integer(a, 0);
        aml_integer(a, 0);
        aml_close(a);
}

static void add_vmbus(struct aml *a) {
        aml_device_open(a, "VMBS");
        aml_name(a, "_HID");
        aml_string(a, "VMBus");
        aml_name(a, "_UID");
        aml_integer(a, 0);
        aml_name(a, "_DDN");
        aml_string(a, "VMBUS");
        aml_name(a, "_STA");
        aml_integer(a, 0x0f);
        aml_name(a, "_CRS");
        aml_buffer_open(a);
        aml_res_end(a);
        aml_close(a);
        aml_close(a);
}

static void add_com1(struct aml *a) {
        aml_device_open(a, "COM1");
        aml_name(a, "_HID");
        aml_eisaid(a, "PNP0501"); /* 16550A-compatible COM port */
        aml_name(a, "_UID");
        aml_integer(a, 1);
        aml_name(a, "_STA");
        aml_integer(a, 0x0f);
        aml_name(a, "_CRS");
        aml_buffer_open(a);
        aml_res_io(a, ACPI_COM1_PORT, 8);
        aml_res_irq(a, ACPI_COM1_IRQ);
        aml_res_end(a);
        aml_close(a);
        aml_close(a);
}

int acpi_build_dsdt(const struct acpi_config *c, uint8_t **out, size_t *out_len) {
        struct aml a;
        aml_init(&a, ACPI_TABLES_MAX_SIZE / 2);
        /* Room for the table header, filled in by the caller. */
        static const uint8_t header[sizeof(struct acpi_header)];
        aml_bytes(&a, header, sizeof header);
        add_s5(&a, c->slp_typ_s5);
        aml_scope_open(&a, "\\_SB");
        if (c->vmbus)
                add_vmbus(&a);
        if (c->com1)
                add_com1(&a);
        aml_close(&a);
        return aml_finish(&a, out, out_len);
}
