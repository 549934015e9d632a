// SPDX-License-Identifier: MIT
/* storvsp's saved state (storvsp/provider.h, docs/storvsp.md "Saved
 * state"): the controller's handshake and LUN settings through the row,
 * each open channel's owed replies through the VMBus provider hooks. A
 * quiesce completed every request in flight and kept its reply, so a
 * channel's state is exactly its backlog: a restored channel starts
 * quiesced with that backlog and posts it first, in order, at resume,
 * before it reads the ring (which the guest may have filled meanwhile). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/device.h"
#include "common/log.h"
#include "common/macro.h"
#include "provider-internal.h"
#include "storvsp-internal.h"

_Static_assert(STORVSP_STATE_LUNS == SCSI_MAX_LUNS, "one saved entry per LUN number");
_Static_assert(8u + ALIGN_UP(STORVSC_MAX_PKT_SIZE, 8u) <= 8u + 80u, "a reply record fits its share");

#define F(id_, kind_, type_, m_) VMSTATE_FIELD(id_, kind_, type_, m_)

static const struct vmstate_field_desc controller_fields[] = {
        F(1, VMSTATE_U8, struct storvsp_controller_state, proto_state),
        F(2, VMSTATE_U16, struct storvsp_controller_state, version),
        F(3, VMSTATE_U16, struct storvsp_controller_state, sub_channels),
        VMSTATE_ARRAY(4, VMSTATE_U32_ARRAY, struct storvsp_controller_state, lun, n_luns),
        VMSTATE_ARRAY(5, VMSTATE_U64_ARRAY, struct storvsp_controller_state, n_blocks, n_blocks_count),
        VMSTATE_ARRAY(6, VMSTATE_U32_ARRAY, struct storvsp_controller_state, block_size, block_size_count),
        VMSTATE_ARRAY(7, VMSTATE_U32_ARRAY, struct storvsp_controller_state, flags, flags_count),
        { .id = 8, .kind = VMSTATE_U32_ARRAY, .min_version = 2,
          .offset = offsetof(struct storvsp_controller_state, attention), .size = STORVSP_STATE_LUNS,
          .count_offset = offsetof(struct storvsp_controller_state, attention_count), .name = "attention" },
};
const struct vmstate_desc storvsp_controller_state_desc = {
        .tag = STORVSP_CONTROLLER_STATE_TAG, .version = 2, .fields = controller_fields,
        .n_fields = ARRAY_SIZE(controller_fields), .name = "storvsp controller",
};

static const struct vmstate_field_desc channel_fields[] = {
        F(1, VMSTATE_U16, struct storvsp_channel_state, sub_index),
        VMSTATE_ARRAY(2, VMSTATE_VARBYTES, struct storvsp_channel_state, replies, replies_len),
};
const struct vmstate_desc storvsp_channel_state_desc = {
        .tag = STORVSP_CHANNEL_STATE_TAG, .version = 1, .fields = channel_fields,
        .n_fields = ARRAY_SIZE(channel_fields), .name = "storvsp channel",
};

int storvsp_controller_state_decode(const struct vmstate_section *s, struct storvsp_controller_state *out,
                                    char *err, size_t errlen) {
        memset(out, 0, sizeof *out);
        int r = vmstate_decode(s, &storvsp_controller_state_desc, out, err, errlen);
        if (r < 0)
                return r;
        if (out->proto_state > STORVSP_READY || out->sub_channels > STORVSP_MAX_SUB_CHANNELS ||
            out->n_blocks_count != out->n_luns || out->block_size_count != out->n_luns ||
            out->flags_count != out->n_luns || (out->attention_count && out->attention_count != out->n_luns))
                return errorf(err, errlen, -EINVAL, "section STCT #%u: handshake or LUN table out of range",
                              s->instance);
        for (uint32_t i = 0; i < out->n_luns; i++)
                if (out->lun[i] >= SCSI_MAX_LUNS || (i && out->lun[i] <= out->lun[i - 1]) ||
                    out->flags[i] & ~(STORVSP_STATE_LUN_READ_ONLY | STORVSP_STATE_LUN_WCE) ||
                    (out->attention_count && out->attention[i] && out->attention[i] != SCSI_ASC_CAPACITY_DATA_CHANGED))
                        return errorf(err, errlen, -EINVAL, "section STCT #%u: LUN entry %u", s->instance, i);
        return 0;
}

/* Walks the reply records: fn (may be NULL) for each; count or -EINVAL. */
static int replies_walk(const struct storvsp_channel_state *st, void (*fn)(void *o, const uint8_t *p, size_t len),
                        void *opaque) {
        uint32_t off = 0;
        int n = 0;
        while (off < st->replies_len) {
                if (st->replies_len - off < 8)
                        return -EINVAL;
                uint16_t len = vmstate_le16(st->replies + off);
                off += 8;
                if (len < sizeof(struct vmpacket_descriptor) || len > STORVSC_MAX_PKT_SIZE ||
                    ALIGN_UP((uint32_t)len, 8u) > st->replies_len - off)
                        return -EINVAL;
                if (fn)
                        fn(opaque, st->replies + off, len);
                off += ALIGN_UP((uint32_t)len, 8u);
                n++;
        }
        return n;
}

