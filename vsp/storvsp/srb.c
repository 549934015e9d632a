// SPDX-License-Identifier: MIT
/* EXECUTE_SRB (§6.4, §6.5): address the LUN, run the CDB through the scsi
 * module, move immediate data between the module and the guest buffer,
 * turn block operations into disk requests on guest memory, and turn disk
 * completions into COMPLETE_IO packets. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "storvsp-internal.h"

#define COMPLETIONS_PER_REAP 64u

static int reply_srb(const struct storvsp_request *req, const struct storvsp_srb_result *res,
                     struct storvsp_reply *out) {
        if (!req->completion_requested)
                return STORVSP_NONE;
        out->len = storvsp_complete_srb(out->data, req, res);
        return STORVSP_REPLY;
}

static int reply_invalid(const struct storvsp_request *req, struct storvsp_reply *out) {
        struct storvsp_srb_result res;
        storvsp_srb_invalid(&res);
        return reply_srb(req, &res, out);
}

static int reply_scsi(const struct storvsp_request *req, const struct scsi_status *st, bool lun_absent,
                      struct storvsp_reply *out) {
        struct storvsp_srb_result res;
        storvsp_srb_from_scsi(req, st, lun_absent, &res);
        return reply_srb(req, &res, out);
}

/* The SRB's direction must agree with the command when data moves. */
static bool direction_ok(enum scsi_dir dir, uint8_t data_in, uint32_t len) {
        if (len == 0 || dir == SCSI_DIR_NONE)
                return true;
        return dir == SCSI_DIR_IN ? data_in == READ_TYPE : data_in == WRITE_TYPE;
}

void storvsp_channel_sync_luns(struct storvsp_channel *ch) {
        if (__atomic_load_n(&ch->c->generation, __ATOMIC_ACQUIRE) == ch->generation)
                return;
        struct storvsp_lun *fresh[SCSI_MAX_LUNS];
        storvsp_controller_snapshot(ch->c, fresh, &ch->map, &ch->generation);
        for (unsigned i = 0; i < SCSI_MAX_LUNS; i++) {
                struct storvsp_lun *old = ch->luns[i];
                /* a resize replaces the LUN object, not the disk: that one stays registered */
                if (old && (!fresh[i] || fresh[i]->disk != old->disk) && ch->n_forget < SCSI_MAX_LUNS)
                        ch->forget[ch->n_forget++] = disk_ref(old->disk); /* unregister from our ring */
                storvsp_lun_unref(old);
                ch->luns[i] = fresh[i];
        }
}

static void forget_detached(struct storvsp_channel *ch) {
        for (unsigned i = 0; i < ch->n_forget;) {
                if (disk_queue_forget_disk(ch->q, ch->forget[i]) < 0) { /* still in flight */
                        i++;
                        continue;
                }
                disk_unref(ch->forget[i]);
                ch->forget[i] = ch->forget[--ch->n_forget];
        }
}

void storvsp_channel_release_detached(struct storvsp_channel *ch) {
        storvsp_channel_sync_luns(ch);
        if (ch->n_forget)
                forget_detached(ch);
}

static struct storvsp_slot *slot_get(struct storvsp_channel *ch) {
        struct storvsp_slot *s = &ch->slots[ch->free_slots[--ch->n_free]];
        s->used = true;
        s->seq = ch->seq++;
        return s;
}

static void slot_put(struct storvsp_channel *ch, struct storvsp_slot *s) {
        storvsp_lun_unref(TAKE_PTR(s->lun));
        s->used = false;
        ch->free_slots[ch->n_free++] = (unsigned)(s - ch->slots);
}

/* Fills the disk request for a block operation; -errno on bad guest memory. */
static int build_disk_request(struct storvsp_channel *ch, struct storvsp_slot *s, struct disk_range *ranges,
                              struct disk_request *dr) {
        const struct scsi_io *io = &s->io;
        uint64_t bs = s->lun->scsi.cfg.block_size;
        *dr = (struct disk_request){ .disk = s->lun->disk, .user_data = (uint64_t)(s - ch->slots),
                                     .offset = io->lba * bs, .len = io->blocks * bs, .fua = io->fua };
        switch (io->kind) {
        case SCSI_IO_READ:
        case SCSI_IO_WRITE:
                dr->kind = io->kind == SCSI_IO_READ ? DISK_READ : DISK_WRITE;
                if (!s->iov && !(s->iov = calloc(ch->max_pfns, sizeof *s->iov)))
                        return -ENOMEM;
                dr->iov = s->iov;
                /* scsi checked blocks * bs <= the buffer length (a u32) */
                int r = storvsp_map_buffer(&ch->gm, &s->req.buf, (uint32_t)dr->len, s->iov, ch->max_pfns,
                                           &s->iovcnt);
                dr->iovcnt = s->iovcnt;
                return r;
        case SCSI_IO_FLUSH:
                dr->kind = DISK_FLUSH;
                return 0;
        case SCSI_IO_UNMAP:
                dr->kind = DISK_DISCARD;
                for (uint32_t i = 0; i < io->n_descriptors; i++) {
                        uint64_t lba;
                        uint32_t n;
                        scsi_io_unmap_extent(io, i, &lba, &n);
                        ranges[i] = (struct disk_range){ lba * bs, n * bs };
                }
                dr->ranges = ranges;
                dr->n_ranges = io->n_descriptors;
                return 0;
        case SCSI_IO_WRITE_ZEROES:
                dr->kind = DISK_WRITE_ZEROES;
                dr->may_unmap = io->may_unmap;
                return 0;
        case SCSI_IO_WRITE_SAME:
                dr->kind = DISK_WRITE_SAME;
                dr->pattern = io->pattern; /* in ch->param; copied by disk_queue_prep */
                return 0;
        }
        return -EINVAL;
}

