// SPDX-License-Identifier: MIT
/* fw_cfg (emu/fwcfg.h) driven as SeaBIOS 1.16.2 drives it
 * (src/fw/paravirt.c): the signature by port, the ID and the directory by
 * DMA (SELECT|READ), files by port and by DMA (SKIP then READ), the numeric
 * items it reads; then what a hostile guest can do: DMA outside RAM, an
 * oversized length, a write, an unknown key; the builder's limits; the
 * saved state's round trip and its refusal of another VM's items. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/test.h"
#include "emu/fwcfg.h"
#include "tests/lib/vmstate-roundtrip.h"

#define RAM_SIZE 65536u

/* Guest RAM: RAM_SIZE bytes at base. */
struct ram {
        uint64_t base;
        uint8_t mem[RAM_SIZE];
        unsigned writes;
};

static bool in_ram(const struct ram *r, uint64_t gpa, size_t len) {
        return gpa >= r->base && len <= RAM_SIZE && gpa - r->base <= RAM_SIZE - len;
}

static int ram_read(void *o, uint64_t gpa, void *buf, size_t len) {
        struct ram *r = o;
        if (!in_ram(r, gpa, len))
                return -EFAULT;
        memcpy(buf, r->mem + (gpa - r->base), len);
        return 0;
}

static int ram_write(void *o, uint64_t gpa, const void *buf, size_t len) {
        struct ram *r = o;
        if (!in_ram(r, gpa, len))
                return -EFAULT;
        memcpy(r->mem + (gpa - r->base), buf, len);
        r->writes++;
        return 0;
}

static const struct fwcfg_mem_ops ram_ops = { .read = ram_read, .write = ram_write };

static struct ram *ram_new(uint64_t base) {
        struct ram *r = calloc(1, sizeof *r);
        ASSERT_NOT_NULL(r);
        r->base = base;
        return r;
}

static void put_be(uint8_t *p, uint64_t v, unsigned n) {
        for (unsigned i = 0; i < n; i++)
                p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t get_be(const uint8_t *p, unsigned n) {
        uint64_t v = 0;
        for (unsigned i = 0; i < n; i++)
                v = v << 8 | p[i];
        return v;
}

/* SeaBIOS's qemu_cfg_select / inb(PORT_QEMU_CFG_DATA). */
static void sel(struct fwcfg *f, uint16_t key) {
        fwcfg_write(f, FWCFG_PORT_SELECTOR, 2, key);
}

static void insb(struct fwcfg *f, uint8_t *buf, size_t n) {
        for (size_t i = 0; i < n; i++)
                buf[i] = (uint8_t)fwcfg_read(f, FWCFG_PORT_DATA, 1);
}

/* SeaBIOS's qemu_cfg_dma_transfer: the access structure at desc (guest
 * address), outl(cpu_to_be32(desc)) to 0x518 after the high half to
 * 0x514; returns the control word the device wrote back. */
static uint32_t dma_at(struct fwcfg *f, struct ram *r, uint64_t desc, uint32_t control, uint32_t length,
                       uint64_t address) {
        if (in_ram(r, desc, FWCFG_DMA_ACCESS_SIZE)) {
                uint8_t *a = r->mem + (desc - r->base);
                put_be(a, control, 4);
                put_be(a + 4, length, 4);
                put_be(a + 8, address, 8);
        }
        if (desc >> 32)
                fwcfg_write(f, FWCFG_PORT_DMA, 4, __builtin_bswap32((uint32_t)(desc >> 32)));
        fwcfg_write(f, FWCFG_PORT_DMA_LOW, 4, __builtin_bswap32((uint32_t)desc));
        return in_ram(r, desc, 4) ? (uint32_t)get_be(r->mem + (desc - r->base), 4) : UINT32_MAX;
}

#define DESC 0x100u /* offset of the access structure in RAM */
#define BUF 0x1000u /* offset of the data buffer */

static uint32_t dma(struct fwcfg *f, struct ram *r, uint32_t control, uint32_t length, uint64_t address) {
        return dma_at(f, r, r->base + DESC, control, length, address);
}

static uint32_t read_entry(struct fwcfg *f, struct ram *r, uint16_t key, uint32_t len) {
        return dma(f, r, (uint32_t)key << 16 | FWCFG_DMA_CTL_SELECT | FWCFG_DMA_CTL_READ, len, r->base + BUF);
}

static struct fwcfg *new_dev(struct ram *r) {
        struct fwcfg *f;
        ASSERT_OK(fwcfg_new(r ? &ram_ops : NULL, r, &f));
        return f;
}

static const uint8_t e820[40] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xa, 0, 0, 0, 0, 0, 1, 0, 0, 0,
                                  0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 1, 0, 0, 0 };
