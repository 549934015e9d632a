// SPDX-License-Identifier: MIT
/* The echo device's worker (vmbustest/echo.h): one device worker
 * (common/devworker.h) per device, each open channel's doorbell one of its
 * sources. On a doorbell it serves with the guest's signals masked until
 * the ring stays empty, polling for poll_us before sleeping again (§5.5:
 * the guest signals only on empty -> non-empty while interrupt_mask is 0,
 * so a busy channel costs no doorbells at all). The serve loop returns
 * DW_AGAIN while the channel is busy, so a pause (vmbus_echo_quiesce) or
 * a stop gets in between two rounds with the mask kept: the guest does
 * not signal meanwhile, and the worker calls again after resume. */
#include <errno.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>

#include "common/devworker.h"
#include "common/log.h"
#include "common/macro.h"
#include "echo-internal.h"

/* process rounds per callback before the worker looks at its requests. */
#define ECHO_ROUNDS 64u

/* One step of the serve loop: DW_AGAIN while there is or may be work
 * (masked), 0 when the channel went idle (unmasked), < 0 when the ring
 * failed. */
static int serve_round(struct echo_channel *e) {
        struct vmbus_ring_pair *rp = vmbus_channel_rings(e->ch);
        int n = echo_process(e);
        if (n < 0 || vmbus_ring_broken(rp))
                return n < 0 ? n : -EIO;
        if (n > 0) {
                e->idle_since = 0;
                return DW_AGAIN;
        }
        if (e->dev->poll_us) {
                uint64_t now = now_us(CLOCK_MONOTONIC);
                if (!e->idle_since)
                        e->idle_since = now;
                if (now - e->idle_since < e->dev->poll_us) {
                        /* Idle polling must not starve the guest's vCPU
                         * thread when cores are shared. */
                        sched_yield();
                        return DW_AGAIN;
                }
        }
        e->masked = false;
        if (!vmbus_ring_unmask(rp))
                return 0;
        /* Data slipped in before the unmask was visible. If we still make
         * no progress we wait for room in the guest's ring: the guest
         * signals once it has read past our pending_send_sz (§5.6), so
         * sleep. */
        n = echo_process(e);
        if (n <= 0)
                return n;
        vmbus_ring_mask(rp);
        e->masked = true;
        e->idle_since = 0;
        return DW_AGAIN;
}

/* The doorbell (revents != 0), or the worker calling again after
 * DW_AGAIN (revents 0). The doorbell is level-triggered: read it first,
 * so a signal from here on makes it readable again. */
static int on_doorbell(struct dw_source *src, int fd, uint32_t revents, void *opaque) {
        struct echo_channel *e = opaque;
        if (revents) {
                eventfd_t v;
                (void)eventfd_read(fd, &v);
        }
        if (e->dead)
                return 0;
        if (!e->masked) {
                vmbus_ring_mask(vmbus_channel_rings(e->ch));
                e->masked = true;
                e->idle_since = 0;
        }
        int r = DW_AGAIN;
        for (unsigned i = 0; i < ECHO_ROUNDS && r == DW_AGAIN && !devworker_should_yield(e->dev->w); i++)
                r = serve_round(e);
        if (r < 0) {
                /* Stop serving this channel only; the guest can still
                 * close it (counted as broken: the ring is) and every
                 * other channel runs on (§5). */
                e->dead = true;
                return 0;
        }
        return r;
}

static int add_doorbell(void *arg) {
        struct echo_channel *e = arg;
        return devworker_add_io(e->dev->w, vmbus_channel_event_fd(e->ch), EPOLLIN, on_doorbell, e, &e->doorbell);
}

static int free_doorbell(void *arg) {
        struct echo_channel *e = arg;
        dw_source_free(e->doorbell);
        e->doorbell = NULL;
        return 0;
}

/* From open (a VP thread, the server's serial held) or restore_channel.
 * The source is added on the worker's thread, which runs calls while
 * paused too. */
int echo_channel_start(struct echo_channel *e) {
        int r = devworker_call(e->dev->w, add_doorbell, e);
        if (r < 0)
                return r;
        /* A guest may have written before it opened (or before we masked):
         * serve once before the first wait. */
        if (eventfd_write(vmbus_channel_event_fd(e->ch), 1) < 0) {
                r = -errno;
                (void)devworker_call(e->dev->w, free_doorbell, e);
        }
        return r;
}

/* From close: when the call returns the worker is between callbacks and
 * never calls this channel's again. */
void echo_channel_stop(struct echo_channel *e) {
        (void)devworker_call(e->dev->w, free_doorbell, e);
}

int vmbus_echo_init(struct vmbus_echo *e, unsigned poll_us) {
        *e = (struct vmbus_echo){ .poll_us = poll_us };
        int r = devworker_new(&(struct devworker_config){ .name = "vmbus-echo" }, &e->w);
        if (r == 0)
                r = devworker_start(e->w);
        if (r < 0) {
                devworker_free(e->w);
                e->w = NULL;
        }
        return r;
}

void vmbus_echo_fini(struct vmbus_echo *e) {
        if (!e)
                return;
        devworker_free(e->w);
        e->w = NULL;
}

int vmbus_echo_quiesce(struct vmbus_echo *e) {
        return devworker_pause(e->w);
}

void vmbus_echo_resume(struct vmbus_echo *e) {
        devworker_resume(e->w);
}
