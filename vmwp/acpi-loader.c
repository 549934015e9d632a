// SPDX-License-Identifier: MIT
/* acpi_build()'s tables in QEMU's "BIOS linker/loader" form (docs/acpi.md
 * "Two forms"), the one SeaBIOS and OVMF read from fw_cfg. acpi_build()
 * lays everything out in one buffer, the RSDP first at offset 0, and
 * records every pointer field and checksum it fills in; this file cuts
 * that buffer into the two files and turns the records into the script, so
 * there is one table builder for both forms. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acpi-tables.h"
#include "vmwp/acpi.h"

void acpi_loader_files_free(struct acpi_loader_files *f) {
        free(f->rsdp);
        free(f->tables);
        free(f->script);
        *f = (struct acpi_loader_files){ 0 };
}

static void put_le(uint8_t *p, uint64_t v, unsigned size) {
        for (unsigned i = 0; i < size; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

/* The script: ALLOCATE both files, then every ADD_POINTER, then every
 * ADD_CHECKSUM in acpi_build()'s order (a checksum covers pointer fields,
 * so it must come after them; SeaBIOS runs the commands in order). */
static int make_script(const struct acpi_layout *l, size_t rsdp_len, struct acpi_loader_files *out) {
        size_t n = 2 + l->n_pointers + l->n_checksums;
        struct acpi_loader_entry *e = calloc(n, sizeof *e);
        if (!e)
                return -ENOMEM;
        e[0].command = ACPI_LOADER_ALLOCATE;
        strcpy(e[0].alloc.file, ACPI_LOADER_RSDP_FILE);
        e[0].alloc.align = 16; /* ACPI 6.5 §5.2.5.1: 16-byte boundary in 0xE0000-0xFFFFF */
        e[0].alloc.zone = ACPI_LOADER_ZONE_FSEG;
        e[1].command = ACPI_LOADER_ALLOCATE;
        strcpy(e[1].alloc.file, ACPI_LOADER_TABLES_FILE);
        e[1].alloc.align = 64; /* §5.2.10: the FACS is 64-byte aligned, and 64-aligned in the file */
        e[1].alloc.zone = ACPI_LOADER_ZONE_HIGH;
        struct acpi_loader_entry *p = e + 2;
        for (size_t i = 0; i < l->n_pointers; i++, p++) {
                const struct acpi_pointer_ref *ptr = &l->pointers[i];
                p->command = ACPI_LOADER_ADD_POINTER;
                strcpy(p->pointer.dest_file, ptr->offset < rsdp_len ? ACPI_LOADER_RSDP_FILE : ACPI_LOADER_TABLES_FILE);
                strcpy(p->pointer.src_file, ACPI_LOADER_TABLES_FILE);
                p->pointer.offset = (uint32_t)ptr->offset;
                p->pointer.size = ptr->size;
        }
        for (size_t i = 0; i < l->n_checksums; i++, p++) {
                const struct acpi_checksum_ref *ck = &l->checksums[i];
                p->command = ACPI_LOADER_ADD_CHECKSUM;
                strcpy(p->cksum.file, ck->offset < rsdp_len ? ACPI_LOADER_RSDP_FILE : ACPI_LOADER_TABLES_FILE);
                p->cksum.offset = (uint32_t)ck->offset;
                p->cksum.start = (uint32_t)ck->start;
                p->cksum.length = (uint32_t)ck->length;
        }
        out->script = (uint8_t *)e;
        out->script_len = n * sizeof *e;
        return 0;
}

/* Pointer fields hold their target's offset in the tables file (the loader
 * adds the file's address); checksum bytes are 0 (the loader subtracts the
 * range's sum, as QEMU's bios_linker_loader_add_checksum() expects). A
 * pointer to the RSDP, or a record straddling the cut, would be a bug in
 * acpi_build(): -EINVAL rather than a script that links wrongly. */
static int relocate(const struct acpi_layout *l, size_t rsdp_len, struct acpi_loader_files *out) {
        for (size_t i = 0; i < l->n_pointers; i++) {
                const struct acpi_pointer_ref *p = &l->pointers[i];
                bool in_rsdp = p->offset < rsdp_len;
                if (p->target < rsdp_len || (in_rsdp && p->offset + p->size > rsdp_len))
                        return -EINVAL;
                put_le((in_rsdp ? out->rsdp : out->tables) + p->offset, p->target, p->size);
        }
        for (size_t i = 0; i < l->n_checksums; i++) {
                const struct acpi_checksum_ref *c = &l->checksums[i];
                bool in_rsdp = c->offset < rsdp_len;
                if (in_rsdp != (c->start < rsdp_len) || (in_rsdp && c->start + c->length > rsdp_len))
                        return -EINVAL;
                (in_rsdp ? out->rsdp : out->tables)[c->offset] = 0;
        }
        return 0;
}

int acpi_loader_build(const struct acpi_config *c, struct acpi_loader_files *out) {
        *out = (struct acpi_loader_files){ 0 };
        struct acpi_config rc = *c;
        rc.base = 0; /* addresses are the loader's business */
        _cleanup_free_ uint8_t *buf = calloc(1, ACPI_TABLES_MAX_SIZE); /* zero gaps */
        if (!buf)
                return -ENOMEM;
        struct acpi_layout l;
        int r = acpi_build(&rc, buf, ACPI_TABLES_MAX_SIZE, &l);
        if (r < 0)
                return r;
        if (l.n_tables == 0 || strcmp(l.tables[0].sig, "RSDP") != 0 || l.tables[0].offset != 0)
                return -EINVAL;
        size_t rsdp_len = l.tables[0].length;
        /* The tables file is all of buf with the RSDP's bytes zeroed: every
         * offset in buf is then its offset in the file, and the file keeps
         * buf's 64-byte alignment of the FACS. */
        out->rsdp = malloc(rsdp_len);
        out->tables = malloc(l.size);
        if (!out->rsdp || !out->tables) {
                acpi_loader_files_free(out);
                return -ENOMEM;
        }
        memcpy(out->rsdp, buf, rsdp_len);
        out->rsdp_len = rsdp_len;
        memcpy(out->tables, buf, l.size);
        memset(out->tables, 0, rsdp_len);
        out->tables_len = l.size;
        if ((r = relocate(&l, rsdp_len, out)) < 0 || (r = make_script(&l, rsdp_len, out)) < 0) {
                acpi_loader_files_free(out);
                return r;
        }
        return 0;
}
