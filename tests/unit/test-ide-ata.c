// SPDX-License-Identifier: MIT
/* The ATA command decoder and IDENTIFY DEVICE data (emu/ata.c,
 * ata-identify.c): addressing (CHS, LBA28, LBA48 with the HOB bytes),
 * counts of 0, range checks (IDNF), the settings commands, power modes,
 * refusals (ABRT), and the identify words that follow the settings. */
#include "common/macro.h"
#include "common/test.h"
#include "emu/ata.h"

#define N_SECTORS (1ull << 30) /* 512 GiB: beyond LBA28 */

static struct ata_settings fresh(void) {
        struct ata_settings s;
        ata_settings_init(&s, N_SECTORS, false);
        return s;
}

static struct ata_cmd decode(struct ata_settings *s, const struct ata_taskfile *tf) {
        struct ata_cmd c;
        ASSERT_OK(ata_decode(s, tf, &c));
        return c;
}

TEST(lba28_address_and_count) {
        struct ata_settings s = fresh();
        struct ata_taskfile tf = { .command = ATA_CMD_READ_SECTORS, .device = 0xe5, .lbah = 0x34, .lbam = 0x56,
                                   .lbal = 0x78, .nsect = 0 };
        struct ata_cmd c = decode(&s, &tf);
        ASSERT_EQ(c.action, ATA_READ);
        ASSERT_EQ(c.proto, ATA_PROTO_PIO);
        ASSERT_EQ(c.lba, 0x5345678ull);
        ASSERT_EQ(c.count, 256u); /* a count of 0 is 256 */
        ASSERT_EQ(c.block, 1);
        ASSERT_FALSE(c.lba48);
        /* The last LBA28 sector words 60-61 report is 0FFFFFFEh. */
        tf = (struct ata_taskfile){ .command = ATA_CMD_WRITE_DMA, .device = 0xef, .lbah = 0xff, .lbam = 0xff,
                                    .lbal = 0xfe, .nsect = 1 };
        c = decode(&s, &tf);
        ASSERT_EQ(c.action, ATA_WRITE);
        ASSERT_EQ(c.proto, ATA_PROTO_DMA);
        ASSERT_EQ(c.lba, 0x0ffffffeull);
        tf.lbal = 0xff;
        c = decode(&s, &tf);
        ASSERT_EQ(c.action, ATA_DONE);
        ASSERT_EQ(c.error, ATA_ERR_IDNF);
        tf.lbal = 0xfe, tf.nsect = 2; /* starts inside, ends outside */
        ASSERT_EQ(decode(&s, &tf).error, ATA_ERR_IDNF);
}

TEST(lba48_uses_the_hob_bytes) {
        struct ata_settings s = fresh();
        struct ata_taskfile tf = { .command = ATA_CMD_READ_DMA_EXT, .device = 0x40, .lbal = 0x01, .lbam = 0x02,
                                   .lbah = 0x03, .hob_lbal = 0x04, .hob_lbam = 0x00, .hob_lbah = 0x00,
                                   .nsect = 0x10, .hob_nsect = 0x02 };
        struct ata_cmd c = decode(&s, &tf);
        ASSERT_EQ(c.action, ATA_READ);
        ASSERT_TRUE(c.lba48);
        ASSERT_EQ(c.lba, 0x04030201ull);
        ASSERT_EQ(c.count, 0x0210u);
        tf.nsect = tf.hob_nsect = 0;
        ASSERT_EQ(decode(&s, &tf).count, 65536u); /* 0000h is 65,536 */
        tf.hob_lbam = 0x40; /* LBA 40_0403_0201h: past 512 GiB */
        ASSERT_EQ(decode(&s, &tf).error, ATA_ERR_IDNF);
        /* Near the 48-bit end: the sum must not wrap. */
        tf = (struct ata_taskfile){ .command = ATA_CMD_READ_SECTORS_EXT, .lbal = 0xff, .lbam = 0xff, .lbah = 0xff,
                                    .hob_lbal = 0xff, .hob_lbam = 0xff, .hob_lbah = 0xff, .nsect = 2 };
        ASSERT_EQ(decode(&s, &tf).error, ATA_ERR_IDNF);
}

