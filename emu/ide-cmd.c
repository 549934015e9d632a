// SPDX-License-Identifier: MIT
/* Command execution on an IDE channel: ata_decode() says what to do, this
 * file does it. PIO follows the data-in and data-out protocols of ATA/ATAPI-7
 * volume 2 (chapter 11: one INTRQ per DRQ block; data-in raises it when a
 * block is ready, data-out after each block but the first, and at the
 * end); the backend moves up to IDE_BUF_SECTORS at a time. All called
 * with the channel lock held. */
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "ide-internal.h"

#define STAT_READY (ATA_STAT_DRDY | ATA_STAT_DSC)

static struct ide_drive *cur(struct ide_channel *ch) {
        return &ch->drive[ch->cur];
}

void ide_command_done(struct ide_channel *ch) {
        if (cur(ch)->atapi && ch->tf.command == ATA_CMD_PACKET)
                return ide_atapi_end(ch, false); /* a DMA transfer ended */
        ch->phase = IDE_IDLE;
        cur(ch)->status = STAT_READY;
        cur(ch)->error = 0;
        ide_raise_irq(ch);
}

void ide_command_error(struct ide_channel *ch, uint8_t error) {
        if (cur(ch)->atapi && ch->tf.command == ATA_CMD_PACKET)
                return ide_atapi_io_failed(ch, error);
        ch->phase = IDE_IDLE;
        cur(ch)->status = STAT_READY | ATA_STAT_ERR;
        cur(ch)->error = error;
        if (error & ATA_ERR_ABRT)
                IDE_STAT_ADD(ch->ctrl, aborted, 1);
        ide_raise_irq(ch);
}

/* The address of the failing sector goes back in the LBA registers
 * (ATA-7 vol. 1, error outputs of READ/WRITE SECTORS (EXT)). */
static void put_error_lba(struct ide_channel *ch) {
        struct ata_taskfile *t = &ch->tf;
        uint64_t lba = ch->lba_next;
        if (ch->cmd.lba48) {
                t->lbal = (uint8_t)lba, t->lbam = (uint8_t)(lba >> 8), t->lbah = (uint8_t)(lba >> 16);
                t->hob_lbal = (uint8_t)(lba >> 24), t->hob_lbam = (uint8_t)(lba >> 32);
                t->hob_lbah = (uint8_t)(lba >> 40);
        } else if (t->device & ATA_DEV_LBA) {
                t->lbal = (uint8_t)lba, t->lbam = (uint8_t)(lba >> 8), t->lbah = (uint8_t)(lba >> 16);
                t->device = (uint8_t)((t->device & 0xf0u) | ((lba >> 24) & 0x0fu));
        }
}

/* A backend failure: UNC for a medium error on a read (the guest's error
 * handling retries or reports the sector), ABRT otherwise. */
static void io_error(struct ide_channel *ch, int res, bool write) {
        IDE_STAT_ADD(ch->ctrl, io_errors, 1);
        put_error_lba(ch);
        bool medium = res == -EIO || res == -EBADMSG || res == -ENODATA || res == -EILSEQ || res == -EUCLEAN;
        ide_command_error(ch, !write && medium ? ATA_ERR_UNC : ATA_ERR_ABRT);
}

void ide_submit(struct ide_channel *ch, enum disk_op_kind kind, uint32_t sectors) {
        ch->chunk = sectors;
        ch->iov[0] = (struct iovec){ ch->buf, (size_t)sectors * ATA_SECTOR_SIZE };
        ch->req = (struct ide_request){ .kind = kind, .disk = cur(ch)->disk,
                                        .offset = kind == DISK_FLUSH ? 0 : ch->lba_next * ATA_SECTOR_SIZE,
                                        .len = (uint64_t)sectors * ATA_SECTOR_SIZE,
                                        .iov = kind == DISK_FLUSH ? NULL : ch->iov,
                                        .iovcnt = kind == DISK_FLUSH ? 0 : 1, .fua = ch->cmd.fua };
        cur(ch)->status = ATA_STAT_BSY | STAT_READY;
        ide_want_io(ch);
}

/* A restored channel that wanted its transfer when it was saved (emu/state.h):
 * the same request again, from its phase. */
void ide_want_again(struct ide_channel *ch) {
        switch (ch->phase) {
        case IDE_PIO_IN:
        case IDE_ATAPI_IN:
                return ide_submit(ch, DISK_READ, ch->chunk);
        case IDE_PIO_OUT:
                return ide_submit(ch, DISK_WRITE, ch->chunk);
        case IDE_FLUSH:
                return ide_submit(ch, DISK_FLUSH, 0);
        case IDE_DMA:
                return ide_dma_begin(ch);
        case IDE_IDLE:
        case IDE_ATAPI_CDB:
                return;
        }
}

