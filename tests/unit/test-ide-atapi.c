// SPDX-License-Identifier: MIT
/* The DVD drive on the IDE channel (emu/ide-atapi.c) driven through its
 * registers, as SeaBIOS and Linux's ata_piix do, with a fake backend on an
 * in-memory "ISO": the PACKET signature, IDENTIFY PACKET DEVICE, PACKET
 * with PIO data-in in byte-count-limited DRQ blocks and across backend
 * chunks, with DMA for reads and for immediate data, CHECK CONDITION with
 * the sense key in the error register, the interrupt reason, the host's
 * insert and eject, and the saved state (version 2 with the drive, a
 * version-1 state still read). */
#include "tests/lib/fake-ram.h"
#include "common/macro.h"
#include "common/test.h"
#include "emu/atapi.h"
#include "emu/ide.h"
#include "emu/state.h"
#include "scsi/scsi.h"
#include "tests/lib/vmstate-roundtrip.h"

#define BLOCKS 64u
#define RAM_SIZE (1u << 20)
#define CH 1u /* the DVD is the secondary master, as Hyper-V places it */

static uint8_t iso[BLOCKS * 2048];
static uint8_t ram[RAM_SIZE];
static unsigned irq_edges;
static bool irq_level;

static void on_irq(void *o, unsigned ch, bool level) {
        if (level && !irq_level)
                irq_edges++;
        irq_level = level;
}
FAKE_RAM_OPS(ram, RAM_SIZE)
static const struct ide_ops ops = { .irq = on_irq, .gm_read = fake_ram_read, .gm_map = fake_ram_map };

static bool run_backend(struct ide_controller *c) {
        struct ide_request r;
        if (!ide_take_request(c, CH, &r))
                return false;
        ASSERT_EQ(r.kind, DISK_READ);
        uint64_t off = r.offset;
        for (unsigned i = 0; i < r.iovcnt; i++) {
                ASSERT_LE(off + r.iov[i].iov_len, sizeof iso);
                memcpy(r.iov[i].iov_base, iso + off, r.iov[i].iov_len);
                off += r.iov[i].iov_len;
        }
        ide_complete(c, CH, (int)r.len);
        return true;
}

static struct disk *image(uint64_t bytes, bool read_only) {
        char path[] = "/tmp/ide-atapi-XXXXXX";
        int fd = mkstemp(path);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(ftruncate(fd, (off_t)bytes), 0);
        close(fd);
        struct disk_options o = { .path = path, .fd = -1, .block_size = 512, .read_only = read_only, .no_lock = true };
        struct disk *d;
        ASSERT_OK(disk_open(&o, &d));
        unlink(path);
        return d;
}

static struct ide_controller *make(bool disc) {
        struct ide_controller *c;
        ASSERT_OK(ide_new(&ops, NULL, &c));
        struct ata_identity id = { .model = "Virtual CD", .serial = "S", .firmware = "F" };
        struct disk *d = disc ? image(sizeof iso, true) : NULL;
        ASSERT_OK(ide_attach_dvd(c, 2 * CH, d, &id));
        ASSERT_ERROR(ide_attach_dvd(c, 2 * CH, d, &id), EEXIST);
        disk_unref(d);
        irq_edges = 0, irq_level = false;
        for (unsigned i = 0; i < sizeof iso; i++)
                iso[i] = (uint8_t)(i * 13 + (i >> 11));
        ide_bm_claimed(c, 0xc000);
        ide_set_decode(c, true, true, true, true, 0xc000);
        return c;
}

static uint8_t status(struct ide_controller *c) {
        return (uint8_t)ide_cmd_read(c, CH, 7, 1);
}
static uint8_t reg(struct ide_controller *c, unsigned off) {
        return (uint8_t)ide_cmd_read(c, CH, off, 1);
}

