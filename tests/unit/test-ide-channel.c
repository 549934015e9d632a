// SPDX-License-Identifier: MIT
/* The IDE channel register model (emu/ide*.c) and the PIIX3 PCI functions
 * (emu/pci.c, piix.c) without KVM: a fake backend runs the requests the
 * channel hands out on an in-memory disk, "guest RAM" is a buffer. PIO
 * data-in/out in DRQ blocks and across backend chunks, INTRQ edges and
 * nIEN, HOB, busy-time writes, SRST with I/O in flight, backend errors,
 * bus-master DMA in both orders, PRD corner cases, PCI configuration. */
#include "tests/lib/fake-ram.h"
#include "common/macro.h"
#include "common/test.h"
#include "emu/ide.h"
#include "emu/pci.h"
#include "emu/state.h"
#include "tests/lib/vmstate-roundtrip.h"

#define SECTORS 4096u
#define RAM_SIZE (1u << 20)

static uint8_t disk_data[SECTORS * 512];
static uint8_t ram[RAM_SIZE];
static unsigned irq_edges[2];
static bool irq_level[2];
static unsigned kicks;
static int fault; /* result forced on the next completion (0: none) */

static void on_irq(void *o, unsigned ch, bool level) {
        if (level && !irq_level[ch])
                irq_edges[ch]++;
        irq_level[ch] = level;
}
FAKE_RAM_OPS(ram, RAM_SIZE)
static void on_kick(void *o) {
        kicks++;
}
static const struct ide_ops ops = { .irq = on_irq, .gm_read = fake_ram_read, .gm_map = fake_ram_map, .kick = on_kick };

/* Runs the request the channel wants, if any, on disk_data. */
static bool run_backend(struct ide_controller *c, unsigned ch) {
        struct ide_request r;
        if (!ide_take_request(c, ch, &r))
                return false;
        int res = 0;
        if (r.kind != DISK_FLUSH) {
                uint64_t off = r.offset;
                for (unsigned i = 0; i < r.iovcnt; i++) {
                        ASSERT_LE(off + r.iov[i].iov_len, sizeof disk_data);
                        if (r.kind == DISK_READ)
                                memcpy(r.iov[i].iov_base, disk_data + off, r.iov[i].iov_len);
                        else
                                memcpy(disk_data + off, r.iov[i].iov_base, r.iov[i].iov_len);
                        off += r.iov[i].iov_len;
                }
                res = (int)r.len;
        }
        ide_complete(c, ch, fault ? fault : res);
        fault = 0;
        return true;
}

static struct ide_controller *make(bool two_drives) {
        static char path[] = "/tmp/ide-unit-XXXXXX";
        strcpy(path, "/tmp/ide-unit-XXXXXX");
        int fd = mkstemp(path);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(ftruncate(fd, SECTORS * 512), 0);
        close(fd);
        struct disk_options o = { .path = path, .fd = -1, .block_size = 512, .no_lock = true };
        struct disk *d;
        ASSERT_OK(disk_open(&o, &d));
        unlink(path);
        struct ide_controller *c;
        ASSERT_OK(ide_new(&ops, NULL, &c));
        struct ata_identity id = { .model = "M", .serial = "S", .firmware = "F" };
        ASSERT_OK(ide_attach(c, 0, d, &id));
        if (two_drives)
                ASSERT_OK(ide_attach(c, 1, d, &id));
        ASSERT_ERROR(ide_attach(c, 0, d, &id), EEXIST);
        disk_unref(d);
        memset(irq_edges, 0, sizeof irq_edges);
        memset(irq_level, 0, sizeof irq_level);
        for (unsigned i = 0; i < sizeof disk_data; i++)
                disk_data[i] = (uint8_t)(i * 7 + (i >> 9));
        ide_bm_claimed(c, 0xc000); /* as ide_register would */
        ide_set_decode(c, true, true, true, true, 0xc000);
        return c;
}

static uint8_t status(struct ide_controller *c) {
        return (uint8_t)ide_cmd_read(c, 0, 7, 1);
}

