// SPDX-License-Identifier: MIT
/* The DVD drive's MMC command set (emu/atapi.c, atapi-mmc.c) as a pure
 * function: sense data and unit attention, no disc and tray states, READ
 * range checks, the TOC in LBA and MSF, GET CONFIGURATION, media events,
 * MODE SENSE's capabilities page, the lock against the guest's eject and
 * the host's change winning, IDENTIFY PACKET DEVICE. */
#include "common/macro.h"
#include "common/test.h"
#include "emu/ata.h"
#include "emu/atapi.h"
#include "scsi/scsi.h"

#define BLOCKS 1000u

static uint8_t reply[ATAPI_REPLY_MAX];

static struct atapi_result run(struct atapi_state *s, const uint8_t *bytes, size_t n) {
        uint8_t cdb[ATAPI_CDB_LEN] = { 0 };
        memcpy(cdb, bytes, n);
        struct atapi_result r;
        ASSERT_OK(atapi_exec(s, cdb, reply, &r));
        return r;
}
#define RUN(s, ...) run(s, (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ }))

static void expect_check(const struct atapi_result *r, const struct atapi_state *s, uint8_t key, uint16_t asc) {
        ASSERT_EQ(r->action, ATAPI_DONE);
        ASSERT_TRUE(r->check);
        ASSERT_EQ(s->sense_key, key);
        ASSERT_EQ(s->sense_asc, asc);
}

static uint32_t be32(const uint8_t *p) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

TEST(unknown_opcode_and_request_sense) {
        struct atapi_state s;
        atapi_init(&s, BLOCKS);
        struct atapi_result r = RUN(&s, 0x2a); /* WRITE(10) */
        expect_check(&r, &s, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_OPCODE);
        ASSERT_EQ(atapi_error_register(&s), 0x54); /* key 5 in bits 7-4, ABRT */
        r = RUN(&s, SCSI_OP_REQUEST_SENSE, 0, 0, 0, 18);
        ASSERT_EQ(r.action, ATAPI_DATA_IN);
        ASSERT_EQ(r.len, 18u);
        ASSERT_EQ(reply[0], 0x70);
        ASSERT_EQ(reply[2], SCSI_SENSE_ILLEGAL_REQUEST);
        ASSERT_EQ(reply[7], 10);
        ASSERT_EQ(reply[12], 0x20);
        /* Reported: the next REQUEST SENSE says NO SENSE; a short allocation cuts. */
        r = RUN(&s, SCSI_OP_REQUEST_SENSE, 0, 0, 0, 8);
        ASSERT_EQ(r.len, 8u);
        ASSERT_EQ(reply[2], 0);
        r = RUN(&s, SCSI_OP_TEST_UNIT_READY);
        ASSERT_EQ(r.action, ATAPI_DONE);
        ASSERT_FALSE(r.check);
}

TEST(no_disc_and_tray_open) {
        struct atapi_state s;
        atapi_init(&s, 0);
        struct atapi_result r = RUN(&s, SCSI_OP_TEST_UNIT_READY);
        expect_check(&r, &s, SCSI_SENSE_NOT_READY, MMC_ASC_NO_MEDIUM_TRAY_CLOSED);
        r = RUN(&s, SCSI_OP_READ_CAPACITY_10);
        expect_check(&r, &s, SCSI_SENSE_NOT_READY, MMC_ASC_NO_MEDIUM_TRAY_CLOSED);
        /* INQUIRY needs no disc. */
        r = RUN(&s, SCSI_OP_INQUIRY, 0, 0, 0, 36);
        ASSERT_EQ(r.action, ATAPI_DATA_IN);
        ASSERT_EQ(r.len, 36u);
        ASSERT_EQ(reply[0], 0x05);
        ASSERT_EQ(reply[1], 0x80);
        ASSERT_MEMEQ(reply + 16, "Virtual DVD-ROM ", 16);
        atapi_init(&s, BLOCKS);
        r = RUN(&s, SCSI_OP_START_STOP_UNIT, 0, 0, 0, 0x02); /* eject */
        ASSERT_FALSE(r.check);
        ASSERT_TRUE(s.tray_open);
        ASSERT_EQ(s.event, ATAPI_EVENT_MEDIA_REMOVAL);
        r = RUN(&s, SCSI_OP_READ_10, 0, 0, 0, 0, 0, 0, 0, 1);
        expect_check(&r, &s, SCSI_SENSE_NOT_READY, MMC_ASC_NO_MEDIUM_TRAY_OPEN);
        r = RUN(&s, SCSI_OP_START_STOP_UNIT, 0, 0, 0, 0x03); /* load: the same disc */
        ASSERT_FALSE(r.check);
        ASSERT_TRUE(atapi_medium_present(&s));
        ASSERT_EQ(s.event, ATAPI_EVENT_NEW_MEDIA);
        r = RUN(&s, SCSI_OP_TEST_UNIT_READY);
        expect_check(&r, &s, SCSI_SENSE_UNIT_ATTENTION, MMC_ASC_MEDIUM_MAY_HAVE_CHANGED);
        r = RUN(&s, SCSI_OP_TEST_UNIT_READY);
        ASSERT_FALSE(r.check);
}

