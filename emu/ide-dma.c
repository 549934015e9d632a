// SPDX-License-Identifier: MIT
/* Bus-master IDE DMA (82371SB PIIX3 datasheet §2.7, SFF-8038i): the
 * BMIDE register block, and a DMA command's transfer. A command starts
 * moving data once both happened, in either order: the ATA DMA command was
 * written and the START bit was set. The PRD table is walked once
 * (emu/prd.c, at most BMDMA_MAX_PRD entries), each region mapped in guest
 * RAM, and the whole transfer handed to the backend as one request whose
 * buffers are guest memory itself. Completion is asynchronous: the service
 * thread ends the command, sets the BMIDE interrupt bit and raises INTRQ.
 * All with the channel lock held, except the register entry points. */
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "ide-internal.h"

static struct ide_drive *cur(struct ide_channel *ch) {
        return &ch->drive[ch->cur];
}

void ide_dma_reset(struct ide_channel *ch) {
        ch->bm_status &= (uint8_t)~BM_STS_ACTIVE;
}

/* The transfer cannot run (the table, the direction, the memory): the
 * BMIDE error bit, and the command ends with ABRT. Real hardware would stop
 * the DMA engine and leave the device waiting for the host's timeout; failing
 * at once gives the guest the same outcome sooner. */
static void dma_fail(struct ide_channel *ch) {
        IDE_STAT_ADD(ch->ctrl, dma_errors, 1);
        ch->bm_status = (uint8_t)((ch->bm_status & ~BM_STS_ACTIVE) | BM_STS_ERROR);
        ide_command_error(ch, ATA_ERR_ABRT);
}

/* Host views of the PRD regions; neighbouring regions that are contiguous
 * in the host mapping become one iovec. */
static int map_regions(struct ide_channel *ch, unsigned *iovcnt) {
        const struct ide_ops *ops = ch->ctrl->ops;
        unsigned n = 0;
        for (unsigned i = 0; i < ch->walk.n_seg; i++) {
                const struct bmdma_segment *s = &ch->walk.seg[i];
                if (s->len == 0)
                        continue;
                void *host;
                int r = ops->gm_map ? ops->gm_map(ch->ctrl->opaque, s->gpa, s->len, &host) : -EFAULT;
                if (r < 0)
                        return r;
                if (n > 0 && (uint8_t *)ch->iov[n - 1].iov_base + ch->iov[n - 1].iov_len == host)
                        ch->iov[n - 1].iov_len += s->len;
                else
                        ch->iov[n++] = (struct iovec){ host, s->len };
        }
        *iovcnt = n;
        return 0;
}

/* A PACKET command's immediate data (ide-atapi.c: action IDENTIFY), fill
 * bytes of buf: copied into the regions now, and the command ends. */
static void dma_immediate(struct ide_channel *ch, unsigned iovcnt) {
        const struct ide_ops *ops = ch->ctrl->ops;
        uint32_t off = 0;
        for (unsigned i = 0; i < iovcnt && off < ch->fill; i++) {
                size_t n = MIN(ch->iov[i].iov_len, (size_t)(ch->fill - off));
                memcpy(ch->iov[i].iov_base, ch->buf + off, n);
                if (ops->gm_dirty)
                        ops->gm_dirty(ch->ctrl->opaque, ch->iov[i].iov_base, n);
                off += (uint32_t)n;
        }
        IDE_STAT_ADD(ch->ctrl, dma_bytes, off);
        if (ch->walk.exact)
                ch->bm_status &= (uint8_t)~BM_STS_ACTIVE;
        ide_command_done(ch);
}

void ide_dma_begin(struct ide_channel *ch) {
        const struct ide_ops *ops = ch->ctrl->ops;
        bool immediate = ch->cmd.action == ATA_IDENTIFY;
        bool to_memory = ch->cmd.action == ATA_READ || immediate;
        /* The bus master's direction must match the command's. */
        if (to_memory != !!(ch->bm_cmd & BM_CMD_WRITE_MEM) || !ops->gm_read)
                return dma_fail(ch);
        uint64_t bytes = immediate ? ch->fill : (uint64_t)ch->cmd.count * ATA_SECTOR_SIZE;
        unsigned iovcnt;
        if (bmdma_prd_walk(ops->gm_read, ch->ctrl->opaque, ch->prd_table, bytes, &ch->walk) < 0 ||
            map_regions(ch, &iovcnt) < 0 || iovcnt == 0)
                return dma_fail(ch);
        if (immediate)
                return dma_immediate(ch, iovcnt);
        ch->dma_exact = ch->walk.exact;
        ch->chunk = ch->cmd.count;
        ch->req = (struct ide_request){ .kind = to_memory ? DISK_READ : DISK_WRITE, .disk = cur(ch)->disk,
                                        .offset = ch->lba_next * ATA_SECTOR_SIZE, .len = bytes, .iov = ch->iov,
                                        .iovcnt = iovcnt, .fua = ch->cmd.fua };
        ch->bm_status |= BM_STS_ACTIVE;
        cur(ch)->status = ATA_STAT_BSY | ATA_STAT_DRDY | ATA_STAT_DSC;
        ide_want_io(ch);
}

static bool bus_master_enabled(struct ide_channel *ch) {
        return atomic_load(&ch->ctrl->decode_bm);
}

