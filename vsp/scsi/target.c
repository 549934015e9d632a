// SPDX-License-Identifier: MIT
/* Command dispatch and the small target-level commands: TEST UNIT READY,
 * REQUEST SENSE, READ CAPACITY(10/16), REPORT LUNS, START STOP UNIT,
 * PREVENT ALLOW MEDIUM REMOVAL. */
#include <errno.h>
#include <string.h>

#include "scsi-internal.h"

#define DEFAULT_MAX_TRANSFER (1024u * 1024u)
#define DEFAULT_DISCARD_BYTES (2048ull * 1024u * 1024u) /* per UNMAP / WRITE SAME */
#define MAX_PHYSICAL_BLOCK 32768u                       /* RC16 exponent stays <= 6 */

void scsi_lun_config_init(struct scsi_lun_config *cfg, uint64_t n_blocks, uint32_t block_size) {
        memset(cfg, 0, sizeof *cfg);
        cfg->n_blocks = n_blocks;
        cfg->block_size = block_size;
        /* 512e: tell the guest to align to 4 KiB, the host file system's block */
        cfg->physical_block_size = block_size < 4096 ? 4096 : block_size;
        cfg->nonrotational = true;
        cfg->max_transfer_bytes = DEFAULT_MAX_TRANSFER;
        if (block_size) {
                cfg->max_unmap_blocks = (uint32_t)(DEFAULT_DISCARD_BYTES / block_size);
                cfg->max_write_same_blocks = cfg->max_unmap_blocks;
        }
        strcpy(cfg->vendor, "Msft");
        strcpy(cfg->product, "Virtual Disk");
        strcpy(cfg->revision, "1.0");
}

static bool ascii_field_ok(const char *s, size_t size) {
        const char *end = memchr(s, 0, size);
        if (!end)
                return false;
        for (; s < end; s++)
                if (*s < 0x20 || *s > 0x7e)
                        return false;
        return true;
}

int scsi_lun_init(struct scsi_lun *lun, const struct scsi_lun_config *cfg) {
        if (!lun || !cfg)
                return -EINVAL;
        if (cfg->block_size != 512 && cfg->block_size != 4096)
                return -EINVAL;
        if (cfg->n_blocks == 0 || cfg->n_blocks > UINT64_MAX / cfg->block_size)
                return -EINVAL;
        uint32_t phys = cfg->physical_block_size ? cfg->physical_block_size : cfg->block_size;
        if (phys < cfg->block_size || phys > MAX_PHYSICAL_BLOCK || (phys & (phys - 1)) != 0)
                return -EINVAL;
        if (cfg->max_transfer_bytes < cfg->block_size || cfg->max_write_same_blocks == 0)
                return -EINVAL;
        if (cfg->discard && cfg->max_unmap_blocks == 0)
                return -EINVAL;
        if (!ascii_field_ok(cfg->vendor, sizeof cfg->vendor) || !ascii_field_ok(cfg->product, sizeof cfg->product) ||
            !ascii_field_ok(cfg->revision, sizeof cfg->revision) || !ascii_field_ok(cfg->serial, sizeof cfg->serial))
                return -EINVAL;
        memset(lun, 0, sizeof *lun);
        lun->cfg = *cfg;
        lun->cfg.physical_block_size = phys;
        if (!cfg->discard)
                lun->cfg.discard_zeroes = false;
        lun->wce = 1;
        return 0;
}

bool scsi_lun_write_cache_enabled(const struct scsi_lun *lun) {
        return __atomic_load_n(&lun->wce, __ATOMIC_RELAXED) != 0;
}

void scsi_lun_set_attention(struct scsi_lun *lun, uint16_t asc_ascq) {
        __atomic_store_n(&lun->attention, asc_ascq, __ATOMIC_RELEASE);
}

uint16_t scsi_lun_attention(const struct scsi_lun *lun) {
        return __atomic_load_n(&lun->attention, __ATOMIC_ACQUIRE);
}

/* Takes the pending unit attention: exactly one command reports it, however
 * many channels race for it. */
static uint16_t take_attention(struct scsi_lun *lun) {
        return __atomic_exchange_n(&lun->attention, (uint16_t)0, __ATOMIC_ACQ_REL);
}

void scsi_lun_map_set(struct scsi_lun_map *m, unsigned lun, bool present) {
        if (lun >= SCSI_MAX_LUNS)
                return;
        uint64_t bit = 1ull << (lun % 64);
        if (present)
                m->bits[lun / 64] |= bit;
        else
                m->bits[lun / 64] &= ~bit;
}