static const char bootorder[] = "/pci@i0cf8/ide@1,1/drive@0/disk@0\n";

static void add_files(struct fwcfg *f) {
        uint8_t tables[300];
        for (unsigned i = 0; i < sizeof tables; i++)
                tables[i] = (uint8_t)(i * 7);
        /* Added out of order: keys follow the names' order. */
        ASSERT_OK(fwcfg_add_file(f, "etc/e820", e820, sizeof e820));
        ASSERT_OK(fwcfg_add_file(f, "etc/table-loader", "loader", 6));
        ASSERT_OK(fwcfg_add_file(f, "bootorder", bootorder, sizeof bootorder - 1));
        ASSERT_OK(fwcfg_add_file(f, "etc/acpi/tables", tables, sizeof tables));
}

TEST(signature_and_id_as_seabios_detects_them) {
        struct ram *r = ram_new(0);
        struct fwcfg *f = new_dev(r);
        uint8_t sig[5];
        sel(f, FWCFG_SIGNATURE);
        insb(f, sig, 5);
        ASSERT_MEMEQ(sig, "QEMU\0", 5); /* past the end: 0 */
        /* QEMU's ioport: a byte read of 0x510 reads data too. */
        sel(f, FWCFG_SIGNATURE);
        ASSERT_EQ(fwcfg_read(f, FWCFG_PORT_SELECTOR, 1), (uint32_t)'Q');
        /* Reads of another width read 0 and do not advance. */
        ASSERT_EQ(fwcfg_read(f, FWCFG_PORT_DATA, 2), 0u);
        ASSERT_EQ(fwcfg_read(f, FWCFG_PORT_DATA, 1), (uint32_t)'E');
        /* "QEMU CFG" from the DMA address register, in port order. */
        ASSERT_EQ(fwcfg_read(f, FWCFG_PORT_DMA, 4), 0x554d4551u);
        ASSERT_EQ(fwcfg_read(f, FWCFG_PORT_DMA_LOW, 4), 0x47464320u);
        ASSERT_EQ(fwcfg_read(f, FWCFG_PORT_DMA + 7, 1), (uint32_t)'G');
        /* ID by DMA, little-endian: traditional + DMA. */
        ASSERT_EQ(read_entry(f, r, FWCFG_ID, 4), 0u);
        ASSERT_MEMEQ(r->mem + BUF, "\x03\0\0\0", 4);
        fwcfg_free(f);
        /* Without guest memory: no DMA bit, no DMA register. */
        f = new_dev(NULL);
        sel(f, FWCFG_ID);
        ASSERT_EQ(fwcfg_read(f, FWCFG_PORT_DATA, 1), FWCFG_VERSION_TRADITIONAL);
        ASSERT_EQ(fwcfg_read(f, FWCFG_PORT_DMA, 4), 0u);
        fwcfg_free(f);
        free(r);
}

