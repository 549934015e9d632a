// SPDX-License-Identifier: MIT
/* The VMBus glue of storvsp: the provider ops, the device, and its
 * lifecycle. Every open channel is served by its own device worker
 * (vchan.c); the device keeps the list of them so that it can quiesce and
 * resume them together (docs/vm-state.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "provider-internal.h"

static void vchan_free(struct storvsp_vchan *v) {
        devworker_free(v->w); /* stops it: its on_exit drains the I/O and closes the io_uring */
        storvsp_channel_free(v->core);
        free(v->backlog);
        free(v);
}

int storvsp_provider_open(struct vmbus_channel *ch, const struct vmbus_open_request *req) {
        struct storvsp_device *d = vmbus_device_data(vmbus_channel_device(ch));
        struct storvsp_vchan *v = calloc(1, sizeof *v);
        if (!v)
                return -ENOMEM;
        v->dev = d;
        v->ch = ch;
        v->primary = req->sub_channel_index == 0;
        v->generation = UINT64_MAX;
        v->backlog_cap = d->cfg.controller.queue_depth + 4;
        v->backlog = calloc(v->backlog_cap, sizeof *v->backlog);
        int r = v->backlog ? storvsp_channel_new(d->ctl, req->sub_channel_index, &d->cfg.gm, &v->core) : -ENOMEM;
        for (unsigned i = 0; r == 0 && i < d->cfg.n_ram; i++)
                if (storvsp_channel_register_memory(v->core, d->cfg.ram[i].base, d->cfg.ram[i].len) < 0)
                        DEV_STAT(d, ram_unregistered, 1); /* no fixed buffers: still zero-copy */
        if (r == 0) {
                pthread_mutex_lock(&d->lock);
                r = storvsp_vchan_start(v, d->quiesced); /* opened while quiesced: it waits for the resume */
                if (r == 0) {
                        v->next = d->vchans;
                        d->vchans = v;
                }
                pthread_mutex_unlock(&d->lock);
        }
        if (r < 0) {
                vchan_free(v);
                return r;
        }
        vmbus_channel_set_data(ch, v);
        return 0;
}

static void storvsp_close(struct vmbus_channel *ch) {
        struct storvsp_vchan *v = vmbus_channel_data(ch);
        if (!v)
                return;
        struct storvsp_device *d = v->dev;
        pthread_mutex_lock(&d->lock);
        for (struct storvsp_vchan **pp = &d->vchans; *pp; pp = &(*pp)->next)
                if (*pp == v) {
                        *pp = v->next;
                        break;
                }
        pthread_mutex_unlock(&d->lock);
        vchan_free(v); /* a quiesced worker stops too; what it held is dropped */
        vmbus_channel_set_data(ch, NULL);
}

static void storvsp_destroy(struct vmbus_device *dev) {
        storvsp_device_free(vmbus_device_data(dev));
}

const struct vmbus_provider_ops storvsp_provider_ops = {
        .name = "storvsp",
        .class_id = { .b = HV_SCSI_GUID },
        .guest_max_packet = STORVSC_MAX_PKT_SIZE, /* 80: §5.4 */
        .max_subchannels = STORVSP_MAX_SUB_CHANNELS,
        .drive = VMBUS_DRIVE_EVENTFD,
        .open = storvsp_provider_open,
        .close = storvsp_close,
        .destroy = storvsp_destroy,
        .save_channel = storvsp_save_channel,
        .restore_channel = storvsp_restore_channel,
};

int storvsp_device_new(const struct storvsp_device_config *cfg, struct storvsp_device **out) {
        if (!cfg || !cfg->gm.map || cfg->n_ram > STORVSP_MAX_RAM_REGIONS)
                return -EINVAL;
        struct storvsp_device *d = calloc(1, sizeof *d);
        if (!d)
                return -ENOMEM;
        d->cfg = *cfg;
        int r = storvsp_controller_new(&cfg->controller, &d->ctl);
        if (r < 0) {
                free(d);
                return r;
        }
        pthread_mutex_init(&d->lock, NULL);
        /* the channels size their backlog from the effective depth */
        d->cfg.controller.queue_depth = storvsp_controller_queue_depth(d->ctl);
        *out = d;
        return 0;
}

void storvsp_device_free(struct storvsp_device *d) {
        if (!d)
                return;
        storvsp_controller_free(d->ctl);
        pthread_mutex_destroy(&d->lock);
        free(d);
}

