// SPDX-License-Identifier: MIT
/* The PIIX3 IDE function's BAR4 where the BIOS puts it (emu/piix.c,
 * ide.c's mover; docs/emulated-devices.md): the bus-master block's ports
 * follow BAR4 and the command register's I/O space enable, as vid's port
 * window follows vid_pio_window_move (tests/unit/test-vid-pio-window.c).
 * Here a port map of one window stands for vid: SeaBIOS's sizing and
 * assignment, a DMA read through the new ports, the old ports dead, I/O
 * space off, and the BAR through the PIIX section of a saved state (one
 * saved at 0xC000, as every worker before this one left it, restores
 * there). */
#include "tests/lib/fake-ram.h"
#include "common/macro.h"
#include "common/test.h"
#include "emu/bmdma.h"
#include "emu/ide.h"
#include "emu/pci.h"
#include "emu/state.h"
#include "tests/lib/vmstate-roundtrip.h"

#define SECTORS 256u
#define RAM_SIZE (1u << 20)
#define IDE_DEVFN 0x09u /* 00:01.1 */

static uint8_t disk_data[SECTORS * 512];
static uint8_t ram[RAM_SIZE];
static uint32_t bm_at = IDE_BM_OFF; /* where the mover put the ports */
static unsigned moves;

static void on_irq(void *o, unsigned ch, bool level) {
}
static void on_kick(void *o) {
}
FAKE_RAM_OPS(ram, RAM_SIZE)
static const struct ide_ops ops = { .irq = on_irq, .gm_read = fake_ram_read, .gm_map = fake_ram_map, .kick = on_kick };

static void mover(void *o, uint32_t base) {
        bm_at = base;
        moves++;
}

/* The guest's IN and OUT on the bus-master ports: floating where nothing
 * decodes. */
static uint32_t in(struct ide_controller *c, uint32_t port, unsigned len) {
        if (bm_at == IDE_BM_OFF || port < bm_at || port + len > bm_at + 16)
                return 0xffffffffu >> (32 - 8 * len);
        return ide_bm_read(c, port - bm_at, len);
}

static void out(struct ide_controller *c, uint32_t port, unsigned len, uint32_t v) {
        if (bm_at != IDE_BM_OFF && port >= bm_at && port + len <= bm_at + 16)
                ide_bm_write(c, port - bm_at, len, v);
}

static uint32_t cfg_read(struct pci_bus *b, unsigned off, unsigned len) {
        pci_conf1_write(b, 0xcf8, 4, 0x80000000u | IDE_DEVFN << 8 | (off & 0xfc));
        return pci_conf1_read(b, (uint16_t)(0xcfc + (off & 3)), len);
}

static void cfg_write(struct pci_bus *b, unsigned off, unsigned len, uint32_t v) {
        pci_conf1_write(b, 0xcf8, 4, 0x80000000u | IDE_DEVFN << 8 | (off & 0xfc));
        pci_conf1_write(b, (uint16_t)(0xcfc + (off & 3)), len, v);
}

static void reset_write(void *o, uint8_t v) {
}
static uint8_t reset_read(void *o) {
        return 0;
}
static const struct pci_reset_ops reset_ops = { .write = reset_write, .read = reset_read };

/* A controller with a disk of a known pattern, its PCI functions, and the
 * test's port map as the mover (what ide_register installs for vid's). */
static struct ide_controller *make(struct piix *x) {
        char path[] = "/tmp/ide-bar4-XXXXXX";
        int fd = mkstemp(path);
        ASSERT_GE(fd, 0);
        for (unsigned i = 0; i < sizeof disk_data; i++)
                disk_data[i] = (uint8_t)(i * 13 + (i >> 9));
        ASSERT_EQ(pwrite(fd, disk_data, sizeof disk_data, 0), (ssize_t)sizeof disk_data);
        close(fd);
        struct disk_options o = { .path = path, .fd = -1, .block_size = 512, .no_lock = true };
        struct disk *d;
        ASSERT_OK(disk_open(&o, &d));
        unlink(path);
        struct ide_controller *c;
        ASSERT_OK(ide_new(&ops, NULL, &c));
        struct ata_identity id = { .model = "M", .serial = "S", .firmware = "F" };
        ASSERT_OK(ide_attach(c, 0, d, &id));
        disk_unref(d);
        ASSERT_OK(piix_init(x, c, &reset_ops, NULL));
        bm_at = IDE_BM_OFF, moves = 0;
        ide_set_bm_mover(c, mover, NULL);
        return c;
}