TEST(directory_sorted_by_name_read_by_port_and_dma) {
        struct ram *r = ram_new(0);
        struct fwcfg *f = new_dev(r);
        add_files(f);
        static const char *const names[] = { "bootorder", "etc/acpi/tables", "etc/e820", "etc/table-loader" };
        static const uint32_t sizes[] = { sizeof bootorder - 1, 300, sizeof e820, 6 };
        uint8_t dir[4 + 4 * FWCFG_DIR_ENTRY_SIZE];
        /* By port, as SeaBIOS without DMA (qemu_cfg_read: insb). */
        sel(f, FWCFG_FILE_DIR);
        insb(f, dir, sizeof dir);
        ASSERT_EQ(get_be(dir, 4), 4u);
        for (unsigned i = 0; i < 4; i++) {
                const uint8_t *e = dir + 4 + i * FWCFG_DIR_ENTRY_SIZE;
                ASSERT_EQ(get_be(e, 4), sizes[i]);
                ASSERT_EQ(get_be(e + 4, 2), FWCFG_FILE_FIRST + i);
                ASSERT_EQ(get_be(e + 6, 2), 0u);
                ASSERT_STREQ((const char *)e + 8, names[i]);
                ASSERT_EQ(fwcfg_file_key(f, names[i]), (int)(FWCFG_FILE_FIRST + i));
        }
        ASSERT_ERROR(fwcfg_file_key(f, "etc/nothing"), ENOENT);
        /* By DMA: the count (SELECT|READ 4), then entries (READ, offset kept). */
        ASSERT_EQ(read_entry(f, r, FWCFG_FILE_DIR, 4), 0u);
        ASSERT_EQ(get_be(r->mem + BUF, 4), 4u);
        for (unsigned i = 0; i < 4; i++) {
                ASSERT_EQ(dma(f, r, FWCFG_DMA_CTL_READ, FWCFG_DIR_ENTRY_SIZE, BUF), 0u);
                ASSERT_MEMEQ(r->mem + BUF, dir + 4 + i * FWCFG_DIR_ENTRY_SIZE, FWCFG_DIR_ENTRY_SIZE);
        }
        /* A file by port. */
        uint8_t got[64];
        sel(f, (uint16_t)fwcfg_file_key(f, "etc/e820"));
        insb(f, got, sizeof e820);
        ASSERT_MEMEQ(got, e820, sizeof e820);
        ASSERT_EQ(fwcfg_read(f, FWCFG_PORT_DATA, 1), 0u);
        fwcfg_free(f);
        free(r);
}

TEST(file_by_dma_select_skip_read_and_zero_fill) {
        struct ram *r = ram_new(0x100000000ull); /* above 4 GiB: the high half latched */
        struct fwcfg *f = new_dev(r);
        add_files(f);
        uint16_t key = (uint16_t)fwcfg_file_key(f, "bootorder");
        size_t blen = sizeof bootorder - 1;
        /* Whole file in one transfer (qemu_cfg_read_file, skip == 0). */
        ASSERT_EQ(read_entry(f, r, key, (uint32_t)blen), 0u);
        ASSERT_MEMEQ(r->mem + BUF, bootorder, blen);
        /* qemu_cfg_select + qemu_cfg_skip + qemu_cfg_read. */
        memset(r->mem + BUF, 0xaa, 256);
        sel(f, key);
        ASSERT_EQ(dma(f, r, FWCFG_DMA_CTL_SKIP, 5, 0), 0u);
        /* Reading past the end: the file's rest, then zeros. */
        ASSERT_EQ(dma(f, r, FWCFG_DMA_CTL_READ, 100, r->base + BUF), 0u);
        ASSERT_MEMEQ(r->mem + BUF, bootorder + 5, blen - 5);
        for (size_t i = blen - 5; i < 100; i++)
                ASSERT_EQ(r->mem[BUF + i], 0u);
        ASSERT_EQ(r->mem[BUF + 100], 0xaau);
        /* A skip past the end stops there; a read then is all zeros. */
        sel(f, key);
        ASSERT_EQ(dma(f, r, FWCFG_DMA_CTL_SKIP, 1000, 0), 0u);
        memset(r->mem + BUF, 0xaa, 8);
        ASSERT_EQ(dma(f, r, FWCFG_DMA_CTL_READ, 8, r->base + BUF), 0u);
        ASSERT_MEMEQ(r->mem + BUF, "\0\0\0\0\0\0\0\0", 8);
        /* No operation bit: nothing moves, control 0; SELECT alone selects. */
        ASSERT_EQ(dma(f, r, (uint32_t)FWCFG_SIGNATURE << 16 | FWCFG_DMA_CTL_SELECT, 4, r->base + BUF), 0u);
        ASSERT_EQ(fwcfg_read(f, FWCFG_PORT_DATA, 1), (uint32_t)'Q');
        struct fwcfg_stats st;
        fwcfg_get_stats(f, &st);
        ASSERT_EQ(st.dma_ops, 6u);
        ASSERT_EQ(st.dma_errors, 0u);
        fwcfg_free(f);
        free(r);
}

