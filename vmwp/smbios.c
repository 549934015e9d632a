// SPDX-License-Identifier: MIT
/* SMBIOS 2.8 tables saying what a Hyper-V Generation 1 VM says (why each
 * string: docs/firmware.md "SMBIOS"), for SeaBIOS through fw_cfg. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smbios-tables.h"
#include "vmwp/acpi.h"
#include "vmwp/smbios.h"

#define VENDOR "Microsoft Corporation"
#define PRODUCT "Virtual Machine"
#define VERSION "7.0"
#define BIOS_VENDOR "American Megatrends Inc."
#define BIOS_VERSION "090008"
#define BIOS_DATE "12/07/2018"

/* Handles as QEMU numbers them: type * 0x100 + index. */
#define HANDLE(type, i) ((uint16_t)((type) * 0x100u + (i)))
#define HANDLE_NONE 0xfffeu /* "not provided" (§7.17.3) */
#define HANDLE_UNKNOWN 0xffffu

/* The structure table being written: errors are sticky. */
struct writer {
        uint8_t *buf;
        size_t len, cap;
        int err;
        unsigned n_structures;
        size_t max_structure;
};

/* A structure's strings; their 1-based numbers go into its fields. */
#define MAX_STRINGS 8u
struct strings {
        const char *s[MAX_STRINGS];
        unsigned n;
};

static uint8_t str(struct strings *ss, const char *s) {
        if (!s || !*s || ss->n == MAX_STRINGS)
                return 0;
        ss->s[ss->n++] = s;
        return (uint8_t)ss->n;
}

/* Appends the formatted area and its string set (each NUL-terminated, then
 * a NUL; two NULs when there is none, §6.1.3). */
static void emit(struct writer *w, void *fixed, size_t len, const struct strings *ss) {
        if (w->err)
                return;
        size_t total = len + 1 + (ss->n ? 0 : 1);
        for (unsigned i = 0; i < ss->n; i++)
                total += strlen(ss->s[i]) + 1;
        size_t end;
        if (ADD_OVERFLOW(w->len, total, &end) || end > SMBIOS_TABLES_MAX) {
                w->err = -E2BIG;
                return;
        }
        if (end > w->cap) {
                size_t cap = MAX(end, 2 * w->cap);
                uint8_t *nb = realloc(w->buf, cap);
                if (!nb) {
                        w->err = -ENOMEM;
                        return;
                }
                w->buf = nb;
                w->cap = cap;
        }
        ((struct smbios_header *)fixed)->length = (uint8_t)len;
        uint8_t *p = w->buf + w->len;
        memcpy(p, fixed, len);
        p += len;
        for (unsigned i = 0; i < ss->n; i++) {
                size_t n = strlen(ss->s[i]) + 1;
                memcpy(p, ss->s[i], n);
                p += n;
        }
        *p++ = 0;
        if (!ss->n)
                *p = 0;
        w->len = end;
        w->n_structures++;
        w->max_structure = MAX(w->max_structure, total);
}

static void bios_info(struct writer *w) {
        struct strings ss = { 0 };
        struct smbios_type0 t = {
                .h = { .type = 0, .handle = HANDLE(0, 0) },
                .vendor = str(&ss, BIOS_VENDOR),
                .version = str(&ss, BIOS_VERSION),
                .start_segment = 0xf000,
                .release_date = str(&ss, BIOS_DATE),
                .rom_size = 3, /* 64 KiB * (n + 1): bios-256k.bin */
                /* ISA, PCI, boot from CD, selectable boot, EDD (bits 4, 7, 15, 16, 19) */
                .characteristics = (1u << 4) | (1u << 7) | (1u << 15) | (1u << 16) | (1u << 19),
                .ext1 = 0x01, /* ACPI */
                .ext2 = 0x14, /* targeted content distribution; a virtual machine (2.7) */
                .bios_major = 0xff, .bios_minor = 0xff, .ec_major = 0xff, .ec_minor = 0xff,
        };
        emit(w, &t, sizeof t, &ss);
}

