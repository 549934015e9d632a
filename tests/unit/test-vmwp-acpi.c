// SPDX-License-Identifier: MIT
/* ACPI tables and the AML emitter, checked by an independent parser: each
 * table is written to a file and disassembled with `iasl -d` (acpica-tools,
 * scripts/deps.sh), which must succeed without errors; checksums and the
 * fields the guest relies on are verified here as well. */
#include <sys/stat.h>
#include <sys/wait.h>

#include "common/macro.h"
#include "common/test.h"
#include "hv/vmstack.h"
#include "vmwp/acpi.h"
#include "vmwp/aml.h"
#include "tests/lib/test-files.h"

static uint32_t rd32(const uint8_t *p) {
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
}
static uint64_t rd64(const uint8_t *p) {
        uint64_t v;
        memcpy(&v, p, 8);
        return v;
}

static const struct acpi_table_ref *find(const struct acpi_layout *l, const char *sig) {
        for (size_t i = 0; i < l->n_tables; i++)
                if (strcmp(l->tables[i].sig, sig) == 0)
                        return &l->tables[i];
        return NULL;
}

static uint8_t buf[ACPI_TABLES_MAX_SIZE];

static void build(unsigned n_cpus, struct acpi_layout *l) {
        struct acpi_config c;
        acpi_config_default(&c, 0xe0000, n_cpus);
        memset(buf, 0xcc, sizeof buf);
        ASSERT_OK(acpi_build(&c, buf, sizeof buf, l));
}

/* Runs iasl -d on one table; returns its combined output (static buffer). */
static const char *iasl_disassemble(const char *dir, const char *name, const uint8_t *p, size_t len,
                                    char *dsl, size_t dsl_size) {
        TEST_REQUIRE_PROGRAM("iasl", "acpica-tools");
        static char out[65536];
        char path[512], cmd[1200];
        snprintf(path, sizeof path, "%s/%s.dat", dir, name);
        FILE *f = fopen(path, "w");
        ASSERT_NOT_NULL(f);
        ASSERT_EQ(fwrite(p, 1, len, f), len);
        fclose(f);
        snprintf(cmd, sizeof cmd, "cd %s && iasl -d %s.dat 2>&1", dir, name);
        FILE *o = popen(cmd, "r");
        ASSERT_NOT_NULL(o);
        size_t n = fread(out, 1, sizeof out - 1, o);
        out[n] = 0;
        int st = pclose(o);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                fprintf(stderr, "iasl -d %s failed (is acpica-tools installed? scripts/deps.sh):\n%s\n", name, out);
        ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        if (strstr(out, "Error") || strstr(out, "error") || strstr(out, "Warning"))
                fprintf(stderr, "iasl output for %s:\n%s\n", name, out);
        ASSERT_NULL(strstr(out, "Error"));
        ASSERT_NULL(strstr(out, "error"));
        ASSERT_NULL(strstr(out, "Warning"));
        snprintf(path, sizeof path, "%s/%s.dsl", dir, name);
        f = fopen(path, "r");
        ASSERT_NOT_NULL(f);
        n = fread(dsl, 1, dsl_size - 1, f);
        dsl[n] = 0;
        fclose(f);
        return out;
}

TEST(checksums_and_pointers) {
        struct acpi_layout l;
        build(4, &l);
        ASSERT_EQ(l.rsdp_gpa, 0xe0000u);
        ASSERT_EQ(l.n_tables, 6u);
        const struct acpi_table_ref *rsdp = find(&l, "RSDP");
        ASSERT_NOT_NULL(rsdp);
        ASSERT_EQ(rsdp->offset, 0u);
        ASSERT_MEMEQ(buf, "RSD PTR ", 8);
        ASSERT_EQ(acpi_checksum(buf, 20), 0);
        ASSERT_EQ(acpi_checksum(buf, 36), 0);
        ASSERT_EQ(buf[15], 2); /* revision */
        for (size_t i = 1; i < l.n_tables; i++) {
                const struct acpi_table_ref *t = &l.tables[i];
                ASSERT_MEMEQ(buf + t->offset, t->sig, 4);
                ASSERT_EQ(rd32(buf + t->offset + 4), (uint32_t)t->length);
                if (strcmp(t->sig, "FACS") != 0)
                        ASSERT_EQ(acpi_checksum(buf + t->offset, t->length), 0);
        }
        /* Pointers: RSDP -> XSDT -> FADT, MADT; FADT -> FACS, DSDT. */
        uint64_t xsdt = rd64(buf + 24);
        ASSERT_EQ(xsdt, 0xe0000u + find(&l, "XSDT")->offset);
        const uint8_t *x = buf + (xsdt - 0xe0000);
        ASSERT_EQ(rd32(x + 4), 36u + 16u);
        ASSERT_EQ(rd64(x + 36), 0xe0000u + find(&l, "FACP")->offset);
        ASSERT_EQ(rd64(x + 44), 0xe0000u + find(&l, "APIC")->offset);
        const uint8_t *f = buf + find(&l, "FACP")->offset;
        ASSERT_EQ(rd32(f + 36), 0xe0000u + find(&l, "FACS")->offset);
        ASSERT_EQ(rd64(f + 132), 0xe0000u + find(&l, "FACS")->offset);
        ASSERT_EQ(rd32(f + 40), 0xe0000u + find(&l, "DSDT")->offset);
        ASSERT_EQ(rd64(f + 140), 0xe0000u + find(&l, "DSDT")->offset);
        ASSERT_EQ((find(&l, "FACS")->offset & 63), 0u);
        ASSERT_LE(l.size, (size_t)0x20000);
}

