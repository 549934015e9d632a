/* SPDX-License-Identifier: MIT */
/* SMBIOS tables for firmware boot (docs/firmware.md "SMBIOS"): what a
 * Hyper-V Generation 1 VM says about itself (system "Microsoft Corporation"
 * / "Virtual Machine", which Linux's ata_piix keys on), as the two fw_cfg
 * files SeaBIOS 1.16 reads (src/fw/biostables.c smbios_romfile_setup()):
 * a 31-byte SMBIOS 2.8 entry point "_SM_" whose table address SeaBIOS fills
 * in, and the structures, whose length must equal the entry point's
 * structure table length. smbios_build() is a pure function. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/guid.h"
#include "vmwp/boot.h"

#define SMBIOS_ANCHOR_FILE "etc/smbios/smbios-anchor"
#define SMBIOS_TABLES_FILE "etc/smbios/smbios-tables"
#define SMBIOS_STRING_MAX 64u   /* bytes of a configured string, printable ASCII */
#define SMBIOS_MAX_CPUS 256u    /* type 4 structures */
#define SMBIOS_TABLES_MAX 0xffffu /* the 2.x entry point's 16-bit table length */

struct smbios_config {
        struct guid uuid; /* the VM id; its wire form is SMBIOS 2.6+'s UUID byte order */
        unsigned n_cpus;  /* 1..SMBIOS_MAX_CPUS */
        /* The VM's RAM (boot_guest's regions): one type 19 each, their sum
         * the type 16 array's and the type 17 device's size, whole MiB. */
        const struct boot_ram_region *ram;
        size_t n_ram;     /* 1..BOOT_MAX_RAM_REGIONS */
        /* NULL or "": none. At most SMBIOS_STRING_MAX bytes of 0x20-0x7e.
         * The serial goes to the system, baseboard and chassis (as on
         * Hyper-V); a serial "ds=nocloud;..." is a cloud-init NoCloud seed. */
        const char *serial;
        const char *asset_tag; /* the chassis asset tag */
        const char *sku;       /* the system SKU number */
};

struct smbios_files {
        uint8_t *anchor, *tables; /* malloc()ed */
        size_t anchor_len, tables_len;
};

/* Returns 0, -EINVAL for a bad config (a string too long or not printable,
 * no CPU or too many, RAM not whole MiB), -E2BIG if the tables would pass
 * SMBIOS_TABLES_MAX, -ENOMEM. */
int smbios_build(const struct smbios_config *c, struct smbios_files *out);
void smbios_files_free(struct smbios_files *f);