int storvsp_channel_state_decode(const struct vmstate_section *s, struct storvsp_channel_state *out, char *err,
                                 size_t errlen) {
        memset(out, 0, offsetof(struct storvsp_channel_state, replies));
        int r = vmstate_decode(s, &storvsp_channel_state_desc, out, err, errlen);
        if (r < 0)
                return r;
        if (out->sub_index > STORVSP_MAX_SUB_CHANNELS || replies_walk(out, NULL, NULL) < 0 ||
            replies_walk(out, NULL, NULL) > (int)(STORVSP_MAX_QUEUE_DEPTH + 4))
                return errorf(err, errlen, -EINVAL, "section STCH #%u: sub-channel or replies malformed",
                              s->instance);
        return 0;
}

/* ---- the controller (the row) ---- */

int storvsp_device_save(struct storvsp_device *d, struct vmstate_writer *w, char *err, size_t errlen) {
        struct storvsp_controller *c = d->ctl;
        struct storvsp_controller_state *st = calloc(1, sizeof *st);
        if (!st)
                return -ENOMEM;
        st->proto_state = (uint8_t)__atomic_load_n(&c->state, __ATOMIC_ACQUIRE);
        st->version = __atomic_load_n(&c->version, __ATOMIC_ACQUIRE);
        pthread_mutex_lock(&c->lock);
        st->sub_channels = c->sub_channels;
        for (unsigned i = 0; i < SCSI_MAX_LUNS; i++) {
                const struct storvsp_lun *l = c->luns[i];
                if (!l)
                        continue;
                uint32_t k = st->n_luns++;
                st->lun[k] = i;
                st->n_blocks[k] = l->scsi.cfg.n_blocks;
                st->block_size[k] = l->scsi.cfg.block_size;
                st->flags[k] = (l->scsi.cfg.read_only ? STORVSP_STATE_LUN_READ_ONLY : 0) |
                               (l->scsi.wce ? STORVSP_STATE_LUN_WCE : 0);
                st->attention[k] = scsi_lun_attention(&l->scsi);
        }
        pthread_mutex_unlock(&c->lock);
        st->n_blocks_count = st->block_size_count = st->flags_count = st->attention_count = st->n_luns;
        int r = vmstate_encode(w, &storvsp_controller_state_desc, d->cfg.state_instance, st);
        free(st);
        return r < 0 ? errorf(err, errlen, r, "writing section STCT: %s", strerror(-r)) : 0;
}

/* What the errors call the device of state instance inst: a SCSI
 * controller, or an IDE disk's channel (STORVSP_IDE_STATE_INSTANCE_BASE). */
static const char *device_name(uint32_t inst, char buf[static 48]) {
        uint32_t ide = inst - STORVSP_IDE_STATE_INSTANCE_BASE;
        if (inst >= STORVSP_IDE_STATE_INSTANCE_BASE && ide < STORVSP_IDE_CHANNELS * STORVSP_IDE_POSITIONS)
                snprintf(buf, 48, "the IDE channel of disk %u:%u", ide / STORVSP_IDE_POSITIONS,
                         ide % STORVSP_IDE_POSITIONS);
        else
                snprintf(buf, 48, "SCSI controller %u", inst);
        return buf;
}