/* PACKET with a byte count limit, then the CDB: the CDB phase checked. */
static void packet(struct ide_controller *c, bool dma, uint16_t limit, const uint8_t cdb[12]) {
        ide_cmd_write(c, CH, 6, 1, 0xa0);
        ide_cmd_write(c, CH, 1, 1, dma ? ATAPI_FEAT_DMA : 0);
        ide_cmd_write(c, CH, 4, 1, limit & 0xff);
        ide_cmd_write(c, CH, 5, 1, limit >> 8);
        unsigned edges = irq_edges;
        ide_cmd_write(c, CH, 7, 1, ATA_CMD_PACKET);
        ASSERT_EQ(ide_ctl_read(c, CH) & 0x89, ATA_STAT_DRQ);
        ASSERT_EQ(reg(c, 2) & 3, ATAPI_IR_COD);
        ASSERT_EQ(irq_edges, edges); /* DRQ for the CDB without INTRQ */
        for (unsigned i = 0; i < 12; i += 2)
                ide_cmd_write(c, CH, 0, 2, (uint32_t)(cdb[i] | cdb[i + 1] << 8));
}
#define PACKET(c, dma, limit, ...) packet(c, dma, limit, (const uint8_t[12]){ __VA_ARGS__ })

/* The status phase: interrupt reason CoD|IO, INTRQ, the status. */
static void expect_end(struct ide_controller *c, uint8_t st) {
        ASSERT_TRUE(irq_level);
        ASSERT_EQ(reg(c, 2) & 3, ATAPI_IR_COD | ATAPI_IR_IO);
        ASSERT_EQ(status(c), st);
}

/* Reads a PIO data-in of `len` bytes in DRQ blocks of at most `limit`. */
static void pio_in(struct ide_controller *c, uint8_t *out, uint32_t len, uint32_t limit) {
        uint32_t pos = 0;
        while (pos < len) {
                if (ide_ctl_read(c, CH) & ATA_STAT_BSY)
                        ASSERT_TRUE(run_backend(c));
                ASSERT_TRUE(irq_level); /* each DRQ block interrupts */
                ASSERT_EQ(status(c) & 0x89, ATA_STAT_DRQ); /* and is acknowledged, as a driver does */
                ASSERT_EQ(reg(c, 2) & 3, ATAPI_IR_IO);
                uint32_t n = reg(c, 4) | (uint32_t)reg(c, 5) << 8;
                ASSERT_EQ(n, MIN(limit, len - pos));
                for (uint32_t i = 0; i < n; i += 2, pos += 2) {
                        uint32_t v = ide_cmd_read(c, CH, 0, 2);
                        out[pos] = (uint8_t)v;
                        if (pos + 1 < len)
                                out[pos + 1] = (uint8_t)(v >> 8);
                }
        }
}

TEST(signature_identify_and_refused_ata_commands) {
        struct ide_controller *c = make(true);
        ASSERT_EQ(reg(c, 4), ATAPI_SIG_MID);
        ASSERT_EQ(reg(c, 5), ATAPI_SIG_HIGH);
        ASSERT_EQ(ide_cmd_read(c, 0, 7, 1), 0xffffffffu); /* the primary channel is empty */
        ide_cmd_write(c, CH, 6, 1, 0xa0);
        ide_cmd_write(c, CH, 4, 1, 0x55); /* the host's value replaces it */
        ASSERT_EQ(reg(c, 4), 0x55);
        ide_cmd_write(c, CH, 7, 1, ATA_CMD_IDENTIFY);
        ASSERT_EQ(status(c), 0x51);
        ASSERT_EQ(reg(c, 1), ATA_ERR_ABRT);
        ASSERT_EQ(reg(c, 4), ATAPI_SIG_MID); /* IDENTIFY DEVICE aborts with the signature */
        ASSERT_EQ(reg(c, 5), ATAPI_SIG_HIGH);
        ide_cmd_write(c, CH, 7, 1, ATA_CMD_IDENTIFY_PACKET);
        ASSERT_EQ(status(c) & 0x89, ATA_STAT_DRQ);
        uint16_t w[256];
        for (unsigned i = 0; i < 256; i++)
                w[i] = (uint16_t)ide_cmd_read(c, CH, 0, 2);
        ASSERT_EQ(w[0], 0x85c0);
        ASSERT_EQ(w[27], 'V' << 8 | 'i');
        ASSERT_EQ(status(c), 0x50);
        /* SRST: the signature again (Linux classifies by it). */
        ide_cmd_write(c, CH, 4, 1, 0);
        ide_ctl_write(c, CH, ATA_CTL_SRST);
        ide_ctl_write(c, CH, 0);
        ASSERT_EQ(reg(c, 4), ATAPI_SIG_MID);
        ASSERT_EQ(reg(c, 5), ATAPI_SIG_HIGH);
        /* SET FEATURES (transfer mode) runs as for a disk. */
        ide_cmd_write(c, CH, 1, 1, ATA_SF_SET_XFER);
        ide_cmd_write(c, CH, 2, 1, ATA_XFER_UDMA | 2);
        ide_cmd_write(c, CH, 7, 1, ATA_CMD_SET_FEATURES);
        ASSERT_EQ(status(c), 0x50);
        ide_free(c);
}

