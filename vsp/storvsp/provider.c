// SPDX-License-Identifier: MIT
/* The VMBus glue of storvsp: a thread per open channel that moves packets
 * between the ring pair and the storvsp core (storvsp.h). Per batch: replies
 * held back by a full guest ring, then finished I/O, then new packets while
 * a request slot is free; io_uring_submit per SUBMIT_BATCH requests, one
 * read_index and one write_index publish, at most one guest signal (§5.6).
 * After any work it polls for poll_us with the guest's doorbells masked
 * (§5.5), then sleeps on the doorbell, the io_uring eventfd and (primary
 * channel) the controller's hot-plug eventfd. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>

#include "common/log.h"
#include "common/macro.h"
#include "storvsp/protocol.h"
#include "storvsp/provider.h"

#define REPLIES_PER_REAP 64u
#define DEFAULT_POLL_US 50u
/* Requests handed to io_uring per io_uring_submit while draining the ring.
 * One submit for everything drained holds the device idle until the last
 * request is prepared and the whole batch is in the block layer (its plug
 * releases them together); batches of 8 start the device early and still
 * share the system call (docs/storvsp.md, "Through the guest"). */
#define SUBMIT_BATCH 8u
/* The largest packet storvsc sends: descriptor, one range with the PFNs of
 * the largest transfer, a vstor_packet. Longer ones are skipped by the ring. */
#define PACKET_BUF (32u + 8u * STORVSP_MAX_PFNS + VSTOR_PACKET_SIZE)

struct storvsp_device {
        struct storvsp_device_config cfg;
        struct storvsp_controller *ctl;
        struct storvsp_device_stats stats; /* atomic adds */
};

struct storvsp_vchan {
        struct storvsp_device *dev;
        struct vmbus_channel *ch;
        struct storvsp_channel *core;
        bool primary;
        uint64_t generation; /* of the LUN table, for hot-plug notifications */
        bool rescan_woken;   /* the controller's hot-plug eventfd fired */
        bool stopping;       /* atomic: close wants the thread to end */
        int stop_fd;
        pthread_t thread;
        bool started;
        struct storvsp_reply *backlog; /* replies the full guest ring did not take, FIFO */
        unsigned backlog_cap, backlog_head, backlog_count;
        struct storvsp_reply replies[REPLIES_PER_REAP];
        uint8_t buf[PACKET_BUF];
};

#define DEV_STAT(d, f, v) __atomic_fetch_add(&(d)->stats.f, (v), __ATOMIC_RELAXED)

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