/* Runs the request channel 0 wants on disk_data (reads only here). */
static void run_backend(struct ide_controller *c) {
        struct ide_request r;
        ASSERT_TRUE(ide_take_request(c, 0, &r));
        ASSERT_EQ(r.kind, DISK_READ);
        uint64_t off = r.offset;
        for (unsigned i = 0; i < r.iovcnt; i++) {
                ASSERT_LE(off + r.iov[i].iov_len, sizeof disk_data);
                memcpy(r.iov[i].iov_base, disk_data + off, r.iov[i].iov_len);
                off += r.iov[i].iov_len;
        }
        ide_complete(c, 0, (int)r.len);
}

/* READ DMA of 8 sectors at lba into RAM at 0x20000 through the bus-master
 * ports at base: what ata_piix does, with the PRD table at 0x1000. */
static void dma_read(struct ide_controller *c, uint32_t base, uint32_t lba) {
        uint32_t prd[2] = { 0x20000, 4096 | BM_PRD_EOT };
        memcpy(ram + 0x1000, prd, sizeof prd);
        memset(ram + 0x20000, 0, 4096);
        out(c, base + 4, 4, 0x1000);
        ASSERT_EQ(in(c, base + 4, 4), 0x1000u);
        out(c, base, 1, BM_CMD_WRITE_MEM);
        ide_cmd_write(c, 0, 2, 1, 8);
        ide_cmd_write(c, 0, 3, 1, lba & 0xff);
        ide_cmd_write(c, 0, 4, 1, (lba >> 8) & 0xff);
        ide_cmd_write(c, 0, 5, 1, 0);
        ide_cmd_write(c, 0, 6, 1, 0xe0);
        ide_cmd_write(c, 0, 7, 1, ATA_CMD_READ_DMA);
        out(c, base, 1, BM_CMD_WRITE_MEM | BM_CMD_START);
        ASSERT_EQ(in(c, base + 2, 1) & BM_STS_ACTIVE, BM_STS_ACTIVE);
        run_backend(c);
        ASSERT_EQ(in(c, base + 2, 1) & 7u, BM_STS_INTR);
        ASSERT_EQ(ide_cmd_read(c, 0, 7, 1), 0x50u);
        ASSERT_MEMEQ(ram + 0x20000, disk_data + lba * 512, 4096);
        out(c, base + 2, 1, BM_STS_INTR);
        out(c, base, 1, 0);
}

