// SPDX-License-Identifier: MIT
/* The fw_cfg files of firmware boot, from the builders that own each
 * format: boot_e820_file(), acpi_loader_build(), smbios_build(). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "vmwp/fwtables.h"

void fwtables_free(struct fwtables *t) {
        for (size_t i = 0; i < t->n && i < FWTABLES_MAX_FILES; i++)
                free(t->files[i].data);
        *t = (struct fwtables){ 0 };
}

const struct fwtables_file *fwtables_find(const struct fwtables *t, const char *name) {
        for (size_t i = 0; i < t->n && i < FWTABLES_MAX_FILES; i++)
                if (strcmp(t->files[i].name, name) == 0)
                        return &t->files[i];
        return NULL;
}

/* The struct owns data from here on (fwtables_free() frees it). */
static void add(struct fwtables *t, const char *name, uint8_t *data, size_t len) {
        t->files[t->n++] = (struct fwtables_file){ .name = name, .data = data, .len = len };
}

static int add_e820(const struct fwtables_config *c, struct fwtables *out) {
        struct boot_guest g = { .n_ram = MIN(c->n_ram, (size_t)BOOT_MAX_RAM_REGIONS) };
        memcpy(g.ram, c->ram, sizeof g.ram);
        uint8_t *e = malloc(BOOT_E820_FILE_MAX);
        if (!e)
                return -ENOMEM;
        add(out, BOOT_E820_FILE, e, boot_e820_file(&g, e));
        return 0;
}

int fwtables_build(const struct fwtables_config *c, struct fwtables *out) {
        *out = (struct fwtables){ 0 };
        if (c->n_ram == 0 || c->n_ram > BOOT_MAX_RAM_REGIONS)
                return -EINVAL;
        struct acpi_loader_files a;
        struct smbios_files s;
        struct smbios_config sc = c->smbios;
        sc.ram = c->ram;
        sc.n_ram = c->n_ram;
        int r = add_e820(c, out);
        if (r < 0)
                return r;
        if ((r = acpi_loader_build(&c->acpi, &a)) < 0) {
                fwtables_free(out);
                return r;
        }
        add(out, ACPI_LOADER_RSDP_FILE, a.rsdp, a.rsdp_len);
        add(out, ACPI_LOADER_TABLES_FILE, a.tables, a.tables_len);
        add(out, ACPI_LOADER_SCRIPT_FILE, a.script, a.script_len);
        if ((r = smbios_build(&sc, &s)) < 0) {
                fwtables_free(out);
                return r;
        }
        add(out, SMBIOS_ANCHOR_FILE, s.anchor, s.anchor_len);
        add(out, SMBIOS_TABLES_FILE, s.tables, s.tables_len);
        return 0;
}
