// SPDX-License-Identifier: MIT
/* Fuzz the SCSI target: a random CDB, buffer length and parameter list
 * against a small LUN (geometry and flags from the first input bytes).
 * Checks the module's promises: bounded responses, well-formed sense, and
 * I/O operations that always lie inside the LUN.
 *
 * Input: [flags u8][xfer_len u16 le][cdb_len u8][cdb 16][param ...]; flags
 * 0x80 without 0x40: a unit attention is pending. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scsi/scsi.h"
#include "tests/fuzz/fuzz-check.h"


static void check_io(const struct scsi_lun *lun, const struct scsi_io *io) {
        uint64_t cap = lun->cfg.n_blocks;
        switch (io->kind) {
        case SCSI_IO_READ:
        case SCSI_IO_WRITE:
        case SCSI_IO_WRITE_ZEROES:
        case SCSI_IO_WRITE_SAME:
                CHECK(io->blocks > 0 && io->lba < cap && io->blocks <= cap - io->lba);
                CHECK(io->kind == SCSI_IO_READ || !lun->cfg.read_only);
                CHECK(io->kind != SCSI_IO_WRITE_SAME || io->pattern);
                break;
        case SCSI_IO_UNMAP:
                CHECK(lun->cfg.discard && !lun->cfg.read_only);
                CHECK(io->n_descriptors > 0 && io->n_descriptors <= SCSI_MAX_UNMAP_DESCRIPTORS);
                for (uint32_t i = 0; i < io->n_descriptors; i++) {
                        uint64_t lba;
                        uint32_t n;
                        scsi_io_unmap_extent(io, i, &lba, &n);
                        CHECK(lba <= cap && n <= cap - lba);
                }
                break;
        case SCSI_IO_FLUSH:
                break;
        }
}

static void check_status(const struct scsi_status *st, uint32_t xfer) {
        CHECK(st->data_len <= xfer && st->data_len <= SCSI_DATA_IN_MAX);
        if (st->status == SCSI_STATUS_GOOD)
                CHECK(st->sense_len == 0);
        else
                CHECK(st->status == SCSI_STATUS_CHECK_CONDITION && st->sense_len == SCSI_SENSE_LEN &&
                      st->sense[0] == 0x70 && st->data_len == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size) {
        if (size < 20)
                return 0;
        uint8_t flags = in[0];
        uint32_t xfer = (uint32_t)in[1] | (uint32_t)in[2] << 8;
        size_t cdb_len = in[3] % 17;
        uint8_t cdb[16];
        memcpy(cdb, in + 4, 16);
        const uint8_t *param = in + 20;
        size_t param_size = size - 20;

        struct scsi_lun_config cfg;
        scsi_lun_config_init(&cfg, 64 + (flags >> 4), (flags & 1) ? 4096 : 512);
        cfg.read_only = flags & 2;
        cfg.discard = flags & 4;
        cfg.discard_zeroes = flags & 8;
        cfg.max_unmap_blocks = 32;
        cfg.max_write_same_blocks = 48;
        cfg.max_transfer_bytes = 32 * 1024;
        strcpy(cfg.serial, "FUZZ");
        struct scsi_lun lun;
        if (scsi_lun_init(&lun, &cfg) < 0)
                abort();
        struct scsi_lun_map map = { .bits = { 0x11, 0, 0, 1ull << 63 } };
        static uint8_t data[SCSI_DATA_IN_MAX];
        struct scsi_cmd cmd = { .cdb = cdb, .cdb_len = cdb_len, .xfer_len = xfer, .luns = &map, .data_in = data };
        struct scsi_result r;
        struct scsi_lun *target = (flags & 0x80) && (flags & 0x40) ? NULL : &lun;
        /* a pending unit attention (a resize): no command moves data then */
        bool attention = (flags & 0x80) && !(flags & 0x40);
        if (attention)
                scsi_lun_set_attention(&lun, SCSI_ASC_CAPACITY_DATA_CHANGED);

        CHECK(scsi_execute(target, &cmd, &r) == 0);
        if (r.action == SCSI_NEED_PARAM) {
                CHECK(target && r.param_len > 0 && r.param_len <= SCSI_PARAM_MAX && r.param_len <= xfer);
                /* the caller copies what the initiator's buffer holds */
                static uint8_t buf[SCSI_PARAM_MAX];
                size_t n = param_size < r.param_len ? param_size : r.param_len;
                memcpy(buf, param, n);
                cmd.param = buf;
                cmd.param_len = (uint32_t)n;
                CHECK(scsi_execute(target, &cmd, &r) == 0);
                CHECK(r.action != SCSI_NEED_PARAM);
        }
        if (r.action == SCSI_DO_IO) {
                CHECK(target && !attention);
                check_io(&lun, &r.io);
                struct scsi_status st;
                int res = (flags & 0x20) ? -(int)(param_size % 140) : (int)(param_size * 512);
                scsi_complete_io(&r.io, res, &st);
                CHECK(st.status == SCSI_STATUS_GOOD || st.sense_len == SCSI_SENSE_LEN);
        } else {
                check_status(&r.st, xfer);
        }
        return 0;
}
