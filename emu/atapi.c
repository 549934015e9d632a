// SPDX-License-Identifier: MIT
/* The DVD drive's MMC command set (see emu/atapi.h): dispatch, sense data
 * and unit attention (SPC-3 5.x), the SPC commands (TEST UNIT READY,
 * REQUEST SENSE, INQUIRY), the block commands (READ CAPACITY, READ(10),
 * READ(12)), the medium's mechanics (START STOP UNIT, PREVENT ALLOW MEDIUM
 * REMOVAL) and IDENTIFY PACKET DEVICE. The disc-structure commands are in
 * atapi-mmc.c. */
#include <errno.h>
#include <string.h>

#include "atapi-internal.h"
#include "common/macro.h"
#include "emu/ata.h"
#include "scsi/scsi.h"

void atapi_init(struct atapi_state *s, uint32_t n_blocks) {
        *s = (struct atapi_state){ .n_blocks = n_blocks };
}

void atapi_medium_changed(struct atapi_state *s, uint32_t n_blocks) {
        s->n_blocks = n_blocks;
        s->tray_open = false;
        s->attention = true;
        s->event = n_blocks ? ATAPI_EVENT_NEW_MEDIA : ATAPI_EVENT_MEDIA_REMOVAL;
}

bool atapi_medium_present(const struct atapi_state *s) {
        return s->n_blocks > 0 && !s->tray_open;
}

void atapi_set_sense(struct atapi_state *s, uint8_t key, uint16_t asc_ascq) {
        s->sense_key = key;
        s->sense_asc = asc_ascq;
}

uint8_t atapi_error_register(const struct atapi_state *s) {
        unsigned abrt = s->sense_key == SCSI_SENSE_ILLEGAL_REQUEST ? (unsigned)ATA_ERR_ABRT : 0u;
        return (uint8_t)((unsigned)s->sense_key << 4 | abrt);
}

/* ---- completions ---- */

void atapi_good(struct atapi_ctx *c) {
        c->r->action = ATAPI_DONE;
        c->r->check = false;
}

void atapi_fail(struct atapi_ctx *c, uint8_t key, uint16_t asc_ascq) {
        atapi_set_sense(c->s, key, asc_ascq);
        c->r->action = ATAPI_DONE;
        c->r->check = true;
}

