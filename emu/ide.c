// SPDX-License-Identifier: MIT
/* The IDE channels' register model: task file with the 48-bit HOB FIFOs,
 * status and alternate status, device selection, device control (nIEN,
 * SRST, HOB), INTRQ, and the controller's life cycle. Register semantics
 * from ATA/ATAPI-7 volume 2 (parallel transport) chapter 5 and volume 1
 * chapter 7; commands and data transfer are in ide-cmd.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "ide-internal.h"

int ide_new(const struct ide_ops *ops, void *opaque, struct ide_controller **out) {
        struct ide_controller *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->ops = ops;
        c->opaque = opaque;
        pthread_mutex_init(&c->stats_lock, NULL);
        for (unsigned i = 0; i < IDE_CHANNELS; i++) {
                struct ide_channel *ch = &c->ch[i];
                pthread_mutex_init(&ch->lock, NULL);
                ch->ctrl = c;
                ch->index = i;
                ch->tf.device = ATA_DEV_OBS;
                if (posix_memalign((void **)&ch->buf, 4096, IDE_BUF_BYTES) != 0) {
                        ide_free(c);
                        return -ENOMEM;
                }
                memset(ch->buf, 0, IDE_BUF_BYTES);
        }
        /* A BIOS leaves the function decoding everything (emu/piix.c). */
        ide_set_decode(c, true, true, true, true, 0);
        *out = c;
        return 0;
}

void ide_release_disks(struct ide_controller *c) {
        for (unsigned i = 0; i < IDE_CHANNELS; i++)
                for (unsigned d = 0; d < 2; d++) {
                        disk_unref(c->ch[i].drive[d].disk);
                        c->ch[i].drive[d].disk = NULL;
                }
}

void ide_free(struct ide_controller *c) {
        if (!c)
                return;
        ide_release_disks(c);
        for (unsigned i = 0; i < IDE_CHANNELS; i++) {
                free(c->ch[i].buf);
                pthread_mutex_destroy(&c->ch[i].lock);
        }
        pthread_mutex_destroy(&c->stats_lock);
        free(c);
}

int ide_attach(struct ide_controller *c, unsigned slot, struct disk *d, const struct ata_identity *id) {
        if (slot >= IDE_DRIVES || !d || !id)
                return -EINVAL;
        struct disk_info info;
        disk_get_info(d, &info);
        if (info.block_size != ATA_SECTOR_SIZE || info.size < ATA_SECTOR_SIZE)
                return -EINVAL;
        struct ide_drive *dr = &c->ch[slot / 2].drive[slot % 2];
        if (dr->present)
                return -EEXIST;
        dr->present = true;
        dr->disk = disk_ref(d);
        dr->id = *id;
        dr->id.device1 = slot % 2;
        ata_settings_init(&dr->set, info.size / ATA_SECTOR_SIZE, info.read_only);
        dr->status = ATA_STAT_DRDY | ATA_STAT_DSC;
        dr->error = 0x01; /* power-on diagnostic code: passed */
        /* The power-on signature of an ATA device (ATA-7 vol. 1, 9.12). */
        c->ch[slot / 2].tf.nsect = 1;
        c->ch[slot / 2].tf.lbal = 1;
        c->ch[slot / 2].sig_fresh = true;
        return 0;
}

bool ide_channel_has_drives(const struct ide_controller *c, unsigned channel) {
        return channel < IDE_CHANNELS && (c->ch[channel].drive[0].present || c->ch[channel].drive[1].present);
}

/* Where the bus-master ports must be: nowhere without I/O space enable
 * or with BAR4 outside the port space (a BAR being sized). */
static uint32_t bm_target(struct ide_controller *c) {
        uint32_t base = atomic_load(&c->bm_base);
        return atomic_load(&c->decode_io) && base <= 0x10000u - 16u ? base : IDE_BM_OFF;
}

static void bm_follow(struct ide_controller *c) {
        if (!c->bm_move)
                return;
        uint32_t to = bm_target(c);
        c->bm_move(c->bm_move_opaque, to);
        atomic_store(&c->bm_registered, to);
}

void ide_set_decode(struct ide_controller *c, bool io, bool bus_master, bool channel0, bool channel1,
                    uint32_t bm_base) {
        atomic_store(&c->decode_io, io);
        atomic_store(&c->decode_bm, bus_master);
        atomic_store(&c->decode_ch[0], channel0);
        atomic_store(&c->decode_ch[1], channel1);
        atomic_store(&c->bm_base, bm_base);
        bm_follow(c);
}

