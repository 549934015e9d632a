/* SPDX-License-Identifier: MIT */
/* Helpers shared by test-scsi.c and test-scsi-block.c (static: each test
 * program has its own copy). */
#pragma once

#include <errno.h>

#include "common/test.h"
#include "scsi/scsi.h"

static uint8_t data[SCSI_DATA_IN_MAX];

static inline void lun_make(struct scsi_lun *lun, uint64_t n_blocks, uint32_t bs, bool ro, bool discard) {
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
static inline void run(struct scsi_lun *lun, const uint8_t *cdb, size_t len, uint32_t xfer,
                       const uint8_t *param, struct scsi_result *r) {
        struct scsi_cmd cmd = { .cdb = cdb, .cdb_len = len, .xfer_len = xfer, .data_in = data };
        ASSERT_OK(scsi_execute(lun, &cmd, r));
        if (r->action == SCSI_NEED_PARAM && param) {
                cmd.param = param;
                cmd.param_len = r->param_len;
                ASSERT_OK(scsi_execute(lun, &cmd, r));
        }
}

static inline void assert_good(const struct scsi_result *r) {
        ASSERT_EQ(r->action, SCSI_DONE);
        ASSERT_EQ(r->st.status, SCSI_STATUS_GOOD);
        ASSERT_EQ(r->st.sense_len, 0);
}

static inline void assert_sense(const struct scsi_result *r, uint8_t key, uint16_t asc) {
        ASSERT_EQ(r->action, SCSI_DONE);
        ASSERT_EQ(r->st.status, SCSI_STATUS_CHECK_CONDITION);
        ASSERT_EQ(r->st.sense_len, SCSI_SENSE_LEN);
        ASSERT_EQ(r->st.sense[0], 0x70);  /* current, fixed format */
        ASSERT_EQ(r->st.sense[7], 10);    /* additional sense length */
        ASSERT_EQ(scsi_sense_key(&r->st), key);
        ASSERT_EQ(scsi_sense_asc(&r->st), asc);
        ASSERT_EQ(r->st.data_len, 0u);
}

static inline uint32_t be32(const uint8_t *p) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t be64(const uint8_t *p) {
        return (uint64_t)be32(p) << 32 | be32(p + 4);
}

