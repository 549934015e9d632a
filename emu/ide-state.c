// SPDX-License-Identifier: MIT
/* The IDE controller's and the PIIX functions' saved state (emu/state.h). */
#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "emu/state.h"
#include "ide-internal.h"

_Static_assert(IDE_STATE_BUF_BYTES == IDE_BUF_BYTES, "the PIO buffer fits its field");

#define F(id_, kind_, m_) VMSTATE_FIELD(id_, kind_, struct ide_channel_state, m_)
#define F2(id_, kind_, m_)                                                                                    \
        { .id = id_, .kind = kind_, .min_version = 2, .offset = offsetof(struct ide_channel_state, m_),        \
          .size = sizeof(((struct ide_channel_state *)0)->m_), .name = #m_ }
static const struct vmstate_field_desc ide_fields[] = {
        F(1, VMSTATE_BYTES, tf),           F(2, VMSTATE_U8, devctl),        F(3, VMSTATE_BOOL, in_reset),
        F(4, VMSTATE_U8, phase),           F(5, VMSTATE_U8, cur),           F(6, VMSTATE_U8, cmd_action),
        F(7, VMSTATE_U8, cmd_proto),       F(8, VMSTATE_U8, cmd_error),     F(9, VMSTATE_U8, cmd_nsect),
        F(10, VMSTATE_BOOL, cmd_set_nsect), F(11, VMSTATE_BOOL, cmd_lba48), F(12, VMSTATE_BOOL, cmd_fua),
        F(13, VMSTATE_U64, cmd_lba),       F(14, VMSTATE_U32, cmd_count),   F(15, VMSTATE_U16, cmd_block),
        F(16, VMSTATE_U64, lba_next),      F(17, VMSTATE_U32, left),        F(18, VMSTATE_U32, chunk),
        F(19, VMSTATE_U32, pos),           F(20, VMSTATE_U32, fill),        F(21, VMSTATE_U32, drq_end),
        VMSTATE_ARRAY(22, VMSTATE_VARBYTES, struct ide_channel_state, buf, buf_len),
        F(23, VMSTATE_BOOL, io_wanted),    F(24, VMSTATE_BOOL, intrq),      F(25, VMSTATE_BOOL, irq_level),
        F(26, VMSTATE_BOOL, dma_exact),    F(27, VMSTATE_U8, bm_cmd),       F(28, VMSTATE_U8, bm_status),
        F(29, VMSTATE_U32, prd_table),     F(30, VMSTATE_BYTES, drv_present), F(31, VMSTATE_BYTES, drv_status),
        F(32, VMSTATE_BYTES, drv_error),   F(33, VMSTATE_BYTES, drv_flags), F(34, VMSTATE_BYTES, drv_multiple),
        F(35, VMSTATE_BYTES, drv_xfer),    F(36, VMSTATE_BYTES, drv_power), F(37, VMSTATE_BYTES, drv_heads),
        F(38, VMSTATE_BYTES, drv_spt),
        VMSTATE_ARRAY(39, VMSTATE_U64_ARRAY, struct ide_channel_state, drv_sectors, drv_sectors_n),
        /* version 2: the DVD drive */
        F2(40, VMSTATE_BYTES, drv_atapi),  F2(41, VMSTATE_BYTES, drv_event), F2(42, VMSTATE_BYTES, drv_sense_key),
        F2(43, VMSTATE_BYTES, drv_sense_asc), F2(44, VMSTATE_U16, byte_limit), F2(45, VMSTATE_BOOL, sig_fresh),
};
#undef F
#undef F2
const struct vmstate_desc ide_channel_state_desc = {
        .tag = IDE_STATE_TAG, .version = 2, .fields = ide_fields, .n_fields = ARRAY_SIZE(ide_fields),
        .name = "IDE channel",
};

static const struct vmstate_field_desc piix_fields[] = {
        VMSTATE_FIELD(1, VMSTATE_U32, struct piix_state, address),
        VMSTATE_FIELD(2, VMSTATE_BYTES, struct piix_state, host),
        VMSTATE_FIELD(3, VMSTATE_BYTES, struct piix_state, isa),
        VMSTATE_FIELD(4, VMSTATE_BYTES, struct piix_state, ide),
        /* version 2: Hyper-V's video function (zero when the bus has none) */
        { .id = 5, .kind = VMSTATE_BYTES, .min_version = 2, .offset = offsetof(struct piix_state, video),
          .size = PCI_CFG_SIZE, .name = "video" },
};
const struct vmstate_desc piix_state_desc = {
        .tag = PIIX_STATE_TAG, .version = 2, .fields = piix_fields, .n_fields = ARRAY_SIZE(piix_fields),
        .name = "PIIX3",
};

static void tf_get(const struct ata_taskfile *t, uint8_t out[13]) {
        const uint8_t v[13] = { t->feature,  t->nsect,    t->lbal,     t->lbam,     t->lbah,   t->hob_feature, t->hob_nsect,
                                t->hob_lbal, t->hob_lbam, t->hob_lbah, t->device, t->command, 0 };
        memcpy(out, v, 13);
}

static void tf_set(struct ata_taskfile *t, const uint8_t v[13]) {
        *t = (struct ata_taskfile){ .feature = v[0],     .nsect = v[1],    .lbal = v[2],     .lbam = v[3],
                                    .lbah = v[4],        .hob_feature = v[5], .hob_nsect = v[6], .hob_lbal = v[7],
                                    .hob_lbam = v[8],    .hob_lbah = v[9], .device = v[10],  .command = v[11] };
}

static void get_atapi(const struct ide_drive *dr, struct ide_channel_state *out, unsigned d) {
        if (!dr->atapi)
                return;
        out->drv_atapi[d] = (uint8_t)(IDE_ATAPI_DEVICE | (dr->at.tray_open ? IDE_ATAPI_TRAY_OPEN : 0) |
                                      (dr->at.locked ? IDE_ATAPI_LOCKED : 0) |
                                      (dr->at.attention ? IDE_ATAPI_ATTENTION : 0));
        out->drv_event[d] = dr->at.event;
        out->drv_sense_key[d] = dr->at.sense_key;
        out->drv_sense_asc[2 * d] = (uint8_t)(dr->at.sense_asc >> 8);
        out->drv_sense_asc[2 * d + 1] = (uint8_t)dr->at.sense_asc;
}

static void set_atapi(struct ide_drive *dr, const struct ide_channel_state *st, unsigned d) {
        uint8_t f = st->drv_atapi[d];
        dr->at.tray_open = f & IDE_ATAPI_TRAY_OPEN, dr->at.locked = f & IDE_ATAPI_LOCKED;
        dr->at.attention = f & IDE_ATAPI_ATTENTION, dr->at.event = st->drv_event[d];
        atapi_set_sense(&dr->at, st->drv_sense_key[d],
                        (uint16_t)(st->drv_sense_asc[2 * d] << 8 | st->drv_sense_asc[2 * d + 1]));
}

int ide_get_state(struct ide_controller *c, unsigned channel, struct ide_channel_state *out) {
        struct ide_channel *ch = &c->ch[channel];
        pthread_mutex_lock(&ch->lock);
        /* Wanted but not taken is fine (asked for again at restore); taken
         * means in flight, which a quiesce completed. */
        int r = ch->io_busy && !ch->io_ready ? -EBUSY : 0;
        if (r == 0) {
                *out = (struct ide_channel_state){
                        .devctl = ch->devctl, .in_reset = ch->in_reset, .phase = (uint8_t)ch->phase,
                        .cur = (uint8_t)ch->cur, .cmd_action = (uint8_t)ch->cmd.action,
                        .cmd_proto = (uint8_t)ch->cmd.proto, .cmd_error = ch->cmd.error, .cmd_nsect = ch->cmd.nsect,
                        .cmd_set_nsect = ch->cmd.set_nsect, .cmd_lba48 = ch->cmd.lba48, .cmd_fua = ch->cmd.fua,
                        .cmd_lba = ch->cmd.lba, .cmd_count = ch->cmd.count, .cmd_block = ch->cmd.block,
                        .lba_next = ch->lba_next, .left = ch->left, .chunk = ch->chunk, .pos = ch->pos,
                        .fill = ch->fill, .drq_end = ch->drq_end, .io_wanted = ch->io_ready, .intrq = ch->intrq,
                        .irq_level = ch->irq_level, .dma_exact = ch->dma_exact, .bm_cmd = ch->bm_cmd,
                        .bm_status = ch->bm_status, .prd_table = ch->prd_table, .drv_sectors_n = 2,
                        .byte_limit = ch->byte_limit, .sig_fresh = ch->sig_fresh,
                };
                tf_get(&ch->tf, out->tf);
                /* The buffer's bytes that matter: data-in up to fill, data-out
                 * up to the chunk (a DMA's chunk, its sector count, is not in
                 * the buffer). */
                uint32_t out_bytes = ch->phase == IDE_PIO_OUT ? ch->chunk * ATA_SECTOR_SIZE : 0;
                out->buf_len = MIN(MAX(MAX(ch->fill, ch->drq_end), out_bytes), IDE_BUF_BYTES);
                memcpy(out->buf, ch->buf, out->buf_len);
                for (unsigned d = 0; d < 2; d++) {
                        const struct ide_drive *dr = &ch->drive[d];
                        out->drv_present[d] = dr->present, out->drv_status[d] = dr->status;
                        out->drv_error[d] = dr->error;
                        out->drv_flags[d] = (uint8_t)(dr->set.read_only | dr->set.write_cache << 1 |
                                                      dr->set.lookahead << 2);
                        out->drv_multiple[d] = dr->set.multiple, out->drv_xfer[d] = dr->set.xfer_mode;
                        out->drv_power[d] = dr->set.power, out->drv_heads[d] = dr->set.heads;
                        out->drv_spt[d] = dr->set.spt, out->drv_sectors[d] = dr->set.n_sectors;
                        get_atapi(dr, out, d);
                }
        }
        pthread_mutex_unlock(&ch->lock);
        return r;
}

/* What the channel's status says against what it is doing (ide-cmd.c,
 * ide-dma.c): DRQ only on the drive running a PIO transfer with a block
 * left to move and nothing asked of the disk; never with BSY; a PIO phase
 * not waiting for the disk shows its DRQ block; a wanted transfer, a DMA
 * phase and a flush keep BSY (a flush, only while wanted: its end is the
 * command's). SRST hides all of it behind BSY, so it is not checked then. */
static bool pio_phase(uint8_t phase) {
        return phase == IDE_PIO_IN || phase == IDE_PIO_OUT || phase == IDE_ATAPI_CDB || phase == IDE_ATAPI_IN;
}

static const char *ide_status_bad(const struct ide_channel_state *st) {
        for (unsigned d = 0; d < 2; d++) {
                uint8_t s = st->drv_status[d];
                if ((s & ATA_STAT_BSY) && (s & ATA_STAT_DRQ))
                        return "status BSY with DRQ";
                if ((s & ATA_STAT_DRQ) && !st->in_reset &&
                    (d != st->cur || !pio_phase(st->phase) || st->io_wanted ||
                     st->pos >= st->drq_end))
                        return "DRQ without a transfer";
        }
        if (st->in_reset)
                return NULL;
        uint8_t s = st->drv_status[st->cur];
        bool pio = pio_phase(st->phase);
        if (pio && !st->io_wanted && !(s & ATA_STAT_DRQ))
                return "a PIO phase without DRQ or a transfer";
        if ((st->io_wanted || st->phase == IDE_DMA || st->phase == IDE_FLUSH) && !(s & ATA_STAT_BSY))
                return "a transfer without BSY";
        if (st->phase == IDE_FLUSH && !st->io_wanted)
                return "a flush that is not wanted";
        return NULL;
}

/* The PIO buffer: positions inside the bytes that were saved; the DRQ
 * block inside the data (data-in: the fill; data-out: the chunk, which
 * fits the buffer), and a read asked for again fits it too. A DMA's chunk is its sector count (up to
 * 65536): it never touches the buffer. */
static const char *ide_buffer_bad(const struct ide_channel_state *st) {
        if (st->pos > st->drq_end || st->fill > st->buf_len || st->drq_end > st->buf_len)
                return "PIO buffer position or length beyond the saved buffer";
        if (st->chunk > 65536u)
                return "chunk";
        if ((st->phase == IDE_PIO_IN || st->phase == IDE_ATAPI_IN) && st->drq_end > st->fill)
                return "a data-in block beyond the buffer's fill";
        if (st->phase == IDE_PIO_OUT &&
            (st->chunk > IDE_BUF_SECTORS || st->chunk * ATA_SECTOR_SIZE > st->buf_len ||
             st->drq_end > st->chunk * ATA_SECTOR_SIZE))
                return "a data-out block beyond the chunk";
        /* A wanted read is asked for again into the buffer, chunk sectors
         * (ide_want_again); identify's data-in leaves an older chunk. */
        if ((st->phase == IDE_PIO_IN || st->phase == IDE_ATAPI_IN) && st->io_wanted && st->chunk > IDE_BUF_SECTORS)
                return "a data-in chunk beyond the buffer";
        if (st->phase == IDE_ATAPI_CDB && (st->drq_end != ATAPI_CDB_LEN || st->io_wanted))
                return "a CDB phase";
        return NULL;
}

/* The DVD drive's flags and sense (version 2); a PACKET phase only on one. */
static const char *ide_atapi_bad(const struct ide_channel_state *st) {
        for (unsigned d = 0; d < 2; d++) {
                bool atapi = st->drv_atapi[d] & IDE_ATAPI_DEVICE;
                if (st->drv_atapi[d] > 0x0f || (atapi && !st->drv_present[d]) ||
                    (!atapi && (st->drv_atapi[d] || st->drv_event[d] || st->drv_sense_key[d])))
                        return "DVD drive flags";
                if (st->drv_event[d] > ATAPI_EVENT_MEDIA_REMOVAL || st->drv_sense_key[d] > 0x0f)
                        return "DVD drive sense or event";
                if (atapi && (st->drv_sectors[d] % (ATAPI_BLOCK_SIZE / ATA_SECTOR_SIZE) ||
                              st->drv_sectors[d] / (ATAPI_BLOCK_SIZE / ATA_SECTOR_SIZE) > ATAPI_BLOCKS_MAX))
                        return "DVD disc size";
        }
        if ((st->phase == IDE_ATAPI_CDB || st->phase == IDE_ATAPI_IN) && !(st->drv_atapi[st->cur] & IDE_ATAPI_DEVICE))
                return "a PACKET phase on a disk";
        return NULL;
}

int ide_channel_state_decode(const struct vmstate_section *s, struct ide_channel_state *out, char *err,
                             size_t errlen) {
        memset(out, 0, offsetof(struct ide_channel_state, buf));
        memset(&out->io_wanted, 0, sizeof *out - offsetof(struct ide_channel_state, io_wanted));
        int r = vmstate_decode(s, &ide_channel_state_desc, out, err, errlen);
        if (r < 0)
                return r;
        const char *bad = s->instance >= IDE_CHANNELS                                 ? "channel"
                          : out->phase > IDE_ATAPI_IN || out->cur > 1                  ? "phase"
                          : out->cmd_action > ATA_DIAGNOSE || out->cmd_proto > ATA_PROTO_DMA ? "command"
                          : out->drv_sectors_n != 2                                    ? "drives"
                          : out->io_wanted && out->phase == IDE_IDLE && !out->in_reset ? "io_wanted"
                                                                                       : NULL;
        for (unsigned d = 0; !bad && d < 2; d++)
                if (out->drv_present[d] > 1 || out->drv_flags[d] > 7 || out->drv_multiple[d] > 16 ||
                    out->drv_power[d] > ATA_POWER_STANDBY)
                        bad = "drive settings";
        if (!bad)
                bad = ide_buffer_bad(out);
        if (!bad)
                bad = ide_atapi_bad(out);
        if (!bad)
                bad = ide_status_bad(out);
        return bad ? errorf(err, errlen, -EINVAL, "section IDEC #%u: %s out of range", s->instance, bad) : 0;
}

int ide_set_state(struct ide_controller *c, unsigned channel, const struct ide_channel_state *st, char *err,
                  size_t errlen) {
        struct ide_channel *ch = &c->ch[channel];
        for (unsigned d = 0; d < 2; d++)
                if (ch->drive[d].present != !!st->drv_present[d] ||
                    ch->drive[d].atapi != !!(st->drv_atapi[d] & IDE_ATAPI_DEVICE) ||
                    (st->drv_present[d] && ch->drive[d].set.n_sectors != st->drv_sectors[d]))
                        return errorf(err, errlen, -EINVAL, "IDE channel %u drive %u: not the disk that was saved",
                                      channel, d);
        pthread_mutex_lock(&ch->lock);
        tf_set(&ch->tf, st->tf);
        ch->devctl = st->devctl, ch->in_reset = st->in_reset, ch->phase = (enum ide_phase)st->phase;
        ch->cur = st->cur;
        ch->cmd = (struct ata_cmd){ .action = (enum ata_action)st->cmd_action,
                                    .proto = (enum ata_protocol)st->cmd_proto, .error = st->cmd_error,
                                    .set_nsect = st->cmd_set_nsect, .nsect = st->cmd_nsect, .lba48 = st->cmd_lba48,
                                    .lba = st->cmd_lba, .count = st->cmd_count, .block = st->cmd_block,
                                    .fua = st->cmd_fua };
        ch->lba_next = st->lba_next, ch->left = st->left, ch->chunk = st->chunk;
        ch->pos = st->pos, ch->fill = st->fill, ch->drq_end = st->drq_end;
        memcpy(ch->buf, st->buf, st->buf_len);
        ch->intrq = st->intrq, ch->irq_level = st->irq_level; /* the line's level is the restored IOAPIC's */
        ch->bm_cmd = st->bm_cmd, ch->bm_status = st->bm_status, ch->prd_table = st->prd_table;
        ch->dma_exact = st->dma_exact;
        ch->byte_limit = st->byte_limit, ch->sig_fresh = st->sig_fresh;
        for (unsigned d = 0; d < 2; d++) {
                struct ide_drive *dr = &ch->drive[d];
                dr->status = st->drv_status[d], dr->error = st->drv_error[d];
                if (!dr->present)
                        continue;
                if (dr->atapi)
                        set_atapi(dr, st, d);
                dr->set.read_only = st->drv_flags[d] & 1, dr->set.write_cache = st->drv_flags[d] & 2;
                dr->set.lookahead = st->drv_flags[d] & 4, dr->set.multiple = st->drv_multiple[d];
                dr->set.xfer_mode = st->drv_xfer[d], dr->set.power = st->drv_power[d];
                dr->set.heads = st->drv_heads[d], dr->set.spt = st->drv_spt[d];
        }
        ch->io_busy = ch->io_ready = false;
        if (st->io_wanted)
                ide_want_again(ch); /* the service is parked: taken after resume */
        pthread_mutex_unlock(&ch->lock);
        return 0;
}

void piix_get_state(struct piix *x, struct piix_state *out) {
        pthread_mutex_lock(&x->bus.lock);
        out->address = x->bus.address;
        memcpy(out->host, x->host.cfg, PCI_CFG_SIZE);
        memcpy(out->isa, x->isa.cfg, PCI_CFG_SIZE);
        memcpy(out->ide, x->ide.cfg, PCI_CFG_SIZE);
        memcpy(out->video, x->video.cfg, PCI_CFG_SIZE);
        pthread_mutex_unlock(&x->bus.lock);
}

int piix_state_decode(const struct vmstate_section *s, struct piix_state *out, char *err, size_t errlen) {
        memset(out, 0, sizeof *out);
        return vmstate_decode(s, &piix_state_desc, out, err, errlen);
}

static bool same_read_only(const struct pci_function *f, const uint8_t *cfg) {
        for (unsigned i = 0; i < PCI_CFG_SIZE; i++)
                if ((f->cfg[i] ^ cfg[i]) & ~f->wmask[i])
                        return false;
        return true;
}

static bool all_zero(const uint8_t *b, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (b[i])
                        return false;
        return true;
}

int piix_set_state(struct piix *x, const struct piix_state *st, char *err, size_t errlen) {
        /* A function this bus lacks is all zero with nothing writable:
         * the saved bytes must be zero too. */
        bool video = !(x->has_video && all_zero(st->video, PCI_CFG_SIZE));
        if (!same_read_only(&x->host, st->host) || !same_read_only(&x->isa, st->isa) ||
            !same_read_only(&x->ide, st->ide) || (video && !same_read_only(&x->video, st->video)))
                return errorf(err, errlen, -EINVAL, "section PIIX: the saved PCI functions are other devices");
        pthread_mutex_lock(&x->bus.lock);
        x->bus.address = st->address;
        memcpy(x->host.cfg, st->host, PCI_CFG_SIZE);
        memcpy(x->isa.cfg, st->isa, PCI_CFG_SIZE);
        memcpy(x->ide.cfg, st->ide, PCI_CFG_SIZE);
        if (video)
                memcpy(x->video.cfg, st->video, PCI_CFG_SIZE);
        if (x->ctrl)
                x->ide.written(&x->ide, 0, PCI_CFG_SIZE);
        if (x->host.written)
                x->host.written(&x->host, 0, PCI_CFG_SIZE);
        pthread_mutex_unlock(&x->bus.lock);
        return 0;
}
