// SPDX-License-Identifier: MIT
/* The worker of an open storvsp channel (docs/storvsp.md, "VMBus
 * provider"): a device worker (common/devworker.h) that moves packets
 * between the ring pair and the storvsp core (storvsp.h). Per batch:
 * replies held back (by a full guest ring or a quiesce), then finished I/O,
 * then new packets while a request slot is free; io_uring_submit per
 * SUBMIT_BATCH requests, one read_index and one write_index publish, at
 * most one guest signal (§5.6). A wake-up (the doorbell, the disk queue's
 * eventfd, the primary channel's hot-plug eventfd) starts a session:
 * batches with the guest's doorbells masked (§5.5) until poll_us passed
 * without progress. A session returns DW_AGAIN instead of going on while a
 * pause or stop waits, and continues where it was after the resume. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "provider-internal.h"

#define DEFAULT_POLL_US 50u
/* Requests handed to io_uring per io_uring_submit while draining the ring.
 * One submit for everything drained holds the device idle until the last
 * request is prepared and the whole batch is in the block layer (its plug
 * releases them together); batches of 8 start the device early and still
 * share the system call (docs/storvsp.md, "Through the guest"). */
#define SUBMIT_BATCH 8u

/* Writes one reply; false if the guest's ring is full (pending_send_sz set:
 * the guest signals once it has read enough). */
static bool send_one(struct vmbus_ring_pair *rp, const struct storvsp_reply *r) {
        struct vmpacket_descriptor d;
        memcpy(&d, r->data, sizeof d);
        const uint8_t *payload = r->data + sizeof d;
        size_t len = r->len - sizeof d;
        int k = d.type == VM_PKT_COMP ? vmbus_ring_send_completion(rp, d.trans_id, payload, len)
                                      : vmbus_ring_send_inband(rp, d.trans_id, false, payload, len);
        return k != -EAGAIN; /* -EMSGSIZE/-EBADMSG: dropped and counted by the ring */
}

/* Appends to the backlog; false if it is full. */
static bool keep(struct storvsp_vchan *v, const struct storvsp_reply *r) {
        if (v->backlog_count == v->backlog_cap) /* cannot happen: one reply per slot + 4 */
                return false;
        v->backlog[(v->backlog_head + v->backlog_count++) % v->backlog_cap] = *r;
        return true;
}

static void send_or_keep(struct storvsp_vchan *v, struct vmbus_ring_pair *rp, const struct storvsp_reply *r) {
        DEV_STAT(v->dev, replies, 1);
        if (v->backlog_count == 0 && send_one(rp, r))
                return;
        if (keep(v, r))
                DEV_STAT(v->dev, backlogged, 1);
}

static unsigned flush_backlog(struct storvsp_vchan *v, struct vmbus_ring_pair *rp) {
        unsigned n = 0;
        while (v->backlog_count && send_one(rp, &v->backlog[v->backlog_head])) {
                v->backlog_head = (v->backlog_head + 1) % v->backlog_cap;
                v->backlog_count--;
                n++;
        }
        return n;
}

/* Hot add/remove on the primary channel: ENUMERATE_BUS (§6.6). */
static void notify_rescan(struct storvsp_vchan *v, struct vmbus_ring_pair *rp) {
        if (!v->primary)
                return;
        uint64_t g = storvsp_controller_generation(v->dev->ctl);
        /* The table changes before the eventfd is written: a change seen
         * without its event is picked up when the event wakes us. */
        if (g == v->generation && !v->rescan_woken)
                return;
        v->generation = g;
        v->rescan_woken = false;
        if (!storvsp_controller_rescan_due(v->dev->ctl))
                return;
        struct storvsp_reply r = { .len = 0 };
        r.len = storvsp_build_enumerate_bus(r.data);
        send_or_keep(v, rp, &r);
}

static void submit(struct storvsp_vchan *v) {
        int r = storvsp_channel_submit(v->core);
        if (r > 0) {
                DEV_STAT(v->dev, submits, 1);
                DEV_STAT(v->dev, submitted, (unsigned)r);
        }
}

