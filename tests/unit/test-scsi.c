// SPDX-License-Identifier: MIT
/* The scsi target module: every command storvsp serves, with sense data,
 * out-of-range LBAs, 512- and 4096-byte logical blocks, read-only LUNs and
 * absent LUNs (fact sheet docs/hyperv-guest-interface.md §6.5, §6.8). */
#include <errno.h>

#include "common/test.h"
#include "scsi/scsi.h"

static uint8_t data[SCSI_DATA_IN_MAX];

static void lun_make(struct scsi_lun *lun, uint64_t n_blocks, uint32_t bs, bool ro, bool discard) {
        struct scsi_lun_config cfg;
        scsi_lun_config_init(&cfg, n_blocks, bs);
        cfg.read_only = ro;
        cfg.discard = discard;
        cfg.discard_zeroes = discard;
        strcpy(cfg.serial, "SER-0001");
        cfg.naa_id = 0x123456789abcdefull;
        ASSERT_OK(scsi_lun_init(lun, &cfg));
}

/* Executes a CDB with an initiator buffer of xfer bytes; supplies the
 * parameter list when asked (param may be NULL: then the request is kept). */
static void run(struct scsi_lun *lun, const uint8_t *cdb, size_t len, uint32_t xfer, const uint8_t *param,
                struct scsi_result *r) {
        struct scsi_cmd cmd = { .cdb = cdb, .cdb_len = len, .xfer_len = xfer, .data_in = data };
        ASSERT_OK(scsi_execute(lun, &cmd, r));
        if (r->action == SCSI_NEED_PARAM && param) {
                cmd.param = param;
                cmd.param_len = r->param_len;
                ASSERT_OK(scsi_execute(lun, &cmd, r));
        }
}

static void assert_good(const struct scsi_result *r) {
        ASSERT_EQ(r->action, SCSI_DONE);
        ASSERT_EQ(r->st.status, SCSI_STATUS_GOOD);
        ASSERT_EQ(r->st.sense_len, 0);
}

static void assert_sense(const struct scsi_result *r, uint8_t key, uint16_t asc) {
        ASSERT_EQ(r->action, SCSI_DONE);
        ASSERT_EQ(r->st.status, SCSI_STATUS_CHECK_CONDITION);
        ASSERT_EQ(r->st.sense_len, SCSI_SENSE_LEN);
        ASSERT_EQ(r->st.sense[0], 0x70);  /* current, fixed format */
        ASSERT_EQ(r->st.sense[7], 10);    /* additional sense length */
        ASSERT_EQ(scsi_sense_key(&r->st), key);
        ASSERT_EQ(scsi_sense_asc(&r->st), asc);
        ASSERT_EQ(r->st.data_len, 0u);
}

static uint32_t be32(const uint8_t *p) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t be64(const uint8_t *p) {
        return (uint64_t)be32(p) << 32 | be32(p + 4);
}

TEST(lun_config_validation) {
        struct scsi_lun lun;
        struct scsi_lun_config cfg;
        scsi_lun_config_init(&cfg, 100, 512);
        ASSERT_OK(scsi_lun_init(&lun, &cfg));
        ASSERT_EQ(lun.cfg.physical_block_size, 4096u); /* 512e default */
        cfg.block_size = 1024;
        ASSERT_ERROR(scsi_lun_init(&lun, &cfg), EINVAL);
        scsi_lun_config_init(&cfg, 0, 512);
        ASSERT_ERROR(scsi_lun_init(&lun, &cfg), EINVAL);
        scsi_lun_config_init(&cfg, UINT64_MAX / 256, 512);
        ASSERT_ERROR(scsi_lun_init(&lun, &cfg), EINVAL);
        scsi_lun_config_init(&cfg, 100, 4096);
        cfg.physical_block_size = 6000;
        ASSERT_ERROR(scsi_lun_init(&lun, &cfg), EINVAL);
        scsi_lun_config_init(&cfg, 100, 4096);
        strcpy(cfg.serial, "bad\x01");
        ASSERT_ERROR(scsi_lun_init(&lun, &cfg), EINVAL);
}