static void lba28(struct ide_controller *c, uint8_t cmd, uint32_t lba, uint8_t n) {
        ide_cmd_write(c, 0, 2, 1, n);
        ide_cmd_write(c, 0, 3, 1, lba & 0xff);
        ide_cmd_write(c, 0, 4, 1, (lba >> 8) & 0xff);
        ide_cmd_write(c, 0, 5, 1, (lba >> 16) & 0xff);
        ide_cmd_write(c, 0, 6, 1, 0xe0 | ((lba >> 24) & 0xf));
        ide_cmd_write(c, 0, 7, 1, cmd);
}

TEST(absent_devices_and_empty_channels) {
        struct ide_controller *c = make(false);
        ASSERT_EQ(ide_ctl_read(c, 0), 0x50);
        ide_cmd_write(c, 0, 6, 1, 0xb0); /* device 1: absent, device 0 answers 00h */
        ASSERT_EQ(status(c), 0x00);
        ASSERT_EQ(ide_cmd_read(c, 0, 2, 1), 1u); /* shared task file: the signature */
        ide_cmd_write(c, 0, 7, 1, ATA_CMD_IDENTIFY); /* nobody runs it */
        ASSERT_EQ(irq_edges[0], 0u);
        ASSERT_EQ(ide_cmd_read(c, 1, 7, 1), 0xffffffffu); /* no drives: the bus floats */
        ASSERT_EQ(ide_ctl_read(c, 1), 0xff);
        ide_free(c);
}

TEST(identify_by_pio_with_an_interrupt) {
        struct ide_controller *c = make(false);
        ide_cmd_write(c, 0, 6, 1, 0xa0);
        ide_cmd_write(c, 0, 7, 1, ATA_CMD_IDENTIFY);
        ASSERT_EQ(irq_edges[0], 1u);
        ASSERT_TRUE(irq_level[0]);
        ASSERT_EQ(ide_ctl_read(c, 0) & 0x89, 0x08); /* DRQ; alternate status keeps INTRQ */
        ASSERT_TRUE(irq_level[0]);
        ASSERT_EQ(status(c) & 0x89, 0x08);
        ASSERT_FALSE(irq_level[0]);
        uint16_t w[256];
        for (unsigned i = 0; i < 128; i++) { /* 32-bit data port accesses, as ata_piix makes */
                uint32_t v = ide_cmd_read(c, 0, 0, 4);
                w[2 * i] = (uint16_t)v;
                w[2 * i + 1] = (uint16_t)(v >> 16);
        }
        ASSERT_EQ(w[0], 0x0040);
        ASSERT_EQ(w[27], 'M' << 8 | ' ');
        ASSERT_EQ(status(c), 0x50); /* data-in ends without an interrupt */
        ASSERT_EQ(irq_edges[0], 1u);
        ASSERT_EQ(ide_cmd_read(c, 0, 0, 2), 0xffffffffu); /* no DRQ: nothing to read */
        ide_free(c);
}

TEST(pio_read_multiple_blocks_and_chunks) {
        struct ide_controller *c = make(false);
        ide_cmd_write(c, 0, 2, 1, 4);
        ide_cmd_write(c, 0, 7, 1, ATA_CMD_SET_MULTIPLE);
        (void)status(c);
        lba28(c, ATA_CMD_READ_MULTIPLE, 10, 200); /* 128 + 72 sectors from the backend */
        ASSERT_EQ(status(c), ATA_STAT_BSY | 0x50);
        ide_cmd_write(c, 0, 7, 1, ATA_CMD_IDENTIFY); /* ignored while BSY */
        ide_cmd_write(c, 0, 3, 1, 0x99);
        ASSERT_EQ(ide_cmd_read(c, 0, 3, 1), 10u);
        static uint8_t got[200 * 512];
        unsigned pos = 0, blocks = 0;
        while (pos < sizeof got) {
                if (status(c) & ATA_STAT_BSY)
                        ASSERT_TRUE(run_backend(c, 0));
                uint8_t st = status(c);
                ASSERT_EQ(st & (ATA_STAT_DRQ | ATA_STAT_ERR), ATA_STAT_DRQ);
                for (unsigned i = 0; i < 4 * 256 && pos < sizeof got; i++, pos += 2) {
                        uint32_t v = ide_cmd_read(c, 0, 0, 2);
                        got[pos] = (uint8_t)v, got[pos + 1] = (uint8_t)(v >> 8);
                }
                blocks++;
        }
        ASSERT_EQ(blocks, 50u);
        ASSERT_EQ(irq_edges[0], 1u + 50u); /* SET MULTIPLE, then one per DRQ block */
        ASSERT_MEMEQ(got, disk_data + 10 * 512, sizeof got);
        ASSERT_EQ(status(c), 0x50);
        ide_free(c);
}