TEST(fadt_fields) {
        struct acpi_layout l;
        build(1, &l);
        const uint8_t *f = buf + find(&l, "FACP")->offset;
        ASSERT_EQ(f[8], 6);                              /* revision 6 */
        ASSERT_EQ(rd32(f + 4), 276u);
        ASSERT_EQ(f[46], ACPI_SCI_IRQ);                  /* SCI_INT */
        ASSERT_EQ(rd32(f + 56), (uint32_t)VMSTACK_PM1A_EVT_PORT);
        ASSERT_EQ(rd32(f + 64), (uint32_t)VMSTACK_PM1A_CNT_PORT);
        ASSERT_EQ(rd32(f + 76), (uint32_t)VMSTACK_PM_TMR_PORT);
        ASSERT_EQ(f[88], 4);                             /* PM1_EVT_LEN */
        ASSERT_EQ(f[89], 2);                             /* PM1_CNT_LEN */
        ASSERT_EQ(f[91], 4);                             /* PM_TMR_LEN */
        uint32_t flags = rd32(f + 112);
        ASSERT_TRUE(flags & (1u << 10));                 /* RESET_REG_SUP */
        ASSERT_FALSE(flags & (1u << 20));                /* not HW_REDUCED_ACPI */
        ASSERT_FALSE(flags & (1u << 4));                 /* fixed power button */
        ASSERT_EQ(f[116], 1);                            /* RESET_REG: system I/O */
        ASSERT_EQ(f[117], 8);
        ASSERT_EQ(rd64(f + 120), (uint64_t)VMSTACK_RESET_PORT);
        ASSERT_EQ(f[128], VMSTACK_RESET_VALUE);
        ASSERT_EQ(rd64(f + 148 + 4), (uint64_t)VMSTACK_PM1A_EVT_PORT); /* X_PM1a_EVT_BLK */
        ASSERT_EQ(rd64(f + 172 + 4), (uint64_t)VMSTACK_PM1A_CNT_PORT); /* X_PM1a_CNT_BLK */
        ASSERT_EQ(rd64(f + 208 + 4), (uint64_t)VMSTACK_PM_TMR_PORT);   /* X_PM_TMR_BLK */
}

TEST(madt_entries) {
        struct acpi_layout l;
        build(3, &l);
        const struct acpi_table_ref *t = find(&l, "APIC");
        const uint8_t *m = buf + t->offset;
        ASSERT_EQ(rd32(m + 36), 0xfee00000u);
        unsigned lapics = 0, ioapics = 0, isos = 0;
        for (size_t off = 44; off < t->length; off += m[off + 1]) {
                ASSERT_GE(m[off + 1], 2);
                if (m[off] == 0) {
                        ASSERT_EQ(m[off + 3], lapics); /* APIC id */
                        ASSERT_EQ(rd32(m + off + 4), 1u);
                        lapics++;
                } else if (m[off] == 1) {
                        ASSERT_EQ(m[off + 2], 3);      /* IOAPIC id = vCPU count */
                        ASSERT_EQ(rd32(m + off + 4), 0xfec00000u);
                        ioapics++;
                } else if (m[off] == 2) {
                        uint16_t fl;
                        memcpy(&fl, m + off + 8, 2);
                        if (m[off + 3] == 0) {
                                ASSERT_EQ(rd32(m + off + 4), 2u);
                                ASSERT_EQ(fl, 0);
                        } else {
                                ASSERT_EQ(m[off + 3], 9);
                                ASSERT_EQ(fl, 0xd); /* level, active high */
                        }
                        isos++;
                }
        }
        ASSERT_EQ(lapics, 3u);
        ASSERT_EQ(ioapics, 1u);
        ASSERT_EQ(isos, 2u);
}