TEST(invalid_opcode_and_cdb_framing) {
        struct scsi_lun lun;
        struct scsi_result r;
        lun_make(&lun, 1000, 512, false, false);
        const uint8_t log_sense[10] = { 0x4D };
        run(&lun, log_sense, 10, 0, NULL, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_OPCODE);
        ASSERT_EQ(r.st.sense[15], 0x80 | 0x40 | 0x08 | 7); /* SKSV, C/D, BPV, bit 7 */
        ASSERT_EQ(r.st.sense[17], 0);                      /* byte 0 */
        const uint8_t read10[10] = { SCSI_OP_READ_10 };
        run(&lun, read10, 6, 512, NULL, &r); /* shorter than its group's CDB */
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
        run(&lun, read10, 0, 512, NULL, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
        const uint8_t tur_naca[6] = { SCSI_OP_TEST_UNIT_READY, 0, 0, 0, 0, 0x04 };
        run(&lun, tur_naca, 6, 0, NULL, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
        ASSERT_EQ(r.st.sense[17], 5); /* the CONTROL byte */
        ASSERT_EQ(scsi_cdb_length(0x7e), 0u);
}

TEST(inquiry_standard) {
        struct scsi_lun lun;
        struct scsi_result r;
        lun_make(&lun, 1000, 512, false, false);
        const uint8_t cdb[6] = { SCSI_OP_INQUIRY, 0, 0, 0, 36, 0 };
        run(&lun, cdb, 6, 36, NULL, &r);
        assert_good(&r);
        ASSERT_EQ(r.dir, SCSI_DIR_IN);
        ASSERT_EQ(r.st.data_len, 36u);
        ASSERT_EQ(data[0], 0x00);      /* PQ 0, direct access block device */
        ASSERT_EQ(data[2], 0x06);      /* SPC-4 */
        ASSERT_EQ(data[3] & 0x0f, 2);  /* response data format */
        ASSERT_EQ(data[4] + 5, 96);    /* the guest re-asks for 96 bytes */
        ASSERT_EQ(data[7] & 0x02, 2);  /* CMDQUE */
        ASSERT_MEMEQ(data + 8, "Msft    Virtual Disk    1.0 ", 28);
        const uint8_t cdb96[6] = { SCSI_OP_INQUIRY, 0, 0, 0, 255, 0 };
        run(&lun, cdb96, 6, 255, NULL, &r);
        ASSERT_EQ(r.st.data_len, 96u);
        ASSERT_EQ(data[60], 0x04); /* SPC-4 version descriptor 0460h */
        ASSERT_EQ(data[61], 0x60);
        run(&lun, cdb96, 6, 20, NULL, &r); /* short initiator buffer truncates */
        ASSERT_EQ(r.st.data_len, 20u);
        const uint8_t page_no_evpd[6] = { SCSI_OP_INQUIRY, 0, 0x80, 0, 36, 0 };
        run(&lun, page_no_evpd, 6, 36, NULL, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
        const uint8_t cmddt[6] = { SCSI_OP_INQUIRY, 0x02, 0, 0, 36, 0 };
        run(&lun, cmddt, 6, 36, NULL, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
}

TEST(absent_lun) {
        struct scsi_result r;
        const uint8_t inq[6] = { SCSI_OP_INQUIRY, 0, 0, 0, 255, 0 };
        run(NULL, inq, 6, 255, NULL, &r);
        assert_good(&r);
        ASSERT_EQ(r.st.data_len, 36u); /* never zero bytes (§6.5 quirk) */
        ASSERT_EQ(data[0], 0x7f);      /* PQ 3, PDT 1Fh */
        ASSERT_EQ(data[4], 31);
        const uint8_t vpd0[6] = { SCSI_OP_INQUIRY, 1, 0x00, 0, 255, 0 };
        run(NULL, vpd0, 6, 255, NULL, &r);
        assert_good(&r);
        ASSERT_EQ(r.st.data_len, 5u);
        ASSERT_EQ(data[0], 0x7f);
        const uint8_t vpd80[6] = { SCSI_OP_INQUIRY, 1, 0x80, 0, 255, 0 };
        run(NULL, vpd80, 6, 255, NULL, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
        const uint8_t tur[6] = { 0 };
        run(NULL, tur, 6, 0, NULL, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LUN_NOT_SUPPORTED);
        const uint8_t read10[10] = { SCSI_OP_READ_10, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
        run(NULL, read10, 10, 512, NULL, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LUN_NOT_SUPPORTED);
        /* REQUEST SENSE at a missing LUN: GOOD, the data says why (SPC-4 6.39) */
        const uint8_t rs[6] = { SCSI_OP_REQUEST_SENSE, 0, 0, 0, 18, 0 };
        run(NULL, rs, 6, 18, NULL, &r);
        assert_good(&r);
        ASSERT_EQ(r.st.data_len, 18u);
        ASSERT_EQ(data[2], SCSI_SENSE_ILLEGAL_REQUEST);
        ASSERT_EQ(data[12], 0x25);
}

TEST(vpd_pages) {
        struct scsi_lun lun;
        struct scsi_result r;
        lun_make(&lun, 1u << 20, 512, false, true);
        uint8_t cdb[6] = { SCSI_OP_INQUIRY, 1, 0x00, 0, 255, 0 };
        run(&lun, cdb, 6, 255, NULL, &r);
        assert_good(&r);
        static const uint8_t want0[] = { 0, 0, 0, 6, 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2 };
        ASSERT_EQ(r.st.data_len, sizeof want0);
        ASSERT_MEMEQ(data, want0, sizeof want0);
        /* every listed page answers, with its code and consistent length */
        for (size_t i = 4; i < sizeof want0; i++) {
                cdb[2] = want0[i];
                run(&lun, cdb, 6, 255, NULL, &r);
                assert_good(&r);
                ASSERT_EQ(data[1], want0[i]);
                ASSERT_EQ(r.st.data_len, (uint32_t)(((data[2] << 8) | data[3]) + 4));
        }
        cdb[2] = 0x80;
        run(&lun, cdb, 6, 255, NULL, &r);
        ASSERT_EQ(r.st.data_len, 4u + 8);
        ASSERT_MEMEQ(data + 4, "SER-0001", 8);
        cdb[2] = 0x83;
        run(&lun, cdb, 6, 255, NULL, &r);
        ASSERT_EQ(data[5], 0x01);                 /* T10 vendor id */
        ASSERT_MEMEQ(data + 8, "Msft    SER-0001", 16);
        ASSERT_EQ(data[24 + 1], 0x03);            /* NAA */
        ASSERT_EQ(be64(data + 28), 0x3123456789abcdefull);
        cdb[2] = 0xb0;
        run(&lun, cdb, 6, 255, NULL, &r);
        ASSERT_EQ(r.st.data_len, 64u);
        ASSERT_EQ(data[4] & 1, 1);                 /* WSNZ */
        ASSERT_EQ(be32(data + 8), 2048u);          /* 1 MiB / 512 */
        ASSERT_EQ(be32(data + 20), lun.cfg.max_unmap_blocks);
        ASSERT_EQ(be32(data + 24), SCSI_MAX_UNMAP_DESCRIPTORS);
        ASSERT_EQ(be32(data + 28), 8u);            /* 4 KiB granularity */
        ASSERT_EQ(be64(data + 36), (uint64_t)lun.cfg.max_write_same_blocks);
        cdb[2] = 0xb1;
        run(&lun, cdb, 6, 255, NULL, &r);
        ASSERT_EQ(data[5], 1);                     /* non-rotating */
        cdb[2] = 0xb2;
        run(&lun, cdb, 6, 255, NULL, &r);
        ASSERT_EQ(data[5], 0x80 | 0x40 | 0x20 | 0x04); /* LBPU LBPWS LBPWS10 LBPRZ */
        cdb[2] = 0xb0;
        cdb[4] = 4; /* the guest's 4-byte header read */
        run(&lun, cdb, 6, 255, NULL, &r);
        ASSERT_EQ(r.st.data_len, 4u);
        cdb[4] = 255;
        cdb[2] = 0x89; /* ATA information: not listed, not served */
        run(&lun, cdb, 6, 255, NULL, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
        ASSERT_EQ(r.st.sense[17], 2);

        /* without discard: no B2 page, no unmap limits */
        lun_make(&lun, 1u << 20, 4096, false, false);
        cdb[2] = 0;
        run(&lun, cdb, 6, 255, NULL, &r);
        ASSERT_EQ(data[3], 5);
        cdb[2] = 0xb2;
        run(&lun, cdb, 6, 255, NULL, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
        cdb[2] = 0xb0;
        run(&lun, cdb, 6, 255, NULL, &r);
        ASSERT_EQ(be32(data + 8), 256u); /* 1 MiB / 4096 */
        ASSERT_EQ(be32(data + 20), 0u);
}

TEST(read_capacity) {
        struct scsi_lun lun;
        struct scsi_result r;
        const uint8_t rc10[10] = { SCSI_OP_READ_CAPACITY_10 };
        const uint8_t rc16[16] = { SCSI_OP_SERVICE_ACTION_IN_16, 0x10, [13] = 32 };
        lun_make(&lun, 2048, 512, false, false);
        run(&lun, rc10, 10, 8, NULL, &r);
        assert_good(&r);
        ASSERT_EQ(r.st.data_len, 8u);
        ASSERT_EQ(be32(data), 2047u);
        ASSERT_EQ(be32(data + 4), 512u);
        run(&lun, rc16, 16, 32, NULL, &r);
        assert_good(&r);
        ASSERT_EQ(r.st.data_len, 32u);
        ASSERT_EQ(be64(data), 2047ull);
        ASSERT_EQ(be32(data + 8), 512u);
        ASSERT_EQ(data[13], 3);    /* 8 logical blocks per physical (512e) */
        ASSERT_EQ(data[14], 0);    /* no LBPME without discard */

        lun_make(&lun, 5ull << 32, 4096, false, true); /* 80 TiB: RC10 saturates */
        run(&lun, rc10, 10, 8, NULL, &r);
        ASSERT_EQ(be32(data), 0xffffffffu);
        ASSERT_EQ(be32(data + 4), 4096u);
        run(&lun, rc16, 16, 32, NULL, &r);
        ASSERT_EQ(be64(data), (5ull << 32) - 1);
        ASSERT_EQ(data[13], 0);
        ASSERT_EQ(data[14], 0xc0); /* LBPME, LBPRZ */
        const uint8_t lba_status[16] = { SCSI_OP_SERVICE_ACTION_IN_16, 0x12, [13] = 32 };
        run(&lun, lba_status, 16, 32, NULL, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
        ASSERT_EQ(r.st.sense[17], 1);
}

TEST(report_luns) {
        struct scsi_lun_map map = { 0 };
        scsi_lun_map_set(&map, 0, true);
        scsi_lun_map_set(&map, 5, true);
        scsi_lun_map_set(&map, 63, true);
        scsi_lun_map_set(&map, 9, true);
        scsi_lun_map_set(&map, 9, false);
        ASSERT_FALSE(scsi_lun_map_test(&map, 9));
        const uint8_t cdb[12] = { SCSI_OP_REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0 };
        struct scsi_cmd cmd = { .cdb = cdb, .cdb_len = 12, .xfer_len = 4096, .luns = &map, .data_in = data };
        struct scsi_result r;
        /* a target-level command: answered at an absent LUN address too */
        ASSERT_OK(scsi_execute(NULL, &cmd, &r));
        assert_good(&r);
        ASSERT_EQ(r.st.data_len, 32u);
        ASSERT_EQ(be32(data), 24u);
        ASSERT_EQ(be64(data + 8), 0ull);
        ASSERT_EQ(be64(data + 16), 0x0005000000000000ull);
        ASSERT_EQ(be64(data + 24), 0x003f000000000000ull);
        cmd.xfer_len = 16; /* truncated, but the list length still counts all */
        ASSERT_OK(scsi_execute(NULL, &cmd, &r));
        ASSERT_EQ(r.st.data_len, 16u);
        ASSERT_EQ(be32(data), 24u);
        const uint8_t wk[12] = { SCSI_OP_REPORT_LUNS, 0, 0x01, 0, 0, 0, 0, 0, 0x10, 0, 0, 0 };
        cmd.cdb = wk;
        cmd.xfer_len = 4096;
        ASSERT_OK(scsi_execute(NULL, &cmd, &r));
        ASSERT_EQ(be32(data), 0u);
        const uint8_t bad[12] = { SCSI_OP_REPORT_LUNS, 0, 0x10, 0, 0, 0, 0, 0, 0x10, 0, 0, 0 };
        cmd.cdb = bad;
        ASSERT_OK(scsi_execute(NULL, &cmd, &r));
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
}

TEST(simple_commands) {
        struct scsi_lun lun;
        struct scsi_result r;
        lun_make(&lun, 100, 512, false, false);
        const uint8_t tur[6] = { SCSI_OP_TEST_UNIT_READY };
        const uint8_t ssu[6] = { SCSI_OP_START_STOP_UNIT, 0, 0, 0, 0x01, 0 };
        const uint8_t pamr[6] = { SCSI_OP_PREVENT_ALLOW_MEDIUM_REMOVAL, 0, 0, 0, 0x01, 0 };
        run(&lun, tur, 6, 0, NULL, &r);
        assert_good(&r);
        ASSERT_EQ(r.dir, SCSI_DIR_NONE);
        run(&lun, ssu, 6, 0, NULL, &r);
        assert_good(&r);
        run(&lun, pamr, 6, 0, NULL, &r);
        assert_good(&r);
        const uint8_t rs[6] = { SCSI_OP_REQUEST_SENSE, 0, 0, 0, 252, 0 };
        run(&lun, rs, 6, 252, NULL, &r);
        assert_good(&r);
        ASSERT_EQ(r.st.data_len, 18u);
        ASSERT_EQ(data[0], 0x70);
        ASSERT_EQ(data[2], SCSI_SENSE_NO_SENSE);
        const uint8_t rs_desc[6] = { SCSI_OP_REQUEST_SENSE, 1, 0, 0, 252, 0 };
        run(&lun, rs_desc, 6, 252, NULL, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
}

TEST(mode_sense) {
        struct scsi_lun lun;
        struct scsi_result r;
        lun_make(&lun, 1000, 512, false, false);
        /* sd's write-protect probe: page 3Fh, allocation length 4 */
        uint8_t ms6[6] = { SCSI_OP_MODE_SENSE_6, 0, 0x3f, 0, 4, 0 };
        run(&lun, ms6, 6, 4, NULL, &r);
        assert_good(&r);
        ASSERT_EQ(r.st.data_len, 4u);
        ASSERT_EQ(data[0], 4 + 8 + 20 + 12 - 1); /* mode data length */
        ASSERT_EQ(data[2], 0x10);                /* DPOFUA, not WP */
        ASSERT_EQ(data[3], 8);                   /* block descriptor length */
        ms6[4] = 255;
        run(&lun, ms6, 6, 255, NULL, &r);
        ASSERT_EQ(r.st.data_len, 44u);
        ASSERT_EQ(be32(data + 4), 1000u);        /* short block descriptor */
        ASSERT_EQ(be32(data + 8), 512u);
        ASSERT_EQ(data[12], 0x08);               /* caching page first */
        ASSERT_EQ(data[13], 0x12);
        ASSERT_EQ(data[14], 0x04);               /* WCE */
        ASSERT_EQ(data[32], 0x0a);               /* then control */
        ASSERT_EQ(data[33], 0x0a);
        /* caching with DBD */
        uint8_t ms6c[6] = { SCSI_OP_MODE_SENSE_6, 0x08, 0x08, 0, 255, 0 };
        run(&lun, ms6c, 6, 255, NULL, &r);
        ASSERT_EQ(r.st.data_len, 24u);
        ASSERT_EQ(data[3], 0);
        ASSERT_EQ(data[4], 0x08);
        ASSERT_EQ(data[6], 0x04);
        ms6c[2] = 0x48; /* changeable values: WCE only */
        run(&lun, ms6c, 6, 255, NULL, &r);
        ASSERT_EQ(data[6], 0x04);
        ms6c[2] = 0xc8; /* saved values */
        run(&lun, ms6c, 6, 255, NULL, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_SAVING_PARAMS_NOT_SUPPORTED);
        ms6c[2] = 0x1c; /* informational exceptions: not supported */
        run(&lun, ms6c, 6, 255, NULL, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
        ms6c[2] = 0x08;
        ms6c[3] = 0x01; /* subpage */
        run(&lun, ms6c, 6, 255, NULL, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);

        /* MODE SENSE(10) with LLBAA: long descriptor; read-only sets WP */
        lun_make(&lun, 5ull << 32, 4096, true, false);
        const uint8_t ms10[10] = { SCSI_OP_MODE_SENSE_10, 0x10, 0x3f, 0, 0, 0, 0, 0x01, 0x00, 0 };
        run(&lun, ms10, 10, 256, NULL, &r);
        assert_good(&r);
        ASSERT_EQ(r.st.data_len, 8u + 16 + 20 + 12);
        ASSERT_EQ(data[1], 8 + 16 + 20 + 12 - 2);
        ASSERT_EQ(data[3], 0x90); /* WP | DPOFUA */
        ASSERT_EQ(data[4], 0x01); /* LONGLBA */
        ASSERT_EQ(data[7], 16);
        ASSERT_EQ(be64(data + 8), 5ull << 32);
        ASSERT_EQ(be32(data + 20), 4096u);
        run(&lun, ms6, 6, 255, NULL, &r); /* short descriptor saturates */
        ASSERT_EQ(data[2], 0x90);
        ASSERT_EQ(be32(data + 4), 0xffffffu);
}

TEST(mode_select_caching) {
        struct scsi_lun lun;
        struct scsi_result r;
        lun_make(&lun, 1000, 512, false, false);
        /* what sd's cache_type_store sends: header + caching page, WCE off */
        uint8_t param[4 + 20] = { 0, 0, 0, 0, 0x08, 0x12, 0x00 };
        const uint8_t sel[6] = { SCSI_OP_MODE_SELECT_6, 0x10, 0, 0, sizeof param, 0 };
        run(&lun, sel, 6, sizeof param, NULL, &r);
        ASSERT_EQ(r.action, SCSI_NEED_PARAM);
        ASSERT_EQ(r.param_len, (uint32_t)sizeof param);
        ASSERT_EQ(r.dir, SCSI_DIR_OUT);
        run(&lun, sel, 6, sizeof param, param, &r);
        assert_good(&r);
        ASSERT_FALSE(scsi_lun_write_cache_enabled(&lun));
        /* with WCE = 0 every write is write-through */
        const uint8_t w10[10] = { SCSI_OP_WRITE_10, 0, 0, 0, 0, 8, 0, 0, 1, 0 };
        run(&lun, w10, 10, 512, NULL, &r);
        ASSERT_EQ(r.action, SCSI_DO_IO);
        ASSERT_TRUE(r.io.fua);
        const uint8_t ms[6] = { SCSI_OP_MODE_SENSE_6, 0x08, 0x08, 0, 255, 0 };
        run(&lun, ms, 6, 255, NULL, &r);
        ASSERT_EQ(data[6], 0x00);
        param[6] = 0x04; /* back to write-back */
        run(&lun, sel, 6, sizeof param, param, &r);
        assert_good(&r);
        ASSERT_TRUE(scsi_lun_write_cache_enabled(&lun));

        param[6] = 0x05; /* RCD = 1: not ours to change */
        run(&lun, sel, 6, sizeof param, param, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_PARAM_LIST);
        ASSERT_EQ(r.st.sense[15] & 0x40, 0); /* pointer into the parameter list */
        ASSERT_EQ(r.st.sense[17], 6);
        ASSERT_TRUE(scsi_lun_write_cache_enabled(&lun));
        param[6] = 0x04;
        param[4] = 0x1c; /* an unknown page */
        run(&lun, sel, 6, sizeof param, param, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_PARAM_LIST);
        param[4] = 0x08;
        const uint8_t sel_sp[6] = { SCSI_OP_MODE_SELECT_6, 0x11, 0, 0, sizeof param, 0 };
        run(&lun, sel_sp, 6, sizeof param, param, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
        const uint8_t sel_short[6] = { SCSI_OP_MODE_SELECT_6, 0x10, 0, 0, 3, 0 };
        run(&lun, sel_short, 6, 3, param, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
        run(&lun, sel, 6, 10, param, &r); /* buffer shorter than the list */
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
        /* a block descriptor with our geometry is accepted, another one not */
        uint8_t pbd[4 + 8] = { 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0x02, 0x00 };
        const uint8_t selbd[6] = { SCSI_OP_MODE_SELECT_6, 0x10, 0, 0, sizeof pbd, 0 };
        run(&lun, selbd, 6, sizeof pbd, pbd, &r);
        assert_good(&r);
        pbd[10] = 0x10; /* 4096 */
        run(&lun, selbd, 6, sizeof pbd, pbd, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_PARAM_LIST);
}

TEST(read_write_decode_512) {
        struct scsi_lun lun;
        struct scsi_result r;
        lun_make(&lun, 1000, 512, false, false);
        const uint8_t r6[6] = { SCSI_OP_READ_6, 0x00, 0x01, 0x02, 0, 0 }; /* 0 blocks = 256 */
        run(&lun, r6, 6, 256 * 512, NULL, &r);
        ASSERT_EQ(r.action, SCSI_DO_IO);
        ASSERT_EQ(r.io.kind, SCSI_IO_READ);
        ASSERT_EQ(r.io.lba, 0x102ull);
        ASSERT_EQ(r.io.blocks, 256ull);
        const uint8_t w10[10] = { SCSI_OP_WRITE_10, 0x08, 0, 0, 0x03, 0xe0, 0, 0, 8, 0 };
        run(&lun, w10, 10, 4096, NULL, &r);
        ASSERT_EQ(r.action, SCSI_DO_IO);
        ASSERT_EQ(r.io.kind, SCSI_IO_WRITE);
        ASSERT_EQ(r.io.lba, 992ull);
        ASSERT_EQ(r.io.blocks, 8ull);
        ASSERT_TRUE(r.io.fua);
        const uint8_t r12[12] = { SCSI_OP_READ_12, 0, 0, 0, 0, 10, 0, 0, 0, 4, 0, 0 };
        run(&lun, r12, 12, 4096, NULL, &r);
        ASSERT_EQ(r.io.lba, 10ull);
        ASSERT_EQ(r.io.blocks, 4ull);
        const uint8_t w16[16] = { SCSI_OP_WRITE_16, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0 };
        run(&lun, w16, 16, 1024, NULL, &r);
        ASSERT_EQ(r.io.kind, SCSI_IO_WRITE);
        ASSERT_EQ(r.io.lba, 1ull);
        ASSERT_FALSE(r.io.fua);
        /* the last block is fine, one past it is not */
        const uint8_t last[10] = { SCSI_OP_READ_10, 0, 0, 0, 0x03, 0xe7, 0, 0, 1, 0 };
        run(&lun, last, 10, 512, NULL, &r);
        ASSERT_EQ(r.action, SCSI_DO_IO);
        const uint8_t past[10] = { SCSI_OP_READ_10, 0, 0, 0, 0x03, 0xe7, 0, 0, 2, 0 };
        run(&lun, past, 10, 1024, NULL, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
        /* LBA + length wrapping around 2^64 */
        const uint8_t wrap[16] = { SCSI_OP_READ_16, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0, 0, 0, 2, 0, 0 };
        run(&lun, wrap, 16, 1024, NULL, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
        const uint8_t zero[10] = { SCSI_OP_READ_10, 0, 0, 0, 0, 5, 0, 0, 0, 0 };
        run(&lun, zero, 10, 0, NULL, &r);
        assert_good(&r);
        const uint8_t rdprotect[10] = { SCSI_OP_READ_10, 0x20, 0, 0, 0, 0, 0, 0, 1, 0 };
        run(&lun, rdprotect, 10, 512, NULL, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
        /* the initiator's buffer must hold the transfer */
        run(&lun, w10, 10, 4095, NULL, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
        ASSERT_EQ(r.st.sense[17], 7);
        /* more than MAXIMUM TRANSFER LENGTH (1 MiB) */
        const uint8_t big[10] = { SCSI_OP_READ_10, 0, 0, 0, 0, 0, 0, 0x08, 0x01, 0 };
        lun_make(&lun, 1u << 20, 512, false, false);
        run(&lun, big, 10, 4u << 20, NULL, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
}

TEST(read_write_4096) {
        struct scsi_lun lun;
        struct scsi_result r;
        lun_make(&lun, 256, 4096, false, false);
        const uint8_t r10[10] = { SCSI_OP_READ_10, 0, 0, 0, 0, 255, 0, 0, 1, 0 };
        run(&lun, r10, 10, 4096, NULL, &r);
        ASSERT_EQ(r.action, SCSI_DO_IO);
        ASSERT_EQ(r.io.lba, 255ull);
        run(&lun, r10, 10, 512, NULL, &r); /* a 512-byte buffer cannot hold a 4 KiB block */
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
        const uint8_t past[10] = { SCSI_OP_WRITE_10, 0, 0, 0, 1, 0, 0, 0, 1, 0 };
        run(&lun, past, 10, 4096, NULL, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
}

TEST(read_only_lun) {
        struct scsi_lun lun;
        struct scsi_result r;
        lun_make(&lun, 1000, 512, true, true);
        const uint8_t w10[10] = { SCSI_OP_WRITE_10, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
        run(&lun, w10, 10, 512, NULL, &r);
        assert_sense(&r, SCSI_SENSE_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
        const uint8_t w6[6] = { SCSI_OP_WRITE_6, 0, 0, 0, 1, 0 };
        run(&lun, w6, 6, 512, NULL, &r);
        assert_sense(&r, SCSI_SENSE_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
        const uint8_t ws[10] = { SCSI_OP_WRITE_SAME_10, 0x08, 0, 0, 0, 0, 0, 0, 1, 0 };
        run(&lun, ws, 10, 512, NULL, &r);
        assert_sense(&r, SCSI_SENSE_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
        const uint8_t unmap[10] = { SCSI_OP_UNMAP, 0, 0, 0, 0, 0, 0, 0, 24, 0 };
        run(&lun, unmap, 10, 24, NULL, &r);
        assert_sense(&r, SCSI_SENSE_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
        const uint8_t sync[10] = { SCSI_OP_SYNCHRONIZE_CACHE_10 };
        run(&lun, sync, 10, 0, NULL, &r);
        assert_good(&r); /* nothing to flush */
        const uint8_t r10[10] = { SCSI_OP_READ_10, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
        run(&lun, r10, 10, 512, NULL, &r);
        ASSERT_EQ(r.action, SCSI_DO_IO);
}

TEST(sync_cache_and_verify) {
        struct scsi_lun lun;
        struct scsi_result r;
        lun_make(&lun, 1000, 512, false, false);
        const uint8_t s10[10] = { SCSI_OP_SYNCHRONIZE_CACHE_10 };
        run(&lun, s10, 10, 0, NULL, &r);
        ASSERT_EQ(r.action, SCSI_DO_IO);
        ASSERT_EQ(r.io.kind, SCSI_IO_FLUSH);
        const uint8_t s16[16] = { SCSI_OP_SYNCHRONIZE_CACHE_16, 0, 0, 0, 0, 0, 0, 0, 0x03, 0xe8 };
        run(&lun, s16, 16, 0, NULL, &r); /* LBA 1000 + 0 blocks: to the end, fine */
        ASSERT_EQ(r.action, SCSI_DO_IO);
        const uint8_t s16bad[16] = { SCSI_OP_SYNCHRONIZE_CACHE_16, 0, 0, 0, 0, 0, 0, 0, 0x03, 0xe8, 0, 0, 0, 1 };
        run(&lun, s16bad, 16, 0, NULL, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
        const uint8_t v10[10] = { SCSI_OP_VERIFY_10, 0, 0, 0, 0, 0, 0, 0, 8, 0 };
        run(&lun, v10, 10, 0, NULL, &r);
        assert_good(&r);
        const uint8_t v10chk[10] = { SCSI_OP_VERIFY_10, 0x02, 0, 0, 0, 0, 0, 0, 8, 0 };
        run(&lun, v10chk, 10, 4096, NULL, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
        const uint8_t v16[16] = { SCSI_OP_VERIFY_16, 0, 0, 0, 0, 0, 0, 0, 0x03, 0xe0, 0, 0, 0, 9 };
        run(&lun, v16, 16, 0, NULL, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
}

static void put_desc(uint8_t *d, uint64_t lba, uint32_t n) {
        for (int i = 0; i < 8; i++)
                d[i] = (uint8_t)(lba >> (56 - 8 * i));
        for (int i = 0; i < 4; i++)
                d[8 + i] = (uint8_t)(n >> (24 - 8 * i));
}

TEST(unmap) {
        struct scsi_lun lun;
        struct scsi_result r;
        lun_make(&lun, 1000, 512, false, true);
        uint8_t p[8 + 3 * 16] = { 0, 6 + 48, 0, 48 };
        put_desc(p + 8, 0, 8);
        put_desc(p + 24, 100, 0);
        put_desc(p + 40, 992, 8);
        const uint8_t cdb[10] = { SCSI_OP_UNMAP, 0, 0, 0, 0, 0, 0, 0, sizeof p, 0 };
        run(&lun, cdb, 10, sizeof p, NULL, &r);
        ASSERT_EQ(r.action, SCSI_NEED_PARAM);
        ASSERT_EQ(r.param_len, (uint32_t)sizeof p);
        run(&lun, cdb, 10, sizeof p, p, &r);
        ASSERT_EQ(r.action, SCSI_DO_IO);
        ASSERT_EQ(r.io.kind, SCSI_IO_UNMAP);
        ASSERT_EQ(r.io.n_descriptors, 3u);
        uint64_t lba;
        uint32_t n;
        scsi_io_unmap_extent(&r.io, 2, &lba, &n);
        ASSERT_EQ(lba, 992ull);
        ASSERT_EQ(n, 8u);
        scsi_io_unmap_extent(&r.io, 3, &lba, &n); /* out of range index: empty */
        ASSERT_EQ(n, 0u);

        put_desc(p + 40, 993, 8); /* one block past the end */
        run(&lun, cdb, 10, sizeof p, p, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
        p[3] = 64; /* descriptor length beyond the list */
        run(&lun, cdb, 10, sizeof p, p, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
        const uint8_t short_cdb[10] = { SCSI_OP_UNMAP, 0, 0, 0, 0, 0, 0, 0, 4, 0 };
        run(&lun, short_cdb, 10, 4, p, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
        const uint8_t anchor[10] = { SCSI_OP_UNMAP, 1, 0, 0, 0, 0, 0, 0, sizeof p, 0 };
        run(&lun, anchor, 10, sizeof p, p, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
        const uint8_t empty[10] = { SCSI_OP_UNMAP };
        run(&lun, empty, 10, 0, NULL, &r);
        assert_good(&r);

        /* too many descriptors */
        static uint8_t many[8 + 16 * (SCSI_MAX_UNMAP_DESCRIPTORS + 1)];
        many[2] = (uint8_t)((16 * (SCSI_MAX_UNMAP_DESCRIPTORS + 1)) >> 8);
        many[3] = (uint8_t)(16 * (SCSI_MAX_UNMAP_DESCRIPTORS + 1));
        const uint8_t cmany[10] = { SCSI_OP_UNMAP, 0, 0, 0, 0, 0, 0, (uint8_t)(sizeof many >> 8),
                                    (uint8_t)sizeof many, 0 };
        run(&lun, cmany, 10, sizeof many, many, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_PARAM_LIST);

        /* no discard support: the opcode does not exist */
        lun_make(&lun, 1000, 512, false, false);
        run(&lun, cdb, 10, sizeof p, p, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_OPCODE);
}

TEST(write_same) {
        struct scsi_lun lun;
        struct scsi_result r;
        lun_make(&lun, 1000, 4096, false, true);
        static uint8_t block[4096];
        const uint8_t ws16[16] = { SCSI_OP_WRITE_SAME_16, 0x08, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 32, 0, 0 };
        run(&lun, ws16, 16, 4096, NULL, &r);
        ASSERT_EQ(r.action, SCSI_NEED_PARAM);
        ASSERT_EQ(r.param_len, 4096u);
        run(&lun, ws16, 16, 4096, block, &r);
        ASSERT_EQ(r.action, SCSI_DO_IO);
        ASSERT_EQ(r.io.kind, SCSI_IO_WRITE_ZEROES);
        ASSERT_TRUE(r.io.may_unmap);
        ASSERT_EQ(r.io.lba, 16ull);
        ASSERT_EQ(r.io.blocks, 32ull);
        const uint8_t ws10[10] = { SCSI_OP_WRITE_SAME_10, 0, 0, 0, 0, 16, 0, 0, 4, 0 };
        run(&lun, ws10, 10, 4096, block, &r);
        ASSERT_EQ(r.io.kind, SCSI_IO_WRITE_ZEROES);
        ASSERT_FALSE(r.io.may_unmap); /* no UNMAP bit: allocate */
        block[100] = 0xaa;            /* a pattern must be written, UNMAP or not */
        run(&lun, ws16, 16, 4096, block, &r);
        ASSERT_EQ(r.io.kind, SCSI_IO_WRITE_SAME);
        ASSERT_EQ(r.io.pattern[100], 0xaa);
        const uint8_t ws_zero[10] = { SCSI_OP_WRITE_SAME_10, 0, 0, 0, 0, 16, 0, 0, 0, 0 };
        run(&lun, ws_zero, 10, 4096, block, &r); /* WSNZ */
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
        const uint8_t ndob[16] = { SCSI_OP_WRITE_SAME_16, 0x01, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 1, 0, 0 };
        run(&lun, ndob, 16, 0, NULL, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
        const uint8_t past[10] = { SCSI_OP_WRITE_SAME_10, 0, 0, 0, 0x03, 0xe0, 0, 0, 9, 0 };
        run(&lun, past, 10, 4096, block, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
        run(&lun, ws10, 10, 512, block, &r); /* the buffer cannot hold one block */
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
}

TEST(io_error_mapping) {
        struct scsi_io rd = { .kind = SCSI_IO_READ }, wr = { .kind = SCSI_IO_WRITE };
        struct scsi_io fl = { .kind = SCSI_IO_FLUSH };
        struct scsi_status st;
        scsi_complete_io(&rd, 8192, &st);
        ASSERT_EQ(st.status, SCSI_STATUS_GOOD);
        ASSERT_EQ(st.data_len, 8192u);
        scsi_complete_io(&fl, 0, &st);
        ASSERT_EQ(st.status, SCSI_STATUS_GOOD);
        scsi_complete_io(&rd, -EIO, &st);
        ASSERT_EQ(scsi_sense_key(&st), SCSI_SENSE_MEDIUM_ERROR);
        ASSERT_EQ(scsi_sense_asc(&st), SCSI_ASC_UNRECOVERED_READ_ERROR);
        scsi_complete_io(&wr, -EIO, &st);
        ASSERT_EQ(scsi_sense_key(&st), SCSI_SENSE_MEDIUM_ERROR);
        ASSERT_EQ(scsi_sense_asc(&st), SCSI_ASC_WRITE_ERROR);
        scsi_complete_io(&fl, -EIO, &st);
        ASSERT_EQ(scsi_sense_asc(&st), SCSI_ASC_WRITE_ERROR);
        scsi_complete_io(&wr, -ENOSPC, &st);
        ASSERT_EQ(st.status, SCSI_STATUS_CHECK_CONDITION);
        ASSERT_EQ(scsi_sense_key(&st), SCSI_SENSE_DATA_PROTECT);
        ASSERT_EQ(scsi_sense_asc(&st), SCSI_ASC_SPACE_ALLOCATION_FAILED);
        scsi_complete_io(&wr, -EROFS, &st);
        ASSERT_EQ(scsi_sense_asc(&st), SCSI_ASC_WRITE_PROTECTED);
        scsi_complete_io(&rd, -ENODEV, &st);
        ASSERT_EQ(scsi_sense_key(&st), SCSI_SENSE_NOT_READY);
        ASSERT_EQ(scsi_sense_asc(&st), SCSI_ASC_LUN_NOT_READY);
        scsi_complete_io(&rd, -ENOMEM, &st);
        ASSERT_EQ(scsi_sense_key(&st), SCSI_SENSE_ABORTED_COMMAND);
        scsi_complete_io(&rd, -EXDEV, &st);
        ASSERT_EQ(scsi_sense_key(&st), SCSI_SENSE_HARDWARE_ERROR);
}

TEST(execute_rejects_null) {
        struct scsi_result r;
        struct scsi_cmd cmd = { .cdb = NULL, .cdb_len = 6, .data_in = data };
        ASSERT_ERROR(scsi_execute(NULL, &cmd, &r), EINVAL);
        ASSERT_ERROR(scsi_execute(NULL, NULL, &r), EINVAL);
}

TEST_MAIN();