TEST(pio_write_blocks_chunks_and_hob) {
        struct ide_controller *c = make(false);
        /* WRITE SECTORS EXT of 130 sectors at 0x100: two backend writes. */
        ide_cmd_write(c, 0, 6, 1, 0x40);
        ide_cmd_write(c, 0, 2, 1, 0x00), ide_cmd_write(c, 0, 2, 1, 130);
        ide_cmd_write(c, 0, 3, 1, 0x00), ide_cmd_write(c, 0, 3, 1, 0x00);
        ide_cmd_write(c, 0, 4, 1, 0x00), ide_cmd_write(c, 0, 4, 1, 0x01);
        ide_cmd_write(c, 0, 5, 1, 0x00), ide_cmd_write(c, 0, 5, 1, 0x00);
        ide_ctl_write(c, 0, ATA_CTL_HOB); /* HOB reads the previous bytes */
        ASSERT_EQ(ide_cmd_read(c, 0, 4, 1), 0x00u);
        ide_ctl_write(c, 0, 0);
        ASSERT_EQ(ide_cmd_read(c, 0, 4, 1), 0x01u);
        ide_cmd_write(c, 0, 7, 1, ATA_CMD_WRITE_SECTORS_EXT);
        ASSERT_EQ(irq_edges[0], 0u); /* the first block needs no interrupt */
        for (unsigned s = 0; s < 130; s++) {
                if (status(c) & ATA_STAT_BSY)
                        ASSERT_TRUE(run_backend(c, 0));
                ASSERT_EQ(status(c) & (ATA_STAT_DRQ | ATA_STAT_ERR), ATA_STAT_DRQ);
                for (unsigned i = 0; i < 128; i++)
                        ide_cmd_write(c, 0, 0, 4, 0xa5000000u | s << 8 | i);
        }
        ASSERT_TRUE(run_backend(c, 0));
        ASSERT_EQ(status(c), 0x50);
        ASSERT_EQ(irq_edges[0], 130u); /* blocks 2..130 and the end */
        uint32_t v;
        memcpy(&v, disk_data + (0x100 + 129) * 512 + 4 * 7, 4);
        ASSERT_EQ(v, 0xa5000000u | 129u << 8 | 7u);
        ide_free(c);
}

TEST(nien_and_interrupt_acknowledge) {
        struct ide_controller *c = make(false);
        ide_ctl_write(c, 0, ATA_CTL_NIEN);
        ide_cmd_write(c, 0, 7, 1, ATA_CMD_CHECK_POWER_MODE);
        ASSERT_FALSE(irq_level[0]);
        ASSERT_EQ(ide_cmd_read(c, 0, 2, 1), 0xffu);
        ide_ctl_write(c, 0, 0); /* pending INTRQ shows once nIEN clears */
        ASSERT_TRUE(irq_level[0]);
        (void)status(c);
        ASSERT_FALSE(irq_level[0]);
        ide_free(c);
}

TEST(srst_waits_for_the_request_in_flight) {
        struct ide_controller *c = make(true);
        lba28(c, ATA_CMD_READ_SECTORS, 0, 8);
        ASSERT_EQ(status(c) & ATA_STAT_BSY, ATA_STAT_BSY);
        struct ide_request r;
        ASSERT_TRUE(ide_take_request(c, 0, &r)); /* in flight */
        ide_ctl_write(c, 0, ATA_CTL_SRST);
        ide_ctl_write(c, 0, 0);
        ASSERT_EQ(status(c), ATA_STAT_BSY); /* not until the backend let go of the buffer */
        ide_complete(c, 0, (int)r.len);
        ASSERT_EQ(status(c), 0x50);
        ASSERT_EQ(ide_cmd_read(c, 0, 1, 1), 0x01u); /* diagnostic code */
        ASSERT_EQ(ide_cmd_read(c, 0, 2, 1) << 8 | ide_cmd_read(c, 0, 3, 1), 0x0101u);
        ASSERT_EQ(ide_cmd_read(c, 0, 4, 1) << 8 | ide_cmd_read(c, 0, 5, 1), 0x0000u);
        ide_cmd_write(c, 0, 6, 1, 0xb0);
        ASSERT_EQ(status(c), 0x50); /* device 1 present here */
        ASSERT_EQ(irq_edges[0], 0u); /* a reset does not interrupt */
        struct ide_stats st;
        ide_get_stats(c, &st);
        ASSERT_EQ(st.resets, 1u);
        ide_free(c);
}