TEST(pio_read_in_blocks_across_chunks) {
        struct ide_controller *c = make(true);
        /* READ(10) of 40 blocks at 3: 160 sectors, a chunk of 128 and one of 32. */
        PACKET(c, false, 2048, SCSI_OP_READ_10, 0, 0, 0, 0, 3, 0, 0, 40, 0, 0, 0);
        ASSERT_EQ(status(c) & ATA_STAT_BSY, ATA_STAT_BSY);
        static uint8_t got[40 * 2048];
        unsigned edges = irq_edges;
        pio_in(c, got, sizeof got, 2048);
        ASSERT_MEMEQ(got, iso + 3 * 2048, sizeof got);
        ASSERT_EQ(irq_edges, edges + 40u + 1u); /* one per DRQ block, one for the status */
        expect_end(c, 0x50);
        /* An odd limit is taken even; 0 as FFFEh. */
        PACKET(c, false, 0x0801, SCSI_OP_READ_10, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0);
        pio_in(c, got, 2048, 2048);
        expect_end(c, 0x50);
        PACKET(c, false, 0, SCSI_OP_READ_10, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0);
        static uint8_t all[64 * 2048];
        pio_in(c, all, 65534, 0xfffe);
        pio_in(c, all + 65534, 2, 0xfffe);
        pio_in(c, all + 65536, sizeof all - 65536, 0xfffe);
        ASSERT_MEMEQ(all, iso, sizeof all);
        expect_end(c, 0x50);
        ide_free(c);
}

