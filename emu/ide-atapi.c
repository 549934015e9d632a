// SPDX-License-Identifier: MIT
/* The DVD drive on an IDE channel: the PACKET feature set (ATA/ATAPI-7
 * vol. 1 6.x, vol. 2 11.8 "PACKET command protocol") around the pure MMC
 * command set of emu/atapi.c, and the host's disc changes.
 *
 * PACKET: DRQ with interrupt reason CoD (no INTRQ: IDENTIFY PACKET word 0
 * says DRQ within 50 us), the host writes the 12-byte CDB, atapi_exec()
 * says what it is. Data-in by PIO goes in DRQ blocks of at most the byte
 * count limit (LBA mid/high at PACKET, even, 0 taken as FFFEh), each with
 * its byte count in LBA mid/high, interrupt reason IO and INTRQ; by DMA
 * (features bit 0) through the bus master. Every command ends in the
 * status phase: interrupt reason CoD|IO, DRDY (| ERR with the sense key in
 * the error register), INTRQ. Disc reads go through the same backend
 * requests as the disk's (ide_submit, ide_dma_begin), a 2048-byte block
 * being four 512-byte sectors. All with the channel lock held, except the
 * public entry points. */
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "ide-internal.h"
#include "scsi/scsi.h"

#define STAT_READY (ATA_STAT_DRDY | ATA_STAT_DSC)
#define SECTORS_PER_BLOCK (ATAPI_BLOCK_SIZE / ATA_SECTOR_SIZE)
/* A PIO read's sectors left are counted in 32 bits: 2^30 - 1 blocks (2 TiB). */
#define ATAPI_PIO_MAX_SECTORS (UINT32_MAX & ~(SECTORS_PER_BLOCK - 1u))

static struct ide_drive *cur(struct ide_channel *ch) {
        return &ch->drive[ch->cur];
}

void ide_atapi_end(struct ide_channel *ch, bool check) {
        struct ide_drive *d = cur(ch);
        ch->phase = IDE_IDLE;
        ch->tf.nsect = ATAPI_IR_COD | ATAPI_IR_IO;
        d->status = (uint8_t)(STAT_READY | (check ? ATA_STAT_ERR : 0));
        d->error = check ? atapi_error_register(&d->at) : 0;
        ide_raise_irq(ch);
}

void ide_atapi_io_failed(struct ide_channel *ch, uint8_t ata_error) {
        IDE_STAT_ADD(ch->ctrl, io_errors, 1);
        if (ata_error & ATA_ERR_UNC)
                atapi_set_sense(&cur(ch)->at, SCSI_SENSE_MEDIUM_ERROR, SCSI_ASC_UNRECOVERED_READ_ERROR);
        else
                atapi_set_sense(&cur(ch)->at, SCSI_SENSE_ABORTED_COMMAND, SCSI_ASC_NO_ADDITIONAL_SENSE);
        ide_atapi_end(ch, true);
}

/* The next DRQ block of data-in: its byte count in LBA mid/high. */
static void in_block(struct ide_channel *ch) {
        uint32_t limit = ch->byte_limit & ~1u;
        if (limit == 0)
                limit = 0xfffe;
        uint32_t n = MIN(ch->fill - ch->pos, limit);
        ch->drq_end = ch->pos + n;
        ch->tf.lbam = (uint8_t)n;
        ch->tf.lbah = (uint8_t)(n >> 8);
        ch->tf.nsect = ATAPI_IR_IO;
        cur(ch)->status = STAT_READY | ATA_STAT_DRQ;
        ide_raise_irq(ch);
}

static void read_chunk(struct ide_channel *ch) {
        ide_submit(ch, DISK_READ, MIN(ch->left, IDE_BUF_SECTORS));
}

void ide_atapi_block_done(struct ide_channel *ch) {
        if (ch->pos < ch->fill)
                return in_block(ch);
        if (ch->left > 0)
                return read_chunk(ch);
        ide_atapi_end(ch, false);
}

void ide_atapi_read_done(struct ide_channel *ch, int res) {
        if (res < 0 || (uint64_t)res != (uint64_t)ch->chunk * ATA_SECTOR_SIZE) {
                bool medium = res == -EIO || res == -EBADMSG || res == -ENODATA || res >= 0;
                return ide_atapi_io_failed(ch, medium ? ATA_ERR_UNC : ATA_ERR_ABRT);
        }
        ch->lba_next += ch->chunk;
        ch->left -= ch->chunk;
        ch->fill = ch->chunk * ATA_SECTOR_SIZE;
        ch->pos = 0;
        in_block(ch);
}