bool scsi_lun_map_test(const struct scsi_lun_map *m, unsigned lun) {
        return lun < SCSI_MAX_LUNS && (m->bits[lun / 64] >> (lun % 64) & 1u);
}

void scsi_put_ascii(uint8_t *dst, size_t width, const char *src) {
        size_t n = strnlen(src, width);
        memcpy(dst, src, n);
        memset(dst + n, ' ', width - n);
}

/* ---- context helpers ---- */

void scsi_ctx_good(struct scsi_ctx *c) {
        c->r->action = SCSI_DONE;
        memset(&c->r->st, 0, sizeof c->r->st);
}

void scsi_ctx_sense(struct scsi_ctx *c, uint8_t key, uint16_t asc_ascq) {
        c->r->action = SCSI_DONE;
        scsi_set_sense(&c->r->st, key, asc_ascq);
}

void scsi_ctx_bad_cdb(struct scsi_ctx *c, uint16_t byte, int bit) {
        c->r->action = SCSI_DONE;
        scsi_set_sense_field(&c->r->st, SCSI_ASC_INVALID_FIELD_IN_CDB, true, byte, bit);
}

void scsi_ctx_bad_opcode(struct scsi_ctx *c) {
        c->r->action = SCSI_DONE;
        scsi_set_sense_field(&c->r->st, SCSI_ASC_INVALID_OPCODE, true, 0, 7);
}

void scsi_ctx_bad_param(struct scsi_ctx *c, uint16_t byte, int bit) {
        c->r->action = SCSI_DONE;
        scsi_set_sense_field(&c->r->st, SCSI_ASC_INVALID_FIELD_IN_PARAM_LIST, false, byte, bit);
}

uint8_t *scsi_ctx_buf(struct scsi_ctx *c, size_t len) {
        memset(c->cmd->data_in, 0, len < SCSI_DATA_IN_MAX ? len : SCSI_DATA_IN_MAX);
        return c->cmd->data_in;
}

void scsi_ctx_data(struct scsi_ctx *c, size_t len, uint32_t alloc_len) {
        scsi_ctx_good(c);
        size_t n = len;
        if (n > alloc_len)
                n = alloc_len;
        if (n > c->cmd->xfer_len)
                n = c->cmd->xfer_len;
        if (n > SCSI_DATA_IN_MAX)
                n = SCSI_DATA_IN_MAX;
        c->r->st.data_len = (uint32_t)n;
}