void ide_bm_claimed(struct ide_controller *c, uint32_t bm_base) {
        atomic_store(&c->bm_registered, bm_base);
}

void ide_set_bm_mover(struct ide_controller *c, ide_bm_mover move, void *opaque) {
        c->bm_move = move;
        c->bm_move_opaque = opaque;
        bm_follow(c);
}

void ide_get_stats(struct ide_controller *c, struct ide_stats *out) {
        pthread_mutex_lock(&c->stats_lock);
        *out = c->stats;
        pthread_mutex_unlock(&c->stats_lock);
}

/* ---- INTRQ ---- */

static void update_irq(struct ide_channel *ch) {
        bool level = ch->intrq && !(ch->devctl & ATA_CTL_NIEN);
        if (level != ch->irq_level) {
                ch->irq_level = level;
                if (ch->ctrl->ops->irq)
                        ch->ctrl->ops->irq(ch->ctrl->opaque, ch->index, level);
        }
}

void ide_raise_irq(struct ide_channel *ch) {
        ch->intrq = true;
        ch->bm_status |= BM_STS_INTR; /* the BMIDE status latches the interrupt (§2.7.1) */
        update_irq(ch);
}

void ide_clear_irq(struct ide_channel *ch) {
        ch->intrq = false;
        update_irq(ch);
}

/* ---- registers ---- */

static struct ide_drive *selected(struct ide_channel *ch) {
        return &ch->drive[(ch->tf.device & ATA_DEV_DEV) ? 1 : 0];
}

static bool busy(const struct ide_channel *ch) {
        return ch->in_reset || ch->io_busy;
}

/* Status of the selected device: a missing device 1 reads 00h when device
 * 0 exists (ATA-7 vol. 2, 5.2.x: device 0 responds for it), so Linux's
 * classification sees no device there. */
static uint8_t status_of(struct ide_channel *ch) {
        struct ide_drive *d = selected(ch);
        if (!d->present)
                return 0;
        if (ch->in_reset)
                return ATA_STAT_BSY;
        return d->status;
}

static uint8_t tf_read(struct ide_channel *ch, unsigned off) {
        bool hob = ch->devctl & ATA_CTL_HOB;
        const struct ata_taskfile *t = &ch->tf;
        switch (off) {
        case 1:
                return selected(ch)->present ? selected(ch)->error : 0;
        case 2:
                return hob ? t->hob_nsect : t->nsect;
        case 3:
                return hob ? t->hob_lbal : t->lbal;
        case 4:
                if (ch->sig_fresh && !hob)
                        return selected(ch)->atapi ? ATAPI_SIG_MID : 0;
                return hob ? t->hob_lbam : t->lbam;
        case 5:
                if (ch->sig_fresh && !hob)
                        return selected(ch)->atapi ? ATAPI_SIG_HIGH : 0;
                return hob ? t->hob_lbah : t->lbah;
        case 6:
                return t->device;
        default:
                return 0xff;
        }
}

/* Each write pushes the previous value into the HOB half and clears the
 * HOB bit of the device control register (ATA-7 vol. 1, 7.8). */
static void tf_write(struct ide_channel *ch, unsigned off, uint8_t v) {
        struct ata_taskfile *t = &ch->tf;
        ch->devctl &= (uint8_t)~ATA_CTL_HOB;
        if (off >= 1 && off <= 5)
                ch->sig_fresh = false; /* the host's values from now on */
        switch (off) {
        case 1:
                t->hob_feature = t->feature, t->feature = v;
                break;
        case 2:
                t->hob_nsect = t->nsect, t->nsect = v;
                break;
        case 3:
                t->hob_lbal = t->lbal, t->lbal = v;
                break;
        case 4:
                t->hob_lbam = t->lbam, t->lbam = v;
                break;
        case 5:
                t->hob_lbah = t->lbah, t->lbah = v;
                break;
        case 6:
                t->device = v;
                break;
        }
}

static bool decoded(struct ide_controller *c, unsigned channel) {
        return channel < IDE_CHANNELS && atomic_load(&c->decode_io) && atomic_load(&c->decode_ch[channel]) &&
               ide_channel_has_drives(c, channel);
}