static void send_or_keep(struct storvsp_vchan *v, struct vmbus_ring_pair *rp, const struct storvsp_reply *r) {
        DEV_STAT(v->dev, replies, 1);
        if (v->backlog_count == 0 && send_one(rp, r))
                return;
        if (v->backlog_count == v->backlog_cap) /* cannot happen: one reply per slot + 4 */
                return;
        v->backlog[(v->backlog_head + v->backlog_count++) % v->backlog_cap] = *r;
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

static void drain_fd(int fd) {
        uint64_t x;
        if (fd >= 0)
                (void)!read(fd, &x, sizeof x);
}

/* Sleeps until the guest, the disk, a hot plug or close wakes us. Returns
 * false on close. */
static bool sleep_for_work(struct storvsp_vchan *v) {
        struct pollfd p[4] = {
                { .fd = v->stop_fd, .events = POLLIN },
                { .fd = vmbus_channel_event_fd(v->ch), .events = POLLIN },
                { .fd = storvsp_channel_eventfd(v->core), .events = POLLIN },
                { .fd = v->primary ? storvsp_controller_rescan_fd(v->dev->ctl) : -1, .events = POLLIN },
        };
        DEV_STAT(v->dev, sleeps, 1);
        while (poll(p, ARRAY_SIZE(p), -1) < 0)
                if (errno != EINTR)
                        return false;
        if (p[0].revents)
                return false;
        drain_fd(p[1].revents ? p[1].fd : -1);
        drain_fd(p[2].revents ? p[2].fd : -1);
        if (p[3].revents) /* consumed by storvsp_controller_rescan_due */
                v->rescan_woken = true;
        return true;
}

static void vchan_serve(struct storvsp_vchan *v) {
        struct vmbus_ring_pair *rp = vmbus_channel_rings(v->ch);
        unsigned poll_us = v->dev->cfg.poll_us ? v->dev->cfg.poll_us : DEFAULT_POLL_US;
        do {
                vmbus_ring_mask(rp); /* polling from here: no doorbells */
                uint64_t idle_since = now_us(CLOCK_MONOTONIC);
                while (!__atomic_load_n(&v->stopping, __ATOMIC_ACQUIRE)) {
                        int n = serve(v, rp);
                        if (n < 0)
                                return; /* broken ring: the server counts it on close */
                        uint64_t now = now_us(CLOCK_MONOTONIC);
                        if (n > 0) {
                                idle_since = now;
                                continue;
                        }
                        if (now - idle_since < poll_us) {
                                /* Poll with or without I/O in flight: a
                                 * guest that got completions answers them
                                 * with new requests within microseconds.
                                 * Spin, do not sched_yield(): on a loaded
                                 * host a yield hands the core to another
                                 * task for its whole slice (measured: 4 ms
                                 * per request at QD1, docs/storvsp.md). */
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
        } while (sleep_for_work(v));
}

static void *vchan_thread(void *arg) {
        struct storvsp_vchan *v = arg;
        pthread_setname_np(pthread_self(), "storvsp"); /* else the creator's name (a vCPU's) */
        vchan_serve(v);
        /* The io_uring is this thread's: drained and closed here, where the
         * sandbox allows it, not by close() on whatever thread that runs. */
        storvsp_channel_quiesce(v->core);
        return NULL;
}

static int storvsp_open(struct vmbus_channel *ch, const struct vmbus_open_request *req) {
        struct storvsp_device *d = vmbus_device_data(vmbus_channel_device(ch));
        struct storvsp_vchan *v = calloc(1, sizeof *v);
        if (!v)
                return -ENOMEM;
        v->dev = d;
        v->ch = ch;
        v->primary = req->sub_channel_index == 0;
        v->generation = UINT64_MAX;
        v->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        v->backlog_cap = d->cfg.controller.queue_depth + 4;
        v->backlog = calloc(v->backlog_cap, sizeof *v->backlog);
        int r = v->stop_fd < 0 ? -errno : !v->backlog ? -ENOMEM : 0;
        if (r == 0)
                r = storvsp_channel_new(d->ctl, req->sub_channel_index, &d->cfg.gm, &v->core);
        if (r == 0)
                r = storvsp_channel_eventfd(v->core) < 0 ? -EIO : 0;
        for (unsigned i = 0; r == 0 && i < d->cfg.n_ram; i++)
                if (storvsp_channel_register_memory(v->core, d->cfg.ram[i].base, d->cfg.ram[i].len) < 0)
                        DEV_STAT(d, ram_unregistered, 1); /* no fixed buffers: still zero-copy */
        if (r == 0)
                r = -pthread_create(&v->thread, NULL, vchan_thread, v);
        if (r < 0) {
                storvsp_channel_free(v->core);
                safe_close(v->stop_fd);
                free(v->backlog);
                free(v);
                return r;
        }
        v->started = true;
        vmbus_channel_set_data(ch, v);
        return 0;
}

static void storvsp_close(struct vmbus_channel *ch) {
        struct storvsp_vchan *v = vmbus_channel_data(ch);
        if (!v)
                return;
        uint64_t one = 1;
        __atomic_store_n(&v->stopping, true, __ATOMIC_RELEASE); /* a busy thread never sleeps */
        (void)!write(v->stop_fd, &one, sizeof one);
        if (v->started)
                pthread_join(v->thread, NULL);
        storvsp_channel_free(v->core); /* waits for the I/O in flight */
        safe_close(v->stop_fd);
        free(v->backlog);
        free(v);
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
        .open = storvsp_open,
        .close = storvsp_close,
        .destroy = storvsp_destroy,
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
        /* the channels size their backlog from the effective depth */
        d->cfg.controller.queue_depth = storvsp_controller_queue_depth(d->ctl);
        *out = d;
        return 0;
}

void storvsp_device_free(struct storvsp_device *d) {
        if (!d)
                return;
        storvsp_controller_free(d->ctl);
        free(d);
}

struct storvsp_controller *storvsp_device_controller(struct storvsp_device *d) {
        return d->ctl;
}

void storvsp_device_get_stats(const struct storvsp_device *d, struct storvsp_device_stats *s) {
        *s = d->stats;
}
