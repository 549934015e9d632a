// SPDX-License-Identifier: MIT
/* The library thread of a VMBUS_DRIVE_THREAD channel: wait for the doorbell,
 * then serve with the guest's signals masked until the ring stays empty,
 * polling for poll_us before sleeping again (§5.5: the guest signals only on
 * empty -> non-empty while interrupt_mask is 0, so a busy channel costs no
 * doorbells at all). */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "internal.h"

static bool thread_stopping(struct vmbus_channel *ch) {
        return __atomic_load_n(&ch->stop, __ATOMIC_ACQUIRE);
}

/* Serve until idle. Returns 0 when the channel went idle (interrupts
 * unmasked), < 0 when the provider or the ring failed. */
static int channel_serve(struct vmbus_channel *ch) {
        const struct vmbus_provider_ops *ops = ch->dev->ops;
        struct vmbus_ring_pair *rp = &ch->rings;
        uint64_t idle_since = 0;
        vmbus_ring_mask(rp);
        while (!thread_stopping(ch)) {
                int n = ops->process(ch);
                if (n < 0 || vmbus_ring_broken(rp))
                        return n < 0 ? n : vmbus_ring_broken(rp);
                if (n > 0) {
                        idle_since = 0;
                        continue;
                }
                if (ops->poll_us) {
                        uint64_t now = now_us(CLOCK_MONOTONIC);
                        if (!idle_since)
                                idle_since = now;
                        if (now - idle_since < ops->poll_us) {
                                /* Idle polling must not starve the guest's
                                 * vCPU thread when cores are shared. */
                                sched_yield();
                                continue;
                        }
                }
                if (!vmbus_ring_unmask(rp))
                        return 0;
                /* Data slipped in before the unmask was visible. If the
                 * provider still makes no progress it is waiting for room
                 * in the guest's ring: the guest signals once it has read
                 * past our pending_send_sz (§5.6), so sleep. */
                n = ops->process(ch);
                if (n <= 0)
                        return n;
                vmbus_ring_mask(rp);
                idle_since = 0;
        }
        return 0;
}

static void *channel_thread(void *arg) {
        struct vmbus_channel *ch = arg;
        struct pollfd pfd[2] = { { .fd = ch->efd, .events = POLLIN }, { .fd = ch->stop_efd, .events = POLLIN } };
        bool dead = false;
        /* A guest may have written before it opened (or before we masked):
         * serve once before the first wait. */
        bool pending = true;
        while (!thread_stopping(ch)) {
                if (!pending) {
                        if (poll(pfd, 2, -1) < 0 && errno != EINTR)
                                break;
                        if (pfd[1].revents)
                                break;
                        if (!(pfd[0].revents & POLLIN))
                                continue;
                        eventfd_t v;
                        (void)eventfd_read(ch->efd, &v);
                }
                pending = false;
                if (!dead && channel_serve(ch) < 0) {
                        /* Stop serving this channel only; the guest can still
                         * close it and every other channel runs on (§5). */
                        dead = true;
                        __atomic_store_n(&ch->dead, 1, __ATOMIC_RELEASE);
                }
        }
        return NULL;
}

int vmbus_channel_thread_start(struct vmbus_channel *ch) {
        ch->stop_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (ch->stop_efd < 0)
                return -errno;
        __atomic_store_n(&ch->stop, 0, __ATOMIC_RELEASE);
        int r = -pthread_create(&ch->thread, NULL, channel_thread, ch);
        if (r < 0) {
                ch->stop_efd = safe_close(ch->stop_efd);
                return r;
        }
        ch->thread_running = true;
        return 0;
}

void vmbus_channel_thread_stop(struct vmbus_channel *ch) {
        if (!ch->thread_running)
                return;
        __atomic_store_n(&ch->stop, 1, __ATOMIC_RELEASE);
        (void)eventfd_write(ch->stop_efd, 1);
        pthread_join(ch->thread, NULL);
        ch->thread_running = false;
        ch->stop_efd = safe_close(ch->stop_efd);
}
