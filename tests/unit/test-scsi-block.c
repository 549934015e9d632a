// SPDX-License-Identifier: MIT
/* The scsi target module, block side: READ/WRITE 6/10/12/16 with 512- and
 * 4096-byte logical blocks and out-of-range LBAs, read-only LUNs, SYNCHRONIZE
 * CACHE, VERIFY, UNMAP, WRITE SAME, and the errno -> sense mapping. */
#include "test-scsi.h"

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
