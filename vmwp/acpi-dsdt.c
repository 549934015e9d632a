// SPDX-License-Identifier: MIT
/* The DSDT: \_S5 for ACPI power-off, the VMBus device, COM1 and the
 * emulated legacy devices (docs/emulated-devices.md): the i8042 keyboard
 * controller (PNP0303: Linux's i8042 driver finds it through PNP), the
 * CMOS RTC (PNP0B00: rtc_cmos), and, with IDE disks, PCI bus 0 behind a
 * PNP0A03 host bridge. Linux with ACPI scans PCI only below such a bridge
 * (pci_acpi_init() sets up ACPI IRQ routing and skips the legacy conf1
 * scan), and takes the windows for BARs from its _CRS: bus 0, the conf1
 * ports, and I/O below and above them (the bus-master BAR at 0xC000). The
 * IDE function is in compatibility mode with no interrupt pin, so no _PRT.
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

static void add_vmbus(struct aml *a, const struct acpi_config *c) {
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
        if (c->vmbus_mmio_size)
                aml_res_dword_memory(a, c->vmbus_mmio_base, c->vmbus_mmio_base + c->vmbus_mmio_size - 1);
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

static void add_i8042(struct aml *a) {
        aml_device_open(a, "PS2K");
        aml_name(a, "_HID");
        aml_eisaid(a, "PNP0303"); /* IBM enhanced (101/102-key, PS/2) keyboard controller */
        aml_name(a, "_STA");
        aml_integer(a, 0x0f);
        aml_name(a, "_CRS");
        aml_buffer_open(a);
        aml_res_io(a, ACPI_I8042_DATA_PORT, 1);
        aml_res_io(a, ACPI_I8042_CMD_PORT, 1);
        aml_res_irq(a, ACPI_I8042_IRQ);
        aml_res_end(a);
        aml_close(a);
        aml_close(a);
}

static void add_rtc(struct aml *a) {
        aml_device_open(a, "RTC");
        aml_name(a, "_HID");
        aml_eisaid(a, "PNP0B00"); /* AT real-time clock */
        aml_name(a, "_STA");
        aml_integer(a, 0x0f);
        aml_name(a, "_CRS");
        aml_buffer_open(a);
        aml_res_io(a, ACPI_RTC_PORT, 2);
        aml_res_irq(a, ACPI_RTC_IRQ);
        aml_res_end(a);
        aml_close(a);
        aml_close(a);
}

static void add_pci0(struct aml *a, const struct acpi_config *c) {
        aml_device_open(a, "PCI0");
        aml_name(a, "_HID");
        aml_eisaid(a, "PNP0A03"); /* PCI bus */
        aml_name(a, "_UID");
        aml_integer(a, 0);
        aml_name(a, "_BBN");
        aml_integer(a, 0);
        aml_name(a, "_CRS");
        aml_buffer_open(a);
        aml_res_word_bus(a, 0, 0);
        aml_res_io(a, ACPI_PCI_CONF1_PORT, 8);
        aml_res_word_io(a, 0x0000, ACPI_PCI_CONF1_PORT - 1);
        aml_res_word_io(a, ACPI_PCI_CONF1_PORT + 8, 0xffff);
        if (c->pci_mem_size) /* where BARs may lie (the video function's) */
                aml_res_dword_memory(a, c->pci_mem_base, c->pci_mem_base + c->pci_mem_size - 1);
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
                add_vmbus(&a, c);
        if (c->com1)
                add_com1(&a);
        if (c->i8042)
                add_i8042(&a);
        if (c->rtc)
                add_rtc(&a);
        if (c->pci)
                add_pci0(&a, c);
        aml_close(&a);
        return aml_finish(&a, out, out_len);
}