uint32_t ide_cmd_read(struct ide_controller *c, unsigned channel, unsigned off, unsigned len) {
        if (!decoded(c, channel) || off > 7)
                return 0xffffffffu; /* nothing decodes it: the bus floats */
        struct ide_channel *ch = &c->ch[channel];
        pthread_mutex_lock(&ch->lock);
        uint32_t v;
        if (off == 0) {
                v = ide_data_read(ch, len);
        } else if (off == 7) {
                v = status_of(ch);
                if (selected(ch)->present)
                        ide_clear_irq(ch); /* reading Status acknowledges INTRQ */
        } else {
                v = tf_read(ch, off);
        }
        pthread_mutex_unlock(&ch->lock);
        return v;
}

void ide_cmd_write(struct ide_controller *c, unsigned channel, unsigned off, unsigned len, uint32_t value) {
        if (!decoded(c, channel) || off > 7)
                return;
        struct ide_channel *ch = &c->ch[channel];
        pthread_mutex_lock(&ch->lock);
        if (off == 0) {
                ide_data_write(ch, len, value);
        } else if (busy(ch)) {
                /* ATA-7 vol. 2 5.2: the host shall not write the command
                 * block while BSY; the device ignores it. */
                IDE_STAT_ADD(c, ignored_writes, 1);
        } else if (off == 7) {
                ide_command(ch, (uint8_t)value);
        } else {
                tf_write(ch, off, (uint8_t)value);
        }
        pthread_mutex_unlock(&ch->lock);
}

uint8_t ide_ctl_read(struct ide_controller *c, unsigned channel) {
        if (!decoded(c, channel))
                return 0xff;
        struct ide_channel *ch = &c->ch[channel];
        pthread_mutex_lock(&ch->lock);
        uint8_t v = status_of(ch); /* alternate status: no INTRQ acknowledge */
        pthread_mutex_unlock(&ch->lock);
        return v;
}

/* The end of a software reset (ATA-7 vol. 2, 9.2): the ATA signature in
 * the task file, diagnostic code 01h, device 0 selected, no INTRQ. */
static void finish_reset(struct ide_channel *ch) {
        ch->in_reset = false;
        ch->phase = IDE_IDLE;
        ch->tf = (struct ata_taskfile){ .nsect = 1, .lbal = 1, .device = 0 };
        ch->sig_fresh = true;
        for (unsigned d = 0; d < 2; d++) {
                ch->drive[d].status = ATA_STAT_DRDY | ATA_STAT_DSC;
                ch->drive[d].error = 0x01;
        }
        ide_dma_reset(ch);
}

void ide_reset_io_done(struct ide_channel *ch) {
        if (!(ch->devctl & ATA_CTL_SRST))
                finish_reset(ch);
}

void ide_ctl_write(struct ide_controller *c, unsigned channel, uint8_t v) {
        if (!decoded(c, channel))
                return;
        struct ide_channel *ch = &c->ch[channel];
        pthread_mutex_lock(&ch->lock);
        bool was = ch->devctl & ATA_CTL_SRST, now = v & ATA_CTL_SRST;
        ch->devctl = v & (ATA_CTL_NIEN | ATA_CTL_SRST | ATA_CTL_HOB);
        if (!was && now) {
                /* Both devices reset; a backend request in flight cannot be
                 * recalled, so BSY stays until it completes. */
                IDE_STAT_ADD(c, resets, 1);
                ch->in_reset = true;
                ch->phase = IDE_IDLE;
                ch->intrq = false;
        } else if (was && !now && ch->in_reset && !ch->io_busy) {
                finish_reset(ch);
        }
        update_irq(ch);
        pthread_mutex_unlock(&ch->lock);
}

/* ---- backend ---- */

void ide_want_io(struct ide_channel *ch) {
        ch->io_busy = true;
        ch->io_ready = true;
        if (ch->ctrl->ops->kick)
                ch->ctrl->ops->kick(ch->ctrl->opaque);
}

bool ide_take_request(struct ide_controller *c, unsigned channel, struct ide_request *out) {
        if (channel >= IDE_CHANNELS)
                return false;
        struct ide_channel *ch = &c->ch[channel];
        pthread_mutex_lock(&ch->lock);
        bool ready = ch->io_ready;
        if (ready) {
                *out = ch->req;
                ch->io_ready = false;
        }
        pthread_mutex_unlock(&ch->lock);
        return ready;
}
