// SPDX-License-Identifier: MIT
/* Block commands (SBC-3): READ/WRITE 6/10/12/16, VERIFY 10/16, SYNCHRONIZE
 * CACHE 10/16, UNMAP, WRITE SAME 10/16. They validate and return an I/O
 * operation; the data itself never passes through this module. */
#include <string.h>

#include "common/macro.h"
#include "scsi-internal.h"

#define RW_FUA 0x08u
#define WS_UNMAP 0x08u
#define WS_ANCHOR 0x10u
#define WS_PBDATA_LBDATA 0x06u
#define WS16_NDOB 0x01u
#define UNMAP_DESC_LEN 16u

struct lba_range {
        uint64_t lba;
        uint64_t blocks;
        uint16_t len_byte; /* CDB offset of the length field (for the field pointer) */
};

/* Decodes LBA and length of the 6/10/12/16-byte block CDB layouts. */
static void decode_range(const uint8_t *cdb, struct lba_range *r) {
        switch (scsi_cdb_length(cdb[0])) {
        case 6: /* SBC-3 5.8: 21-bit LBA; length 0 means 256 blocks */
                r->lba = get_be24(cdb + 1) & 0x1fffffu;
                r->blocks = cdb[4] ? cdb[4] : 256u;
                r->len_byte = 4;
                break;
        case 10:
                r->lba = get_be32(cdb + 2);
                r->blocks = get_be16(cdb + 7);
                r->len_byte = 7;
                break;
        case 12:
                r->lba = get_be32(cdb + 2);
                r->blocks = get_be32(cdb + 6);
                r->len_byte = 6;
                break;
        default: /* 16 */
                r->lba = get_be64(cdb + 2);
                r->blocks = get_be32(cdb + 10);
                r->len_byte = 10;
                break;
        }
}

static bool is_write_op(uint8_t op) {
        return op == SCSI_OP_WRITE_6 || op == SCSI_OP_WRITE_10 || op == SCSI_OP_WRITE_12 || op == SCSI_OP_WRITE_16;
}

void scsi_read_write(struct scsi_ctx *c) {
        const struct scsi_lun_config *cfg = &c->lun->cfg;
        bool write = is_write_op(c->cdb[0]);
        bool six = scsi_cdb_length(c->cdb[0]) == 6;
        uint8_t flags = six ? 0 : c->cdb[1];
        struct lba_range r;
        decode_range(c->cdb, &r);
        if (flags & 0xe0u) { /* RDPROTECT/WRPROTECT: no protection information */
                scsi_ctx_bad_cdb(c, 1, 7);
                return;
        }
        if (!scsi_ctx_check_range(c, r.lba, r.blocks))
                return;
        if (write && !scsi_ctx_check_writable(c))
                return;
        if (r.blocks == 0) { /* SBC-3: not an error, nothing transferred */
                scsi_ctx_good(c);
                return;
        }
        /* blocks <= n_blocks and n_blocks * block_size fits (scsi_lun_init) */
        uint64_t bytes = r.blocks * cfg->block_size;
        if (bytes > cfg->max_transfer_bytes || bytes > c->cmd->xfer_len) {
                scsi_ctx_bad_cdb(c, r.len_byte, -1);
                return;
        }
        c->r->action = SCSI_DO_IO;
        c->r->io.kind = write ? SCSI_IO_WRITE : SCSI_IO_READ;
        c->r->io.lba = r.lba;
        c->r->io.blocks = r.blocks;
        /* FUA, or the guest turned the write cache off with MODE SELECT */
        c->r->io.fua = write && ((flags & RW_FUA) || !scsi_lun_write_cache_enabled(c->lun));
}

/* SBC-3 5.33/5.34 with BYTCHK = 0: a medium verification, which a file
 * cannot fail short of an I/O error on read; we check the range only. */
void scsi_verify(struct scsi_ctx *c) {
        struct lba_range r;
        decode_range(c->cdb, &r);
        if (c->cdb[1] & 0xe0u) {
                scsi_ctx_bad_cdb(c, 1, 7);
                return;
        }
        if (c->cdb[1] & 0x06u) { /* BYTCHK != 0: comparing data is not supported */
                scsi_ctx_bad_cdb(c, 1, 2);
                return;
        }
        if (!scsi_ctx_check_range(c, r.lba, r.blocks))
                return;
        scsi_ctx_good(c);
}

/* SBC-3 5.22/5.23: we flush the whole file whatever the range (a superset);
 * NUMBER OF LOGICAL BLOCKS = 0 means "to the end of the medium". */
void scsi_synchronize_cache(struct scsi_ctx *c) {
        struct lba_range r;
        decode_range(c->cdb, &r);
        if (!scsi_ctx_check_range(c, r.lba, r.blocks))
                return;
        if (c->lun->cfg.read_only) { /* nothing can be dirty */
                scsi_ctx_good(c);
                return;
        }
        c->r->action = SCSI_DO_IO;
        c->r->io.kind = SCSI_IO_FLUSH;
        c->r->io.lba = r.lba;
        c->r->io.blocks = r.blocks;
}