bool scsi_ctx_param(struct scsi_ctx *c, uint32_t len) {
        /* The initiator's buffer must hold the whole list the CDB announces. */
        if (len > c->cmd->xfer_len || len > SCSI_PARAM_MAX) {
                scsi_ctx_sense(c, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
                return false;
        }
        if (c->cmd->param) {
                if (c->cmd->param_len >= len)
                        return true;
                scsi_ctx_sense(c, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
                return false;
        }
        c->r->action = SCSI_NEED_PARAM;
        c->r->param_len = len;
        return false;
}

bool scsi_ctx_check_range(struct scsi_ctx *c, uint64_t lba, uint64_t blocks) {
        uint64_t cap = c->lun->cfg.n_blocks;
        if (lba > cap || blocks > cap - lba) {
                scsi_ctx_sense(c, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
                return false;
        }
        return true;
}

bool scsi_ctx_check_writable(struct scsi_ctx *c) {
        if (c->lun->cfg.read_only) {
                scsi_ctx_sense(c, SCSI_SENSE_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
                return false;
        }
        return true;
}

/* ---- small commands ---- */

static void cmd_good(struct scsi_ctx *c) {
        scsi_ctx_good(c);
}

/* SPC-4 6.39: we use autosense for every error, so the only pending sense
 * is a unit attention (reported and cleared here); for a missing LUN the
 * data is LOGICAL UNIT NOT SUPPORTED (GOOD). */
static void cmd_request_sense(struct scsi_ctx *c) {
        if (c->cdb[1] & 0x01u) { /* DESC: descriptor format not supported */
                scsi_ctx_bad_cdb(c, 1, 0);
                return;
        }
        struct scsi_status s;
        memset(&s, 0, sizeof s);
        uint16_t ua = c->lun ? take_attention(c->lun) : 0;
        if (ua)
                scsi_set_sense(&s, SCSI_SENSE_UNIT_ATTENTION, ua);
        else if (c->lun)
                scsi_set_sense(&s, SCSI_SENSE_NO_SENSE, SCSI_ASC_NO_ADDITIONAL_SENSE);
        else
                scsi_set_sense(&s, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LUN_NOT_SUPPORTED);
        memcpy(scsi_ctx_buf(c, SCSI_SENSE_LEN), s.sense, SCSI_SENSE_LEN);
        scsi_ctx_data(c, SCSI_SENSE_LEN, c->cdb[4]);
}

/* SBC-3 5.15: the last LBA, saturated at FFFFFFFFh so that the initiator
 * switches to READ CAPACITY(16). */
static void cmd_read_capacity_10(struct scsi_ctx *c) {
        uint8_t *b = scsi_ctx_buf(c, 8);
        uint64_t last = c->lun->cfg.n_blocks - 1;
        put_be32(b, last > UINT32_MAX ? UINT32_MAX : (uint32_t)last);
        put_be32(b + 4, c->lun->cfg.block_size);
        scsi_ctx_data(c, 8, 8);
}

static unsigned log2_u32(uint32_t v) {
        unsigned n = 0;
        while (v > 1) {
                v >>= 1;
                n++;
        }
        return n;
}

/* SBC-3 5.16 */
static void cmd_read_capacity_16(struct scsi_ctx *c) {
        const struct scsi_lun_config *cfg = &c->lun->cfg;
        uint8_t *b = scsi_ctx_buf(c, 32);
        put_be64(b, cfg->n_blocks - 1);
        put_be32(b + 8, cfg->block_size);
        b[13] = (uint8_t)(log2_u32(cfg->physical_block_size / cfg->block_size) & 0x0fu);
        if (cfg->discard)
                b[14] = (uint8_t)(0x80u | (cfg->discard_zeroes ? 0x40u : 0u)); /* LBPME, LBPRZ */
        scsi_ctx_data(c, 32, get_be32(c->cdb + 10));
}

static void cmd_service_action_in(struct scsi_ctx *c) {
        if ((c->cdb[1] & 0x1fu) != SCSI_SAI_READ_CAPACITY_16) {
                scsi_ctx_bad_cdb(c, 1, 4);
                return;
        }
        cmd_read_capacity_16(c);
}

/* SPC-4 6.33: a target-level command, answered at any LUN address. */
static void cmd_report_luns(struct scsi_ctx *c) {
        uint8_t select = c->cdb[2];
        if (select > 0x02) {
                scsi_ctx_bad_cdb(c, 2, -1);
                return;
        }
        uint8_t *b = scsi_ctx_buf(c, 8 + 8 * SCSI_MAX_LUNS);
        uint32_t n = 0;
        /* select 01h asks for well-known LUNs only: we have none */
        for (unsigned lun = 0; select != 0x01 && c->cmd->luns && lun < SCSI_MAX_LUNS; lun++) {
                if (!scsi_lun_map_test(c->cmd->luns, lun))
                        continue;
                /* peripheral device addressing, bus 0 (SAM-5 4.7.7.2) */
                b[8 + 8 * n + 1] = (uint8_t)lun;
                n++;
        }
        put_be32(b, 8 * n);
        scsi_ctx_data(c, 8 + 8 * (size_t)n, get_be32(c->cdb + 6));
}

/* ---- dispatch ---- */

struct scsi_op_desc {
        uint8_t op;
        enum scsi_dir dir;
        bool no_lun_ok; /* answered even without a logical unit */
        void (*fn)(struct scsi_ctx *c);
};

static const struct scsi_op_desc scsi_ops[] = {
        { SCSI_OP_TEST_UNIT_READY, SCSI_DIR_NONE, false, cmd_good },
        { SCSI_OP_REQUEST_SENSE, SCSI_DIR_IN, true, cmd_request_sense },
        { SCSI_OP_READ_6, SCSI_DIR_IN, false, scsi_read_write },
        { SCSI_OP_WRITE_6, SCSI_DIR_OUT, false, scsi_read_write },
        { SCSI_OP_INQUIRY, SCSI_DIR_IN, true, scsi_inquiry },
        { SCSI_OP_MODE_SELECT_6, SCSI_DIR_OUT, false, scsi_mode_select },
        { SCSI_OP_MODE_SENSE_6, SCSI_DIR_IN, false, scsi_mode_sense },
        { SCSI_OP_START_STOP_UNIT, SCSI_DIR_NONE, false, cmd_good },
        { SCSI_OP_PREVENT_ALLOW_MEDIUM_REMOVAL, SCSI_DIR_NONE, false, cmd_good },
        { SCSI_OP_READ_CAPACITY_10, SCSI_DIR_IN, false, cmd_read_capacity_10 },
        { SCSI_OP_READ_10, SCSI_DIR_IN, false, scsi_read_write },
        { SCSI_OP_WRITE_10, SCSI_DIR_OUT, false, scsi_read_write },
        { SCSI_OP_VERIFY_10, SCSI_DIR_NONE, false, scsi_verify },
        { SCSI_OP_SYNCHRONIZE_CACHE_10, SCSI_DIR_NONE, false, scsi_synchronize_cache },
        { SCSI_OP_WRITE_SAME_10, SCSI_DIR_OUT, false, scsi_write_same },
        { SCSI_OP_UNMAP, SCSI_DIR_OUT, false, scsi_unmap },
        { SCSI_OP_MODE_SELECT_10, SCSI_DIR_OUT, false, scsi_mode_select },
        { SCSI_OP_MODE_SENSE_10, SCSI_DIR_IN, false, scsi_mode_sense },
        { SCSI_OP_READ_16, SCSI_DIR_IN, false, scsi_read_write },
        { SCSI_OP_WRITE_16, SCSI_DIR_OUT, false, scsi_read_write },
        { SCSI_OP_VERIFY_16, SCSI_DIR_NONE, false, scsi_verify },
        { SCSI_OP_SYNCHRONIZE_CACHE_16, SCSI_DIR_NONE, false, scsi_synchronize_cache },
        { SCSI_OP_WRITE_SAME_16, SCSI_DIR_OUT, false, scsi_write_same },
        { SCSI_OP_SERVICE_ACTION_IN_16, SCSI_DIR_IN, false, cmd_service_action_in },
        { SCSI_OP_REPORT_LUNS, SCSI_DIR_IN, true, cmd_report_luns },
        { SCSI_OP_READ_12, SCSI_DIR_IN, false, scsi_read_write },
        { SCSI_OP_WRITE_12, SCSI_DIR_OUT, false, scsi_read_write },
};

size_t scsi_cdb_length(uint8_t opcode) {
        switch (opcode >> 5) { /* group code, SPC-4 4.3.4.1 */
        case 0:
                return 6;
        case 1:
        case 2:
                return 10;
        case 4:
                return 16;
        case 5:
                return 12;
        default:
                return 0;
        }
}

static const struct scsi_op_desc *scsi_op_lookup(uint8_t op) {
        for (size_t i = 0; i < sizeof scsi_ops / sizeof scsi_ops[0]; i++)
                if (scsi_ops[i].op == op)
                        return &scsi_ops[i];
        return NULL;
}

int scsi_execute(struct scsi_lun *lun, const struct scsi_cmd *cmd, struct scsi_result *out) {
        if (!cmd || !cmd->cdb || !cmd->data_in || !out)
                return -EINVAL;
        memset(out, 0, sizeof *out);
        struct scsi_ctx c = { .lun = lun, .cmd = cmd, .cdb = cmd->cdb, .r = out };

        if (cmd->cdb_len == 0 || cmd->cdb_len > SCSI_CDB_MAX) {
                scsi_ctx_bad_cdb(&c, 0, -1);
                return 0;
        }
        const struct scsi_op_desc *d = scsi_op_lookup(cmd->cdb[0]);
        if (!d) {
                scsi_ctx_bad_opcode(&c);
                return 0;
        }
        out->dir = d->dir;
        size_t need = scsi_cdb_length(d->op);
        if (cmd->cdb_len < need) {
                scsi_ctx_bad_cdb(&c, (uint16_t)(cmd->cdb_len - 1), -1);
                return 0;
        }
        /* CONTROL byte: NACA = 1 is not supported (SAM-5 5.3.3) */
        if (cmd->cdb[need - 1] & 0x04u) {
                scsi_ctx_bad_cdb(&c, (uint16_t)(need - 1), 2);
                return 0;
        }
        if (!lun && !d->no_lun_ok) {
                scsi_ctx_sense(&c, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LUN_NOT_SUPPORTED);
                return 0;
        }
        /* SAM-5 5.14: a unit attention ends the next command, except the
         * three that an initiator sends to find out what changed. Linux's
         * storvsc rescans the disk on 2A/09 and requeues the command. */
        uint16_t ua = !lun || d->op == SCSI_OP_INQUIRY || d->op == SCSI_OP_REPORT_LUNS ||
                                      d->op == SCSI_OP_REQUEST_SENSE
                              ? 0
                              : take_attention(lun);
        if (ua) {
                scsi_ctx_sense(&c, SCSI_SENSE_UNIT_ATTENTION, ua);
                return 0;
        }
        d->fn(&c);
        return 0;
}