TEST(numeric_items_seabios_reads) {
        struct ram *r = ram_new(0);
        struct fwcfg *f = new_dev(r);
        ASSERT_OK(fwcfg_add_u16(f, FWCFG_NB_CPUS, 2));
        ASSERT_OK(fwcfg_add_u16(f, FWCFG_MAX_CPUS, 4));
        ASSERT_OK(fwcfg_add_u16(f, FWCFG_BOOT_MENU, 0));
        ASSERT_OK(fwcfg_add_u64(f, FWCFG_RAM_SIZE, 0x40000000ull));
        ASSERT_OK(fwcfg_add_u32(f, FWCFG_IRQ0_OVERRIDE, 1));
        ASSERT_EQ(read_entry(f, r, FWCFG_NB_CPUS, 2), 0u);
        ASSERT_MEMEQ(r->mem + BUF, "\x02\0", 2);
        ASSERT_EQ(read_entry(f, r, FWCFG_MAX_CPUS, 2), 0u);
        ASSERT_MEMEQ(r->mem + BUF, "\x04\0", 2);
        ASSERT_EQ(read_entry(f, r, FWCFG_RAM_SIZE, 8), 0u);
        ASSERT_MEMEQ(r->mem + BUF, "\0\0\0\x40\0\0\0\0", 8);
        /* The architecture's 0x8002 is not the generic 0x0002. */
        ASSERT_EQ(read_entry(f, r, FWCFG_IRQ0_OVERRIDE, 1), 0u);
        ASSERT_EQ(r->mem[BUF], 1u);
        /* Items SeaBIOS reads that we leave out read as count 0
         * (qemu_cfg_legacy: NUMA, ACPI tables, SMBIOS entries; E820 table). */
        static const uint16_t absent[] = { FWCFG_NUMA, FWCFG_UUID, FWCFG_ACPI_TABLES, FWCFG_SMBIOS_ENTRIES,
                                           FWCFG_E820_TABLE, FWCFG_NOGRAPHIC };
        for (unsigned i = 0; i < sizeof absent / sizeof absent[0]; i++) {
                memset(r->mem + BUF, 0xaa, 8);
                ASSERT_EQ(read_entry(f, r, absent[i], 8), 0u);
                ASSERT_MEMEQ(r->mem + BUF, "\0\0\0\0\0\0\0\0", 8);
        }
        /* Bit 14 (QEMU's old write channel) selects the same item. */
        sel(f, FWCFG_WRITE_CHANNEL | FWCFG_NB_CPUS);
        ASSERT_EQ(fwcfg_read(f, FWCFG_PORT_DATA, 1), 2u);
        fwcfg_free(f);
        free(r);
}