static void system_info(struct writer *w, const struct smbios_config *c) {
        struct strings ss = { 0 };
        struct smbios_type1 t = {
                .h = { .type = 1, .handle = HANDLE(1, 0) },
                .manufacturer = str(&ss, VENDOR),
                .product = str(&ss, PRODUCT),
                .version = str(&ss, VERSION),
                .serial = str(&ss, c->serial),
                .wakeup_type = 6, /* power switch */
                .sku = str(&ss, c->sku),
                .family = str(&ss, PRODUCT),
        };
        memcpy(t.uuid, c->uuid.b, sizeof t.uuid);
        emit(w, &t, sizeof t, &ss);
}

static void board_and_chassis(struct writer *w, const struct smbios_config *c) {
        struct strings ss = { 0 };
        struct smbios_type2 b = {
                .h = { .type = 2, .handle = HANDLE(2, 0) },
                .manufacturer = str(&ss, VENDOR),
                .product = str(&ss, PRODUCT),
                .version = str(&ss, VERSION),
                .serial = str(&ss, c->serial),
                .feature_flags = 0x01, /* hosting board */
                .chassis_handle = HANDLE(3, 0),
                .board_type = 0x0a, /* motherboard */
        };
        emit(w, &b, sizeof b, &ss);
        ss = (struct strings){ 0 };
        struct smbios_type3 t = {
                .h = { .type = 3, .handle = HANDLE(3, 0) },
                .manufacturer = str(&ss, VENDOR),
                .type = 0x03, /* desktop */
                .version = str(&ss, VERSION),
                .serial = str(&ss, c->serial),
                .asset_tag = str(&ss, c->asset_tag),
                .bootup_state = 0x03, .power_state = 0x03, .thermal_state = 0x03, /* safe */
                .security_status = 0x03, /* none */
        };
        emit(w, &t, sizeof t, &ss);
}

static void processors(struct writer *w, unsigned n_cpus) {
        for (unsigned i = 0; i < n_cpus; i++) {
                char socket[16];
                snprintf(socket, sizeof socket, "CPU %u", i);
                struct strings ss = { 0 };
                struct smbios_type4 t = {
                        .h = { .type = 4, .handle = HANDLE(4, i) },
                        .socket = str(&ss, socket),
                        .processor_type = 0x03, /* central processor */
                        .family = 0x01, .family2 = 0x01, /* other: the guest asks CPUID */
                        .status = 0x41, /* socket populated, CPU enabled */
                        .upgrade = 0x01, /* other */
                        .l1_handle = HANDLE_UNKNOWN, .l2_handle = HANDLE_UNKNOWN, .l3_handle = HANDLE_UNKNOWN,
                        .core_count = 1, .core_enabled = 1, .thread_count = 1,
                        .characteristics = 0x04, /* 64-bit capable */
                };
                emit(w, &t, sizeof t, &ss);
        }
}

static void memory(struct writer *w, const struct smbios_config *c, uint64_t total) {
        struct strings ss = { 0 };
        uint64_t kib = total >> 10, mib = total >> 20;
        struct smbios_type16 a = {
                .h = { .type = 16, .handle = HANDLE(16, 0) },
                .location = 0x03, .use = 0x03, .error_correction = 0x03, /* board, system memory, none */
                .max_capacity_kib = kib < 0x80000000u ? (uint32_t)kib : 0x80000000u,
                .error_handle = HANDLE_NONE,
                .n_devices = 1,
                .extended_max_capacity = kib < 0x80000000u ? 0 : total,
        };
        emit(w, &a, sizeof a, &ss);
        struct smbios_type17 d = {
                .h = { .type = 17, .handle = HANDLE(17, 0) },
                .array_handle = HANDLE(16, 0), .error_handle = HANDLE_NONE,
                .total_width = 0xffff, .data_width = 0xffff, /* unknown */
                .size_mib = mib < 0x7fff ? (uint16_t)mib : 0x7fff,
                .form_factor = 0x09, /* DIMM */
                .device_locator = str(&ss, "DIMM 0"),
                .memory_type = 0x07, /* RAM */
                .type_detail = 0x0002, /* other */
                .extended_size_mib = mib < 0x7fff ? 0 : (uint32_t)mib,
        };
        emit(w, &d, sizeof d, &ss);
        ss = (struct strings){ 0 };
        for (size_t i = 0; i < c->n_ram; i++) {
                uint64_t start = c->ram[i].gpa, last = start + c->ram[i].size - 1;
                bool ext = (last >> 10) >= 0xffffffffu;
                struct smbios_type19 m = {
                        .h = { .type = 19, .handle = HANDLE(19, i) },
                        .start_kib = ext ? 0xffffffffu : (uint32_t)(start >> 10),
                        .end_kib = ext ? 0xffffffffu : (uint32_t)(last >> 10),
                        .array_handle = HANDLE(16, 0),
                        .partition_width = 1,
                        .extended_start = ext ? start : 0,
                        .extended_end = ext ? last : 0,
                };
                emit(w, &m, sizeof m, &ss);
        }
}