TEST(backend_errors) {
        struct ide_controller *c = make(false);
        lba28(c, ATA_CMD_READ_SECTORS, 0x123, 1);
        fault = -EIO;
        ASSERT_TRUE(run_backend(c, 0));
        ASSERT_EQ(status(c), 0x51);
        ASSERT_EQ(ide_cmd_read(c, 0, 1, 1), ATA_ERR_UNC);
        ASSERT_EQ(ide_cmd_read(c, 0, 3, 1) | ide_cmd_read(c, 0, 4, 1) << 8, 0x123u); /* the failing LBA */
        lba28(c, ATA_CMD_FLUSH_CACHE, 0, 0);
        fault = -ENOSPC;
        ASSERT_TRUE(run_backend(c, 0));
        ASSERT_EQ(ide_cmd_read(c, 0, 1, 1), ATA_ERR_ABRT);
        lba28(c, ATA_CMD_READ_SECTORS, 0x10000, 1); /* past the disk */
        ASSERT_EQ(status(c), 0x51);
        ASSERT_EQ(ide_cmd_read(c, 0, 1, 1), ATA_ERR_IDNF);
        ide_free(c);
}

static void prd(unsigned i, uint32_t addr, uint32_t count, bool eot) {
        uint32_t d[2] = { addr, (count & 0xffff) | (eot ? BM_PRD_EOT : 0) };
        memcpy(ram + 0x1000 + 8 * i, d, 8);
}

TEST(dma_both_orders_and_active_bit) {
        struct ide_controller *c = make(false);
        ide_bm_write(c, 4, 4, 0x1000); /* PRD table */
        ASSERT_EQ(ide_bm_read(c, 4, 4), 0x1000u);
        prd(0, 0x10000, 0x1000, false);
        prd(1, 0x20000, 0x1000, true);
        /* Command first, then START. */
        ide_bm_write(c, 0, 1, BM_CMD_WRITE_MEM);
        lba28(c, ATA_CMD_READ_DMA, 8, 16);
        ASSERT_FALSE(ide_take_request(c, 0, &(struct ide_request){ 0 }));
        ide_bm_write(c, 0, 1, BM_CMD_WRITE_MEM | BM_CMD_START);
        ASSERT_EQ(ide_bm_read(c, 2, 1) & BM_STS_ACTIVE, BM_STS_ACTIVE);
        ASSERT_TRUE(run_backend(c, 0));
        ASSERT_EQ(ide_bm_read(c, 2, 1) & 7u, BM_STS_INTR); /* exact table: ACTIVE cleared */
        ASSERT_EQ(status(c), 0x50);
        ASSERT_MEMEQ(ram + 0x10000, disk_data + 8 * 512, 4096);
        ASSERT_MEMEQ(ram + 0x20000, disk_data + 16 * 512, 4096);
        ide_bm_write(c, 2, 1, BM_STS_INTR); /* write one to clear */
        ASSERT_EQ(ide_bm_read(c, 2, 1) & 7u, 0u);
        ide_bm_write(c, 0, 1, 0);
        /* START first, then the command; a table larger than the transfer
         * leaves ACTIVE set. */
        memset(ram + 0x30000, 0x5a, 8192);
        prd(0, 0x30000, 0x2000, false);
        prd(1, 0x40000, 0x1000, true);
        ide_bm_write(c, 0, 1, BM_CMD_START);
        lba28(c, ATA_CMD_WRITE_DMA, 100, 16);
        ASSERT_TRUE(run_backend(c, 0));
        ASSERT_EQ(ide_bm_read(c, 2, 1) & 7u, BM_STS_INTR | BM_STS_ACTIVE);
        ASSERT_MEMEQ(disk_data + 100 * 512, ram + 0x30000, 8192);
        ide_bm_write(c, 0, 1, 0);
        ASSERT_EQ(ide_bm_read(c, 2, 1) & BM_STS_ACTIVE, 0u);
        struct ide_stats st;
        ide_get_stats(c, &st);
        ASSERT_EQ(st.dma_bytes, 16384u);
        ide_free(c);
}

