// SPDX-License-Identifier: MIT
/* The other fw_cfg files of firmware boot (docs/firmware.md): the SMBIOS
 * tables, walked structure by structure with their strings read back (and
 * walked once more the way SeaBIOS rel-1.16.2 src/fw/biostables.c
 * smbios_next() does), the etc/e820 file, and fwtables_build()'s list. */
#include "common/guid.h"
#include "common/macro.h"
#include "common/test.h"
#include "vmwp/acpi.h"
#include "vmwp/fwtables.h"
#include "vmwp/smbios.h"

#define GIB (1ull << 30)
#define MIB (1ull << 20)
#define VM_ID "5e6f8a1c-2b3d-4e5f-8a9b-0c1d2e3f4a5b"

static uint16_t le16(const uint8_t *p) {
        return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t le32(const uint8_t *p) {
        return le16(p) | (uint32_t)le16(p + 2) << 16;
}
static uint64_t le64(const uint8_t *p) {
        return le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* One structure as a strict reader sees it. */
struct sm {
        const uint8_t *p;  /* formatted area */
        uint8_t type, len;
        const char *strings[16];
        unsigned n_strings;
        size_t total; /* formatted area, strings and the terminating NULs */
};

/* Parses the structure at off; returns its total size, or 0 if malformed. */
static size_t sm_parse(const uint8_t *t, size_t tlen, size_t off, struct sm *s) {
        *s = (struct sm){ .p = t + off };
        if (off + 4 > tlen || t[off + 1] < 4 || off + t[off + 1] + 2 > tlen)
                return 0;
        s->type = t[off];
        s->len = t[off + 1];
        size_t at = off + s->len;
        if (t[at] == 0 && t[at + 1] == 0) {
                s->total = s->len + 2;
                return s->total;
        }
        while (at < tlen && t[at] != 0) {
                const char *str = (const char *)t + at;
                size_t n = strnlen(str, tlen - at);
                if (at + n >= tlen || s->n_strings == ARRAY_SIZE(s->strings))
                        return 0;
                s->strings[s->n_strings++] = str;
                at += n + 1;
        }
        if (at >= tlen)
                return 0;
        s->total = at + 1 - off;
        return s->total;
}

static const char *sm_str(const struct sm *s, unsigned field) {
        uint8_t i = s->p[field];
        if (i == 0)
                return NULL;
        ASSERT_LE(i, s->n_strings);
        return s->strings[i - 1];
}

struct parsed {
        struct sm s[300];
        size_t n;
};

static void parse_all(const struct smbios_files *f, struct parsed *out) {
        out->n = 0;
        size_t max = 0;
        for (size_t off = 0; off < f->tables_len;) {
                ASSERT_LT(out->n, ARRAY_SIZE(out->s));
                size_t n = sm_parse(f->tables, f->tables_len, off, &out->s[out->n]);
                ASSERT_GT(n, 0u);
                max = MAX(max, n);
                off += n;
                out->n++;
        }
        ASSERT_EQ(out->s[out->n - 1].type, 127);
        /* The entry point SeaBIOS copies: "_SM_" 2.8, both checksums, the
         * table's length, count and largest structure. */
        const uint8_t *a = f->anchor;
        ASSERT_EQ(f->anchor_len, 31u);
        ASSERT_MEMEQ(a, "_SM_", 4);
        ASSERT_EQ(a[5], 31);
        ASSERT_EQ(a[6], 2);
        ASSERT_EQ(a[7], 8);
        ASSERT_EQ(acpi_checksum(a, 31), 0);
        ASSERT_MEMEQ(a + 16, "_DMI_", 5);
        ASSERT_EQ(acpi_checksum(a + 16, 15), 0);
        ASSERT_EQ(le16(a + 22), f->tables_len);
        ASSERT_EQ(le32(a + 24), 0u);
        ASSERT_EQ(le16(a + 28), out->n);
        ASSERT_EQ(le16(a + 8), max);
}

static const struct sm *find(const struct parsed *p, uint8_t type, unsigned nth) {
        for (size_t i = 0; i < p->n; i++)
                if (p->s[i].type == type && nth-- == 0)
                        return &p->s[i];
        return NULL;
}

static size_t count(const struct parsed *p, uint8_t type) {
        size_t n = 0;
        for (size_t i = 0; i < p->n; i++)
                n += p->s[i].type == type;
        return n;
}

/* SeaBIOS's smbios_next(): it must see every structure (and so the type 0,
 * in which case it adds none of its own). */
static size_t seabios_walk(const uint8_t *start, size_t length, bool *type0) {
        const uint8_t *end = start + length, *prev = NULL;
        size_t n = 0;
        *type0 = false;
        for (;;) {
                const uint8_t *p;
                if (!prev) {
                        p = start;
                } else {
                        p = prev + prev[1] + 2;
                        while (p < end && (p[-1] != 0 || p[-2] != 0))
                                p++;
                }
                if (p >= end || p + 4 >= end || p + p[1] >= end)
                        return n;
                *type0 |= p[0] == 0;
                n++;
                prev = p;
        }
}

static struct boot_ram_region ram2[2] = { { 0, 3 * GIB }, { 4 * GIB, 2 * GIB } };

static void config(struct smbios_config *c, unsigned n_cpus) {
        *c = (struct smbios_config){ .n_cpus = n_cpus, .ram = ram2, .n_ram = 2,
                                     .serial = "0000-0011-2222-3333-4444-5555-66",
                                     .asset_tag = "1234-5678-9012-3456-7890-1234-56", .sku = "vmstack" };
        ASSERT_OK(guid_from_string(VM_ID, &c->uuid));
}

TEST(smbios_says_what_hyperv_gen1_says) {
        struct smbios_config c;
        config(&c, 3);
        struct smbios_files f;
        ASSERT_OK(smbios_build(&c, &f));
        static struct parsed p;
        parse_all(&f, &p);
        const struct sm *s = find(&p, 0, 0);
        ASSERT_NOT_NULL(s);
        ASSERT_STREQ(sm_str(s, 4), "American Megatrends Inc.");
        ASSERT_STREQ(sm_str(s, 5), "090008");
        ASSERT_STREQ(sm_str(s, 8), "12/07/2018");
        ASSERT_EQ(s->p[0x13] & 0x10, 0x10); /* "a virtual machine" */
        /* Type 1: what ata_piix's piix_ignore_devices_quirk() and DMI users match. */
        s = find(&p, 1, 0);
        ASSERT_NOT_NULL(s);
        ASSERT_EQ(s->len, 27);
        ASSERT_STREQ(sm_str(s, 4), "Microsoft Corporation");
        ASSERT_STREQ(sm_str(s, 5), "Virtual Machine");
        ASSERT_STREQ(sm_str(s, 6), "7.0");
        ASSERT_STREQ(sm_str(s, 7), c.serial);
        ASSERT_STREQ(sm_str(s, 0x19), "vmstack");
        ASSERT_STREQ(sm_str(s, 0x1a), "Virtual Machine");
        /* The UUID as Linux prints an SMBIOS 2.6+ one (%pUl): the VM id. */
        const uint8_t *u = s->p + 8;
        char uuid[40];
        snprintf(uuid, sizeof uuid, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[3], u[2],
                 u[1], u[0], u[5], u[4], u[7], u[6], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
        ASSERT_STREQ(uuid, VM_ID);
        s = find(&p, 2, 0);
        ASSERT_NOT_NULL(s);
        ASSERT_STREQ(sm_str(s, 4), "Microsoft Corporation");
        ASSERT_STREQ(sm_str(s, 5), "Virtual Machine");
        ASSERT_EQ(le16(s->p + 11), 0x0300u); /* its chassis */
        s = find(&p, 3, 0);
        ASSERT_NOT_NULL(s);
        ASSERT_EQ(le16(s->p + 2), 0x0300u);
        ASSERT_STREQ(sm_str(s, 4), "Microsoft Corporation");
        ASSERT_EQ(s->p[5], 3); /* desktop */
        ASSERT_STREQ(sm_str(s, 8), c.asset_tag);
        smbios_files_free(&f);
}

TEST(smbios_describes_cpus_and_memory) {
        struct smbios_config c;
        config(&c, 3);
        struct smbios_files f;
        ASSERT_OK(smbios_build(&c, &f));
        static struct parsed p;
        parse_all(&f, &p);
        /* One processor per vCPU, named in order. */
        ASSERT_EQ(count(&p, 4), 3u);
        for (unsigned i = 0; i < 3; i++) {
                char name[16];
                snprintf(name, sizeof name, "CPU %u", i);
                ASSERT_STREQ(sm_str(find(&p, 4, i), 4), name);
                ASSERT_EQ(find(&p, 4, i)->p[0x18], 0x41); /* populated, enabled */
        }
        const struct sm *s;
        /* 5 GiB of RAM: the array, one device, a mapped range per region. */
        s = find(&p, 16, 0);
        ASSERT_EQ(le32(s->p + 7), 5 * GIB >> 10);
        s = find(&p, 17, 0);
        ASSERT_EQ(le16(s->p + 12), 5 * 1024);
        ASSERT_EQ(le16(s->p + 4), 0x1000u);
        ASSERT_EQ(count(&p, 19), 2u);
        ASSERT_EQ(le32(find(&p, 19, 0)->p + 4), 0u);
        ASSERT_EQ(le32(find(&p, 19, 0)->p + 8), (3 * GIB >> 10) - 1);
        ASSERT_EQ(le32(find(&p, 19, 1)->p + 4), 4 * GIB >> 10);
        ASSERT_EQ(le32(find(&p, 19, 1)->p + 8), (6 * GIB >> 10) - 1);
        ASSERT_EQ(count(&p, 32), 1u);
        bool type0;
        ASSERT_EQ(seabios_walk(f.tables, f.tables_len, &type0), p.n);
        ASSERT_TRUE(type0);
        smbios_files_free(&f);
}

TEST(smbios_without_optional_strings_and_with_large_memory) {
        /* 64 GiB below and 8 TiB above 4 TiB: the extended size fields. */
        struct boot_ram_region big[2] = { { 0, 64 * GIB }, { 4096 * GIB, 8192 * GIB } };
        struct smbios_config c = { .n_cpus = SMBIOS_MAX_CPUS, .ram = big, .n_ram = 2 };
        struct smbios_files f;
        ASSERT_OK(smbios_build(&c, &f));
        static struct parsed p;
        parse_all(&f, &p);
        ASSERT_EQ(count(&p, 4), SMBIOS_MAX_CPUS);
        ASSERT_NULL(sm_str(find(&p, 1, 0), 7)); /* no serial */
        ASSERT_NULL(sm_str(find(&p, 3, 0), 8)); /* no asset tag */
        const struct sm *s = find(&p, 16, 0);
        ASSERT_EQ(le32(s->p + 7), 0x80000000u);
        ASSERT_EQ(le64(s->p + 15), (64 + 8192) * GIB);
        s = find(&p, 17, 0);
        ASSERT_EQ(le16(s->p + 12), 0x7fffu);
        ASSERT_EQ(le32(s->p + 0x1c), (64 + 8192) * 1024u);
        s = find(&p, 19, 1);
        ASSERT_EQ(le32(s->p + 4), 0xffffffffu);
        ASSERT_EQ(le64(s->p + 15), 4096 * GIB);
        ASSERT_EQ(le64(s->p + 23), 12288 * GIB - 1);
        bool type0;
        ASSERT_EQ(seabios_walk(f.tables, f.tables_len, &type0), p.n);
        smbios_files_free(&f);
}

TEST(smbios_rejects_bad_configs) {
        struct smbios_config c;
        struct smbios_files f;
        char long_str[SMBIOS_STRING_MAX + 2];
        memset(long_str, 'x', sizeof long_str - 1);
        long_str[sizeof long_str - 1] = 0;
        config(&c, 0);
        ASSERT_ERROR(smbios_build(&c, &f), EINVAL);
        config(&c, SMBIOS_MAX_CPUS + 1);
        ASSERT_ERROR(smbios_build(&c, &f), EINVAL);
        config(&c, 1);
        c.serial = long_str;
        ASSERT_ERROR(smbios_build(&c, &f), EINVAL);
        long_str[SMBIOS_STRING_MAX] = 0; /* exactly the bound: fine */
        ASSERT_OK(smbios_build(&c, &f));
        smbios_files_free(&f);
        config(&c, 1);
        c.asset_tag = "tab\there";
        ASSERT_ERROR(smbios_build(&c, &f), EINVAL);
        config(&c, 1);
        c.sku = "\xc3\xa9";
        ASSERT_ERROR(smbios_build(&c, &f), EINVAL);
        struct boot_ram_region odd = { 0, 512 * MIB + 4096 };
        config(&c, 1);
        c.ram = &odd;
        c.n_ram = 1;
        ASSERT_ERROR(smbios_build(&c, &f), EINVAL);
        config(&c, 1);
        c.n_ram = 0;
        ASSERT_ERROR(smbios_build(&c, &f), EINVAL);
        struct boot_ram_region wrap = { UINT64_MAX - MIB + 1, 2 * MIB };
        c.ram = &wrap;
        c.n_ram = 1;
        ASSERT_ERROR(smbios_build(&c, &f), EINVAL);
        ASSERT_NULL(f.tables);
}

TEST(e820_file_is_the_boot_map) {
        struct boot_guest g = { .n_ram = 2, .ram = { { 0, 3 * GIB }, { 4 * GIB, 2 * GIB } } };
        uint8_t file[BOOT_E820_FILE_MAX];
        size_t len = boot_e820_file(&g, file);
        ASSERT_EQ(len, 4 * 20u);
        static const struct { uint64_t a, l; uint32_t t; } want[] = {
                { 0, 0x9fc00, 1 },
                { 0x9fc00, 0x100000 - 0x9fc00, 2 },
                { 0x100000, 3 * GIB - 0x100000, 1 },
                { 4 * GIB, 2 * GIB, 1 },
        };
        for (size_t i = 0; i < 4; i++) {
                ASSERT_EQ(le64(file + 20 * i), want[i].a);
                ASSERT_EQ(le64(file + 20 * i + 8), want[i].l);
                ASSERT_EQ(le32(file + 20 * i + 16), want[i].t);
        }
}

TEST(fwtables_lists_every_file) {
        struct fwtables_config c = { .n_ram = 2, .ram = { { 0, 3 * GIB }, { 4 * GIB, 2 * GIB } } };
        acpi_config_default(&c.acpi, 0, 2);
        config(&c.smbios, 2);
        c.smbios.ram = NULL; /* taken from c.ram */
        c.smbios.n_ram = 0;
        struct fwtables t;
        ASSERT_OK(fwtables_build(&c, &t));
        static const char *const names[] = { "etc/e820", "etc/acpi/rsdp", "etc/acpi/tables",
                                             "etc/table-loader", "etc/smbios/smbios-anchor",
                                             "etc/smbios/smbios-tables" };
        ASSERT_EQ(t.n, ARRAY_SIZE(names));
        for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
                const struct fwtables_file *f = fwtables_find(&t, names[i]);
                ASSERT_NOT_NULL(f);
                ASSERT_LT(strlen(f->name), FWTABLES_NAME_MAX);
                ASSERT_GT(f->len, 0u);
        }
        ASSERT_NULL(fwtables_find(&t, "bootorder"));
        const struct fwtables_file *e = fwtables_find(&t, "etc/e820");
        struct boot_guest g = { .n_ram = 2, .ram = { { 0, 3 * GIB }, { 4 * GIB, 2 * GIB } } };
        uint8_t want[BOOT_E820_FILE_MAX];
        ASSERT_EQ(e->len, boot_e820_file(&g, want));
        ASSERT_MEMEQ(e->data, want, e->len);
        ASSERT_EQ(fwtables_find(&t, "etc/acpi/rsdp")->len, 36u);
        ASSERT_EQ(fwtables_find(&t, "etc/smbios/smbios-anchor")->len, 31u);
        fwtables_free(&t);
        fwtables_free(&t); /* twice is fine */
        c.smbios.n_cpus = 0;
        ASSERT_ERROR(fwtables_build(&c, &t), EINVAL);
        ASSERT_EQ(t.n, 0u);
        c.smbios.n_cpus = 1;
        c.acpi.n_cpus = 0;
        ASSERT_ERROR(fwtables_build(&c, &t), EINVAL);
        ASSERT_EQ(t.n, 0u);
}

TEST_MAIN();