TEST(pkglen_encoding) {
        uint8_t e[4];
        ASSERT_EQ(aml_pkglen_encode(0, e), 1u);
        ASSERT_EQ(e[0], 1);
        ASSERT_EQ(aml_pkglen_encode(62, e), 1u);
        ASSERT_EQ(e[0], 63);
        ASSERT_EQ(aml_pkglen_encode(63, e), 2u); /* 65 total: 0x41 */
        ASSERT_EQ(e[0], 0x41);
        ASSERT_EQ(e[1], 0x04);
        ASSERT_EQ(aml_pkglen_encode(0x1000, e), 3u);
        ASSERT_EQ(aml_pkglen_encode(0xffffff0u, e), 4u);
        ASSERT_EQ(aml_pkglen_encode(0x10000000u, e), 0u);
}

TEST(aml_objects) {
        struct aml a;
        uint8_t *out;
        size_t len;
        aml_init(&a, 256);
        aml_name(&a, "\\_SB.COM1._HID");
        aml_eisaid(&a, "PNP0501");
        aml_integer(&a, 0x1234);
        ASSERT_OK(aml_finish(&a, &out, &len));
        static const uint8_t want[] = { 0x08, 0x5c, 0x2f, 3, '_', 'S', 'B', '_', 'C', 'O', 'M', '1', '_', 'H', 'I',
                                        'D', 0x0c, 0x41, 0xd0, 0x05, 0x01, 0x0b, 0x34, 0x12 };
        ASSERT_EQ(len, sizeof want);
        ASSERT_MEMEQ(out, want, len);
        free(out);
        /* Errors are sticky and reported once. */
        aml_init(&a, 256);
        aml_name(&a, "bad!");
        aml_integer(&a, 1);
        ASSERT_ERROR(aml_finish(&a, &out, &len), EINVAL);
        aml_init(&a, 256);
        aml_scope_open(&a, "\\_SB");
        ASSERT_ERROR(aml_finish(&a, &out, &len), EINVAL); /* unclosed */
        aml_init(&a, 8);
        aml_string(&a, "longer than eight");
        ASSERT_ERROR(aml_finish(&a, &out, &len), E2BIG);
        /* Large buffer: 2-byte PkgLength and a word BufferSize. */
        aml_init(&a, 4096);
        aml_buffer_open(&a);
        static const uint8_t big[300];
        aml_bytes(&a, big, sizeof big);
        aml_close(&a);
        ASSERT_OK(aml_finish(&a, &out, &len));
        ASSERT_EQ(out[0], 0x11);
        ASSERT_EQ(len, 1u + 2u + 3u + 300u);
        ASSERT_EQ((size_t)(((out[1] & 0x0f) | (out[2] << 4))), 2u + 3u + 300u);
        ASSERT_EQ(out[3], 0x0b);
        free(out);
}

TEST(bad_configs_rejected) {
        struct acpi_config c;
        struct acpi_layout l;
        acpi_config_default(&c, 0xe0000, 0);
        ASSERT_ERROR(acpi_build(&c, buf, sizeof buf, &l), EINVAL);
        acpi_config_default(&c, 0xe0000, ACPI_MAX_CPUS + 1);
        ASSERT_ERROR(acpi_build(&c, buf, sizeof buf, &l), EINVAL);
        acpi_config_default(&c, 0xe0008, 1);
        ASSERT_ERROR(acpi_build(&c, buf, sizeof buf, &l), EINVAL);
        acpi_config_default(&c, 0xe0000, 64);
        ASSERT_ERROR(acpi_build(&c, buf, 200, &l), ENOSPC);
        ASSERT_OK(acpi_build(&c, buf, sizeof buf, &l));
        /* VMBus MMIO windows outside the hole, over the IOAPIC, unaligned,
         * or without the VMBus device. */
        static const uint32_t bad[][2] = {
                { 0x80000000u, 0x10000000u }, { 0xf0000000u, 0x10000000u }, { 0xfec00000u, 0x1000u },
                { 0xe0000800u, 0x10000000u }, { 0xe0000000u, 0x800u },      { 0xfffff000u, 0x2000u },
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                acpi_config_default(&c, 0xe0000, 1);
                c.vmbus_mmio_base = bad[i][0];
                c.vmbus_mmio_size = bad[i][1];
                ASSERT_ERROR(acpi_build(&c, buf, sizeof buf, &l), EINVAL);
        }
        acpi_config_default(&c, 0xe0000, 1);
        c.vmbus = false;
        c.vmbus_mmio_base = ACPI_VMBUS_MMIO_BASE;
        c.vmbus_mmio_size = ACPI_VMBUS_MMIO_SIZE;
        ASSERT_ERROR(acpi_build(&c, buf, sizeof buf, &l), EINVAL);
}