/* The saved LUNs are exactly the attached ones, with the same geometry. */
static int check_luns(struct storvsp_controller *c, const struct storvsp_controller_state *st, uint32_t inst,
                      char *err, size_t errlen) {
        char name[48];
        unsigned attached = 0;
        for (unsigned i = 0; i < SCSI_MAX_LUNS; i++)
                attached += c->luns[i] != NULL;
        if (attached != st->n_luns)
                return errorf(err, errlen, -EINVAL, "%s: %u LUNs saved, %u configured", device_name(inst, name),
                              st->n_luns, attached);
        for (uint32_t k = 0; k < st->n_luns; k++) {
                const struct storvsp_lun *l = c->luns[st->lun[k]];
                if (!l || l->scsi.cfg.n_blocks != st->n_blocks[k] || l->scsi.cfg.block_size != st->block_size[k] ||
                    l->scsi.cfg.read_only != !!(st->flags[k] & STORVSP_STATE_LUN_READ_ONLY))
                        return errorf(err, errlen, -EINVAL,
                                      "%s LUN %u: the disk differs from the saved one (size, "
                                      "block size or read-only)",
                                      device_name(inst, name), st->lun[k]);
        }
        return 0;
}

int storvsp_device_restore(struct storvsp_device *d, const struct vmstate_section *secs, size_t n, char *err,
                           size_t errlen) {
        uint32_t inst = d->cfg.state_instance;
        const struct vmstate_section *sec = vmstate_find(secs, n, STORVSP_CONTROLLER_STATE_TAG, inst);
        char name[48];
        if (!sec)
                return errorf(err, errlen, -EINVAL, "the state has no STCT section for %s", device_name(inst, name));
        struct storvsp_controller_state *st = malloc(sizeof *st);
        if (!st)
                return -ENOMEM;
        struct storvsp_controller *c = d->ctl;
        int r = storvsp_controller_state_decode(sec, st, err, errlen);
        if (r == 0 && st->sub_channels > c->cfg.max_sub_channels)
                r = errorf(err, errlen, -EINVAL, "section STCT #%u: %u sub-channels, this VM allows %u", inst,
                           st->sub_channels, c->cfg.max_sub_channels);
        pthread_mutex_lock(&c->lock);
        if (r == 0)
                r = check_luns(c, st, inst, err, errlen);
        if (r == 0) {
                for (uint32_t k = 0; k < st->n_luns; k++) {
                        c->luns[st->lun[k]]->scsi.wce = (st->flags[k] & STORVSP_STATE_LUN_WCE) ? 1 : 0;
                        scsi_lun_set_attention(&c->luns[st->lun[k]]->scsi,
                                               st->attention_count ? (uint16_t)st->attention[k] : 0);
                }
                c->sub_channels = st->sub_channels;
                /* The guest knows these LUNs: attaching them to the new
                 * controller is no hot plug to announce (ENUMERATE_BUS). */
                uint64_t v;
                (void)!read(c->rescan_efd, &v, sizeof v);
                __atomic_store_n(&c->version, st->version, __ATOMIC_RELEASE);
                __atomic_store_n(&c->state, (int)st->proto_state, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock(&c->lock);
        free(st);
        if (r == 0) {
                pthread_mutex_lock(&d->lock);
                d->quiesced = true; /* restored devices are quiesced: the first resume starts them */
                pthread_mutex_unlock(&d->lock);
        }
        return r;
}

/* ---- channels (VMBus provider hooks) ---- */

int storvsp_save_channel(struct vmbus_channel *ch, struct vmstate_writer *w, char *err, size_t errlen) {
        struct storvsp_vchan *v = vmbus_channel_data(ch);
        struct storvsp_channel_state *st = calloc(1, sizeof *st);
        if (!st)
                return -ENOMEM;
        pthread_mutex_lock(&v->dev->lock);
        int r = v->dev->quiesced ? 0 : -EBUSY;
        st->sub_index = vmbus_channel_subchannel_index(ch);
        for (unsigned i = 0; r == 0 && i < v->backlog_count; i++) {
                const struct storvsp_reply *rep = &v->backlog[(v->backlog_head + i) % v->backlog_cap];
                vmstate_put_le16(st->replies + st->replies_len, (uint16_t)rep->len);
                memcpy(st->replies + st->replies_len + 8, rep->data, rep->len);
                st->replies_len += 8u + ALIGN_UP((uint32_t)rep->len, 8u);
        }
        pthread_mutex_unlock(&v->dev->lock);
        if (r == 0)
                r = vmstate_encode(w, &storvsp_channel_state_desc, vmbus_channel_relid(ch), st);
        free(st);
        return r < 0 ? errorf(err, errlen, r, "writing section STCH #%u: %s", vmbus_channel_relid(ch), strerror(-r))
                     : 0;
}

static void backlog_push(void *opaque, const uint8_t *p, size_t len) {
        struct storvsp_vchan *v = opaque;
        struct storvsp_reply *rep = &v->backlog[(v->backlog_head + v->backlog_count++) % v->backlog_cap];
        memset(rep, 0, sizeof *rep);
        memcpy(rep->data, p, len);
        rep->len = len;
}

int storvsp_restore_channel(struct vmbus_channel *ch, const struct vmbus_open_request *req,
                            const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        struct storvsp_device *d = vmbus_device_data(vmbus_channel_device(ch));
        uint32_t relid = vmbus_channel_relid(ch);
        const struct vmstate_section *sec = vmstate_find(secs, n, STORVSP_CHANNEL_STATE_TAG, relid);
        if (!sec)
                return errorf(err, errlen, -EINVAL, "the state has no STCH section for channel %u", relid);
        struct storvsp_channel_state *st = malloc(sizeof *st);
        int r = !st ? -ENOMEM : storvsp_channel_state_decode(sec, st, err, errlen);
        if (r == 0 && st->sub_index != req->sub_channel_index)
                r = errorf(err, errlen, -EINVAL, "section STCH #%u: sub-channel %u, the channel is %u", relid,
                           st->sub_index, req->sub_channel_index);
        if (r == 0 && replies_walk(st, NULL, NULL) > (int)(d->cfg.controller.queue_depth + 4))
                r = errorf(err, errlen, -EINVAL, "section STCH #%u: more replies than this VM's queue holds", relid);
        if (r == 0) {
                /* Opened as the guest's OPENCHANNEL would, but quiesced. */
                pthread_mutex_lock(&d->lock);
                d->quiesced = true;
                pthread_mutex_unlock(&d->lock);
                r = storvsp_provider_open(ch, req);
        }
        if (r == 0)
                replies_walk(st, backlog_push, vmbus_channel_data(ch)); /* the worker is parked */
        free(st);
        return r;
}

/* ---- the controller's row of the worker's device table ---- */

/* Each SCSI controller's row of the worker's device table: quiesce parks
 * its channel workers and waits for the I/O in flight, whose completions
 * are held until resume; save and restore the controller (STCT). Its
 * channels (STCH) go through the VMBus server's row, storvsp_save_channel
 * and storvsp_restore_channel above. */
static int row_quiesce(void *dev) {
        return storvsp_device_quiesce(dev);
}

static void row_resume(void *dev) {
        storvsp_device_resume(dev);
}

static int row_save(void *dev, struct vmstate_writer *w, char *err, size_t errlen) {
        return storvsp_device_save(dev, w, err, errlen);
}

static int row_restore(void *dev, const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        return storvsp_device_restore(dev, secs, n, err, errlen);
}

/* Summed over the controllers: how often a save or pause quiesced them
 * and how many completions of I/O in flight a quiesce waited for
 * (bench/bench-save.c shows its save landed mid-I/O). */
static void row_stats(void *dev, struct json_object *into) {
        struct storvsp_device_stats s;
        storvsp_device_get_stats(dev, &s);
        device_stat_add(into, "storvsp_replies", s.replies);
        device_stat_add(into, "storvsp_quiesces", s.quiesces);
        device_stat_add(into, "storvsp_held", s.held);
}

static const uint32_t row_tags[] = { STORVSP_CONTROLLER_STATE_TAG, STORVSP_CHANNEL_STATE_TAG, 0 };

const struct device_ops storvsp_device_ops = {
        .name = "storvsp", .quiesce = row_quiesce, .resume = row_resume,
        .save = row_save, .restore = row_restore, .tags = row_tags, .stats = row_stats,
};
