// SPDX-License-Identifier: MIT
/* INQUIRY: standard data (SPC-4 6.6.2) and the VPD pages Linux reads during
 * discovery (fact sheet §6.8 step 3): 00h, 80h, 83h, B0h, B1h, B2h. Page 89h
 * (ATA information) is not listed in page 00h, so Linux never asks for it.
 * Because storvsc overwrites INQUIRY statuses with GOOD (fact sheet §6.5),
 * every answer that matters is data, never an empty transfer. */
#include <string.h>

#include "scsi-internal.h"

#define PDT_DIRECT_ACCESS 0x00u
#define PQ3_NO_LUN 0x7Fu    /* peripheral qualifier 3, device type 1Fh */
#define STD_INQUIRY_LEN 96u /* with version descriptors */
#define NO_LUN_INQUIRY_LEN 36u
#define VERSION_SPC4 0x06u  /* newer kernels probe more for SPC-5 (§6.8) */
#define RESPONSE_FORMAT_2 0x02u
#define CMDQUE 0x02u

/* Version descriptors (SPC-4 Table 29, "no version claimed" values). */
#define VD_SAM5 0x00A0u
#define VD_SPC4 0x0460u
#define VD_SBC3 0x04C0u

#define VPD_SUPPORTED 0x00u
#define VPD_SERIAL 0x80u
#define VPD_DEVICE_ID 0x83u
#define VPD_BLOCK_LIMITS 0xB0u
#define VPD_BLOCK_CHARACTERISTICS 0xB1u
#define VPD_LB_PROVISIONING 0xB2u

static void std_inquiry(struct scsi_ctx *c, uint16_t alloc) {
        uint8_t *b = scsi_ctx_buf(c, STD_INQUIRY_LEN);
        b[2] = VERSION_SPC4;
        b[3] = RESPONSE_FORMAT_2;
        if (!c->lun) {
                /* PQ=3/PDT=1Fh: nothing here, but the target exists */
                b[0] = PQ3_NO_LUN;
                b[4] = NO_LUN_INQUIRY_LEN - 5;
                scsi_ctx_data(c, NO_LUN_INQUIRY_LEN, alloc);
                return;
        }
        const struct scsi_lun_config *cfg = &c->lun->cfg;
        b[0] = PDT_DIRECT_ACCESS;
        b[4] = STD_INQUIRY_LEN - 5;
        b[7] = CMDQUE;
        scsi_put_ascii(b + 8, 8, cfg->vendor);
        scsi_put_ascii(b + 16, 16, cfg->product);
        scsi_put_ascii(b + 32, 4, cfg->revision);
        put_be16(b + 58, VD_SAM5);
        put_be16(b + 60, VD_SPC4);
        put_be16(b + 62, VD_SBC3);
        scsi_ctx_data(c, STD_INQUIRY_LEN, alloc);
}

/* Writes the page header; returns the page buffer. */
static uint8_t *vpd_begin(struct scsi_ctx *c, uint8_t page, size_t total) {
        uint8_t *b = scsi_ctx_buf(c, total);
        b[0] = c->lun ? PDT_DIRECT_ACCESS : PQ3_NO_LUN;
        b[1] = page;
        put_be16(b + 2, (uint16_t)(total - 4));
        return b;
}

static size_t vpd_supported(struct scsi_ctx *c) {
        static const uint8_t pages[] = { VPD_SUPPORTED, VPD_SERIAL, VPD_DEVICE_ID, VPD_BLOCK_LIMITS,
                                         VPD_BLOCK_CHARACTERISTICS, VPD_LB_PROVISIONING };
        size_t n = 1;
        if (c->lun)
                n = c->lun->cfg.discard ? sizeof pages : sizeof pages - 1;
        uint8_t *b = vpd_begin(c, VPD_SUPPORTED, 4 + n);
        memcpy(b + 4, pages, n);
        return 4 + n;
}

static size_t vpd_serial(struct scsi_ctx *c) {
        size_t n = strlen(c->lun->cfg.serial);
        uint8_t *b = vpd_begin(c, VPD_SERIAL, 4 + n);
        memcpy(b + 4, c->lun->cfg.serial, n);
        return 4 + n;
}

/* SPC-4 7.8.6: a T10 vendor id designator (vendor + serial, ASCII) and an
 * NAA 3h locally assigned designator (what Linux turns into wwn-0x...). */
