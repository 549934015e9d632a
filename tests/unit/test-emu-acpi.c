// SPDX-License-Identifier: MIT
/* The ACPI description of the emulated devices (vmwp/acpi*.c, aml.c),
 * checked by an independent parser as test-vmwp-acpi.c does: the tables
 * are disassembled with `iasl -d`, which must succeed without errors or
 * warnings, and the DSDT must describe the i8042 (PNP0303), the RTC
 * (PNP0B00) and, with IDE disks or a display, the PCI host bridge
 * (PNP0A03) with its bus and I/O windows (and the video BAR's memory); the FADT must flag the 8042 and the CMOS RTC and
 * name the century byte. */
#include <sys/wait.h>

#include "common/test.h"
#include "vmwp/acpi.h"

static uint8_t buf[ACPI_TABLES_MAX_SIZE];
static char dsl[65536];

/* Disassembles table sig of a build into dsl. */
static void disassemble(const char *dir, const struct acpi_layout *l, const char *sig) {
        const struct acpi_table_ref *t = NULL;
        for (size_t i = 0; i < l->n_tables; i++)
                if (strcmp(l->tables[i].sig, sig) == 0)
                        t = &l->tables[i];
        ASSERT_NOT_NULL(t);
        char path[512], cmd[1200], out[8192];
        snprintf(path, sizeof path, "%s/%s.dat", dir, sig);
        FILE *f = fopen(path, "w");
        ASSERT_NOT_NULL(f);
        ASSERT_EQ(fwrite(buf + t->offset, 1, t->length, f), t->length);
        fclose(f);
        snprintf(cmd, sizeof cmd, "cd %s && iasl -d %s.dat 2>&1", dir, sig);
        FILE *o = popen(cmd, "r");
        ASSERT_NOT_NULL(o);
        size_t n = fread(out, 1, sizeof out - 1, o);
        out[n] = 0;
        int st = pclose(o);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || strstr(out, "rror") || strstr(out, "Warning"))
                fprintf(stderr, "iasl -d %s:\n%s\n", sig, out);
        ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        ASSERT_NULL(strstr(out, "rror"));
        ASSERT_NULL(strstr(out, "Warning"));
        snprintf(path, sizeof path, "%s/%s.dsl", dir, sig);
        f = fopen(path, "r");
        ASSERT_NOT_NULL(f);
        n = fread(dsl, 1, sizeof dsl - 1, f);
        dsl[n] = 0;
        fclose(f);
}

static void build(const struct acpi_config *c, struct acpi_layout *l) {
        ASSERT_OK(acpi_build(c, buf, sizeof buf, l));
}

/* The text between `from` and the next "Device (" (or the end). */
static const char *device_block(const char *from, char *out, size_t cap) {
        const char *p = strstr(dsl, from);
        ASSERT_NOT_NULL(p);
        const char *end = strstr(p + 1, "Device (");
        size_t n = end ? (size_t)(end - p) : strlen(p);
        n = n < cap - 1 ? n : cap - 1;
        memcpy(out, p, n);
        out[n] = 0;
        return out;
}

TEST(emulated_devices_in_dsdt_and_fadt) {
        TEST_REQUIRE_PROGRAM("iasl", "acpica-tools");
        char dir[] = "/tmp/emu-acpi-XXXXXX";
        ASSERT_NOT_NULL(mkdtemp(dir));
        struct acpi_config c;
        acpi_config_default(&c, 0xe0000, 2);
        ASSERT_TRUE(c.i8042 && c.rtc); /* every VM has them */
        ASSERT_FALSE(c.pci);           /* only with IDE disks */
        c.pci = true;
        struct acpi_layout l;
        build(&c, &l);
        disassemble(dir, &l, "DSDT");
        char blk[4096];
        device_block("Device (PS2K)", blk, sizeof blk);
        ASSERT_NOT_NULL(strstr(blk, "EisaId (\"PNP0303\")"));
        ASSERT_NOT_NULL(strstr(blk, "0x0060,             // Range Minimum"));
        ASSERT_NOT_NULL(strstr(blk, "0x0064,             // Range Minimum"));
        ASSERT_NOT_NULL(strstr(blk, "{1}"));
        device_block("Device (RTC)", blk, sizeof blk);
        ASSERT_NOT_NULL(strstr(blk, "EisaId (\"PNP0B00\")"));
        ASSERT_NOT_NULL(strstr(blk, "0x0070,             // Range Minimum"));
        ASSERT_NOT_NULL(strstr(blk, "0x02,               // Length"));
        ASSERT_NOT_NULL(strstr(blk, "{8}"));
        device_block("Device (PCI0)", blk, sizeof blk);
        ASSERT_NOT_NULL(strstr(blk, "EisaId (\"PNP0A03\")"));
        ASSERT_NOT_NULL(strstr(blk, "Name (_BBN, Zero)"));
        ASSERT_NOT_NULL(strstr(blk, "WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,"));
        ASSERT_NOT_NULL(strstr(blk, "0x0CF8,             // Range Minimum"));
        ASSERT_NOT_NULL(strstr(blk, "WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,"));
        ASSERT_NOT_NULL(strstr(blk, "0x0CF7,             // Range Maximum"));
        ASSERT_NOT_NULL(strstr(blk, "0x0D00,             // Range Minimum"));
        ASSERT_NOT_NULL(strstr(blk, "0xF300,             // Length"));
        ASSERT_NULL(strstr(blk, "_PRT")); /* compatibility-mode IDE has no PCI interrupt pin */
        ASSERT_NULL(strstr(blk, "DWordMemory")); /* no BARs: no memory window */
        /* With Hyper-V's video function: its BAR0's window. */
        c.pci_mem_base = ACPI_VIDEO_BAR_BASE;
        c.pci_mem_size = ACPI_VIDEO_BAR_SIZE;
        build(&c, &l);
        disassemble(dir, &l, "DSDT");
        device_block("Device (PCI0)", blk, sizeof blk);
        ASSERT_NOT_NULL(strstr(blk, "DWordMemory (ResourceProducer,"));
        ASSERT_NOT_NULL(strstr(blk, "0xE0000000,         // Range Minimum"));
        ASSERT_NOT_NULL(strstr(blk, "0xE0FFFFFF,         // Range Maximum"));
        c.pci_mem_base = c.pci_mem_size = 0;
        build(&c, &l);
        disassemble(dir, &l, "FACP");
        ASSERT_NOT_NULL(strstr(dsl, "8042 Present on ports 60/64 (V2) : 1"));
        ASSERT_NOT_NULL(strstr(dsl, "CMOS RTC Not Present (V5) : 0"));
        ASSERT_NOT_NULL(strstr(dsl, "RTC Century Index : 32"));
        /* Without them: no devices, the FADT says so. */
        c.i8042 = c.rtc = c.pci = false;
        build(&c, &l);
        disassemble(dir, &l, "DSDT");
        ASSERT_NULL(strstr(dsl, "PNP0303"));
        ASSERT_NULL(strstr(dsl, "PNP0B00"));
        ASSERT_NULL(strstr(dsl, "PNP0A03"));
        disassemble(dir, &l, "FACP");
        ASSERT_NOT_NULL(strstr(dsl, "8042 Present on ports 60/64 (V2) : 0"));
        ASSERT_NOT_NULL(strstr(dsl, "CMOS RTC Not Present (V5) : 1"));
        ASSERT_NOT_NULL(strstr(dsl, "RTC Century Index : 00"));
        ASSERT_EQ(test_remove_tree(dir), 0);
}

TEST_MAIN();