TEST(builder_limits) {
        struct fwcfg *f = new_dev(NULL);
        char name[FWCFG_FILE_NAME_MAX + 2];
        memset(name, 'n', sizeof name - 1);
        name[sizeof name - 1] = 0;
        ASSERT_ERROR(fwcfg_add_file(f, name, "x", 1), EINVAL); /* 56 characters */
        ASSERT_ERROR(fwcfg_add_file(f, "", "x", 1), EINVAL);
        ASSERT_ERROR(fwcfg_add_file(f, "big", "x", FWCFG_ITEM_MAX_BYTES + 1u), EINVAL);
        name[FWCFG_FILE_NAME_MAX] = 0;
        ASSERT_OK(fwcfg_add_file(f, name, "x", 1)); /* 55: fits with its NUL */
        ASSERT_ERROR(fwcfg_add_file(f, name, "y", 1), EEXIST);
        for (unsigned i = 1; i < FWCFG_MAX_FILES; i++) {
                char n[16];
                snprintf(n, sizeof n, "opt/f%u", i);
                ASSERT_OK(fwcfg_add_file(f, n, &i, sizeof i));
        }
        ASSERT_ERROR(fwcfg_add_file(f, "opt/one-more", "x", 1), ENOSPC);
        /* The directory holds them all, sorted. */
        uint8_t count[4], prev[FWCFG_FILE_NAME_SIZE] = { 0 }, e[FWCFG_DIR_ENTRY_SIZE];
        sel(f, FWCFG_FILE_DIR);
        insb(f, count, 4);
        ASSERT_EQ(get_be(count, 4), FWCFG_MAX_FILES);
        for (unsigned i = 0; i < FWCFG_MAX_FILES; i++) {
                insb(f, e, sizeof e);
                ASSERT_LT(strcmp((const char *)prev, (const char *)e + 8), 0);
                memcpy(prev, e + 8, sizeof prev);
        }
        /* Numeric items: not the fixed ones, not a file key, not twice. */
        ASSERT_ERROR(fwcfg_add_u16(f, FWCFG_SIGNATURE, 1), EINVAL);
        ASSERT_ERROR(fwcfg_add_u32(f, FWCFG_ID, 1), EINVAL);
        ASSERT_ERROR(fwcfg_add_u32(f, FWCFG_FILE_DIR, 1), EINVAL);
        ASSERT_ERROR(fwcfg_add_u16(f, FWCFG_FILE_FIRST, 1), EINVAL);
        ASSERT_ERROR(fwcfg_add_u16(f, FWCFG_WRITE_CHANNEL | FWCFG_NB_CPUS, 1), EINVAL);
        ASSERT_ERROR(fwcfg_add_u16(f, FWCFG_ARCH_LOCAL + FWCFG_LEGACY_ITEMS, 1), EINVAL);
        ASSERT_OK(fwcfg_add_u16(f, FWCFG_NB_CPUS, 1));
        ASSERT_ERROR(fwcfg_add_u16(f, FWCFG_NB_CPUS, 1), EEXIST);
        ASSERT_ERROR(fwcfg_add_bytes(f, FWCFG_UUID, "x", 0), EINVAL);
        fwcfg_free(f);
        /* The total bound. */
        f = new_dev(NULL);
        uint8_t *big = calloc(1, FWCFG_ITEM_MAX_BYTES);
        ASSERT_NOT_NULL(big);
        for (unsigned i = 0; i < FWCFG_TOTAL_MAX_BYTES / FWCFG_ITEM_MAX_BYTES; i++) {
                char n[16];
                snprintf(n, sizeof n, "opt/big%u", i);
                ASSERT_OK(fwcfg_add_file(f, n, big, FWCFG_ITEM_MAX_BYTES));
        }
        ASSERT_ERROR(fwcfg_add_file(f, "opt/one-byte", big, 1), ENOSPC);
        ASSERT_ERROR(fwcfg_add_u16(f, FWCFG_NB_CPUS, 1), ENOSPC);
        free(big);
        fwcfg_free(f);
}