static size_t vpd_device_id(struct scsi_ctx *c) {
        const struct scsi_lun_config *cfg = &c->lun->cfg;
        size_t serial_len = strlen(cfg->serial);
        size_t t10_len = 8 + serial_len;
        size_t total = 4 + (4 + t10_len) + (4 + 8);
        uint8_t *b = vpd_begin(c, VPD_DEVICE_ID, total);
        uint8_t *d = b + 4;
        d[0] = 0x02; /* code set ASCII */
        d[1] = 0x01; /* association: logical unit; designator type: T10 vendor id */
        d[3] = (uint8_t)t10_len;
        scsi_put_ascii(d + 4, 8, cfg->vendor);
        memcpy(d + 12, cfg->serial, serial_len);
        d += 4 + t10_len;
        d[0] = 0x01; /* code set binary */
        d[1] = 0x03; /* association: logical unit; designator type: NAA */
        d[3] = 8;
        put_be64(d + 4, (3ull << 60) | (cfg->naa_id & 0x0fffffffffffffffull));
        return total;
}

/* SBC-3 6.6.4 */
static size_t vpd_block_limits(struct scsi_ctx *c) {
        const struct scsi_lun_config *cfg = &c->lun->cfg;
        uint8_t *b = vpd_begin(c, VPD_BLOCK_LIMITS, 64);
        uint32_t per_phys = cfg->physical_block_size / cfg->block_size;
        b[4] = 0x01; /* WSNZ: WRITE SAME with NUMBER OF LOGICAL BLOCKS 0 is refused */
        put_be16(b + 6, (uint16_t)per_phys);
        put_be32(b + 8, cfg->max_transfer_bytes / cfg->block_size);
        put_be32(b + 12, cfg->opt_transfer_bytes / cfg->block_size);
        if (cfg->discard) {
                put_be32(b + 20, cfg->max_unmap_blocks);
                put_be32(b + 24, SCSI_MAX_UNMAP_DESCRIPTORS);
                put_be32(b + 28, per_phys);
                put_be32(b + 32, 0x80000000u); /* UGAVALID, alignment 0 */
        }
        put_be64(b + 36, cfg->max_write_same_blocks);
        return 64;
}

/* SBC-3 6.6.2 */
static size_t vpd_block_characteristics(struct scsi_ctx *c) {
        uint8_t *b = vpd_begin(c, VPD_BLOCK_CHARACTERISTICS, 64);
        put_be16(b + 4, c->lun->cfg.nonrotational ? 1 : 0);
        return 64;
}

/* SBC-3 6.6.3 (only listed when discard is supported, LBPME = 1) */
static size_t vpd_lb_provisioning(struct scsi_ctx *c) {
        uint8_t *b = vpd_begin(c, VPD_LB_PROVISIONING, 8);
        b[5] = 0x80u | 0x40u | 0x20u; /* LBPU, LBPWS, LBPWS10 */
        if (c->lun->cfg.discard_zeroes)
                b[5] |= 0x04u; /* LBPRZ */
        b[6] = 0x02;           /* provisioning type: thin */
        return 8;
}

static size_t vpd_page(struct scsi_ctx *c, uint8_t page) {
        if (page == VPD_SUPPORTED)
                return vpd_supported(c);
        if (!c->lun)
                return 0;
        switch (page) {
        case VPD_SERIAL:
                return vpd_serial(c);
        case VPD_DEVICE_ID:
                return vpd_device_id(c);
        case VPD_BLOCK_LIMITS:
                return vpd_block_limits(c);
        case VPD_BLOCK_CHARACTERISTICS:
                return vpd_block_characteristics(c);
        case VPD_LB_PROVISIONING:
                return c->lun->cfg.discard ? vpd_lb_provisioning(c) : 0;
        default:
                return 0;
        }
}

void scsi_inquiry(struct scsi_ctx *c) {
        uint8_t flags = c->cdb[1], page = c->cdb[2];
        uint16_t alloc = get_be16(c->cdb + 3);
        if (flags & 0x02u) { /* CMDDT (obsolete) */
                scsi_ctx_bad_cdb(c, 1, 1);
                return;
        }
        if (!(flags & 0x01u)) {
                if (page != 0) {
                        scsi_ctx_bad_cdb(c, 2, -1);
                        return;
                }
                std_inquiry(c, alloc);
                return;
        }
        size_t len = vpd_page(c, page);
        if (len == 0) {
                scsi_ctx_bad_cdb(c, 2, -1);
                return;
        }
        scsi_ctx_data(c, len, alloc);
}