static unsigned drain_ring(struct storvsp_vchan *v, struct vmbus_ring_pair *rp) {
        unsigned n = 0, unsubmitted = 0;
        if (vmbus_ring_recv_begin(rp) < 0)
                return 0;
        while (v->backlog_count == 0 && storvsp_channel_has_room(v->core)) {
                struct vmbus_packet p;
                int k = vmbus_ring_recv(rp, v->buf, sizeof v->buf, &p);
                if (k == -EMSGSIZE) /* skipped and counted by the ring library */
                        continue;
                if (k <= 0)
                        break;
                n++;
                struct storvsp_reply r;
                k = storvsp_channel_handle(v->core, p.data, p.len, &r);
                /* offer first: storvsc uses the sub-channels that arrive (§6.7) */
                if (r.new_sub_channels &&
                    vmbus_device_offer_subchannels(vmbus_channel_device(v->ch), r.new_sub_channels) < 0)
                        DEV_STAT(v->dev, subchannel_offer_failures, 1);
                if (k == STORVSP_REPLY)
                        send_or_keep(v, rp, &r);
                else if (k == STORVSP_QUEUED && ++unsubmitted == SUBMIT_BATCH) {
                        submit(v);
                        unsubmitted = 0;
                }
        }
        vmbus_ring_recv_end(rp);
        return n;
}

/* One batch. Returns the work done, or -EBADMSG once the ring is broken. */
static int serve(struct storvsp_vchan *v, struct vmbus_ring_pair *rp) {
        unsigned work;
        vmbus_ring_send_begin(rp);
        work = flush_backlog(v, rp);
        notify_rescan(v, rp);
        int n = storvsp_channel_reap(v->core, v->replies, REPLIES_PER_REAP, 0);
        for (int i = 0; i < n; i++)
                send_or_keep(v, rp, &v->replies[i]);
        work += n > 0 ? (unsigned)n : 0;
        work += drain_ring(v, rp);
        submit(v); /* the rest of the batch */
        vmbus_ring_send_end(rp);
        DEV_STAT(v->dev, batches, 1);
        return vmbus_ring_broken(rp) ? -EBADMSG : (int)work;
}

/* A broken ring is not served any more (vmbus/ring.h): the worker idles
 * until close, which counts it; its I/O in flight is drained then. */
static void stop_serving(struct storvsp_vchan *v) {
        v->broken = true;
        v->polling = false;
        for (unsigned i = 0; i < ARRAY_SIZE(v->src); i++)
                dw_source_free(TAKE_PTR(v->src[i]));
}

/* Batches until nothing happened for poll_us, then unmask and sleep: 0.
 * DW_AGAIN when a pause or stop waits; the next call goes on. */
static int session(struct storvsp_vchan *v) {
        struct vmbus_ring_pair *rp = vmbus_channel_rings(v->ch);
        unsigned poll_us = v->dev->cfg.poll_us ? v->dev->cfg.poll_us : DEFAULT_POLL_US;
        if (!v->polling) {
                vmbus_ring_mask(rp); /* polling from here: no doorbells */
                v->polling = true;
                v->idle_since = now_us(CLOCK_MONOTONIC);
        }
        for (;;) {
                if (devworker_should_yield(v->w))
                        return DW_AGAIN; /* between batches: nothing half done */
                int n = serve(v, rp);
                if (n < 0) {
                        stop_serving(v);
                        return 0;
                }
                uint64_t now = now_us(CLOCK_MONOTONIC);
                if (n > 0) {
                        v->idle_since = now;
                        continue;
                }
                if (now - v->idle_since < poll_us) {
                        /* Poll with or without I/O in flight: a guest that
                         * got completions answers them with new requests
                         * within microseconds. Spin, do not sched_yield():
                         * on a loaded host a yield hands the core to another
                         * task for its whole slice (measured: 4 ms per
                         * request at QD1, docs/storvsp.md). */
                        DEV_STAT(v->dev, polls, 1);
                        __builtin_ia32_pause();
                        continue;
                }
                if (!vmbus_ring_unmask(rp)) /* re-checks: no lost doorbell */
                        break;
                if (v->backlog_count || !storvsp_channel_has_room(v->core))
                        break; /* blocked: wait for the guest or the disk */
                vmbus_ring_mask(rp);
        }
        v->polling = false;
        DEV_STAT(v->dev, sleeps, 1);
        return 0;
}

static bool take_event(int fd) {
        uint64_t x;
        return read(fd, &x, sizeof x) == (ssize_t)sizeof x;
}

/* A wake-up takes the doorbell's and the disk's counts at once (as one
 * poll() did): another source of the same epoll batch then finds its count
 * taken and leaves the work to this session. */
static bool session_begin(struct storvsp_vchan *v) {
        bool doorbell = take_event(vmbus_channel_event_fd(v->ch));
        bool disk = take_event(v->disk_efd);
        return doorbell || disk;
}

/* The doorbell and the disk queue's eventfd (also written by a resume).
 * revents 0: the call after a DW_AGAIN. */