TEST(bar4_moves_where_the_bios_puts_it) {
        struct piix x;
        struct ide_controller *c = make(&x);
        struct pci_bus *b = &x.bus;
        ASSERT_EQ(bm_at, 0xc000u); /* the mover put the ports at BAR4 at once */
        dma_read(c, 0xc000, 8);
        /* SeaBIOS sizes BAR4 (all ones: decodes nothing meanwhile) and
         * assigns it. */
        cfg_write(b, 0x20, 4, 0xffffffffu);
        ASSERT_EQ(cfg_read(b, 0x20, 4), 0xfffffff1u);
        ASSERT_EQ(bm_at, IDE_BM_OFF);
        ASSERT_EQ(in(c, 0xc002, 1), 0xffu);
        cfg_write(b, 0x20, 4, 0xd040u);
        ASSERT_EQ(cfg_read(b, 0x20, 4), 0xd041u);
        ASSERT_EQ(bm_at, 0xd040u);
        dma_read(c, 0xd040, 40);
        /* The old ports are dead: they read all ones and a write there
         * does nothing (the PRD table stays). */
        ASSERT_EQ(in(c, 0xc004, 4), 0xffffffffu);
        out(c, 0xc004, 4, 0x8000);
        ASSERT_EQ(in(c, 0xd044, 4), 0x1000u);
        /* I/O space off: nowhere; on again: back at BAR4. */
        cfg_write(b, 0x04, 2, 0x0004u); /* bus master only */
        ASSERT_EQ(bm_at, IDE_BM_OFF);
        ASSERT_EQ(in(c, 0xd042, 1), 0xffu);
        cfg_write(b, 0x04, 2, 0x0005u); /* I/O space and bus master */
        ASSERT_EQ(bm_at, 0xd040u);
        /* A base past the port space (bit 16) decodes nothing. */
        cfg_write(b, 0x20, 4, 0x1c000u);
        ASSERT_EQ(bm_at, IDE_BM_OFF);
        cfg_write(b, 0x20, 4, 0xfff0u); /* the last 16 ports */
        ASSERT_EQ(bm_at, 0xfff0u);
        ASSERT_EQ(in(c, 0xfff4, 4), 0x1000u);
        piix_destroy(&x);
        ide_free(c);
}

/* The PIIX section's bytes through the real writer and reader. */
static void through_a_file(struct piix_state *st) {
        uint8_t *buf;
        size_t len;
        char err[256] = "";
        ASSERT_OK(vmstate_test_encode(&piix_state_desc, 0, st, &buf, &len));
        struct vmstate_section secs[2];
        struct vmstate_header h;
        ASSERT_EQ(vmstate_index(buf, len, &h, secs, 2, err, sizeof err), 1);
        ASSERT_OK(piix_state_decode(&secs[0], st, err, sizeof err));
        free(buf);
}

TEST(bar4_in_the_saved_state) {
        static struct piix_state st, at_c000;
        char err[256] = "";
        struct piix x, y, z;
        struct ide_controller *c = make(&x);
        piix_get_state(&x, &at_c000); /* as every earlier worker saved it */
        cfg_write(&x.bus, 0x20, 4, 0xd040u);
        piix_get_state(&x, &st);
        piix_destroy(&x);
        ide_free(c);

        through_a_file(&st);
        c = make(&y);
        ASSERT_EQ(bm_at, 0xc000u);
        ASSERT_OK(piix_set_state(&y, &st, err, sizeof err));
        ASSERT_EQ(bm_at, 0xd040u); /* restored where the guest put it */
        ASSERT_EQ(cfg_read(&y.bus, 0x20, 4), 0xd041u);
        dma_read(c, 0xd040, 16);
        ASSERT_EQ(in(c, 0xc002, 1), 0xffu);
        piix_destroy(&y);
        ide_free(c);

        through_a_file(&at_c000);
        c = make(&z);
        cfg_write(&z.bus, 0x20, 4, 0xe000u); /* whatever it was before the restore */
        ASSERT_OK(piix_set_state(&z, &at_c000, err, sizeof err));
        ASSERT_EQ(bm_at, 0xc000u);
        dma_read(c, 0xc000, 24);
        ASSERT_EQ(in(c, 0xe002, 1), 0xffu);
        piix_destroy(&z);
        ide_free(c);
}

TEST(without_a_mover_only_the_claimed_address_decodes) {
        /* Tests and fuzzers that call ide_bm_claimed, as before movers. */
        struct ide_controller *c;
        ASSERT_OK(ide_new(&ops, NULL, &c));
        ide_bm_claimed(c, 0xc000);
        ide_set_decode(c, true, true, true, true, 0xc000);
        ASSERT_NE(ide_bm_read(c, 2, 1), 0xffffffffu);
        ide_set_decode(c, true, true, true, true, 0xd000);
        ASSERT_EQ(ide_bm_read(c, 2, 1), 0xffffffffu);
        ide_set_decode(c, true, true, true, true, IDE_BM_OFF);
        ASSERT_EQ(ide_bm_read(c, 2, 1), 0xffffffffu);
        ide_free(c);
}

TEST_MAIN()
