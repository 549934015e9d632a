/* SPDX-License-Identifier: MIT */
/* SMBIOS 2.8 structure layouts (DMTF DSP0134 2.8.0), private to
 * vmwp/smbios.c. Field names follow the specification; each struct is the
 * formatted area whose length goes into the header, the strings follow it. */
#pragma once

#include <stdint.h>

#include "common/macro.h"

/* §5.2.1 the 32-bit entry point ("_SM_"), 31 bytes. */
struct smbios_ep21 {
        char anchor[4]; /* "_SM_" */
        uint8_t checksum;
        uint8_t length; /* 0x1f */
        uint8_t major, minor;
        uint16_t max_structure_size;
        uint8_t revision;
        uint8_t formatted[5];
        char intermediate_anchor[5]; /* "_DMI_" */
        uint8_t intermediate_checksum;
        uint16_t table_length;
        uint32_t table_address;
        uint16_t n_structures;
        uint8_t bcd_revision;
} _packed_;
ASSERT_SIZE(struct smbios_ep21, 31);
ASSERT_OFFSET(struct smbios_ep21, intermediate_anchor, 16);
ASSERT_OFFSET(struct smbios_ep21, table_length, 22);

struct smbios_header {
        uint8_t type, length;
        uint16_t handle;
} _packed_;

/* §7.1 BIOS Information (2.4+: 24 bytes). */
struct smbios_type0 {
        struct smbios_header h;
        uint8_t vendor, version;
        uint16_t start_segment;
        uint8_t release_date, rom_size;
        uint64_t characteristics;
        uint8_t ext1, ext2;
        uint8_t bios_major, bios_minor, ec_major, ec_minor;
} _packed_;
ASSERT_SIZE(struct smbios_type0, 24);

/* §7.2 System Information (2.4+: 27 bytes). */
struct smbios_type1 {
        struct smbios_header h;
        uint8_t manufacturer, product, version, serial;
        uint8_t uuid[16];
        uint8_t wakeup_type;
        uint8_t sku, family;
} _packed_;
ASSERT_SIZE(struct smbios_type1, 27);
ASSERT_OFFSET(struct smbios_type1, uuid, 8);

/* §7.3 Baseboard Information, no contained handles (15 bytes). */
struct smbios_type2 {
        struct smbios_header h;
        uint8_t manufacturer, product, version, serial, asset_tag;
        uint8_t feature_flags, location;
        uint16_t chassis_handle;
        uint8_t board_type, n_contained;
} _packed_;
ASSERT_SIZE(struct smbios_type2, 15);

/* §7.4 System Enclosure, no contained elements, with the 2.7 SKU string
 * (0x15 + 0 * m + 1 = 22 bytes). */
struct smbios_type3 {
        struct smbios_header h;
        uint8_t manufacturer, type, version, serial, asset_tag;
        uint8_t bootup_state, power_state, thermal_state, security_status;
        uint32_t oem;
        uint8_t height, n_power_cords, n_contained, contained_length;
        uint8_t sku;
} _packed_;
ASSERT_SIZE(struct smbios_type3, 22);

/* §7.5 Processor Information (2.6+: 42 bytes). */
struct smbios_type4 {
        struct smbios_header h;
        uint8_t socket, processor_type, family, manufacturer;
        uint64_t processor_id;
        uint8_t version, voltage;
        uint16_t external_clock, max_speed, current_speed;
        uint8_t status, upgrade;
        uint16_t l1_handle, l2_handle, l3_handle;
        uint8_t serial, asset_tag, part_number;
        uint8_t core_count, core_enabled, thread_count;
        uint16_t characteristics, family2;
} _packed_;
ASSERT_SIZE(struct smbios_type4, 42);

/* §7.17 Physical Memory Array (2.7+: 23 bytes). */
struct smbios_type16 {
        struct smbios_header h;
        uint8_t location, use, error_correction;
        uint32_t max_capacity_kib; /* 0x80000000: see the extended field */
        uint16_t error_handle;
        uint16_t n_devices;
        uint64_t extended_max_capacity; /* bytes */
} _packed_;
ASSERT_SIZE(struct smbios_type16, 23);

/* §7.18 Memory Device (2.8: 40 bytes). */
struct smbios_type17 {
        struct smbios_header h;
        uint16_t array_handle, error_handle;
        uint16_t total_width, data_width;
        uint16_t size_mib; /* 0x7fff: see the extended field */
        uint8_t form_factor, device_set;
        uint8_t device_locator, bank_locator;
        uint8_t memory_type;
        uint16_t type_detail;
        uint16_t speed;
        uint8_t manufacturer, serial, asset_tag, part_number;
        uint8_t attributes;
        uint32_t extended_size_mib;
        uint16_t configured_speed;
        uint16_t min_voltage, max_voltage, configured_voltage;
} _packed_;
ASSERT_SIZE(struct smbios_type17, 40);

/* §7.20 Memory Array Mapped Address (2.7+: 31 bytes). */
struct smbios_type19 {
        struct smbios_header h;
        uint32_t start_kib, end_kib; /* 0xffffffff: see the extended fields */
        uint16_t array_handle;
        uint8_t partition_width;
        uint64_t extended_start, extended_end; /* bytes, end inclusive */
} _packed_;
ASSERT_SIZE(struct smbios_type19, 31);

/* §7.33 System Boot Information (11 bytes: no errors detected). */
struct smbios_type32 {
        struct smbios_header h;
        uint8_t reserved[6];
        uint8_t status;
} _packed_;
ASSERT_SIZE(struct smbios_type32, 11);