/* The tests that run iasl come last: where it is missing, the first of
 * them skips (iasl_disassemble), after the others ran. */

/* A VM with synthetic video gets a VMBus MMIO window in its _CRS: an
 * address-space descriptor (Linux's vmbus_walk_resources reads only
 * those, not the Memory32Fixed kind) that iasl reads back as the range. */
TEST(vmbus_mmio_window_in_crs) {
        struct acpi_config c;
        struct acpi_layout l;
        acpi_config_default(&c, 0xe0000, 1);
        c.vmbus_mmio_base = ACPI_VMBUS_MMIO_BASE;
        c.vmbus_mmio_size = ACPI_VMBUS_MMIO_SIZE;
        memset(buf, 0xcc, sizeof buf);
        ASSERT_OK(acpi_build(&c, buf, sizeof buf, &l));
        const struct acpi_table_ref *t = find(&l, "DSDT");
        ASSERT_NOT_NULL(t);
        char dir[] = "/tmp/vmwp-acpi-XXXXXX";
        ASSERT_NOT_NULL(mkdtemp(dir));
        static char dsl[65536];
        iasl_disassemble(dir, "DSDT", buf + t->offset, t->length, dsl, sizeof dsl);
        const char *vmbs = strstr(dsl, "Device (VMBS)");
        ASSERT_NOT_NULL(vmbs);
        const char *mem = strstr(vmbs, "DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,");
        ASSERT_NOT_NULL(mem);
        ASSERT_NOT_NULL(strstr(mem, "0xE0000000,         // Range Minimum"));
        ASSERT_NOT_NULL(strstr(mem, "0xEFFFFFFF,         // Range Maximum"));
        ASSERT_NOT_NULL(strstr(mem, "0x10000000,         // Length"));
        ASSERT_EQ(test_remove_tree(dir), 0);
}

TEST(iasl_disassembles_every_table) {
        char dir[] = "/tmp/vmwp-acpi-XXXXXX";
        ASSERT_NOT_NULL(mkdtemp(dir));
        struct acpi_layout l;
        build(2, &l);
        static char dsl[65536];
        for (size_t i = 0; i < l.n_tables; i++) {
                const struct acpi_table_ref *t = &l.tables[i];
                /* iasl (20200925) cannot disassemble a lone RSDP from a file;
                 * its fields and both checksums are checked above. */
                if (strcmp(t->sig, "RSDP") == 0)
                        continue;
                iasl_disassemble(dir, t->sig, buf + t->offset, t->length, dsl, sizeof dsl);
                if (strcmp(t->sig, "DSDT") == 0) {
                        ASSERT_NOT_NULL(strstr(dsl, "Device (VMBS)"));
                        ASSERT_NOT_NULL(strstr(dsl, "Name (_HID, \"VMBus\")"));
                        ASSERT_NOT_NULL(strstr(dsl, "Name (_DDN, \"VMBUS\")"));
                        ASSERT_NOT_NULL(strstr(dsl, "Name (_UID, Zero)"));
                        ASSERT_NOT_NULL(strstr(dsl, "Name (_STA, 0x0F)"));
                        ASSERT_NOT_NULL(strstr(dsl, "Name (\\_S5, Package (0x04)"));
                        /* The VMBus _CRS is an empty ResourceTemplate: iasl
                         * compiles "ResourceTemplate () {}" to exactly this
                         * two-byte buffer holding the end tag. */
                        const char *vmbs = strstr(dsl, "Device (VMBS)");
                        const char *com1 = strstr(dsl, "Device (COM1)");
                        const char *crs = strstr(vmbs, "Name (_CRS, Buffer (0x02)");
                        ASSERT_NOT_NULL(crs);
                        ASSERT_LT(crs, com1);
                        ASSERT_NOT_NULL(strstr(crs, "0x79, 0x00"));
                        ASSERT_NOT_NULL(strstr(dsl, "Device (COM1)"));
                        ASSERT_NOT_NULL(strstr(dsl, "EisaId (\"PNP0501\")"));
                        ASSERT_NOT_NULL(strstr(dsl, "0x03F8,             // Range Minimum"));
                        ASSERT_NOT_NULL(strstr(dsl, "IRQNoFlags ()"));
                        ASSERT_NOT_NULL(strstr(dsl, "{4}"));
                        ASSERT_NOT_NULL(strstr(dsl, "ResourceTemplate ()"));
                }
                if (strcmp(t->sig, "FACP") == 0) {
                        ASSERT_NOT_NULL(strstr(dsl, "Reset Register Supported (V2) : 1"));
                        ASSERT_NOT_NULL(strstr(dsl, "PM1A Event Block Address : 00000600"));
                        ASSERT_NOT_NULL(strstr(dsl, "PM1A Control Block Address : 00000604"));
                        ASSERT_NOT_NULL(strstr(dsl, "PM Timer Block Address : 00000608"));
                        ASSERT_NOT_NULL(strstr(dsl, "Value to cause reset : 06"));
                        ASSERT_NOT_NULL(strstr(dsl, "Address : 0000000000000CF9"));
                }
        }
        ASSERT_EQ(test_remove_tree(dir), 0);
}