static int on_wake(struct dw_source *s, int fd, uint32_t revents, void *opaque) {
        struct storvsp_vchan *v = opaque;
        (void)s;
        (void)fd;
        if (!v->polling && (!revents || !session_begin(v)))
                return 0;
        return session(v);
}

/* The controller's hot-plug eventfd (primary channel): read by
 * storvsp_controller_rescan_due in the next batch. */
static int on_rescan(struct dw_source *s, int fd, uint32_t revents, void *opaque) {
        struct storvsp_vchan *v = opaque;
        (void)s;
        (void)fd;
        v->rescan_woken = true;
        if (!v->polling) {
                if (!revents)
                        return 0;
                (void)session_begin(v);
        }
        return session(v);
}

/* Last on the worker's thread: the io_uring is this thread's, drained and
 * closed here, where the sandbox allows it, not by close() on whatever
 * thread that runs. */
static void on_worker_exit(void *opaque) {
        struct storvsp_vchan *v = opaque;
        storvsp_channel_quiesce(v->core);
}

int storvsp_vchan_start(struct storvsp_vchan *v, bool paused) {
        const struct devworker_config cfg = { .name = "storvsp", .on_exit = on_worker_exit, .opaque = v };
        int fds[ARRAY_SIZE(v->src)] = {
                vmbus_channel_event_fd(v->ch),
                storvsp_channel_eventfd(v->core),
                v->primary ? storvsp_controller_rescan_fd(v->dev->ctl) : -1,
        };
        if (fds[0] < 0 || fds[1] < 0)
                return -EIO;
        v->disk_efd = fds[1];
        int r = devworker_new(&cfg, &v->w);
        for (unsigned i = 0; r == 0 && i < ARRAY_SIZE(fds); i++)
                if (fds[i] >= 0)
                        r = devworker_add_io(v->w, fds[i], EPOLLIN, i == 2 ? on_rescan : on_wake, v, &v->src[i]);
        if (r == 0 && paused) /* parks before its first callback */
                r = devworker_pause(v->w);
        if (r == 0)
                r = devworker_start(v->w);
        if (r < 0)
                devworker_free(TAKE_PTR(v->w));
        return r;
}

static int hold_inflight(void *arg) {
        struct storvsp_vchan *v = arg;
        while (storvsp_channel_inflight(v->core) > 0) {
                int n = storvsp_channel_reap(v->core, v->replies, REPLIES_PER_REAP, 1);
                if (n < 0)
                        return n;
                for (int i = 0; i < n; i++) {
                        DEV_STAT(v->dev, replies, 1);
                        if (keep(v, &v->replies[i]))
                                DEV_STAT(v->dev, held, 1);
                }
        }
        return 0;
}

int storvsp_vchan_hold(struct storvsp_vchan *v) {
        return devworker_call(v->w, hold_inflight, v);
}

/* On the worker's thread, between batches (devworker_call): the I/O in
 * flight completes and its completions go to the guest now, in order
 * behind what the backlog holds (kept instead while the device is
 * quiesced or the ring broken: nothing may touch the ring then); then
 * the channel drops the detached disks. */
static int release_detached(void *arg) {
        struct storvsp_vchan *v = arg;
        struct vmbus_ring_pair *rp = vmbus_channel_rings(v->ch);
        bool post = !v->dev->quiesced && !v->broken; /* the caller holds dev->lock */
        int r = 0;
        if (post) {
                vmbus_ring_send_begin(rp);
                (void)flush_backlog(v, rp);
        }
        while (r == 0 && storvsp_channel_inflight(v->core) > 0) {
                int n = storvsp_channel_reap(v->core, v->replies, REPLIES_PER_REAP, 1);
                r = n < 0 ? n : 0;
                for (int i = 0; i < n; i++) {
                        if (post) {
                                send_or_keep(v, rp, &v->replies[i]);
                        } else {
                                DEV_STAT(v->dev, replies, 1);
                                if (keep(v, &v->replies[i]))
                                        DEV_STAT(v->dev, held, 1);
                        }
                }
        }
        if (post)
                vmbus_ring_send_end(rp); /* at most one guest signal */
        if (r == 0)
                storvsp_channel_release_detached(v->core);
        return r;
}

int storvsp_vchan_release(struct storvsp_vchan *v) {
        return devworker_call(v->w, release_detached, v);
}

void storvsp_vchan_wake(struct storvsp_vchan *v) {
        /* The disk queue's eventfd doubles as the wake-up: io_uring adds to
         * it, and so may we. Its callback starts a session whose first batch
         * posts the backlog. */
        uint64_t one = 1;
        (void)!write(v->disk_efd, &one, sizeof one);
}