void scsi_io_unmap_extent(const struct scsi_io *io, uint32_t i, uint64_t *lba, uint32_t *blocks) {
        *lba = 0;
        *blocks = 0;
        if (io->kind != SCSI_IO_UNMAP || i >= io->n_descriptors || !io->descriptors)
                return;
        const uint8_t *d = io->descriptors + (size_t)i * UNMAP_DESC_LEN;
        *lba = get_be64(d);
        *blocks = get_be32(d + 8);
}

/* Validates the UNMAP parameter list (SBC-3 5.28). Returns the descriptor
 * count, or -1 after completing c with an error. */
static long unmap_check_list(struct scsi_ctx *c, const uint8_t *p, uint32_t plen) {
        if (plen < 8) {
                scsi_ctx_sense(c, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
                return -1;
        }
        uint32_t bd_len = get_be16(p + 2);
        if (bd_len > plen - 8) {
                scsi_ctx_sense(c, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
                return -1;
        }
        uint32_t n = bd_len / UNMAP_DESC_LEN; /* a partial last descriptor is ignored */
        if (n > SCSI_MAX_UNMAP_DESCRIPTORS) {
                scsi_ctx_bad_param(c, 2, -1);
                return -1;
        }
        uint64_t total = 0;
        for (uint32_t i = 0; i < n; i++) {
                const uint8_t *d = p + 8 + (size_t)i * UNMAP_DESC_LEN;
                uint64_t lba = get_be64(d);
                uint32_t blocks = get_be32(d + 8);
                if (!scsi_ctx_check_range(c, lba, blocks))
                        return -1;
                total += blocks; /* <= 64 * 2^32: no overflow */
        }
        if (total > c->lun->cfg.max_unmap_blocks) {
                scsi_ctx_bad_param(c, 8 + 8, -1);
                return -1;
        }
        return n;
}

void scsi_unmap(struct scsi_ctx *c) {
        if (!c->lun->cfg.discard) { /* LBPU = 0: the command is not supported */
                scsi_ctx_bad_opcode(c);
                return;
        }
        if (c->cdb[1] & 0x01u) { /* ANCHOR: ANC_SUP = 0 */
                scsi_ctx_bad_cdb(c, 1, 0);
                return;
        }
        uint32_t plen = get_be16(c->cdb + 7);
        if (!scsi_ctx_check_writable(c))
                return;
        if (plen == 0) {
                scsi_ctx_good(c);
                return;
        }
        if (plen > SCSI_PARAM_MAX) {
                scsi_ctx_bad_cdb(c, 7, -1);
                return;
        }
        if (!scsi_ctx_param(c, plen))
                return;
        long n = unmap_check_list(c, c->cmd->param, plen);
        if (n < 0)
                return;
        if (n == 0) {
                scsi_ctx_good(c);
                return;
        }
        c->r->action = SCSI_DO_IO;
        c->r->io.kind = SCSI_IO_UNMAP;
        c->r->io.descriptors = c->cmd->param + 8;
        c->r->io.n_descriptors = (uint32_t)n;
}

/* SBC-3 5.44/5.45. With UNMAP = 1 and an all-zero block we may deallocate
 * (reads return zeros when LBPRZ); with a non-zero block we must write it,
 * since unmapped blocks would not read back as that pattern. */
void scsi_write_same(struct scsi_ctx *c) {
        const struct scsi_lun_config *cfg = &c->lun->cfg;
        bool sixteen = c->cdb[0] == SCSI_OP_WRITE_SAME_16;
        uint8_t flags = c->cdb[1];
        struct lba_range r;
        decode_range(c->cdb, &r);
        int bad_bit = (flags & 0xe0u) ? 7 : (flags & WS_ANCHOR) ? 4 : (flags & WS_PBDATA_LBDATA) ? 2
                    : (sixteen && (flags & WS16_NDOB)) ? 0 : -1;
        if (bad_bit >= 0) {
                scsi_ctx_bad_cdb(c, 1, bad_bit);
                return;
        }
        if (r.blocks == 0 || r.blocks > cfg->max_write_same_blocks) { /* WSNZ = 1 */
                scsi_ctx_bad_cdb(c, r.len_byte, -1);
                return;
        }
        if (!scsi_ctx_check_range(c, r.lba, r.blocks) || !scsi_ctx_check_writable(c))
                return;
        if (!scsi_ctx_param(c, cfg->block_size))
                return;
        const uint8_t *block = c->cmd->param;
        struct scsi_io *io = &c->r->io;
        c->r->action = SCSI_DO_IO;
        io->lba = r.lba;
        io->blocks = r.blocks;
        io->fua = !scsi_lun_write_cache_enabled(c->lun);
        if (mem_is_zero(block, cfg->block_size)) {
                io->kind = SCSI_IO_WRITE_ZEROES;
                io->may_unmap = (flags & WS_UNMAP) && cfg->discard && cfg->discard_zeroes;
        } else {
                io->kind = SCSI_IO_WRITE_SAME;
                io->pattern = block;
        }
}