static void boot_info_and_end(struct writer *w) {
        struct strings ss = { 0 };
        struct smbios_type32 b = { .h = { .type = 32, .handle = HANDLE(32, 0) } };
        emit(w, &b, sizeof b, &ss);
        struct smbios_header end = { .type = 127, .handle = HANDLE(127, 0) };
        emit(w, &end, sizeof end, &ss);
}

static bool string_ok(const char *s) {
        if (!s)
                return true;
        size_t n = strnlen(s, SMBIOS_STRING_MAX + 1);
        if (n > SMBIOS_STRING_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] < 0x20 || s[i] > 0x7e)
                        return false;
        return true;
}

/* The RAM's total, or 0 for a bad layout (none, too many regions, empty,
 * overflowing or not whole MiB). */
static uint64_t ram_total(const struct smbios_config *c) {
        uint64_t total = 0;
        if (!c->ram || c->n_ram == 0 || c->n_ram > BOOT_MAX_RAM_REGIONS)
                return 0;
        for (size_t i = 0; i < c->n_ram; i++) {
                uint64_t end;
                const struct boot_ram_region *r = &c->ram[i];
                if (r->size == 0 || ((r->gpa | r->size) & 0xfffff) || ADD_OVERFLOW(r->gpa, r->size, &end) ||
                    ADD_OVERFLOW(total, r->size, &total))
                        return 0;
        }
        return total;
}

static void make_anchor(uint8_t out[static sizeof(struct smbios_ep21)], const struct writer *w) {
        struct smbios_ep21 ep = {
                .length = sizeof ep, .major = 2, .minor = 8,
                .max_structure_size = (uint16_t)w->max_structure,
                .table_length = (uint16_t)w->len,
                .table_address = 0, /* SeaBIOS places the table and fills this in */
                .n_structures = (uint16_t)w->n_structures,
                .bcd_revision = 0x28,
        };
        memcpy(ep.anchor, "_SM_", 4);
        memcpy(ep.intermediate_anchor, "_DMI_", 5);
        memcpy(out, &ep, sizeof ep);
        /* §5.2.1: the intermediate checksum covers bytes 0x10-0x1e, the
         * entry point checksum all of it (SeaBIOS redoes both). */
        out[0x15] = (uint8_t)-acpi_checksum(out + 0x10, sizeof ep - 0x10);
        out[4] = (uint8_t)-acpi_checksum(out, sizeof ep);
}

void smbios_files_free(struct smbios_files *f) {
        free(f->anchor);
        free(f->tables);
        *f = (struct smbios_files){ 0 };
}

int smbios_build(const struct smbios_config *c, struct smbios_files *out) {
        *out = (struct smbios_files){ 0 };
        uint64_t total = ram_total(c);
        if (c->n_cpus == 0 || c->n_cpus > SMBIOS_MAX_CPUS || total == 0 || !string_ok(c->serial) ||
            !string_ok(c->asset_tag) || !string_ok(c->sku))
                return -EINVAL;
        struct writer w = { 0 };
        bios_info(&w);
        system_info(&w, c);
        board_and_chassis(&w, c);
        processors(&w, c->n_cpus);
        memory(&w, c, total);
        boot_info_and_end(&w);
        if (w.err) {
                free(w.buf);
                return w.err;
        }
        out->anchor = malloc(sizeof(struct smbios_ep21));
        if (!out->anchor) {
                free(w.buf);
                return -ENOMEM;
        }
        make_anchor(out->anchor, &w);
        out->anchor_len = sizeof(struct smbios_ep21);
        out->tables = w.buf;
        out->tables_len = w.len;
        return 0;
}