static void dma_fails(struct ide_controller *c, uint8_t bm_cmd, uint8_t ata_cmd) {
        ide_bm_write(c, 2, 1, BM_STS_INTR | BM_STS_ERROR);
        ide_bm_write(c, 0, 1, bm_cmd);
        lba28(c, ata_cmd, 0, 16);
        ide_bm_write(c, 0, 1, bm_cmd | BM_CMD_START);
        ASSERT_FALSE(ide_take_request(c, 0, &(struct ide_request){ 0 }));
        ASSERT_EQ(status(c), 0x51);
        ASSERT_EQ(ide_cmd_read(c, 0, 1, 1), ATA_ERR_ABRT);
        ASSERT_EQ(ide_bm_read(c, 2, 1) & 7u, BM_STS_ERROR | BM_STS_INTR);
        ide_bm_write(c, 0, 1, 0);
}

TEST(dma_refusals) {
        struct ide_controller *c = make(false);
        ide_bm_write(c, 4, 4, 0x1000);
        prd(0, 0x10000, 0x1000, true); /* 4 KiB for an 8 KiB transfer */
        dma_fails(c, BM_CMD_WRITE_MEM, ATA_CMD_READ_DMA);
        prd(0, 0x10000, 0x2000, true);
        dma_fails(c, 0, ATA_CMD_READ_DMA); /* direction differs from the command */
        prd(0, RAM_SIZE - 0x1000, 0x2000, true); /* region leaves RAM */
        dma_fails(c, BM_CMD_WRITE_MEM, ATA_CMD_READ_DMA);
        ide_bm_write(c, 4, 4, RAM_SIZE - 4); /* table leaves RAM */
        dma_fails(c, BM_CMD_WRITE_MEM, ATA_CMD_READ_DMA);
        /* BMDMA_MAX_PRD descriptors of 2 bytes without EOT: refused. */
        ide_bm_write(c, 4, 4, 0x1000);
        for (unsigned i = 0; i < BMDMA_MAX_PRD + 1; i++)
                prd(i, 0x10000, 2, false);
        dma_fails(c, BM_CMD_WRITE_MEM, ATA_CMD_READ_DMA);
        /* Bus mastering disabled in PCI: START does nothing. */
        prd(0, 0x10000, 0x2000, true);
        ide_set_decode(c, true, false, true, true, 0xc000);
        ide_bm_write(c, 0, 1, BM_CMD_WRITE_MEM);
        lba28(c, ATA_CMD_READ_DMA, 0, 16);
        ide_bm_write(c, 0, 1, BM_CMD_WRITE_MEM | BM_CMD_START);
        ASSERT_FALSE(ide_take_request(c, 0, &(struct ide_request){ 0 }));
        ASSERT_EQ(ide_ctl_read(c, 0) & ATA_STAT_BSY, ATA_STAT_BSY);
        ide_free(c);
}

/* ---- saved state (emu/ide-state.c) ---- */

/* st through the real writer and reader and ide_channel_state_decode. */
static int decode_ide(const struct ide_channel_state *st, char *err, size_t errlen) {
        uint8_t *buf;
        size_t len;
        ASSERT_OK(vmstate_test_encode(&ide_channel_state_desc, 0, st, &buf, &len));
        struct vmstate_section secs[2];
        struct vmstate_header h;
        ASSERT_EQ(vmstate_index(buf, len, &h, secs, 2, err, errlen), 1);
        static struct ide_channel_state back;
        int r = ide_channel_state_decode(&secs[0], &back, err, errlen);
        free(buf);
        return r;
}

static void refused(const struct ide_channel_state *st, const char *why) {
        char err[256] = "";
        ASSERT_EQ(decode_ide(st, err, sizeof err), -EINVAL);
        if (!strstr(err, why))
                ASSERT_STREQ(err, why);
}

/* The states a channel really holds decode (a DMA of 256 sectors among
 * them: its chunk is not the PIO buffer's); inconsistent ones are refused,
 * each naming what is wrong. */