TEST(reads_and_capacity) {
        struct atapi_state s;
        atapi_init(&s, BLOCKS);
        struct atapi_result r = RUN(&s, SCSI_OP_READ_CAPACITY_10);
        ASSERT_EQ(r.action, ATAPI_DATA_IN);
        ASSERT_EQ(r.len, 8u);
        ASSERT_EQ(be32(reply), BLOCKS - 1);
        ASSERT_EQ(be32(reply + 4), 2048u);
        r = RUN(&s, SCSI_OP_READ_10, 0, 0, 0, 0x03, 0xe0, 0, 0, 8); /* 992 + 8: the last blocks */
        ASSERT_EQ(r.action, ATAPI_READ);
        ASSERT_EQ(r.lba, 992u);
        ASSERT_EQ(r.blocks, 8u);
        r = RUN(&s, SCSI_OP_READ_10, 0, 0, 0, 0x03, 0xe0, 0, 0, 9);
        expect_check(&r, &s, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
        r = RUN(&s, SCSI_OP_READ_12, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff); /* no wrap */
        expect_check(&r, &s, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
        r = RUN(&s, SCSI_OP_READ_12, 0, 0, 0, 0, 1, 0, 0, 0, 2);
        ASSERT_EQ(r.action, ATAPI_READ);
        ASSERT_EQ(r.lba, 1u);
        ASSERT_EQ(r.blocks, 2u);
        r = RUN(&s, SCSI_OP_READ_10, 0, 0, 0, 0, 5, 0, 0, 0); /* no blocks: GOOD */
        ASSERT_EQ(r.action, ATAPI_DONE);
        ASSERT_FALSE(r.check);
}

TEST(toc_in_lba_and_msf) {
        struct atapi_state s;
        atapi_init(&s, BLOCKS);
        struct atapi_result r = RUN(&s, MMC_OP_READ_TOC, 0, 0, 0, 0, 0, 0, 0, 100);
        ASSERT_EQ(r.len, 20u);
        ASSERT_EQ(reply[1], 18); /* length after the first two bytes */
        ASSERT_EQ(reply[2], 1);
        ASSERT_EQ(reply[3], 1);
        ASSERT_EQ(reply[5], 0x14); /* data track */
        ASSERT_EQ(reply[6], 1);
        ASSERT_EQ(be32(reply + 8), 0u);
        ASSERT_EQ(reply[14], 0xaa); /* lead-out at the disc's end */
        ASSERT_EQ(be32(reply + 16), BLOCKS);
        r = RUN(&s, MMC_OP_READ_TOC, 0x02, 0, 0, 0, 0, 0, 0, 100); /* MSF */
        ASSERT_EQ(be32(reply + 8), 0x00000200u); /* 00:02:00 */
        /* 1000 + 150 = 1150 frames: 0 minutes, 15 s, 25 frames */
        ASSERT_EQ(be32(reply + 16), 0x00000f19u);
        r = RUN(&s, MMC_OP_READ_TOC, 0, 0, 0, 0, 0, 0xaa, 0, 100); /* lead-out only */
        ASSERT_EQ(r.len, 12u);
        ASSERT_EQ(reply[6], 0xaa);
        r = RUN(&s, MMC_OP_READ_TOC, 0, 0, 0, 0, 0, 2, 0, 100);
        expect_check(&r, &s, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
        /* Session info by byte 2, and by the old format field of byte 9 (sr). */
        r = RUN(&s, MMC_OP_READ_TOC, 0, 1, 0, 0, 0, 0, 0, 12);
        ASSERT_EQ(r.len, 12u);
        ASSERT_EQ(reply[1], 10);
        ASSERT_EQ(reply[6], 1);
        r = RUN(&s, MMC_OP_READ_TOC, 0, 0, 0, 0, 0, 0, 0, 12, 0x40);
        ASSERT_EQ(r.len, 12u);
        ASSERT_EQ(reply[1], 10);
        r = RUN(&s, MMC_OP_READ_TOC, 0, 2, 0, 0, 0, 0, 0, 100); /* full TOC: not supported */
        expect_check(&r, &s, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
}

TEST(configuration_and_profiles) {
        struct atapi_state s;
        atapi_init(&s, ATAPI_CD_MAX_BLOCKS + 1);
        struct atapi_result r = RUN(&s, MMC_OP_GET_CONFIGURATION, 0, 0, 0, 0, 0, 0, 0x01, 0);
        ASSERT_EQ(r.action, ATAPI_DATA_IN);
        ASSERT_EQ(reply[6] << 8 | reply[7], 0x0010); /* DVD-ROM */
        ASSERT_EQ(be32(reply) + 4, r.len);
        ASSERT_EQ(reply[8] << 8 | reply[9], 0x0000); /* the profile list first */
        atapi_init(&s, BLOCKS);
        r = RUN(&s, MMC_OP_GET_CONFIGURATION, 0x02, 0, 0x01, 0, 0, 0, 0, 64); /* only Core */
        ASSERT_EQ(reply[7], 0x08); /* CD-ROM: a small disc */
        ASSERT_EQ(r.len, 8u + 12u);
        ASSERT_EQ(reply[9], 0x01);
        ASSERT_EQ(reply[15], 0x02); /* ATAPI */
        atapi_init(&s, 0);
        r = RUN(&s, MMC_OP_GET_CONFIGURATION, 0x01, 0, 0x10, 0, 0, 0, 0, 64); /* current from 10h: none */
        ASSERT_EQ(r.len, 8u);
        ASSERT_EQ(reply[7], 0);
        r = RUN(&s, MMC_OP_GET_CONFIGURATION, 0x03);
        expect_check(&r, &s, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
}

TEST(media_events_and_the_hosts_change) {
        struct atapi_state s;
        atapi_init(&s, 0);
        struct atapi_result r = RUN(&s, MMC_OP_GET_EVENT_STATUS, 0x01, 0, 0, 0x10, 0, 0, 0, 8);
        ASSERT_EQ(r.len, 8u);
        ASSERT_EQ(reply[2], 4); /* media class */
        ASSERT_EQ(reply[4], ATAPI_EVENT_NONE);
        ASSERT_EQ(reply[5], 0); /* no disc, tray closed */
        s.locked = true;
        atapi_medium_changed(&s, BLOCKS); /* the host inserts: the lock does not stop it */
        r = RUN(&s, MMC_OP_GET_EVENT_STATUS, 0x01, 0, 0, 0x10, 0, 0, 0, 8);
        ASSERT_EQ(reply[4], ATAPI_EVENT_NEW_MEDIA);
        ASSERT_EQ(reply[5], 0x02);
        r = RUN(&s, MMC_OP_GET_EVENT_STATUS, 0x01, 0, 0, 0x10, 0, 0, 0, 8);
        ASSERT_EQ(reply[4], ATAPI_EVENT_NONE); /* reported once */
        /* GESN and INQUIRY leave the unit attention for the next command. */
        r = RUN(&s, SCSI_OP_READ_CAPACITY_10);
        expect_check(&r, &s, SCSI_SENSE_UNIT_ATTENTION, MMC_ASC_MEDIUM_MAY_HAVE_CHANGED);
        r = RUN(&s, SCSI_OP_READ_CAPACITY_10);
        ASSERT_EQ(r.action, ATAPI_DATA_IN);
        /* The guest's eject is refused while locked; the host's is not. */
        r = RUN(&s, SCSI_OP_START_STOP_UNIT, 0, 0, 0, 0x02);
        expect_check(&r, &s, SCSI_SENSE_ILLEGAL_REQUEST, MMC_ASC_REMOVAL_PREVENTED);
        r = RUN(&s, SCSI_OP_PREVENT_ALLOW_MEDIUM_REMOVAL, 0, 0, 0, 0);
        ASSERT_FALSE(s.locked);
        atapi_medium_changed(&s, 0);
        r = RUN(&s, MMC_OP_GET_EVENT_STATUS, 0x01, 0, 0, 0x10, 0, 0, 0, 8);
        ASSERT_EQ(reply[4], ATAPI_EVENT_MEDIA_REMOVAL);
        /* Asynchronous notification and no supported class. */
        r = RUN(&s, MMC_OP_GET_EVENT_STATUS, 0x00, 0, 0, 0x10, 0, 0, 0, 8);
        expect_check(&r, &s, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
        r = RUN(&s, MMC_OP_GET_EVENT_STATUS, 0x01, 0, 0, 0x02, 0, 0, 0, 8);
        ASSERT_EQ(r.len, 4u);
        ASSERT_EQ(reply[2], 0x80); /* NEA */
}

TEST(mode_sense_capabilities_and_disc_info) {
        struct atapi_state s;
        atapi_init(&s, BLOCKS);
        s.locked = true;
        struct atapi_result r = RUN(&s, SCSI_OP_MODE_SENSE_10, 0, 0x2a, 0, 0, 0, 0, 0, 128);
        ASSERT_EQ(r.len, 28u);
        ASSERT_EQ(reply[1], 26);
        ASSERT_EQ(reply[8], 0x2a);
        ASSERT_EQ(reply[14], 0x2b); /* tray, eject, lock, locked */
        r = RUN(&s, SCSI_OP_MODE_SENSE_10, 0, 0x3f, 0, 0, 0, 0, 0, 128);
        ASSERT_EQ(r.len, 8u + 12u + 20u);
        r = RUN(&s, SCSI_OP_MODE_SENSE_10, 0, 0xea, 0, 0, 0, 0, 0, 128); /* saved values */
        expect_check(&r, &s, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_SAVING_PARAMS_NOT_SUPPORTED);
        r = RUN(&s, SCSI_OP_MODE_SENSE_10, 0, 0x08, 0, 0, 0, 0, 0, 128);
        expect_check(&r, &s, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
        r = RUN(&s, MMC_OP_READ_DISC_INFO, 0, 0, 0, 0, 0, 0, 0, 34);
        ASSERT_EQ(r.len, 34u);
        ASSERT_EQ(reply[2], 0x0e);
        r = RUN(&s, MMC_OP_MECHANISM_STATUS, 0, 0, 0, 0, 0, 0, 0, 0, 8);
        ASSERT_EQ(r.len, 8u);
        ASSERT_EQ(reply[1], 0);
        r = RUN(&s, MMC_OP_SET_CD_SPEED, 0, 0xff, 0xff);
        ASSERT_FALSE(r.check);
}

TEST(identify_packet_device) {
        struct ata_identity id = { .model = "Virtual CD", .serial = "S1", .firmware = "1.0", .device1 = false };
        uint16_t w[256];
        atapi_identify(&id, ATA_XFER_UDMA | 2, w);
        ASSERT_EQ(w[0], 0x85c0);
        ASSERT_EQ(w[27], 'V' << 8 | 'i');
        ASSERT_EQ(w[49] & 0x0100, 0x0100); /* DMA */
        ASSERT_EQ(w[88], 0x043f);          /* UDMA 2 selected */
        ASSERT_EQ(w[82] & 0x0010, 0x0010); /* PACKET feature set */
        ASSERT_EQ(w[93], 0x600b);
}

TEST_MAIN()