TEST(chs_addressing_and_initialize_parameters) {
        struct ata_settings s;
        ata_settings_init(&s, 16383ull * 16 * 63, false);
        /* Cylinder 2, head 3, sector 4 with the default 16/63 translation. */
        struct ata_taskfile tf = { .command = ATA_CMD_READ_SECTORS, .device = 0xa3, .lbam = 2, .lbal = 4, .nsect = 1 };
        ASSERT_EQ(decode(&s, &tf).lba, (2ull * 16 + 3) * 63 + 3);
        tf.lbal = 0; /* sectors count from 1 */
        ASSERT_EQ(decode(&s, &tf).error, ATA_ERR_IDNF);
        /* INITIALIZE DEVICE PARAMETERS: 8 heads (device bits + 1), 32 sectors. */
        struct ata_taskfile ip = { .command = ATA_CMD_INIT_PARAMETERS, .device = 0xa7, .nsect = 32 };
        ASSERT_EQ(decode(&s, &ip).error, 0);
        ASSERT_EQ(s.heads, 8);
        ASSERT_EQ(s.spt, 32);
        tf.lbal = 4;
        ASSERT_EQ(decode(&s, &tf).lba, (2ull * 8 + 3) * 32 + 3);
        tf.device = 0xa8; /* head 8 of 8 */
        ASSERT_EQ(decode(&s, &tf).error, ATA_ERR_IDNF);
        ip.nsect = 0;
        ASSERT_EQ(decode(&s, &ip).error, ATA_ERR_ABRT);
}

TEST(multiple_mode) {
        struct ata_settings s = fresh();
        struct ata_taskfile rm = { .command = ATA_CMD_READ_MULTIPLE, .device = 0xe0, .nsect = 8 };
        ASSERT_EQ(decode(&s, &rm).error, ATA_ERR_ABRT); /* not enabled */
        struct ata_taskfile sm = { .command = ATA_CMD_SET_MULTIPLE, .nsect = 8 };
        ASSERT_EQ(decode(&s, &sm).error, 0);
        ASSERT_EQ(s.multiple, 8);
        struct ata_cmd c = decode(&s, &rm);
        ASSERT_EQ(c.action, ATA_READ);
        ASSERT_EQ(c.block, 8);
        sm.nsect = 3; /* not a power of two */
        ASSERT_EQ(decode(&s, &sm).error, ATA_ERR_ABRT);
        sm.nsect = 32; /* above word 47 */
        ASSERT_EQ(decode(&s, &sm).error, ATA_ERR_ABRT);
        ASSERT_EQ(s.multiple, 8);
        sm.nsect = 0;
        ASSERT_EQ(decode(&s, &sm).error, 0);
        ASSERT_EQ(s.multiple, 0);
        struct ata_taskfile wm = { .command = ATA_CMD_WRITE_MULTIPLE_EXT, .nsect = 1 };
        ASSERT_EQ(decode(&s, &wm).error, ATA_ERR_ABRT);
}

TEST(set_features) {
        struct ata_settings s = fresh();
        struct ata_taskfile tf = { .command = ATA_CMD_SET_FEATURES, .feature = ATA_SF_SET_XFER };
        static const struct { uint8_t v; bool ok; } modes[] = {
                { 0x00, true }, { 0x01, true }, { 0x02, false }, { 0x0c, true }, { 0x0d, false }, { 0x22, true },
                { 0x23, false }, { 0x45, true }, { 0x46, false }, { 0x10, false }, { 0x80, false },
        };
        for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
                tf.nsect = modes[i].v;
                ASSERT_EQ(decode(&s, &tf).error, modes[i].ok ? 0 : ATA_ERR_ABRT);
        }
        ASSERT_EQ(s.xfer_mode, 0x45); /* the last valid one */
        /* Write cache off: every write is FUA. */
        struct ata_taskfile w = { .command = ATA_CMD_WRITE_DMA, .device = 0xe0, .nsect = 1 };
        ASSERT_FALSE(decode(&s, &w).fua);
        tf.feature = ATA_SF_DISABLE_WCACHE;
        ASSERT_EQ(decode(&s, &tf).error, 0);
        ASSERT_TRUE(decode(&s, &w).fua);
        tf.feature = ATA_SF_ENABLE_WCACHE;
        decode(&s, &tf);
        ASSERT_FALSE(decode(&s, &w).fua);
        tf.feature = 0x77; /* unknown subcommand */
        ASSERT_EQ(decode(&s, &tf).error, ATA_ERR_ABRT);
}