TEST(saved_states_decode_and_inconsistent_ones_are_refused) {
        static struct ide_channel_state st, bad;
        char err[256] = "";
        struct ide_controller *c = make(false);
        /* DMA of 256 sectors (count 0), two 64 KiB PRD entries. */
        ide_bm_write(c, 4, 4, 0x1000);
        prd(0, 0x10000, 0, false);
        prd(1, 0x20000, 0, true);
        ide_bm_write(c, 0, 1, BM_CMD_WRITE_MEM | BM_CMD_START);
        lba28(c, ATA_CMD_READ_DMA, 0, 0);
        ASSERT_TRUE(run_backend(c, 0));
        ASSERT_EQ(status(c), 0x50);
        ide_bm_write(c, 0, 1, 0);
        ASSERT_OK(ide_get_state(c, 0, &st));
        ASSERT_EQ(st.chunk, 256u);
        ASSERT_OK(decode_ide(&st, err, sizeof err));
        /* A PIO read waiting for its first chunk, then in its first block. */
        lba28(c, ATA_CMD_READ_SECTORS, 10, 3);
        ASSERT_OK(ide_get_state(c, 0, &st));
        ASSERT_TRUE(st.io_wanted);
        ASSERT_OK(decode_ide(&st, err, sizeof err));
        bad = st, bad.chunk = IDE_BUF_SECTORS + 1;
        refused(&bad, "data-in chunk beyond the buffer");
        bad = st, bad.drv_status[0] = 0x50;
        refused(&bad, "a transfer without BSY");
        ASSERT_TRUE(run_backend(c, 0));
        ASSERT_EQ(status(c) & ATA_STAT_DRQ, ATA_STAT_DRQ);
        (void)ide_cmd_read(c, 0, 0, 2);
        ASSERT_OK(ide_get_state(c, 0, &st));
        ASSERT_EQ(st.pos, 2u);
        ASSERT_OK(decode_ide(&st, err, sizeof err));

        bad = st, bad.pos = bad.drq_end + 1;
        refused(&bad, "PIO buffer position");
        bad = st, bad.drq_end = bad.buf_len + 512, bad.fill = bad.drq_end;
        refused(&bad, "beyond the saved buffer");
        bad = st, bad.fill = bad.drq_end - 2;
        refused(&bad, "data-in block beyond the buffer's fill");
        bad = st, bad.phase = 0; /* idle, yet DRQ */
        refused(&bad, "DRQ without a transfer");
        bad = st, bad.pos = bad.drq_end;
        refused(&bad, "DRQ without a transfer");
        bad = st, bad.drv_status[1] = 0x58;
        refused(&bad, "DRQ without a transfer");
        bad = st, bad.drv_status[0] |= ATA_STAT_BSY;
        refused(&bad, "status BSY with DRQ");
        bad = st, bad.drv_status[0] = 0x50;
        refused(&bad, "a PIO phase without DRQ");
        bad = st, bad.phase = 3, bad.drv_status[0] = 0x50; /* DMA, not BSY */
        refused(&bad, "a transfer without BSY");
        bad = st, bad.phase = 4, bad.drv_status[0] = 0xd0; /* a flush not wanted */
        refused(&bad, "a flush that is not wanted");
        bad = st, bad.phase = 2, bad.chunk = IDE_BUF_SECTORS + 1;
        refused(&bad, "data-out block beyond the chunk");
        bad = st, bad.chunk = 65537;
        refused(&bad, "chunk");
        /* SRST hides the status: DRQ left over from the transfer is fine. */
        bad = st, bad.in_reset = true, bad.phase = 0;
        ASSERT_OK(decode_ide(&bad, err, sizeof err));
        ide_free(c);
}

static uint32_t cfg_read(struct pci_bus *b, unsigned devfn, unsigned off, unsigned len) {
        pci_conf1_write(b, 0xcf8, 4, 0x80000000u | devfn << 8 | (off & 0xfc));
        return pci_conf1_read(b, (uint16_t)(0xcfc + (off & 3)), len);
}

static void cfg_write(struct pci_bus *b, unsigned devfn, unsigned off, unsigned len, uint32_t v) {
        pci_conf1_write(b, 0xcf8, 4, 0x80000000u | devfn << 8 | (off & 0xfc));
        pci_conf1_write(b, (uint16_t)(0xcfc + (off & 3)), len, v);
}

static uint8_t reset_value;
static void reset_write(void *o, uint8_t v) {
        reset_value = v;
}
static uint8_t reset_read(void *o) {
        return 0x0e;
}
static const struct pci_reset_ops reset_ops = { .write = reset_write, .read = reset_read };