TEST(hostile_dma_sets_error_and_touches_nothing_outside) {
        struct ram *r = ram_new(0x10000);
        struct fwcfg *f = new_dev(r);
        add_files(f);
        uint16_t key = (uint16_t)fwcfg_file_key(f, "etc/acpi/tables");
        struct fwcfg_stats st;
        /* The access structure outside RAM (below, above, wrapping):
         * nothing read or written, an error counted. */
        static const uint64_t bad_desc[] = { 0x100, 0x10000 + RAM_SIZE, UINT64_MAX - 7 };
        for (unsigned i = 0; i < 3; i++) {
                unsigned w = r->writes;
                dma_at(f, r, bad_desc[i], 0, 0, 0);
                ASSERT_EQ(r->writes, w);
        }
        /* Straddling RAM's end: not read; its control word, in RAM, gets
         * the error bit (as QEMU writes it). */
        ASSERT_EQ(dma_at(f, r, 0x10000 + RAM_SIZE - 8, 0, 0, 0), FWCFG_DMA_CTL_ERROR);
        fwcfg_get_stats(f, &st);
        ASSERT_EQ(st.dma_errors, 4u);
        /* The buffer outside RAM, or running off its end: ERROR, the item's
         * offset unmoved. */
        uint32_t ctl = (uint32_t)key << 16 | FWCFG_DMA_CTL_SELECT | FWCFG_DMA_CTL_READ;
        ASSERT_EQ(dma(f, r, ctl, 16, 0x1000), FWCFG_DMA_CTL_ERROR);
        ASSERT_EQ(dma(f, r, ctl, 300, r->base + RAM_SIZE - 100), FWCFG_DMA_CTL_ERROR);
        ASSERT_EQ(dma(f, r, ctl, 16, UINT64_MAX - 3), FWCFG_DMA_CTL_ERROR);
        ASSERT_EQ(fwcfg_read(f, FWCFG_PORT_DATA, 1), 0u); /* tables[0] = 0, offset 0 */
        ASSERT_EQ(fwcfg_read(f, FWCFG_PORT_DATA, 1), 7u);
        /* The zero fill running off RAM's end: ERROR too. */
        ASSERT_EQ(dma(f, r, ctl, 400, r->base + RAM_SIZE - 350), FWCFG_DMA_CTL_ERROR);
        /* Over the length bound: ERROR, nothing written (a skip too). */
        memset(r->mem + BUF, 0xaa, 16);
        ASSERT_EQ(dma(f, r, ctl, FWCFG_DMA_MAX_BYTES + 1u, r->base + BUF), FWCFG_DMA_CTL_ERROR);
        ASSERT_EQ(r->mem[BUF], 0xaau);
        ASSERT_EQ(dma(f, r, FWCFG_DMA_CTL_SKIP, UINT32_MAX, 0), FWCFG_DMA_CTL_ERROR);
        /* Writes are refused: ERROR, the item unchanged. */
        memset(r->mem + BUF, 0x55, 16);
        ASSERT_EQ(dma(f, r, ctl ^ FWCFG_DMA_CTL_READ ^ FWCFG_DMA_CTL_WRITE, 16, r->base + BUF), FWCFG_DMA_CTL_ERROR);
        ASSERT_EQ(read_entry(f, r, key, 2), 0u);
        ASSERT_MEMEQ(r->mem + BUF, "\x00\x07", 2);
        /* An unknown key reads zeros, by port and by DMA, without error. */
        memset(r->mem + BUF, 0xaa, 32);
        ASSERT_EQ(read_entry(f, r, 0x1234, 32), 0u);
        for (unsigned i = 0; i < 32; i++)
                ASSERT_EQ(r->mem[BUF + i], 0u);
        sel(f, FWCFG_FILE_FIRST + 4);
        ASSERT_EQ(fwcfg_read(f, FWCFG_PORT_DATA, 1), 0u);
        sel(f, FWCFG_ARCH_LOCAL | FWCFG_FILE_FIRST);
        ASSERT_EQ(fwcfg_read(f, FWCFG_PORT_DATA, 1), 0u);
        /* The latch is 0 after every operation: a low-half write alone
         * addresses below 4 GiB. Unclaimed widths do nothing. */
        fwcfg_write(f, FWCFG_PORT_DMA, 4, 0x01000000u); /* high half 1 */
        fwcfg_write(f, FWCFG_PORT_DMA, 2, 0x1234u);
        fwcfg_write(f, FWCFG_PORT_DMA_LOW, 2, 0x1234u);
        fwcfg_get_stats(f, &st);
        uint64_t ops = st.dma_ops;
        ASSERT_EQ(dma(f, r, FWCFG_DMA_CTL_READ, 1, r->base + BUF), FWCFG_DMA_CTL_READ); /* desc at 4 GiB + ... */
        fwcfg_get_stats(f, &st);
        ASSERT_EQ(st.dma_ops, ops + 1);
        ASSERT_EQ(dma(f, r, FWCFG_DMA_CTL_READ, 1, r->base + BUF), 0u); /* latch back to 0 */
        fwcfg_free(f);
        free(r);
}

