/* SPDX-License-Identifier: MIT */
/* Private helpers of the scsi library: big-endian field access (SCSI is
 * big-endian on the wire) and the per-command execution context. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "scsi/scsi.h"

static inline uint16_t get_be16(const uint8_t *p) {
        return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}
static inline uint32_t get_be24(const uint8_t *p) {
        return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}
static inline uint32_t get_be32(const uint8_t *p) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t get_be64(const uint8_t *p) {
        return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}
static inline void put_be16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}
static inline void put_be32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t)(v >> 24);
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
}
static inline void put_be64(uint8_t *p, uint64_t v) {
        put_be32(p, (uint32_t)(v >> 32));
        put_be32(p + 4, (uint32_t)v);
}

/* One command being executed. */
struct scsi_ctx {
        struct scsi_lun *lun; /* NULL: no logical unit at this address */
        const struct scsi_cmd *cmd;
        const uint8_t *cdb;   /* cmd->cdb, at least scsi_cdb_length(opcode) bytes */
        struct scsi_result *r;
};

/* Completion helpers: each sets r->action = SCSI_DONE. */
void scsi_ctx_good(struct scsi_ctx *c);
void scsi_ctx_sense(struct scsi_ctx *c, uint8_t key, uint16_t asc_ascq);
/* ILLEGAL REQUEST, INVALID FIELD IN CDB, pointing at CDB byte/bit (bit -1: none). */
void scsi_ctx_bad_cdb(struct scsi_ctx *c, uint16_t byte, int bit);
/* ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE. */
void scsi_ctx_bad_opcode(struct scsi_ctx *c);
void scsi_ctx_bad_param(struct scsi_ctx *c, uint16_t byte, int bit);
/* GOOD with `len` bytes built in cmd->data_in, truncated to the allocation
 * length and the initiator's buffer. */
void scsi_ctx_data(struct scsi_ctx *c, size_t len, uint32_t alloc_len);
/* Zeroed response buffer of SCSI_DATA_IN_MAX bytes. */
uint8_t *scsi_ctx_buf(struct scsi_ctx *c, size_t len);
/* Asks for the data-out parameter list unless it has been supplied;
 * returns true when c->cmd->param holds `len` bytes. */
bool scsi_ctx_param(struct scsi_ctx *c, uint32_t len);

/* Command handlers (inquiry.c, mode.c, block.c, target.c). */
void scsi_inquiry(struct scsi_ctx *c);
void scsi_mode_sense(struct scsi_ctx *c);
void scsi_mode_select(struct scsi_ctx *c);
void scsi_read_write(struct scsi_ctx *c);
void scsi_verify(struct scsi_ctx *c);
void scsi_synchronize_cache(struct scsi_ctx *c);
void scsi_unmap(struct scsi_ctx *c);
void scsi_write_same(struct scsi_ctx *c);

/* Checks lba + blocks against the capacity; on failure completes c with
 * LBA OUT OF RANGE and returns false. */
bool scsi_ctx_check_range(struct scsi_ctx *c, uint64_t lba, uint64_t blocks);
/* Refuses writes to a read-only LUN with DATA PROTECT, WRITE PROTECTED. */
bool scsi_ctx_check_writable(struct scsi_ctx *c);

/* Space-padded ASCII copy of a NUL-terminated string into a fixed field. */
void scsi_put_ascii(uint8_t *dst, size_t width, const char *src);