static int srb_submit(struct storvsp_channel *ch, const struct storvsp_request *req, struct storvsp_lun *lun,
                      const struct scsi_io *io, struct storvsp_reply *out) {
        struct storvsp_slot *s = slot_get(ch);
        struct disk_range ranges[SCSI_MAX_UNMAP_DESCRIPTORS];
        struct disk_request dr;
        s->req = *req;
        s->io = *io;
        s->lun = storvsp_lun_ref(lun);
        int r = build_disk_request(ch, s, ranges, &dr);
        if (r == 0)
                r = disk_queue_prep(ch->q, &dr);
        s->req.buf.pfns = NULL; /* points into the packet, gone after this call */
        if (r < 0) {
                slot_put(ch, s);
                if (r == -EFAULT || r == -E2BIG || r == -EINVAL)
                        return reply_invalid(req, out);
                struct scsi_status st;
                scsi_complete_io(io, r, &st);
                return reply_scsi(req, &st, false, out);
        }
        ch->stats.io++;
        return STORVSP_QUEUED;
}

/* Maps len bytes of the guest buffer into the scratch vector. */
static int map_scratch(struct storvsp_channel *ch, const struct storvsp_request *req, uint32_t len, unsigned *n) {
        return storvsp_map_buffer(&ch->gm, &req->buf, len, ch->scratch_iov, ch->max_pfns, n);
}

int storvsp_srb_execute(struct storvsp_channel *ch, const struct storvsp_request *req, struct storvsp_reply *out) {
        const struct vmscsi_request *srb = &req->pkt.vm_srb;
        if (req->reject)
                return reply_invalid(req, out);
        /* our LUNs live at path 0, the controller's target (0, or an IDE
         * channel's device position); other addresses hold nothing */
        bool ours = srb->path_id == 0 && srb->target_id == ch->c->cfg.target;
        struct storvsp_lun *lun = ours ? ch->luns[srb->lun] : NULL;
        static const struct scsi_lun_map none;
        struct scsi_cmd cmd = { .cdb = srb->cdb, .cdb_len = srb->cdb_length, .xfer_len = req->buf.len,
                                .luns = ours ? &ch->map : &none, .data_in = ch->data_in };
        struct scsi_result res;
        unsigned n;
        (void)scsi_execute(lun ? &lun->scsi : NULL, &cmd, &res);
        if (!direction_ok(res.dir, srb->data_in, req->buf.len))
                return reply_invalid(req, out);
        if (res.action == SCSI_NEED_PARAM) {
                /* the parameter list (<= SCSI_PARAM_MAX, <= the buffer) */
                if (map_scratch(ch, req, res.param_len, &n) < 0)
                        return reply_invalid(req, out);
                storvsp_iov_to_buf(ch->scratch_iov, n, ch->param, res.param_len);
                cmd.param = ch->param;
                cmd.param_len = res.param_len;
                (void)scsi_execute(lun ? &lun->scsi : NULL, &cmd, &res);
        }
        if (res.action == SCSI_DO_IO && lun)
                return srb_submit(ch, req, lun, &res.io, out);
        ch->stats.immediate++;
        if (res.st.data_len) {
                if (map_scratch(ch, req, res.st.data_len, &n) < 0)
                        return reply_invalid(req, out);
                storvsp_iov_from_buf(ch->scratch_iov, n, ch->data_in, res.st.data_len);
                storvsp_iov_mark_dirty(&ch->gm, ch->scratch_iov, n);
        }
        return reply_scsi(req, &res.st, lun == NULL, out);
}

void storvsp_slot_mark_dirty(struct storvsp_channel *ch, const struct storvsp_slot *s) {
        if (s->io.kind == SCSI_IO_READ && s->iov)
                storvsp_iov_mark_dirty(&ch->gm, s->iov, s->iovcnt);
}

int storvsp_srb_reap(struct storvsp_channel *ch, struct storvsp_reply *out, unsigned max, unsigned min_wait) {
        struct disk_completion comp[COMPLETIONS_PER_REAP];
        int n = disk_queue_reap(ch->q, comp, MIN(max, COMPLETIONS_PER_REAP), min_wait);
        if (n < 0)
                return n;
        unsigned replies = 0;
        for (int i = 0; i < n; i++) {
                if (comp[i].user_data >= ch->depth || !ch->slots[comp[i].user_data].used)
                        continue;
                struct storvsp_slot *s = &ch->slots[comp[i].user_data];
                storvsp_slot_mark_dirty(ch, s); /* before its completion reaches the ring */
                struct scsi_status st;
                scsi_complete_io(&s->io, comp[i].res, &st);
                out[replies].new_sub_channels = 0;
                if (reply_scsi(&s->req, &st, false, &out[replies]) == STORVSP_REPLY)
                        replies++;
                slot_put(ch, s);
        }
        if (ch->n_forget)
                forget_detached(ch);
        return (int)replies;
}