static void read_chunk(struct ide_channel *ch) {
        ide_submit(ch, DISK_READ, MIN(ch->left, IDE_BUF_SECTORS));
}

/* The next DRQ block of data-out: at most `block` sectors, inside the chunk. */
static void out_block(struct ide_channel *ch, bool irq) {
        ch->drq_end = MIN(ch->pos + (uint32_t)ch->cmd.block * ATA_SECTOR_SIZE, ch->chunk * ATA_SECTOR_SIZE);
        cur(ch)->status = STAT_READY | ATA_STAT_DRQ;
        if (irq)
                ide_raise_irq(ch);
}

static void start_out_chunk(struct ide_channel *ch, bool irq) {
        ch->chunk = MIN(ch->left, IDE_BUF_SECTORS);
        ch->pos = 0;
        out_block(ch, irq);
}

/* Data-in: the buffer holds `fill` bytes; present the next block. */
static void in_block(struct ide_channel *ch) {
        ch->drq_end = MIN(ch->pos + (uint32_t)ch->cmd.block * ATA_SECTOR_SIZE, ch->fill);
        cur(ch)->status = STAT_READY | ATA_STAT_DRQ;
        ide_raise_irq(ch);
}

void ide_pio_in_buffer(struct ide_channel *ch, uint32_t bytes) {
        ch->phase = IDE_PIO_IN;
        ch->cmd.block = 1;
        ch->left = 0;
        ch->pos = 0;
        ch->fill = bytes;
        in_block(ch);
}

static void identify(struct ide_channel *ch) {
        uint16_t id[ATA_IDENTIFY_WORDS];
        ata_identify(&cur(ch)->id, &cur(ch)->set, id);
        for (unsigned i = 0; i < ATA_IDENTIFY_WORDS; i++) {
                ch->buf[2 * i] = (uint8_t)id[i];
                ch->buf[2 * i + 1] = (uint8_t)(id[i] >> 8);
        }
        ide_pio_in_buffer(ch, ATA_SECTOR_SIZE);
}

/* EXECUTE DEVICE DIAGNOSTIC (ATA-7 vol. 1, 6.14): both devices, the
 * signature and code 01h (device 0 passed, device 1 passed or absent),
 * device 0 selected; device 0 interrupts. */
static void diagnose(struct ide_channel *ch) {
        ch->tf = (struct ata_taskfile){ .nsect = 1, .lbal = 1, .device = 0, .command = ATA_CMD_EXECUTE_DIAGNOSTIC };
        for (unsigned d = 0; d < 2; d++) {
                ch->drive[d].status = STAT_READY;
                ch->drive[d].error = 0x01;
        }
        ch->cur = ch->drive[0].present ? 0 : 1;
        ch->phase = IDE_IDLE;
        ch->sig_fresh = true;
        ide_raise_irq(ch);
}

static void execute(struct ide_channel *ch) {
        struct ata_cmd *c = &ch->cmd;
        switch (c->action) {
        case ATA_DONE:
                if (c->set_nsect)
                        ch->tf.nsect = c->nsect;
                if (c->error)
                        ide_command_error(ch, c->error);
                else
                        ide_command_done(ch);
                return;
        case ATA_IDENTIFY:
                return identify(ch);
        case ATA_FLUSH:
                ch->phase = IDE_FLUSH;
                return ide_submit(ch, DISK_FLUSH, 0);
        case ATA_DIAGNOSE:
                return diagnose(ch);
        case ATA_READ:
        case ATA_WRITE:
                break;
        }
        ch->lba_next = c->lba;
        ch->left = c->count;
        if (c->proto == ATA_PROTO_DMA) {
                ch->phase = IDE_DMA;
                return ide_dma_command(ch);
        }
        if (c->action == ATA_READ) {
                ch->phase = IDE_PIO_IN;
                return read_chunk(ch);
        }
        ch->phase = IDE_PIO_OUT;
        start_out_chunk(ch, false); /* the first data-out block has no INTRQ */
}

void ide_command(struct ide_channel *ch, uint8_t code) {
        IDE_STAT_ADD(ch->ctrl, commands, 1);
        ch->tf.command = code;
        ide_clear_irq(ch); /* writing the Command register clears INTRQ */
        if (code == ATA_CMD_EXECUTE_DIAGNOSTIC)
                return diagnose(ch); /* executed whatever DEV says */
        unsigned sel = (ch->tf.device & ATA_DEV_DEV) ? 1 : 0;
        if (!ch->drive[sel].present) {
                IDE_STAT_ADD(ch->ctrl, ignored_writes, 1); /* nobody there to run it */
                return;
        }
        /* A new command ends a data transfer the host abandoned, on
         * whichever device of the channel ran it. */
        if (ch->phase != IDE_IDLE)
                cur(ch)->status = STAT_READY;
        ch->phase = IDE_IDLE;
        ch->cur = sel;
        ch->sig_fresh = false;
        if (cur(ch)->atapi)
                return ide_atapi_command(ch, code);
        ata_decode(&cur(ch)->set, &ch->tf, &ch->cmd);
        execute(ch);
}