static void start_read(struct ide_channel *ch, const struct atapi_result *r, bool dma) {
        uint64_t sectors = (uint64_t)r->blocks * SECTORS_PER_BLOCK;
        if (sectors > (dma ? BMDMA_MAX_BYTES / ATA_SECTOR_SIZE : ATAPI_PIO_MAX_SECTORS)) {
                /* Hard limits: one bus-master transfer, the sectors a PIO
                 * command counts (docs/THREAT_MODEL.md). */
                atapi_set_sense(&cur(ch)->at, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
                return ide_atapi_end(ch, true);
        }
        ch->lba_next = (uint64_t)r->lba * SECTORS_PER_BLOCK;
        ch->cmd = (struct ata_cmd){ .action = ATA_READ, .proto = dma ? ATA_PROTO_DMA : ATA_PROTO_PIO,
                                    .lba = ch->lba_next, .block = 1 };
        ch->left = (uint32_t)sectors;
        if (dma) {
                ch->cmd.count = (uint32_t)sectors;
                ch->phase = IDE_DMA;
                return ide_dma_command(ch);
        }
        ch->phase = IDE_ATAPI_IN;
        read_chunk(ch);
}

void ide_atapi_packet(struct ide_channel *ch) {
        struct ide_drive *d = cur(ch);
        uint8_t cdb[ATAPI_CDB_LEN];
        struct atapi_result r;
        bool dma = ch->cmd.proto == ATA_PROTO_DMA;
        memcpy(cdb, ch->buf, sizeof cdb);
        ch->pos = ch->fill = ch->drq_end = 0; /* the CDB is consumed */
        atapi_exec(&d->at, cdb, ch->buf, &r);
        switch (r.action) {
        case ATAPI_DONE:
                return ide_atapi_end(ch, r.check);
        case ATAPI_DATA_IN:
                ch->fill = r.len;
                ch->pos = 0;
                ch->left = 0;
                if (dma) {
                        /* Immediate data by DMA: action IDENTIFY marks a
                         * transfer out of buf (ide-dma.c). */
                        ch->cmd = (struct ata_cmd){ .action = ATA_IDENTIFY, .proto = ATA_PROTO_DMA };
                        ch->phase = IDE_DMA;
                        return ide_dma_command(ch);
                }
                ch->phase = IDE_ATAPI_IN;
                return in_block(ch);
        case ATAPI_READ:
                return start_read(ch, &r, dma);
        }
}

/* PACKET: DRQ for the CDB, interrupt reason CoD, no INTRQ. */
static void packet(struct ide_channel *ch) {
        ch->byte_limit = (uint16_t)(ch->tf.lbah << 8 | ch->tf.lbam);
        ch->cmd = (struct ata_cmd){ .action = ATA_DONE,
                                    .proto = (ch->tf.feature & ATAPI_FEAT_DMA) ? ATA_PROTO_DMA : ATA_PROTO_PIO };
        ch->phase = IDE_ATAPI_CDB;
        ch->pos = 0;
        ch->fill = 0;
        ch->drq_end = ATAPI_CDB_LEN;
        ch->tf.nsect = ATAPI_IR_COD;
        cur(ch)->status = STAT_READY | ATA_STAT_DRQ;
}

/* An ATA command a PACKET device does not run: aborted, with the signature
 * in the task file (ATA-7 vol. 1, 6.16: IDENTIFY DEVICE to a PACKET device). */
static void refuse(struct ide_channel *ch) {
        ch->tf.nsect = 1, ch->tf.lbal = 1;
        ch->tf.lbam = ATAPI_SIG_MID, ch->tf.lbah = ATAPI_SIG_HIGH;
        ch->phase = IDE_IDLE;
        cur(ch)->status = STAT_READY | ATA_STAT_ERR;
        cur(ch)->error = ATA_ERR_ABRT;
        IDE_STAT_ADD(ch->ctrl, aborted, 1);
        ide_raise_irq(ch);
}

/* The ATA commands of the PACKET feature set's mandatory list that change
 * settings or power modes: run by the ATA decoder as for a disk. */
static bool settings_command(uint8_t code) {
        return code == ATA_CMD_SET_FEATURES || code == ATA_CMD_CHECK_POWER_MODE ||
               code == ATA_CMD_CHECK_POWER_MODE_OLD || code == ATA_CMD_IDLE_IMMEDIATE ||
               code == ATA_CMD_IDLE_IMMEDIATE_OLD || code == ATA_CMD_STANDBY_IMMEDIATE ||
               code == ATA_CMD_STANDBY_IMMEDIATE_OLD || code == ATA_CMD_SLEEP || code == ATA_CMD_SLEEP_OLD;
}

void ide_atapi_command(struct ide_channel *ch, uint8_t code) {
        struct ide_drive *d = cur(ch);
        switch (code) {
        case ATA_CMD_PACKET:
                return packet(ch);
        case ATA_CMD_IDENTIFY_PACKET: {
                uint16_t id[ATA_IDENTIFY_WORDS];
                atapi_identify(&d->id, d->set.xfer_mode, id);
                for (unsigned i = 0; i < ATA_IDENTIFY_WORDS; i++) {
                        ch->buf[2 * i] = (uint8_t)id[i];
                        ch->buf[2 * i + 1] = (uint8_t)(id[i] >> 8);
                }
                return ide_pio_in_buffer(ch, ATA_SECTOR_SIZE);
        }
        case ATA_CMD_DEVICE_RESET:
                /* ATA-7 vol. 1 6.12: the signature, diagnostic code 01h, no INTRQ. */
                ch->tf.nsect = 1, ch->tf.lbal = 1;
                ch->tf.lbam = ATAPI_SIG_MID, ch->tf.lbah = ATAPI_SIG_HIGH;
                ch->phase = IDE_IDLE;
                d->status = STAT_READY;
                d->error = 0x01;
                return;
        default:
                break;
        }
        if (!settings_command(code))
                return refuse(ch);
        ata_decode(&d->set, &ch->tf, &ch->cmd);
        if (ch->cmd.set_nsect)
                ch->tf.nsect = ch->cmd.nsect;
        if (ch->cmd.error)
                return ide_command_error(ch, ch->cmd.error);
        ide_command_done(ch);
}

/* ---- the host's side ---- */

/* A disc: read-only, whole 2048-byte blocks through 512-byte sectors. */
static int disc_blocks(struct disk *disc, uint32_t *blocks) {
        struct disk_info info;
        if (!disc)
                return *blocks = 0, 0;
        disk_get_info(disc, &info);
        if (!info.read_only || info.block_size != ATA_SECTOR_SIZE)
                return -EINVAL;
        uint64_t n = info.size / ATAPI_BLOCK_SIZE;
        if (n == 0 || n > ATAPI_BLOCKS_MAX)
                return -EINVAL;
        *blocks = (uint32_t)n;
        return 0;
}

int ide_attach_dvd(struct ide_controller *c, unsigned slot, struct disk *disc, const struct ata_identity *id) {
        uint32_t blocks;
        if (slot >= IDE_DRIVES || !id)
                return -EINVAL;
        int r = disc_blocks(disc, &blocks);
        if (r < 0)
                return r;
        struct ide_drive *dr = &c->ch[slot / 2].drive[slot % 2];
        if (dr->present)
                return -EEXIST;
        *dr = (struct ide_drive){ .present = true, .atapi = true, .disk = disc ? disk_ref(disc) : NULL, .id = *id,
                                  .status = STAT_READY, .error = 0x01 };
        dr->id.device1 = slot % 2;
        ata_settings_init(&dr->set, (uint64_t)blocks * SECTORS_PER_BLOCK, true);
        atapi_init(&dr->at, blocks);
        c->ch[slot / 2].tf.nsect = 1;
        c->ch[slot / 2].tf.lbal = 1;
        c->ch[slot / 2].sig_fresh = true; /* the PACKET signature (ATA-7 vol. 1, 9.12) */
        return 0;
}

/* The drive's command that reads the disc, if one is in progress. */
static bool reading(const struct ide_channel *ch, unsigned d) {
        return ch->cur == d && ch->tf.command == ATA_CMD_PACKET &&
               (ch->phase == IDE_ATAPI_IN || (ch->phase == IDE_DMA && ch->cmd.action == ATA_READ));
}

static int change(struct ide_controller *c, unsigned slot, struct disk *disc) {
        uint32_t blocks;
        if (!c || slot >= IDE_DRIVES)
                return -EINVAL;
        int r = disc_blocks(disc, &blocks);
        if (r < 0)
                return r;
        struct ide_channel *ch = &c->ch[slot / 2];
        struct ide_drive *dr = &ch->drive[slot % 2];
        struct disk *old = NULL;
        pthread_mutex_lock(&ch->lock);
        if (!dr->present || !dr->atapi) {
                r = -ENODEV;
        } else if (ch->io_busy && ch->cur == slot % 2) {
                r = -EBUSY; /* a read of the old disc is in flight: it ends in milliseconds */
        } else {
                old = dr->disk;
                dr->disk = disc ? disk_ref(disc) : NULL;
                dr->set.n_sectors = (uint64_t)blocks * SECTORS_PER_BLOCK;
                atapi_medium_changed(&dr->at, blocks);
                if (reading(ch, slot % 2)) {
                        /* The rest of the transfer would come from another
                         * disc: the command ends with the change reported. */
                        dr->at.attention = false;
                        atapi_set_sense(&dr->at, SCSI_SENSE_UNIT_ATTENTION, MMC_ASC_MEDIUM_MAY_HAVE_CHANGED);
                        ch->bm_status &= (uint8_t)~BM_STS_ACTIVE;
                        ide_atapi_end(ch, true);
                }
        }
        pthread_mutex_unlock(&ch->lock);
        disk_unref(old);
        return r;
}

int ide_atapi_insert(struct ide_controller *c, unsigned slot, struct disk *disc) {
        return disc ? change(c, slot, disc) : -EINVAL;
}

int ide_atapi_eject(struct ide_controller *c, unsigned slot) {
        return change(c, slot, NULL);
}