static int decode(const struct vmstate_section *s, void *out, char *err, size_t errlen) {
        return fwcfg_state_decode(s, out, err, errlen);
}

TEST(saved_state_round_trip_and_refusals) {
        struct ram *r = ram_new(0);
        struct fwcfg *f = new_dev(r);
        add_files(f);
        uint16_t key = (uint16_t)fwcfg_file_key(f, "etc/e820");
        sel(f, key);
        uint8_t got[sizeof e820];
        insb(f, got, 10);
        fwcfg_write(f, FWCFG_PORT_DMA, 4, 0x02000000u); /* high half 2 latched */
        struct fwcfg_state st;
        fwcfg_get_state(f, &st);
        ASSERT_EQ(st.selector, key);
        ASSERT_EQ(st.offset, 10u);
        ASSERT_EQ(st.dma_addr, 2ull << 32);
        ASSERT_TRUE(vmstate_test_round_trip(&fwcfg_state_desc, 0, &st, sizeof st, decode));
        char err[256];
        /* Into a VM built the same way: the read goes on where it was. */
        struct fwcfg *g = new_dev(r);
        add_files(g);
        ASSERT_OK(fwcfg_set_state(g, &st, err, sizeof err));
        insb(g, got + 10, sizeof e820 - 10);
        ASSERT_MEMEQ(got, e820, sizeof e820);
        fwcfg_free(g);
        /* Into a VM whose files differ (one more, or one of another size):
         * refused, nothing applied. */
        g = new_dev(r);
        add_files(g);
        ASSERT_OK(fwcfg_add_file(g, "etc/boot-menu-wait", "\0\0", 2));
        ASSERT_ERROR(fwcfg_set_state(g, &st, err, sizeof err), EINVAL);
        ASSERT_TRUE(strstr(err, "items") != NULL);
        ASSERT_EQ(fwcfg_read(g, FWCFG_PORT_DATA, 1), (uint32_t)'Q');
        fwcfg_free(g);
        g = new_dev(r);
        ASSERT_OK(fwcfg_add_file(g, "etc/e820", e820, sizeof e820 - 1));
        ASSERT_ERROR(fwcfg_set_state(g, &st, err, sizeof err), EINVAL);
        fwcfg_free(g);
        /* A numeric item more: refused too. */
        g = new_dev(r);
        add_files(g);
        ASSERT_OK(fwcfg_add_u16(g, FWCFG_NB_CPUS, 1));
        ASSERT_ERROR(fwcfg_set_state(g, &st, err, sizeof err), EINVAL);
        fwcfg_free(g);
        /* An offset past the selected item's end. */
        struct fwcfg_state bad = st;
        bad.offset = sizeof e820 + 1;
        ASSERT_ERROR(fwcfg_set_state(f, &bad, err, sizeof err), EINVAL);
        /* The decoder: an offset beyond any item, a low half in the latch. */
        bad = st;
        bad.offset = FWCFG_ITEM_MAX_BYTES + 1u;
        ASSERT_FALSE(vmstate_test_round_trip(&fwcfg_state_desc, 0, &bad, sizeof bad, decode));
        bad = st;
        bad.dma_addr |= 0x1000;
        ASSERT_FALSE(vmstate_test_round_trip(&fwcfg_state_desc, 0, &bad, sizeof bad, decode));
        /* Reset: the signature again. */
        fwcfg_reset(f);
        ASSERT_EQ(fwcfg_read(f, FWCFG_PORT_DATA, 1), (uint32_t)'Q');
        fwcfg_free(f);
        free(r);
}

TEST_MAIN();
