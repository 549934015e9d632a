/* SPDX-License-Identifier: MIT */
/* ACPI tables generated at start-up (docs/acpi.md): RSDP (v2), XSDT, FADT
 * (revision 6, full hardware model: PM1a event/control blocks, PM timer,
 * reset register), FACS, MADT and a DSDT with \_S5, the VMBus device
 * (docs/hyperv-guest-interface.md §2.1, §2.3) and COM1.
 *
 * acpi_build() is a pure function: it lays the tables out in a caller
 * buffer that will be copied to guest physical address `base`, fixing up
 * every pointer and checksum and recording where each is (struct
 * acpi_layout), from which acpi_loader_build() makes the same tables for
 * firmware (docs/acpi.md "Two forms"). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACPI_TABLES_MAX_SIZE (64u * 1024u)
#define ACPI_MAX_CPUS 64u
#define ACPI_IOAPIC_BASE 0xfec00000u
#define ACPI_LAPIC_BASE 0xfee00000u
#define ACPI_SCI_IRQ 9u
#define ACPI_COM1_PORT 0x3f8u
#define ACPI_COM1_IRQ 4u
#define ACPI_I8042_DATA_PORT 0x60u
#define ACPI_I8042_CMD_PORT 0x64u
#define ACPI_I8042_IRQ 1u
#define ACPI_RTC_PORT 0x70u
#define ACPI_RTC_IRQ 8u
#define ACPI_RTC_CENTURY 0x32u /* the CMOS century byte (FADT CENTURY) */
#define ACPI_PCI_CONF1_PORT 0xcf8u
/* The VMBus MMIO window a VM with a synthetic video device gets: 256 MiB
 * of the MMIO hole below the IOAPIC, vid's reserved page and the range
 * Linux truncates for a vTPM (0xfed40000). */
#define ACPI_VMBUS_MMIO_BASE 0xe0000000u
#define ACPI_VMBUS_MMIO_SIZE 0x10000000u
/* BAR0 of Hyper-V's PCI video function (emu/pci.h), for guests without
 * EFI: the first 16 MiB of that window (the VRAM's size), which hv_vmbus
 * reserves for the frame buffer and Linux's video drivers then take for
 * the VRAM (docs/video.md). */
#define ACPI_VIDEO_BAR_BASE ACPI_VMBUS_MMIO_BASE
#define ACPI_VIDEO_BAR_SIZE 0x01000000u

struct acpi_config {
        uint64_t base;        /* guest physical address of buf[0]; below 4 GiB */
        unsigned n_cpus;      /* 1..ACPI_MAX_CPUS, APIC ids 0..n-1 */
        uint16_t pm1a_evt_port, pm1a_cnt_port, pm_tmr_port, reset_port;
        uint8_t reset_value;
        uint8_t slp_typ_s5;
        bool com1;            /* describe COM1 in the DSDT */
        bool vmbus;           /* describe the VMBus device in the DSDT */
        /* The VMBus device's MMIO window (its _CRS), from which Linux
         * places a device's MMIO (the synthetic video's VRAM:
         * vmbus_allocate_mmio); size 0: none (an empty _CRS). */
        uint32_t vmbus_mmio_base, vmbus_mmio_size;
        /* Emulated devices (docs/emulated-devices.md): the i8042 (PNP0303,
         * FADT 8042 flag), the CMOS RTC (PNP0B00, FADT CENTURY), and PCI
         * bus 0 behind a PNP0A03 host bridge (the IDE controller's PIIX3
         * functions, reached through configuration mechanism #1), with a
         * memory window for PCI BARs (size 0: none). */
        bool i8042;
        bool rtc;
        bool pci;
        uint32_t pci_mem_base, pci_mem_size;
};

/* Where each table landed (offsets into buf). */
struct acpi_table_ref {
        char sig[5];
        size_t offset, length;
};
/* A pointer field: `size` (4 or 8) little-endian bytes at buf[offset]
 * that hold the address of buf[target] (base + target in buf). */
struct acpi_pointer_ref {
        size_t offset, target;
        uint8_t size;
};
/* A checksum byte at buf[offset] that makes [start, start + length) sum
 * to 0, in the order they must be computed (the RSDP's 20-byte checksum
 * before its extended one, which covers it). */
struct acpi_checksum_ref {
        size_t offset, start, length;
};
#define ACPI_MAX_TABLES 8u
#define ACPI_MAX_POINTERS 8u  /* RSDP 1, XSDT 2, FADT 4 */
#define ACPI_MAX_CHECKSUMS 8u /* RSDP 2, XSDT, FADT, MADT, DSDT */
struct acpi_layout {
        size_t size;        /* bytes of buf used */
        uint64_t rsdp_gpa;  /* == base: the RSDP is first (16-byte aligned) */
        size_t n_tables;
        struct acpi_table_ref tables[ACPI_MAX_TABLES]; /* RSDP, XSDT, FACP, FACS, APIC, DSDT */
        size_t n_pointers;
        struct acpi_pointer_ref pointers[ACPI_MAX_POINTERS];
        size_t n_checksums;
        struct acpi_checksum_ref checksums[ACPI_MAX_CHECKSUMS];
};

/* The fixed configuration of a vmstack VM with n_cpus vCPUs at base. */
void acpi_config_default(struct acpi_config *c, uint64_t base, unsigned n_cpus);
/* Returns 0, -EINVAL for a bad config, -ENOSPC if buf is too small. */
int acpi_build(const struct acpi_config *c, uint8_t *buf, size_t size, struct acpi_layout *out);
/* The 8-bit checksum over len bytes (0 for a correct table). */
uint8_t acpi_checksum(const void *p, size_t len);
/* The same tables in QEMU's "BIOS linker/loader" form, for firmware that
 * reads them from fw_cfg (SeaBIOS, OVMF; docs/acpi.md "Two forms"): the
 * RSDP alone as ACPI_LOADER_RSDP_FILE, the other tables as
 * ACPI_LOADER_TABLES_FILE, and the script ACPI_LOADER_SCRIPT_FILE of
 * 128-byte commands: ALLOCATE each file (the RSDP in the F segment, 16-byte
 * aligned; the tables in high memory below 4 GiB, 64-byte aligned for the
 * FACS), ADD_POINTER for every pointer field (which holds its target's
 * offset in the tables file) and ADD_CHECKSUM for every checksum (whose
 * byte is 0). c->base is not used. */
#define ACPI_LOADER_RSDP_FILE "etc/acpi/rsdp"
#define ACPI_LOADER_TABLES_FILE "etc/acpi/tables"
#define ACPI_LOADER_SCRIPT_FILE "etc/table-loader"
#define ACPI_LOADER_ENTRY_SIZE 128u
#define ACPI_LOADER_ALLOCATE 1u
#define ACPI_LOADER_ADD_POINTER 2u
#define ACPI_LOADER_ADD_CHECKSUM 3u
#define ACPI_LOADER_ZONE_HIGH 1u
#define ACPI_LOADER_ZONE_FSEG 2u
struct acpi_loader_files {
        uint8_t *rsdp, *tables, *script; /* malloc()ed */
        size_t rsdp_len, tables_len, script_len;
};
/* Returns 0, -EINVAL for a bad config, -ENOMEM. */
int acpi_loader_build(const struct acpi_config *c, struct acpi_loader_files *out);
void acpi_loader_files_free(struct acpi_loader_files *f);
/* Builds only the DSDT AML (for tests and the fuzzer); free() the result. */
int acpi_build_dsdt(const struct acpi_config *c, uint8_t **out, size_t *out_len);