TEST(power_modes_and_refusals) {
        struct ata_settings s = fresh();
        struct ata_taskfile cp = { .command = ATA_CMD_CHECK_POWER_MODE };
        struct ata_cmd c = decode(&s, &cp);
        ASSERT_TRUE(c.set_nsect);
        ASSERT_EQ(c.nsect, 0xff);
        struct ata_taskfile sb = { .command = ATA_CMD_STANDBY_IMMEDIATE };
        ASSERT_EQ(decode(&s, &sb).error, 0);
        ASSERT_EQ(decode(&s, &cp).nsect, 0x00);
        struct ata_taskfile rd = { .command = ATA_CMD_READ_SECTORS, .device = 0xe0, .nsect = 1 };
        decode(&s, &rd); /* media access spins up */
        ASSERT_EQ(decode(&s, &cp).nsect, 0xff);
        sb.command = ATA_CMD_SLEEP;
        decode(&s, &sb);
        cp.command = ATA_CMD_CHECK_POWER_MODE_OLD;
        ASSERT_EQ(decode(&s, &cp).nsect, 0x00);
        sb.command = ATA_CMD_IDLE_IMMEDIATE;
        decode(&s, &sb);
        ASSERT_EQ(decode(&s, &cp).nsect, 0xff);
        static const uint8_t refused[] = { ATA_CMD_NOP, ATA_CMD_DEVICE_RESET, ATA_CMD_IDENTIFY_PACKET, 0xb0 /* SMART */,
                                           0x06 /* DSM */, 0x2f /* READ LOG EXT */, 0xe4 /* READ BUFFER */, 0xff };
        for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
                struct ata_taskfile tf = { .command = refused[i] };
                c = decode(&s, &tf);
                ASSERT_EQ(c.action, ATA_DONE);
                ASSERT_EQ(c.error, ATA_ERR_ABRT);
        }
        struct ata_taskfile other = { .command = ATA_CMD_FLUSH_CACHE_EXT };
        ASSERT_EQ(decode(&s, &other).action, ATA_FLUSH);
        other.command = ATA_CMD_EXECUTE_DIAGNOSTIC;
        ASSERT_EQ(decode(&s, &other).action, ATA_DIAGNOSE);
        other.command = 0x1a; /* RECALIBRATE (any of 10h-1Fh) */
        ASSERT_EQ(decode(&s, &other).error, 0);
        ASSERT_ERROR(ata_decode(NULL, &other, &c), EINVAL);
}

TEST(read_only_disks_refuse_writes) {
        struct ata_settings s;
        ata_settings_init(&s, 1024, true);
        struct ata_taskfile tf = { .command = ATA_CMD_WRITE_SECTORS, .device = 0xe0, .nsect = 1 };
        ASSERT_EQ(decode(&s, &tf).error, ATA_ERR_ABRT);
        tf.command = ATA_CMD_READ_VERIFY;
        ASSERT_EQ(decode(&s, &tf).error, 0);
        tf.command = ATA_CMD_READ_SECTORS;
        ASSERT_EQ(decode(&s, &tf).action, ATA_READ);
}

TEST(identify_words) {
        struct ata_settings s = fresh();
        struct ata_identity id = { .model = "Virtual HD", .serial = "ABC", .firmware = "1.1.0" };
        uint16_t w[256];
        ata_identify(&id, &s, w);
        ASSERT_EQ(w[27], 'V' << 8 | 'i'); /* first character in the high byte */
        ASSERT_EQ(w[31], 'H' << 8 | 'D');
        ASSERT_EQ(w[32], ' ' << 8 | ' ');
        ASSERT_EQ(w[10], 'A' << 8 | 'B');
        ASSERT_EQ(w[11], 'C' << 8 | ' ');
        ASSERT_EQ(w[60] | (uint32_t)w[61] << 16, 0x0fffffffu);
        ASSERT_EQ(w[100] | (uint64_t)w[101] << 16 | (uint64_t)w[102] << 32 | (uint64_t)w[103] << 48, N_SECTORS);
        ASSERT_EQ(w[59], 0x0100);
        ASSERT_EQ(w[85] & 0x0020, 0x0020);
        ASSERT_EQ(w[93], 0x600b);
        /* Settings show: multiple 16, UDMA 5 selected, write cache off. */
        s.multiple = 16;
        s.xfer_mode = ATA_XFER_UDMA | 5;
        s.write_cache = false;
        id.device1 = true;
        ata_identify(&id, &s, w);
        ASSERT_EQ(w[59], 0x0110);
        ASSERT_EQ(w[88], 0x203f);
        ASSERT_EQ(w[63], 0x0007);
        ASSERT_EQ(w[85] & 0x0020, 0);
        ASSERT_EQ(w[93], 0x6b00);
        s.xfer_mode = ATA_XFER_MWDMA | 2;
        ata_identify(&id, &s, w);
        ASSERT_EQ(w[63], 0x0407);
        ASSERT_EQ(w[88], 0x003f);
        uint8_t sum = 0;
        for (int i = 0; i < 256; i++)
                sum = (uint8_t)(sum + w[i] + (w[i] >> 8));
        ASSERT_EQ(sum, 0);
        ASSERT_EQ(w[255] & 0xff, 0xa5);
        /* A small disk: LBA28 capacity exact, CHS from it. */
        ata_settings_init(&s, 1008 * 10, false);
        ata_identify(&id, &s, w);
        ASSERT_EQ(w[60], 10080);
        ASSERT_EQ(w[1], 10);
        ASSERT_EQ(w[57] | (uint32_t)w[58] << 16, 10080u);
}

TEST_MAIN();