void ide_dma_command(struct ide_channel *ch) {
        /* Waiting for START: BSY (the guest polls the BMIDE status, not this). */
        cur(ch)->status = ATA_STAT_BSY | ATA_STAT_DRDY | ATA_STAT_DSC;
        if ((ch->bm_cmd & BM_CMD_START) && bus_master_enabled(ch))
                ide_dma_begin(ch);
}

void ide_dma_complete(struct ide_channel *ch, int res) {
        uint64_t want = (uint64_t)ch->chunk * ATA_SECTOR_SIZE;
        const struct ide_ops *ops = ch->ctrl->ops;
        /* A read wrote guest RAM (all of it, or part of it if it failed)
         * before the guest can see the command end. */
        if (ch->req.kind == DISK_READ && ops->gm_dirty)
                for (unsigned i = 0; i < ch->req.iovcnt; i++)
                        ops->gm_dirty(ch->ctrl->opaque, ch->req.iov[i].iov_base, ch->req.iov[i].iov_len);
        if (res < 0 || (uint64_t)res != want) {
                IDE_STAT_ADD(ch->ctrl, io_errors, 1);
                ch->bm_status &= (uint8_t)~BM_STS_ACTIVE;
                bool medium = res == -EIO || res == -EBADMSG || res == -ENODATA;
                return ide_command_error(ch, ch->cmd.action == ATA_READ && medium ? ATA_ERR_UNC : ATA_ERR_ABRT);
        }
        IDE_STAT_ADD(ch->ctrl, dma_bytes, want);
        ch->lba_next += ch->chunk;
        ch->left = 0;
        /* §2.7.1: ACTIVE stays set when the table described more than the
         * device transferred; cleared when its EOT entry was used up. */
        if (ch->dma_exact)
                ch->bm_status &= (uint8_t)~BM_STS_ACTIVE;
        ide_command_done(ch);
}

/* ---- the BMIDE registers ---- */

static bool bm_decoded(struct ide_controller *c) {
        uint32_t base = atomic_load(&c->bm_base);
        return atomic_load(&c->decode_io) && base <= 0x10000u - 16u && base == atomic_load(&c->bm_registered);
}

static uint8_t bm_read_byte(struct ide_channel *ch, unsigned reg) {
        switch (reg) {
        case 0:
                return ch->bm_cmd;
        case 2:
                return ch->bm_status;
        case 4:
        case 5:
        case 6:
        case 7:
                return (uint8_t)(ch->prd_table >> (8 * (reg - 4)));
        default:
                return 0;
        }
}

static void bm_write_command(struct ide_channel *ch, uint8_t v) {
        uint8_t old = ch->bm_cmd;
        ch->bm_cmd = v & (BM_CMD_START | BM_CMD_WRITE_MEM);
        if (!(old & BM_CMD_START) && (v & BM_CMD_START)) {
                /* §2.7.1: START makes the bus master active; it moves data
                 * once the drive asks for it (a DMA command). */
                ch->bm_status |= BM_STS_ACTIVE;
                if (ch->phase == IDE_DMA && !ch->io_busy && !ch->in_reset && bus_master_enabled(ch))
                        ide_dma_begin(ch);
        } else if ((old & BM_CMD_START) && !(v & BM_CMD_START) && !ch->io_busy) {
                /* Stop: nothing in flight, so nothing is active any more. A
                 * transfer in flight cannot be recalled; it completes. */
                ch->bm_status &= (uint8_t)~BM_STS_ACTIVE;
        }
}

static void bm_write_byte(struct ide_channel *ch, unsigned reg, uint8_t v) {
        switch (reg) {
        case 0:
                return bm_write_command(ch, v);
        case 2:
                /* ERROR and INTR are write-one-to-clear, the DMA-capable
                 * bits read/write, ACTIVE and SIMPLEX read-only. */
                ch->bm_status = (uint8_t)((ch->bm_status & ~(v & (BM_STS_ERROR | BM_STS_INTR)) &
                                           ~(BM_STS_DMA0 | BM_STS_DMA1)) |
                                          (v & (BM_STS_DMA0 | BM_STS_DMA1)));
                return;
        case 4:
        case 5:
        case 6:
        case 7: {
                unsigned shift = 8 * (reg - 4);
                uint32_t mask = 0xffu << shift;
                ch->prd_table = ((ch->prd_table & ~mask) | ((uint32_t)v << shift)) & ~3u;
                return;
        }
        default:
                return;
        }
}

uint32_t ide_bm_read(struct ide_controller *c, unsigned offset, unsigned len) {
        if (!bm_decoded(c) || offset >= 16 || len == 0 || len > 4 || offset + len > 16)
                return 0xffffffffu;
        uint32_t v = 0;
        for (unsigned i = 0; i < len; i++) {
                struct ide_channel *ch = &c->ch[(offset + i) / 8];
                pthread_mutex_lock(&ch->lock);
                v |= (uint32_t)bm_read_byte(ch, (offset + i) % 8) << (8 * i);
                pthread_mutex_unlock(&ch->lock);
        }
        return v;
}

void ide_bm_write(struct ide_controller *c, unsigned offset, unsigned len, uint32_t value) {
        if (!bm_decoded(c) || offset >= 16 || len == 0 || len > 4 || offset + len > 16)
                return;
        for (unsigned i = 0; i < len; i++) {
                struct ide_channel *ch = &c->ch[(offset + i) / 8];
                pthread_mutex_lock(&ch->lock);
                bm_write_byte(ch, (offset + i) % 8, (uint8_t)(value >> (8 * i)));
                pthread_mutex_unlock(&ch->lock);
        }
}
