/* SPDX-License-Identifier: MIT */
/* The fw_cfg files firmware boot needs from the worker's own tables
 * (docs/firmware.md): the memory map (BOOT_E820_FILE), the ACPI tables in
 * the BIOS linker/loader form (ACPI_LOADER_*_FILE, docs/acpi.md "Two
 * forms") and the SMBIOS tables (SMBIOS_*_FILE). fwtables_build() is a pure
 * function of the VM's configuration; the caller hands each file, as
 * (name, data, len), to the fw_cfg device. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "vmwp/acpi.h"
#include "vmwp/boot.h"
#include "vmwp/smbios.h"

#define FWTABLES_MAX_FILES 6u
#define FWTABLES_NAME_MAX 56u /* fw_cfg's file name field, NUL included */

struct fwtables_file {
        const char *name; /* a string constant, shorter than FWTABLES_NAME_MAX */
        uint8_t *data;    /* malloc()ed, owned by struct fwtables */
        size_t len;
};

struct fwtables {
        size_t n;
        struct fwtables_file files[FWTABLES_MAX_FILES];
};

struct fwtables_config {
        struct acpi_config acpi;     /* as for direct boot; base is not used */
        struct smbios_config smbios; /* its ram/n_ram are ignored: taken from here */
        struct boot_ram_region ram[BOOT_MAX_RAM_REGIONS];
        size_t n_ram;
};

/* Fills out with etc/e820, etc/acpi/rsdp, etc/acpi/tables,
 * etc/table-loader, etc/smbios/smbios-anchor and etc/smbios/smbios-tables.
 * Returns 0 or what acpi_loader_build()/smbios_build() return (-EINVAL for
 * a bad config); on error out holds nothing. */
int fwtables_build(const struct fwtables_config *c, struct fwtables *out);
/* Frees the files; accepts a zeroed or already freed struct. */
void fwtables_free(struct fwtables *t);
/* The file called name, or NULL. */
const struct fwtables_file *fwtables_find(const struct fwtables *t, const char *name);
