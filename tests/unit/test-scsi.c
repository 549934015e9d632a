// SPDX-License-Identifier: MIT
/* The scsi target module, discovery side: INQUIRY and VPD pages, READ
 * CAPACITY, REPORT LUNS, the small commands, MODE SENSE/SELECT, sense data
 * format, absent LUNs (fact sheet docs/hyperv-guest-interface.md §6.5, §6.8).
 * Block commands are in test-scsi-block.c. */
#include "test-scsi.h"

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

/* A pending unit attention (a resize: CAPACITY DATA HAS CHANGED) ends
 * the next command but INQUIRY, REPORT LUNS and REQUEST SENSE, once;
 * REQUEST SENSE returns it as data and clears it (SAM-5 5.14). */
TEST(unit_attention) {
        struct scsi_lun lun;
        struct scsi_result r;
        lun_make(&lun, 1000, 512, false, false);
        ASSERT_EQ(scsi_lun_attention(&lun), 0);
        scsi_lun_set_attention(&lun, SCSI_ASC_CAPACITY_DATA_CHANGED);
        const uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 };
        run(&lun, inq, 6, 36, NULL, &r);
        assert_good(&r);
        const uint8_t rl[12] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0 };
        run(&lun, rl, 12, 4096, NULL, &r);
        assert_good(&r);
        ASSERT_EQ(scsi_lun_attention(&lun), SCSI_ASC_CAPACITY_DATA_CHANGED);
        const uint8_t r10[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
        run(&lun, r10, 10, 512, NULL, &r);
        assert_sense(&r, SCSI_SENSE_UNIT_ATTENTION, SCSI_ASC_CAPACITY_DATA_CHANGED);
        ASSERT_EQ(r.dir, SCSI_DIR_IN); /* the command's direction still */
        run(&lun, r10, 10, 512, NULL, &r);
        ASSERT_EQ(r.action, SCSI_DO_IO);
        /* REQUEST SENSE reports it as its data and clears it */
        scsi_lun_set_attention(&lun, SCSI_ASC_CAPACITY_DATA_CHANGED);
        const uint8_t rs[6] = { 0x03, 0, 0, 0, 18, 0 };
        run(&lun, rs, 6, 18, NULL, &r);
        assert_good(&r);
        ASSERT_EQ(r.st.data_len, 18u);
        ASSERT_EQ(data[2] & 0x0f, SCSI_SENSE_UNIT_ATTENTION);
        ASSERT_EQ(data[12], 0x2a);
        ASSERT_EQ(data[13], 0x09);
        run(&lun, rs, 6, 18, NULL, &r);
        ASSERT_EQ(data[2] & 0x0f, SCSI_SENSE_NO_SENSE);
        const uint8_t tur[6] = { 0 };
        run(&lun, tur, 6, 0, NULL, &r);
        assert_good(&r);
        /* a NULL LUN (none at the address) has none to report */
        run(NULL, tur, 6, 0, NULL, &r);
        assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LUN_NOT_SUPPORTED);
}

TEST_MAIN();
