// SPDX-License-Identifier: MIT
/* The library thread of a VMBUS_DRIVE_THREAD channel, a device worker
 * (common/devworker.h) with the doorbell as its one source: on a doorbell,
 * serve with the guest's signals masked until the ring stays empty,
 * polling for poll_us before sleeping again (§5.5: the guest signals only
 * on empty -> non-empty while interrupt_mask is 0, so a busy channel costs
 * no doorbells at all). The serve loop is a callback returning DW_AGAIN
 * while the channel is busy, so a pause (vmbus_server_quiesce) or a stop
 * gets in between two rounds, with the mask kept: the guest does not
 * signal meanwhile, and the worker calls the callback again after resume. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "common/devworker.h"
#include "common/log.h"
#include "common/macro.h"
#include "internal.h"

/* process() calls per callback before the worker looks at its requests. */
#define CHANNEL_ROUNDS 64u

/* One step of the serve loop (docs/vmbus.md): DW_AGAIN while there is or
 * may be work (masked), 0 when the channel went idle (unmasked), < 0 when
 * the provider or the ring failed. */
static int serve_round(struct vmbus_channel *ch) {
        const struct vmbus_provider_ops *ops = ch->dev->ops;
        struct vmbus_ring_pair *rp = &ch->rings;
        int n = ops->process(ch);
        if (n < 0 || vmbus_ring_broken(rp))
                return n < 0 ? n : -EIO;
        if (n > 0) {
                ch->idle_since = 0;
                return DW_AGAIN;
        }
        if (ops->poll_us) {
                uint64_t now = now_us(CLOCK_MONOTONIC);
                if (!ch->idle_since)
                        ch->idle_since = now;
                if (now - ch->idle_since < ops->poll_us) {
                        /* Idle polling must not starve the guest's vCPU
                         * thread when cores are shared. */
                        sched_yield();
                        return DW_AGAIN;
                }
        }
        ch->masked = false;
        if (!vmbus_ring_unmask(rp))
                return 0;
        /* Data slipped in before the unmask was visible. If the provider
         * still makes no progress it is waiting for room in the guest's
         * ring: the guest signals once it has read past our
         * pending_send_sz (§5.6), so sleep. */
        n = ops->process(ch);
        if (n <= 0)
                return n;
        vmbus_ring_mask(rp);
        ch->masked = true;
        ch->idle_since = 0;
        return DW_AGAIN;
}

/* The doorbell (revents != 0), or the worker calling again after
 * DW_AGAIN (revents 0). The doorbell is level-triggered: read it first,
 * so a signal from here on makes it readable again. */
static int on_doorbell(struct dw_source *src, int fd, uint32_t revents, void *opaque) {
        struct vmbus_channel *ch = opaque;
        if (revents) {
                eventfd_t v;
                (void)eventfd_read(fd, &v);
        }
        if (__atomic_load_n(&ch->dead, __ATOMIC_ACQUIRE))
                return 0;
        if (!ch->masked) {
                vmbus_ring_mask(&ch->rings);
                ch->masked = true;
                ch->idle_since = 0;
        }
        int r = DW_AGAIN;
        for (unsigned i = 0; i < CHANNEL_ROUNDS && r == DW_AGAIN && !devworker_should_yield(ch->worker); i++)
                r = serve_round(ch);
        if (r < 0) {
                /* Stop serving this channel only; the guest can still
                 * close it and every other channel runs on (§5). */
                __atomic_store_n(&ch->dead, 1, __ATOMIC_RELEASE);
                return 0;
        }
        return r;
}

/* On the VP thread handling OPENCHANNEL, with serial held. */
int vmbus_channel_thread_start(struct vmbus_channel *ch) {
        char name[16];
        snprintf(name, sizeof name, "vmbus-ch%u", ch->relid);
        ch->masked = false;
        int r = devworker_new(&(struct devworker_config){ .name = name }, &ch->worker);
        if (r == 0)
                r = devworker_add_io(ch->worker, ch->efd, EPOLLIN, on_doorbell, ch, NULL);
        /* A guest may have written before it opened (or before we masked):
         * serve once before the first wait. */
        if (r == 0 && eventfd_write(ch->efd, 1) < 0)
                r = -errno;
        /* Opened while the server is quiesced: parked until it resumes. */
        if (r == 0 && ch->srv->quiesced)
                r = devworker_pause(ch->worker);
        if (r == 0)
                r = devworker_start(ch->worker);
        if (r < 0) {
                devworker_free(ch->worker);
                ch->worker = NULL;
        }
        return r;
}

void vmbus_channel_thread_stop(struct vmbus_channel *ch) {
        devworker_free(ch->worker); /* stops it, paused or not */
        ch->worker = NULL;
}

void vmbus_channel_thread_pause(struct vmbus_channel *ch) {
        if (ch->worker)
                (void)devworker_pause(ch->worker); /* never on its own thread */
}

void vmbus_channel_thread_resume(struct vmbus_channel *ch) {
        if (ch->worker)
                devworker_resume(ch->worker);
}