TEST(piix_pci_functions) {
        struct ide_controller *c = make(false);
        struct piix x;
        ASSERT_OK(piix_init(&x, c, &reset_ops, NULL));
        struct pci_bus *b = &x.bus;
        pci_conf1_write(b, 0xcf8, 4, 0x80000b0bu); /* bits 1-0 read as zero */
        ASSERT_EQ(pci_conf1_read(b, 0xcf8, 4), 0x80000b08u);
        ASSERT_EQ(cfg_read(b, 0x00, 0, 4), 0x12378086u);
        ASSERT_EQ(cfg_read(b, 0x00, 0x0b, 1), 0x06u); /* host bridge */
        ASSERT_EQ(cfg_read(b, 0x08, 0, 4), 0x70008086u);
        ASSERT_EQ(cfg_read(b, 0x08, 0x0e, 1), 0x80u); /* multi-function */
        ASSERT_EQ(cfg_read(b, 0x09, 0, 4), 0x70108086u);
        ASSERT_EQ(cfg_read(b, 0x09, 0x08, 4), 0x01018000u);
        ASSERT_EQ(cfg_read(b, 0x09, 0x3d, 1), 0u); /* no interrupt pin: compatibility mode */
        ASSERT_EQ(cfg_read(b, 0x10, 0, 4), 0xffffffffu); /* nothing at 00:02.0 */
        pci_conf1_write(b, 0xcf8, 4, 0x80010000u); /* bus 1 */
        ASSERT_EQ(pci_conf1_read(b, 0xcfc, 4), 0xffffffffu);
        /* BAR4 sizing: 16 bytes of I/O. */
        ASSERT_EQ(cfg_read(b, 0x09, 0x20, 4), 0xc001u);
        cfg_write(b, 0x09, 0x20, 4, 0xffffffffu);
        /* All of bits 31-4 take the ones, as QEMU's I/O BARs do: SeaBIOS sizes
         * a BAR as ~(value & mask) + 1 over 32 bits (src/fw/pciinit.c). */
        ASSERT_EQ(cfg_read(b, 0x09, 0x20, 4), 0xfffffff1u);
        ASSERT_EQ(ide_bm_read(c, 2, 1), 0xffffffffu); /* moved away from where it is registered */
        cfg_write(b, 0x09, 0x20, 4, 0xc000u);
        ASSERT_NE(ide_bm_read(c, 2, 1), 0xffffffffu);
        /* I/O space off: nothing decodes; IDE decode enable off for channel 0. */
        cfg_write(b, 0x09, 0x04, 2, 0x0004);
        ASSERT_EQ(ide_ctl_read(c, 0), 0xff);
        cfg_write(b, 0x09, 0x04, 2, 0x0005);
        ASSERT_EQ(ide_ctl_read(c, 0), 0x50);
        cfg_write(b, 0x09, 0x41, 1, 0x00);
        ASSERT_EQ(ide_ctl_read(c, 0), 0xff);
        cfg_write(b, 0x09, 0x40, 2, 0x8000);
        ASSERT_EQ(ide_ctl_read(c, 0), 0x50);
        cfg_write(b, 0x09, 0x00, 4, 0); /* read-only IDs */
        ASSERT_EQ(cfg_read(b, 0x09, 0, 4), 0x70108086u);
        /* 0xCF9 is the reset control register, not part of CONFIG_ADDRESS. */
        pci_conf1_write(b, 0xcf9, 1, 0x06);
        ASSERT_EQ(reset_value, 0x06);
        ASSERT_EQ(pci_conf1_read(b, 0xcf9, 1), 0x0eu);
        pci_conf1_write(b, 0xcf8, 4, 0x80000900u);
        pci_conf1_write(b, 0xcfb, 1, 0x01); /* Linux's type-1 probe writes this: ignored */
        ASSERT_EQ(pci_conf1_read(b, 0xcf8, 4), 0x80000900u);
        ASSERT_EQ(pci_conf1_read(b, 0xcfa, 2), 0xffffu); /* not decoded as CONFIG_DATA */
        piix_destroy(&x);
        ide_free(c);
}