/* The direct-boot tables are byte-identical to what acpi_build() made
 * before it also recorded its pointers and checksums for the loader form
 * (tests/fixtures/acpi/, written by that code for these three configs; the
 * 0xcc fill is in the alignment gaps it leaves untouched). */
static void check_pinned(const char *name, const struct acpi_config *c) {
        const char *src = getenv("VM_SOURCE_DIR");
        char path[1024];
        static char want[ACPI_TABLES_MAX_SIZE + 1];
        snprintf(path, sizeof path, "%s/tests/fixtures/acpi/%s", src ? src : ".", name);
        size_t n = test_read_file(path, want, sizeof want);
        ASSERT_GT(n, 0u);
        struct acpi_layout l;
        memset(buf, 0xcc, sizeof buf);
        ASSERT_OK(acpi_build(c, buf, sizeof buf, &l));
        ASSERT_EQ(l.size, n);
        ASSERT_MEMEQ(buf, want, n);
}

TEST(direct_tables_are_pinned) {
        struct acpi_config c;
        acpi_config_default(&c, 0xe0000, 1);
        check_pinned("direct-1cpu.bin", &c);
        acpi_config_default(&c, 0xe0000, 4);
        c.pci = true;
        c.pci_mem_base = ACPI_VIDEO_BAR_BASE;
        c.pci_mem_size = ACPI_VIDEO_BAR_SIZE;
        c.vmbus_mmio_base = ACPI_VMBUS_MMIO_BASE;
        c.vmbus_mmio_size = ACPI_VMBUS_MMIO_SIZE;
        check_pinned("direct-4cpu-pci-video.bin", &c);
        acpi_config_default(&c, 0xe0000, 64);
        c.vmbus = c.com1 = c.i8042 = c.rtc = false;
        check_pinned("direct-64cpu-bare.bin", &c);
}

/* What the loader form relies on: every pointer field holds base + its
 * target's offset, every recorded checksum is right. */
TEST(layout_records_pointers_and_checksums) {
        struct acpi_layout l;
        build(2, &l);
        ASSERT_EQ(l.n_pointers, 7u);
        ASSERT_EQ(l.n_checksums, 6u);
        for (size_t i = 0; i < l.n_pointers; i++) {
                const struct acpi_pointer_ref *p = &l.pointers[i];
                uint64_t v = p->size == 8 ? rd64(buf + p->offset) : rd32(buf + p->offset);
                ASSERT_EQ(v, 0xe0000u + p->target);
        }
        for (size_t i = 0; i < l.n_checksums; i++) {
                const struct acpi_checksum_ref *k = &l.checksums[i];
                ASSERT_TRUE(k->offset >= k->start && k->offset < k->start + k->length);
                ASSERT_EQ(acpi_checksum(buf + k->start, k->length), 0);
        }
        /* The RSDP's 20-byte checksum comes before its extended one. */
        ASSERT_EQ(l.checksums[l.n_checksums - 2].length, 20u);
        ASSERT_EQ(l.checksums[l.n_checksums - 1].length, 36u);
}

TEST_MAIN();