struct storvsp_controller *storvsp_device_controller(struct storvsp_device *d) {
        return d->ctl;
}

/* The channel workers add to the counters atomically (DEV_STAT) while the
 * owner reads them: each read is atomic too. */
void storvsp_device_get_stats(const struct storvsp_device *d, struct storvsp_device_stats *s) {
        _Static_assert(sizeof *s % sizeof(uint64_t) == 0, "counters are uint64_t only");
        const uint64_t *from = (const uint64_t *)&d->stats;
        uint64_t *to = (uint64_t *)s;
        for (size_t i = 0; i < sizeof *s / sizeof(uint64_t); i++)
                to[i] = __atomic_load_n(&from[i], __ATOMIC_RELAXED);
}

/* The device lock is held throughout: a channel opened meanwhile starts
 * paused, one closed meanwhile waits. Workers are paused one after the
 * other (each finishes the batch it is in), then each drains its disk
 * queue on its own thread. */
int storvsp_device_quiesce(struct storvsp_device *d) {
        int r = 0;
        pthread_mutex_lock(&d->lock);
        if (!d->quiesced)
                DEV_STAT(d, quiesces, 1);
        d->quiesced = true;
        for (struct storvsp_vchan *v = d->vchans; v && r == 0; v = v->next)
                r = devworker_pause(v->w);
        for (struct storvsp_vchan *v = d->vchans; v && r == 0; v = v->next)
                r = storvsp_vchan_hold(v);
        /* Nothing in flight: a VHDX's metadata goes to the file now, so a
         * saved state or a migration's destination finds it there. */
        if (r == 0)
                r = storvsp_controller_sync_metadata(d->ctl);
        pthread_mutex_unlock(&d->lock);
        return r;
}

void storvsp_device_resume(struct storvsp_device *d) {
        pthread_mutex_lock(&d->lock);
        if (d->quiesced)
                for (struct storvsp_vchan *v = d->vchans; v; v = v->next) {
                        devworker_resume(v->w);
                        storvsp_vchan_wake(v);
                }
        d->quiesced = false;
        pthread_mutex_unlock(&d->lock);
}

/* Under the device lock, like a quiesce: no channel opens or closes
 * meanwhile, and each worker does its part on its own thread. A running
 * worker is paused around it, so that a guest keeping it busy cannot
 * hold the call off (a session yields to a pause between batches). */
int storvsp_device_detach(struct storvsp_device *d, unsigned lun) {
        int r = storvsp_controller_detach(d->ctl, lun);
        if (r < 0)
                return r;
        pthread_mutex_lock(&d->lock);
        for (struct storvsp_vchan *v = d->vchans; v; v = v->next) {
                int k = d->quiesced ? 0 : devworker_pause(v->w);
                if (k == 0)
                        k = storvsp_vchan_release(v);
                if (!d->quiesced) {
                        devworker_resume(v->w);
                        storvsp_vchan_wake(v); /* what the guest queued meanwhile */
                }
                r = r < 0 ? r : k;
        }
        pthread_mutex_unlock(&d->lock);
        return r;
}

bool storvsp_device_is_quiesced(struct storvsp_device *d) {
        pthread_mutex_lock(&d->lock);
        bool q = d->quiesced;
        pthread_mutex_unlock(&d->lock);
        return q;
}

/* The workers are parked (the pause handshake orders their writes before
 * these reads): their backlogs are read here directly. */
int storvsp_device_for_each_pending(struct storvsp_device *d,
                                    int (*fn)(void *opaque, const struct storvsp_pending *p), void *opaque) {
        int r = 0, count = 0;
        pthread_mutex_lock(&d->lock);
        if (!d->quiesced)
                r = -EBUSY;
        for (struct storvsp_vchan *v = d->vchans; v && r == 0; v = v->next)
                for (unsigned i = 0; i < v->backlog_count && r == 0; i++, count++) {
                        const struct storvsp_reply *rep = &v->backlog[(v->backlog_head + i) % v->backlog_cap];
                        struct vmpacket_descriptor desc;
                        memcpy(&desc, rep->data, sizeof desc);
                        struct storvsp_pending p = { .channel = vmbus_channel_subchannel_index(v->ch),
                                                     .type = desc.type, .trans_id = desc.trans_id,
                                                     .len = (uint32_t)rep->len };
                        memcpy(p.packet, rep->data, rep->len);
                        r = fn(opaque, &p);
                }
        pthread_mutex_unlock(&d->lock);
        return r < 0 ? r : count;
}