/* ---- the data port ---- */

static bool drq(struct ide_channel *ch, enum ide_phase phase) {
        return ch->phase == phase && !ch->io_busy && !ch->in_reset && (cur(ch)->status & ATA_STAT_DRQ);
}

static void in_block_done(struct ide_channel *ch) {
        if (ch->pos < ch->fill)
                return in_block(ch);
        if (ch->left > 0)
                return read_chunk(ch);
        /* The last block: no INTRQ at the end of data-in. */
        ch->phase = IDE_IDLE;
        cur(ch)->status = STAT_READY;
}

uint32_t ide_data_read(struct ide_channel *ch, unsigned len) {
        if (!(drq(ch, IDE_PIO_IN) || drq(ch, IDE_ATAPI_IN)) || len == 0 || len > 4) {
                IDE_STAT_ADD(ch->ctrl, ignored_writes, 1);
                return 0xffffffffu;
        }
        uint32_t v = 0xffffffffu, n = MIN((uint32_t)len, ch->drq_end - ch->pos);
        memcpy(&v, ch->buf + ch->pos, n);
        ch->pos += n;
        IDE_STAT_ADD(ch->ctrl, pio_bytes, n);
        if (ch->pos >= ch->drq_end) {
                if (ch->phase == IDE_ATAPI_IN)
                        ide_atapi_block_done(ch);
                else
                        in_block_done(ch);
        }
        return v;
}

void ide_data_write(struct ide_channel *ch, unsigned len, uint32_t v) {
        if (!(drq(ch, IDE_PIO_OUT) || drq(ch, IDE_ATAPI_CDB)) || len == 0 || len > 4) {
                IDE_STAT_ADD(ch->ctrl, ignored_writes, 1);
                return;
        }
        uint32_t n = MIN((uint32_t)len, ch->drq_end - ch->pos);
        memcpy(ch->buf + ch->pos, &v, n);
        ch->pos += n;
        IDE_STAT_ADD(ch->ctrl, pio_bytes, n);
        if (ch->pos < ch->drq_end)
                return;
        if (ch->phase == IDE_ATAPI_CDB)
                return ide_atapi_packet(ch);
        if (ch->pos < ch->chunk * ATA_SECTOR_SIZE)
                return out_block(ch, true);
        ide_submit(ch, DISK_WRITE, ch->chunk); /* the chunk is complete: write it */
}

/* ---- completions (the service thread) ---- */

static void read_done(struct ide_channel *ch, int res) {
        if (res < 0 || (uint64_t)res != (uint64_t)ch->chunk * ATA_SECTOR_SIZE)
                return io_error(ch, res < 0 ? res : -EIO, false);
        ch->lba_next += ch->chunk;
        ch->left -= ch->chunk;
        ch->fill = ch->chunk * ATA_SECTOR_SIZE;
        ch->pos = 0;
        in_block(ch);
}

static void write_done(struct ide_channel *ch, int res) {
        if (res < 0 || (uint64_t)res != (uint64_t)ch->chunk * ATA_SECTOR_SIZE)
                return io_error(ch, res < 0 ? res : -EIO, true);
        ch->lba_next += ch->chunk;
        ch->left -= ch->chunk;
        if (ch->left == 0)
                return ide_command_done(ch);
        start_out_chunk(ch, true);
}

void ide_complete(struct ide_controller *c, unsigned channel, int res) {
        if (channel >= IDE_CHANNELS)
                return;
        struct ide_channel *ch = &c->ch[channel];
        pthread_mutex_lock(&ch->lock);
        bool was_busy = ch->io_busy;
        ch->io_busy = ch->io_ready = false;
        if (!was_busy) {
                /* not ours to complete */
        } else if (ch->in_reset) {
                ide_reset_io_done(ch);
        } else if (ch->phase == IDE_PIO_IN) {
                read_done(ch, res);
        } else if (ch->phase == IDE_ATAPI_IN) {
                ide_atapi_read_done(ch, res);
        } else if (ch->phase == IDE_PIO_OUT) {
                write_done(ch, res);
        } else if (ch->phase == IDE_DMA) {
                ide_dma_complete(ch, res);
        } else if (ch->phase == IDE_FLUSH) {
                if (res < 0)
                        io_error(ch, res, true);
                else
                        ide_command_done(ch);
        }
        pthread_mutex_unlock(&ch->lock);
}
