// SPDX-License-Identifier: MIT
/* The ACPI tables in QEMU's BIOS linker/loader form (docs/acpi.md "Two
 * forms"), run through a small loader written here from SeaBIOS rel-1.16.2
 * src/fw/romfile_loader.c's semantics: ALLOCATE copies a file into the F
 * segment or high memory at the alignment asked, ADD_POINTER adds the
 * source file's address to a little-endian field, ADD_CHECKSUM subtracts a
 * range's sum from a byte. What it leaves in memory must be exactly what
 * the direct form builds for the addresses it chose. The loader checks
 * every command and refuses malformed ones (SeaBIOS warns and skips them);
 * its own tests feed it those. */
#include "common/macro.h"
#include "common/test.h"
#include "vmwp/acpi.h"

#define LD_ENTRY 128u
#define LD_NAME 56u
#define LD_MAX_FILES 4u

struct ld_file {
        const char *name;
        const uint8_t *data;
        size_t len;
        uint8_t *mem;  /* after ALLOCATE: the copy in "guest memory" */
        uint64_t addr; /* and its address */
};

struct loader {
        struct ld_file files[LD_MAX_FILES];
        size_t n;
        uint64_t fseg_next, high_next;
};

static uint32_t le32(const uint8_t *p) {
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p) {
        return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void loader_init(struct loader *ld) {
        *ld = (struct loader){ .fseg_next = 0xf5c08, .high_next = 0x3fff0008 }; /* deliberately unaligned */
}

static void loader_add(struct loader *ld, const char *name, const uint8_t *data, size_t len) {
        ASSERT_LT(ld->n, LD_MAX_FILES);
        ld->files[ld->n++] = (struct ld_file){ .name = name, .data = data, .len = len };
}

static void loader_free(struct loader *ld) {
        for (size_t i = 0; i < ld->n; i++)
                free(ld->files[i].mem);
}

/* A file named by a 56-byte field: NULL unless NUL-terminated and known. */
static struct ld_file *ld_find(struct loader *ld, const uint8_t *field) {
        if (memchr(field, 0, LD_NAME) == NULL)
                return NULL;
        for (size_t i = 0; i < ld->n; i++)
                if (strcmp(ld->files[i].name, (const char *)field) == 0)
                        return &ld->files[i];
        return NULL;
}

static int ld_allocate(struct loader *ld, const uint8_t *e) {
        struct ld_file *f = ld_find(ld, e + 4);
        uint32_t align = le32(e + 60);
        uint8_t zone = e[64];
        if (!f || f->mem || f->len == 0 || (align & (align - 1)) || (zone != 1 && zone != 2))
                return -EINVAL;
        align = MAX(align, 16u); /* SeaBIOS's MALLOC_MIN_ALIGN */
        uint64_t *next = zone == 2 ? &ld->fseg_next : &ld->high_next;
        f->addr = ALIGN_UP(*next, (uint64_t)align);
        *next = f->addr + f->len + 8; /* leave the next one unaligned again */
        if (zone == 2 && f->addr + f->len > 0x100000)
                return -ENOSPC;
        f->mem = malloc(f->len);
        ASSERT_NOT_NULL(f->mem);
        memcpy(f->mem, f->data, f->len);
        return 0;
}

static int ld_add_pointer(struct loader *ld, const uint8_t *e) {
        struct ld_file *dst = ld_find(ld, e + 4), *src = ld_find(ld, e + 4 + LD_NAME);
        uint32_t off = le32(e + 116);
        uint8_t size = e[120];
        if (!dst || !src || !dst->mem || !src->mem || size == 0 || size > 8 || (size & (size - 1)) ||
            (uint64_t)off + size > dst->len)
                return -EINVAL;
        uint64_t v = 0;
        for (unsigned i = 0; i < size; i++)
                v |= (uint64_t)dst->mem[off + i] << (8 * i);
        v += src->addr;
        /* Stricter than SeaBIOS, which truncates: the field must hold it. */
        if (size < 8 && (v >> (8 * size)) != 0)
                return -ERANGE;
        for (unsigned i = 0; i < size; i++)
                dst->mem[off + i] = (uint8_t)(v >> (8 * i));
        return 0;
}

static int ld_add_checksum(struct loader *ld, const uint8_t *e) {
        struct ld_file *f = ld_find(ld, e + 4);
        uint32_t off = le32(e + 60), start = le32(e + 64), len = le32(e + 68);
        if (!f || !f->mem || off >= f->len || (uint64_t)start + len > f->len)
                return -EINVAL;
        f->mem[off] = (uint8_t)(f->mem[off] - acpi_checksum(f->mem + start, len));
        return 0;
}

/* Runs the script; -EINVAL for any malformed or unknown command. */
static int loader_run(struct loader *ld, const uint8_t *script, size_t len) {
        if (len % LD_ENTRY)
                return -EINVAL;
        for (size_t at = 0; at < len; at += LD_ENTRY) {
                const uint8_t *e = script + at;
                int r;
                switch (le32(e)) {
                case 1: r = ld_allocate(ld, e); break;
                case 2: r = ld_add_pointer(ld, e); break;
                case 3: r = ld_add_checksum(ld, e); break;
                default: r = -EINVAL; /* SeaBIOS skips it; none of ours is unknown */
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

static const struct ld_file *ld_get(const struct loader *ld, const char *name) {
        for (size_t i = 0; i < ld->n; i++)
                if (strcmp(ld->files[i].name, name) == 0)
                        return &ld->files[i];
        return NULL;
}

/* Builds the loader form of c, runs it, and checks the result against the
 * direct form built for the address the tables landed at. */
static void check_config(const struct acpi_config *c) {
        struct acpi_loader_files f;
        ASSERT_OK(acpi_loader_build(c, &f));
        ASSERT_EQ(f.rsdp_len, 36u);
        ASSERT_EQ(f.script_len % LD_ENTRY, 0u);
        struct loader ld;
        loader_init(&ld);
        loader_add(&ld, ACPI_LOADER_RSDP_FILE, f.rsdp, f.rsdp_len);
        loader_add(&ld, ACPI_LOADER_TABLES_FILE, f.tables, f.tables_len);
        ASSERT_OK(loader_run(&ld, f.script, f.script_len));
        const struct ld_file *rsdp = ld_get(&ld, ACPI_LOADER_RSDP_FILE), *tables = ld_get(&ld, ACPI_LOADER_TABLES_FILE);
        /* The RSDP where an OS scans for it (ACPI 6.5 §5.2.5.1), valid. */
        ASSERT_TRUE(rsdp->addr >= 0xe0000 && rsdp->addr + 36 <= 0x100000 && rsdp->addr % 16 == 0);
        ASSERT_MEMEQ(rsdp->mem, "RSD PTR ", 8);
        ASSERT_EQ(acpi_checksum(rsdp->mem, 20), 0);
        ASSERT_EQ(acpi_checksum(rsdp->mem, 36), 0);
        ASSERT_EQ(tables->addr % 64, 0u);
        ASSERT_LT(tables->addr + tables->len, (uint64_t)1 << 32);

        struct acpi_config dc = *c;
        dc.base = tables->addr;
        static uint8_t direct[ACPI_TABLES_MAX_SIZE];
        memset(direct, 0, sizeof direct);
        struct acpi_layout l;
        ASSERT_OK(acpi_build(&dc, direct, sizeof direct, &l));
        ASSERT_EQ(l.size, tables->len);
        /* The RSDP's bytes are the direct RSDP's; the tables are the direct
         * tables, pointer for pointer and checksum for checksum. */
        ASSERT_MEMEQ(rsdp->mem, direct, 36);
        ASSERT_MEMEQ(tables->mem + 36, direct + 36, l.size - 36);
        /* And they resolve: RSDP -> XSDT -> FADT -> FACS (64-aligned), DSDT. */
        uint64_t xsdt = le64(rsdp->mem + 24) - tables->addr;
        ASSERT_MEMEQ(tables->mem + xsdt, "XSDT", 4);
        ASSERT_EQ(acpi_checksum(tables->mem + xsdt, le32(tables->mem + xsdt + 4)), 0);
        uint64_t fadt = le64(tables->mem + xsdt + 36) - tables->addr;
        ASSERT_MEMEQ(tables->mem + fadt, "FACP", 4);
        ASSERT_EQ(acpi_checksum(tables->mem + fadt, le32(tables->mem + fadt + 4)), 0);
        uint64_t facs = le32(tables->mem + fadt + 36), dsdt = le32(tables->mem + fadt + 40);
        ASSERT_EQ(facs, le64(tables->mem + fadt + 132));
        ASSERT_EQ(dsdt, le64(tables->mem + fadt + 140));
        ASSERT_EQ(facs % 64, 0u);
        ASSERT_MEMEQ(tables->mem + facs - tables->addr, "FACS", 4);
        ASSERT_MEMEQ(tables->mem + dsdt - tables->addr, "DSDT", 4);
        uint64_t madt = le64(tables->mem + xsdt + 44) - tables->addr;
        ASSERT_MEMEQ(tables->mem + madt, "APIC", 4);
        loader_free(&ld);
        acpi_loader_files_free(&f);
}

TEST(loader_form_links_to_the_direct_tables) {
        struct acpi_config c;
        acpi_config_default(&c, 0xe0000, 1);
        check_config(&c);
        acpi_config_default(&c, 0, 4);
        c.pci = true;
        c.pci_mem_base = ACPI_VIDEO_BAR_BASE;
        c.pci_mem_size = ACPI_VIDEO_BAR_SIZE;
        check_config(&c);
        acpi_config_default(&c, 0x12340, ACPI_MAX_CPUS); /* base is not used */
        check_config(&c);
}

/* The files as the loader finds them: pointers hold offsets into the tables
 * file, checksums are 0, the script allocates first. */
TEST(loader_files_hold_offsets_and_zero_checksums) {
        struct acpi_config c;
        acpi_config_default(&c, 0xe0000, 2);
        struct acpi_loader_files f;
        ASSERT_OK(acpi_loader_build(&c, &f));
        size_t n = f.script_len / LD_ENTRY;
        ASSERT_EQ(n, 2u + 7u + 6u);
        const uint8_t *e = f.script;
        ASSERT_EQ(le32(e), ACPI_LOADER_ALLOCATE);
        ASSERT_STREQ((const char *)e + 4, ACPI_LOADER_RSDP_FILE);
        ASSERT_EQ(le32(e + 60), 16u);
        ASSERT_EQ(e[64], ACPI_LOADER_ZONE_FSEG);
        ASSERT_EQ(le32(e + LD_ENTRY), ACPI_LOADER_ALLOCATE);
        ASSERT_STREQ((const char *)e + LD_ENTRY + 4, ACPI_LOADER_TABLES_FILE);
        ASSERT_EQ(le32(e + LD_ENTRY + 60), 64u);
        ASSERT_EQ(e[LD_ENTRY + 64], ACPI_LOADER_ZONE_HIGH);
        for (size_t i = 2; i < n; i++) {
                const uint8_t *x = e + i * LD_ENTRY;
                uint32_t cmd = le32(x);
                ASSERT_TRUE(cmd == ACPI_LOADER_ADD_POINTER || cmd == ACPI_LOADER_ADD_CHECKSUM);
                bool in_rsdp = strcmp((const char *)x + 4, ACPI_LOADER_RSDP_FILE) == 0;
                const uint8_t *file = in_rsdp ? f.rsdp : f.tables;
                if (cmd == ACPI_LOADER_ADD_POINTER) {
                        ASSERT_STREQ((const char *)x + 4 + LD_NAME, ACPI_LOADER_TABLES_FILE);
                        uint32_t off = le32(x + 116);
                        uint64_t v = x[120] == 8 ? le64(file + off) : le32(file + off);
                        ASSERT_GE(v, 36u);
                        ASSERT_LT(v, f.tables_len);
                } else {
                        ASSERT_EQ(file[le32(x + 60)], 0);
                }
        }
        /* The RSDP's slot in the tables file is zero. */
        static const uint8_t zero[36];
        ASSERT_MEMEQ(f.tables, zero, 36);
        acpi_loader_files_free(&f);
        acpi_config_default(&c, 0xe0000, 0);
        ASSERT_ERROR(acpi_loader_build(&c, &f), EINVAL);
}

static uint8_t t_rsdp[36], t_tables[256];

/* A script whose first command allocates the tables file; returns the
 * second command, zeroed, for the case to fill in. */
static uint8_t *reset(struct loader *ld, uint8_t s[2 * LD_ENTRY]) {
        memset(s, 0, 2 * LD_ENTRY);
        memset(t_tables, 0, sizeof t_tables);
        loader_init(ld);
        loader_add(ld, ACPI_LOADER_RSDP_FILE, t_rsdp, sizeof t_rsdp);
        loader_add(ld, ACPI_LOADER_TABLES_FILE, t_tables, sizeof t_tables);
        s[0] = ACPI_LOADER_ALLOCATE;
        strcpy((char *)s + 4, ACPI_LOADER_TABLES_FILE);
        s[60] = 64;
        s[64] = ACPI_LOADER_ZONE_HIGH;
        return s + LD_ENTRY;
}

static void pointer_cmd(uint8_t *p, const char *dst, const char *src, uint8_t off, uint8_t size) {
        p[0] = ACPI_LOADER_ADD_POINTER;
        strcpy((char *)p + 4, dst);
        strcpy((char *)p + 4 + LD_NAME, src);
        p[116] = off;
        p[120] = size;
}

static int run2(struct loader *ld, const uint8_t *s) {
        int r = loader_run(ld, s, 2 * LD_ENTRY);
        loader_free(ld);
        return r;
}

/* The test loader refuses what SeaBIOS would skip with a warning: these
 * checks are what makes the first test's success mean something. */
TEST(test_loader_rejects_malformed_commands) {
        uint8_t s[2 * LD_ENTRY];
        struct loader ld;
        uint8_t *p = reset(&ld, s);
        pointer_cmd(p, ACPI_LOADER_TABLES_FILE, ACPI_LOADER_TABLES_FILE, 8, 8);
        ASSERT_OK(run2(&ld, s)); /* the well-formed case passes */
        reset(&ld, s);
        ASSERT_ERROR(loader_run(&ld, s, LD_ENTRY + 1), EINVAL); /* a partial command */
        reset(&ld, s);
        s[64] = 3; /* no such zone */
        ASSERT_ERROR(run2(&ld, s), EINVAL);
        reset(&ld, s);
        s[60] = 48; /* not a power of two */
        ASSERT_ERROR(run2(&ld, s), EINVAL);
        reset(&ld, s);
        memset(s + 4, 'a', LD_NAME); /* a name without its NUL */
        ASSERT_ERROR(run2(&ld, s), EINVAL);
        p = reset(&ld, s);
        memcpy(p, s, LD_ENTRY); /* allocated twice */
        ASSERT_ERROR(run2(&ld, s), EINVAL);
        p = reset(&ld, s);
        pointer_cmd(p, ACPI_LOADER_TABLES_FILE, ACPI_LOADER_RSDP_FILE, 0, 8); /* never allocated */
        ASSERT_ERROR(run2(&ld, s), EINVAL);
        p = reset(&ld, s);
        pointer_cmd(p, ACPI_LOADER_TABLES_FILE, ACPI_LOADER_TABLES_FILE, 250, 8); /* past the end */
        ASSERT_ERROR(run2(&ld, s), EINVAL);
        p = reset(&ld, s);
        pointer_cmd(p, ACPI_LOADER_TABLES_FILE, ACPI_LOADER_TABLES_FILE, 0, 3); /* size 3 */
        ASSERT_ERROR(run2(&ld, s), EINVAL);
        p = reset(&ld, s);
        pointer_cmd(p, ACPI_LOADER_TABLES_FILE, "etc/none", 0, 8); /* an unknown file */
        ASSERT_ERROR(run2(&ld, s), EINVAL);
        p = reset(&ld, s);
        pointer_cmd(p, ACPI_LOADER_TABLES_FILE, ACPI_LOADER_TABLES_FILE, 0, 4);
        memset(t_tables, 0xff, 4); /* a 4-byte field that cannot hold the sum */
        ASSERT_ERROR(run2(&ld, s), ERANGE);
        p = reset(&ld, s);
        p[0] = ACPI_LOADER_ADD_CHECKSUM;
        strcpy((char *)p + 4, ACPI_LOADER_TABLES_FILE);
        p[64] = 200; /* start 200, length 100: past the end */
        p[68] = 100;
        ASSERT_ERROR(run2(&ld, s), EINVAL);
        p = reset(&ld, s);
        p[0] = 9; /* an unknown command */
        ASSERT_ERROR(run2(&ld, s), EINVAL);
}

TEST_MAIN();
