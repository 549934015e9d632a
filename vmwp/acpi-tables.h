/* SPDX-License-Identifier: MIT */
/* ACPI table layouts (ACPI 6.5 §5.2), private to vmwp/acpi*.c. Field names
 * follow the specification; every struct carries its size and key offsets. */
#pragma once

#include <stdint.h>

#include "common/macro.h"

/* §5.2.5.3 Root System Description Pointer, revision 2. */
struct acpi_rsdp {
        char signature[8]; /* "RSD PTR " */
        uint8_t checksum;  /* over the first 20 bytes */
        char oem_id[6];
        uint8_t revision; /* 2 */
        uint32_t rsdt_address;
        uint32_t length; /* 36 */
        uint64_t xsdt_address;
        uint8_t extended_checksum; /* over all 36 bytes */
        uint8_t reserved[3];
} _packed_;
ASSERT_SIZE(struct acpi_rsdp, 36);
ASSERT_OFFSET(struct acpi_rsdp, xsdt_address, 24);

/* §5.2.6 System Description Table Header. */
struct acpi_header {
        char signature[4];
        uint32_t length;
        uint8_t revision;
        uint8_t checksum;
        char oem_id[6];
        char oem_table_id[8];
        uint32_t oem_revision;
        char creator_id[4];
        uint32_t creator_revision;
} _packed_;
ASSERT_SIZE(struct acpi_header, 36);

/* §5.2.3.2 Generic Address Structure. */
struct acpi_gas {
        uint8_t space_id; /* 1: system I/O */
        uint8_t bit_width;
        uint8_t bit_offset;
        uint8_t access_size; /* 1 byte, 2 word, 3 dword, 4 qword */
        uint64_t address;
} _packed_;
ASSERT_SIZE(struct acpi_gas, 12);

#define ACPI_GAS_SYSTEM_IO 1
#define ACPI_GAS_ACCESS_BYTE 1
#define ACPI_GAS_ACCESS_WORD 2
#define ACPI_GAS_ACCESS_DWORD 3

/* §5.2.9 Fixed ACPI Description Table, revision 6 (276 bytes). */
struct acpi_fadt {
        struct acpi_header h;
        uint32_t firmware_ctrl;
        uint32_t dsdt;
        uint8_t reserved0;
        uint8_t preferred_pm_profile;
        uint16_t sci_int;
        uint32_t smi_cmd;
        uint8_t acpi_enable;
        uint8_t acpi_disable;
        uint8_t s4bios_req;
        uint8_t pstate_cnt;
        uint32_t pm1a_evt_blk;
        uint32_t pm1b_evt_blk;
        uint32_t pm1a_cnt_blk;
        uint32_t pm1b_cnt_blk;
        uint32_t pm2_cnt_blk;
        uint32_t pm_tmr_blk;
        uint32_t gpe0_blk;
        uint32_t gpe1_blk;
        uint8_t pm1_evt_len;
        uint8_t pm1_cnt_len;
        uint8_t pm2_cnt_len;
        uint8_t pm_tmr_len;
        uint8_t gpe0_blk_len;
        uint8_t gpe1_blk_len;
        uint8_t gpe1_base;
        uint8_t cst_cnt;
        uint16_t p_lvl2_lat;
        uint16_t p_lvl3_lat;
        uint16_t flush_size;
        uint16_t flush_stride;
        uint8_t duty_offset;
        uint8_t duty_width;
        uint8_t day_alrm;
        uint8_t mon_alrm;
        uint8_t century;
        uint16_t iapc_boot_arch;
        uint8_t reserved1;
        uint32_t flags;
        struct acpi_gas reset_reg;
        uint8_t reset_value;
        uint16_t arm_boot_arch;
        uint8_t fadt_minor_version;
        uint64_t x_firmware_ctrl;
        uint64_t x_dsdt;
        struct acpi_gas x_pm1a_evt_blk;
        struct acpi_gas x_pm1b_evt_blk;
        struct acpi_gas x_pm1a_cnt_blk;
        struct acpi_gas x_pm1b_cnt_blk;
        struct acpi_gas x_pm2_cnt_blk;
        struct acpi_gas x_pm_tmr_blk;
        struct acpi_gas x_gpe0_blk;
        struct acpi_gas x_gpe1_blk;
        struct acpi_gas sleep_control_reg;
        struct acpi_gas sleep_status_reg;
        uint64_t hypervisor_vendor_identity;
} _packed_;
ASSERT_SIZE(struct acpi_fadt, 276);
ASSERT_OFFSET(struct acpi_fadt, sci_int, 46);
ASSERT_OFFSET(struct acpi_fadt, pm1a_evt_blk, 56);
ASSERT_OFFSET(struct acpi_fadt, pm_tmr_blk, 76);
ASSERT_OFFSET(struct acpi_fadt, pm1_evt_len, 88);
ASSERT_OFFSET(struct acpi_fadt, iapc_boot_arch, 109);
ASSERT_OFFSET(struct acpi_fadt, flags, 112);
ASSERT_OFFSET(struct acpi_fadt, reset_reg, 116);
ASSERT_OFFSET(struct acpi_fadt, reset_value, 128);
ASSERT_OFFSET(struct acpi_fadt, x_firmware_ctrl, 132);
ASSERT_OFFSET(struct acpi_fadt, x_dsdt, 140);
ASSERT_OFFSET(struct acpi_fadt, x_pm1a_evt_blk, 148);
ASSERT_OFFSET(struct acpi_fadt, x_pm_tmr_blk, 208);
ASSERT_OFFSET(struct acpi_fadt, sleep_control_reg, 244);
ASSERT_OFFSET(struct acpi_fadt, hypervisor_vendor_identity, 268);