void atapi_bad_field(struct atapi_ctx *c) {
        atapi_fail(c, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
}

void atapi_data(struct atapi_ctx *c, uint32_t len, uint32_t alloc) {
        len = MIN(MIN(len, alloc), ATAPI_REPLY_MAX);
        if (len == 0)
                return atapi_good(c);
        c->r->action = ATAPI_DATA_IN;
        c->r->len = len;
}

bool atapi_need_medium(struct atapi_ctx *c) {
        if (atapi_medium_present(c->s))
                return true;
        atapi_fail(c, SCSI_SENSE_NOT_READY,
                   c->s->tray_open ? MMC_ASC_NO_MEDIUM_TRAY_OPEN : MMC_ASC_NO_MEDIUM_TRAY_CLOSED);
        return false;
}

/* ---- SPC ---- */

/* Fixed-format sense data (SPC-3 4.5.3), 18 bytes; a pending unit
 * attention is reported (and cleared) before the last command's sense. */
static void request_sense(struct atapi_ctx *c) {
        struct atapi_state *s = c->s;
        uint8_t key = s->sense_key;
        uint16_t asc = s->sense_asc;
        if (s->attention) {
                key = SCSI_SENSE_UNIT_ATTENTION, asc = MMC_ASC_MEDIUM_MAY_HAVE_CHANGED;
                s->attention = false;
        }
        if (c->cdb[1] & 0x01u) /* DESC: descriptor format is not supported */
                return atapi_bad_field(c);
        c->reply[0] = 0x70;
        c->reply[2] = key;
        c->reply[7] = 10;
        c->reply[12] = (uint8_t)(asc >> 8);
        c->reply[13] = (uint8_t)asc;
        atapi_set_sense(s, SCSI_SENSE_NO_SENSE, 0); /* reported: cleared */
        atapi_data(c, SCSI_SENSE_LEN, c->cdb[4]);
}

static void put_ascii(uint8_t *p, const char *s, size_t n) {
        size_t l = strlen(s);
        for (size_t i = 0; i < n; i++)
                p[i] = i < l ? (uint8_t)s[i] : ' ';
}

/* Standard data (SPC-3 6.4.2): a removable CD/DVD device; VPD: only the
 * list of supported pages. */
static void inquiry(struct atapi_ctx *c) {
        uint32_t alloc = atapi_be16(c->cdb + 3);
        uint8_t *d = c->reply;
        d[0] = 0x05; /* peripheral device type: CD/DVD */
        if (c->cdb[1] & 0x01u) {
                if (c->cdb[2] != 0x00)
                        return atapi_bad_field(c);
                d[3] = 1; /* page 00h lists itself */
                return atapi_data(c, 5, alloc);
        }
        if (c->cdb[2] != 0)
                return atapi_bad_field(c);
        d[1] = 0x80; /* RMB */
        d[2] = 0x05; /* SPC-3 */
        d[3] = 0x02; /* response data format 2 */
        d[4] = 36 - 5;
        put_ascii(d + 8, "Msft", 8);
        put_ascii(d + 16, "Virtual DVD-ROM", 16);
        put_ascii(d + 32, "1.0", 4);
        atapi_data(c, 36, alloc);
}

/* ---- blocks ---- */

static void read_capacity(struct atapi_ctx *c) {
        if (!atapi_need_medium(c))
                return;
        atapi_put32(c->reply, c->s->n_blocks - 1);
        atapi_put32(c->reply + 4, ATAPI_BLOCK_SIZE);
        atapi_data(c, 8, 8);
}

static void read_blocks(struct atapi_ctx *c, uint32_t blocks) {
        uint32_t lba = atapi_be32(c->cdb + 2);
        if (!atapi_need_medium(c))
                return;
        if (lba >= c->s->n_blocks || blocks > c->s->n_blocks - lba)
                return atapi_fail(c, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
        if (blocks == 0)
                return atapi_good(c); /* no transfer (SBC: not an error) */
        c->r->action = ATAPI_READ;
        c->r->lba = lba;
        c->r->blocks = blocks;
}

/* ---- the medium's mechanics ---- */

/* START STOP UNIT (MMC-6 6.39): LoEj with Start clear ejects (unless the
 * guest locked it), with Start set loads; without LoEj, spinning up or
 * down changes nothing the guest sees. */
static void start_stop(struct atapi_ctx *c) {
        struct atapi_state *s = c->s;
        bool start = c->cdb[4] & 0x01u, loej = c->cdb[4] & 0x02u;
        if (!loej || (c->cdb[4] & 0xf0u))
                return atapi_good(c); /* power conditions: accepted, nothing moves */
        if (!start) {
                if (s->locked)
                        return atapi_fail(c, SCSI_SENSE_ILLEGAL_REQUEST, MMC_ASC_REMOVAL_PREVENTED);
                if (!s->tray_open && s->n_blocks)
                        s->event = ATAPI_EVENT_MEDIA_REMOVAL;
                s->tray_open = true;
                return atapi_good(c);
        }
        if (s->tray_open) {
                s->tray_open = false;
                if (s->n_blocks) {
                        s->event = ATAPI_EVENT_NEW_MEDIA;
                        s->attention = true;
                }
        }
        atapi_good(c);
}

static void prevent_allow(struct atapi_ctx *c) {
        c->s->locked = c->cdb[4] & 0x01u; /* bit 1 (persistent prevent) is a changer's */
        atapi_good(c);
}

/* Commands a pending unit attention does not stop (SPC-3 5.9.7; MMC-6
 * 4.1.6.1 for GET CONFIGURATION and GET EVENT STATUS NOTIFICATION). */
static bool ignores_attention(uint8_t op) {
        return op == SCSI_OP_INQUIRY || op == SCSI_OP_REQUEST_SENSE || op == MMC_OP_GET_CONFIGURATION ||
               op == MMC_OP_GET_EVENT_STATUS;
}

static bool known(uint8_t op) {
        static const uint8_t ops[] = {
                SCSI_OP_TEST_UNIT_READY,  SCSI_OP_REQUEST_SENSE,    SCSI_OP_INQUIRY,
                SCSI_OP_START_STOP_UNIT,  SCSI_OP_PREVENT_ALLOW_MEDIUM_REMOVAL, SCSI_OP_READ_CAPACITY_10,
                SCSI_OP_READ_10,          SCSI_OP_READ_12,          SCSI_OP_MODE_SENSE_10,
                MMC_OP_READ_TOC,          MMC_OP_GET_CONFIGURATION, MMC_OP_GET_EVENT_STATUS,
                MMC_OP_READ_DISC_INFO,    MMC_OP_SET_CD_SPEED,      MMC_OP_MECHANISM_STATUS,
        };
        for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
                if (ops[i] == op)
                        return true;
        return false;
}

static void dispatch(struct atapi_ctx *c) {
        const uint8_t *cdb = c->cdb;
        switch (cdb[0]) {
        case SCSI_OP_TEST_UNIT_READY:
                if (atapi_need_medium(c))
                        atapi_good(c);
                return;
        case SCSI_OP_REQUEST_SENSE:
                return request_sense(c);
        case SCSI_OP_INQUIRY:
                return inquiry(c);
        case SCSI_OP_START_STOP_UNIT:
                return start_stop(c);
        case SCSI_OP_PREVENT_ALLOW_MEDIUM_REMOVAL:
                return prevent_allow(c);
        case SCSI_OP_READ_CAPACITY_10:
                return read_capacity(c);
        case SCSI_OP_READ_10:
                return read_blocks(c, atapi_be16(cdb + 7));
        case SCSI_OP_READ_12:
                return read_blocks(c, atapi_be32(cdb + 6));
        case SCSI_OP_MODE_SENSE_10:
                return atapi_mode_sense(c);
        case MMC_OP_READ_TOC:
                return atapi_read_toc(c);
        case MMC_OP_GET_CONFIGURATION:
                return atapi_get_configuration(c);
        case MMC_OP_GET_EVENT_STATUS:
                return atapi_get_event_status(c);
        case MMC_OP_READ_DISC_INFO:
                return atapi_read_disc_info(c);
        case MMC_OP_MECHANISM_STATUS:
                return atapi_mechanism_status(c);
        default: /* SET CD SPEED: one speed, any request is fine */
                return atapi_good(c);
        }
}

int atapi_exec(struct atapi_state *s, const uint8_t cdb[ATAPI_CDB_LEN], uint8_t reply[ATAPI_REPLY_MAX],
               struct atapi_result *out) {
        if (!s || !cdb || !reply || !out)
                return -EINVAL;
        *out = (struct atapi_result){ .action = ATAPI_DONE };
        memset(reply, 0, ATAPI_REPLY_MAX);
        struct atapi_ctx c = { .s = s, .cdb = cdb, .reply = reply, .r = out };
        uint8_t op = cdb[0];
        if (op != SCSI_OP_REQUEST_SENSE)
                atapi_set_sense(s, SCSI_SENSE_NO_SENSE, 0); /* a new command: the old sense is gone */
        if (!known(op)) {
                atapi_fail(&c, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_OPCODE);
                return 0;
        }
        if (s->attention && !ignores_attention(op)) {
                s->attention = false; /* reported: cleared (SPC-3 5.9.7) */
                atapi_fail(&c, SCSI_SENSE_UNIT_ATTENTION, MMC_ASC_MEDIUM_MAY_HAVE_CHANGED);
                return 0;
        }
        dispatch(&c);
        return 0;
}

/* ---- IDENTIFY PACKET DEVICE ---- */

void atapi_identify(const struct ata_identity *who, uint8_t xfer, uint16_t id[256]) {
        memset(id, 0, 256 * sizeof *id);
        /* Word 0: ATAPI (15-14 = 10b), CD-ROM (12-8 = 05h), removable (7),
         * DRQ within 50 us of PACKET (6-5 = 10b), 12-byte packets (1-0). */
        id[0] = 0x85c0;
        ata_put_string(&id[10], who->serial, 10);
        ata_put_string(&id[23], who->firmware, 4);
        ata_put_string(&id[27], who->model, 20);
        id[49] = 0x0b00; /* IORDY (11), LBA (9), DMA (8) */
        id[53] = 0x0006; /* words 64-70 and 88 valid */
        id[63] = 0x0007;
        id[88] = 0x003f;
        if ((xfer & 0xf8u) == ATA_XFER_MWDMA)
                id[63] |= (uint16_t)(0x100u << (xfer & 7u));
        else if ((xfer & 0xf8u) == ATA_XFER_UDMA)
                id[88] |= (uint16_t)(0x100u << (xfer & 7u));
        id[64] = 0x0003; /* PIO 3 and 4 */
        id[65] = id[66] = id[67] = id[68] = 120;
        id[71] = 30, id[72] = 30; /* PACKET to bus release, SERVICE to BSY cleared: ns */
        id[80] = 0x00f0; /* ATA/ATAPI-4 to -7 */
        id[82] = 0x4214; /* NOP (14), DEVICE RESET (9), PACKET (4), removable media (2) */
        id[83] = 0x4000;
        id[84] = 0x4000;
        id[85] = 0x4214;
        id[86] = 0x0000;
        id[87] = 0x4000;
        id[93] = (uint16_t)(0x6000u | (who->device1 ? 0x0b00u : 0x000bu));
}