TEST(immediate_data_check_condition_and_sense) {
        struct ide_controller *c = make(true);
        uint8_t buf[64];
        PACKET(c, false, 16, SCSI_OP_INQUIRY, 0, 0, 0, 36, 0, 0, 0, 0, 0, 0, 0);
        pio_in(c, buf, 36, 16); /* 16, 16, 4 */
        ASSERT_MEMEQ(buf + 8, "Msft    ", 8);
        expect_end(c, 0x50);
        PACKET(c, false, 2048, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        expect_end(c, 0x51);
        ASSERT_EQ(reg(c, 1), SCSI_SENSE_ILLEGAL_REQUEST << 4 | ATA_ERR_ABRT);
        PACKET(c, false, 2048, SCSI_OP_REQUEST_SENSE, 0, 0, 0, 18, 0, 0, 0, 0, 0, 0, 0);
        pio_in(c, buf, 18, 2048);
        ASSERT_EQ(buf[2], SCSI_SENSE_ILLEGAL_REQUEST);
        ASSERT_EQ(buf[12], 0x20);
        expect_end(c, 0x50);
        /* Past the disc's end. */
        PACKET(c, false, 2048, SCSI_OP_READ_10, 0, 0, 0, 0, BLOCKS - 1, 0, 0, 2, 0, 0, 0);
        expect_end(c, 0x51);
        ASSERT_EQ(reg(c, 1), SCSI_SENSE_ILLEGAL_REQUEST << 4 | ATA_ERR_ABRT);
        /* A non-data command. */
        PACKET(c, false, 0, SCSI_OP_TEST_UNIT_READY, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        expect_end(c, 0x50);
        ide_free(c);
}

static void prd(unsigned i, uint32_t addr, uint32_t count, bool eot) {
        uint32_t d[2] = { addr, (count & 0xffff) | (eot ? BM_PRD_EOT : 0) };
        memcpy(ram + 0x1000 + 8 * i, d, 8);
}

TEST(dma_reads_and_immediate_data) {
        struct ide_controller *c = make(true);
        unsigned bm = 8 * CH;
        ide_bm_write(c, bm + 4, 4, 0x1000);
        prd(0, 0x10000, 0x1000, false);
        prd(1, 0x20000, 0x800, true);
        ide_bm_write(c, bm, 1, BM_CMD_WRITE_MEM | BM_CMD_START);
        PACKET(c, true, 0, SCSI_OP_READ_10, 0, 0, 0, 0, 5, 0, 0, 3, 0, 0, 0);
        ASSERT_EQ(status(c) & ATA_STAT_BSY, ATA_STAT_BSY);
        ASSERT_TRUE(run_backend(c));
        expect_end(c, 0x50);
        ASSERT_EQ(ide_bm_read(c, bm + 2, 1) & (BM_STS_INTR | BM_STS_ACTIVE), BM_STS_INTR); /* EOT used up */
        ASSERT_MEMEQ(ram + 0x10000, iso + 5 * 2048, 0x1000);
        ASSERT_MEMEQ(ram + 0x20000, iso + 7 * 2048, 0x800);
        /* MODE SENSE by DMA: 28 bytes into a 128-byte table entry. */
        ide_bm_write(c, bm + 2, 1, BM_STS_INTR);
        prd(0, 0x30000, 128, true);
        ide_bm_write(c, bm, 1, 0);
        PACKET(c, true, 0, SCSI_OP_MODE_SENSE_10, 0, 0x2a, 0, 0, 0, 0, 0, 128, 0, 0, 0);
        ASSERT_EQ(status(c) & ATA_STAT_BSY, ATA_STAT_BSY); /* waiting for START */
        ide_bm_write(c, bm, 1, BM_CMD_WRITE_MEM | BM_CMD_START);
        expect_end(c, 0x50);
        ASSERT_EQ(ram[0x30000 + 1], 26);
        ASSERT_EQ(ram[0x30000 + 8], 0x2a);
        ASSERT_EQ(ide_bm_read(c, bm + 2, 1) & BM_STS_ACTIVE, BM_STS_ACTIVE); /* the table was longer */
        /* The wrong direction: the bus master's error, ABORTED COMMAND. */
        ide_bm_write(c, bm, 1, 0);
        ide_bm_write(c, bm, 1, BM_CMD_START);
        PACKET(c, true, 0, SCSI_OP_READ_10, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0);
        expect_end(c, 0x51);
        ASSERT_EQ(reg(c, 1), SCSI_SENSE_ABORTED_COMMAND << 4);
        ASSERT_EQ(ide_bm_read(c, bm + 2, 1) & BM_STS_ERROR, BM_STS_ERROR);
        ide_free(c);
}

TEST(host_insert_and_eject) {
        struct ide_controller *c = make(false);
        PACKET(c, false, 0, SCSI_OP_TEST_UNIT_READY, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        expect_end(c, 0x51);
        ASSERT_EQ(reg(c, 1), SCSI_SENSE_NOT_READY << 4);
        struct disk *rw = image(sizeof iso, false), *small = image(1024, true), *ro = image(sizeof iso, true);
        ASSERT_ERROR(ide_atapi_insert(c, 2 * CH, rw), EINVAL); /* writable: refused */
        ASSERT_ERROR(ide_atapi_insert(c, 2 * CH, small), EINVAL);
        ASSERT_ERROR(ide_atapi_insert(c, 0, ro), ENODEV);
        ASSERT_OK(ide_atapi_insert(c, 2 * CH, ro));
        PACKET(c, false, 0, SCSI_OP_TEST_UNIT_READY, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        expect_end(c, 0x51);
        ASSERT_EQ(reg(c, 1), SCSI_SENSE_UNIT_ATTENTION << 4);
        uint8_t buf[8];
        PACKET(c, false, 0, MMC_OP_GET_EVENT_STATUS, 1, 0, 0, 0x10, 0, 0, 0, 8, 0, 0, 0);
        pio_in(c, buf, 8, 0xfffe);
        ASSERT_EQ(buf[4], ATAPI_EVENT_NEW_MEDIA);
        expect_end(c, 0x50);
        /* Locked: the guest cannot eject, the host can. */
        PACKET(c, false, 0, SCSI_OP_PREVENT_ALLOW_MEDIUM_REMOVAL, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0);
        expect_end(c, 0x50);
        PACKET(c, false, 0, SCSI_OP_START_STOP_UNIT, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0);
        expect_end(c, 0x51);
        /* A read in flight: busy; between DRQ blocks: the read ends. */
        PACKET(c, false, 2048, SCSI_OP_READ_10, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0);
        ASSERT_ERROR(ide_atapi_eject(c, 2 * CH), EBUSY);
        ASSERT_TRUE(run_backend(c));
        ASSERT_EQ(status(c) & ATA_STAT_DRQ, ATA_STAT_DRQ);
        ASSERT_OK(ide_atapi_eject(c, 2 * CH));
        expect_end(c, 0x51);
        ASSERT_EQ(reg(c, 1), SCSI_SENSE_UNIT_ATTENTION << 4);
        PACKET(c, false, 0, SCSI_OP_TEST_UNIT_READY, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        expect_end(c, 0x51);
        ASSERT_EQ(reg(c, 1), SCSI_SENSE_NOT_READY << 4); /* the change was reported with the read */
        disk_unref(rw), disk_unref(small), disk_unref(ro);
        ide_free(c);
}

static int decode_ide(const struct vmstate_desc *desc, const struct ide_channel_state *st,
                      struct ide_channel_state *back, char *err, size_t errlen) {
        uint8_t *buf;
        size_t len;
        ASSERT_OK(vmstate_test_encode(desc, CH, st, &buf, &len));
        struct vmstate_section secs[2];
        struct vmstate_header h;
        ASSERT_EQ(vmstate_index(buf, len, &h, secs, 2, err, errlen), 1);
        int r = ide_channel_state_decode(&secs[0], back, err, errlen);
        free(buf);
        return r;
}

static void refused(const struct ide_channel_state *st, const char *why) {
        static struct ide_channel_state back;
        char err[256] = "";
        ASSERT_EQ(decode_ide(&ide_channel_state_desc, st, &back, err, sizeof err), -EINVAL);
        if (!strstr(err, why))
                ASSERT_STREQ(err, why);
}

/* A CDB half written, saved and restored into another controller: the rest
 * of the CDB and the read go on there. Bad DVD fields are refused; a
 * version-1 state (no DVD fields) still reads. */
TEST(saved_state_round_trip) {
        static struct ide_channel_state st, back, bad;
        char err[256] = "";
        struct ide_controller *c = make(true);
        PACKET(c, false, 2048, SCSI_OP_PREVENT_ALLOW_MEDIUM_REMOVAL, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0);
        ide_cmd_write(c, CH, 7, 1, ATA_CMD_PACKET);
        const uint8_t cdb[12] = { SCSI_OP_READ_10, 0, 0, 0, 0, 9, 0, 0, 1, 0, 0, 0 };
        for (unsigned i = 0; i < 6; i += 2)
                ide_cmd_write(c, CH, 0, 2, (uint32_t)(cdb[i] | cdb[i + 1] << 8));
        ASSERT_OK(ide_get_state(c, CH, &st));
        ASSERT_EQ(st.drv_atapi[0], IDE_ATAPI_DEVICE | IDE_ATAPI_LOCKED);
        ASSERT_EQ(st.pos, 6u);
        ASSERT_OK(decode_ide(&ide_channel_state_desc, &st, &back, err, sizeof err));
        ASSERT_TRUE(vmstate_test_round_trip(&ide_channel_state_desc, CH, &back, sizeof back,
                                            (vmstate_test_decode_fn)ide_channel_state_decode));
        struct ide_controller *c2 = make(true);
        ASSERT_OK(ide_set_state(c2, CH, &back, err, sizeof err));
        for (unsigned i = 6; i < 12; i += 2)
                ide_cmd_write(c2, CH, 0, 2, (uint32_t)(cdb[i] | cdb[i + 1] << 8));
        uint8_t got[2048];
        pio_in(c2, got, sizeof got, 2048);
        ASSERT_MEMEQ(got, iso + 9 * 2048, sizeof got);
        expect_end(c2, 0x50);
        PACKET(c2, false, 0, SCSI_OP_START_STOP_UNIT, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0);
        expect_end(c2, 0x51); /* still locked */
        /* Another disc size, or no DVD drive there: refused. */
        struct ide_controller *empty = make(false);
        ASSERT_ERROR(ide_set_state(empty, CH, &back, err, sizeof err), EINVAL);
        bad = st, bad.drv_atapi[0] = 0x10;
        refused(&bad, "DVD drive flags");
        bad = st, bad.drv_atapi[1] = IDE_ATAPI_DEVICE; /* no drive 1 */
        refused(&bad, "DVD drive flags");
        bad = st, bad.drv_event[0] = 4;
        refused(&bad, "DVD drive sense or event");
        bad = st, bad.drv_sectors[0] = 3;
        refused(&bad, "DVD disc size");
        bad = st, bad.drv_atapi[0] = 0, bad.drv_sense_key[0] = 0;
        refused(&bad, "a PACKET phase on a disk");
        bad = st, bad.drq_end = 8;
        refused(&bad, "a CDB phase");
        /* Version 1: the DVD fields are the last six; a disk-only state reads. */
        struct vmstate_desc v1 = ide_channel_state_desc;
        v1.version = 1, v1.n_fields -= 6;
        bad = st, bad.phase = 0, bad.drv_atapi[0] = 0, bad.drv_status[0] = 0x50, bad.pos = 0;
        ASSERT_OK(decode_ide(&v1, &bad, &back, err, sizeof err));
        ASSERT_EQ(back.drv_atapi[0], 0);
        ASSERT_EQ(back.byte_limit, 0);
        ide_free(c), ide_free(c2), ide_free(empty);
}

/* Found by fuzz-ide-atapi: a command for the disk beside the DVD drive ends
 * the CDB phase the host abandoned on the drive (its DRQ used to stay, and
 * the saved state was refused); a read wanted when SRST came is saved and
 * restored, and the reset drops it. */
TEST(two_devices_on_a_channel_and_srst_with_a_read_wanted) {
        static struct ide_channel_state st, back;
        char err[256] = "";
        struct ide_controller *c = make(true);
        struct disk *hd = image(64 * 512, false);
        struct ata_identity id = { .model = "Virtual HD", .serial = "S", .firmware = "F" };
        ASSERT_OK(ide_attach(c, 2 * CH + 1, hd, &id));
        disk_unref(hd);
        ide_cmd_write(c, CH, 6, 1, 0xa0);
        ide_cmd_write(c, CH, 7, 1, ATA_CMD_PACKET);
        ASSERT_EQ(status(c) & ATA_STAT_DRQ, ATA_STAT_DRQ);
        ide_cmd_write(c, CH, 6, 1, 0xb0); /* the disk: 00/00 signature is not the drive's */
        ide_cmd_write(c, CH, 7, 1, ATA_CMD_CHECK_POWER_MODE);
        ASSERT_EQ(status(c), 0x50);
        ide_cmd_write(c, CH, 6, 1, 0xa0);
        ASSERT_EQ(status(c), 0x50); /* the drive's abandoned DRQ is gone */
        ASSERT_OK(ide_get_state(c, CH, &st));
        ASSERT_OK(decode_ide(&ide_channel_state_desc, &st, &back, err, sizeof err));
        /* A read wanted, not yet taken, then SRST. */
        PACKET(c, false, 2048, SCSI_OP_READ_10, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0);
        ide_ctl_write(c, CH, ATA_CTL_SRST);
        ASSERT_OK(ide_get_state(c, CH, &st));
        ASSERT_TRUE(st.io_wanted);
        ASSERT_TRUE(st.in_reset);
        ASSERT_OK(decode_ide(&ide_channel_state_desc, &st, &back, err, sizeof err));
        struct ide_controller *c2 = make(true);
        hd = image(64 * 512, false);
        ASSERT_OK(ide_attach(c2, 2 * CH + 1, hd, &id));
        disk_unref(hd);
        ASSERT_OK(ide_set_state(c2, CH, &back, err, sizeof err));
        ASSERT_EQ(ide_ctl_read(c2, CH), ATA_STAT_BSY);
        ide_ctl_write(c2, CH, 0);
        ASSERT_EQ(status(c2), 0x50);
        ASSERT_FALSE(run_backend(c2)); /* nothing asked of the disc */
        ASSERT_EQ(reg(c2, 4), ATAPI_SIG_MID);
        ASSERT_TRUE(run_backend(c)); /* the original's request completes into its reset */
        ide_free(c), ide_free(c2);
}

TEST_MAIN()