/* FADT flags (§5.2.9 Table 5.10). */
#define ACPI_FADT_WBINVD (1u << 0)
#define ACPI_FADT_PROC_C1 (1u << 2)
#define ACPI_FADT_PWR_BUTTON (1u << 4) /* set: no fixed-feature power button */
#define ACPI_FADT_SLP_BUTTON (1u << 5) /* set: no fixed-feature sleep button */
#define ACPI_FADT_RESET_REG_SUP (1u << 10)
/* IA-PC boot architecture flags (§5.2.9.3). */
#define ACPI_IAPC_LEGACY_DEVICES (1u << 0)
#define ACPI_IAPC_8042 (1u << 1)
#define ACPI_IAPC_VGA_NOT_PRESENT (1u << 2)
#define ACPI_IAPC_CMOS_RTC_NOT_PRESENT (1u << 5)

/* §5.2.10 Firmware ACPI Control Structure. */
struct acpi_facs {
        char signature[4];
        uint32_t length; /* 64 */
        uint32_t hardware_signature;
        uint32_t firmware_waking_vector;
        uint32_t global_lock;
        uint32_t flags;
        uint64_t x_firmware_waking_vector;
        uint8_t version; /* 2 */
        uint8_t reserved[3];
        uint32_t ospm_flags;
        uint8_t reserved2[24];
} _packed_;
ASSERT_SIZE(struct acpi_facs, 64);

/* §5.2.12 MADT and its entries (§5.2.12.2, .3, .5). */
struct acpi_madt {
        struct acpi_header h;
        uint32_t local_apic_address;
        uint32_t flags; /* bit 0: PCAT_COMPAT (dual 8259s present) */
} _packed_;
ASSERT_SIZE(struct acpi_madt, 44);

struct acpi_madt_lapic {
        uint8_t type; /* 0 */
        uint8_t length; /* 8 */
        uint8_t processor_uid;
        uint8_t apic_id;
        uint32_t flags; /* bit 0: enabled */
} _packed_;
ASSERT_SIZE(struct acpi_madt_lapic, 8);

struct acpi_madt_ioapic {
        uint8_t type; /* 1 */
        uint8_t length; /* 12 */
        uint8_t ioapic_id;
        uint8_t reserved;
        uint32_t address;
        uint32_t gsi_base;
} _packed_;
ASSERT_SIZE(struct acpi_madt_ioapic, 12);

struct acpi_madt_iso {
        uint8_t type; /* 2 */
        uint8_t length; /* 10 */
        uint8_t bus;  /* 0: ISA */
        uint8_t source;
        uint32_t gsi;
        uint16_t flags; /* MPS INTI flags: bits 1-0 polarity, 3-2 trigger */
} _packed_;
ASSERT_SIZE(struct acpi_madt_iso, 10);

#define ACPI_MPS_ACTIVE_HIGH 0x1u
#define ACPI_MPS_LEVEL 0xcu

/* §5.2.8 XSDT: the header, then 64-bit table addresses. */
#define ACPI_XSDT_MAX_ENTRIES 4u

/* One command of QEMU's "BIOS linker/loader" script (etc/table-loader), as
 * SeaBIOS rel-1.16.2 src/fw/romfile_loader.h and QEMU
 * hw/acpi/bios-linker-loader.c define it: 128 bytes, little-endian, file
 * names NUL-terminated within 56 bytes. */
#define ACPI_LOADER_FILESZ 56
struct acpi_loader_entry {
        uint32_t command;
        union {
                struct {
                        char file[ACPI_LOADER_FILESZ];
                        uint32_t align; /* a power of two */
                        uint8_t zone;
                } _packed_ alloc;
                struct {
                        char dest_file[ACPI_LOADER_FILESZ];
                        char src_file[ACPI_LOADER_FILESZ];
                        uint32_t offset;
                        uint8_t size; /* 1, 2, 4 or 8 */
                } _packed_ pointer;
                struct {
                        char file[ACPI_LOADER_FILESZ];
                        uint32_t offset, start, length;
                } _packed_ cksum;
                uint8_t pad[124];
        };
} _packed_;
ASSERT_SIZE(struct acpi_loader_entry, 128);
ASSERT_OFFSET(struct acpi_loader_entry, alloc.align, 60);
ASSERT_OFFSET(struct acpi_loader_entry, alloc.zone, 64);
ASSERT_OFFSET(struct acpi_loader_entry, pointer.offset, 116);
ASSERT_OFFSET(struct acpi_loader_entry, pointer.size, 120);
ASSERT_OFFSET(struct acpi_loader_entry, cksum.offset, 60);
ASSERT_OFFSET(struct acpi_loader_entry, cksum.length, 68);