/* Hyper-V's video function at 00:08.0, on a bus without IDE: found by
 * its IDs, BAR0 sized and moved as Linux's PCI core does, the command
 * register's memory bit the only one writable; its configuration travels
 * in the PIIX section, and a state from before it (zeros) leaves it be. */
TEST(piix_video_function_without_ide) {
        struct piix x;
        ASSERT_OK(piix_init(&x, NULL, &reset_ops, NULL));
        ASSERT_ERROR(piix_add_video(&x, 0xe0000000u, 3u << 20), EINVAL);   /* not a power of two */
        ASSERT_ERROR(piix_add_video(&x, 0xe0100000u, 16u << 20), EINVAL);  /* not aligned to its size */
        ASSERT_OK(piix_add_video(&x, 0xe0000000u, 16u << 20));
        ASSERT_ERROR(piix_add_video(&x, 0xe0000000u, 16u << 20), EINVAL);  /* once */
        struct pci_bus *b = &x.bus;
        ASSERT_EQ(cfg_read(b, 0x00, 0, 4), 0x12378086u);
        ASSERT_EQ(cfg_read(b, 0x09, 0, 4), 0xffffffffu); /* no IDE function */
        ASSERT_EQ(cfg_read(b, 0x40, 0, 4), 0x53531414u);   /* 00:08.0 */
        ASSERT_EQ(cfg_read(b, 0x40, 0x08, 4), 0x03000000u); /* VGA-compatible display controller */
        ASSERT_EQ(cfg_read(b, 0x40, 0x0e, 1), 0u);
        ASSERT_EQ(cfg_read(b, 0x40, 0x04, 2), 0x0002u);     /* memory space on */
        ASSERT_EQ(cfg_read(b, 0x40, 0x10, 4), 0xe0000000u);
        cfg_write(b, 0x40, 0x10, 4, 0xffffffffu);
        ASSERT_EQ(cfg_read(b, 0x40, 0x10, 4), 0xff000000u); /* 16 MiB, 32-bit, not prefetchable */
        cfg_write(b, 0x40, 0x10, 4, 0xe1000000u);
        ASSERT_EQ(cfg_read(b, 0x40, 0x14, 4), 0u);          /* no BAR1 */
        cfg_write(b, 0x40, 0x04, 2, 0xffff);
        ASSERT_EQ(cfg_read(b, 0x40, 0x04, 2), 0x0002u);
        cfg_write(b, 0x40, 0x00, 4, 0);
        ASSERT_EQ(cfg_read(b, 0x40, 0, 4), 0x53531414u);
        /* Its state: the moved BAR comes back on a fresh bus. */
        struct piix_state st;
        piix_get_state(&x, &st);
        struct piix y;
        ASSERT_OK(piix_init(&y, NULL, &reset_ops, NULL));
        ASSERT_OK(piix_add_video(&y, 0xe0000000u, 16u << 20));
        char err[256];
        ASSERT_OK(piix_set_state(&y, &st, err, sizeof err));
        ASSERT_EQ(cfg_read(&y.bus, 0x40, 0x10, 4), 0xe1000000u);
        /* A state from before the function (zeros): the function as built. */
        struct piix_state old = st;
        memset(old.video, 0, sizeof old.video);
        struct piix z;
        ASSERT_OK(piix_init(&z, NULL, &reset_ops, NULL));
        ASSERT_OK(piix_add_video(&z, 0xe0000000u, 16u << 20));
        ASSERT_OK(piix_set_state(&z, &old, err, sizeof err));
        ASSERT_EQ(cfg_read(&z.bus, 0x40, 0x10, 4), 0xe0000000u);
        /* A bus without the function refuses a state that has it, and one
         * with an IDE function refuses a state without. */
        struct piix none;
        ASSERT_OK(piix_init(&none, NULL, &reset_ops, NULL));
        ASSERT_ERROR(piix_set_state(&none, &st, err, sizeof err), EINVAL);
        struct ide_controller *c = make(false);
        struct piix with_ide;
        ASSERT_OK(piix_init(&with_ide, c, &reset_ops, NULL));
        ASSERT_ERROR(piix_set_state(&with_ide, &old, err, sizeof err), EINVAL);
        piix_destroy(&with_ide);
        ide_free(c);
        piix_destroy(&none);
        piix_destroy(&z);
        piix_destroy(&y);
        piix_destroy(&x);
}

TEST_MAIN();
